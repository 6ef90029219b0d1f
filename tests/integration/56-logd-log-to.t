#!/usr/bin/python3
# [global] log_to = logd: another daemon's log lines reach logd's Unix socket as RFC 5424.
import json
import os
import signal
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd(fmt='json')
h = t.Daemon('hbd', env={'GWKIT_GLOBAL_LOG_TO': 'logd'}, start=False)
# hbd shares logd's run_dir, where the socket logd.dgram is.
h.run_dir = h.env['GWKIT_GLOBAL_RUN_DIR'] = d.run_dir
h.sock = os.path.join(d.run_dir, 'hbd.sock')
h.start()


def from_hbd():
    return [r for r in (json.loads(l) for l in d.lines()) if r.get('app') == 'hbd']


t.ok(t.wait_for(lambda: any('msg="started"' in r.get('msg', '') for r in from_hbd())),
     "hbd's 'started' line reached logd")
r = next(r for r in from_hbd() if 'msg="started"' in r['msg'])
t.is_((r['input'], r['facility'], r['severity'], r['procid']), ('unix', 'daemon', 'info', str(h.pid)),
      'as RFC 5424 over the Unix socket: facility daemon, severity from the level, pid')
t.like(h.logtext(), r'msg="started"', 'the line still went to stderr')
h.signal(signal.SIGHUP)
t.ok(t.wait_for(lambda: any('config reloaded' in x.get('msg', '') for x in from_hbd())),
     'lines after a reload are shipped too')
t.is_(h.stop(), 0, 'hbd exits 0')
d2 = t.Daemon('hbd', env={'GWKIT_GLOBAL_LOG_TO': 'logd'})
t.ok(d2.alive(), 'with no logd listening, a daemon with log_to = logd runs anyway')
t.done()
