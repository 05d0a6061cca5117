#!/usr/bin/env python3
"""Time commands and compare them against targets; print a markdown report.

Each command in COMMANDS runs --runs times (after --warmup untimed runs),
interleaved round-robin so that drift in machine load hits every command
alike.  Each run execs the argv as is (no shell parses it) with stdout on
/dev/null and is reaped with os.wait4(), whose rusage gives that process's
CPU time (user + sys) and peak RSS (ru_maxrss); wall time is
time.perf_counter() around exec + wait.  The table shows medians.  After the
timed runs every command runs once more with its stdout kept, for a sanity
column (line count, or a per-command summary such as the sockets sockscope
saw).

The command is not forked from this Python process directly: a forked child
starts with its parent's resident pages as its RSS high-water mark, which
would put a ~10-15 MiB floor under every ru_maxrss.  Instead /bin/sh forks a
subshell that becomes our child (PR_SET_CHILD_SUBREAPER) and execs the
command when told to (see SHIM).  The `baseline` row (`true`) shows what is
left of the floor and the fixed costs: exec + wait, ~1 MiB.

To add a benchmark, append to COMMANDS (and targets()); `{sockscope}` in an
argv is replaced by the --sockscope path.

Usage: measure.py [--sockscope PATH] [--runs N] [--warmup N] [--out FILE]
                  [--only LABEL,...] [--note TEXT]... [--scale N] [--suite allns --netns NAME...]

--suite allns measures `dump --all-netns --json` against `ss -tanp` run once
per --netns namespace through `ip netns exec` (bench/allns.sh runs it).
Exit status: 0 all commands ran and exited 0 (targets may still FAIL, unless
--strict), 1 a command failed or (--strict) a target failed, 2 bad usage.
"""

import argparse
import collections
import ctypes
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def lines_summary(path):
    with open(path, "rb") as f:
        return f"{sum(1 for _ in f):,} lines"


def sockscope_json_summary(path):
    """Sockets sockscope reported, and how many of the TCP ones have owners."""
    with open(path, "rb") as f:
        doc = json.load(f)
    socks = doc.get("sockets", [])
    by_proto = collections.Counter(s.get("proto", "?") for s in socks)
    tcp_owned = sum(1 for s in socks if s.get("proto") == "tcp" and s.get("owners"))
    protos = ", ".join(f"{p} {n:,}" for p, n in sorted(by_proto.items()))
    return f"{len(socks):,} sockets ({protos or 'none'}), {tcp_owned:,} tcp with owners"


# label: what the report calls it; argv: exec'd as is ({sockscope} expanded);
# summary: turns a kept stdout file into the sanity column.
COMMANDS = [
    dict(label="baseline", argv=["true"], summary=lines_summary),
    dict(label="sockscope dump --json", argv=["{sockscope}", "dump", "--json"], summary=sockscope_json_summary),
    dict(label="ss -tanp", argv=["ss", "-tanp"], summary=lines_summary),
    dict(label="ss -tan", argv=["ss", "-tan"], summary=lines_summary),
    dict(label="sockscope dump -l", argv=["{sockscope}", "dump", "-l"], summary=lines_summary),
    dict(label="ss -ltnp", argv=["ss", "-ltnp"], summary=lines_summary),
]

def allns_json_summary(path):
    """Sockets and namespaces `dump --all-netns --json` reported."""
    with open(path, "rb") as f:
        doc = json.load(f)
    socks = doc.get("sockets", [])
    spaces = doc.get("namespaces", [])
    collected = sum(1 for n in spaces if n.get("status") == "collected")
    tcp_owned = sum(1 for s in socks if s.get("proto") == "tcp" and s.get("owners"))
    return f"{len(socks):,} sockets in {collected} of {len(spaces)} namespaces, {tcp_owned:,} tcp with owners"


# The --suite allns commands: every namespace at once against `ss -tanp` run
# once per namespace through `ip netns exec` (the namespaces are --netns).
PER_NAMESPACE_SS = 'for ns; do ip netns exec "$ns" ss -tanp || exit; done'
COMMANDS_ALLNS = [
    dict(label="baseline", argv=["true"], summary=lines_summary),
    dict(label="sockscope dump --all-netns --json", argv=["{sockscope}", "dump", "--all-netns", "--json"],
         summary=allns_json_summary),
    dict(label="ss -tanp per namespace", argv=["sh", "-c", PER_NAMESPACE_SS, "sh", "{namespaces}"],
         summary=lines_summary),
]
TARGETS_ALLNS = [
    dict(subject="sockscope dump --all-netns --json", metric="wall", factor=0.5, reference="ss -tanp per namespace"),
    dict(subject="sockscope dump --all-netns --json", metric="rss", limit=128.0),
]

