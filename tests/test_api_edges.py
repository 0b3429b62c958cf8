"""The Python API's edges: timeouts, payload types, exceptions in async handlers.

Contract: ockam_py/node.py and ockam_py/relay.py docstrings (timeouts are finite numbers
of seconds >= 0, ``None`` only where documented; payloads are str or bytes-like).
"""

from __future__ import annotations

import asyncio
import logging
import math
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
