#!/usr/bin/env bash
# What N event loops (--nbthread N) change, measured end to end on 127.0.0.1.
#
# For each NBTHREAD in $NBTHREADS and each MODE in $MODES (copy, splice), a fresh forwarder
# (forwarder/target/forwarder.jar, quick mode) is started per case and measured:
#   iperf     iperf3 -P 1 and -P 8 through the forwarder: Gbps, forwarder CPU s per GB
#   pingpong  64-byte ping-pong on 50 connections (LoadClient -> forwarder -> EchoServer):
#             round trips/s, latency p50/p99/p99.9, forwarder CPU us per round trip
#   connrate  connect/send/echo/close by 50 concurrent workers: connections/s, p99,
#             forwarder CPU us per connection
#   rss       K idle connections held through a fresh forwarder: VmRSS growth per connection,
#             raw and after a forced GC (jcmd PID GC.run), plus Java heap growth per connection
# CPU is utime+stime of the forwarder process (all threads) from /proc/PID/stat; for pingpong and
# connrate the load client samples it at the edges of its measurement window (warm-up excluded).
# Every figure is the median over REPEAT runs; error counts are summed, never dropped.
#
# Environment (defaults in brackets):
#   NBTHREADS     event-loop counts to compare              ["1 2"]
#   MODES         copy and/or splice                        ["copy splice"]
#   CASES         iperf pingpong connrate rss (any subset)  ["iperf pingpong connrate rss"]
#   DURATION      measured seconds per run                  [10]
#   WARMUP        unmeasured seconds before each run        [2]
#   REPEAT        runs per row (medians reported)           [3]
#   STREAMS       iperf3 -P values                          ["1 8"]
#   CONNS         pingpong connections / connrate workers   [50]
#   MSG_SIZE      ping-pong and connrate message bytes      [64]
#   CLIENT_THREADS load client threads (selectors)          [1]
#   ECHO_THREADS  echo server threads                       [1]
#   RSS_CONNS     idle connections for rss (lowered to fit ulimit -n) [10000]
#   RSS_SETTLE    seconds between opening them and reading VmRSS [2]
#   JAR           forwarder jar                             [forwarder/target/forwarder.jar]
#   JAVA          java >= 25                                [$JAVA_HOME, else newest in /usr/lib/jvm]
#   BENCH_CP      class path of the load tools              [bench/target/classes]
#   BASE_PORT     first port tried for listeners            [16301]
#   OUT_DIR       report directory                          [bench/threads/out]
#   KEEP_TMP      1 = keep the temp dir (logs, client output) [0]
#
# The load generators (iperf3, LoadClient, EchoServer) run on the same cores as the forwarder: the
# figures compare rows with each other, they are not the forwarder's capacity.
# Report (Markdown) on stdout and in $OUT_DIR/threads-<date>.md; progress on stderr.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1
LOG_TAG=threads
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

NBTHREADS=${NBTHREADS:-"1 2"}
MODES=${MODES:-"copy splice"}
ALL_CASES="iperf pingpong connrate rss"
CASES=${CASES:-$ALL_CASES}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
REPEAT=${REPEAT:-3}
STREAMS=${STREAMS:-"1 8"}
CONNS=${CONNS:-50}
MSG_SIZE=${MSG_SIZE:-64}
CLIENT_THREADS=${CLIENT_THREADS:-1}
ECHO_THREADS=${ECHO_THREADS:-1}
RSS_CONNS=${RSS_CONNS:-10000}
RSS_SETTLE=${RSS_SETTLE:-2}
JAR=${JAR:-forwarder/target/forwarder.jar}
BENCH_CP=${BENCH_CP:-bench/target/classes}
BASE_PORT=${BASE_PORT:-16301}
OUT_DIR=${OUT_DIR:-$SCRIPT_DIR/out}
KEEP_TMP=${KEEP_TMP:-0}

LISTEN_WAIT_S=15        # max wait for a listener to appear
STOP_WAIT_S=20          # max wait for the forwarder to stop after SIGTERM (it prints its summary)
PORT_SCAN=200           # max ports tried when the wanted one is busy (LISTEN_WAIT_S, PORT_SCAN: lib.sh's bounds)
OPEN_TIMEOUT=60         # idle connections must all be open within this
CLIENT_JVM=(-XX:+UseSerialGC -Xms64m -Xmx1g)

