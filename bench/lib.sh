# Shared shell helpers for the bench scripts (source it; it runs nothing by itself).
#
# Why: every bench script needs the same careful plumbing: processes started in their own
# process group and stopped by PID only, ports probed on 127.0.0.1, waits with deadlines, CPU
# read from /proc, medians over repeated runs. One copy keeps those rules in one place.
#
# The caller sets, before using the functions that need them:
#   LOG_TAG        prefix of progress lines on stderr                 (e.g. observe)
#   TMP            a temp dir of its own
#   JAVA           java >= 25 (find_java finds one); CLIENT_JVM, BENCH_CP for run_load
#   NEXT_PORT      first port tried by alloc_port
#   PORT_SCAN, LISTEN_WAIT_S   bounds of alloc_port and wait_listen
# and gets PIDS (process-group leaders it started), CLIENT_PID (the foreground client, if any).

PIDS=()
CLIENT_PID=
BG_PID=
WAIT_ERR=
: "${PORT_SCAN:=200}" "${LISTEN_WAIT_S:=15}" "${LOG_TAG:=bench}"

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

java_major() {
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java.specification.version = //p' | head -1 | cut -d. -f1
}
find_java() {  # prints a java >= 25: $JAVA_HOME's, else the newest under /usr/lib/jvm
    local h v
    for h in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
        h=${h%/}
        [[ -n $h && -x $h/bin/java ]] || continue
        v=$(java_major "$h/bin/java")
        is_uint "$v" && (( v >= 25 )) && { echo "$h/bin/java"; return 0; }
    done
    return 1
}

kill_group() {  # pid [wait_s]: TERM the process group, KILL after wait_s (3), reap, forget the pid
    local pid=$1 secs=${2:-3} i
    [[ -n $pid ]] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop within ${secs} s: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    { wait "$pid"; } 2>/dev/null
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    return 0
}

stop_all() {  # the foreground client, then every group we started
    local p
    if [[ -n $CLIENT_PID ]]; then   # timeout(1) passes TERM on to its child
        kill -TERM "$CLIENT_PID" 2>/dev/null
        { wait "$CLIENT_PID"; } 2>/dev/null
        CLIENT_PID=
    fi
    for p in "${PIDS[@]}"; do kill_group "$p"; done
}

