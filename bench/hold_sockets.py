#!/usr/bin/env python3
"""Hold many TCP sockets open on 127.0.0.1, for benchmarks (stdlib only).

Usage:
    hold_sockets.py server [--expect N] PORT...
    hold_sockets.py client [--source ADDR] COUNT PORT...

server  listens on 127.0.0.1:PORT for every PORT (large backlog) and accepts
        everything forever from one epoll loop, keeping every accepted socket
        open without ever reading or closing it.  With --expect N it prints
        `ready <pid> <N>` once N connections have been accepted (in total,
        over all its ports); without it, `ready <pid> <ports>` as soon as it
        listens.
client  opens COUNT connections to 127.0.0.1, round-robin over the PORTs
        (non-blocking connects, a bounded number in flight), from ADDR
        (another loopback address, e.g. 127.0.0.7, so that clients do not
        share one source address's ephemeral ports), prints
        `ready <pid> <COUNT>` once all of them are established, then sleeps
        until killed.

Both raise their own RLIMIT_NOFILE soft limit (and, as root, the hard limit
if needed) to what they need, at most MAX_NOFILE.  `ready` is the only line
ever written to stdout; errors go to stderr with exit status 1.
"""

import errno
import os
import resource
import selectors
import signal
import socket
import sys
import time

HOST = "127.0.0.1"
MAX_NOFILE = 20500  # per-process ceiling: spread bigger loads over more processes
SPARE_FDS = 64  # stdio, epoll, python's own files
BACKLOG = 65535  # the kernel caps it at net.core.somaxconn
IN_FLIGHT = 512  # client: connects pending at once
CONNECT_DEADLINE = 600.0  # client: seconds for all connections to be established (1M sockets on 2 cores: minutes)
RETRY_ERRNOS = {errno.ECONNREFUSED, errno.ETIMEDOUT, errno.ECONNRESET, errno.EAGAIN}


def die(msg):
    print(f"hold_sockets[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def raise_nofile(need):
    if need > MAX_NOFILE:
        die(f"needs {need} file descriptors, more than the {MAX_NOFILE} allowed per process; use more processes")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    new_hard = hard if hard == resource.RLIM_INFINITY or hard >= need else need
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, new_hard))
    except (ValueError, OSError) as e:
        die(f"cannot raise RLIMIT_NOFILE to {need} (soft {soft}, hard {hard}): {e}; run as root or raise the hard limit")


def ready(n):
    sys.stdout.write(f"ready {os.getpid()} {n}\n")
    sys.stdout.flush()


def parse_ports(args):
    ports = []
    for a in args:
        try:
            p = int(a)
        except ValueError:
            die(f"not a port: {a!r}")
        if not 0 < p < 65536:
            die(f"port out of range: {p}")
        ports.append(p)
    if not ports:
        die("no ports given")
    return ports


def server(args):
    expect = None
    if args[:1] == ["--expect"]:
        if len(args) < 2 or not args[1].isdigit():
            die("--expect needs a count")
        expect = int(args[1])
        args = args[2:]
    ports = parse_ports(args)
    raise_nofile(expect + len(ports) + SPARE_FDS if expect is not None else MAX_NOFILE)

    sel = selectors.DefaultSelector()  # epoll on Linux
    for port in ports:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind((HOST, port))
        except OSError as e:
            die(f"cannot bind {HOST}:{port}: {e}")
        ls.listen(BACKLOG)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ)

    held = []  # accepted fds, never read, never closed
    announced = False
    if expect is None or expect == 0:
        ready(expect if expect is not None else len(ports))
        announced = True
    while True:
        for key, _ in sel.select():
            ls = key.fileobj
            while True:
                try:
                    conn, _ = ls.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    if e.errno in (errno.EMFILE, errno.ENFILE):
                        die(f"out of file descriptors after accepting {len(held)}: {e}")
                    if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                        continue
                    raise
                held.append(conn.detach())
            if not announced and len(held) >= expect:
                ready(len(held))
                announced = True


IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: bind the address now, the port at connect()


def client(args):
    source = None
    if args[:1] == ["--source"]:
        if len(args) < 2:
            die("--source needs an address")
        source, args = args[1], args[2:]
    if not args or not args[0].isdigit():
        die("client needs [--source ADDR] COUNT PORT...")
    count = int(args[0])
    ports = parse_ports(args[1:])
    raise_nofile(count + SPARE_FDS)

    sel = selectors.DefaultSelector()
    held = []  # established sockets, kept open
    pending = 0
    next_i = 0
    retries = []  # ports whose connect must be tried again
    deadline = time.monotonic() + CONNECT_DEADLINE

    def start(port):
        nonlocal pending
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if source is not None:
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((source, 0))
        err = s.connect_ex((HOST, port))
        if err == 0:
            held.append(s)
        elif err == errno.EINPROGRESS:
            sel.register(s, selectors.EVENT_WRITE, port)
            pending += 1
        elif err in RETRY_ERRNOS:
            s.close()
            retries.append(port)
        else:
            die(f"connect to {HOST}:{port} failed after {len(held)} connections: {os.strerror(err)}")

    while len(held) < count:
        if time.monotonic() > deadline:
            die(f"only {len(held)} of {count} connections established after {CONNECT_DEADLINE:.0f} s")
        # Connections refused (server not listening yet, queue full) are
        # retried first; no new ones are started while any wait for a retry.
        batch = retries[: max(0, IN_FLIGHT - pending)]
        del retries[: len(batch)]
        for port in batch:
            start(port)
        while not retries and pending < IN_FLIGHT and next_i < count:
            start(ports[next_i % len(ports)])
            next_i += 1
        if not pending:
            if retries:
                time.sleep(0.05)
            continue
        for key, _ in sel.select(timeout=0.05 if retries else 1.0):
            s, port = key.fileobj, key.data
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                held.append(s)
            elif err in RETRY_ERRNOS:
                s.close()
                retries.append(port)
            else:
                die(f"connect to {HOST}:{port} failed after {len(held)} connections: {os.strerror(err)}")
    sel.close()
    ready(len(held))
    while True:
        signal.pause()


def main(argv):
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # die quietly, no traceback
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if len(argv) < 2 or argv[1] not in ("server", "client"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    if argv[1] == "server":
        server(argv[2:])
    else:
        client(argv[2:])


if __name__ == "__main__":
    main(sys.argv)
