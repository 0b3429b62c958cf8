"""The paths measured: direct TCP, socat chains, ssh -R and the ockam_py portal paths.

Legs count TCP connections a byte crosses: direct is 1 leg; a chain of k
byte pumps is k+1 legs. Each path carries three targets side by side:
``iperf`` (an iperf3 server), ``echo`` (echo server) and ``once`` (echo one
request, then close), and exposes an entry port for each.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

from . import procs
from .procs import BenchError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("iperf", "echo", "once")


class LineReader:
    """Reads lines from a child's stdout fd with a timeout (no Python-side buffering)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def readline(self, timeout: float) -> Optional[str]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect(self, prefix: str, timeout: float, what: str, log: Optional[str] = None) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                tail = ""
                if log and os.path.exists(log):
                    with open(log, errors="replace") as f:
                        tail = f.read()[-2000:]
                raise BenchError(f"{what}: no {prefix!r} line (exit {self.proc.poll()}) {tail}")
            if line.startswith(prefix):
                return line[len(prefix):].strip()


class Path:
    name = ""
    legs = 1
    kind = "reference"  # reference | portal | secure portal | peer
    topology = ""

    def __init__(self) -> None:
        self.ports: Dict[str, int] = {}
        self.procs: List[subprocess.Popen] = []

    def start(self, targets: Dict[str, int]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        procs.stop_all(reversed(self.procs))
        self.procs = []
        self.ports = {}

    def diagnose(self) -> str:
        """What the path's own tools say about it when nothing comes back through it ('' when nothing)."""
        return ""

    def dead(self) -> List[str]:
        """The path's processes that have exited, each as 'program (pid N) exit CODE' (-N: signal N)."""
        return [f"{os.path.basename(str(p.args[0] if p.args[0] != 'taskset' else p.args[3]))} (pid {p.pid}) exit "
                f"{p.returncode}" for p in self.procs if p.poll() is not None]

    def all_pids(self) -> List[int]:
        """Every process of the path now (forked children included)."""
        return [pid for p in self.procs for pid in procs.tree(p.pid)]

    # CPU used by the forwarding processes (seconds), memory (bytes)
    def cpu(self) -> float:
        return 0.0

    def memory(self) -> int:
        return 0

    def settle(self) -> None:
        """Waits until per-connection helper processes are gone (socat's forks)."""


class Direct(Path):
    name = "direct"
    legs = 1

    def start(self, targets: Dict[str, int]) -> None:
        self.ports = dict(targets)


class SocatChain(Path):
    kind = "reference"

    def __init__(self, legs: int, fwd_cpus: Optional[str]) -> None:
        super().__init__()
        self.legs = legs
        self.name = f"socat {legs} legs"
        self.topology = f"{legs - 1} socat in a chain"
        self.fwd_cpus = fwd_cpus
        self.listeners: List[subprocess.Popen] = []

    def start(self, targets: Dict[str, int]) -> None:
        for label, target in targets.items():
            nxt = target
            for _ in range(self.legs - 1):
                port = procs.free_port()
                p = procs.spawn(
                    [
                        "socat",
                        "-b", "131072",
                        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay",
                        f"TCP:127.0.0.1:{nxt},nodelay",
                    ],
                    cpus=self.fwd_cpus,
                )
                self.procs.append(p)
                procs.wait_listening(port, proc=p)
                nxt = port
            self.ports[label] = nxt

    def cpu(self) -> float:
        # forked children are counted in their parent's cutime once reaped: settle() first
        live = [pid for p in self.procs for pid in procs.descendants(p.pid)]
        return procs.cpu_seconds([p.pid for p in self.procs], children=True) + procs.cpu_seconds(live)

    def settle(self) -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not any(procs.descendants(p.pid) for p in self.procs):
                return
            time.sleep(0.05)

    def memory(self) -> int:
        return sum(procs.pss_bytes(pid) for p in self.procs for pid in procs.tree(p.pid))


class SshR(Path):
    """iperf3 -> sshd's remote-forward listener -> ssh connection -> ssh client -> target: 3 legs."""

    name = "ssh -R"
    legs = 3
    topology = "sshd with the public port; ssh -R behind it dials out"

    def __init__(self, fwd_cpus: Optional[str], tmp: str) -> None:
        super().__init__()
        self.fwd_cpus = fwd_cpus
        self.dir = os.path.join(tmp, "sshd")
        self.sshd: Optional[subprocess.Popen] = None
        self.port = 0
        self.unavailable: Optional[str] = None

    def _setup_sshd(self) -> None:
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.path.exists(sshd) or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
            raise BenchError("sshd, ssh or ssh-keygen not installed")
        os.makedirs(self.dir, exist_ok=True)
        for key in ("host_key", "client_key"):
            path = os.path.join(self.dir, key)
            if not os.path.exists(path):
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(self.dir, "client_key.pub")) as f, open(os.path.join(self.dir, "authorized_keys"), "w") as g:
            g.write(f.read())
        os.chmod(os.path.join(self.dir, "authorized_keys"), 0o600)
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory Debian's sshd wants
        self.port = procs.free_port()
        conf = os.path.join(self.dir, "sshd_config")
        with open(conf, "w") as f:
            f.write(
                f"Port {self.port}\nListenAddress 127.0.0.1\n"
                f"HostKey {self.dir}/host_key\nPidFile {self.dir}/sshd.pid\n"
                f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowTcpForwarding yes\n"
                "GatewayPorts no\nMaxStartups 100\nMaxSessions 100\nUseDNS no\nLogLevel ERROR\n"
            )
        chk = subprocess.run([sshd, "-t", "-f", conf], capture_output=True, text=True)
        if chk.returncode != 0:
            raise BenchError(f"sshd -t: {chk.stderr.strip()}")
        log = open(os.path.join(self.dir, "sshd.log"), "w")
        self.sshd = procs.spawn([sshd, "-D", "-e", "-f", conf], cpus=self.fwd_cpus, stderr=log)
        log.close()
        procs.wait_listening(self.port, proc=self.sshd)

    def start(self, targets: Dict[str, int]) -> None:
        self.ports = {}
        try:
            if self.sshd is None or self.sshd.poll() is not None:
                self._setup_sshd()
            forwards = []
            for label, target in targets.items():
                port = procs.free_port()
                self.ports[label] = port
                forwards += ["-R", f"127.0.0.1:{port}:127.0.0.1:{target}"]
            log = open(os.path.join(self.dir, "ssh.log"), "w")
            p = procs.spawn(
                [
                    "ssh", "-N", "-F", "/dev/null", "-i", os.path.join(self.dir, "client_key"),
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
                    "-p", str(self.port), *forwards, "root@127.0.0.1",
                ],
                cpus=self.fwd_cpus, stderr=log,
            )
            log.close()
            self.procs.append(p)
            for port in self.ports.values():
                procs.wait_listening(port, timeout=15, proc=p)
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            tail = ""
            for name in ("sshd.log", "ssh.log"):
                path = os.path.join(self.dir, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        tail += f.read()[-500:]
            self.unavailable = f"{e} {tail}".strip()
            self.stop()
            raise BenchError(f"ssh -R unavailable: {self.unavailable}") from e

    def all_pids(self) -> List[int]:
        return self._pids()

    def _pids(self) -> List[int]:
        pids = [pid for p in self.procs for pid in procs.tree(p.pid)]
        if self.sshd is not None:
            pids += procs.tree(self.sshd.pid)
        return pids

    def cpu(self) -> float:
        return procs.cpu_seconds(self._pids())

    def memory(self) -> int:
        return sum(procs.pss_bytes(pid) for pid in self._pids())

    def shutdown(self) -> None:
        self.stop()
        if self.sshd is not None:
            procs.stop(self.sshd)
            self.sshd = None


class NodeProc:
    """One bench.node_proc child."""

    def __init__(self, args: List[str], cpus: Optional[str], log: str) -> None:
        self.log = log
        with open(log, "w") as f:
            self.proc = procs.spawn(
                [sys.executable, "-m", "bench.node_proc", *args],
                cpus=cpus, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=f, cwd=REPO,
            )
        self.reader = LineReader(self.proc)
        self.ready = json.loads(self.reader.expect("READY", 30, f"node {args[1]}", log))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stats(self) -> dict:
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.reader.expect("STATS", 10, "node stats", self.log))


