"""Tests of relays: Node.create_relay / Relay (the client side) and the relay service of every node.

Contract: ockam_py/node.py (create_relay, relays, relay_service_entries, close_connection),
ockam_py/relay.py (Relay), examples/relay.py, and /work/shared/spec/ockam-wire.md
sections 2.2, 2.5, 3, 4 and 5. Real sockets on 127.0.0.1, real child interpreters
(sys.executable) for relay nodes that get killed or stopped, no mocks.

The raw-socket client in section 2 is written from the spec alone: its CBOR encoder and
strict decoder are those of tests/wire_spec.py, which imports nothing from the project.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from typing import Callable, Iterator, List, Optional, Tuple, Union

import pytest

from ockam_py import Node, Relay, RelayEntry
from ockam_py.testing import free_port
from wire_spec import (
    WireMessage,
    assert_quiet,
    assert_reply,
    bare_string,
    check_echo,
    local,
    message_frame,
    open_conn,
    read_frame,
    read_message,
)

HEX32 = re.compile(r"^[0-9a-f]{32}$")
CHILD_START_TIMEOUT = 10.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"




def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def entry_names(node: Node) -> List[str]:
    return [e.address for e in node.relay_service_entries()]


# --------------------------------------------------------------------------------------------
# Relay registration on the raw wire (spec 5.2, 5.3), on top of tests/wire_spec.py
# --------------------------------------------------------------------------------------------


def registration_frame(name: Union[str, bytes], main_remote: str, service: str = "static_forwarding_service",
                       payload: Optional[bytes] = None) -> bytes:
    """Spec 5.2: onward [0#static_forwarding_service], return [0#<main_remote>], payload BARE name."""
    body = bare_string(name) if payload is None else payload
    return message_frame([local(service)], [local(main_remote)], body)


def register(sock: socket.socket, name: str, main_remote: Optional[str] = None) -> Tuple[str, WireMessage]:
    """Registers `name` and checks the reply of spec 5.3; returns (main_remote, reply)."""
    main_remote = main_remote or uuid.uuid4().hex
    sock.sendall(registration_frame(name, main_remote))
    relay = f"forward_to_{name}"
    reply = assert_reply(read_frame(sock), [local(main_remote)], [local(relay)], bare_string(relay))
    return main_remote, reply


def conn_worker_of(node: Node, sock: socket.socket) -> str:
    """The node's connection worker (32 hex) for a raw socket of ours, found by its peer port."""
    port = sock.getsockname()[1]
    for conn in node.connections():
        if conn.peer.rsplit(":", 1)[-1] == str(port):
            return conn.worker
    raise AssertionError(f"node {node.name} has no connection from port {port}: {node.connections()}")


# --------------------------------------------------------------------------------------------
# Fixtures: in-process nodes and child-process relay nodes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def make_node() -> Iterator[Callable[..., Node]]:
    """make_node(prefix, listen=True) -> an open Node with a unique name, closed at teardown."""
    nodes: List[Node] = []

    def make(prefix: str = "n", listen: bool = True) -> Node:
        node = Node(unique(prefix), tcp_listener_address="127.0.0.1:0" if listen else None)
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        for relay in node.relays():
            relay.close()
        node.close()


CHILD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from ockam_py import Node
    node = Node(sys.argv[1], tcp_listener_address=sys.argv[2])
    print("READY", node.tcp_listener.address, flush=True)
    while True:
        time.sleep(3600)
    """
)


class RelayNodeProcess:
    """A relay node in a child interpreter; `ready_at` is when its READY line was read."""

    def __init__(self, address: str, log_dir: str) -> None:
        self.name = unique("relaynode")
        self.log_path = os.path.join(log_dir, f"{self.name}.stderr")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD_SCRIPT, self.name, address],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
        )
        self.address, self.ready_at = self._wait_ready()
        self.port = int(self.address.rsplit(":", 1)[1])

    def _wait_ready(self) -> Tuple[str, float]:
        deadline = time.monotonic() + CHILD_START_TIMEOUT
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.kill()
                with open(self.log_path, "rb") as f:
                    err = f.read()[-2000:].decode("utf-8", "replace")
                raise AssertionError(f"relay node child did not get ready (rc={self.proc.returncode}): {err}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buf += chunk
        at = time.monotonic()
        line = buf.split(b"\n", 1)[0].decode()
        assert line.startswith("READY "), line
        return line.split()[1], at

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture
def relay_node_process(tmp_path) -> Iterator[Callable[[str], RelayNodeProcess]]:
    """spawn(address) -> a RelayNodeProcess listening at address; all are killed at teardown."""
    children: List[RelayNodeProcess] = []

    def spawn(address: str) -> RelayNodeProcess:
        child = RelayNodeProcess(address, str(tmp_path))
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.kill()


class StatusLog:
    """Collects on_status callbacks; wait(status) blocks until that status has been seen."""

    def __init__(self) -> None:
        self.seen: List[str] = []
        self._cond = threading.Condition()

    def __call__(self, relay: Relay, status: str) -> None:
        with self._cond:
            self.seen.append(status)
            self._cond.notify_all()

    def wait(self, status: str, timeout: float, after: int = 0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while status not in self.seen[after:]:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def wait_status(relay: Relay, status: str, timeout: float) -> Optional[float]:
    """Seconds until relay.status == status, or None if it was not within timeout."""
    start = time.monotonic()
    if wait_for(lambda: relay.status == status, timeout, step=0.01):
        return time.monotonic() - start
    return None


# --------------------------------------------------------------------------------------------
# 1. The walkthrough (examples/relay.py, spec 5.4)
# --------------------------------------------------------------------------------------------


def test_walkthrough_n1_reaches_n3_through_relay_on_n2(make_node):
    """n3 without a listener registers a relay at n2; n1 reaches n3's uppercase and hop/echo through forward_to_<name>."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    n1 = make_node("n1", listen=False)
    assert n3.tcp_listener is None
    n3.start_service("hop")
    name = unique("n3")
    relay = n3.create_relay(name, at=n2.tcp_listener.address)

    assert relay.status == "up"
    assert relay.name == name
    assert relay.remote_address == f"forward_to_{name}"
    assert relay.route == f"/service/forward_to_{name}"
    assert relay.attempts == 1
    assert relay in n3.relays()
    entries = n2.relay_service_entries()
    assert f"forward_to_{name}" in [e.address for e in entries], entries
    entry = next(e for e in entries if e.address == f"forward_to_{name}")
    assert isinstance(entry, RelayEntry) and entry.name == name
    # the stored route is the relay node's connection from n3 (spec 5.3 step 4)
    m = re.fullmatch(r"0#([0-9a-f]{32})", entry.route)
    assert m, f"stored route {entry.route!r} is not one 0#<32 hex> connection address"
    assert m.group(1) in [c.worker for c in n2.connections()], (entry.route, n2.connections())

    c12 = n1.connect_tcp(n2.tcp_listener.address)
    assert n1.message_send("hello", to=f"{c12.address}/service/forward_to_{name}/service/uppercase") == "HELLO"
    payload = f"through hop {uuid.uuid4().hex}"
    assert n1.message_send(payload, to=f"{c12.address}/service/forward_to_{name}/service/hop/service/echo") == payload
    assert n1.message_send(b"\x00\xffbin", to=f"{c12.address}{relay.route}/service/echo") == b"\x00\xffbin"


def test_example_relay_script_prints_hello():
    """examples/relay.py, run as a user would, prints HELLO and exits 0."""
    example = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "relay.py")
    done = subprocess.run([sys.executable, example], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "HELLO", (done.stdout, done.stderr[-2000:])


# --------------------------------------------------------------------------------------------
# 2. A raw socket client written from the spec alone (spec 5.2-5.5)
# --------------------------------------------------------------------------------------------


def test_spec_5_2_registration_frame_is_reproduced_by_own_encoder():
    """The helpers of this file produce the spec's 5.2 example frame for "n3" (if this fails, the test file is wrong)."""
    spec = (
        bytes.fromhex("00 00 00 48 83 81 82 00 58 19")
        + b"static_forwarding_service"
        + bytes.fromhex("81 82 00 58 20")
        + b"0123456789abcdef0123456789abcdef"
        + bytes.fromhex("43 02 6e 33")
    )
    assert registration_frame("n3", "0123456789abcdef0123456789abcdef") == spec
    assert bare_string("forward_to_n3") == b"\x0dforward_to_n3"


def test_raw_registration_reply_and_forwarding_to_latest_registration(make_node):
    """Raw spec client: 5.2 frame gets the 5.3 reply; a re-registration from a second socket takes over forwarding (5.4, 5.5)."""
    n2 = make_node("n2")
    host, port = n2.tcp_listener.address.rsplit(":", 1)
    addr = (host, int(port))
    n1 = make_node("n1", listen=False)
    with open_conn(addr) as first, open_conn(addr) as second:
        # the literal spec 5.2 bytes for "n3" from main_remote 0123...cdef, and the 5.3 reply
        main = "0123456789abcdef0123456789abcdef"
        first.sendall(
            bytes.fromhex("00 00 00 48 83 81 82 00 58 19") + b"static_forwarding_service"
            + bytes.fromhex("81 82 00 58 20") + main.encode() + bytes.fromhex("43 02 6e 33")
        )
        assert_reply(read_frame(first), [local(main)], [local("forward_to_n3")], b"\x0dforward_to_n3")

        main1, _ = register(first, "rawbar")
        first_conn = conn_worker_of(n2, first)
        entries = {e.address: e.route for e in n2.relay_service_entries()}
        assert entries.get("forward_to_rawbar") == f"0#{first_conn}", entries

        # the same name again, from a second socket: replace and answer again (5.5)
        main2, _ = register(second, "rawbar")
        second_conn = conn_worker_of(n2, second)
        entries = {e.address: e.route for e in n2.relay_service_entries()}
        assert entries.get("forward_to_rawbar") == f"0#{second_conn}", entries
        assert entry_names(n2).count("forward_to_rawbar") == 1

        # a third party sends to forward_to_rawbar/<something>: it arrives on the second socket only
        c12 = n1.connect_tcp(n2.tcp_listener.address)
        result: dict = {}

        def ask() -> None:
            try:
                result["reply"] = n1.message_send(
                    "via raw relay", to=f"{c12.address}/service/forward_to_rawbar/service/something", timeout=5
                )
            except Exception as e:  # reported below
                result["error"] = e

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        try:
            got = read_message(second)
        except BaseException:
            asker.join(timeout=10)
            raise
        others = set(c.worker for c in n2.connections()) - {first_conn, second_conn}
        assert len(others) == 1, f"n2 should have exactly one more connection (from n1): {n2.connections()}"
        n1_conn_on_n2 = others.pop()
        # 5.4: the relay popped itself and prepended the stored route (which n2's sender popped again);
        # it did not push itself on the return route; n2's receiver pushed n1's connection address.
        assert got.onward == [local("something")], got
        assert got.payload == bare_string("via raw relay"), got
        assert len(got.ret) == 2, f"return route {got.ret!r}: expected [n2's conn from n1, n1's requester]"
        assert got.ret[0] == local(n1_conn_on_n2), (got.ret, n1_conn_on_n2)
        assert got.ret[1][0] == 0 and HEX32.match(got.ret[1][1].decode()), got.ret
        assert local("forward_to_rawbar") not in got.ret, got.ret
        # answering along that return route reaches n1 (replies do not pass through the relay)
        second.sendall(message_frame(got.ret, [local("something")], got.payload))
        asker.join(timeout=10)
        assert result.get("reply") == "via raw relay", result
        assert_quiet(first)

        # "register" asks for a random name: forward_to_<32 hex>
        main3 = uuid.uuid4().hex
        second.sendall(registration_frame("register", main3))
        reply = read_message(second)
        assert reply.onward == [local(main3)], reply
        name = bytes(reply.payload[1:]).decode()
        assert reply.payload[0] == len(name) and re.fullmatch(r"forward_to_[0-9a-f]{32}", name), reply.payload
        assert reply.ret == [local(name)], reply
        assert name in entry_names(n2)
        assert "forward_to_register" not in entry_names(n2)

    # both sockets closed: every relay they registered goes away (nothing could reach it)
    assert wait_for(lambda: not any(a in entry_names(n2) for a in ("forward_to_rawbar", "forward_to_n3", name)), 2.0), \
        n2.relay_service_entries()


def test_relay_survives_close_of_the_superseded_connection(make_node):
    """After re-registration from socket B, closing socket A (the old registrant) keeps forward_to_<name> pointing at B."""
    n2 = make_node("n2")
    host, port = n2.tcp_listener.address.rsplit(":", 1)
    addr = (host, int(port))
    name = unique("raw")
    with open_conn(addr) as second:
        with open_conn(addr) as first:
            register(first, name)
            register(second, name)
        second_conn = conn_worker_of(n2, second)
        assert wait_for(lambda: len(n2.connections()) == 1, 2.0), n2.connections()  # n2 saw the first close
        entries = {e.address: e.route for e in n2.relay_service_entries()}
        assert entries.get(f"forward_to_{name}") == f"0#{second_conn}", entries
        # a message for the relay still arrives on the second socket
        with open_conn(addr) as third:
            third.sendall(message_frame([local(f"forward_to_{name}"), local("x")], [local("me")], b"\x02hi"))
            got = read_message(second)
            assert got.onward == [local("x")] and got.payload == b"\x02hi", got
            assert got.ret == [local(conn_worker_of(n2, third)), local("me")], got


# --------------------------------------------------------------------------------------------
# 3. Bad registrations and the per-connection limit
# --------------------------------------------------------------------------------------------

BAD_REGISTRATIONS = [
    pytest.param(b"\x09hi", id="not-bare-length-past-end"),
    pytest.param(b"", id="empty-payload"),
    pytest.param(b"\x00", id="empty-name"),
    pytest.param(bare_string(b"a" * 256), id="name-256-bytes"),
    pytest.param(bare_string(b"\xff\xfe"), id="invalid-utf8"),
    pytest.param(bare_string(b"ok\xed\xa0\x80"), id="utf8-surrogate"),
]


@pytest.mark.parametrize("payload", BAD_REGISTRATIONS)
def test_bad_registration_gets_no_reply_and_keeps_connection(make_node, payload):
    """A registration whose payload is not a valid name (spec 5.2: BARE UTF-8 String, 1..255 bytes) gets no reply, creates nothing, and the connection keeps working."""
    n2 = make_node("n2")
    host, port = n2.tcp_listener.address.rsplit(":", 1)
    before = n2.relay_service_entries()
    with open_conn((host, int(port))) as sock:
        for service in ("static_forwarding_service", "forwarding_service"):
            sock.sendall(registration_frame(b"", uuid.uuid4().hex, service=service, payload=payload))
            assert_quiet(sock)
            check_echo(sock, "still here")
        assert n2.relay_service_entries() == before
        register(sock, unique("good"))  # and a valid registration still works on it


def test_name_of_255_bytes_is_accepted(make_node):
    """The longest allowed name (255 bytes) registers and its reply carries forward_to_<255 bytes>."""
    n2 = make_node("n2")
    host, port = n2.tcp_listener.address.rsplit(":", 1)
    name = "b" * 255
    with open_conn((host, int(port))) as sock:
        register(sock, name)
        assert f"forward_to_{name}" in entry_names(n2)


def test_registration_flood_is_capped_per_connection(make_node):
    """100 distinct names over one connection create exactly 64 relays (the per-connection limit), one reply each; echo and other connections keep working."""
    n2 = make_node("n2")
    cap = n2.limits()["max_relays_per_connection"]
    assert cap == 64, cap  # the default the README states
    host, port = n2.tcp_listener.address.rsplit(":", 1)
    addr = (host, int(port))
    stem = uuid.uuid4().hex[:8]
    with open_conn(addr) as sock:
        main = uuid.uuid4().hex
        sock.sendall(b"".join(registration_frame(f"flood-{stem}-{i}", main) for i in range(100)))
        probe = bare_string("after the flood")
        sock.sendall(message_frame([local("echo")], [local("app")], probe))
        replies = 0
        while True:  # replies come in order, then the echo answer
            msg = read_message(sock)
            if msg.ret == [local("echo")]:
                assert msg.payload == probe
                break
            assert msg.onward == [local(main)] and msg.ret[0][1].startswith(f"forward_to_flood-{stem}-".encode()), msg
            replies += 1
        created = [a for a in entry_names(n2) if a.startswith(f"forward_to_flood-{stem}-")]
        print(f"\nflood of 100 registrations on one connection: {replies} replies, {len(created)} relays created")
        assert len(created) == cap, f"{len(created)} relays from 100 registrations on one connection, limit {cap}"
        assert replies == cap, f"{replies} replies to 100 registrations, {cap} accepted"
        check_echo(sock, "still answering")
        assert n2.message_send("alive", to="/service/uppercase") == "ALIVE"
        # the limit is per connection: another connection still registers
        with open_conn(addr) as other:
            register(other, unique("other"))
    assert wait_for(lambda: not any(a.startswith(f"forward_to_flood-{stem}-") for a in entry_names(n2)), 2.0)


# --------------------------------------------------------------------------------------------
# 4-6. Relay node restart, bounded retries, dead link without a TCP close (child processes)
# --------------------------------------------------------------------------------------------


def test_relay_comes_back_quickly_after_relay_node_restart(make_node, relay_node_process):
    """Relay node killed (SIGKILL) and restarted on the same port: the relay goes down, is up again within 5 s, and forwards."""
    port = free_port()
    child = relay_node_process(f"127.0.0.1:{port}")
    n3 = make_node("n3", listen=False)
    n1 = make_node("n1", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=f"127.0.0.1:{port}")
    route = f"/ip4/127.0.0.1/tcp/{port}/service/forward_to_{name}/service/uppercase"
    assert n1.message_send("hello", to=route) == "HELLO"

    child.kill()
    assert wait_status(relay, "down", 5.0) is not None, f"status {relay.status} after SIGKILL of the relay node"

    child2 = relay_node_process(f"127.0.0.1:{port}")
    up = relay.wait_up(10.0)
    elapsed = time.monotonic() - child2.ready_at
    print(f"\nrelay node restart -> relay up: {elapsed:.3f} s (attempts {relay.attempts})")
    assert up, f"relay not up 10 s after the relay node restarted (status {relay.status}, {relay.detail})"
    assert elapsed < 5.0, f"relay up {elapsed:.3f} s after the relay node was ready again, expected < 5 s"
    assert relay.attempts >= 2
    assert n1.message_send("again", to=route) == "AGAIN"


def test_retries_while_relay_node_is_down_are_bounded(make_node, relay_node_process):
    """With the relay node dead for 20 s the relay keeps retrying (>= 3 attempts) without a storm (<= 20), then comes back up."""
    port = free_port()
    child = relay_node_process(f"127.0.0.1:{port}")
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=f"127.0.0.1:{port}")
    child.kill()
    assert wait_status(relay, "down", 5.0) is not None
    start = relay.attempts
    time.sleep(20.0)
    during = relay.attempts - start
    print(f"\nattempts while the relay node was down for 20 s: {during}")
    assert 3 <= during <= 20, f"{during} attempts in 20 s of downtime, expected 3..20"
    assert relay.status in ("down", "connecting")

    relay_node_process(f"127.0.0.1:{port}")
    assert relay.wait_up(5.0), f"relay not up after the relay node came back: {relay.status} {relay.detail}"
    n1 = make_node("n1", listen=False)
    assert n1.message_send("x", to=f"/ip4/127.0.0.1/tcp/{port}{relay.route}/service/uppercase") == "X"


