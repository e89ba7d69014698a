#!/usr/bin/env bash
# End-to-end comparison of TCP relays on one machine, all traffic on 127.0.0.1.
#
#   iperf3 client -> relay (127.0.0.1:LISTEN) -> iperf3 server (127.0.0.1:SERVER_PORT)
#
# Targets: direct haproxy-splice haproxy-copy socat forwarder-copy forwarder-splice
# Per target and stream count: REPEAT iperf3 runs of DURATION seconds; reports the
# median throughput (Gbps, from end.sum_received.bits_per_second) and the median
# relay CPU seconds per GB moved (GB = 1e9 bytes, from end.sum_received.bytes;
# CPU = utime+stime of the relay process, all its threads and its children).
#
# Environment (defaults in brackets):
#   TARGETS      targets to run, space separated   [all six, in the order above]
#   STREAMS      iperf3 -P values                  ["1 8"]
#   DURATION     seconds per iperf3 run            [10]
#   REPEAT       measured runs per row             [3]
#   WARMUP       seconds of an unmeasured run per relay before measuring, 0 = none [2]
#   REVERSE      1 = also measure iperf3 -R (server sends) [0]
#   SERVER_PORT  iperf3 server port (next free one is used if busy) [5201]
#   BASE_PORT    first relay port, one per target  [15201]
#   JAVA         java binary for the forwarder     [newest JDK >= 25: $JAVA_HOME, /usr/lib/jvm]
#   JAR          forwarder jar                     [forwarder/target/forwarder.jar]
#   FORWARDER_FLAGS  more forwarder flags, e.g. "--nbthread 1" [none: one event loop per CPU]
#   OUT_DIR      where the report is written       [bench/e2e/out]
#   KEEP_TMP     1 = keep the temp dir (configs, logs, iperf3 JSON) [0]
#
# The report (Markdown) goes to stdout and to $OUT_DIR/results-<date>.md; progress
# goes to stderr. A target that cannot start or fails a run is reported as
# "FAILED: reason" and the script continues with the next one.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1

ALL_TARGETS="direct haproxy-splice haproxy-copy socat forwarder-copy forwarder-splice"
TARGETS=${TARGETS:-$ALL_TARGETS}
STREAMS=${STREAMS:-"1 8"}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
WARMUP=${WARMUP:-2}
REVERSE=${REVERSE:-0}
SERVER_PORT=${SERVER_PORT:-5201}
BASE_PORT=${BASE_PORT:-15201}
JAR=${JAR:-forwarder/target/forwarder.jar}
FORWARDER_FLAGS=${FORWARDER_FLAGS:-}
OUT_DIR=${OUT_DIR:-$SCRIPT_DIR/out}
KEEP_TMP=${KEEP_TMP:-0}
HAPROXY_TEMPLATE=$SCRIPT_DIR/haproxy.cfg.in

LISTEN_WAIT_S=10        # max wait for a listener to appear
PORT_SCAN=50            # max ports tried when the wanted one is busy
MAX_CONSEC_FAIL=2       # give up on a target after this many failed runs in a row

