#!/usr/bin/env bash
# run.sh -- what `make run` starts: every gwkit daemon that is built, on loopback, with the
# built-in default config, state under ./var. Runs in the foreground; Ctrl-C stops everything
# and `make run` exits 0.
#
# The control sockets go to the default run_dir, the one gwctl looks in, so `gwctl status all`
# works from another terminal without exporting anything.
#
# Ctrl-C: on a terminal, job control gives the terminal to a waiting job of its own process
# group, so the SIGINT reaches that job only, not make (which would die of it and report an
# error) nor the daemons (which this script stops in order).
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export GWKIT_GLOBAL_STATE_DIR=${GWKIT_GLOBAL_STATE_DIR:-$top/var/lib}
export GWKIT_HBD_LISTEN=${GWKIT_HBD_LISTEN:-127.0.0.1:9002}
export GWKIT_HBD_HTTP_LISTEN=${GWKIT_HBD_HTTP_LISTEN:-127.0.0.1:9091}
export GWKIT_WSGWD_LISTEN=${GWKIT_WSGWD_LISTEN:-127.0.0.1:8080}
export GWKIT_LOGD_SYSLOG_LISTEN=${GWKIT_LOGD_SYSLOG_LISTEN:-127.0.0.1:5514}
export GWKIT_LOGD_NATIVE_LISTEN=${GWKIT_LOGD_NATIVE_LISTEN:-127.0.0.1:5515}
# logd writes under ./var like the state, not /var/log/gwkit, so make run needs no root.
export GWKIT_LOGD_OUTPUT=${GWKIT_LOGD_OUTPUT:-$top/var/log/logd.log}
if [ -n "${GWKIT_GLOBAL_RUN_DIR:-}" ]; then
    run_dir=$GWKIT_GLOBAL_RUN_DIR
elif [ "$(id -u)" -eq 0 ]; then
    run_dir=/run/gwkit
elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
    run_dir=$XDG_RUNTIME_DIR/gwkit
else
    run_dir=/tmp/gwkit-$(id -u)
fi
mkdir -p "$run_dir" "$GWKIT_GLOBAL_STATE_DIR"
interactive=0
if [ -t 0 ] && [ -t 1 ]; then
    interactive=1
    set -m
fi

pids=()
wsgwd_args=()
stop() {
    trap - INT TERM EXIT
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    echo "gwkit: stopped"
    exit 0
}
trap stop INT TERM EXIT

# wsgwd needs a backend to be useful: the example echo-backend, started first, and the test
# page on, so http://127.0.0.1:8080/ in a browser talks to it through the gateway.
if [ -x "$build/bin/echo-backend" ] && [ -x "$build/bin/wsgwd" ]; then
    "$build/bin/echo-backend" 127.0.0.1:9090 &
    pids+=($!)
    wsgwd_args=(127.0.0.1:9090)
    export GWKIT_WSGWD_TEST_PAGE=${GWKIT_WSGWD_TEST_PAGE:-yes}
fi
for prog in logd hbd wsgwd; do
    if [ -x "$build/bin/$prog" ]; then
        if [ "$prog" = wsgwd ]; then
            "$build/bin/$prog" -c /dev/null "$GWKIT_WSGWD_LISTEN" "${wsgwd_args[@]}" &
        else
            "$build/bin/$prog" -c /dev/null &
        fi
        pids+=($!)
    else
        echo "gwkit: $prog is not built yet (missing), not started"
    fi
done
[ ${#pids[@]} -gt 0 ] || { echo "gwkit: nothing to run"; exit 1; }

# Ready when every started daemon answers on its control socket (echo-backend has none).
ndaemons=0
for prog in logd hbd wsgwd; do [ -x "$build/bin/$prog" ] && ndaemons=$((ndaemons + 1)); done
for _ in $(seq 100); do
    n=0
    for s in "$run_dir"/*.sock; do [ -S "$s" ] && n=$((n + 1)); done
    [ "$n" -ge "$ndaemons" ] && break
    sleep 0.1
done
cat <<MSG

gwkit is running on loopback (state in $GWKIT_GLOBAL_STATE_DIR). Try:
  printf 'PING\r\nHB demo interval=5s\r\n' | socat -t1 - TCP:127.0.0.1:9002
  curl -s http://127.0.0.1:9091/metrics | head
  logger -n 127.0.0.1 -P 5514 -T -t demo 'hello logd'; $build/bin/gwctl tail   (logd writes
  to $GWKIT_LOGD_OUTPUT)
  open http://127.0.0.1:9091/ (hbd's stats page) and http://127.0.0.1:8080/ (wsgwd's test
  page: what you type goes through the gateway to echo-backend and back)
  $build/bin/gwctl status all
Ctrl-C stops everything.
MSG
if [ "$interactive" = 1 ]; then
    # A foreground job that ends on Ctrl-C or when a daemon exits.
    bash -c 'trap "exit 0" INT
        while :; do for p; do kill -0 "$p" 2>/dev/null || exit 0; done; sleep 0.5; done' - "${pids[@]}"
else
    wait -n "${pids[@]}"
fi
