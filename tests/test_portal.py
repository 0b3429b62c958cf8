"""Tests of TCP portals: Node.create_inlet / Node.create_outlet, Inlet / Outlet (stats, close).

Contract: ockam_py/node.py (create_inlet, create_outlet, create_relay), ockam_py/portal.py,
examples/portal.py, csrc/portal/portal_conn.h and csrc/codec/portal_msg.h (this project's
extensions: capability byte in Ping/Pong, 04 Eof half-close, 05 Credit window) and
/work/shared/spec/ockam-wire.md section 6
(6.1 encoding, 6.2/6.3 handshake, 6.4 disconnect, 6.5 refused target, 6.8 extensions).

Real sockets on 127.0.0.1, real programs where the docs use them (`curl`,
`python3 -m http.server`), no mocks. Nodes whose memory is measured or that get killed run
in their own processes (tests/portal_node.py); the others run in this process. The raw-socket peers in the "raw wire" section are written from the spec alone:
their CBOR encoder and strict decoder are those of tests/wire_spec.py, which imports nothing
from the project.

Figures (close times, throughput, RSS growth) are printed as lines starting with "FIGURE";
run with ``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import resource
import select
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from conftest import scaled
from ockam_py import Inlet, Node, Outlet
from wire_spec import (
    MAX_MESSAGE_SIZE,
    QUIET_TIMEOUT,
    Route,
    WireMessage,
    bare_string,
    decode_message,
    exchange_preambles,
    local,
    message_frame,
    read_exact,
    uleb,
)

HERE = os.path.dirname(os.path.abspath(__file__))
HEX32 = re.compile(rb"^[0-9a-f]{32}$")
IO_TIMEOUT = 10.0  # generous: the machine is small and shared; a broken node fails, not hangs
MiB = 1024 * 1024
RUST_CHUNK = 48 * 1024  # spec 6.1: a Rust 0.139 receiver reads at most 48 KiB per Payload

# portal message types, spec 6.1 and csrc/codec/portal_msg.h
PING, PONG, DISCONNECT, PAYLOAD, EOF_MSG, CREDIT = 0, 1, 2, 3, 4, 5


def figure(text: str) -> None:
    print(f"\nFIGURE {text}", flush=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def refusing_port(cleanup: contextlib.ExitStack) -> int:
    """A port where connects are refused: bound by us (so nobody else takes it) but not listening."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    cleanup.callback(s.close)
    return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(port: int, timeout: float = IO_TIMEOUT) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def wait_closed(sock: socket.socket, timeout: float) -> Tuple[Optional[float], bytes]:
    """Reads until EOF or reset; returns (seconds it took or None on timeout, bytes read)."""
    start = time.monotonic()
    deadline = start + timeout
    got = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, bytes(got)
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return None, bytes(got)
    return time.monotonic() - start, bytes(got)


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def matches_periodic(data: bytes, offset: int, period: bytes) -> bool:
    """data equals the stream `period` repeated forever, from stream offset `offset`."""
    i = 0
    while i < len(data):
        off = (offset + i) % len(period)
        n = min(len(period) - off, len(data) - i)
        if data[i:i + n] != period[off:off + n]:
            return False
        i += n
    return True


# --------------------------------------------------------------------------------------------
# TCP targets run by the test (threads)
# --------------------------------------------------------------------------------------------


class TargetConn:
    """One accepted target connection: a reader thread collects what arrives and notes EOF."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = bytearray()
        self.eof = threading.Event()
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                try:
                    chunk = self.sock.recv(1 << 20)
                except socket.timeout:  # a sender in the test may set a timeout on this socket
                    continue
                if not chunk:
                    break
                with self.cond:
                    self.data += chunk
                    self.cond.notify_all()
        except OSError:
            pass
        finally:
            self.eof.set()
            with self.cond:
                self.cond.notify_all()

    def wait_data(self, n: int, timeout: float = IO_TIMEOUT) -> bytes:
        with self.cond:
            self.cond.wait_for(lambda: len(self.data) >= n or self.eof.is_set(), timeout)
            return bytes(self.data)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class RecordingTarget:
    """A TCP server that accepts any number of connections and records each one."""

    def __init__(self) -> None:
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.conns: List[TargetConn] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self.conns.append(TargetConn(sock))

    def wait_conns(self, n: int, timeout: float = IO_TIMEOUT) -> List[TargetConn]:
        assert wait_for(lambda: len(self.conns) >= n, timeout), f"target got {len(self.conns)} connections, wanted {n}"
        return self.conns

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.lsock.close()
        for c in self.conns:
            c.close()


class EchoServer:
    """A selectors-based echo server for many concurrent connections, in one thread."""

    def __init__(self) -> None:
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4096)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.accepted = 0
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.conns: Dict[socket.socket, List] = {}  # sock -> [outbuf, eof]
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(Exception):
            self.sel.unregister(sock)
        self.conns.pop(sock, None)
        sock.close()

    def _flush(self, sock: socket.socket) -> None:
        state = self.conns[sock]
        out = state[0]
        try:
            while out:
                n = sock.send(out)
                del out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(sock)
            return
        if state[1] and not out:
            self._drop(sock)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
        if state[1]:
            events &= ~selectors.EVENT_READ
        self.sel.modify(sock, events, "conn")

    def _run(self) -> None:
        while not self._stop:
            for key, events in self.sel.select(0.5):
                if key.data is None:
                    while True:
                        try:
                            sock, _ = self.lsock.accept()
                        except (BlockingIOError, OSError):
                            break
                        sock.setblocking(False)
                        self.accepted += 1
                        self.conns[sock] = [bytearray(), False]
                        self.sel.register(sock, selectors.EVENT_READ, "conn")
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        self.wake_r.recv(64)
                else:
                    sock = key.fileobj  # type: ignore[assignment]
                    if sock not in self.conns:
                        continue
                    if events & selectors.EVENT_READ:
                        try:
                            data = sock.recv(65536)
                        except BlockingIOError:
                            data = None
                        except OSError:
                            self._drop(sock)
                            continue
                        if data == b"":
                            self.conns[sock][1] = True
                        elif data:
                            self.conns[sock][0] += data
                    self._flush(sock)

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.wake_w.send(b"x")
        self.thread.join(5)
        for sock in list(self.conns):
            sock.close()
        self.conns.clear()
        self.sel.close()
        self.lsock.close()
        self.wake_r.close()
        self.wake_w.close()


class HalfCloseServer:
    """Accepts one connection, reads until EOF (hashing), then sends `response` and closes."""

    def __init__(self, response: bytes) -> None:
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(60)
        self.address = f"127.0.0.1:{self.lsock.getsockname()[1]}"
        self.response = response
        self.received = 0
        self.received_sha = ""
        self.got_eof_at: Optional[float] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            sock, _ = self.lsock.accept()
            with sock:
                sock.settimeout(60)
                h = hashlib.sha256()
                while True:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    self.received += len(chunk)
                self.got_eof_at = time.monotonic()
                self.received_sha = h.hexdigest()
                sock.sendall(self.response)
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.done.set()

    def close(self) -> None:
        self.lsock.close()


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cleanup() -> Iterator[contextlib.ExitStack]:
    """Things to close at teardown, last registered first."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def make_node(cleanup: contextlib.ExitStack) -> Callable[..., Node]:
    """make_node(prefix, listen=True) -> an open Node with a unique name, closed at teardown."""

    def make(prefix: str = "n", listen: bool = True) -> Node:
        node = Node(unique(prefix), tcp_listener_address="127.0.0.1:0" if listen else None)

        def close() -> None:
            for relay in node.relays():
                relay.close()
            node.close()

        cleanup.callback(close)
        return node

    return make


@pytest.fixture
def target(cleanup: contextlib.ExitStack) -> RecordingTarget:
    t = RecordingTarget()
    cleanup.callback(t.close)
    return t


@pytest.fixture
def echo_server(cleanup: contextlib.ExitStack) -> EchoServer:
    s = EchoServer()
    cleanup.callback(s.close)
    return s


@pytest.fixture
def sockets(cleanup: contextlib.ExitStack) -> Callable[[socket.socket], socket.socket]:
    """track(sock) -> sock, closed at teardown."""

    def track(sock: socket.socket) -> socket.socket:
        cleanup.callback(sock.close)
        return sock

    return track


def one_hop(make_node: Callable[..., Node], to: str) -> Tuple[Node, Node, Inlet, Outlet]:
    """Inlet node -> outlet node directly over TCP ("/node/<outlet node>/service/outlet")."""
    out_node = make_node("outlet-node")
    outlet = out_node.create_outlet(to=to, address="outlet")
    in_node = make_node("inlet-node", listen=False)
    inlet = in_node.create_inlet("127.0.0.1:0", to=f"/node/{out_node.name}/service/outlet")
    return in_node, out_node, inlet, outlet


