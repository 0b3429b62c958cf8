"""``ockam-py``: Ockam's command line for the nodes of this package.

Each node is a background process (see :mod:`ockam_py.daemon`) with its state
under ``$OCKAM_PY_HOME``; commands talk to it over its control socket::

    ockam-py node create n2 --tcp-listener-address 127.0.0.1:4000
    ockam-py node create n3
    ockam-py service start hop --at n3
    ockam-py relay create n3 --at /node/n2 --to /node/n3
    ockam-py node create n1
    ockam-py tcp-connection create --from n1 --to 127.0.0.1:4000
    ockam-py message send hello --from n1 --to /worker/<hex>/service/forward_to_n3/service/uppercase
    ockam-py node delete --all --yes

``/node/NAME`` in a route is the TCP listener of the named node, as in Ockam's
CLI: it is rewritten to ``/ip4/127.0.0.1/tcp/PORT`` before the route is sent.
``/secure/LISTENER`` in a route is a secure channel to that listener of the node
reached by the route before it, opened by the sending node on first use::

    ockam-py message send hello --from n1 --to /node/n2/secure/api/service/echo
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, TextIO

from . import __version__
from . import daemon as d

PROG = "ockam-py"
EX_USAGE = 64  # sysexits: a command line error, as Ockam's
EX_SOFTWARE = 70
START_TIMEOUT = 15.0


class CliError(Exception):
    """An error to report as one line (plus an optional hint line)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


# ---------------------------------------------------------------------------
# Output


def use_color(stream: TextIO, no_color: bool = False) -> bool:
    """Colours only on a terminal, never with ``--no-color`` or ``NO_COLOR`` set."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


@dataclass
class Ctx:
    """What every command gets: its arguments, the state home and the output style."""

    args: argparse.Namespace
    home: Path
    json: bool
    color: bool
    verbose: int
    quiet: bool = False
    compact: bool = False

    def c(self, text: str, style: str) -> str:
        """``text`` in ``style`` (a colour or bold/dim) when colours are on."""
        if not self.color:
            return text
        codes = ";".join(_CODES[s] for s in style.split("+"))
        return f"\033[{codes}m{text}\033[0m"

    def emit(self, data: Any, text: "str | Callable[[], str]", machine: Optional[str] = None) -> None:
        """Prints ``data`` as JSON with ``--output json``; otherwise the text, or, as Ockam does
        when stdout is not a terminal, only ``machine`` (the value a script wants) if given."""
        if self.json:
            print(json.dumps(data, indent=None if self.compact else 2))
        elif machine is not None and not _isatty(sys.stdout):
            print(machine)
        else:
            out = text() if callable(text) else text
            if out:
                print(out)

    # -- nodes -----------------------------------------------------------------

    def info(self, text: str) -> None:
        """A status line on stderr (none with ``--quiet``)."""
        if not self.quiet:
            sys.stderr.write(text + "\n")

    def node_dir(self, name: Optional[str], what: str = "--at", create_default: bool = True) -> d.NodeDir:
        """The state directory of an existing node named ``name`` (or ``/node/name``).

        Without a name, the default node (the first one created); as Ockam does, one is
        created (with a random name) when there is none.
        """
        if name is None:
            default = default_node(self.home)
            if default is None:
                if not create_default:
                    how = f"pass {what} NODE" if what.startswith("-") else f"give a node {what}"
                    raise CliError("no node given and no default node",
                                   f"{how}, or create one: {PROG} node create NAME")
                nd = create_node(self, None)
                self.info(f"Created the default node {nd.name}")
                return nd
            name = default
        if name.startswith("/node/"):
            name = name[len("/node/"):]
        nd = d.NodeDir(self.home, name)
        if not d.valid_name(name) or not nd.exists():
            raise CliError(f"unknown node '{name}'", f"see: {PROG} node list")
        return nd

    def call(self, nd: d.NodeDir, op: str, timeout: float = 15.0, **args: Any) -> Any:
        """Asks node ``nd``'s daemon to run ``op``; daemon errors become :class:`CliError`."""
        try:
            return d.request(nd, op, timeout=timeout, verbose=self.verbose > 0, **args)
        except d.NotRunningError:
            raise CliError(f"node '{nd.name}' is not running", f"start it with: {PROG} node start {nd.name}") from None
        except d.RemoteError as e:
            if self.verbose and e.remote_traceback:
                sys.stderr.write(e.remote_traceback)
            raise CliError(str(e)) from None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# Addresses and routes


def default_node(home: Path) -> Optional[str]:
    """The default node's name, if it still exists."""
    try:
        name = (home / "default").read_text().strip()
    except OSError:
        return None
    return name if name and d.NodeDir(home, name).exists() else None


def set_default_node(home: Path, name: Optional[str]) -> None:
    """Makes ``name`` the default node (None: no default)."""
    path = home / "default"
    if name is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(name + "\n")


def host_port(value: str, what: str = "address", listen: bool = False) -> str:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``/ip4/H/tcp/P``-like as ``host:port``."""
    v = value.strip()
    m = re.fullmatch(r"/(ip4|ip6|dnsaddr|dns4|dns6)/([^/]+)/tcp/(\d+)", v)
    if m:
        host, port = m.group(2), m.group(3)
        if m.group(1) == "ip6":
            host = f"[{host}]"
    elif v.isdigit():
        host, port = "127.0.0.1", v
    elif ":" in v:
        host, port = v.rsplit(":", 1)
        host = host or "127.0.0.1"
    else:
        raise CliError(f"bad {what} '{value}': expected HOST:PORT")
    if not port.isdigit() or not (0 if listen else 1) <= int(port) <= 65535 or not host:
        raise CliError(f"bad {what} '{value}': expected HOST:PORT with a port from {0 if listen else 1} to 65535")
    return f"{host}:{int(port)}"


def node_multiaddr(home: Path, name: str, route: str = "") -> str:
    """``/ip4/127.0.0.1/tcp/PORT``: how to reach node ``name``'s TCP listener."""
    nd = d.NodeDir(home, name)
    if not d.valid_name(name) or not nd.exists():
        where = f" in route '{route}'" if route else ""
        raise CliError(f"unknown node '{name}'{where}", f"see: {PROG} node list")
    listener = nd.load().tcp_listener_address
    if not listener:
        raise CliError(f"node '{name}' has no TCP listener")
    host, port = listener.rsplit(":", 1)
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        return f"/ip4/127.0.0.1/tcp/{port}"
    if host == "::":
        return f"/ip6/::1/tcp/{port}"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"/dnsaddr/{host}/tcp/{port}"
    return f"/ip{ip.version}/{host}/tcp/{port}"


def resolve_route(home: Path, route: str) -> str:
    """Rewrites each ``/node/NAME`` of a multiaddr route to that node's listener address.

    Then parses it as the node will, so a malformed route is reported here,
    naming what is wrong, before anything is sent.
    """
    from . import RouteError, parse_route

    route = route.strip()
    if not route:
        raise CliError("empty route")
    out = route
    if route.startswith("/"):
        parts = route.split("/")[1:]
        if len(parts) % 2 == 0:  # protocol/value pairs; otherwise let the parser say what is wrong
            out = "".join(
                node_multiaddr(home, value, route) if proto == "node" else f"/{proto}/{value}"
                for proto, value in zip(parts[0::2], parts[1::2])
            )
    try:
        parse_route(out)
    except (RouteError, ValueError) as e:
        raise CliError(str(e).replace(out, route)) from None
    return out


def nodes_in_route(route: str) -> List[str]:
    """The names of the ``/node/NAME`` parts of a multiaddr route."""
    parts = route.strip().split("/")[1:] if route.strip().startswith("/") else []
    return [value for proto, value in zip(parts[0::2], parts[1::2]) if proto == "node"]


def stopped_node(home: Path, route: str) -> Optional[str]:
    """The first node named in the route (``/node/NAME``) whose daemon does not answer."""
    for name in nodes_in_route(route):
        nd = d.NodeDir(home, name)
        if nd.exists() and not d.ping(nd, timeout=1.0):
            return name
    return None


