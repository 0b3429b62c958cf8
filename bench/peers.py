"""The tunnels users would pick instead of ours, built from their registries and run as bench paths.

    PEERS            ockam (the Rust CLI, via ../shared/tools/build-ockam.sh), rathole and bore
                     (``cargo install`` into ~/.cache/bench-peers/<name>-<version>)
    build(peer)      the binary's path, building it first when it is not cached
    OckamPath        Ockam 0.139 nodes made with its CLI: 3 legs (inlet on the relay node) or the
                     walkthrough's 4 legs (inlet n1 -> relay n2 -> hop + outlet n3)
    RatholePath      rathole server (public ports) + client (dials out to it): 3 legs
    BorePath         bore server (public ports) + one ``bore local`` per target: 3 legs

Every peer process is a child of the bench (``procs.spawn``), pinned like our nodes, and killed
with them. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from . import procs
from .paths import REPO, Path
from .procs import BenchError

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "bench-peers")
OCKAM_VERSION = "0.139.0"
OCKAM_SCRIPT = os.path.join(os.path.dirname(REPO), "shared", "tools", "build-ockam.sh")
BUILD_TIMEOUT = 3600.0
NOTES = "build-notes.txt"  # beside bin/: how the cached binary was built, when not as pinned
TOKEN = "bench"  # rathole's per-service shared secret; the bench's ports are on 127.0.0.1 only
NOT_APPLICABLE_4_LEGS = ("a visitor connects straight to the server's public port: there is no inlet side "
                         "that reaches the public node over a connection of its own (the walkthrough's n1), so "
                         "its closest equivalent is its 3-leg path")


@dataclass(frozen=True)
class Peer:
    """A peer tunnel: the crate that provides it and the binary it installs."""

    name: str
    version: str
    crate: str
    binary: str
    cargo_args: Tuple[str, ...] = ()
    note: str = ""

    @property
    def root(self) -> str:
        return os.path.join(CACHE, f"{self.name}-{self.version}")

    @property
    def path(self) -> str:
        if self.name == "ockam":
            return os.environ.get("OCKAM_BIN") or os.path.join(os.path.expanduser("~"), ".cache",
                                                              f"ockam-{OCKAM_VERSION}", "bin", "ockam")
        return os.path.join(self.root, "bin", self.binary)


PEERS: Tuple[Peer, ...] = (
    Peer("ockam", OCKAM_VERSION, "ockam_command", "ockam", note="../shared/tools/build-ockam.sh"),
    # server and client only: the TLS and Noise transports (and hot reload) are not used over plain TCP
    Peer("rathole", "0.5.0", "rathole", "rathole", ("--no-default-features", "--features", "server,client")),
    Peer("bore", "0.6.0", "bore-cli", "bore"),
)


@dataclass
class Built:
    """What building a peer gave: its binary, or why there is none."""

    peer: Peer
    path: Optional[str] = None
    error: Optional[str] = None
    notes: List[str] = field(default_factory=list)
    version: str = ""

    def __repr__(self) -> str:
        return f"Built({self.peer.name} {self.peer.version}: {self.path or 'unavailable: ' + str(self.error)})"


def _cargo_install(peer: Peer, locked: bool, log: str) -> subprocess.CompletedProcess:
    cmd = ["nice", "-n", "10", "cargo", "install", "-j", "1", "--root", peer.root,
           "--target-dir", os.path.join(peer.root, "target"), *(("--locked",) if locked else ()),
           f"{peer.crate}@{peer.version}", *peer.cargo_args]
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, cwd=CACHE)


def _tail(log: str, n: int = 400) -> str:
    try:
        with open(log, errors="replace") as f:
            lines = [x for x in f.read().splitlines() if x.startswith("error")]
        return "; ".join(lines[:3])[:n]
    except OSError:
        return ""


def build(peer: Peer, say=print) -> Built:
    """The peer's binary, built first when missing (cargo at nice 10, one job; ockam with its script)."""
    out = Built(peer)
    if not os.access(peer.path, os.X_OK):
        os.makedirs(CACHE, exist_ok=True)
        log = os.path.join(CACHE, f"{peer.name}-{peer.version}.build.log")
        try:
            if peer.name == "ockam":
                if not os.path.exists(OCKAM_SCRIPT):
                    out.error = f"{OCKAM_SCRIPT} not found"
                    return out
                say(f"  building ockam {peer.version} with {OCKAM_SCRIPT} (15-30 minutes the first time; log {log})")
                with open(log, "a") as f:
                    subprocess.run(["nice", "-n", "10", "bash", OCKAM_SCRIPT], stdout=f, stderr=subprocess.STDOUT,
                                   timeout=BUILD_TIMEOUT, env=dict(os.environ, CARGO_BUILD_JOBS="1"))
            elif not shutil.which("cargo"):
                out.error = "cargo not found (install Rust: rustup, or apt-get install cargo)"
                return out
            else:
                say(f"  cargo install {peer.crate}@{peer.version} into {peer.root} (log {log})")
                if _cargo_install(peer, True, log).returncode != 0:
                    # a pinned dependency may no longer compile with today's rustc (rathole 0.5.0's
                    # lockfile has time 0.3.29): build against the newest compatible versions instead
                    say(f"  {peer.name}: the locked build failed ({_tail(log)}); trying without --locked")
                    if _cargo_install(peer, False, log).returncode == 0:
                        with open(os.path.join(peer.root, NOTES), "w") as f:
                            f.write("built without --locked: its lockfile's dependencies do not compile with "
                                    "this rustc\n")
        except (OSError, subprocess.TimeoutExpired) as e:
            out.error = f"build failed: {e}"
            return out
        if peer.name != "ockam" and os.path.isdir(os.path.join(peer.root, "target")):
            shutil.rmtree(os.path.join(peer.root, "target"), ignore_errors=True)
        if not os.access(peer.path, os.X_OK):
            out.error = f"did not build ({_tail(log) or 'see ' + log})"
            return out
    out.path = peer.path
    try:
        with open(os.path.join(peer.root, NOTES)) as f:
            out.notes += [x for x in f.read().splitlines() if x]
    except OSError:
        pass
    try:
        r = subprocess.run([peer.path, "--version"], capture_output=True, text=True, timeout=20)
        out.version = version_of(r.stdout + r.stderr)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


