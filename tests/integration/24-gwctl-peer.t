#!/usr/bin/python3
# gwctl as another user: refused by the socket's mode, then by the daemon's peer check
# (SO_PEERCRED), with the documented message and exit code; accepted through ctl_group.
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

if os.geteuid() != 0:
    t.skip_all('needs root to run gwctl as nobody')
if not shutil.which('setpriv'):
    t.skip_all('setpriv not installed')

ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
d = t.Daemon('hbd')

# nobody needs to reach the binary and the run dir: copy gwctl beside the daemon's files.
gwctl_copy = os.path.join(d.dir, 'gwctl')
shutil.copy(t.prog('gwctl'), gwctl_copy)
for p in (d.dir, d.run_dir, gwctl_copy):
    os.chmod(p, 0o755)


def as_nobody(*args):
    cmd = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', gwctl_copy,
           '--run-dir', d.run_dir] + list(args)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


DENIED = ("gwctl: hbd: permission denied on %s; run gwctl as root, as the daemon's user or as a "
          "member of its ctl_group\n" % d.sock)

mode = stat.S_IMODE(os.stat(d.sock).st_mode)
t.is_(oct(mode), oct(0o660), 'the control socket is mode 0660')
t.is_(as_nobody('status', 'hbd'), (3, '', DENIED), 'refused by the socket mode: exit 3, message')

# Reachable through the file mode: the daemon's own SO_PEERCRED check refuses.
os.chmod(d.sock, 0o666)
t.is_(as_nobody('status', 'hbd'), (3, '', DENIED), 'refused by the peer check: exit 3, message')
rc, out, err = as_nobody('health-check', 'hbd')
t.is_((rc, out), (3, 'hbd UNKNOWN - permission denied on %s\n' % d.sock), 'health-check: UNKNOWN')
t.is_(d.result('ping'), {'pong': True}, 'the daemon still serves root')
d.stop()

# A member of ctl_group is let in.
g = t.Daemon('hbd', env={'GWKIT_GLOBAL_CTL_GROUP': 'nogroup'})
for p in (g.dir, g.run_dir):
    os.chmod(p, 0o755)
shutil.copy(t.prog('gwctl'), os.path.join(g.dir, 'gwctl'))
os.chmod(os.path.join(g.dir, 'gwctl'), 0o755)
p = subprocess.run(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
                    os.path.join(g.dir, 'gwctl'), '--run-dir', g.run_dir, 'ping', 'hbd'],
                   env=ENV, capture_output=True, text=True, timeout=20)
t.is_((p.returncode, p.stdout), (0, 'hbd: pong\n'), 'ctl_group member: accepted')

t.done()