def duration(value: str) -> float:
    """``5``, ``5s``, ``500ms``, ``2m`` as seconds (argparse type)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*", value)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"bad duration '{value}': expected seconds, e.g. 5, 5s, 500ms, 1m")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


IDENTIFIER_RE = re.compile(r"I[0-9a-fA-F]{64}")


def identifiers(values: Optional[Sequence[str]], what: str) -> Optional[List[str]]:
    """Checks identifiers given to ``--authorized``/``--allow`` (None when none was given).

    Each value may hold several, separated by commas.
    """
    if not values:
        return None
    out: List[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not IDENTIFIER_RE.fullmatch(item):
                raise CliError(f"bad identifier '{item}' for {what}: expected I followed by 64 hex digits",
                               f"see: {PROG} identity show NAME, or {PROG} node show NODE")
            if item not in out:
                out.append(item)
    return out


def worker_name(value: str, what: str) -> str:
    """``/service/outlet`` or ``outlet`` as ``outlet``."""
    name = value[len("/service/"):] if value.startswith("/service/") else value
    if not name or "/" in name or "#" in name or " " in name:
        raise CliError(f"bad {what} '{value}': expected /service/NAME or NAME")
    return name


# ---------------------------------------------------------------------------
# Node life cycle


def node_status(nd: d.NodeDir) -> "tuple[str, Optional[int]]":
    """``("running", pid)``, ``("starting", pid)`` (alive, not answering) or ``("stopped", None)``."""
    pid = nd.daemon_pid()
    if d.ping(nd, timeout=1.0):
        return "running", pid
    return ("starting", pid) if pid else ("stopped", None)


def node_summary(ctx: Ctx, nd: d.NodeDir) -> Dict[str, Any]:
    """What ``node list`` shows of a node."""
    status, pid = node_status(nd)
    config = nd.load()
    listener = config.tcp_listener_address
    is_default = default_node(ctx.home) == nd.name
    return {
        "name": nd.name,
        "node_name": nd.name,
        "status": status,
        "pid": pid,
        "default": is_default,
        "is_default": is_default,
        "identity_name": config.identity,
        "http_server_address": f"127.0.0.1:{config.http_server_port}" if config.http_server_port else None,
        "transports": [{"type": "Tcp", "mode": "Listen", "socket_addr": listener}] if listener else [],
        "identifier": stored_identifier(nd, config),
        "identity": config.identity,
        "tcp_listener_address": listener,
        "udp_listener_address": config.udp_listener_address,
        "route": f"/node/{nd.name}",
        "multiaddr": node_multiaddr(ctx.home, nd.name) if listener else None,
        "log": str(nd.log_file),
    }


def stored_identifier(nd: d.NodeDir, config: d.NodeConfig) -> Optional[str]:
    """The identifier node ``nd`` runs as, read from its identity file (None before its first start)."""
    path = d.identity_file(nd.home, config.identity) if config.identity else nd.identity_file
    return d.read_identifier(path)


def wait_started(nd: d.NodeDir, poll: Callable[[], Optional[int]], pid: int) -> None:
    """Waits until the daemon answers; if it died, its last log line is the error."""
    deadline = time.monotonic() + START_TIMEOUT
    while not d.ping(nd, timeout=1.0):
        if poll() is not None:
            line = d.last_log_line(nd)
            raise CliError(line[len("error: "):] if line.startswith("error: ") else (line or "the node exited at once"))
        if time.monotonic() > deadline:
            _kill(pid)
            raise CliError(f"node '{nd.name}' did not start within {START_TIMEOUT:g} s", f"see its log: {nd.log_file}")
        time.sleep(0.03)


def _kill(pid: int, first: signal.Signals = signal.SIGTERM) -> None:
    for sig, wait in ((first, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if d.wait_dead(pid, wait):
            return
    raise CliError(f"could not stop process {pid}")


def stop_node(nd: d.NodeDir) -> bool:
    """Stops the node's daemon: a stop request, then SIGTERM, then SIGKILL. True if it ran."""
    pid = nd.daemon_pid()
    asked = False
    try:
        d.request(nd, "stop", timeout=3.0)
        asked = True
    except (d.NotRunningError, d.RemoteError, OSError, ValueError):
        pass
    if pid is None:
        return asked
    if not (asked and d.wait_dead(pid, 5.0)):
        _kill(pid)
    return True


def start_daemon(ctx: Ctx, nd: d.NodeDir) -> int:
    """Spawns the node's daemon and waits until it answers; returns its pid."""
    pid, poll = d.spawn(nd, verbose=ctx.verbose > 1)
    wait_started(nd, poll, pid)
    return pid


# ---------------------------------------------------------------------------
# node ...


NAME_HINT = "use letters, digits, '_', '.', '-' (up to 64, not starting with '.' or '-')"


def check_node_name(name: str) -> str:
    """``name`` if it can name a node; a one-line error otherwise."""
    if not d.valid_name(name):
        raise CliError(f"Invalid value for NAME_OR_CONFIGURATION: '{name}' is not a node name", NAME_HINT)
    return name


def random_node_name(home: Path) -> str:
    """A free random node name, as Ockam gives (``node create`` without a name)."""
    while True:
        name = f"node-{secrets.token_hex(3)}"
        if not d.NodeDir(home, name).exists():
            return name


def new_node_dir(ctx: Ctx, config: d.NodeConfig) -> d.NodeDir:
    """Makes the state directory of a new node and records ``config``; the first node is the default."""
    (ctx.home / "nodes").mkdir(parents=True, exist_ok=True, mode=0o700)
    nd = d.NodeDir(ctx.home, config.name)
    if not d.socket_path_ok(nd):
        raise CliError(f"state path too long for a unix socket: {nd.socket}", f"set {d.HOME_ENV} to a shorter path")
    try:
        nd.path.mkdir(mode=0o700)
    except FileExistsError:
        if nd.exists():
            raise CliError(f"node '{config.name}' already exists", f"see: {PROG} node show {config.name}") from None
        shutil.rmtree(nd.path, ignore_errors=True)  # left by a create that failed half-way
        nd.path.mkdir(mode=0o700)
    config.created = config.created or time.time()
    nd.save(config)
    if default_node(ctx.home) is None:
        set_default_node(ctx.home, config.name)
    return nd


def forget_node(ctx: Ctx, nd: d.NodeDir) -> None:
    """Removes the state of a node whose creation failed."""
    shutil.rmtree(nd.path, ignore_errors=True)
    if default_node(ctx.home) is None:
        set_default_node(ctx.home, None)


def create_node(ctx: Ctx, name: Optional[str], listener: str = "127.0.0.1:0") -> d.NodeDir:
    """Creates a node with nothing but its defaults and starts it in the background."""
    config = d.NodeConfig(name=check_node_name(name) if name else random_node_name(ctx.home),
                          tcp_listener_address=host_port(listener, "TCP listener address", listen=True))
    nd = new_node_dir(ctx, config)
    try:
        start_daemon(ctx, nd)
    except BaseException:
        forget_node(ctx, nd)
        raise
    return nd


def http_port(a: argparse.Namespace) -> Optional[int]:
    """The HTTP status server's port asked for by ``--http-server[=PORT]``/``--http-server-port``."""
    value = a.http_server_port if a.http_server_port is not None else a.http_server
    if value is None or value is False:
        return None
    if value is True:
        return 0
    if not str(value).isdigit() or int(value) > 65535:
        raise CliError(f"bad HTTP server port '{value}': expected a number from 0 to 65535")
    return int(value)


def cmd_node_create(ctx: Ctx) -> int:
    """``node create [NAME | CONFIGURATION] [--tcp-listener-address A] [-f [-e]] [--configuration C]``."""
    from . import cli_config

    a = ctx.args
    if a.exit_on_eof and not a.foreground:
        raise CliError("--exit-on-eof needs --foreground", f"see: {PROG} node create --help")
    if a.configuration is not None or (a.name and Path(a.name).is_file()):
        return cli_config.create_from_configuration(ctx)
    if a.variable:
        raise CliError("--variable is only for a node configuration", "pass a configuration file or --configuration")
    name = check_node_name(a.name) if a.name else random_node_name(ctx.home)
    nd = d.NodeDir(ctx.home, name)
    if nd.exists():
        return _create_existing(ctx, nd)
    listener = host_port(a.tcp_listener_address, "TCP listener address", listen=True)
    udp = host_port(a.udp_listener_address, "UDP listener address", listen=True) if a.udp_listener_address else None
    if a.identity is not None:
        identity_path(ctx, a.identity)  # it must exist
    nd = new_node_dir(ctx, d.NodeConfig(name=name, tcp_listener_address=listener, udp_listener_address=udp,
                                        identity=a.identity, http_server_port=http_port(a)))
    return run_created(ctx, nd, new=True)


def _create_existing(ctx: Ctx, nd: d.NodeDir) -> int:
    """``node create NAME`` for a node that exists: an error while it runs; otherwise, as
    Ockam does, it runs again with everything it ran (services, relays, inlets, outlets)."""
    if node_status(nd)[0] != "stopped":
        raise CliError(f"node '{nd.name}' already exists and is running",
                       f"see: {PROG} node show {nd.name}; or delete it: {PROG} node delete {nd.name}")
    port = http_port(ctx.args)
    if port is not None:
        config = nd.load()
        config.http_server_port = port
        nd.save(config)
    return run_created(ctx, nd, new=False)


