"""pytest plugin for code that uses ockam_py (registered as ``ockam_py`` under ``pytest11``).

Installed with ockam_py, it gives every test suite these fixtures:

``ockam_node``
    A factory: ``ockam_node("n1", listen=True)`` makes a :class:`~ockam_py.Node`
    named ``n1-<6 hex>`` (unique in the process), with a TCP listener on
    ``127.0.0.1:<free port>`` when ``listen`` is true (or on the address given).
    Every node it made is closed at teardown. ``ockam_node.nodes`` lists them.

``ockam_free_port`` (also ``free_port``, its older name)
    A TCP port of 127.0.0.1 that nothing listens on (bound once, then closed).
    A suite's own ``free_port`` fixture takes precedence over the alias.

``ockam_topology``
    ``ockam_topology(description)`` builds nodes, connections, relays and
    portals from a short description (see :func:`build_topology`) and returns
    a :class:`Network`; its nodes are closed at teardown.

``ockam_network``
    The :class:`Network` described by the test's marker
    ``@pytest.mark.ockam_topology("n2 listens; ...")``, built before the test.

``ockam_async_node``, ``ockam_async_topology``
    The same factories for asyncio code: ``await ockam_async_node("n1")``.
    Ordinary fixtures returning coroutine functions, so no pytest-asyncio or
    anyio is needed: await them inside ``asyncio.run(...)`` in a plain test
    (or in an async test where such a plugin is installed).

``ockam_http_server``
    A real ``http.server`` on 127.0.0.1, serving a directory with ``index.html``
    (``ockam_http_server.port``, ``.address``, ``.body``), stopped at teardown.

And the helper :func:`assert_route`: ``assert_route(node, route, expect,
payload=...)`` sends ``payload`` along ``route`` and checks the reply. When it
fails, the message names the node and the route, then sends an echo along each
prefix of the route and names the first hop that does not answer.

When a test that used ``ockam_node`` (or a fixture built on it) fails, the
report gets an "ockam_py nodes" section: each node it made with its
connections (and byte counters), relays and portals, as the nodes saw them at
the failure. It is part of the failure itself, so ``--junitxml`` writes it in
the test case's ``<failure>`` text, and also a ``<property name="ockam_py
nodes">`` of the test case.

The marker ``ockam_topology`` (registered) marks topology tests: every test
that uses ``ockam_topology``, ``ockam_network`` or ``ockam_async_topology``
gets it, so ``pytest -m "not ockam_topology"`` leaves them out.

A topology description is a dict, or text with one statement per line or
``;``. ``PORT``-like values are whatever the test puts there (f-strings)::

    n2 listens                              # a node with a TCP listener
    n2 listens on 127.0.0.1:4000
    n3 hop                                  # start the hop service on n3
    n1 connects to n2                       # a TCP connection (a bridge)
    n3 relay at n2 [with hop]               # relay "n3" at n2 (and hop on n3)
    n3 relay web at n2                      # relay "web" at n2
    n3 outlet to 127.0.0.1:8000             # outlet at /service/outlet
    n3 outlet web to 127.0.0.1:8000         # outlet at /service/web
    n1 inlet to n3's outlet [at 127.0.0.1:8000]   # (at: creates n3's outlet)
    n1 inlet on 127.0.0.1:9000 to n3's outlet web
    n4                                      # a node, nothing else

Any name that is mentioned becomes a node. An inlet reaches a listening
outlet node directly (``/node/n3/service/outlet``), otherwise through its
relay (``/node/n2/service/forward_to_n3/service/hop/service/outlet``; hop is
then started on n3 by itself). The same as a dict::

    {
        "n2": {"listen": True},
        "n3": {"relay": "n2", "hop": True, "outlet": "127.0.0.1:8000"},
        "n1": {"inlet": "n3", "connect": "n2"},
    }

where ``listen`` is a bool or an address; ``relay`` a node name or
``{"at": ..., "name": ...}``; ``outlet`` a target or ``{"to": ..., "address": ...}``;
``inlet`` a node name or ``{"to": ..., "outlet": ..., "bind": ..., "at": ...}``;
``connect`` a node name; each of these may also be a list.
"""

