#!/usr/bin/python3
# The test page at / of the WebSocket port (test_page = yes), in headless Chromium: it
# connects back through wsgwd to the backend, sends what is typed and shows the echo; the DOM
# is read both over the DevTools protocol and with --dump-dom.
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import gwchrome
import wsutil as u
from framebackend import FrameBackend

if not gwchrome.available():
    t.skip_all('chromium not installed (share/deps.sh)')

b = FrameBackend()
d = t.Daemon('wsgwd', conf='[wsgwd]\ntest_page = yes\n[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')
st, hdrs, body, s = u.request(d.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
s.close()
t.is_((st, hdrs.get('content-type')), (200, 'text/html; charset=utf-8'), 'GET / serves the page')

base = 'http://127.0.0.1:%d/' % d.port
with gwchrome.Browser() as br:
    br.navigate(base + '?path=/ws/echo')
    t.ok(br.wait_for('document.getElementById("status").textContent === "open"'),
         'the page connects through the gateway')
    br.eval('document.getElementById("msg").value = "hello from chromium"')
    br.eval('document.getElementById("send").click()')
    t.ok(br.wait_for('document.getElementById("log").textContent.includes("< hello from chromium")'),
         'what is typed comes back from the backend')
    t.ok(any(o['path'] == '/ws/echo' for o in b.opens), 'the backend saw the page\'s client open')

p = subprocess.run([gwchrome.CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
                    '--virtual-time-budget=5000', '--dump-dom', base + '?send=dumped'],
                   capture_output=True, text=True, timeout=60)
t.like(p.stdout, '&lt; dumped', '--dump-dom: the echo is in the DOM')
t.done()
