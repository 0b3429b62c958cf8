"""Regressions of the core: each test here failed before the fix it names.

Peers are real sockets: a raw Ockam client written from the spec (``wire_spec``)
and plain TCP servers; the node under test is ours, built by the ``ockam_node``
fixture of ``ockam_py.testing``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import List, Tuple

import pytest

from ockam_py import Node
from wire_spec import (
    ABSENT,
    bare_string,
    cbor_array_head,
    cbor_bytes,
    cbor_head,
    check_echo,
    decode_message,
    encode_route,
    frame,
    local,
    message_frame,
    assert_quiet,
    exchange_preambles,
    open_conn,
    read_frame,
)


class SilentServer:
    """A TCP server on loopback whose one client connection is read only when told to."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.conn: "socket.socket | None" = None
        self.reading = threading.Event()
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.sock.accept()
        self.conn = conn
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.accepted.set()
        self.reading.wait()
        conn.settimeout(10.0)
        try:
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                self.received += len(chunk)
        except OSError:
            return

    def close(self) -> None:
        # shut down, let the thread return, then close: a close under a blocked call races
        self.reading.set()
        for s in (self.sock, self.conn):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(5.0)
        self.sock.close()
        if self.conn is not None:
            self.conn.close()


def portal_to_outlet(sock: socket.socket, outlet: str = "outlet") -> bytes:
    """Plays a Rust inlet (spec 6.3): Ping without capabilities, returns the outlet portal's address."""
    sock.sendall(message_frame([local(outlet)], [local("in")], b"\x00"))
    pong = decode_message(read_frame(sock)[4:])
    assert pong.payload == b"\x01", pong
    return pong.ret[-1][1]


def test_held_connection_keeps_a_partial_frame_past_frame_timeout(ockam_node) -> None:
    """A connection held for back-pressure (its portal's client does not read) must not be
    closed by the frame timer: the node stopped reading, not the peer.

    A raw Rust-like inlet (no credit window) pushes 16 MiB in 8 KiB Payloads at an outlet
    whose target reads nothing for 2 s, with frame_timeout_ms at 300 ms: the node holds the
    connection with part of a frame buffered. Once the target reads, every byte arrives and
    the connection still answers echo.
    """
    node: Node = ockam_node("held", listen=True)
    node.set_limits(frame_timeout_ms=300)
    target = SilentServer()
    try:
        node.create_outlet(f"127.0.0.1:{target.port}")
        sock = open_conn(("127.0.0.1", node.tcp_listener.port))
        worker = portal_to_outlet(sock)
        assert target.accepted.wait(5.0)
        chunk = b"x" * 8192
        payload = b"\x03" + bare_string(chunk)  # Payload: 03, uleb128 length, data (spec 6.1)
        one = message_frame([(0, worker)], [local("in")], payload)
        total = 16 * 1024 * 1024
        frames = total // len(chunk)
        errors: List[BaseException] = []

        def push() -> None:
            try:
                sock.settimeout(30.0)
                for _ in range(frames):
                    sock.sendall(one)
            except BaseException as e:  # reported by the assertions below
                errors.append(e)

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        time.sleep(2.0)  # the target reads nothing: the node holds our connection meanwhile
        target.reading.set()
        pusher.join(30.0)
        assert not pusher.is_alive(), "the node stopped reading for good"
        assert not errors, f"the node closed the held connection: {errors[0]!r}"
        deadline = time.monotonic() + 20.0
        while target.received < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.received == total
        sock.settimeout(5.0)
        check_echo(sock, "still open")
        sock.close()
    finally:
        target.close()



def _register_relay(sock: socket.socket, name: str) -> None:
    """Registers relay ``name`` over this raw connection (spec 5.2) and reads the reply."""
    sock.sendall(message_frame([local("forwarding_service")], [local("client")], bare_string(name)))
    reply = decode_message(read_frame(sock)[4:])
    assert reply.onward == [local("client")], reply