from __future__ import annotations

import functools
import html
import http.server
import os
import random
import re
import socket
import tempfile
import threading
import uuid
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import pytest

from . import _core, _runtime
from .node import Node, Route, TcpConnection
from .portal import Inlet, Outlet
from .relay import Relay
from .topology import Topology, snapshot_world, topology

__all__ = [
    "HttpServer",
    "Network",
    "NodeFactory",
    "RouteCheckError",
    "assert_route",
    "build_topology",
    "free_port",
    "parse_topology",
    "unique_name",
]

Description = Union[str, Mapping[str, Mapping[str, Any]]]


def unique_name(prefix: str = "n") -> str:
    """``prefix-<6 hex>``: a node name no other node of the process has."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of ``host`` that nothing listens on, for something to bind later.

    It is drawn below the kernel's ephemeral range: a port the kernel handed
    out (bind to port 0) is handed out again as the local port of the next
    outgoing connection, which then takes it from whoever meant to listen.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10000, max(10001, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded range: take any
        s.bind((host, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- nodes


class NodeFactory:
    """``factory(name, listen=False)`` -> a new :class:`Node` with a unique name; ``close()`` closes them all."""

    def __init__(self) -> None:
        self.nodes: List[Node] = []

    def __call__(self, name: str = "n", listen: Union[bool, str] = False, services: Sequence[str] = ()) -> Node:
        address = "127.0.0.1:0" if listen is True else (listen or None)
        node = Node(unique_name(name), tcp_listener_address=address)
        self.nodes.append(node)
        try:
            for kind in services:
                node.start_service(kind)
        except BaseException:
            node.close()
            raise
        return node

    def close(self) -> None:
        while self.nodes:
            self.nodes.pop().close()


# ---------------------------------------------------------------- topologies


class Network:
    """Nodes, connections, relays and portals built by :func:`build_topology`.

    Everything is keyed by the short names of the description: ``net["n1"]``
    (or ``net.nodes["n1"]``) is the node (its real name is ``n1-<hex>``),
    ``net.relays["n3"]`` the relay named ``n3``, ``net.connections[("n1",
    "n2")]`` the connection n1 opened to n2, ``net.outlets["n3"]`` and
    ``net.inlets["n1"]`` the outlet and inlet of those nodes (a second one on
    the same node is ``"n3#2"``, and so on).
    """

    def __init__(self, factory: Callable[..., Node]) -> None:
        self._factory = factory
        self.nodes: Dict[str, Node] = {}
        self.relays: Dict[str, Relay] = {}
        self.relay_of: Dict[str, Tuple[str, str]] = {}  # node -> (relay node, relay name)
        self.connections: Dict[Tuple[str, str], TcpConnection] = {}
        self.inlets: Dict[str, Inlet] = {}
        self.outlets: Dict[str, Outlet] = {}
        self._services: Dict[str, set[str]] = {}
        self._owned: List[Node] = []

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def _key(self, table: Mapping[str, object], name: str) -> str:
        key, n = name, 1
        while key in table:
            n += 1
            key = f"{name}#{n}"
        return key

    def _service(self, name: str, kind: str) -> None:
        started = self._services.setdefault(name, set())
        if kind not in started:
            self.nodes[name].start_service(kind)
            started.add(kind)

    def route(self, to: str, service: str = "echo") -> str:
        """A route from any node of the network to ``service`` on node ``to``.

        Direct to a listening node (``/node/<real>/service/<service>``), else
        through its relay (``/node/<relay node>/service/forward_to_<relay>/service/<service>``).
        """
        node = self.nodes[to]
        if node.tcp_listener is not None:
            return f"/node/{node.name}/service/{service}"
        if to in self.relay_of:
            at, relay = self.relay_of[to]
            return f"/node/{self.nodes[at].name}/service/forward_to_{relay}/service/{service}"
        raise ValueError(f"node {to!r} has neither a TCP listener nor a relay: nothing can reach it")

    def picture(self) -> Topology:
        """The topology picture of this network's nodes."""
        return topology(self.nodes.values())

    def close(self) -> None:
        """Closes the nodes this network made (the fixture does it at teardown)."""
        for node in reversed(self._owned):
            node.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Network {', '.join(f'{k}={v.name}' for k, v in self.nodes.items())}>"