def run_created(ctx: Ctx, nd: d.NodeDir, new: bool) -> int:
    """Runs a created node: in this process with ``--foreground``, otherwise in the background
    (then prints it); a new node whose start fails is forgotten."""
    a = ctx.args
    if a.foreground:
        ctx.info(f"Node {nd.name} runs in the foreground; Ctrl-C stops it. Log: {nd.log_file}")
        rc = d.run(nd, foreground=True, verbose=ctx.verbose > 0, exit_on_eof=a.exit_on_eof)
        if rc != 0 and new:
            forget_node(ctx, nd)
        return rc
    try:
        start_daemon(ctx, nd)
    except BaseException:
        if new:
            forget_node(ctx, nd)
        raise
    info = _node_details(ctx, nd)
    verb = "Created a new node named" if new else "Started again the node named"

    def text() -> str:
        lines = [f"{ctx.c('✔', 'green')} {verb} {ctx.c(nd.name, 'bold')} (pid {info['pid']}, "
                 f"TCP listener {info['tcp_listener_address']}, identifier {info['identifier']})"]
        if info.get("http_server_address"):
            lines.append(f"  HTTP server: http://{info['http_server_address']}/show")
        lines += [f"  warning: not restored: {e}" for e in info["restore_errors"]]
        return "\n".join(lines)

    ctx.emit(info, text, machine=nd.name)
    return 0


def cmd_node_list(ctx: Ctx) -> int:
    """``node list``: every node, running or stopped."""
    rows = [node_summary(ctx, d.NodeDir(ctx.home, n)) for n in d.node_names(ctx.home)]

    def text() -> str:
        if not rows:
            return f"No nodes. Create one with: {PROG} node create NAME"
        table = [("NODE", "STATUS", "PID", "TCP LISTENER")] + [
            (r["name"] + (" (default)" if r["default"] else ""), r["status"], str(r["pid"] or "-"),
             r["tcp_listener_address"] or "-")
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = []
        for i, row in enumerate(table):
            cells = [cell.ljust(w) for cell, w in zip(row, widths)]
            if i == 0:
                cells = [ctx.c(c, "bold") for c in cells]
            else:
                cells[1] = ctx.c(cells[1], {"running": "green", "stopped": "red"}.get(row[1], "yellow"))
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    ctx.emit(rows, text)
    return 0


def _node_details(ctx: Ctx, nd: d.NodeDir) -> Dict[str, Any]:
    info = node_summary(ctx, nd)
    if info["status"] == "running":
        try:
            live = ctx.call(nd, "info")
        except CliError:
            live = None
        if live is not None:
            live.pop("name", None)
            live.pop("pid", None)
            return {**info, **live}
    config = nd.load()
    listeners = [{"address": f"/service/{li['address']}", "authorized": li.get("authorized")} for li in config.listeners]
    if not any(li["address"] == "api" for li in config.listeners):  # every node listens at api
        listeners.insert(0, {"address": "/service/api", "authorized": None})
    stopped = {
        "services": d.service_list(config),
        "tcp_connections": [],
        "udp_binds": [],
        "relays": [{"name": r["name"], "status": "stopped", "connection_status": "Down", "at": r["at_display"],
                    "remote_address": f"{r['at_display']}/service/forward_to_{r.get('address') or r['name']}",
                    "local_address": f"/node/{nd.name}"} for r in config.relays],
        "relay_entries": [],
        "inlets": [{"alias": i["alias"], "bind_address": i["bind"], "bind_addr": i["bind"], "to": i["to_display"],
                    "outlet_addr": i["to_display"], "status": "Down"} for i in config.inlets],
        "outlets": [{"address": f"/service/{o['address']}", "from": f"/service/{o['address']}", "to": o["to"],
                     "allow": o.get("allow")} for o in config.outlets],
        "secure_channel_listeners": listeners,
        "secure_channels": [],
        "restore_errors": [],
    }
    return {**info, **stopped}


def _relay_line(ctx: Ctx, r: Dict[str, Any]) -> str:
    status = ctx.c(r["status"], "green" if r["status"] == "up" else "yellow")
    return f"Relay {ctx.c(r['name'], 'bold')} {status}: {r['remote_address']} → {r['local_address']}"


def _inlet_line(ctx: Ctx, i: Dict[str, Any]) -> str:
    status = f" [{i['status']}]" if i.get("status") else ""
    return f"Inlet {ctx.c(i['alias'], 'bold')} at {i['bind_address']} → {i['to']}{status}" + _stats(i)


def _outlet_line(ctx: Ctx, o: Dict[str, Any]) -> str:
    allow = f", allows {', '.join(o['allow'])}" if o.get("allow") else ""
    return f"Outlet {ctx.c(o['address'], 'bold')} → {o['to']}" + _stats(o) + allow


def _listener_line(ctx: Ctx, li: Dict[str, Any]) -> str:
    who = ", ".join(li["authorized"]) if li.get("authorized") else "any identity"
    return f"{ctx.c(li['address'], 'bold')} (authorizes {who})"


def _channel_line(ctx: Ctx, c: Dict[str, Any]) -> str:
    way = "to" if c["role"] == "initiator" else f"from (listener {c['listener']})" if c.get("listener") else "from"
    return f"{ctx.c(c['address'], 'bold')} {way} {c['their_identifier']}"


def _conn_line(ctx: Ctx, c: Dict[str, Any]) -> str:
    way = "to" if c["outgoing"] else "from"
    return f"{ctx.c(c['address'], 'bold')} {way} {c['peer']} ({c['bytes_in']} B in, {c['bytes_out']} B out)"


def _stats(p: Dict[str, Any]) -> str:
    return f" ({p['open']} open, {p['total']} in total)" if "open" in p else ""


def cmd_node_show(ctx: Ctx) -> int:
    """``node show NAME``: status, listener, services, connections, relays, portals."""
    nd = ctx.node_dir(ctx.args.name, "NAME", create_default=False)
    info = _node_details(ctx, nd)

    def text() -> str:
        status = ctx.c(info["status"], "green" if info["status"] == "running" else "red")
        pid = f" (pid {info['pid']})" if info["pid"] else ""
        lines = [f"Node {ctx.c(nd.name, 'bold')}{' (default)' if info['default'] else ''}: {status}{pid}"]
        if info["identifier"]:
            named = f" (identity {info['identity']})" if info["identity"] else ""
            lines.append(f"  Identifier: {info['identifier']}{named}")
        if info["multiaddr"]:
            lines.append(f"  Route: /node/{nd.name} → {info['multiaddr']}")
            lines.append(f"  TCP listener: {info['tcp_listener_address']}")
        for b in info.get("udp_binds", []):
            dropped = sum(v for k, v in b.items() if k.startswith("dropped_"))
            lines.append(f"  UDP listener: {b['address']} (messages sent {b['sent']}, received {b['received']}, "
                         f"dropped {dropped})")
        lines.append("  Services: " + ", ".join(f"{s['address']} ({s['kind']})" for s in info["services"]))
        sections = (
            ("TCP connections", [_conn_line(ctx, c) for c in info["tcp_connections"]]),
            ("Secure channel listeners", [_listener_line(ctx, li) for li in info.get("secure_channel_listeners", [])]),
            ("Secure channels", [_channel_line(ctx, c) for c in info.get("secure_channels", [])]),
            ("Relays", [_relay_line(ctx, r) for r in info["relays"]]),
            ("Relays registered here", [f"/service/{e['address']} → {e['route']}" for e in info["relay_entries"]]),
            ("TCP outlets", [_outlet_line(ctx, o) for o in info["outlets"]]),
            ("TCP inlets", [_inlet_line(ctx, i) for i in info["inlets"]]),
            ("Not restored", info["restore_errors"]),
        )
        for title, items in sections:
            if items:
                lines.append(f"  {title}:")
                lines.extend(f"    {item}" for item in items)
        lines.append(f"  Log: {nd.log_file}")
        return "\n".join(lines)

    ctx.emit(info, text)
    return 0


def cmd_node_start(ctx: Ctx) -> int:
    """``node start NAME``: runs a stopped node again with everything it ran."""
    nd = ctx.node_dir(ctx.args.name, "NAME", create_default=False)
    if d.ping(nd):
        info = node_summary(ctx, nd)
        ctx.emit(info, f"Node {nd.name} is already running (pid {info['pid']})")
        return 0
    start_daemon(ctx, nd)
    info = _node_details(ctx, nd)

    def text() -> str:
        lines = [f"{ctx.c('✔', 'green')} Started node {ctx.c(nd.name, 'bold')} (pid {info['pid']}, "
                 f"TCP listener {info['tcp_listener_address']})"]
        lines += [f"  warning: not restored: {e}" for e in info["restore_errors"]]
        return "\n".join(lines)

    ctx.emit(info, text)
    return 0


def cmd_node_stop(ctx: Ctx) -> int:
    """``node stop NAME``: stops the node's process; ``node start`` runs it again."""
    nd = ctx.node_dir(ctx.args.name, "NAME", create_default=False)
    was_running = stop_node(nd)
    ctx.emit({"name": nd.name, "was_running": was_running},
             f"Stopped node {nd.name}" if was_running else f"Node {nd.name} was not running")
    return 0


def cmd_node_delete(ctx: Ctx) -> int:
    """``node delete NAME | --all [--yes]``: stops nodes and removes their state."""
    a = ctx.args
    if a.all and a.name:
        raise CliError("give a node NAME or --all, not both")
    names = d.node_names(ctx.home) if a.all else [ctx.node_dir(a.name, "NAME", create_default=False).name]
    if a.all and names and not a.yes:
        if not sys.stdin.isatty() or a.no_input or ctx.quiet:
            raise CliError("deleting all nodes needs confirmation", "pass --yes")
        answer = input(f"Delete all {len(names)} nodes ({', '.join(names)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise CliError("not confirmed; nothing deleted")
    deleted = []
    for name in names:
        nd = d.NodeDir(ctx.home, name)
        if a.force and nd.daemon_pid():
            _kill(nd.daemon_pid() or 0, first=signal.SIGKILL)
        stop_node(nd)
        shutil.rmtree(nd.path, ignore_errors=True)
        deleted.append(name)
    if default_node(ctx.home) is None:
        set_default_node(ctx.home, None)
    ctx.emit({"deleted": deleted, "name": deleted[0] if len(deleted) == 1 else None},
             "\n".join(f"{ctx.c('✔', 'green')} Deleted node {ctx.c(n, 'bold')}" for n in deleted) or "No nodes to delete",
             machine="\n".join(deleted))
    return 0


def cmd_node_logs(ctx: Ctx) -> int:
    """``node logs NAME``: the node's log (``--path``: only where it is)."""
    nd = ctx.node_dir(ctx.args.name, "NAME", create_default=False)
    if ctx.args.path or ctx.json:
        ctx.emit({"name": nd.name, "log": str(nd.log_file)}, str(nd.log_file))
        return 0
    try:
        lines = nd.log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    if ctx.args.lines:
        lines = lines[-ctx.args.lines:]
    for line in lines:
        print(line)
    return 0


def cmd_node_default(ctx: Ctx) -> int:
    """``node default [NAME]``: shows or sets the node used when a command names none."""
    if ctx.args.name:
        nd = ctx.node_dir(ctx.args.name, "NAME", create_default=False)
        set_default_node(ctx.home, nd.name)
    name = default_node(ctx.home)
    ctx.emit({"default": name}, name or "No default node")
    return 0


def cmd_node_run(ctx: Ctx) -> int:
    """Hidden: the daemon itself (what ``node create`` and ``node start`` spawn)."""
    nd = d.NodeDir(ctx.home, ctx.args.name)
    if not nd.exists():
        sys.stderr.write(f"error: unknown node '{ctx.args.name}'\n")
        return EX_SOFTWARE
    return d.run(nd, foreground=False, verbose=ctx.verbose > 0)


# ---------------------------------------------------------------------------
# services, connections, messages


def cmd_service_start(ctx: Ctx) -> int:
    """``service start hop|echo|uppercase --at NODE [--addr A]``."""
    nd = ctx.node_dir(ctx.args.at)
    addr = worker_name(ctx.args.addr, "service address") if ctx.args.addr else None
    res = ctx.call(nd, "service_start", kind=ctx.args.kind, address=addr)
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Started {res['kind']} service at {ctx.c(res['address'], 'bold')} on node {nd.name}")
    return 0


def cmd_service_list(ctx: Ctx) -> int:
    """``service list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "service_list")
    ctx.emit(res, lambda: "\n".join(f"{s['address']} ({s['kind']})" for s in res))
    return 0


def cmd_worker_list(ctx: Ctx) -> int:
    """``worker list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "worker_list")
    ctx.emit(res, lambda: "\n".join(f"Worker {w['addr']}" for w in res))
    return 0


def cmd_tcp_connection_show(ctx: Ctx) -> int:
    """``tcp-connection show ADDRESS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_connection_show", address=ctx.args.address)
    ctx.emit({"node": nd.name, **res}, lambda: _conn_line(ctx, res))
    return 0


def cmd_tcp_listener_list(ctx: Ctx) -> int:
    """``tcp-listener list --at NODE``: the node's TCP listener."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_listener_list")
    ctx.emit(res, lambda: "\n".join(f"TCP, Listening at {li['socket_addr']}" for li in res)
             or f"Node {nd.name} has no TCP listener")
    return 0


def cmd_tcp_listener_show(ctx: Ctx) -> int:
    """``tcp-listener show [ADDRESS] --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_listener_list")
    want = ctx.args.address
    found = [li for li in res if want is None or want in (li["socket_addr"], li["processor_address"])
             or host_port_or_none(want) == li["socket_addr"]]
    if not found:
        raise CliError(f"TCP listener {want} was not found on node {nd.name}", f"see: {PROG} tcp-listener list --at {nd.name}")
    li = found[0]
    ctx.emit({"node": nd.name, **li}, f"TCP, Listening at {li['socket_addr']}", machine=li["socket_addr"])
    return 0


def host_port_or_none(value: str) -> Optional[str]:
    try:
        return host_port(value)
    except CliError:
        return None


def cmd_tcp_listener_create(ctx: Ctx) -> int:
    """``tcp-listener create ADDRESS --at NODE``: another address where the node is reached."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_listener_create", address=host_port(ctx.args.address, "TCP listener address", listen=True))
    route = node_multiaddr_of_hostport(res["socket_addr"])
    ctx.emit({"node": nd.name, **res}, f"{ctx.c('✔', 'green')} Tcp listener created! You can send messages to it "
             f"via this route:\n    {route}", machine=route)
    return 0


