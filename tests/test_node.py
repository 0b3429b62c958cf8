"""Tests of the Python Node API (ockam_py.Node and friends), against real sockets on 127.0.0.1.

The contract is the docstrings of ockam_py/node.py, ockam_py/__init__.py and
ockam_py/_runtime.py, examples/bridge.py, and /work/shared/spec/ockam-wire.md
sections 1.3, 3, 4, 7 and 8.2. No mocks: every test runs real nodes, and the
process-level tests run real interpreters (sys.executable).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Callable, Iterator, List

import pytest

import ockam_py
from ockam_py import Message, Node, NodeClosedError, RouteError, TcpConnection
from ockam_py.testing import free_port

WORKER_ADDRESS = re.compile(r"^/worker/[0-9a-f]{32}$")
SUBPROCESS_TIMEOUT = 10.0  # a hung child fails the test instead of hanging the suite


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_node() -> Iterator[Callable[..., Node]]:
    """make_node(prefix="n", listen=True) -> an open Node with a unique name, closed at teardown."""
    nodes: List[Node] = []

    def make(prefix: str = "n", listen: bool = True) -> Node:
        node = Node(unique(prefix), tcp_listener_address="127.0.0.1:0" if listen else None)
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        node.close()




def wait_for(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def run_python(code: str, timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# --------------------------------------------------------------------------------------------
# 1. The bridge (examples/bridge.py; spec 4 "hop", spec 7 flow control)
# --------------------------------------------------------------------------------------------


def test_bridge_through_hop_returns_uppercase(make_node):
    """n1 -> n2 (hop) -> n3 reaches n3's uppercase and returns HELLO, as the bridge walkthrough promises."""
    n1 = make_node("n1", listen=False)
    n2 = make_node("n2")
    n3 = make_node("n3")
    n2.start_service("hop")
    c12 = n1.connect_tcp(n2.tcp_listener.address)
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    route = f"{c12.address}/service/hop{c23.address}/service/uppercase"
    assert n1.message_send("hello", to=route) == "HELLO"


def test_bridge_without_hop_is_dropped_by_flow_control(make_node):
    """Without n2's hop the frame may not leave n2 (flow control), so message_send times out near its timeout."""
    n1 = make_node("n1", listen=False)
    n2 = make_node("n2")
    n3 = make_node("n3")
    n2.start_service("hop")
    c12 = n1.connect_tcp(n2.tcp_listener.address)
    c23 = n2.connect_tcp(n3.tcp_listener.address)
    route = f"{c12.address}{c23.address}/service/uppercase"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        n1.message_send("hello", to=route, timeout=1)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3.0, f"timeout=1 but message_send gave up after {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------
# 2. message_send to local services and through the TCP transport
# --------------------------------------------------------------------------------------------


def test_echo_str_returns_same_str(make_node):
    """A str sent to /service/echo comes back as the same str."""
    n = make_node()
    text = "hello, wörld ✓"
    reply = n.message_send(text, to="/service/echo")
    assert isinstance(reply, str)
    assert reply == text


def test_echo_bytes_returns_bytes(make_node):
    """bytes in -> bytes out: echo of a bytes payload returns the same bytes."""
    n = make_node()
    data = bytes(range(256))
    reply = n.message_send(data, to="/service/echo")
    assert isinstance(reply, bytes)
    assert reply == data


def test_echo_raw_sends_bytes_unencoded(make_node):
    """raw=True puts the bytes on the way unencoded (a worker sees them as they are) and echo returns them unchanged."""
    n = make_node()
    data = b"\x00\xff not BARE \x80"
    assert n.message_send(data, to="/service/echo", raw=True) == data

    seen: List[bytes] = []

    def handler(msg: Message) -> None:
        seen.append(msg.payload)
        msg.reply(msg.payload)

    n.start_worker("rawsink", handler)
    assert n.message_send(data, to="/service/rawsink", raw=True) == data
    assert seen == [data]


def test_route_as_list_of_addresses(make_node):
    """message_send accepts a route given as a list of "tt#address" strings, as documented."""
    n = make_node(listen=False)
    assert n.message_send("hi", to=["0#uppercase"]) == "HI"
    assert n.message_send("hi", to=["0#echo"]) == "hi"