def test_dead_link_without_tcp_close_is_detected_by_pings(make_node, relay_node_process):
    """A relay node that stops answering (SIGSTOP, socket still open) is reported down within 6 s (1 s pings, 3 misses)."""
    child = relay_node_process("127.0.0.1:0")
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=child.address, ping_interval=1.0)
    time.sleep(1.5)  # a few pings answered: the link is healthy
    assert relay.status == "up"
    child.signal(signal.SIGSTOP)
    try:
        took = wait_status(relay, "down", 8.0)
        print(f"\nSIGSTOPped relay node detected after {took} s")
        assert took is not None, f"relay still {relay.status} 8 s after the relay node froze"
        assert took <= 6.0, f"dead link detected after {took:.2f} s, expected <= 6 s"
        assert "ping" in relay.detail, relay.detail
    finally:
        child.signal(signal.SIGCONT)
        child.kill()


# --------------------------------------------------------------------------------------------
# 7. close(), duplicate names, timeouts
# --------------------------------------------------------------------------------------------


def test_close_removes_relay_here_and_at_relay_node(make_node):
    """relay.close(): status "closed", gone from n3.relays(), and within 2 s gone from n2's entries; the name can be used again."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=n2.tcp_listener.address)
    assert f"forward_to_{name}" in entry_names(n2)
    relay.close()
    assert relay.status == "closed"
    assert relay not in n3.relays()
    assert not relay.wait_up(0.1)
    assert wait_for(lambda: f"forward_to_{name}" not in entry_names(n2), 2.0), n2.relay_service_entries()
    relay.close()  # twice is fine
    n1 = make_node("n1", listen=False)
    with pytest.raises(TimeoutError):
        n1.message_send("x", to=f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}{relay.route}/service/echo", timeout=1)
    again = n3.create_relay(name, at=n2.tcp_listener.address)
    assert again.status == "up" and again in n3.relays()


def test_duplicate_relay_name_raises_value_error(make_node):
    """A second create_relay with the same name on the same node raises ValueError and keeps the first relay."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=n2.tcp_listener.address)
    with pytest.raises(ValueError):
        n3.create_relay(name, at=n2.tcp_listener.address)
    assert relay.status == "up"
    assert n3.relays() == [relay]


