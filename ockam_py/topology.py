"""A picture of the nodes of this process: connections, relays and portals, as SVG.

>>> import ockam_py
>>> picture = ockam_py.topology()      # every open node of the process
>>> picture.save("topology.svg")       # or "topology.png" (needs cairosvg)
>>> picture                            # in Jupyter: drawn inline (_repr_svg_)

The picture is a snapshot: it reads each node's connections (with their byte
counters), the relays it keeps registered elsewhere, the relays registered at
its relay service, and its inlets and outlets (with their counters) at the
moment :func:`topology` is called. No graphviz: the SVG is drawn here.

How the pieces are matched up, all from what the nodes report:

* an outgoing connection goes to the node of this process whose TCP listener
  has the address it dialed (otherwise to an "other process" box);
* an accepted connection is matched with an outgoing one of this process by
  its byte counters; one that matches none came from outside;
* a relay's connection is the accepted connection its relay service entry
  forwards to (``forward_to_<name>`` -> ``0#<worker>``);
* a portal is drawn from its inlet's node to the node whose outlet its route
  ends at, following the route hop by hop (``1#host:port``, ``0#<worker>``,
  ``0#forward_to_<name>``, ``0#hop``).

This module also renders the ``_repr_html_`` of nodes, relays, inlets, outlets
and connections, and the plain-text summary the pytest plugin prints when a
test fails.
"""

from __future__ import annotations

import html
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _core, _display
from .node import Node, TcpConnection
from .portal import _Portal
from .relay import Relay