_NAME = r"[A-Za-z_][\w.-]*"
_ADDR = r"\S+:\d+"
_STATEMENTS: List[Tuple[str, "re.Pattern[str]"]] = [
    ("listen", re.compile(rf"^(?P<n>{_NAME})\s+listens(?:\s+on\s+(?P<addr>{_ADDR}))?$", re.I)),
    ("hop", re.compile(rf"^(?P<n>{_NAME})\s+(?:runs\s+|starts\s+)?hop$", re.I)),
    ("connect", re.compile(rf"^(?P<n>{_NAME})\s+connects\s+to\s+(?P<to>{_NAME})$", re.I)),
    (
        "relay",
        re.compile(
            rf"^(?P<n>{_NAME})\s+relay(?:\s+(?!at\b)(?P<name>\S+))?\s+at\s+(?P<at>{_NAME}|{_ADDR})(?P<hop>\s+with\s+hop)?$",
            re.I,
        ),
    ),
    (
        "outlet",
        re.compile(rf"^(?P<n>{_NAME})\s+outlet(?:\s+(?!to\b)(?P<addr>[\w.-]+))?\s+to\s+(?P<to>{_ADDR})$", re.I),
    ),
    (
        "inlet",
        re.compile(
            rf"^(?P<n>{_NAME})\s+inlet(?:\s+on\s+(?P<bind>{_ADDR}))?\s+to\s+(?P<to>{_NAME})'s\s+outlet"
            rf"(?:\s+(?!at\b)(?P<addr>[\w.-]+))?(?:\s+at\s+(?P<target>{_ADDR}))?$",
            re.I,
        ),
    ),
    ("node", re.compile(rf"^(?P<n>{_NAME})$")),
]

_GRAMMAR = """expected one of:
  N listens [on HOST:PORT]
  N hop
  N connects to M
  N relay [NAME] at M [with hop]
  N outlet [ADDRESS] to HOST:PORT
  N inlet [on HOST:PORT] to M's outlet [ADDRESS] [at HOST:PORT]
  N"""


def parse_topology(text: str) -> Dict[str, Dict[str, Any]]:
    """The dict form of a text description (see the module docstring)."""
    desc: Dict[str, Dict[str, Any]] = {}

    def node(name: str) -> Dict[str, Any]:
        return desc.setdefault(name, {})

    def add(name: str, key: str, value: Any) -> None:
        node(name).setdefault(key, []).append(value)

    for raw in re.split(r"[;\n]", text):
        stmt = " ".join(raw.split("#", 1)[0].split())  # "#" starts a comment
        if not stmt:
            continue
        for kind, pattern in _STATEMENTS:
            m = pattern.match(stmt)
            if m:
                break
        else:
            raise ValueError(f"cannot read topology statement {stmt!r}: {_GRAMMAR}")
        n = m.group("n")
        node(n)
        if kind == "listen":
            node(n)["listen"] = m.group("addr") or True
        elif kind == "hop":
            node(n)["hop"] = True
        elif kind == "connect":
            node(m.group("to"))
            add(n, "connect", m.group("to"))
        elif kind == "relay":
            at = m.group("at")
            if ":" not in at:
                node(at)
            add(n, "relay", {"at": at, "name": m.group("name") or n})
            if m.group("hop"):
                node(n)["hop"] = True
        elif kind == "outlet":
            add(n, "outlet", {"to": m.group("to"), "address": m.group("addr") or "outlet"})
        elif kind == "inlet":
            node(m.group("to"))
            spec = {"to": m.group("to"), "outlet": m.group("addr") or "outlet", "bind": m.group("bind") or "127.0.0.1:0"}
            if m.group("target"):
                spec["at"] = m.group("target")
            add(n, "inlet", spec)
    return desc