def test_duplicate_relay_name_attempt_keeps_status_reporting_of_first(make_node):
    """After a refused duplicate create_relay, the first relay still reports status changes (down, then up again)."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=n2.tcp_listener.address)
    log = StatusLog()
    relay.on_status(log)
    with pytest.raises(ValueError):
        n3.create_relay(name, at=n2.tcp_listener.address)
    # the relay node drops the relay's connection: the relay must go down and come back up
    for conn in n2.connections():
        n2.close_connection(conn)
    assert wait_for(lambda: relay.attempts >= 2 and f"forward_to_{name}" in entry_names(n2), 5.0)
    assert log.wait("down", 2.0), f"on_status saw {log.seen}, relay.status={relay.status}, up_count={relay.up_count}"
    # up_count is counted when the status event reaches Python, after the relay node already lists the entry
    assert wait_for(lambda: relay.up_count >= 2, 5.0), f"up_count {relay.up_count} (attempts {relay.attempts})"
    assert relay.up_count == 2, f"up_count {relay.up_count} after one reconnect (attempts {relay.attempts})"


def test_create_relay_where_nothing_listens_times_out(make_node):
    """create_relay at a port with no listener and timeout=1.5 raises TimeoutError after about 1.5 s, and leaves no relay behind."""
    n3 = make_node("n3", listen=False)
    name = unique("n3")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        n3.create_relay(name, at=f"127.0.0.1:{free_port()}", timeout=1.5)
    elapsed = time.monotonic() - start
    assert 1.4 <= elapsed <= 4.0, f"TimeoutError after {elapsed:.2f} s for timeout=1.5"
    assert n3.relays() == []


def test_relay_reconnects_when_relay_node_closes_its_connection(make_node):
    """n2.close_connection on the relay's connection: the relay re-registers by itself and forwarding works again."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    n1 = make_node("n1", listen=False)
    name = unique("n3")
    relay = n3.create_relay(name, at=n2.tcp_listener.address)
    entry = next(e for e in n2.relay_service_entries() if e.name == name)
    n2.close_connection(entry.route.split("#", 1)[1])
    assert wait_for(lambda: relay.attempts >= 2 and relay.status == "up", 5.0), (relay.status, relay.attempts)
    assert wait_for(lambda: f"forward_to_{name}" in entry_names(n2), 2.0)
    new_entry = next(e for e in n2.relay_service_entries() if e.name == name)
    assert new_entry.route != entry.route
    c12 = n1.connect_tcp(n2.tcp_listener.address)
    assert n1.message_send("back", to=f"{c12.address}{relay.route}/service/uppercase") == "BACK"


