#!/usr/bin/python3
# Every libFuzzer target (tests/fuzz/<name>.c, built by `make fuzz-targets` into
# $GW_FUZZ_BUILD/bin/) runs clean over its committed seed corpus (tests/fuzz/corpus/<name>/;
# no folder: one empty input), so a target that stops building or crashing on a known input
# fails `make test` instead of rotting until the next `make fuzz`.
import glob
import os
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

FUZZ_BUILD = os.environ.get('GW_FUZZ_BUILD') or os.path.join(t.ROOT, 'build', 'fuzz')
fuzz_dir = os.path.join(t.ROOT, 'tests', 'fuzz')
corpus_root = os.path.join(fuzz_dir, 'corpus')
names = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(fuzz_dir, '*.c')))

if not shutil.which(os.environ.get('FUZZ_CC', 'clang')):
    t.skip_all('clang not installed (share/deps.sh test installs it)')

for d in sorted(os.listdir(corpus_root)) if os.path.isdir(corpus_root) else []:
    t.ok(d in names, 'corpus folder %s belongs to a target tests/fuzz/%s.c' % (d, d))

artifacts = t.tmpdir()
for name in names:
    binary = os.path.join(FUZZ_BUILD, 'bin', name)
    if not os.access(binary, os.X_OK):
        t.ok(False, '%s: built (make fuzz-targets)' % name)
        continue
    corpus = os.path.join(corpus_root, name)
    if not os.path.isdir(corpus):
        corpus = t.tmpdir()
    # -runs=0: run the seeds (or one empty input) and stop; nothing is written to the corpus.
    p = subprocess.run([binary, '-runs=0', '-timeout=20', '-rss_limit_mb=2048',
                        '-artifact_prefix=%s/%s-' % (artifacts, name), corpus],
                       capture_output=True, text=True, errors='replace', timeout=120)
    seeds = len(os.listdir(corpus))
    if not t.ok(p.returncode == 0 and 'Done' in p.stderr,
                '%s: runs clean over its %d seed(s)' % (name, seeds)):
        t.diag('\n'.join(p.stderr.splitlines()[-40:]))

t.done()
