#!/usr/bin/python3
# ERR line too long ends as the connection's previous request did (replies end as requests do),
# CRLF when there was none before it.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_MAX_LINE': '1k'})
long_line = b'HB ' + b'x' * 2000

c = t.LineClient(d.port)
c.send(b'PING\n')
t.is_(c.raw_line(), b'PONG\n', 'a request ending in LF gets LF')
c.send(long_line + b'\n')
t.is_(c.raw_line(), b'ERR line too long\n', 'after an LF request: ERR line too long ends in LF')
t.ok(c.closed(), 'then the connection closes')

c = t.LineClient(d.port)
c.send(b'PING\r\n')
t.is_(c.raw_line(), b'PONG\r\n', 'a request ending in CRLF gets CRLF')
c.send(long_line + b'\r\n')
t.is_(c.raw_line(), b'ERR line too long\r\n', 'after a CRLF request: CRLF')

c = t.LineClient(d.port)
c.send(b'PING\nPING\r\nPING\n' + long_line)
t.is_([c.raw_line() for _ in range(4)], [b'PONG\n', b'PONG\r\n', b'PONG\n', b'ERR line too long\n'],
      'in one batch: the last request before it decides')

c = t.LineClient(d.port)
c.send(long_line + b'\n')
t.is_(c.raw_line(), b'ERR line too long\r\n', 'with no request before it: CRLF')
t.is_(t.line_request(d.port, 'PING me'), 'ERR wrong number of arguments', 'a command with extra arguments')
t.is_(d.metric('hbd_errors_total', {'kind': 'line_too_long'}), 4.0, 'each counted, and only those as line_too_long')
t.is_(d.metric('hbd_errors_total', {'kind': 'bad_request'}), 1.0,
      'wrong number of arguments counts as bad_request (it used to count as line_too_long)')
t.done()