log() { printf '[compare] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------- validation
is_uint "$DURATION" && (( DURATION >= 1 && DURATION <= 3600 )) || die "DURATION must be 1..3600"
is_uint "$REPEAT" && (( REPEAT >= 1 && REPEAT <= 100 )) || die "REPEAT must be 1..100"
is_uint "$WARMUP" && (( WARMUP <= 600 )) || die "WARMUP must be 0..600"
is_uint "$SERVER_PORT" && is_uint "$BASE_PORT" || die "SERVER_PORT/BASE_PORT must be numbers"
for s in $STREAMS; do is_uint "$s" && (( s >= 1 && s <= 128 )) || die "STREAMS values must be 1..128"; done
[[ -n ${STREAMS// /} ]] || die "STREAMS is empty"
for t in $TARGETS; do
    [[ " $ALL_TARGETS " == *" $t "* ]] || die "unknown target '$t' (known: $ALL_TARGETS)"
done
DIRS="fwd"
[[ $REVERSE == 1 ]] && DIRS="fwd rev"

# ---------------------------------------------------------------- tools
APT_UPDATED=0
ensure_pkgs() {  # install the given apt packages if running as root
    (( $# )) || return 0
    if [[ $(id -u) -ne 0 ]] || ! have apt-get; then
        log "missing: $* (not root or no apt-get; install them yourself)"
        return 1
    fi
    if (( ! APT_UPDATED )); then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update >&2 || return 1
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}
missing=()
for c in iperf3 haproxy socat; do have "$c" || missing+=("$c"); done
(( ${#missing[@]} )) && ensure_pkgs "${missing[@]}"
have iperf3 || die "iperf3 is required"
have python3 || have jq || die "python3 or jq is required to parse iperf3 JSON"
have timeout || die "timeout (coreutils) is required"
have setsid || die "setsid (util-linux) is required"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Newest java >= 25: $JAVA, else $JAVA_HOME, else newest under /usr/lib/jvm.
java_major() {
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java.specification.version = //p' | head -1 | cut -d. -f1
}
find_java() {
    local h v
    for h in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
        h=${h%/}
        [[ -n $h && -x $h/bin/java ]] || continue
        v=$(java_major "$h/bin/java")
        is_uint "$v" && (( v >= 25 )) && { echo "$h/bin/java"; return 0; }
    done
    return 1
}
JAVA=${JAVA:-$(find_java || true)}

# ---------------------------------------------------------------- processes
TMP=$(mktemp -d /tmp/bench-e2e.XXXXXX)
PIDS=()   # process-group leaders we started (setsid => pgid == pid)

kill_group() {  # pid: TERM the process group, KILL after 3 s, reap
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    { wait "$pid"; } 2>/dev/null
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    return 0
}

CLIENT_PID=
cleanup() {
    local p
    if [[ -n $CLIENT_PID ]]; then   # timeout(1) passes TERM on to iperf3
        kill -TERM "$CLIENT_PID" 2>/dev/null
        { wait "$CLIENT_PID"; } 2>/dev/null
    fi
    for p in "${PIDS[@]}"; do kill_group "$p"; done
    if [[ $KEEP_TMP == 1 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

BG_PID=
start_bg() {  # logfile cmd...: start in its own session/process group, sets BG_PID
    local logf=$1; shift
    setsid "$@" >"$logf" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

port_listening() {  # port: is something listening on it (any local address)?
    if have ss; then
        [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

free_port() {  # first port >= $1 with no listener and not in $2 (space list)
    local p=$1 i
    for ((i = 0; i < PORT_SCAN; i++, p++)); do
        [[ " ${2:-} " == *" $p "* ]] && continue
        port_listening "$p" || { echo "$p"; return 0; }
    done
    return 1
}

wait_listen() {  # pid port: wait (bounded) until port listens; fail if pid dies
    local pid=$1 port=$2 i
    for ((i = 0; i < LISTEN_WAIT_S * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            WAIT_ERR="process exited before listening on 127.0.0.1:$port"
            return 1
        fi
        port_listening "$port" && return 0
        sleep 0.1
    done
    WAIT_ERR="nothing listening on 127.0.0.1:$port after ${LISTEN_WAIT_S} s"
    return 1
}

last_log_line() {  # file: first [ALERT] line, else last non-empty line, trimmed
    [[ -s $1 ]] || return 0
    local line
    line=$(grep -m1 '\[ALERT\]' "$1")
    [[ -n $line ]] || line=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)
    printf '%s' "$line" | tr -d '\r|' | tr -s ' ' | cut -c1-200
}

children_of() {
    if have pgrep; then
        pgrep -P "$1" 2>/dev/null
    else
        cat /proc/"$1"/task/*/children 2>/dev/null
    fi
}

cpu_ticks() {  # pid: utime+stime+cutime+cstime of pid (all threads) + live descendants
    local pid=$1 stat rest total c
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo 0; return; }
    rest=${stat##*) }            # drop "pid (comm) ", comm may contain spaces
    read -r -a f <<<"$rest"      # f[0] = field 3 (state); utime = field 14 = f[11]
    total=$((f[11] + f[12] + f[13] + f[14]))
    for c in $(children_of "$pid"); do
        total=$((total + $(cpu_ticks "$c")))
    done
    echo "$total"
}

wait_no_children() {  # pid: wait up to 5 s for forked children (socat) to exit
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -z $(children_of "$1") ]] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- iperf3
IPERF_PID=
start_iperf_server() {
    [[ -n $IPERF_PID ]] && kill_group "$IPERF_PID"
    IPERF_PID=
    local i
    for ((i = 0; i < 30; i++)); do port_listening "$SERVER_PORT" || break; sleep 0.1; done
    start_bg "$TMP/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$SERVER_PORT" --idle-timeout 60
    IPERF_PID=$BG_PID
    if ! wait_listen "$IPERF_PID" "$SERVER_PORT"; then
        log "iperf3 server: $WAIT_ERR: $(last_log_line "$TMP/iperf3-server.log")"
        return 1
    fi
}

parse_iperf_json() {  # file -> "OK bits_per_second bytes" | "ERR message"
    if have python3; then
        python3 - "$1" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as fh:
        d = json.load(fh)
except Exception as e:
    print("ERR no valid iperf3 JSON (%s)" % type(e).__name__)
    sys.exit(0)
if d.get("error"):
    print("ERR iperf3: " + " ".join(str(d["error"]).split()))
    sys.exit(0)
s = (d.get("end") or {}).get("sum_received") or {}
if "bits_per_second" not in s or "bytes" not in s:
    print("ERR iperf3 JSON has no end.sum_received")
    sys.exit(0)
print("OK %.0f %d" % (float(s["bits_per_second"]), int(s["bytes"])))
PY
    else
        local out
        if out=$(jq -r 'if .error then "ERR iperf3: " + (.error | tostring)
               elif (.end.sum_received.bits_per_second and .end.sum_received.bytes)
               then "OK \(.end.sum_received.bits_per_second | floor) \(.end.sum_received.bytes)"
               else "ERR iperf3 JSON has no end.sum_received" end' "$1" 2>/dev/null); then
            echo "$out" | tr '\n' ' ' | sed 's/ *$//'
            echo
        else
            echo "ERR no valid iperf3 JSON"
        fi
    fi
}

RUN_ERR= RUN_BPS= RUN_BYTES= RUN_TICKS=
run_iperf() {  # port streams dir seconds relay_pid(or empty) jsonfile
    local port=$1 streams=$2 dir=$3 secs=$4 rpid=$5 json=$6 rc t0 t1 res
    local args=(-c 127.0.0.1 -p "$port" -P "$streams" -t "$secs" -J --connect-timeout 3000)
    [[ $dir == rev ]] && args+=(-R)
    RUN_ERR= RUN_BPS= RUN_BYTES= RUN_TICKS=
    [[ -n $rpid ]] && t0=$(cpu_ticks "$rpid")
    # In the background + wait, so that a signal to this script is handled at once.
    timeout -k 5 $((secs + 20)) iperf3 "${args[@]}" >"$json" 2>"$json.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID"
    rc=$?
    CLIENT_PID=
    if [[ -n $rpid ]]; then
        wait_no_children "$rpid"
        t1=$(cpu_ticks "$rpid")
        RUN_TICKS=$((t1 - t0))
    fi
    if (( rc == 124 || rc == 137 )); then
        RUN_ERR="iperf3 timed out after $((secs + 20)) s (relay accepts but does not forward?)"
    else
        res=$(parse_iperf_json "$json")
        if [[ $res == OK\ * ]]; then
            read -r _ RUN_BPS RUN_BYTES <<<"$res"
            if (( rc != 0 )); then
                RUN_ERR="iperf3 exited with status $rc"
            elif [[ $RUN_BYTES == 0 ]]; then
                RUN_ERR="no bytes received"
            fi
        else
            RUN_ERR=${res#ERR }
            [[ -z $RUN_ERR ]] && RUN_ERR="iperf3 exited with status $rc: $(last_log_line "$json.err")"
        fi
    fi
    if [[ -n $rpid ]] && ! kill -0 "$rpid" 2>/dev/null; then
        RUN_ERR="relay exited during the run${RUN_ERR:+ ($RUN_ERR)}"
    fi
    [[ -z $RUN_ERR ]]
}

# ---------------------------------------------------------------- relays
RELAY_PID= RELAY_ERR=
start_relay() {  # target port
    local target=$1 port=$2 logf="$TMP/$1.log" cfg
    RELAY_PID= RELAY_ERR=
    case $target in
    haproxy-splice | haproxy-copy)
        have haproxy || { RELAY_ERR="haproxy not installed"; return 1; }
        [[ -r $HAPROXY_TEMPLATE ]] || { RELAY_ERR="missing $HAPROXY_TEMPLATE"; return 1; }
        local tmpl extra="" splice=""
        tmpl=$(<"$HAPROXY_TEMPLATE")
        if [[ $target == haproxy-splice ]]; then
            splice=$'option splice-request\n    option splice-response'
        else
            extra="nosplice"
        fi
        tmpl=${tmpl//@LISTEN_PORT@/$port}
        tmpl=${tmpl//@SERVER_PORT@/$SERVER_PORT}
        tmpl=${tmpl//@GLOBAL_EXTRA@/$extra}
        tmpl=${tmpl//@SPLICE_OPTIONS@/$splice}
        cfg="$TMP/$target.cfg"
        printf '%s\n' "$tmpl" >"$cfg"
        if ! haproxy -c -f "$cfg" >"$logf" 2>&1; then
            RELAY_ERR="haproxy -c rejected the config: $(last_log_line "$logf")"
            return 1
        fi
        start_bg "$logf" haproxy -db -f "$cfg"
        ;;
    socat)
        have socat || { RELAY_ERR="socat not installed"; return 1; }
        start_bg "$logf" socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$SERVER_PORT"
        ;;
    forwarder-copy | forwarder-splice)
        [[ -n $JAVA && -x $JAVA ]] || { RELAY_ERR="no java >= 25 found (set JAVA)"; return 1; }
        [[ -f $JAR ]] || { RELAY_ERR="$JAR not found (run make build)"; return 1; }
        local fargs=(--listen "127.0.0.1:$port" --server "127.0.0.1:$SERVER_PORT"
            --timeout-client 1m --timeout-server 1m)
        [[ $target == forwarder-splice ]] && fargs+=(--splice-request --splice-response)
        # shellcheck disable=SC2206 # flags are words
        [[ -n $FORWARDER_FLAGS ]] && fargs+=($FORWARDER_FLAGS)
        start_bg "$logf" "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" "${fargs[@]}"
        ;;
    *)
        RELAY_ERR="unknown target"; return 1 ;;
    esac
    RELAY_PID=$BG_PID
    if ! wait_listen "$RELAY_PID" "$port"; then
        local last
        last=$(last_log_line "$logf")
        if ! kill -0 "$RELAY_PID" 2>/dev/null; then
            wait "$RELAY_PID" 2>/dev/null
            WAIT_ERR="$WAIT_ERR (exit status $?)"
        fi
        RELAY_ERR="$WAIT_ERR${last:+; last output: $last}"
        kill_group "$RELAY_PID"
        RELAY_PID=
        return 1
    fi
}

# ---------------------------------------------------------------- results
declare -A R_STATUS R_GBPS R_CPUGB R_RUNS
DETAILS=()   # per-run Markdown rows
ROWS=()      # keys "target|dir|streams" in report order

median() {  # numbers on stdin -> median
    sort -g | awk '{a[NR] = $1} END {
        if (NR == 0) exit
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

fail_rows() {  # target reason: mark every not-yet-done row of target FAILED
    local target=$1 reason=$2 dir s key
    for dir in $DIRS; do
        for s in $STREAMS; do
            key="$target|$dir|$s"
            [[ -n ${R_STATUS[$key]:-} ]] && continue
            R_STATUS[$key]="FAILED: $reason"
            R_RUNS[$key]="0/$REPEAT"
        done
    done
}

run_target() {  # target index
    local target=$1 idx=$2 port rpid="" dir s r key gbps cpus cpugb ok consec
    local used="$SERVER_PORT"
    for dir in $DIRS; do for s in $STREAMS; do ROWS+=("$target|$dir|$s"); done; done

    if ! start_iperf_server; then fail_rows "$target" "iperf3 server did not start"; return; fi

    if [[ $target == direct ]]; then
        port=$SERVER_PORT
    else
        port=$(free_port $((BASE_PORT + idx)) "$used") ||
            { fail_rows "$target" "no free port from $((BASE_PORT + idx))"; return; }
        log "$target: starting relay on 127.0.0.1:$port"
        if ! start_relay "$target" "$port"; then
            log "$target: FAILED: $RELAY_ERR"
            fail_rows "$target" "$RELAY_ERR"
            return
        fi
        rpid=$RELAY_PID
        if (( WARMUP > 0 )); then
            log "$target: warm-up ${WARMUP} s"
            if ! run_iperf "$port" 1 fwd "$WARMUP" "$rpid" "$TMP/$target-warmup.json"; then
                log "$target: FAILED in warm-up: $RUN_ERR"
                fail_rows "$target" "warm-up run: $RUN_ERR"
                kill_group "$rpid"
                return
            fi
        fi
    fi

    for dir in $DIRS; do
        for s in $STREAMS; do
            key="$target|$dir|$s"
            gbps=() cpugb=() ok=0 consec=0
            local lasterr=""
            for ((r = 1; r <= REPEAT; r++)); do
                log "$target: dir=$dir streams=$s run $r/$REPEAT (${DURATION} s)"
                if run_iperf "$port" "$s" "$dir" "$DURATION" "$rpid" "$TMP/$target-$dir-$s-$r.json"; then
                    ok=$((ok + 1)) consec=0
                    local g c="n/a" cs="n/a"
                    g=$(awk -v b="$RUN_BPS" 'BEGIN {printf "%.3f", b / 1e9}')
                    gbps+=("$g")
                    if [[ -n $rpid ]]; then
                        cs=$(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}')
                        c=$(awk -v t="$RUN_TICKS" -v hz="$CLK_TCK" -v by="$RUN_BYTES" \
                            'BEGIN {printf "%.4f", (t / hz) / (by / 1e9)}')
                        cpugb+=("$c")
                    fi
                    DETAILS+=("| $(label "$target" "$dir") | $s | $r | $g | $(awk -v b="$RUN_BYTES" 'BEGIN {printf "%.2f", b / 1e9}') | $cs | $c |")
                    log "  -> $g Gbps, $RUN_BYTES bytes, CPU ${cs} s, ${c} CPU s/GB"
                else
                    consec=$((consec + 1)) lasterr=$RUN_ERR
                    DETAILS+=("| $(label "$target" "$dir") | $s | $r | FAILED: ${RUN_ERR//|//} | | | |")
                    log "  -> FAILED: $RUN_ERR"
                    if [[ -n $rpid ]] && ! kill -0 "$rpid" 2>/dev/null; then
                        R_STATUS[$key]="FAILED: $RUN_ERR"; R_RUNS[$key]="$ok/$REPEAT"
                        fail_rows "$target" "relay exited earlier"
                        kill_group "$rpid"
                        return
                    fi
                    start_iperf_server || { fail_rows "$target" "iperf3 server did not restart"; kill_group "$rpid"; return; }
                    (( consec >= MAX_CONSEC_FAIL )) && break
                fi
            done
            R_RUNS[$key]="$ok/$REPEAT"
            if (( ok == 0 )); then
                R_STATUS[$key]="FAILED: $lasterr"
                if (( consec >= MAX_CONSEC_FAIL )); then
                    fail_rows "$target" "skipped after $MAX_CONSEC_FAIL failed runs in a row"
                    [[ -n $rpid ]] && kill_group "$rpid"
                    return
                fi
            else
                R_STATUS[$key]=OK
                R_GBPS[$key]=$(printf '%s\n' "${gbps[@]}" | median)
                if (( ${#cpugb[@]} )); then
                    R_CPUGB[$key]=$(printf '%s\n' "${cpugb[@]}" | median)
                else
                    R_CPUGB[$key]=n/a
                fi
                [[ $ok -lt $REPEAT ]] && R_STATUS[$key]="PARTIAL: $lasterr"
            fi
        done
    done
    [[ -n $rpid ]] && kill_group "$rpid"
}

label() {  # target dir -> table label
    if [[ $2 == rev ]]; then echo "$1 (-R)"; else echo "$1"; fi
}

fmt() {  # number decimals -> formatted, passes n/a through
    if [[ $1 =~ ^[0-9.eE+-]+$ ]]; then awk -v v="$1" -v d="$2" 'BEGIN {printf "%." d "f", v}'; else echo "$1"; fi
}

ratio() {  # a b -> a/b with 2 decimals or n/a
    if [[ $1 =~ ^[0-9.eE+-]+$ && $2 =~ ^[0-9.eE+-]+$ ]]; then
        awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "n/a"; else printf "%.2f", a / b}'
    else
        echo n/a
    fi
}

# ---------------------------------------------------------------- facts
first_line() { "$@" 2>&1 | grep -v '^[[:space:]]*$' | head -n 1; }
STAMP=$(date +%Y%m%d-%H%M%S)
FACTS=()
FACTS+=("- date: $(date -Is)")
FACTS+=("- nproc: $(nproc)")
FACTS+=("- cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')")
FACTS+=("- kernel: $(uname -sr)")
FACTS+=("- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)")
FACTS+=("- haproxy: $(have haproxy && first_line haproxy -v || echo 'not installed')")
FACTS+=("- java: $([[ -n $JAVA && -x $JAVA ]] && echo "$(first_line "$JAVA" -version) ($JAVA)" || echo 'not found')")
FACTS+=("- iperf3: $(first_line iperf3 --version)")
FACTS+=("- socat: $(have socat && socat -V 2>/dev/null | grep -m1 'socat version' || echo 'not installed')")
FACTS+=("- parameters: TARGETS=\"$TARGETS\" STREAMS=\"$STREAMS\" DURATION=$DURATION REPEAT=$REPEAT WARMUP=$WARMUP REVERSE=$REVERSE FORWARDER_FLAGS=\"$FORWARDER_FLAGS\"")

# ---------------------------------------------------------------- main
SERVER_PORT=$(free_port "$SERVER_PORT") || die "no free port for the iperf3 server near $SERVER_PORT"
log "iperf3 server port $SERVER_PORT; targets: $TARGETS"
idx=0
for t in $TARGETS; do
    run_target "$t" "$idx"
    idx=$((idx + 1))
done
[[ -n $IPERF_PID ]] && kill_group "$IPERF_PID"

mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/results-$STAMP.md"
{
    echo "# forwarder end-to-end comparison ($STAMP)"
    echo
    printf '%s\n' "${FACTS[@]}"
    echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- iperf3 server 127.0.0.1:$SERVER_PORT; CPU = relay utime+stime (all threads + children), CLK_TCK=$CLK_TCK; GB = 1e9 bytes"
    echo
    echo "## Results (medians over runs)"
    echo
    echo "| target | streams | Gbps (median) | CPU s/GB (median) | runs |"
    echo "|---|---:|---:|---:|---:|"
    for key in "${ROWS[@]}"; do
        IFS='|' read -r t d s <<<"$key"
        st=${R_STATUS[$key]:-FAILED: not run}
        if [[ $st == OK || $st == PARTIAL:* ]]; then
            cpu=$(fmt "${R_CPUGB[$key]}" 3)
            [[ $st == PARTIAL:* ]] && cpu="$cpu (some runs failed: ${st#PARTIAL: })"
            echo "| $(label "$t" "$d") | $s | $(fmt "${R_GBPS[$key]}" 2) | ${cpu//|//} | ${R_RUNS[$key]} |"
        else
            echo "| $(label "$t" "$d") | $s | ${st//|//} | | ${R_RUNS[$key]:-0/$REPEAT} |"
        fi
    done
    if [[ " $TARGETS " == *" forwarder-"* ]]; then
        echo
        echo "## forwarder vs HAProxy (throughput ratio > 1 = faster; CPU/GB ratio < 1 = cheaper)"
        echo
        echo "| forwarder row | vs | streams | throughput ratio | CPU/GB ratio |"
        echo "|---|---|---:|---:|---:|"
        for f in forwarder-copy forwarder-splice; do
            [[ " $TARGETS " == *" $f "* ]] || continue
            h=haproxy-${f#forwarder-}
            for d in $DIRS; do
                for s in $STREAMS; do
                    fk="$f|$d|$s" hk="$h|$d|$s"
                    if [[ " $TARGETS " != *" $h "* ]]; then
                        tr_=n/a cr_="n/a ($h not run)"
                    else
                        tr_=$(ratio "${R_GBPS[$fk]:-}" "${R_GBPS[$hk]:-}")
                        cr_=$(ratio "${R_CPUGB[$fk]:-}" "${R_CPUGB[$hk]:-}")
                    fi
                    echo "| $(label "$f" "$d") | $h | $s | $tr_ | $cr_ |"
                done
            done
        done
    fi
    echo
    echo "## Individual runs"
    echo
    echo "| target | streams | run | Gbps | GB moved | relay CPU s | CPU s/GB |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    (( ${#DETAILS[@]} )) && printf '%s\n' "${DETAILS[@]}"
    (( ${#DETAILS[@]} )) || echo "| (no runs) | | | | | | |"
} | tee "$REPORT"
log "report written to $REPORT"
