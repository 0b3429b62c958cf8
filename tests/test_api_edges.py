"""The Python API's edges: timeouts, payload types, exceptions in async handlers.

Contract: ockam_py/node.py and ockam_py/relay.py docstrings (timeouts are finite numbers
of seconds >= 0, ``None`` only where documented; payloads are str or bytes-like).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from typing import List

import pytest

from ockam_py import Node

BAD_TIMEOUTS = [math.nan, -1.0, math.inf, -math.inf]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def node():
    with Node(unique("edges"), tcp_listener_address="127.0.0.1:0") as n:
        yield n


@pytest.mark.parametrize("bad", BAD_TIMEOUTS, ids=["nan", "negative", "inf", "-inf"])
def test_bad_timeouts_are_refused_before_anything_is_sent(node: Node, bad: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds"):
        node.message_send("x", to="/service/echo", timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        node.connect_tcp(node.tcp_listener.address, timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        node.create_relay(unique("r"), at=node.tcp_listener.address, timeout=bad)
    with pytest.raises(ValueError, match="ping_interval must be a finite number"):
        node.create_relay(unique("r"), at=node.tcp_listener.address, ping_interval=bad)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        node.create_secure_channel(f"/ip4/127.0.0.1/tcp/{node.tcp_listener.port}/service/api", timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        asyncio.run(node.amessage_send("x", to="/service/echo", timeout=bad))
    assert node.relays() == [] and node.secure_channels() == []


def test_timeout_of_the_wrong_type_is_a_type_error(node: Node) -> None:
    with pytest.raises(TypeError, match="timeout must be a number of seconds, not str"):
        node.message_send("x", to="/service/echo", timeout="5")  # type: ignore[call-overload]


def test_relay_wait_up_refuses_nan_and_accepts_none(node: Node) -> None:
    relay = node.create_relay(unique("r"), at=node.tcp_listener.address)
    with pytest.raises(ValueError):
        relay.wait_up(math.nan)
    assert relay.wait_up(None) is True  # documented: None waits without a limit (it is up)
    relay.close()


def test_a_zero_timeout_times_out_at_once_instead_of_hanging(node: Node) -> None:
    node.start_worker("silent", lambda m: None)
    with pytest.raises(TimeoutError):
        node.message_send("x", to="/service/silent", timeout=0)


@pytest.mark.parametrize("payload,expected", [
    ("text", "text"),
    (b"bytes", b"bytes"),
    (bytearray(b"array"), b"array"),
    (memoryview(b"view"), b"view"),
])
def test_payloads_of_every_documented_type(node: Node, payload: object, expected: object) -> None:
    assert node.message_send(payload, to="/service/echo") == expected  # type: ignore[call-overload]


@pytest.mark.parametrize("payload", [5, 3.5, None, ["a"], {"a": 1}])
def test_other_payloads_are_a_type_error_not_zero_bytes(node: Node, payload: object) -> None:
    with pytest.raises(TypeError, match="payload must be str, bytes, bytearray or memoryview"):
        node.message_send(payload, to="/service/echo")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        node.send("/service/echo", payload)  # type: ignore[arg-type]


def test_send_refuses_a_str(node: Node) -> None:
    with pytest.raises(TypeError, match="send takes raw bytes"):
        node.send("/service/echo", "text")  # type: ignore[arg-type]


def test_exceptions_in_async_handlers_are_logged(node: Node, caplog: pytest.LogCaptureFixture) -> None:
    """An async def handler that raises is logged like a sync one, with its traceback."""
    caplog.set_level(logging.ERROR, logger="ockam_py")

    async def main() -> None:
        async def broken(message) -> None:
            raise RuntimeError("boom in an async handler")

        node.start_worker("broken", broken)
        node.send("/service/broken", b"x")
        for _ in range(200):
            if any("boom in an async handler" in (r.exc_text or "") + str(r.exc_info) for r in caplog.records):
                return
            await asyncio.sleep(0.02)

    asyncio.run(main())
    records: List[logging.LogRecord] = [r for r in caplog.records if "raised while handling" in r.getMessage()]
    assert records, "the async handler's exception was not logged"
    assert "broken" in records[0].getMessage() and "boom in an async handler" in str(records[0].exc_info[1])


# --------------------------------------------------------------------------------------------
# One base for every error the package raises, each also the builtin users already catch
# --------------------------------------------------------------------------------------------

import errno  # noqa: E402

import ockam_py  # noqa: E402


def test_route_errors_are_ockam_errors_and_value_errors(node: Node) -> None:
    with pytest.raises(ockam_py.RouteError) as info:
        node.message_send("x", to="/ip4/not-an-address/tcp/1/service/echo")
    assert isinstance(info.value, ockam_py.Error) and isinstance(info.value, ValueError)


def test_timeouts_are_ockam_errors_and_builtin_timeouts(node: Node) -> None:
    node.start_worker("mute", lambda m: None)
    with pytest.raises(TimeoutError) as info:  # the builtin
        node.message_send("x", to="/service/mute", timeout=0.2)
    assert isinstance(info.value, ockam_py.TimeoutError) and isinstance(info.value, ockam_py.Error)


def test_a_refused_connection_keeps_its_errno_and_builtin_class(node: Node) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
    port = s.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError) as info:
            node.connect_tcp(f"127.0.0.1:{port}", timeout=5)
    finally:
        s.close()
    assert isinstance(info.value, ockam_py.Error) and info.value.errno == errno.ECONNREFUSED
    assert f"127.0.0.1:{port}" in str(info.value)


def test_a_failed_name_lookup_says_so_without_a_bogus_errno(node: Node) -> None:
    with pytest.raises(OSError) as info:
        node.connect_tcp("no-such-host.invalid:80", timeout=5)
    assert isinstance(info.value, ockam_py.Error)
    assert info.value.errno is None, f"errno {info.value.errno} is a name-lookup code, not an errno"
    assert "no-such-host.invalid:80" in str(info.value)


def test_node_errors_share_the_base(node: Node) -> None:
    with pytest.raises(ockam_py.Error):
        node.close_connection("0" * 32)
    other = Node(unique("closed"))
    other.close()
    with pytest.raises(ockam_py.NodeClosedError) as info:
        other.message_send("x", to="/service/echo")
    assert isinstance(info.value, ockam_py.Error) and isinstance(info.value, RuntimeError)


# --------------------------------------------------------------------------------------------
# Nodes nobody closed
# --------------------------------------------------------------------------------------------

import builtins  # noqa: E402
import gc  # noqa: E402
import socket  # noqa: E402


def test_a_garbage_collected_node_is_closed_and_its_name_freed() -> None:
    name = unique("lost")
    node = Node(name, tcp_listener_address="127.0.0.1:0")
    port = node.tcp_listener.port
    with pytest.warns(ResourceWarning, match=f"node '{name}' was garbage-collected without close"):
        del node
        gc.collect()
    with pytest.raises(KeyError):
        Node.get(name)
    with pytest.raises(ConnectionRefusedError):  # its listener is gone
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with Node(name) as again:  # the name is free
        assert again.message_send("x", to="/service/uppercase") == "X"


def test_a_closed_node_leaves_no_finalizer_behind() -> None:
    import warnings

    name = unique("closed")
    node = Node(name)
    node.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del node
        gc.collect()


def test_rerunning_a_notebook_cell_replaces_the_node_of_that_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under IPython (get_ipython in builtins), Node(name) for a name open in this session closes
    the old node with a warning; in a script the same is an error (the name is in use)."""
    name = unique("cell")
    first = Node(name)
    try:
        with pytest.raises(ockam_py.InvalidError, match="already exists"):
            Node(name)
        monkeypatch.setattr(builtins, "get_ipython", lambda: None, raising=False)
        with pytest.warns(UserWarning, match="already open in this session"):
            second = Node(name)
        assert first.closed and not second.closed
        assert second.message_send("x", to="/service/echo") == "x"
        second.close()
    finally:
        first.close()


