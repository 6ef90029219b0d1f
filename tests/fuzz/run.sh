#!/usr/bin/env bash
# run.sh -- builds every libFuzzer target in tests/fuzz/ with clang and runs each for
# FUZZ_SECONDS (default 60). A crash fails the run; artifacts land in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Ilib -Icmd -DGW_VERSION=\"fuzz\""
# shellcheck disable=SC2046
libs=$(pkg-config --cflags --libs libmicrohttpd libcurl sqlite3 jansson inih libcrypto zlib libzstd hiredis)
lib_src=$(ls lib/*.c)
# Program sources a target needs: any cmd/<prog>/*.c except main.c, when the target includes
# that program's header.
for t in tests/fuzz/*.c; do
    name=$(basename "$t" .c)
    extra=""
    for prog in $(grep -o '#include "[a-z]*/[a-z]*\.h"' "$t" | sed 's/#include "\([a-z]*\)\/.*/\1/' | sort -u); do
        extra="$extra $(ls cmd/"$prog"/*.c | grep -v '/main\.c$')"
    done
    echo "fuzz: building $name"
    # shellcheck disable=SC2086
    clang $cflags -o "$out/$name" "$t" $lib_src $extra $libs -lpthread -lm
    mkdir -p "$out/corpus-$name"
    # The committed seeds (tests/fuzz/corpus/<name>/) are read; new finds go to build/fuzz.
    seeds=""
    [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
    echo "fuzz: running $name for ${secs}s"
    # shellcheck disable=SC2086
    "$out/$name" -max_total_time="$secs" -max_len=8192 -artifact_prefix="$out/$name-" \
        "$out/corpus-$name" $seeds 2>"$out/$name.log" || { tail -40 "$out/$name.log"; exit 1; }
    grep -E '^(#[0-9]+ *DONE|Done)' "$out/$name.log" | tail -1 || true
done
echo "fuzz: all targets ran clean"
