"""Child processes: start them in their own process groups, kill every one at the end.

Every process the bench starts goes through :func:`spawn`; :func:`kill_all`
(called from a ``finally``, ``atexit`` and the SIGINT/SIGTERM handlers) kills
each one's process group and any descendant that left it (sshd's sessions call
setsid), then reaps them.
"""

from __future__ import annotations

import atexit
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any, Dict, Iterable, List, Optional, Sequence, Union

Stream = Union[int, IO[Any], None]

_children: List[subprocess.Popen] = []

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(RuntimeError):
    pass


def raise_nofile(want: int = 20000) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def spawn(
    argv: Sequence[str],
    cpus: Optional[str] = None,
    stdin: Stream = subprocess.DEVNULL,
    stdout: Stream = subprocess.DEVNULL,
    stderr: Stream = subprocess.DEVNULL,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
) -> subprocess.Popen:
    """Starts argv in a new session (own process group), pinned to ``cpus`` if given."""
    cmd = list(argv)
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    p = subprocess.Popen(
        cmd, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd, start_new_session=True, text=True
    )
    _children.append(p)
    return p


def _ppid_map() -> Dict[int, List[int]]:
    kids: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid: int) -> List[int]:
    kids = _ppid_map()
    out: List[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def tree(pid: int) -> List[int]:
    return [pid, *descendants(pid)]


def _signal_tree(p: subprocess.Popen, sig: int) -> None:
    pids = tree(p.pid)
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop(p: subprocess.Popen, grace: float = 1.0) -> None:
    """Kills p's process group and its descendants: SIGTERM, then SIGKILL after grace."""
    if p.poll() is None:
        _signal_tree(p, signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # the group may outlive its leader (socat's forked children, sshd sessions)
    _signal_tree(p, signal.SIGKILL)
    try:
        p.wait(2)
    except subprocess.TimeoutExpired:
        pass
    for f in (p.stdin, p.stdout, p.stderr):
        try:
            if f:
                f.close()
        except OSError:
            pass
    if p in _children:
        _children.remove(p)


def stop_all(procs: Iterable[subprocess.Popen]) -> None:
    for p in list(procs):
        stop(p, grace=0.5)


def kill_all() -> None:
    for p in reversed(list(_children)):
        try:
            stop(p, grace=0.5)
        except Exception:  # noqa: BLE001 - cleaning up, keep going
            pass


def _on_signal(signum: int, _frame: object) -> None:
    print(f"\nsignal {signum}: stopping every child process", file=sys.stderr, flush=True)
    kill_all()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    atexit.register(kill_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


# ---- ports -----------------------------------------------------------------

_handed_out: set = set()


def free_port() -> int:
    """A free 127.0.0.1 port not handed out before in this run."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def _listening_ports() -> set:
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(port: int, timeout: float = 10.0, proc: Optional[subprocess.Popen] = None) -> None:
    """Waits until something listens on port, without connecting to it."""
    deadline = time.monotonic() + timeout
    while port not in _listening_ports():
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise BenchError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.02)


def set_affinity(pids: Iterable[int], cpus: set) -> None:
    """Moves every thread of each process to cpus (taskset -a -p)."""
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass


# ---- /proc readings ---------------------------------------------------------


def cpu_seconds(pids: Iterable[int], children: bool = False) -> float:
    """utime+stime of each process (all its threads); with children, plus reaped children's."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after ')': state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        total += int(fields[11]) + int(fields[12])
        if children:
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def listen_overflows() -> int:
    """TcpExt ListenOverflows from /proc/net/netstat (as `nstat -az TcpExtListenOverflows`)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for head, vals in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            names = head.split()[1:]
            values = vals.split()[1:]
            d = dict(zip(names, values))
            return int(d.get("ListenOverflows", 0))
    return 0
