#!/usr/bin/python3
# logd as an operator meets it: -n, gwctl status/inputs/flush/tail (and --follow), SIGHUP
# reopening files moved away (logrotate), a refused reload, SIGTERM writing what is queued;
# gwctl log.
import json
import os
import signal
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

logd = t.prog('logd')
tmp = t.tmpdir()
good = t.write(os.path.join(tmp, 'good.conf'), '[logd]\noutput = /tmp/x/%{app}.log\nfsync = never\n')
rc, out, err = t.run([logd, '-n', '-c', good])
t.is_((rc, out), (0, 'configuration OK\n'), '-n on a good config')
bad = t.write(os.path.join(tmp, 'bad.conf'), '[logd]\noutput = /tmp/%{nope}.log\nfsync = sometimes\n'
                                              'syslog_listen = nowhere\n')
rc, out, err = t.run([logd, '-n', '-c', bad])
t.is_(rc, 1, '-n on a bad config: exit 1')
t.ok("'fsync': 'sometimes' is not one of always, batch, never" in err, 'bad fsync named: ' + err.strip())
rc, out, err = t.run([logd, '-n', '-c', t.write(os.path.join(tmp, 'b2.conf'),
                                                 '[logd]\noutput = /tmp/%{nope}.log\n')])
t.ok(rc == 1 and 'b2.conf:2:' in err and 'unknown field %{nope}' in err, 'a bad template: file:line: ' + err.strip())
rc, out, err = t.run([logd, '-n', '-c', t.write(os.path.join(tmp, 'b3.conf'),
                                                 '[logd]\nsyslog_listen = nowhere\n')])
t.ok(rc == 1 and 'b3.conf:2:' in err and 'syslog_listen' in err, 'a bad address: ' + err.strip())

conf = t.write(os.path.join(tmp, 'logd.conf'), '[logd]\nformat = raw\n')
d = lt.Logd(conf=None, args=['-c', conf])
gwctl = [t.prog('gwctl'), '--run-dir', d.run_dir]
follow = subprocess.Popen(gwctl + ['tail', '--follow', '--app', 'web'], stdout=subprocess.PIPE,
                          text=True)
t.ok(t.wait_for(lambda: d.result('status').get('connections') is not None), 'status answers')
c = lt.Native(d.native_port)
c.batch(1, ['from web'], app='web', sev=3)
c.batch(2, ['from db'], app='db', sev=6)
t.is_(c.acks_until(2), 2, 'two records acknowledged')
rc, out, err = t.run(gwctl + ['tail'])
t.ok(rc == 0 and out.endswith('web err: from web\n' + out.splitlines()[-1] + '\n') and 'db info: from db' in out,
     'gwctl tail prints the latest records')
rc, out, err = t.run(gwctl + ['--format', 'json', 'tail', '--severity', 'err'])
recs = [json.loads(l) for l in out.splitlines()]
t.is_([r['msg'] for r in recs], ['from web'], 'tail --severity err keeps err and worse')
line = follow.stdout.readline()
t.ok(line.endswith('web err: from web\n'), 'tail --follow --app web streamed the web record')
c.batch(3, ['later from web'], app='web', sev=4)
t.ok(follow.stdout.readline().endswith('web warning: later from web\n'), 'and a new one as it came')
follow.terminate()
follow.wait(5)
rc, out, err = t.run(gwctl + ['inputs'])
t.ok(rc == 0 and any(l.split()[0] == 'native' and l.split()[2] == '3' for l in out.splitlines()[1:]),
     'gwctl inputs counts the native records')
code, ctype, text = d.http('/metrics')
p = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
t.is_((code, p.returncode, p.stdout + p.stderr), (200, 0, ''), 'promtool check metrics passes on /metrics')
t.ok('logd_written_messages_total 3' in text, '/metrics counts the written lines')
rc, out, err = t.run(gwctl + ['flush'])
t.is_((rc, out), (0, 'logd: flushed\n'), 'gwctl flush')
rc, out, err = t.run(gwctl + ['status', 'logd'])
t.ok(rc == 0 and 'output.written' in out and 'listeners.native' in out, 'gwctl status logd')
rc, out, err = t.run(gwctl + ['--format', 'json', 'status', 'all'])
t.ok(rc == 0 and json.loads(out)['logd']['running'], 'gwctl status all includes logd')

