"""The relay across real separate hosts: three network namespaces made by this test.

    n1 (10.200.1.1) --veth-- n2 (10.200.1.2 | 10.200.2.2) --veth-- n3 (10.200.2.1)

n2 routes between the two subnets (ip_forward on, in n2's namespace only), so
n1 could reach n3 directly, but n3's namespace drops every incoming TCP
connection attempt (``iptables -A INPUT -p tcp --syn -j DROP``). The test
proves the firewall (a plain TCP connect from n1 into n3 connects before the
rule and times out after it), then runs one ockam_py node per namespace, each a
separate process (``ip netns exec NS python tests/netns_node.py ROLE``): n2
listens on 10.200.1.2:4000, n3 has no listener and registers relay "n3" at n2,
and n1 reaches n3's uppercase service, and echo through n3's hop, at
``/worker/<hex>/service/forward_to_n3/...``.

This needs root (CI runs as root). It never skips: without root, ``ip netns``
or a kernel that allows namespaces it fails with the reason. Only the
namespaces it creates (``ockpy-<pid>-n1/n2/n3``) and veths created directly
inside them are touched; the host's own interfaces and routes are not.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import pytest

import ockam_py

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "netns_node.py")
# The child processes import the very ockam_py this test imported.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ockam_py.__file__)))

NS_PREFIX = "ockpy-"
NS_PATTERN = re.compile(r"^ockpy-(\d+)-n[123]$")
PID = os.getpid()
NS = {role: f"{NS_PREFIX}{PID}-{role}" for role in ("n1", "n2", "n3")}

N1_ADDR, N2_ADDR_1 = "10.200.1.1", "10.200.1.2"  # n1 <-> n2
N3_ADDR, N2_ADDR_3 = "10.200.2.1", "10.200.2.2"  # n3 <-> n2
RELAY_AT = f"{N2_ADDR_1}:4000"
PROBE_PORT = 5000

CMD_TIMEOUT = 10.0  # every ip/iptables/ss call
READY_TIMEOUT = 15.0  # a node process printing READY (relay creation waits up to 10 s)
N1_TIMEOUT = 30.0  # n1's whole run: connect + two 10 s message_send at most
PROBE_CONNECT_TIMEOUT = 2.0  # the plain TCP connect of the firewall probe
APT_TIMEOUT = 300.0  # only when iptables has to be installed


def run(cmd: List[str], timeout: float = CMD_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
    """Runs cmd; with check, a non-zero exit fails the test with cmd, stdout and stderr."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        pytest.fail(f"cannot run {cmd[0]!r}: {exc}", pytrace=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (stdout {exc.stdout!r}, stderr {exc.stderr!r})", pytrace=False)
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}",
            pytrace=False,
        )
    return proc


def in_ns(role: str, *cmd: str) -> List[str]:
    return ["ip", "netns", "exec", NS[role], *cmd]


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def helper_cmd(role: str, helper_role: str, *args: str) -> List[str]:
    return in_ns(role, sys.executable, HELPER, helper_role, *args)


# --- processes --------------------------------------------------------------------------


