#!/usr/bin/env bash
# What watching the forwarder costs: HAProxy's tcp log to a UDP syslog and a Prometheus scrape
# every 100 ms, against both off, measured end to end on 127.0.0.1 in one run (issue 9, Measure).
#
# For each NBTHREAD in $NBTHREADS and each MODE in $MODES (copy, splice) two rows run, each on a
# fresh forwarder started from a generated config file (forwarder.jar -f CFG):
#   off  "listen" sections in mode tcp (timeouts only) in front of the load servers; no log, no
#        exporter. A stats socket (level admin) in global, used only at the end of the row.
#   on   the same plus "log 127.0.0.1:<udp> local0" in global, "log global" + "option tcplog"
#        in each listen section, HAProxy's exporter frontend ("frontend prometheus", verbatim),
#        a UDP syslog sink (syslog_sink.py, counts datagrams) and a scraper (scraper.py: GET
#        /metrics every SCRAPE_MS on one keep-alive connection) for the whole row.
# Cases on each row:
#   iperf     iperf3 -P 1 and -P 8 through the forwarder: Gbps, forwarder CPU s per GB
#   connrate  connect/send/echo/close by CONNS concurrent workers (LoadClient -> forwarder ->
#             EchoServer): connections/s, p99, forwarder CPU us per connection
# At the end of an "on" row: connections through the logged frontends (show stat, stot),
# CumConns and DroppedLogs (show info), tcplog datagrams received, scrapes done and failed.
# Every connection should give one tcplog line: received + dropped should equal connections.
#
# If the jar rejects the log lines (before issue 9's logs are merged, 'log' is a config error),
# the script says "tcplog not supported by this jar" and the "on" row runs with the exporter and
# the scraper only, labelled "on (scrape only)".
#
# Environment (defaults in brackets):
#   NBTHREADS     event-loop counts ("nbthread N" in global)      ["1"]
#   MODES         copy and/or splice (option splice-request/-response) ["copy splice"]
#   CASES         iperf connrate (any subset)                     ["iperf connrate"]
#   DURATION      measured seconds per run                        [5]
#   WARMUP        unmeasured seconds before each case             [2]
#   REPEAT        runs per case (medians reported)                [3]
#   STREAMS       iperf3 -P values                                ["1 8"]
#   CONNS         connrate concurrent workers                     [50]
#   MSG_SIZE      connrate message bytes                          [64]
#   CLIENT_THREADS load client threads                            [1]
#   SCRAPE_MS     scrape interval in ms                           [100]
#   JAR, JAVA, BENCH_CP [bench/target/classes], BASE_PORT [16501], OUT_DIR [bench/observe/out],
#   KEEP_TMP      1 = keep the temp dir (configs, logs, client output) [0]
#
# The load generators, the sink and the scraper share the machine's cores with the forwarder:
# compare the rows with each other. Report (Markdown) on stdout and in
# $OUT_DIR/observe-<date>.md; progress on stderr. See bench/observe/README.md.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1
LOG_TAG=observe
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

NBTHREADS=${NBTHREADS:-"1"}
MODES=${MODES:-"copy splice"}
ALL_CASES="iperf connrate"
CASES=${CASES:-$ALL_CASES}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
REPEAT=${REPEAT:-3}
STREAMS=${STREAMS:-"1 8"}
CONNS=${CONNS:-50}
MSG_SIZE=${MSG_SIZE:-64}
CLIENT_THREADS=${CLIENT_THREADS:-1}
SCRAPE_MS=${SCRAPE_MS:-100}
JAR=${JAR:-forwarder/target/forwarder.jar}
BENCH_CP=${BENCH_CP:-bench/target/classes}
BASE_PORT=${BASE_PORT:-16501}
OUT_DIR=${OUT_DIR:-$SCRIPT_DIR/out}
KEEP_TMP=${KEEP_TMP:-0}

