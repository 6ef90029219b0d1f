#!/usr/bin/python3
# Rotation racing the batch commits: with a small rotate_size, zstd of rotated files and every
# rotated file kept, a native client streams while logd rotates many times, and logd is killed
# (kill -9) at random points -- mid-rotation, mid-compression. After each restart every
# acknowledged line is in exactly one place: the live file, a rotated file, or a rotated file's
# zstd copy (never both, never torn). Rotation by time (rotate_interval) too.
import os
import random
import re
import signal
import subprocess
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

ROUNDS = int(os.environ.get('GW_LOGD_CRASH_ROUNDS', '8'))
PER_BATCH = 20
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch', 'GWKIT_LOGD_ROTATE_SIZE': '16k',
                 'GWKIT_LOGD_RETENTION': '0', 'GWKIT_LOGD_COMPRESS': 'yes'})
outdir = os.path.dirname(d.out)
base = os.path.basename(d.out)


def all_lines():
    """Every line of the live file and of the rotated ones (zstd ones decompressed), and the
    names of the files that were not read (temporaries)."""
    out, other = [], []
    for f in sorted(os.listdir(outdir)):
        p = os.path.join(outdir, f)
        if f == base or (f.startswith(base + '.') and not f.endswith(('.zst', '.tmp'))):
            out += d.lines(p)
        elif f.startswith(base + '.') and f.endswith('.zst'):
            data = subprocess.run(['zstd', '-q', '-d', '-c', p], stdout=subprocess.PIPE).stdout
            out += data.split(b'\n')[:-1]
        else:
            other.append(f)
    return out, other


seq = 0
missing_total = acked_total = 0
for rnd in range(ROUNDS):
    c = lt.Native(d.native_port, session=5000 + rnd)
    acked, th = lt.ack_reader(c)
    first = seq + 1

    def kill_soon():
        # Several rotations' worth acknowledged first (16k each), then a kill at random.
        t.wait_for(lambda: acked[0] >= first + 40, 15)
        threading.Event().wait(random.uniform(0, 0.05))
        d.signal(signal.SIGKILL)
    killer = threading.Thread(target=kill_soon)
    killer.start()
    try:
        while True:
            seq += 1
            c.batch(seq, ['r%d s%d i%d %s' % (rnd, seq, i, 'p' * 40) for i in range(PER_BATCH)])
    except OSError:
        pass
    killer.join()
    d.proc.wait()
    th.join()
    c.close()
    d.start()
    lines = set(all_lines()[0])
    want = [('r%d s%d i%d %s' % (rnd, s, i, 'p' * 40)).encode()
            for s in range(first, acked[0] + 1) for i in range(PER_BATCH)]
    missing = [w for w in want if w not in lines]
    missing_total += len(missing)
    acked_total += acked[0] - first + 1
    if missing:
        t.diag('round %d: %d acknowledged lines missing, e.g. %r' % (rnd, len(missing), missing[:2]))
t.is_(missing_total, 0, 'every acknowledged line survived %d kill -9 amid rotations (%d batches)'
      % (ROUNDS, acked_total))
# Compression catches up after the last restart, at the first write to the path (lib/logfile.h:
# leftovers of a kill are found at the first use of a path); then read everything once more.
c = lt.Native(d.native_port, session=6000)
seq += 1
c.batch(seq, ['r%d s%d i%d %s' % (ROUNDS, seq, i, 'p' * 40) for i in range(PER_BATCH)])
t.is_(c.ack(), seq, 'a batch after the last restart is acknowledged')
c.close()
t.ok(t.wait_for(lambda: not [f for f in os.listdir(outdir) if f.startswith(base + '.') and
                             not f.endswith(".zst")], 15),
     'rotated files left uncompressed by a kill are compressed after the restart: %s' %
     [f for f in os.listdir(outdir) if not f.endswith('.zst')])
lines, other = all_lines()
t.ok(len([f for f in os.listdir(outdir) if f.endswith('.zst')]) > ROUNDS,
     'logd rotated many times (%d zstd files)' % len(os.listdir(outdir)))
t.is_(other, [], 'no temporary file left behind')
torn = [l for l in lines if not re.match(rb'^r\d+ s\d+ i\d+ p{40}$', l)]
t.is_(torn[:3], [], 'no torn or partial line in any file')
t.is_(len(lines), len(set(lines)), 'no line in two files, none written twice')
t.is_(d.stop(), 0, 'the last restart exits 0 on SIGTERM')

# Rotation by time: rotate_interval rotates a file that is written to, on its own.
r = lt.Logd(env={'GWKIT_LOGD_ROTATE_INTERVAL': '1s', 'GWKIT_LOGD_COMPRESS': 'no',
                 'GWKIT_LOGD_RETENTION': '0'})
n = lt.Native(r.native_port, session=99)
n.batch(1, ['before the interval'])
t.is_(n.ack(), 1, 'rotate_interval: acknowledged')
rdir = os.path.dirname(r.out)
t.ok(t.wait_for(lambda: len(os.listdir(rdir)) >= 2, 5),
     'rotate_interval = 1s rotates the file: %s' % sorted(os.listdir(rdir)))
n.batch(2, ['after the interval'])
t.is_(n.ack(), 2, 'acknowledged after the time rotation')
got = []
for f in sorted(os.listdir(rdir)):
    got += r.lines(os.path.join(rdir, f))
t.is_(sorted(got), [b'after the interval', b'before the interval'],
      'both lines kept across the time rotation, once each')
n.close()
t.is_(r.stop(), 0, 'logd with rotate_interval exits 0')
t.done()