def cmd_tcp_listener_delete(ctx: Ctx) -> int:
    """``tcp-listener delete ADDRESS --at NODE``: one made by ``tcp-listener create``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_listener_delete", address=host_port(ctx.args.address, "TCP listener address"))
    ctx.emit({"node": nd.name, **res}, f"{ctx.c('✔', 'green')} Deleted TCP listener {res['address']} of node {nd.name}",
             machine=res["address"])
    return 0


def cmd_tcp_connection_create(ctx: Ctx) -> int:
    """``tcp-connection create --from NODE --to HOST:PORT``: prints ``/worker/<hex>``."""
    nd = ctx.node_dir(ctx.args.from_, "--from")
    to = ctx.args.to
    if to.startswith("/node/"):
        to = node_multiaddr(ctx.home, to[len("/node/"):].split("/")[0])
    target = host_port(to, "--to address")
    res = ctx.call(nd, "tcp_connection_create", timeout=ctx.args.timeout + 5, to=target, wait=ctx.args.timeout)
    ctx.emit({"node": nd.name, **res}, res["address"])
    return 0


def cmd_tcp_connection_list(ctx: Ctx) -> int:
    """``tcp-connection list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "tcp_connection_list")
    ctx.emit(res, lambda: "\n".join(_conn_line(ctx, c) for c in res) or f"Node {nd.name} has no TCP connections")
    return 0


