"""Ockam's UDP transport (docs/udp.md) on 127.0.0.1: binds, routes with UDP
hops, exact round trips of every size class, the datagrams on the wire, and
hostile datagrams from a raw socket, which are dropped and counted while a
good peer keeps working. Real sockets, no mocks."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import Callable, Iterator, List, Tuple

import pytest

from ockam_py import Node, RouteError, UdpBind

MAX_WIRE = 508
MAX_PAYLOAD = 493


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_node() -> Iterator[Callable[..., Node]]:
    """make_node(prefix, tcp=False, udp=True) -> an open Node, closed at teardown."""
    nodes: List[Node] = []

    def make(prefix: str = "u", tcp: bool = False, udp: bool = True) -> Node:
        node = Node(
            unique(prefix),
            tcp_listener_address="127.0.0.1:0" if tcp else None,
            udp_listener_address="127.0.0.1:0" if udp else None,
        )
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        node.close()


def udp_route(bind: UdpBind, rest: str) -> str:
    return f"/ip4/127.0.0.1/udp/{bind.port}{rest}"


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ---- CBOR, as docs/udp.md lays the datagrams out ----


def head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes([major << 5 | info]) + value.to_bytes(width, "big")
    raise ValueError(value)


def cbytes(b: bytes) -> bytes:
    return head(2, len(b)) + b


def route(*addrs: Tuple[int, bytes]) -> bytes:
    return head(4, len(addrs)) + b"".join(head(4, 2) + head(0, tt) + cbytes(a) for tt, a in addrs)


def routing_message(onward: bytes, ret: bytes, payload: bytes) -> bytes:
    return head(4, 3) + onward + ret + cbytes(payload)


def datagram(rn: int, offset: int, is_last: bool, payload: bytes, version: int = 1) -> bytes:
    return head(4, 5) + head(0, version) + head(0, rn) + head(0, offset) + (b"\xf5" if is_last else b"\xf4") + cbytes(payload)


def bare(s: bytes) -> bytes:
    assert len(s) < 128
    return bytes([len(s)]) + s


class Reader:
    """A minimal CBOR reader for the datagrams a node sends."""

    def __init__(self, data: bytes) -> None:
        self.d, self.i = data, 0

    def head(self) -> Tuple[int, int]:
        b = self.d[self.i]
        self.i += 1
        major, info = b >> 5, b & 31
        if info < 24:
            return major, info
        width = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        v = int.from_bytes(self.d[self.i : self.i + width], "big")
        self.i += width
        return major, v

    def item(self) -> object:
        major, v = self.head()
        if major == 0:
            return v
        if major == 2:
            out = self.d[self.i : self.i + v]
            self.i += v
            return out
        if major == 4:
            return [self.item() for _ in range(v)]
        if major == 7:
            return {20: False, 21: True, 22: None}[v]
        raise ValueError(major)


def decode(data: bytes) -> object:
    r = Reader(data)
    out = r.item()
    assert r.i == len(data), "one item per datagram"
    return out


def raw_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def counters(node: Node) -> UdpBind:
    return node.udp_binds()[0]


# ---- binds ----


def test_binds_are_listed_with_address_port_and_counters(make_node) -> None:
    node = make_node(udp=False)
    assert node.udp_binds() == []
    first = node.bind_udp("127.0.0.1:0")
    second = node.bind_udp()
    assert [b.address for b in node.udp_binds()] == [first.address, second.address]
    assert first.address == f"127.0.0.1:{first.port}" and first.port > 0
    assert len(first.worker) == 32 and first.sent == first.received == first.dropped_malformed == 0
    with pytest.raises(ValueError):
        node.bind_udp("not an address")


def test_udp_listener_address_binds_at_creation(make_node) -> None:
    node = make_node()
    (bind,) = node.udp_binds()
    assert bind.address.startswith("127.0.0.1:")


def test_udp_routes_parse_to_tt2_hops() -> None:
    from ockam_py import _core

    assert _core.parse_route("/ip4/127.0.0.1/udp/4000/service/echo") == ["2#127.0.0.1:4000", "0#echo"]
    assert _core.parse_route("/dnsaddr/localhost/udp/4000/service/echo") == ["2#localhost:4000", "0#echo"]
    assert _core.parse_route("2#127.0.0.1:4000 => echo") == ["2#127.0.0.1:4000", "0#echo"]
    with pytest.raises(RouteError):  # the sender would resolve both hops (spec 1.3)
        _core.parse_route("/ip4/127.0.0.1/udp/4000/service/hop/ip4/127.0.0.1/tcp/5000/service/echo")


def test_a_node_without_a_bind_cannot_send_over_udp(make_node) -> None:
    node = make_node(udp=False)
    with pytest.raises(Exception, match="no UDP bind"):
        node.message_send("hi", "/ip4/127.0.0.1/udp/9/service/echo", timeout=2)


# ---- round trips ----


@pytest.mark.parametrize("size", [0, 1, 493, 494, 10 * 1024, 60 * 1024, 1024 * 1024])
def test_echo_round_trips_exactly(make_node, size: int) -> None:
    n1, n2 = make_node("a"), make_node("b")
    payload = bytes((i * 7 + size) % 256 for i in range(size))
    assert n1.message_send(payload, udp_route(counters(n2), "/service/echo"), raw=True, timeout=10) == payload
    b1, b2 = counters(n1), counters(n2)
    assert (b1.sent, b1.received, b2.sent, b2.received) == (1, 1, 1, 1)
    assert b1.datagrams_out == b2.datagrams_in > 0
    assert b1.dropped_incomplete == b1.dropped_malformed == b2.dropped_incomplete == b2.dropped_malformed == 0


def test_bridge_udp_then_tcp_through_hop(make_node) -> None:
    """n1 -UDP-> n2 -TCP-> n3. The sender resolves every transport hop of a
    route (as Ockam 0.139 does), so n2's hop is named with n2's own TCP
    connection to n3, as in the TCP bridge; hop lets the message from a UDP
    bind leave through a connection (flow control)."""
    n1 = make_node("n1")
    n2 = make_node("n2")
    n3 = make_node("n3", tcp=True, udp=False)
    n2.start_service("hop")
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    to = udp_route(counters(n2), f"/service/hop{c23.address}/service/uppercase")
    assert n1.message_send("hello", to=to) == "HELLO"
    # and without hop, a datagram's message may not go into a connection
    with pytest.raises(TimeoutError):
        n1.message_send("hello", to=udp_route(counters(n2), f"{c23.address}/service/uppercase"), timeout=0.5)


# ---- the wire ----


def test_datagrams_on_the_wire_follow_ockams_format(make_node) -> None:
    """A raw socket talks to a node's echo by hand-made datagrams; the reply's
    datagrams are at most 508 bytes, in order, and put together give the
    UdpRoutingMessage with the route back to the raw socket's sender."""
    node = make_node()
    bind = counters(node)
    raw = raw_socket()
    payload = bare(b"hello") + bytes(range(256)) * 4  # 1030 bytes: three datagrams back
    body = routing_message(route((0, b"echo")), route((0, b"app")), payload)
    for i, off in enumerate(range(0, len(body), MAX_PAYLOAD)):
        part = body[off : off + MAX_PAYLOAD]
        raw.sendto(datagram(0xBEEF, off, off + MAX_PAYLOAD >= len(body), part), ("127.0.0.1", bind.port))
    got = b""
    rn = None
    while True:
        data, _ = raw.recvfrom(4096)
        assert len(data) <= MAX_WIRE
        version, number, offset, is_last, part = decode(data)  # type: ignore[misc]
        assert version == 1 and offset == len(got) and len(part) <= MAX_PAYLOAD
        assert rn is None or number == rn
        rn = number
        got += part
        if is_last:
            break
    onward, ret, reply = decode(got)  # type: ignore[misc]
    assert onward == [[0, b"app"]]
    assert reply == payload
    assert ret[-1] == [0, b"echo"]
    assert counters(node).received == 1


