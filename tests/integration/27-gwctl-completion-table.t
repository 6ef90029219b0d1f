#!/usr/bin/python3
# The completions follow gwctl's command table: every command and every option of each command
# (from 'gwctl help COMMAND') is offered by bash and by zsh; an option that takes a value does
# not complete program names for it; each zsh case has its own body (zsh is not installed
# here, so its file is checked as text).
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

COMP = os.path.join(t.ROOT, 'completions')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
ENV['PATH'] = t.BIN + ':' + ENV.get('PATH', '')
GWCTL = t.prog('gwctl')
COMMON = {'--help', '--format', '--timeout', '-s', '--run-dir'}


def complete(*words):
    script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _gwctl; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (os.path.join(COMP, 'gwctl.bash'), ' '.join("'%s'" % w for w in words),
                 len(words) - 1))
    p = subprocess.run(['bash', '-c', script], env=ENV, capture_output=True, text=True, timeout=20)
    return [w for w in p.stdout.splitlines() if w]


rc, out, _ = t.run([GWCTL, '__complete', 'commands'])
commands = out.split()
t.ok(rc == 0 and 'status' in commands and 'help' in commands, 'gwctl lists its commands')
t.is_(sorted(complete('gwctl', '')), sorted(commands), 'bash: every command')

with open(os.path.join(COMP, '_gwctl')) as f:
    zsh = f.read()
zsh_cmds = re.findall(r"^\s+'([a-z-]+):", zsh, re.M)
t.is_(sorted(zsh_cmds), sorted(commands), 'zsh: every command in _gwctl_commands')

# case items of the per-command dispatch: "(a|b)" alone on its line, then its body.
lines = zsh.splitlines()
start = next(i for i, line in enumerate(lines) if 'case $words[1] in' in line)
cases = {}
for i, line in enumerate(lines):
    if i <= start:
        continue
    m = re.match(r'^\s+\(([a-z|-]+)\)\s*(.*)$', line)
    if m and '_arguments' in (m.group(2) or lines[i + 1]):
        for c in m.group(1).split('|'):
            cases[c] = i
    elif m:
        cases.setdefault('!empty', []).append(m.group(1))
t.is_(cases.get('!empty'), None, 'zsh: no case item without its own _arguments body')
t.is_(sorted(c for c in cases if c != '!empty'), sorted(commands), 'zsh: a case for every command')

for cmd in commands:
    rc, out, _ = t.run([GWCTL, 'help', cmd])
    usage = out.splitlines()[0] if out else ''
    opts = re.findall(r'\[(-{1,2}[a-z][a-z-]*)( [A-Za-z|]+)?', usage)
    flags = {o for o, _ in opts}
    got = set(complete('gwctl', cmd, '-'))
    t.is_(sorted(flags - got), [], 'bash: %s offers its options %s' % (cmd, sorted(flags)))
    t.is_(sorted(COMMON - got) if cmd != 'help' else [], [], 'bash: %s offers the common options' % cmd)
    # zsh: each option is named in the command's block (up to the next case item).
    if cmd in cases:
        i = cases[cmd] + 1
        block = lines[cases[cmd]]
        while i < len(lines) and not re.match(r'^\s+\([a-z|-]+\)', lines[i]) and lines[i].strip() != 'esac':
            block += '\n' + lines[i]
            i += 1
        t.is_([f for f in sorted(flags) if f not in block], [], 'zsh: %s names its options' % cmd)
    for flag, metavar in opts:
        if not metavar:
            continue
        got = complete('gwctl', cmd, flag, '')
        progs = [w for w in got if w in ('hbd', 'wsgwd', 'logd', 'all')]
        t.is_(progs, [], 'bash: %s %s VALUE does not complete program names' % (cmd, flag))

t.done()