def _frame_with_tracing(onward: List[Tuple[int, bytes]], payload: bytes, tracing: bytes) -> bytes:
    """A TcpTransportMessage whose tracing field is the text string of these raw bytes."""
    body = (
        cbor_array_head(4)
        + encode_route(onward)
        + encode_route([local("sender")])
        + cbor_bytes(payload)
        + cbor_head(3, len(tracing))
        + tracing
    )
    return frame(body)


@pytest.mark.parametrize(
    "tracing, forwarded",
    [(b'{"trace":"ok"}', '{"trace":"ok"}'), (b"\xff\xfe not UTF-8", ABSENT)],
    ids=["utf8-kept", "invalid-dropped"],
)
def test_tracing_field_that_is_not_utf8_is_not_forwarded(ockam_node, tracing: bytes, forwarded) -> None:
    """A frame relayed to another connection keeps a UTF-8 tracing field and loses one that
    is not UTF-8 (a Rust node drops the whole connection over it); the payload goes on."""
    node: Node = ockam_node("tracing", listen=True)
    addr = ("127.0.0.1", node.tcp_listener.port)
    b = open_conn(addr)
    a = open_conn(addr)
    try:
        _register_relay(b, "b")
        a.sendall(_frame_with_tracing([local("forward_to_b"), local("app")], b"hello", tracing))
        raw = read_frame(b)
        msg = decode_message(raw[4:])  # a strict decoder: invalid UTF-8 would raise here
        assert msg.onward == [local("app")] and msg.payload == b"hello", msg
        assert msg.tracing == forwarded
        check_echo(a, "a still open")
        check_echo(b, "b still open")
    finally:
        a.close()
        b.close()


def _loop_thread_blocked_signals() -> int:
    """The signal mask of this process's loop thread (named ockam_py-loop), from /proc."""
    import os

    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() != "ockam_py-loop":
                    continue
            with open(f"/proc/self/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("SigBlk:"):
                        return int(line.split()[1], 16)
        except FileNotFoundError:
            continue
    raise AssertionError("no thread named ockam_py-loop in this process")


def test_loop_thread_takes_no_signal(ockam_node) -> None:
    """Signals are the embedder's: the loop thread blocks them all (SIGINT, SIGTERM, SIGCHLD,
    SIGPIPE...), so Ctrl-C always reaches Python's main thread and never interrupts the loop."""
    import signal

    ockam_node("sig")
    mask = _loop_thread_blocked_signals()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGALRM, signal.SIGUSR1):
        assert mask & (1 << (sig - 1)), f"{sig.name} is not blocked on the loop thread (SigBlk {mask:x})"


def test_route_with_a_bad_tcp_address_fails_at_once(ockam_node) -> None:
    """A TCP hop that cannot even be dialled (``1#foo``: no port) fails the send with a
    RouteError naming it, instead of queueing the message on a dead connection until the
    caller's whole timeout has passed."""
    from ockam_py import RouteError

    node: Node = ockam_node("badhop")
    with pytest.raises(RouteError, match="'foo'"):
        node.message_send("hi", to="1#foo => 0#echo", timeout=60.0)
    # and the node is fine: a good route still works
    assert node.message_send("hi", to="/service/uppercase") == "HI"


def _push_in_background(sock: socket.socket, frames: List[bytes]) -> Tuple[threading.Thread, List[int]]:
    """Sends frames from a thread; sent[0] counts the bytes handed to the kernel so far."""
    sent = [0]

    def run() -> None:
        sock.settimeout(60.0)
        for f in frames:
            sock.sendall(f)
            sent[0] += len(f)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, sent


