#!/usr/bin/env python3
"""Steady-state cost of sockscope's long-running modes, against `ss -tan`.

Run inside the benchmark namespace (bench/run.sh does), so every command sees
the same sockets. Measures, in one run:

  * `ss -tan`: CPU (user + sys) of one run, median of --runs, from wait4();
  * `sockscope watch --interval 1s --json` (owners of every socket): process
    CPU over a steady window (after --warmup samples, once the first full
    /proc scan is done) divided by the samples taken in that window;
  * the dashboard (`sockscope tui --interval 1s` in a detached tmux session):
    process CPU over the same kind of window divided by the refresh ticks in
    it, and the time to render each frame (from `--stats`).

Targets (issues): watch tick CPU < one `ss -tan`; dashboard tick CPU <= one
`ss -tan`; a frame renders in < 20 ms. Prints markdown; --out also writes it.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def ss_tan_cpu(runs):
    cpus = []
    for _ in range(runs):
        with open(os.devnull, "wb") as null:
            proc = subprocess.Popen(["ss", "-tan"], stdout=null)
            _, _, ru = os.wait4(proc.pid, 0)
            proc.returncode = 0  # reaped by wait4
        cpus.append(ru.ru_utime + ru.ru_stime)
    return statistics.median(cpus), cpus


def watch_tick(binary, warmup, seconds):
    out = tempfile.NamedTemporaryFile(prefix="sockscope-watch-", delete=False)
    proc = subprocess.Popen([binary, "watch", "--interval", "1s", "--json"], stdout=out, stderr=subprocess.DEVNULL)

    def samples():
        with open(out.name) as f:
            return sum(1 for line in f if '"type":"sample"' in line)

    deadline = time.time() + 120
    while samples() < warmup:
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit("watch did not produce its warm-up samples")
        time.sleep(0.05)
    n0, c0 = samples(), cpu_seconds(proc.pid)
    time.sleep(seconds)
    n1, c1 = samples(), cpu_seconds(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    os.unlink(out.name)
    ticks = n1 - n0
    return (c1 - c0) / max(ticks, 1), ticks


def tui_tick(binary, warmup, seconds):
    if shutil.which("tmux") is None:
        return None
    work = tempfile.mkdtemp(prefix="sockscope-tui-")
    pid_file, stats = os.path.join(work, "pid"), os.path.join(work, "stats.json")
    sock = f"sockscope-bench-{os.getpid()}"
    command = f"echo $$ > {pid_file}; exec {binary} tui --interval 1s --stats {stats}"
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "40", "sh", "-c", command], check=True)
    try:
        while not os.path.exists(pid_file) or not open(pid_file).read().strip():
            time.sleep(0.05)
        pid = int(open(pid_file).read())
        time.sleep(warmup)
        c0, t0 = cpu_seconds(pid), time.time()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(pid), time.time()
        # A few screens while it runs, so frames cover more than the overview.
        for key in ["2", "3", "4", "5", "1"]:
            subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "0", key])
            time.sleep(0.3)
        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "0", "q"])
        for _ in range(300):
            if os.path.exists(stats):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        with open(stats) as f:
            data = json.load(f)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], stderr=subprocess.DEVNULL)
    ticks = round(t1 - t0)
    frames = data["frames_ms"]
    return (c1 - c0) / max(ticks, 1), ticks, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockscope", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3, help="samples/seconds before the steady window")
    ap.add_argument("--seconds", type=int, default=20, help="length of the steady window")
    ap.add_argument("--out")
    args = ap.parse_args()

    ss_cpu, ss_all = ss_tan_cpu(args.runs)
    w_cpu, w_ticks = watch_tick(args.sockscope, args.warmup, args.seconds)
    tui = tui_tick(args.sockscope, args.warmup, args.seconds)

    ms = lambda s: f"{s * 1000:.1f}"
    lines = [
        "| measurement | value | target | result |",
        "|---|---:|---|---|",
        f"| `ss -tan` CPU per run (median of {len(ss_all)}) | {ms(ss_cpu)} ms | | |",
    ]
    ok = lambda cond: "PASS" if cond else "FAIL"
    lines.append(f"| `sockscope watch` CPU per 1 s tick ({w_ticks} ticks, steady) | {ms(w_cpu)} ms "
                 f"| < `ss -tan` ({w_cpu / ss_cpu:.2f}x) | {ok(w_cpu < ss_cpu)} |")
    if tui is None:
        lines.append("| dashboard | not measured: tmux missing | | |")
    else:
        t_cpu, t_ticks, frames = tui
        p99 = sorted(frames)[int(len(frames) * 0.99) - 1] if frames else 0
        lines.append(f"| dashboard CPU per 1 s refresh tick ({t_ticks} ticks, steady) | {ms(t_cpu)} ms "
                     f"| <= `ss -tan` ({t_cpu / ss_cpu:.2f}x) | {ok(t_cpu <= ss_cpu)} |")
        lines.append(f"| dashboard frame render, median / p99 / max of {len(frames)} | "
                     f"{statistics.median(frames):.2f} / {p99:.2f} / {max(frames):.2f} ms | < 20 ms "
                     f"| {ok(max(frames) < 20)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n## Long-running modes (steady state)\n\n" + text)


if __name__ == "__main__":
    sys.exit(main())
