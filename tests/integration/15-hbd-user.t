#!/usr/bin/python3
# [global] user: hbd started as root becomes that user (keeping only the right to bind ports
# below 1024), with run_dir, state_dir and the database made the user's; as root without it,
# a warning; an unknown user is a clear error, exit 1.
import os
import pwd
import random
import socket
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

if os.geteuid() != 0:
    t.skip_all('needs root (the drop is from root)')
try:
    nobody = pwd.getpwnam('nobody')
except KeyError:
    t.skip_all('no user "nobody" here')


def low_port():
    for _ in range(50):
        p = random.randint(600, 1000)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind(('127.0.0.1', p))
                s.close()
            return p
        except OSError:
            continue
    return None


port = low_port()
if port is None:
    t.skip_all('no free port below 1024')
d = t.Daemon('hbd', env={'GWKIT_GLOBAL_USER': 'nobody', 'GWKIT_HBD_LISTEN': '127.0.0.1:%d' % port},
             start=False)
os.chmod(d.dir, 0o755)  # the user must reach run_dir and state_dir inside it
d.ports["listen"] = port
d.start()
with open('/proc/%d/status' % d.pid) as f:
    status = f.read()
uid = [l.split()[1:] for l in status.splitlines() if l.startswith('Uid:')][0]
t.is_(uid, [str(nobody.pw_uid)] * 4, 'hbd runs as nobody (real, effective, saved, fs uid)')
cap = [l.split()[1] for l in status.splitlines() if l.startswith('CapEff:')][0]
t.is_(int(cap, 16), 1 << 10, 'only CAP_NET_BIND_SERVICE is kept')
t.is_(t.line_request(port, 'PING'), 'PONG', 'the port below 1024 answers')
t.is_(os.stat(d.sock).st_uid, nobody.pw_uid, 'the control socket is the user\'s')
t.ok(t.wait_for(lambda: os.path.exists(d.db)), 'database created')
t.is_(os.stat(d.db).st_uid, nobody.pw_uid, 'the database is the user\'s')
t.is_(d.ctl('ping')['ok'], True, 'root still uses the control socket')
t.like(d.logtext(), r'msg="running as user" user=nobody uid=%d' % nobody.pw_uid, 'logged')
t.is_(d.stop(), 0, 'exits 0')

d = t.Daemon('hbd')
t.like(d.logtext(), r'level=warning .*msg="running as root; set \[global\] user',
       'as root without [global] user: a warning')
d.stop()

d = t.Daemon('hbd', env={'GWKIT_GLOBAL_USER': 'no-such-user-gw'}, start=False)
rc, out, err = t.run([os.path.join(t.BIN, 'hbd')], env=d.env)
t.is_(rc, 1, 'an unknown user: exit 1')
t.like(err, r'msg="no such user \(\[global\] user\)" user=no-such-user-gw', 'and says so')
t.done()