def version_of(text: str) -> str:
    """The first x.y.z in a ``--version`` output (rathole prints it on a "Build Version:" line)."""
    m = re.search(r"\b\d+\.\d+\.\d+\b", text)
    return m.group(0) if m else text.strip()[:60]


def probe_echo(port: int, timeout: float = 20.0) -> None:
    """Waits until a 64-byte message through ``port`` (the path to the echo target) comes back."""
    deadline = time.monotonic() + timeout
    last = ""
    msg = os.urandom(64)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(len(msg) - len(got))
                    if not chunk:
                        break
                    got += chunk
                if got == msg:
                    return
                last = f"got {len(got)} of 64 bytes back"
        except OSError as e:
            last = str(e)
        time.sleep(0.2)
    raise BenchError(f"nothing came back through 127.0.0.1:{port} in {timeout:g} s ({last})")


class PeerPath(Path):
    """A path through a peer's processes; CPU and memory are those of all of them."""

    kind = "peer"
    peer = ""  # PEERS name
    topology = ""

    def __init__(self, binary: str, fwd_cpus: Optional[str], tmp: str) -> None:
        super().__init__()
        self.binary = binary
        self.fwd_cpus = fwd_cpus
        self.dir = os.path.join(tmp, self.name.replace(" ", "-"))

    def _spawn(self, args: List[str], log: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        with open(os.path.join(self.dir, log), "w") as f:
            p = procs.spawn([self.binary, *args], cpus=self.fwd_cpus, stdout=f, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def _fail(self, e: Exception) -> BenchError:
        tail = ""
        for name in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []:
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    tail += f" [{name}: {f.read()[-300:].strip()}]"
        self.stop()
        return BenchError(f"{e}{tail}")

    def cpu(self) -> float:
        return procs.cpu_seconds(self.all_pids())

    def memory(self) -> int:
        return sum(procs.rss_bytes(pid) for pid in self.all_pids())


class OckamPath(PeerPath):
    """Ockam 0.139 nodes, each ``ockam node create NAME --foreground`` (a child of the bench), set up
    with the CLI as its docs do: n3 runs ``hop`` and the outlets and registers relay ``n3`` at n2.
    3 legs: the inlets are on n2, to ``/service/forward_to_n3/service/hop/service/OUTLET``.
    4 legs (the walkthrough): the inlets are on n1, to ``/node/n2/service/forward_to_n3/...``."""

    peer = "ockam"

    def __init__(self, legs: int, binary: str, fwd_cpus: Optional[str], tmp: str) -> None:
        self.legs = legs
        self.name = "ockam 3 legs" if legs == 3 else "ockam via relay"
        self.topology = ("inlet on the relay node n2, outlet on n3 behind it" if legs == 3 else
                         "the walkthrough: inlet n1 -> relay n2 -> hop + outlet n3")
        super().__init__(binary, fwd_cpus, tmp)
        self.env: Dict[str, str] = {}

    def cli(self, *args: str, timeout: float = 30.0) -> str:
        """Runs the ockam CLI (output through a file: a node must never hold a pipe of ours)."""
        out_path = os.path.join(self.dir, "cli.out")
        with open(out_path, "w+") as out:
            try:
                rc = subprocess.run([self.binary, *args], env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = -1
            out.seek(0)
            text = out.read()
        if rc != 0:
            raise BenchError(f"`ockam {' '.join(args)}` failed (exit {rc}): {text.strip()[-400:]}")
        return text

    def _node(self, name: str) -> int:
        port = procs.free_port()
        p = self._spawn(["node", "create", name, "--foreground", "--tcp-listener-address", f"127.0.0.1:{port}"],
                        f"node-{name}.log", env=self.env)
        procs.wait_listening(port, timeout=30, proc=p)
        deadline = time.monotonic() + 30
        while True:  # its services exist a little after its port: wait until the CLI sees it running
            try:
                if '"running"' in self.cli("node", "show", name, "--output", "json", timeout=10):
                    return port
            except BenchError:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise
            time.sleep(0.1)

    def start(self, targets: Dict[str, int]) -> None:
        home = os.path.join(self.dir, "home")
        os.makedirs(home, exist_ok=True)
        self.env = dict(os.environ, OCKAM_HOME=home, OCKAM_DISABLE_UPGRADE_CHECK="1",
                        OCKAM_OPENTELEMETRY_EXPORT="false", NO_COLOR="true")
        self.env.pop("OCKAM_LOG_LEVEL", None)
        try:
            self.cli("identity", "create")  # the nodes started next would race to make the default one
            self._node("n2")
            self._node("n3")
            self.cli("service", "start", "hop", "--at", "n3")
            for label, port in targets.items():
                self.cli("tcp-outlet", "create", "--at", "n3", "--from", f"o_{label}", "--to", f"127.0.0.1:{port}")
            self.cli("relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3")
            at, via = ("n2", "") if self.legs == 3 else ("n1", "/node/n2")
            if self.legs == 4:
                self._node("n1")
            for label in targets:
                port = procs.free_port()
                self.cli("tcp-inlet", "create", "--at", at, "--from", f"127.0.0.1:{port}", "--alias", label,
                         "--to", f"{via}/service/forward_to_n3/service/hop/service/o_{label}")
                procs.wait_listening(port, timeout=20)
                self.ports[label] = port
            probe_echo(self.ports["echo"])
        except (BenchError, OSError) as e:
            raise self._fail(e) from e

    def diagnose(self) -> str:
        try:
            relays = json.loads(self.cli("relay", "list", "--to", "n3", "--output", "json", timeout=15))
            inlets = json.loads(self.cli("tcp-inlet", "list", "--at", "n2" if self.legs == 3 else "n1", "--output",
                                         "json", timeout=15))
        except (BenchError, ValueError) as e:
            return f"ockam: {e}"
        return ("relay n3: " + ", ".join(str(r.get("connection_status")) for r in relays) + "; inlets: "
                + ", ".join(f"{i.get('alias')} {i.get('status')}" for i in inlets))

    def stop(self) -> None:
        if self.procs and self.env:
            try:
                self.cli("node", "delete", "--all", "--yes", timeout=20)
            except BenchError:
                pass
        super().stop()


def rathole_configs(control: int, services: Dict[str, Tuple[int, int]]) -> Tuple[str, str]:
    """(server.toml, client.toml): ``services`` maps a name to (public port, local target port)."""
    server = [f'[server]\nbind_addr = "127.0.0.1:{control}"\n',
              '[server.transport]\ntype = "tcp"\n', "[server.transport.tcp]\nnodelay = true\n"]
    client = [f'[client]\nremote_addr = "127.0.0.1:{control}"\n',
              '[client.transport]\ntype = "tcp"\n', "[client.transport.tcp]\nnodelay = true\n"]
    for name, (public, local) in services.items():
        server.append(f'[server.services.{name}]\ntoken = "{TOKEN}"\nbind_addr = "127.0.0.1:{public}"\n'
                      "nodelay = true\n")
        client.append(f'[client.services.{name}]\ntoken = "{TOKEN}"\nlocal_addr = "127.0.0.1:{local}"\n'
                      "nodelay = true\n")
    return "\n".join(server), "\n".join(client)


class RatholePath(PeerPath):
    """visitor -> rathole server (public port) -> client (dialled out to the server) -> target: 3 legs."""

    peer = "rathole"
    name = "rathole"
    legs = 3
    topology = "server with the public ports; client behind it dials out"

    def start(self, targets: Dict[str, int]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        control = procs.free_port()
        services = {label: (procs.free_port(), port) for label, port in targets.items()}
        server, client = rathole_configs(control, services)
        for name, text in (("server.toml", server), ("client.toml", client)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        try:
            s = self._spawn(["--server", os.path.join(self.dir, "server.toml")], "server.log")
            procs.wait_listening(control, proc=s)
            c = self._spawn(["--client", os.path.join(self.dir, "client.toml")], "client.log")
            for label, (public, _) in services.items():
                procs.wait_listening(public, timeout=20, proc=c)
                self.ports[label] = public
            probe_echo(self.ports["echo"])
        except (BenchError, OSError) as e:
            raise self._fail(e) from e


class BorePath(PeerPath):
    """visitor -> bore server (public port) -> ``bore local`` (a new connection to the server for each
    visitor) -> target: 3 legs. bore's control port is fixed (7835); one ``bore local`` per target."""

    peer = "bore"
    name = "bore"
    legs = 3
    topology = "bore server with the public ports; bore local behind it dials out"
    CONTROL_PORT = 7835

    def start(self, targets: Dict[str, int]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        if self.CONTROL_PORT in procs._listening_ports():
            raise BenchError(f"bore's control port {self.CONTROL_PORT} is taken by another process")
        try:
            s = self._spawn(["server", "--bind-addr", "127.0.0.1", "--bind-tunnels", "127.0.0.1",
                             "--min-port", "1024", "--max-port", "65535"], "server.log")
            procs.wait_listening(self.CONTROL_PORT, proc=s)
            for label, port in targets.items():
                public = procs.free_port()
                c = self._spawn(["local", str(port), "--local-host", "127.0.0.1", "--to", "127.0.0.1",
                                 "--port", str(public)], f"local-{label}.log")
                procs.wait_listening(public, timeout=20, proc=c)
                self.ports[label] = public
            probe_echo(self.ports["echo"])
        except (BenchError, OSError) as e:
            raise self._fail(e) from e