def _listify(value: Any) -> List[Any]:
    if value is None or value is False:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def build_topology(
    description: Description,
    make_node: Optional[Callable[..., Node]] = None,
    relay_timeout: float = 10.0,
) -> Network:
    """Builds the nodes, connections, relays and portals a description asks for.

    ``description`` is text or a dict (see the module docstring). Nodes are made
    by ``make_node(name, listen=...)`` (the ``ockam_node`` fixture does that;
    by default unique names and :meth:`Network.close` closes them). The order:
    nodes, services, outlets, connections, relays (waiting until each is up),
    inlets. If any step fails, the nodes made so far are closed and the error
    says which statement failed.
    """
    desc = parse_topology(description) if isinstance(description, str) else {k: dict(v) for k, v in description.items()}
    for name, spec in list(desc.items()):  # nodes only mentioned by others
        for key in ("connect",):
            for other in _listify(spec.get(key)):
                desc.setdefault(other, {})
        for r in _listify(spec.get("relay")):
            at = r["at"] if isinstance(r, Mapping) else r
            if ":" not in at:
                desc.setdefault(at, {})
        for i in _listify(spec.get("inlet")):
            desc.setdefault(i["to"] if isinstance(i, Mapping) else i, {})
    def own_node(name: str, listen: Union[bool, str] = False) -> Node:
        return Node(unique_name(name), tcp_listener_address="127.0.0.1:0" if listen is True else (listen or None))

    owned = make_node is None
    factory: Callable[..., Node] = make_node if make_node is not None else own_node
    net = Network(factory)
    step = "?"
    try:
        for name, spec in desc.items():
            step = f"{name}: create the node"
            node = factory(name, listen=spec.get("listen", False))
            net.nodes[name] = node
            if owned:
                net._owned.append(node)
        for name, spec in desc.items():
            step = f"{name}: start services"
            if spec.get("hop"):
                net._service(name, "hop")
            for kind in _listify(spec.get("services")):
                net._service(name, kind)
        for name, spec in desc.items():  # outlets, including those an inlet asks for with "at"
            for o in _listify(spec.get("outlet")):
                o = {"to": o} if isinstance(o, str) else o
                address = o.get("address", "outlet")
                step = f"{name}: outlet {address} to {o['to']}"
                net.outlets[net._key(net.outlets, name)] = net.nodes[name].create_outlet(to=o["to"], address=address)
        for name, spec in desc.items():
            for i in _listify(spec.get("inlet")):
                if isinstance(i, Mapping) and i.get("at"):
                    owner, address = i["to"], i.get("outlet", "outlet")
                    if not any(o.address == address for o in net.nodes[owner].outlets()):
                        step = f"{owner}: outlet {address} to {i['at']} (asked for by {name}'s inlet)"
                        key = net._key(net.outlets, owner)
                        net.outlets[key] = net.nodes[owner].create_outlet(to=i["at"], address=address)
        for name, spec in desc.items():
            for other in _listify(spec.get("connect")):
                step = f"{name} connects to {other}"
                listener = net.nodes[other].tcp_listener
                if listener is None:
                    raise ValueError(f"{other} does not listen (add '{other} listens')")
                net.connections[(name, other)] = net.nodes[name].connect_tcp(listener.address)
        for name, spec in desc.items():
            for r in _listify(spec.get("relay")):
                r = {"at": r} if isinstance(r, str) else r
                at, relay_name = r["at"], r.get("name", name)
                step = f"{name} relay {relay_name} at {at}"
                if ":" in at:
                    target: str = at
                else:
                    if net.nodes[at].tcp_listener is None:
                        raise ValueError(f"{at} does not listen (add '{at} listens')")
                    target = f"/node/{net.nodes[at].name}"
                net.relays[relay_name] = net.nodes[name].create_relay(relay_name, at=target, timeout=relay_timeout)
                if ":" not in at:
                    net.relay_of.setdefault(name, (at, relay_name))
        for name, spec in desc.items():
            for i in _listify(spec.get("inlet")):
                i = {"to": i} if isinstance(i, str) else i
                owner, address = i["to"], i.get("outlet", "outlet")
                step = f"{name} inlet to {owner}'s outlet {address}"
                if owner == name:
                    route = f"/service/{address}"
                elif net.nodes[owner].tcp_listener is not None:
                    route = net.route(owner, address)
                else:
                    net._service(owner, "hop")
                    route = net.route(owner, "hop") + f"/service/{address}"
                bind = i.get("bind", "127.0.0.1:0")
                net.inlets[net._key(net.inlets, name)] = net.nodes[name].create_inlet(bind, to=route)
    except BaseException as exc:
        net.close()
        if isinstance(exc, Exception) and _rebuildable(exc):
            raise type(exc)(f"topology step '{step}' failed: {exc}") from exc
        raise
    return net


