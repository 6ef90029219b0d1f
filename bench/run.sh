#!/usr/bin/env bash
# run.sh -- gwkit's performance figures next to the peers, on loopback (what `make bench` runs).
#
# Usage: bench/run.sh [BUILD]        (BUILD defaults to build/)
#
# Starts each daemon and peer on free 127.0.0.1 ports in a temporary directory, drives them
# with the same tool (gwbench) and with the peers' own tools, stops everything it started by
# PID, prints the tables and writes them to bench/RESULTS.md with the commands, the machine
# and the date. Durations are bounded: about six minutes in all.
#
# The machine may be busy with other work, so each figure is the median of ROUNDS short runs
# (twice as many 1 s runs on one connection), and the runs of the things compared alternate
# (hbd, redis, hbd, redis, ...): a slow spell hits both sides instead of one.
#
# Each group of rows is one function, group_<name>, listed in ROW_GROUPS; a later daemon (wsgwd vs
# a direct TCP echo and websockify, logd vs rsyslog) adds its rows with one more function. A
# daemon that is not built, or does not start, gives rows marked "missing", never none.
#
# Environment: BENCH_SECS (seconds per measured run, 2), BENCH_ROUNDS (runs per figure, 5),
# BENCH_RATE (the fixed -R, 5000), BENCH_IDLE_CONNS (20000), BENCH_OUT (bench/RESULTS.md),
# BENCH_GROUPS (the row groups to run, all of ROW_GROUPS by default).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
GWBENCH=$BUILD/bin/gwbench
HBD=$BUILD/bin/hbd
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
# Single-connection figures swing the most with other work: more, shorter rounds.
RTT_SECS=1
RTT_ROUNDS=$((ROUNDS * 2))
RATE=${BENCH_RATE:-5000}
IDLE_WANT=${BENCH_IDLE_CONNS:-20000}
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
ROW_GROUPS=${BENCH_GROUPS:-hbd_vs_redis hbd_io round_trip idle accuracy logd_vs_rsyslog logd_native wsgwd}
LOGD=$BUILD/bin/logd
LOG_CONNS=${BENCH_LOG_CONNS:-4}
LOG_SIZE=${BENCH_LOG_SIZE:-256}
LOG_NATIVE_RUNS=${BENCH_LOG_NATIVE_RUNS:-4:1 50:1 4:100 50:100} # connections:records per batch
LOG_NATIVE_SIZE=${BENCH_LOG_NATIVE_SIZE:-100}
PIN=()
PIN_NOTE="."
PY=/usr/bin/python3

TMP=""
PIDS=()
LAST_PID=""

die() {
    echo "bench: $*" >&2
    exit 1
}

# ---- processes ------------------------------------------------------------------------

cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [ -n "$TMP" ]; then
        rm -rf "$TMP"
    fi
}

# Starts a command in the background, its output in $TMP/NAME.log; the PID goes to LAST_PID.
start_bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:PORT accepts a connection and PID still runs; 1 after 10 s.
wait_port() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# CPU time of PID (all its threads), in seconds, from each thread's schedstat run time in ns:
# the quantity utime + stime add up to, without their 10 ms ticks (a 2 s run at a fixed 5000
# requests/s costs the server only some 15 ticks, so ticks would make the ratio swing by 10%).
cpu_secs() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.6f", ns / 1e9 }'
}
# utime alone: the server's own code, without the kernel's TCP work it triggers.
user_secs() {
    sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", $12 / hz }'
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# ---- the peers ----------------------------------------------------------------------

# Starts hbd with WORKERS workers on a free port, [hbd] io = IO (default auto); sets HBD_PID,
# HBD_PORT and HBD_IO_USED (the backend it reports), or returns 1.
start_hbd() {
    local workers=$1 io=${2:-auto} http dir
    HBD_PID="" HBD_PORT="" HBD_IO_USED=""
    [ -x "$HBD" ] || return 1
    HBD_PORT=$(free_port)
    http=$(free_port)
    dir=$TMP/hbd.$HBD_PORT
    mkdir -p "$dir/run" "$dir/state"
    start_bg "hbd.$HBD_PORT" env GWKIT_HBD_LISTEN="127.0.0.1:$HBD_PORT" \
        GWKIT_HBD_HTTP_LISTEN="127.0.0.1:$http" GWKIT_GLOBAL_RUN_DIR="$dir/run" \
        GWKIT_GLOBAL_STATE_DIR="$dir/state" GWKIT_HBD_WORKERS="$workers" GWKIT_HBD_IO="$io" \
        GWKIT_GLOBAL_LOG_LEVEL=warning "$HBD"
    HBD_PID=$LAST_PID
    if ! wait_port "$HBD_PORT" "$HBD_PID"; then
        echo "bench: hbd did not start; its log:" >&2
        sed 's/^/  /' "$TMP/hbd.$HBD_PORT.log" >&2 || true
        HBD_PID=""
        return 1
    fi
    HBD_IO_USED=$(curl -s --max-time 5 "http://127.0.0.1:$http/status" | jq -r '.io // "?"' || echo "?")
}

# Starts redis-server on a free port, no persistence; sets REDIS_PID and REDIS_PORT.
start_redis() {
    REDIS_PORT=$(free_port)
    start_bg "redis.$REDIS_PORT" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
        --appendonly no --dir "$TMP" --maxclients "$((IDLE_CONNS + 100))" --protected-mode no
    REDIS_PID=$LAST_PID
    wait_port "$REDIS_PORT" "$REDIS_PID" || die "redis-server did not start"
}

# ---- measuring ----------------------------------------------------------------------

# gwbench_json FILE ARGS...: runs gwbench --json -q, the report in FILE. Returns gwbench's
# status (1 when errors were counted: the figures are still there).
gwbench_json() {
    local file=$1
    shift
    "$GWBENCH" "$@" --json -q >"$file" 2>"$file.err"
}

# measure SERVER_PID ARGS...: one gwbench run against a server, with the server's CPU time.
# Prints "rate p50_us p99_us cpu_s_per_million errors", or "failed".
measure() {
    local pid=$1 cpu0 cpu1 u0 u1 f=$TMP/m.json
    shift
    cpu0=$(cpu_secs "$pid")
    u0=$(user_secs "$pid")
    gwbench_json "$f" "$@" || true
    cpu1=$(cpu_secs "$pid")
    u1=$(user_secs "$pid")
    if ! jq -e .requests "$f" >/dev/null 2>&1; then
        echo "failed"
        return
    fi
    jq -r --arg c0 "$cpu0" --arg c1 "$cpu1" --arg u0 "$u0" --arg u1 "$u1" '[.rate, .latency_us.p50,
        .latency_us.p99,
        (if .requests > 0 then (($c1 | tonumber) - ($c0 | tonumber)) / .requests * 1e6 else 0 end),
        (if .requests > 0 then (($u1 | tonumber) - ($u0 | tonumber)) / .requests * 1e6 else 0 end),
        .error_total] | map(tostring) | join(" ")' "$f"
}

# rtt_gwbench ARGS...: one gwbench run; "rate mean p50 p99 p99.9 max errors", or "failed".
rtt_gwbench() {
    local f=$TMP/rtt.json
    gwbench_json "$f" "$@" || true
    if ! jq -e .requests "$f" >/dev/null 2>&1; then
        echo "failed"
        return
    fi
    jq -r '[.rate, .latency_us.mean, .latency_us.p50, .latency_us.p99, .latency_us["p99.9"],
        .latency_us.max, .error_total] | map(tostring) | join(" ")' "$f"
}

# rtt_sockperf PORT: one sockperf ping-pong run, the same figures as rtt_gwbench. sockperf
# prints "avg-rtt=38.781", "percentile 50.000 =   18.297" (usec) and the valid duration.
rtt_sockperf() {
    local out=$TMP/sockperf.out avg p50 p99 p999 max n secs
    sockperf ping-pong --tcp -i 127.0.0.1 -p "$1" -t "$RTT_SECS" -m 14 --full-rtt >"$out" 2>&1 || true
    avg=$(sed -n 's/.*avg-rtt=\([0-9.]*\).*/\1/p' "$out" | head -1)
    p50=$(awk '/percentile 50.000 =/ { print $NF }' "$out" | head -1)
    p99=$(awk '/percentile 99.000 =/ { print $NF }' "$out" | head -1)
    p999=$(awk '/percentile 99.900 =/ { print $NF }' "$out" | head -1)
    max=$(awk '/<MAX> observation =/ { print $NF }' "$out" | head -1)
    n=$(sed -n 's/.*Valid Duration\] RunTime=[0-9.]* sec; SentMessages=\([0-9]*\).*/\1/p' "$out" | head -1)
    secs=$(sed -n 's/.*Valid Duration\] RunTime=\([0-9.]*\) sec.*/\1/p' "$out" | head -1)
    if [ -z "$avg" ] || [ -z "$p50" ] || [ -z "$n" ]; then
        echo "failed"
        return
    fi
    echo "$(ratio "$n" "$secs") $avg $p50 $p99 $p999 $max 0"
}

# summarize LINE...: the column-wise median of the rounds' lines; the last column, an error
# count, is summed. "failed" if any round failed.
summarize() {
    local f=$TMP/rounds ncol k out=""
    printf '%s\n' "$@" >"$f"
    if grep -q failed "$f"; then
        echo "failed"
        return
    fi
    ncol=$(head -1 "$f" | wc -w)
    for ((k = 1; k < ncol; k++)); do
        out+="$(cut -d' ' -f"$k" "$f" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') "
    done
    out+=$(awk -v k="$ncol" '{ s += $k } END { print s }' "$f")
    echo "$out"
}

