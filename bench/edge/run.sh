#!/usr/bin/env bash
# Edge-case scenarios run the same way against HAProxy and against the forwarder.
#
#   bench/edge/run.sh [--relay haproxy|forwarder|both] [--jar PATH] [--out FILE] [SCENARIO...]
#
# Scenarios (default: all, in this order): reset-after-data timeout-backpressure connect-retry
# urgent-data pipe-budget queue-reread. Each prints one Markdown table row per case: relay,
# case, observed, expected (direct-connection / HAProxy-like), PASS/DIFF (INFO: measured only).
# The report (command, environment, table) goes to stdout and, with --out, to FILE too;
# progress goes to stderr. See bench/edge/README.md.
#
# Environment: JAVA (java >= 25 for the forwarder; default: $JAVA_HOME, then the newest JDK
# under /usr/lib/jvm), HAPROXY (default: haproxy on PATH, then /usr/sbin/haproxy),
# PYTHON (default: python3).

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CMDLINE="bench/edge/run.sh${*:+ $*}"

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}
die() { printf '[edge] error: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

RELAY=both JAR= OUT= SCEN=()
seen_relay=0 seen_jar=0 seen_out=0
while (($#)); do
    case $1 in
    -h | --help) usage 0 ;;
    --relay | --jar | --out)
        [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "$1 needs a value"
        case $1 in
        --relay) ((seen_relay++)) && die "--relay given twice"; RELAY=$2 ;;
        --jar) ((seen_jar++)) && die "--jar given twice"; JAR=$2 ;;
        --out) ((seen_out++)) && die "--out given twice"; OUT=$2 ;;
        esac
        shift 2 ;;
    --relay=* | --jar=* | --out=*)
        set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) SCEN+=("$1"); shift ;;
    esac
done
case $RELAY in haproxy | forwarder | both) ;; *) die "--relay must be haproxy, forwarder or both, not '$RELAY'" ;; esac
KNOWN="reset-after-data timeout-backpressure connect-retry urgent-data pipe-budget queue-reread"
for sc in "${SCEN[@]}"; do
    [[ " $KNOWN " == *" $sc "* ]] || die "unknown scenario '$sc' (known: $KNOWN)"
done
[[ $(printf '%s\n' "${SCEN[@]}" | sort | uniq -d) == "" ]] || die "a scenario is named twice"
JAR=${JAR:-$ROOT/forwarder/target/forwarder.jar}
[[ $JAR == /* ]] || JAR=$PWD/$JAR
PYTHON=${PYTHON:-python3}
have "$PYTHON" || die "python3 is required"

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
        [[ $v =~ ^[0-9]+$ ]] && ((v >= 25)) && { echo "$h/bin/java"; return 0; }
    done
    return 1
}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
JAVA=${JAVA:-}
if [[ $RELAY != haproxy ]]; then
    JAVA=${JAVA:-$(find_java || true)}
    [[ -n $JAVA && -x $JAVA ]] || die "no java >= 25 found (set JAVA or JAVA_HOME)"
    [[ -f $JAR ]] || die "jar not found: $JAR (run make build, or pass --jar)"
fi
if [[ $RELAY != forwarder ]]; then
    [[ -x $HAPROXY ]] || die "haproxy not found (install haproxy or set HAPROXY)"
fi
have strace || printf '[edge] strace not found: connect() calls will not be counted (apt-get install strace)\n' >&2

first_line() { "$@" 2>&1 | grep -v '^[[:space:]]*$' | head -n 1; }
jar_facts() {
    local sum
    sum=$(sha256sum "$JAR" 2>/dev/null | cut -c1-12)
    echo "$JAR (sha256 $sum..., built $(date -r "$JAR" -Is 2>/dev/null))"
}

args=(--relay "$RELAY" --jar "$JAR" --haproxy "$HAPROXY" --no-header)
[[ -n $JAVA ]] && args+=(--java "$JAVA")

header() {
    echo "# Edge-case comparison: forwarder vs HAProxy"
    echo
    echo "- command: \`$CMDLINE\`"
    echo "- date: $(date -Is)"
    echo "- kernel: $(uname -r)"
    echo "- nproc: $(nproc); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- haproxy: $([[ -x $HAPROXY ]] && first_line "$HAPROXY" -v || echo 'not used')"
    if [[ $RELAY != haproxy ]]; then
        echo "- java: $(first_line "$JAVA" -version) ($JAVA)"
        echo "- forwarder jar: $(jar_facts)"
        echo "- worktree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) on $(git -C "$ROOT" rev-parse --abbrev-ref HEAD 2>/dev/null)$([[ -n $(git -C "$ROOT" status --porcelain -- forwarder native-bindings 2>/dev/null) ]] && echo ' (forwarder sources modified)')"
    fi
    echo "- python: $("$PYTHON" --version 2>&1); strace: $(have strace && first_line strace -V || echo 'not installed'); setpriv: $(have setpriv && echo yes || echo no)"
    echo "- fs.pipe-user-pages-soft: $(cat /proc/sys/fs/pipe-user-pages-soft 2>/dev/null); fs.pipe-max-size: $(cat /proc/sys/fs/pipe-max-size 2>/dev/null); uid $(id -u)"
    echo
    echo "| relay | case | observed | expected | verdict |"
    echo "|---|---|---|---|---|"
}

emit() {  # stdin -> stdout, and appended to $OUT if set
    if [[ -n $OUT ]]; then tee -a "$OUT"; else cat; fi
}

if [[ -n $OUT ]]; then
    mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
    : >"$OUT" || die "cannot write $OUT"
fi
header | emit

# python runs in the background so that INT/TERM/HUP sent to this script reach it: it then
# stops every process it started (by PID) before exiting
if [[ -n $OUT ]]; then
    PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$SCRIPT_DIR/edges.py" "${args[@]}" "${SCEN[@]}" \
        </dev/null > >(tee -a "$OUT") &
else
    PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$SCRIPT_DIR/edges.py" "${args[@]}" "${SCEN[@]}" </dev/null &
fi
PY_PID=$!
trap 'kill -TERM "$PY_PID" 2>/dev/null' INT TERM HUP
rc=0
while :; do
    wait "$PY_PID"
    rc=$?
    kill -0 "$PY_PID" 2>/dev/null || break   # wait was only interrupted by a trapped signal
done
trap - INT TERM HUP
sleep 0.1   # let tee flush the last rows before the footer
{ echo; echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"; } | emit
[[ -n $OUT ]] && printf '[edge] report written to %s\n' "$OUT" >&2
exit "$rc"
