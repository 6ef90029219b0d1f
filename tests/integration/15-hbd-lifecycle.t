#!/usr/bin/python3
# hbd's command line, -n, SIGHUP reload keeping connections, reload refusals, SIGTERM drain.
import os
import signal
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

hbd = t.prog('hbd')
rc, out, err = t.run([hbd, '--version'])
t.ok(rc == 0 and out.startswith('hbd 0.'), '--version prints the version, exit 0')
rc, out, err = t.run([hbd, '--help'])
t.ok(rc == 0 and 'usage: hbd' in out and '--check' in out, '--help prints usage, exit 0')
rc, out, err = t.run([hbd, '--bogus'])
t.is_(rc, 2, 'unknown option: exit 2')
rc, out, err = t.run([hbd, '1', '2'])
t.is_((rc, err.splitlines()[0]), (2, 'hbd: too many arguments: hbd [PORT | HOST:PORT]'), 'two operands: exit 2')

tmp = t.tmpdir()
good = t.write(os.path.join(tmp, 'good.conf'), '[global]\nlog_level = debug\n[hbd]\nlisten = 127.0.0.1:9\nworkers = 2\n'
                                                '[wsgwd]\nanything = goes\n')
rc, out, err = t.run([hbd, '-n', '-c', good])
t.is_((rc, out), (0, 'configuration OK\n'), '-n on a good config: "configuration OK", exit 0')
bad = t.write(os.path.join(tmp, 'bad.conf'), '[hbd]\nlistn = 1\nworkers = many\nclient_timeout = 5x\n'
                                              'max_line = 1k\ngrace = 1\n[hdb]\n')
rc, out, err = t.run([hbd, '-n', '-c', bad])
t.is_(rc, 1, '-n on a bad config: exit 1')
want = ["hbd: %s:2: unknown key 'listn' in [hbd], did you mean 'listen'?" % bad,
        "hbd: %s:3: 'workers': expected an integer, got 'many'" % bad,
        "hbd: %s:4: 'client_timeout': bad duration '5x' (use ms, s, m, h or d)" % bad,
        "hbd: %s:6: 'grace': 1 is out of range (2..1000)" % bad,
        "hbd: %s:7: unknown section [hdb], did you mean [hbd]?" % bad]
for w in want:
    t.ok(w in err.splitlines(), 'error reported: ' + w.split(': ', 2)[2])
rc, out, err = t.run([hbd, '-n', '-c', os.path.join(tmp, 'missing.conf')])
t.ok(rc == 1 and 'missing.conf' in err, 'a missing -c file is an error')
rc, out, err = t.run([hbd, '-n'], env={'GWKIT_HBD_WORKERS': '-3'})
t.ok(rc == 1 and 'env GWKIT_HBD_WORKERS' in err, 'a bad environment override is reported by name')
badurl = t.write(os.path.join(tmp, 'badurl.conf'), '[hbd]\nalert_url = http://ok/ ftp://x/\n')
rc, out, err = t.run([hbd, '-n', '-c', badurl])
t.is_((rc, err.splitlines()[0]), (1, "hbd: %s:2: alert_url: 'ftp://x/' is not an http:// or https:// URL" % badurl),
      'a non-HTTP alert_url is refused with file and line')
rc, out, err = t.run([hbd, '-n', 'localhost:0x'])
t.is_(rc, 1, 'a bad listen operand fails validation')

# Reload on SIGHUP keeps connections; a bad file is refused and the old config stays.
d = t.Daemon('hbd', conf='[hbd]\nclient_timeout = 60s\n')
c = t.LineClient(d.port)
t.is_(c.request('PING'), 'PONG', 'connected before reload')
t.write(d.conf, '[hbd]\nclient_timeout = 30s\ndefault_interval = 7s\n')
d.signal(signal.SIGHUP)
t.ok(t.wait_for(lambda: d.result('config')['config']['hbd']['default_interval'] == 7000),
     'SIGHUP applied the new config')
t.is_(c.request('PING'), 'PONG', 'the connection survived the reload')
t.like(d.logtext(), r'msg="config reloaded"', 'reload logged')
t.write(d.conf, '[hbd]\nclient_timeout = forever\n')
r = d.ctl('reload')
t.is_((r['ok'], r['error']['code']), (False, 'failed'), 'reload of a bad file refused')
t.is_(r['error']['message'], "%s:2: 'client_timeout': bad duration 'forever' (use ms, s, m, h or d)" % d.conf,
      'the refusal names file, line and problem')
t.is_(d.result('config')['config']['hbd']['default_interval'], 7000, 'the old config keeps running')
t.write(d.conf, '[hbd]\nudp = no\n')
t.is_(d.result('reload'), {'applied': True}, 'reload with a restart-only change is applied')
t.like(d.logtext(), r'msg="setting changes at restart only" key=udp', 'and the restart-only key is named')
t.is_(c.request('PING'), 'PONG', 'still connected')
r = d.ctl('log-level', {'level': 'loud'})
t.is_(r['error']['code'], 'bad_args', 'log-level refuses an unknown level')
t.is_(d.result('log-level', {'level': 'warning'}), {'level': 'warning'}, 'log-level set at run time')
t.is_(d.result('log-level'), {'level': 'warning'}, 'log-level without a level shows it')
t.is_(t.line_request(d.port, 'PING'), 'PONG', 'UDP off after reload does not touch TCP')
t.is_(d.result('log-level', {'level': 'info'}), {'level': 'info'}, 'log-level back to info')

# SIGTERM: readyz goes 503, connections are closed, exit 0.
d.signal(signal.SIGTERM)
t.ok(c.closed(), 'SIGTERM drains: connections closed')
t.is_(d.wait(), 0, 'hbd exits 0 after draining')
t.like(d.logtext(), r'msg="drained"', 'drain logged')
t.ok(not os.path.exists(d.sock), 'control socket removed at exit')

# The operand form: hbd PORT.
port = t.free_port()
d2 = t.Daemon('hbd', args=[str(port)], start=False)
del d2.env['GWKIT_HBD_LISTEN']
d2.start()
t.is_(t.line_request(port, 'PING'), 'PONG', '"hbd PORT" listens on that port')
t.is_(d2.stop(), 0, 'exit 0')
t.done()
