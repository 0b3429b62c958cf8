"""Features of the README and the docstrings that no other test file checks.

1. ``Node.set_limits`` — each limit is enforced as documented (README "Limits",
   ``Node.set_limits``, csrc/routing/limits.h) and hitting it closes only the
   offender: other connections of the node keep working. Already covered
   elsewhere, and not repeated here: ``max_connections`` and ``max_write_queue``
   (tests/test_hostile.py 6 and 5, set through ``set_limits`` in the node's
   process, with an echo probe on another connection), ``frame_timeout_ms`` on a
   frame once begun (test_hostile.py 2, slowloris) and on a peer that reads
   nothing (test_core_regressions.py), ``max_relays_per_connection`` at its
   default of 64 (test_relay.py).
2. ``Message.forward`` — a Python worker that forwards, and the reply coming back
   along the return route.
3. Routes of several hops through ``message_send``, as route text
   (``0#a => 1#b``) and in each multiaddr form the README lists.
4. ``examples/bridge.py`` (what ``./dev example`` runs) prints HELLO.
5. Building from source without libuv's headers stops with one line naming
   libuv1-dev.

Every test uses real sockets on 127.0.0.1; raw peers speak the wire format of
tests/wire_spec.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest

from conftest import scaled
from ockam_py import Message, Node, RouteError
from wire_spec import (
    assert_closed_by_node,
    assert_quiet,
    assert_reply,
    bare_string,
    check_echo,
    encode_message,
    frame,
    local,
    message_frame,
    open_conn,
    raw_connect,
    read_frame,
    read_message,
    read_preamble,
)

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

#: The limits the README documents, with their defaults.
DOCUMENTED_LIMITS = {
    "max_connections": 10000,
    "max_frame": 16 * MiB,
    "frame_timeout_ms": 30000,
    "max_route_hops": 32,
    "max_write_queue": 64 * MiB,
    "max_relays": 4096,
    "max_relays_per_connection": 64,
    "max_portal_connections": 10000,
    "udp_reassembly_timeout_ms": 5000,
    "udp_datagrams_per_ms": 64,
}


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def node_addr(node: Node) -> Tuple[str, int]:
    assert node.tcp_listener is not None
    return ("127.0.0.1", node.tcp_listener.port)


# --------------------------------------------------------------------------------------------
# 1. Limits
# --------------------------------------------------------------------------------------------


def test_limits_are_the_documented_ones_and_bad_values_are_refused(ockam_node) -> None:
    """node.limits() names exactly the README's limits with their defaults; set_limits changes one
    and leaves the others, and refuses an unknown name, zero, or max_frame above 16 MiB (ValueError)
    without changing anything."""
    node: Node = ockam_node("limits")
    assert node.limits() == DOCUMENTED_LIMITS
    node.set_limits(max_frame=4096, max_relays=7)
    assert node.limits() == {**DOCUMENTED_LIMITS, "max_frame": 4096, "max_relays": 7}
    for bad in ({"no_such_limit": 1}, {"max_route_hops": 0}, {"max_frame": 16 * MiB + 1}):
        with pytest.raises(ValueError):
            node.set_limits(**bad)
    assert node.limits() == {**DOCUMENTED_LIMITS, "max_frame": 4096, "max_relays": 7}


def _route_with(onward_len: int = 1, return_len: int = 1, payload: bytes = b"hi") -> bytes:
    """An echo request whose onward route has onward_len addresses (echo first: the rest is
    never looked at) and whose return route has return_len."""
    onward = [local("echo")] + [local(f"x{i}") for i in range(onward_len - 1)]
    ret = [local("app")] + [local(f"r{i}") for i in range(return_len - 1)]
    return message_frame(onward, ret, bare_string(payload))


def _echo_reply_ok(sock: socket.socket, request: bytes, payload: bytes = b"hi") -> None:
    sock.sendall(request)
    msg = read_message(sock)
    assert msg.ret == [local("echo")] and msg.payload == bare_string(payload), msg


def _offend_max_frame(node: Node, sock: socket.socket) -> None:
    node.set_limits(max_frame=1000)
    # a frame body of exactly max_frame bytes is answered
    body_at_limit = None
    for n in range(900, 1000):
        candidate = encode_message([local("echo")], [local("app")], bare_string(b"a" * n))
        if len(candidate) == 1000:
            body_at_limit, size = candidate, n
            break
    assert body_at_limit is not None
    sock.sendall(frame(body_at_limit))
    assert read_message(sock).payload == bare_string(b"a" * size)
    # one byte more is over it: the header alone closes the connection
    sock.sendall(frame(encode_message([local("echo")], [local("app")], bare_string(b"a" * (size + 1)))))


def _offend_onward_hops(node: Node, sock: socket.socket) -> None:
    node.set_limits(max_route_hops=4)
    _echo_reply_ok(sock, _route_with(onward_len=4))
    sock.sendall(_route_with(onward_len=5))


def _offend_return_hops(node: Node, sock: socket.socket) -> None:
    # documented: the return route counts with the receiving connection's address, so one
    # less than max_route_hops may arrive
    node.set_limits(max_route_hops=4)
    try:
        _echo_reply_ok(sock, _route_with(return_len=3))
    except AssertionError as e:
        raise AssertionError(f"a return route of max_route_hops - 1 (3) addresses was refused: {e}") from None
    sock.sendall(_route_with(return_len=4))


CONNECTION_LIMITS = {
    # case: (what the offender does on its open connection, what is set)
    "max_frame": _offend_max_frame,
    "max_route_hops-onward": _offend_onward_hops,
    "max_route_hops-return": _offend_return_hops,
}


@pytest.mark.parametrize("case", sorted(CONNECTION_LIMITS))
def test_connection_limit_closes_only_the_offender(ockam_node, case: str) -> None:
    """Within the limit the offender is answered; past it the node closes the offender's connection
    and sends it nothing more, while another connection of the node keeps being answered, and so
    does the node's own API."""
    node: Node = ockam_node("lim", listen=True)
    bystander = open_conn(node_addr(node))
    offender = open_conn(node_addr(node))
    try:
        check_echo(bystander, "before")
        CONNECTION_LIMITS[case](node, offender)
        assert_closed_by_node(offender)
        check_echo(bystander, "after")
        assert wait_for(lambda: len(node.connections()) == 1, scaled(5.0)), node.connections()
        assert node.message_send("still", to="/service/uppercase") == "STILL"
    finally:
        offender.close()
        bystander.close()


