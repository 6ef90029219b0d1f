#!/usr/bin/python3
# hbd's stats page in headless Chromium: services coloured by state, dead first, values
# escaped, and the page redraws itself from /status when a state changes, without reloading.
import os
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import gwchrome

if not gwchrome.available():
    t.skip_all('chromium is not installed (share/deps.sh installs it)')

d = t.Daemon('hbd')
beater = t.LineClient(d.port)
beater.request('HB api interval=10s team=core')
t.line_request(d.port, 'HB gone interval=100ms')
t.line_request(d.port, 'HB flip interval=3s')
t.line_request(d.port, 'HB esc interval=10s note=<b>bold</b>')
t.ok(t.wait_for(lambda: d.result('services', {'state': 'dead'})['services']), 'gone is dead')

ROWS = ('[...document.querySelectorAll("#gw-main table.list")[0].tBodies[0].rows].map('
        'r => [r.cells[0].textContent, r.cells[1].textContent, r.className, '
        'getComputedStyle(r.cells[0]).backgroundColor, r.cells[6].textContent])')

with gwchrome.Browser() as b:
    b.navigate('http://127.0.0.1:%d/' % d.http_port)
    rows = b.eval(ROWS)
    t.diag('rows: %r' % rows)
    by = {r[0]: r for r in rows}
    states = [r[1] for r in rows]
    t.is_(states, sorted(states, key=lambda s: ['dead', 'late', 'new', 'up'].index(s)),
          'dead services are listed first, then late, then up')
    t.is_(by['flip'][1], 'up', 'flip is up at first')
    t.is_((by['gone'][1], by['gone'][2], by['gone'][3]), ('dead', 'st-bad', 'rgb(255, 179, 179)'),
          'dead is shown in red')
    t.is_((by['api'][1], by['api'][2], by['api'][3]), ('up', 'st-ok', 'rgb(214, 245, 214)'),
          'up is shown in green')
    t.is_(by['api'][4], 'team=core', 'labels shown')
    t.is_(by['esc'][4], 'note=<b>bold</b>', 'a label with markup shows as text')
    t.is_(b.eval('document.querySelectorAll("#gw-main b").length'), 0, 'and makes no element')
    t.is_(b.eval('document.getElementById("gw-ready").textContent'), 'ready', 'ready shown')
    b.eval('window.gwMarker = 42')
    # flip goes silent: late after 4.5 s, dead after 9 s; api keeps beating.
    for _ in range(40):
        beater.request('HB api interval=10s team=core')
        time.sleep(0.5)
        if any(r[0] == 'flip' and r[1] == 'dead' for r in b.eval(ROWS)):
            break
    rows = b.eval(ROWS)
    by = {r[0]: r for r in rows}
    t.is_((by['flip'][1], by['flip'][2]), ('dead', 'st-bad'),
          'the page shows the state change by itself')
    t.is_(b.eval('window.gwMarker'), 42, 'without reloading')
    t.like(b.eval('document.getElementById("gw-updated").textContent'), r'^updated ',
           'the time of the last update is shown')
    png = b.screenshot(os.path.join(d.dir, 'page.png'))
    t.ok(os.path.getsize(png) > 1000, 'screenshot kept at %s' % png)
    # Readable on a phone: nothing wider than the screen but the scrolling table box.
    b.call('Emulation.setDeviceMetricsOverride', {'width': 380, 'height': 700,
                                                   'deviceScaleFactor': 1, 'mobile': True})
    t.ok(b.eval('document.documentElement.scrollWidth <= 400'), 'fits a phone width')
beater.close()
t.done()
