#!/usr/bin/env python3
"""Connection churn on loopback: a healthy, busy client and server.

A server process accepts connections, reads them, and closes each as soon
as its client has closed it (EOF), so no CLOSE-WAIT lingers. Client processes
connect at --rate per second in total, write one byte, keep the last --keep
open and close the oldest (the client closes first: TIME-WAIT stays on the
client side, as with any busy HTTP client). Nothing is reset and no fd is leaked: every leak or ghost
finding sockscope reports against this load is a false one.

Prints one JSON line per second to stdout: {"t": seconds, "made": total
connections, "errors": failed connects}; stops on SIGTERM/SIGINT or after
--duration, printing a final {"done": true, ...} line.

Run inside the network namespace to load (bench/soak.sh does).
"""

import argparse
import collections
import json
import multiprocessing as mp
import os
import selectors
import signal
import socket
import sys
import time


def serve(listener, stop):
    """Accepts and reads every connection; closes it as soon as its client
    has (EOF), as a well-behaved server does: no CLOSE-WAIT lingers."""
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()


def connect(addr, rate, keep, stop, made, errors):
    held = collections.deque()
    start = time.monotonic()
    n = 0
    while not stop.is_set():
        try:
            c = socket.create_connection(addr, timeout=5)
            c.sendall(b"x")
        except OSError:
            with errors.get_lock():
                errors.value += 1
            time.sleep(0.01)
            continue
        held.append(c)
        if len(held) > keep:
            held.popleft().close()
        n += 1
        if n % 50 == 0:
            with made.get_lock():
                made.value += 50
        ahead = n / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    with made.get_lock():
        made.value += n % 50
    for c in held:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=2000, help="connections per second, all clients together")
    ap.add_argument("--clients", type=int, default=2, help="client processes")
    ap.add_argument("--keep", type=int, default=32, help="connections each end keeps open")
    ap.add_argument("--duration", type=float, default=0, help="seconds (0: until signalled)")
    ap.add_argument("--name", help="process name (comm) for every churn process, to select them with --process")
    args = ap.parse_args()
    if args.name:
        with open("/proc/self/comm", "w") as comm:  # forked children inherit it
            comm.write(args.name[:15])

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    addr = listener.getsockname()
    stop = mp.Event()
    made = mp.Value("q", 0)
    errors = mp.Value("q", 0)
    procs = [mp.Process(target=serve, args=(listener, stop))]
    per_client = args.rate / args.clients
    procs += [
        mp.Process(target=connect, args=(addr, per_client, args.keep, stop, made, errors))
        for _ in range(args.clients)
    ]
    for p in procs:
        p.start()
    # The handlers only set a flag: setting the shared Event from a handler
    # could deadlock on the lock the interrupted code holds.
    signalled = []
    signal.signal(signal.SIGTERM, lambda *_: signalled.append(1))
    signal.signal(signal.SIGINT, lambda *_: signalled.append(1))
    start = time.monotonic()
    print(json.dumps({"ready": True, "port": addr[1], "pid": os.getpid()}), flush=True)
    while not signalled:
        time.sleep(1.0)
        t = time.monotonic() - start
        print(json.dumps({"t": round(t, 1), "made": made.value, "errors": errors.value}), flush=True)
        if args.duration and t >= args.duration:
            break
    stop.set()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.terminate()
    t = time.monotonic() - start
    print(json.dumps({"done": True, "t": round(t, 1), "made": made.value, "errors": errors.value,
                      "rate": round(made.value / t, 1) if t else 0}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
