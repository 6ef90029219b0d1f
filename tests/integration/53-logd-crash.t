#!/usr/bin/python3
# kill -9 of logd while a native client streams: every batch acknowledged before the kill is in
# the file after a restart, whole and once, under each fsync policy in turn -- 20 times
# (tests/soak/logd-crash.sh runs it 100 times).
import os
import random
import re
import signal
import socket
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

ROUNDS = int(os.environ.get('GW_LOGD_CRASH_ROUNDS', '20'))
PER_BATCH = 20
POLICIES = ('batch', 'always', 'never')

# A small queue, so the stream also meets backpressure (a paused connection, a waiting batch).
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch', 'GWKIT_LOGD_QUEUE_SIZE': '64k'})
seq = 0
missing_total = 0
acked_total = 0
for rnd in range(ROUNDS):
    c = lt.Native(d.native_port, session=1000 + rnd)
    acked, th = lt.ack_reader(c)
    first = seq + 1
    def kill_soon():
        # Some acknowledgements first, then a kill at a random point of the stream.
        t.wait_for(lambda: acked[0] >= first, 10)
        threading.Event().wait(random.uniform(0, 0.05))
        d.signal(signal.SIGKILL)
    killer = threading.Thread(target=kill_soon)
    killer.start()
    try:
        while True:
            seq += 1
            c.batch(seq, ['r%d s%d i%d' % (rnd, seq, i) for i in range(PER_BATCH)])
    except OSError:
        pass
    killer.join()
    d.proc.wait()
    th.join()
    c.close()
    # Each restart under the next fsync policy: an ACK means written under every one of them
    # (a kill -9 loses nothing the kernel has; only `never` leaves a power cut to chance).
    d.env['GWKIT_LOGD_FSYNC'] = POLICIES[(rnd + 1) % len(POLICIES)]
    d.start()
    lines = set(d.lines())
    want = [('r%d s%d i%d' % (rnd, s, i)).encode() for s in range(first, acked[0] + 1)
            for i in range(PER_BATCH)]
    missing = [w for w in want if w not in lines]
    missing_total += len(missing)
    acked_total += acked[0] - first + 1
    if missing:
        t.diag('round %d: %d acknowledged lines missing, e.g. %r' % (rnd, len(missing), missing[:3]))
t.is_(missing_total, 0, 'every acknowledged line survived %d kill -9 (%d batches acknowledged)'
      % (ROUNDS, acked_total))
t.ok(acked_total > ROUNDS, 'the clients got acknowledgements before the kills')
lines = d.lines()
torn = [l for l in lines if not re.match(rb'^r\d+ s\d+ i\d+$', l)]
t.is_(torn[:3], [], 'no torn or partial line in the file')
t.is_(len(lines), len(set(lines)), 'no line written twice')
t.is_(d.stop(), 0, 'the last restart exits 0 on SIGTERM')
t.done()
