#!/usr/bin/env bash
# Regenerates the README's captures (assets/dump.txt, assets/tui-*.txt,
# assets/watch.txt) from real runs: assets/demo/scenario.py holds its sockets
# in a private network namespace, `sockscope dump` and the dashboard (in
# tmux, 100x30) look at it; then `sockscope watch` follows the steady
# CLOSE-WAIT leak of assets/demo/leaky.py.
#
# Run as root from the repository: sudo assets/demo/capture.sh
# (SOCKSCOPE=path picks the binary; default target/release/sockscope).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${SOCKSCOPE:-target/release/sockscope}")
ns=sockscope-demo
tmux_socket=sockscope-demo-$$
work=$(mktemp -d)
scenario=
cleanup() {
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    if [ -n "$scenario" ]; then kill "$scenario" 2>/dev/null; wait "$scenario" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work" "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$tmux_socket"
}
trap cleanup EXIT

ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
mkfifo "$work/ready"
ip netns exec "$ns" python3 assets/demo/scenario.py > "$work/ready" &
scenario=$!
read -r line < "$work/ready"
[ "$line" = ready ] || { echo "scenario did not start: $line" >&2; exit 1; }
# Let the full listener's clients retransmit their SYNs a few times (drops).
sleep 4

ip netns exec "$ns" "$bin" dump --color never > assets/dump.txt

screen() { tmux -L "$tmux_socket" capture-pane -p -t demo | sed 's/[[:space:]]*$//'; }
keys() { tmux -L "$tmux_socket" send-keys -t demo "$@"; sleep 0.5; }
wait_for() {
    for _ in $(seq 100); do screen | grep -q -- "$1" && return 0; sleep 0.1; done
    echo "the dashboard never showed '$1'" >&2; screen >&2; exit 1
}
tmux -L "$tmux_socket" new-session -d -s demo -x 100 -y 30 \
    "ip netns exec $ns $bin tui --interval 1s --color never"
wait_for "Findings ("
sleep 2
screen > assets/tui-overview.txt
keys 2; wait_for "Listeners ("; screen > assets/tui-listeners.txt
# The second row: the TCP listener whose queue is full (the first is UNIX).
keys j Enter; wait_for "Listener —"; screen > assets/tui-listener-detail.txt
keys Escape 3; wait_for "Connections ("; screen > assets/tui-connections.txt
keys 4; wait_for "Processes ("; screen > assets/tui-processes.txt
keys Home Enter; wait_for "Process —"; screen > assets/tui-process-detail.txt
keys Escape 5; wait_for "Sysctl"; screen > assets/tui-sysctls.txt
keys q

# watch on a steady CLOSE-WAIT leak (5/s), eight samples.
mkfifo "$work/leaky"
ip netns exec "$ns" python3 assets/demo/leaky.py > "$work/leaky" &
leaky=$!
read -r line < "$work/leaky"
[ "$line" = ready ] || { echo "leaky server did not start: $line" >&2; exit 1; }
ip netns exec "$ns" "$bin" watch --port 18090 --interval 1s --count 8 --color never > assets/watch.txt || true
kill "$leaky"; wait "$leaky" 2>/dev/null || true
echo "captured: assets/dump.txt assets/tui-*.txt assets/watch.txt"
