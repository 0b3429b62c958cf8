"""One-liners for the common case: share a local TCP port through a relay node, and reach it.

On the machine with the service (nothing listens, nothing is opened inbound)::

    import ockam_py
    shared = ockam_py.expose(8000, relay="relay.example:4000", name="web")

On the machine that wants it::

    tunnel = ockam_py.connect("web", relay="relay.example:4000", local="127.0.0.1:9000")
    # http://127.0.0.1:9000/ is now 127.0.0.1:8000 of the other machine

:func:`expose` makes a node with no listener, starts ``hop`` on it, an outlet to
``127.0.0.1:<local_port>`` and relay ``<name>`` at the relay node.
:func:`connect` makes a node with an inlet whose route is
``<relay>/service/forward_to_<name>/service/hop/service/outlet``. Both return
an object with ``.close()`` that is also a context manager. The relay node is
any node with a TCP listener (every node runs the relay service).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Optional

from . import _runtime
from ._closing import Closing
from .node import Node
from .portal import Inlet, Outlet
from .relay import Relay

__all__ = ["Exposed", "Connected", "aconnect", "aexpose", "expose", "connect", "OUTLET_ADDRESS"]

OUTLET_ADDRESS = "outlet"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _relay_route(relay: str) -> str:
    """``host:port`` (or a multiaddr) of the relay node, as a multiaddr prefix."""
    if relay.startswith("/"):
        return relay.rstrip("/")
    host, sep, port = relay.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"relay must be 'host:port' or a multiaddr like /ip4/1.2.3.4/tcp/4000, not {relay!r}")
    host = host.strip("[]")
    try:
        proto = "ip4" if ipaddress.ip_address(host).version == 4 else "ip6"
    except ValueError:
        proto = "dnsaddr"
    return f"/{proto}/{host}/tcp/{port}"


def _route_to(relay: str, name: str, outlet: str) -> str:
    return f"{_relay_route(relay)}/service/forward_to_{name}/service/hop/service/{outlet}"


class _OwnsNode(Closing):
    """A handle that owns its node: closing it closes the node and all on it."""

    node: Node

    def close(self) -> None:
        """Closes the node and everything on it (relay, outlet or inlet). Closing twice is fine."""
        self.node.close()

    async def aclose(self) -> None:
        """:meth:`close` for asyncio."""
        await self.node.aclose()



class Exposed(_OwnsNode):
    """A local TCP port shared through relay ``name`` at a relay node (made by :func:`expose`)."""

    def __init__(self, node: Node, outlet: Outlet, relay: Relay, relay_at: str, local: str) -> None:
        self.node = node
        self.outlet = outlet
        self.relay = relay
        self.relay_at = relay_at
        self.local = local

    @property
    def name(self) -> str:
        """The relay name peers use with :func:`connect`."""
        return self.relay.name

    @property
    def route(self) -> str:
        """The route a peer uses, relative to the relay node."""
        return f"{self.relay.route}/service/hop/service/{self.outlet.address}"

    @property
    def status(self) -> str:
        """The relay's status: ``"up"`` while peers can reach the port."""
        return self.relay.status

    def __repr__(self) -> str:
        return f"<Exposed {self.local} as {self.name!r} at {self.relay_at} ({self.status})>"

    def _repr_html_(self) -> str:
        from .topology import _table

        return _table(
            f"Exposed {self.local}",
            [("name", self.name), ("relay", self.relay_at), ("status", self.status), ("route", self.route)],
        )


class Connected(_OwnsNode):
    """A local inlet to a port shared with :func:`expose` (made by :func:`connect`)."""

    def __init__(self, node: Node, inlet: Inlet, name: str, relay_at: str) -> None:
        self.node = node
        self.inlet = inlet
        self.name = name
        self.relay_at = relay_at

    @property
    def address(self) -> str:
        """The bound ``host:port``: point your client here."""
        return self.inlet.address

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return self.inlet.port

    @property
    def route(self) -> str:
        """The inlet's route to the outlet, as the node parsed it."""
        return self.inlet.route

    def __repr__(self) -> str:
        return f"<Connected {self.address} to {self.name!r} at {self.relay_at}>"

    def _repr_html_(self) -> str:
        from .topology import _table

        return _table(
            f"Connected {self.address}", [("name", self.name), ("relay", self.relay_at), ("route", self.route)]
        )