def through_relay(make_node: Callable[..., Node], to: str) -> Tuple[Node, Node, Inlet, Outlet]:
    """The walkthrough's shape: inlet on n1 -> relay at n2 -> hop on n3 -> outlet on n3."""
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    n3.start_service("hop")
    outlet = n3.create_outlet(to=to, address="outlet")
    relay = unique("r")
    n3.create_relay(relay, at=f"/node/{n2.name}", timeout=15)
    n1 = make_node("n1", listen=False)
    inlet = n1.create_inlet("127.0.0.1:0", to=f"/node/{n2.name}/service/forward_to_{relay}/service/hop/service/outlet")
    return n1, n3, inlet, outlet


TOPOLOGIES = {"one-hop": one_hop, "relay-hop": through_relay}


# --------------------------------------------------------------------------------------------
# 1. The walkthrough: curl and python3 -m http.server through relay and hop
# --------------------------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path, cleanup: contextlib.ExitStack) -> Tuple[int, bytes]:
    """`python3 -m http.server` on 127.0.0.1 serving tmp_path, which holds blob.bin (1 MiB); returns (port, blob)."""
    blob = os.urandom(MiB)
    (tmp_path / "blob.bin").write_bytes(blob)
    # port 0 and the port read from its banner: no race with other jobs for a "free" port
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()

    cleanup.callback(stop)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    banner = proc.stdout.readline().decode(errors="replace") if ready else ""
    m = re.search(r"port (\d+)", banner)
    assert m, f"http.server did not start: {banner!r}"
    port = int(m.group(1))
    wait_listening(port)
    return port, blob


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_walkthrough_curl_head_and_1mib_get_through_relay_and_hop(make_node, http_server, tmp_path):
    """curl through inlet -> relay on n2 -> hop -> outlet on n3 gets "HTTP/1.0 200 OK" and a bit-exact 1 MiB file."""
    port, blob = http_server
    _, _, inlet, _ = through_relay(make_node, f"127.0.0.1:{port}")
    head = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "20", "--head", f"http://127.0.0.1:{inlet.port}/"],
        capture_output=True,
        timeout=40,
    )
    assert head.returncode == 0, head.stderr.decode(errors="replace")
    lines = head.stdout.decode("latin-1").splitlines()
    assert lines and lines[0] == "HTTP/1.0 200 OK", lines[:3]

    out = tmp_path / "got.bin"
    get = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "30", "--output", str(out),
         f"http://127.0.0.1:{inlet.port}/blob.bin"],
        capture_output=True,
        timeout=60,
    )
    assert get.returncode == 0, get.stderr.decode(errors="replace")
    got = out.read_bytes()
    assert len(got) == len(blob) and hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()
    assert wait_for(lambda: inlet.stats().open == 0, 10), inlet.stats()
    assert inlet.stats().total == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_walkthrough_through_a_secure_channel_with_an_allow_list(make_node, http_server, tmp_path):
    """The walkthrough end to end encrypted: curl -> inlet on n1 -> relay on n2 -> /secure/api of n3
    -> outlet that allows only n1: "HTTP/1.0 200 OK" and 64 MiB bit-exact; the same route from
    another identity gets no answer from the server."""
    port, _ = http_server
    big = os.urandom(64 * MiB)
    (tmp_path / "big.bin").write_bytes(big)
    n2 = make_node("n2")
    n3 = make_node("n3", listen=False)
    n1 = make_node("n1", listen=False)
    stranger = make_node("n4", listen=False)
    n3.create_outlet(to=f"127.0.0.1:{port}", address="outlet", allow=[n1.identifier])
    relay = unique("r")
    n3.create_relay(relay, at=f"/node/{n2.name}", timeout=15)
    route = f"/node/{n2.name}/service/forward_to_{relay}/secure/api/service/outlet"
    inlet = n1.create_inlet("127.0.0.1:0", to=route)
    head = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", "--head",
                           f"http://127.0.0.1:{inlet.port}/"], capture_output=True, timeout=40)
    assert head.returncode == 0, head.stderr.decode(errors="replace")
    assert head.stdout.decode("latin-1").splitlines()[0] == "HTTP/1.0 200 OK"
    out = tmp_path / "got.bin"
    get = subprocess.run(["curl", "--silent", "--show-error", "--max-time", str(int(scaled(120))), "--output",
                          str(out), f"http://127.0.0.1:{inlet.port}/big.bin"], capture_output=True,
                         timeout=scaled(180))
    assert get.returncode == 0, get.stderr.decode(errors="replace")
    got = out.read_bytes()
    assert len(got) == len(big) and hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
    other = stranger.create_inlet("127.0.0.1:0", to=route)
    refused = subprocess.run(["curl", "--silent", "--max-time", "20", "--head", f"http://127.0.0.1:{other.port}/"],
                             capture_output=True, timeout=40)
    assert refused.returncode != 0 and not refused.stdout, refused.stdout[:200]


def test_example_portal_script_prints_200_ok():
    """examples/portal.py, the documented walkthrough, prints HTTP/1.0 200 OK."""
    script = os.path.join(HERE, "..", "examples", "portal.py")
    run = subprocess.run([sys.executable, script], capture_output=True, timeout=60, cwd=os.path.dirname(script))
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert run.stdout.decode().strip().splitlines()[-1] == "HTTP/1.0 200 OK"


# --------------------------------------------------------------------------------------------
# 2. Half-close and big transfers, bit-exact
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["relay-hop", "one-hop"])
def test_half_close_64mib_up_then_32mib_down_bit_exact(make_node, cleanup, topology):
    """A client sends 64 MiB, shuts down its write side, and reads the server's 32 MiB answer to EOF, bit-exact both ways."""
    up = os.urandom(64 * MiB)
    down = os.urandom(32 * MiB)
    server = HalfCloseServer(down)
    cleanup.callback(server.close)
    _, _, inlet, outlet = TOPOLOGIES[topology](make_node, server.address)

    sock = connect(inlet.port, timeout=60)
    cleanup.callback(sock.close)
    t0 = time.monotonic()
    sock.sendall(up)
    sock.shutdown(socket.SHUT_WR)
    h = hashlib.sha256()
    received = 0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        received += len(chunk)
    t_end = time.monotonic()
    assert server.done.wait(30), "the server never finished"
    assert server.error is None, f"server failed: {server.error!r}"
    assert server.received == len(up), f"server got {server.received} of {len(up)} bytes before EOF"
    assert server.received_sha == hashlib.sha256(up).hexdigest(), "upload differs from what the client sent"
    assert received == len(down), f"client got {received} of {len(down)} bytes"
    assert h.digest() == hashlib.sha256(down).digest(), "download differs from what the server sent"
    assert server.got_eof_at is not None
    figure(
        f"{topology}: 64 MiB up in {server.got_eof_at - t0:.2f} s ({64 / (server.got_eof_at - t0):.0f} MiB/s), "
        f"then 32 MiB down in {t_end - server.got_eof_at:.2f} s ({32 / max(t_end - server.got_eof_at, 1e-6):.0f} MiB/s)"
    )
    assert wait_for(lambda: inlet.stats().open == 0 and outlet.stats().open == 0, 10), (inlet.stats(), outlet.stats())
    s = inlet.stats()
    assert (s.total, s.bytes_out, s.bytes_in) == (1, len(up), len(down)), s
    o = outlet.stats()
    assert (o.total, o.bytes_out, o.bytes_in) == (1, len(down), len(up)), o


def test_half_close_both_directions_stay_usable(make_node, target, sockets):
    """After the client's SHUT_WR the target sees EOF yet can still send, and the client receives it; then the target's close ends it."""
    _, _, inlet, outlet = one_hop(make_node, target.address)
    sock = sockets(connect(inlet.port))
    sock.sendall(b"request")
    conn = target.wait_conns(1)[0]
    assert conn.wait_data(7) == b"request"
    sock.shutdown(socket.SHUT_WR)
    assert conn.eof.wait(IO_TIMEOUT), "target never saw the client's half-close"
    for i in range(3):  # the other direction keeps working after the half-close
        conn.send(b"reply %d;" % i)
        time.sleep(0.05)
    assert recv_exact(sock, 3 * 8) == b"reply 0;reply 1;reply 2;"
    conn.sock.shutdown(socket.SHUT_WR)
    took, rest = wait_closed(sock, IO_TIMEOUT)
    assert took is not None and rest == b"", "client never got EOF after the target finished"
    assert wait_for(lambda: inlet.stats().open == 0 and outlet.stats().open == 0, 10), (inlet.stats(), outlet.stats())


