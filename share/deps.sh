#!/usr/bin/env bash
# deps.sh -- install the Debian packages gwkit needs to build, test and bench.
#
# Usage: share/deps.sh [build|test|bench|all]   (default: test, which includes build)
# Idempotent and quiet when everything is present. As a non-root user it prints the
# apt-get line to run and exits 1.
set -eu

build_pkgs="build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev
  libjansson-dev libinih-dev libssl-dev zlib1g-dev libzstd-dev libhiredis-dev liburing-dev
  libzmq3-dev"
test_pkgs="perl sqlite3 socat curl jq python3 python3-websockets nodejs node-ws redis-server
  prometheus mandoc valgrind clang libclang-rt-14-dev procps util-linux bsdutils iproute2
  python3-zmq rsyslog chromium zstd"
bench_pkgs="redis-tools sockperf linux-perf websockify"

set_name=${1:-test}
case "$set_name" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
bench | all) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
*)
    echo "usage: $0 [build|test|bench|all]" >&2
    exit 2
    ;;
esac

missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "gwkit: missing packages:$missing" >&2
    echo "run: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "gwkit: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Services pulled in by packages (redis, rsyslog) must not start on their own: tests run
# their own instances on free ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get -qq update >/dev/null || true
# shellcheck disable=SC2086
apt-get -qq install -y --no-install-recommends $missing >/dev/null