def test_frame_timeout_closes_a_peer_that_never_sends_its_preamble(ockam_node) -> None:
    """frame_timeout_ms also bounds the preamble: a peer that connects and says nothing is closed
    once it has passed; a connection that finished its preamble and its frames and then stays
    idle much longer is not (the clock only runs on something begun)."""
    node: Node = ockam_node("pre", listen=True)
    node.set_limits(frame_timeout_ms=500)
    bystander = open_conn(node_addr(node))
    silent = raw_connect(node_addr(node))
    try:
        check_echo(bystander, "before")
        read_preamble(silent)  # the node speaks first; the peer never answers
        silent.settimeout(scaled(5.0))
        t0 = time.monotonic()
        try:
            got = silent.recv(1)
        except ConnectionResetError:
            got = b""
        assert got == b"", f"the node sent {got!r} instead of closing"
        assert time.monotonic() - t0 >= 0.4, "closed before frame_timeout_ms had passed"
        time.sleep(1.0)  # the bystander has now been idle for twice frame_timeout_ms
        check_echo(bystander, "idle is fine")
        assert len(node.connections()) == 1
    finally:
        silent.close()
        bystander.close()


# ---- relays: a refused registration is only ignored -----------------------------------------


def _registration(name: str, main_remote: str) -> bytes:
    """Spec 5.2: onward [0#static_forwarding_service], return [0#<main_remote>], payload BARE name."""
    return message_frame([local("static_forwarding_service")], [local(main_remote)], bare_string(name))


def _register(sock: socket.socket, name: str) -> None:
    """Registers `name` over sock and checks the reply (spec 5.3)."""
    main_remote = uuid.uuid4().hex
    sock.sendall(_registration(name, main_remote))
    relay = f"forward_to_{name}"
    assert_reply(read_frame(sock), [local(main_remote)], [local(relay)], bare_string(relay))


def _refused(node: Node, sock: socket.socket, name: str) -> None:
    """A registration of `name` gets no reply and no relay, and sock stays open and answered."""
    sock.sendall(_registration(name, uuid.uuid4().hex))
    assert_quiet(sock)
    assert f"forward_to_{name}" not in [e.address for e in node.relay_service_entries()]
    check_echo(sock, "still open")


