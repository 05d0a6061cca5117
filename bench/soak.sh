#!/usr/bin/env bash
# Soak: minutes of connection churn while every face of sockscope runs.
#
# What it checks, on a healthy but busy namespace (bench/churn.py: a client
# and a server that connect, write a byte and close gracefully, --rate
# connections per second, nothing reset, nothing leaked):
#   * errors: `sockscope dump --json` run repeatedly (exit status, stderr),
#     `sockscope watch` collection failures, the dashboard's status line;
#   * false findings: every leak finding (ghost_sockets, close_wait_leak,
#     fd_leak) that watch reports against this load is false;
#   * memory: RSS of watch and of the dashboard every 10 s; the highest
#     reading of the last minute must be within 10 % of the highest of the
#     second minute (single readings swing by a snapshot at every refresh).
#
# How: builds the release binary, creates a private network namespace
# (sockscope-soak) with lo up, starts bench/churn.py in it, then from the host
# namespace (every command uses --netns, as an operator would):
#   sockscope watch --json --interval 1s --netns sockscope-soak
#   sockscope tui --interval 1s --netns sockscope-soak     (in a detached tmux)
#   sockscope dump --json --netns sockscope-soak           (every --dump-every s)
# and samples their RSS every 10 s. A markdown report goes to stdout and to
# --out. Everything it started is stopped, and the namespace removed, on any exit.
#
# Run (as root):
#   sudo bench/soak.sh                     # 180 s of churn at 2000 connections/s
#   sudo bench/soak.sh --duration 60 --rate 4000
# Options:
#   --duration S     seconds of churn (default 180, at least 70: RSS is compared
#                    with the value after the first minute)
#   --rate N         connections per second (default 2000)
#   --dump-every S   seconds between dumps (default 1)
#   --out FILE       report file (default docs/soak-latest.md)
#   --isolate        name the churn processes soak-churn and run every command
#                    with --process soak-churn: the owner scan then reads only
#                    them (use it on a shared host where other processes hold
#                    huge numbers of sockets, which the default host-wide scan
#                    reads every time and which would dominate time and RSS)
#   --keep DIR       keep every raw output (watch NDJSON, dumps, RSS log) in DIR
#   --no-build       use the existing target/release/sockscope
set -euo pipefail

NS=sockscope-soak
SESSION=sockscope-soak
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BIN=$REPO/target/release/sockscope
DURATION=180
RATE=2000
DUMP_EVERY=1
OUT=$REPO/docs/soak-latest.md
BUILD=1
ISOLATE=()
KEEP=
CHURN_NAME=()

die() { echo "soak.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case $1 in
        --duration) DURATION=${2:?}; shift 2 ;;
        --rate) RATE=${2:?}; shift 2 ;;
        --dump-every) DUMP_EVERY=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --keep) KEEP=${2:?}; shift 2 ;;
        --isolate) ISOLATE=(--process soak-churn); CHURN_NAME=(--name soak-churn); shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 70)) || die "--duration must be a whole number of seconds >= 70"
[[ $(id -u) == 0 ]] || die "run as root (a private network namespace, every process's owners)"
for tool in ip tmux python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done

WORK=$(mktemp -d /tmp/sockscope-soak.XXXXXX)
CHURN_PID= WATCH_PID= DUMPS_PID=

