#!/usr/bin/python3
# The hbd tests again on the epoll backend ([hbd] io = epoll), so both backends pass the same
# protocol, bad-input, liveness, alert, HTTP, lifecycle and limit checks wherever io_uring is
# the default. Each test file is one check here; its failures are repeated as diagnostics.
import glob
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

here = os.path.dirname(os.path.abspath(__file__))
# The HTTP port (libmicrohttpd's thread) does not depend on the backend: its limit and page
# tests run once.
files = sorted(f for f in glob.glob(os.path.join(here, '1[0-6]-hbd-*.t'))
               if not re.search(r'-(http-limits|page)\.t$', f))
files.append(os.path.join(here, '02-hbd-monitoring.t'))
env = dict(os.environ, GW_TEST_HBD_IO='epoll')
# The switch itself works: a daemon started the way those tests start theirs runs epoll.
os.environ['GW_TEST_HBD_IO'] = 'epoll'
d = t.Daemon('hbd')
t.is_(d.result('status')['io'], 'epoll', 'GW_TEST_HBD_IO=epoll gives the tests an epoll hbd')
d.stop()
del os.environ['GW_TEST_HBD_IO']
for f in files:
    p = subprocess.run([f], env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout
    plan = re.search(r'^1\.\.(\d+)', out, re.M)
    failed = [l for l in out.splitlines() if l.startswith('not ok')]
    skipped = re.search(r'^1\.\.0 # SKIP', out, re.M)
    good = p.returncode == 0 and plan and not failed
    t.ok(bool(good) or bool(skipped), '%s on epoll (%s checks)' % (
        os.path.basename(f), plan.group(1) if plan else '?'))
    if not good and not skipped:
        t.diag('exit %d\n%s\n%s' % (p.returncode, '\n'.join(failed) or out[-3000:], p.stderr[-3000:]))
t.done()
