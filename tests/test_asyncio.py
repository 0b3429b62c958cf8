"""asyncio: awaiting calls complete on the loop thread's events, never block the event loop."""

import asyncio
import time
import uuid

import pytest

from ockam_py import Node, RouteError


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pair():
    server = Node(_name("srv"), tcp_listener_address="127.0.0.1:0")
    client = Node(_name("cli"))
    yield server, client
    client.close()
    server.close()


def test_concurrent_calls_and_timeouts_keep_the_event_loop_running(pair):
    """200 concurrent replies and 20 timeouts finish together in well under 3 s while a 1 ms ticker runs."""
    server, client = pair
    route = f"/node/{server.name}/service/uppercase"

    async def main():
        gaps = []
        stop = asyncio.Event()

        async def ticker():
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.001)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        start = time.monotonic()
        ok = [client.amessage_send(f"hello {i}", to=route, timeout=5) for i in range(200)]
        lost = [client.amessage_send("x", to=f"/node/{server.name}/service/nobody", timeout=1) for _ in range(20)]
        results = await asyncio.gather(*ok, *lost, return_exceptions=True)
        elapsed = time.monotonic() - start
        stop.set()
        await tick
        return results, elapsed, max(gaps)

    results, elapsed, worst_gap = asyncio.run(main())
    assert results[:200] == [f"HELLO {i}" for i in range(200)]
    assert all(isinstance(r, TimeoutError) for r in results[200:]), results[200:]
    assert elapsed < 2.5, f"took {elapsed:.2f} s"
    assert worst_gap < 0.1, f"event loop stalled for {worst_gap * 1000:.0f} ms"


def test_cancelling_an_awaiting_call_is_clean(pair):
    """A cancelled amessage_send raises CancelledError and later calls still work."""
    server, client = pair

    async def main():
        task = asyncio.create_task(client.amessage_send("x", to="/service/nobody", timeout=5))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await client.amessage_send("after", to=f"/node/{server.name}/service/echo")

    assert asyncio.run(main()) == "after"


def test_async_errors_are_the_same_as_sync_ones(pair):
    """A bad route raises RouteError at once; a refused connect raises ConnectionRefusedError."""
    _, client = pair

    async def main():
        with pytest.raises(RouteError):
            await client.amessage_send("x", to="/nonsense/x")
        with pytest.raises(ConnectionRefusedError):
            await client.aconnect_tcp("127.0.0.1:1")
        conn = await client.aconnect_tcp(pair[0].tcp_listener.address)
        return conn.address

    assert asyncio.run(main()).startswith("/worker/")


def test_async_worker_handler_runs_on_the_event_loop(pair):
    """An async def worker handler runs on the loop it was started from and can await."""
    server, client = pair

    async def main():
        loop = asyncio.get_running_loop()
        seen = []

        async def handler(msg):
            seen.append(asyncio.get_running_loop() is loop)
            await asyncio.sleep(0.01)
            msg.reply(msg.text[::-1])

        server.start_worker("rev", handler)
        return await client.amessage_send("abc", to=f"/node/{server.name}/service/rev"), seen

    reply, seen = asyncio.run(main())
    assert reply == "cba" and seen == [True]


def test_relay_await_up(pair):
    """await relay.await_up() returns True once the relay registered."""
    server, client = pair

    async def main():
        relay = client.create_relay("aio", at=server.tcp_listener.address, wait=False)
        up = await relay.await_up(5)
        relay.close()
        return up

    assert asyncio.run(main()) is True