# metric: wall | cpu (milliseconds) or rss (MiB), medians.
# Relative target: subject <= factor x reference.  Absolute: subject <= limit.
# The targets of the issues, by scale: at ~100k sockets the ratios to ss and
# 64 MiB; from 500k sockets on (the 1M run) 160 MiB and the ratio to ss -tan.
def targets(scale):
    big = scale >= 500_000
    return [
        dict(subject="sockscope dump --json", metric="wall", factor=1.3, reference="ss -tan"),
        dict(subject="sockscope dump --json", metric="wall", factor=0.1, reference="ss -tanp"),
        dict(subject="sockscope dump --json", metric="rss", limit=160.0 if big else 64.0),
        dict(subject="sockscope dump -l", metric="wall", factor=0.25, reference="ss -ltnp"),
    ]


UNITS = {"wall": "ms", "cpu": "ms", "rss": "MiB"}


def log(msg):
    print(f"measure: {msg}", file=sys.stderr, flush=True)


# How a command is started: /bin/sh forks a subshell, prints its pid and
# exits; the subshell (now our child, see become_subreaper) waits for a byte
# on fd 4, then execs the command.  The command therefore starts from the
# shell's small address space, not from this Python's, whose resident pages a
# direct fork + exec would carry into ru_maxrss as a ~10-15 MiB floor.
SHIM = '{ read -r _ <&4 && exec "$@" 3>&- 4<&-; } & echo $! >&3'