def test_relay_on_status_can_unsubscribe_and_relay_is_a_context_manager(node: Node) -> None:
    seen: List[str] = []
    with node.create_relay(unique("r"), at=node.tcp_listener.address) as relay:
        stop = relay.on_status(lambda _r, status: seen.append(status))
        stop()
        stop()  # twice is fine
        for conn in node.connections():  # the relay goes down and comes back; nobody is told
            if conn.outgoing:
                node.close_connection(conn)
        deadline = time.monotonic() + 10
        while relay.up_count < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.up_count == 2, f"the relay did not come back (status {relay.status})"
    assert relay.status == "closed" and seen == []
    assert node.relays() == []


# --------------------------------------------------------------------------------------------
# __version__, reprs with the route as written, handles as context managers
# --------------------------------------------------------------------------------------------

import importlib.metadata  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402


def test_version_is_the_package_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", ockam_py.__version__)
    assert importlib.metadata.version("ockam_py") == ockam_py.__version__
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'version = { attr = "ockam_py.__version__" }' in pyproject


def test_reprs_show_routes_as_written(node: Node) -> None:
    with Node(unique("far")) as far:
        far.create_outlet("127.0.0.1:9", address="o1")
        at = node.tcp_listener.address
        with far.create_relay(unique("r"), at=at) as relay:
            assert f" at {at} up>" in repr(relay)
        with far.create_relay(unique("r"), at=[f"1#{at}"]) as relay:
            assert f" at 1#{at} up>" in repr(relay)
        route = f"/node/{node.name}/service/forward_to_x/service/o1"
        inlet = node.create_inlet("127.0.0.1:0", route)
        assert f"to {route} (0 open)>" in repr(inlet)
        assert "to 127.0.0.1:9 (0 open)>" in repr(far.outlets()[0])
        to = f"/node/{node.name}/service/api"
        with far.create_secure_channel(to) as channel:
            assert f"to {to} ({node.identifier})>" in repr(channel)
        seen: List[str] = []
        far.start_worker("see", lambda m: seen.append(repr(m)))
        far.send("/service/see", ockam_py._core.bare_encode(b"hello"), return_route=["0#somewhere"])
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == [f"<Message to /service/see of {far.name!r}: 'hello', from 0#somewhere>"]


