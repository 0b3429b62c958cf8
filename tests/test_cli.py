"""The ``ockam-py`` command line: the seed walkthrough typed line by line, restarts, errors.

Every test gets a fresh ``$OCKAM_PY_HOME`` and deletes its nodes at the end.
The CLI runs as ``python -m ockam_py.cli`` so the tests do not depend on the
console script being (re)installed; ``test_console_script`` checks that one.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from ockam_py import cli
from ockam_py.daemon import NodeDir, node_names, pid_alive
from ockam_py.testing import free_port


class Cli:
    """Runs ``ockam-py`` with a private ``$OCKAM_PY_HOME``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "OCKAM_PY_HOME": str(home), "NO_COLOR": "1"}

    def run(self, *args: str, timeout: float = 60) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "ockam_py.cli", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str) -> str:
        """Runs a command that must succeed; returns its stdout."""
        r = self.run(*args)
        assert r.returncode == 0, f"ockam-py {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}"
        return r.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json"))

    def fails(self, *args: str) -> str:
        """Runs a command that must fail with a short error and no traceback; returns stderr."""
        r = self.run(*args)
        assert r.returncode != 0, f"ockam-py {' '.join(args)} succeeded: {r.stdout}"
        lines = r.stderr.strip().splitlines()
        assert 1 <= len(lines) <= 3, r.stderr
        assert "Traceback" not in r.stderr
        assert lines[0].startswith("error: "), r.stderr
        return r.stderr


@pytest.fixture
def ockam() -> Iterator[Cli]:
    # a short path: the control sockets' paths must fit in 108 bytes
    home = Path(tempfile.mkdtemp(prefix="ockam-py-"))
    c = Cli(home)
    try:
        yield c
    finally:
        pids = [p for p in (NodeDir(home, n).daemon_pid() for n in node_names(home)) if p]
        c.run("node", "delete", "--all", "--yes")
        for pid in pids:  # only if delete failed: never leave a daemon behind
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)




def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def head(port: int) -> str:
    """``curl --head`` (or http.client without curl): the status line."""
    if shutil.which("curl"):
        r = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "10", "--head", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=15)
        return r.stdout.splitlines()[0].strip() if r.stdout else r.stderr.strip()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", "/")
    resp = conn.getresponse()
    conn.close()
    return f"HTTP/{resp.version / 10:.1f} {resp.status} {resp.reason}"


@pytest.fixture
def http_server() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    try:
        wait_for(lambda: listening(port), what="http.server")
        yield port
    finally:
        proc.kill()
        proc.wait()


