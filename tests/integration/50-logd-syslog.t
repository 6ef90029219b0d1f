#!/usr/bin/python3
# logd's syslog inputs with real senders: logger over UDP, TCP (octet counting and LF) and the
# Unix datagram socket; rsyslog relaying with omfwd over TCP; fields parsed into JSON lines.
import json
import os
import shutil
import socket
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd(fmt='json')


def logger(*args):
    rc, out, err = t.run(['logger'] + list(args))
    t.ok(rc == 0, 'logger %s exits 0 %s' % (' '.join(args[:3]), err.strip()))


def records():
    return [json.loads(l) for l in d.lines()]


def find(msg):
    return next((r for r in records() if r.get('msg') == msg), None)


port = str(d.syslog_port)
logger('-n', '127.0.0.1', '-P', port, '-d', '-t', 'udpapp', '-p', 'daemon.warning', 'over udp')
logger('-n', '127.0.0.1', '-P', port, '-T', '--octet-count', '-t', 'ocapp', '--msgid', 'M1',
       '--sd-id', 'x@1', '--sd-param', 'k="v"', 'octet counted')
logger('-n', '127.0.0.1', '-P', port, '-T', '-t', 'lfapp', '-p', 'local3.err', 'line feed framed')
logger('--rfc3164', '-n', '127.0.0.1', '-P', port, '-T', '-t', 'bsd', 'old style')
logger('-u', d.dgram, '-t', 'unixapp', '-p', 'user.info', 'over the unix socket')
d.wait_lines(5)

r = find('over udp')
t.ok(r is not None, 'UDP datagram written')
t.is_((r or {}).get('input'), 'syslog_udp', 'UDP record names its input')
t.is_(((r or {}).get('app'), (r or {}).get('facility'), (r or {}).get('severity')),
      ('udpapp', 'daemon', 'warning'), 'UDP record: app, facility, severity parsed (RFC 5424)')
r = find('octet counted') or {}
t.is_((r.get('input'), r.get('app'), r.get('msgid')), ('syslog_tcp', 'ocapp', 'M1'),
      'TCP octet-counted frame parsed')
t.ok('[x@1 k="v"]' in r.get('sd', ''), 'structured data kept: ' + r.get('sd', ''))
r = find('line feed framed') or {}
t.is_((r.get('app'), r.get('facility'), r.get('severity')), ('lfapp', 'local3', 'err'),
      'TCP LF-framed line parsed')
r = find('old style') or {}
t.is_(r.get('app'), 'bsd', 'RFC 3164 line parsed (tag as app)')
r = find('over the unix socket') or {}
t.is_((r.get('input'), r.get('app')), ('unix', 'unixapp'), 'logger -u reaches the Unix socket')

# Several frames on one connection, both framings mixed, and a last line without LF.
c = t.LineClient(d.syslog_port)
second = b'<14>1 2026-12-06T10:00:00Z h a - - - second'
c.send(b'<14>1 2026-12-06T10:00:00Z h a - - - first\n' + str(len(second)).encode() + b' ' + second +
       b'<14>third\nfourth-no-lf')
c.sock.shutdown(1)
t.ok(c.closed(), 'logd closes after the peer half-closes')
d.wait_lines(9)
msgs = [r.get('msg') or r.get('raw') for r in records()]
t.ok(all(m in msgs for m in ('first', 'second', 'third', 'fourth-no-lf')),
     'mixed framing on one connection: every frame kept, the last one without its LF too')
t.is_(find('first').get('time'), '2026-12-06T10:00:00.000Z', 'RFC 5424 timestamp kept as the time')

# rsyslog as a relay: imuxsock-free config, omfwd over TCP to logd.
if shutil.which('rsyslogd'):
    tmp = t.tmpdir()
    rport = t.free_port()
    conf = t.write(os.path.join(tmp, 'rsyslog.conf'), '''
global(workDirectory="%s")
module(load="imtcp")
input(type="imtcp" port="%d" address="127.0.0.1")
action(type="omfwd" target="127.0.0.1" port="%s" protocol="tcp" template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted")
''' % (tmp, rport, port))
    pid = os.path.join(tmp, 'rsyslogd.pid')
    rs = subprocess.Popen(['rsyslogd', '-n', '-f', conf, '-i', pid], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    try:
        def send_via_rsyslog():
            try:
                return t.run(['logger', '-n', '127.0.0.1', '-P', str(rport), '-T', '-t', 'relayed',
                              'through rsyslog'])[0] == 0
            except Exception:
                return False
        t.ok(t.wait_for(send_via_rsyslog, 10), 'rsyslog accepts a line on its imtcp port')
        t.ok(t.wait_for(lambda: find('through rsyslog'), 10), 'rsyslog relayed it to logd (omfwd, TCP)')
        r = find('through rsyslog') or {}
        t.is_(r.get('app'), 'relayed', 'the relayed record keeps its app')
    finally:
        rs.terminate()
        rs.wait(10)
else:
    t.diag('rsyslogd not installed: relay not tested')

m = d.metric('logd_received_messages_total', {'input': 'syslog_tcp'})
t.ok(m is not None and m >= 7, 'received messages counted per input')
t.ok(d.metric('logd_parsed_messages_total', {'result': 'parsed'}) >= 8, 'parsed messages counted')
t.is_(d.stop(), 0, 'logd exits 0 on SIGTERM')

# A burst through a small queue: the inputs are held back and let go again and again, every
# line lands, in order per connection, and nothing waits for an idle timeout on the way (a
# writer asleep while an input waits for room would take a second per queue-full). Each sender
# then half-closes: its EOF, come while its connection was held back, still ends it (the idle
# timeout, 10 min, is far off), on the default io backend (io_uring where the kernel allows).
import threading
sq = lt.Logd(env={'GWKIT_LOGD_QUEUE_SIZE': '64k', 'GWKIT_LOGD_BATCH_SIZE': '4k',
                  'GWKIT_LOGD_WORKERS': '1'})
NCONN, NLINES = 4, 5000
closed = {}


def burst(k):
    c = t.LineClient(sq.syslog_port, timeout=30)
    out = []
    for i in range(NLINES):
        msg = ('<13>1 2026-12-06T10:00:00Z h burst - - - conn %d line %05d ' % (k, i)).encode() + b'x' * 150
        out.append(b'%d %s' % (len(msg), msg))
    c.send(b''.join(out))
    c.sock.shutdown(socket.SHUT_WR)
    closed[k] = c.closed(timeout=10)
    c.close()


threads = [threading.Thread(target=burst, args=(k,)) for k in range(NCONN)]
for th in threads:
    th.start()
for th in threads:
    th.join()
lines = sq.wait_lines(NCONN * NLINES, timeout=20)
t.is_(len(lines), NCONN * NLINES, 'a burst through a 64k queue: every line written within 20 s')
t.is_(sorted(k for k in closed if closed[k]), list(range(NCONN)),
      'each sender half-closes after its burst: logd closes its connection within 10 s')
order = all([l for l in lines if b'conn %d ' % k in l] ==
            sorted(l for l in lines if b'conn %d ' % k in l) for k in range(NCONN))
t.ok(order, 'each connection\'s lines in the order sent')
t.ok(sq.metric('logd_backpressure_seconds_total', {'input': 'syslog_tcp'}) is not None,
     'backpressure time is reported')
t.done()