# logrotate: move the file away, SIGHUP, and new lines go to a new file.
os.rename(d.out, d.out + '.1')
d.signal(signal.SIGHUP)
t.ok(t.wait_for(lambda: 'output files reopened' in d.logtext()), 'SIGHUP reopens the files')
c.batch(4, ['after rotation'])
t.is_(c.acks_until(4), 4, 'acknowledged after the reopen')
t.is_(d.lines(), [b'after rotation'], 'the new file holds the new line')
t.is_(d.lines(d.out + '.1')[-1], b'later from web', 'the moved file kept the old ones')
t.write(conf, '[logd]\nformat = loud\n')
r = d.ctl('reload')
t.is_((r['ok'], r['error']['code']), (False, 'failed'), 'gwctl reload of a bad file is refused')

# SIGTERM while lines are queued behind a slow commit interval: they are written before exit.
t.write(conf, '[logd]\nfsync = batch\nfsync_interval = 60s\n')
t.is_(d.ctl('reload')['ok'], True, 'reload to a 60 s fsync interval')
c.batch(5, ['queued at shutdown'])
t.ok(t.wait_for(lambda: d.metric('logd_received_messages_total', {'input': 'native'}) == 5),
     'the record was received')
d.signal(signal.SIGTERM)
t.is_(c.acks_until(5), 5, 'SIGTERM: the client gets its last ACK before the connection ends')
t.is_(d.stop(), 0, 'SIGTERM: exit 0')
t.is_(d.lines()[-1], b'queued at shutdown', 'what was queued at SIGTERM is in the file')

# Rotation by size, zstd of rotated files, retention, and a template per app.
r = lt.Logd(output=None, env={'GWKIT_LOGD_ROTATE_SIZE': '2k', 'GWKIT_LOGD_RETENTION': '2',
                              'GWKIT_LOGD_COMPRESS': 'yes'})
r.env['GWKIT_LOGD_OUTPUT'] = os.path.join(r.dir, 'out', '%{app}.log')
r.stop()
r.start()
n = lt.Native(r.native_port, session=77)
for seq in range(1, 11):
    n.batch(seq, ['rotate me %d %s' % (seq, 'r' * 500)], app='rot')
t.is_(n.acks_until(10), 10, 'rotation: acknowledged')
outdir = os.path.join(r.dir, 'out')
t.ok(t.wait_for(lambda: any(f.endswith('.zst') for f in os.listdir(outdir))),
     'rotated files are compressed with zstd: %s' % sorted(os.listdir(outdir)))
t.ok(t.wait_for(lambda: len([f for f in os.listdir(outdir) if f.startswith('rot.log.')]) <= 2),
     'retention keeps 2 rotated files')
t.ok(r.metric('logd_rotations_total') >= 2, 'rotations counted')
t.ok(os.path.exists(os.path.join(outdir, 'rot.log')), 'the template named the file after the app')
n.close()

# gwctl log: a message or stdin lines through lib/logclient, returning once durable.
j = lt.Logd(fmt='json')
g = t.prog('gwctl')
addr = '127.0.0.1:%d' % j.native_port
rc, out, err = t.run([g, 'log', '--addr', addr, '--app', 'deploy', '--severity', 'warning',
                      'rolled', 'back', 'web-3'])
t.is_((rc, out, err), (0, '', ''), 'gwctl log MESSAGE: exit 0, silent')
recs = [json.loads(l) for l in j.lines()]
t.is_([(r['app'], r['severity'], r['msg'], r['input']) for r in recs],
      [('deploy', 'warning', 'rolled back web-3', 'native')], 'the record is in the file on return')
rc, out, err = t.run([g, 'log'], env={'GWKIT_LOGD_NATIVE_LISTEN': '*:%d' % j.native_port},
                     input='first\r\n\nsecond\n')
t.is_(rc, 0, 'gwctl log from stdin (address from the environment, wildcard host): exit 0')
recs = [json.loads(l) for l in j.lines()]
t.is_([(r['app'], r['severity'], r['msg']) for r in recs[1:]],
      [('gwctl', 'notice', 'first'), ('gwctl', 'notice', 'second')],
      'one record per non-empty line, default app and severity')
rc, out, err = t.run([g, 'log', '--addr', 'unix:' + os.path.join(j.run_dir, 'logd.native'),
                      'over the unix socket'])
t.is_(rc, 0, 'gwctl log over the native Unix stream socket')
t.is_(json.loads(j.lines()[-1])['msg'], 'over the unix socket', 'and the record is written')
rc, out, err = t.run([g, 'log', '--severity', 'loud', 'x'])
t.is_(rc, 2, 'a bad severity is a usage error')
rc, out, err = t.run([g, '--timeout', '500ms', 'log', '--addr', '127.0.0.1:1', 'nobody listens'])
t.is_(rc, 3, 'logd not reachable: exit 3')
t.like(err, r'^gwctl: log to logd at 127.0.0.1:1: .*Connection refused', 'and says why')
t.done()