def _relay_delivers(node: Node, sock: socket.socket, name: str) -> None:
    """A message sent to forward_to_<name> comes out of the registrant's connection."""
    data = f"via {name}".encode()
    node.send(f"/service/forward_to_{name}/service/app", data, return_route=["0#nowhere"])
    msg = read_message(sock)
    assert msg.onward == [local("app")] and msg.payload == data, msg


def test_max_relays_refuses_only_the_registration_past_it(ockam_node) -> None:
    """With max_relays 2, a third relay (from a third connection) is refused: no reply, no relay,
    its connection stays open; the two relays keep forwarding, re-registering one of them (which
    replaces it) still works at the limit, and once one is gone a new one is accepted."""
    node: Node = ockam_node("relays", listen=True)
    node.set_limits(max_relays=2)
    stem = uuid.uuid4().hex[:8]
    a, b, c = (open_conn(node_addr(node)) for _ in range(3))
    try:
        _register(a, f"{stem}-a")
        _register(b, f"{stem}-b")
        _refused(node, c, f"{stem}-c")
        _relay_delivers(node, a, f"{stem}-a")
        _relay_delivers(node, b, f"{stem}-b")
        _register(a, f"{stem}-a")  # a second registration of a name replaces the first
        _relay_delivers(node, a, f"{stem}-a")
        b.close()  # a relay whose connection closed is removed: a slot is free
        assert wait_for(lambda: len(node.relay_service_entries()) == 1, scaled(5.0))
        _register(c, f"{stem}-c")
        _relay_delivers(node, c, f"{stem}-c")
        _relay_delivers(node, a, f"{stem}-a")
    finally:
        for s in (a, b, c):
            s.close()


def test_max_relays_per_connection_refuses_only_that_connection(ockam_node) -> None:
    """With max_relays_per_connection 2, a third name over one connection is refused (no reply,
    the connection stays open and its relays forward), while another connection still registers."""
    node: Node = ockam_node("perconn", listen=True)
    node.set_limits(max_relays_per_connection=2)
    stem = uuid.uuid4().hex[:8]
    a, b = open_conn(node_addr(node)), open_conn(node_addr(node))
    try:
        _register(a, f"{stem}-1")
        _register(a, f"{stem}-2")
        _refused(node, a, f"{stem}-3")
        _relay_delivers(node, a, f"{stem}-1")
        _relay_delivers(node, a, f"{stem}-2")
        _register(b, f"{stem}-b")
        _relay_delivers(node, b, f"{stem}-b")
        assert sorted(e.address for e in node.relay_service_entries()) == sorted(
            f"forward_to_{stem}-{x}" for x in ("1", "2", "b"))
    finally:
        a.close()
        b.close()


# ---- portals ---------------------------------------------------------------------------------