class NodePath(Path):
    kind = "portal"

    def __init__(self, fwd_cpus: Optional[str], tmp: str) -> None:
        super().__init__()
        self.fwd_cpus = fwd_cpus
        self.tmp = tmp
        self.nodes: List[NodeProc] = []

    def _node(self, name: str, args: List[str]) -> NodeProc:
        n = NodeProc(["--name", name, *args], self.fwd_cpus, os.path.join(self.tmp, f"node-{name}-{len(self.nodes)}.log"))
        self.nodes.append(n)
        self.procs.append(n.proc)
        return n

    def stop(self) -> None:
        for n in self.nodes:
            try:
                n.proc.stdin.write("quit\n")
                n.proc.stdin.flush()
            except (OSError, ValueError):  # gone already, or closed by kill_all
                pass
        super().stop()
        self.nodes = []

    def cpu(self) -> float:
        return procs.cpu_seconds([n.pid for n in self.nodes])

    def memory(self) -> int:
        return sum(procs.rss_bytes(n.pid) for n in self.nodes)

    def open_connections(self) -> int:
        """Portal connections the first node's inlets have open now."""
        stats = self.nodes[0].stats()
        return sum(v["open"] for k, v in stats.items() if k.startswith("inlet:"))


class Portal1Hop(NodePath):
    """client -> inlet node -> outlet node -> server: 3 legs, 2 processes."""

    name = "portal 1-hop"
    legs = 3
    topology = "inlet node dials the outlet node"

    def start(self, targets: Dict[str, int]) -> None:
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        out = self._node("outlet", ["--listen", "127.0.0.1:0", *outlets])
        lp = out.ready["listen_port"]
        inlets = [f"--inlet={label}=/ip4/127.0.0.1/tcp/{lp}/service/o_{label}" for label in targets]
        inl = self._node("inlet", inlets)
        self.ports = dict(inl.ready["inlets"])
        # inlet first: open_connections() asks nodes[0]
        self.nodes.reverse()


