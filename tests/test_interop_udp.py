"""UDP interop with Ockam's own UDP transport: a Rust node on
``ockam_transport_udp`` 0.72 (the version ockam 0.139 ships), built from
crates.io by scripts/build-udp-peer.sh (tests/interop/udp_peer). The `ockam`
CLI itself cannot be used: its UDP transport only serves hole punching through
a project's rendezvous service, with no UDP listener a route can name.

The peer is ``$OCKAM_UDP_PEER``. Without it these tests are skipped, unless
``OCKAM_INTEROP`` is set: then they fail (.ci/run builds the peer and sets both).

Checks, both ways, on 127.0.0.1: ``uppercase`` with a BARE string, and raw
``echo`` of payloads from 1 byte (one datagram) to 1 000 000 bytes (2029
datagrams) coming back bit-exact. Our sender paces its datagrams (docs/udp.md)
because a Rust receiver keeps the kernel's default socket buffer: two Rust
peers lose a 200 kB echo here to its overflow. Even paced, a Rust receiver
that is descheduled for a few ms loses a whole large message (with two busy
loops on 2 cores: 7 of 200 echoes of 100 kB, 22 of 40 of 1 MB), so the peer
widens its sockets' receive buffers to 4 MiB (tests/interop/udp_peer); then
0 of 200 and 0 of 40 are lost under the same load.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import Iterator, Tuple

import pytest

from ockam_py import Node

SIZES = [1, 400, 493, 494, 5000, 100_000, 1_000_000]


def _peer() -> str:
    path = os.environ.get("OCKAM_UDP_PEER", "")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    reason = ("no UDP peer (set OCKAM_UDP_PEER to the output of scripts/build-udp-peer.sh); "
              "UDP interop with Ockam's transport not checked")
    if os.environ.get("OCKAM_INTEROP"):
        pytest.fail(f"OCKAM_INTEROP={os.environ['OCKAM_INTEROP']} but {reason}", pytrace=False)
    pytest.skip(reason)



@pytest.fixture(scope="module")
def rust_peer() -> Iterator[Tuple[str, int]]:
    """A Rust node serving echo and uppercase on a UDP bind: (binary, port)."""
    path = _peer()
    proc = subprocess.Popen([path, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        pytest.fail(f"the UDP peer did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}", pytrace=False)
    yield path, int(line.split()[1])
    proc.stdin.close()  # its signal to stop
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node(f"udp-interop-{uuid.uuid4().hex[:8]}", udp_listener_address="127.0.0.1:0")
    yield n
    n.close()


def test_ours_to_rust_uppercase(rust_peer: Tuple[str, int], node: Node) -> None:
    _, port = rust_peer
    assert node.message_send("hello", f"/ip4/127.0.0.1/udp/{port}/service/uppercase", timeout=10) == "HELLO"


@pytest.mark.parametrize("size", SIZES)
def test_ours_to_rust_echo_is_bit_exact(rust_peer: Tuple[str, int], node: Node, size: int) -> None:
    _, port = rust_peer
    payload = os.urandom(size)
    assert node.message_send(payload, f"/ip4/127.0.0.1/udp/{port}/service/echo", raw=True, timeout=10) == payload
    bind = node.udp_binds()[0]
    assert bind.dropped_malformed == bind.dropped_incomplete == 0


def _rust_send(path: str, port: int, service: str, what: str) -> str:
    proc = subprocess.run([path, "send", str(port), service, what], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_rust_to_ours_uppercase(rust_peer: Tuple[str, int], node: Node) -> None:
    path, _ = rust_peer
    assert _rust_send(path, node.udp_binds()[0].port, "uppercase", "from rust") == "FROM RUST"
    assert node.udp_binds()[0].received == 1


@pytest.mark.parametrize("size", SIZES)
def test_rust_to_ours_echo_is_bit_exact(rust_peer: Tuple[str, int], node: Node, size: int) -> None:
    path, _ = rust_peer
    assert _rust_send(path, node.udp_binds()[0].port, "echo", f"@{size}") == f"OK {size}"
    bind = node.udp_binds()[0]
    assert (bind.received, bind.sent, bind.dropped_malformed) == (1, 1, 0)
    assert bind.datagrams_in == bind.datagrams_out >= -(-size // 493)
