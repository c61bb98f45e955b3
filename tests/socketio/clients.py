"""The chat example's Socket.IO contract, checked with python-socketio, the official
Python client, over long-polling, WebSocket, and polling upgraded to WebSocket.

    python3 tests/socketio/clients.py --url http://127.0.0.1:5000

Needs `pip install "python-socketio[client]" websocket-client requests`. Prints one line
per check and a closing `N passed, M failed`; exits non-zero on any failure.
"""
import argparse
import queue
import sys
import threading
import time

import socketio

TIMEOUT = 5
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""), flush=True)


class Client:
    """A python-socketio client that records every event it gets, in order."""

    def __init__(self, url, transports, namespaces=None, auth=None):
        self.events = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._any)
        for ns in namespaces or []:
            self.sio.on("*", self._any, namespace=ns)
        self.sio.connect(url, transports=transports, namespaces=namespaces, auth=auth, wait_timeout=TIMEOUT)

    def _any(self, event, *args):
        self.events.put((event, args))

    def next(self, event, timeout=TIMEOUT):
        """The next event of that name (others seen meanwhile are dropped)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                name, args = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if name == event:
                return args

    def nothing(self, event, wait=0.5):
        return self.next(event, timeout=wait) is None

    def close(self):
        self.sio.disconnect()


def run(url, transports):
    label = "+".join(transports)
    a = Client(url, transports)
    b = Client(url, transports)
    check(f"{label}: transport", a.sio.transport() == transports[-1], a.sio.transport())

    welcome = a.next("welcome")
    check(f"{label}: welcome carries the socket id", welcome == ({"sid": a.sio.get_sid()},), welcome)

    blob = bytes(range(256))
    acked = a.sio.call("echo", ("text", 7, {"nested": [blob]}, None), timeout=TIMEOUT)
    check(f"{label}: echo acks its arguments, binary nested", acked == ("text", 7, {"nested": [blob]}, None), acked)
    a.sio.emit("echo", (b"\x00\xff", "two"))
    echoed = a.next("echo")
    check(f"{label}: echo without ack emits back, binary as binary", echoed == (b"\x00\xff", "two"), echoed)

    check(f"{label}: join acks true", a.sio.call("join", "room1", timeout=TIMEOUT) is True)
    check(f"{label}: b joins too", b.sio.call("join", "room1", timeout=TIMEOUT) is True)
    rooms = a.sio.call("rooms", timeout=TIMEOUT)
    check(f"{label}: rooms lists joined rooms, not the own one", rooms == ["room1"], rooms)
    a.sio.call("join", "another", timeout=TIMEOUT)
    rooms = a.sio.call("rooms", timeout=TIMEOUT)
    check(f"{label}: rooms are sorted", rooms == ["another", "room1"], rooms)

    a.sio.emit("say", {"room": "room1", "text": "hello"})
    said_a, said_b = a.next("said"), b.next("said")
    want = ({"room": "room1", "text": "hello", "from": a.sio.get_sid()},)
    check(f"{label}: say reaches the room, sender included", said_a == want and said_b == want, (said_a, said_b))

    check(f"{label}: leave acks true", b.sio.call("leave", "room1", timeout=TIMEOUT) is True)
    a.sio.emit("say", {"room": "room1", "text": "again"})
    check(f"{label}: a sender in the room hears itself", a.next("said") is not None)
    check(f"{label}: who left hears nothing", b.nothing("said"))

    a.sio.emit("broadcast", {"x": [1, 2]})
    got = b.next("broadcast")
    check(f"{label}: broadcast reaches the others", got == ({"x": [1, 2]},), got)
    check(f"{label}: broadcast skips the sender", a.nothing("broadcast"))

    b.sio.call("join", "clock", timeout=TIMEOUT)
    first = b.next("tick", timeout=3)
    second = b.next("tick", timeout=3)
    ok = first is not None and second is not None and second[0] == first[0] + 1
    check(f"{label}: the clock thread ticks to room clock", ok, (first, second))

    admin = Client(url, transports, namespaces=["/admin"], auth={"token": "secret"})
    count = admin.sio.call("count", namespace="/admin", timeout=TIMEOUT)
    check(f"{label}: /admin count is the sockets on /", count == 2, count)
    admin.close()

    refused = socketio.Client(reconnection=False)
    errors = []
    refused.on("connect_error", lambda data: errors.append(data), namespace="/admin")
    try:
        refused.connect(url, transports=transports, namespaces=["/admin"], auth={"token": "nope"}, wait_timeout=TIMEOUT)
        check(f"{label}: /admin refuses a bad token", False, "connected")
    except socketio.exceptions.ConnectionError as e:
        check(f"{label}: /admin refuses a bad token", True)
        check(f"{label}: the refusal says unauthorized", "unauthorized" in str(e) or errors == [{"message": "unauthorized"}], (str(e), errors))
    finally:
        refused.disconnect()

    b.close()
    time.sleep(0.3)
    admin = Client(url, transports, namespaces=["/admin"], auth={"token": "secret"})
    count = admin.sio.call("count", namespace="/admin", timeout=TIMEOUT)
    check(f"{label}: a disconnect leaves the count", count == 1, count)
    admin.close()
    a.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
        try:
            run(args.url, transports)
        except Exception as e:  # a client error is a failed check, and the others still run
            check("+".join(transports) + ": ran to the end", False, repr(e))
    print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