def test_python_worker_flood_loses_no_message_and_no_completion(ockam_node) -> None:
    """30 000 messages for a Python worker whose handler is stuck, then an asyncio call:
    once the handler runs again every message arrives, in order, and the asyncio call
    completes. (The event queue used to cap everything at 20 000 events, dropping messages
    and completions alike, so awaiting futures never resolved.)"""
    import asyncio

    import ockam_py

    node: Node = ockam_node("flood", listen=True)
    release = threading.Event()
    got: List[bytes] = []

    def handler(msg) -> None:
        release.wait(60.0)
        got.append(msg.payload)

    node.start_worker("slow", handler)
    sock = open_conn(("127.0.0.1", node.tcp_listener.port))
    count = 30000
    frames = [message_frame([local("slow")], [local("x")], b"%08d" % i) for i in range(count)]
    pusher, _ = _push_in_background(sock, frames)
    pusher.join(60.0)
    assert not pusher.is_alive()
    time.sleep(0.5)  # the node reads what the kernel holds: the queue is now past 20 000

    result: List[object] = []

    def call_async() -> None:
        result.append(asyncio.run(asyncio.wait_for(node.amessage_send("ok", to="/service/uppercase"), 60.0)))

    caller = threading.Thread(target=call_async, daemon=True)
    caller.start()
    time.sleep(0.2)
    release.set()
    caller.join(60.0)
    assert result == ["OK"]
    deadline = time.monotonic() + 60.0
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got == [b"%08d" % i for i in range(count)]
    assert ockam_py.dropped_events()["messages"] == 0
    sock.close()


def test_python_worker_behind_pauses_its_tcp_sender(ockam_node) -> None:
    """While a Python worker's handler is stuck, its sender over TCP is paused once about
    16 MiB wait for Python (instead of the node reading without bound); when the handler
    runs again the sender resumes and all 96 MiB arrive, in order."""
    node: Node = ockam_node("pause", listen=True)
    release = threading.Event()
    got: List[int] = []

    def handler(msg) -> None:
        release.wait(60.0)
        got.append(int(msg.payload[:8]))

    node.start_worker("slow", handler)
    sock = open_conn(("127.0.0.1", node.tcp_listener.port))
    size, count = 64 * 1024, 1536
    frames = [message_frame([local("slow")], [local("x")], b"%08d" % i + b"z" * (size - 8)) for i in range(count)]
    pusher, sent = _push_in_background(sock, frames)
    last = -1
    while sent[0] != last:  # until the sender stalls
        last = sent[0]
        time.sleep(1.0)
    assert pusher.is_alive(), "the node read all 96 MiB while Python was stuck"
    assert sent[0] < 48 * 1024 * 1024, f"{sent[0]} bytes taken while Python was stuck"
    release.set()
    pusher.join(60.0)
    assert not pusher.is_alive()
    deadline = time.monotonic() + 60.0
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got == list(range(count))
    sock.settimeout(5.0)
    check_echo(sock, "still open")
    sock.close()


def test_relay_joins_two_connections_only_while_it_lives(ockam_node) -> None:
    """A relay lets the connection a message came in on and the registrant's connection reach
    each other (replies, then a portal's data); when the relay moves to another connection the
    old one can no longer push frames into the sender's connection. (A connection a relay was
    ever registered over used to be open to every other connection forever.)"""
    node: Node = ockam_node("joins", listen=True)
    addr = ("127.0.0.1", node.tcp_listener.port)
    b, a = open_conn(addr), open_conn(addr)
    try:
        _register_relay(b, "b")
        a.sendall(message_frame([local("forward_to_b"), local("app")], [local("a")], b"ping"))
        msg = decode_message(read_frame(b)[4:])
        assert msg.payload == b"ping" and msg.ret[-1] == local("a"), msg
        a_conn = msg.ret[0]  # the node's sender worker of a's connection
        # the joined pair works both ways: b answers straight into a's connection
        b.sendall(message_frame([a_conn, local("a")], [local("b")], b"pong"))
        reply = decode_message(read_frame(a)[4:])
        assert reply.payload == b"pong" and reply.onward == [local("a")], reply
        # the relay moves to another connection: the old one may no longer reach a's
        b2 = open_conn(addr)
        _register_relay(b2, "b")
        b.sendall(message_frame([a_conn, local("a")], [local("b")], b"not any more"))
        assert_quiet(a, wait=1.0)
        check_echo(a, "a still open")
        check_echo(b, "b still open")
        b2.close()
    finally:
        a.close()
        b.close()


