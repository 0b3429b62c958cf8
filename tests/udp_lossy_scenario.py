"""Runs inside a network namespace made by tests/test_udp_lossy.py, where the
kernel drops a share of all UDP datagrams (iptables ``statistic``). Every
datagram between n1 and n2 also passes a reordering relay (real sockets) that
swaps neighbouring datagrams now and then. Prints one JSON line of findings.

    n1 -UDP-> [relay: reorder] -UDP-> n2 -TCP-> n3        (kernel: random loss)

usage: python udp_lossy_scenario.py MESSAGES REORDER_PERCENT
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import select
import socket
import struct
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ockam_py import Message, Node, UdpBind

MAX_SIZE = 64 * 1024
HEAD = struct.Struct(">I32s")  # message index, SHA-256 of the body


class ReorderRelay:
    """Forwards datagrams between one client and one server, swapping a
    datagram with the next one in the same direction with probability p (a
    held datagram goes out after at most 5 ms, so reordering never loses)."""

    def __init__(self, server: Tuple[str, int], p: float, seed: int) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        for s in (self.front, self.back):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.server = server
        self.client: Optional[Tuple[str, int]] = None
        self.p = p
        self.rng = random.Random(seed)
        self.held: Dict[int, Tuple[bytes, float]] = {}
        self.swapped = 0
        self.forwarded = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.front.getsockname()[1]

    def quiet(self, timeout: float = 5.0) -> None:
        """Returns once nothing passed for 10 ms."""
        end = time.monotonic() + timeout
        last = -1
        while self.forwarded != last and time.monotonic() < end:
            last = self.forwarded
            time.sleep(0.01)

    def _out(self, src: socket.socket, data: bytes) -> None:
        if src is self.front:
            self.back.sendto(data, self.server)
        elif self.client is not None:
            self.front.sendto(data, self.client)

    def _pass(self, src: socket.socket, data: bytes) -> None:
        key = src.fileno()
        held = self.held.pop(key, None)
        if held is None and self.rng.random() < self.p:
            self.held[key] = (data, time.monotonic())
            return
        self._out(src, data)
        if held is not None:
            self.swapped += 1
            self._out(src, held[0])

    def _run(self) -> None:
        socks = {self.front.fileno(): self.front, self.back.fileno(): self.back}
        for s in socks.values():
            s.setblocking(False)
        while not self.stop:
            ready, _, _ = select.select(list(socks.values()), [], [], 0.002)
            for s in ready:
                while True:  # drain: a datagram per select would fall behind a node
                    try:
                        data, addr = s.recvfrom(4096)
                    except BlockingIOError:
                        break
                    if s is self.front:
                        self.client = addr
                    self._pass(s, data)
                    self.forwarded += 1
            now = time.monotonic()
            for key, (data, since) in list(self.held.items()):
                if now - since > 0.005:
                    del self.held[key]
                    self._out(socks[key], data)


class Collector:
    """A worker's handler: checks each message against the digest it carries."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intact: Dict[int, int] = {}
        self.corrupt = 0

    def __call__(self, message: Message) -> None:
        body = message.payload
        ok = len(body) >= HEAD.size
        if ok:
            index, digest = HEAD.unpack_from(body)
            ok = hashlib.sha256(body[HEAD.size:]).digest() == digest
        with self.lock:
            if ok:
                self.intact[index] = self.intact.get(index, 0) + 1
            else:
                self.corrupt += 1


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bind_of(node: Node) -> UdpBind:
    return node.udp_binds()[0]