# --- cleanup, armed before anything is created --------------------------------
cleanup() {
    trap - EXIT INT TERM
    set +e # every step is attempted, whatever failed before
    [[ -n $DUMPS_PID ]] && kill "$DUMPS_PID" 2>/dev/null
    [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null
    tmux kill-session -t "$SESSION" 2>/dev/null
    [[ -n $CHURN_PID ]] && kill "$CHURN_PID" 2>/dev/null
    wait 2>/dev/null
    if ip netns list | grep -qw "$NS"; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null || echo "soak.sh: could not delete namespace $NS" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((BUILD)); then
    (cd "$REPO" && cargo build --release --locked --quiet) || die "build failed"
fi
[[ -x $BIN ]] || die "$BIN missing (build it, or drop --no-build)"

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# RSS of a process: the highest of 5 readings over a second (a refresh
# allocates and frees; one reading would land anywhere in that cycle).
rss_kib() {
    local max=0 v
    for _ in 1 2 3 4 5; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
        ((v > max)) && max=$v
        sleep 0.2
    done
    echo "$max"
}

# --- load ------------------------------------------------------------------
ip netns exec "$NS" python3 "$BENCH_DIR/churn.py" --rate "$RATE" "${CHURN_NAME[@]}" >"$WORK/churn.jsonl" &
CHURN_PID=$!
for _ in $(seq 100); do grep -q '"ready"' "$WORK/churn.jsonl" 2>/dev/null && break; sleep 0.1; done
grep -q '"ready"' "$WORK/churn.jsonl" || die "churn generator did not start"
# Warm-up: each end reaches its steady number of open connections (a ramp of
# fds at start is a trend watch would rightly report).
sleep 5

# --- the three faces ---------------------------------------------------------
"$BIN" watch --json --interval 1s --netns "$NS" "${ISOLATE[@]}" >"$WORK/watch.jsonl" 2>"$WORK/watch.err" &
WATCH_PID=$!
tmux new-session -d -s "$SESSION" -x 120 -y 40 \
    "exec $BIN tui --interval 1s --netns $NS ${ISOLATE[*]} --stats $WORK/tui-stats.json 2>$WORK/tui.err"
TUI_PID=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
(
    while :; do
        start=$(date +%s.%N)
        rc=0
        "$BIN" dump --json --netns "$NS" "${ISOLATE[@]}" >"$WORK/dump.json" 2>>"$WORK/dump.err" || rc=$?
        python3 - "$WORK/dump.json" "$rc" >>"$WORK/dumps.jsonl" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    doc = json.load(open(path))
    kinds = [f["kind"] for f in doc["findings"]]
    print(json.dumps({"rc": rc, "kinds": kinds, "warnings": [w["kind"] for w in doc["warnings"]],
                      "sockets": len(doc["sockets"])}))
except Exception as e:
    print(json.dumps({"rc": rc, "error": str(e)}))
PY
        left=$(python3 -c "import time; print(max(0, $DUMP_EVERY - (time.time() - $start)))" 2>/dev/null) || break
        sleep "$left"
    done
) &
DUMPS_PID=$!

# --- run, sampling RSS -------------------------------------------------------
STARTED=$(date +%s)
RSS_LOG=$WORK/rss.tsv
printf 't\twatch_kib\ttui_kib\n' >"$RSS_LOG"
WATCH_60= TUI_60=
for ((t = 10; t <= DURATION; t += 10)); do
    wait_s=$((STARTED + t - $(date +%s)))
    ((wait_s > 0)) && sleep "$wait_s"
    w=$(rss_kib "$WATCH_PID") d=$(rss_kib "$TUI_PID")
    printf '%s\t%s\t%s\n' "$t" "$w" "$d" >>"$RSS_LOG"
    if ((t == 60)); then WATCH_60=$w TUI_60=$d; fi
done
WATCH_END=$(rss_kib "$WATCH_PID") TUI_END=$(rss_kib "$TUI_PID")
TUI_ALIVE=$([[ -d /proc/$TUI_PID ]] && echo yes || echo no)
tmux capture-pane -p -t "$SESSION" >"$WORK/tui-screen.txt" 2>/dev/null || true

# --- stop, in order: dumps, watch (summary), dashboard, load -------------------
kill "$DUMPS_PID" 2>/dev/null; wait "$DUMPS_PID" 2>/dev/null || true
DUMPS_PID=
kill -INT "$WATCH_PID"
WATCH_RC=0
wait "$WATCH_PID" || WATCH_RC=$?
WATCH_PID=
tmux send-keys -t "$SESSION" q
for _ in $(seq 50); do [[ -d /proc/$TUI_PID ]] || break; sleep 0.1; done
kill -TERM "$CHURN_PID"
wait "$CHURN_PID" || true
CHURN_PID=

# --- report ------------------------------------------------------------------
python3 - "$WORK" "$DURATION" "$RATE" "$WATCH_RC" "$TUI_ALIVE" "$WATCH_60" "$WATCH_END" "$TUI_60" "$TUI_END" \
    "$BIN" "${ISOLATE[*]}" >"$WORK/report.md" <<'PY'
import collections, json, os, subprocess, sys, time
work, duration, rate, watch_rc, tui_alive = sys.argv[1:6]
binary, isolate = sys.argv[10], sys.argv[11]
# RSS swings by a snapshot's worth at every refresh (the new one is built
# before the old one is dropped), so single readings compare noise: the
# highest 10-s reading of the second minute is compared with the highest of
# the last minute.
rss_rows = [[int(x or 0) for x in l.split("\t")] for l in open(os.path.join(work, "rss.tsv")).read().splitlines()[1:]]
def peak(column, lo, hi):
    return max((r[column] for r in rss_rows if lo <= r[0] < hi), default=0)
d = int(duration)
w60, wend = peak(1, 60, 120), peak(1, d - 50, d + 1)
t60, tend = peak(2, 60, 120), peak(2, d - 50, d + 1)

def lines(name):
    path = os.path.join(work, name)
    return open(path).read().splitlines() if os.path.exists(path) else []

churn = [json.loads(l) for l in lines("churn.jsonl")]
done = next((c for c in churn if c.get("done")), churn[-1] if churn else {})
dumps = [json.loads(l) for l in lines("dumps.jsonl")]
dump_fail = [d for d in dumps if d.get("rc") != 0 or "error" in d]
dump_kinds = collections.Counter(k for d in dumps for k in d.get("kinds", []))
dump_warn = collections.Counter(k for d in dumps for k in d.get("warnings", []))
events = [json.loads(l) for l in lines("watch.jsonl")]
summary = next((e for e in reversed(events) if e["type"] == "summary"), {})
found = collections.Counter(e["kind"] for e in events if e["type"] == "finding")
leaks = {"ghost_sockets", "close_wait_leak", "fd_leak"}
false_leaks = sum(n for k, n in found.items() if k in leaks)
watch_err = lines("watch.err")
# Warnings (a process even root may not read, a kernel counter missing) say
# what a snapshot lacks; errors are failed collections. Only errors fail.
watch_errors = [l for l in watch_err if not l.startswith("sockscope: warning:")]
tui_err = lines("tui.err")
screen = "\n".join(lines("tui-screen.txt"))
tui_failed = "collection failed" in screen
ticks = []
try:
    ticks = json.load(open(os.path.join(work, "tui-stats.json"))).get("ticks", [])
except Exception:
    pass

def growth(a, b):
    return (b - a) * 100.0 / a if a else float("nan")

def verdict(ok):
    return "PASS" if ok else "FAIL"

version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
git = subprocess.run(["git", "-C", os.path.dirname(os.path.dirname(binary)), "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
print(f"## Soak run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
print(f"- command: `sudo bench/soak.sh --duration {duration} --rate {rate}{' --isolate' if isolate else ''}`"
      + (f" (every sockscope command ran with `{isolate}`)" if isolate else ""))
print(f"- sockscope: {version}, git {git or '?'}; kernel {os.uname().release}; {os.cpu_count()} CPUs")
print(f"- load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
host_fds = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        host_fds += len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
print(f"- open fds on the host at the end (all processes): {host_fds:,}")
print(f"- churn: {done.get('made', 0):,} connections in {done.get('t', 0)} s = **{done.get('rate', 0):,.0f}/s**,"
      f" {done.get('errors', 0)} failed connects\n")
print("| check | measured | result |")
print("|---|---|---|")
print(f"| `dump --json` runs without error | {len(dumps) - len(dump_fail)} of {len(dumps)} ok,"
      f" {len(lines('dump.err'))} stderr lines | {verdict(dumps and not dump_fail)} |")
print(f"| `watch` collections without error | {summary.get('samples', 0)} samples,"
      f" {len(watch_errors)} error lines ({len(watch_err) - len(watch_errors)} warning lines), exit {watch_rc} |"
      f" {verdict(not watch_errors and watch_rc == '0')} |")
print(f"| dashboard ran to the end | alive: {tui_alive}, {len(ticks)} refreshes, {len(tui_err)} stderr lines,"
      f" collection failures on screen: {'yes' if tui_failed else 'no'} |"
      f" {verdict(tui_alive == 'yes' and not tui_err and not tui_failed)} |")
print(f"| false leak findings in `watch` (ghost_sockets, close_wait_leak, fd_leak) |"
      f" {false_leaks} (ghost_sockets {found.get('ghost_sockets', 0)}) | {verdict(false_leaks == 0)} |")
print(f"| `watch` peak RSS of the last minute within 10 % of that of the second minute | {w60 / 1024:.1f} → {wend / 1024:.1f} MiB"
      f" ({growth(w60, wend):+.1f} %) | {verdict(w60 and abs(wend - w60) <= w60 * 0.10)} |")
print(f"| dashboard peak RSS of the last minute within 10 % of that of the second minute | {t60 / 1024:.1f} → {tend / 1024:.1f} MiB"
      f" ({growth(t60, tend):+.1f} %) | {verdict(t60 and abs(tend - t60) <= t60 * 0.10)} |")
print()
print(f"Findings `watch` reported (all kinds): {dict(found) or 'none'}. "
      f"Findings in the dumps (all kinds, summed over {len(dumps)} dumps): {dict(dump_kinds) or 'none'}; "
      f"dump warnings: {dict(dump_warn) or 'none'}.")
leak_events = [e for e in events if e["type"] == "finding" and e["kind"] in leaks]
if leak_events:
    print("\nLeak findings `watch` reported (time, kind, subject, message):\n")
    for e in leak_events[:10]:
        print(f"- {e['time']} `{e['kind']}` {e['subject']}: {e['message']}")
for name, text in (("watch stderr", watch_err), ("dump stderr", lines("dump.err")), ("dashboard stderr", tui_err)):
    if text:
        print(f"\n{name} (first 5 lines):\n\n```\n" + "\n".join(text[:5]) + "\n```")
print("\nRSS every 10 s (KiB):\n\n```\n" + "\n".join(lines("rss.tsv")) + "\n```")
PY
cat "$WORK/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/; fi
echo "soak.sh: report written to $OUT" >&2