@pytest.mark.parametrize("form", ["ip4", "node"])
def test_uppercase_through_tcp_multiaddr_reuses_connection(make_node, form):
    """/ip4/127.0.0.1/tcp/PORT/... and /node/<name>/... make the TCP hop themselves; a second call reuses the connection."""
    n1 = make_node("n1", listen=False)
    n2 = make_node("n2")
    target = f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}" if form == "ip4" else f"/node/{n2.name}"
    route = f"{target}/service/uppercase"
    assert n1.message_send("hello", to=route) == "HELLO"
    after_first = n1.connections()
    assert len(after_first) == 1 and after_first[0].outgoing, after_first
    assert n1.message_send("again", to=route) == "AGAIN"
    assert len(n1.connections()) == len(after_first), n1.connections()


# --------------------------------------------------------------------------------------------
# 3. Errors
# --------------------------------------------------------------------------------------------


def test_route_error_is_a_value_error_exported_by_the_package():
    """RouteError is importable from ockam_py and is a ValueError, so `except ValueError` catches it."""
    assert ockam_py.RouteError is RouteError
    assert issubclass(RouteError, ValueError)


@pytest.mark.parametrize(
    "route, offending",
    [
        ("/foo/bar", "/foo"),
        ("/ip4/1.2.3.4/tcp/99999", "99999"),
        ("", ""),
        ("/service", "/service"),
    ],
)
def test_malformed_route_raises_route_error_quoting_the_part(make_node, route, offending):
    """A malformed route raises RouteError whose message quotes the offending part."""
    n = make_node(listen=False)
    with pytest.raises(RouteError) as info:
        n.message_send("x", to=route, timeout=1)
    message = str(info.value)
    assert f"'{offending}'" in message or f'"{offending}"' in message, message


def test_unknown_node_name_raises_route_error(make_node):
    """/node/<name> for a node that does not exist in the process raises RouteError naming it."""
    n = make_node(listen=False)
    with pytest.raises(RouteError) as info:
        n.message_send("x", to="/node/nosuchnode/service/echo", timeout=1)
    assert "nosuchnode" in str(info.value)


def test_reply_that_never_comes_raises_timeout_error(make_node):
    """A message to an unknown worker is dropped, so message_send raises TimeoutError after about its timeout."""
    n = make_node(listen=False)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        n.message_send("x", to="/service/nobody", timeout=0.5)
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 3.0, f"timeout=0.5 but message_send gave up after {elapsed:.2f} s"


def test_connect_to_closed_port_raises_econnrefused(make_node):
    """connect_tcp to a port nobody listens on raises OSError with errno ECONNREFUSED."""
    n = make_node(listen=False)
    port = free_port()
    with pytest.raises(OSError) as info:
        n.connect_tcp(f"127.0.0.1:{port}", timeout=5)
    assert info.value.errno == errno.ECONNREFUSED
    assert isinstance(info.value, ConnectionRefusedError)


def test_second_listener_on_same_port_raises_eaddrinuse(make_node):
    """A second node listening on a port already in use raises OSError with errno EADDRINUSE."""
    n = make_node()
    name = unique("dup-port")
    with pytest.raises(OSError) as info:
        Node(name, tcp_listener_address=n.tcp_listener.address)
    assert info.value.errno == errno.EADDRINUSE
    with pytest.raises(KeyError):
        Node.get(name)


def test_duplicate_node_name_raises_value_error(make_node):
    """Two open nodes of one process may not share a name: the second raises ValueError."""
    n = make_node(listen=False)
    with pytest.raises(ValueError):
        Node(n.name)
    assert Node.get(n.name) is n
    assert n.message_send("still", to="/service/uppercase") == "STILL"


def test_unknown_service_kind_raises_value_error(make_node):
    """start_service only knows echo, uppercase and hop: anything else raises ValueError."""
    n = make_node(listen=False)
    with pytest.raises(ValueError):
        n.start_service("nope")


# --------------------------------------------------------------------------------------------
# 4. Python workers
# --------------------------------------------------------------------------------------------


def shout(msg: Message) -> None:
    msg.reply(msg.text.upper() + "!")