class EchoServer:
    """A TCP echo server on 127.0.0.1, one thread per client; stop() shuts everything and joins."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.clients: List[socket.socket] = []
        self.threads: List[threading.Thread] = []
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            with self.lock:
                self.clients.append(conn)
                self.threads.append(t)
            t.start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:  # the client is done: so is the server (stop() closes the socket)
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(data)
        except OSError:
            return

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.acceptor.join(5.0)
        with self.lock:
            for conn in self.clients:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threads = list(self.threads)
        for t in threads:
            t.join(5.0)
        with self.lock:
            for conn in self.clients:
                conn.close()
        self.sock.close()


def _portal_round_trip(sock: socket.socket, data: bytes) -> None:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(len(data) - len(got))
        assert chunk, f"portal closed after {got!r}"
        got += chunk
    assert got == data


def _portal_closed(sock: socket.socket) -> None:
    """The inlet closes this client without carrying anything (EOF or reset)."""
    sock.settimeout(scaled(10.0))
    try:
        sock.sendall(b"refused?")
        got = sock.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    assert got == b"", f"a portal connection past the limit carried data: {got!r}"


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("side", ["inlet", "outlet"])
def test_max_portal_connections_refuses_only_the_connection_past_it(ockam_node, echo_server, side: str) -> None:
    """With max_portal_connections 2 on the inlet's node (or on the outlet's), a third client of
    the inlet is closed without reaching the target; the two open ones keep carrying bytes, and
    once one of them closes a new client gets through."""
    outlet_node: Node = ockam_node("out", listen=True)
    inlet_node: Node = ockam_node("in")
    (inlet_node if side == "inlet" else outlet_node).set_limits(max_portal_connections=2)
    outlet_node.create_outlet(f"127.0.0.1:{echo_server.port}", address="outlet")
    inlet = inlet_node.create_inlet("127.0.0.1:0", to=f"/node/{outlet_node.name}/service/outlet")
    clients: List[socket.socket] = []

    def client() -> socket.socket:
        s = socket.create_connection(("127.0.0.1", inlet.port), timeout=scaled(10.0))
        clients.append(s)
        return s

    try:
        first, second = client(), client()
        _portal_round_trip(first, b"one")
        _portal_round_trip(second, b"two")
        _portal_closed(client())
        _portal_round_trip(first, b"one again")
        _portal_round_trip(second, b"two again")
        first.close()
        limited = inlet if side == "inlet" else outlet_node.outlets()[0]
        assert wait_for(lambda: limited.stats().open == 1, scaled(5.0)), limited.stats()
        _portal_round_trip(client(), b"three")
        _portal_round_trip(second, b"two at last")
    finally:
        for s in clients:
            s.close()


# --------------------------------------------------------------------------------------------
# 2. Message.forward
# --------------------------------------------------------------------------------------------


def test_python_worker_forwards_and_the_reply_comes_back_through_it(ockam_node) -> None:
    """A Python worker on n2 that forwards what it gets onward (a hop written in Python): n1's
    "hello" to n3's uppercase through it returns "HELLO", the request and the reply both pass the
    worker (it joined the return route), and the reply's last leg reaches n1."""
    n1: Node = ockam_node("n1")
    n2: Node = ockam_node("n2", listen=True)
    n3: Node = ockam_node("n3", listen=True)
    seen: List[Tuple[List[str], List[str]]] = []

    def hop(msg: Message) -> None:
        seen.append((list(msg.onward_route), list(msg.return_route)))
        msg.forward(msg.onward_route[1:])

    n2.start_worker("pyhop", hop)
    c12 = n1.connect_tcp(n2.tcp_listener.address)
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    assert n1.message_send("hello", to=f"{c12.address}/service/pyhop{c23.address}/service/uppercase") == "HELLO"
    assert len(seen) == 2, seen
    (req_on, req_ret), (rep_on, rep_ret) = seen
    assert req_on == ["0#pyhop", f"0#{c23.worker}", "0#uppercase"]
    # the reply retraces the return route: n2's connection from n1 comes next, then n1's caller
    assert rep_on[0] == "0#pyhop" and rep_on[1:] == req_ret, (seen, req_ret)
    assert rep_ret[-1] == "0#uppercase", rep_ret


def test_forward_to_a_fixed_service_with_the_reply_relayed_back(ockam_node) -> None:
    """A worker that forwards requests to a fixed route and replies on along their way back:
    message_send to it returns the service's answer, from the node itself and from another node
    over TCP."""
    n1: Node = ockam_node("n1")
    n2: Node = ockam_node("n2", listen=True)

    def proxy(msg: Message) -> None:
        if len(msg.onward_route) > 1:  # a reply on its way back through this worker
            msg.forward(msg.onward_route[1:])
        else:  # a request for this worker
            msg.forward("/service/uppercase")

    n2.start_worker("proxy", proxy)
    assert n2.message_send("local", to="/service/proxy") == "LOCAL"
    conn = n1.connect_tcp(n2.tcp_listener.address)
    assert n1.message_send("remote", to=f"{conn.address}/service/proxy") == "REMOTE"


