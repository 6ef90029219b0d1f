#!/usr/bin/python3
# The shipped systemd units: `systemd-analyze verify` is clean on each, and each runs its
# daemon as the unprivileged gwkit user with the sandboxing options set.
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

units = sorted(glob.glob(os.path.join(t.ROOT, 'share', 'systemd', '*.service')))
t.ok(units, 'units shipped: %s' % ', '.join(os.path.basename(u) for u in units))
with open(os.path.join(t.ROOT, 'share', 'systemd', 'gwkit.sysusers')) as f:
    t.like(f.read(), r'(?m)^u gwkit ', 'sysusers.d entry creates the gwkit user')

REQUIRED = ['User=gwkit', 'Group=gwkit', 'Type=notify', 'NoNewPrivileges=yes',
            'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'StateDirectory=gwkit',
            'RuntimeDirectory=gwkit', 'RuntimeDirectoryPreserve=yes', 'CapabilityBoundingSet=',
            'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
            'Environment=GWKIT_GLOBAL_RUN_DIR=/run/gwkit']
analyze = shutil.which('systemd-analyze')
for u in units:
    name = os.path.basename(u)
    prog = name[:-len('.service')]
    text = open(u).read()
    lines = set(text.splitlines())
    t.is_([r for r in REQUIRED if r not in lines], [], '%s: runs as gwkit, sandboxed' % name)
    t.like(text, r'(?m)^ExecStart=/usr/sbin/%s$' % prog, '%s: starts /usr/sbin/%s' % (name, prog))
    if not analyze:
        t.ok(True, '# skip %s: no systemd-analyze here' % name)
        continue
    d = tempfile.mkdtemp()
    try:
        local = os.path.join(d, name)
        with open(local, 'w') as f:
            f.write(text.replace('/usr/sbin/', os.path.join(t.BIN, '')))
        p = subprocess.run([analyze, 'verify', '--man=no', local], capture_output=True, text=True)
        t.is_((p.returncode, p.stderr.strip()), (0, ''), '%s: systemd-analyze verify is clean' % name)
    finally:
        shutil.rmtree(d)
t.done()
