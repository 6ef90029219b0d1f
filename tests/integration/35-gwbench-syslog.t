#!/usr/bin/python3
# gwbench log --syslog: RFC 5424 and RFC 3164 lines over UDP and TCP (octet counting and LF
# framing) into a real logd writing JSON lines: every line sent is in the file, parsed (host,
# app, procid, facility, severity), each socket's counter complete and, over TCP, in order;
# the report says there is no latency; usage errors.
import json
import os
import re
import socket
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt


def gwbench(*args, timeout=60):
    return t.run([t.prog('gwbench'), 'log'] + list(args), timeout=timeout)


def records(d, n):
    """The first n JSON records of d's file, once it holds n lines (all of them if fewer)."""
    return [json.loads(line) for line in d.wait_lines(n, timeout=20)]


def counters(recs):
    """{socket: [counters in file order]} from the 'c=SOCKET n=COUNTER' at each message's head."""
    out = {}
    for r in recs:
        m = re.match(r'c=(\d{7}) n=(\d{12})( x*)?$', r.get('msg', ''))
        if m:
            out.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    return out


CASES = [
    # transport, extra options, format, name
    ('tcp', ['--format', '5424'], 5424, 'TCP, RFC 5424, octet counting (the defaults)'),
    ('tcp', ['--format', '3164', '--framing', 'lf'], 3164, 'TCP, RFC 3164, LF framing'),
    ('tcp', ['--framing', 'lf'], 5424, 'TCP, RFC 5424, LF framing'),
    ('udp', ['--format', '5424'], 5424, 'UDP, RFC 5424'),
    ('udp', ['--format', '3164'], 3164, 'UDP, RFC 3164'),
]

for proto, extra, fmt, name in CASES:
    d = lt.Logd(fmt='json')
    rc, out, err = gwbench('--syslog', proto, *extra, '-c', '3', '-t', '2', '-R', '600', '-d', '1s',
                           '--size', '200', '--json', '-q', '127.0.0.1:%d' % d.syslog_port)
    doc = json.loads(out) if out.startswith('{') else {}
    t.is_((rc, err), (0, ''), name + ': gwbench exits 0, nothing on stderr')
    sent = doc.get('sent_total', 0)
    t.ok(400 <= sent <= 700 and doc.get('sent', 0) <= sent,
         name + ': about 600 lines sent at -R 600 for 1s: %s' % {k: doc.get(k) for k in
                                                                  ('sent', 'sent_total', 'scheduled')})
    t.is_((doc.get('syslog'), doc.get('format'), doc.get('latency_us'), doc.get('error_total')),
          (proto, fmt, None, 0), name + ': JSON names transport and format, no latency, no errors')
    t.is_((doc.get('line_bytes'), doc.get('frame_bytes')),
          (200, {'udp': 200, 'tcp': 201 if 'lf' in extra else 204}[proto]),
          name + ': line and frame sizes')
    recs = records(d, sent)
    t.is_(len(recs), sent, name + ': the file holds every line sent, no more')
    t.wait_for(lambda: len(d.lines()) > sent, 0.3)
    t.is_(len(d.lines()), sent, name + ': and no line arrives later')
    r = recs[0] if recs else {}
    t.is_((r.get('host'), r.get('app'), r.get('facility'), r.get('severity'), r.get('input')),
          ('bench', 'gwbench', 'user', 'info', 'syslog_' + proto),
          name + ': host, app, facility, severity parsed')
    t.ok(all(x.get('host') == 'bench' and x.get('app') == 'gwbench' for x in recs),
         name + ': every line parsed (none unparsed)')
    t.ok(re.match(r'^\d+$', r.get('procid', '')) is not None, name + ': the procid is a pid')
    t.ok(len(r.get('msg', '')) > 0 and len(r.get('msg', '')) < 200, name + ': msg is the line body')
    cs = counters(recs)
    t.is_(sorted(cs), [0, 1, 2], name + ': lines from each of the 3 sockets')
    complete = all(sorted(v) == list(range(1, len(v) + 1)) for v in cs.values())
    t.ok(complete, name + ': each socket\'s counters run 1..n, no gap, no duplicate')
    if proto == 'tcp':
        t.ok(all(v == sorted(v) for v in cs.values()), name + ': in order on each connection')
    d.stop()