def test_python_worker_replies_locally(make_node):
    """A Python worker's handler gets the message and its reply is message_send's result."""
    n = make_node(listen=False)
    worker = n.start_worker("py", shout)
    assert worker.address == "py"
    assert n.message_send("hi", to="/service/py") == "HI!"


def test_python_worker_replies_over_tcp(make_node):
    """A Python worker on a listening node answers a message from another node over TCP."""
    n1 = make_node("n1")
    n2 = make_node("n2", listen=False)
    n1.start_worker("py", shout)
    conn = n2.connect_tcp(n1.tcp_listener.address)
    assert n2.message_send("hi", to=f"{conn.address}/service/py") == "HI!"


def test_raising_handler_does_not_kill_the_dispatcher(make_node):
    """A handler that raises loses only that message: later messages are still handled."""
    n = make_node(listen=False)

    def handler(msg: Message) -> None:
        if msg.text == "boom":
            raise RuntimeError("handler bug")
        msg.reply(msg.text.upper() + "!")

    n.start_worker("fragile", handler)
    with pytest.raises(TimeoutError):
        n.message_send("boom", to="/service/fragile", timeout=0.5)
    assert n.message_send("ok", to="/service/fragile") == "OK!"
    # and other nodes' Python workers still work too
    other = make_node(listen=False)
    other.start_worker("py", shout)
    assert other.message_send("hi", to="/service/py") == "HI!"


def test_worker_stop_makes_later_sends_time_out(make_node):
    """After Worker.stop() the worker no longer answers: message_send times out."""
    n = make_node(listen=False)
    worker = n.start_worker("py", shout)
    assert n.message_send("hi", to="/service/py") == "HI!"
    worker.stop()
    with pytest.raises(TimeoutError):
        n.message_send("hi", to="/service/py", timeout=0.5)


def test_duplicate_worker_address_keeps_the_first_worker(make_node):
    """start_worker at an address already taken raises ValueError and leaves the existing worker answering."""
    n = make_node(listen=False)
    n.start_worker("py", shout)
    with pytest.raises(ValueError):
        n.start_worker("py", lambda msg: msg.reply("second"))
    assert n.message_send("hi", to="/service/py", timeout=2) == "HI!"


# --------------------------------------------------------------------------------------------
# 5. Node lifecycle
# --------------------------------------------------------------------------------------------


def test_node_get_returns_the_node_until_closed(make_node):
    """Node.get(name) returns the open node; after close() it raises KeyError."""
    n = make_node(listen=False)
    assert Node.get(n.name) is n
    n.close()
    with pytest.raises(KeyError):
        Node.get(n.name)


def test_close_twice_is_fine(make_node):
    """close() on a closed node is a no-op."""
    n = make_node()
    n.close()
    n.close()
    assert n.closed


def test_with_statement_closes_the_node():
    """`with Node(...) as n:` closes the node on leaving the block."""
    name = unique("with")
    with Node(name, tcp_listener_address="127.0.0.1:0") as n:
        assert n.message_send("hi", to="/service/uppercase") == "HI"
        assert Node.get(name) is n
    assert n.closed
    with pytest.raises(KeyError):
        Node.get(name)
    with pytest.raises(NodeClosedError):
        n.message_send("hi", to="/service/uppercase")


def test_with_statement_closes_the_node_on_exception():
    """`with Node(...)` closes the node also when the block raises."""
    name = unique("with")
    with pytest.raises(ZeroDivisionError):
        with Node(name) as n:
            1 / 0
    assert n.closed
    with pytest.raises(KeyError):
        Node.get(name)


CLOSED_NODE_CALLS = {
    "message_send": lambda n: n.message_send("hi", to="/service/echo", timeout=1),
    "send": lambda n: n.send("/service/echo", b"\x02hi"),
    "connect_tcp": lambda n: n.connect_tcp(f"127.0.0.1:{free_port()}", timeout=1),
    "connections": lambda n: n.connections(),
    "start_service": lambda n: n.start_service("hop"),
    "start_worker": lambda n: n.start_worker("py", shout),
}


@pytest.mark.parametrize("call", sorted(CLOSED_NODE_CALLS))
def test_methods_on_closed_node_raise_node_closed_error(make_node, call):
    """Using a closed node raises ockam_py.NodeClosedError (not a crash, not a hang)."""
    n = make_node()
    n.close()
    with pytest.raises(NodeClosedError):
        CLOSED_NODE_CALLS[call](n)


