#!/usr/bin/python3
# gwctl checks numeric options itself: services --limit that is not a count is a usage error
# (exit 2) whether hbd runs or not; it was sent as a string, so hbd's refusal came back as
# exit 1 (exit 3 with hbd down), and a limit beyond a long long listed everything, exit 0.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
d = t.Daemon('hbd')
for name in ('alpha', 'beta', 'gamma'):
    t.like(t.line_request(d.port, 'HB %s interval=5s' % name), r'^OK ', 'HB %s' % name)


def gwctl(*args, run_dir=None):
    return t.run([t.prog('gwctl'), '--run-dir', run_dir or d.run_dir] + list(args), env=ENV)


rc, out, err = gwctl('--format', 'json', 'services', '--limit', '2')
t.is_((rc, len(out.splitlines())), (0, 2), '--limit 2: two services, exit 0')
rc, out, err = gwctl('--format', 'json', 'services', '--limit=1')
t.is_((rc, len(out.splitlines())), (0, 1), '--limit=1: one service')

missing = os.path.join(d.dir, 'nothing-here')
for val in ('0', '-1', 'abc', '2x', '', '99999999999999999999', '1000000001'):
    for where, rd in (('hbd up', None), ('hbd down', missing)):
        rc, out, err = gwctl('services', '--limit', val, run_dir=rd)
        t.is_((rc, out, err.splitlines()[0] if err else ''),
              (2, '', "gwctl: --limit: '%s' is not a count (1..1000000000)" % val),
              "--limit '%s' (%s): usage error, exit 2" % (val, where))

# --help describes what exists: logd and its commands (tail, inputs, flush, log) are there.
rc, out, err = t.run([t.prog('gwctl'), '--help'], env=ENV)
t.ok(rc == 0 and 'arrive with it' not in out and all('\n  %s ' % c in out for c in
                                                      ('tail', 'inputs', 'flush', 'log')),
     '--help lists logd\'s commands and no longer says they are coming')
t.done()
