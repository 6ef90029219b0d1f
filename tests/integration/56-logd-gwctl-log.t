#!/usr/bin/python3
# `gwctl log`: a message or stdin lines to logd through lib/logclient, returning once durable.
import json
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd(fmt='json')
g = t.prog('gwctl')
addr = '127.0.0.1:%d' % d.native_port
rc, out, err = t.run([g, 'log', '--addr', addr, '--app', 'deploy', '--severity', 'warning',
                      'rolled', 'back', 'web-3'])
t.is_((rc, out, err), (0, '', ''), 'gwctl log MESSAGE: exit 0, silent')
recs = [json.loads(l) for l in d.lines()]
t.is_([(r['app'], r['severity'], r['msg'], r['input']) for r in recs],
      [('deploy', 'warning', 'rolled back web-3', 'native')], 'the record is in the file on return')
rc, out, err = t.run([g, 'log'], env={'GWKIT_LOGD_NATIVE_LISTEN': '*:%d' % d.native_port},
                     input='first\r\n\nsecond\n')
t.is_(rc, 0, 'gwctl log from stdin (address from the environment, wildcard host): exit 0')
recs = [json.loads(l) for l in d.lines()]
t.is_([(r['app'], r['severity'], r['msg']) for r in recs[1:]],
      [('gwctl', 'notice', 'first'), ('gwctl', 'notice', 'second')],
      'one record per non-empty line, default app and severity')
rc, out, err = t.run([g, 'log', '--severity', 'loud', 'x'])
t.is_(rc, 2, 'a bad severity is a usage error')
rc, out, err = t.run([g, '--timeout', '500ms', 'log', '--addr', '127.0.0.1:1', 'nobody listens'])
t.is_(rc, 3, 'logd not reachable: exit 3')
t.like(err, r'^gwctl: log to logd at 127.0.0.1:1: .*Connection refused', 'and says why')
t.done()
