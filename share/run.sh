#!/usr/bin/env bash
# run.sh -- what `make run` starts: every gwkit daemon that is built, on loopback, with the
# built-in default config, state under ./var. Runs in the foreground; Ctrl-C stops everything.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export GWKIT_GLOBAL_RUN_DIR=${GWKIT_GLOBAL_RUN_DIR:-$top/var/run}
export GWKIT_GLOBAL_STATE_DIR=${GWKIT_GLOBAL_STATE_DIR:-$top/var/lib}
export GWKIT_HBD_LISTEN=${GWKIT_HBD_LISTEN:-127.0.0.1:9002}
export GWKIT_HBD_HTTP_LISTEN=${GWKIT_HBD_HTTP_LISTEN:-127.0.0.1:9091}
export GWKIT_WSGWD_LISTEN=${GWKIT_WSGWD_LISTEN:-127.0.0.1:8080}
export GWKIT_WSGWD_DISCOVERY_LISTEN=${GWKIT_WSGWD_DISCOVERY_LISTEN:-127.0.0.1:9999}
export GWKIT_LOGD_SYSLOG_LISTEN=${GWKIT_LOGD_SYSLOG_LISTEN:-127.0.0.1:5514}
export GWKIT_LOGD_NATIVE_LISTEN=${GWKIT_LOGD_NATIVE_LISTEN:-127.0.0.1:5515}
mkdir -p "$GWKIT_GLOBAL_RUN_DIR" "$GWKIT_GLOBAL_STATE_DIR"

pids=()
stop() {
    trap - INT TERM EXIT
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait
    echo "gwkit: stopped"
}
trap stop INT TERM EXIT

for prog in logd hbd wsgwd; do
    if [ -x "$build/bin/$prog" ]; then
        "$build/bin/$prog" -c /dev/null &
        pids+=($!)
    else
        echo "gwkit: $prog is not built yet (missing), not started"
    fi
done
[ ${#pids[@]} -gt 0 ] || { echo "gwkit: nothing to run"; exit 1; }

# Ready when every started daemon answers on its control socket.
for _ in $(seq 100); do
    n=0
    for s in "$GWKIT_GLOBAL_RUN_DIR"/*.sock; do [ -S "$s" ] && n=$((n + 1)); done
    [ "$n" -ge ${#pids[@]} ] && break
    sleep 0.1
done
cat <<MSG

gwkit is running on loopback (state in $GWKIT_GLOBAL_STATE_DIR). Try:
  printf 'PING\r\nHB demo interval=5s\r\n' | nc -q1 127.0.0.1 9002
  curl -s http://127.0.0.1:9091/metrics | head
  GWKIT_GLOBAL_RUN_DIR=$GWKIT_GLOBAL_RUN_DIR $build/bin/gwctl status all
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