def settle(node: Node, expect: int, timeout: float) -> None:
    """Waits until node's bind has put `expect` messages on the wire (or dropped them)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        b = bind_of(node)
        if b.sent + b.dropped_send >= expect:
            return
        time.sleep(0.01)


def bridge(n1: Node, to: str) -> Dict[str, Any]:
    tries = []
    for _ in range(10):
        try:
            tries.append(n1.message_send("hello", to=to, timeout=2))
            break
        except TimeoutError:
            tries.append("timeout")
    return {"replies": tries}


def many_messages(n1: Node, n2: Node, relay: ReorderRelay, count: int) -> Dict[str, Any]:
    collector = Collector()
    n2.start_worker("collector", collector)
    rng = random.Random(7)
    to = f"/ip4/127.0.0.1/udp/{relay.port}/service/collector"
    rss_before = rss_kib()
    sizes = []
    for i in range(count):
        size = int(2 ** rng.uniform(0, 16))  # 1 B .. 64 KiB, as many of each order of magnitude
        body = rng.randbytes(size)
        n1.send(to, HEAD.pack(i, hashlib.sha256(body).digest()) + body)
        sizes.append(size)
        if i % 50 == 49:  # in steps the relay keeps up with: loss is the kernel's
            settle(n1, i + 1, 30)
            relay.quiet()
    settle(n1, count, 60)
    time.sleep(1.0)  # the last datagrams arrive; partial messages expire (limit set to 500 ms)
    rss_peak = rss_kib()
    b2 = bind_of(n2)
    with collector.lock:
        intact = dict(collector.intact)
        corrupt = collector.corrupt
    small = [i for i, s in enumerate(sizes) if s + 200 <= 493]  # one datagram each
    return {
        "count": count,
        "intact": len(intact),
        "duplicates": sum(1 for v in intact.values() if v > 1),
        "corrupt": corrupt,
        "small": len(small),
        "small_intact": sum(1 for i in small if i in intact),
        "n1": vars(bind_of(n1)),
        "n2": vars(b2),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_peak,
    }


class Sink:
    """A TCP server behind the outlet: records, per connection, how many bytes
    arrived and whether they are exactly the start of what was sent."""

    def __init__(self, expected: bytes) -> None:
        self.expected = expected
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.results: List[Dict[str, Any]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        got, ok = 0, True
        conn.settimeout(60)
        try:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                ok = ok and chunk == self.expected[got:got + len(chunk)]
                got += len(chunk)
        except OSError:
            pass
        self.results.append({"received": got, "prefix_ok": ok})
        conn.close()


def portal(n1: Node, n2: Node, relay_port: int, tries: int) -> Dict[str, Any]:
    data = random.Random(11).randbytes(4 << 20)
    sink = Sink(data)
    n2.create_outlet(to="127.0.0.1:%d" % sink.sock.getsockname()[1])
    inlet = n1.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/udp/{relay_port}/service/outlet")
    for _ in range(tries):
        before = len(sink.results)
        with socket.create_connection(("127.0.0.1", inlet.port), timeout=10) as c:
            c.settimeout(30)
            try:
                c.sendall(data)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the connection ended: what arrived is checked below
            end = time.monotonic() + 40
            while len(sink.results) == before and time.monotonic() < end:
                time.sleep(0.05)
    return {"sent": len(data), "connections": sink.results}


def dns(n1: Node, n2: Node, lines: List[str]) -> Dict[str, Any]:
    """A peer named by a name the namespace's hosts file gives (ip netns exec
    mounts /etc/netns/<ns>/hosts), and one no resolver knows."""
    port = bind_of(n2).port
    replies = []
    for _ in range(10):
        try:
            replies.append(n1.message_send("hello", f"/dnsaddr/n2.ockam.test/udp/{port}/service/uppercase", timeout=2))
            break
        except TimeoutError:
            replies.append("timeout")
    before = bind_of(n1).dropped_send
    n1.send(f"/dnsaddr/nowhere.invalid/udp/{port}/service/uppercase", b"x")
    end = time.monotonic() + 20
    while bind_of(n1).dropped_send == before and time.monotonic() < end:
        time.sleep(0.02)
    return {"replies": replies, "unknown_dropped": bind_of(n1).dropped_send - before,
            "unknown_lines": [ln for ln in lines if "nowhere.invalid" in ln]}


def main() -> None:
    count, reorder = int(sys.argv[1]), float(sys.argv[2]) / 100
    lines: List[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.getLogger("ockam_py")
    log.addHandler(Keep())
    log.setLevel(logging.INFO)
    n1 = Node("n1", udp_listener_address="127.0.0.1:0")
    n2 = Node("n2", udp_listener_address="127.0.0.1:0")
    n3 = Node("n3", tcp_listener_address="127.0.0.1:0")
    for n in (n1, n2):
        n.set_limits(udp_reassembly_timeout_ms=500)
    relay = ReorderRelay(("127.0.0.1", bind_of(n2).port), reorder, seed=3)
    n2.start_service("hop")
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    out: Dict[str, Any] = {"pid": os.getpid()}
    out["bridge"] = bridge(n1, f"/ip4/127.0.0.1/udp/{relay.port}/service/hop{c23.address}/service/uppercase")
    out["dns"] = dns(n1, n2, lines)
    out["messages"] = many_messages(n1, n2, relay, count)
    out["portal"] = portal(n1, n2, relay.port, tries=3)
    out["swapped"] = relay.swapped
    out["gap_lines"] = [ln for ln in lines if "never arrived" in ln]
    relay.stop = True
    for n in (n1, n2, n3):
        n.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
