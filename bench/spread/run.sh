#!/usr/bin/env bash
# Issue 8: how evenly do event loops share new connections, SO_REUSEPORT (one listening socket
# per loop) against ONE listening socket in every loop's epoll set with EPOLLEXCLUSIVE?
#
# Runs org.forwarder.bench.AcceptSpread (L loops, accept batch B, a minimal echo per connection)
# under the load client (org.forwarder.bench.load.LoadClient) on 127.0.0.1, for each case:
#   connrate  CONNS concurrent workers: connect, 64 B echo, close, again (WARMUP + DURATION s)
#   burst     pingpong on CONNS persistent connections, all opened at once at the start: how those
#             CONNS are spread (and how the echo work then is), WARMUP + BURST_DURATION s
# Cases: each of CONFIGS ("mode:batch") unstalled, then each of STALL_CONFIGS with loop 0 parking
# STALL_US after every event it handles (a busy loop). REPEAT runs each, a fresh AcceptSpread per
# run. Per run: accepts per loop, busiest/idlest, empty accepts (the listener was reported ready
# but another loop had taken the connection), connections or round trips per second, p99, the
# AcceptSpread process's CPU per operation, errors, the load average just before the run.
#
# Environment (defaults in brackets):
#   BUILD          1 = build first (mvn -o install, tests skipped)      [1]
#   LOOPS          event loops                                         [2]
#   CONFIGS        mode:batch cases                                    ["reuseport:64 exclusive:64 exclusive:8 exclusive:1"]
#   STALL_CONFIGS  mode:batch cases with loop 0 stalled ("" = none)    ["reuseport:64 exclusive:64"]
#   STALL_US       stall of loop 0 per event, microseconds             [1000]
#   PATTERNS       connrate and/or burst                               ["connrate burst"]
#   REPEAT         runs per case                                       [3]
#   CONNS          concurrent clients                                  [50]
#   WARMUP         unmeasured seconds before the window                [2]
#   DURATION       connrate measured seconds                           [10]
#   BURST_DURATION burst (pingpong) measured seconds                   [3]
#   JAVA_HOME      JDK 25                                              [/usr/lib/jvm/temurin-25-jdk-amd64]
#   OUT            report file                                         [bench/spread/out/spread-<date>-<time>.md]
#   KEEP_TMP       1 = keep the temp dir with every process's output   [0]
# The accept counts cover the whole run (warm-up included); the rates cover the measured window.
# Bounds: a listener must be READY within 15 s; a client run has a hard timeout (warm-up + duration
# + 40 s); AcceptSpread runs at most warm-up + duration + 30 s and is stopped by its PID (SIGTERM,
# then SIGKILL after 10 s) right after the client. Only processes started here are stopped.
# Report (Markdown) on stdout and in $OUT; progress on stderr.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1

BUILD=${BUILD:-1}
LOOPS=${LOOPS:-2}
CONFIGS=${CONFIGS:-"reuseport:64 exclusive:64 exclusive:8 exclusive:1"}
STALL_CONFIGS=${STALL_CONFIGS-"reuseport:64 exclusive:64"}
STALL_US=${STALL_US:-1000}
PATTERNS=${PATTERNS:-"connrate burst"}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-10}
BURST_DURATION=${BURST_DURATION:-3}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$SCRIPT_DIR/out/spread-$STAMP.md}
KEEP_TMP=${KEEP_TMP:-0}
CP=bench/target/classes:forwarder/target/classes:native-bindings/target/classes
JVM_OPTS=(-Xms64m -Xmx256m -XX:+UseSerialGC)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

if [[ ! -x $JAVA ]]; then echo "run.sh: no java at $JAVA (set JAVA_HOME to a JDK 25)" >&2; exit 2; fi
if (( BUILD )); then
    log "building (mvn -o install, tests skipped)"
    MAVEN_OPTS=--sun-misc-unsafe-memory-access=allow mvn -B -q -o -DskipTests install >&2 \
        || { echo "run.sh: build failed" >&2; exit 1; }