want() { [[ " $CASES " == *" $1 "* ]]; }

# ---------------------------------------------------------------- validation
is_uint "$DURATION" && (( DURATION >= 1 && DURATION <= 3600 )) || die "DURATION must be 1..3600"
is_uint "$WARMUP" && (( WARMUP <= 600 )) || die "WARMUP must be 0..600"
is_uint "$REPEAT" && (( REPEAT >= 1 && REPEAT <= 100 )) || die "REPEAT must be 1..100"
is_uint "$CONNS" && (( CONNS >= 1 && CONNS <= 10000 )) || die "CONNS must be 1..10000"
is_uint "$MSG_SIZE" && (( MSG_SIZE >= 1 && MSG_SIZE <= 1048576 )) || die "MSG_SIZE must be 1..1048576"
is_uint "$CLIENT_THREADS" && (( CLIENT_THREADS >= 1 && CLIENT_THREADS <= CONNS )) || die "CLIENT_THREADS must be 1..CONNS"
is_uint "$ECHO_THREADS" && (( ECHO_THREADS >= 1 && ECHO_THREADS <= 16 )) || die "ECHO_THREADS must be 1..16"
is_uint "$RSS_CONNS" && (( RSS_CONNS >= 1 && RSS_CONNS <= 1000000 )) || die "RSS_CONNS must be 1..1000000"
is_uint "$RSS_SETTLE" && (( RSS_SETTLE <= 60 )) || die "RSS_SETTLE must be 0..60"
is_uint "$BASE_PORT" && (( BASE_PORT >= 1024 && BASE_PORT <= 60000 )) || die "BASE_PORT must be 1024..60000"
for n in $NBTHREADS; do is_uint "$n" && (( n >= 1 && n <= 64 )) || die "NBTHREADS values must be 1..64"; done
[[ -n ${NBTHREADS// /} ]] || die "NBTHREADS is empty"
for m in $MODES; do [[ $m == copy || $m == splice ]] || die "unknown mode '$m' in MODES (copy, splice)"; done
[[ -n ${MODES// /} ]] || die "MODES is empty"
for c in $CASES; do [[ " $ALL_CASES " == *" $c "* ]] || die "unknown case '$c' in CASES ($ALL_CASES)"; done
[[ -n ${CASES// /} ]] || die "CASES is empty"
for s in $STREAMS; do is_uint "$s" && (( s >= 1 && s <= 128 )) || die "STREAMS values must be 1..128"; done

# ---------------------------------------------------------------- tools
have timeout || die "timeout (coreutils) is required"
have setsid || die "setsid (util-linux) is required"
if want iperf; then
    have iperf3 || die "iperf3 is required for the iperf case (apt-get install iperf3, or CASES without iperf)"
    have python3 || have jq || die "python3 or jq is required to parse iperf3 JSON"
fi
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

JAVA=${JAVA:-$(find_java || true)}
[[ -n $JAVA && -x $JAVA ]] || die "no java >= 25 found (set JAVA or JAVA_HOME)"
JCMD=$(dirname "$JAVA")/jcmd
[[ -x $JCMD ]] || JCMD=
[[ -f $JAR ]] || die "$JAR not found (run make build)"
[[ -e $BENCH_CP ]] || die "$BENCH_CP not found (run make build)"

# Open-file limit: the rss case needs two fds per connection in the forwarder.
HARD_NOFILE=$(ulimit -Hn)
[[ $HARD_NOFILE == unlimited ]] && HARD_NOFILE=1048576
if (( $(ulimit -Sn) < HARD_NOFILE )); then
    ulimit -Sn "$HARD_NOFILE" 2>/dev/null || log "could not raise ulimit -n to $HARD_NOFILE"
fi
NOFILE=$(ulimit -Sn)
RSS_K=$RSS_CONNS
RSS_FIT=$(( (NOFILE - 600) / 2 / 100 * 100 ))
if (( RSS_FIT < 100 )); then
    want rss && log "ulimit -n is $NOFILE: too low for the rss case, skipped"
    CASES=${CASES//rss/}
elif (( RSS_K > RSS_FIT )); then
    log "RSS_CONNS lowered from $RSS_K to $RSS_FIT to fit ulimit -n $NOFILE (two fds per connection in the forwarder)"
    RSS_K=$RSS_FIT
fi
RSS_HOLD=$((RSS_SETTLE + 12))   # time for the reads and the jcmd calls while the connections are held

# ---------------------------------------------------------------- processes
# start_bg, kill_group, stop_all, alloc_port, wait_listen, last_log_line, cpu_ticks: lib.sh
TMP=$(mktemp -d /tmp/bench-threads.XXXXXX)
NEXT_PORT=$BASE_PORT
cleanup() {
    stop_all
    if [[ $KEEP_TMP == 1 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

force_gc() {  # pid: jcmd GC.run (bounded); false if not possible
    [[ -n $JCMD ]] || return 1
    timeout 30 "$JCMD" "$1" GC.run >/dev/null 2>&1
}

heap_used_kb() {  # pid: Java heap in use (KiB) from jcmd GC.heap_info, or empty
    [[ -n $JCMD ]] || return 0
    timeout 30 "$JCMD" "$1" GC.heap_info 2>/dev/null | grep -m1 -oE 'used [0-9]+K' | grep -oE '[0-9]+'
}

# ---------------------------------------------------------------- forwarder
NBT_FLAG=0 NBT_NOTE=
probe_nbthread() {  # does the jar know --nbthread? (exit 0 for "--nbthread 2 --help")
    local out rc
    out=$(timeout 60 "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" --nbthread 2 --help 2>&1)
    rc=$?
    if (( rc == 0 )); then
        NBT_FLAG=1
        NBT_NOTE="the jar accepts --nbthread; it is passed for every row"
        return
    fi
    if grep -qi 'nbthread' <<<"$out"; then
        NBT_FLAG=0
        NBT_NOTE="this jar does not know --nbthread ($(grep -m1 -i nbthread <<<"$out" | cut -c1-120)): nbthread 1 rows run without the flag, others fail"
        return
    fi
    out=$(timeout 60 "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" --help 2>&1) ||
        die "the forwarder jar does not run: $(head -n 1 <<<"$out")"
    NBT_FLAG=0
    NBT_NOTE="--nbthread 2 --help failed (exit $rc) without naming the flag; nbthread 1 rows run without it"
}

FWD_PID= FWD_LOG= FWD_ERR= FWD_PORT=
start_forwarder() {  # nbthread mode backend_port tag [extra flags...]
    local n=$1 mode=$2 backend=$3 tag=$4
    shift 4
    FWD_PID= FWD_ERR=
    FWD_LOG="$TMP/forwarder-$tag.log"
    if (( NBT_FLAG == 0 && n != 1 )); then
        FWD_ERR="this forwarder jar does not accept --nbthread"
        return 1
    fi
    alloc_port FWD_PORT || { FWD_ERR="no free port"; return 1; }
    local args=(--listen "127.0.0.1:$FWD_PORT" --server "127.0.0.1:$backend" --timeout-client 1m --timeout-server 1m)
    (( NBT_FLAG )) && args+=(--nbthread "$n")
    [[ $mode == splice ]] && args+=(--splice-request --splice-response)
    args+=("$@")
    echo "forwarder ${args[*]}" >"$TMP/forwarder-$tag.cmd"
    start_bg "$FWD_LOG" "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" "${args[@]}"
    FWD_PID=$BG_PID
    if ! wait_listen "$FWD_PID" "$FWD_PORT"; then
        local last
        last=$(last_log_line "$FWD_LOG")
        FWD_ERR="$WAIT_ERR${last:+; forwarder said: $last}"
        kill_group "$FWD_PID"
        FWD_PID=
        return 1
    fi
}

LOOP_LINES=()   # what the forwarder said at shutdown, per instance
stop_forwarder() {  # label: SIGTERM, wait for the shutdown summary, keep its interesting lines
    local label=$1 lines
    [[ -n $FWD_PID ]] || return 0
    kill_group "$FWD_PID" "$STOP_WAIT_S"
    FWD_PID=
    # The accepted-connection total, and any per-loop figures (a future shutdown log may name loops).
    lines=$(grep -E -i 'connections: accepted|loop|thread' "$FWD_LOG" | grep -v -i 'listening on' | head -n 12 | tr -d '|')
    if [[ -n $lines ]]; then
        while IFS= read -r l; do LOOP_LINES+=("| $label | ${l} |"); done <<<"$lines"
    else
        LOOP_LINES+=("| $label | (no shutdown summary: $(last_log_line "$FWD_LOG")) |")
    fi
}

# ---------------------------------------------------------------- backends
ECHO_PID= ECHO_PORT=
ensure_echo() {
    [[ -n $ECHO_PID ]] && kill -0 "$ECHO_PID" 2>/dev/null && return 0
    [[ -n $ECHO_PID ]] && { log "echo server died ($(last_log_line "$TMP/echo.log")), restarting"; kill_group "$ECHO_PID"; }
    alloc_port ECHO_PORT || return 1
    start_bg "$TMP/echo.log" "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" org.forwarder.bench.load.EchoServer \
        --port "$ECHO_PORT" --threads "$ECHO_THREADS" --lifetime "$ECHO_LIFETIME"
    ECHO_PID=$BG_PID
    if ! wait_listen "$ECHO_PID" "$ECHO_PORT"; then
        log "echo server: $WAIT_ERR: $(last_log_line "$TMP/echo.log")"
        kill_group "$ECHO_PID"
        ECHO_PID=
        return 1
    fi
}

IPERF_PID= IPERF_PORT=
start_iperf_server() {
    [[ -n $IPERF_PID ]] && kill_group "$IPERF_PID"
    IPERF_PID=
    alloc_port IPERF_PORT || return 1
    start_bg "$TMP/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
    IPERF_PID=$BG_PID
    if ! wait_listen "$IPERF_PID" "$IPERF_PORT"; then
        log "iperf3 server: $WAIT_ERR: $(last_log_line "$TMP/iperf3-server.log")"
        kill_group "$IPERF_PID"
        IPERF_PID=
        return 1
    fi
}

# ---------------------------------------------------------------- clients
# run_iperf, run_load, res, load_err: lib.sh.
# lib.sh parses iperf3's JSON with python3; this script also runs where only jq is installed
# (the tools check asks for python3 or jq), so without python3 the same parse is done with jq.
if ! have python3; then
    parse_iperf_json() {  # file -> "OK bits_per_second bytes" | "ERR message"
        jq -r 'if .error then "ERR iperf3: " + (.error | tostring)
               elif (.end.sum_received.bits_per_second and .end.sum_received.bytes)
               then "OK \(.end.sum_received.bits_per_second | floor) \(.end.sum_received.bytes)"
               else "ERR iperf3 JSON has no end.sum_received" end' "$1" 2>/dev/null | head -n 1 ||
            echo "ERR no valid iperf3 JSON"
    }
fi

# Results (VALS, STATUS, ERRS, RUNS, ROWS, DETAILS, add_val, med, new_row, fail_row, fmt: lib.sh).
# Row keys are "case|nbthread|mode|param" in report order; DETAILS holds the per-run lines.

# ---------------------------------------------------------------- cases
case_iperf() {  # n mode
    local n=$1 mode=$2 s r row tag="$1-$2-iperf"
    for s in $STREAMS; do new_row "iperf|$n|$mode|$s"; done
    if ! start_iperf_server; then
        for s in $STREAMS; do fail_row "iperf|$n|$mode|$s" "iperf3 server did not start"; done
        return
    fi
    log "nbthread=$n $mode iperf: starting forwarder"
    if ! start_forwarder "$n" "$mode" "$IPERF_PORT" "$tag"; then
        log "  FAILED: $FWD_ERR"
        for s in $STREAMS; do fail_row "iperf|$n|$mode|$s" "$FWD_ERR"; done
        kill_group "$IPERF_PID"; IPERF_PID=
        return
    fi
    if (( WARMUP > 0 )) && ! run_iperf "$FWD_PORT" 1 "$WARMUP" "$FWD_PID" "$TMP/$tag-warmup.json"; then
        log "  warm-up FAILED: $RUN_ERR"
    fi
    for s in $STREAMS; do
        row="iperf|$n|$mode|$s"
        for ((r = 1; r <= REPEAT; r++)); do
            kill -0 "$FWD_PID" 2>/dev/null || { fail_row "$row" "forwarder exited: $(last_log_line "$FWD_LOG")"; break; }
            log "nbthread=$n $mode iperf -P $s run $r/$REPEAT (${DURATION} s)"
            if run_iperf "$FWD_PORT" "$s" "$DURATION" "$FWD_PID" "$TMP/$tag-$s-$r.json"; then
                local g c
                g=$(awk -v b="$RUN_BPS" 'BEGIN {printf "%.3f", b / 1e9}')
                c=$(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" -v by="$RUN_BYTES" 'BEGIN {printf "%.4f", (t / hz) / (by / 1e9)}')
                add_val "$row" gbps "$g"; add_val "$row" cpugb "$c"
                RUNS[$row]=$((RUNS[$row] + 1))
                DETAILS+=("| $n | $mode | iperf -P $s | $r | $g Gbps, $(awk -v b="$RUN_BYTES" 'BEGIN {printf "%.2f", b / 1e9}') GB, CPU $(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}') s = $c s/GB |")
                log "  -> $g Gbps, $c CPU s/GB"
            else
                DETAILS+=("| $n | $mode | iperf -P $s | $r | FAILED: ${RUN_ERR//|//} |")
                log "  -> FAILED: $RUN_ERR"
                STATUS[$row]="some runs failed: ${RUN_ERR//|//}"
                start_iperf_server || { fail_row "$row" "iperf3 server did not restart"; break; }
            fi
        done
    done
    stop_forwarder "nbthread $n, $mode, iperf"
    kill_group "$IPERF_PID"; IPERF_PID=
}

case_echo() {  # n mode cases...: pingpong and/or connrate on one forwarder
    local n=$1 mode=$2 c r row tag="$1-$2-echo"
    shift 2
    for c in "$@"; do new_row "$c|$n|$mode|$CONNS"; done
    if ! ensure_echo; then
        for c in "$@"; do fail_row "$c|$n|$mode|$CONNS" "echo server did not start"; done
        return
    fi
    log "nbthread=$n $mode $*: starting forwarder"
    if ! start_forwarder "$n" "$mode" "$ECHO_PORT" "$tag"; then
        log "  FAILED: $FWD_ERR"
        for c in "$@"; do fail_row "$c|$n|$mode|$CONNS" "$FWD_ERR"; done
        return
    fi
    for c in "$@"; do
        row="$c|$n|$mode|$CONNS"
        for ((r = 1; r <= REPEAT; r++)); do
            kill -0 "$FWD_PID" 2>/dev/null || { fail_row "$row" "forwarder exited: $(last_log_line "$FWD_LOG")"; break; }
            ensure_echo || { fail_row "$row" "echo server did not restart"; break; }
            log "nbthread=$n $mode $c run $r/$REPEAT (${WARMUP} s warm-up + ${DURATION} s)"
            local out="$TMP/$tag-$c-$r.out"
            if run_load "$out" $((WARMUP + DURATION + 40)) --mode "$c" --port "$FWD_PORT" --conns "$CONNS" \
                --threads "$CLIENT_THREADS" --size "$MSG_SIZE" --warmup "$WARMUP" --duration "$DURATION" \
                --cpu-pid "$FWD_PID" --clk-tck "$CLK_TCK"; then
                local e
                e=$(res "$out" errors)
                ERRS[$row]=$((ERRS[$row] + e))
                if [[ $(res "$out" ops) == 0 ]]; then
                    STATUS[$row]="some runs did nothing: $(grep -v '^RESULT' "$out" | head -n 1 | cut -c1-200 | tr -d '|')"
                else
                    RUNS[$row]=$((RUNS[$row] + 1))
                    local k
                    for k in rate p50_us p99_us p999_us max_us cpu_us_per_op; do add_val "$row" "$k" "$(res "$out" "$k")"; done
                fi
                DETAILS+=("| $n | $mode | $c | $r | $(grep -v '^RESULT' "$out" | head -n 1 | tr -d '|') |")
                log "  -> $(grep -v '^RESULT' "$out" | head -n 1)"
            else
                local why
                why=$(load_err "$out")
                STATUS[$row]="some runs failed: ${why//|//}"
                DETAILS+=("| $n | $mode | $c | $r | FAILED: ${why//|//} |")
                log "  -> FAILED: $why"
            fi
        done
    done
    stop_forwarder "nbthread $n, $mode, $*"
}

case_rss() {  # n mode
    local n=$1 mode=$2 r row="rss|$1|$2|$RSS_K"
    new_row "$row"
    for ((r = 1; r <= REPEAT; r++)); do
        local tag="$n-$mode-rss-$r" out="$TMP/$n-$mode-rss-$r.out"
        ensure_echo || { fail_row "$row" "echo server did not start"; return; }
        log "nbthread=$n $mode rss run $r/$REPEAT: fresh forwarder, $RSS_K idle connections"
        if ! start_forwarder "$n" "$mode" "$ECHO_PORT" "$tag" --maxconn $((RSS_K + 100)); then
            log "  FAILED: $FWD_ERR"
            fail_row "$row" "$FWD_ERR"
            return
        fi
        # A short ping-pong first: the code paths are loaded and compiled before the baseline.
        run_load "$TMP/$tag-warm.out" 40 --mode pingpong --port "$FWD_PORT" --conns "$CONNS" --warmup 0 --duration 1 \
            || log "  warm-up ping-pong gave no result: $(load_err "$TMP/$tag-warm.out")"
        sleep 1
        local base base_heap="" after_raw after_gc="" after_heap="" gc=0
        # The first attach starts the JVM's attach machinery (its own allocations): get it over with
        # before the baseline, so that both heap readings come after a GC in the same conditions.
        [[ -n $JCMD ]] && heap_used_kb "$FWD_PID" >/dev/null
        force_gc "$FWD_PID" && gc=1 && sleep 1
        base=$(vmrss_kb "$FWD_PID")
        (( gc )) && base_heap=$(heap_used_kb "$FWD_PID")
        timeout -k 5 $((OPEN_TIMEOUT + RSS_HOLD + 40)) "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" \
            org.forwarder.bench.load.LoadClient --mode idle --port "$FWD_PORT" --conns "$RSS_K" \
            --threads "$CLIENT_THREADS" --size 16 --hold "$RSS_HOLD" --open-timeout "$OPEN_TIMEOUT" \
            >"$out" 2>"$out.err" &
        CLIENT_PID=$!
        local i ready=0
        for ((i = 0; i < (OPEN_TIMEOUT + 15) * 10; i++)); do
            grep -q '^READY' "$out" 2>/dev/null && { ready=1; break; }
            kill -0 "$CLIENT_PID" 2>/dev/null || break
            sleep 0.1
        done
        if (( ready )); then
            sleep "$RSS_SETTLE"
            after_raw=$(vmrss_kb "$FWD_PID")
            if (( gc )) && force_gc "$FWD_PID"; then
                sleep 1
                after_gc=$(vmrss_kb "$FWD_PID")
                after_heap=$(heap_used_kb "$FWD_PID")
            fi
        fi
        wait "$CLIENT_PID"
        LOAD_RC=$?
        CLIENT_PID=
        stop_forwarder "nbthread $n, $mode, rss run $r"
        if (( ! ready )) || ! grep -q '^RESULT ' "$out"; then
            local why
            why=$( (( ready )) && load_err "$out" || echo "no READY from the idle client: $(load_err "$out")")
            STATUS[$row]="some runs failed: ${why//|//}"
            DETAILS+=("| $n | $mode | rss | $r | FAILED: ${why//|//} |")
            log "  -> FAILED: $why"
            continue
        fi
        local opened errs raw_per gc_per="n/a" heap_per="n/a"
        opened=$(res "$out" opened)
        errs=$(res "$out" errors)
        ERRS[$row]=$((ERRS[$row] + errs))
        if [[ -z $base || -z $after_raw || $opened == 0 ]]; then
            STATUS[$row]="some runs failed: no VmRSS reading or no connection opened"
            continue
        fi
        RUNS[$row]=$((RUNS[$row] + 1))
        raw_per=$(( (after_raw - base) * 1024 / opened ))
        add_val "$row" base "$base"; add_val "$row" after_raw "$after_raw"; add_val "$row" raw_per "$raw_per"
        add_val "$row" opened "$opened"
        if [[ -n $after_gc ]]; then
            gc_per=$(( (after_gc - base) * 1024 / opened ))
            add_val "$row" after_gc "$after_gc"; add_val "$row" gc_per "$gc_per"
        fi
        if [[ -n $base_heap && -n $after_heap ]]; then
            heap_per=$(( (after_heap - base_heap) * 1024 / opened ))
            add_val "$row" heap_per "$heap_per"
        fi
        DETAILS+=("| $n | $mode | rss | $r | $opened connections (errors $errs): VmRSS $base -> $after_raw KiB raw, ${after_gc:-n/a} KiB after GC; $raw_per B/conn raw, $gc_per B/conn after GC; heap ${base_heap:-n/a} -> ${after_heap:-n/a} KiB = $heap_per B/conn |")
        log "  -> $opened conns: $raw_per B/conn raw, $gc_per B/conn after GC, heap $heap_per B/conn"
    done
}

# ---------------------------------------------------------------- main
STAMP=$(date +%Y%m%d-%H%M%S)
probe_nbthread
log "$NBT_NOTE"
# Upper bound for the echo server's life (it is stopped at the end anyway).
ECHO_LIFETIME=$(( ( $(wc -w <<<"$NBTHREADS") * $(wc -w <<<"$MODES") ) *
    ( (WARMUP + DURATION + 15) * REPEAT * 2 + (RSS_HOLD + OPEN_TIMEOUT + 60) * REPEAT ) * 2 + 600 ))
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

for n in $NBTHREADS; do
    for mode in $MODES; do
        want iperf && case_iperf "$n" "$mode"
        echo_cases=()
        want pingpong && echo_cases+=(pingpong)
        want connrate && echo_cases+=(connrate)
        (( ${#echo_cases[@]} )) && case_echo "$n" "$mode" "${echo_cases[@]}"
        want rss && case_rss "$n" "$mode"
    done
done
[[ -n $ECHO_PID ]] && kill_group "$ECHO_PID"

row_status() {  # row: "" if every run worked, else a note
    local row=$1 st=${STATUS[$1]:-}
    if [[ $st == FAILED:* ]]; then echo "$st"; return; fi
    if (( RUNS[$row] == 0 )); then echo "FAILED: ${st:-no run gave a result}"; return; fi
    echo "$st"
}

mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/threads-$STAMP.md"
{
    echo "# forwarder event loops: nbthread comparison ($STAMP)"
    echo
    echo "- machine: nproc $(nproc), $(uname -sr), CPU $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'); the load generators (iperf3 client and server, LoadClient, EchoServer) run on these same $(nproc) cores as the forwarder, so rows compare with each other, not with a dedicated machine"
    echo "- date: $(date -Is); load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- java: $("$JAVA" -version 2>&1 | head -n 1) ($JAVA); jar: $JAR; $NBT_NOTE"
    echo "- parameters: NBTHREADS=\"$NBTHREADS\" MODES=\"$MODES\" CASES=\"$CASES\" DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT STREAMS=\"$STREAMS\" CONNS=$CONNS MSG_SIZE=$MSG_SIZE CLIENT_THREADS=$CLIENT_THREADS ECHO_THREADS=$ECHO_THREADS RSS_CONNS=$RSS_K (asked $RSS_CONNS) ulimit -n $NOFILE"
    echo "- forwarder: quick mode, --timeout-client 1m --timeout-server 1m, splice = --splice-request --splice-response; a fresh process per case (per run for rss). CPU = its utime+stime, all threads (CLK_TCK=$CLK_TCK). Figures are medians over the runs that gave a result; errors are summed over all runs"
    if want iperf; then
        echo
        echo "## iperf3 through the forwarder"
        echo
        echo "| nbthread | mode | streams | Gbps | CPU s/GB | runs | note |"
        echo "|---:|---|---:|---:|---:|---:|---|"
        for row in "${ROWS[@]}"; do
            [[ $row == iperf\|* ]] || continue
            IFS='|' read -r _ n mode s <<<"$row"
            echo "| $n | $mode | $s | $(fmt "$(med "$row" gbps)" 2) | $(fmt "$(med "$row" cpugb)" 3) | ${RUNS[$row]}/$REPEAT | $(row_status "$row") |"
        done
    fi
    if want pingpong; then
        echo
        echo "## ${MSG_SIZE}-byte ping-pong, $CONNS connections (LoadClient -> forwarder -> EchoServer)"
        echo
        echo "| nbthread | mode | round trips/s | p50 us | p99 us | p99.9 us | max us | forwarder CPU us/round trip | errors | runs | note |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for row in "${ROWS[@]}"; do
            [[ $row == pingpong\|* ]] || continue
            IFS='|' read -r _ n mode _ <<<"$row"
            echo "| $n | $mode | $(fmt "$(med "$row" rate)" 0) | $(fmt "$(med "$row" p50_us)" 1) | $(fmt "$(med "$row" p99_us)" 1) | $(fmt "$(med "$row" p999_us)" 1) | $(fmt "$(med "$row" max_us)" 1) | $(fmt "$(med "$row" cpu_us_per_op)" 2) | ${ERRS[$row]} | ${RUNS[$row]}/$REPEAT | $(row_status "$row") |"
        done
    fi
    if want connrate; then
        echo
        echo "## New connections, $CONNS concurrent (connect, ${MSG_SIZE} B echo, close)"
        echo
        echo "| nbthread | mode | connections/s | p50 us | p99 us | p99.9 us | forwarder CPU us/connection | errors | runs | note |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
        for row in "${ROWS[@]}"; do
            [[ $row == connrate\|* ]] || continue
            IFS='|' read -r _ n mode _ <<<"$row"
            echo "| $n | $mode | $(fmt "$(med "$row" rate)" 0) | $(fmt "$(med "$row" p50_us)" 1) | $(fmt "$(med "$row" p99_us)" 1) | $(fmt "$(med "$row" p999_us)" 1) | $(fmt "$(med "$row" cpu_us_per_op)" 2) | ${ERRS[$row]} | ${RUNS[$row]}/$REPEAT | $(row_status "$row") |"
        done
    fi
    if want rss; then
        echo
        echo "## Memory per idle connection ($RSS_K connections held, one 16-byte echo each)"
        echo
        echo "Baseline: VmRSS of a fresh forwarder after a 1 s ping-pong warm-up$([[ -n $JCMD ]] && echo " and a forced GC (jcmd GC.run)"). Raw: VmRSS ${RSS_SETTLE} s after all connections are open. After GC: VmRSS after another forced GC. Heap: Java heap in use (jcmd GC.heap_info) after GC minus the baseline's. Kernel socket buffers are not in VmRSS."
        echo
        echo "| nbthread | mode | connections | VmRSS before (MiB) | raw after (MiB) | raw B/conn | after GC (MiB) | after GC B/conn | heap B/conn | errors | runs | note |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for row in "${ROWS[@]}"; do
            [[ $row == rss\|* ]] || continue
            IFS='|' read -r _ n mode _ <<<"$row"
            mib() { local v; v=$(med "$row" "$1"); [[ $v == n/a ]] && echo n/a || awk -v v="$v" 'BEGIN {printf "%.1f", v / 1024}'; }
            echo "| $n | $mode | $(fmt "$(med "$row" opened)" 0) | $(mib base) | $(mib after_raw) | $(fmt "$(med "$row" raw_per)" 0) | $(mib after_gc) | $(fmt "$(med "$row" gc_per)" 0) | $(fmt "$(med "$row" heap_per)" 0) | ${ERRS[$row]} | ${RUNS[$row]}/$REPEAT | $(row_status "$row") |"
        done
    fi
    echo
    echo "## What the forwarder said at shutdown (accepted connections; per-loop figures if it prints them)"
    echo
    echo "| instance | line |"
    echo "|---|---|"
    (( ${#LOOP_LINES[@]} )) && printf '%s\n' "${LOOP_LINES[@]}"
    (( ${#LOOP_LINES[@]} )) || echo "| (none) | |"
    echo
    echo "## Individual runs"
    echo
    echo "| nbthread | mode | case | run | result |"
    echo "|---:|---|---|---:|---|"
    (( ${#DETAILS[@]} )) && printf '%s\n' "${DETAILS[@]}"
    (( ${#DETAILS[@]} )) || echo "| | | (no runs) | | |"
} | tee "$REPORT"
log "report written to $REPORT"