def test_walkthrough_restart_and_delete_all(ockam: Cli, http_server: int) -> None:
    p2, p6, p9 = free_port(), free_port(), http_server

    # the seed walkthrough, line by line
    ockam.ok("node", "create", "n2", f"--tcp-listener-address=127.0.0.1:{p2}")
    ockam.ok("node", "create", "n3")
    ockam.ok("service", "start", "hop", "--at", "n3")
    out = ockam.ok("relay", "create", "n3", "--at", "/node/n2", "--to", "/node/n3")
    assert out == "/service/forward_to_n3\n"  # stdout is no terminal: the value alone, as Ockam prints it
    ockam.ok("node", "create", "n1")
    worker = ockam.ok("tcp-connection", "create", "--from", "n1", "--to", f"127.0.0.1:{p2}").strip()
    assert re.fullmatch(r"/worker/[0-9a-f]{32}", worker), worker
    route = f"{worker}/service/forward_to_n3/service/uppercase"
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", route).strip() == "HELLO"
    ockam.ok("tcp-outlet", "create", "--at", "n3", "--from", "/service/outlet", "--to", f"127.0.0.1:{p9}")
    ockam.ok("tcp-inlet", "create", "--at", "n1", "--from", f"127.0.0.1:{p6}",
             "--to", "/node/n2/service/forward_to_n3/service/hop/service/outlet")
    assert head(p6) == "HTTP/1.0 200 OK"

    # a malformed route: a short error, a non-zero exit
    ockam.fails("message", "send", "hi", "--from", "n1", "--to", "/worker/zz/service")

    # lists for scripts
    nodes = {n["name"]: n for n in ockam.json("node", "list")}
    assert sorted(nodes) == ["n1", "n2", "n3"]
    assert all(n["status"] == "running" and pid_alive(n["pid"]) for n in nodes.values())
    assert nodes["n2"]["tcp_listener_address"] == f"127.0.0.1:{p2}"
    assert [c["address"] for c in ockam.json("tcp-connection", "list", "--at", "n1")] == [worker]
    assert [r["name"] for r in ockam.json("relay", "list", "--to", "n3")] == ["n3"]
    assert ockam.json("tcp-inlet", "list", "--at", "n1")[0]["bind_address"] == f"127.0.0.1:{p6}"
    assert oct(os.stat(NodeDir(ockam.home, "n1").socket).st_mode & 0o777) == "0o600"

    # a killed node shows as stopped; `node start` brings back its relay and outlet
    os.kill(nodes["n3"]["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(nodes["n3"]["pid"]), what="n3 to die")
    assert {n["name"]: n["status"] for n in ockam.json("node", "list")}["n3"] == "stopped"
    assert "stopped" in ockam.ok("node", "list")
    ockam.ok("node", "start", "n3")
    wait_for(lambda: [r["status"] for r in ockam.json("relay", "list", "--to", "n3")] == ["up"], what="relay up")
    assert [o["to"] for o in ockam.json("tcp-outlet", "list", "--at", "n3")] == [f"127.0.0.1:{p9}"]
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", route).strip() == "HELLO"
    assert head(p6) == "HTTP/1.0 200 OK"

    # delete --all: no process, no listener, no state left
    pids = [n["pid"] for n in ockam.json("node", "list")]
    ports = [int(n["tcp_listener_address"].rsplit(":", 1)[1]) for n in ockam.json("node", "list")] + [p6]
    ockam.ok("node", "delete", "--all", "--yes")
    assert not [pid for pid in pids if pid_alive(pid)]
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert ockam.json("node", "list") == []


def test_errors_are_one_line(ockam: Cli) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert "address already in use" in ockam.fails("node", "create", "x", f"--tcp-listener-address=127.0.0.1:{port}")
    finally:
        taken.close()
    assert ockam.json("node", "list") == []  # a node that could not start is not kept
    assert "unknown node 'nope'" in ockam.fails("service", "start", "hop", "--at", "nope")
    ockam.ok("node", "create", "a")
    assert "unknown node 'nope'" in ockam.fails("message", "send", "hi", "--from", "a", "--to", "/node/nope/service/echo")
    assert "already exists" in ockam.fails("node", "create", "a")
    assert "no reply" in ockam.fails("message", "send", "hi", "--from", "a", "--to", "/service/none", "--timeout", "0.5")
    assert ockam.ok("message", "send", "hi", "--from", "a", "--to", "/node/a/service/echo").strip() == "hi"
    ockam.ok("node", "stop", "a")
    assert "not running" in ockam.fails("service", "start", "hop", "--at", "a")
    assert "Traceback" in ockam.run("service", "start", "hop", "--at", "a", "--verbose").stderr


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    commands: List[List[str]] = [[]] + [
        [group, *([sub] if sub else [])]
        for group, subs in {
            "node": ["", "create", "list", "show", "start", "stop", "delete", "logs", "default"],
            "service": ["", "start", "list"],
            "tcp-connection": ["", "create", "list", "delete"],
            "message": ["", "send"],
            "relay": ["", "create", "list", "delete"],
            "tcp-outlet": ["", "create", "list", "delete"],
            "tcp-inlet": ["", "create", "list", "delete"],
            "identity": ["", "create", "show", "list"],
            "secure-channel": ["", "create", "list", "show", "delete"],
            "secure-channel-listener": ["", "create", "list"],
        }.items()
        for sub in subs
    ]
    for args in commands:
        with pytest.raises(SystemExit) as exit_:
            cli.main([*args, "--help"])
        assert exit_.value.code == 0, args
        assert "usage: ockam-py" in capsys.readouterr().out


def test_console_script() -> None:
    scripts = {ep.name for ep in importlib.metadata.entry_points(group="console_scripts")}
    if "ockam-py" not in scripts:
        pytest.skip("ockam_py is not installed with its console script: pip install -e .")
    exe = shutil.which("ockam-py")
    assert exe, "ockam-py is not on PATH"
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "tcp-inlet" in r.stdout


# ---------------------------------------------------------------------------
# node show, node logs, node delete, node default


def test_node_show_logs_and_delete(ockam: Cli) -> None:
    """``node show`` tells status, pid, listener, route, services and log of a running node and of
    a stopped one; ``node logs`` prints the node's log (``--path`` where it is, ``-n N`` its last
    N lines); ``node delete NAME`` ends that node's process, its listener and its state, and only
    that node's."""
    p = free_port()
    ockam.ok("node", "create", "a", f"--tcp-listener-address=127.0.0.1:{p}")
    ockam.ok("node", "create", "b")
    ockam.ok("service", "start", "hop", "--at", "a")
    info = ockam.json("node", "show", "a")
    assert info["name"] == "a" and info["status"] == "running" and pid_alive(info["pid"])
    assert info["tcp_listener_address"] == f"127.0.0.1:{p}" and info["multiaddr"] == f"/ip4/127.0.0.1/tcp/{p}"
    assert {s["address"] for s in info["services"]} >= {"/service/echo", "/service/uppercase", "/service/hop"}
    text = ockam.ok("node", "show", "a").splitlines()
    assert text[0] == f"Node a (default): running (pid {info['pid']})", text
    assert f"  Route: /node/a → /ip4/127.0.0.1/tcp/{p}" in text
    assert any(line.startswith("  Services: ") and "/service/hop (hop)" in line for line in text), text
    log = NodeDir(ockam.home, "a").log_file
    assert f"  Log: {log}" in text

    # logs: what the file holds, its path, its tail
    assert ockam.ok("node", "logs", "a", "--path").strip() == str(log)
    lines = ockam.ok("node", "logs", "a").splitlines()
    assert lines == log.read_text().splitlines()[:len(lines)] and lines, lines
    assert any("node a started" in line for line in lines), lines
    assert ockam.ok("node", "logs", "a", "-n", "2").splitlines() == log.read_text().splitlines()[-2:]

    # a stopped node: show still answers, from its saved state
    ockam.ok("node", "stop", "a")
    stopped = ockam.json("node", "show", "a")
    assert stopped["status"] == "stopped" and stopped["pid"] is None
    assert "/service/hop" in {s["address"] for s in stopped["services"]}
    assert ockam.ok("node", "show", "a").splitlines()[0] == "Node a (default): stopped"
    assert ockam.ok("node", "logs", "a").strip(), "the log of a stopped node is still there"
    ockam.ok("node", "start", "a")

    # delete one node: its process, listener and state go; the other node stays
    pid_a = ockam.json("node", "show", "a")["pid"]
    pid_b = ockam.json("node", "show", "b")["pid"]
    assert ockam.ok("node", "delete", "a").strip() == "a"  # not a terminal: the name alone, as Ockam
    assert not pid_alive(pid_a)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p), timeout=2).close()
    assert not NodeDir(ockam.home, "a").path.exists()
    assert [n["name"] for n in ockam.json("node", "list")] == ["b"]
    assert pid_alive(pid_b) and ockam.json("node", "show", "b")["status"] == "running"
    assert ockam.ok("message", "send", "hi", "--from", "b", "--to", "/service/uppercase").strip() == "HI"
    assert "unknown node 'a'" in ockam.fails("node", "show", "a")
    # no name: the default node, as Ockam; "a" was the default and is gone
    assert "no node given and no default node" in ockam.fails("node", "delete")


