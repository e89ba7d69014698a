#!/usr/bin/env bash
# Where a new connection's time goes, the forwarder beside HAProxy (issue 11): `make profile`.
#
#   LoadClient (connrate, 1 at a time, 64 B) -> relay (127.0.0.1) -> EchoServer
#
# For each relay (HAProxy nbthread 1 without splice; the forwarder nbthread 1 copy, started by
# bin/forwarder, i.e. with the launcher's JVM settings and its AOT cache when present):
#   - system calls per connection: `strace -c -f` attached for CONNS connections;
#   - CPU per connection, user and system, from /proc over WINDOW seconds unattached;
#   - the forwarder only: bytes allocated per connection by its loop thread (JFR's
#     ThreadAllocationStatistics), and GC pauses and safepoints over that window (-Xlog);
#   - the forwarder started fresh: its first second of connections against a second taken after
#     WARM seconds of load (JIT warm-up), with and without the AOT cache.
# Report (Markdown) to stdout and bench/results/<date>-profile.md (OUT to change).
#
# Environment: CONNS [5000] WINDOW [10] WARM [30] FORWARDER_HEAP (passed to bin/forwarder), OUT.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT" || exit 1
LOG_TAG=profile
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

CONNS=${CONNS:-5000}
WINDOW=${WINDOW:-10}
WARM=${WARM:-30}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y-%m-%d)-profile.md}
for v in CONNS WINDOW WARM; do is_uint "${!v}" && (( ${!v} >= 1 )) || die "$v must be a whole number >= 1"; done
(( CONNS <= 100000 && WINDOW <= 600 && WARM <= 600 )) || die "CONNS <= 100000, WINDOW and WARM <= 600"
for t in strace haproxy python3; do have "$t" || die "$t is missing (apt-get install strace haproxy python3)"; done

JAVA=$(find_java) || die "no JDK >= 25"
JH=$(dirname "$(dirname "$JAVA")")
BENCH_CP=$ROOT/bench/target/classes
CLIENT_JVM=(-XX:+UseSerialGC -Xmx256m)
[[ -d $BENCH_CP/org/forwarder/bench/load && -f forwarder/target/forwarder.jar ]] || die "run make build first"
TMP=$(mktemp -d /tmp/fwd-profile.XXXXXX)
NEXT_PORT=${BASE_PORT:-17300}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

alloc_port ECHO_PORT && alloc_port HAP_PORT && alloc_port FWD_PORT || die "no free ports"
start_bg "$TMP/echo.log" "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" org.forwarder.bench.load.EchoServer \
    --port "$ECHO_PORT" --threads 1 --lifetime 3600
wait_listen "$BG_PID" "$ECHO_PORT" || die "echo server: $WAIT_ERR"

cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
    nosplice
defaults
    mode tcp
    maxconn 4096
    timeout connect 5s
    timeout client 1m
    timeout server 1m
frontend fe
    bind 127.0.0.1:$HAP_PORT
    default_backend be
backend be
    server s1 127.0.0.1:$ECHO_PORT
EOF

start_haproxy() {
    start_bg "$TMP/haproxy.log" haproxy -f "$TMP/haproxy.cfg"
    HAP_PID=$BG_PID
    wait_listen "$HAP_PID" "$HAP_PORT" || die "haproxy: $WAIT_ERR $(last_log_line "$TMP/haproxy.log")"
}
start_forwarder() {  # aot|noaot [extra JVM options]
    local aot=$1; shift
    local env=(FORWARDER_JVM_OPTS="-Xlog:gc,safepoint:file=$TMP/fwd-jvm.log ${*:-}")
    [[ $aot == noaot ]] && env+=(FORWARDER_AOT=none)
    start_bg "$TMP/fwd.log" env "${env[@]}" bin/forwarder --listen "127.0.0.1:$FWD_PORT" \
        --server "127.0.0.1:$ECHO_PORT" --nbthread 1 --timeout-client 1m --timeout-server 1m
    FWD_PID=$BG_PID
    wait_listen "$FWD_PID" "$FWD_PORT" || die "forwarder: $WAIT_ERR $(last_log_line "$TMP/fwd.log")"
}
connrate() {  # port outfile seconds [more LoadClient args]: 1 at a time
    local port=$1 out=$2 secs=$3; shift 3
    run_load "$out" $((secs + 40)) --mode connrate --port "$port" --conns 1 --size 64 --warmup 0 --duration "$secs" "$@" ||
        die "load client: $(load_err "$out")"
}
ticks_us() {  # pid -> "user_ticks sys_ticks"
    local stat rest f
    stat=$(cat "/proc/$1/stat") || return 1
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo "${f[11]} ${f[12]}"
}