@dataclass
class Child:
    """A long-running helper process inside a namespace, read line by line with deadlines."""

    name: str
    proc: subprocess.Popen
    stderr_file: "tempfile._TemporaryFileWrapper"
    lines: List[str] = field(default_factory=list)
    _buffer: bytes = b""

    def stderr(self) -> str:
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def read_line(self, timeout: float) -> Optional[str]:
        """The next stdout line, or None at EOF or when timeout passes first."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        text = line.decode("utf-8", "replace")
        self.lines.append(text)
        return text

    def wait_ready(self, timeout: float) -> str:
        """The READY line; fails the test (with the child's output) if it does not come in time."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                self.stop()
                pytest.fail(
                    f"{self.name} did not print READY within {timeout} s (exit {self.proc.returncode})\n"
                    f"stdout: {self.lines}\nstderr: {self.stderr()}",
                    pytrace=False,
                )
            if line.startswith("READY"):
                return line

    def stop(self, grace: float = 3.0) -> None:
        """Closes stdin (the helper then exits by itself), then SIGKILLs it if it lingers."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(grace)
        for stream in (self.proc.stdout, self.proc.stdin):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self.stderr_file.close()


class Children:
    def __init__(self) -> None:
        self.all: List[Child] = []

    def start(self, name: str, cmd: List[str]) -> Child:
        stderr_file = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file, env=child_env(), bufsize=0
        )
        child = Child(name, proc, stderr_file)
        self.all.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.all):
            child.stop()
        self.all.clear()


# --- namespaces ---------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_processes_in(ns: str) -> None:
    """SIGKILLs whatever still runs in ns (only processes of this test, or of a dead earlier run)."""
    proc = run(["ip", "netns", "pids", ns], check=False)
    for word in proc.stdout.split():
        if word.isdigit() and int(word) != PID:
            try:
                os.kill(int(word), signal.SIGKILL)
            except ProcessLookupError:
                pass


def netns_names() -> List[str]:
    proc = run(["ip", "netns", "list"])
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def delete_ns(ns: str) -> None:
    kill_processes_in(ns)
    run(["ip", "netns", "delete", ns], check=False)


def delete_leftovers() -> None:
    """Deletes ockpy-<pid>-nX namespaces of aborted runs (their pid is gone, or is ours)."""
    for ns in netns_names():
        m = NS_PATTERN.match(ns)
        if m and (int(m.group(1)) == PID or not pid_alive(int(m.group(1)))):
            delete_ns(ns)


def require_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test makes network namespaces and must run as root (CI runs it as root)", pytrace=False)
    for tool in ("ip", "ss"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool!r} is not installed (Debian: apt-get install iproute2)", pytrace=False)
    if shutil.which("iptables") is None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "iptables"]):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=APT_TIMEOUT, env=env)
            except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
                pytest.fail(f"iptables is missing and {' '.join(cmd)} failed: {exc}", pytrace=False)
            if proc.returncode != 0:
                pytest.fail(f"iptables is missing and {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}", pytrace=False)
        if shutil.which("iptables") is None:
            pytest.fail("iptables is still missing after apt-get install iptables", pytrace=False)


@dataclass
class Hosts:
    children: Children
    firewall_rules: str = ""
    probe_before: str = ""
    probe_after: str = ""


def probe(from_role: str, address: str) -> str:
    """A plain TCP connect from from_role's namespace: CONNECTED, TIMEOUT or ERROR <errno>."""
    proc = run(
        helper_cmd(from_role, "tcp-probe", address, str(PROBE_CONNECT_TIMEOUT)),
        timeout=PROBE_CONNECT_TIMEOUT + CMD_TIMEOUT,
        check=False,
    )
    out = proc.stdout.strip()
    if not out:
        pytest.fail(f"TCP probe from {from_role} to {address} printed nothing (exit {proc.returncode}): {proc.stderr}", pytrace=False)
    return out


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    """Three namespaces wired through n2, n3 firewalled (proved by probes), deleted at teardown."""
    require_tools()
    delete_leftovers()
    children = Children()
    hosts = Hosts(children)
    try:
        for role, ns in NS.items():
            proc = run(["ip", "netns", "add", ns], check=False)
            if proc.returncode != 0:
                pytest.fail(f"the kernel or ip refused 'ip netns add {ns}': {proc.stderr.strip()}", pytrace=False)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # veth pairs made directly inside the namespaces: nothing appears in the host's namespace.
        for side, (addr, n2_addr) in (("n1", (N1_ADDR, N2_ADDR_1)), ("n3", (N3_ADDR, N2_ADDR_3))):
            here, there = f"op{PID}{side[1]}a", f"op{PID}{side[1]}b"
            run(["ip", "link", "add", here, "netns", NS[side], "type", "veth", "peer", "name", there, "netns", NS["n2"]])
            run(["ip", "-n", NS[side], "addr", "add", f"{addr}/24", "dev", here])
            run(["ip", "-n", NS["n2"], "addr", "add", f"{n2_addr}/24", "dev", there])
            run(["ip", "-n", NS[side], "link", "set", here, "up"])
            run(["ip", "-n", NS["n2"], "link", "set", there, "up"])
            run(["ip", "-n", NS[side], "route", "add", "default", "via", n2_addr])
        # n2 routes between its subnets, so only n3's firewall keeps n1 from connecting to n3.
        run(in_ns("n2", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))

        # The firewall, proved: a listener in n3 is reachable from n1 before the rule and not after.
        listener = children.start("n3 tcp listener", helper_cmd("n3", "tcp-listen", f"{N3_ADDR}:{PROBE_PORT}"))
        listener.wait_ready(CMD_TIMEOUT)
        hosts.probe_before = probe("n1", f"{N3_ADDR}:{PROBE_PORT}")
        run(in_ns("n3", "iptables", "-A", "INPUT", "-p", "tcp", "--syn", "-j", "DROP"))
        hosts.firewall_rules = run(in_ns("n3", "iptables", "-S", "INPUT")).stdout
        hosts.probe_after = probe("n1", f"{N3_ADDR}:{PROBE_PORT}")
        listener.stop()
        children.all.remove(listener)

        yield hosts
    finally:
        children.stop_all()
        for ns in NS.values():
            delete_ns(ns)
        left = [ns for ns in netns_names() if ns in NS.values()]
        assert not left, f"namespaces left behind: {left}"


@dataclass
class Nodes:
    relay: Child
    n3: Child
    n3_ready: str


@pytest.fixture(scope="module")
def nodes(hosts: Hosts) -> Iterator[Nodes]:
    """n2 (relay node, listening) and n3 (no listener, relay "n3" up at n2), each its own process."""
    relay = hosts.children.start("n2 relay node", helper_cmd("n2", "relay", RELAY_AT))
    relay.wait_ready(READY_TIMEOUT)
    n3 = hosts.children.start("n3 node", helper_cmd("n3", "n3", RELAY_AT))
    n3_ready = n3.wait_ready(READY_TIMEOUT)
    yield Nodes(relay, n3, n3_ready)
    hosts.children.stop_all()


# --- tests ----------------------------------------------------------------------------------


def test_n3_namespace_drops_direct_connections(hosts: Hosts) -> None:
    assert "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP" in hosts.firewall_rules
    # Control: routing n1 -> n2 -> n3 works, so the failure after the rule is the firewall's.
    assert hosts.probe_before == "CONNECTED", f"n1 could not reach n3 even before the firewall: {hosts.probe_before}"
    # DROP: the SYN is swallowed, so the connect times out (not refused, not unreachable).
    assert hosts.probe_after == "TIMEOUT", f"n1 -> n3 direct connect with the firewall up: {hosts.probe_after}"


def test_n3_has_no_listener_and_its_relay_is_up(nodes: Nodes) -> None:
    assert nodes.n3_ready.split() == ["READY", "up", "listener=none", "route=/service/forward_to_n3"]
    listening = run(in_ns("n3", "ss", "-H", "-l", "-t", "-n")).stdout.strip()
    assert listening == "", f"n3's namespace has listening TCP sockets:\n{listening}"
    # n3's only TCP connection is the one it opened to the relay node.
    established = run(in_ns("n3", "ss", "-H", "-t", "-n", "state", "established")).stdout.split()
    assert f"{N3_ADDR}:" in " ".join(established) and RELAY_AT in established, established


def test_n1_reaches_n3_only_through_the_relay(nodes: Nodes) -> None:
    proc = run(in_ns("n1", sys.executable, HELPER, "n1", RELAY_AT), timeout=N1_TIMEOUT, check=False)
    out = proc.stdout.splitlines()
    detail = f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.returncode == 0, detail
    assert out[0].startswith("CONNECTION /worker/") and out[0].endswith(RELAY_AT), detail
    assert "UPPERCASE HELLO" in out, detail
    assert "ECHO ping" in out, detail
    assert nodes.relay.proc.poll() is None and nodes.n3.proc.poll() is None, "a node process died"
    # The firewall still holds while n3 is reachable through the relay.
    assert probe("n1", f"{N3_ADDR}:{PROBE_PORT}") == "TIMEOUT"


def test_child_processes_use_this_ockam_py(hosts: Hosts) -> None:
    code = "import ockam_py, os; print(os.path.dirname(os.path.abspath(ockam_py.__file__)))"
    proc = subprocess.run(
        in_ns("n1", sys.executable, "-c", code), capture_output=True, text=True, timeout=CMD_TIMEOUT, env=child_env()
    )
    assert proc.stdout.strip() == os.path.dirname(os.path.abspath(ockam_py.__file__)), proc.stderr