def test_worker_is_a_context_manager(node: Node) -> None:
    with node.start_worker("cm", lambda m: m.reply("pong")) as worker:
        assert node.message_send("ping", to="/service/cm") == "pong"
        assert "stopped" not in repr(worker)
    assert worker.stopped and repr(worker).endswith(" stopped>")
    with pytest.raises(TimeoutError):
        node.message_send("ping", to="/service/cm", timeout=0.3)
    worker.stop()  # twice is fine
    with node.start_worker("cm", lambda m: m.reply("again")):  # the address is free again
        assert node.message_send("ping", to="/service/cm") == "again"


def test_secure_channel_is_a_context_manager(node: Node) -> None:
    with Node(unique("sc")) as other:
        with other.create_secure_channel(f"/node/{node.name}/service/api") as channel:
            assert not channel.closed
            assert other.message_send("x", to=f"{channel.address}/service/echo") == "x"
        assert channel.closed and other.secure_channels() == []


# --------------------------------------------------------------------------------------------
# create_relay: a malformed address fails at once; an unreachable one says why
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [
    "127.0.0.1:notaport", "127.0.0.1:0", "127.0.0.1:70000", ":4000", "n2", "/ip4/127.0.0.1/tcp/x",
    "/node/no-such-node", "1#127.0.0.1:99999", [], ["1#host name:5"],
])
def test_create_relay_refuses_a_malformed_address_at_once(node: Node, at: object) -> None:
    start = time.monotonic()
    with pytest.raises(ockam_py.RouteError, match="relay address at=|empty route"):
        node.create_relay(unique("r"), at=at, timeout=60)  # type: ignore[arg-type]
    assert time.monotonic() - start < 5, "the address was not checked before waiting"
    assert node.relays() == [] and node.stats().tcp_connecting == 0 and node.connections() == []


def test_create_relay_names_a_bare_node_name(node: Node) -> None:
    with pytest.raises(ockam_py.RouteError, match=r"a node of this process is /node/n2"):
        node.create_relay(unique("r"), at="n2")


def test_an_unreachable_relay_says_why(node: Node) -> None:
    from ockam_py.testing import free_port

    port = free_port()
    with pytest.raises(TimeoutError) as info:
        node.create_relay(unique("r"), at=f"127.0.0.1:{port}", timeout=1.5)
    assert f"last error: connection to 127.0.0.1:{port}: connection refused" in str(info.value)
    assert node.relays() == []
    relay = node.create_relay(unique("r"), at=f"/ip4/127.0.0.1/tcp/{port}", wait=False)
    deadline = time.monotonic() + 10
    while not relay.last_error and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay.last_error == f"connection to 127.0.0.1:{port}: connection refused"
    relay.close()
