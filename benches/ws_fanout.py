#!/usr/bin/env python3
"""WebSocket broadcast and idle-connection memory, against a server already running.

    python3 benches/ws_fanout.py --port P --pid SERVER_PID [-n 1000] [-m 200] [--path /room]

Opens N WebSocket connections to PATH (every text sent there goes to everyone connected,
as `examples/websocket.rs`'s `/room` does), measures the server's resident memory before
and after (KB per idle connection), then has one of them send M messages and waits until
every connection has received every one. Prints deliveries per second, the server's CPU
time (utime + stime, all its threads) per delivered message, and its peak RSS. Needs the
`websockets` package (pip install websockets).
"""

import argparse
import asyncio
import os
import time

import websockets

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """(user + system, user) CPU seconds of every thread of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / TICKS, user / TICKS


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("-n", type=int, default=1000, help="connections")
    parser.add_argument("-m", type=int, default=200, help="messages broadcast")
    parser.add_argument("--path", default="/room")
    parser.add_argument("--name", default="carafe")
    o = parser.parse_args()
    url = f"ws://127.0.0.1:{o.port}{o.path}"

    rss_before = status_kb(o.pid, "VmRSS")
    conns = []
    for start in range(0, o.n, 100):
        batch = [websockets.connect(url, max_size=None, ping_interval=None, compression=None)
                 for _ in range(min(100, o.n - start))]
        conns += await asyncio.gather(*batch)
    await asyncio.sleep(1)
    rss_idle = status_kb(o.pid, "VmRSS")
    per_conn = (rss_idle - rss_before) / o.n

    received = [0] * o.n
    done = asyncio.Event()
    total = o.n * o.m

    async def receive(i, ws):
        async for _ in ws:
            received[i] += 1
            if sum(received) >= total:
                done.set()

    readers = [asyncio.create_task(receive(i, ws)) for i, ws in enumerate(conns)]
    payload = "x" * 32
    cpu0, t0 = cpu_seconds(o.pid), time.monotonic()
    for _ in range(o.m):
        await conns[0].send(payload)
        # Let the receivers keep up: the client, not the server, is the slow side here.
        await asyncio.sleep(0)
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    except asyncio.TimeoutError:
        pass
    (cpu1, user1), elapsed = cpu_seconds(o.pid), time.monotonic() - t0
    cpu, user = cpu1 - cpu0[0], user1 - cpu0[1]
    delivered = sum(received)
    for r in readers:
        r.cancel()
    for ws in conns:
        await ws.close()
    print(
        f"{o.name} ws-fanout-n{o.n}-m{o.m} delivered={delivered}/{total} "
        f"msg_per_s={delivered / elapsed:.0f} cpu_us_per_delivery={cpu * 1e6 / max(delivered, 1):.2f} "
        f"(user {user * 1e6 / max(delivered, 1):.2f}) "
        f"peak_rss_kb={status_kb(o.pid, 'VmHWM')} idle_kb_per_conn={per_conn:.2f}"
    )


asyncio.run(main())