# ---------------------------------------------------------------- 1. syscalls per connection
strace_count() {  # label pid port
    local label=$1 pid=$2 port=$3
    log "$label: strace -c -f over $CONNS connections"
    strace -c -f -p "$pid" -o "$TMP/strace-$label.txt" 2>"$TMP/strace-$label.err" &
    local sp=$!
    sleep 1
    connrate "$port" "$TMP/strace-load-$label.out" 120 --max-ops "$CONNS"
    sleep 0.5
    kill -INT "$sp"; wait "$sp" 2>/dev/null
    grep -q ' total$' "$TMP/strace-$label.txt" 2>/dev/null ||
        die "$label: strace gave no counts (attach refused? ptrace_scope, not root): $(head -2 "$TMP/strace-$label.txt" 2>/dev/null)"
}
# ---------------------------------------------------------------- 2. CPU per connection
cpu_window() {  # label pid port -> line "label conns rate user_us sys_us p50 p99 p999"
    local label=$1 pid=$2 port=$3 a b
    a=$(ticks_us "$pid")
    connrate "$port" "$TMP/cpu-$label.out" "$WINDOW"
    b=$(ticks_us "$pid")
    local ops; ops=$(res "$TMP/cpu-$label.out" ops)
    read -r au as <<<"$a"; read -r bu bs <<<"$b"
    local tck; tck=$(getconf CLK_TCK)
    python3 - "$label" "$ops" "$(res "$TMP/cpu-$label.out" rate)" $((bu - au)) $((bs - as)) "$tck" \
        "$(res "$TMP/cpu-$label.out" p50_us)" "$(res "$TMP/cpu-$label.out" p99_us)" "$(res "$TMP/cpu-$label.out" p999_us)" <<'PY'
import sys
l, ops, rate, u, s, tck, p50, p99, p999 = sys.argv[1:]
ops = int(ops); u = int(u) * 1e6 / int(tck) / ops; s = int(s) * 1e6 / int(tck) / ops
print(f"| {l} | {ops} | {float(rate):,.0f} | {u:.0f} | {s:.0f} | {u + s:.0f} | {float(p50):.0f} | {float(p99):.0f} | {float(p999):.0f} |")
PY
}

start_haproxy
start_forwarder aot
strace_count haproxy "$HAP_PID" "$HAP_PORT"
strace_count forwarder "$FWD_PID" "$FWD_PORT"
CPU_ROWS=()
for r in 1 2; do
    CPU_ROWS+=("$(cpu_window "haproxy (round $r)" "$HAP_PID" "$HAP_PORT")")
    CPU_ROWS+=("$(cpu_window "forwarder (round $r)" "$FWD_PID" "$FWD_PORT")")
done

