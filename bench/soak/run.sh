#!/usr/bin/env bash
# Soak: does the forwarder's memory (RSS) and fd count stay flat under an hour of mixed traffic?
# (issue 11: a 5-minute mix once took RSS from 81 to 101 MiB, still rising at the end.)
#
# One forwarder (bin/forwarder -f <generated config>, nbthread $NBTHREAD: the launcher's JVM
# settings, what `make run` runs; LAUNCHER=0 for plain `java -jar` with FORWARDER_JVM only) with
# four listeners: echo_copy and echo_splice in front of EchoServer, peer_copy and peer_splice in
# front of the test peer (mix.py serve); the *_splice ones have option splice-request/-response.
# Then, concurrently and paced for DURATION s (bench/soak/mix.py load):
#   bulk       32-64 MiB transfers, SHA-256 and byte count checked: echo (both directions at once),
#              upload, download; copy and splice listeners in turn
#   halfclose  1 B-256 KiB sent, shutdown(SHUT_WR), the echo read to EOF and checked
#   reset      client RST mid-echo, client RST mid-download, peer RST after n bytes (what arrived
#              must be a prefix of what was sent)
#   pingpong   LoadClient --mode pingpong bursts (BURST_S s, PP_CONNS connections) every PP_EVERY s
#   connrate   LoadClient --mode connrate bursts every CR_EVERY s
# Every SAMPLE s one CSV row (bench/soak/out/soak-<date>.csv): elapsed, VmRSS, fds, threads,
# forwarder CPU, counts done/failed per kind, and every HEAP_EVERY s the heap in use (jcmd).
# Before the mix a short priming pass (each kind once, concurrent splices so pipe pools fill),
# then the idle figures (fds, RSS, heap after a forced GC); after the mix the same idle figures.
# Summary (Markdown) on stdout and in bench/results/soak-<date>.md; a PNG if matplotlib imports.
#
# Verdict "flat": RSS slope over the steady part (after WARMUP s) < MAX_SLOPE_MIB_H, RSS end -
# steady start < MAX_GROWTH_MIB, idle fds after == idle fds before. Else "NOT FLAT", exit 1.
# Any failed operation (a hash mismatch, a truncation, an error) also exits 1.
#
# Environment (defaults in brackets):
#   DURATION      seconds of mixed load                           [3600]
#   SAMPLE        seconds between samples                         [10]
#   WARMUP        seconds excluded from the steady part           [10% of DURATION, at most 300]
#   NBTHREAD      forwarder event loops                           [2]
#   FORWARDER_JVM JVM flags of the forwarder, after the launcher's (e.g. "-Xmx64m") [none]
#   LAUNCHER      1 = start it with bin/forwarder, 0 = java -jar $JAR [1]
#   HEAP_EVERY    seconds between jcmd GC.heap_info readings, 0 = never [300]
#   BULK_MIN, BULK_MAX  bulk transfer size range, MiB             [32, 64]
#   BULK_GAP      pause between bulk transfers, s                 [1]
#   HC_GAP, RST_GAP  pause between half-close / reset operations, s [0.2, 0.3]
#   PP_EVERY, CR_EVERY  seconds between LoadClient bursts, 0 = none [20, 20]
#   BURST_S       length of one burst, s                          [2]
#   PP_CONNS, CR_CONNS  ping-pong connections, connrate workers   [4, 4]
#   MAX_SLOPE_MIB_H, MAX_GROWTH_MIB  verdict thresholds           [2, 5]
#   JAR, JAVA, BENCH_CP [bench/target/classes], BASE_PORT [16701], OUT_DIR [bench/soak/out],
#   RESULTS_DIR [bench/results], KEEP_TMP [0]
# Hard deadline: the whole run is stopped DURATION + 120 s after it started. See README.md.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1
LOG_TAG=soak
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