LISTEN_WAIT_S=15   # max wait for a listener
STOP_WAIT_S=20     # max wait for the forwarder to stop after SIGTERM
SETTLE_S=5         # max wait for the last log lines to reach the sink
PORT_SCAN=200
CLIENT_JVM=(-XX:+UseSerialGC -Xms64m -Xmx1g)
want() { [[ " $CASES " == *" $1 "* ]]; }

# ---------------------------------------------------------------- validation
is_uint "$DURATION" && (( DURATION >= 1 && DURATION <= 3600 )) || die "DURATION must be 1..3600"
is_uint "$WARMUP" && (( WARMUP <= 600 )) || die "WARMUP must be 0..600"
is_uint "$REPEAT" && (( REPEAT >= 1 && REPEAT <= 100 )) || die "REPEAT must be 1..100"
is_uint "$CONNS" && (( CONNS >= 1 && CONNS <= 10000 )) || die "CONNS must be 1..10000"
is_uint "$MSG_SIZE" && (( MSG_SIZE >= 1 && MSG_SIZE <= 1048576 )) || die "MSG_SIZE must be 1..1048576"
is_uint "$CLIENT_THREADS" && (( CLIENT_THREADS >= 1 && CLIENT_THREADS <= CONNS )) || die "CLIENT_THREADS must be 1..CONNS"
is_uint "$SCRAPE_MS" && (( SCRAPE_MS >= 10 && SCRAPE_MS <= 60000 )) || die "SCRAPE_MS must be 10..60000"
is_uint "$BASE_PORT" && (( BASE_PORT >= 1024 && BASE_PORT <= 60000 )) || die "BASE_PORT must be 1024..60000"
for n in $NBTHREADS; do is_uint "$n" && (( n >= 1 && n <= 64 )) || die "NBTHREADS values must be 1..64"; done
[[ -n ${NBTHREADS// /} ]] || die "NBTHREADS is empty"
for m in $MODES; do [[ $m == copy || $m == splice ]] || die "unknown mode '$m' in MODES (copy, splice)"; done
[[ -n ${MODES// /} ]] || die "MODES is empty"
for c in $CASES; do [[ " $ALL_CASES " == *" $c "* ]] || die "unknown case '$c' in CASES ($ALL_CASES)"; done
[[ -n ${CASES// /} ]] || die "CASES is empty"
for s in $STREAMS; do is_uint "$s" && (( s >= 1 && s <= 128 )) || die "STREAMS values must be 1..128"; done
[[ $KEEP_TMP == 0 || $KEEP_TMP == 1 ]] || die "KEEP_TMP must be 0 or 1"

# ---------------------------------------------------------------- tools
for t in timeout setsid python3 socat; do have "$t" || die "$t is required"; done
want iperf && { have iperf3 || die "iperf3 is required for the iperf case (apt-get install iperf3, or CASES=connrate)"; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
JAVA=${JAVA:-$(find_java || true)}
[[ -n $JAVA && -x $JAVA ]] || die "no java >= 25 found (set JAVA or JAVA_HOME)"
[[ -f $JAR ]] || die "$JAR not found (run make build)"
[[ -e $BENCH_CP ]] || die "$BENCH_CP not found (run make build)"
NSTREAMS=$(wc -w <<<"$STREAMS")
# Upper bound of one row's life (sink, scraper) and of the whole run (echo server).
ROW_MAX=$(( (WARMUP + DURATION + 30) * REPEAT * (NSTREAMS + 1) + 2 * WARMUP + 120 ))
RUN_MAX=$(( ROW_MAX * 2 * $(wc -w <<<"$NBTHREADS") * $(wc -w <<<"$MODES") + 300 ))
SCRAPE_INTERVAL=$(awk -v m="$SCRAPE_MS" 'BEGIN {printf "%.3f", m / 1000}')

# ---------------------------------------------------------------- processes
TMP=$(mktemp -d /tmp/bench-observe.XXXXXX)
NEXT_PORT=$BASE_PORT
cleanup() {
    stop_all
    if [[ $KEEP_TMP == 1 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

ECHO_PID= ECHO_PORT=
ensure_echo() {
    [[ -n $ECHO_PID ]] && kill -0 "$ECHO_PID" 2>/dev/null && return 0
    [[ -n $ECHO_PID ]] && { log "echo server died ($(last_log_line "$TMP/echo.log")), restarting"; kill_group "$ECHO_PID"; }
    alloc_port ECHO_PORT || return 1
    start_bg "$TMP/echo.log" "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" org.forwarder.bench.load.EchoServer \
        --port "$ECHO_PORT" --threads 1 --lifetime "$RUN_MAX"
    ECHO_PID=$BG_PID
    wait_listen "$ECHO_PID" "$ECHO_PORT" && return 0
    log "echo server: $WAIT_ERR: $(last_log_line "$TMP/echo.log")"
    kill_group "$ECHO_PID"; ECHO_PID=
    return 1
}

IPERF_PID= IPERF_PORT=
start_iperf_server() {  # [port]: a fresh iperf3 server (on port if given, else on a free one)
    [[ -n $IPERF_PID ]] && kill_group "$IPERF_PID"
    IPERF_PID=
    if [[ -n ${1:-} ]]; then IPERF_PORT=$1; else alloc_port IPERF_PORT || return 1; fi
    start_bg "$TMP/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
    IPERF_PID=$BG_PID
    wait_listen "$IPERF_PID" "$IPERF_PORT" && return 0
    log "iperf3 server: $WAIT_ERR: $(last_log_line "$TMP/iperf3-server.log")"
    kill_group "$IPERF_PID"; IPERF_PID=
    return 1
}

# ---------------------------------------------------------------- config
# gen_cfg file nbthread mode with_log with_prom sock udp_port prom_port [name port backend]...
gen_cfg() {
    local f=$1 n=$2 mode=$3 wlog=$4 wprom=$5 sock=$6 udp=$7 prom=$8
    shift 8
    {
        echo "# generated by bench/observe/run.sh"
        echo "global"
        echo "    maxconn 4096"
        echo "    nbthread $n"
        echo "    stats socket $sock level admin"
        (( wlog )) && echo "    log 127.0.0.1:$udp local0"
        echo
        echo "defaults"
        echo "    mode tcp"
        echo "    timeout connect 5s"
        echo "    timeout client 1m"
        echo "    timeout server 1m"
        [[ $mode == splice ]] && printf '    option splice-request\n    option splice-response\n'
        while (( $# >= 3 )); do
            echo
            echo "listen $1"
            echo "    bind 127.0.0.1:$2"
            (( wlog )) && printf '    log global\n    option tcplog\n'
            echo "    server s1 127.0.0.1:$3"
            shift 3
        done
        if (( wprom )); then
            echo
            echo "frontend prometheus"
            echo "    bind 127.0.0.1:$prom"
            echo "    mode http"
            echo "    http-request use-service prometheus-exporter if { path /metrics }"
            echo "    no log"
        fi
    } >"$f"
}

LOG_OK=1 LOG_NOTE=
probe_log() {  # does the jar accept the "on" config with its log lines? (-c: check only)
    local out rc
    # -c checks the addresses too: three distinct ports (nothing is bound by a check)
    gen_cfg "$TMP/probe-off.cfg" 1 copy 0 0 "$TMP/probe.sock" 0 0 probe "$((BASE_PORT + 1))" "$((BASE_PORT + 2))"
    out=$(timeout 60 "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" -c -f "$TMP/probe-off.cfg" 2>&1) ||
        die "the jar rejects the plain config: $(grep -m1 . <<<"$out" | cut -c1-200)"
    gen_cfg "$TMP/probe-on.cfg" 1 copy 1 1 "$TMP/probe.sock" 514 "$BASE_PORT" probe "$((BASE_PORT + 1))" "$((BASE_PORT + 2))"
    out=$(timeout 60 "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" -c -f "$TMP/probe-on.cfg" 2>&1)
    rc=$?
    (( rc == 0 )) && { LOG_NOTE="this jar accepts log + option tcplog: the on row logs every connection to a UDP syslog"; return; }
    local first
    first=$(grep -m1 -i 'log' <<<"$out" | sed "s|$TMP/||" | cut -c1-200)
    [[ -n $first ]] || die "the jar rejects the exporter config: $(grep -m1 . <<<"$out" | sed "s|$TMP/||" | cut -c1-200)"
    LOG_OK=0
    LOG_NOTE="tcplog not supported by this jar ($first): the on row runs with the exporter and the scraper only, labelled 'on (scrape only)'"
}

# ---------------------------------------------------------------- stats socket
cli() {  # sock command: one command, bounded
    printf '%s\n' "$2" | timeout 5 socat -t 2 stdio "unix-connect:$1" 2>/dev/null
}
info_field() {  # text name
    sed -n "s/^$2: *//p" <<<"$1" | head -n 1 | tr -d '\r'
}
frontend_stot() {  # sock names...: sum of stot (column 8) of those FRONTEND rows of show stat
    local csv
    csv=$(cli "$1" "show stat") || { echo ""; return; }
    shift
    awk -F, -v names=" $* " 'index(names, " " $1 " ") && $2 == "FRONTEND" { s += $8; n++ } END { if (n) print s }' <<<"$csv"
}

# ---------------------------------------------------------------- one row
declare -A OBS
ROW_LABEL_ON="on"
run_row() {  # n mode row(off|on)
    local n=$1 mode=$2 row=$3 tag="$1-$2-$3" r s c
    local wlog=0 wprom=0 sock="$TMP/$tag.sock" udp=0 prom=0 sink_pid= scr_pid= fwd_pid=
    local key_base="$n|$mode|$row"
    if [[ $row == on ]]; then wprom=1; (( LOG_OK )) && wlog=1; fi
    want iperf && for s in $STREAMS; do new_row "iperf|$key_base|$s"; done
    want connrate && new_row "connrate|$key_base"
    local rows_here=()
    want iperf && for s in $STREAMS; do rows_here+=("iperf|$key_base|$s"); done
    want connrate && rows_here+=("connrate|$key_base")
    fail_all() { local x; for x in "${rows_here[@]}"; do fail_row "$x" "$1"; done; OBS["$n|$mode|err"]=$1; }

    local sections=() names=()
    if want iperf; then
        start_iperf_server || { fail_all "iperf3 server did not start"; return; }
        local p; alloc_port p || { fail_all "no free port"; return; }
        sections+=(iperf "$p" "$IPERF_PORT"); names+=(iperf)
        FE_IPERF=$p
    fi
    if want connrate; then
        ensure_echo || { fail_all "echo server did not start"; return; }
        local p; alloc_port p || { fail_all "no free port"; return; }
        sections+=(echo "$p" "$ECHO_PORT"); names+=(echo)
        FE_ECHO=$p
    fi
    if (( wprom )); then alloc_port prom || { fail_all "no free port"; return; }; fi
    if (( wlog )); then
        start_bg "$TMP/$tag-sink.log" python3 "$SCRIPT_DIR/syslog_sink.py" --port 0 \
            --port-file "$TMP/$tag-sink.port" --status-file "$TMP/$tag-sink.status" --max-time "$ROW_MAX"
        sink_pid=$BG_PID
        local i
        for ((i = 0; i < 100; i++)); do [[ -s $TMP/$tag-sink.port ]] && break; kill -0 "$sink_pid" 2>/dev/null || break; sleep 0.1; done
        udp=$(cat "$TMP/$tag-sink.port" 2>/dev/null)
        is_uint "$udp" || { kill_group "$sink_pid"; fail_all "syslog sink did not start: $(last_log_line "$TMP/$tag-sink.log")"; return; }
    fi
    gen_cfg "$TMP/$tag.cfg" "$n" "$mode" "$wlog" "$wprom" "$sock" "$udp" "$prom" "${sections[@]}"
    log "nbthread=$n $mode row $row: starting forwarder ($TMP/$tag.cfg)"
    start_bg "$TMP/$tag-forwarder.log" "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" -f "$TMP/$tag.cfg"
    fwd_pid=$BG_PID
    local port ports=()
    want iperf && ports+=("$FE_IPERF")
    want connrate && ports+=("$FE_ECHO")
    (( wprom )) && ports+=("$prom")
    for port in "${ports[@]}"; do
        if ! wait_listen "$fwd_pid" "$port"; then
            local why="$WAIT_ERR; forwarder said: $(last_log_line "$TMP/$tag-forwarder.log" | sed "s|$TMP/||")"
            log "  FAILED: $why"
            kill_group "$fwd_pid"; [[ -n $sink_pid ]] && kill_group "$sink_pid"
            fail_all "$why"
            return
        fi
    done
    if (( wprom )); then
        start_bg "$TMP/$tag-scraper.log" python3 "$SCRIPT_DIR/scraper.py" --port "$prom" --interval "$SCRAPE_INTERVAL" \
            --max-time "$ROW_MAX" --max-count $(( ROW_MAX * 1000 / SCRAPE_MS + 10 ))
        scr_pid=$BG_PID
    fi

    if want iperf; then
        (( WARMUP > 0 )) && { run_iperf "$FE_IPERF" 1 "$WARMUP" "$fwd_pid" "$TMP/$tag-warmup.json" || log "  warm-up FAILED: $RUN_ERR"; }
        for s in $STREAMS; do
            local key="iperf|$key_base|$s"
            for ((r = 1; r <= REPEAT; r++)); do
                kill -0 "$fwd_pid" 2>/dev/null || { fail_row "$key" "forwarder exited: $(last_log_line "$TMP/$tag-forwarder.log")"; break; }
                log "nbthread=$n $mode $row iperf -P $s run $r/$REPEAT (${DURATION} s)"
                if run_iperf "$FE_IPERF" "$s" "$DURATION" "$fwd_pid" "$TMP/$tag-$s-$r.json"; then
                    local g cg
                    g=$(awk -v b="$RUN_BPS" 'BEGIN {printf "%.3f", b / 1e9}')
                    cg=$(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" -v by="$RUN_BYTES" 'BEGIN {printf "%.4f", (t / hz) / (by / 1e9)}')
                    add_val "$key" gbps "$g"; add_val "$key" cpugb "$cg"
                    RUNS[$key]=$((RUNS[$key] + 1))
                    DETAILS+=("| $n | $mode | $row | iperf -P $s | $r | $g Gbps, $(awk -v b="$RUN_BYTES" 'BEGIN {printf "%.2f", b / 1e9}') GB, CPU $(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}') s = $cg s/GB |")
                    log "  -> $g Gbps, $cg CPU s/GB"
                else
                    DETAILS+=("| $n | $mode | $row | iperf -P $s | $r | FAILED: ${RUN_ERR//|//} |")
                    log "  -> FAILED: $RUN_ERR"
                    STATUS[$key]="some runs failed: ${RUN_ERR//|//}"
                    # the listen section names this port: restart the server there if it died
                    kill -0 "$IPERF_PID" 2>/dev/null || start_iperf_server "$IPERF_PORT" ||
                        { fail_row "$key" "iperf3 server did not restart"; break; }
                fi
            done
        done
    fi
    if want connrate; then
        local key="connrate|$key_base"
        for ((r = 1; r <= REPEAT; r++)); do
            kill -0 "$fwd_pid" 2>/dev/null || { fail_row "$key" "forwarder exited: $(last_log_line "$TMP/$tag-forwarder.log")"; break; }
            kill -0 "$ECHO_PID" 2>/dev/null || { fail_row "$key" "echo server died"; break; }
            log "nbthread=$n $mode $row connrate run $r/$REPEAT (${WARMUP} s warm-up + ${DURATION} s)"
            local out="$TMP/$tag-connrate-$r.out"
            if run_load "$out" $((WARMUP + DURATION + 40)) --mode connrate --port "$FE_ECHO" --conns "$CONNS" \
                --threads "$CLIENT_THREADS" --size "$MSG_SIZE" --warmup "$WARMUP" --duration "$DURATION" \
                --cpu-pid "$fwd_pid" --clk-tck "$CLK_TCK"; then
                local e k
                e=$(res "$out" errors)
                ERRS[$key]=$((ERRS[$key] + ${e:-0}))
                if [[ $(res "$out" ops) == 0 ]]; then
                    STATUS[$key]="some runs did nothing"
                else
                    RUNS[$key]=$((RUNS[$key] + 1))
                    for k in rate p50_us p99_us cpu_us_per_op; do add_val "$key" "$k" "$(res "$out" "$k")"; done
                fi
                DETAILS+=("| $n | $mode | $row | connrate | $r | $(grep -v '^RESULT' "$out" | head -n 1 | tr -d '|') |")
                log "  -> $(grep -v '^RESULT' "$out" | head -n 1)"
            else
                local why; why=$(load_err "$out")
                STATUS[$key]="some runs failed: ${why//|//}"
                DETAILS+=("| $n | $mode | $row | connrate | $r | FAILED: ${why//|//} |")
                log "  -> FAILED: $why"
            fi
        done
    fi

    # End of the row: scraper first (its counts are final), then the forwarder's own figures.
    local ob="$n|$mode|$row"
    if [[ -n $scr_pid ]]; then
        kill_group "$scr_pid" 10
        OBS["$ob|scrape"]=$(grep -m1 '^SCRAPER ' "$TMP/$tag-scraper.log")
        [[ -n ${OBS["$ob|scrape"]} ]] || OBS["$ob|scrape"]="SCRAPER gave no result: $(last_log_line "$TMP/$tag-scraper.log")"
    fi
    local info conns
    info=$(cli "$sock" "show info")
    OBS["$ob|cum"]=$(info_field "$info" CumConns)
    OBS["$ob|dropped"]=$(info_field "$info" DroppedLogs)
    if grep -q '^DroppedLogs:' <<<"$info"; then :; else OBS["$ob|dropped"]="n/a"; fi
    [[ -n $info ]] || OBS["$ob|cum"]="(no answer on the stats socket)"
    conns=$(frontend_stot "$sock" "${names[@]}")
    OBS["$ob|conns"]=$conns
    if [[ -n $sink_pid ]]; then
        # The tcplog line of a connection leaves when it closes, through a writer thread: wait
        # until received + dropped reaches the connections, or the count stops moving.
        local want_n=$conns last=-1 same=0 got i d=${OBS["$ob|dropped"]}
        is_uint "$d" || d=0
        for ((i = 0; i < SETTLE_S * 10; i++)); do
            got=$(sed -n 's/.*tcplog=\([0-9]*\).*/\1/p' "$TMP/$tag-sink.status" 2>/dev/null)
            is_uint "$got" || got=0
            is_uint "$want_n" && (( got + d >= want_n )) && break
            if (( got == last )); then same=$((same + 1)); (( same >= 10 )) && break; else same=0; fi
            last=$got
            sleep 0.1
        done
        kill_group "$sink_pid" 5
        OBS["$ob|sink"]=$(grep -m1 '^SINK ' "$TMP/$tag-sink.log")
        OBS["$ob|sample"]=$(sed -n 's/^SAMPLE_TCPLOG //p' "$TMP/$tag-sink.log" | head -n 1 | cut -c1-200)
        OBS["$ob|sample_other"]=$(sed -n 's/^SAMPLE_OTHER //p' "$TMP/$tag-sink.log" | head -n 1 | cut -c1-200)
    fi
    kill_group "$fwd_pid" "$STOP_WAIT_S"
    [[ -n $IPERF_PID ]] && { kill_group "$IPERF_PID"; IPERF_PID=; }
    log "  row done: connections ${conns:-?}, CumConns ${OBS["$ob|cum"]:-?}${OBS["$ob|sink"]:+, ${OBS["$ob|sink"]}}${OBS["$ob|scrape"]:+, ${OBS["$ob|scrape"]}}"
}

# ---------------------------------------------------------------- main
STAMP=$(date +%Y%m%d-%H%M%S)
probe_log
log "$LOG_NOTE"
(( LOG_OK )) || ROW_LABEL_ON="on (scrape only)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $NBTHREADS; do
    for mode in $MODES; do
        FE_IPERF= FE_ECHO=
        run_row "$n" "$mode" off
        FE_IPERF= FE_ECHO=
        run_row "$n" "$mode" on
    done
done
[[ -n $ECHO_PID ]] && kill_group "$ECHO_PID"

row_note() {  # row key
    local st=${STATUS[$1]:-}
    [[ $st == FAILED:* ]] && { echo "$st"; return; }
    (( RUNS[$1] == 0 )) && { echo "FAILED: ${st:-no run gave a result}"; return; }
    echo "$st"
}
notes() {  # off_key on_key
    local a b
    a=$(row_note "$1"); b=$(row_note "$2")
    echo "${a:+off: $a}${a:+${b:+; }}${b:+on: $b}"
}

mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/observe-$STAMP.md"
{
    echo "# forwarder: the cost of tcplog and a Prometheus scrape ($STAMP)"
    echo
    echo "- machine: nproc $(nproc), $(uname -sr); load generators, syslog sink and scraper share these cores with the forwarder, so rows compare with each other"
    echo "- date: $(date -Is); load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- java: $("$JAVA" -version 2>&1 | head -n 1); jar: $JAR"
    echo "- **$LOG_NOTE**"
    echo "- parameters: NBTHREADS=\"$NBTHREADS\" MODES=\"$MODES\" CASES=\"$CASES\" DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT STREAMS=\"$STREAMS\" CONNS=$CONNS MSG_SIZE=$MSG_SIZE CLIENT_THREADS=$CLIENT_THREADS SCRAPE_MS=$SCRAPE_MS"
    echo "- off: listen sections in mode tcp (timeouts 5s/1m/1m), a stats socket; $ROW_LABEL_ON: the same$( (( LOG_OK )) && echo " + log 127.0.0.1:<udp> local0, log global, option tcplog") + HAProxy's exporter frontend scraped every ${SCRAPE_MS} ms on one keep-alive connection. A fresh forwarder per row (-f generated config); CPU = its utime+stime, all threads (CLK_TCK=$CLK_TCK). Medians over the runs that gave a result; ratio = on / off"
    if want iperf; then
        echo
        echo "## iperf3 through the forwarder"
        echo
        echo "| nbthread | mode | streams | off Gbps | $ROW_LABEL_ON Gbps | on/off | off CPU s/GB | on CPU s/GB | on/off | runs off/on | note |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
        for n in $NBTHREADS; do for mode in $MODES; do for s in $STREAMS; do
            a="iperf|$n|$mode|off|$s" b="iperf|$n|$mode|on|$s"
            ga=$(med "$a" gbps) gb=$(med "$b" gbps) ca=$(med "$a" cpugb) cb=$(med "$b" cpugb)
            echo "| $n | $mode | $s | $(fmt "$ga" 2) | $(fmt "$gb" 2) | $(ratio "$gb" "$ga") | $(fmt "$ca" 3) | $(fmt "$cb" 3) | $(ratio "$cb" "$ca") | ${RUNS[$a]}/${RUNS[$b]} of $REPEAT | $(notes "$a" "$b") |"
        done; done; done
    fi
    if want connrate; then
        echo
        echo "## New connections, $CONNS concurrent (connect, ${MSG_SIZE} B echo, close)"
        echo
        echo "| nbthread | mode | off conn/s | $ROW_LABEL_ON conn/s | on/off | off p99 us | on p99 us | on/off | off CPU us/conn | on CPU us/conn | on/off | errors off/on | runs off/on | note |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
        for n in $NBTHREADS; do for mode in $MODES; do
            a="connrate|$n|$mode|off" b="connrate|$n|$mode|on"
            ra=$(med "$a" rate) rb=$(med "$b" rate) pa=$(med "$a" p99_us) pb=$(med "$b" p99_us) ca=$(med "$a" cpu_us_per_op) cb=$(med "$b" cpu_us_per_op)
            echo "| $n | $mode | $(fmt "$ra" 0) | $(fmt "$rb" 0) | $(ratio "$rb" "$ra") | $(fmt "$pa" 1) | $(fmt "$pb" 1) | $(ratio "$pb" "$pa") | $(fmt "$ca" 2) | $(fmt "$cb" 2) | $(ratio "$cb" "$ca") | ${ERRS[$a]}/${ERRS[$b]} | ${RUNS[$a]}/${RUNS[$b]} of $REPEAT | $(notes "$a" "$b") |"
        done; done
    fi
    echo
    echo "## What the \"$ROW_LABEL_ON\" rows saw"
    echo
    echo "Connections = stot of the load frontends (show stat) over the whole row, warm-ups included; every one should give one tcplog datagram unless dropped (DroppedLogs in show info). Missing = connections - tcplog received - dropped. Other datagrams = lines that are not tcplog (events such as start)."
    echo
    echo "| nbthread | mode | connections | CumConns | tcplog received | other datagrams | DroppedLogs | missing | scrapes ok | scrapes failed | scrape connections | scrape p50 / max ms | off row: connections / CumConns |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    for n in $NBTHREADS; do for mode in $MODES; do
        ob="$n|$mode|on" of="$n|$mode|off"
        sk=${OBS["$ob|sink"]:-} sc=${OBS["$ob|scrape"]:-}
        tl=n/a ot=n/a miss=n/a
        if [[ -n $sk ]]; then
            tl=$(sed -n 's/.*tcplog=\([0-9]*\).*/\1/p' <<<"$sk"); ot=$(sed -n 's/.*other=\([0-9]*\).*/\1/p' <<<"$sk")
            c=${OBS["$ob|conns"]:-}; d=${OBS["$ob|dropped"]:-}; is_uint "$d" || d=0
            is_uint "$c" && is_uint "$tl" && miss=$((c - tl - d))
        elif (( ! LOG_OK )); then tl="(no log)"; ot="(no log)"
        fi
        so=n/a sf=n/a scn=n/a sl=n/a
        if [[ $sc == SCRAPER\ ok=* ]]; then
            so=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$sc"); sf=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$sc")
            scn=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' <<<"$sc")
            sl="$(sed -n 's/.*p50_ms=\([^ ]*\).*/\1/p' <<<"$sc") / $(sed -n 's/.*max_ms=\([^ ]*\).*/\1/p' <<<"$sc")"
            fe=$(sed -n 's/.*first_error=//p' <<<"$sc"); [[ $fe != - ]] && sf="$sf ($fe)"
        elif [[ -n $sc ]]; then sf=${sc//|//}
        fi
        echo "| $n | $mode | ${OBS["$ob|conns"]:-n/a} | ${OBS["$ob|cum"]:-n/a} | $tl | $ot | ${OBS["$ob|dropped"]:-n/a} | $miss | $so | $sf | $scn | $sl | ${OBS["$of|conns"]:-n/a} / ${OBS["$of|cum"]:-n/a} |"
    done; done
    samples=0
    for n in $NBTHREADS; do for mode in $MODES; do
        ob="$n|$mode|on"
        if [[ -n ${OBS["$ob|sample"]:-}${OBS["$ob|sample_other"]:-} ]]; then
            (( samples++ )) || { echo; echo "Sample datagrams:"; echo; }
            [[ -n ${OBS["$ob|sample"]:-} ]] && echo "- nbthread $n $mode, tcplog: \`${OBS["$ob|sample"]}\`"
            [[ -n ${OBS["$ob|sample_other"]:-} ]] && echo "- nbthread $n $mode, other: \`${OBS["$ob|sample_other"]}\`"
        fi
    done; done
    echo
    echo "## Individual runs"
    echo
    echo "| nbthread | mode | row | case | run | result |"
    echo "|---:|---|---|---|---:|---|"
    (( ${#DETAILS[@]} )) && printf '%s\n' "${DETAILS[@]}"
    (( ${#DETAILS[@]} )) || echo "| | | | (no runs) | | |"
} | tee "$REPORT"
log "report written to $REPORT"
