#!/usr/bin/env bash
# sockscope --all-netns vs ss once per namespace: 20 namespaces x 2,000 connections.
#
# What it measures: wall time, CPU time and peak RSS (bench/measure.py
# --suite allns, medians of interleaved runs) of
#   sockscope dump --all-netns --json
#   for ns in <the namespaces>; do ip netns exec "$ns" ss -tanp; done
# targets: dump --all-netns --json wall <= 0.5 x the ss loop's wall, and
# its peak RSS <= 128 MiB.
#
# How: re-runs itself in private mount and pid namespaces (unshare --mount
# --pid --fork --mount-proc) with a private tmpfs over /run/netns (and
# /var/run/docker/netns when it exists), so the only network namespaces and
# processes either tool can see are the benchmark's, plus the host's network
# namespace the commands run in: other workloads on the machine neither slow
# down nor inflate either side. Then creates N namespaces sockscope-allns-NN
# (lo up), starts in each a server and a client (bench/hold_sockets.py) with
# C loopback connections (2 C TCP sockets per namespace), waits until every
# holder printed `ready`, and runs bench/measure.py. The markdown report goes
# to docs/performance-allns-latest.md and to stdout. Everything it made goes
# away when it exits: the pid namespace takes the holders with it, the mount
# namespace the namespace names.
#
# Run (as root):
#   sudo bench/allns.sh                      # 20 namespaces x 2,000 connections
#   sudo bench/allns.sh --namespaces 5 --connections 500   # quick
# Options:
#   --namespaces N    network namespaces (default 20)
#   --connections N   loopback connections per namespace (default 2000)
#   --runs N          timed runs per command (default 5)
#   --timeout S       seconds to wait for all holders to be ready (default 120)
#   --out FILE        report file (default docs/performance-allns-latest.md)
#   --no-build        use the existing target/release/sockscope
#   --strict          exit 1 when a target fails (default: only when a command fails)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BIN=$REPO/target/release/sockscope
NAMESPACES=20
CONNECTIONS=2000
RUNS=5
TIMEOUT=120
OUT=$REPO/docs/performance-allns-latest.md
BUILD=1
STRICT=()
INNER=0
PORT=20000
PREFIX=sockscope-allns-

die() { echo "allns.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

ARGV=("$@")
while (($#)); do
    case $1 in
        --namespaces|--connections|--runs|--timeout)
            (($# >= 2)) && is_count "$2" || die "$1 needs a positive whole number"
            case $1 in
                --namespaces) NAMESPACES=$2 ;;
                --connections) CONNECTIONS=$2 ;;
                --runs) RUNS=$2 ;;
                --timeout) TIMEOUT=$2 ;;
            esac
            shift 2 ;;
        --out)
            (($# >= 2)) || die "--out needs a file"
            OUT=$(realpath -m -- "$2"); shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --strict) STRICT=(--strict); shift ;;
        --inner) INNER=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
((CONNECTIONS <= 20000)) || die "at most 20000 connections per namespace (one holder process each side)"

# --- outside: build, then the private mount and pid namespaces ------------------
if ((!INNER)); then
    [[ $EUID -eq 0 ]] || die "must be run as root (network namespaces, setns): sudo $0"
    for tool in ip ss python3 unshare; do
        command -v "$tool" >/dev/null || die "$tool not found in PATH"
    done
    if ((BUILD)); then
        command -v cargo >/dev/null ||
            die "cargo not in root's PATH: sudo env PATH=\"\$PATH\" $0 ..., or build first and pass --no-build"
        echo "== building $BIN" >&2
        (cd "$REPO" && cargo build --release --locked) >&2
    fi
    [[ -x $BIN ]] || die "$BIN missing: cargo build --release"
    exec unshare --mount --pid --fork --mount-proc "${BASH_SOURCE[0]}" --inner --no-build "${ARGV[@]}"
fi

# --- inside: only our namespaces and processes are visible ---------------------
mount --make-rprivate /
mkdir -p /run/netns
mount -t tmpfs -o mode=755 sockscope-allns /run/netns
[[ -d /var/run/docker/netns ]] && mount -t tmpfs sockscope-allns /var/run/docker/netns

WORK=$(mktemp -d /tmp/sockscope-allns.XXXXXX)
declare -a PIDS=() NAMES=() SPACES=()
cleanup() {
    local rc=$? pid ns
    set +e
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${SPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
    ((rc == 0)) || echo "allns.sh: stopped (exit $rc); holders killed, namespaces deleted" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_holder() { # name namespace args...; `ip netns exec` execs, so $! is the python pid
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" python3 "$BENCH_DIR/hold_sockets.py" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    PIDS+=($!)
    NAMES+=("$name")
}

T0=$EPOCHREALTIME
echo "== $NAMESPACES namespaces x $CONNECTIONS connections" >&2
for ((i = 1; i <= NAMESPACES; i++)); do
    ns=$(printf '%s%02d' "$PREFIX" "$i")
    ip netns add "$ns"
    SPACES+=("$ns")
    ip netns exec "$ns" ip link set lo up
    start_holder "server$i" "$ns" server --expect "$CONNECTIONS" "$PORT"
done
for ((i = 1; i <= NAMESPACES; i++)); do
    ns=${SPACES[i - 1]}
    deadline=$((SECONDS + 30))
    until (($(ip netns exec "$ns" ss -Hltn | wc -l) >= 1)); do
        ((SECONDS < deadline)) || die "server in $ns not listening after 30 s: $(tail -n 3 "$WORK/server$i.err")"
        sleep 0.05
    done
    start_holder "client$i" "$ns" client "$CONNECTIONS" "$PORT"
done

echo "== waiting for ${#PIDS[@]} holders (timeout ${TIMEOUT}s)" >&2
deadline=$((SECONDS + TIMEOUT))
while :; do
    ready=0
    for i in "${!PIDS[@]}"; do
        if grep -q '^ready ' "$WORK/${NAMES[i]}.out"; then
            ready=$((ready + 1))
        elif ! kill -0 "${PIDS[i]}" 2>/dev/null; then
            die "${NAMES[i]} exited before ready: $(tail -n 3 "$WORK/${NAMES[i]}.err")"
        fi
    done
    ((ready == ${#PIDS[@]})) && break
    ((SECONDS < deadline)) || die "only $ready of ${#PIDS[@]} holders ready after ${TIMEOUT}s"
    sleep 0.2
done
SETUP=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "== $((2 * CONNECTIONS * NAMESPACES)) connected sockets held after ${SETUP}s; measuring" >&2

mkdir -p "$(dirname "$OUT")"
netns_args=()
for ns in "${SPACES[@]}"; do netns_args+=(--netns "$ns"); done
python3 "$BENCH_DIR/measure.py" --suite allns "${netns_args[@]}" \
    --sockscope "$BIN" --runs "$RUNS" --out "$OUT" "${STRICT[@]}" \
    --note "run by bench/allns.sh in private mount and pid namespaces: only the benchmark's $NAMESPACES network namespaces (and the host's, where both commands run) and processes are visible" \
    --note "load: $CONNECTIONS loopback connections per namespace (one server, one client process each), set up in ${SETUP} s"
