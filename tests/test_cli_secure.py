"""The ``ockam-py`` command line with identities and secure channels: node identities kept
across restarts, named identities, secure channels and their listeners, ``/secure/`` routes in
``message send`` and ``tcp-inlet create``, outlets with ``--allow``, relays owned through a
channel, and the errors of all of these.

Real node daemons with a private ``$OCKAM_PY_HOME`` (the ``ockam`` fixture of test_cli.py), on
127.0.0.1 only. Contract: README "Command line", docs/cli.md.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import uuid
from typing import Any, Dict, Iterator, List

import pytest

from ockam_py.daemon import NodeDir, identity_file
from test_access_control import closed_within, round_trip
from test_cli import Cli, ockam, wait_for  # noqa: F401 (fixture)
from test_secure_channel import _TcpEchoServer

IDENTIFIER = re.compile(r"I[0-9a-f]{64}")
CHANNEL = re.compile(r"/service/[0-9a-f]{32}")


@pytest.fixture
def echo_server() -> Iterator[_TcpEchoServer]:
    server = _TcpEchoServer()
    yield server
    server.close()


def mode(path: Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def identifier_of(ockam: Cli, node: str) -> str:
    ident = ockam.json("node", "show", node)["identifier"]
    assert IDENTIFIER.fullmatch(ident), ident
    return str(ident)


def inlet_port(ockam: Cli, node: str, route: str) -> int:
    info = ockam.json("tcp-inlet", "create", "--at", node, "--to", route)
    return int(info["bind_address"].rsplit(":", 1)[1])


def echoes(port: int, data: bytes) -> bool:
    """Whether the inlet at port carries data to the echo server and back (False if closed)."""
    try:
        return round_trip(port, data) == data
    except OSError:
        return False


def refused_when_listening(port: int) -> bool:
    """closed_within(port, 5 s), asked again while the inlet's port is closed for the moment
    its node takes to reopen it through a new channel."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return closed_within(port, 5.0)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, f"the inlet at port {port} never listened again"
            time.sleep(0.1)


