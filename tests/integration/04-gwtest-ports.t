#!/usr/bin/python3
# The test helper itself: a daemon's listeners are named ports given as {name: variable}, each on
# its own free loopback port, and GW_TEST_<PROG>_<KEY> reaches every daemon of that program; no
# program is a special case, so wsgwd and logd start the same way hbd does.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
t.is_(sorted(d.ports), ['http', 'listen'], "default ports: 'listen' and 'http'")
t.ok(d.port == d.ports['listen'] and d.http_port == d.ports['http'], 'd.port and d.http_port are those')
t.is_(t.line_request(d.port, 'PING'), 'PONG', 'the listen port answers')
d.stop()

os.environ['GW_TEST_HBD_MAX_CLIENTS'] = '7'
d = t.Daemon('hbd', ports={'beats': 'GWKIT_HBD_LISTEN', 'web': 'GWKIT_HBD_HTTP_LISTEN'},
             workers=1)
del os.environ['GW_TEST_HBD_MAX_CLIENTS']
t.is_(sorted(d.ports), ['beats', 'web'], 'named ports as given')
t.ok(d.ports['beats'] != d.ports['web'], 'each on its own port')
t.is_(d.port, None, "no 'listen' port: d.port is None")
t.is_(t.line_request(d.ports['beats'], 'PING'), 'PONG', 'the port named beats answers')
code, _, body = d.http('/healthz', port='web')
t.is_(code, 200, 'the port named web serves HTTP')
cfg = d.result('config')['config']['hbd']
t.is_((cfg['listen'], cfg['http_listen']),
      ('127.0.0.1:%d' % d.ports['beats'], '127.0.0.1:%d' % d.ports['web']),
      'each variable set to 127.0.0.1:PORT')
t.is_(cfg['workers'], 1, 'workers as given')
t.is_(cfg['max_clients'], 7, 'GW_TEST_HBD_MAX_CLIENTS became GWKIT_HBD_MAX_CLIENTS')
t.is_(d.stop(), 0, 'hbd exits 0')
t.done()
