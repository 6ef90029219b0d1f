#!/usr/bin/python3
# Hostile syslog input: malformed lines kept whole and marked unparsed, invalid UTF-8 and NUL
# bytes kept escaped, a 10 MiB line cut at max_line and counted (the connection goes on), a bad
# octet count closing the connection; logd stays up throughout.
import json
import os
import socket
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

raw = lt.Logd(env={'GWKIT_LOGD_MAX_LINE': '1k'})


def send_tcp(d, data, wait_close=True):
    c = t.LineClient(d.syslog_port)
    c.send(data)
    c.sock.shutdown(socket.SHUT_WR)
    closed = c.closed(10) if wait_close else None
    c.close()
    return closed


send_tcp(raw, b'<999>1 not really\n'
              b'<13>1 2026-13-45T99:00:00Z h a - - - bad time in a 5424 line\n'
              b'\xff\xfe invalid utf8 \xc3\x28 here\n'
              b'nul \x00 inside\n'
              b'\x01\x02 control bytes\n'
              b'tab\tkept\n')
lines = raw.wait_lines(6)
t.is_(lines[0], b'<999>1 not really', 'a bad PRI: kept whole')
t.is_(lines[1], b'<13>1 2026-13-45T99:00:00Z h a - - - bad time in a 5424 line',
      'a 5424 line with a bad time: kept whole')
t.is_(lines[2], b'\\xff\\xfe invalid utf8 \\xc3( here', 'invalid UTF-8 kept as \\xHH, valid text untouched')
t.is_(lines[3], b'nul \\x00 inside', 'a NUL byte kept as \\x00, the line not cut')
t.is_(lines[4], b'\\x01\\x02 control bytes', 'control bytes escaped')
t.is_(lines[5], b'tab\tkept', 'tab kept as is')
t.ok(raw.metric('logd_parsed_messages_total', {'result': 'unparsed'}) >= 2, 'unparsed lines counted')

# A 10 MiB line with LF framing, then a normal one on the same connection.
big = b'<13>' + b'A' * (10 << 20) + b'\nafter the big one\n'
t.ok(send_tcp(raw, big), 'a 10 MiB line: logd reads it all and closes after the half-close')
lines = raw.wait_lines(8)
t.is_((len(lines[6]), lines[6][:8]), (1024, b'<13>AAAA'), 'the 10 MiB line is cut to max_line (1k)')
t.is_(lines[7], b'after the big one', 'the next line on the connection is intact')
t.ok(raw.metric('logd_truncated_messages_total') >= 1, 'truncation counted')

# The same, octet-counted.
msg = b'<13>' + b'B' * (10 << 20)
send_tcp(raw, str(len(msg)).encode() + b' ' + msg + b'17 <13>octet after')
lines = raw.wait_lines(10)
t.is_((len(lines[8]), lines[8][:8]), (1024, b'<13>BBBB'), 'a 10 MiB octet-counted frame is cut')
t.is_(lines[9], b'<13>octet after', 'the next octet-counted frame is intact')

# A count that is no count: the connection is closed, what came before it kept.
t.ok(send_tcp(raw, b'8 <13>fine99999999999 x'), 'a bad octet count closes the connection')
t.is_(raw.wait_lines(11)[10], b'<13>fine', 'the frame before the bad count is kept')

# UDP: a datagram over max_line is cut and counted.
t.udp_request(raw.syslog_port, b'<13>' + b'C' * 5000, expect_reply=False)
t.ok(t.wait_for(lambda: any(l.startswith(b'<13>CCC') for l in raw.lines())), 'a big datagram is written')
t.is_(max(len(l) for l in raw.lines() if l.startswith(b'<13>CCC')), 1024, 'cut to max_line')

# JSON output keeps the bytes too.
j = lt.Logd(fmt='json')
send_tcp(j, b'<13>1 2026-12-06T10:00:00Z h app - - - caf\xc3\xa9 \xff \x00 end\n')
r = json.loads(j.wait_lines(1)[0])
t.is_(r['msg'], 'caf\u00e9 \\xff \x00 end', 'JSON: UTF-8 kept, invalid byte as \\xff, NUL as \\u0000')
t.ok(raw.alive() and j.alive(), 'logd still running')
t.done()
