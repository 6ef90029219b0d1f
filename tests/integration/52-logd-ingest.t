#!/usr/bin/python3
# POST /ingest with curl: 200 only once durable, 400 naming the first bad line (nothing kept),
# 413 over max_ingest, 503 when the queue is full.
import json
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd(fmt='json', env={'GWKIT_LOGD_MAX_INGEST': '4k'})
code, body = d.ingest('{"msg":"first","app":"web","severity":"warning"}\n\n'
                      '{"msg":"second","time":"2026-12-06T10:00:00.5+01:00","facility":"local0"}\n')
t.is_((code, json.loads(body)), (200, {'accepted': 2}), '200 with the count of lines')
recs = [json.loads(l) for l in d.lines()]
t.is_(len(recs), 2, 'both lines are in the file when the 200 comes')
t.is_((recs[0]['msg'], recs[0]['app'], recs[0]['severity'], recs[0]['input']),
      ('first', 'web', 'warning', 'http'), 'fields of an ingested line')
t.is_((recs[1]['time'], recs[1]['facility']), ('2026-12-06T09:00:00.500Z', 'local0'),
      'time with an offset and a facility by name')

for bad, line, why in [('{"msg":"ok"}\nnot json\n{"msg":"x"}', 2, 'not JSON'),
                       ('{"msg":"ok"}\n{"app":"no msg"}', 2, '"msg" (a string) is missing'),
                       ('[1,2]', 1, 'not a JSON object'),
                       ('{"msg":"x","severity":"loud"}', 1, '"severity" is not a syslog severity'),
                       ('{"msg":"x","time":"yesterday"}', 1, '"time" is neither')]:
    code, body = d.ingest(bad)
    doc = json.loads(body) if body.startswith('{') else {}
    t.is_((code, doc.get('line')), (400, line), '400 names line %d: %s' % (line, why))
    t.ok(doc.get('error', '').startswith(why), 'the error says why: ' + doc.get('error', ''))
t.is_(len(d.lines()), 2, 'nothing of a refused body was written')

code, body = d.ingest('{"msg":"%s"}' % ('x' * 5000))
t.is_(code, 413, 'a body over max_ingest gets 413')
code, body = d.ingest('')
t.is_((code, json.loads(body)), (200, {'accepted': 0}), 'an empty body is accepted, nothing written')
t.is_(d.metric('logd_ingest_requests_total', {'code': '400'}), 5.0, 'refusals counted by code')

# A queue too small to take a body: 503 (the budget is per lane; an empty lane always takes
# one batch, so fill it from a blocked writer: a read-only output directory).
ro = lt.Logd(env={'GWKIT_LOGD_QUEUE_SIZE': '64k', 'GWKIT_LOGD_INGEST_TIMEOUT': '300ms'},
             output='/proc/logd-cannot-write-here.log')
code, body = ro.ingest('{"msg":"never durable"}')
t.is_(code, 503, 'lines that cannot be made durable in time: 503')
big = '\n'.join('{"msg":"%s"}' % ('y' * 1000) for _ in range(100))
code, body = ro.ingest(big)
t.is_(code, 503, 'a full queue: 503')
t.like(body, 'queue full|not durable', '503 says why: ' + body)
t.done()