def cmd_tcp_connection_delete(ctx: Ctx) -> int:
    """``tcp-connection delete ADDRESS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    address = ctx.args.address
    if not address.startswith("/worker/"):
        address = f"/worker/{address}"
    ctx.call(nd, "tcp_connection_delete", address=address)
    ctx.emit({"node": nd.name, "address": address}, f"{ctx.c('✔', 'green')} Deleted TCP connection {address}")
    return 0


def cmd_message_send(ctx: Ctx) -> int:
    """``message send MSG --from NODE --to ROUTE [--timeout S]``: prints the reply."""
    a = ctx.args
    route = resolve_route(ctx.home, a.to)
    if a.hex:
        try:
            bytes.fromhex(a.message)
        except ValueError:
            raise CliError(f"The message is not a valid hex string: '{a.message}'") from None
    if a.from_ is None and default_node(ctx.home) is None:
        reply = _send_from_temporary_node(a.message, route, a.timeout, a.to, a.hex)
    else:
        nd = ctx.node_dir(a.from_, "--from")
        reply = _send_via(ctx, nd, a.message, route, a.timeout, a.to, a.hex)
    ctx.emit({"reply": reply}, reply)
    return 0


def _send_via(ctx: Ctx, nd: d.NodeDir, message: str, route: str, timeout: float, shown: str, hex_: bool) -> str:
    try:
        res = d.request(nd, "message_send", timeout=timeout + 5, verbose=ctx.verbose > 0,
                        message=message, to=route, wait=timeout, **({"hex": True} if hex_ else {}))
    except d.NotRunningError:
        raise CliError(f"node '{nd.name}' is not running", f"start it with: {PROG} node start {nd.name}") from None
    except d.RemoteError as e:
        if ctx.verbose and e.remote_traceback:
            sys.stderr.write(e.remote_traceback)
        msg = str(e).replace(route, shown)
        if e.kind == "TimeoutError":
            msg = f"{msg} from {shown}"
        down = stopped_node(ctx.home, shown)
        raise CliError(msg, f"node '{down}' is not running: {PROG} node start {down}" if down else "") from None
    return str(res["reply"])


def _send_from_temporary_node(message: str, route: str, timeout: float, shown: str, hex_: bool) -> str:
    from .node import Node

    with Node(f"ockam-py-{os.getpid()}") as node:
        try:
            if hex_:
                return bytes(node.message_send(bytes.fromhex(message), to=route, timeout=timeout)).hex()
            return str(node.message_send(message, to=route, timeout=timeout))
        except TimeoutError as e:
            raise CliError(f"{e} from {shown}") from None
        except OSError as e:
            raise CliError(e.strerror if e.errno and e.strerror else str(e)) from None


# ---------------------------------------------------------------------------
# relays and portals


def relay_at(ctx: Ctx, value: str) -> "tuple[str, str]":
    """``--at`` of ``relay create`` (``n2``, ``/node/n2``, a route or ``HOST:PORT``) as the route
    to send and the route to show."""
    at = value.strip()
    if d.valid_name(at) and d.NodeDir(ctx.home, at).exists():
        at = f"/node/{at}"
    down = stopped_node(ctx.home, at)
    if down:
        raise CliError(f"node '{down}' is not running", f"start it with: {PROG} node start {down}")
    if at.startswith("/"):
        return resolve_route(ctx.home, at), at
    if ":" not in at and not at.isdigit():
        raise CliError(f"unknown node '{at}' for --at", f"see: {PROG} node list")
    hp = host_port(at, "--at address")
    return hp, node_multiaddr_of_hostport(hp)


def cmd_relay_create(ctx: Ctx) -> int:
    """``relay create [NAME] --at NODE|ROUTE [--to NODE] [--relay-address A] [--no-connection-wait]``:
    makes NODE reachable at ROUTE/service/forward_to_NAME."""
    a = ctx.args
    if a.at is None:
        raise CliError("relay create needs --at: there is no project to relay at",
                       f"pass the relay node: {PROG} relay create {a.name} --at NODE")
    name = worker_name(a.name, "relay name")
    address = worker_name(a.relay_address, "--relay-address") if a.relay_address else None
    at_route, display = relay_at(ctx, a.at)
    nd = ctx.node_dir(a.to, "--to")
    res = ctx.call(nd, "relay_create", timeout=a.timeout + 5, name=name, at=at_route, at_display=display,
                   wait=a.timeout, address=address, no_wait=a.no_connection_wait)
    arrow = ctx.c("→", "dim")
    remote = res["remote_address"][len(display):]  # /service/forward_to_NAME, at the relay node
    if a.no_connection_wait and res["status"] != "up":
        text = (f"{ctx.c('✔', 'green')} Relay will be created automatically from {ctx.c(display, 'bold')} {arrow} "
                f"{ctx.c('/node/' + nd.name, 'bold')} as soon as a connection can be established.")
        ctx.emit({"node": nd.name, **res}, text)
        return 0
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Now relaying messages from {ctx.c(res['remote_address'], 'bold')} {arrow} "
             f"{ctx.c(res['local_address'], 'bold')}", machine=remote)
    return 0


def cmd_relay_show(ctx: Ctx) -> int:
    """``relay show NAME [--at NODE]``."""
    nd = ctx.node_dir(ctx.args.at, "--at")
    res = ctx.call(nd, "relay_show", name=ctx.args.name)
    ctx.emit({"node": nd.name, **res}, lambda: _relay_line(ctx, res), machine=res["name"])
    return 0


def node_multiaddr_of_hostport(hp: str) -> str:
    """``127.0.0.1:4000`` as ``/ip4/127.0.0.1/tcp/4000`` (``/dnsaddr/...`` for names)."""
    host, port = hp.rsplit(":", 1)
    host = host.strip("[]")
    try:
        return f"/ip{ipaddress.ip_address(host).version}/{host}/tcp/{port}"
    except ValueError:
        return f"/dnsaddr/{host}/tcp/{port}"


def cmd_relay_list(ctx: Ctx) -> int:
    """``relay list --to NODE``: the relays NODE keeps registered."""
    nd = ctx.node_dir(ctx.args.to, "--to")
    res = ctx.call(nd, "relay_list")
    ctx.emit(res, lambda: "\n".join(_relay_line(ctx, r) for r in res) or f"Node {nd.name} has no relays")
    return 0


def cmd_relay_delete(ctx: Ctx) -> int:
    """``relay delete NAME --at NODE``."""
    nd = ctx.node_dir(ctx.args.at, "--at", create_default=False)
    ctx.call(nd, "relay_delete", name=ctx.args.name)
    ctx.emit({"node": nd.name, "name": ctx.args.name},
             f"{ctx.c('✔', 'green')} Relay {ctx.args.name} on node {nd.name} has been deleted")
    return 0


def cmd_outlet_create(ctx: Ctx) -> int:
    """``tcp-outlet create [NAME] --at NODE [--from /service/outlet] --to HOST:PORT``."""
    a = ctx.args
    if a.name and a.from_ and worker_name(a.name, "outlet name") != worker_name(a.from_, "--from address"):
        raise CliError(f"outlet named twice: '{a.name}' and --from '{a.from_}'", "give one of them")
    given = a.from_ or a.name
    address = worker_name(given, "--from address") if given else None
    target = host_port(a.to, "--to address")
    allow = identifiers(a.allow, "--allow")
    nd = ctx.node_dir(a.at)
    res = ctx.call(nd, "outlet_create", address=address, to=target, allow=allow)
    only = f", allowing only {', '.join(allow)} through secure channels" if allow else ""
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Created a new TCP outlet in the node {nd.name} at "
             f"{ctx.c(res['address'], 'bold')} bound to {ctx.c(res['to'], 'bold')}{only}", machine=res["address"])
    return 0


def cmd_outlet_show(ctx: Ctx) -> int:
    """``tcp-outlet show ADDRESS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "outlet_show", address=worker_name(ctx.args.address, "outlet address"))
    ctx.emit(res, lambda: _outlet_line(ctx, res), machine=res["address"])
    return 0


def cmd_outlet_list(ctx: Ctx) -> int:
    """``tcp-outlet list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "outlet_list")
    ctx.emit(res, lambda: "\n".join(_outlet_line(ctx, o) for o in res) or f"Node {nd.name} has no TCP outlets")
    return 0


def cmd_outlet_delete(ctx: Ctx) -> int:
    """``tcp-outlet delete ADDRESS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    address = worker_name(ctx.args.address, "outlet address")
    res = ctx.call(nd, "outlet_delete", address=address)
    ctx.emit({"node": nd.name, **res}, f"{ctx.c('✔', 'green')} Deleted TCP outlet {res['address']} of node {nd.name}")
    return 0


def relay_route(ctx: Ctx, relay: str) -> str:
    """``/node/N/service/forward_to_RELAY``: where the relay named ``relay`` of a node here is."""
    for name in d.node_names(ctx.home):
        for r in d.NodeDir(ctx.home, name).load().relays:
            if r["name"] == relay:
                return f"{r['at_display']}/service/forward_to_{r.get('address') or relay}"
    raise CliError(f"no node here has a relay named '{relay}'", f"create it: {PROG} relay create {relay} --at NODE --to NODE")


def cmd_inlet_create(ctx: Ctx) -> int:
    """``tcp-inlet create [NAME] --at NODE --from HOST:PORT --to ROUTE [--via RELAY] [--alias A]``."""
    a = ctx.args
    if a.name and a.alias and a.name != a.alias:
        raise CliError(f"inlet named twice: '{a.name}' and --alias '{a.alias}'", "give one of them")
    alias = a.alias or a.name
    if alias is not None and not d.valid_name(alias):
        raise CliError(f"bad inlet alias '{alias}'", NAME_HINT)
    bind = host_port(a.from_, "--from address", listen=True)
    to = a.to
    if a.via is not None or to is None or not to.startswith("/"):
        # as Ockam: --to names the outlet, reached through the relay --via (default: "default")
        outlet = worker_name(to or "outlet", "--to outlet")
        to = f"{relay_route(ctx, a.via or 'default')}/secure/api/service/{outlet}"  # Ockam's route
    route = resolve_route(ctx.home, to)
    nd = ctx.node_dir(a.at)
    wait = 0.0 if a.no_connection_wait else a.connection_wait
    res = ctx.call(nd, "inlet_create", timeout=wait + 10, bind=bind, to=route, to_display=to, alias=alias, wait=wait)
    text = (f"{ctx.c('✔', 'green')} Created a new TCP inlet {res['alias']} in the node {nd.name} bound to "
            f"{ctx.c(res['bind_address'], 'bold')}, sending traffic to {ctx.c(res['to'], 'bold')}")
    if res["status"] != "Up":
        text += "\n  the outlet's node does not answer yet; each new connection tries again"
    ctx.emit({"node": nd.name, **res}, text, machine=res["bind_address"])
    return 0


