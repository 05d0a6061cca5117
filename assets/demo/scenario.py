#!/usr/bin/env python3
"""The sockets behind the README's captures, held until killed.

A process named `shop-api` with: a TCP listener whose accept queue is full
(backlog 4, 8 clients: the kernel drops the SYNs of the rest and counts
them), a listener whose accepted connections were closed by their peers and
never by it (15 CLOSE-WAIT), connections it closed first (32 TIME-WAIT on
the client side), a few established pairs, a UDP socket with a tiny receive
buffer flooded until it drops, and a UNIX listener (backlog 2) with more
clients than it holds. Prints `ready` once everything is in place.
"""
import os
import signal
import socket
import sys

PORT_FULL, PORT_LEAK, PORT_CLOSED, PORT_UDP = 18080, 18081, 18082, 18083
UNIX_PATH = "/tmp/scn/app.sock"


def listener(port, backlog):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def main():
    with open("/proc/self/comm", "w") as f:
        f.write("shop-api")
    held = []
    full = listener(PORT_FULL, 4)
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", PORT_FULL))
        held.append(c)
    leak = listener(PORT_LEAK, 64)
    for _ in range(15):
        c = socket.create_connection(("127.0.0.1", PORT_LEAK))
        server, _ = leak.accept()
        c.close()
        held.append(server)
    closed = listener(PORT_CLOSED, 64)
    for i in range(35):
        c = socket.create_connection(("127.0.0.1", PORT_CLOSED))
        server, _ = closed.accept()
        if i < 32:
            c.close()
            server.recv(1)
            server.close()
        else:
            held += [c, server]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    udp.bind(("127.0.0.1", PORT_UDP))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(300):
        sender.sendto(b"x" * 512, ("127.0.0.1", PORT_UDP))
    os.makedirs(os.path.dirname(UNIX_PATH), exist_ok=True)
    if os.path.exists(UNIX_PATH):
        os.unlink(UNIX_PATH)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(UNIX_PATH)
    unix.listen(2)
    for _ in range(5):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(UNIX_PATH)
        except BlockingIOError:
            pass
        held.append(c)
    held += [full, leak, closed, udp, sender, unix]
    print("ready", flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    os.unlink(UNIX_PATH)


if __name__ == "__main__":
    sys.exit(main())
