"""Wire interop with a REAL Ockam node: the `ockam` CLI (ockam_command 0.139.0, Rust).

Contract: README.md ("a node of ours and an `ockam` node can talk"), ockam_py/node.py
(message_send, create_relay, create_outlet, create_inlet) and /work/shared/spec/ockam-wire.md
(sections 3-8; section 7: the Rust node must be unenrolled).

The binary is ``$OCKAM_BIN``, else ``ockam`` on PATH (ockam_command 0.139.0 builds from
crates.io). When there is none these tests are skipped, unless ``OCKAM_INTEROP`` is set
(e.g. ``OCKAM_INTEROP=1``): then they fail, so a run that is meant to check interop cannot pass
without it.

One Rust node ``rn`` runs for the module (``ockam node create --foreground``, started and stopped
here by pid), with its own ``OCKAM_HOME`` in a temporary folder, upgrade checks and telemetry
export off, no enrollment. Checks (all on 127.0.0.1):

a. ockam_py -> rn: ``uppercase`` answers HELLO, ``echo`` answers hello, 1 MiB raw echo intact.
b. ``ockam message send`` -> an ockam_py node: uppercase and echo; also ``--from rn``.
c. relays both ways: a Rust relay client (``ockam relay create --at <ours> --to /node/rn``) at an
   ockam_py relay node; an ockam_py relay client (``create_relay``) at rn, reached with
   ``ockam message send ... /node/rn/service/forward_to_<name>/...``.
d. portals both ways with ``python3 -m http.server`` behind the outlet: our outlet + Rust inlet
   (``ockam tcp-inlet create``), Rust outlet (``ockam tcp-outlet create``) + our inlet;
   ``HEAD /`` answers ``HTTP/1.0 200 OK`` and a 10 MiB file comes through bit-exact.
   Also through each other's relays with ``hop``, as the upstream docs do it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Iterator, List, Tuple

import pytest

from ockam_py import Node

BIG = 10 * 1024 * 1024
CLI_TIMEOUT = 30.0


# --------------------------------------------------------------------------------------------
# The binary, the Rust node, the HTTP server
# --------------------------------------------------------------------------------------------

def _ockam_bin() -> str:
    path = os.environ.get("OCKAM_BIN") or shutil.which("ockam") or ""
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    reason = (f"no ockam binary ({'OCKAM_BIN=' + path if path else 'set OCKAM_BIN or put ockam on PATH'}); "
              "interop with a real Ockam node not checked")
    if os.environ.get("OCKAM_INTEROP"):
        pytest.fail(f"OCKAM_INTEROP={os.environ['OCKAM_INTEROP']} but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


class Ockam:
    """Runs the ockam CLI with a private OCKAM_HOME; remembers what it ran for failure messages."""

    def __init__(self, binary: str, home: str) -> None:
        self.binary = binary
        self.home = home
        self.env = dict(os.environ, OCKAM_HOME=home, OCKAM_DISABLE_UPGRADE_CHECK="1",
                        OCKAM_OPENTELEMETRY_EXPORT="false", NO_COLOR="true", COLUMNS="200")
        self.env.pop("OCKAM_LOG_LEVEL", None)
        self.history: List[str] = []

    def run(self, *args: str, timeout: float = CLI_TIMEOUT) -> Tuple[int, str]:
        """(exit code, stdout + stderr). Output goes through files, not pipes: a node the CLI
        might leave behind would hold a pipe open and make the call hang."""
        out_path = os.path.join(self.home, "cli.out")
        with open(out_path, "w+") as out:
            try:
                rc = subprocess.run([self.binary, *args], env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = -1
            out.seek(0)
            text = out.read()
        self.history.append(f"$ ockam {' '.join(args)}  -> rc={rc}\n{text.strip()[-800:]}")
        return rc, text

    def ok(self, *args: str, timeout: float = CLI_TIMEOUT) -> str:
        rc, text = self.run(*args, timeout=timeout)
        assert rc == 0, f"`ockam {' '.join(args)}` failed (rc={rc}):\n{text}"
        return text

    def message_send(self, text: str, to: str, *extra: str) -> str:
        return self.ok("message", "send", text, "--to", to, "--timeout", "10s", *extra).strip()


class RustNode:
    def __init__(self, name: str, port: int, proc: "subprocess.Popen[bytes]", log: str) -> None:
        self.name, self.port, self.proc, self.log = name, port, proc, log

    def log_tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def ockam(tmp_path_factory: pytest.TempPathFactory) -> Ockam:
    binary = _ockam_bin()
    cli = Ockam(binary, str(tmp_path_factory.mktemp("ockam_home")))
    version = cli.ok("--version", timeout=10)
    assert "ockam" in version, version
    return cli


@pytest.fixture(scope="module")
def rn(ockam: Ockam) -> Iterator[RustNode]:
    """An unenrolled Rust node with a TCP listener, as `ockam node create rn` makes it."""
    name = _name("rn")
    port = _free_port()
    log = os.path.join(ockam.home, f"{name}.out")
    with open(log, "w") as out:
        proc = subprocess.Popen([ockam.binary, "node", "create", name, "--foreground",
                                 "--tcp-listener-address", f"127.0.0.1:{port}"],
                                env=ockam.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    node = RustNode(name, port, proc, log)
    try:
        # The port accepts connections ~40 ms before the node's services exist (its log: "TCP
        # listener at ..." before "node manager worker started"); a message that arrives then is
        # dropped, and a CLI request then waits out its 10 s timeout. `ockam node create`
        # without --foreground waits until the node is ready; so do we: until its uppercase
        # answers a probe from an ockam_py node within 0.5 s.
        if not _wait_port(port) or proc.poll() is not None:
            pytest.fail(f"ockam node {name} did not listen on 127.0.0.1:{port}:\n{node.log_tail()}")
        with Node(_name("probe")) as probe:
            end = time.monotonic() + 30
            while True:
                try:
                    if probe.message_send("ready?", to=f"/ip4/127.0.0.1/tcp/{port}/service/uppercase",
                                          timeout=0.5) == "READY?":
                        break
                except TimeoutError:
                    pass
                if proc.poll() is not None or time.monotonic() > end:
                    pytest.fail(f"ockam node {name} on 127.0.0.1:{port} did not answer in 30 s "
                                f"(exit code {proc.poll()}):\n{node.log_tail()}")
        info = json.loads(ockam.ok("node", "show", name, "--output", "json"))
        assert info.get("status") == "running", info
        yield node
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl+C does: the node stops cleanly
            try:
                proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class HttpServer:
    def __init__(self, root: str, port: int, proc: "subprocess.Popen[bytes]", sha: str) -> None:
        self.root, self.port, self.proc, self.sha = root, port, proc, sha

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """`python3 -m http.server` serving a 10 MiB random file, big.bin."""
    root = str(tmp_path_factory.mktemp("www"))
    data = os.urandom(BIG)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(data)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                             "--directory", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_port(port), "python3 -m http.server did not start"
        yield HttpServer(root, port, proc, hashlib.sha256(data).hexdigest())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def nodes() -> Iterator[List[Node]]:
    made: List[Node] = []
    yield made
    for node in made:
        node.close()


def _context(ockam: Ockam, rn: RustNode) -> str:
    return ("\n--- ockam commands of this module (last 8):\n" + "\n".join(ockam.history[-8:])
            + f"\n--- ockam node {rn.name} output (tail):\n{rn.log_tail()}")


# --------------------------------------------------------------------------------------------
# HTTP through a portal
# --------------------------------------------------------------------------------------------

def _head(port: int) -> str:
    """The status line of `curl --head` (http.client when curl is not installed)."""
    if shutil.which("curl"):
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--head", f"http://127.0.0.1:{port}/"],
                           capture_output=True, text=True, timeout=20)
        return p.stdout.splitlines()[0].strip() if p.stdout else f"curl rc={p.returncode}: {p.stderr.strip()}"
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("HEAD", "/")
        r = conn.getresponse()
        return f"HTTP/{r.version // 10}.{r.version % 10} {r.status} {r.reason}"
    except OSError as exc:
        return f"http.client: {exc!r}"
    finally:
        conn.close()


def _download_sha(port: int, dest: str) -> str:
    """sha256 of big.bin fetched through the portal (curl, or urllib without it)."""
    if shutil.which("curl"):
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "-o", dest, f"http://127.0.0.1:{port}/big.bin"],
                           capture_output=True, text=True, timeout=40)
        if p.returncode != 0:
            return f"curl rc={p.returncode}: {p.stderr.strip()}"
    else:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/big.bin", timeout=30) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    with open(dest, "rb") as f:
        data = f.read()
    return hashlib.sha256(data).hexdigest() + ("" if len(data) == BIG else f" ({len(data)} bytes)")


def _check_portal(port: int, http_server: HttpServer, tmp_path: "os.PathLike[str]", ctx: str) -> None:
    assert _wait_port(port), f"nothing listens on the inlet port {port}{ctx}"
    head = _head(port)
    assert head.startswith("HTTP/1.0 200"), f"HEAD / through the portal: {head!r}{ctx}"
    sha = _download_sha(port, os.path.join(str(tmp_path), "big.bin"))
    assert sha == http_server.sha, f"10 MiB through the portal: sha256 {sha}, expected {http_server.sha}{ctx}"


# --------------------------------------------------------------------------------------------
# a. ockam_py -> Rust node
# --------------------------------------------------------------------------------------------

def test_a_python_to_rust_uppercase_and_echo(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    n = Node(_name("py")); nodes.append(n)
    base = f"/ip4/127.0.0.1/tcp/{rn.port}"
    ctx = _context(ockam, rn)
    assert n.message_send("hello", to=f"{base}/service/uppercase") == "HELLO", ctx
    assert n.message_send("hello", to=f"{base}/service/echo") == "hello", ctx
    blob = os.urandom(1024 * 1024)
    assert n.message_send(blob, to=f"{base}/service/echo", raw=True, timeout=15) == blob, ctx


# --------------------------------------------------------------------------------------------
# b. ockam CLI -> ockam_py node
# --------------------------------------------------------------------------------------------

def test_b_cli_to_python_uppercase_and_echo(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    s = Node(_name("pyl"), tcp_listener_address="127.0.0.1:0"); nodes.append(s)
    assert s.tcp_listener is not None
    base = f"/ip4/127.0.0.1/tcp/{s.tcp_listener.port}"
    assert ockam.message_send("hello", f"{base}/service/uppercase") == "HELLO"
    assert ockam.message_send("hello", f"{base}/service/echo") == "hello"
    # the same from inside the Rust node (its node API makes the connection)
    assert ockam.message_send("hello", f"{base}/service/uppercase", "--from", rn.name) == "HELLO"


# --------------------------------------------------------------------------------------------
# c. relays, both ways
# --------------------------------------------------------------------------------------------

def test_c_rust_relay_client_at_python_relay_node(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    relay_node = Node(_name("prelay"), tcp_listener_address="127.0.0.1:0"); nodes.append(relay_node)
    assert relay_node.tcp_listener is not None
    rport = relay_node.tcp_listener.port
    name = _name("rr")
    out = ockam.ok("relay", "create", name, "--at", f"/ip4/127.0.0.1/tcp/{rport}", "--to", f"/node/{rn.name}")
    assert f"forward_to_{name}" in out, out
    ctx = _context(ockam, rn)
    entries = [e.address for e in relay_node.relay_service_entries()]
    assert f"forward_to_{name}" in entries, f"{entries}{ctx}"
    # on the relay node itself
    assert relay_node.message_send("hello", to=f"/service/forward_to_{name}/service/uppercase") == "HELLO", ctx
    # from another ockam_py node connected to it
    other = Node(_name("pyo")); nodes.append(other)
    via = f"/ip4/127.0.0.1/tcp/{rport}/service/forward_to_{name}"
    assert other.message_send("hello", to=f"{via}/service/uppercase") == "HELLO", ctx
    assert other.message_send("hello", to=f"{via}/service/echo") == "hello", ctx
    # and from the CLI
    assert ockam.message_send("hello", f"{via}/service/uppercase") == "HELLO"
    listing = ockam.ok("relay", "list", "--to", rn.name)
    assert name in listing and "Up" in listing, listing


def test_c_python_relay_client_at_rust_relay_node(ockam: Ockam, rn: RustNode, nodes: List[Node]) -> None:
    c = Node(_name("c")); nodes.append(c)
    name = _name("cc")
    relay = c.create_relay(name, at=f"127.0.0.1:{rn.port}")
    assert relay.status == "up"
    via = f"/node/{rn.name}/service/forward_to_{name}"
    assert ockam.message_send("hello", f"{via}/service/uppercase") == "HELLO"
    assert ockam.message_send("hello", f"{via}/service/echo") == "hello"
    other = Node(_name("pyo")); nodes.append(other)
    assert other.message_send(
        "hello", to=f"/ip4/127.0.0.1/tcp/{rn.port}/service/forward_to_{name}/service/uppercase"
    ) == "HELLO", _context(ockam, rn)
    relay.close()


# --------------------------------------------------------------------------------------------
# d. portals, both ways
# --------------------------------------------------------------------------------------------

def test_d_python_outlet_rust_inlet(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                    nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    po = Node(_name("po"), tcp_listener_address="127.0.0.1:0"); nodes.append(po)
    assert po.tcp_listener is not None
    outlet = po.create_outlet(http_server.address)
    port = _free_port()
    ockam.ok("tcp-inlet", "create", "--at", rn.name, "--from", f"127.0.0.1:{port}",
             "--to", f"/ip4/127.0.0.1/tcp/{po.tcp_listener.port}/service/outlet")
    _check_portal(port, http_server, tmp_path, _context(ockam, rn))
    stats = outlet.stats()
    assert stats.bytes_out >= BIG, stats


def test_d_rust_outlet_python_inlet(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                    nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    address = _name("outlet")
    ockam.ok("tcp-outlet", "create", "--at", rn.name, "--to", http_server.address, "--from", address)
    pi = Node(_name("pi")); nodes.append(pi)
    inlet = pi.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{rn.port}/service/{address}")
    _check_portal(inlet.port, http_server, tmp_path, _context(ockam, rn))


def test_d_python_outlet_behind_rust_relay(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                          nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    """ockam_py relay client + hop + outlet; relay node and inlet are Rust (the upstream docs' route)."""
    x = Node(_name("x")); nodes.append(x)
    x.start_service("hop")
    x.create_outlet(http_server.address)
    name = _name("xx")
    x.create_relay(name, at=f"127.0.0.1:{rn.port}")
    port = _free_port()
    ockam.ok("tcp-inlet", "create", "--at", rn.name, "--from", f"127.0.0.1:{port}",
             "--to", f"/node/{rn.name}/service/forward_to_{name}/service/hop/service/outlet")
    _check_portal(port, http_server, tmp_path, _context(ockam, rn))


def test_d_rust_outlet_behind_python_relay(ockam: Ockam, rn: RustNode, http_server: HttpServer,
                                          nodes: List[Node], tmp_path: "os.PathLike[str]") -> None:
    """Rust relay client + hop + outlet at an ockam_py relay node; ockam_py inlet."""
    relay_node = Node(_name("rel"), tcp_listener_address="127.0.0.1:0"); nodes.append(relay_node)
    assert relay_node.tcp_listener is not None
    hop = _name("hop")
    ockam.ok("service", "start", "hop", "--addr", hop, "--at", rn.name)  # before the relay: spec 7
    address = _name("outlet")
    ockam.ok("tcp-outlet", "create", "--at", rn.name, "--to", http_server.address, "--from", address)
    name = _name("rr")
    ockam.ok("relay", "create", name, "--at", f"/ip4/127.0.0.1/tcp/{relay_node.tcp_listener.port}",
             "--to", f"/node/{rn.name}")
    pj = Node(_name("pj")); nodes.append(pj)
    inlet = pj.create_inlet("127.0.0.1:0", to=f"/ip4/127.0.0.1/tcp/{relay_node.tcp_listener.port}"
                                            f"/service/forward_to_{name}/service/{hop}/service/{address}")
    _check_portal(inlet.port, http_server, tmp_path, _context(ockam, rn))