def by_address(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {r["address"]: r for r in rows}


# ---------------------------------------------------------------------------
# identities


def test_node_identity_is_kept_across_stop_and_start(ockam: Cli) -> None:
    """A node made by ``node create`` gets an identity of its own, kept in its state directory
    (0600); after ``node stop`` / ``node start`` it runs as the same identity: ``node show``
    says so, and a secure channel to it finds that identity at the other end."""
    ockam.ok("node", "create", "n1")
    ockam.ok("node", "create", "n2")
    before = identifier_of(ockam, "n1")
    assert before != identifier_of(ockam, "n2"), "two nodes share an identity"
    path = NodeDir(ockam.home, "n1").identity_file
    assert mode(path) == 0o600
    assert json.loads(path.read_text())["identifier"] == before
    assert f"  Identifier: {before}" in ockam.ok("node", "show", "n1").splitlines()

    ockam.ok("node", "stop", "n1")
    stopped = ockam.json("node", "show", "n1")
    assert stopped["status"] == "stopped" and stopped["identifier"] == before
    ockam.ok("node", "start", "n1")
    assert identifier_of(ockam, "n1") == before
    assert mode(path) == 0o600

    # the running node really is that identity: the channel's far end presents it
    channel = ockam.ok("secure-channel", "create", "--from", "n2", "--to", "/node/n1/service/api",
                       "--authorized", before).strip()
    assert CHANNEL.fullmatch(channel), channel
    assert by_address(ockam.json("secure-channel", "list", "--at", "n2"))[channel]["their_identifier"] == before


def test_named_identities(ockam: Cli) -> None:
    """``identity create`` keeps an identity (0600) and prints its identifier; ``identity show``
    and ``identity list`` give it back; the first one is the default; ``node create --identity``
    runs a node as it, across restarts; unknown names are one error line each."""
    assert "No identities" in ockam.ok("identity", "list")
    assert "no default identity" in ockam.fails("identity", "show")
    alice = ockam.ok("identity", "create", "alice").strip()
    bob = ockam.json("identity", "create", "bob")
    assert IDENTIFIER.fullmatch(alice) and IDENTIFIER.fullmatch(bob["identifier"]) and alice != bob["identifier"]
    assert bob["name"] == "bob" and bob["is_default"] is False
    assert mode(identity_file(ockam.home, "alice")) == 0o600
    assert ockam.ok("identity", "show", "alice").strip() == alice
    assert ockam.ok("identity", "show").strip() == alice  # the first one is the default
    assert ockam.json("identity", "list") == [
        {"name": "alice", "identifier": alice, "is_default": True},
        {"name": "bob", "identifier": bob["identifier"], "is_default": False},
    ]
    assert re.fullmatch(r"[0-9a-f]+", ockam.ok("identity", "show", "alice", "--full").strip())
    assert "identity 'alice' already exists" in ockam.fails("identity", "create", "alice")
    assert ockam.ok("identity", "show", "alice").strip() == alice, "a second create replaced the identity"
    assert "unknown identity 'carol'" in ockam.fails("identity", "show", "carol")

    ockam.ok("node", "create", "n1", "--identity", "alice")
    assert identifier_of(ockam, "n1") == alice
    assert not NodeDir(ockam.home, "n1").identity_file.exists(), "a node with a named identity made its own"
    ockam.ok("node", "stop", "n1")
    ockam.ok("node", "start", "n1")
    assert identifier_of(ockam, "n1") == alice

    assert "unknown identity 'carol'" in ockam.fails("node", "create", "n2", "--identity", "carol")
    assert [n["name"] for n in ockam.json("node", "list")] == ["n1"], "a node with an unknown identity was kept"


# ---------------------------------------------------------------------------
# secure channels and listeners


def test_secure_channel_commands_and_a_message_through_a_channel(ockam: Cli) -> None:
    """``secure-channel create`` prints the channel's address; a message sent through it is
    answered; ``list``, ``show`` and ``delete`` see it; ``--authorized`` accepts the listener's
    identity and refuses another; ``/node/n2/secure/api`` in ``message send`` goes through a
    channel of its own."""
    ockam.ok("node", "create", "n1")
    ockam.ok("node", "create", "n2")
    id1, id2 = identifier_of(ockam, "n1"), identifier_of(ockam, "n2")

    channel = ockam.ok("secure-channel", "create", "--from", "n1", "--to", "/node/n2/service/api").strip()
    assert CHANNEL.fullmatch(channel), channel
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", f"{channel}/service/uppercase").strip() == "HELLO"

    mine = by_address(ockam.json("secure-channel", "list", "--at", "n1"))
    assert mine[channel]["their_identifier"] == id2 and mine[channel]["role"] == "initiator"
    theirs = ockam.json("secure-channel", "list", "--at", "n2")
    assert [(c["their_identifier"], c["role"], c["listener"]) for c in theirs] == [(id1, "responder", "/service/api")]
    shown = ockam.json("secure-channel", "show", channel, "--at", "n1")
    assert shown["address"] == channel and shown["their_identifier"] == id2
    assert ockam.json("secure-channel", "show", channel[len("/service/"):], "--at", "n1")["address"] == channel
    assert f"{channel} to {id2}" in ockam.ok("node", "show", "n1")

    # --authorized: the listener's identity, then another one
    other = ockam.ok("identity", "create", "other").strip()
    ok = ockam.json("secure-channel", "create", "--from", "n1", "--to", "/node/n2/service/api", "-a", other, id2)
    assert CHANNEL.fullmatch(ok["address"]) and ok["their_identifier"] == id2
    err = ockam.fails("secure-channel", "create", "--from", "n1", "--to", "/node/n2/service/api", "--authorized", other)
    assert f"the listener's identity {id2} is not authorized" in err

    # /secure/api in a route: a channel opened by the sending node
    count = len(ockam.json("secure-channel", "list", "--at", "n1"))
    assert ockam.ok("message", "send", "hi", "--from", "n1", "--to", "/node/n2/secure/api/service/echo").strip() == "hi"
    assert len(ockam.json("secure-channel", "list", "--at", "n1")) == count + 1

    # delete: gone from both ends, and nothing goes through it any more
    assert f"Deleted secure channel {channel}" in ockam.ok("secure-channel", "delete", channel, "--at", "n1", "--yes")
    assert channel not in by_address(ockam.json("secure-channel", "list", "--at", "n1"))
    wait_for(lambda: len(ockam.json("secure-channel", "list", "--at", "n2")) == count, what="n2's end to close")
    ockam.fails("message", "send", "hello", "--from", "n1", "--to", f"{channel}/service/echo", "--timeout", "1")
    assert "has no secure channel" in ockam.fails("secure-channel", "delete", channel, "--at", "n1")


def test_secure_channel_listener_with_authorized_identities(ockam: Cli) -> None:
    """A listener made with ``--authorized`` answers only channels from those identities; it is
    listed (with them) and comes back after a restart of its node."""
    ockam.ok("identity", "create", "friend")
    friend = ockam.ok("identity", "show", "friend").strip()
    ockam.ok("node", "create", "n2")
    ockam.ok("node", "create", "n1", "--identity", "friend")
    ockam.ok("node", "create", "n3")
    out = ockam.ok("secure-channel-listener", "create", "locked", "--at", "n2", "--authorized", friend)
    assert "/service/locked" in out
    listeners = by_address(ockam.json("secure-channel-listener", "list", "--at", "n2"))
    assert listeners["/service/locked"]["authorized"] == [friend]
    assert listeners["/service/api"]["authorized"] is None

    route = "/node/n2/secure/locked/service/uppercase"
    assert ockam.ok("message", "send", "hi", "--from", "n1", "--to", route).strip() == "HI"
    # a stranger's side of the handshake finishes (Noise XX), but n2 answers nothing through it
    assert "no reply" in ockam.fails("message", "send", "hi", "--from", "n3", "--to", route, "--timeout", "1")

    ockam.ok("node", "stop", "n2")
    ockam.ok("node", "start", "n2")
    listeners = by_address(ockam.json("secure-channel-listener", "list", "--at", "n2"))
    assert listeners["/service/locked"]["authorized"] == [friend]
    assert ockam.ok("message", "send", "again", "--from", "n1", "--to", route).strip() == "AGAIN"
    assert "no reply" in ockam.fails("message", "send", "hi", "--from", "n3", "--to", route, "--timeout", "1")


# ---------------------------------------------------------------------------
# portals and relays


def test_inlet_through_a_secure_channel_to_an_outlet_that_allows_one_identity(ockam: Cli,
                                                                             echo_server: _TcpEchoServer) -> None:
    """``tcp-outlet create --allow I`` serves only that identity, only through a secure channel:
    an inlet of that identity to ``/node/n3/secure/api/service/outlet`` gets its bytes back; the
    same route from another identity, and a plaintext route from the allowed one, are closed
    without reaching the server. After the outlet's node restarts, its allow list is back and
    the inlet carries bytes again, through a new channel."""
    ockam.ok("node", "create", "n1")
    ockam.ok("node", "create", "n2")
    ockam.ok("node", "create", "n3")
    id1, id2 = identifier_of(ockam, "n1"), identifier_of(ockam, "n2")
    target = f"127.0.0.1:{echo_server.getsockname()[1]}"
    out = ockam.ok("tcp-outlet", "create", "--at", "n3", "--to", target, "--allow", id1)
    assert out == "/service/outlet\n"
    assert ockam.json("tcp-outlet", "list", "--at", "n3")[0]["allow"] == [id1]

    allowed = inlet_port(ockam, "n1", "/node/n3/secure/api/service/outlet")
    stranger = inlet_port(ockam, "n2", "/node/n3/secure/api/service/outlet")
    plaintext = inlet_port(ockam, "n1", "/node/n3/service/outlet")
    data = uuid.uuid4().bytes * 4096
    assert round_trip(allowed, data) == data
    served = len(echo_server.clients)
    assert closed_within(stranger, 5.0), "a portal from an identity not allowed was served"
    assert closed_within(plaintext, 5.0), "a portal without a secure channel was served"
    assert len(echo_server.clients) == served, "a refused portal reached the server"
    log = NodeDir(ockam.home, "n3").log_file
    wait_for(lambda: f"refused a portal from identity {id2}" in log.read_text(), what="n3 to log the refusal")
    assert round_trip(allowed, data) == data

    ockam.ok("node", "stop", "n3")
    ockam.ok("node", "start", "n3")
    assert ockam.json("tcp-outlet", "list", "--at", "n3")[0]["allow"] == [id1]
    wait_for(lambda: echoes(allowed, data), timeout=20, what="the inlet to carry bytes again after n3's restart")
    assert refused_when_listening(stranger), "after the restart, a portal from an identity not allowed was served"


def test_relay_through_a_secure_channel_belongs_to_its_identity(ockam: Cli) -> None:
    """``relay create n3 --at /node/n2/secure/api`` registers the name for n3's identity: another
    identity cannot take it over, and the relay carries messages, again after the relay node
    restarts (registered anew through a new channel)."""
    ockam.ok("node", "create", "n2")
    ockam.ok("node", "create", "n3")
    ockam.ok("node", "create", "n1")
    out = ockam.ok("relay", "create", "n3", "--at", "/node/n2/secure/api", "--to", "n3")
    assert out == "/service/forward_to_n3\n"
    relay = ockam.json("relay", "show", "n3", "--at", "n3")
    assert relay["remote_address"] == "/node/n2/secure/api/service/forward_to_n3" and relay["connection_status"] == "Up"
    err = ockam.fails("relay", "create", "n3", "--at", "/node/n2/secure/api", "--to", "n1")
    assert "registered by another identity" in err
    assert ockam.json("relay", "list", "--to", "n1") == []
    route = "/node/n2/service/forward_to_n3/service/uppercase"
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", route).strip() == "HELLO"

    ockam.ok("node", "stop", "n2")
    ockam.ok("node", "start", "n2")
    wait_for(lambda: ockam.run("message", "send", "again", "--from", "n1", "--to", route, "--timeout", "2").stdout.strip()
             == "AGAIN", timeout=30, what="the relay to be registered again through a new channel")
    err = ockam.fails("relay", "create", "n3", "--at", "/node/n2/secure/api", "--to", "n1")
    assert "registered by another identity" in err, "after the restart the name was free for another identity"


# ---------------------------------------------------------------------------
# errors


def test_secure_command_errors(ockam: Cli) -> None:
    """Each mistake is one error line (plus a hint) and a non-zero exit, before anything changes."""
    ockam.ok("node", "create", "n1")
    bad = "I1234"
    assert f"bad identifier '{bad}' for --authorized" in ockam.fails(
        "secure-channel", "create", "--from", "n1", "--to", "/node/n1/service/api", "--authorized", bad)
    assert f"bad identifier '{bad}' for --allow" in ockam.fails(
        "tcp-outlet", "create", "--at", "n1", "--to", "127.0.0.1:9", "--allow", bad)
    assert ockam.json("tcp-outlet", "list", "--at", "n1") == []
    assert f"bad identifier '{bad}' for --authorized" in ockam.fails(
        "secure-channel-listener", "create", "x", "--at", "n1", "--authorized", bad)
    assert "unknown node 'nope'" in ockam.fails("secure-channel", "create", "--from", "n1", "--to", "/node/nope/service/api")
    assert "unknown node 'nope'" in ockam.fails("secure-channel", "create", "--from", "nope", "--to", "/node/n1/service/api")
    assert "unknown node 'nope'" in ockam.fails("secure-channel", "list", "--at", "nope")
    assert "unknown node 'nope'" in ockam.fails(
        "message", "send", "hi", "--from", "n1", "--to", "/node/nope/secure/api/service/echo")
    assert "bad secure channel address" in ockam.fails("secure-channel", "show", "/service/zz", "--at", "n1")
    assert "has no secure channel" in ockam.fails("secure-channel", "show", "0" * 32, "--at", "n1")
    assert "unknown identity 'nope'" in ockam.fails("identity", "show", "nope")
    assert "bad identity name" in ockam.fails("identity", "create", "no/slash")
    # no listener at the end of the route: the handshake times out
    assert ockam.fails("secure-channel", "create", "--from", "n1", "--to", "/node/n1/service/echo", "--timeout", "1")
