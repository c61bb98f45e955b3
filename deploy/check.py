#!/usr/bin/env python3
"""Checks an app (examples/behind_proxy.rs) through the proxy in front of it, with the
standard library only: plain HTTP on both instances, the client's address as the app
sees it (a forged X-Forwarded-For must not count), a WebSocket echo and an event stream.

    python3 deploy/check.py 127.0.0.1 18080
"""

import base64
import json
import os
import socket
import sys


def request(host, port, path, headers=None, timeout=10):
    """One request on a fresh connection; returns (status, headers, body)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode().partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, fields, body


def dechunk(body):
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


def check(condition, what):
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def websocket_echo(host, port, path, message):
    """A WebSocket handshake and one masked text frame; returns the echoed text."""
    sock = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 101"), f"WebSocket handshake through the proxy: {head[:40]!r}")
    payload = message.encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask
    frame += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(frame)
    while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
        rest += sock.recv(4096)
    check(rest[0] == 0x81, "the echo is a text frame")
    echoed = rest[2 : 2 + (rest[1] & 0x7F)].decode()
    sock.close()
    return echoed


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    answers = [request(host, port, "/") for _ in range(20)]
    check(all(status == 200 for status, _, _ in answers), "GET / through the proxy")
    instances = {body.decode().strip() for _, _, body in answers}
    check(len(instances) == 2, f"both instances answer: {sorted(instances)}")

    _, _, body = request(host, port, "/whoami", {"X-Forwarded-For": "6.6.6.6"})
    who = json.loads(body)
    check(who["remote_addr"] == "127.0.0.1", f"a forged X-Forwarded-For is not believed: {who}")
    # nginx forwards $host: the name the client asked for, without the port.
    check(who["scheme"] == "http" and who["host"] == host, f"scheme and host: {who}")

    check(websocket_echo(host, port, "/ws", "through nginx") == "through nginx", "WebSocket echo")

    status, fields, body = request(host, port, "/events")
    check(status == 200 and fields.get("content-type") == "text/event-stream", "event stream")
    ids = [line.split(":")[1].strip() for line in body.decode().splitlines() if line.startswith("id:")]
    check(ids == [str(n) for n in range(1, 11)], f"ten events in order: {ids}")
    _, _, body = request(host, port, "/events", {"Last-Event-ID": "41"})
    check("id: 42" in body.decode(), "Last-Event-ID resumes the stream")


if __name__ == "__main__":
    main()
