"""Access control by identity: outlets that only the identities they allow may use,
through secure channels (Node.create_outlet(allow=...)).

Contract: ockam_py/node.py (create_outlet), README "Secure channels", docs/secure-channel.md.
Real sockets on 127.0.0.1: a TCP echo server behind the outlet, clients through inlets.
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import List, Optional

import pytest

from ockam_py import Identity, Node
from test_secure_channel import Lines, _TcpEchoServer, log_lines, unique, wait_for  # noqa: F401 (fixture)

IO_TIMEOUT = 10.0


def round_trip(port: int, data: bytes) -> Optional[bytes]:
    """Sends data through the inlet at port and reads as much back; None when the portal
    closed the client first (refused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as c:
        try:
            c.sendall(data)
            got = bytearray()
            while len(got) < len(data):
                chunk = c.recv(65536)
                if not chunk:
                    return None
                got += chunk
            return bytes(got)
        except (ConnectionResetError, BrokenPipeError):
            return None


def closed_within(port: int, seconds: float) -> bool:
    """A client of the inlet at port is closed by the portal within seconds, having received nothing."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as c:
        c.sendall(b"let me in")
        try:
            return c.recv(65536) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


@pytest.fixture
def echo_server():
    server = _TcpEchoServer()
    yield server
    server.close()


def test_outlet_serves_the_identity_it_allows_and_refuses_another(echo_server, log_lines: List[str]) -> None:
    """Through a relay, as in the walkthrough: n1 (allowed) gets its bytes back through
    /secure/api; n4 (another identity, same route) is closed at once, its bytes never reach
    the server, and the outlet node says who it refused."""
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2, Node(
        unique("n3")
    ) as n3, Node(unique("n4")) as n4:
        relay = unique("r")
        n3.create_relay(relay, at=n2.tcp_listener.address)
        outlet = n3.create_outlet(to=f"127.0.0.1:{echo_server.getsockname()[1]}", address="outlet",
                                  allow=[n1.identifier])
        assert outlet.allow == [n1.identifier] and "allows 1 identity" in repr(outlet)
        route = f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/service/forward_to_{relay}/secure/api/service/outlet"
        allowed = n1.create_inlet("127.0.0.1:0", to=route)
        stranger = n4.create_inlet("127.0.0.1:0", to=route)
        data = uuid.uuid4().bytes * 4096
        assert round_trip(allowed.port, data) == data
        before = len(echo_server.clients)
        assert closed_within(stranger.port, 5.0), "a portal from an identity not on the allow list was served"
        assert len(echo_server.clients) == before, "the refused portal reached the server"
        assert wait_for(lambda: any("refused a portal from identity " + n4.identifier in ln for ln in log_lines))
        assert round_trip(allowed.port, data) == data, "the allowed identity lost its access"


def test_outlet_with_an_allow_list_refuses_plaintext(echo_server, log_lines: List[str]) -> None:
    """A portal that reaches the outlet without a secure channel is refused, even from the
    node whose identity is allowed."""
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        n2.create_outlet(to=f"127.0.0.1:{echo_server.getsockname()[1]}", address="outlet", allow=[n1.identifier])
        plain = n1.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/service/outlet")
        assert closed_within(plain.port, 5.0)
        assert not echo_server.clients
        assert wait_for(lambda: any("without a secure channel" in ln for ln in log_lines))
        secure = n1.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/secure/api/service/outlet")
        assert round_trip(secure.port, b"through the channel") == b"through the channel"


def test_allow_lists_that_make_no_sense_are_refused() -> None:
    with Node(unique("n")) as n:
        with pytest.raises(ValueError, match="allow is empty"):
            n.create_outlet(to="127.0.0.1:9", address="o1", allow=[])
        with pytest.raises(ValueError, match="not an identifier"):
            n.create_outlet(to="127.0.0.1:9", address="o2", allow=["I1234"])
        assert n.outlets() == []


def test_closing_the_channel_ends_the_portal_connections_through_it(echo_server) -> None:
    """A portal connection lives on its secure channel: when the channel closes, the client
    and the server connection are closed instead of hanging."""
    ident = Identity.create()
    with Node(unique("n1"), identity=ident) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2:
        n2.create_outlet(to=f"127.0.0.1:{echo_server.getsockname()[1]}", address="outlet", allow=[ident.identifier])
        inlet = n1.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/secure/api/service/outlet")
        with socket.create_connection(("127.0.0.1", inlet.port), timeout=IO_TIMEOUT) as c:
            c.sendall(b"ping")
            assert c.recv(16) == b"ping"
            [channel] = n1.secure_channels()
            channel.close()
            c.settimeout(5.0)
            t0 = time.monotonic()
            try:
                rest = c.recv(16)
            except ConnectionResetError:
                rest = b""
            assert rest == b"", f"the client got {rest!r} after its channel closed"
            assert time.monotonic() - t0 < 5.0
        assert wait_for(lambda: n2.outlets()[0].stats().open == 0), "the outlet kept the portal connection"


def test_relay_name_registered_through_a_channel_cannot_be_taken(log_lines: List[str]) -> None:
    """n3 registers its relay through a secure channel to the relay node n2: another identity
    (through its own channel) and a plaintext registration are refused with PermissionError and
    a log line on n2, traffic keeps reaching n3, and n3 itself can register the name again."""
    with Node(unique("n1")) as n1, Node(unique("n2"), tcp_listener_address="127.0.0.1:0") as n2, Node(
        unique("n3")
    ) as n3, Node(unique("n4")) as n4, Node(unique("n5")) as n5:
        name = unique("r")
        secure_at = f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/secure/api"
        relay = n3.create_relay(name, at=secure_at, timeout=5)
        to_n3 = f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/service/forward_to_{name}/service/uppercase"
        assert n1.message_send("hello", to=to_n3) == "HELLO"
        with pytest.raises(PermissionError, match="registered by another identity"):
            n4.create_relay(name, at=secure_at, timeout=5)
        assert wait_for(lambda: any(f"belongs to identity {n3.identifier}: registration from identity {n4.identifier}"
                                    in ln for ln in log_lines))
        with pytest.raises(PermissionError, match="registered by another identity"):
            n5.create_relay(name, at=n2.tcp_listener.address, timeout=5)
        assert wait_for(lambda: any("a connection without a secure channel refused" in ln for ln in log_lines))
        assert n4.relays() == [] and n5.relays() == []
        assert n1.message_send("still me", to=to_n3) == "STILL ME"
        relay.close()
        # the owner takes its name back at once over another channel, as after a lost link
        fresh = n3.create_secure_channel(f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}/service/api")
        n3.create_relay(name, at=fresh.address, timeout=5)
        # the relay moved to the fresh channel: closing the first one (n2 then drops what used it) leaves it up
        [first] = [c for c in n3.secure_channels() if c.address != fresh.address]
        before = len(n2.secure_channels())
        first.close()
        assert wait_for(lambda: len(n2.secure_channels()) == before - 1)
        assert n1.message_send("back", to=to_n3) == "BACK"
