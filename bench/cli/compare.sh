#!/usr/bin/env bash
# Runtime API (stats socket) answers compared between HAProxy 2.6 and the forwarder.
#
#   bench/cli/compare.sh [--jar PATH] [--keep]
#
# Both relays get the same generated config (three stats sockets at levels admin, operator and
# user, nbthread 2, frontend fe -> backend be with s1 and s2, maxconn 10 each, socat echo
# servers), then the same commands in the same order. Each answer is normalized (pids,
# versions, dates, ports, times, stream ids, timing-dependent columns; show activity / show
# pools are compared by shape only) and the two are compared byte for byte. Every case prints
# IDENTICAL, EXPECTED (a documented difference, docs/cli.md "Where we differ from HAProxy, on
# purpose", with its reason) or UNEXPECTED (with a unified diff, `$` marking ends of lines).
# Exit status: 0 when no unexpected difference, 1 otherwise, 2 on a setup error. Without
# HAProxy the script says so and exits 0. --keep keeps the temp dir (raw answers per case).
#
# Environment: JAVA (java >= 25; default: $JAVA_HOME, then the newest JDK under /usr/lib/jvm),
# HAPROXY (default: haproxy on PATH, then /usr/sbin/haproxy).
#
# Why a script and not a unit test: it needs HAProxy as the oracle, which `make test` must not
# depend on. Run it with `make compare-cli`.

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
LOG_TAG=cli
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
die() { log "error: $*"; exit 2; }

JAR= KEEP=0 seen_jar=0
while (($#)); do
    case $1 in
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --jar)
        [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "--jar needs a value"
        ((seen_jar++)) && die "--jar given twice"
        JAR=$2; shift 2 ;;
    --jar=*) set -- --jar "${1#*=}" "${@:2}" ;;
    --keep) ((KEEP)) && die "--keep given twice"; KEEP=1; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# ---------------------------------------------------------------------------------------------
# Documented differences (docs/cli.md, "Where we differ from HAProxy, on purpose"), by case
# name. A case listed here that differs is reported as EXPECTED with this reason; one that is
# identical anyway is simply IDENTICAL.
declare -A EXPECTED=(
    ["show sess (whole list)"]="HAProxy lists the CLI connection itself (fe=GLOBAL); ours is not a stream"
    ["admin: set weight be/s1 abc"]="HAProxy 2.6 ends this parse error without the empty line; we always add it"
    ["admin: set weight be/s1 12abc"]="HAProxy 2.6 ends this parse error without the empty line; we always add it"
    ["admin: set maxconn server be/s1 5x"]="HAProxy 2.6 ends this parse error without the empty line; we always add it"
    ["admin: set maxconn server be/s1 -1"]="HAProxy stores a negative server maxconn as unlimited; we refuse it"
    ["admin: set maxconn server be/s1 abc"]="HAProxy 2.6 ends this parse error without the empty line; we always add it"
    ["admin: set maxconn frontend fe abc"]="HAProxy reads abc as 0 (atoi) and accepts it; we refuse a non-numeric maxconn"
    ["admin: set maxconn global -1"]="HAProxy reads a negative global maxconn as 'unlimited'; we refuse a negative maxconn"
    ["admin: set server be/s1 bogus"]="set server knows state and weight only; its usage line says so"
    ["admin: help"]="help lists the commands forwarder has, not HAProxy's hundred (ACLs, maps, SSL, ...)"
    ["user: help (the lines of the commands we implement)"]="our usage lines name what we take: set server state|weight, show info without desc/json/typed"
    ["operator: help (the lines of the commands we implement)"]="our usage lines name what we take: set server state|weight, show info without desc/json/typed"
    ["admin: help (the lines of the commands we implement)"]="our usage lines name what we take: set server state|weight, show info without desc/json/typed"
    ["admin: foo"]="an unknown command lists every command we have (HAProxy picks 5 by a fuzzy word distance)"
    ["user: show pools"]="a pool line ends with its limit (tune.buffers.limit, maxpipes) where HAProxy prints the pool's address"
    ["show sess (client lines)"]="channel and connector flags are HAProxy internals with no counterpart here: printed as 0"
    ["operator: show sess (client lines)"]="channel and connector flags are HAProxy internals with no counterpart here: printed as 0"
)

have socat || die "socat is required"
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
if [[ ! -x $HAPROXY ]]; then
    echo "NOTE: HAProxy not found ($HAPROXY): nothing to compare against; skipping (set HAPROXY to run)."
    exit 0