# --------------------------------------------------------------------------------------------
# 8. on_status callbacks
# --------------------------------------------------------------------------------------------


def test_on_status_reports_up_then_down_when_relay_node_closes(make_node):
    """on_status callbacks get "up" when registered and "down" after the relay node closes."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    log = StatusLog()
    relay = n3.create_relay(unique("n3"), at=n2.tcp_listener.address, wait=False, on_status=log)
    assert relay.wait_up(5.0)
    assert log.wait("up", 2.0), log.seen
    up_at = log.seen.index("up")
    n2.close()
    assert log.wait("down", 3.0, after=up_at + 1), f"callbacks saw {log.seen}"
    assert relay.status in ("down", "connecting")
    assert all(s in ("connecting", "up", "down", "closed") for s in log.seen), log.seen


def test_on_status_reports_closed_on_close(make_node):
    """relay.close() is a status change too: its on_status callback gets "closed", even while a Python worker of the node is busy."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    relay = n3.create_relay(unique("c"), at=n2.tcp_listener.address)
    log = StatusLog()
    relay.on_status(log)
    busy, release = threading.Event(), threading.Event()

    def slow(msg) -> None:
        busy.set()
        release.wait(5)

    n3.start_worker("slow", slow)
    n3.send("/service/slow", b"work")
    assert busy.wait(5), "the worker never ran"
    try:
        relay.close()
    finally:
        release.set()
    assert relay.status == "closed"
    assert log.wait("closed", 2.0), f"on_status saw {log.seen} after close()"


def test_a_relay_made_again_under_its_name_never_hears_the_closed_ones_events(make_node):
    """close() then create_relay() with the same name while the dispatcher is busy: the old
    relay's late "closed" event must not close the new one (it comes up, and stays up)."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    name = unique("again")
    gate = threading.Event()
    n3.start_worker("busy", lambda m: gate.wait(5))  # holds the dispatcher thread
    for _ in range(3):
        first = n3.create_relay(name, at=n2.tcp_listener.address)
        n3.send("/service/busy", b"hold")
        first.close()  # its "closed" event waits behind the busy handler
        second = n3.create_relay(name, at=n2.tcp_listener.address, wait=False)
        gate.set()  # the dispatcher goes on: old "closed", then the new relay's events
        assert second.wait_up(10), f"the new relay is {second.status} ({second.detail})"
        time.sleep(0.2)
        assert second.status == "up"
        second.close()
        gate.clear()
