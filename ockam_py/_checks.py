"""Argument checks shared by the public API: timeouts, payloads and routes.

A timeout that is NaN would make every deadline comparison false (a wait
that never ends), and ``bytes(5)`` is five zero bytes: both are refused here
with an error that names the argument, before anything reaches a node.
"""

from __future__ import annotations

import math
from typing import Optional, Union

Payload = Union[str, bytes, bytearray, memoryview]


def seconds(value: object, what: str = "timeout") -> float:
    """``value`` as a finite number of seconds >= 0; ``TypeError``/``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, not {value!r}")
    return v


def optional_seconds(value: object, what: str = "timeout") -> Optional[float]:
    """:func:`seconds`, with ``None`` meaning no limit (where the API documents it)."""
    return None if value is None else seconds(value, what)


def payload_bytes(payload: object, what: str = "payload") -> bytes:
    """The bytes of a ``str`` (UTF-8), ``bytes``, ``bytearray`` or ``memoryview``; ``TypeError`` otherwise."""
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"{what} must be str, bytes, bytearray or memoryview, not {type(payload).__name__}")


def route_text(route: object) -> str:
    """A route as the user wrote it: a ``str`` as is, a list of addresses joined with `` => ``."""
    if isinstance(route, str):
        return route
    if isinstance(route, (list, tuple)):
        return " => ".join(str(a) for a in route)
    return str(route)