# pair_ratio COL A1 .. An -- B1 .. Bn: the median over rounds of A's column COL divided by B's,
# each A run with the B run next to it: a slow spell of the machine hits both runs of a pair,
# so the ratio swings less than the ratio of the two medians. "-" when a run failed.
pair_ratio() {
    local col=$1 a=() b=() i r=()
    shift
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
    shift
    b=("$@")
    for ((i = 0; i < ${#a[@]}; i++)); do
        case "${a[$i]} ${b[$i]:-failed}" in *failed*) echo "-"; return ;; esac
        r+=("$(awk -v x="$(echo "${a[$i]}" | cut -d' ' -f"$col")" -v y="$(echo "${b[$i]}" | cut -d' ' -f"$col")" \
            'BEGIN { if (y > 0) printf "%.4f", x / y; else print "inf" }')")
    done
    printf '%s\n' "${r[@]}" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}

fmt_rate() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
fmt_us() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f us", v }'; }
fmt_us1() { awk -v v="$1" 'BEGIN { printf "%.1f us", v }'; }
fmt_cpu() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
fmt_pct() { awk -v v="$1" 'BEGIN { printf "%.0f%%", v * 100 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# Markdown output: the report is built in $TMP/report.md, printed and copied at the end.
emit() { printf '%s\n' "$*" >>"$TMP/report.md"; }
say() { printf 'bench: %s\n' "$*" >&2; }

commands() {
    emit ""
    emit "Commands (ports are free ones picked at run time):"
    emit ""
    emit '```'
    printf '%s\n' "$@" >>"$TMP/report.md"
    emit '```'
    emit ""
}

# ---- row groups ---------------------------------------------------------------------

# hbd vs redis-server, PING, at 1, 50 and 500 connections, closed loop and at a fixed rate;
# the server's CPU seconds per million requests from /proc/PID/stat.
group_hbd_vs_redis() {
    local c load args i hbd_ok=1 hs rs
    say "hbd vs redis-server (PING)"
    start_redis
    start_hbd 1 || hbd_ok=0
    emit "## hbd vs redis-server: PING"
    emit ""
    emit "One worker thread each (redis-server is single-threaded; hbd with \`workers = 1\` and its"
    emit "default \`io = auto\`, here: $HBD_IO_USED), gwbench with one thread. CPU is the server's"
    emit "CPU time per million requests (all threads, from /proc/PID/task/*/schedstat, in ns); user"
    emit "is utime alone (10 ms ticks), the server's own code. On loopback most of a PING's CPU is the kernel's"
    emit "TCP work for the read and the write (and the delivery into the client's socket, which"
    emit "the kernel charges to the writer): the same for both servers, so it bounds the total ratio."
    emit "Median of $ROUNDS runs of ${SECS}s each, hbd and redis-server alternating; the CPU ratio is"
    emit "the median of the $ROUNDS per-pair ratios (each hbd run over the redis run right after it)."
    emit "At the fixed rate a run has $((RATE * SECS)) requests, so its p99 is a handful of the slowest"
    emit "and swings with the VM from run to run (either server ahead); the closed-loop rows carry"
    emit "the throughput, p99 and CPU figures."
    emit ""
    emit "| conns | load | hbd req/s | redis req/s | ratio | hbd p50 | redis p50 | hbd p99 | redis p99 | hbd CPU s/M | redis CPU s/M | CPU ratio | hbd user s/M | redis user s/M | user ratio |"
    emit "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    # Unrecorded warm-up of both servers.
    "$GWBENCH" tcp -q -c 50 -t 1 -d 1s "127.0.0.1:$REDIS_PORT" >/dev/null 2>&1 || true
    if [ "$hbd_ok" = 1 ]; then
        "$GWBENCH" hb -q -c 50 -t 1 -d 1s "127.0.0.1:$HBD_PORT" >/dev/null 2>&1 || true
    fi
    for c in 1 50 500; do
        for load in closed "R=$RATE"; do
            args=(-c "$c" -t 1 -d "${SECS}s")
            if [ "$load" != closed ]; then
                args+=(-R "$RATE")
            fi
            hs=() rs=()
            for ((i = 0; i < ROUNDS; i++)); do
                if [ "$hbd_ok" = 1 ]; then
                    hs+=("$(measure "$HBD_PID" hb "${args[@]}" "127.0.0.1:$HBD_PORT")")
                fi
                rs+=("$(measure "$REDIS_PID" tcp --expect +PONG "${args[@]}" "127.0.0.1:$REDIS_PORT")")
            done
            if [ "$hbd_ok" = 1 ]; then
                row_vs "$c" "$load" "$(summarize "${hs[@]}")" "$(summarize "${rs[@]}")" \
                    "$(pair_ratio 4 "${hs[@]}" -- "${rs[@]}")"
            else
                row_vs "$c" "$load" missing "$(summarize "${rs[@]}")"
            fi
        done
    done
    commands "gwbench hb -c C -t 1 -d ${SECS}s [-R $RATE] --json -q 127.0.0.1:HBD_PORT" \
        "gwbench tcp --expect +PONG -c C -t 1 -d ${SECS}s [-R $RATE] --json -q 127.0.0.1:REDIS_PORT" \
        "GWKIT_HBD_LISTEN=127.0.0.1:HBD_PORT GWKIT_HBD_WORKERS=1 ... hbd" \
        "redis-server --bind 127.0.0.1 --port REDIS_PORT --save '' --appendonly no"
    if [ -n "$HBD_PID" ]; then
        stop_pid "$HBD_PID"
    fi
    stop_pid "$REDIS_PID"
}

# hbd's two I/O backends side by side, closed loop: what io_uring saves the kernel per request.
group_hbd_io() {
    local c i es us epid eport upid uport er ep50 ep99 ecpu eu eerr ur up50 up99 ucpu uu uerr
    say "hbd: epoll vs io_uring"
    start_hbd 1 epoll || return 0
    epid=$HBD_PID eport=$HBD_PORT
    start_hbd 1 uring || {
        emit "## hbd: epoll vs io_uring"
        emit ""
        emit "io_uring cannot be used on this machine (see the hbd log); no rows."
        emit ""
        stop_pid "$epid"
        return 0
    }
    upid=$HBD_PID uport=$HBD_PORT
    emit "## hbd: epoll vs io_uring"
    emit ""
    emit "The same hbd (\`workers = 1\`) with \`io = epoll\` and \`io = uring\`, PING, closed loop,"
    emit "gwbench with one thread; CPU per million requests as above. Median of $ROUNDS runs of ${SECS}s,"
    emit "alternating; the CPU ratio is the median of the per-pair ratios (io_uring over epoll)."
    emit ""
    emit "| conns | epoll req/s | io_uring req/s | epoll p99 | io_uring p99 | epoll CPU s/M | io_uring CPU s/M | CPU ratio |"
    emit "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    "$GWBENCH" hb -q -c 50 -t 1 -d 1s "127.0.0.1:$eport" >/dev/null 2>&1 || true
    "$GWBENCH" hb -q -c 50 -t 1 -d 1s "127.0.0.1:$uport" >/dev/null 2>&1 || true
    for c in 50 500; do
        es=() us=()
        for ((i = 0; i < ROUNDS; i++)); do
            es+=("$(measure "$epid" hb -c "$c" -t 1 -d "${SECS}s" "127.0.0.1:$eport")")
            us+=("$(measure "$upid" hb -c "$c" -t 1 -d "${SECS}s" "127.0.0.1:$uport")")
        done
        read -r er ep50 ep99 ecpu eu eerr <<<"$(summarize "${es[@]}")"
        read -r ur up50 up99 ucpu uu uerr <<<"$(summarize "${us[@]}")"
        if [ "$er" = failed ] || [ "$ur" = failed ]; then
            emit "| $c | $er | $ur | | | | | - |"
            continue
        fi
        emit "| $c | $(fmt_rate "$er") | $(fmt_rate "$ur") | $(fmt_us "$ep99") | $(fmt_us "$up99") | $(fmt_cpu "$ecpu") | $(fmt_cpu "$ucpu") | $(pair_ratio 4 "${us[@]}" -- "${es[@]}") |"
    done
    commands "GWKIT_HBD_IO=epoll|uring GWKIT_HBD_WORKERS=1 ... hbd" \
        "gwbench hb -c C -t 1 -d ${SECS}s --json -q 127.0.0.1:HBD_PORT"
    stop_pid "$epid"
    stop_pid "$upid"
}

# One row of group_hbd_vs_redis from two summaries.
row_vs() {
    local c=$1 load=$2 h r hr hp50 hp99 hcpu hu herr rr rp50 rp99 rcpu ru rerr
    read -r hr hp50 hp99 hcpu hu herr <<<"$3"
    read -r rr rp50 rp99 rcpu ru rerr <<<"$4"
    if [ "$rr" = failed ]; then
        emit "| $c | $load | (hbd not compared) | failed | - | | failed | | failed | | failed | - | | failed | - |"
        return
    fi
    r="$(fmt_rate "$rr")"
    if [ "${rerr:-0}" != 0 ]; then
        r="$r ($rerr errors)"
    fi
    if [ "$hr" = missing ] || [ "$hr" = failed ]; then
        emit "| $c | $load | $hr | $r | - | $hr | $(fmt_us "$rp50") | $hr | $(fmt_us "$rp99") | $hr | $(fmt_cpu "$rcpu") | - | $hr | $(fmt_cpu "$ru") | - |"
        return
    fi
    h="$(fmt_rate "$hr")"
    if [ "${herr:-0}" != 0 ]; then
        h="$h ($herr errors)"
    fi
    emit "| $c | $load | $h | $r | $(ratio "$hr" "$rr") | $(fmt_us "$hp50") | $(fmt_us "$rp50") | $(fmt_us "$hp99") | $(fmt_us "$rp99") | $(fmt_cpu "$hcpu") | $(fmt_cpu "$rcpu") | ${5:-$(ratio "$hcpu" "$rcpu")} | $(fmt_cpu "$hu") | $(fmt_cpu "$ru") | $(ratio "$hu" "$ru") |"
}

# One connection, one request at a time: hbd through gwbench next to sockperf ping-pong
# against sockperf's own server (TCP), and redis-server through gwbench for reference.
group_round_trip() {
    local sp_port sp_pid i hbd_ok=1 hs=() ss=() rs=()
    say "single-connection round trip"
    emit "## Round trip on one connection"
    emit ""
    emit "Full round trip (request sent to reply read), one connection, one request in flight."
    emit "Median of $RTT_ROUNDS runs of ${RTT_SECS}s each, the three alternating. These figures"
    emit "are the most sensitive to other work on the machine: every message wakes a sleeping"
    emit "process, and on a shared virtual machine that wake-up alone can swing several-fold"
    emit "from one minute to the next, for every tool alike."
    emit ""
    emit "| server | client | req/s | mean | p50 | p99 | p99.9 | max |"
    emit "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    start_hbd 1 || hbd_ok=0
    start_redis
    sp_port=$(free_port)
    start_bg sockperf-server sockperf server --tcp -i 127.0.0.1 -p "$sp_port"
    sp_pid=$LAST_PID
    wait_port "$sp_port" "$sp_pid" || die "sockperf server did not start"
    for ((i = 0; i < RTT_ROUNDS; i++)); do
        if [ "$hbd_ok" = 1 ]; then
            hs+=("$(rtt_gwbench hb -c 1 -t 1 -d "${RTT_SECS}s" "127.0.0.1:$HBD_PORT")")
        fi
        ss+=("$(rtt_sockperf "$sp_port")")
        rs+=("$(rtt_gwbench tcp --expect +PONG -c 1 -t 1 -d "${RTT_SECS}s" "127.0.0.1:$REDIS_PORT")")
    done
    if [ "$hbd_ok" = 1 ]; then
        rtt_row hbd "gwbench hb" "$(summarize "${hs[@]}")"
        stop_pid "$HBD_PID"
    else
        rtt_row hbd "gwbench hb" missing
    fi
    rtt_row "sockperf server" "sockperf ping-pong" "$(summarize "${ss[@]}")"
    rtt_row redis-server "gwbench tcp" "$(summarize "${rs[@]}")"
    stop_pid "$sp_pid"
    stop_pid "$REDIS_PID"
    commands "gwbench hb -c 1 -t 1 -d ${RTT_SECS}s --json -q 127.0.0.1:HBD_PORT" \
        "sockperf server --tcp -i 127.0.0.1 -p PORT" \
        "sockperf ping-pong --tcp -i 127.0.0.1 -p PORT -t $RTT_SECS -m 14 --full-rtt" \
        "gwbench tcp --expect +PONG -c 1 -t 1 -d ${RTT_SECS}s --json -q 127.0.0.1:REDIS_PORT"
}

rtt_row() {
    local server=$1 client=$2 v
    read -r -a v <<<"$3"
    if [ "${v[0]}" = missing ] || [ "${v[0]}" = failed ]; then
        emit "| $server | $client | ${v[0]} | ${v[0]} | ${v[0]} | ${v[0]} | ${v[0]} | ${v[0]} |"
        return
    fi
    emit "| $server | $client | $(fmt_rate "${v[0]}") | $(fmt_us "${v[1]}") | $(fmt_us "${v[2]}") | $(fmt_us "${v[3]}") | $(fmt_us "${v[4]}") | $(fmt_us "${v[5]}") |"
}

# N idle connections held open: the server's RSS (VmRSS) before and after, per connection.
group_idle() {
    say "$IDLE_CONNS idle connections"
    emit "## $IDLE_CONNS idle connections"
    emit ""
    if [ "$IDLE_CONNS" -lt "$IDLE_WANT" ]; then
        emit "$IDLE_WANT were asked for; the open-files limit here (\`ulimit -n\` = $(ulimit -n),"
        emit "not raisable in this environment) allows $IDLE_CONNS per process."
        emit ""
    fi
    emit "RSS is the server's VmRSS (user memory only; the kernel's socket buffers are not in it)."
    emit ""
    emit "| server | open | RSS before | RSS with the connections | bytes per connection |"
    emit "| --- | ---: | ---: | ---: | ---: |"
    if start_hbd 1; then
        idle_row hbd "$HBD_PID" "$IDLE_CONNS" "127.0.0.1:$HBD_PORT"
        stop_pid "$HBD_PID"
    else
        emit "| hbd | missing | missing | missing | missing |"
    fi
    start_redis
    idle_row redis-server "$REDIS_PID" "$IDLE_CONNS" "127.0.0.1:$REDIS_PORT"
    stop_pid "$REDIS_PID"
    commands "gwbench tcp --idle -c $IDLE_CONNS -t 1 -d 4s 127.0.0.1:PORT   (RSS read once all are open)"
}

# idle_row NAME PID CONNS TARGET: gwbench holds CONNS idle connections to TARGET (a tcp
# HOST:PORT, or a ws:// URL whose upgrades complete); one row with the server's RSS before and
# with them, per connection.
idle_row() {
    local name=$1 pid=$2 n=$3 target=$4 mode=tcp before after open i gw err=$TMP/idle.err
    case $target in ws://*) mode=ws ;; esac
    sleep 0.5
    before=$(rss_kb "$pid")
    "$GWBENCH" "$mode" --idle -q -c "$n" -t 1 -d 4s --timeout 10s "$target" \
        >"$TMP/idle.out" 2>"$err" &
    gw=$!
    PIDS+=("$gw")
    for ((i = 0; i < 300; i++)); do
        if grep -q "connections open" "$err" 2>/dev/null || ! kill -0 "$gw" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    sleep 1
    after=$(rss_kb "$pid")
    open=$(sed -n 's/.*idle: \([0-9]*\) of.*/\1/p' "$err" | head -1)
    wait "$gw" || true
    if [ -z "$open" ] || [ "$open" = 0 ]; then
        emit "| $name | failed | $before kB | | |"
        return
    fi
    emit "| $name | $open | $before kB | $after kB | $(awk -v a="$after" -v b="$before" -v n="$open" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }') |"
}

# ---- gwbench's own accuracy ---------------------------------------------------------

# acc_gw CONNS SECS [ENV...]: one gwbench run against redis-server (with ENV, e.g. an
# LD_PRELOAD); "rate mean p50 p99 errors" (us).
acc_gw() {
    local f=$TMP/acc.json c=$1 secs=$2
    shift 2
    "${PIN[@]}" env "$@" "$GWBENCH" tcp --expect +PONG -c "$c" -t 1 -d "${secs}s" --json -q \
        "127.0.0.1:$REDIS_PORT" >"$f" 2>"$f.err" || true
    if ! jq -e .requests "$f" >/dev/null 2>&1; then
        echo "failed"
        return
    fi
    jq -r '[.rate, .latency_us.mean, .latency_us.p50, .latency_us.p99, .error_total]
        | map(tostring) | join(" ")' "$f"
}

# rb_csv LINE: redis-benchmark's --csv line (title, rps, avg, min, p50, p95, p99, max; ms) as
# "rate mean p50 p99 0" (us), or "failed".
rb_csv() {
    local rr ravg rp50 rp99
    IFS=, read -r _ rr ravg _ rp50 _ rp99 _ <<<"$(tr -d '"' <<<"$1")"
    if [ -z "$rr" ] || [ -z "$rp99" ]; then
        echo "failed"
        return
    fi
    awk -v r="$rr" -v m="$ravg" -v a="$rp50" -v b="$rp99" \
        'BEGIN { print r, m * 1000, a * 1000, b * 1000, 0 }'
}

# rb_run CONNS N: one redis-benchmark PING_INLINE run of N requests against redis-server.
rb_run() {
    rb_csv "$("${PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t ping_inline -c "$1" -P 1 -n "$2" \
        --csv 2>/dev/null | tail -1)"
}

# hdr_mid US: the middle of the redis-benchmark histogram bin whose top is US. Its HdrHistogram
# (lowest discernible value 10 us, hence a unit of 8 us, 3 significant figures) has bins 8 us
# wide up to 16.384 ms, twice as wide in each octave above, and it prints a percentile as the
# highest value of its bin.
hdr_mid() {
    awk -v v="$1" 'BEGIN { w = 8; while (v >= w * 2048) w *= 2; printf "%.1f", v - (w - 1) / 2 }'
}

# fmt_bin US: a redis-benchmark percentile with the bin it stands for.
fmt_bin() {
    awk -v v="$1" 'BEGIN {
        if (v >= 1000) { printf "%.2f ms", v / 1000; exit }
        w = 8; printf "%.0f us (%.0f-%.0f)", v, v - w + 1, v }'
}

# pair_ratios GWBENCH_LINE RB_LINE: one round's "rate p50 p99" ratios, gwbench / redis-benchmark
# (the bins' middles), and a 0 for summarize's error column; or "failed".
pair_ratios() {
    local gr gp50 gp99 rr rp50 rp99
    read -r gr _ gp50 gp99 _ <<<"$1"
    read -r rr _ rp50 rp99 _ <<<"$2"
    if [ "$gr" = failed ] || [ "$rr" = failed ]; then
        echo "failed"
        return
    fi
    echo "$(ratio "$gr" "$rr") $(ratio "$gp50" "$(hdr_mid "$rp50")") $(ratio "$gp99" "$(hdr_mid "$rp99")") 0"
}

# acc_row CONNS "gw: rate mean p50 p99" "rb: rate mean p50 p99" "ratios: rate p50 p99"
acc_row() {
    local gr gm gp50 gp99 rr rm rp50 rp99 xr x50 x99 c=${1%%,*}
    read -r gr gm gp50 gp99 <<<"$2"
    read -r rr rm rp50 rp99 <<<"$3"
    read -r xr x50 x99 <<<"$4"
    if [ "$gr" = failed ] || [ "$rr" = failed ] || [ "$xr" = failed ]; then
        emit "| $1 | $gr | $rr | - | | | | | | | | |"
        return
    fi
    emit "| $1 | $(fmt_rate "$gr") | $(fmt_rate "$rr") | $xr | $(fmt_us "$gp50") | $(fmt_bin "$rp50") | $x50 | $(fmt_us "$gp99") | $(fmt_bin "$rp99") | $x99 | $(fmt_us "$gm") / $(cycle "$c" "$gr") | $(fmt_us "$rm") / $(cycle "$c" "$rr") |"
}

# Little's law: the time between two sends on one connection, conns / rate.
cycle_us() { awk -v c="$1" -v r="$2" 'BEGIN { if (r > 0) print c / r * 1e6; else print 0 }'; }
cycle() { fmt_us "$(cycle_us "$1" "$2")"; }

# perf_ready: 0 when perf can record the raw_syscalls tracepoints; else PERF_WHY says why.
# As root, mounts tracefs where the kernel offers it unmounted (as systemd does at boot).
perf_ready() {
    local probe=$TMP/probe.data
    PERF_WHY=""
    if ! command -v perf >/dev/null; then
        PERF_WHY="perf is not installed (Debian linux-perf)"
        return 1
    fi
    if perf record -q -e raw_syscalls:sys_enter -o "$probe" -- true >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/events ] &&
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
        say "mounted tracefs on /sys/kernel/tracing for perf"
        if perf record -q -e raw_syscalls:sys_enter -o "$probe" -- true >/dev/null 2>&1; then
            return 0
        fi
    fi
    PERF_WHY="perf cannot record the raw_syscalls tracepoints here (it needs root, or"
    PERF_WHY+=" perf_event_paranoid -1, and tracefs on /sys/kernel/tracing)"
    return 1
}

# traced CMD...: runs a client under perf record of its system calls, its stdout in
# $TMP/traced.out; prints the kernel's view of its requests, "count mean p50 p90 p99 hold busy"
# (bench/syscall_rtt.py), or "failed".
traced() {
    local data=$TMP/traced.data
    perf record -q -m 4096 -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -o "$data" -- \
        "${PIN[@]}" "$@" \
        >"$TMP/traced.out" 2>"$TMP/traced.err" || true
    perf script --ns -F tid,time,event,trace -i "$data" 2>/dev/null |
        "$PY" "$ROOT/bench/syscall_rtt.py" 6 || echo "failed"
    rm -f "$data"
}

# kernel_gw CONNS: one traced gwbench run; "requests kcount p50 kp50 ratio p99 kp99 ratio hold
# busy 0", or "failed".
kernel_gw() {
    local k t
    k=$(traced "$GWBENCH" tcp --expect +PONG -c "$1" -t 1 -d 1s --json -q \
        "127.0.0.1:$REDIS_PORT")
    t=$(jq -r '[.requests, .latency_us.p50, .latency_us.p99] | map(tostring) | join(" ")' \
        "$TMP/traced.out" 2>/dev/null || true)
    kernel_row "$t" "$k"
}

# kernel_rb CONNS N: the same for one traced redis-benchmark run of N requests.
kernel_rb() {
    local k r t rp50 rp99
    k=$(traced redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t ping_inline -c "$1" -P 1 \
        -n "$2" --csv)
    r=$(rb_csv "$(tail -1 "$TMP/traced.out")")
    t=""
    if [ "$r" != failed ]; then
        read -r _ _ rp50 rp99 _ <<<"$r"
        t="$2 $(hdr_mid "$rp50") $(hdr_mid "$rp99")"
    fi
    kernel_row "$t" "$k"
}

# kernel_row "requests p50 p99" "count mean p50 p90 p99 hold busy": one round's figures.
kernel_row() {
    local n p50 p99 kn kp50 kp99 hold busy
    read -r n p50 p99 <<<"$1"
    read -r kn _ kp50 _ kp99 hold busy <<<"$2"
    if [ -z "$p99" ] || [ -z "$busy" ]; then
        echo "failed"
        return
    fi
    echo "$n $kn $p50 $kp50 $(ratio "$p50" "$kp50") $p99 $kp99 $(ratio "$p99" "$kp99") $hold $busy 0"
}

# gwbench against redis-benchmark, same server, same connections, one request in flight:
# side by side, then each against the kernel's timestamps of its own requests.
group_accuracy() {
    say "gwbench vs redis-benchmark against redis-server"
    start_redis
    emit "## gwbench's own accuracy: gwbench vs redis-benchmark, redis-server PING"
    emit ""
    emit "Both single-threaded, one request in flight per connection (\`-P 1\`), closed loop."
    emit "They do not time quite the same interval. gwbench: from a clock read just before"
    emit "the write() that sends a request to one just after the read() that returns its"
    emit "reply, and it reads every reply an epoll_wait() reported before it writes the next"
    emit "requests. redis-benchmark (src/redis-benchmark.c, writeHandler and readHandler):"
    emit "from just before its write to the call of its read handler, before the read();"
    emit "its handlers for connections served earlier in the same pass of its loop run inside"
    emit "that interval. It prints each percentile as the top of an 8 us wide bin"
    emit "(HdrHistogram, lowest discernible value 10 us): \`71\` stands for 64 to 71 us; the"
    emit "ratios below use the bin's middle."
    emit ""
    acc_pin
    "${PIN[@]}" "$GWBENCH" tcp -q -c 50 -t 1 -d 1s "127.0.0.1:$REDIS_PORT" >/dev/null 2>&1 || true
    acc_side_by_side
    acc_kernel
    stop_pid "$REDIS_PID"
}

# acc_pin: with two CPUs or more, redis-server on CPU 0 and the clients on CPU 1 (PIN, the
# clients' command prefix), so that every run has the same placement: left to the scheduler,
# client and server sometimes share a CPU and their round trip is then a third as long.
acc_pin() {
    PIN=() PIN_NOTE="."
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null &&
        taskset -pc 0 "$REDIS_PID" >/dev/null 2>&1; then
        PIN=(taskset -c 1)
        PIN_NOTE=";"$'\n'"redis-server on CPU 0 and the clients on CPU 1 (taskset)."
    fi
}

# spin_ready: builds bench/spin_write.c into SPIN_SO; 1 if that fails.
spin_ready() {
    SPIN_SO=$TMP/spin_write.so
    cc -O2 -shared -fPIC -o "$SPIN_SO" "$ROOT/bench/spin_write.c" -ldl 2>/dev/null
}

acc_side_by_side() {
    local c i g n gs rs ps ss xs gr gm gp50 gp99 rr rm rp50 rp99 xr x50 x99 rounds secs spin=0
    local g1="" r1=""
    emit "### Side by side"
    emit ""
    emit "Median of $ROUNDS runs of about ${SECS}s each ($RTT_ROUNDS of ${RTT_SECS}s on one"
    emit "connection), the two tools alternating$PIN_NOTE"
    emit "Each ratio is the median of the ratios of the runs made one after the other. The"
    emit "cycle is connections / rate (Little's law), the time from one send to the next on a"
    emit "connection; what it holds beyond the mean latency is time the client spent outside"
    emit "its own timing."
    emit ""
    emit "| conns | gwbench req/s | redis-benchmark req/s | rate ratio (>= 0.9) | gwbench p50 | r-b p50 | ratio | gwbench p99 | r-b p99 | ratio | gwbench mean / cycle | r-b mean / cycle |"
    emit "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    if spin_ready; then
        spin=1
    fi
    for c in 1 50 500; do
        gs=() rs=() ps=() ss=() xs=() rounds=$ROUNDS secs=$SECS
        if [ "$c" = 1 ]; then
            rounds=$RTT_ROUNDS secs=$RTT_SECS
        fi
        for ((i = 0; i < rounds; i++)); do
            g=$(acc_gw "$c" "$secs")
            gs+=("$g")
            # As many requests as gwbench answered, so both runs last about as long.
            n=$(awk -v r="${g%% *}" -v s="$secs" 'BEGIN { n = r * s; printf "%.0f", (n > 1000 ? n : 1000) }')
            rs+=("$(rb_run "$c" "$n")")
            ps+=("$(pair_ratios "$g" "${rs[-1]}")")
            if [ "$c" = 1 ] && [ "$spin" = 1 ]; then
                ss+=("$(acc_gw "$c" "$secs" LD_PRELOAD="$SPIN_SO" SPIN_WRITE_NS=7000)")
                xs+=("$(pair_ratios "${ss[-1]}" "${rs[-1]}")")
            fi
            if [ "$c" = 1 ]; then
                g1+=" $(awk '{ printf "%.0f", $3 }' <<<"$g")"
                r1+=" $(awk '{ printf "%.0f", $3 }' <<<"${rs[-1]}")"
            fi
        done
        read -r gr gm gp50 gp99 _ <<<"$(summarize "${gs[@]}")"
        read -r rr rm rp50 rp99 _ <<<"$(summarize "${rs[@]}")"
        read -r xr x50 x99 _ <<<"$(summarize "${ps[@]}")"
        acc_row "$c" "$gr $gm $gp50 $gp99" "$rr $rm $rp50 $rp99" "$xr $x50 $x99"
        if [ "${#ss[@]}" -gt 0 ]; then
            read -r gr gm gp50 gp99 _ <<<"$(summarize "${ss[@]}")"
            read -r xr x50 x99 _ <<<"$(summarize "${xs[@]}")"
            acc_row "1, gwbench spinning 7 us after each write" "$gr $gm $gp50 $gp99" \
                "$rr $rm $rp50 $rp99" "$xr $x50 $x99"
        fi
    done
    emit ""
    emit "The one-connection p50 of each run in us, in the order they ran: gwbench$g1;"
    emit "redis-benchmark (bin tops)$r1."
    emit ""
    emit "On one connection what remains between the two is in the round trips, not in their"
    emit "timing (each tool against the kernel, below): after each write redis-benchmark"
    emit "spends a few microseconds on two epoll_ctl() calls before it waits for the reply"
    emit "(busy, below), gwbench waits at once, and on a virtual machine a CPU that has gone"
    emit "idle is slower to wake. The row \"gwbench spinning\" is the control: the same"
    emit "gwbench with a busy-wait of 7 us after each write() (bench/spin_write.c, LD_PRELOAD),"
    emit "inside its own timed interval, run as a third in each round. With more connections"
    emit "the two offer the server different loads (the rates differ), and redis-benchmark's"
    emit "interval also holds its own work for other connections (hold, below): latencies"
    emit "measured that way are not comparable."
    commands "${PIN[*]}${PIN:+ }gwbench tcp --expect +PONG -c C -t 1 -d ${SECS}s --json -q 127.0.0.1:PORT" \
        "${PIN[*]}${PIN:+ }redis-benchmark -h 127.0.0.1 -p PORT -t ping_inline -c C -P 1 -n (gwbench's rate x ${SECS}) --csv" \
        "cc -O2 -shared -fPIC -o spin_write.so bench/spin_write.c -ldl" \
        "${PIN[*]}${PIN:+ }env LD_PRELOAD=spin_write.so SPIN_WRITE_NS=7000 gwbench tcp ... -c 1 ...   (the control)"
}

acc_kernel() {
    local c i n gs rs
    emit "### Each tool against the kernel's clock"
    emit ""
    emit "Runs of either tool are seconds apart on a shared virtual machine, and the round"
    emit "trip itself differs from one to the next (above): two tools run apart can disagree"
    emit "by more than 10% while each reports its own requests exactly. This check compares"
    emit "like with like: each tool's percentiles against the kernel's timestamps of the same"
    emit "requests in the same run. \`perf record\` takes the client's system calls"
    emit "(raw_syscalls tracepoints); a request runs from the entry of the write() or sendto()"
    emit "that sent it to the exit of the read() or recvfrom() that returned its reply"
    emit "(bench/syscall_rtt.py), the widest interval a client can time on that socket."
    emit "Tracing slows every system call by about a microsecond, for both tools alike."
    emit "Hold is the mean time from the epoll_wait() that reported a reply to the read()"
    emit "that got it: the client's work on other connections, inside both kernel and tool"
    emit "figures. Busy is the mean time from the client's last write() of requests to its"
    emit "next epoll_wait(): its own work before it waits for the replies. Median of"
    emit "$((RTT_ROUNDS / 2)) runs of each tool (alternating) on one connection, one run of each on 50;"
    emit "CPUs as above."
    emit ""
    if ! perf_ready; then
        emit "Not measured: $PERF_WHY."
        emit ""
        return
    fi
    emit "| conns | client | requests (tool / kernel) | tool p50 | kernel p50 | ratio | tool p99 | kernel p99 | ratio | hold | busy |"
    emit "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for c in 1 50; do
        gs=() rs=() n=$((c == 1 ? RTT_ROUNDS / 2 : 1))
        for ((i = 0; i < n; i++)); do
            gs+=("$(kernel_gw "$c")")
            rs+=("$(kernel_rb "$c" $((c == 1 ? 10000 : 30000)))")
        done
        kernel_table_row "$c" gwbench "$(summarize "${gs[@]}")"
        kernel_table_row "$c" redis-benchmark "$(summarize "${rs[@]}")"
    done
    emit ""
    emit "redis-benchmark's tool figures are the middles of its bins."
    commands "perf record -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -o F -- CLIENT" \
        "perf script --ns -F tid,time,event,trace -i F | bench/syscall_rtt.py 6" \
        "  CLIENT: gwbench tcp --expect +PONG -c C -t 1 -d 1s --json -q 127.0.0.1:PORT" \
        "          redis-benchmark -h 127.0.0.1 -p PORT -t ping_inline -c C -P 1 -n N --csv"
}

kernel_table_row() {
    local n kn p50 kp50 r50 p99 kp99 r99 hold busy
    read -r n kn p50 kp50 r50 p99 kp99 r99 hold busy _ <<<"$3"
    if [ "$n" = failed ]; then
        emit "| $1 | $2 | failed | | | | | | | | |"
        return
    fi
    emit "| $1 | $2 | $(fmt_rate "$n") / $(fmt_rate "$kn") | $(fmt_us "$p50") | $(fmt_us "$kp50") | $r50 | $(fmt_us "$p99") | $(fmt_us "$kp99") | $r99 | $(fmt_us "$hold") | $(fmt_us1 "$busy") |"
}

# ---- logd ---------------------------------------------------------------------------

# loggen (syslog-ng's load generator) comes from Debian's syslog-ng-core, which conflicts with
# rsyslog as an installed package: its .deb is unpacked under the build folder instead and run
# from there. Sets LOGGEN (a command prefix), or returns 1.
loggen_ready() {
    local dir=$BUILD/bench/syslog-ng deb
    if [ ! -x "$dir/usr/bin/loggen" ]; then
        mkdir -p "$dir" "$BUILD/bench/deb"
        (cd "$BUILD/bench/deb" && apt-get download syslog-ng-core >/dev/null 2>&1) || return 1
        deb=$(ls "$BUILD"/bench/deb/syslog-ng-core_*.deb 2>/dev/null | head -1)
        [ -n "$deb" ] && dpkg-deb -x "$deb" "$dir" || return 1
    fi
    LOGGEN=(env SYSLOGNG_PREFIX="$dir/usr" LD_LIBRARY_PATH="$dir/usr/lib/syslog-ng" "$dir/usr/bin/loggen")
    "${LOGGEN[@]}" --help >/dev/null 2>&1
}

# Starts rsyslogd (imtcp -> omfile, its defaults otherwise) pinned to CPU 0; sets RS_PID,
# RS_PORT, RS_OUT.
# start_rsyslog [on]: rsyslogd (imtcp -> omfile) pinned to CPU 0; with "on", omfile's sync="on"
# (each batch written and synced: logd's fsync = batch). Sets RS_PID, RS_PORT, RS_OUT.
start_rsyslog() {
    local sync=${1:-off} dir
    RS_PORT=$(free_port)
    dir=$TMP/rsyslog.$RS_PORT
    mkdir -p "$dir"
    RS_OUT=$dir/out.log
    cat >"$dir/rsyslog.conf" <<CONF
global(workDirectory="$dir")
module(load="imtcp")
input(type="imtcp" port="$RS_PORT" address="127.0.0.1")
*.* action(type="omfile" file="$RS_OUT" sync="$sync")
CONF
    start_bg rsyslog taskset -c 0 rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid"
    RS_PID=$LAST_PID
    wait_port "$RS_PORT" "$RS_PID"
}

# Starts logd with one worker and fsync = FSYNC pinned to CPU 0; sets LOGD_PID, LOGD_PORT (syslog),
# LOGD_NATIVE_PORT, LOGD_OUT, or returns 1.
start_logd() {
    local fsync=$1 dir
    LOGD_PID="" LOGD_PORT=$(free_port) LOGD_NATIVE_PORT=$(free_port)
    [ -x "$LOGD" ] || return 1
    dir=$TMP/logd.$LOGD_PORT
    mkdir -p "$dir/run" "$dir/state"
    LOGD_OUT=$dir/out.log
    start_bg "logd.$LOGD_PORT" taskset -c 0 env GWKIT_LOGD_SYSLOG_LISTEN="127.0.0.1:$LOGD_PORT" \
        GWKIT_LOGD_NATIVE_LISTEN="127.0.0.1:$LOGD_NATIVE_PORT" GWKIT_LOGD_HTTP_LISTEN="127.0.0.1:$(free_port)" \
        GWKIT_LOGD_OUTPUT="$LOGD_OUT" GWKIT_LOGD_FSYNC="$fsync" GWKIT_LOGD_WORKERS=1 \
        GWKIT_LOGD_COMPRESS=no GWKIT_LOGD_ROTATE_SIZE=0 GWKIT_GLOBAL_RUN_DIR="$dir/run" GWKIT_GLOBAL_STATE_DIR="$dir/state" \
        GWKIT_GLOBAL_LOG_LEVEL=warning "$LOGD"
    LOGD_PID=$LAST_PID
    if ! wait_port "$LOGD_PORT" "$LOGD_PID"; then
        echo "bench: logd did not start; its log:" >&2
        sed 's/^/  /' "$TMP/logd.$LOGD_PORT.log" >&2 || true
        LOGD_PID=""
        return 1
    fi
}

lines_of() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# collect PID PORT OUTFILE: loggen (RFC 5424, octet counting, LOG_CONNS connections at full
# rate for SECS s, pinned to CPU 1) against a collector; the lines counted in its output file
# once it stops growing, not what the sender claims. "rate cpu_s_per_million sent written 0"
# (the rate: lines written over the time from the first send to the last line landing).
collect() { collect_with send_loggen "$@"; }

# send_loggen PORT: loggen's RFC 5424 load; prints the lines it says it sent.
send_loggen() {
    taskset -c 1 "${LOGGEN[@]}" -i -S -P -r 100000000 -s "$LOG_SIZE" -I "$SECS" \
        --active-connections="$LOG_CONNS" 127.0.0.1 "$1" 2>&1 |
        sed -n 's/.*average rate.*count=\([0-9]*\),.*/\1/p' | tail -1
}

# collect_with SENDER PID PORT OUTFILE: SENDER PORT loads the collector and prints the lines
# it sent; the lines in OUTFILE are counted once the file stops growing.
collect_with() {
    local send=$1 pid=$2 port=$3 out=$4 l0 l1 last cpu0 cpu1 t0 tlast now sent i
    l0=$(lines_of "$out")
    cpu0=$(cpu_secs "$pid")
    t0=$(date +%s.%N)
    sent=$("$send" "$port")
    last=-1 tlast=$(date +%s.%N)
    for ((i = 0; i < 100; i++)); do
        l1=$(lines_of "$out")
        now=$(date +%s.%N)
        if [ "$l1" = "$last" ]; then
            break
        fi
        last=$l1 tlast=$now
        sleep 0.2
    done
    cpu1=$(cpu_secs "$pid")
    if [ -z "$sent" ] || [ "$l1" -le "$l0" ]; then
        echo failed
        return
    fi
    awk -v n="$((l1 - l0))" -v t0="$t0" -v t1="$tlast" -v c0="$cpu0" -v c1="$cpu1" -v s="$sent" \
        'BEGIN { printf "%.0f %.3f %d %d 0", n / (t1 - t0), (c1 - c0) / n * 1e6, s, n }'
}

# logd_vs_rsyslog_rows COLLECT: the table rows of logd (fsync never, then batch) against
# rsyslog, ROUNDS runs each, alternating, each run measured by COLLECT (collect: loggen;
# collect_gw: gwbench); a row says so when rsyslogd does not start.
logd_vs_rsyslog_rows() {
    local collect=$1 row fsync sync label i ls rs lr lcpu le rr rcpu re
    # logd's fsync : rsyslog omfile's sync. The last row is like for like: both sync each batch.
    for row in never:off batch:off batch:on; do
        fsync=${row%%:*} sync=${row##*:}
        label=$fsync
        [ "$sync" = on ] && label="$fsync, rsyslog sync=on"
        start_rsyslog "$sync" || { emit "| $label | | rsyslogd did not start | | | | | |"; continue; }
        if ! start_logd "$fsync"; then
            emit "| $label | missing | | | | | | |"
            stop_pid "$RS_PID"
            continue
        fi
        ls=() rs=()
        for ((i = 0; i < ROUNDS; i++)); do
            ls+=("$("$collect" "$LOGD_PID" "$LOGD_PORT" "$LOGD_OUT")")
            rs+=("$("$collect" "$RS_PID" "$RS_PORT" "$RS_OUT")")
        done
        # Lost: every line the runs sent less every line in the file once the collector has
        # stopped (and so written what it held). Per run, a line that lands after the run's
        # file stopped growing would count as lost there and extra in the next run.
        stop_pid "$LOGD_PID"
        stop_pid "$RS_PID"
        read -r lr lcpu _ _ _ <<<"$(summarize "${ls[@]}")"
        read -r rr rcpu _ _ _ <<<"$(summarize "${rs[@]}")"
        if [ "$lr" = failed ] || [ "$rr" = failed ]; then
            emit "| $label | $lr | $rr | - | | | - | |"
        else
            le=$(($(sent_total "${ls[@]}") - $(lines_of "$LOGD_OUT")))
            re=$(($(sent_total "${rs[@]}") - $(lines_of "$RS_OUT")))
            emit "| $label | $(fmt_rate "$lr") | $(fmt_rate "$rr") | $(pair_ratio 1 "${ls[@]}" -- "${rs[@]}") | $(fmt_cpu "$lcpu") | $(fmt_cpu "$rcpu") | $(pair_ratio 2 "${ls[@]}" -- "${rs[@]}") | $le / $re |"
        fi
    done
}

# sent_total RUN...: the lines sent over the runs (field 3 of collect_with's lines).
sent_total() { printf '%s\n' "$@" | awk '{ s += $3 } END { print s + 0 }'; }

# logd vs rsyslog, the same loggen load, each pinned to CPU 0 and loggen to CPU 1.
group_logd_vs_rsyslog() {
    local fsync i ls rs lr lcpu lsent lw rr rcpu rsent rw le re
    say "logd vs rsyslog (loggen, RFC 5424 over TCP)"
    emit "## logd vs rsyslog: syslog over TCP into a file"
    emit ""
    if ! loggen_ready; then
        emit "loggen could not be unpacked from syslog-ng-core here; no rows."
        emit ""
        return 0
    fi
    emit "loggen sends RFC 5424 messages of $LOG_SIZE bytes with octet-counting framing over"
    emit "$LOG_CONNS TCP connections at full rate for ${SECS}s; the rate is the lines counted in"
    emit "the output file (once it stops growing) over the time from the first send to the last"
    emit "line landing, not what loggen claims. logd (one worker) and rsyslogd (imtcp -> omfile,"
    emit "its defaults: no fsync) pinned to CPU 0, loggen to CPU 1. In the last row rsyslog's omfile"
    emit "has sync=\"on\" (each batch written and synced), which is what logd's fsync = batch does:"
    emit "like for like; in the batch row above it, part of logd's CPU is its fdatasyncs, which"
    emit "rsyslog's default does not make. CPU is the collector's CPU seconds per million lines (all"
    emit "threads, schedstat). Median of $ROUNDS runs, alternating."
    emit "The log server this project grew from claims 50,000 msg/s on 8 workers (6,250 per core);"
    emit "logd's figure here is on one core."
    emit ""
    emit "| logd fsync | logd lines/s | rsyslog lines/s | ratio | logd CPU s/M | rsyslog CPU s/M | CPU ratio | lines lost (logd / rsyslog) |"
    emit "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    logd_vs_rsyslog_rows collect
    commands "taskset -c 1 loggen -i -S -P -r 100000000 -s $LOG_SIZE -I $SECS --active-connections=$LOG_CONNS 127.0.0.1 PORT" \
        "taskset -c 0 env GWKIT_LOGD_SYSLOG_LISTEN=127.0.0.1:PORT GWKIT_LOGD_OUTPUT=F GWKIT_LOGD_FSYNC=never|batch GWKIT_LOGD_WORKERS=1 GWKIT_LOGD_ROTATE_SIZE=0 logd" \
        "taskset -c 0 rsyslogd -n -f CONF   (module(load=\"imtcp\") input(type=\"imtcp\" ...) *.* action(type=\"omfile\" file=F sync=\"off|on\"))"
}

# native_run PID OUTFILE ARGS...: one gwbench log run (logd's native protocol, acknowledged,
# pinned to CPU 1) against logd; the lines its file gained counted right after gwbench ends
# (an acknowledged line is in the file by then). "rate p50_us p99_us cpu_s_per_million
# written-acked errors", or "failed".
native_run() {
    local pid=$1 out=$2 f=$TMP/native.json l0 l1 cpu0 cpu1
    shift 2
    l0=$(lines_of "$out")
    cpu0=$(cpu_secs "$pid")
    taskset -c 1 "$GWBENCH" log "$@" --json -q >"$f" 2>"$f.err" || true
    cpu1=$(cpu_secs "$pid")
    l1=$(lines_of "$out")
    if [ ! -s "$f" ] || ! jq -e '.requests > 0' "$f" >/dev/null 2>&1; then
        echo "failed"
        return
    fi
    jq -r --arg c0 "$cpu0" --arg c1 "$cpu1" --arg w "$((l1 - l0))" '[.records_rate, .latency_us.p50,
        .latency_us.p99, (($c1 | tonumber) - ($c0 | tonumber)) / .records * 1e6,
        (($w | tonumber) - .records), .error_total] | map(tostring) | join(" ")' "$f"
}

# collect_gw PID PORT OUTFILE: as collect, with gwbench log --syslog tcp (RFC 5424, octet
# counting) as the sender instead of loggen.
collect_gw() { collect_with send_gwbench "$@"; }

# send_gwbench PORT: gwbench's syslog load; prints the whole lines it sent.
send_gwbench() {
    local f=$TMP/gwsyslog.json
    taskset -c 1 "$GWBENCH" log --syslog tcp --format 5424 --framing octet -c "$LOG_CONNS" \
        -d "${SECS}s" --size "$LOG_SIZE" --json -q "127.0.0.1:$1" >"$f" 2>"$f.err" || true
    jq -r '.sent_total // empty' "$f" 2>/dev/null
}

# logd's native protocol with acknowledgements (fsync = batch), then gwbench's own syslog load
# against logd and rsyslog (the loggen rows' setup, gwbench as the sender).
group_logd_native() {
    local n b run i rs r p50 p99 cpu extra errs fsync ls lr lcpu lsent lw le rr rcpu rsent rw re
    say "logd native protocol (gwbench log, acknowledged, fsync = batch)"
    emit "## logd: native protocol with acknowledgements"
    emit ""
    emit "gwbench log sends logd's native protocol: each request one BATCH of 1 or 100 records"
    emit "(--batch) of $LOG_NATIVE_SIZE message bytes, each reply its ACK, which logd sends only once the"
    emit "records are in its file under fsync = batch (one fsync per batch of writes); one batch in"
    emit "flight per connection, closed loop for ${SECS}s. logd (one worker, a raw-lines file output)"
    emit "pinned to CPU 0, gwbench to CPU 1. Acked lines/s is gwbench's rate of acknowledged records;"
    emit "the latency is the acknowledged latency of a batch (write to ACK); CPU is logd's CPU seconds"
    emit "per million lines (all threads, schedstat): with one record per batch and few connections"
    emit "an fsync covers few lines, so it is mostly the fsyncs' kernel time; a client that batches"
    emit "(lib/logclient sends what accumulated while the last batch was in flight) pays it once per"
    emit "batch. The last column is the lines the file gained minus the lines acknowledged, summed"
    emit "over the runs: 0 when every acknowledged line is in the file and nothing else is. Median of"
    emit "$ROUNDS runs."
    emit ""
    emit "| connections | records per batch | acked lines/s | ack p50 | ack p99 | logd CPU s/M | file - acked | errors |"
    emit "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    if ! start_logd batch; then
        emit "| - | | missing | | | | | |"
    else
        for run in $LOG_NATIVE_RUNS; do
            n=${run%%:*} b=${run##*:}
            rs=()
            for ((i = 0; i < ROUNDS; i++)); do
                rs+=("$(native_run "$LOGD_PID" "$LOGD_OUT" -c "$n" --batch "$b" -d "${SECS}s" \
                    --size "$LOG_NATIVE_SIZE" "127.0.0.1:$LOGD_NATIVE_PORT")")
            done
            read -r r p50 p99 cpu extra errs <<<"$(summarize "${rs[@]}")"
            if [ "$r" = failed ]; then
                emit "| $n | $b | failed | | | | | |"
                continue
            fi
            extra=$(printf '%s\n' "${rs[@]}" | awk '{ s += $5 } END { print s }')
            emit "| $n | $b | $(fmt_rate "$r") | $(fmt_us "$p50") | $(fmt_us "$p99") | $(fmt_cpu "$cpu") | $extra | $errs |"
        done
        stop_pid "$LOGD_PID"
    fi
    commands "taskset -c 0 env GWKIT_LOGD_NATIVE_LISTEN=127.0.0.1:PORT GWKIT_LOGD_OUTPUT=F GWKIT_LOGD_FSYNC=batch GWKIT_LOGD_WORKERS=1 GWKIT_LOGD_ROTATE_SIZE=0 logd" \
        "$(for run in $LOG_NATIVE_RUNS; do printf 'taskset -c 1 gwbench log -c %s --batch %s -d %ss --size %s --json -q 127.0.0.1:PORT\n' "${run%%:*}" "${run##*:}" "$SECS" "$LOG_NATIVE_SIZE"; done)"

    say "logd vs rsyslog (gwbench log --syslog tcp)"
    emit "## logd vs rsyslog: gwbench's syslog load over TCP"
    emit ""
    emit "The loggen rows' setup with gwbench log --syslog tcp as the sender: RFC 5424 lines of"
    emit "$LOG_SIZE bytes, octet counting, $LOG_CONNS connections, as fast as the collector reads, for"
    emit "${SECS}s; lines counted in the output file, the rate from the first send to the last line"
    emit "landing. Each line carries its connection and a counter. Median of $ROUNDS runs, alternating."
    emit ""
    emit "| logd fsync | logd lines/s | rsyslog lines/s | ratio | logd CPU s/M | rsyslog CPU s/M | CPU ratio | lines lost (logd / rsyslog) |"
    emit "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    logd_vs_rsyslog_rows collect_gw
    commands "taskset -c 1 gwbench log --syslog tcp --format 5424 --framing octet -c $LOG_CONNS -d ${SECS}s --size $LOG_SIZE --json -q 127.0.0.1:PORT" \
        "(logd and rsyslogd as in the loggen rows)"
}

# ---- wsgwd vs a direct TCP echo, websockify and node ws --------------------------------

WSGWD=$BUILD/bin/wsgwd
ECHO_BACKEND=$BUILD/bin/echo-backend
WS_SIZE=${BENCH_WS_SIZE:-32}
WS_IDLE=${BENCH_WS_IDLE:-10000}

# CPU seconds of PID and its children (websockify forks one per connection): its own and
# its live children's threads (schedstat), plus the children it reaped (cutime + cstime
# ticks), so a child's time is counted once whether it ends during the run or not.
tree_cpu_secs() {
    local live reaped c
    live=$(cpu_secs "$1")
    for c in $(pgrep -P "$1" 2>/dev/null); do
        live=$(awk -v a="$live" -v b="$(cpu_secs "$c")" 'BEGIN { printf "%.6f", a + b }')
    done
    reaped=$(sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.6f", ($14 + $15) / hz }')
    awk -v a="$live" -v b="$reaped" 'BEGIN { printf "%.6f", a + b }'
}

# cpu_ticks N: "busy total" jiffies of CPU N from /proc/stat (busy: all but idle and iowait).
cpu_ticks() {
    awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# ws_measure CPU_FN PID ARGS...: measure, with the CPU of PID read by CPU_FN (cpu_secs, or
# tree_cpu_secs for a forking server). Prints "rate p50 p99 cpu_s_per_million load_busy
# server_busy errors", load_busy the fraction of CPU 1 (gwbench's, and a backend placed there)
# in use: near 1 with server_busy (CPU 0) well below, the load side rather than the server was
# the limit.
ws_measure() {
    local fn=$1 pid=$2 c0 c1 t0 t1 u0 u1 f=$TMP/ws.json
    shift 2
    c0=$("$fn" "$pid")
    t0=$(cpu_ticks 1) u0=$(cpu_ticks 0)
    "${WS_PIN[@]}" "$GWBENCH" "$@" --json -q >"$f" 2>"$f.err" || true
    t1=$(cpu_ticks 1) u1=$(cpu_ticks 0)
    c1=$("$fn" "$pid")
    if [ ! -s "$f" ] || ! jq -e '.requests > 0' "$f" >/dev/null 2>&1; then
        echo "failed"
        return
    fi
    jq -r --arg c0 "$c0" --arg c1 "$c1" --arg t0 "$t0" --arg t1 "$t1" --arg u0 "$u0" --arg u1 "$u1" '
        def busy(a; b): (a | split(" ") | map(tonumber)) as $a | (b | split(" ") | map(tonumber)) as $b |
            if $b[1] > $a[1] then ($b[0] - $a[0]) / ($b[1] - $a[1]) else 0 end;
        [.rate, .latency_us.p50, .latency_us.p99,
        (($c1 | tonumber) - ($c0 | tonumber)) / .requests * 1e6,
        busy($t0; $t1), busy($u0; $u1), .error_total]
        | map(tostring) | join(" ")' "$f"
}

# start_on_cpu0 NAME PORT CMD...: starts CMD pinned to CPU 0 (when there are two), waits for
# PORT; sets LAST_PID, or returns 1.
start_on_cpu0() {
    local name=$1 port=$2
    shift 2
    start_bg "$name" "${SRV_PIN[@]}" "$@"
    wait_port "$port" "$LAST_PID" || {
        say "$name did not start"
        sed 's/^/  /' "$TMP/$name.log" >&2 || true
        return 1
    }
}

start_wsgwd_gw() {
    local name=$1 port=$2 http dir
    shift 2
    http=$(free_port)
    dir=$TMP/$name
    mkdir -p "$dir"
    start_on_cpu0 "$name" "$port" env GWKIT_GLOBAL_RUN_DIR="$dir" GWKIT_WSGWD_HTTP_LISTEN="127.0.0.1:$http" \
        GWKIT_WSGWD_WORKERS=1 GWKIT_GLOBAL_LOG_LEVEL=warning "$WSGWD" "$@"
}

ws_row() {
    local name=$1 conns=$2 line=$3 ref=$4 rate p50 p99 cpu busy busy0 err
    if [ "$line" = failed ] || [ -z "$line" ]; then
        emit "| $name | $conns | failed | | | | | | | |"
        return
    fi
    read -r rate p50 p99 cpu busy busy0 err <<<"$line"
    emit "| $name | $conns | $(fmt_rate "$rate") | $(fmt_us "$p50") | $(fmt_us "$p99") | $(fmt_cpu "$cpu") | $(fmt_pct "$busy0") | $(fmt_pct "$busy") | $ref | $err |"
}

group_wsgwd() {
    local echo_port eb_port ws_port raw_port fr_port node_port c i pids=() names=() fns=()
    local echo1_port eb1_port ws1_port raw1_port fr1_port r be_cpu
    local -a lines_tcp lines_ws lines_node lines_raw lines_fr lines_ws1 lines_raw1 lines_fr1 rows1
    say "wsgwd vs TCP echo, websockify and node ws"
    emit "## wsgwd: WebSocket echo of $WS_SIZE-byte binary messages"
    emit ""
    if [ ! -x "$WSGWD" ] || [ ! -x "$ECHO_BACKEND" ]; then
        emit "wsgwd or echo-backend is not built; no rows."
        emit ""
        return 0
    fi
    SRV_PIN=() WS_PIN=()
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        SRV_PIN=(taskset -c 0) WS_PIN=(taskset -c 1)
    fi
    cc -O2 -o "$TMP/tcp_echo" "$ROOT/bench/tcp_echo.c" || { emit "tcp_echo did not build; no rows."; return 0; }
    echo_port=$(free_port) eb_port=$(free_port) ws_port=$(free_port) raw_port=$(free_port)
    fr_port=$(free_port) node_port=$(free_port)
    echo1_port=$(free_port) eb1_port=$(free_port) ws1_port=$(free_port) raw1_port=$(free_port)
    fr1_port=$(free_port)
    start_on_cpu0 tcp_echo "$echo_port" "$TMP/tcp_echo" "$echo_port" || return 0
    pids+=("$LAST_PID") names+=("TCP echo, no gateway") fns+=(cpu_secs)
    start_on_cpu0 echo_backend "$eb_port" "$ECHO_BACKEND" "127.0.0.1:$eb_port" || return 0
    start_on_cpu0 websockify "$ws_port" websockify "127.0.0.1:$ws_port" "127.0.0.1:$echo_port" || return 0
    pids+=("$LAST_PID") names+=("websockify") fns+=(tree_cpu_secs)
    start_on_cpu0 node_ws "$node_port" env NODE_PATH=/usr/share/nodejs node "$ROOT/bench/ws_echo.js" "$node_port" || return 0
    pids+=("$LAST_PID") names+=("node ws echo server") fns+=(cpu_secs)
    start_wsgwd_gw wsgwd_raw "$raw_port" --raw "$raw_port" "127.0.0.1:$echo_port" || return 0
    pids+=("$LAST_PID") names+=("wsgwd --raw, TCP echo") fns+=(cpu_secs)
    start_wsgwd_gw wsgwd_frames "$fr_port" "$fr_port" "127.0.0.1:$eb_port" || return 0
    pids+=("$LAST_PID") names+=("wsgwd, echo-backend (frames)") fns+=(cpu_secs)
    # The same gateways in front of backends off CPU 0: the gateway alone on its CPU, as when
    # its backends run on other cores or machines. With a third CPU the backends get it, so
    # neither they nor gwbench are the limit; with two they share CPU 1 with gwbench.
    be_cpu=1
    [ "$(nproc)" -ge 3 ] && [ "${#WS_PIN[@]}" -gt 0 ] && be_cpu=2
    SRV_PIN=("${WS_PIN[@]}")
    [ "$be_cpu" = 2 ] && SRV_PIN=(taskset -c 2)
    start_on_cpu0 tcp_echo1 "$echo1_port" "$TMP/tcp_echo" "$echo1_port" || return 0
    start_on_cpu0 echo_backend1 "$eb1_port" "$ECHO_BACKEND" "127.0.0.1:$eb1_port" || return 0
    [ "${#WS_PIN[@]}" -gt 0 ] && SRV_PIN=(taskset -c 0)
    start_on_cpu0 websockify1 "$ws1_port" websockify "127.0.0.1:$ws1_port" "127.0.0.1:$echo1_port" || return 0
    pids+=("$LAST_PID")
    start_wsgwd_gw wsgwd_raw1 "$raw1_port" --raw "$raw1_port" "127.0.0.1:$echo1_port" || return 0
    pids+=("$LAST_PID")
    start_wsgwd_gw wsgwd_frames1 "$fr1_port" "$fr1_port" "127.0.0.1:$eb1_port" || return 0
    pids+=("$LAST_PID")
    sleep 1
    local line32
    line32=$(printf '%*s' "$((WS_SIZE - 1))" '' | tr ' ' x)
    emit "Closed loop, gwbench on CPU 1 with one thread; the servers on CPU 0 (wsgwd with one"
    emit "worker). In the first table a gateway's backend runs on CPU 0 too, so a gateway's rate"
    emit "is that of the whole path on one CPU: three loopback TCP sends and three receives per"
    emit "message (client, gateway, backend) against one of each for the TCP echo alone and for"
    emit "node ws, which has no backend. The second table puts the backends on CPU $be_cpu$([ "$be_cpu" = 1 ] && echo " beside")"
    emit "$([ "$be_cpu" = 1 ] && echo "gwbench, ")so CPU 0 runs the gateway alone, as when its backends are elsewhere (DESIGN.md:"
    emit "the rate at saturation is the server's own); CPU 1 busy says when the load side was near"
    emit "its limit instead (with CPU 0, the gateway's, below 100%). CPU is the gateway's own CPU seconds per million messages (the TCP"
    emit "echo's for the first row; websockify's with the processes it forks per connection)."
    emit "The ratio rows give wsgwd's rate over the other server's under msg/s, and the other"
    emit "server's CPU per message over wsgwd's under CPU s/M (above 1, wsgwd spends less)."
    emit "Median of $ROUNDS runs of ${SECS}s, the servers alternating."
    emit ""
    emit "Backends on CPU 0 with the gateway:"
    emit ""
    emit "| server | conns | msg/s | p50 | p99 | CPU s/M | CPU 0 busy | CPU 1 busy | ratio to TCP echo | errors |"
    emit "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    rows1=()
    for c in 50 1000; do
        lines_tcp=() lines_ws=() lines_node=() lines_raw=() lines_fr=()
        lines_ws1=() lines_raw1=() lines_fr1=()
        for ((i = 0; i < ROUNDS; i++)); do
            lines_tcp+=("$(ws_measure cpu_secs "${pids[0]}" tcp --send "$line32\\n" --expect "$line32" -c "$c" -t 1 -d "${SECS}s" "127.0.0.1:$echo_port")")
            lines_ws+=("$(ws_measure tree_cpu_secs "${pids[1]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$ws_port/")")
            lines_node+=("$(ws_measure cpu_secs "${pids[2]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$node_port/")")
            lines_raw+=("$(ws_measure cpu_secs "${pids[3]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$raw_port/")")
            lines_fr+=("$(ws_measure cpu_secs "${pids[4]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$fr_port/")")
            lines_ws1+=("$(ws_measure tree_cpu_secs "${pids[5]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$ws1_port/")")
            lines_raw1+=("$(ws_measure cpu_secs "${pids[6]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$raw1_port/")")
            lines_fr1+=("$(ws_measure cpu_secs "${pids[7]}" ws --size "$WS_SIZE" -c "$c" -t 1 -d "${SECS}s" "ws://127.0.0.1:$fr1_port/")")
        done
        ws_row "${names[0]}" "$c" "$(summarize "${lines_tcp[@]}")" "1.00"
        ws_row "${names[1]}" "$c" "$(summarize "${lines_ws[@]}")" "$(pair_ratio 1 "${lines_ws[@]}" -- "${lines_tcp[@]}")"
        ws_row "${names[2]}" "$c" "$(summarize "${lines_node[@]}")" "$(pair_ratio 1 "${lines_node[@]}" -- "${lines_tcp[@]}")"
        ws_row "${names[3]}" "$c" "$(summarize "${lines_raw[@]}")" "$(pair_ratio 1 "${lines_raw[@]}" -- "${lines_tcp[@]}")"
        ws_row "${names[4]}" "$c" "$(summarize "${lines_fr[@]}")" "$(pair_ratio 1 "${lines_fr[@]}" -- "${lines_tcp[@]}")"
        emit "| wsgwd --raw / websockify | $c | $(pair_ratio 1 "${lines_raw[@]}" -- "${lines_ws[@]}") | | | $(pair_ratio 4 "${lines_ws[@]}" -- "${lines_raw[@]}") | | | | |"
        emit "| wsgwd --raw / node ws | $c | $(pair_ratio 1 "${lines_raw[@]}" -- "${lines_node[@]}") | | | $(pair_ratio 4 "${lines_node[@]}" -- "${lines_raw[@]}") | | | | |"
        # The second table's rows, written after this one.
        rows1+=("${names[0]}|$c|$(summarize "${lines_tcp[@]}")|1.00")
        rows1+=("${names[2]}|$c|$(summarize "${lines_node[@]}")|$(pair_ratio 1 "${lines_node[@]}" -- "${lines_tcp[@]}")")
        rows1+=("websockify, echo on CPU $be_cpu|$c|$(summarize "${lines_ws1[@]}")|$(pair_ratio 1 "${lines_ws1[@]}" -- "${lines_tcp[@]}")")
        rows1+=("wsgwd --raw, echo on CPU $be_cpu|$c|$(summarize "${lines_raw1[@]}")|$(pair_ratio 1 "${lines_raw1[@]}" -- "${lines_tcp[@]}")")
        rows1+=("wsgwd, echo-backend on CPU $be_cpu|$c|$(summarize "${lines_fr1[@]}")|$(pair_ratio 1 "${lines_fr1[@]}" -- "${lines_tcp[@]}")")
        rows1+=("=wsgwd --raw / websockify|$c|$(pair_ratio 1 "${lines_raw1[@]}" -- "${lines_ws1[@]}")|$(pair_ratio 4 "${lines_ws1[@]}" -- "${lines_raw1[@]}")")
        rows1+=("=wsgwd --raw / node ws|$c|$(pair_ratio 1 "${lines_raw1[@]}" -- "${lines_node[@]}")|$(pair_ratio 4 "${lines_node[@]}" -- "${lines_raw1[@]}")")
    done
    emit ""
    emit "Backends on CPU $be_cpu (the TCP echo and node ws rows are the first table's):"
    emit ""
    emit "| server | conns | msg/s | p50 | p99 | CPU s/M | CPU 0 busy | CPU 1 busy | ratio to TCP echo | errors |"
    emit "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for r in "${rows1[@]}"; do
        IFS='|' read -r -a f <<<"$r"
        case ${f[0]} in
        =*) emit "| ${f[0]#=} | ${f[1]} | ${f[2]} | | | ${f[3]} | | | | |" ;;
        *) ws_row "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" ;;
        esac
    done
    ws_idle_row "${pids[4]}" "$fr_port"
    commands "taskset -c 0 tcp_echo PORT   (bench/tcp_echo.c)" \
        "taskset -c 0 websockify 127.0.0.1:PORT 127.0.0.1:ECHO_PORT" \
        "taskset -c 0 node bench/ws_echo.js PORT" \
        "taskset -c 0 env GWKIT_WSGWD_WORKERS=1 wsgwd --raw PORT 127.0.0.1:ECHO_PORT" \
        "taskset -c 0 echo-backend 127.0.0.1:EB_PORT; taskset -c 0 env GWKIT_WSGWD_WORKERS=1 wsgwd PORT 127.0.0.1:EB_PORT" \
        "second table: taskset -c $be_cpu tcp_echo ECHO_PORT; taskset -c $be_cpu echo-backend 127.0.0.1:EB_PORT; the gateways as above" \
        "taskset -c 1 gwbench ws --size $WS_SIZE -c C -t 1 -d ${SECS}s --json -q ws://127.0.0.1:PORT/" \
        "taskset -c 1 gwbench tcp --send 'xxx...x\\n' --expect xxx...x -c C -t 1 -d ${SECS}s --json -q 127.0.0.1:ECHO_PORT" \
        "gwbench ws --idle -c $WS_IDLE -t 1 -d 4s ws://127.0.0.1:PORT/   (RSS read once all are open)"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${pids[$i]}"
    done
}

# The RSS of a framed wsgwd holding WS_IDLE idle WebSocket clients (handshake done).
ws_idle_row() {
    local n=$WS_IDLE
    n=$((n < IDLE_CONNS ? n : IDLE_CONNS))
    emit ""
    emit "| wsgwd idle WebSocket clients | open | RSS before | RSS with them | bytes per client |"
    emit "| --- | ---: | ---: | ---: | ---: |"
    idle_row wsgwd "$1" "$n" "ws://127.0.0.1:$2/"
    emit ""
}

# ---- main ---------------------------------------------------------------------------

machine() {
    emit "# gwkit benchmark results"
    emit ""
    emit "Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
    emit ""
    emit "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    emit "- kernel: $(uname -sr); Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
    emit "- peers: $(redis-server --version | awk '{ print $1, $2, $3 }'), $(sockperf --version 2>&1 | head -1)"
    emit "- hbd: $([ -x "$HBD" ] && echo "$HBD" || echo "missing (not built)")"
    emit "- wsgwd: $([ -x "$BUILD/bin/wsgwd" ] && echo "$BUILD/bin/wsgwd" || echo "missing (not built)"); websockify $(dpkg-query -W -f='${Version}' websockify 2>/dev/null || echo '?'); node $(node --version 2>/dev/null || echo '?')"
    emit "- logd: $([ -x "$LOGD" ] && echo "$LOGD" || echo "missing (not built)"); rsyslog $(rsyslogd -v 2>/dev/null | head -1 | awk '{ print $2 }' | tr -d ,)"
    emit "- every server and client on 127.0.0.1, on the same machine, which other work may share"
    emit ""
}

main() {
    local g
    [ -x "$GWBENCH" ] || die "$GWBENCH not found: run make first"
    "$ROOT/share/deps.sh" bench || die "the bench peers are missing (share/deps.sh bench)"
    command -v jq >/dev/null || die "jq is missing (share/deps.sh test)"
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # Each side holds the connections plus a few descriptors of its own.
    IDLE_CONNS=$((IDLE_WANT < $(ulimit -n) - 100 ? IDLE_WANT : $(ulimit -n) - 100))
    TMP=$(mktemp -d /tmp/gwkit-bench.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    machine
    for g in $ROW_GROUPS; do
        "group_$g"
    done
    cat "$TMP/report.md"
    cp "$TMP/report.md" "$OUT"
    say "written to $OUT"
}

main "$@"
