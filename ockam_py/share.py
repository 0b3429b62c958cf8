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

from .node import Node
from .portal import Inlet, Outlet
from .relay import Relay

__all__ = ["Exposed", "Connected", "expose", "connect", "OUTLET_ADDRESS"]

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


class Exposed:
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

    def close(self) -> None:
        """Stops sharing: closes the relay, the outlet and the node. Closing twice is fine."""
        self.node.close()

    def __enter__(self) -> "Exposed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Exposed {self.local} as {self.name!r} at {self.relay_at} ({self.status})>"

    def _repr_html_(self) -> str:
        from .topology import _table

        return _table(
            f"Exposed {self.local}",
            [("name", self.name), ("relay", self.relay_at), ("status", self.status), ("route", self.route)],
        )


class Connected:
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

    def close(self) -> None:
        """Closes the inlet, its connections and the node. Closing twice is fine."""
        self.node.close()

    def __enter__(self) -> "Connected":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    node = Node(_unique(f"expose-{name}"))
    try:
        node.start_service("hop")
        outlet = node.create_outlet(to=f"{host}:{local_port}", address=OUTLET_ADDRESS)
        handle = node.create_relay(name, at=relay, timeout=timeout)
    except BaseException:
        node.close()
        raise
    return Exposed(node, outlet, handle, relay, f"{host}:{local_port}")


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
            probe = f"{_relay_route(relay)}/service/forward_to_{name}/service/echo"
            try:
                node.message_send("ping", to=probe, timeout=timeout)
            except (OSError, ValueError) as exc:
                raise ConnectionError(
                    f"nothing is exposed as {name!r} at relay {relay} (echo along {probe} failed: "
                    f"{type(exc).__name__}: {exc})"
                ) from exc
        inlet = node.create_inlet(local, to=_route_to(relay, name, outlet))
    except BaseException:
        node.close()
        raise
    return Connected(node, inlet, name, relay)

