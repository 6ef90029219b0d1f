#!/usr/bin/env bash
# run.sh -- fuzzes every libFuzzer target in tests/fuzz/ for FUZZ_SECONDS (default 60) each.
# The Makefile builds them (make fuzz-targets: one compiler flag set and one library list,
# PKGS); each run starts from the committed seeds in tests/fuzz/corpus/<name>/ and keeps what
# it finds in $FUZZ_BUILD/corpus-<name>/. A crash fails the run; artifacts land in $FUZZ_BUILD.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD:-build/fuzz}
make --no-print-directory FUZZ_BUILD="$out" fuzz-targets
for t in tests/fuzz/*.c; do
    name=$(basename "$t" .c)
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    mkdir -p "$out/corpus-$name"
    echo "fuzz: running $name for ${secs}s"
    # New inputs go to the first folder only, so the committed seeds stay as they are.
    "$out/bin/$name" -max_total_time="$secs" -max_len=8192 -artifact_prefix="$out/$name-" \
        "$out/corpus-$name" "${seeds[@]}" 2>"$out/$name.log" || {
        tail -40 "$out/$name.log"
        exit 1
    }
    grep -E '^(#[0-9]+ *DONE|Done)' "$out/$name.log" | tail -1 || true
done
echo "fuzz: all targets ran clean"