# Closed loop over TCP, as fast as the peer reads, into a byte-counting sink (a collector's file
# would grow by hundreds of MB): whole frames only, exactly the lines reported.
class Sink:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.bytes = 0
        self.conns = []
        self.head = b''
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        self.conns.append(c)
        while True:
            b = c.recv(1 << 20)
            if not b:
                self.conns.remove(c)
                return
            if len(self.head) < 64:
                self.head += b[:64]
            self.bytes += len(b)


sink = Sink()
rc, out, err = gwbench('--syslog', 'tcp', '-c', '2', '-d', '300ms', '--size', '100', '--json', '-q',
                       '127.0.0.1:%d' % sink.port)
doc = json.loads(out) if out.startswith('{') else {}
t.is_((rc, doc.get('rate_target'), doc.get('scheduled')), (0, None, None),
      'closed loop: exits 0, no target rate')
sent = doc.get('sent_total', 0)
t.ok(sent > 0 and doc.get('sent', 0) <= sent, 'closed loop: lines sent: %d' % sent)
t.wait_for(lambda: not sink.conns and sink.bytes >= sent * 104, 10)
t.is_(sink.bytes, sent * 104, 'closed loop: the peer got exactly the lines reported, whole frames')
t.like(sink.head.decode(errors='replace'), r'^100 <14>1 \d{4}-\d\d-\d\dT[\d:.]+Z bench gwbench \d+ - - c=',
       'closed loop: octet-counted RFC 5424 frames')
d = lt.Logd(fmt='json')

# The text report says there is no latency.
rc, out, err = gwbench('--syslog', 'udp', '-c', '1', '-R', '100', '-d', '200ms',
                       '127.0.0.1:%d' % d.syslog_port)
t.is_(rc, 0, 'text report: exits 0')
t.ok('RFC 5424, 256 bytes each, one a datagram' in out, 'text report: the line layout', )
t.like(out, r'sent +\d+ lines', 'text report: lines sent')
t.ok('latency    none: syslog has no replies' in out, 'text report: says there is no latency')
d.stop()

# Nothing listening: TCP cannot connect (exit 1).
port = t.free_port()
rc, out, err = gwbench('--syslog', 'tcp', '-d', '200ms', '127.0.0.1:%d' % port)
t.is_(rc, 1, 'TCP to a closed port: exit 1')
t.like(err, r'cannot connect to 127\.0\.0\.1:\d+', 'TCP to a closed port: says so')

rc, out, err = gwbench('--syslog', 'udp', '-R', '50', '-d', '500ms', '--json', '-q',
                       '127.0.0.1:%d' % port)
doc = json.loads(out) if out.startswith('{') else {}
t.ok(rc == 1 and doc.get('errors', {}).get('connect', 0) > 0,
     'UDP to a closed port: the ICMP port unreachable counted as connect errors, exit 1: %s'
     % doc.get('errors'))

# Usage errors.
for args, what in [(['--syslog', 'sctp'], 'bad value'),
                   (['--syslog', 'udp', '--framing', 'lf'], '--framing is for --syslog tcp'),
                   (['--format', '3164'], 'go with --syslog'),
                   (['--syslog', 'tcp', '--size', '20'], '--size:'),
                   (['--syslog', 'tcp', '--hist-out', '/dev/null'], 'no latency'),
                   (['--syslog', 'tcp', '--pipeline', '4'], '--pipeline')]:
    rc, out, err = gwbench(*args, '127.0.0.1:%d' % port)
    t.ok(rc == 2 and what in err, 'usage error for %s: %s' % (' '.join(args), err.strip()))
rc, out, err = t.run([t.prog('gwbench'), 'tcp', '--syslog', 'tcp', '127.0.0.1:%d' % port])
t.ok(rc == 2 and '--syslog is for mode log' in err, '--syslog outside mode log is refused')
t.done()