__all__ = ["Topology", "topology", "resolve_route"]

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def human_bytes(n: int) -> str:
    """``1234`` -> ``"1.2 kB"``."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # not reached


# ---------------------------------------------------------------- the snapshot


@dataclass
class ConnInfo:
    node: str
    worker: str
    peer: str
    target: str  # the address dialed ("-" for accepted connections)
    outgoing: bool
    bytes_in: int
    bytes_out: int
    other: Optional[str] = None  # the node of this process at the other end
    other_worker: Optional[str] = None  # its worker for this connection
    relay: Optional[str] = None  # the relay carried by this connection


@dataclass
class RelayInfo:
    name: str
    at: str
    status: str
    at_node: Optional[str] = None


@dataclass
class PortalInfo:
    kind: str  # "inlet" or "outlet"
    address: str  # bound host:port of an inlet, worker address of an outlet
    where: str  # an inlet's route, an outlet's target
    open: int
    total: int
    bytes_out: int
    bytes_in: int
    path: List[str] = field(default_factory=list)  # inlets: the nodes the route goes through
    outlet_node: Optional[str] = None  # inlets: the node whose outlet the route ends at


@dataclass
class NodeInfo:
    name: str
    id: int
    listener: Optional[str]
    connections: List[ConnInfo]
    relays: List[RelayInfo]
    relay_entries: List[Tuple[str, str]]  # (relay name, route it forwards to)
    inlets: List[PortalInfo]
    outlets: List[PortalInfo]
    workers: List[str]


def _same_address(a: str, b: str) -> bool:
    """Whether ``host:port`` a names the listener bound at b (wildcard hosts match any)."""
    if a == b:
        return True
    ha, _, pa = a.rpartition(":")
    hb, _, pb = b.rpartition(":")
    if pa != pb:
        return False
    wild = ("0.0.0.0", "[::]", "::", "")
    local = ("127.0.0.1", "localhost", "[::1]")
    return hb in wild or ha in wild or (ha in local and hb in local)


def _portal_infos(node: "Node") -> Tuple[List[PortalInfo], List[PortalInfo]]:
    inlets: List[PortalInfo] = []
    outlets: List[PortalInfo] = []
    for line in _core.portal_list(node.id).splitlines():
        fields = line.split(" ")
        if len(fields) < 7:
            continue
        kind, address = fields[0], fields[1]
        where = " ".join(fields[2:-4])
        open_, total, out, in_ = (int(x) for x in fields[-4:])
        info = PortalInfo(kind, address, where, open_, total, out, in_)
        (inlets if kind == "inlet" else outlets).append(info)
    return inlets, outlets


def _node_info(node: "Node") -> NodeInfo:
    conns = [
        ConnInfo(node.name, c.worker, c.peer, "-", c.outgoing, c.bytes_in, c.bytes_out) for c in node.connections()
    ]
    targets = {}
    for line in _core.list_connections(node.id).splitlines():
        parts = line.split(" ")
        if len(parts) >= 4:
            targets[parts[0]] = parts[3]
    for c in conns:
        c.target = targets.get(c.worker, "-")
    relays = [RelayInfo(r.name, str(r.at), r.status) for r in node.relays()]
    entries = [(e.name, e.route) for e in node.relay_service_entries()]
    inlets, outlets = _portal_infos(node)
    return NodeInfo(
        node.name,
        node.id,
        node.tcp_listener.address if node.tcp_listener else None,
        conns,
        relays,
        entries,
        inlets,
        outlets,
        sorted(node._workers),
    )


class _World:
    """Snapshot of several nodes, with the cross-references resolved."""

    def __init__(self, infos: List[NodeInfo]) -> None:
        self.infos = infos
        self.by_name = {i.name: i for i in infos}
        self._link_connections()
        self._link_relays()
        for info in infos:
            for inlet in info.inlets:
                try:
                    path, last = self.follow(info.name, _core.parse_route(inlet.where))
                except ValueError:
                    continue
                inlet.path = path
                if last is not None and path and any(o.address == last for o in self.by_name[path[-1]].outlets):
                    inlet.outlet_node = path[-1]

    def listener_node(self, address: str) -> Optional[str]:
        for info in self.infos:
            if info.listener and _same_address(address, info.listener):
                return info.name
        return None

    def _link_connections(self) -> None:
        for info in self.infos:
            for c in info.connections:
                if c.outgoing:
                    c.other = self.listener_node(c.target if c.target != "-" else c.peer) or self.listener_node(c.peer)
        for server in self.infos:
            accepted = [c for c in server.connections if not c.outgoing]
            dialers = [c for i in self.infos for c in i.connections if c.outgoing and c.other == server.name]
            pairs = sorted(
                (abs(a.bytes_in - d.bytes_out) + abs(a.bytes_out - d.bytes_in), ai, di)
                for ai, a in enumerate(accepted)
                for di, d in enumerate(dialers)
            )
            used_a, used_d = set(), set()
            for _cost, ai, di in pairs:
                if ai in used_a or di in used_d:
                    continue
                used_a.add(ai)
                used_d.add(di)
                a, d = accepted[ai], dialers[di]
                a.other, a.other_worker = d.node, d.worker
                d.other_worker = a.worker

    def _link_relays(self) -> None:
        for server in self.infos:
            for name, route in server.relay_entries:
                worker = route.split("#", 1)[-1]
                for c in server.connections:
                    if c.worker == worker:
                        c.relay = name
                        if c.other:
                            for d in self.by_name[c.other].connections:
                                if d.worker == c.other_worker:
                                    d.relay = name
                # the client side: a relay of that name whose connection goes to this server
                for client in self.infos:
                    for r in client.relays:
                        if r.name == name and any(
                            d.relay == name and d.other == server.name for d in client.connections
                        ):
                            r.at_node = server.name
        for client in self.infos:  # relays not (yet) registered: guess from their address
            for r in client.relays:
                if r.at_node is None:
                    m = re.match(r"^/node/([^/]+)", r.at)
                    if m and m.group(1) in self.by_name:
                        r.at_node = m.group(1)
                    elif ":" in r.at and not r.at.startswith("/"):
                        r.at_node = self.listener_node(r.at)

    def step(self, here: str, hop: str) -> Tuple[Optional[str], bool]:
        """Where address ``hop`` takes a message that is at node ``here``.

        Returns (node, moved): moved is False for a service of ``here`` itself
        (``hop``, ``echo``, an outlet...); node is None when the hop leaves this
        process or names nothing known.
        """
        info = self.by_name.get(here)
        tt, _, addr = hop.partition("#")
        if info is None:
            return None, True
        if tt == "1":
            return self.listener_node(addr), True
        if _HEX32.match(addr):
            conn = next((c for c in info.connections if c.worker == addr), None)
            return (conn.other if conn else None), True
        if addr.startswith("forward_to_"):
            name = addr[len("forward_to_"):]
            if not any(n == name for n, _ in info.relay_entries):
                return None, True
            owner = [c.other for c in info.connections if c.relay == name and c.other]
            return (owner[0] if owner else None), True
        return here, False

    def follow(self, start: str, route: Sequence[str]) -> Tuple[List[str], Optional[str]]:
        """The nodes a message from ``start`` goes through along ``route``, and the last address.

        The path ends early (at the last node known) when a hop leaves this process
        or names nothing known; the last address is then None.
        """
        path = [start]
        here = start
        for i, hop in enumerate(route):
            nxt, moved = self.step(here, hop)
            if not moved:
                if i == len(route) - 1:
                    return path, hop.partition("#")[2]
                continue
            if nxt is None:
                return path, None
            path.append(nxt)
            here = nxt
        return path, None

    def locate(self, start: str, route: Sequence[str]) -> Optional[str]:
        """The node of this process a message from ``start`` is at after every hop of ``route``."""
        here = start
        for hop in route:
            nxt, _moved = self.step(here, hop)
            if nxt is None:
                return None
            here = nxt
        return here


def _open_nodes(nodes: Optional[Iterable["Node"]]) -> List["Node"]:
    if nodes is None:
        with Node._registry_lock:
            found = list(Node._by_name.values())
    else:
        found = list(nodes)
    return sorted((n for n in found if not n.closed), key=lambda n: n.id)


def snapshot_world(nodes: Optional[Iterable["Node"]] = None) -> _World:
    """The resolved snapshot of ``nodes`` (default: every open node of this process)."""
    return _World([_node_info(n) for n in _open_nodes(nodes)])


def resolve_route(node: "Node", route: Union[str, Sequence[str]]) -> List[str]:
    """The names of the nodes of this process a message from ``node`` passes along ``route``."""
    world = snapshot_world()
    if node.name not in world.by_name:
        return [node.name]
    return world.follow(node.name, _core.parse_route(route))[0]


# ---------------------------------------------------------------- drawing

CHAR_W = 7.0  # width of one character at FONT_SIZE in the monospace font, roughly
FONT_SIZE = 12
LINE_H = 17
GAP = 190  # between vertices, room for the edge labels
MARGIN = 24
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"

COLORS = {
    "node_fill": "#eef4fb",
    "node_stroke": "#2f5d8a",
    "ext_fill": "#f6f6f6",
    "ext_stroke": "#9a9a9a",
    "tcp": "#444444",
    "relay": "#c0601a",
    "portal": "#1f8a4c",
    "muted": "#666666",
    "title": "#10263d",
}


@dataclass
class _Vertex:
    key: str
    title: str
    subtitle: str
    lines: List[Tuple[str, str]]  # (text, css class)
    external: bool = False
    order: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0

    def measure(self) -> None:
        longest = max([len(self.title) + 2, len(self.subtitle)] + [len(t) for t, _ in self.lines])
        self.w = max(150.0 if self.external else 210.0, longest * CHAR_W + 24)
        self.h = 22 + LINE_H * (1 + len(self.lines)) + (6 if self.lines else 0) + 8


@dataclass
class _Edge:
    a: str
    b: str
    label: str
    counters: str
    kind: str  # "tcp", "relay" or "target"


@dataclass
class _Flow:
    a: str
    b: str
    label: str
    counters: str


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _portal_counters(p: PortalInfo) -> str:
    return f"{p.open} open, {p.total} total, \u2192 {human_bytes(p.bytes_out)} \u2190 {human_bytes(p.bytes_in)}"


class Topology:
    """A snapshot of nodes, their connections, relays and portals; shown as SVG.

    ``.svg`` is the picture (a ``str``), ``.save(path)`` writes it (``.png``
    through cairosvg, if installed), ``str(topology)`` is a text summary. In
    Jupyter, the object draws itself.
    """

    def __init__(self, infos: List[NodeInfo]) -> None:
        self.world = _World(infos)
        self.nodes = infos
        self.svg = self._draw()

    # -- text

    def text(self) -> str:
        """A plain-text summary: one block per node."""
        if not self.nodes:
            return "(no open nodes)"
        out: List[str] = []
        for info in self.nodes:
            out.append(f"node {info.name}: " + (f"listening on {info.listener}" if info.listener else "no listener"))
            for c in info.connections:
                way = "to" if c.outgoing else "from"
                who = f" (node {c.other})" if c.other else ""
                rel = f" carrying relay {c.relay}" if c.relay else ""
                out.append(
                    f"  connection /worker/{c.worker} {way} {c.peer}{who}{rel}: "
                    f"in {human_bytes(c.bytes_in)}, out {human_bytes(c.bytes_out)}"
                )
            for r in info.relays:
                out.append(f"  relay {r.name} at {r.at}: {r.status}")
            for name, route in info.relay_entries:
                out.append(f"  relay service entry forward_to_{name} -> {route}")
            for p in info.inlets:
                to = f" (outlet on node {p.outlet_node})" if p.outlet_node else ""
                out.append(f"  inlet {p.address} -> {p.where}{to}: {_portal_counters(p)}")
            for p in info.outlets:
                out.append(f"  outlet /service/{p.address} -> {p.where}: {_portal_counters(p)}")
            if info.workers:
                out.append(f"  python workers: {', '.join(info.workers)}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        names = ", ".join(i.name for i in self.nodes)
        return f"<Topology of {len(self.nodes)} node(s): {names}>"

    # -- output

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the picture: SVG, or PNG when ``path`` ends in ``.png`` (needs ``cairosvg``)."""
        p = os.fspath(path)
        if p.lower().endswith(".png"):
            try:
                import cairosvg  # type: ignore[import-untyped, import-not-found, unused-ignore]
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise RuntimeError("saving a PNG needs cairosvg (pip install cairosvg); save .svg instead") from exc
            cairosvg.svg2png(bytestring=self.svg.encode("utf-8"), write_to=p, scale=2.0)
            return
        with open(p, "w", encoding="utf-8") as f:
            f.write(self.svg)

    # -- layout

    def _graph(self) -> Tuple[Dict[str, _Vertex], List[_Edge], List[_Flow]]:
        vertices: Dict[str, _Vertex] = {}
        edges: List[_Edge] = []
        flows: List[_Flow] = []
        for order, info in enumerate(self.nodes):
            lines: List[Tuple[str, str]] = []
            for r in info.relays:
                lines.append((f"relay {r.name} at {r.at_node or r.at}: {r.status}", "relay"))
            for name, _route in info.relay_entries:
                lines.append((f"relay service: forward_to_{name}", "relay"))
            for p in info.inlets:
                lines.append((f"inlet {p.address}", "portal"))
                lines.append((f"  {_portal_counters(p)}", "small"))
            for p in info.outlets:
                lines.append((f"outlet /service/{p.address}", "portal"))
                lines.append((f"  {_portal_counters(p)}", "small"))
            if info.workers:
                lines.append((f"workers: {', '.join(info.workers)}", "small"))
            sub = f"listens {info.listener}" if info.listener else "no listener"
            vertices[info.name] = _Vertex(info.name, info.name, sub, lines, order=order)
        ext_order = len(vertices)

        def external(key: str, title: str, subtitle: str) -> str:
            nonlocal ext_order
            if key not in vertices:
                vertices[key] = _Vertex(key, title, subtitle, [], external=True, order=ext_order)
                ext_order += 1
            return key

        for info in self.nodes:
            for c in info.connections:
                counters = f"\u2192 {human_bytes(c.bytes_out)}  \u2190 {human_bytes(c.bytes_in)}"
                label = f"relay {c.relay}" if c.relay else "tcp"
                kind = "relay" if c.relay else "tcp"
                if c.outgoing:
                    to = c.other or external(f"peer:{c.peer}", c.target if c.target != "-" else c.peer, "other process")
                    edges.append(_Edge(info.name, to, label, counters, kind))
                elif c.other is None:
                    frm = external(f"peer:{c.peer}", c.peer, "other process")
                    counters = f"\u2192 {human_bytes(c.bytes_in)}  \u2190 {human_bytes(c.bytes_out)}"
                    edges.append(_Edge(frm, info.name, label, counters, kind))
            for p in info.outlets:
                to = external(f"target:{p.where}", p.where, "TCP server")
                counters = f"\u2192 {human_bytes(p.bytes_in)}  \u2190 {human_bytes(p.bytes_out)}"
                edges.append(_Edge(info.name, to, "tcp", counters, "target"))
            for p in info.inlets:
                if p.outlet_node:
                    via = " \u2192 ".join(p.path)
                    flows.append(_Flow(info.name, p.outlet_node, f"portal {p.address}: {via}", _portal_counters(p)))
        return vertices, edges, flows

    @staticmethod
    def _order(vertices: Dict[str, _Vertex], edges: List[_Edge], flows: List[_Flow]) -> List[str]:
        keys = sorted(vertices, key=lambda k: vertices[k].order)
        links = [(e.a, e.b, e.kind) for e in edges] + [(f.a, f.b, "flow") for f in flows]

        def cost(perm: Tuple[str, ...]) -> Tuple[float, Tuple[int, ...]]:
            pos = {k: i for i, k in enumerate(perm)}
            total = 0.0
            for a, b, kind in links:
                d = pos[b] - pos[a]
                if kind != "flow":  # portal flows are drawn below the row: any distance will do
                    total += (abs(d) - 1) * 10
                if kind in ("flow", "target") and d < 0:
                    total += 6  # data flows left to right
                if kind == "relay" and d > 0:
                    total += 3  # the node behind a relay sits right of the relay node
            return total, tuple(vertices[k].order for k in perm)

        if len(keys) <= 8:
            perms: List[Tuple[str, ...]] = list(itertools.permutations(keys))
            best = min(perms, key=cost)
            return list(best)
        return keys

    def _draw(self) -> str:
        vertices, edges, flows = self._graph()
        if not vertices:
            return (
                '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="48" viewBox="0 0 220 48">'
                f'<text x="12" y="28" font-family="{_esc(FONT)}" font-size="{FONT_SIZE}" fill="#666">'
                "no open nodes</text></svg>"
            )
        order = self._order(vertices, edges, flows)
        pos = {k: i for i, k in enumerate(order)}
        for v in vertices.values():
            v.measure()

        # edges between neighbours go straight, at stacked heights; others arc above
        straight: Dict[Tuple[int, int], List[_Edge]] = {}
        arcs: List[_Edge] = []
        for e in edges:
            i, j = sorted((pos[e.a], pos[e.b]))
            if j - i == 1:
                straight.setdefault((i, j), []).append(e)
            else:
                arcs.append(e)
        arcs.sort(key=lambda e: (abs(pos[e.a] - pos[e.b]), pos[e.a], pos[e.b]))  # short ones low
        top = MARGIN + 46 * len(arcs) + (34 if arcs else 0)
        x = float(MARGIN)
        for k in order:
            v = vertices[k]
            v.x, v.y = x, float(top)
            x += v.w + GAP
        width = x - GAP + MARGIN
        for group in straight.values():  # room for stacked edges
            need = 44 + 42 * len(group)
            for e in group:
                for k in (e.a, e.b):
                    vertices[k].h = max(vertices[k].h, need)
        bottom = max(v.y + v.h for v in vertices.values())
        flow_y0 = bottom + 34
        height = (flow_y0 + 44 * (len(flows) - 1) + 20 if flows else bottom) + MARGIN

        out: List[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{_esc(FONT)}" font-size="{FONT_SIZE}">',
            "<defs>",
        ]
        for name in ("tcp", "relay", "portal", "target"):
            color = COLORS["portal"] if name == "target" else COLORS[name]
            out.append(
                f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            )
        out.append("</defs>")
        out.append(f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>')

        # boxes
        for k in order:
            v = vertices[k]
            fill, stroke = (
                (COLORS["ext_fill"], COLORS["ext_stroke"]) if v.external else (COLORS["node_fill"], COLORS["node_stroke"])
            )
            dash = ' stroke-dasharray="5,3"' if v.external else ""
            out.append(
                f'<g class="vertex"><title>{_esc(v.title)}</title>'
                f'<rect x="{v.x:.1f}" y="{v.y:.1f}" width="{v.w:.1f}" height="{v.h:.1f}" rx="8" '
                f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>'
            )
            ty = v.y + 22
            weight = "normal" if v.external else "bold"
            out.append(
                f'<text x="{v.x + 12:.1f}" y="{ty:.1f}" font-weight="{weight}" font-size="{FONT_SIZE + 2}" '
                f'fill="{COLORS["title"]}">{_esc(v.title)}</text>'
            )
            out.append(
                f'<text x="{v.x + 12:.1f}" y="{ty + LINE_H:.1f}" fill="{COLORS["muted"]}">{_esc(v.subtitle)}</text>'
            )
            ly = ty + LINE_H * 2 + 6
            for text, cls in v.lines:
                color = {"relay": COLORS["relay"], "portal": COLORS["portal"]}.get(cls, COLORS["muted"])
                size = FONT_SIZE - 1 if cls == "small" else FONT_SIZE
                out.append(
                    f'<text x="{v.x + 12:.1f}" y="{ly:.1f}" font-size="{size}" fill="{color}" '
                    f'xml:space="preserve">{_esc(text)}</text>'
                )
                ly += LINE_H
            out.append("</g>")

        def color_of(kind: str) -> str:
            return COLORS["relay"] if kind == "relay" else COLORS["portal"] if kind == "target" else COLORS["tcp"]

        # straight edges
        for (i, j), group in sorted(straight.items()):
            left, right = vertices[order[i]], vertices[order[j]]
            for n, e in enumerate(group):
                y = left.y + 52 + 42 * n
                x1, x2 = left.x + left.w, right.x
                forward = pos[e.a] < pos[e.b]
                color = color_of(e.kind)
                dash = ' stroke-dasharray="6,3"' if e.kind == "target" else ""
                marker = f'marker-end="url(#arrow-{e.kind})"' if forward else f'marker-start="url(#arrow-{e.kind})"'
                out.append(
                    f'<line x1="{x1 + 2:.1f}" y1="{y:.1f}" x2="{x2 - 2:.1f}" y2="{y:.1f}" stroke="{color}" '
                    f'stroke-width="1.6"{dash} {marker}/>'
                )
                mid = (x1 + x2) / 2
                out.append(
                    f'<text x="{mid:.1f}" y="{y - 6:.1f}" text-anchor="middle" fill="{color}">{_esc(e.label)}</text>'
                )
                out.append(
                    f'<text x="{mid:.1f}" y="{y + 14:.1f}" text-anchor="middle" font-size="{FONT_SIZE - 1}" '
                    f'fill="{COLORS["muted"]}">{_esc(e.counters)}</text>'
                )

        # arcs above the row
        for n, e in enumerate(arcs):
            a, b = vertices[e.a], vertices[e.b]
            ax, bx = a.x + a.w / 2 + 10 * n, b.x + b.w / 2 - 10 * n
            apex = top - 44 - 46 * n
            color = color_of(e.kind)
            out.append(
                f'<path d="M{ax:.1f},{a.y:.1f} C{ax:.1f},{apex:.1f} {bx:.1f},{apex:.1f} {bx:.1f},{b.y:.1f}" '
                f'fill="none" stroke="{color}" stroke-width="1.6" marker-end="url(#arrow-{e.kind})"/>'
            )
            mid = (ax + bx) / 2
            label_y = a.y + 0.75 * (apex - a.y) - 5  # just above the top of the curve
            out.append(
                f'<text x="{mid:.1f}" y="{label_y - 14:.1f}" text-anchor="middle" fill="{color}">{_esc(e.label)}</text>'
            )
            out.append(
                f'<text x="{mid:.1f}" y="{label_y:.1f}" text-anchor="middle" font-size="{FONT_SIZE - 1}" '
                f'fill="{COLORS["muted"]}">{_esc(e.counters)}</text>'
            )

        # portal flows below the row
        for n, f in enumerate(flows):
            a, b = vertices[f.a], vertices[f.b]
            y = flow_y0 + 44 * n
            ax, bx = a.x + a.w / 2 - 12 * n, b.x + b.w / 2 + 12 * n
            color = COLORS["portal"]
            out.append(
                f'<path d="M{ax:.1f},{a.y + a.h:.1f} L{ax:.1f},{y:.1f} L{bx:.1f},{y:.1f} L{bx:.1f},{b.y + b.h:.1f}" '
                f'fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="7,4" '
                f'marker-end="url(#arrow-portal)"/>'
            )
            mid = (ax + bx) / 2
            out.append(
                f'<text x="{mid:.1f}" y="{y - 6:.1f}" text-anchor="middle" fill="{color}">{_esc(f.label)}</text>'
            )
            out.append(
                f'<text x="{mid:.1f}" y="{y + 15:.1f}" text-anchor="middle" font-size="{FONT_SIZE - 1}" '
                f'fill="{COLORS["muted"]}">{_esc(f.counters)}</text>'
            )
        out.append("</svg>")
        return "\n".join(out)


def topology(nodes: Optional[Iterable["Node"]] = None) -> Topology:
    """A picture of ``nodes`` (default: every open node of this process)."""
    return Topology([_node_info(n) for n in _open_nodes(nodes)])


# ---------------------------------------------------------------- _repr_html_


def _table(title: str, rows: Sequence[Tuple[str, str]]) -> str:
    body = "".join(
        f'<tr><th style="text-align:left;padding:1px 10px 1px 0;font-weight:normal;color:#666">{_esc(k)}</th>'
        f'<td style="text-align:left;padding:1px 0;font-family:monospace">{_esc(v)}</td></tr>'
        for k, v in rows
    )
    return (
        '<div style="display:inline-block;border:1px solid #2f5d8a;border-radius:6px;padding:6px 10px;'
        'background:#eef4fb;color:#10263d">'
        f'<div style="font-weight:bold;margin-bottom:4px">{_esc(title)}</div>'
        f'<table style="border-collapse:collapse;margin:0">{body}</table></div>'
    )


def node_html(node: "Node") -> str:
    rows: List[Tuple[str, str]] = []
    if node.closed:
        return _table(f"Node {node.name}", [("state", "closed")])
    rows.append(("listener", node.tcp_listener.address if node.tcp_listener else "none"))
    for c in node.connections():
        way = "to" if c.outgoing else "from"
        rows.append(
            ("connection", f"{c.address} {way} {c.peer}: in {human_bytes(c.bytes_in)}, out {human_bytes(c.bytes_out)}")
        )
    for r in node.relays():
        rows.append(("relay", f"{r.name} at {r.at}: {r.status}"))
    for e in node.relay_service_entries():
        rows.append(("relay service", f"{e.address} -> {e.route}"))
    for i in node.inlets():
        rows.append(("inlet", f"{i.address} -> {i.route}"))
    for o in node.outlets():
        rows.append(("outlet", f"/service/{o.address} -> {o.target}"))
    if node._workers:
        rows.append(("workers", ", ".join(sorted(node._workers))))
    return _table(f"Node {node.name}", rows)


def relay_html(relay: "Relay") -> str:
    rows = [
        ("node", relay.node.name),
        ("at", str(relay.at)),
        ("status", relay.status + (f" ({relay.detail})" if relay.detail else "")),
        ("route", f"{relay.route} (at the relay node)"),
        ("registered", f"{relay.attempts} time(s)"),
    ]
    return _table(f"Relay {relay.name}", rows)


def portal_html(portal: "_Portal") -> str:
    s = portal.stats()
    title = f"Inlet {portal.address}" if portal.kind == "inlet" else f"Outlet /service/{portal.address}"
    where = ("route", portal._where) if portal.kind == "inlet" else ("target", portal._where)
    rows = [
        ("node", portal.node.name),
        where,
        ("state", "closed" if portal.closed else f"{s.open} open, {s.total} total"),
        ("bytes", f"\u2192 {human_bytes(s.bytes_out)}  \u2190 {human_bytes(s.bytes_in)}"),
    ]
    return _table(title, rows)


def connection_html(conn: "TcpConnection") -> str:
    rows = [
        ("node", conn.node_name),
        ("direction", "outgoing" if conn.outgoing else "accepted"),
        ("peer", conn.peer),
        ("bytes", f"in {human_bytes(conn.bytes_in)}, out {human_bytes(conn.bytes_out)}"),
    ]
    return _table(f"TcpConnection {conn.address}", rows)


_display.register(Node, node_html)
_display.register(TcpConnection, connection_html)
_display.register(_Portal, portal_html)
_display.register(Relay, relay_html)