# --------------------------------------------------------------------------------------------
# 3. Routes of several hops
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["text-worker", "text-tcp", "list", "worker", "ip4", "dnsaddr", "node"])
def test_route_of_several_hops_in_each_form(ockam_node, form: str) -> None:
    """n1 -> n2's hop -> n2's connection to n3 -> n3's uppercase, written as route text
    (``0#a => 0#b => ...``, with the first hop a connection or ``1#host:port``), as a list of
    addresses, and as multiaddrs starting with ``/worker``, ``/ip4``, ``/dnsaddr`` and ``/node``."""
    n1: Node = ockam_node("n1")
    n2: Node = ockam_node("n2", listen=True, services=("hop",))
    n3: Node = ockam_node("n3", listen=True)
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    p2 = n2.tcp_listener.port
    tail_text = f"0#hop => 0#{c23.worker} => 0#uppercase"
    tail_multi = f"/service/hop/worker/{c23.worker}/service/uppercase"
    if form in ("text-worker", "worker", "list"):
        c12 = n1.connect_tcp(n2.tcp_listener.address)
    route = {
        "text-worker": lambda: f"0#{c12.worker} => {tail_text}",
        "text-tcp": lambda: f"1#127.0.0.1:{p2} => {tail_text}",
        "list": lambda: [f"0#{c12.worker}", "0#hop", f"0#{c23.worker}", "0#uppercase"],
        "worker": lambda: f"{c12.address}{tail_multi}",
        "ip4": lambda: f"/ip4/127.0.0.1/tcp/{p2}{tail_multi}",
        "dnsaddr": lambda: f"/dnsaddr/localhost/tcp/{p2}{tail_multi}",
        "node": lambda: f"/node/{n2.name}{tail_multi}",
    }[form]()
    assert n1.message_send("hello", to=route) == "HELLO"
    assert n1.message_send("again", to=route) == "AGAIN"
    assert len(n1.connections()) == 1, n1.connections()  # a TCP hop is dialled once and reused


def test_route_text_tolerates_spaces_and_rejects_a_bad_hop(ockam_node) -> None:
    """Route text with uneven spacing around ``=>`` is read the same; a malformed address in the
    middle of it raises RouteError quoting that address."""
    n: Node = ockam_node("n", services=("hop",))
    assert n.message_send("hi", to="0#hop=>0#hop   =>  0#uppercase") == "HI"
    with pytest.raises(RouteError, match="x#y"):
        n.message_send("hi", to="0#hop => x#y => 0#uppercase", timeout=1.0)


# --------------------------------------------------------------------------------------------
# 4. ./dev example: examples/bridge.py prints HELLO
# --------------------------------------------------------------------------------------------


def test_bridge_example_prints_hello() -> None:
    """examples/bridge.py, which ``./dev example`` runs after installing, prints HELLO and exits 0."""
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "bridge.py")], capture_output=True, text=True,
                       timeout=60, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "HELLO\n", (r.stdout, r.stderr)


# --------------------------------------------------------------------------------------------
# 5. Building from source without libuv's headers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def source_copy() -> Iterator[Path]:
    """A copy of what a source build reads (setup.py, pyproject.toml, the package, csrc), so the
    build cannot touch this checkout or the installed package."""
    tmp = Path(tempfile.mkdtemp(prefix="ockam-py-src-"))
    try:
        src = tmp / "src"
        src.mkdir()
        for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "csrc", src / "csrc")
        shutil.copytree(ROOT / "ockam_py", src / "ockam_py",
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        yield src
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("how", ["pip install", "setup.py build_ext"])
def test_source_build_without_libuv_says_so_in_one_line(source_copy: Path, how: str) -> None:
    """With pkg-config seeing no libuv (PKG_CONFIG_LIBDIR and PKG_CONFIG_PATH on an empty
    directory), building fails, and one line of the output names libuv and the package to
    install (libuv1-dev); nothing is installed."""
    if not shutil.which("pkg-config"):
        pytest.fail("pkg-config is not installed: a source build needs it (apt-get install pkg-config)")
    empty = source_copy.parent / "empty"
    empty.mkdir()
    target = source_copy.parent / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PKG_CONFIG", "PIP_"))}
    env.update(PKG_CONFIG_LIBDIR=str(empty), PKG_CONFIG_PATH=str(empty), PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    assert subprocess.run(["pkg-config", "--exists", "libuv"], env=env).returncode != 0, "libuv is still visible"
    if how == "pip install":
        cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
               "--target", str(target), str(source_copy)]
    else:
        cmd = [sys.executable, "setup.py", "build_ext", "--build-lib", str(target)]
    r = subprocess.run(cmd, cwd=source_copy, env=env, capture_output=True, text=True, timeout=300)
    output = r.stdout + r.stderr
    assert r.returncode != 0, f"the build succeeded without libuv's headers:\n{output[-3000:]}"
    lines = [line.strip() for line in output.splitlines() if "libuv1-dev" in line]
    assert lines, f"no line names libuv1-dev:\n{output[-3000:]}"
    assert any(line.startswith("error:") and "libuv" in line.replace("libuv1-dev", "") for line in lines), lines
    built = [p.name for p in target.rglob("*")] if target.exists() else []
    assert not built, f"the failed build left files behind: {built}"
    assert "Traceback" not in output, output[-3000:]