class PortalUdpLeg(NodePath):
    """client -> inlet node -UDP-> outlet node -> server: the 1-hop portal with its
    middle leg over Ockam's UDP transport (docs/udp.md: paced at 64 datagrams per
    ms, Payloads of at most 7395 bytes), beside the TCP one."""

    name = "portal 1-hop, UDP leg"
    kind = "udp portal"  # best effort and paced: measured beside the TCP leg, held to no portal target
    legs = 3
    topology = "inlet node sends datagrams to the outlet node"

    def start(self, targets: Dict[str, int]) -> None:
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        out = self._node("outlet", ["--udp-listen", "127.0.0.1:0", *outlets])
        up = out.ready["udp_port"]
        inlets = [f"--inlet={label}=/ip4/127.0.0.1/udp/{up}/service/o_{label}" for label in targets]
        inl = self._node("inlet", ["--udp-listen", "127.0.0.1:0", *inlets])
        self.ports = dict(inl.ready["inlets"])
        self.nodes.reverse()  # inlet first: open_connections() asks nodes[0]


class RelayChain(NodePath):
    """client -> n1 inlet -> n2 relay -> n3 hop + outlet -> server: 4 legs, 3 processes."""

    name = "portal via relay"
    legs = 4
    topology = "the walkthrough: inlet n1 -> relay n2 -> hop + outlet n3"

    def start(self, targets: Dict[str, int]) -> None:
        n2 = self._node("n2", ["--listen", "127.0.0.1:0"])
        lp = n2.ready["listen_port"]
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        self._node("n3", ["--service", "hop", *outlets, "--relay", f"n3@127.0.0.1:{lp}"])
        inlets = [
            f"--inlet={label}=/ip4/127.0.0.1/tcp/{lp}/service/forward_to_n3/service/hop/service/o_{label}"
            for label in targets
        ]
        n1 = self._node("n1", inlets)
        self.ports = dict(n1.ready["inlets"])
        self.nodes.insert(0, self.nodes.pop())


class RelayInlet(NodePath):
    """client -> n2 (relay node) inlet -> n3 hop + outlet, dialled out to n2 -> server: 3 legs, 2 processes.

    The topology of the tunnels users compare with: the public port on the relay node, the service
    behind a node that only dials out."""

    name = "portal, inlet on relay"
    legs = 3
    topology = "inlet on the relay node n2, outlet on n3 behind it"

    def start(self, targets: Dict[str, int]) -> None:
        inlets = [f"--inlet={label}=/service/forward_to_n3/service/hop/service/o_{label}" for label in targets]
        n2 = self._node("n2", ["--listen", "127.0.0.1:0", *inlets])
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        self._node("n3", ["--service", "hop", *outlets, "--relay", f"n3@127.0.0.1:{n2.ready['listen_port']}"])
        self.ports = dict(n2.ready["inlets"])