def test_node_default(ockam: Cli) -> None:
    """The first node created is the default; ``node default NAME`` changes it and commands that
    name no node use it; an unknown name leaves it as it was; a deleted default is no longer named."""
    assert ockam.ok("node", "default").strip() == "No default node"
    ockam.ok("node", "create", "a")
    ockam.ok("node", "create", "b")
    assert ockam.ok("node", "default").strip() == "a"
    assert ockam.json("node", "default") == {"default": "a"}
    assert ockam.ok("node", "default", "b").strip() == "b"
    assert ockam.ok("node", "default").strip() == "b"
    assert {n["name"]: n["default"] for n in ockam.json("node", "list")} == {"a": False, "b": True}
    assert "b (default)" in ockam.ok("node", "list")
    ockam.ok("service", "start", "hop")  # no --at: the default node
    assert "/service/hop" in {s["address"] for s in ockam.json("node", "show", "b")["services"]}
    assert "/service/hop" not in {s["address"] for s in ockam.json("node", "show", "a")["services"]}
    assert "unknown node 'nope'" in ockam.fails("node", "default", "nope")
    assert ockam.ok("node", "default").strip() == "b"
    ockam.ok("node", "delete", "b")
    assert "b" not in ockam.ok("node", "default").split()


@pytest.mark.parametrize("command", [["node", "show"], ["node", "logs"], ["node", "delete"], ["node", "default"],
                                     ["node", "logs", "--path"]])
def test_node_commands_on_an_unknown_node(ockam: Cli, command: List[str]) -> None:
    """Naming a node that does not exist is one error line naming it (plus a hint), exit status 70
    as Ockam's, and changes nothing."""
    if command == ["node", "delete"]:
        ockam.ok("node", "create", "real")
    r = ockam.run(*command[:2], "nope", *command[2:])
    assert r.returncode == 70, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "error: unknown node 'nope'", r.stderr
    assert len(lines) <= 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""
    if command == ["node", "delete"]:
        assert [n["name"] for n in ockam.json("node", "list")] == ["real"]
