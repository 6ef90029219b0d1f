#!/usr/bin/python3
# gwbench checks its arguments before the run. Durations are bounded: one too large for the
# engine's nanosecond clock is a usage error (exit 2), not a run that wraps around and ends at
# once with exit 0. A --hist-out file that cannot be written fails before the run.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import LineServer, done, gwbench, ok  # noqa: E402

pong = LineServer(lambda line: b'+PONG\r\n')
target = '127.0.0.1:%d' % pong.port

# 18446744073710 ms is just over 2^64 ns: it wrapped to 290 us of measured time.
for opt, val in (('-d', '18446744073710ms'), ('--warmup', '18446744073710ms'),
                 ('-d', '366d'), ('--warmup', '400d'), ('--timeout', '2h'),
                 ('--timeout', '9999999999999d')):
    rc, out, err = gwbench('tcp', '-q', '-c', '1', '-t', '1', opt, val, target)
    name = {'-d': 'duration', '--warmup': 'warmup', '--timeout': 'timeout'}[opt]
    ok(rc == 2 and ("bad value '%s' for --%s" % (val, name)) in err and out == '',
       '%s %s: usage error, exit 2' % (opt, val), (rc, out, err))

rc, out, err = gwbench('tcp', '-q', '-c', '1', '-t', '1', '-d', '200ms', '--timeout', '1h',
                       '--warmup', '0', target)
ok(rc == 0 and '0.20s' in out, 'the bounds themselves are accepted (--timeout 1h)', (rc, out, err))

# --hist-out that cannot be written fails before the run (it failed after it, report printed).
rc, out, err = gwbench('tcp', '-q', '-c', '1', '-t', '1', '-d', '2s', '--hist-out',
                       '/nonexistent-dir/h.txt', target)
ok(rc == 1 and out == '' and 'gwbench: cannot write /nonexistent-dir/h.txt: No such file' in err,
   '--hist-out in a missing directory: exit 1 before the run, no report', (rc, out, err))
done()
