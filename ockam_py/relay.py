"""Relays: make a node reachable at ``/service/forward_to_<name>`` on a relay node."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from . import _core, _display, _runtime
from ._checks import optional_seconds, route_text
from ._closing import Closing

if TYPE_CHECKING:
    from .node import Node

STATUSES = ("connecting", "up", "down", "closed")

StatusCallback = Callable[["Relay", str], None]


@dataclass(frozen=True)
class RelayEntry:
    """A relay registered at this node (the relay node's side)."""

    address: str  # forward_to_<name>
    route: str  # where it forwards: the registering connection, "0#<hex>"

    @property
    def name(self) -> str:
        return self.address[len("forward_to_"):]


_serials = itertools.count(1)  # names each Relay to the core: status events carry it


class Relay(Closing):
    """A relay this node keeps registered at a relay node.

    Made by :meth:`Node.create_relay`. The node owns the connection to the relay
    node; when it drops, or the relay node stops answering pings, the relay
    reconnects and registers again by itself (capped exponential backoff with
    jitter) until :meth:`close`. ``detail`` says why of the current status;
    ``last_error`` keeps the reason it last went down (``"connection to
    127.0.0.1:4000: connection refused"``) while it tries again.
    A context manager (``with`` and ``async with``): leaving it closes the relay.
    """

    def __init__(self, node: "Node", name: str, at: object) -> None:
        self.node = node
        self.name = name
        self.at = at
        self.remote_address = f"forward_to_{name}"
        self._status = "connecting"
        self._serial = next(_serials)
        self.detail = ""
        self.last_error = ""
        self._cond = threading.Condition()
        self._callbacks: List[StatusCallback] = []
        self.up_count = 0

    @property
    def status(self) -> str:
        """``"connecting"``, ``"up"``, ``"down"`` or ``"closed"``."""
        return self._status

    @property
    def at_text(self) -> str:
        """``at`` as the user wrote it (a list of addresses joined with `` => ``)."""
        return route_text(self.at)

    @property
    def refused(self) -> bool:
        """True while the relay node refuses the name (registered by another identity):
        the relay is down with the reason in :attr:`detail`, and keeps retrying."""
        return self._status == "down" and self.detail.startswith("registration refused")

    @property
    def route(self) -> str:
        """The route to the relay, relative to the relay node: ``/service/forward_to_<name>``."""
        return f"/service/{self.remote_address}"

    def _info(self) -> Optional[List[str]]:
        if self._status == "closed" or self.node.closed:
            return None
        for line in _core.relay_list(self.node.id).splitlines():
            fields = line.rsplit(" ", 4)
            if fields[0] == self.name:
                return fields
        return None

    @property
    def attempts(self) -> int:
        """How many times the relay has connected and registered (1 for a relay that never dropped)."""
        info = self._info()
        return int(info[3]) if info else 0

    @property
    def local_address(self) -> str:
        """The 32-hex address this node registers from (Ockam's ``main_remote``), "" once closed."""
        info = self._info()
        return info[4] if info else ""

    def _on_event(self, event: Tuple[Any, ...]) -> None:
        _, _node_id, code, _name, detail, serial = event
        if serial != self._serial:  # an earlier relay of this name, closed: its late events are not ours
            return
        status = STATUSES[code]
        with self._cond:
            if self._status == "closed":  # close() already told everyone
                return
            self._status = status
            self.detail = detail
            if status == "down" and detail:
                self.last_error = detail
            if status == "up":
                self.up_count += 1
            self._cond.notify_all()
            callbacks = list(self._callbacks)
        for cb in callbacks:
            cb(self, status)

    def wait_up(self, timeout: Optional[float] = None) -> bool:
        """Waits until the relay is up; False if it was not within ``timeout`` seconds."""
        timeout = optional_seconds(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._status != "up":
                if self._status == "closed" or self.refused:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is None else min(left, 0.2))
            return True

    async def await_up(self, timeout: Optional[float] = None) -> bool:
        """:meth:`wait_up` for asyncio: resolves on the status event, without blocking the loop."""
        timeout = optional_seconds(timeout)
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[bool]" = loop.create_future()

        def on_change(_relay: "Relay", status: str) -> None:
            def settle() -> None:
                if not future.done():
                    future.set_result(status == "up")

            if status in ("up", "closed"):
                loop.call_soon_threadsafe(settle)

        with self._cond:
            if self._status in ("up", "closed"):
                return self._status == "up"
            self._callbacks.append(on_change)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            with self._cond:
                if on_change in self._callbacks:
                    self._callbacks.remove(on_change)

    def on_status(self, callback: StatusCallback) -> Callable[[], None]:
        """Calls ``callback(relay, status)`` on every status change (on the dispatcher thread).

        Returns a function that unsubscribes it (calling it twice is fine)."""
        with self._cond:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def close(self) -> None:
        """Stops the relay and closes its connection. Closing twice is fine."""
        if self._status == "closed":
            return
        self.node._relays.pop(self.name, None)
        if not self.node.closed:
            try:
                _core.relay_close(self.node.id, self.name)
            except LookupError:
                pass
        _runtime.unregister_status_handler(self.node.id, self.name)
        with self._cond:
            self._status = "closed"
            self.detail = ""
            self._cond.notify_all()
            callbacks = list(self._callbacks)
        for cb in callbacks:  # the loop's own "closed" event is no longer routed here
            cb(self, "closed")

    def __repr__(self) -> str:
        why = f" ({self.last_error})" if self._status == "down" and self.last_error else ""
        return f"<Relay {self.name!r} of {self.node.name!r} at {self.at_text} {self._status}{why}>"

    def _repr_html_(self) -> str:
        return _display.to_html(self)
