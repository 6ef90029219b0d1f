#!/usr/bin/python3
# The documentation ships with the code: man pages lint clean, the config key list of
# gwkit.conf(5) matches the schema tables, and every program answers --help and --version.
import glob
import os
import re
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

man = os.path.join(t.ROOT, 'man')
pages = sorted(glob.glob(os.path.join(man, '*.[158]')))
ours = {os.path.basename(p).rsplit('.', 1)[0] + '(' + p.rsplit('.', 1)[1] + ')' for p in pages}

if shutil.which('mandoc'):
    p = subprocess.run(['mandoc', '-Tlint'] + pages, capture_output=True, text=True)
    problems = []
    for line in (p.stdout + p.stderr).splitlines():
        # mandoc looks .Xr up in the system's index, where our own pages are not installed.
        m = re.search(r'referenced manual not found: Xr (\S+) (\d)', line)
        if m and '%s(%s)' % m.groups() in ours:
            continue
        if 'outdated mandoc.db' in line:
            continue
        problems.append(line)
    t.is_(problems, [], 'mandoc -Tlint is clean on every page')
else:
    t.ok(False, 'mandoc installed (share/deps.sh)')

rc, out, err = t.run([os.path.join(t.ROOT, 'share', 'gen-man-keys.sh'), t.BUILD, '--check'])
t.is_((rc, err), (0, ''), 'the key list in gwkit.conf(5) matches the schema tables (make man)')

for prog in sorted(os.listdir(t.BIN)):
    rc, out, err = t.run([t.prog(prog), '--help'])
    t.ok(rc == 0 and 'usage' in (out + err).lower(), '%s --help: usage, exit 0' % prog)
    t.ok(os.path.exists(os.path.join(man, prog + '.8')) or os.path.exists(os.path.join(man, prog + '.1')),
         '%s has a man page' % prog)
    t.ok(os.path.exists(os.path.join(t.ROOT, 'completions', prog + '.bash')),
         '%s has bash completion' % prog)
    t.ok(os.path.exists(os.path.join(t.ROOT, 'completions', '_' + prog)), '%s has zsh completion' % prog)
    rc, out, err = t.run(['bash', '-n', os.path.join(t.ROOT, 'completions', prog + '.bash')])
    t.is_(rc, 0, '%s bash completion parses' % prog)
    # Loaded the way bash-completion does: the file named after the command, then -<TAB>.
    script = ('source %s; COMP_WORDS=(%s -); COMP_CWORD=1; $(complete -p %s | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p");'
              ' printf "%%s\\n" "${COMPREPLY[@]}"'
              % (os.path.join(t.ROOT, 'completions', prog + '.bash'), prog, prog))
    rc, out, err = t.run(['bash', '-c', script])
    t.ok(rc == 0 and '--help' in out.split(), '%s: bash completes its options' % prog)
    if prog in ('hbd', 'wsgwd', 'logd'):
        # The environment example of --help names a key the program has.
        m = re.search(r'(GWKIT_[A-Z_]+)=(\S+);', t.run([t.prog(prog), '--help'])[1])
        env = dict(os.environ, **({m.group(1): m.group(2)} if m else {}))
        rc, hout, herr = t.run([t.prog(prog), '-n'], env=env)
        t.ok(m and rc == 0, '%s --help: its example %s is a key it takes %s' %
             (prog, m and m.group(1), herr.strip()))
    if prog == 'wsgwd':
        t.ok('--raw' in out.split(), 'wsgwd: bash completes --raw')
    elif prog in ('hbd', 'logd'):
        t.ok('--raw' not in out.split(), '%s: bash offers no --raw' % prog)

example = os.path.join(t.ROOT, 'share', 'gwkit.conf')
rc, out, err = t.run([t.prog('gwctl'), 'validate', example])
t.is_((rc, out), (0, '%s: configuration OK\n' % example), 'the example share/gwkit.conf validates')
t.done()
