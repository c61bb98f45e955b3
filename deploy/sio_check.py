#!/usr/bin/env python3
"""Checks Socket.IO across two instances of examples/chat.rs attached to one Redis, with
the standard library only: client A on instance 1's Unix socket, B on instance 2's, C
through nginx (TCP). All three join a room; the room's members are the three of them,
whichever instance holds each; what any one says, the other two hear; what the
emitter (examples/emitter.rs, a process of its own) says, all three hear.

    python3 deploy/sio_check.py --unix /tmp/app-1.sock --unix /tmp/app-2.sock \\
        --tcp 127.0.0.1:18080 --emitter target/debug/examples/emitter \\
        --redis-url redis://127.0.0.1:18082/
"""

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time

TIMEOUT = 10


def check(condition, what):
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


class Client:
    """A Socket.IO client on `/` over the WebSocket transport, on a Unix or TCP socket."""

    def __init__(self, name, unix=None, tcp=None):
        self.name = name
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(unix)
            host = "localhost"
        else:
            h, p = tcp.rsplit(":", 1)
            self.sock = socket.create_connection((h, int(p)), timeout=TIMEOUT)
            host = tcp
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            check(chunk, f"{name}: the WebSocket handshake is answered")
            data += chunk
        head, _, self.buf = data.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 101"), f"{name}: WebSocket handshake ({head[:30]!r})")
        check(self.text().startswith("0{"), f"{name}: Engine.IO open packet")
        self.send("40")
        connect = self.text()
        check(connect.startswith("40{"), f"{name}: Socket.IO CONNECT")
        self.sid = json.loads(connect[2:])["sid"]
        self.acks = 0
        self.events = []

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.name}: connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def text(self):
        """The next text message (answering Engine.IO pings)."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            if b0 & 0x0F != 1:
                continue
            message = payload.decode()
            if message == "2":
                self.send("3")
                continue
            return message

    def send(self, message):
        payload = message.encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def emit(self, *args):
        self.send("42" + json.dumps(args))

    def call(self, *args):
        """An event with an ack; the ack's arguments."""
        self.acks += 1
        prefix = f"43{self.acks}["
        self.send(f"42{self.acks}" + json.dumps(args))
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            message = self.text()
            if message.startswith(prefix):
                return json.loads(message[len(prefix) - 1:])
            if message.startswith("42"):
                self.events.append(json.loads(message[2:]))
        check(False, f"{self.name}: an ack to {args[0]}")

    def next(self, event, wait=TIMEOUT):
        """The next event of that name within `wait` seconds, or None."""
        deadline = time.time() + wait
        while True:
            for i, args in enumerate(self.events):
                if args[0] == event:
                    return self.events.pop(i)[1:]
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                message = self.text()
            except (socket.timeout, TimeoutError):
                return None
            finally:
                self.sock.settimeout(TIMEOUT)
            if message.startswith("42"):
                self.events.append(json.loads(message[2:]))

    def hears(self, text):
        while True:
            said = self.next("said")
            if said is None:
                return False
            if said[0]["text"] == text:
                return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unix", action="append", required=True, help="an instance's socket")
    parser.add_argument("--tcp", required=True, help="host:port of nginx")
    parser.add_argument("--emitter", required=True)
    parser.add_argument("--redis-url", required=True)
    o = parser.parse_args()
    room = "deploy"
    a = Client("A (instance 1)", unix=o.unix[0])
    b = Client("B (instance 2)", unix=o.unix[1])
    c = Client("C (through nginx)", tcp=o.tcp)
    clients = [a, b, c]
    for client in clients:
        check(client.call("join", room) == [True], f"{client.name} joins {room}")

    everyone = sorted(client.sid for client in clients)
    members = a.call("members", room)
    check(members == [everyone], f"the room's members, asked on instance 1, are all three: {members}")
    members = b.call("members", room)
    check(members == [everyone], "and the same asked on instance 2")

    for speaker in clients:
        text = f"from {speaker.name}"
        speaker.emit("say", {"room": room, "text": text})
        for listener in clients:
            check(listener.hears(text), f"{listener.name} hears {speaker.name}")

    out = subprocess.run(
        [o.emitter, room, "from the emitter"],
        env=dict(os.environ, REDIS_URL=o.redis_url),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    check(out.returncode == 0 and "2 servers got it" in out.stdout, f"the emitter ran: {out.stdout.strip()} {out.stderr.strip()}")
    for listener in clients:
        check(listener.hears("from the emitter"), f"{listener.name} hears the emitter")


if __name__ == "__main__":
    main()
