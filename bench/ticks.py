#!/usr/bin/env python3
"""Steady-state cost of sockscope's long-running modes, against `ss -tan`.

Run inside the benchmark namespace (bench/run.sh does), so every command sees
the same sockets. Measures, in one run:

  * `ss -tan`: CPU (user + sys) of one run, median of --runs, from wait4();
  * `sockscope watch --interval 1s --json` (owners of every socket): after
    --warmup samples (the first full /proc scan done), process CPU over a
    steady window divided by the window (its share of one core) and by the
    samples taken in it; its peak RSS (VmHWM);
  * the dashboard (`sockscope tui --interval 1s` in a detached tmux session):
    the same share of one core and CPU per refresh, its peak RSS, and the time
    to render each frame (from `--stats`), while keys switch screens.

On a big host both stretch their interval to at least five times what a
refresh costs, so the window holds fewer ticks: --seconds should then be a
minute or more (bench/run.sh --scale sets it).

Targets: CPU share <= 20 % of one core (the refresh pace); a frame renders in
< 20 ms; the dashboard's peak RSS <= 300 MiB (the 1M-socket target); and, as
before, a refresh tick costs no more CPU than one `ss -tan` (at 100k).
Prints markdown; --out also appends it to FILE.
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


def peak_rss_mib(pid):
    """VmHWM of a live process, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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

    deadline = time.time() + 600
    while samples() < warmup:
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit("watch did not produce its warm-up samples")
        time.sleep(0.05)
    n0, c0, t0 = samples(), cpu_seconds(proc.pid), time.time()
    time.sleep(seconds)
    n1, c1, t1 = samples(), cpu_seconds(proc.pid), time.time()
    rss = peak_rss_mib(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    with open(out.name) as f:
        paces = [json.loads(line) for line in f if '"type":"pace"' in line]
    os.unlink(out.name)
    ticks = n1 - n0
    return dict(cpu_tick=(c1 - c0) / max(ticks, 1), ticks=ticks, share=(c1 - c0) / (t1 - t0), rss=rss,
                interval=paces[-1]["interval_ms"] / 1000 if paces and paces[-1]["stretched"] else 1.0)


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
        deadline = time.time() + 600
        while "Findings (" not in subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "0"],
                                                capture_output=True, text=True).stdout:
            if time.time() > deadline:
                raise SystemExit("the dashboard showed no snapshot")
            time.sleep(0.2)
        time.sleep(warmup)
        c0, t0 = cpu_seconds(pid), time.time()
        # Screens switch during the window, so frames cover every screen.
        keys = ["2", "3", "4", "5", "1"]
        for i in range(seconds):
            time.sleep(1)
            if i % 3 == 0:
                subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "0", keys[(i // 3) % len(keys)]])
        c1, t1 = cpu_seconds(pid), time.time()
        rss = peak_rss_mib(pid)
        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "0", "q"])
        for _ in range(1200):
            if os.path.exists(stats):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        with open(stats) as f:
            data = json.load(f)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        tmux_dir = os.path.join(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}")
        try:
            os.remove(os.path.join(tmux_dir, sock))
        except OSError:
            pass
    steady = data["ticks"][1:] or data["ticks"]
    ticks = max(1, sum(1 for _ in steady))
    return dict(cpu_tick=(c1 - c0) / max(1, min(ticks, round(t1 - t0))), share=(c1 - c0) / (t1 - t0), rss=rss,
                frames=data["frames_ms"], ticks=len(data["ticks"]),
                collect_ms=statistics.median(t["wall_ms"] for t in steady) if steady else float("nan"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockscope", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3, help="samples/seconds before the steady window")
    ap.add_argument("--seconds", type=int, default=20, help="length of the steady window")
    ap.add_argument("--out")
    args = ap.parse_args()

    ss_cpu, ss_all = ss_tan_cpu(args.runs)
    w = watch_tick(args.sockscope, args.warmup, args.seconds)
    tui = tui_tick(args.sockscope, args.warmup, args.seconds)

    ms = lambda s: f"{s * 1000:.1f}"
    ok = lambda cond: "PASS" if cond else "FAIL"
    lines = [
        f"Steady window: {args.seconds} s after {args.warmup} warm-up samples/seconds; asked interval 1 s.",
        "",
        "| measurement | value | target | result |",
        "|---|---:|---|---|",
        f"| `ss -tan` CPU per run (median of {len(ss_all)}) | {ms(ss_cpu)} ms | | |",
        f"| `sockscope watch` CPU share of one core | {w['share'] * 100:.1f} % ({w['ticks']} samples, "
        f"interval {w['interval']:.1f} s) | <= 20 % | {ok(w['share'] <= 0.2)} |",
        f"| `sockscope watch` CPU per sample | {ms(w['cpu_tick'])} ms | < `ss -tan` ({w['cpu_tick'] / ss_cpu:.2f}x) "
        f"| {ok(w['cpu_tick'] < ss_cpu)} |",
        f"| `sockscope watch` peak RSS | {w['rss']:.1f} MiB | | |",
    ]
    if tui is None:
        lines.append("| dashboard | not measured: tmux missing | | |")
    else:
        frames = tui["frames"]
        p99 = sorted(frames)[max(0, int(len(frames) * 0.99) - 1)] if frames else 0
        lines += [
            f"| dashboard CPU share of one core | {tui['share'] * 100:.1f} % ({tui['ticks']} refreshes, "
            f"collection median {tui['collect_ms']:.0f} ms) | <= 20 % | {ok(tui['share'] <= 0.2)} |",
            f"| dashboard CPU per refresh | {ms(tui['cpu_tick'])} ms | <= `ss -tan` "
            f"({tui['cpu_tick'] / ss_cpu:.2f}x) | {ok(tui['cpu_tick'] <= ss_cpu)} |",
            f"| dashboard peak RSS | {tui['rss']:.1f} MiB | <= 300 MiB | {ok(tui['rss'] <= 300)} |",
            f"| dashboard frame render, median / p99 / max of {len(frames)} | "
            f"{statistics.median(frames):.2f} / {p99:.2f} / {max(frames):.2f} ms | < 20 ms "
            f"| {ok(max(frames) < 20)} |",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n## Long-running modes (steady state)\n\n" + text)


if __name__ == "__main__":
    sys.exit(main())
