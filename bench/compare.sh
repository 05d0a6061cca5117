#!/usr/bin/env bash
# Two sockscope builds on the same sockets, in one run: did a change make the
# one-shot dump slower? Interleaves `OLD dump --json`, `NEW dump --json`,
# `OLD dump -l`, `NEW dump -l` and `ss -tan` (the yardstick) RUNS times inside
# a private namespace holding CONNECTIONS loopback connections, and prints
# the median wall time of each and the NEW/OLD ratios.
#
#   sudo bench/compare.sh OLD_BINARY NEW_BINARY [CONNECTIONS] [RUNS]
set -euo pipefail
OLD=$1 NEW=$2 CONNECTIONS=${3:-20000} RUNS=${4:-9}
NS=sockscope-compare
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cleanup() { ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
# Each holder prints `ready` once every connection is established.
exec 3< <(ip netns exec "$NS" python3 "$BENCH_DIR/hold_sockets.py" server --expect "$CONNECTIONS" 30000 30001)
until ip netns exec "$NS" ss -Hltn 'sport = :30001' | grep -q LISTEN; do sleep 0.1; done
exec 4< <(ip netns exec "$NS" python3 "$BENCH_DIR/hold_sockets.py" client "$CONNECTIONS" 30000 30001)
read -r _ <&4
read -r _ <&3
ip netns exec "$NS" python3 - "$OLD" "$NEW" "$RUNS" <<'PY'
import statistics, subprocess, sys, time
old, new, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmds = {
    "old dump --json": [old, "dump", "--json"],
    "new dump --json": [new, "dump", "--json"],
    "old dump -l": [old, "dump", "-l"],
    "new dump -l": [new, "dump", "-l"],
    "ss -tan": ["ss", "-tan"],
}
times = {k: [] for k in cmds}
for _ in range(runs):
    for name, cmd in cmds.items():
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times[name].append((time.perf_counter() - t) * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k:<16} median {v:8.1f} ms")
print(f"dump --json new/old {med['new dump --json'] / med['old dump --json']:.2f}")
print(f"dump -l     new/old {med['new dump -l'] / med['old dump -l']:.2f}")
print(f"vs ss -tan: old {med['old dump --json'] / med['ss -tan']:.2f}x, new {med['new dump --json'] / med['ss -tan']:.2f}x")
PY