def become_subreaper():
    """Orphans among our descendants (the shim's subshell) become our children."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def run_once(argv, stdout_path="/dev/null"):
    """Run argv once; returns (wall s, cpu s, maxrss KiB, exit status, stderr text).

    Wall time is time.perf_counter() from the go signal (the subshell then
    execs the command) until os.wait4() has reaped it; CPU and peak RSS are
    from that wait4's rusage of the command's own process."""
    out_fd = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err_file = tempfile.TemporaryFile()
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    shell = os.fork()
    if shell == 0:
        try:
            os.dup2(out_fd, 1)
            os.dup2(err_file.fileno(), 2)
            os.dup2(pid_w, 3)
            os.dup2(go_r, 4)
            os.execv("/bin/sh", ["sh", "-c", SHIM, "sh", *argv])
        finally:
            os._exit(127)
    for fd in (out_fd, pid_w, go_r):
        os.close(fd)
    os.waitpid(shell, 0)  # the shell has exited; its subshell is ours now
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(pid_r, 64)
        if not chunk:
            break
        data += chunk
    os.close(pid_r)
    if not data.strip().isdigit():
        os.close(go_w)
        err_file.seek(0)
        raise RuntimeError(f"/bin/sh shim did not start {argv[0]}: {err_file.read(2000).decode(errors='replace')}")
    pid = int(data)
    t0 = time.perf_counter()
    os.write(go_w, b"\n")
    os.close(go_w)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    err_file.seek(0)
    err_text = err_file.read(4096).decode(errors="replace")
    err_file.close()
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, os.waitstatus_to_exitcode(status), err_text


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def tcp_states(namespaces=()):
    """TCP sockets by state (`ss -Htan`): in this network namespace, or
    summed over the named ones."""
    runs = [["ip", "netns", "exec", ns, "ss", "-Htan"] for ns in namespaces] or [["ss", "-Htan"]]
    states = collections.Counter()
    for argv in runs:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        states.update(line.split(None, 1)[0] for line in out.splitlines() if line.strip())
    return sum(states.values()), states


def holders(anywhere=False):
    """hold_sockets.py processes in this network namespace (or in any), and the fds they hold."""
    me = None if anywhere else os.readlink("/proc/self/ns/net")
    n = fds = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            if not any(a.endswith(b"hold_sockets.py") for a in cmd[:3]):
                continue
            if me is not None and os.readlink(f"/proc/{pid}/ns/net") != me:
                continue
            fds += len(os.listdir(f"/proc/{pid}/fd"))
            n += 1
        except OSError:
            continue
    return n, fds


def file_nr():
    try:
        with open("/proc/sys/fs/file-nr") as f:
            return f"{int(f.read().split()[0]):,}"
    except (OSError, ValueError, IndexError):
        return "unknown"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def git_rev():
    rev = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    if rev and sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]):
        rev += " (working tree modified)"
    return rev or "unknown"


def fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockscope", default=os.path.join(REPO, "target", "release", "sockscope"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", help="also write the markdown to this file")
    ap.add_argument("--only", help="comma-separated labels to run (targets needing others are skipped)")
    ap.add_argument("--note", action="append", default=[], help="a line for the report header (repeatable)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    ap.add_argument("--scale", type=int, default=100_000, help="sockets the load holds (chooses the targets)")
    ap.add_argument("--suite", choices=["single", "allns"], default="single",
                    help="single: one namespace (bench/run.sh); allns: --all-netns vs ss per namespace (bench/allns.sh)")
    ap.add_argument("--netns", action="append", default=[],
                    help="--suite allns: a namespace `ss -tanp` runs in (repeatable)")
    args = ap.parse_args()
    if args.suite == "allns" and not args.netns:
        ap.error("--suite allns needs the namespaces, as --netns NAME ...")
    commands, target_list = (COMMANDS_ALLNS, TARGETS_ALLNS) if args.suite == "allns" else (COMMANDS, targets(args.scale))
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")
    become_subreaper()
    sockscope = os.path.abspath(args.sockscope)
    if not os.access(sockscope, os.X_OK):
        ap.error(f"sockscope binary not found or not executable: {sockscope} (cargo build --release)")

    benches = []
    wanted = set(args.only.split(",")) if args.only else None
    for c in commands:
        if wanted is not None and c["label"] not in wanted:
            continue
        argv = [a.replace("{sockscope}", sockscope) for a in c["argv"]]
        if "{namespaces}" in argv:
            i = argv.index("{namespaces}")
            argv[i:i + 1] = args.netns
        exe = shutil.which(argv[0])
        if exe is None:
            ap.error(f"{c['label']}: command not found: {argv[0]}")
        argv[0] = exe
        benches.append(dict(c, argv=argv, walls=[], cpus=[], rss=[], failed=None))
    if wanted is not None and len(benches) != len(wanted):
        ap.error(f"unknown label in --only; known: {', '.join(c['label'] for c in commands)}")

    # Environment, recorded once, before timing.
    started = datetime.datetime.now(datetime.timezone.utc)
    n_tcp, states = tcp_states(args.netns if args.suite == "allns" else ())
    n_holders, n_fds = holders(anywhere=args.suite == "allns")
    version = sh([sockscope, "--version"]) or "unknown"
    load_before = loadavg()

    log(f"{n_tcp:,} TCP sockets, {n_holders} holder processes; {len(benches)} commands x "
        f"({args.warmup} warm-up + {args.runs} runs)")
    for _ in range(args.warmup):
        for b in benches:
            code, err = run_once(b["argv"])[3:]
            if code != 0 and b["failed"] is None:
                b["failed"] = (code, err)
    for r in range(args.runs):
        for b in benches:
            if b["failed"]:
                continue
            wall, cpu, rss, code, err = run_once(b["argv"])
            if code != 0:
                b["failed"] = (code, err)
                continue
            b["walls"].append(wall * 1e3)
            b["cpus"].append(cpu * 1e3)
            b["rss"].append(rss / 1024)
        log(f"run {r + 1}/{args.runs}: " + ", ".join(
            f"{b['label']} {b['walls'][-1]:.1f} ms" for b in benches if b["walls"] and not b["failed"]))

    # Sanity pass: each command once more, stdout kept and summarised.
    for b in benches:
        if b["failed"]:
            b["sanity"] = "-"
            continue
        fd, path = tempfile.mkstemp(prefix="measure-")
        os.close(fd)
        try:
            code, err = run_once(b["argv"], stdout_path=path)[3:]
            b["sanity"] = b["summary"](path) if code == 0 else f"exit {code}"
        except Exception as e:  # a summary must never lose the measurements
            b["sanity"] = f"unreadable output: {e}"
        finally:
            os.unlink(path)

    load_after = loadavg()
    for b in benches:
        ok = not b["failed"]
        b["med"] = {
            "wall": statistics.median(b["walls"]) if ok else None,
            "cpu": statistics.median(b["cpus"]) if ok else None,
            "rss": statistics.median(b["rss"]) if ok else None,
        }

    # Markdown.
    md = []
    md.append("# sockscope vs ss: benchmark" + (" (every namespace)" if args.suite == "allns" else ""))
    md.append("")
    md.append(f"- date: {started.strftime('%Y-%m-%d %H:%M:%S UTC')}")
    md.append(f"- kernel: {platform.release()}")
    md.append(f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    md.append(f"- sockscope: `{sockscope}` ({version}), git {git_rev()}")
    md.append(f"- ss: {sh(['ss', '-V']) or 'unknown'}")
    md.append(f"- load average (1, 5, 15 min): {load_before} before, {load_after} after the runs")
    state_list = ", ".join(f"{s} {n:,}" for s, n in states.most_common())
    where = f"the {len(args.netns)} namespaces" if args.suite == "allns" else "the namespace"
    md.append(f"- TCP sockets in {where}: {n_tcp:,} ({state_list or 'none'})")
    md.append(f"- holder processes: {n_holders} (holding {n_fds:,} fds)")
    md.append(f"- open files host-wide (fs.file-nr): {file_nr()}: the owner scan of sockscope and of `ss -p` "
              f"reads every process's fds, in every namespace")
    md.append(f"- method: {args.runs} timed runs per command after {args.warmup} warm-up, interleaved; "
              f"stdout to /dev/null; medians; wall = exec to reap; CPU = user + sys and peak RSS = ru_maxrss, "
              f"both from the command's own wait4() rusage")
    md.append("- `baseline` (`true`) is the harness floor: exec + wait, and the RSS a command starts with")
    for note in args.note:
        md.append(f"- {note}")
    md.append("")
    md.append("| command | command line | wall ms (median) | wall ms (min-max) | CPU ms (median) | "
              "peak RSS MiB (median) | output (sanity run) |")
    md.append("|---|---|---:|---:|---:|---:|---|")
    for b in benches:
        cmdline = " ".join(b["argv"])
        if b["failed"]:
            code, _ = b["failed"]
            md.append(f"| {b['label']} | `{cmdline}` | FAILED (exit {code}) | | | | - |")
            continue
        m = b["med"]
        md.append(f"| {b['label']} | `{cmdline}` | {fmt(m['wall'])} | "
                  f"{fmt(min(b['walls']))}-{fmt(max(b['walls']))} | {fmt(m['cpu'])} | "
                  f"{fmt(m['rss'])} | {b['sanity']} |")
    failures = [b for b in benches if b["failed"]]
    for b in failures:
        code, err = b["failed"]
        tail = " / ".join(err.strip().splitlines()[-3:]) or "(no stderr)"
        md.append("")
        md.append(f"- `{b['label']}` failed with exit status {code}: {tail}")

    md.append("")
    md.append("## Targets")
    md.append("")
    md.append("| target | measured | ratio | result |")
    md.append("|---|---|---:|---|")
    by_label = {b["label"]: b for b in benches}
    target_failed = False
    for t in target_list:
        metric, unit = t["metric"], UNITS[t["metric"]]
        subj = by_label.get(t["subject"])
        ref = by_label.get(t.get("reference")) if "reference" in t else None
        if "reference" in t:
            name = f"`{t['subject']}` {metric} <= {t['factor']:g} x `{t['reference']}` {metric}"
        else:
            name = f"`{t['subject']}` {metric} <= {t['limit']:g} {unit}"
        if subj is None or ("reference" in t and ref is None):
            md.append(f"| {name} | not run | | SKIPPED |")
            continue
        if subj["failed"] or (ref is not None and ref["failed"]):
            md.append(f"| {name} | a command failed | | FAIL |")
            target_failed = True
            continue
        value = subj["med"][metric]
        if ref is not None:
            limit = t["factor"] * ref["med"][metric]
            ratio = value / ref["med"][metric] if ref["med"][metric] else float("inf")
            measured = f"{fmt(value)} {unit} vs {fmt(ref['med'][metric])} {unit} (limit {fmt(limit)} {unit})"
            ratio_s = f"{ratio:.3f} (limit {t['factor']:g})"
        else:
            limit = t["limit"]
            measured = f"{fmt(value)} {unit} (limit {fmt(limit)} {unit})"
            ratio_s = f"{value / limit:.3f} of limit"
        ok = value <= limit
        target_failed |= not ok
        md.append(f"| {name} | {measured} | {ratio_s} | {'PASS' if ok else 'FAIL'} |")
    text = "\n".join(md) + "\n"

    sys.stdout.write(text)
    sys.stdout.flush()
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
        log(f"wrote {args.out}")
    if failures or (args.strict and target_failed):
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
