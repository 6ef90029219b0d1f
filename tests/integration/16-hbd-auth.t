#!/usr/bin/python3
# Optional authentication on the heartbeat port (auth_tokens_file, Redis-style): TCP clients
# send AUTH <token> first, HB lines and UDP datagrams may carry token=..., a token with a glob
# beats only for matching services; every refusal is ERR auth (UDP: dropped) and counted.
import os
import signal
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

tmp = t.tmpdir()
tokens = t.write(os.path.join(tmp, 'tokens'), '# token [service-glob]\nsecret1\nsecret2 pay-*\n\n')
d = t.Daemon('hbd', conf='[hbd]\nauth_tokens_file = %s\n' % tokens)


def auth_errors():
    return d.metric('hbd_errors_total', {'kind': 'auth'})


def names():
    return sorted(s['name'] for s in d.result('services')['services'])


c = t.LineClient(d.port)
t.is_(c.request('PING'), 'PONG', 'PING needs no token')
t.is_(c.request('HB x'), 'ERR auth', 'HB before AUTH: ERR auth')
t.is_(c.request('STATUS'), 'ERR auth', 'STATUS before AUTH: ERR auth')
t.is_(c.request('AUTH wrong'), 'ERR auth', 'a wrong token: ERR auth')
t.is_(c.request('AUTH'), 'ERR AUTH needs a token', 'AUTH without a token')
t.is_(c.request('AUTH secret1'), 'OK', 'AUTH with a token: OK')
t.is_(c.request('HB x'), 'OK 1', 'then HB is accepted')
t.like(c.request('STATUS'), r'^STATUS ', 'and STATUS')
c.close()

c = t.LineClient(d.port)
t.is_(c.request('AUTH secret2'), 'OK', 'a glob-limited token')
t.is_(c.request('HB pay-api'), 'OK 1', 'beats for a service matching its glob')
t.is_(c.request('HB billing'), 'ERR auth', 'not for another service')
c.close()

c = t.LineClient(d.port)
t.is_(c.request('HB y token=secret1 team=a'), 'OK 1', 'token= on the HB line, without AUTH')
t.is_(d.result('services', {'service': 'y'})['services'][0]['labels'], {'team': 'a'},
      'the token is not stored as a label')
t.is_(c.request('HB z token=nope'), 'ERR auth', 'a wrong token= on the line')
c.close()
t.is_(auth_errors(), 5.0, 'every refusal counted: hbd_errors_total{kind="auth"} 5')

t.udp_request(d.port, 'HB u1\n', expect_reply=False)
t.udp_request(d.port, 'HB u2 token=secret2\n', expect_reply=False)
t.udp_request(d.port, 'HB pay-u3 token=secret2\n', expect_reply=False)
t.ok(t.wait_for(lambda: 'pay-u3' in names()), 'UDP: a datagram with a good token= is accepted')
t.ok(t.wait_for(lambda: auth_errors() == 7), 'UDP: no token and a glob mismatch counted as auth')
t.is_(names(), ['pay-api', 'pay-u3', 'x', 'y'], 'UDP: refused datagrams registered nothing')
t.is_(t.udp_request(d.port, 'PING\n'), 'PONG\n', 'UDP PING needs no token')

# A reload reads the file again: secret1 is gone for new AUTHs.
t.write(tokens, 'secret2 pay-*\n')
d.signal(signal.SIGHUP)
t.ok(t.wait_for(lambda: 'config reloaded' in d.logtext()), 'reloaded')
t.is_(t.line_request(d.port, 'AUTH secret1'), 'ERR auth', 'a token removed from the file is refused after reload')

t.write(tokens, 'a b c\n')
d.signal(signal.SIGHUP)
t.ok(t.wait_for(lambda: 'want \'token [service-glob]\'' in d.logtext()), 'a bad line refuses the reload')
t.like(d.logtext(), r'%s:1: want' % tokens, 'naming file and line')
t.is_(d.stop(), 0, 'clean stop')

plain = t.Daemon('hbd')
t.is_(t.line_request(plain.port, 'HB free'), 'OK 1', 'without auth_tokens_file, no AUTH needed')
t.is_(t.line_request(plain.port, 'AUTH x'), 'ERR auth not enabled', 'AUTH without auth: an error')
t.done()