fi
[[ -f bench/target/classes/org/forwarder/bench/AcceptSpread.class ]] \
    || { echo "run.sh: bench/target/classes has no AcceptSpread (build first)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/spread.XXXXXX)
SP_PID= CL_PID=
cleanup() {
    [[ -n $CL_PID ]] && kill -KILL "$CL_PID" 2>/dev/null
    [[ -n $SP_PID ]] && kill -KILL "$SP_PID" 2>/dev/null
    (( KEEP_TMP )) || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

res() { grep -m1 '^RESULT ' "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"; }

stop_spread() {  # SIGTERM by PID, SIGKILL after 10 s
    local i
    [[ -z $SP_PID ]] && return
    kill -TERM "$SP_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$SP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SP_PID" 2>/dev/null && { log "  AcceptSpread $SP_PID did not stop: SIGKILL"; kill -KILL "$SP_PID"; }
    wait "$SP_PID" 2>/dev/null
    SP_PID=
}

ROWS=()      # per run: case|pattern|run|load|first|accepts|ratio|within|empty|rate|p99|cpu|errors|events
run_one() {  # mode batch stall pattern run
    local mode=$1 batch=$2 stall=$3 pattern=$4 r=$5
    local tag="$mode-$batch-s$stall-$pattern-$r" dur=$DURATION lmode=connrate
    [[ $pattern == burst ]] && { dur=$BURST_DURATION; lmode=pingpong; }
    local so="$TMP/$tag.spread" co="$TMP/$tag.client" load
    local stall_args=()
    (( stall > 0 )) && stall_args=(--stall-loop 0 --stall-us "$stall")
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$JAVA" "${JVM_OPTS[@]}" --enable-native-access=ALL-UNNAMED -cp "$CP" org.forwarder.bench.AcceptSpread \
        --mode "$mode" --loops "$LOOPS" --batch "$batch" --seconds $((WARMUP + dur + 30)) "${stall_args[@]}" \
        >"$so" 2>&1 &
    SP_PID=$!
    local i port=
    for ((i = 0; i < 150; i++)); do
        port=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$so" 2>/dev/null)
        [[ -n $port ]] && break
        kill -0 "$SP_PID" 2>/dev/null || break
        sleep 0.1
    done
    local casename="$mode B=$batch$( (( stall > 0 )) && echo ", loop 0 stalled ${stall} us/event")"
    if [[ -z $port ]]; then
        log "  FAILED: AcceptSpread not ready: $(tail -n 1 "$so")"
        stop_spread
        ROWS+=("$casename|$pattern|$r|$load||FAILED: $(tail -n 1 "$so" | tr -d '|')|||||||")
        return
    fi
    timeout -k 5 $((WARMUP + dur + 40)) "$JAVA" "${JVM_OPTS[@]}" -cp bench/target/classes \
        org.forwarder.bench.load.LoadClient --mode "$lmode" --port "$port" --conns "$CONNS" \
        --warmup "$WARMUP" --duration "$dur" --cpu-pid "$SP_PID" >"$co" 2>&1 &
    CL_PID=$!
    wait "$CL_PID"
    local crc=$?
    CL_PID=
    stop_spread
    if ! grep -q '^RESULT ' "$so"; then
        ROWS+=("$casename|$pattern|$r|$load||FAILED: no RESULT from AcceptSpread: $(tail -n 1 "$so" | tr -d '|')|||||||")
        log "  FAILED: no RESULT from AcceptSpread"
        return
    fi
    local note="" first=n/a
    [[ $mode == exclusive ]] && first="loop $(res "$so" registration_order | cut -d, -f1)"
    grep -q '^RESULT ' "$co" || note=" (client rc $crc: $(tail -n 1 "$co" | tr -d '|'))"
    ROWS+=("$casename|$pattern|$r|$load|$first|$(res "$so" accepts | tr , /)|$(res "$so" ratio)|$(res "$so" within20)|$(res "$so" empty_accepts | tr , /)|$(res "$co" rate)|$(res "$co" p99_us)|$(res "$co" cpu_us_per_op)|$(( $(res "$co" errors || echo 0) + 0 ))$note|$(res "$so" events | tr , /)")
    log "  -> accepts $(res "$so" accepts) ratio $(res "$so" ratio), $lmode rate $(res "$co" rate)/s p99 $(res "$co" p99_us) us, errors $(res "$co" errors)"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CASES=()
for c in $CONFIGS; do CASES+=("${c%%:*} ${c##*:} 0"); done
for c in $STALL_CONFIGS; do CASES+=("${c%%:*} ${c##*:} $STALL_US"); done
for cs in "${CASES[@]}"; do
    read -r mode batch stall <<<"$cs"
    for pattern in $PATTERNS; do
        for ((r = 1; r <= REPEAT; r++)); do
            log "$mode B=$batch stall=$stall $pattern run $r/$REPEAT"
            run_one "$mode" "$batch" "$stall" "$pattern" "$r"
        done
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

mkdir -p "$(dirname "$OUT")"
{
    echo "# Accept spread over $LOOPS event loops: SO_REUSEPORT vs EPOLLEXCLUSIVE ($STAMP)"
    echo
    echo "- machine: nproc $(nproc), $(uname -sr); load average at start $LOAD_START, at end $LOAD_END (shared with other work; the client and AcceptSpread share the same cores)"
    echo "- java: $("$JAVA" -version 2>&1 | head -n 1); worktree $(git rev-parse --short HEAD 2>/dev/null) on $(git rev-parse --abbrev-ref HEAD 2>/dev/null)"
    echo "- parameters: LOOPS=$LOOPS CONFIGS=\"$CONFIGS\" STALL_CONFIGS=\"$STALL_CONFIGS\" STALL_US=$STALL_US PATTERNS=\"$PATTERNS\" REPEAT=$REPEAT CONNS=$CONNS WARMUP=$WARMUP DURATION=$DURATION BURST_DURATION=$BURST_DURATION"
    echo "- connrate: LoadClient --mode connrate, $CONNS concurrent workers (connect, 64 B echo, close); burst: LoadClient --mode pingpong, $CONNS connections opened at once at the start, then 64 B ping-pong"
    echo "- accepts per loop over the whole run (warm-up included); ratio = busiest/idlest (within 20% = ratio <= 1.2); empty = listener events whose first accept4 got EAGAIN; rate = connections/s (connrate) or round trips/s (burst) in the window; CPU = AcceptSpread's utime+stime per operation; first in the wait queue (exclusive only) = the loop whose epoll_ctl(ADD) of the shared socket came first: the kernel offers a connection to the first loop in that order that is sleeping in epoll_wait"
    echo
    echo "## Summary (per case: median over runs)"
    echo
    echo "| case | pattern | ratio per run | median ratio | runs within 20% | median rate /s | median p99 us | median CPU us/op | errors |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    for cs in "${CASES[@]}"; do
        read -r mode batch stall <<<"$cs"
        casename="$mode B=$batch$( (( stall > 0 )) && echo ", loop 0 stalled ${stall} us/event")"
        for pattern in $PATTERNS; do
            ratios="" rates="" p99s="" cpus="" within=0 n=0 errs=0
            for row in "${ROWS[@]}"; do
                IFS='|' read -r c p _ _ _ acc ratio w _ rate p99 cpu e _ <<<"$row"
                [[ $c == "$casename" && $p == "$pattern" ]] || continue
                n=$((n + 1))
                ratios+="$ratio "; rates+="$rate "; p99s+="$p99 "; cpus+="$cpu "
                [[ $w == yes ]] && within=$((within + 1))
                errs=$((errs + ${e%% *}))
            done
            echo "| $casename | $pattern | ${ratios% } | $(echo "$ratios" | median) | $within/$n | $(echo "$rates" | median) | $(echo "$p99s" | median) | $(echo "$cpus" | median) | $errs |"
        done
    done
    echo
    echo "## Every run"
    echo
    echo "| case | pattern | run | load avg (1 min) before | first in the wait queue | accepts per loop | busiest/idlest | within 20% | empty accepts per loop | rate /s | p99 us | CPU us/op | client errors | events per loop |"
    echo "|---|---|---:|---:|---|---|---:|---|---|---:|---:|---:|---:|---|"
    for row in "${ROWS[@]}"; do echo "| ${row//|/ | } |"; done
} | tee "$OUT"
log "report written to $OUT"