def expose(
    local_port: int,
    relay: str,
    name: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Exposed:
    """Shares TCP port ``host:local_port`` as relay ``name`` at the relay node ``relay``.

    ``relay`` is ``"host:port"`` of a node with a TCP listener, or a route to it
    (``/ip4/10.0.0.5/tcp/4000``, ``/node/n2``). ``name`` defaults to
    ``"port-<local_port>"``. Returns once the relay is up; raises
    ``TimeoutError`` (or the connection error) if it is not within ``timeout``
    seconds, and then leaves nothing behind.
    """
    name = name or f"port-{local_port}"
    node, outlet = _exposing_node(name, host, local_port)
    try:
        handle = node.create_relay(name, at=relay, timeout=timeout)
    except BaseException:
        node.close()
        raise
    return Exposed(node, outlet, handle, relay, f"{host}:{local_port}")


async def aexpose(
    local_port: int,
    relay: str,
    name: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Exposed:
    """:func:`expose` for asyncio: awaits the relay without blocking the event loop.
    Cancelled, or failing, it leaves nothing behind (its node is closed)."""
    name = name or f"port-{local_port}"
    node, outlet = await _runtime.in_thread(_exposing_node, name, host, local_port)
    try:
        handle = await node.acreate_relay(name, at=relay, timeout=timeout)
    except BaseException:
        await node.aclose()
        raise
    return Exposed(node, outlet, handle, relay, f"{host}:{local_port}")


def _exposing_node(name: str, host: str, local_port: int) -> "tuple[Node, Outlet]":
    """A new node with ``hop`` and an outlet to ``host:local_port``, for :func:`expose`."""
    node = Node(_unique(f"expose-{name}"))
    try:
        node.start_service("hop")
        return node, node.create_outlet(to=f"{host}:{local_port}", address=OUTLET_ADDRESS)
    except BaseException:
        node.close()
        raise


def connect(
    name: str,
    relay: str,
    local: str = "127.0.0.1:0",
    *,
    outlet: str = OUTLET_ADDRESS,
    check: bool = True,
    timeout: float = 5.0,
) -> Connected:
    """Opens an inlet on ``local`` to the port shared as ``name`` with :func:`expose`.

    ``relay`` is the relay node's ``"host:port"`` (or a multiaddr to it), the
    same as given to :func:`expose`. ``local`` may use port 0: read the port
    from ``.port``. With ``check`` (the default) this first sends one echo
    through the relay to the exposing node and raises ``ConnectionError``,
    naming the relay and the name, if nothing answers within ``timeout``.
    """
    node = Node(_unique(f"connect-{name}"))
    try:
        if check:
            probe = _probe_route(relay, name)
            try:
                node.message_send("ping", to=probe, timeout=timeout)
            except (OSError, ValueError) as exc:
                raise _not_exposed(name, relay, probe, exc) from exc
        inlet = node.create_inlet(local, to=_route_to(relay, name, outlet))
    except BaseException:
        node.close()
        raise
    return Connected(node, inlet, name, relay)


async def aconnect(
    name: str,
    relay: str,
    local: str = "127.0.0.1:0",
    *,
    outlet: str = OUTLET_ADDRESS,
    check: bool = True,
    timeout: float = 5.0,
) -> Connected:
    """:func:`connect` for asyncio: the check's echo is awaited without blocking the
    event loop. Cancelled, or failing, it leaves nothing behind (its node is closed)."""
    node = await _runtime.in_thread(Node, _unique(f"connect-{name}"))
    try:
        if check:
            probe = _probe_route(relay, name)
            try:
                await node.amessage_send("ping", to=probe, timeout=timeout)
            except (OSError, ValueError) as exc:
                raise _not_exposed(name, relay, probe, exc) from exc
        inlet = await node.acreate_inlet(local, to=_route_to(relay, name, outlet))
    except BaseException:
        await node.aclose()
        raise
    return Connected(node, inlet, name, relay)


def _probe_route(relay: str, name: str) -> str:
    return f"{_relay_route(relay)}/service/forward_to_{name}/service/echo"


def _not_exposed(name: str, relay: str, probe: str, exc: BaseException) -> ConnectionError:
    return ConnectionError(
        f"nothing is exposed as {name!r} at relay {relay} (echo along {probe} failed: {type(exc).__name__}: {exc})"
    )

