"""Nodes: the Python face of a C node running on the ockam_py loop thread."""

from __future__ import annotations

import asyncio
import builtins
import functools
import inspect
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

from . import _core, _display, _runtime
from ._closing import Closing
from ._checks import payload_bytes, route_text, seconds
from ._core import NodeClosedError, RouteError
from .portal import Inlet, Outlet
from .relay import Relay, RelayEntry, StatusCallback
from .secure import Identity, SecureChannel, SecureChannelListener

Route = Union[str, Sequence[str]]
Payload = Union[str, bytes, bytearray, memoryview]
BytesLike = Union[bytes, bytearray, memoryview]

SERVICES = ("echo", "uppercase", "hop")


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _worker_route(address: str) -> str:
    return address if address.startswith("/") else f"/service/{address}"


@dataclass(frozen=True)
class TcpListener:
    """A node's TCP listener. ``address`` is the bound ``host:port``."""

    address: str

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def __repr__(self) -> str:
        return f"<TcpListener {self.address}>"


@dataclass(frozen=True)
class TcpConnection:
    """A TCP connection of a node. ``address`` (``/worker/<32 hex>``) routes through it."""

    node_name: str
    worker: str
    peer: str
    outgoing: bool
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def address(self) -> str:
        return f"/worker/{self.worker}"

    def __str__(self) -> str:
        return self.address

    def __repr__(self) -> str:
        way = "to" if self.outgoing else "from"
        return f"<TcpConnection {self.address} of {self.node_name!r} {way} {self.peer}>"

    def _repr_html_(self) -> str:
        return _display.to_html(self)


@dataclass(frozen=True)
class UdpBind:
    """A UDP socket of a node (Ockam's UDP transport, docs/udp.md).

    ``address`` is the bound ``IP:port``; ``worker`` the bind's worker address
    (32 hex). Messages reach a peer through it with a route such as
    ``/ip4/127.0.0.1/udp/<port>/service/echo``. The counters are as of
    :meth:`Node.udp_binds`: whole messages ``sent`` and ``received``,
    ``datagrams_out`` and ``datagrams_in``, and messages dropped:
    ``dropped_incomplete`` (a datagram missing, out of order, or too late),
    ``dropped_too_large`` (over the node's ``max_frame``), ``dropped_malformed``
    (datagrams or messages that do not decode), ``dropped_send`` (not sent).
    UDP is best effort: a message that lost a datagram is dropped, never
    delivered with a hole.
    """

    node_name: str
    worker: str
    address: str
    sent: int = 0
    received: int = 0
    datagrams_out: int = 0
    datagrams_in: int = 0
    dropped_incomplete: int = 0
    dropped_too_large: int = 0
    dropped_malformed: int = 0
    dropped_send: int = 0

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def __repr__(self) -> str:
        return f"<UdpBind {self.address} of {self.node_name!r}>"


@dataclass(frozen=True)
class NodeStats:
    """What a node's core holds now (:meth:`Node.stats`): requests waiting for
    their reply, and TCP connections open, being opened, and closed but not yet
    released (their sockets close on the next turn of the loop)."""

    pending_requests: int
    tcp_open: int
    tcp_connecting: int
    tcp_closing: int


@dataclass
class Message:
    """A message delivered to a Python worker.

    ``payload`` is the raw payload; ``text`` decodes it as a BARE string, the
    encoding Ockam's CLI and services use. Routes are lists of ``"tt#address"``.
    """

    node: "Node"
    address: str
    payload: bytes
    onward_route: List[str]
    return_route: List[str]

    @property
    def text(self) -> str:
        """The payload decoded as a BARE string (``ValueError`` if it is not one)."""
        return _core.bare_decode(self.payload).decode("utf-8", "replace")

    def reply(self, payload: Payload) -> None:
        """Sends payload back along the return route. A ``str`` is BARE-encoded, ``bytes`` go raw."""
        data = _core.bare_encode(payload.encode()) if isinstance(payload, str) else payload_bytes(payload)
        self.node.send(self.return_route, data, return_route=[f"0#{self.address}"])

    def forward(self, to: Route) -> None:
        """Sends the payload on to ``to`` as a hop would: this worker joins the return route."""
        self.node.send(to, self.payload, return_route=[f"0#{self.address}", *self.return_route])

    def __repr__(self) -> str:
        try:
            body = repr(self.text if len(self.payload) <= 64 else self.text[:40] + "...")
        except ValueError:  # not a BARE string: raw bytes
            body = f"{len(self.payload)} bytes"
        return (
            f"<Message to {_worker_route(self.address)} of {self.node.name!r}: {body}, "
            f"from {' => '.join(self.return_route)}>"
        )


