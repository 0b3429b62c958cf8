"""Awaitable twins of the blocking calls, and what cancelling them does in the core.

Contract: docs/python.md "asyncio". Every call that waits on the network or on
sockets closing has an ``a``-prefixed twin; cancelling the awaiting task
(``task.cancel()``, an ``asyncio.wait_for`` timeout) cancels the request in the
core: a request's reply worker goes (``Node.stats().pending_requests`` back to
0), a connect in progress is closed (no connection left, open or opening).
"""

from __future__ import annotations

import _thread
import asyncio
import inspect
import socket
import threading
import time
import uuid
from typing import Callable, Iterator, List

import pytest

import ockam_py
from ockam_py import Inlet, Node, NodeStats, Outlet, Relay, SecureChannel, Worker
from ockam_py.testing import free_port


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


async def await_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


@pytest.fixture
def node() -> Iterator[Node]:
    with Node(unique("aio"), tcp_listener_address="127.0.0.1:0") as n:
        yield n


@pytest.fixture
def black_hole() -> Iterator[str]:
    """``127.0.0.1:P`` where a TCP connect never completes: a listener with a backlog of 0
    whose accept queue is already full (its one slot taken, nobody accepts), so the kernel
    drops further SYNs and a connect waits until its own timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    address = server.getsockname()
    fillers: List[socket.socket] = []
    for _ in range(2):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(address)
        fillers.append(s)
    probe = socket.socket()
    probe.settimeout(1.0)
    try:
        assert probe.connect_ex(address) != 0, "the accept queue is not full: this kernel accepts past backlog 0"
    finally:
        probe.close()
    yield f"127.0.0.1:{address[1]}"
    for s in fillers:
        s.close()
    server.close()


# --------------------------------------------------------------------------------------------
# The set of twins
# --------------------------------------------------------------------------------------------

TWINS = [
    (Node, "message_send"), (Node, "connect_tcp"), (Node, "create_relay"), (Node, "create_inlet"),
    (Node, "create_outlet"), (Node, "create_secure_channel"), (Node, "close"), (Relay, "wait_up"),
    (Relay, "close"), (Inlet, "close"), (Outlet, "close"), (SecureChannel, "close"), (Worker, "stop"),
    (ockam_py, "expose"), (ockam_py, "connect"), (ockam_py.Exposed, "close"), (ockam_py.Connected, "close"),
]


@pytest.mark.parametrize("owner,name", TWINS, ids=[f"{getattr(o, '__name__', o)}.{n}" for o, n in TWINS])
def test_every_blocking_call_has_an_awaitable_twin(owner: object, name: str) -> None:
    twin = "await_up" if name == "wait_up" else f"a{name}"
    assert inspect.iscoroutinefunction(getattr(owner, twin, None)), f"{owner}.{twin} is missing or not async"
    blocking = inspect.signature(getattr(owner, name))
    awaitable = inspect.signature(getattr(owner, twin))
    assert list(awaitable.parameters) == list(blocking.parameters), f"{twin} takes other arguments than {name}"


def test_handles_are_async_context_managers(node: Node) -> None:
    async def main() -> None:
        async with Node(unique("actx")) as other:
            async with other.start_worker("w", lambda m: m.reply(m.text + "!")) as worker:
                assert await other.amessage_send("hi", to="/service/w") == "hi!"
            assert worker.stopped
            async with await other.acreate_secure_channel(f"/node/{node.name}/service/api") as channel:
                assert await other.amessage_send("x", to=f"{channel.address}/service/uppercase") == "X"
            assert channel.closed
        assert other.closed

    asyncio.run(main())


# --------------------------------------------------------------------------------------------
# Cancelling cancels in the core
# --------------------------------------------------------------------------------------------


def test_a_cancelled_amessage_send_leaves_no_pending_request(node: Node) -> None:
    node.start_worker("never-replies", lambda m: None)

    async def main() -> NodeStats:
        task = asyncio.create_task(node.amessage_send("x", to="/service/never-replies", timeout=120))
        assert await await_until(lambda: node.stats().pending_requests == 1), node.stats()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await await_until(lambda: node.stats().pending_requests == 0)
        return node.stats()

    assert asyncio.run(main()).pending_requests == 0
    assert node.message_send("still works", to="/service/echo") == "still works"


def test_a_wait_for_timeout_cancels_the_request(node: Node) -> None:
    node.start_worker("never-replies", lambda m: None)

    async def main() -> None:
        sends = [node.amessage_send("x", to="/service/never-replies", timeout=120) for _ in range(50)]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*sends), timeout=0.5)

    asyncio.run(main())
    assert wait_until(lambda: node.stats().pending_requests == 0), node.stats()


def test_ctrl_c_in_a_blocking_message_send_cancels_the_request(node: Node) -> None:
    node.start_worker("never-replies", lambda m: None)
    interrupter = threading.Thread(
        target=lambda: wait_until(lambda: node.stats().pending_requests == 1) and _thread.interrupt_main()
    )
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            node.message_send("x", to="/service/never-replies", timeout=120)
    finally:
        interrupter.join()
    assert wait_until(lambda: node.stats().pending_requests == 0), node.stats()


def test_a_cancelled_aconnect_leaves_no_connection(node: Node, black_hole: str) -> None:
    async def main() -> None:
        task = asyncio.create_task(node.aconnect_tcp(black_hole, timeout=120))
        assert await await_until(lambda: node.stats().tcp_connecting == 1), node.stats()
        await asyncio.sleep(0.2)
        assert not task.done(), "the connect finished: the address is not unresponsive"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert wait_until(lambda: node.stats() == NodeStats(0, 0, 0, 0)), node.stats()
    assert node.connections() == []


def test_an_uncancelled_aconnect_to_the_same_address_stays_connecting(node: Node, black_hole: str) -> None:
    """The control of the test above: without the cancel the connect is still in progress."""
    async def main() -> NodeStats:
        task = asyncio.create_task(node.aconnect_tcp(black_hole, timeout=120))
        await await_until(lambda: node.stats().tcp_connecting == 1)
        await asyncio.sleep(0.5)
        stats = node.stats()
        task.cancel()
        return stats

    assert asyncio.run(main()).tcp_connecting == 1


def test_a_cancelled_acreate_relay_closes_the_relay(node: Node) -> None:
    port = free_port()

    async def main() -> None:
        task = asyncio.create_task(node.acreate_relay(unique("r"), at=f"127.0.0.1:{port}", timeout=120))
        assert await await_until(lambda: len(node.relays()) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert node.relays() == []


def test_a_cancelled_acreate_secure_channel_ends_the_handshake(node: Node) -> None:
    node.start_worker("never-answers", lambda m: None)

    async def main() -> None:
        task = asyncio.create_task(node.acreate_secure_channel("/service/never-answers", timeout=120))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert wait_until(lambda: "handshake" not in ockam_py._core.sc_list(node.id)), ockam_py._core.sc_list(node.id)


# --------------------------------------------------------------------------------------------
# The twins do what their blocking calls do
# --------------------------------------------------------------------------------------------


def test_async_relay_portal_and_close(node: Node) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        target = f"127.0.0.1:{server.getsockname()[1]}"

        def serve_one() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())

        threading.Thread(target=serve_one, daemon=True).start()

        async def main() -> bytes:
            async with Node(unique("aout")) as far:
                await far.acreate_outlet(target)
                far.start_service("hop")
                relay = await far.acreate_relay("far", at=node.tcp_listener.address)
                assert relay.status == "up"
                inlet = await node.acreate_inlet(
                    "127.0.0.1:0", f"/service/{relay.remote_address}/service/hop/service/outlet"
                )
                reader, writer = await asyncio.open_connection("127.0.0.1", inlet.port)
                writer.write(b"through the portal")
                reply = await asyncio.wait_for(reader.readexactly(18), 20)
                writer.close()
                await inlet.aclose()
                await relay.aclose()
                assert relay.status == "closed" and inlet.closed
                return reply

        assert asyncio.run(main()) == b"THROUGH THE PORTAL"


def test_aexpose_and_aconnect(node: Node) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve_one() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(100)[::-1])

        threading.Thread(target=serve_one, daemon=True).start()

        async def main() -> bytes:
            async with await ockam_py.aexpose(port, relay=node.tcp_listener.address, name=unique("x")) as shared:
                async with await ockam_py.aconnect(shared.name, relay=node.tcp_listener.address) as tunnel:
                    reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.port)
                    writer.write(b"abc")
                    reply = await asyncio.wait_for(reader.readexactly(3), 20)
                    writer.close()
                    return reply

        assert asyncio.run(main()) == b"cba"


def test_aconnect_to_nothing_exposed_fails_and_leaves_no_node(node: Node) -> None:
    before = set(Node._by_name)
    with pytest.raises(ConnectionError, match="nothing is exposed as 'nobody'"):
        asyncio.run(ockam_py.aconnect("nobody", relay=node.tcp_listener.address, timeout=0.5))
    assert set(Node._by_name) == before