def test_name_and_port_are_reusable_after_close():
    """After close() the node's name and its listening port are free for a new node."""
    name = unique("reuse")
    first = Node(name, tcp_listener_address="127.0.0.1:0")
    address = first.tcp_listener.address
    first.close()
    second = Node(name, tcp_listener_address=address)
    try:
        assert second.tcp_listener.address == address
        assert Node.get(name) is second
        assert second.message_send("hi", to=f"/node/{name}/service/uppercase") == "HI"
    finally:
        second.close()


# --------------------------------------------------------------------------------------------
# 6. TCP connections
# --------------------------------------------------------------------------------------------


def test_connect_tcp_returns_listed_connection_and_listener_accepts(make_node):
    """connect_tcp returns a TcpConnection /worker/<32 hex> listed by connections(); the listener lists the accepted one."""
    n1 = make_node("n1", listen=False)
    n2 = make_node("n2")
    conn = n1.connect_tcp(n2.tcp_listener.address)
    assert isinstance(conn, TcpConnection)
    assert WORKER_ADDRESS.match(conn.address), conn.address
    assert str(conn) == conn.address
    assert conn.outgoing
    assert conn.address in [c.address for c in n1.connections()]
    assert wait_for(lambda: any(not c.outgoing for c in n2.connections())), n2.connections()
    accepted = [c for c in n2.connections() if not c.outgoing]
    assert len(accepted) == 1
    assert WORKER_ADDRESS.match(accepted[0].address)
    assert accepted[0].peer.startswith("127.0.0.1:")


def test_closing_the_peer_ends_the_connection(make_node):
    """When the listening node closes, the connector's connection goes away from connections() (spec 3.1)."""
    n1 = make_node("n1", listen=False)
    n2 = make_node("n2")
    conn = n1.connect_tcp(n2.tcp_listener.address)
    assert conn.address in [c.address for c in n1.connections()]
    n2.close()
    assert wait_for(lambda: conn.address not in [c.address for c in n1.connections()]), n1.connections()


# --------------------------------------------------------------------------------------------
# 7. Process level: exit, Ctrl-C, fork
# --------------------------------------------------------------------------------------------


def test_process_exits_promptly_with_open_nodes():
    """A script that leaves two connected nodes open still exits promptly with code 0."""
    code = """
        import uuid
        from ockam_py import Node
        tag = uuid.uuid4().hex[:8]
        a = Node("a-" + tag, tcp_listener_address="127.0.0.1:0")
        b = Node("b-" + tag, tcp_listener_address="127.0.0.1:0")
        conn = b.connect_tcp(a.tcp_listener.address)
        assert b.message_send("hi", to=conn.address + "/service/uppercase") == "HI"
        print("DONE", flush=True)
    """
    start = time.monotonic()
    proc = run_python(code)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "DONE" in proc.stdout
    assert elapsed < 5.0, f"exit took {elapsed:.2f} s"


