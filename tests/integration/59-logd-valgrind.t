#!/usr/bin/python3
# logd under valgrind: every input (syslog UDP, TCP, Unix, native with acks and a bad frame,
# /ingest), tail, flush, reload and drain, then no error and no definite leak.
import json
import os
import shutil
import socket
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

if not shutil.which('valgrind'):
    t.skip_all('valgrind not installed')
if os.environ.get('GW_SANITIZED'):
    t.skip_all('sanitizer build: valgrind does not mix with it')

vlog = os.path.join(t.tmpdir(), 'valgrind.log')
os.environ['GW_WRAP'] = ('valgrind --leak-check=full --errors-for-leak-kinds=definite '
                         '--error-exitcode=99 --log-file=%s' % vlog)
# epoll: valgrind does not know io_uring_enter's semantics (see 19-hbd-valgrind.t).
d = lt.Logd(fmt='json', env={'GWKIT_LOGD_IO': 'epoll', 'GWKIT_LOGD_MAX_LINE': '1k'})
c = t.LineClient(d.syslog_port, timeout=20)
c.send(b'<13>1 2026-12-06T10:00:00Z h app - - - tcp line\n5 <13>x\nbad \xff\x00 bytes\n' +
       b'<13>' + b'L' * 5000 + b'\n')
t.udp_request(d.syslog_port, b'<13>udp line', expect_reply=False)
t.run(['logger', '-u', d.dgram, 'unix line'])
n = lt.Native(d.native_port, session=3, timeout=20)
n.batch(1, ['native one', 'native two'], app='nat')
t.is_(n.acks_until(1), 1, 'native batch acknowledged under valgrind')
b = lt.Native(d.native_port, session=4, timeout=20)
b.send(lt.frame(lt.BATCH, seq=1, count=1, payload=lt.record('x'), crc=9))
t.is_((b.read_frame() or (0,))[0], lt.ERROR, 'bad frame refused under valgrind')
code, body = d.ingest('{"msg":"over http","app":"web"}\nnot json\n', timeout=30)
t.is_(code, 400, '/ingest refusal under valgrind')
code, body = d.ingest('{"msg":"over http","app":"web"}', timeout=30)
t.is_(code, 200, '/ingest under valgrind')
t.ok(t.wait_for(lambda: len(d.lines()) >= 9, 20), 'every input written')
t.ok(d.ctl('flush', timeout=30)['ok'], 'flush')
t.ok(len(d.result('tail', {'lines': 5})['records']) == 5, 'tail')
t.ok(d.ctl('reload', timeout=30)['ok'], 'reload')
t.is_(d.http('/metrics', timeout=30)[0], 200, 'metrics scrape')
c.close()
n.close()
t.is_(d.stop(timeout=60), 0, 'logd exits 0 under valgrind (no errors, no definite leaks)')
if os.path.exists(vlog):
    with open(vlog) as f:
        text = f.read()
    t.ok('ERROR SUMMARY: 0 errors' in text, 'valgrind: 0 errors (%s)' % text.count('definitely lost'))
    if 'ERROR SUMMARY: 0 errors' not in text:
        t.diag(text[-4000:])
t.done()
