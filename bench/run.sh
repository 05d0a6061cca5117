#!/usr/bin/env bash
# sockscope vs ss on the same ~100,000 TCP sockets, in one run.
#
# What it measures: wall time, CPU time (user + sys) and peak RSS of
#   sockscope dump --json   vs  ss -tanp  and  ss -tan
#   sockscope dump -l       vs  ss -ltnp
# (plus a `true` baseline row, the harness floor), each run several times
# (interleaved) by bench/measure.py, which reports medians and the ratios to
# ss measured in the same run, against the targets:
#   dump --json wall <= 1.3 x ss -tan wall and <= 0.1 x ss -tanp wall,
#   dump -l wall <= 0.25 x ss -ltnp wall,
#   dump --json peak RSS <= 64 MiB at 100k sockets, <= 160 MiB at 1M;
# then bench/ticks.py measures the long-running modes in steady state: the
# CPU share of one core of `sockscope watch` and of the dashboard (in tmux;
# target <= 20 %, the refresh pace), their peak RSS (dashboard <= 300 MiB)
# and the dashboard's frame render times (< 20 ms); then bench/scrape.py
# times scrapes of `sockscope export` against `sockscope dump --json` and
# reads the exporter's RSS between scrapes (targets: scrape <= 1.2 x dump
# --json, RSS <= 32 MiB).
#
# How: builds the release binary, creates a private network namespace
# (sockscope-bench) with lo up and ip_local_port_range 1024-65535, starts
# holder processes in it (bench/hold_sockets.py: by default 5 servers with 4
# ports each and 5 clients, 50,000 loopback connections = 100,000 TCP
# sockets, no process above ~20,000 fds), waits until every holder printed
# `ready`, then runs bench/measure.py inside the namespace, so every measured
# command sees exactly those sockets.  The markdown report goes to
# docs/performance-latest.md and to stdout.  Holders and namespace are
# removed on any exit (success, failure, Ctrl-C).
#
# Run (as root; sock_diag owners and netns need it):
#   sudo bench/run.sh                        # full size: 50,000 connections
#   sudo bench/run.sh --scale 1000000        # 1M sockets: 500,000 connections, 3 runs
#   sudo bench/run.sh --connections 10000    # quick: ~20,000 sockets
# Options:
#   --scale N         about N TCP sockets: N/2 connections, as many holder
#                     processes as ~19,000 fds each need, clients spread over
#                     source addresses 127.0.0.2-127.0.0.251; runs default to
#                     3 and targets are those for that scale (see measure.py);
#                     from 500k sockets on ss -tanp and ss -ltnp are left out
#                     (minutes per run)
#   --connections N   loopback connections (default 50000; sockets = 2 N + listeners)
#   --servers N       server processes (default 5)
#   --clients N       client processes (default 5)
#   --ports N         listening ports per server (default 4)
#   --runs N          timed runs per command (default 5)
#   --timeout S       seconds to wait for all holders to be ready (default 180)
#   --out FILE        report file (default docs/performance-latest.md)
#   --phases LIST     which measurements, comma-separated (default measure,ticks,export)
#   --ns NAME         the namespace's name (default sockscope-bench); a namespace
#                     of that name left by an earlier run is deleted first, so
#                     runs at the same time on one machine need different names
#   --hold            set up the sockets, print the namespace, and hold them
#                     until Ctrl-C instead of measuring (profiling by hand:
#                     ip netns exec NAME perf record ... sockscope dump --json)
#   --no-build        use the existing target/release/sockscope
#   --strict          exit 1 when a target fails (default: only when a command fails)
# cargo must be on root's PATH for the build (sudo resets PATH; use
# `sudo env PATH="$PATH" bench/run.sh`, or build first and pass --no-build).
set -euo pipefail

NS=sockscope-bench
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BIN=$REPO/target/release/sockscope
CONNECTIONS=50000
SERVERS=5
CLIENTS=5
PORTS_PER_SERVER=4
BASE_PORT=20000
RUNS=5
TIMEOUT=180
OUT=$REPO/docs/performance-latest.md
BUILD=1
STRICT=()
PHASES=measure,ticks,export
MAX_PER_PROCESS=20000
SCALE=
RUNS_SET=
HOLD=0