def _rebuildable(exc: Exception) -> bool:
    try:
        type(exc)("x")
        return True
    except Exception:
        return False


# ---------------------------------------------------------------- assert_route


class RouteCheckError(AssertionError):
    """Raised by :func:`assert_route`; its message names the node, the route and the first silent hop."""


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def probe_hops(node: Node, route: Route, timeout: float = 1.0) -> List[Tuple[str, Optional[str], Optional[str]]]:
    """Sends an echo along each prefix of ``route``: ``[(hop, node name or None, error or None), ...]``.

    The probe for prefix k is the first k addresses of the route followed by
    ``echo``; every ockam_py node runs it. The last address of the route (the
    destination) is probed as itself only when it is a hop to another node.
    Stops at the first hop that does not answer.
    """
    hops = _core.parse_route(route)
    world = snapshot_world()
    out: List[Tuple[str, Optional[str], Optional[str]]] = []
    for k in range(1, len(hops)):
        prefix = hops[:k]
        where = world.locate(node.name, prefix) if node.name in world.by_name else None
        try:
            reply = node.message_send("probe", to=prefix + ["0#echo"], timeout=timeout)
            error = None if reply == "probe" else f"echo answered {reply!r}"
        except Exception as exc:
            error = _short(exc)
        out.append((hops[k - 1], where, error))
        if error:
            break
    return out


def describe_route_failure(node: Node, route: Route, problem: str, payload: object, probe_timeout: float = 1.0) -> str:
    """The text of a failed :func:`assert_route`: node, route, problem and hop probes."""
    lines = [f"route check failed from node {node.name!r}", f"  route:   {route!r}"]
    try:
        hops = _core.parse_route(route)
    except Exception as exc:
        lines += [f"  problem: the route does not parse: {_short(exc)}", f"  sent:    {payload!r}"]
        return "\n".join(lines)
    lines.append(f"  parsed:  {' => '.join(hops)}")
    lines.append(f"  sent:    {payload!r}")
    lines.append(f"  problem: {problem}")
    if node.closed:
        lines.append("  (the node is closed: no hop can be probed)")
        return "\n".join(lines)
    probes = probe_hops(node, hops, probe_timeout)
    lines.append("  hops (an echo sent along each prefix of the route):")
    for k, (hop, where, error) in enumerate(probes, 1):
        at = f" (node {where})" if where else ""
        state = f"NO ANSWER: {error}" if error else "answers"
        lines.append(f"    {k}. {hop:<40} {state}{at}")
    failed = [(k, p) for k, p in enumerate(probes, 1) if p[2]]
    if failed:
        k, (hop, _where, _error) = failed[0]
        before = probes[k - 2][1] if k >= 2 else node.name
        after = f", after node {before}" if before else ""
        lines.append(f"  first hop that does not answer: {k}. {hop}{after}")
    else:
        world = snapshot_world()
        where = world.locate(node.name, hops[:-1]) if node.name in world.by_name else None
        at = f" on node {where}" if where else ""
        lines.append(f"  every hop answers an echo: the last address, {hops[-1]}{at}, is where it fails")
    return "\n".join(lines)


