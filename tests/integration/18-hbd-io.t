#!/usr/bin/python3
# [hbd] io: io_uring where the kernel lets hbd use it, epoll otherwise; "uring" insists and
# fails clearly where it cannot; the choice shows in the log and in `status`. A seccomp filter
# (tests/tools/no_io_uring.py) plays the machine without io_uring.
import ctypes
import os
import re
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

NO_URING = os.path.join(t.ROOT, 'tests', 'tools', 'no_io_uring.py')


def uring_works():
    """What hbd needs, asked of the kernel directly: a single-issuer ring with deferred task
    work (Linux 6.1), which brings multishot receive and buffer rings with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)
    ctypes.c_uint32.from_buffer(params, 8).value = (1 << 12) | (1 << 13)
    fd = libc.syscall(425, 8, params)
    if fd < 0:
        return False
    os.close(fd)
    return True


have = uring_works()
t.diag('io_uring usable here: %s' % have)

# auto: the kernel decides.
d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'auto'})
st = d.result('status')
t.is_(st['io'], 'io_uring' if have else 'epoll', 'auto picks io_uring exactly when it works')
t.like(d.logtext(), r'msg="listening" .* io=%s' % ('io_uring' if have else 'epoll'),
       'the backend is in the "listening" log line')
c = t.LineClient(d.port)
t.is_(c.request('PING'), 'PONG', 'auto: PING')
t.is_(c.request('HB io-auto'), 'OK 1', 'auto: HB')
t.is_(d.stop(), 0, 'auto: exit 0')

# epoll on request.
d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'epoll'})
t.is_(d.result('status')['io'], 'epoll', 'io = epoll is honoured')
t.is_(t.line_request(d.port, 'PING'), 'PONG', 'epoll: PING')
t.is_(d.stop(), 0, 'epoll: exit 0')

# Reload with another backend: noted, takes effect at restart.
d = t.Daemon('hbd', conf='[hbd]\nio = epoll\n')
with open(d.conf, 'w') as f:
    f.write('[hbd]\nio = auto\n')
d.result('reload')
t.like(d.logtext(), r'setting changes at restart only.* key=io', 'reload: io changes at restart')
t.is_(d.result('status')['io'], 'epoll', 'reload: backend unchanged')
t.is_(d.stop(), 0, 'reload: exit 0')

# Without io_uring (seccomp): auto falls back and says why; uring refuses to start.
os.environ['GW_WRAP'] = '/usr/bin/python3 ' + NO_URING
d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'auto'})
t.is_(d.result('status')['io'], 'epoll', 'no io_uring: auto falls back to epoll')
t.like(d.logtext(), r'msg="io_uring cannot be used here, using epoll" reason="io_uring_setup: '
       r'Function not implemented"', 'no io_uring: the fallback and its reason are logged')
c = t.LineClient(d.port)
t.is_(c.request('PING'), 'PONG', 'no io_uring: PING')
t.is_(c.request('QUIT'), 'BYE', 'no io_uring: QUIT')
t.is_(d.stop(), 0, 'no io_uring: exit 0')

d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'uring'}, start=False)
rc, out, err = t.run(d.wrap + [t.prog('hbd')] + d.args, env=d.env)
t.is_(rc, 1, 'no io_uring: io = uring exits 1')
t.like(out + err, r'level=error .*msg="io_uring cannot be used here \(set \[hbd\] io = auto or '
       r'epoll\)" err="io_uring_setup: Function not implemented"', 'no io_uring: the error says why and what to set')
del os.environ['GW_WRAP']

# The probe's small ring works but a worker's does not (a memory limit, say): with auto each
# worker falls back on its own and says so; with uring hbd does not start.
if have:
    os.environ['GW_WRAP'] = '/usr/bin/python3 %s --big' % NO_URING
    d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'auto'})
    t.is_(d.result('status')['io'], 'epoll', 'worker ring refused: auto serves on epoll')
    t.is_(len(re.findall(r'msg="io_uring failed on this worker, using epoll" worker=\d '
                         r'err="io_uring_setup: Cannot allocate memory"', d.logtext())), 2,
          'worker ring refused: each of the 2 workers logs its fallback and why')
    t.like(d.logtext(), r'msg="listening" .* io=epoll', 'the "listening" line names what runs')
    t.is_(t.line_request(d.port, 'PING'), 'PONG', 'worker ring refused: PING')
    t.is_(d.stop(), 0, 'worker ring refused: exit 0')
    d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'uring'}, start=False)
    rc, out, err = t.run(d.wrap + [t.prog('hbd')] + d.args, env=d.env)
    t.is_(rc, 1, 'worker ring refused: io = uring exits 1')
    t.like(out + err, r'msg="cannot start worker" worker=0 .*err="io_uring: io_uring_setup: '
           r'Cannot allocate memory"', 'worker ring refused: io = uring says which worker and why')
    del os.environ['GW_WRAP']
else:
    t.ok(True, '# SKIP io_uring is not usable on this machine: no ring to refuse')

# io = uring where it works.
if have:
    d = t.Daemon('hbd', env={'GWKIT_HBD_IO': 'uring'})
    t.is_(d.result('status')['io'], 'io_uring', 'io = uring is honoured')
    t.is_(t.line_request(d.port, 'PING'), 'PONG', 'uring: PING')
    t.is_(d.stop(), 0, 'uring: exit 0')
else:
    t.ok(True, '# SKIP io_uring is not usable on this machine: io = uring covered by the refusal above')

# A bad value is a configuration error.
rc, out, err = t.run([t.prog('hbd'), '-n'], env={'GWKIT_HBD_IO': 'select'})
t.is_(rc, 1, 'io = select: configuration refused')
t.like(out + err, r'io.*select', 'the error names the key and the value')
t.done()