def cmd_inlet_show(ctx: Ctx) -> int:
    """``tcp-inlet show ALIAS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "inlet_show", alias=ctx.args.alias)
    ctx.emit({"node": nd.name, **res}, lambda: _inlet_line(ctx, res), machine=res["bind_address"])
    return 0


def cmd_inlet_list(ctx: Ctx) -> int:
    """``tcp-inlet list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "inlet_list")
    ctx.emit(res, lambda: "\n".join(_inlet_line(ctx, i) for i in res) or f"Node {nd.name} has no TCP inlets")
    return 0


def cmd_inlet_delete(ctx: Ctx) -> int:
    """``tcp-inlet delete ALIAS --at NODE`` (the alias or the bound address)."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "inlet_delete", alias=ctx.args.alias)
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Deleted TCP inlet {res['alias']} ({res['bind_address']}) of node {nd.name}")
    return 0


# ---------------------------------------------------------------------------
# identities


def identity_path(ctx: Ctx, name: str) -> Path:
    """The file of the existing named identity ``name``."""
    path = d.identity_file(ctx.home, name)
    if not d.valid_name(name) or not path.is_file():
        raise CliError(f"unknown identity '{name}'", f"see: {PROG} identity list")
    return path


def default_identity(home: Path) -> Optional[str]:
    """The default identity's name (the first one created), if it still exists."""
    try:
        name = (home / "identities" / "default").read_text().strip()
    except OSError:
        return None
    return name if name and d.valid_name(name) and d.identity_file(home, name).is_file() else None


def _identity_json(ctx: Ctx, name: str) -> Dict[str, Any]:
    return {"name": name, "identifier": d.read_identifier(identity_path(ctx, name)),
            "is_default": default_identity(ctx.home) == name}


def cmd_identity_create(ctx: Ctx) -> int:
    """``identity create [NAME]``: a new identity, kept (mode 0600) under ``$OCKAM_PY_HOME/identities``."""
    from .secure import Identity

    name = ctx.args.name or f"identity-{secrets.token_hex(3)}"
    if not d.valid_name(name):
        raise CliError(f"bad identity name '{name}': use letters, digits, '_', '.', '-' (up to 64)")
    folder = ctx.home / "identities"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d.identity_file(ctx.home, name)
    identity = Identity.create()
    tmp = folder / f".{name}.json.{os.getpid()}"
    identity.save(tmp)
    try:
        os.link(tmp, path)  # never replaces an identity of that name
    except FileExistsError:
        raise CliError(f"identity '{name}' already exists", f"see: {PROG} identity show {name}") from None
    finally:
        tmp.unlink()
    if default_identity(ctx.home) is None:
        (folder / "default").write_text(name + "\n")
    ctx.emit(_identity_json(ctx, name), identity.identifier)
    return 0


def cmd_identity_show(ctx: Ctx) -> int:
    """``identity show [NAME] [--full]``: the identifier (``--full``: the change history, hex)."""
    name = ctx.args.name or default_identity(ctx.home)
    if name is None:
        raise CliError("no identity given and no default identity", f"create one: {PROG} identity create NAME")
    info = _identity_json(ctx, name)
    if ctx.args.full:
        with open(identity_path(ctx, name), encoding="utf-8") as f:
            info["change_history"] = json.load(f)["change_history"]
    ctx.emit(info, info["change_history"] if ctx.args.full else info["identifier"])
    return 0


def cmd_identity_list(ctx: Ctx) -> int:
    """``identity list``: the named identities."""
    rows = [_identity_json(ctx, n) for n in d.identity_names(ctx.home)]

    def text() -> str:
        if not rows:
            return f"No identities. Create one with: {PROG} identity create NAME"
        width = max(len(r["name"]) + (10 if r["is_default"] else 0) for r in rows)
        return "\n".join(f"{(r['name'] + (' (default)' if r['is_default'] else '')).ljust(width)}  {r['identifier']}"
                         for r in rows)

    ctx.emit(rows, text)
    return 0


# ---------------------------------------------------------------------------
# secure channels


def channel_address(value: str) -> str:
    """``/service/<hex>`` or ``<hex>`` as ``<hex>``."""
    hexa = value[len("/service/"):] if value.startswith("/service/") else value
    if not re.fullmatch(r"[0-9a-f]{32}", hexa):
        raise CliError(f"bad secure channel address '{value}': expected /service/ and 32 hex digits")
    return hexa


def cmd_secure_channel_create(ctx: Ctx) -> int:
    """``secure-channel create --from NODE --to ROUTE [--authorized I...]``: prints the channel's address."""
    a = ctx.args
    nd = ctx.node_dir(a.from_, "--from")
    authorized = identifiers(a.authorized, "--authorized")
    route = resolve_route(ctx.home, a.to)
    down = stopped_node(ctx.home, a.to)
    try:
        res = ctx.call(nd, "secure_channel_create", timeout=a.timeout + 5, to=route, to_display=a.to,
                       authorized=authorized, wait=a.timeout)
    except CliError as e:
        raise CliError(str(e).replace(route, a.to),
                       f"node '{down}' is not running: {PROG} node start {down}" if down else "") from None
    ctx.emit({"node": nd.name, **res}, res["address"])
    return 0


def cmd_secure_channel_list(ctx: Ctx) -> int:
    """``secure-channel list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "secure_channel_list")
    ctx.emit(res, lambda: "\n".join(_channel_line(ctx, c) for c in res) or f"Node {nd.name} has no secure channels")
    return 0


def cmd_secure_channel_show(ctx: Ctx) -> int:
    """``secure-channel show ADDRESS --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "secure_channel_show", address=channel_address(ctx.args.address))

    def text() -> str:
        lines = [f"Secure channel {ctx.c(res['address'], 'bold')} of node {nd.name}",
                 f"  Role: {res['role']}", f"  Their identifier: {res['their_identifier']}"]
        if res["decryptor"]:
            lines.append(f"  Decryptor: {res['decryptor']}")
        if res["listener"]:
            lines.append(f"  Listener: {res['listener']}")
        return "\n".join(lines)

    ctx.emit({"node": nd.name, **res}, text)
    return 0


def cmd_secure_channel_delete(ctx: Ctx) -> int:
    """``secure-channel delete ADDRESS --at NODE``: closes the channel (the peer is told)."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "secure_channel_delete", address=channel_address(ctx.args.address))
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Deleted secure channel {res['address']} of node {nd.name}")
    return 0


def cmd_listener_create(ctx: Ctx) -> int:
    """``secure-channel-listener create ADDRESS --at NODE [--authorized I...]``."""
    a = ctx.args
    nd = ctx.node_dir(a.at)
    address = worker_name(a.address, "listener address")
    authorized = identifiers(a.authorized, "--authorized")
    res = ctx.call(nd, "secure_channel_listener_create", address=address, authorized=authorized)
    ctx.emit({"node": nd.name, **res},
             f"{ctx.c('✔', 'green')} Secure channel listener at {ctx.c(res['address'], 'bold')} created "
             f"on node {nd.name}, authorizing " + (", ".join(authorized) if authorized else "any identity"))
    return 0


def cmd_listener_list(ctx: Ctx) -> int:
    """``secure-channel-listener list --at NODE``."""
    nd = ctx.node_dir(ctx.args.at)
    res = ctx.call(nd, "secure_channel_listener_list")
    ctx.emit(res, lambda: "\n".join(_listener_line(ctx, li) for li in res)
             or f"Node {nd.name} has no secure channel listeners")
    return 0


# ---------------------------------------------------------------------------
# Parser


def _common(suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes (after the command too: ``node list --output json``)."""
    p = argparse.ArgumentParser(add_help=False)
    dflt = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--output", choices=("plain", "json"), default=dflt("plain"),
                   help="output format: plain text for people, json for scripts")
    p.add_argument("--no-color", action="store_true", default=dflt(False), help="no colours (also: NO_COLOR=1)")
    p.add_argument("-v", "--verbose", action="count", default=dflt(0),
                   help="tracebacks on errors; -vv: debug logs of new nodes")
    p.add_argument("-q", "--quiet", action="store_true", default=dflt(bool(os.environ.get("QUIET"))),
                   help="no status messages on stderr, no confirmation prompts (also: QUIET=1)")
    p.add_argument("--no-input", action="store_true", default=dflt(bool(os.environ.get("NO_INPUT"))),
                   help="never prompt (also: NO_INPUT=1)")
    p.add_argument("--compact-output", action="store_true", default=dflt(False), help="JSON on one line")
    return p