# --------------------------------------------------------------------------------------------
# 3. Refused target
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("topology,bound", [("one-hop", 1.0), ("relay-hop", 3.0)])
def test_refused_target_closes_client_quickly(make_node, sockets, cleanup, topology, bound):
    """When nothing listens at the outlet's target, a client of the inlet sees EOF or a reset within a second (1-hop)."""
    _, _, inlet, outlet = TOPOLOGIES[topology](make_node, f"127.0.0.1:{refusing_port(cleanup)}")
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        sock = sockets(connect(inlet.port))
        took, data = wait_closed(sock, 10)
        assert took is not None, "the client's connection stayed open for 10 s"
        assert data == b""
        times.append(time.monotonic() - t0)
    figure(f"refused target, {topology}: client closed after {', '.join(f'{t * 1000:.0f} ms' for t in times)}")
    assert max(times) < bound, times
    assert wait_for(lambda: inlet.stats().open == 0 and outlet.stats().open == 0, 5), (inlet.stats(), outlet.stats())
    assert inlet.stats().total == 3


def test_refused_target_client_that_already_sent_data(make_node, sockets, cleanup):
    """A client that wrote a request before the refusal is also closed quickly, and the inlet keeps accepting."""
    _, _, inlet, _ = one_hop(make_node, f"127.0.0.1:{refusing_port(cleanup)}")
    sock = sockets(connect(inlet.port))
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    took, data = wait_closed(sock, 10)
    assert took is not None and took < 1.0 and data == b"", (took, data)
    # the inlet still accepts and handles the next client the same way
    sock2 = sockets(connect(inlet.port))
    took2, _ = wait_closed(sock2, 10)
    assert took2 is not None and took2 < 1.0


# --------------------------------------------------------------------------------------------
# 4. Many concurrent connections
# --------------------------------------------------------------------------------------------


def test_1000_concurrent_connections_echo_bit_exact(make_node, echo_server, cleanup):
    """1000 clients open at once through one inlet/outlet pair each get their own 4 KiB back; open returns to 0, total >= 1000."""
    n, size = 1000, 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 5 * n + 200  # clients, inlet sockets, outlet sockets, echo sockets, spare
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"fd limit {hard} is below {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cleanup.callback(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
    _, _, inlet, outlet = one_hop(make_node, echo_server.address)

    payloads = [os.urandom(size) for _ in range(n)]
    socks: List[socket.socket] = []

    def close_all() -> None:
        for s in socks:
            s.close()

    cleanup.callback(close_all)
    t0 = time.monotonic()
    for _ in range(n):
        socks.append(connect(inlet.port, timeout=30))
    t_connected = time.monotonic()
    for s, p in zip(socks, payloads):
        s.sendall(p)  # 4 KiB always fits in the socket buffer
        s.setblocking(False)
    got = [bytearray() for _ in range(n)]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    pending = n
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                pending -= 1  # closed early: checked below
                continue
            got[i] += chunk
            if len(got[i]) >= size:
                sel.unregister(key.fileobj)
                pending -= 1
    sel.close()
    t_done = time.monotonic()
    bad = [i for i in range(n) if bytes(got[i]) != payloads[i]]
    assert not bad, f"{len(bad)} of {n} connections did not get their bytes back, e.g. #{bad[0]}: {len(got[bad[0]])} bytes"
    figure(f"1000 portal connections: connected in {t_connected - t0:.2f} s, all echoed after {t_done - t0:.2f} s")
    s = inlet.stats()
    assert s.open == n and s.total >= n, s  # all of them were open at the same time
    assert outlet.stats().open == n, outlet.stats()
    close_all()
    t_close = time.monotonic()
    assert wait_for(lambda: inlet.stats().open == 0, 15), inlet.stats()
    assert wait_for(lambda: outlet.stats().open == 0, 15), outlet.stats()
    figure(f"1000 portal connections: all closed on both nodes {time.monotonic() - t_close:.2f} s after the clients closed")
    s = inlet.stats()
    assert s.total >= n and s.bytes_out == n * size and s.bytes_in == n * size, s


# --------------------------------------------------------------------------------------------
# 5. Slow reader: memory stays bounded, nodes in separate processes
# --------------------------------------------------------------------------------------------


