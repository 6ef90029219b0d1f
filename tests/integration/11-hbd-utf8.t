#!/usr/bin/python3
# Invalid UTF-8 is refused, never stored and silently dropped later: in a label value, a service
# or an instance name, over TCP (ERR invalid utf-8) and UDP (counted), with its own counter.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
c = t.LineClient(d.port)


def req(raw):
    c.send(raw + b'\r\n')
    return c.line()


cases = [
    (b'HB x team=\xff owner=ok', 'a label value with a stray byte'),
    (b'HB x team=\xc3\x28', 'a label value with a broken sequence'),
    (b'HB x team=\xed\xa0\x80', 'a label value with a UTF-16 surrogate'),
    (b'HB x team=\xc0\xaf', 'an overlong form'),
    (b'HB sv\xe9c', 'a Latin-1 service name'),
    (b'HB x instance=w\xff1', 'an instance name'),
    (b'HB x team=caf\xc3', 'a truncated sequence at the end of the line'),
]
for raw, what in cases:
    t.is_(req(raw), 'ERR invalid utf-8', 'refused: ' + what)
t.is_(d.result('services')['services'], [], 'nothing registered from a refused line')
t.is_(d.metric('hbd_errors_total', {'kind': 'invalid_utf8'}), float(len(cases)),
      'each counted as hbd_errors_total{kind="invalid_utf8"}')
t.is_(d.metric('hbd_errors_total', {'kind': 'bad_request'}), 0.0, 'not as bad_request')

t.is_(req('HB x team=café owner=ok'.encode()), 'OK 1', 'valid UTF-8 in a label value is accepted')
svc = d.result('services', {'service': 'x'})['services'][0]
t.is_(svc['labels'], {'team': 'café', 'owner': 'ok'}, 'and kept as sent')
t.is_(req(b'HB x team=\xff'), 'ERR invalid utf-8', 'a refused beat leaves the labels alone')
t.is_(d.result('services', {'service': 'x'})['services'][0]['labels'], {'team': 'café', 'owner': 'ok'},
      'labels unchanged')

t.udp_request(d.port, b'HB udpsvc team=\xff\n', expect_reply=False)
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'invalid_utf8'}) == len(cases) + 2),
     'UDP: counted as invalid_utf8 (no reply over UDP)')
t.is_(d.metric('hbd_errors_total', {'kind': 'udp_bad'}), 0.0, 'not as udp_bad')
t.is_([s['name'] for s in d.result('services')['services']], ['x'], 'UDP: not registered')
t.is_(req(b'PING'), 'PONG', 'the connection goes on')
t.done()