def test_relay_service_takes_registrations_from_the_listener_only(ockam_node) -> None:
    """As Ockam's (spec 7), the relay service consumes what the node's listener accepted: a
    peer the node dialled out to cannot register a relay here."""
    node: Node = ockam_node("regs", listen=True)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        node.connect_tcp(f"127.0.0.1:{server.getsockname()[1]}")
        peer, _ = server.accept()
        peer.settimeout(5.0)
        exchange_preambles(peer)
        peer.sendall(message_frame([local("forwarding_service")], [local("client")], bare_string("sneaky")))
        assert_quiet(peer, wait=1.0)
        assert node.relay_service_entries() == []
        peer.close()
    finally:
        server.close()


def test_forked_child_does_not_hold_the_parents_sockets(ockam_node) -> None:
    """A child forked while a node listens and holds a connection closes the parent's
    descriptors: once the parent closes its node the port is free and the peer sees EOF,
    whatever the child does. The child can still make nodes of its own."""
    import os

    node: Node = ockam_node("forker", listen=True)
    port = node.tcp_listener.port
    peer = open_conn(("127.0.0.1", port))
    check_echo(peer, "before fork")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a node of its own works, then it lingers
        code = 1
        try:
            os.close(r)
            with Node("child-of-forker") as child:
                ok = child.message_send("hi", to="/service/uppercase") == "HI"
            os.write(w, b"1" if ok else b"0")
            time.sleep(5.0)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        assert os.read(r, 1) == b"1", "the child could not use a node of its own"
        node.close()
        peer.settimeout(5.0)
        assert peer.recv(1) == b"", "the peer's connection stayed open in the child"
        probe = socket.socket()
        try:
            with pytest.raises(ConnectionRefusedError):
                probe.connect(("127.0.0.1", port))
        finally:
            probe.close()
    finally:
        os.close(r)
        peer.close()
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_relay_pauses_a_fast_sender_for_a_slow_registrant(ockam_node) -> None:
    """96 MiB through a relay to a registrant that reads nothing for 2 s: the relay node holds
    the sender's connection (about 4 MiB queued) instead of closing the registrant's at
    max_write_queue; once it reads, every byte arrives, in order, and both stay open."""
    node: Node = ockam_node("slowpeer", listen=True)
    node.set_limits(max_write_queue=16 * 1024 * 1024)
    addr = ("127.0.0.1", node.tcp_listener.port)
    b, a = open_conn(addr), open_conn(addr)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    try:
        _register_relay(b, "slow")
        size, count = 64 * 1024, 1536
        frames = [
            message_frame([local("forward_to_slow"), local("app")], [local("a")], b"%08d" % i + b"y" * (size - 8))
            for i in range(count)
        ]
        pusher, sent = _push_in_background(a, frames)
        time.sleep(2.0)
        assert pusher.is_alive(), "the relay node took all 96 MiB while the registrant read nothing"
        assert sent[0] < 48 * 1024 * 1024
        b.settimeout(30.0)
        for i in range(count):
            msg = decode_message(read_frame(b)[4:])
            assert int(msg.payload[:8]) == i
        pusher.join(30.0)
        assert not pusher.is_alive()
        a.settimeout(5.0)
        check_echo(a, "a still open")
        check_echo(b, "b still open")
    finally:
        a.close()
        b.close()


def test_relay_closes_a_registrant_that_never_reads_and_resumes_the_sender(ockam_node) -> None:
    """A registrant that reads nothing at all for frame_timeout_ms is closed (its relay goes
    with it), and the sender that was paused for it is released and stays open."""
    node: Node = ockam_node("deadpeer", listen=True)
    node.set_limits(frame_timeout_ms=1500)
    addr = ("127.0.0.1", node.tcp_listener.port)
    b, a = open_conn(addr), open_conn(addr)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    try:
        _register_relay(b, "dead")
        chunk = b"z" * (64 * 1024)
        frames = [message_frame([local("forward_to_dead"), local("app")], [local("a")], chunk)] * 512
        pusher, _ = _push_in_background(a, frames)
        pusher.join(30.0)
        assert not pusher.is_alive(), "the sender was never released"
        deadline = time.monotonic() + 10.0
        while node.relay_service_entries() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert node.relay_service_entries() == []
        a.settimeout(5.0)
        check_echo(a, "a still open")
    finally:
        a.close()
        b.close()