DURATION=${DURATION:-3600}
SAMPLE=${SAMPLE:-10}
NBTHREAD=${NBTHREAD:-2}
FORWARDER_JVM=${FORWARDER_JVM:-}
HEAP_EVERY=${HEAP_EVERY:-300}
BULK_MIN=${BULK_MIN:-32}
BULK_MAX=${BULK_MAX:-64}
BULK_GAP=${BULK_GAP:-1}
HC_GAP=${HC_GAP:-0.2}
RST_GAP=${RST_GAP:-0.3}
PP_EVERY=${PP_EVERY:-20}
CR_EVERY=${CR_EVERY:-20}
BURST_S=${BURST_S:-2}
PP_CONNS=${PP_CONNS:-4}
CR_CONNS=${CR_CONNS:-4}
MAX_SLOPE_MIB_H=${MAX_SLOPE_MIB_H:-2}
MAX_GROWTH_MIB=${MAX_GROWTH_MIB:-5}
JAR=${JAR:-forwarder/target/forwarder.jar}
BENCH_CP=${BENCH_CP:-bench/target/classes}
BASE_PORT=${BASE_PORT:-16701}
OUT_DIR=${OUT_DIR:-$SCRIPT_DIR/out}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
KEEP_TMP=${KEEP_TMP:-0}
LISTEN_WAIT_S=15
STOP_WAIT_S=20
PORT_SCAN=200
CLIENT_JVM=(-XX:+UseSerialGC -Xms64m -Xmx256m)

is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
is_uint "$DURATION" && (( DURATION >= 10 && DURATION <= 86400 )) || die "DURATION must be 10..86400 (seconds)"
is_uint "$SAMPLE" && (( SAMPLE >= 1 && SAMPLE <= 600 )) || die "SAMPLE must be 1..600 (seconds)"
WARMUP=${WARMUP:-$(( DURATION / 10 < 300 ? DURATION / 10 : 300 ))}
is_uint "$WARMUP" && (( WARMUP < DURATION )) || die "WARMUP must be 0..DURATION-1 (seconds)"
is_uint "$NBTHREAD" && (( NBTHREAD >= 1 && NBTHREAD <= 64 )) || die "NBTHREAD must be 1..64"
is_uint "$HEAP_EVERY" || die "HEAP_EVERY must be a whole number of seconds (0 = never)"
is_uint "$BULK_MIN" && is_uint "$BULK_MAX" && (( BULK_MIN >= 1 && BULK_MIN <= BULK_MAX && BULK_MAX <= 1024 )) ||
    die "need 1 <= BULK_MIN <= BULK_MAX <= 1024 (MiB)"
for v in BULK_GAP HC_GAP RST_GAP PP_EVERY CR_EVERY BURST_S MAX_SLOPE_MIB_H MAX_GROWTH_MIB; do
    is_num "${!v}" || die "$v must be a non-negative number, got '${!v}'"
done
is_uint "$PP_CONNS" && (( PP_CONNS >= 1 && PP_CONNS <= 1000 )) || die "PP_CONNS must be 1..1000"
is_uint "$CR_CONNS" && (( CR_CONNS >= 1 && CR_CONNS <= 1000 )) || die "CR_CONNS must be 1..1000"
is_uint "$BASE_PORT" && (( BASE_PORT >= 1024 && BASE_PORT <= 60000 )) || die "BASE_PORT must be 1024..60000"
[[ $KEEP_TMP == 0 || $KEEP_TMP == 1 ]] || die "KEEP_TMP must be 0 or 1"

for t in timeout setsid python3; do have "$t" || die "$t is required"; done
JAVA=${JAVA:-$(find_java || true)}
[[ -n $JAVA && -x $JAVA ]] || die "no java >= 25 found (set JAVA or JAVA_HOME)"
JCMD=$(dirname "$JAVA")/jcmd
[[ -x $JCMD ]] || JCMD=
[[ -f $JAR ]] || die "$JAR not found (run make build)"
[[ -e $BENCH_CP ]] || die "$BENCH_CP not found (run make build)"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
read -r -a FJVM <<<"$FORWARDER_JVM"

