#!/usr/bin/python3
# permessage-deflate (RFC 7692) as a raw client sees it on the wire: the negotiated
# parameters, compression_threshold (smaller messages go uncompressed, RSV1 clear),
# server_no_context_takeover (each message compressed alone), server_max_window_bits (what the
# server sends inflates with that window), client_no_context_takeover and
# client_max_window_bits (what the client may send), deflate = no.
import os
import struct
import sys
import zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend

b = FrameBackend()
conf = '[backend echo]\naddress = 127.0.0.1:%d\n' % b.port
d = t.Daemon('wsgwd', conf=conf)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')
F = u.frame
TAIL = b'\x00\x00\xff\xff'


def offer(params=''):
    return 'Sec-WebSocket-Extensions: permessage-deflate%s\r\n' % params


def deflated(data, wbits=15, co=None):
    """data as one permessage-deflate message (RFC 7692 7.2.1): the sync tail removed."""
    co = co or zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(TAIL) else out


def inflate(payload, wbits=15):
    """payload inflated by a fresh inflater with a window of wbits, 64 bytes of output at a
    time (so that back references must come from the window, not the output buffer); None
    when it cannot."""
    z, out, data = zlib.decompressobj(-wbits), b'', payload + TAIL
    try:
        while data:
            out += z.decompress(data, 64)
            data = z.unconsumed_tail
        return out
    except zlib.error:
        return None


def echo(s, rd, data, compressed, op=1):
    """Sends data (compressed or not) and returns (RSV1 set, payload as sent) of the echo."""
    s.sendall(F(op, deflated(data) if compressed else data, rsv=4 if compressed else 0))
    fin, opcode, payload = rd.frame()
    return bool(rd.rsv & 4), payload


# Random hex, repeated: matches 3000 bytes back, which only a window over 9 bits can see.
block = os.urandom(1500).hex().encode()
big = block * 3

s, hdrs, left = u.upgrade(d.port, extra=offer())
rd = u.Reader(s, left)
t.is_(hdrs.get('sec-websocket-extensions'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      'a bare offer: accepted, the server asks for no context takeover both ways')
rsv, payload = echo(s, rd, b'x' * 100, compressed=False)
t.is_((rsv, payload), (False, b'x' * 100), 'a 100-byte message comes back uncompressed (RSV1 clear)')
rsv, payload = echo(s, rd, b'y' * 1023, compressed=True)
t.is_((rsv, payload), (False, b'y' * 1023),
      '1023 bytes (under compression_threshold 1 KiB): sent uncompressed, even if it came compressed')
rsv, payload = echo(s, rd, b'z' * 1024, compressed=False)
t.is_((rsv, inflate(payload)), (True, b'z' * 1024), '1024 bytes: compressed (RSV1 set), inflates back')
rsv1, p1 = echo(s, rd, big, compressed=True)
rsv2, p2 = echo(s, rd, big, compressed=True)
t.ok(rsv1 and rsv2 and inflate(p1) == big and inflate(p2) == big,
     'two equal messages: each inflates alone with a fresh inflater (server_no_context_takeover)')
t.is_(p1, p2, '... and they are the same bytes: no context was carried over')
t.ok(len(p1) < len(big) // 2, 'compression works (%d bytes for %d)' % (len(p1), len(big)))
# The client drops its context too (client_no_context_takeover): each message alone is fine.
co = zlib.compressobj(6, zlib.DEFLATED, -15)
first = deflated(big, co=co)
s.sendall(F(1, first, rsv=4))
rsv, payload = rd.frame()[2] and (rd.rsv & 4, None)
t.ok(rsv, 'a message from a client compressor is inflated and echoed')
# A client breaking client_no_context_takeover refers back into a dropped context.
s.sendall(F(1, deflated(big, co=co), rsv=4))
code = rd.close_code()
t.is_(code, 1007, 'a message referring to context the client agreed to drop: close 1007')
s.close()

# server_max_window_bits: what the server sends inflates within that window.
t.is_(inflate(deflated(big, wbits=15), wbits=9), None,
      '(the test data cannot be inflated in a 9-bit window when deflated with 15 bits)')
s, hdrs, left = u.upgrade(d.port, extra=offer('; server_max_window_bits=9'))
rd = u.Reader(s, left)
t.like(hdrs.get('sec-websocket-extensions', ''), r'; server_max_window_bits=9(;|$)',
       'server_max_window_bits=9 offered: agreed in the response')
rsv, payload = echo(s, rd, big, compressed=False)
t.is_((rsv, inflate(payload, wbits=9)), (True, big),
      'server_max_window_bits=9: the server\'s message inflates with a 9-bit window')
s.close()

# client_max_window_bits=10: the client compresses with a 10-bit window.
s, hdrs, left = u.upgrade(d.port, extra=offer('; client_max_window_bits=10'))
rd = u.Reader(s, left)
ext = hdrs.get('sec-websocket-extensions', '')
t.like(ext, '^permessage-deflate', 'client_max_window_bits=10 offered: accepted')
t.ok('client_max_window_bits' not in ext or 'client_max_window_bits=10' in ext,
     'the response does not widen the client window (%s)' % ext)
s.sendall(F(1, deflated(big, wbits=10), rsv=4))
fin, op, payload = rd.frame()
t.is_(inflate(payload) if rd.rsv & 4 else payload, big,
      'a message deflated with a 10-bit window is inflated and echoed')
s.close()

# compression_threshold = 0 compresses everything; deflate = no ignores the offer.
d2 = t.Daemon('wsgwd', conf='[wsgwd]\ncompression_threshold = 0\n' + conf)
t.ok(u.links_up(d2), 'second gateway up')
s, hdrs, left = u.upgrade(d2.port, extra=offer())
rd = u.Reader(s, left)
rsv, payload = echo(s, rd, b'a' * 40, compressed=False)
t.is_((rsv, inflate(payload)), (True, b'a' * 40), 'compression_threshold = 0: a 40-byte message is compressed')
rsv, payload = echo(s, rd, b'tiny', compressed=False)
t.is_((rsv, payload), (False, b'tiny'), '... but one that would grow goes as is (no context to keep)')
s.close()
d3 = t.Daemon('wsgwd', conf='[wsgwd]\ndeflate = no\n' + conf)
t.ok(u.links_up(d3), 'third gateway up')
s, hdrs, left = u.upgrade(d3.port, extra=offer())
t.ok('sec-websocket-extensions' not in hdrs, 'deflate = no: the offer is declined')
s.sendall(F(1, deflated(b'hello'), rsv=4))
t.is_(u.Reader(s, left).close_code(), 1002, 'deflate = no: RSV1 is a protocol error (1002)')
s.close()
t.done()
