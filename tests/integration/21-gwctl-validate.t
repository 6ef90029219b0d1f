#!/usr/bin/python3
# gwctl validate: good and bad gwkit.conf files, the exact file:line: messages, and the same
# verdict as the daemon's own --check.
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

GWCTL = t.prog('gwctl')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}


def gwctl(*args):
    p = subprocess.run([GWCTL] + list(args), env=ENV, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


d = t.tmpdir()

good = t.write(os.path.join(d, 'good.conf'), '''# a full file
[global]
log_level = debug
drain_timeout = 2s

[hbd]
listen = 127.0.0.1:9002
workers = 2
client_timeout = 30s
max_line = 8k
grace = 3

[wsgwd]
listen = *:8080

[logd]
fsync = batch

[backend chat-1]
address = 127.0.0.1:7001
''')
rc, out, err = gwctl('validate', good)
t.is_((rc, out, err), (0, '%s: configuration OK\n' % good, ''), 'good file: OK, exit 0')
rc, out, err = gwctl('--format', 'json', 'validate', good)
t.is_((rc, json.loads(out)), (0, {'file': good, 'valid': True, 'errors': []}), 'good file: JSON')
p = subprocess.run([t.prog('hbd'), '-n', '-c', good], env=ENV, capture_output=True, text=True)
t.is_(p.returncode, 0, 'good file: hbd -n agrees')

cases = [
    ('unknown key with did-you-mean', '[hbd]\nlistn = *:9002\n',
     "2: unknown key 'listn' in [hbd], did you mean 'listen'?"),
    ('unknown section with did-you-mean', '[hdb]\nlisten = *:9002\n',
     'unknown section [hdb], did you mean [hbd]?'),
    ('bad type', '[hbd]\nworkers = many\n', "2: 'workers': expected an integer, got 'many'"),
    ('out of range', '[global]\n\n[hbd]\ngrace = 1\n', "4: 'grace': 1 is out of range (2..1000)"),
    ('bad duration unit', '[hbd]\nclient_timeout = 5x\n',
     "2: 'client_timeout': bad duration '5x' (use ms, s, m, h or d)"),
    ('bad size unit', '[hbd]\nmax_line = 4q\n', "2: 'max_line': bad size '4q' (use k, m or g)"),
    ('bad enum', '[global]\nlog_level = loud\n',
     "2: 'log_level': 'loud' is not one of debug, info, warning, error"),
    ('bad address', '[hbd]\nlisten = 1.2.3.4\n', "2: 'listen': bad address: missing port in '1.2.3.4'"),
]
for name, text, msg in cases:
    path = t.write(os.path.join(d, 'bad.conf'), text)
    rc, out, err = gwctl('validate', path)
    lines = err.splitlines()
    t.is_(rc, 1, '%s: exit 1' % name)
    t.is_(out, '', '%s: nothing on stdout' % name)
    if msg[0].isdigit():
        t.is_(lines[0] if lines else '', '%s:%s' % (path, msg), '%s: %s' % (name, msg))
    else:
        t.like(lines[0] if lines else '', r'^%s:\d+: %s$' % (re.escape(path), re.escape(msg)),
               '%s: %s' % (name, msg))
    t.is_(lines[-1] if lines else '', '%s: configuration has 1 error' % path, '%s: count line' % name)
    # The daemon's --check says the same, prefixed with its name.
    p = subprocess.run([t.prog('hbd'), '-n', '-c', path], env=ENV, capture_output=True, text=True)
    t.is_(p.stderr.splitlines()[0] if p.stderr else '', 'hbd: ' + (lines[0] if lines else ''),
          '%s: same message as hbd -n' % name)

# Several errors: every one, in file order, then the count.
path = t.write(os.path.join(d, 'many.conf'), '[hbd]\nworkers = many\ngrace = 0\nlistn = x\n')
rc, out, err = gwctl('validate', path)
t.is_(rc, 1, 'three errors: exit 1')
t.is_(err, "%s:2: 'workers': expected an integer, got 'many'\n"
      "%s:3: 'grace': 0 is out of range (2..1000)\n"
      "%s:4: unknown key 'listn' in [hbd], did you mean 'listen'?\n"
      "%s: configuration has 3 errors\n" % (path, path, path, path), 'three errors: all reported')
rc, out, err = gwctl('--format', 'json', 'validate', path)
doc = json.loads(out)
t.is_((rc, doc['valid'], len(doc['errors'])), (1, False, 3), 'three errors: JSON')
t.is_(doc['errors'][0], "%s:2: 'workers': expected an integer, got 'many'" % path,
      'JSON errors are file:line: message')

# The programs' own checks beyond the schema run too, as hbd -n runs them.
path = t.write(os.path.join(d, 'url.conf'), '[hbd]\nalert_url = gopher://x/\n')
rc, out, err = gwctl('validate', path)
t.is_((rc, err.splitlines()[0]), (1, "%s:2: alert_url: 'gopher://x/' is not an http:// or https:// URL" % path),
      'a program check (alert_url) is reported with file and line')
p = subprocess.run([t.prog('hbd'), '-n', '-c', path], env=ENV, capture_output=True, text=True)
t.is_(p.stderr.splitlines()[0], 'hbd: ' + err.splitlines()[0], 'same message as hbd -n')

missing = os.path.join(d, 'missing.conf')
rc, out, err = gwctl('validate', missing)
t.is_(rc, 1, 'missing file: exit 1')
t.is_(err.splitlines()[0], '%s: cannot open: No such file or directory' % missing,
      'missing file: message')

if not os.path.exists('/etc/gwkit/gwkit.conf'):
    rc, out, err = gwctl('validate')
    t.is_((rc, out.strip()), (0, '/etc/gwkit/gwkit.conf does not exist: the built-in defaults '
                                 'apply; configuration OK'),
          'no file named and none at the default path: the built-in defaults are valid')
else:
    t.ok(True, '# skip /etc/gwkit/gwkit.conf exists here')

rc, out, err = gwctl('validate', good, 'extra')
t.is_((rc, err.splitlines()[0]), (2, "gwctl: unexpected argument 'extra'"), 'two files: usage error')

t.done()