def assert_route(
    node: Node,
    route: Route,
    expect: Any,
    *,
    payload: Union[str, bytes] = "ping",
    timeout: float = 5.0,
    probe_timeout: float = 1.0,
    raw: bool = False,
) -> Any:
    """Sends ``payload`` from ``node`` along ``route``; the reply must equal ``expect``.

    Returns the reply. On failure (an error, a timeout or another reply) raises
    :class:`RouteCheckError` (an ``AssertionError``) naming the node, the route
    (as given and as parsed), what went wrong, and, from an echo sent along
    each prefix of the route, which hops answer and the first one that does not.
    """
    __tracebackhide__ = True  # pytest shows the test's line, not this one
    try:
        got = node.message_send(payload, to=route, timeout=timeout, raw=raw)
    except Exception as exc:
        problem = _short(exc)
    else:
        if got == expect:
            return got
        problem = f"got {got!r}, expected {expect!r}"
    raise RouteCheckError(describe_route_failure(node, route, problem, payload, probe_timeout))


# ---------------------------------------------------------------- an HTTP server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpServer:
    """``http.server`` on a thread, serving ``directory`` on ``host`` (port 0: a free one)."""

    def __init__(self, directory: str, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=directory)
        self.server = http.server.ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.directory = directory
        self.host = host
        self.port = int(self.server.server_address[1])
        index = os.path.join(directory, "index.html")
        self.body = b""
        if os.path.exists(index):
            with open(index, "rb") as f:
                self.body = f.read()
        self._thread = threading.Thread(target=self.server.serve_forever, name="ockam_py-http", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HttpServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HttpServer http://{self.address}/ serving {self.directory}>"


# ---------------------------------------------------------------- fixtures and hooks

_NODES_KEY = pytest.StashKey[NodeFactory]()

#: The marker of topology tests: ``@pytest.mark.ockam_topology("n2 listens; ...")``.
TOPOLOGY_MARKER = "ockam_topology"
#: Fixtures that build ockam_py topologies: a test using one is a topology test.
_TOPOLOGY_FIXTURES = ("ockam_topology", "ockam_network", "ockam_async_topology")
#: The section a failing test's report gets (terminal and JUnit XML).
SECTION = "ockam_py nodes"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{TOPOLOGY_MARKER}(description=None, relay_timeout=10.0): a test of an ockam_py topology; with a "
        "description, the ockam_network fixture builds it (see ockam_py.testing). Tests using the "
        "ockam_topology or ockam_network fixtures get this marker by themselves (-m 'not ockam_topology' skips them).",
    )


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Marks every test that uses a topology fixture, so ``-m ockam_topology`` selects them."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(f in names for f in _TOPOLOGY_FIXTURES) and item.get_closest_marker(TOPOLOGY_MARKER) is None:
            item.add_marker(getattr(pytest.mark, TOPOLOGY_MARKER))