die() { echo "run.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
ns_exists() { ip netns list | awk -v ns="$NS" '$1 == ns { found = 1 } END { exit !found }'; }

ARGS=$*
while (($#)); do
    case $1 in
        --scale)
            (($# >= 2)) && is_count "$2" || die "$1 needs a positive whole number"
            SCALE=$2; shift 2 ;;
        --connections|--servers|--clients|--ports|--runs|--timeout)
            (($# >= 2)) && is_count "$2" || die "$1 needs a positive whole number"
            case $1 in
                --connections) CONNECTIONS=$2 ;;
                --servers) SERVERS=$2 ;;
                --clients) CLIENTS=$2 ;;
                --ports) PORTS_PER_SERVER=$2 ;;
                --runs) RUNS=$2; RUNS_SET=$2 ;;
                --timeout) TIMEOUT=$2 ;;
            esac
            shift 2 ;;
        --out)
            (($# >= 2)) || die "--out needs a file"
            OUT=$(realpath -m -- "$2"); shift 2 ;;
        --phases)
            (($# >= 2)) && [[ $2 =~ ^(measure|ticks|export)(,(measure|ticks|export))*$ ]] ||
                die "--phases needs a list of measure, ticks, export"
            PHASES=$2; shift 2 ;;
        --ns)
            (($# >= 2)) && [[ $2 =~ ^[A-Za-z0-9_.-]+$ ]] || die "--ns needs a namespace name"
            NS=$2; shift 2 ;;
        --hold) HOLD=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --strict) STRICT=(--strict); shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

if [[ -n $SCALE ]]; then
    # 19,000 fds per holder leaves room under MAX_PER_PROCESS for listeners and stdio.
    CONNECTIONS=$((SCALE / 2))
    CLIENTS=$(((CONNECTIONS + 18999) / 19000))
    SERVERS=$CLIENTS
    RUNS=${RUNS_SET:-3}
    TIMEOUT=$((TIMEOUT > 900 ? TIMEOUT : 900))
fi
[[ $EUID -eq 0 ]] || die "must be run as root (network namespaces, other processes' sockets): sudo $0${ARGS:+ $ARGS}"
for tool in ip ss python3; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH"
done
((BASE_PORT + SERVERS * PORTS_PER_SERVER <= 65535)) || die "too many ports"

# Connections per client (the first ones take the remainder); client c
# connects to the ports of server c % SERVERS, so each server knows how
# many connections it has to accept before it is ready.
declare -a CLIENT_COUNT SERVER_EXPECT
for ((s = 0; s < SERVERS; s++)); do SERVER_EXPECT[s]=0; done
for ((c = 0; c < CLIENTS; c++)); do
    CLIENT_COUNT[c]=$((CONNECTIONS / CLIENTS + (c < CONNECTIONS % CLIENTS ? 1 : 0)))
    s=$((c % SERVERS))
    SERVER_EXPECT[s]=$((SERVER_EXPECT[s] + CLIENT_COUNT[c]))
done
for ((c = 0; c < CLIENTS; c++)); do
    ((CLIENT_COUNT[c] <= MAX_PER_PROCESS)) ||
        die "client $c would hold ${CLIENT_COUNT[c]} sockets (max $MAX_PER_PROCESS per process): use more --clients"
done
for ((s = 0; s < SERVERS; s++)); do
    ((SERVER_EXPECT[s] <= MAX_PER_PROCESS)) ||
        die "server $s would hold ${SERVER_EXPECT[s]} sockets (max $MAX_PER_PROCESS per process): use more --servers"
done
server_ports() { # server index -> its ports
    local p
    for ((p = 0; p < PORTS_PER_SERVER; p++)); do echo $((BASE_PORT + $1 * PORTS_PER_SERVER + p)); done
}

# --- cleanup, armed before anything is created --------------------------------
WORK=$(mktemp -d /tmp/sockscope-bench.XXXXXX)
declare -a HOLDER_PIDS=()
cleanup() {
    local rc=$? pid
    set +e
    trap - EXIT INT TERM
    for pid in "${HOLDER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    if ns_exists; then # anything else left in the namespace (e.g. measure.py on Ctrl-C)
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    fi
    for pid in "${HOLDER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if ns_exists; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$NS" || echo "run.sh: could not delete namespace $NS" >&2
    fi
    rm -rf "$WORK"
    ((rc == 0)) || echo "run.sh: stopped (exit $rc); holders killed, namespace $NS deleted" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build --------------------------------------------------------------------
if ((BUILD)); then
    command -v cargo >/dev/null ||
        die "cargo not in root's PATH: sudo env PATH=\"\$PATH\" $0 ..., or build first and pass --no-build"
    echo "== building $BIN" >&2
    (cd "$REPO" && cargo build --release --locked) >&2
fi
[[ -x $BIN ]] || die "$BIN missing: cargo build --release"

# --- namespace ------------------------------------------------------------------
if ns_exists; then
    echo "== deleting stale namespace $NS" >&2
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$NS"
fi
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# Room for 2^16 - 1024 ephemeral ports per destination, and a listen backlog
# that a burst of connects cannot overflow (an overflow costs 1 s SYN retries).
ip netns exec "$NS" bash -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range'
ip netns exec "$NS" bash -c 'echo 65535 > /proc/sys/net/core/somaxconn'

# --- holders --------------------------------------------------------------------
T0=$EPOCHREALTIME
echo "== starting $SERVERS servers, $CLIENTS clients: $CONNECTIONS connections in namespace $NS" >&2
start_holder() { # name args... ; `ip netns exec` execs, so $! is the python pid
    local name=$1; shift
    ip netns exec "$NS" python3 "$BENCH_DIR/hold_sockets.py" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    HOLDER_PIDS+=($!)
    NAMES+=("$name")
}
declare -a NAMES=()
for ((s = 0; s < SERVERS; s++)); do
    # shellcheck disable=SC2046
    start_holder "server$s" server --expect "${SERVER_EXPECT[s]}" $(server_ports "$s")
done

# Clients only once every port listens: an ephemeral port taken by a client
# first would make the server's bind fail.
want_listeners=$((SERVERS * PORTS_PER_SERVER))
deadline=$((SECONDS + 30))
until (($(ip netns exec "$NS" ss -Hltn | wc -l) >= want_listeners)); do
    for i in "${!HOLDER_PIDS[@]}"; do
        kill -0 "${HOLDER_PIDS[i]}" 2>/dev/null ||
            die "${NAMES[i]} exited before listening: $(tail -n 3 "$WORK/${NAMES[i]}.err")"
    done
    ((SECONDS < deadline)) || die "servers not listening on $want_listeners ports after 30 s"
    sleep 0.1
done
for ((c = 0; c < CLIENTS; c++)); do
    # shellcheck disable=SC2046
    start_holder "client$c" client --source "127.0.0.$((2 + c % 250))" "${CLIENT_COUNT[c]}" $(server_ports $((c % SERVERS)))
done

echo "== waiting for ${#HOLDER_PIDS[@]} holders to be ready (timeout ${TIMEOUT}s)" >&2
deadline=$((SECONDS + TIMEOUT))
while :; do
    n_ready=0
    for i in "${!HOLDER_PIDS[@]}"; do
        if grep -q '^ready ' "$WORK/${NAMES[i]}.out"; then
            n_ready=$((n_ready + 1))
        elif ! kill -0 "${HOLDER_PIDS[i]}" 2>/dev/null; then
            die "${NAMES[i]} (pid ${HOLDER_PIDS[i]}) exited before ready: $(tail -n 3 "$WORK/${NAMES[i]}.err")"
        fi
    done
    ((n_ready == ${#HOLDER_PIDS[@]})) && break
    if ((SECONDS >= deadline)); then
        for i in "${!HOLDER_PIDS[@]}"; do
            grep -q '^ready ' "$WORK/${NAMES[i]}.out" || echo "run.sh: ${NAMES[i]} not ready" >&2
        done
        die "only $n_ready of ${#HOLDER_PIDS[@]} holders ready after ${TIMEOUT}s"
    fi
    sleep 0.2
done
held=0
for i in "${!HOLDER_PIDS[@]}"; do
    read -r _ pid n <"$WORK/${NAMES[i]}.out"
    [[ $pid == "${HOLDER_PIDS[i]}" ]] || echo "run.sh: ${NAMES[i]}: ready from pid $pid, started ${HOLDER_PIDS[i]}" >&2
    held=$((held + n))
done
SETUP=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
((held == 2 * CONNECTIONS)) || die "holders report $held sockets, expected $((2 * CONNECTIONS))"
echo "== $held sockets held after ${SETUP}s" >&2

if ((HOLD)); then
    echo "== holding $held sockets in namespace $NS until Ctrl-C (e.g. ip netns exec $NS $BIN dump --json)" >&2
    # sleep in the background and wait: a trap runs at once, not after the sleep.
    while :; do sleep 3600 & wait $!; done
fi

# --- measure --------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
status=0
phase() { [[ ,$PHASES, == *,$1,* ]]; }
# From 500k sockets on, ss -p (minutes per run: a readlink per fd with a
# path walk each) is left out; the targets there are against ss -tan.
ONLY=()
((2 * CONNECTIONS >= 500000)) && ONLY=(--only "baseline,sockscope dump --json,ss -tan,sockscope dump -l")
if phase measure; then
    ip netns exec "$NS" python3 "$BENCH_DIR/measure.py" \
        --sockscope "$BIN" --runs "$RUNS" --out "$OUT" "${STRICT[@]}" --scale "$((2 * CONNECTIONS))" "${ONLY[@]}" \
        --note "all commands run inside network namespace \`$NS\` (\`ip netns exec\`), made by bench/run.sh" \
        --note "load: $CONNECTIONS loopback connections from $CLIENTS client and $SERVERS server processes ($PORTS_PER_SERVER ports each), set up in ${SETUP} s" ||
        status=$?
else
    : >"$OUT"
fi
if phase ticks; then
    echo "== long-running modes: watch and dashboard ticks, frame render time" >&2
    TICK_SECONDS=20
    [[ -n $SCALE ]] && ((SCALE >= 500000)) && TICK_SECONDS=90 # stretched intervals: 15-30 s per refresh
    ip netns exec "$NS" python3 "$BENCH_DIR/ticks.py" --sockscope "$BIN" --out "$OUT" --runs "$RUNS" \
        --seconds "$TICK_SECONDS" || status=$?
fi
if phase export; then
    echo "== exporter: scrapes against dump --json, RSS between scrapes" >&2
    ip netns exec "$NS" python3 "$BENCH_DIR/scrape.py" --sockscope "$BIN" --runs "$RUNS" --out "$OUT" "${STRICT[@]}" ||
        status=$?
fi
exit "$status"
