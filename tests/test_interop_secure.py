"""Secure channel interop with a REAL Ockam node: the `ockam` CLI (ockam_command 0.139.0, Rust).

Contract: README.md ("Secure channels"), docs/secure-channel.md, ockam_py/node.py
(create_secure_channel). Same conventions as tests/test_interop_ockam.py, whose fixtures
this module uses: the binary is ``$OCKAM_BIN`` or ``ockam`` on PATH; without one the module is
skipped, unless ``OCKAM_INTEROP`` is set (then it fails). One unenrolled Rust node ``rn`` with
a private ``OCKAM_HOME``, everything on 127.0.0.1.

e. ockam_py initiator -> rn's ``api`` listener, then ``uppercase`` and ``echo`` (1 MiB raw)
   through the channel; ``authorized`` naming another identity is refused.
f. ``ockam secure-channel create --from rn --to <our api>``, then ``ockam message send
   --from rn --to <channel>/service/echo``, also with ``--authorized <our identifier>``.
g. portals through secure channels both ways, ``python3 -m http.server`` behind the outlet,
   HEAD and 10 MiB bit-exact: our inlet to ``/ip4/…/<rn>/secure/api/service/<rust outlet>``,
   and a Rust inlet (``ockam tcp-inlet create --to /ip4/…/<ours>/secure/api/service/outlet``)
   to our outlet.
h. (last) ``--authorized`` naming another identity gives no channel on either side (the CLI
   does not return: it is stopped after 15 s; rn then answers no API request for about 2 min).
"""

from __future__ import annotations

import json
import os
import re
from typing import List

from ockam_py import Identity, Node

from test_interop_ockam import (  # noqa: F401  (fixtures)
    HttpServer,
    Ockam,
    RustNode,
    _check_portal,
    _context,
    _free_port,
    _name,
    http_server,
    nodes,
    ockam,
    rn,
)

IDENT = re.compile(r"I[0-9a-f]{64}")


def _our_api(node: Node) -> str:
    assert node.tcp_listener is not None
    return f"/ip4/127.0.0.1/tcp/{node.tcp_listener.port}/service/api"


def test_e_python_initiator_to_rust_api(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    n = Node(_name("pysc")); nodes.append(n)
    ctx = _context(ockam, rn)
    ch = n.create_secure_channel(f"/ip4/127.0.0.1/tcp/{rn.port}/service/api", timeout=10.0)
    assert IDENT.fullmatch(ch.their_identifier), ctx
    assert ch.their_identifier in ockam.ok("identity", "show"), ctx
    assert n.message_send("hello", to=f"{ch.address}/service/uppercase", timeout=10.0) == "HELLO", ctx
    assert n.message_send("hello", to=f"{ch.address}/service/echo", timeout=10.0) == "hello", ctx
    for i in range(40):  # past the key renewal at 32 messages, both ways
        assert n.message_send(f"m{i}", to=f"{ch.address}/service/uppercase", timeout=10.0) == f"M{i}", ctx
    blob = os.urandom(1024 * 1024)
    assert n.message_send(blob, to=f"{ch.address}/service/echo", raw=True, timeout=15.0) == blob, ctx
    ch.close()
    # the same with the listener's identifier required, and refused when it names another
    ok = n.create_secure_channel(f"/ip4/127.0.0.1/tcp/{rn.port}/service/api",
                                 authorized=[ch.their_identifier], timeout=10.0)
    assert n.message_send("again", to=f"{ok.address}/service/uppercase", timeout=10.0) == "AGAIN", ctx
    try:
        n.create_secure_channel(f"/ip4/127.0.0.1/tcp/{rn.port}/service/api",
                                authorized=[Identity.create().identifier], timeout=10.0)
    except PermissionError:
        pass
    else:
        raise AssertionError("a channel to an identity not authorized was opened\n" + ctx)


def _sc_create(ockam: Ockam, rn: RustNode, to: str, *extra: str) -> str:
    out = ockam.ok("secure-channel", "create", "--from", rn.name, "--to", to, "--output", "json", *extra)
    start = out.index("[")
    return str(json.loads(out[start:out.rindex("]") + 1])[0]["address"])


def test_f_rust_initiator_to_python_api(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    s = Node(_name("pyscl"), tcp_listener_address="127.0.0.1:0"); nodes.append(s)
    ctx = _context(ockam, rn)
    address = _sc_create(ockam, rn, _our_api(s))
    assert re.fullmatch(r"/service/[0-9a-f]{32}", address), address + ctx
    assert ockam.message_send("hello", f"{address}/service/echo", "--from", rn.name) == "hello", ctx
    assert ockam.message_send("hello", f"{address}/service/uppercase", "--from", rn.name) == "HELLO", ctx
    theirs = s.secure_channels()
    assert len(theirs) == 1 and not theirs[0].initiator, ctx
    assert theirs[0].their_identifier in ockam.ok("identity", "show"), ctx
    # --authorized with our identifier works (another one: test_h)
    address2 = _sc_create(ockam, rn, _our_api(s), "--authorized", s.identifier)
    assert ockam.message_send("hi", f"{address2}/service/uppercase", "--from", rn.name) == "HI", ctx


def test_g_python_inlet_to_rust_outlet_through_secure_channel(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                                              nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    address = _name("soutlet")
    ockam.ok("tcp-outlet", "create", "--at", rn.name, "--to", http_server.address, "--from", address)
    pi = Node(_name("spi")); nodes.append(pi)
    inlet = pi.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{rn.port}/secure/api/service/{address}")
    _check_portal(inlet.port, http_server, tmp_path, _context(ockam, rn))
    assert [c.their_identifier in ockam.ok("identity", "show") for c in pi.secure_channels()] == [True]


def test_g_rust_inlet_to_python_outlet_through_secure_channel(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                                              nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    po = Node(_name("spo"), tcp_listener_address="127.0.0.1:0"); nodes.append(po)
    assert po.tcp_listener is not None
    po.create_outlet(http_server.address)
    port = _free_port()
    ockam.ok("tcp-inlet", "create", "--at", rn.name, "--from", f"127.0.0.1:{port}",
             "--to", f"/ip4/127.0.0.1/tcp/{po.tcp_listener.port}/secure/api/service/outlet")
    _check_portal(port, http_server, tmp_path, _context(ockam, rn))
    assert len(po.secure_channels()) >= 1


def test_h_rust_initiator_refuses_our_identity(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    """Last of the module: after this refused create, rn answers no API request (even
    `tcp-outlet create`) for about two minutes from its start, so nothing uses rn after it."""
    s = Node(_name("pyscr"), tcp_listener_address="127.0.0.1:0"); nodes.append(s)
    ctx = _context(ockam, rn)
    # Another identifier in --authorized: the Rust initiator refuses our message 2 and keeps
    # waiting (the CLI printed nothing in 90 s when let run; rn's node API is busy for about
    # 2 min): no channel comes out of it on either side.
    before = {c.encryptor for c in s.secure_channels()}
    rc, text = ockam.run("secure-channel", "create", "--from", rn.name, "--to", _our_api(s),
                         "--authorized", Identity.create().identifier, timeout=15)
    assert rc != 0 and "/service/" not in text, text + ctx
    assert {c.encryptor for c in s.secure_channels()} == before, ctx