def test_ctrl_c_interrupts_a_blocked_message_send():
    """SIGINT during a long message_send raises KeyboardInterrupt at once, so Ctrl-C works."""
    code = """
        import signal, uuid
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive Python, whatever the parent ignores
        from ockam_py import Node
        n = Node("sig-" + uuid.uuid4().hex[:8])
        print("READY", flush=True)
        n.message_send("hi", to="/service/nobody", timeout=60)
        print("RETURNED", flush=True)
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.5)  # let it enter message_send; not a timing assertion
        assert proc.poll() is None, "the child finished before it was interrupted"
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            out, err = proc.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            pytest.fail("the child was still running 3 s after SIGINT")
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert "message_send" in err, err  # it was interrupted inside the call
    assert "RETURNED" not in out
    assert elapsed < 3.0


def test_fork_child_gets_own_node_and_parent_keeps_working():
    """After os.fork() the child can run its own node and exit 0, and the parent's node still answers."""
    code = """
        import os, sys, time, uuid
        from ockam_py import Node
        tag = uuid.uuid4().hex[:8]
        parent = Node("parent-" + tag, tcp_listener_address="127.0.0.1:0")
        assert parent.message_send("before", to="/service/uppercase") == "BEFORE"
        pid = os.fork()
        if pid == 0:
            child = Node("child-" + tag)
            print("CHILD", child.message_send("hello", to="/service/uppercase"), flush=True)
            sys.exit(0)
        deadline = time.monotonic() + 8
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print("CHILD HUNG", flush=True)
                sys.exit(3)
            time.sleep(0.05)
        print("CHILD EXIT", os.waitstatus_to_exitcode(status), flush=True)
        print("PARENT", parent.message_send("hello", to="/service/uppercase", timeout=3), flush=True)
        port = parent.tcp_listener.port
        print("PARENT TCP", parent.message_send("hello", to=f"/ip4/127.0.0.1/tcp/{port}/service/uppercase", timeout=3), flush=True)
    """
    proc = run_python(code)
    lines = proc.stdout.splitlines()
    assert "CHILD HELLO" in lines, (proc.stdout, proc.stderr)
    assert "CHILD EXIT 0" in lines, (proc.stdout, proc.stderr)
    assert "PARENT HELLO" in lines, (proc.stdout, proc.stderr)
    assert "PARENT TCP HELLO" in lines, (proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------------------------
# 8. Logging
# --------------------------------------------------------------------------------------------


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_node_creation_is_logged_to_ockam_py_logger():
    """With the 'ockam_py' logger at INFO, creating a node logs a line naming it."""
    logger = logging.getLogger("ockam_py")
    handler = ListHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    name = unique("logged")
    try:
        with Node(name, tcp_listener_address="127.0.0.1:0"):
            assert wait_for(lambda: any(name in m for m in handler.messages), timeout=2.0), handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# --------------------------------------------------------------------------------------------
# 9. Many nodes: no leaked file descriptors
# --------------------------------------------------------------------------------------------


def test_many_nodes_do_not_leak_file_descriptors():
    """Creating and closing 50 listening nodes returns the process's fd count to where it was."""
    with Node(unique("warmup"), tcp_listener_address="127.0.0.1:0"):
        pass  # the loop thread and its own fds exist before we count
    start = fd_count()
    for _ in range(50):
        n = Node(unique("many"), tcp_listener_address="127.0.0.1:0")
        assert n.tcp_listener is not None and n.tcp_listener.port > 0
        n.close()
    assert wait_for(lambda: fd_count() <= start + 5, timeout=2.0), (start, fd_count())


def _sink(node: Node, address: str) -> List[bytes]:
    """A worker at address that keeps every payload it gets, in arrival order."""
    got: List[bytes] = []
    node.start_worker(address, lambda m: got.append(m.payload))
    return got


def test_small_and_large_messages_on_one_connection_keep_their_order(make_node):
    """Messages sent back to back over TCP arrive complete and in the order sent, whatever their sizes:
    small frames that leave together at the end of a loop turn never overtake or split around big ones."""
    n1 = make_node("n1")
    n2 = make_node("n2", listen=False)
    got = _sink(n1, "sink")
    conn = n2.connect_tcp(n1.tcp_listener.address)
    sent = []
    for i in range(600):
        size = 200_000 if i % 10 == 9 else 1 + (i * 37) % 3000
        payload = i.to_bytes(4, "big") + bytes([i % 251]) * size
        sent.append(payload)
        n2.send(f"{conn.address}/service/sink", payload)
    assert wait_for(lambda: len(got) >= len(sent), 30), f"{len(got)} of {len(sent)} messages arrived"
    assert [p[:4] for p in got] == [p[:4] for p in sent]
    assert got == sent


def test_messages_sent_just_before_the_connection_closes_are_delivered(make_node):
    """Small messages sent right before close_connection reach the peer: they left before the close."""
    n1 = make_node("n1")
    n2 = make_node("n2", listen=False)
    got = _sink(n1, "sink")
    conn = n2.connect_tcp(n1.tcp_listener.address)
    n2.message_send("warm", f"{conn.address}/service/echo")  # the connection is open both ways
    sent = [b"last words %d" % i for i in range(20)]
    for payload in sent:
        n2.send(f"{conn.address}/service/sink", payload)
    n2.close_connection(conn)
    assert wait_for(lambda: len(got) >= len(sent), 10), f"{len(got)} of {len(sent)} messages arrived"
    assert got == sent
