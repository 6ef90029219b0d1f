#!/usr/bin/python3
# A control socket that answers well-formed JSON lines of the wrong shape (a result that is an
# array, a string or a number; a services stream whose items are not objects) is a bad reply:
# exit 3 with the documented message, UNKNOWN for health-check. gwctl printed such replies as
# empty fields ("hbd , pid 0, up -", "no services", "configuration reloaded") with exit 0.
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
d = t.tmpdir()


def serve(path, make_lines):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)

    def one(c):
        with c:
            buf = b''
            while b'\n' not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
            req = json.loads(buf.split(b'\n')[0])
            for line in make_lines(req['id']):
                c.sendall(json.dumps(line).encode() + b'\n')

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=one, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return path


shapes = {
    'array': lambda i: [{'id': i, 'ok': True, 'result': [1, 2, 3]}],
    'string': lambda i: [{'id': i, 'ok': True, 'result': 'x'}],
    'number': lambda i: [{'id': i, 'ok': True, 'result': 7}],
}
streams = {
    'stream items that are numbers': lambda i: [{'id': i, 'ok': True, 'stream': 1},
                                                {'id': i, 'ok': True, 'result': {}}],
    'a stream that ends with a string': lambda i: [{'id': i, 'ok': True, 'result': 'done'}],
}

for name, fn in list(shapes.items()) + list(streams.items()):
    sock = serve(os.path.join(d, '%d.sock' % len(os.listdir(d))), fn)
    bad = ("gwctl: hbd: bad reply or connection closed on %s; is it a gwkit control socket? see "
           "the daemon's log\n" % sock)
    cmds = [['services'], ['--format', 'json', 'services']]
    if name in shapes:
        cmds += [['status', 'hbd'], ['--format', 'json', 'status', 'hbd'], ['ping', 'hbd'],
                 ['config', 'hbd'], ['clients', 'hbd'], ['reload', 'hbd'], ['log-level', 'hbd']]
    for cmd in cmds:
        rc, out, err = t.run([t.prog('gwctl'), '-s', sock, '--timeout', '5s'] + cmd, env=ENV)
        t.is_((rc, out, err), (3, '', bad), '%s: gwctl %s: bad reply, exit 3' % (name, ' '.join(cmd)))
    if name in shapes:
        rc, out, err = t.run([t.prog('gwctl'), '-s', sock, 'health-check', 'hbd'], env=ENV)
        t.is_((rc, out), (3, 'hbd UNKNOWN - bad reply or connection closed on %s\n' % sock),
              '%s: health-check UNKNOWN, exit 3' % name)

# tail: a connection closed before logd's closing result line (logd killed, or not logd) is a
# bad reply, exit 3, for --follow too, after what came before it; it was exit 0, silently.
rec = {'time': '2026-01-01T00:00:00Z', 'host': 'h', 'app': 'a', 'severity': 'info',
       'message': 'first'}
tails = {
    'closed at once': lambda i: [],
    'closed after one record': lambda i: [{'id': i, 'ok': True, 'stream': rec}],
    'a result that is an array': lambda i: [{'id': i, 'ok': True, 'result': [1]}],
}
for name, fn in tails.items():
    sock = serve(os.path.join(d, '%d.sock' % len(os.listdir(d))), fn)
    bad = ("gwctl: logd: bad reply or connection closed on %s; is it a gwkit control socket? "
           "see the daemon's log\n" % sock)
    for follow in ([], ['--follow']):
        rc, out, err = t.run([t.prog('gwctl'), '-s', sock, '--format', 'json', 'tail'] + follow,
                             env=ENV)
        want_out = json.dumps(rec) if 'one record' in name else ''
        t.is_((rc, err, json.loads(out) if out else ''), (3, bad, json.loads(want_out) if want_out else ''),
              'tail %s: %s: exit 3' % (' '.join(follow), name))
sock = serve(os.path.join(d, '%d.sock' % len(os.listdir(d))),
             lambda i: [{'id': i, 'ok': True, 'stream': rec}, {'id': i, 'ok': True, 'result': {}}])
rc, out, err = t.run([t.prog('gwctl'), '-s', sock, 'tail', '--follow'], env=ENV)
t.is_((rc, err), (0, ''), 'tail --follow: logd ending the stream with its result line: exit 0')
t.done()