# ---------------------------------------------------------------- 3. allocation, GC, safepoints
log "forwarder: JFR allocation over $CONNS connections"
"$JH/bin/jcmd" "$FWD_PID" JFR.start name=prof settings=profile filename="$TMP/alloc.jfr" >/dev/null
GC_BEFORE=$(grep -c 'Pause' "$TMP/fwd-jvm.log" 2>/dev/null)
SP_BEFORE=$(grep -c 'Safepoint "' "$TMP/fwd-jvm.log" 2>/dev/null)
connrate "$FWD_PORT" "$TMP/alloc-load.out" 120 --max-ops "$CONNS"
ALLOC_OPS=$(res "$TMP/alloc-load.out" ops)
"$JH/bin/jcmd" "$FWD_PID" JFR.stop name=prof >/dev/null
GC_AFTER=$(grep -c 'Pause' "$TMP/fwd-jvm.log" 2>/dev/null)
SP_AFTER=$(grep -c 'Safepoint "' "$TMP/fwd-jvm.log" 2>/dev/null)
ALLOC=$("$JH/bin/jfr" print --json --events jdk.ThreadAllocationStatistics "$TMP/alloc.jfr" | python3 -c '
import json, sys
ev = json.load(sys.stdin)["recording"]["events"]
vals = [e["values"]["allocated"] for e in ev
        if (e["values"].get("thread") or {}).get("javaName") == "forwarder-poller-0"]
print(max(vals) - min(vals) if len(vals) >= 2 else "n/a")')
SP_LINES=$(grep 'Safepoint "' "$TMP/fwd-jvm.log" | sed -n 's/.*Safepoint "\([A-Za-z0-9_]*\)".*/\1/p' | sort | uniq -c | sort -rn | head -5 | awk '{printf "%s %s; ", $2, $1}')
GC_PAUSES=$(grep 'Pause' "$TMP/fwd-jvm.log" | sed -n 's/.* \([0-9.]*\)ms$/\1/p' | sort -n | tail -1)
kill_group "$FWD_PID"
kill_group "$HAP_PID"

# ---------------------------------------------------------------- 4. fresh against warm
FRESH_ROWS=()
fresh() {  # aot|noaot
    local aot=$1 t0 t1
    t0=$(date +%s%N)
    start_forwarder "$aot"
    t1=$(date +%s%N)
    connrate "$FWD_PORT" "$TMP/fresh-$aot.out" 1
    run_load "$TMP/warm-load-$aot.out" $((WARM + 40)) --mode connrate --port "$FWD_PORT" --conns 1 --warmup 0 --duration "$WARM" >/dev/null ||
        die "load client: $(load_err "$TMP/warm-load-$aot.out")"
    connrate "$FWD_PORT" "$TMP/warm-$aot.out" 1
    kill_group "$FWD_PID"
    local label=$aot
    [[ $aot == aot ]] && label=$AOT_LABEL
    FRESH_ROWS+=("| $label | $(( (t1 - t0) / 1000000 )) | $(res "$TMP/fresh-$aot.out" ops) | $(res "$TMP/fresh-$aot.out" p50_us) | $(res "$TMP/fresh-$aot.out" p99_us) | $(res "$TMP/warm-$aot.out" ops) | $(res "$TMP/warm-$aot.out" p50_us) | $(res "$TMP/warm-$aot.out" p99_us) |")
}
AOT_LABEL=aot
bin/aot-cache --check || AOT_LABEL="aot (no current cache: ran without)"
for r in 1 2; do fresh noaot; fresh aot; done

# ---------------------------------------------------------------- report
syscall_table() {  # file ops -> rows "| syscall | calls/conn |"
    python3 - "$1" "$2" <<'PY'
import sys
path, ops = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(path):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] not in ("total",):
        calls = int(f[3]); name = f[-1]
        rows.append((name, calls))
tot = sum(c for n, c in rows if n not in ("futex", "restart_syscall"))
for n, c in sorted(rows, key=lambda r: -r[1]):
    print(f"{n}={c / ops:.2f}")
print(f"TOTAL={tot / ops:.2f}")
PY
}
{
    echo "# Where a new connection's time goes: forwarder vs HAProxy ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -r); $("$JAVA" -version 2>&1 | head -1); $(haproxy -v | head -1 | cut -d' ' -f1-3)."
    echo "Client, relay and echo server share these cores. Command: \`bash bench/profile/run.sh\` (CONNS=$CONNS WINDOW=$WINDOW WARM=$WARM)."
    echo
    echo "## System calls per connection (strace -c -f, $CONNS connections, 1 at a time, 64 B echo)"
    echo
    declare -A H F
    while IFS== read -r k v; do H[$k]=$v; done < <(syscall_table "$TMP/strace-haproxy.txt" "$CONNS")
    while IFS== read -r k v; do F[$k]=$v; done < <(syscall_table "$TMP/strace-forwarder.txt" "$CONNS")
    echo "| syscall | HAProxy | forwarder |"
    echo "|---|---:|---:|"
    for k in $(printf '%s\n' "${!H[@]}" "${!F[@]}" | grep -v TOTAL | sort -u); do
        echo "| $k | ${H[$k]:-0} | ${F[$k]:-0} |"
    done
    echo "| **total** (futex, restart_syscall left out: JVM threads parking) | ${H[TOTAL]} | ${F[TOTAL]} |"
    echo
    echo "## CPU per connection, unattached ($WINDOW s windows, 1 at a time)"
    echo
    echo "| relay | connections | conn/s | user us/conn | system us/conn | total us/conn | p50 us | p99 us | p99.9 us |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${CPU_ROWS[@]}"
    echo
    echo "## The forwarder's JVM over $ALLOC_OPS connections (after the windows above)"
    echo
    echo "- allocated by the loop thread: $ALLOC bytes, $(python3 -c "print(f'{$ALLOC / $ALLOC_OPS:.0f}' if '$ALLOC' != 'n/a' else 'n/a')" 2>/dev/null) bytes per connection"
    echo "- GC pauses during them: $((GC_AFTER - GC_BEFORE)) (whole run: $GC_AFTER, longest ${GC_PAUSES:-none} ms)"
    echo "- safepoints during them: $((SP_AFTER - SP_BEFORE)) (whole run by kind: ${SP_LINES:-none})"
    echo
    echo "## Fresh start against warm: the first second of connections, then a second after $WARM s of load"
    echo
    echo "Each sample is a new LoadClient JVM, whose own warm-up is in both columns alike; compare the rows (cache or not) more than the columns."
    echo
    echo "| AOT cache | start to listening ms | 1st s: connections | 1st s: p50 us | 1st s: p99 us | warm s: connections | warm: p50 us | warm: p99 us |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${FRESH_ROWS[@]}"
} | tee "$OUT"
log "report: $OUT"
