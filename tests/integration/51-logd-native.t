#!/usr/bin/python3
# logd's native protocol: WELCOME, cumulative ACKs only once written, duplicates after a
# reconnect acknowledged and not written twice, and every bad frame refused with ERROR, the
# exact code, and a close -- never acknowledged, never written. zstd batches (made by the zstd
# command line tool) accepted end to end; corrupt or oversized ones refused.
import os
import struct
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd()

c = lt.Native(d.native_port, session=7)
t.is_(c.welcome, 0, 'WELCOME of a new session carries durable seq 0')
c.batch(1, ['one', 'two'])
c.batch(2, ['three'])
t.is_(c.acks_until(2), 2, 'two pipelined batches acknowledged up to seq 2')
t.is_(d.lines(), [b'one', b'two', b'three'], 'acknowledged records are in the file, in order')
c.close()

c = lt.Native(d.native_port, session=7)
t.is_(c.welcome, 2, 'a reconnect of the session is welcomed with its durable seq')
c.batch(2, ['three'])
c.batch(5, ['five'])
t.is_(c.acks_until(5), 5, 'a resent batch and a new one (with a gap) acknowledged')
t.is_(d.lines(), [b'one', b'two', b'three', b'five'], 'the resent batch was not written twice')
c.batch(5, ['again'])
f = c.read_frame()
t.is_((f[0], f[1], f[2]), (lt.ERROR, 5, 6), 'a seq not above the previous one: ERROR bad_sequence')
t.ok(c.read_frame() is None, 'and the connection closes')


def refused_on(server, data, code, name, session=100, hello=True):
    n = lt.Native(server.native_port, session=session, hello=hello)
    n.send(data)
    f = n.read_frame()
    t.is_((f or (None,) * 4)[0::2][:2], (lt.ERROR, code), name + ': ERROR code %d' % code)
    t.ok(n.read_frame() is None, name + ': connection closed')
    n.close()
    return f


def refused(data, code, name, session=100, hello=True):
    return refused_on(d, data, code, name, session, hello)


rec = lt.record('must not be written')
f = refused(lt.frame(lt.BATCH, seq=1, count=1, payload=rec, crc=12345), 3, 'bad CRC')
t.like(f[3].decode(), r'^bad_crc', 'bad CRC: the text names it')
t.is_(f[1], 1, 'bad CRC: ERROR carries the batch seq')
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=rec, version=2), 2, 'version 2')
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=b'', length=64 << 20), 4,
        'a length over max_frame (lying length)')
refused(lt.frame(lt.BATCH, seq=1, count=2, payload=rec), 5, 'count says 2, payload holds 1')
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=struct.pack('>I', len(rec) + 6) + rec[4:]), 5,
        'a record running past the payload', session=101)
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=rec, magic=0x12345678), 1, 'bad magic')
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=rec), 1, 'BATCH before HELLO', hello=False)
refused(lt.frame(lt.BATCH, seq=0, count=1, payload=rec), 6, 'seq 0')
refused(lt.frame(lt.BATCH, seq=1, count=1, payload=rec, flags=1), 7, 'zstd flag on a plain payload')

# A header that lies about a huge payload, then silence: refused at the header, nothing buffered.
n = lt.Native(d.native_port, session=102)
n.send(lt.HDR.pack(lt.MAGIC, lt.BATCH, 1, 0, 1, 1, 0xFFFFFFF0, 0xFFFFFFF0, 0))
f = n.read_frame()
t.is_(f[0::2][:2] if f else None, (lt.ERROR, 4), 'a 4 GiB length is refused from the header alone')
t.is_(d.lines(), [b'one', b'two', b'three', b'five'], 'nothing of any refused batch was written')
t.ok(d.metric('logd_native_bad_frames_total') >= 10, 'refused frames counted')
t.ok(d.metric('logd_native_acks_total') >= 2, 'acknowledgements counted')