@dataclass
class Worker(Closing):
    """A Python worker of a node; ``handler(message)`` runs on the dispatcher thread.

    A context manager (``with`` and ``async with``): leaving it stops the worker."""

    node: "Node"
    address: str
    handler: Callable[[Message], None] = field(repr=False)

    def stop(self) -> None:
        """Stops the worker; messages for it are dropped from now on. Stopping twice is fine."""
        if self.node._workers.get(self.address) is not self:
            return
        _runtime.unregister_handler(self.node.id, self.address)
        self.node._workers.pop(self.address, None)
        if not self.node.closed:
            _core.stop_worker(self.node.id, self.address)

    def close(self) -> None:
        """The same as :meth:`stop` (what leaving a ``with`` block calls)."""
        self.stop()

    async def astop(self) -> None:
        """:meth:`stop` for asyncio."""
        await self.aclose()

    @property
    def stopped(self) -> bool:
        return self.node.closed or self.node._workers.get(self.address) is not self

    def __repr__(self) -> str:
        state = " stopped" if self.stopped else ""
        return f"<Worker {_worker_route(self.address)} of {self.node.name!r}{state}>"


class Node(Closing):
    """An Ockam node, run by the C core on the loop thread.

    ``Node("n1", tcp_listener_address="127.0.0.1:0")`` starts a node with a TCP
    listener (port 0 picks a free port), the ``echo`` and ``uppercase``
    services, an identity (``identity``, or a new one) and a secure channel
    listener at ``api``, as ``ockam node create`` does.
    ``udp_listener_address="127.0.0.1:0"`` also binds a UDP socket
    (:meth:`bind_udp`). Everything the node makes (connections, workers,
    listeners, binds, channels) ends with :meth:`close`.
    """

    _by_name: "weakref.WeakValueDictionary[str, Node]" = weakref.WeakValueDictionary()
    _registry_lock = threading.Lock()

    def __init__(
        self,
        name: str,
        tcp_listener_address: Optional[str] = None,
        identity: Optional[Identity] = None,
        udp_listener_address: Optional[str] = None,
    ) -> None:
        _runtime.ensure_dispatcher()
        _runtime.sync_log_level()
        self.name = name
        _replace_in_interactive_session(name)
        if identity is None:
            self.id, bound = _core.node_create(name, tcp_listener_address)
        else:
            self.id, bound = _core.node_create(name, tcp_listener_address, identity.secret, identity.change_history)
        self.identifier, self.change_history = _core.node_identity(self.id)
        self.tcp_listener: Optional[TcpListener] = TcpListener(bound) if bound else None
        self.closed = False
        self._workers: Dict[str, Worker] = {}
        self._relays: Dict[str, Relay] = {}
        self._portals: Dict[Tuple[str, str], object] = {}
        self._secure_routes: Dict[str, SecureChannel] = {}
        self._secure_lock = threading.Lock()
        with Node._registry_lock:
            Node._by_name[name] = self
        # Not closed and no longer referenced: the core would keep its name, listener and
        # connections for the life of the process. The finalizer holds no reference to self.
        self._finalizer = weakref.finalize(self, _close_lost_node, self.id, name)
        self._finalizer.atexit = False  # at exit the runtime closes every node itself
        if udp_listener_address is not None:
            try:
                self.bind_udp(udp_listener_address)
            except BaseException:
                self.close()
                raise

    @classmethod
    def get(cls, name: str) -> "Node":
        """The open node of this process named ``name`` (``KeyError`` if none)."""
        with cls._registry_lock:
            node = cls._by_name.get(name)
        if node is None or node.closed:
            raise KeyError(f"no open node named {name!r} in this process")
        return node

    @classmethod
    def _forget_all(cls) -> None:
        with cls._registry_lock:
            for node in list(cls._by_name.values()):
                node.closed = True
                node._finalizer.detach()  # its core node belongs to the parent (fork) or is gone (exit)
            cls._by_name.clear()

    def close(self) -> None:
        """Closes the node: its listener, connections and workers. Closing twice is fine."""
        if self.closed:
            return
        self.closed = True
        self._finalizer.detach()
        with Node._registry_lock:
            if Node._by_name.get(self.name) is self:
                del Node._by_name[self.name]
        _core.node_close(self.id)
        for relay in list(self._relays.values()):
            relay.close()
        for portal in list(self._portals.values()):
            portal.closed = True  # type: ignore[attr-defined]
        self._portals.clear()
        _runtime.unregister_node(self.id)

    async def aclose(self) -> None:
        """:meth:`close` for asyncio (the event loop runs while the sockets close).
        Cancelling it does not stop the close half-way: the node still closes."""
        await asyncio.shield(_runtime.in_thread(self.close))

    def stats(self) -> NodeStats:
        """What the node's core holds now: pending requests, TCP connections by state."""
        values = {k: int(v) for k, v in (line.split(" ") for line in _core.node_stats(self.id).splitlines())}
        return NodeStats(**values)

    def start_service(self, kind: str, address: Optional[str] = None) -> str:
        """Starts ``echo``, ``uppercase`` or ``hop`` at ``address`` (default: its kind)."""
        if kind not in SERVICES:
            raise ValueError(f"unknown service {kind!r}: expected one of {', '.join(SERVICES)}")
        _core.start_service(self.id, kind, address)
        return address or kind

    def connect_tcp(self, address: str, timeout: float = 10.0) -> TcpConnection:
        """Opens a TCP connection to ``host:port``; route through it with ``.address``."""
        return self._connection(_core.connect(self.id, address, seconds(timeout)), address)

    def _connection(self, worker: str, address: str) -> TcpConnection:
        for conn in self.connections():
            if conn.worker == worker:
                return conn
        return TcpConnection(self.name, worker, address, True)

    def connections(self) -> List[TcpConnection]:
        """The node's open TCP connections, accepted and outgoing."""
        out = []
        for line in _core.list_connections(self.id).splitlines():
            worker, way, peer, _target, bytes_in, bytes_out = line.split(" ")
            out.append(TcpConnection(self.name, worker, peer, way == "outgoing", int(bytes_in), int(bytes_out)))
        return out

    def bind_udp(self, address: str = "127.0.0.1:0") -> UdpBind:
        """Binds a UDP socket at ``IP:port`` (port 0 picks a free port).

        Routes with a UDP hop (``/ip4/A/udp/P`` or ``2#A:P``) go out through
        the node's first bind; every bind receives, and replies go back
        through the bind a message came in on.
        """
        worker, bound = _core.udp_bind(self.id, address).split(" ")
        for bind in self.udp_binds():
            if bind.worker == worker:
                return bind
        return UdpBind(self.name, worker, bound)

    def udp_binds(self) -> List[UdpBind]:
        """The node's UDP binds, oldest first, with their counters now."""
        out = []
        for line in _core.udp_list(self.id).splitlines():
            worker, bound, *counts = line.split(" ")
            out.append(UdpBind(self.name, worker, bound, *(int(c) for c in counts)))
        return out

    @overload
    def message_send(self, payload: str, to: Route, timeout: float = ..., raw: "Literal[False]" = ...) -> str: ...

    @overload
    def message_send(self, payload: BytesLike, to: Route, timeout: float = ..., raw: bool = ...) -> bytes: ...

    @overload
    def message_send(self, payload: Payload, to: Route, timeout: float = ..., *, raw: "Literal[True]") -> bytes: ...

    @overload
    def message_send(self, payload: Payload, to: Route, timeout: float = ..., raw: bool = ...) -> Union[str, bytes]: ...

    def message_send(self, payload: Payload, to: Route, timeout: float = 5.0, raw: bool = False) -> Union[str, bytes]:
        """Sends ``payload`` along ``to`` and returns the reply, as ``ockam message send`` does.

        A ``str`` or bytes-like payload (``bytes``, ``bytearray``, ``memoryview``)
        is BARE-encoded and the reply BARE-decoded (``str`` in, ``str`` out;
        bytes-like in, ``bytes`` out); anything else is a ``TypeError``. With
        ``raw=True`` the bytes go and come back unencoded. ``to`` is a multiaddr
        (``/worker/<hex>/service/echo``, ``/ip4/127.0.0.1/tcp/4000/service/echo``,
        ``/node/n2/service/uppercase``) or a list of addresses (``["0#echo"]``).
        ``timeout``: seconds, finite and >= 0 (``ValueError`` otherwise).
        Raises :class:`RouteError`, :class:`TimeoutError` or :class:`OSError`.
        """
        data = payload_bytes(payload)
        timeout = seconds(timeout)
        if not raw:
            data = _core.bare_encode(data)
        reply = _core.request(self.id, self._through_secure(to, timeout), data, timeout)
        return reply if raw else self._decode_reply(reply, to, isinstance(payload, str))

    async def amessage_send(
        self, payload: Payload, to: Route, timeout: float = 5.0, raw: bool = False
    ) -> Union[str, bytes]:
        """:meth:`message_send` for asyncio: never blocks the event loop.

        Cancelling it (``task.cancel()``, ``asyncio.wait_for``) cancels the
        request in the core: its reply worker and timer go at once, and a late
        reply is dropped (:meth:`stats` counts the requests still pending)."""
        data = payload_bytes(payload)
        timeout = seconds(timeout)
        if not raw:
            data = _core.bare_encode(data)

        def convert(_text: str, reply: bytes) -> Union[str, bytes]:
            return reply if raw else self._decode_reply(reply, to, isinstance(payload, str))

        route: Route = to
        if isinstance(to, str) and "/secure/" in to:
            route = await _runtime.in_thread(self._through_secure, to, timeout)
        result: Union[str, bytes] = await _runtime.await_call(
            lambda token: _core.request(self.id, route, data, timeout, token), convert
        )
        return result

    async def aconnect_tcp(self, address: str, timeout: float = 10.0) -> TcpConnection:
        """:meth:`connect_tcp` for asyncio. Cancelling it while it connects
        closes the connection being opened: none is left behind."""
        timeout = seconds(timeout)
        worker: str = await _runtime.await_call(
            lambda token: _core.connect(self.id, address, timeout, token), lambda text, _payload: text
        )
        return self._connection(worker, address)

    def _decode_reply(self, reply: bytes, to: Route, text: bool) -> Union[str, bytes]:
        try:
            body = _core.bare_decode(reply)
        except ValueError:
            raise ValueError(f"reply from {to!r} is not a BARE string: {reply[:32]!r}") from None
        return body.decode("utf-8", "replace") if text else body

    def send(self, to: Route, payload: BytesLike, return_route: Route = ()) -> None:
        """Sends raw ``payload`` (bytes-like) along ``to`` without waiting for anything."""
        if isinstance(payload, str):
            raise TypeError("send takes raw bytes: encode the str (message_send BARE-encodes a str for you)")
        data = payload_bytes(payload)
        if self.closed:
            raise NodeClosedError(f"node {self.name!r} is closed")
        _core.send(self.id, self._through_secure(to), return_route, data)

    def start_worker(self, address: str, handler: Callable[[Message], Any]) -> Worker:
        """Starts a Python worker at ``address``; ``handler(message)`` gets each message.

        Handlers run on the dispatcher thread. An ``async def`` handler runs on
        the event loop that was running when the worker started.
        """
        worker = Worker(self, address, handler)
        loop = _running_loop() if inspect.iscoroutinefunction(handler) else None
        if inspect.iscoroutinefunction(handler) and loop is None:
            raise RuntimeError("an async handler needs a running event loop: start the worker from async code")

        def on_event(event: Tuple[Any, ...]) -> None:
            _, _node_id, addr, payload, onward, ret = event
            message = Message(self, addr, payload, onward, ret)
            if loop is None:
                handler(message)
            else:
                future = asyncio.run_coroutine_threadsafe(handler(message), loop)
                future.add_done_callback(functools.partial(_runtime.log_handler_failure, address=address))

        if address in self._workers:
            raise ValueError(f"node {self.name!r} already has a worker at {address!r}")
        _runtime.register_handler(self.id, address, on_event)
        try:
            _core.start_worker(self.id, address)
        except BaseException:
            _runtime.unregister_handler(self.id, address)
            raise
        self._workers[address] = worker
        return worker

    def create_relay(
        self,
        name: str,
        at: Route,
        timeout: float = 10.0,
        wait: bool = True,
        ping_interval: float = 1.0,
        max_backoff: float = 1.5,
        on_status: Optional[StatusCallback] = None,
    ) -> Relay:
        """Registers relay ``name`` at a relay node and keeps it registered.

        ``at`` is ``"host:port"`` of the relay node, or a route to its relay
        service's node (``/ip4/127.0.0.1/tcp/4000``, ``/node/n2``); a malformed
        one raises ``RouteError`` at once, before anything is sent. The relay
        opens its own connection; the node becomes reachable there at
        ``/service/forward_to_<name>``. With ``wait`` (the default) this returns
        once the relay is up, or raises ``TimeoutError`` after ``timeout``
        seconds (the relay is then closed). Liveness pings go every
        ``ping_interval`` seconds; retries back off up to ``max_backoff``. The
        ``TimeoutError`` of a relay that is not up in time names the last error
        it met (``connection to 127.0.0.1:4000: connection refused``).
        ``on_status`` is registered before the relay starts, so it sees every
        status, the first "connecting" and "up" included (``Relay.on_status``
        registers later ones).

        Registered through a secure channel (``at`` the channel's address, or a
        route through one), the name belongs to this node's identity on the relay
        node: nobody else can take it, and this node can always register it
        again. A name another identity holds raises ``PermissionError``.
        """
        timeout = seconds(timeout)
        relay = self._start_relay(name, at, self._relay_route(at), ping_interval, max_backoff, on_status)
        if wait and not relay.wait_up(timeout):
            self._relay_not_up(relay, timeout)
        return relay

    async def acreate_relay(
        self,
        name: str,
        at: Route,
        timeout: float = 10.0,
        wait: bool = True,
        ping_interval: float = 1.0,
        max_backoff: float = 1.5,
        on_status: Optional[StatusCallback] = None,
    ) -> Relay:
        """:meth:`create_relay` for asyncio: awaits the relay's "up" without blocking
        the event loop. Cancelling it while it waits closes the relay."""
        timeout = seconds(timeout)
        route = self._relay_route(at, resolve_secure=False)
        if isinstance(route, str) and "/secure/" in route:
            route = await _runtime.in_thread(self._through_secure, route)
        relay = self._start_relay(name, at, route, ping_interval, max_backoff, on_status)
        if wait:
            try:
                up = await relay.await_up(timeout)
            except asyncio.CancelledError:
                await _runtime.in_thread(relay.close)
                raise
            if not up:
                await _runtime.in_thread(self._relay_not_up, relay, timeout)
        return relay

    def _relay_route(self, at: Route, resolve_secure: bool = True) -> Route:
        """The route of ``at`` for the core, checked now: a malformed ``at`` raises
        ``RouteError`` before anything is started or sent."""
        if isinstance(at, str) and not at.startswith("/") and "#" not in at:
            if ":" not in at:
                raise RouteError(
                    f"relay address at={at!r} is not host:port, a multiaddr or a route"
                    f" (a node of this process is /node/{at})"
                )
            _check_hostport(at, f"relay address at={at!r}")
            return [f"1#{at}"]
        try:
            parsed = _core.parse_route(at)
        except RouteError as exc:
            raise RouteError(f"relay address at={at!r}: {exc}") from None
        except TypeError:
            raise TypeError(f"relay address at must be a str or a list of str, not {type(at).__name__}") from None
        for hop in parsed:
            if hop.startswith("1#"):
                _check_hostport(hop[2:], f"relay address at={at!r}")
        if resolve_secure and isinstance(at, str) and "/secure/" in at:
            return self._through_secure(at)
        return at

    def _start_relay(
        self, name: str, at: Route, route: Route, ping_interval: float, max_backoff: float,
        on_status: Optional[StatusCallback],
    ) -> Relay:
        ping_interval = seconds(ping_interval, "ping_interval")
        max_backoff = seconds(max_backoff, "max_backoff")
        if name in self._relays:
            raise ValueError(f"node {self.name!r} already has a relay named {name!r}")
        relay = Relay(self, name, at)
        if on_status is not None:
            relay.on_status(on_status)
        _runtime.register_status_handler(self.id, name, relay._on_event)
        try:
            _core.relay_create(self.id, name, route, ping_interval, max_backoff, relay._serial)
        except BaseException:
            _runtime.unregister_status_handler(self.id, name)
            raise
        self._relays[name] = relay
        return relay

    def _relay_not_up(self, relay: Relay, timeout: float) -> None:
        """Closes a relay that did not come up and raises why (its last error, if any)."""
        if self.closed or relay.status == "closed":
            raise NodeClosedError(f"node {self.name!r} was closed while relay {relay.name!r} was starting")
        detail, refused, last = relay.detail, relay.refused, relay.last_error
        relay.close()
        where = f"relay {relay.name!r} at {relay.at_text}"
        if refused:
            raise _core.AccessDeniedError(f"{where}: {detail}")
        why = last or detail
        raise _core.TimeoutError(f"{where} not up within {timeout} s" + (f": last error: {why}" if why else ""))

    def create_outlet(self, to: str, address: str = "outlet", allow: Optional[Sequence[str]] = None) -> Outlet:
        """Starts a TCP outlet at worker ``address`` that connects to ``to`` (``host:port``).

        Inlets reach it at ``.../service/<address>``; through a relay, as Ockam
        requires, via ``hop``: ``.../service/forward_to_<n>/service/hop/service/<address>``.

        ``allow``: identifiers (``I`` + 64 hex digits) that alone may open portal
        connections, and only through a secure channel (``.../secure/api/service/<address>``);
        anyone else's Ping is answered with Disconnect (their client is closed at
        once) and a log line on this node. ``None`` (the default): anyone who
        reaches the worker.
        """
        ids = _identifiers(allow, "allow")
        _core.outlet_create(self.id, to, address, ids)
        outlet = Outlet(self, address, to, allow=ids)
        self._portals[("outlet", address)] = outlet
        return outlet

    def create_inlet(self, address: str, to: Route) -> Inlet:
        """Starts a TCP inlet listening on ``address`` (``host:port``, port 0 allowed).

        Each client connection is carried to the outlet at route ``to``, e.g.
        ``/ip4/127.0.0.1/tcp/4000/service/outlet`` or
        ``/node/n2/service/forward_to_n3/service/hop/service/outlet``.
        """
        bound = _core.inlet_create(self.id, address, self._through_secure(to))
        inlet = Inlet(self, bound, " => ".join(_core.parse_route(to)), route_text(to))
        self._portals[("inlet", bound)] = inlet
        return inlet

    async def acreate_inlet(self, address: str, to: Route) -> Inlet:
        """:meth:`create_inlet` for asyncio."""
        inlet: Inlet = await _runtime.in_thread(self.create_inlet, address, to)
        return inlet

    async def acreate_outlet(self, to: str, address: str = "outlet", allow: Optional[Sequence[str]] = None) -> Outlet:
        """:meth:`create_outlet` for asyncio."""
        outlet: Outlet = await _runtime.in_thread(self.create_outlet, to, address, allow)
        return outlet

    def inlets(self) -> List[Inlet]:
        """The node's open inlets."""
        return [p for p in self._portals.values() if isinstance(p, Inlet)]

    def outlets(self) -> List[Outlet]:
        """The node's open outlets."""
        return [p for p in self._portals.values() if isinstance(p, Outlet)]

    def limits(self) -> Dict[str, int]:
        """The limits this node enforces on its peers, by name (see :meth:`set_limits`)."""
        return {k: int(v) for k, v in (line.split(" ") for line in _core.limits(self.id).splitlines())}

    def set_limits(self, **limits: int) -> None:
        """Sets limits by name; hitting one logs a line and closes only the offender.

        ``max_connections`` (accepted connections open at once), ``max_frame``
        (bytes of one frame, at most 16 MiB), ``frame_timeout_ms`` (to finish
        the preamble or a frame once begun), ``max_route_hops`` (onward; a return
        route counts with the receiving connection's address),
        ``max_write_queue`` (bytes queued for a peer that does not read),
        ``max_relays``, ``max_relays_per_connection``, ``max_portal_connections``
        (per inlet or outlet), ``udp_reassembly_timeout_ms`` (for a UDP message
        cut in datagrams to arrive whole), ``udp_datagrams_per_ms`` (the send
        pace of each UDP bind).
        """
        for name, value in limits.items():
            _core.set_limit(self.id, name, int(value))

    def create_secure_channel(
        self, to: Route, authorized: Optional[Sequence[str]] = None, timeout: float = 5.0
    ) -> SecureChannel:
        """Opens a secure channel to the listener at the end of ``to``
        (``/node/n2/service/api``, ``/ip4/127.0.0.1/tcp/4000/service/api``,
        through relays: ``.../service/forward_to_n3/service/api``).

        ``authorized``: the identifiers the listener may have (default: any).
        Raises ``PermissionError`` when the listener's identity is not one of
        them, ``TimeoutError`` when the handshake is not done within ``timeout``
        (a listener that refuses us says nothing).
        """
        text = _core.sc_create(self.id, to, _identifiers(authorized), seconds(timeout))
        encryptor, their = text.split(" ")
        return SecureChannel(self, encryptor, their, to=route_text(to))

    def _through_secure(self, to: Route, timeout: float = 5.0) -> Route:
        """Resolves each ``/secure/<listener>`` of a multiaddr, as Ockam's CLI
        reads it: a secure channel to the listener reached by the route before
        it (opened on first use, reused while it is open), then on through it:
        ``/node/n2/secure/api/service/echo`` -> ``/service/<encryptor>/service/echo``."""
        if not isinstance(to, str) or "/secure/" not in to:
            return to
        head, _, tail = to.partition("/secure/")
        name, slash, rest = tail.partition("/")
        if not head or not name:
            raise RouteError(f"'/secure/{name}' needs the route to its listener before it: {to!r}")
        key = f"{head}/service/{name}"
        with self._secure_lock:
            channel = self._secure_routes.get(key)
            if channel is None or channel.encryptor not in {c.encryptor for c in self.secure_channels()}:
                channel = self.create_secure_channel(key, timeout=timeout)
                self._secure_routes[key] = channel
        return self._through_secure(channel.address + slash + rest, timeout)

    async def acreate_secure_channel(
        self, to: Route, authorized: Optional[Sequence[str]] = None, timeout: float = 5.0
    ) -> SecureChannel:
        """:meth:`create_secure_channel` for asyncio. Cancelling it ends the handshake."""
        ids, timeout = _identifiers(authorized), seconds(timeout)
        text: str = await _runtime.await_call(
            lambda token: _core.sc_create(self.id, to, ids, timeout, token), lambda text, _payload: text
        )
        encryptor, their = text.split(" ")
        return SecureChannel(self, encryptor, their, to=route_text(to))

    def create_secure_channel_listener(
        self, address: str = "api", authorized: Optional[Sequence[str]] = None
    ) -> SecureChannelListener:
        """Starts a secure channel listener at ``address``; a listener already
        there (such as the default one at ``api``) is replaced. ``authorized``:
        the identifiers that may open channels (default: anyone)."""
        ids = _identifiers(authorized)
        if any(listener.address == address for listener in self.secure_channel_listeners()):
            _core.sc_close(self.id, "listener", address)
        _core.sc_listener_create(self.id, address, ids)
        return SecureChannelListener(self, address, tuple(ids) if ids is not None else None)

    def secure_channel_listeners(self) -> List[SecureChannelListener]:
        """The node's secure channel listeners."""
        out = []
        for line in _core.sc_list(self.id, "listeners").splitlines():
            address, who = line.split(" ")
            out.append(SecureChannelListener(self, address, None if who == "everyone" else ()))
        return out

    def secure_channels(self) -> List[SecureChannel]:
        """The node's open secure channels, those it initiated and those it accepted."""
        out = []
        for line in _core.sc_list(self.id).splitlines():
            enc, dec, role, state, their, listener = line.split(" ")
            if state == "open":
                out.append(SecureChannel(self, enc, their, role == "initiator", dec, None if listener == "-" else listener))
        return out

    def relays(self) -> List[Relay]:
        """The relays this node keeps registered elsewhere."""
        return list(self._relays.values())

    def relay_service_entries(self) -> List[RelayEntry]:
        """The relays registered at this node's relay service, with where each forwards."""
        out = []
        for line in _core.relay_service_list(self.id).splitlines():
            address, route = line.split(" ", 1)
            out.append(RelayEntry(address, route))
        return out

    def close_connection(self, connection: "TcpConnection | str") -> None:
        """Closes one TCP connection of this node (by object or ``/worker/<hex>`` address)."""
        worker = connection.worker if isinstance(connection, TcpConnection) else str(connection).rsplit("/", 1)[-1]
        _core.close_connection(self.id, worker)

    def __repr__(self) -> str:
        state = "closed" if self.closed else (f"listening on {self.tcp_listener.address}" if self.tcp_listener else "no listener")
        return f"<Node {self.name!r} {state}>"

    def _repr_html_(self) -> str:
        return _display.to_html(self)


