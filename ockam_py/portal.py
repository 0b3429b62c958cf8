"""TCP portals: an inlet on one node, an outlet on another, any TCP protocol between."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

from . import _core, _display
from ._closing import Closing

if TYPE_CHECKING:
    from .node import Node


@dataclass(frozen=True)
class PortalStats:
    """Counters of an inlet or outlet."""

    open: int  # portal connections open now
    total: int  # portal connections made since creation
    bytes_out: int  # read from this side's sockets and sent to the other side
    bytes_in: int  # received from the other side and written to this side's sockets


class _Portal(Closing):
    kind = ""

    def __init__(self, node: "Node", address: str, where: str, written: Optional[str] = None) -> None:
        self.node = node
        self.address = address
        self._where = where
        self._written = written or where  # the route or target as the user gave it
        self.closed = False

    def _line(self) -> Optional[List[str]]:
        if self.node.closed:
            return None
        for line in _core.portal_list(self.node.id).splitlines():
            fields = line.split(" ")
            if fields[0] == self.kind and fields[1] == self.address:
                return fields
        return None

    def stats(self) -> PortalStats:
        """Connections open and in total, bytes each way."""
        fields = self._line()
        if fields is None:
            return PortalStats(0, 0, 0, 0)
        return PortalStats(*(int(x) for x in fields[-4:]))

    def close(self) -> None:
        """Closes it and every portal connection it carries. Closing twice is fine."""
        if self.closed:
            return
        self.closed = True
        self.node._portals.pop((self.kind, self.address), None)
        if not self.node.closed:
            try:
                _core.portal_close(self.node.id, self.kind, self.address)
            except LookupError:
                pass


    def _repr_html_(self) -> str:
        return _display.to_html(self)


class Inlet(_Portal):
    """A TCP inlet: clients that connect to ``address`` are carried to an outlet along ``route``."""

    kind = "inlet"

    @property
    def route(self) -> str:
        return self._where

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def __repr__(self) -> str:
        s = self.stats() if not self.closed else None
        state = "closed" if s is None else f"{s.open} open"
        return f"<Inlet {self.address} of {self.node.name!r} to {self._written} ({state})>"


class Outlet(_Portal):
    """A TCP outlet at worker ``address``: each portal connection is a connection to ``target``.

    ``allow``: the identifiers that alone may use it through secure channels, or ``None`` (anyone)."""

    kind = "outlet"

    def __init__(self, node: "Node", address: str, where: str, allow: Optional[List[str]] = None) -> None:
        super().__init__(node, address, where)
        self.allow = allow

    @property
    def target(self) -> str:
        return self._where

    def __repr__(self) -> str:
        s = self.stats() if not self.closed else None
        state = "closed" if s is None else f"{s.open} open"
        only = f", allows {len(self.allow)} identit{'y' if len(self.allow) == 1 else 'ies'}" if self.allow else ""
        return f"<Outlet /service/{self.address} of {self.node.name!r} to {self._written} ({state}{only})>"