fi
JAR=${JAR:-$ROOT/forwarder/target/forwarder.jar}
[[ -f $JAR ]] || die "jar not found: $JAR (run make build, or pass --jar)"
JAVA=${JAVA:-$(find_java || true)}
[[ -n $JAVA && -x $JAVA ]] || die "no java >= 25 found (set JAVA or JAVA_HOME)"

TMP=$(mktemp -d /tmp/clicmp.XXXXXX) || die "mktemp failed"
NEXT_PORT=$((20000 + RANDOM % 12000))  # below the ephemeral range
# Set explicitly: HAProxy's default global maxconn comes from `ulimit -n` (9985 with 20000
# files), ours is 4096; left to the defaults, every frontend/backend slim would differ.
GLOBAL_MAXCONN=4096
CLIENT_FDS=()
cleanup() {
    local fd
    for fd in "${CLIENT_FDS[@]}"; do eval "exec $fd>&-" 2>/dev/null; done
    stop_all
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Setup: two echo servers per relay, one config per relay, the relays.
declare -A FE SOCKDIR RPID
start_relay() {  # name
    local r=$1 p1 p2 fe d=$TMP/$1
    mkdir -p "$d"
    alloc_port p1 && alloc_port p2 && alloc_port fe || die "no free port"
    start_bg "$d/echo1.log" socat TCP-LISTEN:"$p1",bind=127.0.0.1,fork,reuseaddr EXEC:cat
    wait_listen "$BG_PID" "$p1" || die "echo server: $WAIT_ERR"
    start_bg "$d/echo2.log" socat TCP-LISTEN:"$p2",bind=127.0.0.1,fork,reuseaddr EXEC:cat
    wait_listen "$BG_PID" "$p2" || die "echo server: $WAIT_ERR"
    cat >"$d/relay.cfg" <<EOF
global
    stats socket $d/admin.sock level admin
    stats socket $d/oper.sock level operator
    stats socket $d/user.sock level user
    nbthread 2
    maxconn $GLOBAL_MAXCONN

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend fe
    bind 127.0.0.1:$fe
    default_backend be

backend be
    server s1 127.0.0.1:$p1 maxconn 10
    server s2 127.0.0.1:$p2 maxconn 10
EOF
    if [[ $r == haproxy ]]; then
        start_bg "$d/relay.log" "$HAPROXY" -db -f "$d/relay.cfg"
    else
        start_bg "$d/relay.log" "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$JAR" -f "$d/relay.cfg"
    fi
    RPID[$r]=$BG_PID
    wait_listen "$BG_PID" "$fe" || die "$r: $WAIT_ERR: $(last_log_line "$d/relay.log")"
    local i
    for ((i = 0; i < 50; i++)); do [[ -S $d/user.sock ]] && break; sleep 0.1; done
    [[ -S $d/user.sock ]] || die "$r: no stats socket after 5 s"
    FE[$r]=$fe SOCKDIR[$r]=$d
}
start_relay haproxy
start_relay forwarder
log "haproxy: $("$HAPROXY" -v 2>&1 | head -n 1)"
log "forwarder: $JAR"

# ---------------------------------------------------------------------------------------------
# Sending and normalizing.
ask() {  # relay level cmd outfile: the raw answer (bounded wait)
    local sock=${SOCKDIR[$1]}/$2.sock
    [[ $2 == operator ]] && sock=${SOCKDIR[$1]}/oper.sock
    printf '%s\n' "$3" | timeout -k 2 8 socat -t 3 - UNIX-CONNECT:"$sock" >"$4" 2>"$4.err"
}

# Normalizers read the raw answer on stdin and print the text compared.
norm_exact() { cat; }
norm_info() { sed 's/:.*//'; }  # field names, in order
norm_info_maxconn() { grep -E '^(Maxconn|Hard_maxconn):'; }
# show stat: the whole header, then per row the columns that do not depend on timing.
STAT_COLS="pxname svname status weight act bck slim iid sid type mode algo addr cookie check_health"
norm_stat() { stat_cols "$STAT_COLS"; }
# counters that clear counters [all] touch, compared while nothing moves
norm_stat_cnt() { stat_cols "pxname svname scur smax stot lbtot conn_tot conn_rate_max rate_max"; }
stat_cols() {
    sed -E 's/(127\.0\.0\.1):[0-9]+/\1:PORT/g' | awk -F, -v cols="$1" '
        NR == 1 { print; sub(/^# /, ""); for (i = 1; i <= NF; i++) idx[$i] = i; n = split(cols, c, " "); next }
        /^$/ { print "(empty line)"; next }
        { line = ""; for (j = 1; j <= n; j++) line = line (j > 1 ? "," : "") c[j] "=" (c[j] in idx ? $(idx[c[j]]) : "MISSING"); print line }'
}
# show servers state: srv_time_since_last_change (10) and srv_port (19) must differ.
norm_state() { awk 'NF >= 19 && $1 ~ /^[0-9]+$/ { $10 = "T"; $19 = "PORT" } { print }'; }
# show activity / show pools: the first line, then each distinct line format.
norm_shape() {
    sed -E 's/@0x[0-9a-f]+/@PTR/g; s/Pool [^ ]+ /Pool NAME /; s/^[a-z_0-9]+:/NAME:/; s/[0-9]+(\.[0-9]+)?/N/g' |
        awk 'NR == 1 { print "first: " $0; next } { print }' | { read -r first; echo "$first"; sort -u; }
}
# show sess: stream ids, ports, fds, times, counters replaced; lines sorted (thread order differs).
norm_sess() {
    sed -E 's/^0x[0-9a-f]+:/ID:/; s/(src=[0-9.]+):[0-9]+/\1:PORT/; s/fd=-?[0-9]+/fd=N/g
            s/(age|rx|wx|ax|exp|c_exp)=[0-9dhms?]+/\1=T/g; s/(epoch|calls|rate|cpu|lat)=[0-9a-fx]+/\1=N/g' | sort
}
norm_sess_clients() { grep ' fe=fe ' | norm_sess; }
# the same with the channel and connector flags masked too (HAProxy internals)
norm_sess_shape() { norm_sess_clients | sed -E 's/f=[0-9a-f]+h/f=Fh/g; s/\[([0-9]+),[0-9a-f]+h,/[\1,Fh,/g'; }
# help: only the lines of the commands the forwarder implements (docs/cli.md), in order
HELP_OURS='clear counters|disable server|enable server|get weight|set maxconn|set server|set weight|show activity|show info|show pools|show servers state|show sess|show stat|shutdown session|shutdown sessions|help|prompt|quit'
norm_help_ours() { grep -E "^The following|^  ($HELP_OURS)( |\$)|^\$"; }

N_SAME=0 N_EXP=0 N_BAD=0 CASE_NO=0
BAD_LIST=() EXP_LIST=()
# check NAME LEVEL NORMALIZER CMD: send CMD at LEVEL to both relays and compare.
check() {
    local name=$1 level=$2 norm=$3 cmd=$4 d r
    CASE_NO=$((CASE_NO + 1))
    d=$TMP/case$(printf %03d "$CASE_NO")
    mkdir -p "$d"
    printf '%s\n%s\n' "$level" "$cmd" >"$d/cmd"
    for r in haproxy forwarder; do
        ask "$r" "$level" "$cmd" "$d/$r.raw"
        "norm_$norm" <"$d/$r.raw" | cat -A >"$d/$r.txt"
    done
    if cmp -s "$d/haproxy.txt" "$d/forwarder.txt"; then
        N_SAME=$((N_SAME + 1))
        printf 'IDENTICAL   #%03d %s\n' "$CASE_NO" "$name"
    elif [[ -n ${EXPECTED[$name]:-} ]]; then
        N_EXP=$((N_EXP + 1))
        EXP_LIST+=("#$CASE_NO $name: ${EXPECTED[$name]}")
        printf 'EXPECTED    #%03d %s  (%s)\n' "$CASE_NO" "$name" "${EXPECTED[$name]}"
    else
        N_BAD=$((N_BAD + 1))
        BAD_LIST+=("#$CASE_NO $name")
        printf 'UNEXPECTED  #%03d %s\n' "$CASE_NO" "$name"
        diff -u --label "haproxy: $cmd" --label "forwarder: $cmd" "$d/haproxy.txt" "$d/forwarder.txt" | sed 's/^/    /'
    fi
    for r in haproxy forwarder; do
        kill -0 "${RPID[$r]}" 2>/dev/null || die "$r exited during '$cmd': $(last_log_line "${SOCKDIR[$r]}/relay.log")"
    done
}
at() {  # LEVEL NORMALIZER CMD: check with the name "LEVEL: CMD"
    check "$1: $3" "$1" "$2" "$3"
}
admin_cmd() {  # CMD: Permission denied at user and operator, then run at admin
    at user exact "$1"
    at operator exact "$1"
    at admin exact "$1"
}
after_change() {  # what a state change shows
    at admin state "show servers state"
    at admin stat "show stat"
}

# ---------------------------------------------------------------------------------------------
# The cases.
at admin exact "help"
for lv in user operator admin; do
    check "$lv: help (the lines of the commands we implement)" "$lv" help_ours "help"
done
at admin exact "foo"
at admin exact "set maxconn"
at user exact "set maxconn"
at user info "show info"
at admin stat "show stat"
at user stat "show stat"
at user state "show servers state"
at user state "show servers state be"
at user exact "show servers state nobe"
at user shape "show activity"
at user shape "show pools"
for w in "be/s1" "#3/#1" "be/#2" "be" "nobe/s1" "be/nos"; do
    at user exact "get weight $w"
done

for st in drain maint ready; do
    admin_cmd "set server be/s1 state $st"
    after_change
done
# maint then drain (HAProxy: each one clears the other's flag), back to ready
at admin exact "set server be/s1 state maint"
at admin exact "set server be/s1 state drain"
after_change
at admin exact "set server be/s1 state ready"
at admin exact "set server be/s1 state foo"
at admin exact "set server be/s1 bogus"
at admin exact "set server nobe/s1 state ready"
at admin exact "set server be/nos state ready"

for w in "50%" "10" "257" "-1%" "abc" "12abc" ""; do
    admin_cmd "set weight be/s1 $w"
    at admin exact "get weight be/s1"
done
admin_cmd "set server be/s1 weight 1"
at admin exact "get weight be/s1"
after_change

for v in 5 5x; do
    admin_cmd "set maxconn server be/s1 $v"
    at admin stat "show stat"
done
# documented differences; HAProxy takes -1 as unlimited, so no show stat until it is reset
admin_cmd "set maxconn server be/s1 -1"
admin_cmd "set maxconn server be/s1 abc"
admin_cmd "set maxconn server be/s1 10"
at admin stat "show stat"
for v in 100 -1; do
    admin_cmd "set maxconn frontend fe $v"
    at admin stat "show stat"
done
# HAProxy reads abc as 0 (stops accepting): put 100 back at once, with no client waiting
# (raising it while one waits deadlocks HAProxy 2.6.12, upstream bug 2726)
admin_cmd "set maxconn frontend fe abc"
at admin exact "set maxconn frontend fe 100"
at admin stat "show stat"
at admin exact "set maxconn frontend nofe 100"
at admin exact "set maxconn frontend be 100"
for v in 1000 0 99999999 -1; do
    admin_cmd "set maxconn global $v"
done
admin_cmd "set maxconn global $GLOBAL_MAXCONN"
at user info_maxconn "show info"

admin_cmd "disable server be/s1"
after_change
admin_cmd "enable server be/s1"
after_change

admin_cmd "shutdown session"
admin_cmd "shutdown session garbage"
admin_cmd "shutdown session 0x1234"
admin_cmd "shutdown sessions server be/nos"
at admin exact "shutdown sessions server be"

# Two idle clients through fe on each relay, held open (and echoed once, so both are connected).
for r in haproxy forwarder; do
    for i in 1 2; do
        exec {fd}<>"/dev/tcp/127.0.0.1/${FE[$r]}" || die "$r: cannot connect to fe"
        CLIENT_FDS+=("$fd")
        printf 'x' >&"$fd"
        read -r -t 3 -N 1 _ <&"$fd" || die "$r: no echo through fe"
    done
done
sleep 1.2  # past a second boundary, so per-second rate maxima are settled on both sides
at user exact "show sess"
check "show sess (whole list)" admin sess "show sess"
check "show sess (client lines)" admin sess_clients "show sess"
check "operator: show sess (client lines)" operator sess_clients "show sess"
check "show sess (client lines, flags masked)" admin sess_shape "show sess"
at admin stat "show stat"
check "show stat counters (2 clients open)" admin stat_cnt "show stat"

for lv in user operator admin; do
    at "$lv" exact "clear counters"
    check "show stat counters after $lv: clear counters" admin stat_cnt "show stat"
    at "$lv" exact "clear counters all"
    check "show stat counters after $lv: clear counters all" admin stat_cnt "show stat"
done
at admin stat "show stat"

# ---------------------------------------------------------------------------------------------
echo
echo "Summary: $N_SAME identical, $N_EXP expected differences, $N_BAD unexpected differences"
if ((N_EXP)); then
    echo "Expected differences:"
    printf '  - %s\n' "${EXP_LIST[@]}"
fi
if ((N_BAD)); then
    echo "Unexpected differences:"
    printf '  - %s\n' "${BAD_LIST[@]}"
    exit 1
fi
exit 0
