#!/usr/bin/env bash
# gen-man-keys.sh -- writes the key list of man/gwkit.conf.5 (between the BEGIN/END KEYS marks)
# from the programs' schema tables, through `gwctl __keys-mdoc`. With --check, only compares.
set -euo pipefail
build=${1:-build}
mode=${2:-write}
page=$(dirname "$0")/../man/gwkit.conf.5
new=$(mktemp)
trap 'rm -f "$new"' EXIT
awk -v keys="$("$build/bin/gwctl" __keys-mdoc)" '
    /^\.\\" BEGIN KEYS/ { print; print keys; skip = 1; next }
    /^\.\\" END KEYS/ { skip = 0 }
    !skip { print }' "$page" >"$new"
if [ "$mode" = --check ]; then
    diff -u "$page" "$new" >&2 || { echo "man/gwkit.conf.5 is out of date: run make man" >&2; exit 1; }
else
    cp "$new" "$page"
fi
