"""gwchrome.py -- headless Chromium driven over the DevTools protocol, for tests of the pages
the daemons serve (the stats page, wsgwd's test page).

    import gwchrome
    with gwchrome.Browser() as b:
        b.navigate('http://127.0.0.1:9091/')
        rows = b.eval('document.querySelectorAll("tr").length')
        b.screenshot('/tmp/x/page.png')

Chromium (Debian's `chromium`) runs with a fresh profile in a temp dir, no network of its own
(--disable-background-networking and friends), --no-sandbox when root, and is killed by PID at
the end. Needs /usr/bin/python3's websockets module (Debian python3-websockets).
"""

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websockets

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'


def available():
    return os.path.exists(CHROMIUM)


class Browser:
    def __init__(self, width=1000, height=800):
        self.dir = tempfile.mkdtemp(prefix='gwchrome-')
        args = [CHROMIUM, '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--disable-extensions', '--mute-audio',
                '--window-size=%d,%d' % (width, height), '--remote-debugging-port=0',
                '--user-data-dir=' + self.dir, 'about:blank']
        if os.geteuid() == 0:
            args.insert(1, '--no-sandbox')
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.ws = None
        self.next_id = 0
        port = self._devtools_port()
        targets = json.loads(urllib.request.urlopen('http://127.0.0.1:%d/json/list' % port,
                                                    timeout=10).read())
        page = [t for t in targets if t.get('type') == 'page'][0]
        self.ws = self.loop.run_until_complete(
            websockets.connect(page['webSocketDebuggerUrl'], max_size=64 << 20))

    def _devtools_port(self, timeout=20.0):
        path = os.path.join(self.dir, 'DevToolsActivePort')
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError('chromium exited with %s' % self.proc.returncode)
            try:
                with open(path) as f:
                    line = f.readline().strip()
                if line:
                    return int(line)
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError('chromium did not open its DevTools port')

    def call(self, method, params=None, timeout=20.0):
        self.next_id += 1
        mid = self.next_id

        async def go():
            await self.ws.send(json.dumps({'id': mid, 'method': method, 'params': params or {}}))
            while True:
                msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
                if msg.get('id') == mid:
                    return msg
        msg = self.loop.run_until_complete(go())
        if 'error' in msg:
            raise RuntimeError('%s: %s' % (method, msg['error']))
        return msg.get('result', {})

    def navigate(self, url):
        self.call('Page.enable')
        self.call('Page.navigate', {'url': url})
        self.wait_for('document.readyState === "complete"')

    def eval(self, expr):
        r = self.call('Runtime.evaluate', {'expression': expr, 'returnByValue': True,
                                           'awaitPromise': True})
        if 'exceptionDetails' in r:
            raise RuntimeError('%s: %s' % (expr, r['exceptionDetails']))
        return r.get('result', {}).get('value')

    def wait_for(self, expr, timeout=10.0, interval=0.1):
        """Polls expr until it is truthy; returns its value, or None at the deadline."""
        end = time.time() + timeout
        while time.time() < end:
            v = self.eval(expr)
            if v:
                return v
            time.sleep(interval)
        return None

    def screenshot(self, path):
        data = self.call('Page.captureScreenshot', {'format': 'png'})['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            if self.ws is not None:
                self.loop.run_until_complete(self.ws.close())
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
