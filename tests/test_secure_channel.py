"""Secure channels between nodes: Node.create_secure_channel, the listener every
node starts at ``api``, SecureChannel, Identity.

Contract: ockam_py/node.py, ockam_py/secure.py, docs/secure-channel.md (the wire
format, Ockam 0.139) and README "Secure channels". Real sockets on 127.0.0.1; the
relay test puts a recording TCP proxy in front of the relay node to check that the
payload never crosses it in the clear.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from typing import Callable, List, Optional, Tuple

import pytest

from ockam_py import Identity, Node, SecureChannel, _core

IDENT = re.compile(r"^I[0-9a-f]{64}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def api_route(node: Node) -> str:
    assert node.tcp_listener is not None
    host, port = node.tcp_listener.address.rsplit(":", 1)
    return f"/ip4/{host}/tcp/{port}/service/api"


def _close_after_threads(sockets: List[socket.socket], threads: List[threading.Thread]) -> None:
    """Shuts the sockets down (which wakes threads blocked in accept or recv), lets the
    threads return, then closes: closing under a blocked call is a race."""
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    for t in list(threads):
        t.join(5.0)
    for s in sockets:
        s.close()


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``target`` that records every byte
    in both directions and can flip the last byte of the next client chunk."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.recorded = bytearray()
        self.flip_next = False
        self.flipped = 0
        self.lock = threading.Lock()
        self.sockets: List[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for args in ((client, upstream, True), (upstream, client, False)):
                t = threading.Thread(target=self._pump, args=args, daemon=True)
                self.threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        while True:
            try:
                data = bytearray(src.recv(65536))
            except OSError:
                data = bytearray()
            if not data:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            with self.lock:
                self.recorded += data
                if from_client and self.flip_next:
                    data[-1] ^= 0x01
                    self.flip_next = False
                    self.flipped += 1
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        _close_after_threads([self.server, *self.sockets], self.threads)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines():
    handler = Lines()
    logger = logging.getLogger("ockam_py")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_every_node_has_an_identity_and_an_api_listener() -> None:
    with Node(unique("id")) as n:
        assert IDENT.match(n.identifier)
        assert [listener.address for listener in n.secure_channel_listeners()] == ["api"]
        assert n.secure_channels() == []


def test_identity_kept_across_nodes_and_files(tmp_path) -> None:
    ident = Identity.create()
    path = tmp_path / "id.json"
    ident.save(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    again = Identity.from_file(path)
    assert again == ident and again.identifier == ident.identifier
    with Node(unique("keep"), identity=again) as n:
        assert n.identifier == ident.identifier
    assert ident.secret.hex() not in repr(ident)
    with pytest.raises(ValueError):
        Identity(Identity.create().secret, ident.change_history)  # another key


def test_message_through_a_channel_echo_and_uppercase() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        t0 = time.perf_counter()
        ch = n1.create_secure_channel(api_route(n2))
        elapsed = time.perf_counter() - t0
        assert isinstance(ch, SecureChannel)
        assert re.match(r"^/service/[0-9a-f]{32}$", ch.address)
        assert ch.their_identifier == n2.identifier
        assert n1.message_send("hello", to=f"{ch.address}/service/uppercase") == "HELLO"
        assert n1.message_send(b"\x00\x01raw", to=f"{ch.address}/service/echo", raw=True) == b"\x00\x01raw"
        assert "SecureChannel" in repr(ch) and n2.identifier in repr(ch)
        theirs = n2.secure_channels()
        assert len(theirs) == 1 and theirs[0].their_identifier == n1.identifier and not theirs[0].initiator
        assert theirs[0].listener == "api"
        assert [c.encryptor for c in n1.secure_channels()] == [ch.encryptor]
        assert elapsed < 1.0


def test_large_payloads_and_key_renewal() -> None:
    """Over 32 messages each way (the key renews every 32), and payloads of 1 MiB."""
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        with n1.create_secure_channel(api_route(n2)) as ch:
            for i in range(100):
                assert n1.message_send(f"m{i}", to=f"{ch.address}/service/uppercase") == f"M{i}"
            big = bytes(range(256)) * 4096
            assert n1.message_send(big, to=f"{ch.address}/service/echo", raw=True) == big


def test_channel_through_a_relay_never_shows_the_payload() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2, Node(
        unique("n3")
    ) as n3:
        assert n2.tcp_listener is not None
        proxy = Proxy(n2.tcp_listener.address)
        try:
            n3.create_relay("n3", at=proxy.address)
            host, port = proxy.address.split(":")
            relay_route = f"/ip4/{host}/tcp/{port}/service/forward_to_n3"
            ch = n1.create_secure_channel(f"{relay_route}/service/api")
            assert ch.their_identifier == n3.identifier
            secret = f"payload-{uuid.uuid4().hex}"
            assert n1.message_send(secret, to=f"{ch.address}/service/uppercase") == secret.upper()
            assert n1.message_send(secret.encode(), to=f"{ch.address}/service/echo", raw=True) == secret.encode()
            with proxy.lock:
                seen = bytes(proxy.recorded)
            assert secret.encode() not in seen and secret.upper().encode() not in seen
            assert n3.identifier.encode() not in seen  # identifiers do not travel; histories are encrypted
            # the recording works: the same message in the clear is there
            plain = f"plain-{uuid.uuid4().hex}"
            assert n1.message_send(plain, to=f"{relay_route}/service/uppercase") == plain.upper()
            with proxy.lock:
                assert plain.encode() in bytes(proxy.recorded)
        finally:
            proxy.close()


def test_unauthorized_identifiers_are_refused() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2, Node(
        unique("n3")
    ) as n3:
        stranger = Identity.create().identifier
        # the initiator refuses a listener that is not the one it expects
        with pytest.raises(PermissionError, match=n2.identifier):
            n1.create_secure_channel(api_route(n2), authorized=[stranger], timeout=3.0)
        with n1.create_secure_channel(api_route(n2), authorized=[n2.identifier]) as ok:
            assert ok.their_identifier == n2.identifier
        assert wait_for(lambda: n2.secure_channels() == [])
        # a listener that lets only n3 in. As in Noise XX (and Ockam), the
        # initiator is done once it sent message 3, before the responder checked
        # it: n1 gets a channel that n2 never opened, and no answer through it.
        n2.create_secure_channel_listener("api", authorized=[n3.identifier])
        refused = n1.create_secure_channel(api_route(n2), timeout=2.0)
        with pytest.raises(TimeoutError):
            n1.message_send("let me in", to=f"{refused.address}/service/echo", timeout=0.5)
        ch = n3.create_secure_channel(api_route(n2))
        assert n3.message_send("ok", to=f"{ch.address}/service/uppercase") == "OK"
        assert [c.their_identifier for c in n2.secure_channels()] == [n3.identifier]
        with pytest.raises(ValueError):
            n1.create_secure_channel(api_route(n2), authorized=[])


def test_a_flipped_byte_is_dropped_and_the_channel_lives_on(log_lines: List[str]) -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        assert n2.tcp_listener is not None
        proxy = Proxy(n2.tcp_listener.address)
        try:
            host, port = proxy.address.split(":")
            ch = n1.create_secure_channel(f"/ip4/{host}/tcp/{port}/service/api")
            assert n1.message_send("before", to=f"{ch.address}/service/uppercase") == "BEFORE"
            proxy.flip_next = True
            with pytest.raises(TimeoutError):
                n1.message_send("tampered", to=f"{ch.address}/service/uppercase", timeout=1.0)
            assert proxy.flipped == 1
            assert wait_for(lambda: any("message dropped" in line and "decrypt" in line.lower() or "AEAD" in line
                                        for line in log_lines))
            assert n1.message_send("after", to=f"{ch.address}/service/uppercase") == "AFTER"
            assert len(n2.secure_channels()) == 1
        finally:
            proxy.close()


def test_close_both_ways() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        # the initiator closes: the responder hears Close
        ch = n1.create_secure_channel(api_route(n2))
        assert wait_for(lambda: len(n2.secure_channels()) == 1)
        ch.close()
        ch.close()
        assert n1.secure_channels() == []
        assert wait_for(lambda: n2.secure_channels() == [])
        with pytest.raises(TimeoutError):
            n1.message_send("gone", to=f"{ch.address}/service/echo", timeout=0.5)
        # the responder closes: the initiator hears Close
        with n1.create_secure_channel(api_route(n2)) as ch2:
            assert wait_for(lambda: len(n2.secure_channels()) == 1)
            n2.secure_channels()[0].close()
            assert wait_for(lambda: n1.secure_channels() == [])
            with pytest.raises(TimeoutError):
                n1.message_send("gone", to=f"{ch2.address}/service/echo", timeout=0.5)
        # a node that closes closes its channels, and tells the peers
        n1.create_secure_channel(api_route(n2))
        assert wait_for(lambda: len(n2.secure_channels()) == 1)
        n1.close()
        assert wait_for(lambda: n2.secure_channels() == [])


def test_handshake_timeout_when_nobody_answers() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        assert n2.tcp_listener is not None
        host, port = n2.tcp_listener.address.split(":")
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            n1.create_secure_channel(f"/ip4/{host}/tcp/{port}/service/echo", timeout=0.5)  # echo is no listener
        assert time.monotonic() - t0 < 2.0
        assert n1.secure_channels() == []
        assert n1.message_send("still", to=f"/ip4/{host}/tcp/{port}/service/uppercase") == "STILL"


def test_async_create_secure_channel() -> None:
    import asyncio

    async def main(n1: Node, n2: Node) -> Optional[str]:
        ch = await n1.acreate_secure_channel(api_route(n2))
        return await n1.amessage_send("async", to=f"{ch.address}/service/uppercase")  # type: ignore[return-value]

    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        assert asyncio.run(main(n1, n2)) == "ASYNC"


def test_a_thousand_abandoned_handshakes_do_not_stop_the_listener() -> None:
    import os

    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        assert n2.tcp_listener is not None
        host, port = n2.tcp_listener.address.split(":")
        conn = n1.connect_tcp(n2.tcp_listener.address)
        for _ in range(1000):  # message 1 is an ephemeral key: 32 bytes, then nothing more
            n1.send(f"{conn.address}/service/api", os.urandom(32), return_route=["0#nowhere"])
        ch = n1.create_secure_channel(f"/ip4/{host}/tcp/{port}/service/api")
        assert n1.message_send("alive", to=f"{ch.address}/service/uppercase") == "ALIVE"
        assert [c.encryptor for c in n2.secure_channels() if c.their_identifier == n1.identifier]

        def in_handshake() -> int:
            return sum(" handshake " in line for line in _core.sc_list(n2.id).splitlines())

        assert in_handshake() == 1000
        # a responder waits 10 s for message 3, then it and everything it held are gone
        assert wait_for(lambda: in_handshake() == 0, 20.0), f"{in_handshake()} responders still in handshake"
        assert n1.message_send("still", to=f"{ch.address}/service/uppercase") == "STILL"


def test_secure_api_in_routes_opens_then_reuses_a_channel() -> None:
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        route = f"/node/{n2.name}/secure/api/service/uppercase"
        assert n1.message_send("one", to=route) == "ONE"
        assert n1.message_send("two", to=route) == "TWO"
        assert len(n1.secure_channels()) == 1 and n1.secure_channels()[0].their_identifier == n2.identifier
        n1.secure_channels()[0].close()
        assert n1.message_send("three", to=route) == "THREE"  # a closed channel is opened again
        assert len(n1.secure_channels()) == 1
        from ockam_py import RouteError

        with pytest.raises(RouteError):
            n1.message_send("x", to="/secure/api/service/echo")


class _TcpEchoServer:
    """A TCP echo server on 127.0.0.1: one thread accepts, one per client echoes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.clients: List[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def getsockname(self) -> Tuple[str, int]:
        return self.sock.getsockname()

    def _serve(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
            except OSError:
                return

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def close(self) -> None:
        _close_after_threads([self.sock, *self.clients], self.threads)


def _tcp_echo_server() -> _TcpEchoServer:
    return _TcpEchoServer()


def test_portal_through_a_secure_channel_via_a_relay() -> None:
    server = _tcp_echo_server()
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2, Node(
        unique("n3")
    ) as n3:
        assert n2.tcp_listener is not None
        proxy = Proxy(n2.tcp_listener.address)
        try:
            n3.create_relay("n3", at=proxy.address)
            n3.create_outlet(to=f"127.0.0.1:{server.getsockname()[1]}", address="outlet")
            host, port = proxy.address.split(":")
            inlet = n1.create_inlet(
                "127.0.0.1:0", to=f"/ip4/{host}/tcp/{port}/service/forward_to_n3/secure/api/service/outlet"
            )
            marker = f"portal-{uuid.uuid4().hex}".encode()
            data = marker + bytes(range(256)) * 4096 + marker
            with socket.create_connection(("127.0.0.1", inlet.port), timeout=10) as c:
                c.sendall(data)
                got = bytearray()
                while len(got) < len(data):
                    chunk = c.recv(65536)
                    assert chunk, "portal closed early"
                    got += chunk
            assert bytes(got) == data
            with proxy.lock:
                assert marker not in bytes(proxy.recorded)
            assert [c.their_identifier for c in n1.secure_channels()] == [n3.identifier]
        finally:
            proxy.close()
            server.close()
