#!/usr/bin/env python3
"""Socket.IO fan-out across processes: a `say` to one room of N clients, with the room on
one instance of examples/chat.rs or spread over two instances attached to one Redis.

    cargo build --release --features redis --example chat
    python3 benches/socketio_redis_fanout.py --chat target/release/examples/chat [-n 1000] [-r 20]

Starts a redis-server on a free port, then for each setup starts the chat instance(s)
(one event loop each, pinned to CPU 0 with redis-server), connects N receivers over the
WebSocket transport (split evenly over the instances), has them join room `bench`, and
has one more client (on instance 1, not in the room) say R times a second. After W s of
warm-up it measures D s:

- delivered/s: `said` messages received whose send time fell in the window, per second
  (and as a share of says x receivers);
- server CPU us per delivered message: utime + stime of every chat process over the
  window (from /proc/PID/stat), per message delivered; redis-server's CPU in the window
  apart (it idles at about 20 ms per 8 s; /proc counts in 10 ms ticks);
- p50/p99 send-to-receive latency.

Setups: `1 instance` (no Redis), `1 instance + Redis` (each say is also published, with
nobody else to hear it), `2 instances + Redis` (each say crosses Redis once). The client is
one Python thread pinned to CPU 1, speaking Engine.IO/Socket.IO frames itself (standard
library only); it keeps up with about 20 000 messages/s, so keep R x N near that.
Prints one line per setup; everything it starts is stopped by PID.
"""

import argparse
import base64
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
ROOM = "bench"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not start")


def pinned(cpu):
    return ["taskset", "-c", str(cpu)] if subprocess.run(["which", "taskset"], capture_output=True).returncode == 0 else []


class Conn:
    """One client: a blocking handshake, then frames read from a non-blocking socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(4096)
        head, _, self.buf = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert self.blocking_text().startswith("0{")
        self.send("40")
        assert self.blocking_text().startswith("40{")

    def blocking_text(self):
        while True:
            message = self.frame()
            if message is not None:
                return message
            self.buf += self.sock.recv(65536)

    def frame(self):
        """The next complete text message in the buffer, or None."""
        buf = self.buf
        while len(buf) >= 2:
            n, at = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return None
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return None
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                return None
            opcode, payload = buf[0] & 0x0F, buf[at : at + n]
            buf = self.buf = buf[at + n :]
            if opcode == 1:
                message = payload.decode()
                if message == "2":
                    self.send("3")
                    continue
                return message
        return None

    def send(self, message):
        payload = message.encode()
        n = len(payload)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
        # A zero mask: the frame is masked as the protocol asks, and the bytes are as is.
        self.sock.sendall(head + b"\0\0\0\0" + payload)


def said_time(message):
    """The send time (ns) in a `said` message's text, `<seq> <ns>`."""
    at = message.find('"text":"')
    if not message.startswith('42["said"') or at < 0:
        return None
    text = message[at + 8 : message.index('"', at + 8)]
    return int(text.split(" ")[1])


def run(name, ports, pids, redis_pid, o):
    receivers = []
    for i in range(o.n):
        conn = Conn(ports[i % len(ports)])
        conn.send(f'421["join","{ROOM}"]')
        while not (conn.blocking_text() or "").startswith("431"):
            pass
        receivers.append(conn)
    sayer = Conn(ports[0])
    for conn in receivers + [sayer]:
        conn.sock.setblocking(False)
    sel = selectors.DefaultSelector()
    for conn in receivers + [sayer]:
        sel.register(conn.sock, selectors.EVENT_READ, conn)

    start = time.perf_counter_ns()
    window = (start + int(o.w * 1e9), start + int((o.w + o.d) * 1e9))
    stop = window[1] + int(2e9)
    period = int(1e9 / o.r)
    next_say, seq, says, received, latencies = start, 0, 0, 0, []
    cpu_start = cpu_end = None
    while True:
        now = time.perf_counter_ns()
        if cpu_start is None and now >= window[0]:
            cpu_start = [cpu_seconds(p) for p in pids], cpu_seconds(redis_pid)
        if cpu_end is None and now >= window[1]:
            cpu_end = [cpu_seconds(p) for p in pids], cpu_seconds(redis_pid)
        if now >= stop:
            break
        while now >= next_say and now < window[1]:
            seq += 1
            sayer.send(f'42["say",{{"room":"{ROOM}","text":"{seq} {now}"}}]')
            if now >= window[0]:
                says += 1
            next_say += period
        wake = [stop]
        if now < window[1]:
            wake += [next_say, window[1]]
        if cpu_start is None:
            wake.append(window[0])
        timeout = max(0, min(wake) - now) / 1e9
        for key, _ in sel.select(timeout):
            conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sys.exit(f"{name}: a connection closed")
            conn.buf += chunk
            while (message := conn.frame()) is not None:
                sent = said_time(message)
                if sent is not None and window[0] <= sent < window[1]:
                    received += 1
                    latencies.append(time.perf_counter_ns() - sent)
    for conn in receivers + [sayer]:
        sel.unregister(conn.sock)
        conn.sock.close()

    server_cpu = sum(cpu_end[0]) - sum(cpu_start[0])
    redis_cpu = cpu_end[1] - cpu_start[1]
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6 if latencies else float("nan")
    print(
        f"{name:22} delivered/s {received / o.d:8.0f}  share {received / max(1, says * o.n):5.3f}  "
        f"server us/msg {server_cpu * 1e6 / max(1, received):6.2f}  "
        f"redis-server CPU {redis_cpu * 1e3:4.0f} ms  "
        f"p50 {pct(0.5):6.1f} ms  p99 {pct(0.99):6.1f} ms",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chat", required=True, help="examples/chat built with --features redis")
    parser.add_argument("-n", type=int, default=1000, help="receivers in the room")
    parser.add_argument("-r", type=float, default=20, help="says per second")
    parser.add_argument("-d", type=float, default=8, help="measured seconds")
    parser.add_argument("-w", type=float, default=2, help="warm-up seconds")
    o = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * o.n + 64)), hard))
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})

    started = []
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            pinned(0) + ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        started.append(redis)
        wait_port(redis_port, redis, "redis-server")
        url = f"redis://127.0.0.1:{redis_port}/"
        print(f"# {time.strftime('%Y-%m-%d %H:%M')} n={o.n} r={o.r}/s d={o.d}s "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        for name, instances, redis_url in (
            ("1 instance", 1, ""),
            ("1 instance + Redis", 1, url),
            ("2 instances + Redis", 2, url),
        ):
            procs, ports = [], []
            for _ in range(instances):
                port = free_port()
                env = dict(os.environ, PORT=str(port), WORKERS="1", RUST_LOG="warn", REDIS_URL=redis_url)
                proc = subprocess.Popen(pinned(0) + [o.chat], env=env, stderr=subprocess.DEVNULL)
                started.append(proc)
                procs.append(proc)
                wait_port(port, proc, "chat")
                ports.append(port)
            time.sleep(0.3)  # subscribed
            run(name, ports, [p.pid for p in procs], redis.pid, o)
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=15)
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