T0=$(date +%s)
HARD_END=$(( T0 + DURATION + 120 ))
STAMP=$(date -u +%Y%m%d-%H%M%S)
TMP=$(mktemp -d /tmp/bench-soak.XXXXXX)
NEXT_PORT=$BASE_PORT
WATCHDOG=
cleanup() {
    [[ -n $WATCHDOG ]] && kill_group "$WATCHDOG" 1
    stop_all
    if [[ $KEEP_TMP == 1 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP
# The hard deadline: a sleeper in its own group that TERMs this script (whose trap cleans up).
setsid bash -c "sleep $(( DURATION + 120 )); kill -TERM $$" </dev/null >/dev/null 2>&1 &
WATCHDOG=$!

vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
nthreads() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
fd_kinds() {  # pid: "socket:N pipe:N anon_inode:N file:N ..." of its open fds
    local f t
    for f in /proc/"$1"/fd/*; do
        t=$(readlink "$f" 2>/dev/null) || continue
        case $t in
            socket:*) echo socket ;; pipe:*) echo pipe ;; anon_inode:*) echo "${t#anon_inode:}" ;;
            /dev/*) echo dev ;; *) echo file ;;
        esac
    done | sort | uniq -c | awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}
heap_used_kb() {  # pid: Java heap in use now (KiB), or empty
    [[ -n $JCMD ]] || return 0
    timeout 30 "$JCMD" "$1" GC.heap_info 2>/dev/null | grep -m1 -oE 'used [0-9]+K' | grep -oE '[0-9]+'
}
force_gc() { [[ -n $JCMD ]] && timeout 30 "$JCMD" "$1" GC.run >/dev/null 2>&1; }

# ---------------------------------------------------------------- processes
alloc_port ECHO_PORT && alloc_port PEER_PORT && alloc_port P_EC && alloc_port P_ES && alloc_port P_PC && alloc_port P_PS ||
    die "no free ports from $BASE_PORT"
LIFETIME=$(( DURATION + 300 ))
start_bg "$TMP/echo.log" "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" org.forwarder.bench.load.EchoServer \
    --port "$ECHO_PORT" --threads 1 --lifetime "$LIFETIME"
ECHO_PID=$BG_PID
wait_listen "$ECHO_PID" "$ECHO_PORT" || die "echo server: $WAIT_ERR: $(last_log_line "$TMP/echo.log")"
start_bg "$TMP/peer.log" python3 "$SCRIPT_DIR/mix.py" serve --port "$PEER_PORT" --lifetime "$LIFETIME"
PEER_PID=$BG_PID
wait_listen "$PEER_PID" "$PEER_PORT" || die "test peer: $WAIT_ERR: $(last_log_line "$TMP/peer.log")"

CFG=$TMP/soak.cfg
{
    echo "# generated by bench/soak/run.sh"
    echo "global"
    echo "    maxconn 1024"
    echo "    nbthread $NBTHREAD"
    echo
    echo "defaults"
    echo "    mode tcp"
    echo "    timeout connect 5s"
    echo "    timeout client 1m"
    echo "    timeout server 1m"
    for s in "echo_copy $P_EC $ECHO_PORT" "echo_splice $P_ES $ECHO_PORT" "peer_copy $P_PC $PEER_PORT" "peer_splice $P_PS $PEER_PORT"; do
        read -r name port backend <<<"$s"
        echo
        echo "listen $name"
        echo "    bind 127.0.0.1:$port"
        [[ $name == *_splice ]] && printf '    option splice-request\n    option splice-response\n'
        echo "    server s1 127.0.0.1:$backend"
    done
} >"$CFG"
if [[ ${LAUNCHER:-1} == 1 ]]; then
    log "forwarder: bin/forwarder${FORWARDER_JVM:+ (FORWARDER_JVM_OPTS=$FORWARDER_JVM)} -f $CFG (nbthread $NBTHREAD)"
    start_bg "$TMP/forwarder.log" env JAVA_HOME="$(dirname "$(dirname "$JAVA")")" FORWARDER_JVM_OPTS="$FORWARDER_JVM" \
        "$ROOT/bin/forwarder" -f "$CFG"
else
    log "forwarder: ${FORWARDER_JVM:+$FORWARDER_JVM }-jar $JAR -f $CFG (nbthread $NBTHREAD)"
    start_bg "$TMP/forwarder.log" "$JAVA" "${FJVM[@]}" --enable-native-access=ALL-UNNAMED -jar "$JAR" -f "$CFG"
fi
FWD_PID=$BG_PID
for p in "$P_EC" "$P_ES" "$P_PC" "$P_PS"; do
    wait_listen "$FWD_PID" "$p" || die "forwarder: $WAIT_ERR; it said: $(last_log_line "$TMP/forwarder.log")"
done

MIX_ARGS=(--echo-copy "$P_EC" --echo-splice "$P_ES" --peer-copy "$P_PC" --peer-splice "$P_PS"
    --java "$JAVA" --bench-cp "$BENCH_CP" --bulk-min "$BULK_MIN" --bulk-max "$BULK_MAX")

# ---------------------------------------------------------------- idle figures
declare -A IDLE
idle_figures() {  # before|after: wait for the connections to go, force a GC, read fds/RSS/heap
    local tag=$1 i base=${IDLE[before_fds]:-}
    # After the mix: up to 30 s for the last connections to close (back to the idle count).
    for ((i = 0; i < 60; i++)); do
        [[ -n $base ]] && (( $(nfds "$FWD_PID") <= base )) && break
        [[ -z $base ]] && (( i >= 6 )) && break
        sleep 0.5
    done
    force_gc "$FWD_PID" && sleep 1
    IDLE[${tag}_fds]=$(nfds "$FWD_PID")
    IDLE[${tag}_kinds]=$(fd_kinds "$FWD_PID")
    IDLE[${tag}_threads]=$(nthreads "$FWD_PID")
    IDLE[${tag}_rss]=$(vmrss_kb "$FWD_PID")
    IDLE[${tag}_heap]=$(heap_used_kb "$FWD_PID")
    if [[ -n $JCMD && " $FORWARDER_JVM " == *NativeMemoryTracking* ]]; then
        timeout 30 "$JCMD" "$FWD_PID" VM.native_memory summary >"$OUT_DIR/soak-$STAMP-nmt-$tag.txt" 2>&1
    fi
    log "idle $tag: fds ${IDLE[${tag}_fds]} (${IDLE[${tag}_kinds]}), threads ${IDLE[${tag}_threads]}, VmRSS ${IDLE[${tag}_rss]} KiB, heap after GC ${IDLE[${tag}_heap]:-n/a} KiB"
}

mkdir -p "$OUT_DIR" "$RESULTS_DIR"
# Priming: every kind a few times and 4 x nbthread splices at once, so the bounded caches (buffers,
# a few idle pipes per loop), JIT and the jcmd attach listener exist before "idle before"; the same
# pass runs again after the mix, before "idle after", so both idle counts are taken alike.
prime() {  # tag
    log "priming pass ($1): each kind, $(( 4 * NBTHREAD )) concurrent splices"
    timeout -k 5 45 python3 "$SCRIPT_DIR/mix.py" load "${MIX_ARGS[@]}" --duration 6 --status "$TMP/prime-$1.status" \
        --prime $(( 4 * NBTHREAD )) --bulk-workers 4 --bulk-gap 0 --max-ops 2 --halfclose-gap 0.1 --reset-gap 0.1 \
        --pingpong-every 3 --connrate-every 3 --burst-s 1 --bulk-min 1 --bulk-max 4 >"$TMP/prime-$1.log" 2>&1 && return 0
    PRIME_ERR="priming pass ($1) failed: $(grep -m3 'FAILED\|Error' "$TMP/prime-$1.log" | tr '\n' ' ' | cut -c1-300)"
    log "$PRIME_ERR"
    return 1
}
PRIME_ERR=
prime before || die "$PRIME_ERR"
idle_figures before

# ---------------------------------------------------------------- the mix
CSV="$OUT_DIR/soak-$STAMP.csv"
STATUS="$TMP/mix.status"
log "mixed load for $DURATION s, a sample every $SAMPLE s -> $CSV"
start_bg "$TMP/mix.log" python3 "$SCRIPT_DIR/mix.py" load "${MIX_ARGS[@]}" --duration "$DURATION" --status "$STATUS" \
    --bulk-gap "$BULK_GAP" --halfclose-gap "$HC_GAP" --reset-gap "$RST_GAP" --pingpong-every "$PP_EVERY" \
    --connrate-every "$CR_EVERY" --burst-s "$BURST_S" --pingpong-conns "$PP_CONNS" --connrate-conns "$CR_CONNS"
MIX_PID=$BG_PID
KINDS="bulk halfclose reset pingpong connrate"
{
    printf 'elapsed_s,rss_kib,fds,threads,cpu_s,heap_used_kib'
    for k in $KINDS; do printf ',%s_ok,%s_fail' "$k" "$k"; done
    printf ',integrity_fail,bytes\n'
} >"$CSV"
status_val() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$STATUS" 2>/dev/null | head -n 1; }
M0=$(date +%s.%N)
CPU0=$(cpu_ticks "$FWD_PID")
next=0 last_heap=-1 n=0
while kill -0 "$MIX_PID" 2>/dev/null; do
    now=$(date +%s.%N)
    el=$(awk -v a="$now" -v b="$M0" 'BEGIN {printf "%.1f", a - b}')
    if awk -v e="$el" -v n="$next" 'BEGIN {exit !(e >= n)}'; then
        kill -0 "$FWD_PID" 2>/dev/null || { log "the forwarder died: $(last_log_line "$TMP/forwarder.log")"; break; }
        heap=
        if (( HEAP_EVERY > 0 )) && awk -v e="$el" -v l="$last_heap" -v h="$HEAP_EVERY" 'BEGIN {exit !(l < 0 || e - l >= h)}'; then
            heap=$(heap_used_kb "$FWD_PID"); last_heap=$el
        fi
        row="$el,$(vmrss_kb "$FWD_PID"),$(nfds "$FWD_PID"),$(nthreads "$FWD_PID"),$(awk -v t="$(( $(cpu_ticks "$FWD_PID") - CPU0 ))" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}'),$heap"
        for k in $KINDS; do row+=",$(status_val "${k}_ok"),$(status_val "${k}_fail")"; done
        row+=",$(status_val integrity_fail),$(status_val bytes)"
        echo "$row" >>"$CSV"
        (( n++ % 6 == 0 )) && log "t=${el}s rss=$(( $(vmrss_kb "$FWD_PID") / 1024 )) MiB fds=$(nfds "$FWD_PID") $(cut -d' ' -f1-10 "$STATUS" 2>/dev/null)"
        next=$(( next + SAMPLE ))
    fi
    (( $(date +%s) > HARD_END - 60 )) && { log "mix overran its time: stopping it"; break; }
    sleep 0.5
done
kill -0 "$MIX_PID" 2>/dev/null && kill_group "$MIX_PID" 30
wait "$MIX_PID" 2>/dev/null
MIX_RC=$?
kill_group "$MIX_PID" 1
MIX_END=$(date +%s.%N)
FWD_ALIVE=1 PRIME_AFTER_ERR=
kill -0 "$FWD_PID" 2>/dev/null || FWD_ALIVE=0
if (( FWD_ALIVE )); then
    # wait for the mix's connections to go before priming again (the fd count must come down)
    for ((i = 0; i < 60; i++)); do (( $(nfds "$FWD_PID") <= ${IDLE[before_fds]} )) && break; sleep 0.5; done
    prime after || PRIME_AFTER_ERR=$PRIME_ERR
    idle_figures after
fi
FWD_CPU=$(awk -v t="$(( $(cpu_ticks "$FWD_PID") - CPU0 ))" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz}')
ECHO_CPU=$(awk -v t="$(cpu_ticks "$ECHO_PID")" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz}')
PEER_CPU=$(awk -v t="$(cpu_ticks "$PEER_PID")" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz}')
kill_group "$FWD_PID" "$STOP_WAIT_S"
kill_group "$ECHO_PID"
kill_group "$PEER_PID"

# ---------------------------------------------------------------- summary
REPORT="$RESULTS_DIR/soak-$STAMP.md"
PNG="$OUT_DIR/soak-$STAMP.png"
export SOAK_CSV=$CSV SOAK_PNG=$PNG WARMUP DURATION SAMPLE NBTHREAD FORWARDER_JVM MAX_SLOPE_MIB_H MAX_GROWTH_MIB \
    NMT_BEFORE="$OUT_DIR/soak-$STAMP-nmt-before.txt" NMT_AFTER="$OUT_DIR/soak-$STAMP-nmt-after.txt" \
    MIX_RC FWD_ALIVE PRIME_AFTER_ERR FWD_CPU ECHO_CPU PEER_CPU JAR \
    SOAK_MIX_STATUS="$(cat "$STATUS" 2>/dev/null)" SOAK_MIX_LOG="$(grep -E 'FAILED|failure:|giving up|Traceback' "$TMP/mix.log" | head -n 20)" \
    MIX_WALL=$(awk -v a="$MIX_END" -v b="$M0" 'BEGIN {printf "%.1f", a - b}') \
    IDLE_BEFORE="${IDLE[before_fds]:-}|${IDLE[before_kinds]:-}|${IDLE[before_threads]:-}|${IDLE[before_rss]:-}|${IDLE[before_heap]:-}" \
    IDLE_AFTER="${IDLE[after_fds]:-}|${IDLE[after_kinds]:-}|${IDLE[after_threads]:-}|${IDLE[after_rss]:-}|${IDLE[after_heap]:-}" \
    JAVA_VERSION="$("$JAVA" -version 2>&1 | head -n 1)" STAMP
# The summary draws its plot if matplotlib imports: in python3, else in the system's python3
# (a pyenv or venv python3 on PATH may not see the distribution's python3-matplotlib).
SUM_PY=python3
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    for py in /usr/bin/python3 /bin/python3; do
        [[ -x $py ]] && "$py" -c 'import matplotlib' 2>/dev/null && { SUM_PY=$py; break; }
    done
fi
"$SUM_PY" "$SCRIPT_DIR/summary.py" >"$TMP/summary.md"
SUM_RC=$?
tee "$REPORT" <"$TMP/summary.md"
log "summary written to $REPORT; samples in $CSV"
exit "$SUM_RC"
