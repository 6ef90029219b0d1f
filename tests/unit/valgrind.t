#!/bin/sh
# Every unit test again under valgrind: no memory errors, no definite leaks.
[ -n "${GW_SANITIZED:-}" ] && { echo "1..0 # SKIP sanitizer build"; exit 0; }
command -v valgrind >/dev/null || { echo "1..0 # SKIP valgrind not installed"; exit 0; }
dir="${GW_BUILD:-build}/tests/unit"
# A test that hangs under valgrind (io_uring wake-ups come late there) fails, not the suite.
n=0
for src in "$(dirname "$0")"/*.c; do
    name=$(basename "$src" .c)
    n=$((n + 1))
    if out=$(timeout -s KILL 300 valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
        "$dir/$name" 2>&1 >/dev/null); then
        echo "ok $n - $name: valgrind clean"
    else
        echo "not ok $n - $name: valgrind found problems"
        printf '%s\n' "$out" | tail -30 | sed 's/^/# /'
    fi
done
echo "1..$n"
