#!/usr/bin/python3
# The ZeroMQ input with python3-zmq as a PUSH sender: syslog lines, a native BATCH frame, and a
# bad frame dropped and counted; a 100 MiB message dropped by libzmq (ZMQ_MAXMSGSIZE), not buffered.
import json
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

try:
    import zmq
except ImportError:
    t.skip_all('python3-zmq not installed')

# libzmq's own threads are not instrumented: ThreadSanitizer would report its buffer handling.
if 'libtsan' in t.run(['ldd', t.prog('logd')])[1]:
    t.skip_all('ThreadSanitizer build: libzmq is not instrumented')

port = t.free_port(udp_too=False)
d = lt.Logd(fmt='json', env={'GWKIT_LOGD_ZMQ_LISTEN': 'tcp://127.0.0.1:%d' % port})
t.like(d.logtext(), r'zmq=tcp://127\.0\.0\.1:%d' % port, 'logd listens on the ZeroMQ endpoint')
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 2000)
s.connect('tcp://127.0.0.1:%d' % port)
s.send(b'<11>1 2026-12-06T10:00:00Z web1 shop 77 - - checkout failed')
s.send(b'plain text from an old shipper\n')
s.send(lt.frame(lt.BATCH, seq=1, count=2, payload=lt.record('native one', app='nat') +
                lt.record('native two', app='nat')))
s.send(lt.frame(lt.BATCH, seq=2, count=1, payload=lt.record('bad crc'), crc=1))
recs = [json.loads(l) for l in d.wait_lines(4)]
t.is_([(r['input'], r.get('msg') or r.get('raw')) for r in recs],
      [('zmq', 'checkout failed'), ('zmq', 'plain text from an old shipper'),
       ('zmq', 'native one'), ('zmq', 'native two')], 'each message one line, a frame its records')
t.is_((recs[0]['app'], recs[0]['severity'], recs[0]['procid']), ('shop', 'err', '77'),
      'a syslog line over ZeroMQ is parsed')
t.ok(t.wait_for(lambda: d.metric('logd_native_bad_frames_total') == 1), 'the bad frame is counted')
t.is_(len(d.lines()), 4, 'and not written')
t.is_(d.metric('logd_received_messages_total', {'input': 'zmq'}), 4.0, 'zmq messages counted')


def peak_kib():
    with open('/proc/%d/status' % d.pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmHWM'))


# libzmq takes a message whole before logd sees it: one far past max_frame (4m) must not become
# logd's memory. libzmq drops it and that peer's connection; the sender reconnects and goes on.
s.send(b'<13>huge ' + b'Z' * (100 << 20))
s.send(b'<13>1 2026-12-06T10:00:00Z h app - - - after the huge one')
t.ok(t.wait_for(lambda: any(b'after the huge one' in l for l in d.lines()), 20),
     'a message after a 100 MiB one still lands')
t.ok(not any(l.startswith(b'<13>huge') for l in d.lines()), 'the 100 MiB message is not written')
if not os.environ.get('GW_WRAP'):
    t.ok(peak_kib() < 48 * 1024, 'logd never held the 100 MiB message (peak RSS %d KiB)' % peak_kib())
s.close()
ctx.term()
t.is_(d.stop(), 0, 'logd stops cleanly with a ZeroMQ input')
t.done()