def _close_lost_node(node_id: int, name: str) -> None:
    """weakref finalizer of a Node nobody closed: closes it in the core, frees its name."""
    warnings.warn(f"node {name!r} was garbage-collected without close(): closing it", ResourceWarning, stacklevel=2)
    try:
        _core.node_close(node_id)
    except Exception:  # already gone (the runtime shut down)
        pass
    _runtime.unregister_node(node_id)


def _replace_in_interactive_session(name: str) -> None:
    """In IPython/Jupyter, re-running ``n1 = Node("n1")`` replaces the open node of that name
    (closed, with a warning) instead of failing: the old one is usually the previous run's.
    Scripts keep the error for a name in use."""
    if not hasattr(builtins, "get_ipython"):
        return
    with Node._registry_lock:
        old = Node._by_name.get(name)
    if old is not None and not old.closed:
        warnings.warn(f"node {name!r} already open in this session: closing it for the new one", stacklevel=3)
        old.close()


def _check_hostport(text: str, what: str) -> None:
    """``host:port`` with a host and a port 1..65535, else ``RouteError`` naming ``what``."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in " /#"):
        raise RouteError(f"{what}: {text!r} is not host:port (a host name or IP and a port 1-65535)")


def _identifiers(ids: Optional[Sequence[str]], what: str = "authorized") -> Optional[List[str]]:
    if ids is None:
        return None
    out = [ids] if isinstance(ids, str) else [str(i) for i in ids]
    if not out:
        raise ValueError(f"{what} is empty: nobody could connect (None lets everyone)")
    return out


# at exit and in a forked child the registry of names starts empty
_runtime.on_forget(Node._forget_all)

