#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each and reads
its response, then holds them all open, idle, until killed or HOLD seconds pass.

Prints "ready N" once every connection has had its answer, so the caller can read the
server's memory while they idle. Used by benches/load.sh; the caller raises `ulimit -n`.

    python3 benches/idle_conns.py PORT [N=10000] [PATH=/plaintext] [HOLD=120]
"""

import socket
import sys
import time


def one_response(sock):
    """Reads one response with a Content-Length body; returns its status line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return head.split(b"\r\n")[0].decode()


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    path = sys.argv[3] if len(sys.argv) > 3 else "/plaintext"
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    conns = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(request)
        status = one_response(sock)
        if not status.startswith("HTTP/1.1 200"):
            sys.exit(f"connection {i}: {status}")
        conns.append(sock)
    print(f"ready {len(conns)}", flush=True)
    # Idle until killed, or the time bound passes.
    time.sleep(hold)
    for sock in conns:
        sock.close()


if __name__ == "__main__":
    main()
