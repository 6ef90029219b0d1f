#!/usr/bin/python3
# The wsgwd tests that move bytes again on the epoll backend ([wsgwd] io = epoll), so both
# backends of lib/conn pass the same handshake, echo, raw, backend and limit checks wherever
# io_uring is the default. Each test file is one check here; its failures are repeated as
# diagnostics.
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

here = os.path.dirname(os.path.abspath(__file__))
files = [os.path.join(here, f) for f in ('40-wsgwd-handshake.t', '41-wsgwd-echo.t',
                                         '42-wsgwd-raw.t', '43-wsgwd-backend.t', '43-wsgwd-fanout.t',
                                         '45-wsgwd-limits.t', '45-wsgwd-wire.t')]
env = dict(os.environ, GW_TEST_WSGWD_IO='epoll')
os.environ['GW_TEST_WSGWD_IO'] = 'epoll'
d = t.Daemon('wsgwd')
t.is_(d.result('status')['io'], 'epoll', 'GW_TEST_WSGWD_IO=epoll gives the tests an epoll wsgwd')
d.stop()
del os.environ['GW_TEST_WSGWD_IO']
for f in files:
    p = subprocess.run([f], env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout
    plan = re.search(r'^1\.\.(\d+)', out, re.M)
    failed = [l for l in out.splitlines() if l.startswith('not ok')]
    good = p.returncode == 0 and plan and not failed
    t.ok(bool(good), '%s on epoll (%s checks)' % (os.path.basename(f), plan.group(1) if plan else '?'))
    if not good:
        t.diag('exit %d\n%s\n%s' % (p.returncode, '\n'.join(failed) or out[-3000:], p.stderr[-3000:]))
t.done()
