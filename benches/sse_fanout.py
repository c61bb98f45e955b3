#!/usr/bin/env python3
"""Server-sent events to many subscribers, against `examples/sse.rs` already running with
a fast clock (TICK_MS=10).

    TICK_MS=10 PORT=P target/release/examples/sse &
    python3 benches/sse_fanout.py --port P --pid SERVER_PID [-n 1000] [-d 5]

Opens N event streams, counts the events each receives during D seconds and checks that
every stream got its ids in order, then prints deliveries per second, the server's CPU
time per delivered event (all its threads, user time beside) and its peak RSS.
Standard library only.
"""

import argparse
import asyncio
import os
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[11]) / TICKS


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))


async def subscriber(port, counts, i, in_order, stop):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    last = None
    buffer = b""
    while not stop.is_set():
        chunk = await reader.read(65536)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"id: "):
                n = int(line[4:])
                if last is not None and n != last + 1:
                    in_order[i] = False
                last = n
                counts[i] += 1
    writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("-d", type=float, default=5)
    o = p.parse_args()
    counts, in_order, stop = [0] * o.n, [True] * o.n, asyncio.Event()
    tasks = [asyncio.create_task(subscriber(o.port, counts, i, in_order, stop)) for i in range(o.n)]
    await asyncio.sleep(2)  # everyone subscribed, and ticking
    c0, t0, n0 = cpu(o.pid), time.monotonic(), sum(counts)
    await asyncio.sleep(o.d)
    c1, t1, n1 = cpu(o.pid), time.monotonic(), sum(counts)
    stop.set()
    for t in tasks:
        t.cancel()
    delivered = n1 - n0
    print(
        f"carafe sse-fanout-n{o.n} events_per_s={delivered / (t1 - t0):.0f} "
        f"cpu_us_per_event={(c1[0] - c0[0]) * 1e6 / max(delivered, 1):.2f} "
        f"(user {(c1[1] - c0[1]) * 1e6 / max(delivered, 1):.2f}) "
        f"peak_rss_kb={peak_rss(o.pid)} in_order={all(in_order)} min_per_stream={min(counts)}"
    )


asyncio.run(main())