class Parser(argparse.ArgumentParser):
    """Usage errors as one line plus a hint, exit status 64 (EX_USAGE), as Ockam's."""

    def error(self, message: str) -> "NoReturn":
        _report(message, f"see: {self.prog} --help", use_color(sys.stderr), as_json="--output=json" in sys.argv
                or ("--output" in sys.argv and "json" in sys.argv))
        sys.exit(EX_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The ``ockam-py`` argument parser."""
    common = _common(suppress=True)
    parser = Parser(
        prog=PROG, parents=[_common(suppress=False)],
        description="Ockam nodes, routes, identities, secure channels, relays and TCP portals, "
                    "each node a background process. "
                    f"State lives under ${d.HOME_ENV} (default ~/.ockam-py).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    def group(name: str, help_: str) -> "argparse._SubParsersAction[argparse.ArgumentParser]":
        g = top.add_parser(name, help=help_, description=help_)
        return g.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True, parser_class=Parser)

    def leaf(sub: Any, name: str, func: Callable[[Ctx], int], help_: Optional[str]) -> argparse.ArgumentParser:
        kw = {"help": help_} if help_ else {}
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], description=help_ or func.__doc__, **kw)
        p.set_defaults(func=func)
        return p

    def at(p: argparse.ArgumentParser, flag: str = "--at", dest: str = "at") -> None:
        p.add_argument(flag, dest=dest, metavar="NODE", help="the node (name or /node/NAME; default: the default node)")

    def show_delete(sub: Any, show: Callable[[Ctx], int], show_help: str, delete: Callable[[Ctx], int],
                    delete_help: str, dest: str, metavar: str, arg_help: str, optional_show: bool = False,
                    at_flags: Sequence[str] = ("--at",)) -> None:
        """The ``show`` and ``delete`` subcommands of a resource: its name, the node, ``--yes``."""
        for name, func, help_ in (("show", show, show_help), ("delete", delete, delete_help)):
            p = leaf(sub, name, func, help_)
            p.add_argument(dest, metavar=metavar, nargs="?" if optional_show and name == "show" else None, help=arg_help)
            p.add_argument(*at_flags, dest="at", metavar="NODE", help="the node (name or /node/NAME; default: the default node)")
            if name == "delete":
                p.add_argument("-y", "--yes", action="store_true", help="accepted for Ockam's spelling; delete never asks")

    node = group("node", "create, list, show, start, stop, delete nodes")
    p = leaf(node, "create", cmd_node_create, "create a node and run it in the background")
    p.add_argument("name", nargs="?", metavar="NAME_OR_CONFIGURATION",
                   help="node name (default: a random one), or a configuration file (YAML or JSON)")
    p.add_argument("-t", "--tcp-listener-address", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where the node listens for TCP connections (default 127.0.0.1:0: a free port)")
    p.add_argument("--udp-listener-address", default=None, metavar="IP:PORT",
                   help="also bind a UDP socket there (port 0: a free port), for routes with /ip4/A/udp/P hops; "
                        "default: no UDP")
    p.add_argument("-f", "--foreground", action="store_true",
                   help="run the node in this process, its log on stdout, until Ctrl-C or SIGTERM")
    p.add_argument("-e", "--exit-on-eof", action="store_true", help="with --foreground: also stop at the end of stdin")
    p.add_argument("--configuration", "--node-config", metavar="YAML",
                   help="an inline node configuration (YAML or JSON): name, relays, tcp-outlets, tcp-inlets, variables")
    p.add_argument("--variable", action="append", default=[], metavar="KEY=VALUE",
                   help="a variable of the configuration (before the environment's); may be repeated")
    p.add_argument("--http-server", "--enable-http-server", action="store_true",
                   help="serve the node's status over HTTP on 127.0.0.1, on a free port (HEAD /, GET /show); "
                        "default: off; --http-server=PORT: at PORT")
    p.add_argument("--http-server-port", metavar="PORT", help="the same, at PORT")
    p.add_argument("--identity", metavar="IDENTITY_NAME",
                   help="run as this named identity (see: identity create); default: an identity of the node's own, "
                        "kept with its state")
    leaf(node, "list", cmd_node_list, "list nodes, running and stopped")
    for name, func, help_ in (("show", cmd_node_show, "show a node: listener, services, connections, relays, portals"),
                              ("start", cmd_node_start, "start a stopped node with everything it ran"),
                              ("stop", cmd_node_stop, "stop a node's process, keeping its state"),
                              ("run", cmd_node_run, None)):
        p = leaf(node, name, func, help_)
        p.add_argument("name", metavar="NAME", nargs=None if name == "run" else "?",
                       help=None if name == "run" else "the node (default: the default node)")
    p = leaf(node, "delete", cmd_node_delete, "stop nodes and delete their state")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--all", action="store_true", help="delete every node")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("-f", "--force", action="store_true", help="kill the process at once (SIGKILL)")
    p = leaf(node, "logs", cmd_node_logs, "print a node's log")
    p.add_argument("name", metavar="NAME", nargs="?", help="the node (default: the default node)")
    p.add_argument("--path", action="store_true", help="print only the log file's path")
    p.add_argument("-n", "--lines", type=int, default=0, metavar="N", help="only the last N lines")
    p = leaf(node, "default", cmd_node_default, "show or set the default node")
    p.add_argument("name", nargs="?", metavar="NAME")

    def ids(p: argparse.ArgumentParser, flag: str, help_: str, short: Optional[str] = None) -> None:
        flags = [short, flag] if short else [flag]
        p.add_argument(*flags, dest=flag.lstrip("-"), action="extend", nargs="+", metavar="IDENTIFIER", help=help_)

    ident = group("identity", "create, show and list identities")
    p = leaf(ident, "create", cmd_identity_create,
             "create an identity (kept, secret included, in a file only you can read); prints its identifier")
    p.add_argument("name", nargs="?", metavar="NAME", help="identity name (default: a random one)")
    p = leaf(ident, "show", cmd_identity_show, "print an identity's identifier")
    p.add_argument("name", nargs="?", metavar="NAME", help="identity name (default: the default identity)")
    p.add_argument("-f", "--full", action="store_true", help="print its change history (hex) instead")
    leaf(ident, "list", cmd_identity_list, "list identities")

    sc = group("secure-channel", "create, list, show and delete secure channels")
    p = leaf(sc, "create", cmd_secure_channel_create,
             "open a secure channel to a listener; prints its address, to route through: ADDRESS/service/echo")
    at(p, "--from", "from_")
    p.add_argument("--to", required=True, metavar="ROUTE", help="route to a secure channel listener, e.g. /node/n2/service/api")
    ids(p, "--authorized", "identifiers the listener may present (default: any)", "-a")
    p.add_argument("--timeout", type=duration, default=10.0, metavar="S", help="handshake timeout (default 10s)")
    at(leaf(sc, "list", cmd_secure_channel_list, "list a node's secure channels, initiated and accepted"))
    show_delete(sc, cmd_secure_channel_show, "show a secure channel", cmd_secure_channel_delete,
                "close a secure channel", "address", "ADDRESS", "/service/<hex> or <hex>")

    scl = group("secure-channel-listener", "create and list secure channel listeners")
    p = leaf(scl, "create", cmd_listener_create,
             "start a secure channel listener (every node has one at /service/api; this replaces one at ADDRESS)")
    p.add_argument("address", metavar="ADDRESS", help="its address: /service/NAME or NAME")
    at(p)
    ids(p, "--authorized", "identifiers of the initiators it accepts (default: any)", "-a")
    at(leaf(scl, "list", cmd_listener_list, "list a node's secure channel listeners"))

    service = group("service", "start services on a node")
    p = leaf(service, "start", cmd_service_start, "start an echo, uppercase or hop service")
    p.add_argument("kind", choices=("hop", "echo", "uppercase"), metavar="hop|echo|uppercase")
    at(p)
    p.add_argument("--addr", metavar="ADDRESS", help="its address (default: its kind)")
    at(leaf(service, "list", cmd_service_list, "list a node's services"))

    worker = group("worker", "list a node's workers")
    at(leaf(worker, "list", cmd_worker_list, "list a node's workers (services, listeners, portals, relays, connections)"))

    tcp = group("tcp-connection", "open, list, show and close TCP connections of a node")
    p = leaf(tcp, "create", cmd_tcp_connection_create, "open a TCP connection; prints its /worker/<hex> address")
    at(p, "--from", "from_")
    p.add_argument("--to", required=True, metavar="HOST:PORT", help="where to connect (also /ip4/.../tcp/P, /node/NAME)")
    p.add_argument("--timeout", type=duration, default=10.0, metavar="S", help="connect timeout (default 10s)")
    at(leaf(tcp, "list", cmd_tcp_connection_list, "list a node's TCP connections"))
    show_delete(tcp, cmd_tcp_connection_show, "show a TCP connection", cmd_tcp_connection_delete,
                "close a TCP connection", "address", "ADDRESS", "/worker/<hex>")

    tl = group("tcp-listener", "create, list, show and delete the TCP listeners of a node")
    p = leaf(tl, "create", cmd_tcp_listener_create, "listen at one more address (its connections reach the node)")
    p.add_argument("address", metavar="ADDRESS", help="HOST:PORT (port 0: a free one)")
    at(p)
    at(leaf(tl, "list", cmd_tcp_listener_list, "list a node's TCP listeners"))
    show_delete(tl, cmd_tcp_listener_show, "show a TCP listener (default: the node's)", cmd_tcp_listener_delete,
                "delete a TCP listener made by create", "address", "ADDRESS", "HOST:PORT", optional_show=True)

    msg = group("message", "send messages")
    p = leaf(msg, "send", cmd_message_send, "send a message and print the reply")
    p.add_argument("message", metavar="MSG")
    p.add_argument("-f", "--from", dest="from_", metavar="NODE",
                   help="the node that sends it (default: the default node; without one, a temporary node)")
    p.add_argument("-t", "--to", required=True, metavar="ROUTE",
                   help="e.g. /worker/<hex>/service/uppercase, /node/n2/service/echo, "
                        "/node/n2/secure/api/service/echo (through a secure channel); "
                        "'-' in it is replaced by a line read from stdin")
    p.add_argument("--hex", action="store_true", help="the message is hex; print the reply as hex")
    p.add_argument("--timeout", type=duration, default=10.0, metavar="S", help="how long to wait for the reply (default 10s)")

    relay = group("relay", "create, list, show and delete relays")
    p = leaf(relay, "create", cmd_relay_create, "make a node reachable at a relay node's /service/forward_to_NAME")
    p.add_argument("name", nargs="?", default="default", metavar="NAME", help="relay name (default: default)")
    p.add_argument("--at", metavar="ROUTE",
                   help="the relay node: NODE, /node/NODE, a route, or HOST:PORT; through a secure channel "
                        "(/node/N/secure/api) the name belongs to this node's identity there")
    at(p, "--to", "to")
    p.add_argument("--relay-address", metavar="ADDRESS",
                   help="register as /service/forward_to_ADDRESS (default: the relay name)")
    p.add_argument("--no-connection-wait", action="store_true",
                   help="return at once; the relay connects (and reconnects) by itself")
    p.add_argument("--timeout", type=duration, default=10.0, metavar="S", help="how long to wait for it (default 10s)")
    at(leaf(relay, "list", cmd_relay_list, "list the relays a node keeps registered"), "--to", "to")
    show_delete(relay, cmd_relay_show, "show a relay", cmd_relay_delete, "delete a relay", "name", "NAME",
                "the relay's name", at_flags=("--at", "--to"))

    outlet = group("tcp-outlet", "create, list, show and delete TCP outlets")
    p = leaf(outlet, "create", cmd_outlet_create, "create a TCP outlet to a TCP server")
    p.add_argument("name", nargs="?", metavar="NAME", help="its address, as --from")
    at(p)
    p.add_argument("--from", dest="from_", default=None, metavar="ADDRESS",
                   help="its worker address (default: /service/outlet for the node's first, then a random one)")
    p.add_argument("--to", required=True, metavar="HOST:PORT", help="the TCP server (a port alone: 127.0.0.1:PORT)")
    ids(p, "--allow", "identifiers that alone may use it, and only through secure channels (default: anyone who "
                      "reaches it). Ockam's --allow takes a policy expression; this one takes only identifiers")
    at(leaf(outlet, "list", cmd_outlet_list, "list a node's TCP outlets"))
    show_delete(outlet, cmd_outlet_show, "show a TCP outlet", cmd_outlet_delete, "delete a TCP outlet",
                "address", "ADDRESS", "/service/NAME or NAME")

    inlet = group("tcp-inlet", "create, list, show and delete TCP inlets")
    p = leaf(inlet, "create", cmd_inlet_create, "create a TCP inlet carrying connections to an outlet")
    p.add_argument("name", nargs="?", metavar="NAME", help="its alias, as --alias")
    at(p)
    p.add_argument("--from", dest="from_", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where it listens (default 127.0.0.1:0: a free port; a port alone: 127.0.0.1:PORT)")
    p.add_argument("--to", metavar="ROUTE",
                   help="route to the outlet, e.g. /node/n2/service/outlet, /node/n2/secure/api/service/outlet; "
                        "with --via, the outlet's name (default: outlet)")
    p.add_argument("--via", metavar="RELAY",
                   help="reach the outlet through the relay of this name (made by a node here with relay create)")
    p.add_argument("--alias", metavar="ALIAS", help="its name (default inlet-<port>)")
    p.add_argument("--connection-wait", type=duration, default=5.0, metavar="S",
                   help="how long to wait for the outlet's node to answer (default 5s); the inlet is made either way")
    p.add_argument("--retry-wait", type=duration, default=20.0, metavar="S",
                   help="accepted for Ockam's spelling: each client connection tries the route anew")
    p.add_argument("--no-connection-wait", action="store_true", help="do not wait for the outlet's node")
    at(leaf(inlet, "list", cmd_inlet_list, "list a node's TCP inlets"))
    show_delete(inlet, cmd_inlet_show, "show a TCP inlet", cmd_inlet_delete, "delete a TCP inlet",
                "alias", "ALIAS", "alias or bound HOST:PORT")
    return parser


def _report(message: str, hint: str, color: bool, as_json: bool = False) -> None:
    """An error on stderr: one line (plus a hint line), or one JSON object under ``--output json``."""
    if as_json:
        sys.stderr.write(json.dumps({"error": message, **({"hint": hint} if hint else {})}) + "\n")
        return
    label = "\033[1;31merror:\033[0m" if color else "error:"
    sys.stderr.write(f"{label} {message}\n")
    if hint:
        sys.stderr.write(f"  {hint}\n")


def replace_hyphen_with_stdin(arg: str, stdin: TextIO) -> str:
    """Ockam's ``-`` placeholder: an argument holding ``/-`` (or ``-/``) gets a line of stdin,
    the output of the command before it in a pipe, in its place::

        ockam-py relay create --at n2 --to n3 | ockam-py message send hi --to /node/n2/-/service/uppercase
    """
    if "/-" in arg:
        parts = [p for p in stdin.readline().strip().split("/") if p]
        return arg.replace("/-", "".join(f"/{p}" for p in parts))
    if "-/" in arg:
        parts = [p for p in stdin.readline().strip().split("/") if p]
        return arg.replace("-/", "/" + "".join(f"{p}/" for p in parts))
    return arg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``ockam-py`` with ``argv`` (default: the process's); returns the exit code."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if not sys.stdin or _isatty(sys.stdin):
        args_in = raw
    else:
        args_in = [replace_hyphen_with_stdin(arg, sys.stdin) for arg in raw]
    # --http-server=PORT (the flag alone takes no value, so it never swallows a NAME)
    args_in = [f"--http-server-port={arg.split('=', 1)[1]}" if arg.startswith(("--http-server=", "--enable-http-server="))
               else arg for arg in args_in]
    args = build_parser().parse_args(args_in)
    ctx = Ctx(args, d.home_dir(), args.output == "json", use_color(sys.stdout, args.no_color), args.verbose,
              quiet=args.quiet, compact=args.compact_output)
    err_color = use_color(sys.stderr, args.no_color)
    as_json = ctx.json
    try:
        return int(args.func(ctx) or 0)
    except CliError as e:
        if args.verbose:
            traceback.print_exc()
        _report(str(e), e.hint, err_color, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:
        if args.verbose:
            traceback.print_exc()
        _report(e.strerror if e.errno and e.strerror and not e.filename else str(e), "", err_color, as_json)
    except Exception as e:  # never a traceback unless --verbose
        if args.verbose:
            traceback.print_exc()
        _report(f"{type(e).__name__}: {e}", "" if args.verbose else "run with --verbose for details", err_color, as_json)
    return EX_SOFTWARE  # Ockam's exit status for every error but usage


if __name__ == "__main__":
    sys.exit(main())