start_bg() {  # logfile cmd...: start in its own session/process group, sets BG_PID
    local logf=$1; shift
    setsid "$@" >"$logf" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

port_listening() {  # port: is something listening on TCP 127.0.0.1/any:port?
    if have ss; then
        [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

alloc_port() {  # var: sets var to a TCP port with no listener, never handed out before in this run
    # (not in a subshell: NEXT_PORT must advance, since ports are often handed out before they listen)
    local _ap_i _ap_p
    for ((_ap_i = 0; _ap_i < PORT_SCAN; _ap_i++)); do
        _ap_p=$NEXT_PORT
        NEXT_PORT=$((NEXT_PORT + 1))
        port_listening "$_ap_p" || { printf -v "$1" '%s' "$_ap_p"; return 0; }
    done
    return 1
}

wait_listen() {  # pid port: true once port listens, false (WAIT_ERR) if pid died or the deadline passed
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

last_log_line() {  # file: first error/ALERT line, else last non-empty line, trimmed
    [[ -s $1 ]] || return 0
    local line
    line=$(grep -m1 -iE '^error|\[ALERT\]|unknown option|is not supported|: .*(unknown|expects)' "$1")
    [[ -n $line ]] || line=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)
    printf '%s' "$line" | tr -d '\r|' | tr -s ' ' | cut -c1-200
}

cpu_ticks() {  # pid: utime+stime of every thread of pid
    local stat rest f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))
}

parse_iperf_json() {  # file -> "OK bits_per_second bytes" | "ERR message" (python3)
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
}

RUN_ERR= RUN_BPS= RUN_BYTES= RUN_TICKS=
run_iperf() {  # port streams seconds fwd_pid jsonfile: bounded iperf3 client; CPU ticks of fwd_pid around it
    local port=$1 streams=$2 secs=$3 fpid=$4 json=$5 rc t0 t1 res
    RUN_ERR= RUN_BPS= RUN_BYTES= RUN_TICKS=
    t0=$(cpu_ticks "$fpid")
    timeout -k 5 $((secs + 20)) iperf3 -c 127.0.0.1 -p "$port" -P "$streams" -t "$secs" -J --connect-timeout 3000 \
        >"$json" 2>"$json.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID"
    rc=$?
    CLIENT_PID=
    t1=$(cpu_ticks "$fpid")
    RUN_TICKS=$((t1 - t0))
    if (( rc == 124 || rc == 137 )); then
        RUN_ERR="iperf3 timed out after $((secs + 20)) s"
    else
        res=$(parse_iperf_json "$json")
        if [[ $res == OK\ * ]]; then
            read -r _ RUN_BPS RUN_BYTES <<<"$res"
            (( rc != 0 )) && RUN_ERR="iperf3 exited with status $rc"
            [[ $RUN_BYTES == 0 ]] && RUN_ERR="no bytes received"
        else
            RUN_ERR=${res#ERR }
        fi
    fi
    kill -0 "$fpid" 2>/dev/null || RUN_ERR="forwarder exited during the run${RUN_ERR:+ ($RUN_ERR)}"
    [[ -z $RUN_ERR ]]
}

LOAD_RC=
run_load() {  # outfile timeout_s LoadClient args...: foreground, bounded; true if a RESULT line came
    local out=$1 tmo=$2
    shift 2
    timeout -k 5 "$tmo" "$JAVA" "${CLIENT_JVM[@]}" -cp "$BENCH_CP" org.forwarder.bench.load.LoadClient "$@" \
        >"$out" 2>"$out.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID"
    LOAD_RC=$?
    CLIENT_PID=
    grep -q '^RESULT ' "$out"
}

kv() {  # file prefix key: value of key=... on the first line starting with "prefix "
    sed -n "s/^$2 //p" "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p" | head -n 1
}
res() { kv "$1" RESULT "$2"; }  # file key: a value of LoadClient's RESULT line

load_err() {  # outfile: why a client run gave no result
    local e
    e=$(grep -v '^[[:space:]]*$' "$1.err" 2>/dev/null | tail -n 1 | cut -c1-160)
    (( LOAD_RC == 124 || LOAD_RC == 137 )) && e="client timed out${e:+: $e}"
    echo "LoadClient exit $LOAD_RC${e:+: $e}"
}

# Results: values per row and metric, medians, status notes.
declare -A VALS STATUS ERRS RUNS
ROWS=()
DETAILS=()
add_val() { VALS["$1|$2"]+="$3 "; }                       # row metric value
med() {                                                  # row metric -> median or n/a
    local v=${VALS["$1|$2"]:-}
    [[ -n ${v// /} ]] || { echo n/a; return; }
    printf '%s\n' $v | grep -E '^[0-9.eE+-]+$' | sort -g | awk '{a[NR] = $1} END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
new_row() { ROWS+=("$1"); RUNS[$1]=0; ERRS[$1]=0; }
fail_row() { STATUS[$1]="FAILED: ${2//|//}"; }
fmt() {  # number decimals
    if [[ $1 =~ ^-?[0-9.eE+]+$ ]]; then awk -v v="$1" -v d="$2" 'BEGIN {printf "%." d "f", v}'; else echo "$1"; fi
}
ratio() {  # a b decimals: a/b, or n/a
    if [[ $1 =~ ^[0-9.eE+-]+$ && $2 =~ ^[0-9.eE+-]+$ ]]; then
        awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { if (b == 0) print "n/a"; else printf "%." d "f", a / b }'
    else
        echo n/a
    fi
}
