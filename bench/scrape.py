#!/usr/bin/env python3
"""`sockscope export` under load: scrape time against `dump --json`, memory.

Run inside the benchmark namespace (bench/run.sh does), so the exporter and
`dump --json` see the same sockets. Measures, in one run:

  * the first scrape of a fresh exporter (cold: every process's fds read);
  * --runs scrapes, each followed by one `sockscope dump --json`, interleaved
    so that drift in machine load hits both alike; wall time from connect to
    the last byte of the response, and wall time of the dump process (exec
    to exit), medians;
  * the exporter's resident memory (VmRSS) right after each scrape, i.e.
    between scrapes, and its high-water mark (VmHWM) during the first
    scrape and, reset after it, during all later ones;
  * --concurrent scrapes started together (they share one collection), the
    wall time until the last one is answered.

Targets (issue): a scrape takes <= 1.2 x `dump --json`; RSS between scrapes
<= 32 MiB. Prints markdown; --out also appends it to a file. Exit status 1
when the exporter fails, or (--strict) when a target is missed.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time


def scrape(port):
    """GET /metrics; returns (wall seconds, body)."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    wall = time.perf_counter() - t0
    reply = b"".join(chunks).decode("utf-8", "replace")
    head, _, body = reply.partition("\r\n\r\n")
    if not head.startswith("HTTP/1.1 200"):
        raise RuntimeError(f"scrape failed: {head.splitlines()[:1]}")
    return wall, body


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def reset_peak(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0, as root)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def dump_json(binary):
    t0 = time.perf_counter()
    subprocess.run([binary, "dump", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def sample(body, name, labels=""):
    m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*{re.escape(labels)}[^}}]*}})? (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def start_exporter(binary, port):
    proc = subprocess.Popen([binary, "export", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if "serving" not in line:
        proc.kill()
        raise RuntimeError(f"exporter did not start: {line!r}")
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    return proc


def concurrent(port, n):
    """n scrapes started together: wall until the last answer, and how many
    distinct collections answered them (each collection reports its own
    duration, to the nanosecond)."""
    walls, durations = [], set()
    barrier = threading.Barrier(n)

    def one():
        barrier.wait()
        wall, body = scrape(port)
        walls.append(wall)
        durations.add(sample(body, "sockscope_scrape_duration_seconds"))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, len(durations)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockscope", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--concurrent", type=int, default=4)
    ap.add_argument("--port", type=int, default=19847)
    ap.add_argument("--out")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = ap.parse_args()

    proc = start_exporter(args.sockscope, args.port)
    try:
        rss_idle = status_kib(proc.pid, "VmRSS")
        cold, body = scrape(args.port)
        rss_after = [status_kib(proc.pid, "VmRSS")]
        hwm_cold = status_kib(proc.pid, "VmHWM")
        reset_peak(proc.pid)
        scrapes, dumps, collections = [], [], []
        for _ in range(args.runs):
            dumps.append(dump_json(args.sockscope))
            wall, body = scrape(args.port)
            rss_after.append(status_kib(proc.pid, "VmRSS"))
            print(f"scrape: {wall * 1000:.1f} ms, then RSS {rss_after[-1] / 1024:.1f} MiB", file=sys.stderr)
            scrapes.append(wall)
            collections.append(sample(body, "sockscope_scrape_duration_seconds"))
        together, distinct = concurrent(args.port, args.concurrent)
        rss_after.append(status_kib(proc.pid, "VmRSS"))
        hwm = status_kib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait()

    established = sample(body, "sockscope_tcp_sockets", 'state="established"')
    listeners = len(re.findall(r"^sockscope_listen_queued_connections\{", body, re.M))
    scrape_ms = statistics.median(scrapes) * 1000
    dump_ms = statistics.median(dumps) * 1000
    rss_max = max(rss_after) / 1024
    ok = lambda cond: "PASS" if cond else "FAIL"
    lines = [
        f"Exporter `sockscope export` on the same sockets: the last scrape saw {established:,.0f} established "
        f"TCP sockets and {listeners} listeners; exposition {len(body):,} bytes.",
        "",
        "| measurement | value | target | result |",
        "|---|---:|---|---|",
        f"| `sockscope dump --json` wall (median of {len(dumps)}) | {dump_ms:.1f} ms | | |",
        f"| scrape wall, steady (median of {len(scrapes)}; min-max {min(scrapes) * 1000:.1f}-{max(scrapes) * 1000:.1f}) "
        f"| {scrape_ms:.1f} ms | <= 1.2 x dump --json ({scrape_ms / dump_ms:.2f}x) | {ok(scrape_ms <= 1.2 * dump_ms)} |",
        f"| first scrape of a fresh exporter (cold owner cache) | {cold * 1000:.1f} ms "
        f"| <= 1.2 x dump --json ({cold * 1000 / dump_ms:.2f}x) | {ok(cold * 1000 <= 1.2 * dump_ms)} |",
        f"| collection time reported by the exporter (`sockscope_scrape_duration_seconds`, median) "
        f"| {statistics.median(collections) * 1000:.1f} ms | | |",
        f"| {args.concurrent} scrapes started together: until the last answer | {together * 1000:.1f} ms "
        f"| answered by {distinct} collection{'s' if distinct != 1 else ''} | |",
        f"| exporter RSS before the first scrape | {rss_idle / 1024:.1f} MiB | | |",
        f"| exporter RSS between scrapes, max of {len(rss_after)} | {rss_max:.1f} MiB | <= 32 MiB "
        f"| {ok(rss_max <= 32)} |",
        f"| exporter peak RSS during the first scrape (VmHWM) | {hwm_cold / 1024:.1f} MiB | | |",
        f"| exporter peak RSS during the later scrapes (VmHWM after a reset) | {hwm / 1024:.1f} MiB | | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n## Exporter\n\n" + text)
    met = scrape_ms <= 1.2 * dump_ms and rss_max <= 32
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