@pytest.fixture(name="ockam_node")
def _ockam_node(request: pytest.FixtureRequest) -> Iterator[NodeFactory]:
    """Factory of ockam_py nodes: ``ockam_node("n1", listen=True)`` -> Node named ``n1-<hex>``.

    ``listen``: False (no listener), True (127.0.0.1, a free port) or an address;
    ``services``: kinds to start (``"hop"``). All its nodes close at teardown; a
    failing test's report lists them with their connections, relays and portals.
    """
    factory = NodeFactory()
    request.node.stash[_NODES_KEY] = factory
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(name="ockam_free_port")
def _ockam_free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (bound once, then closed)."""
    return free_port()


@pytest.fixture(name="free_port")
def _free_port_alias(ockam_free_port: int) -> int:
    """The same as ``ockam_free_port`` (the older name; a suite's own ``free_port`` fixture wins)."""
    return ockam_free_port


@pytest.fixture(name="ockam_topology")
def _ockam_topology(ockam_node: NodeFactory) -> Callable[..., Network]:
    """``ockam_topology("n2 listens; n3 relay at n2 with hop; n1 inlet to n3's outlet at 127.0.0.1:PORT")``.

    Builds nodes, connections, relays and portals from text or a dict (see
    ``ockam_py.testing``) and returns a Network: ``net["n1"]``, ``net.inlets["n1"]``,
    ``net.route("n3", "uppercase")``. Its nodes close at teardown.
    """

    def build(description: Description, relay_timeout: float = 10.0) -> Network:
        return build_topology(description, make_node=ockam_node, relay_timeout=relay_timeout)

    return build


@pytest.fixture(name="ockam_network")
def _ockam_network(request: pytest.FixtureRequest, ockam_topology: Callable[..., Network]) -> Network:
    """The Network of the test's ``@pytest.mark.ockam_topology("...")`` marker, built before the test."""
    marker = request.node.get_closest_marker(TOPOLOGY_MARKER)
    description = marker.kwargs.get("description", marker.args[0] if marker.args else None) if marker else None
    if description is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: ockam_network needs @pytest.mark.{TOPOLOGY_MARKER}(\"<description>\")"
        )
    return ockam_topology(description, relay_timeout=marker.kwargs.get("relay_timeout", 10.0) if marker else 10.0)


@pytest.fixture(name="ockam_async_node")
def _ockam_async_node(ockam_node: NodeFactory) -> Callable[..., Awaitable[Node]]:
    """``await ockam_async_node("n1", listen=True)``: :func:`ockam_node` for asyncio code.

    An ordinary fixture (no pytest-asyncio or anyio needed) that returns a
    coroutine function: await it inside ``asyncio.run(...)`` (or an async test,
    where such a plugin is installed). The node is made on a worker thread, so
    the event loop keeps running, and closed at teardown like ``ockam_node``'s.
    """

    async def make(name: str = "n", listen: Union[bool, str] = False, services: Sequence[str] = ()) -> Node:
        node: Node = await _runtime.in_thread(ockam_node, name, listen, services)
        return node

    return make


@pytest.fixture(name="ockam_async_topology")
def _ockam_async_topology(ockam_topology: Callable[..., Network]) -> Callable[..., Awaitable[Network]]:
    """``await ockam_async_topology("n2 listens; ...")``: :func:`ockam_topology` for asyncio code
    (built on a worker thread while the event loop runs; no async test plugin needed)."""

    async def build(description: Description, relay_timeout: float = 10.0) -> Network:
        net: Network = await _runtime.in_thread(ockam_topology, description, relay_timeout)
        return net

    return build


@pytest.fixture(name="ockam_http_server")
def _ockam_http_server() -> Iterator[HttpServer]:
    """A real http.server on 127.0.0.1 (``.port``, ``.address``), serving an index.html (``.body``)."""
    with tempfile.TemporaryDirectory(prefix="ockam_py-http-") as directory:
        with open(os.path.join(directory, "index.html"), "w", encoding="utf-8") as f:
            f.write(f"<html><body>hello from {html.escape(directory)}</body></html>\n")
        server = HttpServer(directory)
        try:
            yield server
        finally:
            server.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """On a failure, adds the state of the test's ockam_py nodes to its report, as the
    report is made: before any reporter (terminal, --junitxml) reads it."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and report.when in ("setup", "call"):
        _add_nodes(item, report)


def _add_nodes(node: pytest.Item, report: pytest.TestReport) -> None:
    factory = node.stash.get(_NODES_KEY, None)
    if factory is None:
        return
    open_nodes = [n for n in factory.nodes if not n.closed]
    if not open_nodes:
        return
    try:
        text = topology(open_nodes).text()
    except Exception as exc:  # never hide the test's own failure
        text = f"(could not read the nodes: {_short(exc)})"
    _attach(node, report, text)


def _attach(item: pytest.Item, report: pytest.TestReport, text: str) -> None:
    """Puts the nodes' state where readers of the failure look: a section of the
    failure itself (the terminal shows it under the traceback, and JUnit XML has
    it in the ``<failure>`` text, as --junitxml writes the whole failure there), and
    a property of the test case (``<property name="ockam_py nodes">`` in JUnit XML)."""
    addsection = getattr(report.longrepr, "addsection", None)  # a traceback's repr has it
    if callable(addsection):
        addsection(SECTION, text)
    else:
        report.sections.append((SECTION, text))
    item.user_properties.append((SECTION, text))
