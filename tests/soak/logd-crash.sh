#!/bin/sh
# logd-crash.sh -- the kill -9 test of 53-logd-crash.t, 100 rounds (or $1): every acknowledged
# native batch must be in the file after each restart. Not part of make test (about 20 s).
cd "$(dirname "$0")/../.." || exit 1
GW_BUILD=${GW_BUILD:-$PWD/build} GW_LOGD_CRASH_ROUNDS=${1:-100} exec prove -v tests/integration/53-logd-crash.t
