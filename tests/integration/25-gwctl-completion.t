#!/usr/bin/python3
# bash completion for gwctl: commands, options, programs, levels, and service names from a
# running hbd; zsh's file parses.
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

COMP = os.path.join(t.ROOT, 'completions')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
ENV['PATH'] = t.BIN + ':' + ENV.get('PATH', '')

d = t.Daemon('hbd')
t.like(t.line_request(d.port, 'HB api interval=5s'), r'^OK ', 'HB api')
t.like(t.line_request(d.port, 'HB billing interval=5s'), r'^OK ', 'HB billing')


def complete(*words):
    """What bash completes for the words typed (the last one being completed)."""
    script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _gwctl; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (os.path.join(COMP, 'gwctl.bash'), ' '.join("'%s'" % w for w in words),
                 len(words) - 1))
    p = subprocess.run(['bash', '-c', script], env=ENV, capture_output=True, text=True, timeout=20)
    return [w for w in p.stdout.splitlines() if w]


t.is_(complete('gwctl', 'he'), ['health-check', 'help'], 'commands')
t.is_(complete('gwctl', '--f'), ['--format'], 'global options')
t.is_(complete('gwctl', '--format', ''), ['text', 'json'], '--format values')
progs = ['hbd', 'wsgwd', 'logd']
t.is_(complete('gwctl', 'status', ''), ['all'] + progs, 'status: programs and all')
t.is_(complete('gwctl', 'reload', ''), progs, 'reload: programs')
t.is_(complete('gwctl', 'log-level', 'hbd', 'w'), ['warning'], 'log-level: levels')
t.is_(complete('gwctl', 'services', '--state', ''), ['up', 'late', 'dead'], '--state values')
t.is_(complete('gwctl', 'services', '--'), ['--help', '--format', '--timeout', '--run-dir', '--state', '--limit'],
      'services options')
t.is_(complete('gwctl', '--run-dir', d.run_dir, 'forget', ''), ['api', 'billing'],
      'forget: service names from the running hbd')
t.is_(complete('gwctl', '-s', d.sock, 'services', 'b'), ['billing'], 'services: names through -s')
t.is_(complete('gwctl', '--run-dir', '/nonexistent', 'forget', ''), [],
      'no hbd: no service names, no error')

if shutil.which('zsh'):
    p = subprocess.run(['zsh', '-n', os.path.join(COMP, '_gwctl')], capture_output=True, text=True)
    t.is_((p.returncode, p.stderr), (0, ''), 'zsh completion parses')

t.done()
