#!/usr/bin/python3
# gwctl against a real hbd: every command's text and JSON output, reload applied and refused,
# -s, completion words, drain and shutdown.
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

GWCTL = t.prog('gwctl')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}

CONF = '[global]\ndrain_timeout = 3s\n\n[hbd]\ngrace = 3\n'
d = t.Daemon('hbd', conf=CONF)


def gwctl(*args, daemon=None, stdin=None):
    e = dict(ENV)
    e['GWKIT_GLOBAL_RUN_DIR'] = (daemon or d).run_dir
    p = subprocess.run([GWCTL] + list(args), env=e, capture_output=True, text=True, timeout=20,
                       input=stdin)
    return p.returncode, p.stdout, p.stderr


def gwjson(*args, daemon=None):
    rc, out, err = gwctl('--format', 'json', *args, daemon=daemon)
    try:
        return rc, json.loads(out), err
    except ValueError:
        t.diag('not JSON: %r %r' % (out, err))
        return rc, None, err


def jq(filter_, text):
    p = subprocess.run(['jq', '-r', filter_], input=text, capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout


def column_starts(header, row, names):
    """True when each named column of row starts where its header does (left-aligned)."""
    return all(row[header.index(n) - 1] == ' ' and row[header.index(n)] != ' ' for n in names)


# ---- ping, status ----
t.is_(gwctl('ping', 'hbd'), (0, 'hbd: pong\n', ''), 'ping')

rc, out, err = gwctl('status', 'hbd')
lines = out.splitlines()
t.is_(rc, 0, 'status hbd: exit 0')
t.like(lines[0], r'^hbd 0\.1\.0, pid %d, up \S+ \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)$'
       % d.pid, 'status: the first line has version, pid, uptime')
fields = dict(re.match(r'^  (\S+) +(.*)$', l).groups() for l in lines[1:])
t.is_(fields.get('listeners.tcp'), '127.0.0.1:%d' % d.port, 'status: listeners.tcp')
t.is_(fields.get('control_socket'), d.sock, 'status: control socket')
t.is_(fields.get('config'), d.conf, 'status: config file')
t.is_(fields.get('draining'), 'no', 'status: booleans as yes/no')
for k in ('connections', 'messages_total', 'messages_per_second', 'services.dead', 'alerts.sent',
          'store.written', 'workers'):
    t.ok(k in fields, 'status shows %s' % k)
col = {len(l) - len(l[2:].split(' ', 1)[1].lstrip()) for l in lines[1:]}
t.is_(len(col), 1, 'status: values line up in one column')

rc, doc, err = gwjson('status', 'hbd')
t.is_((rc, doc['prog'], doc['pid'], doc['listeners']['tcp']), (0, 'hbd', d.pid, '127.0.0.1:%d' % d.port),
      'status JSON')
t.is_(jq('.services.total', json.dumps(doc)), (0, '0\n'), 'status JSON is valid for jq')

rc, out, err = gwctl('status')
t.is_((rc, out.splitlines()[0].split(',')[0]), (0, 'hbd 0.1.0'), 'status all: hbd block, exit 0')
rc, doc, err = gwjson('status', 'all')
progs = sorted(['hbd', 'wsgwd', 'logd'])
t.is_((rc, sorted(doc), doc['hbd']['running'], doc['hbd']['pid']), (0, progs, True, d.pid),
      'status all JSON: keyed by program, running true')

# ---- services ----
c = t.LineClient(d.port)
t.like(c.request('HB api instance=web-1 interval=5s env=prod'), r'^OK \d+$', 'HB api/web-1')
t.like(c.request('HB api instance=web-2 interval=5s env=prod'), r'^OK \d+$', 'HB api/web-2')
t.like(c.request('HB db interval=10s'), r'^OK \d+$', 'HB db')
t.like(c.request('HB mix instance=a interval=10s'), r'^OK \d+$', 'HB mix/a')
t.like(c.request('HB mix interval=10s'), r'^OK \d+$', 'HB mix without instance=')

rc, out, err = gwctl('services')
lines = out.splitlines()
t.is_(rc, 0, 'services: exit 0')
t.like(lines[0], r'^SERVICE +STATE +SILENT +INTERVAL +BEATS +MIN_UP +LAST_SEEN +ADDR +LABELS$',
       'services: header')
t.is_([l.split()[0] for l in lines[1:]], ['api', 'web-1', 'web-2', 'db', 'mix', 'a', '-'],
      'services: instances listed under their service, an unnamed one as -')
t.like(lines[4], r'^db +up +\S+ +10s +1 +1 +\S+Z +127\.0\.0\.1:\d+ +-$',
       'services: a service whose one instance is unnamed shows its address on its own row')
t.like(lines[7], r'^  - +up +\S+ +10s +1 +- +\S+Z +127\.0\.0\.1:\d+ +-$',
       'services: the unnamed instance of mix, shown as -')
t.like(lines[1], r'^api +up +\S+ +5s +2 +1 +\d{4}-\S+Z +- +env=prod$', 'services: api row')
t.like(lines[2], r'^  web-1 +up +\S+ +5s +1 +- +\S+Z +127\.0\.0\.1:\d+ +-$', 'services: instance row')
t.ok(all(column_starts(lines[0], l, ['STATE', 'SILENT', 'LAST_SEEN']) for l in lines[1:]),
     'services: columns line up')
t.ok(all(not l.endswith(' ') for l in lines), 'services: no trailing blanks')

rc, out, err = gwctl('--format', 'json', 'services')
t.is_(jq('.name', out), (0, 'api\ndb\nmix\n'), 'services JSON: JSON lines, one service per line, by name')
rc, doc, err = gwjson('services', 'api')
t.is_(doc['name'], 'api', 'services SERVICE: one service')
t.is_(sorted(i['name'] for i in doc['instances']), ['web-1', 'web-2'], 'services JSON: instances')
rc, out, err = gwctl('--format', 'json', 'services', '--limit', '1')
t.is_(jq('.name', out), (0, 'api\n'), 'services --limit 1: the first by name')
t.is_(gwctl('services', '--limit', '0')[0:2], (2, ''), 'services --limit 0: a usage error (exit 2), see 28-gwctl-args')
t.is_(gwctl('services', '--state', 'dead'), (0, 'no services\n', ''), 'services --state dead: none')
rc, out, err = gwctl('services', '--state=up')
t.is_(len(out.splitlines()), 8, 'services --state=up: header and seven rows')
t.is_(gwctl('__complete', 'services'), (0, 'api\ndb\nmix\n', ''), '__complete services from hbd')
t.is_(gwctl('services', 'nosuch'), (1, '', "gwctl: hbd: no service named 'nosuch'\n"),
      'services SERVICE for an unknown name: exit 1, as forget does')
rc, doc, err = gwjson('services', 'nosuch')
t.is_((rc, doc['error']['code']), (1, 'not_found'), 'services unknown, JSON: the error object')
t.is_(gwctl('services', '--state', 'dead', 'api'), (0, 'no services\n', ''),
      'services --state dead api: api is up, nothing matches, exit 0')
t.is_(gwctl('forget', 'mix')[0], 0, 'forget mix')

# ---- clients ----
rc, out, err = gwctl('clients', 'hbd')
lines = out.splitlines()
t.is_(rc, 0, 'clients: exit 0')
t.like(lines[0], r'^ *ID +ADDR +WORKER +CONNECTED +IDLE +MESSAGES +BYTES_IN$', 'clients: header')
mine = '127.0.0.1:%d' % c.sock.getsockname()[1]
t.ok(any(mine in l for l in lines[1:]), 'clients: our connection is listed')
rc, doc, err = gwjson('clients', 'hbd')
row = [x for x in doc['clients'] if x['addr'] == mine]
t.ok(row and row[0]['messages'] == 5, 'clients JSON: our connection with its 5 messages')
c.close()
rc, out, err = gwctl('clients')
t.is_((rc, err.splitlines()[0]), (2, "gwctl: missing PROG (hbd wsgwd)"), 'clients without PROG: usage')

# ---- forget ----
t.is_(gwctl('forget', 'db'), (0, 'hbd: forgot service db\n', ''), 'forget db')
t.is_(gwctl('forget', 'db'), (1, '', "gwctl: hbd: no service named 'db'\n"), 'forget unknown: exit 1')
rc, doc, err = gwjson('forget', 'db')
t.is_((rc, doc['error']['code']), (1, 'not_found'), 'forget unknown, JSON: the error object')
rc, doc, err = gwjson('forget', 'api')
t.is_((rc, doc), (0, {'forgotten': 'api'}), 'forget JSON')

# ---- log-level, config, metrics ----
t.is_(gwctl('log-level', 'hbd'), (0, 'hbd: log level info\n', ''), 'log-level shows')
t.is_(gwctl('log-level', 'hbd', 'debug'), (0, 'hbd: log level debug\n', ''), 'log-level sets')
t.is_(gwjson('log-level', 'hbd'), (0, {'level': 'debug'}, ''), 'log-level JSON')
gwctl('log-level', 'hbd', 'info')

rc, out, err = gwctl('config', 'hbd')
t.is_((rc, out.splitlines()[0]), (0, 'hbd: configuration from %s' % d.conf), 'config: file')
t.like(out, r'(?m)^  hbd\.listen +127\.0\.0\.1:%d$' % d.port, 'config: effective listen (env)')
t.like(out, r'(?m)^  global\.drain_timeout +3s$', 'config: value from the file, in its own units')
t.like(out, r'(?m)^  hbd\.max_output +64k$', 'config: a default size in its units')
rc, doc, err = gwjson('config', 'hbd')
t.is_(doc['config']['hbd']['grace'], 3, 'config JSON')
t.is_((doc['config']['global']['drain_timeout'], doc['text']['global']['drain_timeout']),
      (3000, '3s'), 'config JSON: numbers for scripts, the text as written too')
rc, out, err = gwctl('metrics', 'hbd')
t.like(out, r'(?m)^# TYPE hbd_\w+ ', 'metrics: Prometheus text')

# ---- reload ----
t.is_(gwctl('reload', 'hbd'), (0, 'hbd: configuration reloaded\n', ''), 'reload applied')
t.is_(gwjson('reload', 'hbd'), (0, {'applied': True}, ''), 'reload JSON')
t.write(d.conf, '[global]\ndrain_timeout = 3s\n\n[hbd]\ngrace = 1\nlistn = x\n')
rc, out, err = gwctl('reload', 'hbd')
t.is_(rc, 1, 'reload refused: exit 1')
t.is_(err, "gwctl: hbd refused the new configuration; the old one keeps running:\n"
      "%s:5: 'grace': 1 is out of range (2..1000)\n"
      "%s:6: unknown key 'listn' in [hbd], did you mean 'listen'?\n" % (d.conf, d.conf),
      'reload refused: every file:line: message')
rc, doc, err = gwjson('reload', 'hbd')
t.is_((rc, doc['error']['code']), (1, 'failed'), 'reload refused, JSON')
t.is_(gwctl('ping', 'hbd')[0], 0, 'the daemon still answers after a refused reload')
rc, doc, err = gwjson('config', 'hbd')
t.is_(doc['config']['hbd']['grace'], 3, 'the old config keeps running')
t.write(d.conf, CONF)

# ---- -s ----
e = dict(ENV)
for args in (['-s', d.sock, 'status'], ['status', '--socket', d.sock], ['-s', d.sock, 'reload'],
             ['-s', d.sock, 'log-level', 'info']):
    p = subprocess.run([GWCTL] + args, env=e, capture_output=True, text=True, timeout=20)
    t.is_(p.returncode, 0, 'gwctl %s' % ' '.join(args).replace(d.sock, 'SOCK'))
p = subprocess.run([GWCTL, '-s', d.sock, 'status'], env=e, capture_output=True, text=True)
t.like(p.stdout, r'^hbd 0\.1\.0, pid %d' % d.pid, '-s: status of that daemon')
p = subprocess.run([GWCTL, '--run-dir', d.run_dir, 'ping', 'hbd'], env=e, capture_output=True, text=True)
t.is_(p.stdout, 'hbd: pong\n', '--run-dir')

# ---- shutdown, drain ----
d2 = t.Daemon('hbd')
t.is_(gwctl('shutdown', 'hbd', daemon=d2), (0, 'hbd: stopping\n', ''), 'shutdown')
t.is_(d2.wait(10), 0, 'shutdown: the daemon exits 0')
t.is_(gwctl('ping', 'hbd', daemon=d2)[0], 3, 'after shutdown: not reachable')

t.is_(gwctl('drain', 'hbd'), (0, 'hbd: draining; it exits once its in-flight work is done\n', ''),
      'drain')
t.is_(d.wait(10), 0, 'drain: the daemon exits 0')
rc, out, err = gwctl('status', 'hbd')
t.is_((rc, err), (3, 'gwctl: hbd is not running (no socket %s); start it or pass --run-dir\n' % d.sock),
      'after drain: not running, socket removed')

t.done()