# zstd (header flag bit 0): a compressed batch is opened, acknowledged once durable and its
# records written; a corrupt compressed payload (its CRC right, so only decompression can
# tell) and a decompressed size over the limits get ERROR bad_compression or too_large, never
# an ACK, and nothing of them is written.
z = lt.Logd()
c = lt.Native(z.native_port, session=9)
zmsgs = ['compressed line %03d %s' % (i, 'z' * 100) for i in range(200)]
raw = b''.join(lt.record(m) for m in zmsgs)
packed = lt.zstd(raw)
t.ok(len(packed) < len(raw) // 4, 'the zstd payload is compressed (%d -> %d bytes)' % (len(raw), len(packed)))
c.send(lt.frame(lt.BATCH, seq=1, count=len(zmsgs), payload=packed, flags=1, raw_length=len(raw)))
t.is_(c.acks_until(1), 1, 'a zstd batch is acknowledged')
t.is_(z.lines(), [m.encode() for m in zmsgs], 'its records are in the file, in order')
c.batch(2, ['plain after zstd'])
t.is_(c.acks_until(2), 2, 'a plain batch after it on the same connection is acknowledged')
c.close()

bad = bytearray(packed)
for i in range(len(bad) // 3, len(bad) // 3 + 16):
    bad[i] ^= 0x5A
f = refused_on(z, lt.frame(lt.BATCH, seq=1, count=len(zmsgs), payload=bytes(bad), flags=1,
                           raw_length=len(raw)), 7, 'a corrupt zstd payload with a right CRC')
t.is_(f[1] if f else None, 1, 'a corrupt zstd payload: ERROR carries the batch seq')
refused_on(z, lt.frame(lt.BATCH, seq=1, count=len(zmsgs), payload=packed, flags=1,
                       raw_length=len(raw) - 1), 7, 'a zstd frame bigger than raw_length says')
n = lt.Native(z.native_port, session=201)
bomb_raw = n.max_raw + 4096
n.close()
bomb = lt.zstd(b'\0' * bomb_raw)
refused_on(z, lt.frame(lt.BATCH, seq=1, count=1, payload=bomb, flags=1, raw_length=bomb_raw), 4,
           'a decompressed size over max_raw (%d)' % bomb_raw, session=202)
refused_on(z, lt.frame(lt.BATCH, seq=1, count=1, payload=bomb, flags=1, raw_length=1000), 7,
           'a zstd bomb under a small raw_length', session=203)
t.is_(len(z.lines()), len(zmsgs) + 1, 'nothing of the refused zstd batches was written')
t.is_(z.metric('logd_native_acks_total') >= 2 and z.alive(), True, 'logd acknowledged only the good ones and runs on')

# A native record's fields in JSON output.
j = lt.Logd(fmt='json')
c = lt.Native(j.native_port, session=8)
c.batch(1, ['hi \x00 there'], app='web', host='db1', sev=3, fac=16, procid='42', msgid='X',
        sd='[a@1 k="v"]', time_ns=1765000000123000000)
t.is_(c.acks_until(1), 1, 'JSON output: batch acknowledged')
import json
r = json.loads(j.lines()[0])
t.is_((r['app'], r['host'], r['severity'], r['facility'], r['procid'], r['msgid'], r['sd']),
      ('web', 'db1', 'err', 'local0', '42', 'X', '[a@1 k="v"]'), 'native fields in the JSON line')
t.is_(r['msg'], 'hi \x00 there', 'a NUL byte in a message is kept, escaped')
t.is_(r['time'], '2025-12-06T05:46:40.123Z', 'event time from the record')

# gwbench log: the native protocol as load, every acknowledged batch one record in the file.
g = lt.Logd()
rc, out, err = t.run([t.prog('gwbench'), 'log', '-c', '2', '-d', '1s', '--size', '50', '--json', '-q',
                      '127.0.0.1:%d' % g.native_port], timeout=60)
doc = json.loads(out) if rc == 0 else {}
t.is_((rc, err), (0, ''), 'gwbench log runs against logd')
t.ok(doc.get('requests', 0) > 0 and not any(doc.get('errors', {}).values()),
     'acknowledged batches, no errors: %s' % {k: doc.get(k) for k in ('requests', 'errors')})
t.ok(len(g.lines()) >= doc.get('requests', 1) and all(l == b'x' * 50 for l in g.lines()),
     'every acknowledged record is in the file')
# --batch: each acknowledged request is that many records, and the file holds all of them.
before = len(g.lines())
rc, out, err = t.run([t.prog('gwbench'), 'log', '-c', '2', '-d', '1s', '--size', '20', '--batch', '50',
                      '--json', '-q', '127.0.0.1:%d' % g.native_port], timeout=60)
doc = json.loads(out) if rc == 0 else {}
t.ok(rc == 0 and doc.get('requests', 0) > 0 and doc.get('batch') == 50 and
     doc.get('records') == 50 * doc['requests'], 'gwbench log --batch 50: records = 50 x requests')
t.ok(len(g.lines()) - before >= doc.get('records', 1),
     'every record of every acknowledged batch is in the file when gwbench ends')
rc, out, err = t.run([t.prog('gwbench'), 'log', '--batch', '100000', '127.0.0.1:%d' % g.native_port])
t.is_(rc, 2, 'gwbench log refuses --batch over its bound')
rc, out, err = t.run([t.prog('gwbench'), 'hb', '--batch', '5', '127.0.0.1:%d' % g.native_port])
t.ok(rc == 2 and '--batch' in err, 'gwbench hb refuses --batch (native protocol only)')
rc, out, err = t.run([t.prog('gwbench'), 'log', '--pipeline', '2', '127.0.0.1:%d' % g.native_port])
t.is_(rc, 2, 'gwbench log refuses --pipeline above 1 (acknowledgements are cumulative)')
t.done()