# ---- hostile peers ----


def test_hostile_datagrams_are_dropped_and_counted_while_a_good_peer_works(make_node) -> None:
    good, node = make_node("good"), make_node("target")
    port = counters(node).port
    raw = raw_socket()
    target = ("127.0.0.1", port)
    echo = routing_message(route((0, b"echo")), route((0, b"app")), bare(b"x"))
    raw.sendto(b"\x00garbage\xff", target)  # not CBOR
    raw.sendto(datagram(1, 0, True, echo, version=2), target)  # wrong version
    raw.sendto(datagram(2, 0, True, echo)[:-1], target)  # cut short
    raw.sendto(b"\x85" + b"\x00" * 600, target)  # over 508 bytes
    raw.sendto(datagram(3, 0, True, b"\x83\x80"), target)  # a whole message that does not decode
    raw.sendto(datagram(4, 0xFFFF_FF00, True, b"x" * 300), target)  # offset past max_frame
    raw.sendto(datagram(5, 0, False, echo[:5]), target)  # is_last after a gap
    raw.sendto(datagram(5, 100, True, echo[5:]), target)
    for rn in range(100, 200):  # a flood of partial messages
        raw.sendto(datagram(rn, 0, False, b"p" * 400), target)
    assert wait_for(lambda: counters(node).datagrams_in >= 108)
    c = counters(node)
    assert c.dropped_malformed == 5
    assert c.dropped_too_large == 1
    assert c.dropped_incomplete >= 1 + 96  # the gap, and all but the newest 4 of the flood
    assert c.received == 0
    payload = b"still here" * 300
    assert good.message_send(payload, udp_route(counters(node), "/service/echo"), raw=True) == payload
    assert counters(node).received == 1


