"""Secure channel interop with a REAL Ockam node: the `ockam` CLI (ockam_command 0.139.0, Rust).

Contract: README.md ("Secure channels"), docs/secure-channel.md, ockam_py/node.py
(create_secure_channel). Same conventions as tests/test_interop_ockam.py, whose fixtures
this module uses: the binary is ``$OCKAM_BIN`` or ``ockam`` on PATH; without one the module is
skipped, unless ``OCKAM_INTEROP`` is set (then it fails). One unenrolled Rust node ``rn`` with
a private ``OCKAM_HOME``, everything on 127.0.0.1.

e. ockam_py initiator -> rn's ``api`` listener, then ``uppercase`` and ``echo`` (1 MiB raw)
   through the channel; ``authorized`` naming another identity is refused.
f. ``ockam secure-channel create --from rn --to <our api>``, then ``ockam message send
   --from rn --to <channel>/service/echo``; ``--authorized`` naming another identity fails.
"""

from __future__ import annotations

import json
import os
import re
from typing import List

from ockam_py import Identity, Node

from test_interop_ockam import Ockam, RustNode, _context, _name, nodes, ockam, rn  # noqa: F401  (fixtures)

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
    # --authorized with our identifier works; with another one the CLI fails
    address2 = _sc_create(ockam, rn, _our_api(s), "--authorized", s.identifier)
    assert ockam.message_send("hi", f"{address2}/service/uppercase", "--from", rn.name) == "HI", ctx
    rc, text = ockam.run("secure-channel", "create", "--from", rn.name, "--to", _our_api(s),
                         "--authorized", Identity.create().identifier)
    assert rc != 0, text + ctx