class SecureNodePath(NodePath):
    """A portal path whose inlet reaches the outlet through a secure channel (``/secure/api`` in its route).

    The inlet node has an identity made beforehand, and the outlets allow only that identity, so
    every portal connection is carried end to end encrypted and checked as a deployment would run it.
    """

    kind = "secure portal"
    plain = ""  # the plaintext portal path with the same legs

    def _inlet_identity(self) -> tuple:
        path = os.path.join(self.tmp, f"inlet-{len(self.nodes)}-{time.monotonic_ns()}.identity")
        r = subprocess.run([sys.executable, "-m", "bench.node_proc", "--new-identity", path], cwd=REPO,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or not r.stdout.startswith("IDENTIFIER "):
            raise BenchError(f"node identity: {r.stderr.strip()[-300:]}")
        return path, r.stdout.split()[1]

    def secure_channels(self) -> int:
        """Secure channels the inlet node has open (one, shared by every inlet and connection)."""
        return int(self.nodes[0].stats().get("secure_channels", 0))


class SecurePortal1Hop(SecureNodePath):
    """client -> inlet node =(secure channel)=> outlet node -> server: 3 legs, 2 processes."""

    name = "secure portal 1-hop"
    plain = "portal 1-hop"
    legs = 3

    def start(self, targets: Dict[str, int]) -> None:
        ident, identifier = self._inlet_identity()
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        out = self._node("outlet", ["--listen", "127.0.0.1:0", "--allow", identifier, *outlets])
        lp = out.ready["listen_port"]
        inlets = [f"--inlet={label}=/ip4/127.0.0.1/tcp/{lp}/secure/api/service/o_{label}" for label in targets]
        inl = self._node("inlet", ["--identity", ident, *inlets])
        self.ports = dict(inl.ready["inlets"])
        self.nodes.reverse()


class SecureRelayChain(SecureNodePath):
    """client -> n1 inlet -> n2 relay -> n3 outlet -> server, n1 =(secure channel)=> n3 through n2's relay:
    4 legs, 3 processes; n2 forwards ciphertext."""

    name = "secure portal via relay"
    plain = "portal via relay"
    legs = 4

    def start(self, targets: Dict[str, int]) -> None:
        ident, identifier = self._inlet_identity()
        n2 = self._node("n2", ["--listen", "127.0.0.1:0"])
        lp = n2.ready["listen_port"]
        outlets = [f"--outlet=o_{label}=127.0.0.1:{port}" for label, port in targets.items()]
        self._node("n3", ["--allow", identifier, *outlets, "--relay", f"n3@127.0.0.1:{lp}"])
        inlets = [f"--inlet={label}=/ip4/127.0.0.1/tcp/{lp}/service/forward_to_n3/secure/api/service/o_{label}"
                  for label in targets]
        n1 = self._node("n1", ["--identity", ident, *inlets])
        self.ports = dict(n1.ready["inlets"])
        self.nodes.insert(0, self.nodes.pop())


class Handshakes:
    """Secure channel handshakes/s between two node processes: an initiator opens channels to the
    responder's ``api`` listener, one after another or N at a time, and closes each once open.
    Both processes pinned to the same CPU when ``cpu`` is given."""

    def __init__(self, cpu: Optional[int], tmp: str) -> None:
        self.cpu = cpu
        self.tmp = tmp

    def run(self, seconds: float, concurrencies: List[int]) -> dict:
        cpus = None if self.cpu is None else str(self.cpu)
        resp = init = None
        try:
            resp = NodeProc(["--name", "responder", "--listen", "127.0.0.1:0"], cpus,
                            os.path.join(self.tmp, "node-responder.log"))
            init = NodeProc(["--name", "initiator"], cpus, os.path.join(self.tmp, "node-initiator.log"))
            route = f"/ip4/127.0.0.1/tcp/{resp.ready['listen_port']}/service/api"
            pids = [init.pid, resp.pid]
            # warm-up: the TCP connection, the first handshakes
            self._one(init, route, 0.3, 1)
            runs = []
            for c in concurrencies:
                rss0 = sum(procs.rss_bytes(p) for p in pids)
                cpu0 = procs.cpu_seconds(pids)
                r = self._one(init, route, seconds, c)
                cpu = procs.cpu_seconds(pids) - cpu0
                r["cpu_s"] = cpu
                r["cpu_us_per_channel"] = cpu / r["channels"] * 1e6 if r["channels"] else None
                r["cpu_share"] = cpu / r["seconds"] if r["seconds"] else None
                r["rss_before"] = rss0
                r["rss_after"] = sum(procs.rss_bytes(p) for p in pids)
                r["responder_open_after"] = int(resp.stats().get("secure_channels", 0))
                runs.append(r)
            return {"placement": f"initiator and responder both on CPU {self.cpu}" if cpus else "unpinned",
                    "runs": runs}
        finally:
            for n in (init, resp):
                if n is None:
                    continue
                try:
                    n.proc.stdin.write("quit\n")
                    n.proc.stdin.flush()
                except (OSError, ValueError):
                    pass
                procs.stop(n.proc)

    @staticmethod
    def _one(node: "NodeProc", route: str, seconds: float, concurrency: int) -> dict:
        node.proc.stdin.write(f"handshakes {route} {seconds:g} {concurrency}\n")
        node.proc.stdin.flush()
        return json.loads(node.reader.expect("HANDSHAKES", seconds + 60, "handshakes", node.log))
