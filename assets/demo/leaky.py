#!/usr/bin/env python3
"""A server that never closes what it accepts, and peers that close five
connections a second: a CLOSE-WAIT (and fd) leak at a steady 5/s, for the
README's `watch` capture. Prints `ready` once it listens; runs until killed.
"""
import socket
import sys
import threading
import time

PORT = 18090


def serve(listener, kept):
    while True:
        conn, _ = listener.accept()
        kept.append(conn)


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(128)
    kept = []
    threading.Thread(target=serve, args=(listener, kept), daemon=True).start()
    print("ready", flush=True)
    while True:
        socket.create_connection(("127.0.0.1", PORT)).close()
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