def test_a_partial_message_expires(make_node) -> None:
    node = make_node()
    node.set_limits(udp_reassembly_timeout_ms=200)
    raw = raw_socket()
    target = ("127.0.0.1", counters(node).port)
    body = routing_message(route((0, b"echo")), route((0, b"app")), bare(b"late"))
    raw.sendto(datagram(9, 0, False, body[:10]), target)
    assert wait_for(lambda: counters(node).dropped_incomplete == 1, timeout=3)
    raw.sendto(datagram(9, 10, True, body[10:]), target)  # the rest, too late: never delivered
    assert wait_for(lambda: counters(node).dropped_incomplete == 2, timeout=3)
    raw.settimeout(0.3)
    with pytest.raises(socket.timeout):
        raw.recvfrom(4096)
    assert counters(node).received == 0


# ---- portals across a UDP leg ----


def test_portal_across_udp_carries_a_stream_bit_exact(make_node) -> None:
    """An inlet on n1 reaches an outlet on n2 over UDP: 8 MiB through a TCP
    echo server come back bit-exact, half-close included. Between our nodes
    the stream is numbered (README, portals), so a lost datagram would end the
    connection rather than leave a hole; on loopback nothing is lost."""
    from test_secure_channel import _TcpEchoServer

    echo = _TcpEchoServer()
    n1, n2 = make_node("pi"), make_node("po")
    n2.create_outlet(to="%s:%d" % echo.getsockname())
    inlet = n1.create_inlet("127.0.0.1:0", to=udp_route(counters(n2), "/service/outlet"))
    data = bytes((i * 131 + (i >> 9)) % 251 for i in range(8 << 20))
    got = bytearray()
    with socket.create_connection(("127.0.0.1", inlet.port), timeout=30) as c:
        reader = threading.Thread(target=lambda: _read_all(c, got, len(data)), daemon=True)
        reader.start()
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        reader.join(60)
    assert len(got) == len(data) and bytes(got) == data
    assert counters(n1).datagrams_out > len(data) // MAX_PAYLOAD
    assert counters(n2).dropped_incomplete == counters(n1).dropped_incomplete == 0


def _read_all(sock: socket.socket, into: bytearray, want: int) -> None:
    while len(into) < want:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return
        into += chunk


def test_a_route_naming_a_bind_sends_from_that_bind(make_node) -> None:
    """Resolution puts the first bind in front of a bare UDP hop; a route that
    names another bind's worker leaves from that bind, and the reply comes
    back to it."""
    n1, n2 = make_node("a"), make_node("b")
    second = n1.bind_udp("127.0.0.1:0")
    to = f"/worker/{second.worker}" + udp_route(counters(n2), "/service/uppercase")
    assert n1.message_send("hello", to=to) == "HELLO"
    first, again = n1.udp_binds()
    assert again.address == second.address
    assert (first.sent, first.received, again.sent, again.received) == (0, 0, 1, 1)


def test_a_flood_of_partial_messages_from_many_ports_stays_bounded(make_node) -> None:
    """300 source ports each start 4 messages and never finish them: the
    node keeps at most 64 partial messages in all (docs/udp.md), drops the
    rest as incomplete, and a good peer is served all along."""
    good, node = make_node("good"), make_node("target")
    target = ("127.0.0.1", counters(node).port)
    socks = [raw_socket() for _ in range(300)]
    try:
        for i, s in enumerate(socks):
            for rn in range(4):
                s.sendto(datagram(rn, 0, False, b"p" * 400), target)
            if i % 100 == 50:  # in the middle of it, someone real
                assert good.message_send("hello", udp_route(counters(node), "/service/uppercase")) == "HELLO"
        assert wait_for(lambda: counters(node).datagrams_in >= 1200 + 2)
        c = counters(node)
        assert c.dropped_incomplete >= 1200 - 64, c
        assert c.dropped_malformed == 0 and c.received >= 3
        payload = bytes(range(256)) * 40
        assert good.message_send(payload, udp_route(counters(node), "/service/echo"), raw=True) == payload
    finally:
        for s in socks:
            s.close()


def test_the_send_pace_is_a_limit(make_node) -> None:
    """udp_datagrams_per_ms bounds how fast a bind sends: at 1 per ms an echo of
    more than 60 datagrams each way cannot come back in less than 120 ms (a
    lower bound: a loaded machine only makes it slower), and it arrives whole."""
    n1, n2 = make_node("slow"), make_node("echo")
    for n in (n1, n2):
        n.set_limits(udp_datagrams_per_ms=1)
    payload = bytes(range(256)) * 120  # 30 720 bytes: over 60 datagrams of 493
    start = time.monotonic()
    assert n1.message_send(payload, udp_route(counters(n2), "/service/echo"), raw=True, timeout=10) == payload
    assert time.monotonic() - start >= 0.120
    assert counters(n1).datagrams_out > 60 and counters(n2).datagrams_out > 60