class NodeProcess:
    """A tests/portal_node.py child; `port` is from its READY line."""

    def __init__(self, role: str, arg: str, *more: str, name: Optional[str] = None) -> None:
        self.name = name or unique(f"proc-{role}")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "portal_node.py"), role, self.name, arg, *more],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        line = self._readline(30)
        assert line.startswith(b"READY "), f"{role} node did not start: {line!r} {self._stderr()}"
        self.port = int(line.split()[1])

    def _readline(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if r else b""

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")[-2000:]

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


class GatedTarget:
    """A TCP server that accepts connections but reads nothing until `open_gate()`, then counts
    and hashes what each connection sends until EOF."""

    def __init__(self) -> None:
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(512)
        self.port = self.lsock.getsockname()[1]
        self.gate = threading.Event()
        self.results: List[Tuple[int, str]] = []
        self.lock = threading.Lock()
        self.threads: List[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            self.gate.wait()
            h, n = hashlib.sha256(), 0
            with contextlib.suppress(OSError):
                while chunk := sock.recv(1 << 20):
                    h.update(chunk)
                    n += len(chunk)
            with self.lock:
                self.results.append((n, h.hexdigest()))

    def open_gate(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        with contextlib.suppress(OSError):
            self.lsock.shutdown(socket.SHUT_RDWR)
        self.lsock.close()
        self.accepter.join(5)
        for t in self.threads:
            t.join(5)


@pytest.mark.parametrize("first_hop", ["tcp", "local hop"])
def test_many_portals_back_up_without_losing_their_shared_connection(make_node, cleanup, first_hop):
    """48 portals on one connection push into a target that reads nothing for a while: the inlet
    node stops reading its clients instead of queueing past max_write_queue (8 MiB here), also when
    the route starts with a local hop; once the target reads, every byte of every stream arrives
    and the shared connection is the one it was."""
    n_streams, per_stream = 48, 3 * MiB
    target = GatedTarget()
    cleanup.callback(target.close)
    out_node = make_node("outlet-node")
    out_node.create_outlet(to=f"127.0.0.1:{target.port}", address="outlet")
    in_node = make_node("inlet-node", listen=False)
    in_node.set_limits(max_write_queue=8 * MiB)
    in_node.start_service("hop")
    prefix = "/service/hop" if first_hop == "local hop" else ""
    inlet = in_node.create_inlet("127.0.0.1:0", to=f"{prefix}/ip4/127.0.0.1/tcp/{out_node.tcp_listener.port}/service/outlet")
    data = [pattern(per_stream, seed=100 + i) for i in range(n_streams)]
    errors: List[BaseException] = []

    def push(i: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", inlet.port), timeout=scaled(60)) as s:
                s.sendall(data[i])
                s.shutdown(socket.SHUT_WR)
                s.settimeout(scaled(60))
                while s.recv(65536):
                    pass
        except BaseException as e:  # reported below
            errors.append(e)

    pushers = [threading.Thread(target=push, args=(i,), daemon=True) for i in range(n_streams)]
    for t in pushers:
        t.start()
    assert wait_for(lambda: len(in_node.connections()) == 1, IO_TIMEOUT)
    shared = in_node.connections()[0].worker
    time.sleep(2.0)  # the target reads nothing: queues fill, back-pressure must hold the clients
    assert [c.worker for c in in_node.connections()] == [shared], "the shared connection was closed while backed up"
    target.open_gate()
    for t in pushers:
        t.join(scaled(60))
    assert not errors, f"{len(errors)} clients failed, first: {errors[0]!r}"
    assert wait_for(lambda: len(target.results) == n_streams, IO_TIMEOUT), f"{len(target.results)} streams ended"
    want = sorted((per_stream, hashlib.sha256(d).hexdigest()) for d in data)
    assert sorted(target.results) == want, "a stream lost or changed bytes"
    assert [c.worker for c in in_node.connections()] == [shared], "the shared connection was replaced"


def test_slow_reader_keeps_node_memory_bounded(cleanup):
    """A target flooding for 10 s to a client reading 1 MiB/s grows no node process's RSS by more than 64 MiB, and nothing is lost."""
    flood_seconds, read_rate = 10.0, MiB
    base = pattern(MiB, seed=5)
    block = base + base[:65536]  # block[x + MiB] == block[x]: the stream is base repeated
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(30)
    cleanup.callback(lsock.close)
    sent = [0]
    flood_error: List[BaseException] = []
    flood_done = threading.Event()

    def flood() -> None:
        try:
            conn, _ = lsock.accept()
            with conn:
                conn.settimeout(0.2)
                end = time.monotonic() + flood_seconds
                view = memoryview(block)
                while time.monotonic() < end:
                    off = sent[0] % MiB
                    try:
                        sent[0] += conn.send(view[off:off + 65536])
                    except socket.timeout:
                        pass
        except BaseException as e:
            flood_error.append(e)
        finally:
            flood_done.set()

    outlet_proc = NodeProcess("outlet", f"127.0.0.1:{lsock.getsockname()[1]}")
    cleanup.callback(outlet_proc.stop)
    inlet_proc = NodeProcess("inlet", f"/ip4/127.0.0.1/tcp/{outlet_proc.port}/service/outlet")
    cleanup.callback(inlet_proc.stop)
    procs = {"inlet": inlet_proc, "outlet": outlet_proc}
    baseline = {k: p.rss_kib() for k, p in procs.items()}
    peak = dict(baseline)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            for k, p in procs.items():
                with contextlib.suppress(OSError, AssertionError):
                    peak[k] = max(peak[k], p.rss_kib())
            time.sleep(0.05)

    threading.Thread(target=flood, daemon=True).start()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cleanup.callback(sampling.set)

    sock = connect(inlet_proc.port, timeout=30)
    cleanup.callback(sock.close)
    received = 0
    mismatch_at: Optional[int] = None

    def take(chunk: bytes) -> None:
        nonlocal received, mismatch_at
        if mismatch_at is None and not matches_periodic(chunk, received, base):
            mismatch_at = received
        received += len(chunk)

    t0 = time.monotonic()
    while not flood_done.is_set():  # read at ~1 MiB/s while the target floods
        allowed = int((time.monotonic() - t0) * read_rate) - received
        if allowed <= 0:
            time.sleep(0.01)
            continue
        chunk = sock.recv(min(allowed, 65536))
        assert chunk, f"portal closed after {received} bytes while the target was still sending"
        take(chunk)
    slow_phase = time.monotonic() - t0
    in_flight = sent[0] - received
    while True:  # then drain the rest at full speed: every byte arrives, in order
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        take(chunk)
    sampling.set()
    sampler.join(2)
    growth = {k: (peak[k] - baseline[k]) / 1024 for k in procs}
    figure(
        f"slow reader: {slow_phase:.1f} s at 1 MiB/s, target sent {sent[0] / MiB:.1f} MiB, "
        f"{in_flight / MiB:.1f} MiB in flight when it stopped; max RSS growth inlet node "
        f"{growth['inlet']:.1f} MiB (baseline {baseline['inlet'] / 1024:.1f} MiB), outlet node "
        f"{growth['outlet']:.1f} MiB (baseline {baseline['outlet'] / 1024:.1f} MiB)"
    )
    assert not flood_error, flood_error
    assert mismatch_at is None, f"data corrupted at offset {mismatch_at}"
    assert received == sent[0], f"client got {received} of {sent[0]} bytes"
    assert received >= 5 * MiB, f"the slow reader only got {received} bytes in {slow_phase:.1f} s"
    for k in procs:
        assert growth[k] < 64, f"{k} node RSS grew by {growth[k]:.1f} MiB under a slow reader"
    assert in_flight < 64 * MiB, f"{in_flight / MiB:.1f} MiB buffered between target and slow reader"


# --------------------------------------------------------------------------------------------
# 6. Raw wire: a spec-only peer speaking the Ockam TCP transport to a portal
#    (CBOR, BARE and framing from tests/wire_spec.py; spec 2.2, 2.3, 3.1)
# --------------------------------------------------------------------------------------------

def payload_msg(data: bytes) -> bytes:
    """Portal Payload as Rust sends it: 03 uleb(len) data, no counter (spec 6.1)."""
    return bytes([PAYLOAD]) + uleb(len(data)) + data


def parse_payload(msg: bytes) -> bytes:
    """The data of a Payload; asserts the exact Rust shape (no counter or trailing bytes)."""
    assert msg[:1] == bytes([PAYLOAD]), f"not a Payload: {msg[:8].hex(' ')}"
    n, shift, i = 0, 0, 1
    while True:
        b = msg[i]
        n |= (b & 0x7F) << shift
        shift += 7
        i += 1
        if not b & 0x80:
            break
    assert len(msg) == i + n, f"Payload of {n} data bytes has {len(msg) - i - n} extra bytes"
    return msg[i:]


class RawPeer:
    """One Ockam TCP transport connection, spoken by hand (spec 3.1): preamble, then frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(IO_TIMEOUT)
        exchange_preambles(sock)

    def send(self, onward: Route, ret: Route, payload: bytes) -> None:
        self.sock.sendall(message_frame(onward, ret, payload))

    def recv(self, timeout: float = IO_TIMEOUT) -> Optional[WireMessage]:
        """The next message that is not a heartbeat, or None if none arrives within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                first = self.sock.recv(1)
            except socket.timeout:
                return None
            finally:
                self.sock.settimeout(IO_TIMEOUT)
            if not first:
                raise AssertionError("node closed the transport connection")
            (length,) = struct.unpack(">I", first + read_exact(self.sock, 3))
            assert 0 < length <= MAX_MESSAGE_SIZE, f"implausible frame length {length}"
            msg = decode_message(read_exact(self.sock, length))
            if msg.onward:
                return msg

    def recv_for(self, addr: bytes, timeout: float = IO_TIMEOUT) -> WireMessage:
        msg = self.recv(timeout)
        assert msg is not None, f"nothing arrived for {addr!r} within {timeout} s"
        assert msg.onward == [local(addr)], f"message for {msg.onward!r}, expected [0#{addr.decode()}]"
        return msg

    def assert_quiet(self, wait: float = QUIET_TIMEOUT) -> None:
        msg = self.recv(wait)
        assert msg is None, f"unexpected message: onward {msg.onward!r} payload {msg.payload[:16].hex(' ')}"

    def echo(self, text: str) -> None:
        """One echo round trip (spec 4): the node still serves this connection."""
        self.send([local("echo")], [local("app")], bare_string(text))
        msg = self.recv_for(b"app")
        assert msg.payload == bare_string(text) and msg.ret == [local("echo")]

    def close(self) -> None:
        self.sock.close()


def new_hex() -> bytes:
    return uuid.uuid4().hex.encode()


def test_own_portal_codec_reproduces_spec_6_3_frames():
    """The helpers of this file produce the spec's example Ping, Pong and Payload frames byte for byte (6.3)."""
    a, b = b"aa" * 16, b"bb" * 16
    assert message_frame([local("outlet")], [local(a)], bytes([PING])) == bytes.fromhex(
        "00 00 00 32 83 81 82 00 46") + b"outlet" + bytes.fromhex("81 82 00 58 20") + a + bytes.fromhex("41 00")
    assert message_frame([local(a)], [local(b)], bytes([PONG])) == bytes.fromhex(
        "00 00 00 4d 83 81 82 00 58 20") + a + bytes.fromhex("81 82 00 58 20") + b + bytes.fromhex("41 01")
    assert message_frame([local(b)], [local(a)], payload_msg(b"hi")) == bytes.fromhex(
        "00 00 00 50 83 81 82 00 58 20") + b + bytes.fromhex("81 82 00 58 20") + a + bytes.fromhex("44 03 02 68 69")
    assert parse_payload(payload_msg(b"x" * 300)) == b"x" * 300


@pytest.fixture
def raw_outlet(make_node, target, cleanup) -> Tuple[Node, Outlet, RecordingTarget, RawPeer]:
    """A node with an outlet at "outlet" to a recording target, and a raw peer connected to its listener."""
    node = make_node("raw-outlet")
    outlet = node.create_outlet(to=target.address, address="outlet")
    assert node.tcp_listener is not None
    peer = RawPeer(socket.create_connection(("127.0.0.1", node.tcp_listener.port), timeout=IO_TIMEOUT))
    cleanup.callback(peer.close)
    return node, outlet, target, peer


def rust_ping(peer: RawPeer, caps: int = 0) -> Tuple[bytes, bytes]:
    """Pings "outlet" as a Rust inlet does (bare 00; or 00 <caps> as ours do); returns (our address, the outlet worker's)."""
    s_in = new_hex()
    peer.send([local("outlet")], [local(s_in)], bytes([PING, caps]) if caps else bytes([PING]))
    pong = peer.recv_for(s_in)
    want = bytes([PONG, caps]) if caps else bytes([PONG])
    assert pong.payload == want, f"Pong is {pong.payload.hex(' ')}, expected {want.hex(' ')}"
    assert len(pong.ret) == 1 and pong.ret[0][0] == 0 and HEX32.match(pong.ret[0][1]), f"Pong came from {pong.ret!r}"
    return s_in, pong.ret[0][1]


def test_payload_sent_to_outlet_listener_gets_no_reply(raw_outlet):
    """A Payload (not a Ping) sent to "outlet" is ignored: no reply, no target connection, and the node still answers echo."""
    node, outlet, target, peer = raw_outlet
    peer.send([local("outlet")], [local("app")], payload_msg(b"hello"))
    peer.send([local("outlet")], [local("app")], bytes([PONG]))
    peer.send([local("outlet")], [local("app")], b"")
    peer.send([local("outlet")], [local("app")], bytes([0x09, 0x01]))
    peer.assert_quiet()
    assert target.conns == [] and outlet.stats().total == 0
    peer.echo("still alive")


def test_rust_style_ping_gets_bare_pong_and_data_flows(raw_outlet):
    """A bare Ping gets exactly Pong 01 from a 32-hex worker; data then flows both ways in plain Rust-shaped Payloads."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    assert outlet.stats().open == 1
    # raw -> target, including a 200 KiB Payload (spec 6.1: accept at least 128 KiB)
    big = os.urandom(200 * 1024)
    peer.send([local(s_out)], [local(s_in)], payload_msg(b"hello "))
    peer.send([local(s_out)], [local(s_in)], payload_msg(big))
    # an optional counter after the data (spec 6.1) is not part of the data
    peer.send([local(s_out)], [local(s_in)], payload_msg(b"!") + b"\x01\x00\x00")
    want = b"hello " + big + b"!"
    assert conn.wait_data(len(want)) == want
    # target -> raw: Payloads of at most 48 KiB, no counter, addressed to us from s_out
    down = os.urandom(300 * 1024)
    conn.send(down)
    got = bytearray()
    while len(got) < len(down):
        msg = peer.recv_for(s_in)
        assert msg.ret == [local(s_out)]
        assert msg.payload[0] == PAYLOAD, f"a Rust peer got portal message type {msg.payload[0]}"
        data = parse_payload(msg.payload)
        assert 0 < len(data) <= RUST_CHUNK, f"Payload of {len(data)} bytes to a Rust peer (max {RUST_CHUNK})"
        got += data
    assert bytes(got) == down
    # the target's EOF becomes a bare Disconnect 02 (6.4), never our 04 Eof
    conn.sock.shutdown(socket.SHUT_WR)
    msg = peer.recv_for(s_in)
    assert msg.payload == bytes([DISCONNECT]), f"EOF was reported to a Rust peer as {msg.payload.hex(' ')}"
    assert wait_for(lambda: outlet.stats().open == 0, 10), outlet.stats()
    assert conn.eof.wait(IO_TIMEOUT), "target socket not closed after the portal ended"
    peer.assert_quiet()
    peer.echo("after")


def test_disconnect_from_rust_peer_closes_target_socket(raw_outlet):
    """A Disconnect (02) from the inlet side closes the outlet's target socket (6.4)."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    peer.send([local(s_out)], [local(s_in)], payload_msg(b"last words"))
    peer.send([local(s_out)], [local(s_in)], bytes([DISCONNECT]))
    assert conn.eof.wait(IO_TIMEOUT), "target socket still open after Disconnect"
    assert bytes(conn.data) == b"last words"
    assert wait_for(lambda: outlet.stats().open == 0, 5), outlet.stats()
    peer.echo("after")


def test_disconnect_to_unknown_address_changes_nothing(raw_outlet):
    """A Disconnect sent to an unknown 32-hex address gets no reply, and an open portal connection keeps working."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    peer.send([local(new_hex())], [local(s_in)], bytes([DISCONNECT]))
    peer.assert_quiet()
    assert not conn.eof.is_set() and outlet.stats().open == 1
    peer.send([local(s_out)], [local(s_in)], payload_msg(b"ping?"))
    assert conn.wait_data(5) == b"ping?"
    conn.send(b"pong!")
    assert parse_payload(peer.recv_for(s_in).payload) == b"pong!"


def test_message_routed_through_a_portal_worker_is_ignored(raw_outlet):
    """A message whose onward route continues past a portal worker (to echo) is dropped, and the portal keeps working (6.3 item 6)."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    peer.send([local(s_out), local("echo")], [local("app")], bare_string("through"))
    peer.send([local(s_out), local("echo")], [local(s_in)], payload_msg(b"not for the target"))
    peer.assert_quiet()
    peer.send([local(s_out)], [local(s_in)], payload_msg(b"ok"))
    assert conn.wait_data(2) == b"ok"
    assert not conn.eof.is_set()


def only_disconnects(peer: RawPeer, s_in: bytes) -> None:
    """Whatever the node tells a failed portal connection's peer is a bare Disconnect, which a Rust inlet decodes."""
    while True:
        msg = peer.recv(QUIET_TIMEOUT)
        if msg is None:
            return
        assert msg.onward == [local(s_in)] and msg.payload == bytes([DISCONNECT]), (msg.onward, msg.payload.hex())


def test_unknown_portal_message_closes_only_that_connection(raw_outlet):
    """An unknown portal message type (09) closes that portal connection's target socket; another portal connection keeps working."""
    node, outlet, target, peer = raw_outlet
    s_in1, s_out1 = rust_ping(peer)
    s_in2, s_out2 = rust_ping(peer)
    assert s_out1 != s_out2
    conn1, conn2 = target.wait_conns(2)[:2]
    peer.send([local(s_out1)], [local(s_in1)], bytes([0x09, 0x00, 0x01]))
    assert conn1.eof.wait(IO_TIMEOUT), "target socket of the bad portal connection still open"
    only_disconnects(peer, s_in1)
    assert not conn2.eof.is_set()
    assert outlet.stats().open == 1, outlet.stats()
    peer.send([local(s_out2)], [local(s_in2)], payload_msg(b"second is fine"))
    assert conn2.wait_data(14) == b"second is fine"
    conn2.send(b"yes")
    msg = peer.recv_for(s_in2)
    assert msg.ret == [local(s_out2)] and parse_payload(msg.payload) == b"yes"
    peer.echo("after")


def test_malformed_payload_closes_only_that_connection(raw_outlet):
    """A Payload whose length prefix runs past the message closes that portal connection, not the transport connection."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    peer.send([local(s_out)], [local(s_in)], bytes([PAYLOAD]) + uleb(100) + b"short")
    assert conn.eof.wait(IO_TIMEOUT), "portal connection survived a truncated Payload"
    assert conn.data == b"", f"truncated Payload leaked {bytes(conn.data)!r} to the target"
    only_disconnects(peer, s_in)
    peer.echo("after")


def test_extension_caps_half_close_on_the_wire(raw_outlet):
    """Ping 00 01 (half-close only) gets Pong 01 01; the target's EOF becomes 04 and our 04 shuts the target's read side, with no Credit ever sent."""
    node, outlet, target, peer = raw_outlet
    s_in = new_hex()
    peer.send([local("outlet")], [local(s_in)], bytes([PING, 0x01]))
    pong = peer.recv_for(s_in)
    assert pong.payload == bytes([PONG, 0x01]), f"Pong is {pong.payload.hex(' ')}, expected 01 01"
    s_out = pong.ret[0][1]
    conn = target.wait_conns(1)[0]
    conn.send(b"abc")
    conn.sock.shutdown(socket.SHUT_WR)
    assert parse_payload(peer.recv_for(s_in).payload) == b"abc"
    assert peer.recv_for(s_in).payload == bytes([EOF_MSG]), "target EOF not sent as 04 Eof to a half-close peer"
    big = os.urandom(MiB)  # more than a credit grant's worth: no 05 may come back (no credit cap)
    for i in range(0, len(big), 128 * 1024):
        peer.send([local(s_out)], [local(s_in)], payload_msg(big[i:i + 128 * 1024]))
    assert conn.wait_data(len(big)) == big, "the other direction stopped after the target's half-close"
    peer.assert_quiet()
    assert outlet.stats().open == 1
    peer.send([local(s_out)], [local(s_in)], bytes([EOF_MSG]))
    assert conn.eof.wait(IO_TIMEOUT), "our 04 Eof did not reach the target as EOF"
    assert wait_for(lambda: outlet.stats().open == 0, 5), "portal connection not ended after both directions ended"
    peer.assert_quiet()


def test_extension_caps_credit_window_on_the_wire(raw_outlet, cleanup):
    """With the credit cap (Ping 00 03 -> Pong 01 03) the outlet sends no more than the 2 MiB window until credit (05) is granted."""
    node, outlet, target, peer = raw_outlet
    window = 2 * MiB  # OCK_PORTAL_WINDOW in csrc/codec/portal_msg.h
    s_in = new_hex()
    peer.send([local("outlet")], [local(s_in)], bytes([PING, 0x03]))
    pong = peer.recv_for(s_in)
    assert pong.payload == bytes([PONG, 0x03]), f"Pong is {pong.payload.hex(' ')}, expected 01 03"
    s_out = pong.ret[0][1]
    conn = target.wait_conns(1)[0]
    flood = os.urandom(16 * MiB)

    def send_flood() -> None:
        with contextlib.suppress(OSError):
            conn.sock.settimeout(60)
            conn.sock.sendall(flood)

    threading.Thread(target=send_flood, daemon=True).start()
    got = bytearray()

    def take_until_quiet() -> None:
        while True:
            msg = peer.recv(1.0)
            if msg is None:
                return
            assert msg.onward == [local(s_in)] and msg.payload[0] == PAYLOAD, msg.payload[:4].hex(" ")
            data = parse_payload(msg.payload)
            assert 0 < len(data) <= 256 * 1024
            got.extend(data)

    take_until_quiet()
    first = len(got)
    assert MiB <= first <= window, f"{first} bytes sent without credit (window {window})"
    peer.send([local(s_out)], [local(s_in)], bytes([CREDIT]) + uleb(512 * 1024))
    take_until_quiet()
    assert 0 < len(got) - first <= 512 * 1024, f"{len(got) - first} bytes after a 512 KiB grant"
    assert bytes(got) == flood[:len(got)]
    # the other way: the outlet grants credit for what it wrote to the target
    up = os.urandom(MiB)
    for i in range(0, len(up), 256 * 1024):
        peer.send([local(s_out)], [local(s_in)], payload_msg(up[i:i + 256 * 1024]))
    assert conn.wait_data(len(up)) == up
    granted = 0
    while True:
        msg = peer.recv(1.0)
        if msg is None:
            break
        if msg.payload[0] == CREDIT:
            n, shift, i = 0, 0, 1
            while True:
                b = msg.payload[i]
                n |= (b & 0x7F) << shift
                shift += 7
                i += 1
                if not b & 0x80:
                    break
            granted += n
    assert 512 * 1024 <= granted <= len(up), f"outlet granted {granted} bytes for {len(up)} written"
    # a grant beyond the window is a protocol error that ends only this portal connection
    peer.send([local(s_out)], [local(s_in)], bytes([CREDIT]) + uleb(4 * window))
    assert conn.eof.wait(IO_TIMEOUT), "over-granting peer did not end the portal connection"
    assert wait_for(lambda: outlet.stats().open == 0, 5)


def test_rust_peer_that_does_not_read_bounds_what_the_outlet_reads(raw_outlet, cleanup):
    """Without the credit cap, a peer that stops reading its transport connection makes the outlet stop reading its target; nothing is lost."""
    node, outlet, target, peer = raw_outlet
    s_in, s_out = rust_ping(peer)
    conn = target.wait_conns(1)[0]
    period = pattern(256 * 1024, seed=7)
    sent = [0]
    stop = threading.Event()

    def flood() -> None:
        conn.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                sent[0] += conn.sock.send(period[sent[0] % len(period):])
            except socket.timeout:
                continue
            except OSError:
                return
        conn.sock.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    cleanup.callback(stop.set)
    time.sleep(4.0)  # the peer reads nothing meanwhile
    stop.set()
    t.join(5)
    figure(f"peer not reading (no credit cap): target got {sent[0] / MiB:.1f} MiB into the outlet in 4 s")
    assert sent[0] < 48 * MiB, f"outlet kept reading its target: {sent[0] / MiB:.1f} MiB buffered for a stalled peer"
    got = 0
    ok = True
    while True:  # now read everything: all of it arrives, in order, then the Disconnect
        msg = peer.recv_for(s_in)
        if msg.payload == bytes([DISCONNECT]):
            break
        data = parse_payload(msg.payload)
        ok = ok and matches_periodic(data, got, period)
        got += len(data)
    assert got == sent[0], f"peer got {got} of {sent[0]} bytes"
    assert ok, "data from the target arrived corrupted or out of order"


def flood_rust_payloads(peer: RawPeer, to: bytes, frm: bytes, rss_kib: Callable[[], int],
                        total: int = 128 * MiB, seconds: float = 8.0) -> Tuple[int, float, bool]:
    """Sends 48 KiB Payloads as a Rust peer would, as fast as the node takes them.

    Returns (bytes pushed, peak RSS growth of the node process in MiB, whether the node
    stopped reading us for 2 s). The frame is built once.
    """
    frame_bytes = message_frame([local(to)], [local(frm)], payload_msg(pattern(RUST_CHUNK, seed=9)))
    base = peak = rss_kib()
    pushed, blocked = 0, False
    peer.sock.settimeout(2.0)
    end = time.monotonic() + seconds
    try:
        while pushed < total and time.monotonic() < end:
            peer.sock.sendall(frame_bytes)
            pushed += RUST_CHUNK
            if pushed % (4 * MiB) < RUST_CHUNK:
                peak = max(peak, rss_kib())
    except socket.timeout:
        blocked = True
    except OSError:
        pass  # the node closed the transport connection: also bounded
    finally:
        peer.sock.settimeout(IO_TIMEOUT)
    time.sleep(0.5)
    peak = max(peak, rss_kib())
    return pushed, (peak - base) / 1024, blocked


def test_inlet_memory_bounded_when_a_rust_outlet_floods_a_client_that_does_not_read(cleanup):
    """Without the credit cap (a Rust outlet), a client that does not read does not make the inlet's node buffer without bound."""
    raw = RawOutletNode()
    cleanup.callback(raw.close)
    inlet_proc = NodeProcess("inlet", f"/ip4/127.0.0.1/tcp/{raw.port}/service/outlet")
    cleanup.callback(inlet_proc.stop)
    client = connect(inlet_proc.port)  # never reads
    cleanup.callback(client.close)
    s_in = raw.next_ping()
    peer = raw.accept()
    s_out = new_hex()
    peer.send([local(s_in)], [local(s_out)], bytes([PONG]))
    pushed, growth, blocked = flood_rust_payloads(peer, s_in, s_out, inlet_proc.rss_kib)
    figure(
        f"Rust outlet -> inlet node process, client not reading: peer pushed {pushed / MiB:.0f} MiB "
        f"({'then was blocked' if blocked else 'without being blocked'}), inlet node RSS grew {growth:.0f} MiB"
    )
    assert growth < 64, (
        f"inlet node buffered {growth:.0f} MiB for a client that does not read "
        f"(the peer pushed {pushed / MiB:.0f} MiB and was never slowed down)"
    )


@pytest.mark.parametrize("caps", [0, 3], ids=["rust-peer", "peer-ignoring-its-credit"])
def test_outlet_memory_bounded_when_a_peer_floods_a_target_that_does_not_read(cleanup, caps):
    """A peer sending Payloads regardless of credit (a Rust inlet, or one that negotiated credit and ignores it) cannot make the outlet's node buffer without bound."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(IO_TIMEOUT)
    cleanup.callback(lsock.close)
    outlet_proc = NodeProcess("outlet", f"127.0.0.1:{lsock.getsockname()[1]}")
    cleanup.callback(outlet_proc.stop)
    peer = RawPeer(socket.create_connection(("127.0.0.1", outlet_proc.port), timeout=IO_TIMEOUT))
    cleanup.callback(peer.close)
    s_in, s_out = rust_ping(peer, caps)
    stalled, _ = lsock.accept()  # accepted, never read
    cleanup.callback(stalled.close)
    pushed, growth, blocked = flood_rust_payloads(peer, s_out, s_in, outlet_proc.rss_kib)
    figure(
        f"peer (caps {caps}) -> outlet node process, target not reading: peer pushed {pushed / MiB:.0f} MiB "
        f"({'then was blocked' if blocked else 'without being blocked'}), outlet node RSS grew {growth:.0f} MiB"
    )
    assert growth < 64, (
        f"outlet node buffered {growth:.0f} MiB for a target that does not read "
        f"(the peer pushed {pushed / MiB:.0f} MiB and was never slowed down)"
    )


class RawOutletNode:
    """A raw TCP listener standing in for a Rust outlet node: the inlet's node connects to it."""

    def __init__(self) -> None:
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(IO_TIMEOUT)
        self.port = self.lsock.getsockname()[1]
        self.peer: Optional[RawPeer] = None

    def accept(self) -> RawPeer:
        if self.peer is None:
            sock, _ = self.lsock.accept()
            self.peer = RawPeer(sock)
        return self.peer

    def next_ping(self) -> bytes:
        """Reads the inlet's Ping (6.3 item 2) and returns its sender address S_in."""
        peer = self.accept()
        msg = peer.recv()
        assert msg is not None, "no Ping from the inlet"
        assert msg.onward == [local("outlet")], f"Ping went to {msg.onward!r}"
        assert len(msg.ret) == 1 and msg.ret[0][0] == 0 and HEX32.match(msg.ret[0][1]), f"Ping return {msg.ret!r}"
        assert msg.payload[:1] == bytes([PING]) and len(msg.payload) <= 2, f"Ping is {msg.payload.hex(' ')}"
        return msg.ret[0][1]

    def close(self) -> None:
        if self.peer:
            self.peer.close()
        self.lsock.close()


@pytest.fixture
def raw_outlet_node(make_node, cleanup) -> Tuple[Inlet, RawOutletNode]:
    raw = RawOutletNode()
    cleanup.callback(raw.close)
    node = make_node("inlet-to-raw", listen=False)
    inlet = node.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{raw.port}/service/outlet")
    return inlet, raw


def test_inlet_speaks_plain_ockam_to_a_rust_outlet(raw_outlet_node, sockets):
    """Against an outlet that answers a bare Pong, the inlet sends <= 48 KiB Payloads, and a client's EOF becomes a bare Disconnect."""
    inlet, raw = raw_outlet_node
    client = sockets(connect(inlet.port))
    early = os.urandom(100 * 1024)
    client.sendall(early)  # sent before the Pong: waits in the kernel (6.3 item 4)
    s_in = raw.next_ping()
    peer = raw.accept()
    s_out = new_hex()
    peer.assert_quiet(0.3)  # nothing but the Ping before the Pong
    peer.send([local(s_in)], [local(s_out)], bytes([PONG]))
    got = bytearray()
    while len(got) < len(early):
        msg = peer.recv_for(s_out)
        assert msg.ret == [local(s_in)]
        data = parse_payload(msg.payload)
        assert 0 < len(data) <= RUST_CHUNK, f"Payload of {len(data)} bytes to a Rust outlet"
        got += data
    assert bytes(got) == early
    peer.send([local(s_in)], [local(s_out)], payload_msg(b"response"))
    assert recv_exact(client, 8) == b"response"
    client.shutdown(socket.SHUT_WR)
    msg = peer.recv_for(s_out)
    assert msg.payload == bytes([DISCONNECT]), f"client EOF sent to a Rust outlet as {msg.payload.hex(' ')}"
    took, _ = wait_closed(client, IO_TIMEOUT)
    assert took is not None, "client not closed after its EOF ended a portal to a Rust outlet"
    assert wait_for(lambda: inlet.stats().open == 0, 10), inlet.stats()


def test_inlet_closes_client_on_disconnect_instead_of_pong(raw_outlet_node, sockets):
    """A Disconnect in place of the Pong (our outlet's answer to a refused target) closes the client at once."""
    inlet, raw = raw_outlet_node
    client = sockets(connect(inlet.port))
    s_in = raw.next_ping()
    raw.accept().send([local(s_in)], [local(new_hex())], bytes([DISCONNECT]))
    took, data = wait_closed(client, 5)
    assert took is not None and took < 1.0 and data == b"", (took, data)


def test_inlet_drops_client_on_payload_before_pong(raw_outlet_node, sockets):
    """A Payload arriving before the Pong ends that portal connection without passing the data to the client."""
    inlet, raw = raw_outlet_node
    client = sockets(connect(inlet.port))
    s_in = raw.next_ping()
    raw.accept().send([local(s_in)], [local(new_hex())], payload_msg(b"too early"))
    took, data = wait_closed(client, 5)
    assert took is not None, "client kept open after a Payload before the Pong"
    assert data == b"", f"data from before the handshake reached the client: {data!r}"


def test_inlet_closes_client_when_no_pong_arrives(raw_outlet_node, sockets):
    """An outlet that never answers (Rust on a refused target, 6.5) leaves the client hanging only until the inlet's Pong timeout."""
    inlet, raw = raw_outlet_node
    client = sockets(connect(inlet.port))
    raw.next_ping()
    took, data = wait_closed(client, 20)
    figure(f"no Pong: inlet closed its client after {took if took is None else round(took, 2)} s")
    assert took is not None, "client still open 20 s after a Ping that got no Pong"
    assert data == b""
    assert wait_for(lambda: inlet.stats().open == 0, 5), inlet.stats()


# --------------------------------------------------------------------------------------------
# 7. Stats and close
# --------------------------------------------------------------------------------------------


def test_stats_count_connections_and_bytes(make_node, echo_server, sockets):
    """stats() counts open and total connections and bytes each way on both the inlet and the outlet."""
    _, _, inlet, outlet = one_hop(make_node, echo_server.address)
    assert inlet.stats() == outlet.stats() == type(inlet.stats())(0, 0, 0, 0)
    a = sockets(connect(inlet.port))
    a.sendall(b"x" * 10000)
    assert recv_exact(a, 10000) == b"x" * 10000
    b = sockets(connect(inlet.port))
    b.sendall(b"y" * 333)
    assert recv_exact(b, 333) == b"y" * 333
    assert wait_for(lambda: inlet.stats().bytes_in == 10333 and outlet.stats().bytes_in == 10333, 5)
    s, o = inlet.stats(), outlet.stats()
    assert (s.open, s.total, s.bytes_out, s.bytes_in) == (2, 2, 10333, 10333), s
    assert (o.open, o.total, o.bytes_out, o.bytes_in) == (2, 2, 10333, 10333), o
    a.close()
    assert wait_for(lambda: inlet.stats().open == 1 and outlet.stats().open == 1, 10), (inlet.stats(), outlet.stats())
    b.close()
    assert wait_for(lambda: inlet.stats().open == 0 and outlet.stats().open == 0, 10), (inlet.stats(), outlet.stats())
    assert inlet.stats().total == 2 and outlet.stats().total == 2
    assert [i.address for i in inlet.node.inlets()] == [inlet.address]
    assert [o.address for o in outlet.node.outlets()] == ["outlet"]


def test_inlet_close_refuses_new_clients_and_closes_open_ones(make_node, echo_server, sockets):
    """inlet.close() closes its listener (connect refused) and its open client connections; the outlet side ends too."""
    in_node, _, inlet, outlet = one_hop(make_node, echo_server.address)
    client = sockets(connect(inlet.port))
    client.sendall(b"hi")
    assert recv_exact(client, 2) == b"hi"
    t0 = time.monotonic()
    inlet.close()
    took, _ = wait_closed(client, 5)
    assert took is not None, "open client still connected 5 s after inlet.close()"
    figure(f"inlet.close(): open client closed after {(time.monotonic() - t0) * 1000:.0f} ms")

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", inlet.port), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True

    assert wait_for(refused, 5), "the inlet's port still accepts connections after close()"
    assert wait_for(lambda: outlet.stats().open == 0, 10), outlet.stats()
    assert in_node.inlets() == [] and inlet.stats().open == 0
    inlet.close()  # twice is fine


def test_outlet_close_ends_its_connections_and_new_clients_fail(make_node, echo_server, sockets):
    """outlet.close() ends its open portal connections, and new inlet clients are closed instead of hanging."""
    _, out_node, inlet, outlet = one_hop(make_node, echo_server.address)
    client = sockets(connect(inlet.port))
    client.sendall(b"hi")
    assert recv_exact(client, 2) == b"hi"
    outlet.close()
    took, _ = wait_closed(client, 5)
    assert took is not None, "client through a closed outlet still connected after 5 s"
    assert wait_for(lambda: inlet.stats().open == 0, 10), inlet.stats()
    assert out_node.outlets() == []
    t0 = time.monotonic()
    late = sockets(connect(inlet.port))
    took, data = wait_closed(late, 15)
    figure(f"outlet closed: a new inlet client was closed after {took if took is None else round(took, 2)} s")
    assert took is not None and data == b"", "a new client of an inlet whose outlet is gone hung for 15 s"
    assert time.monotonic() - t0 < 7.0
    assert echo_server.accepted == 1, "the closed outlet still connected to its target"


def test_inlet_and_outlet_can_be_made_again_after_close(make_node, echo_server, sockets):
    """After close(), an inlet can listen on the same port again and an outlet can take the same address again."""
    in_node, out_node, inlet, outlet = one_hop(make_node, echo_server.address)
    port = inlet.port
    inlet.close()
    outlet.close()
    outlet2 = out_node.create_outlet(to=echo_server.address, address="outlet")
    inlet2 = None
    deadline = time.monotonic() + 5
    while inlet2 is None:  # the old listener's close runs on the loop thread
        try:
            inlet2 = in_node.create_inlet(f"127.0.0.1:{port}", to=f"/node/{out_node.name}/service/outlet")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert inlet2.port == port
    client = sockets(connect(port))
    client.sendall(b"second life")
    assert recv_exact(client, 11) == b"second life"
    assert inlet2.stats().total == 1 and outlet2.stats().total == 1


def test_creation_errors_are_reported(make_node, cleanup):
    """Bad inlet/outlet arguments raise: port in use (OSError), bad target or taken address (ValueError), bad route, closed node."""
    node = make_node("errors")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    cleanup.callback(busy.close)
    with pytest.raises(OSError):
        node.create_inlet(f"127.0.0.1:{busy.getsockname()[1]}", to="/service/outlet")
    with pytest.raises(ValueError):
        node.create_outlet(to="no-port-here")
    with pytest.raises(ValueError):
        node.create_outlet(to="127.0.0.1:9", address="echo")  # the echo service lives there
    node.create_outlet(to="127.0.0.1:9", address="outlet")
    with pytest.raises(ValueError):
        node.create_outlet(to="127.0.0.1:9", address="outlet")
    with pytest.raises(Exception) as bad_route:
        node.create_inlet("127.0.0.1:0", to="/bogus/x")
    assert "bogus" in str(bad_route.value)
    assert node.inlets() == [] and [o.address for o in node.outlets()] == ["outlet"]
    node.close()
    with pytest.raises(Exception):
        node.create_inlet("127.0.0.1:0", to="/service/outlet")


def test_outlet_drops_a_slow_target_connect_when_the_inlet_gave_up(make_node, sockets, cleanup):
    """When the inlet gave up on a Pong (slow target connect), the outlet does not keep the target connection it makes later."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    cleanup.callback(lsock.close)
    port = lsock.getsockname()[1]
    fillers = []  # fill the accept queue: further SYNs are dropped and retried at 1, 3, 7 s
    for _ in range(8):
        f = socket.socket()
        f.settimeout(0.5)
        try:
            f.connect(("127.0.0.1", port))
        except (socket.timeout, OSError):
            f.close()
            break
        fillers.append(sockets(f))
    else:
        pytest.skip("could not fill the accept queue")
    filler_ports = {f.getsockname()[1] for f in fillers}
    _, _, inlet, outlet = one_hop(make_node, f"127.0.0.1:{port}")
    client = sockets(connect(inlet.port))
    took, _ = wait_closed(client, 15)
    assert took is not None, "inlet never gave up waiting for the Pong"
    if wait_for(lambda: outlet.stats().open == 0, 3):
        return  # the outlet abandoned its connect (its socket is closed: no late SYN can succeed)
    # the target gets round to accepting: the outlet's retried SYN now gets through
    lsock.settimeout(0.2)
    target_conn = None
    deadline = time.monotonic() + 12
    while target_conn is None and time.monotonic() < deadline:
        try:
            conn, peer = lsock.accept()
        except socket.timeout:
            continue
        sockets(conn)
        if peer[1] not in filler_ports:
            target_conn = conn
    if target_conn is None:
        assert outlet.stats().open == 0, "outlet still dialling its target for a client that is long gone"
        return
    closed_after, _ = wait_closed(target_conn, 3)
    assert closed_after is not None, (
        f"outlet keeps a target connection for a client the inlet closed {took:.1f} s after connecting "
        f"(outlet open={outlet.stats().open}, inlet open={inlet.stats().open})"
    )
    assert wait_for(lambda: outlet.stats().open == 0, 5), outlet.stats()


def test_node_close_with_live_portal_connections_does_not_hang(make_node, echo_server, sockets):
    """node.close() of the inlet and outlet nodes with live, busy portal connections returns within 3 s and closes the clients."""
    in_node, out_node, inlet, outlet = one_hop(make_node, echo_server.address)
    clients = [sockets(connect(inlet.port)) for _ in range(20)]
    for c in clients:
        c.sendall(b"z" * 1000)
    for c in clients:
        assert recv_exact(c, 1000) == b"z" * 1000
    for c in clients[:10]:  # some with data in flight, nobody reading the echo
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.send(os.urandom(4 * MiB))
        c.setblocking(True)
    t0 = time.monotonic()
    out_node.close()
    t_out = time.monotonic() - t0
    t0 = time.monotonic()
    in_node.close()
    t_in = time.monotonic() - t0
    figure(f"node.close() with 20 live portal connections: outlet node {t_out * 1000:.0f} ms, inlet node {t_in * 1000:.0f} ms")
    assert t_out < 3.0 and t_in < 3.0, (t_out, t_in)
    for i, c in enumerate(clients):
        took, _ = wait_closed(c, 5)
        assert took is not None, f"client {i} still connected after both nodes closed"
    assert inlet.stats().open == 0 and outlet.stats().open == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", inlet.port), timeout=2).close()


# --------------------------------------------------------------------------------------------
# 8. The path under a portal goes away
# --------------------------------------------------------------------------------------------


def test_outlet_node_killed_closes_inlet_clients(make_node, target, cleanup):
    """When the outlet node's process dies (its TCP connection drops), clients of the inlet are closed instead of hanging."""
    outlet_proc = NodeProcess("outlet", target.address)
    cleanup.callback(outlet_proc.stop)
    in_node = make_node("inlet-node", listen=False)
    inlet = in_node.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{outlet_proc.port}/service/outlet")
    client = connect(inlet.port)
    cleanup.callback(client.close)
    client.sendall(b"hello")
    conn = target.wait_conns(1)[0]
    assert conn.wait_data(5) == b"hello"
    conn.send(b"world")
    assert recv_exact(client, 5) == b"world"
    outlet_proc.proc.kill()
    outlet_proc.proc.wait(10)
    client.sendall(b"anyone there?")
    assert wait_for(lambda: in_node.connections() == [], 5), "inlet node kept its connection to a dead node"
    took, _ = wait_closed(client, 10)
    figure(f"outlet node killed: inlet client closed after {took if took is None else round(took, 2)} s")
    assert took is not None, "inlet client still open 10 s after the outlet node's connection dropped"
    assert wait_for(lambda: inlet.stats().open == 0, 5), inlet.stats()


def test_inlet_node_killed_closes_target_connections(make_node, target, cleanup):
    """When the inlet node's process dies, the outlet closes its target connection instead of keeping it forever."""
    out_node = make_node("outlet-node")
    outlet = out_node.create_outlet(to=target.address, address="outlet")
    assert out_node.tcp_listener is not None
    inlet_proc = NodeProcess("inlet", f"/ip4/127.0.0.1/tcp/{out_node.tcp_listener.port}/service/outlet")
    cleanup.callback(inlet_proc.stop)
    client = connect(inlet_proc.port)
    cleanup.callback(client.close)
    client.sendall(b"hello")
    conn = target.wait_conns(1)[0]
    assert conn.wait_data(5) == b"hello"
    inlet_proc.proc.kill()
    inlet_proc.proc.wait(10)
    assert wait_for(lambda: out_node.connections() == [], 5), "outlet node kept its connection to a dead node"
    t0 = time.monotonic()
    closed = conn.eof.wait(10)
    figure(f"inlet node killed: target connection closed {'after %.2f s' % (time.monotonic() - t0) if closed else 'never (10 s)'}")
    assert closed, "target connection still open 10 s after the inlet node's connection dropped"
    assert wait_for(lambda: outlet.stats().open == 0, 5), outlet.stats()


def test_close_connection_under_portal_ends_its_portal_connections(make_node, echo_server, sockets):
    """Closing the TCP connection a portal runs over (node.close_connection) ends the portal connections on it, on both nodes."""
    in_node, out_node, inlet, outlet = one_hop(make_node, echo_server.address)
    client = sockets(connect(inlet.port))
    client.sendall(b"hi")
    assert recv_exact(client, 2) == b"hi"
    [conn] = in_node.connections()
    in_node.close_connection(conn)
    took, _ = wait_closed(client, 10)
    assert took is not None, "client still open 10 s after the connection under its portal was closed"
    assert wait_for(lambda: inlet.stats().open == 0 and outlet.stats().open == 0, 10), (inlet.stats(), outlet.stats())
    # and a new client gets a new connection and works
    again = sockets(connect(inlet.port))
    again.sendall(b"again")
    assert recv_exact(again, 5) == b"again"


def test_outlet_node_behind_relay_killed_closes_inlet_clients(make_node, target, cleanup):
    """In the walkthrough's shape, when n3 (outlet behind the relay) dies, clients of n1's inlet are closed instead of hanging."""
    n2 = make_node("n2")
    assert n2.tcp_listener is not None
    n3 = NodeProcess("relayed", target.address, n2.tcp_listener.address)
    cleanup.callback(n3.stop)
    n1 = make_node("n1", listen=False)
    inlet = n1.create_inlet("127.0.0.1:0", to=f"/node/{n2.name}/service/forward_to_{n3.name}/service/hop/service/outlet")
    client = connect(inlet.port)
    cleanup.callback(client.close)
    client.sendall(b"hello")
    conn = target.wait_conns(1)[0]
    assert conn.wait_data(5) == b"hello"
    conn.send(b"world")
    assert recv_exact(client, 5) == b"world"
    assert n3.name in [e.name for e in n2.relay_service_entries()]
    n3.proc.kill()
    n3.proc.wait(10)
    assert wait_for(lambda: n3.name not in [e.name for e in n2.relay_service_entries()], 10), "relay entry stayed"
    client.sendall(b"anyone there?")
    # Ockam's inlet session notices a dead outlet node within 3 pings 10 s apart (spec 6.6)
    took, _ = wait_closed(client, 45)
    figure(f"outlet node behind relay killed: inlet client closed after {took if took is None else round(took, 2)} s")
    assert took is not None, "inlet client still open 45 s after the outlet node behind the relay died"
    assert wait_for(lambda: inlet.stats().open == 0, 5), inlet.stats()
