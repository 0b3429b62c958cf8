"""ockam_py: Ockam routing, TCP transport, relays and portals, in C, from Python.

>>> from ockam_py import Node
>>> with Node("n1", tcp_listener_address="127.0.0.1:0") as n1:
...     n1.message_send("hello", to="/service/uppercase")
'HELLO'
"""

__version__ = "0.1.0"

from ._core import (
    AccessDeniedError,
    Error,
    InvalidError,
    NodeClosedError,
    NotFoundError,
    ProtocolError,
    RouteError,
    StateError,
)
from ._core import TimeoutError  # noqa: A004 (a subclass of the builtin; not in __all__, so * never shadows it)
from .node import Message, Node, NodeStats, TcpConnection, TcpListener, UdpBind, Worker
from .portal import Inlet, Outlet, PortalStats
from .relay import Relay, RelayEntry
from .secure import Identity, SecureChannel, SecureChannelListener
from .share import Connected, Exposed, aconnect, aexpose, connect, expose
from .topology import Topology, topology
from . import _core


def parse_route(route: "str | list[str]") -> "list[str]":
    """Parses a route as a node would (multiaddr or ``0#a => 1#b``) into ``["tt#address", ...]``."""
    return _core.parse_route(route)


def dropped_events() -> "dict[str, int]":
    """What this process dropped on the way from its nodes to Python, since it started.

    ``log_lines``: core log lines past the queue's bound (a log flood never
    blocks a node); ``messages``: messages for Python workers past the hard
    bound of 256 MiB waiting (a peer sending over TCP is paused long before
    that: only local senders that cannot be paused reach it). Finished calls
    and relay status changes are never dropped.
    """
    logs, messages = _core.events_dropped()
    return {"log_lines": logs, "messages": messages}


__all__ = [
    "AccessDeniedError",
    "Connected",
    "Error",
    "Exposed",
    "Identity",
    "Inlet",
    "InvalidError",
    "Message",
    "Node",
    "NodeClosedError",
    "NodeStats",
    "NotFoundError",
    "Outlet",
    "PortalStats",
    "ProtocolError",
    "Relay",
    "RelayEntry",
    "RouteError",
    "SecureChannel",
    "SecureChannelListener",
    "StateError",
    "TcpConnection",
    "TcpListener",
    "Topology",
    "UdpBind",
    "Worker",
    "aconnect",
    "aexpose",
    "connect",
    "dropped_events",
    "expose",
    "parse_route",
    "topology",
]
