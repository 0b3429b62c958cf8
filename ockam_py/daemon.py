"""Node daemons of the ``ockam-py`` command line: state directory, control protocol, server.

Every node made by ``ockam-py node create`` is a background process running one
:class:`ockam_py.Node`. Its state lives under ``$OCKAM_PY_HOME`` (default
``~/.ockam-py``), one directory per node::

    $OCKAM_PY_HOME/nodes/<name>/
        config.json   what the node runs: listener, identity, services, secure channel
                      listeners, relays, inlets, outlets
        identity.json the node's own identity, secret included (mode 0600), unless it
                      runs as a named identity
        pid           the daemon's process id
        socket        the control socket (unix, mode 0600)
        node.log      the daemon's stdout, stderr and log lines
        lock          held (flock) by the running daemon

Named identities (``ockam-py identity create NAME``) live in
``$OCKAM_PY_HOME/identities/<name>.json`` (mode 0600); ``identities/default``
names the default one.

The control protocol is one JSON line per request, one JSON line per answer::

    -> {"op": "relay_create", "args": {"name": "n3", "at": "..."}}
    <- {"ok": true, "result": {...}}
    <- {"ok": false, "error": "one line", "type": "TimeoutError"}

``node start`` runs the daemon again; it replays ``config.json``.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import logging
import os
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

HOME_ENV = "OCKAM_PY_HOME"
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the NUL
MAX_LINE = 1 << 20
DEFAULT_SERVICES = ("echo", "uppercase")
SECURE_TIMEOUT = 5.0  # a secure channel handshake for a /secure/ route
CHANNEL_CHECK_INTERVAL = 0.5
PENDING_ROUTE = "/service/pending_secure_channel/service/outlet"  # an inlet's route until its channel opens  # how often inlets and relays through secure channels are checked

log = logging.getLogger("ockam_py.daemon")


class NotRunningError(Exception):
    """The node's daemon does not answer on its control socket."""


class RemoteError(Exception):
    """The daemon answered a request with an error; ``kind`` is the exception type it raised."""

    def __init__(self, message: str, kind: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.remote_traceback = remote_traceback


# ---------------------------------------------------------------------------
# State directory


def home_dir() -> Path:
    """``$OCKAM_PY_HOME``, or ``~/.ockam-py``."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".ockam-py"


def valid_name(name: str) -> bool:
    """Whether ``name`` can name a node (letters, digits, ``_.-``; up to 64)."""
    return bool(NAME_RE.match(name))


@dataclass
class NodeConfig:
    """What a node runs, as recorded in its ``config.json`` and replayed on start."""

    name: str
    tcp_listener_address: Optional[str] = None  # requested, then the bound host:port
    udp_listener_address: Optional[str] = None  # requested, then the bound IP:port (None: no UDP bind)
    identity: Optional[str] = None  # a named identity; None: the node's own (identity.json)
    services: List[Dict[str, str]] = field(default_factory=list)  # {kind, address}
    listeners: List[Dict[str, Any]] = field(default_factory=list)  # {address, authorized}
    relays: List[Dict[str, str]] = field(default_factory=list)  # {name, at, at_display}
    outlets: List[Dict[str, Any]] = field(default_factory=list)  # {address, to, allow}
    inlets: List[Dict[str, str]] = field(default_factory=list)  # {alias, bind, to, to_display}
    created: float = 0.0
    tcp_listeners: List[Dict[str, str]] = field(default_factory=list)  # {address}: more listening addresses
    http_server_port: Optional[int] = None  # None: no HTTP status server; 0: a free port, then the bound one

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "NodeConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class NodeDir:
    """The state directory of one node."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = home
        self.name = name
        self.path = home / "nodes" / name

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def pid_file(self) -> Path:
        return self.path / "pid"

    @property
    def socket(self) -> Path:
        return self.path / "socket"

    @property
    def log_file(self) -> Path:
        return self.path / "node.log"

    @property
    def lock_file(self) -> Path:
        return self.path / "lock"

    @property
    def identity_file(self) -> Path:
        """The node's own identity (when it does not run as a named identity)."""
        return self.path / "identity.json"

    def exists(self) -> bool:
        """Whether the node exists (has a config record)."""
        return self.config_file.is_file()

    def load(self) -> NodeConfig:
        """The node's config record."""
        with open(self.config_file, encoding="utf-8") as f:
            return NodeConfig.from_json(json.load(f))

    def save(self, config: NodeConfig) -> None:
        """Writes the config record atomically."""
        tmp = self.path / f".config.json.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(config), f, indent=2)
            f.write("\n")
        os.replace(tmp, self.config_file)

    def pid(self) -> Optional[int]:
        """The pid recorded by the daemon, if any."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def daemon_pid(self) -> Optional[int]:
        """The recorded pid if that process is alive and is this node's daemon."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return None
        argv = process_argv(pid)
        if argv is not None and not (any("ockam" in a for a in argv) and self.name in argv):
            return None  # the pid was reused by another program
        return pid


def identity_file(home: Path, name: str) -> Path:
    """Where the named identity ``name`` is kept."""
    return home / "identities" / f"{name}.json"


def identity_names(home: Path) -> List[str]:
    """Names of the named identities, sorted."""
    folder = home / "identities"
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json") and not p.name.startswith("."))


def read_identifier(path: Path) -> Optional[str]:
    """The identifier recorded in an identity file (None when there is none to read)."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f).get("identifier")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def node_identity(nd: "NodeDir", config: NodeConfig) -> Any:
    """The identity node ``nd`` runs as: the named one it was created with, else its own,
    made and saved (mode 0600) on its first start."""
    from .secure import Identity

    if config.identity:
        path = identity_file(nd.home, config.identity)
        if not path.is_file():
            raise LookupError(f"identity '{config.identity}' of node '{nd.name}' no longer exists ({path})")
        return Identity.from_file(path)
    if nd.identity_file.is_file():
        return Identity.from_file(nd.identity_file)
    identity = Identity.create()
    tmp = nd.path / f".identity.json.{os.getpid()}"
    identity.save(tmp)
    os.replace(tmp, nd.identity_file)
    return identity


def node_names(home: Path) -> List[str]:
    """Names of the nodes with a state directory, sorted."""
    nodes = home / "nodes"
    if not nodes.is_dir():
        return []
    return sorted(p.name for p in nodes.iterdir() if (p / "config.json").is_file())


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def process_argv(pid: int) -> Optional[List[str]]:
    """The command line of ``pid`` (None when /proc cannot tell)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def wait_dead(pid: int, timeout: float) -> bool:
    """Waits until ``pid`` is gone; False if it still lives after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------------------
# Client side of the control protocol


def request(nd: NodeDir, op: str, timeout: float = 15.0, verbose: bool = False, **args: Any) -> Any:
    """Sends one request to the node's daemon and returns its result.

    Raises :class:`NotRunningError` when nobody answers on the control socket,
    :class:`RemoteError` when the daemon reports an error.
    """
    path = str(nd.socket)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise NotRunningError(f"node '{nd.name}' is not running") from e
        line = json.dumps({"op": op, "args": args, "verbose": verbose}) + "\n"
        sock.sendall(line.encode())
        with sock.makefile("rb") as f:
            try:
                answer = f.readline(MAX_LINE)
            except socket.timeout:
                raise TimeoutError(f"node '{nd.name}' did not answer within {timeout:g} s") from None
    finally:
        sock.close()
    if not answer:
        raise NotRunningError(f"node '{nd.name}' closed its control socket without answering")
    reply = json.loads(answer)
    if not reply.get("ok"):
        raise RemoteError(reply.get("error", "unknown error"), reply.get("type", "Error"), reply.get("traceback", ""))
    return reply.get("result")


def ping(nd: NodeDir, timeout: float = 1.0) -> bool:
    """Whether the node's daemon answers."""
    try:
        request(nd, "ping", timeout=timeout)
        return True
    except (NotRunningError, RemoteError, OSError, ValueError):
        return False


# ---------------------------------------------------------------------------
# The daemon


def _relay_address(record: Dict[str, str]) -> str:
    """The name a relay record registers under (``--relay-address``, else its name)."""
    return record.get("address") or record["name"]


def service_list(config: NodeConfig) -> List[Dict[str, str]]:
    """The node's services, with Ockam's keys (``addr``, ``type``) and this package's."""
    records = [(k, k) for k in DEFAULT_SERVICES] + [(s["kind"], s["address"]) for s in config.services]
    return [{"addr": a, "type": k, "kind": k, "address": f"/service/{a}"} for k, a in records]


def _conn_json(conn: Any) -> Dict[str, Any]:
    return {
        "address": conn.address,
        "peer": conn.peer,
        "outgoing": conn.outgoing,
        "bytes_in": conn.bytes_in,
        "bytes_out": conn.bytes_out,
    }


def _stats_json(portal: Any) -> Dict[str, int]:
    s = portal.stats()
    return {"open": s.open, "total": s.total, "bytes_in": s.bytes_in, "bytes_out": s.bytes_out}


def _outlet_json(outlet: Any) -> Dict[str, Any]:
    """An outlet as ``tcp-outlet list``/``show`` print it: Ockam's keys (``from``, ``to``,
    ``worker_address``, ``worker_addr``, ``payload``) and this package's (address, allow, counters)."""
    allow = getattr(outlet, "allow", None)
    address = f"/service/{outlet.address}"
    return {"address": address, "from": address, "worker_address": address, "worker_addr": address,
            "to": outlet.target, "payload": None, "allow": list(allow) if allow else None, **_stats_json(outlet)}


def _channel_json(channel: Any) -> Dict[str, Any]:
    return {
        "address": channel.address,
        "their_identifier": channel.their_identifier,
        "role": "initiator" if channel.initiator else "responder",
        "decryptor": f"/service/{channel.decryptor}" if channel.decryptor else None,
        "listener": f"/service/{channel.listener}" if channel.listener else None,
    }


class Daemon:
    """Runs one node from its config record and answers control requests."""

    def __init__(self, nd: NodeDir) -> None:
        self.nd = nd
        self.config = nd.load()
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.restore_errors: List[str] = []
        self.started = time.time()
        self.node: Any = None
        self.aliases: Dict[str, str] = {}  # inlet alias -> bound address
        # what runs through secure channels the node opened for a /secure/ route:
        # ("inlet", bound address) or ("relay", name) -> the channels' encryptors
        self.through: Dict[tuple[str, str], frozenset[str]] = {}
        self.reopen_failed: set[tuple[str, str]] = set()
        self.forwarders: Dict[str, Any] = {}  # bound address -> TcpForwarder (tcp-listener create)

    # -- starting and replaying ------------------------------------------------

    def start_node(self) -> None:
        """Creates the node, records its bound listener, replays everything it ran."""
        from .node import Node

        identity = node_identity(self.nd, self.config)
        self.node = Node(self.nd.name, tcp_listener_address=self.config.tcp_listener_address, identity=identity,
                         udp_listener_address=self.config.udp_listener_address)
        udp = self.node.udp_binds()
        bound_udp = udp[0].address if udp else None
        if (self.node.tcp_listener and self.config.tcp_listener_address != self.node.tcp_listener.address) or (
                bound_udp != self.config.udp_listener_address):
            if self.node.tcp_listener:
                self.config.tcp_listener_address = self.node.tcp_listener.address  # keep the ports on restart
            self.config.udp_listener_address = bound_udp
            self.nd.save(self.config)
        log.info("node %s started, identifier %s, tcp listener %s", self.nd.name, self.node.identifier,
                 self.config.tcp_listener_address)
        steps: List[tuple[Any, ...]] = (
            [("service", s, lambda s=s: self.node.start_service(s["kind"], s["address"])) for s in self.config.services]
            + [("secure channel listener", li, lambda li=li: self.node.create_secure_channel_listener(
                li["address"], authorized=li.get("authorized"))) for li in self.config.listeners]
            + [("tcp listener", t, lambda t=t: self._open_forwarder(t["address"])) for t in self.config.tcp_listeners]
            + [("outlet", o, lambda o=o: self.node.create_outlet(to=o["to"], address=o["address"], allow=o.get("allow")))
               for o in self.config.outlets]
            + [("inlet", i, lambda i=i: self._open_inlet(i)) for i in self.config.inlets]
            + [("relay", r, lambda r=r: self._open_relay(_relay_address(r), r["at"])) for r in self.config.relays]
        )
        for kind, record, step in steps:
            try:
                step()
                log.info("restored %s %s", kind, json.dumps(record))
            except Exception as e:  # one broken record must not stop the others
                self.restore_errors.append(f"{kind} {json.dumps(record)}: {e}")
                log.error("could not restore %s %s: %s", kind, json.dumps(record), e)

    def _open_inlet(self, record: Dict[str, str]) -> Any:
        inlet = self._create_inlet(record["bind"], record["to"])
        self.aliases[record["alias"]] = inlet.address
        return inlet

    def _resolve(self, route: str) -> "tuple[str, frozenset[str]]":
        """``route`` with its ``/secure/`` parts resolved through secure channels, and those
        channels' encryptors (empty when it has none)."""
        if "/secure/" not in route:
            return route, frozenset()
        resolved = str(self.node._through_secure(route, SECURE_TIMEOUT))
        open_now = {c.encryptor for c in self.node.secure_channels()}
        return resolved, frozenset(re.findall(r"/service/([0-9a-f]{32})", resolved)) & open_now

    def _create_inlet(self, bind: str, to: str) -> Any:
        """An inlet along ``to``. When its secure channel cannot be opened yet (the far node
        is not up), the inlet listens at once on a route that goes nowhere, reports ``Down``,
        and :meth:`watch_channels` reopens it along ``to`` once the channel opens."""
        try:
            route, channels = self._resolve(to)
        except Exception as e:
            if "/secure/" not in to:
                raise
            log.warning("inlet at %s: no secure channel along %s yet (%s); retrying", bind, to, e)
            route, channels = PENDING_ROUTE, frozenset({"pending"})  # never open: retried
        inlet = self.node.create_inlet(bind, to=route)
        if channels:
            self.through[("inlet", inlet.address)] = channels
        return inlet

    def _open_relay(self, name: str, at: str) -> Any:
        route, channels = self._resolve(at)
        relay = self.node.create_relay(name, at=route, wait=False)
        if channels:
            self.through[("relay", name)] = channels
        return relay

    def watch_channels(self) -> None:
        """Reopens an inlet or relay whose secure channel closed (its far node restarted, or the
        channel was deleted), or never opened, through a new channel, until the node stops.
        Channels are opened outside the lock: requests go on meanwhile."""
        while not self.stop_event.wait(CHANNEL_CHECK_INTERVAL):
            with self.lock:
                if not self.through:
                    continue
                open_now = {c.encryptor for c in self.node.secure_channels()}
                due = [(key, self._target(*key)) for key, channels in self.through.items() if not channels <= open_now]
            for key, target in due:
                try:
                    route, channels = self._resolve(target)
                except Exception as e:  # the far node may still be down: try again later
                    if key not in self.reopen_failed:
                        log.warning("%s %s has no secure channel; opening one failed, will retry: %s", *key, e)
                        self.reopen_failed.add(key)
                    continue
                with self.lock:
                    if key not in self.through:  # deleted meanwhile
                        continue
                    try:
                        self._replace(key[0], key[1], route)
                    except Exception as e:
                        log.warning("%s %s could not be reopened: %s", *key, e)
                        continue
                    self.through[key] = channels
                    self.reopen_failed.discard(key)
                log.info("%s %s reopened through a new secure channel", *key)

    def _target(self, kind: str, key: str) -> str:
        """The route, as recorded, of the inlet bound at ``key`` or of the relay named ``key``."""
        if kind == "inlet":
            return next(i["to"] for i in self.config.inlets if self.aliases.get(i["alias"]) == key)
        return next(r["at"] for r in self.config.relays if _relay_address(r) == key)

    def _replace(self, kind: str, key: str, route: str) -> None:
        """The inlet keeps its port: closed and made again at once along the new route."""
        if kind == "inlet":
            for inlet in self.node.inlets():
                if inlet.address == key:
                    inlet.close()
            self.node.create_inlet(key, to=route)
        else:
            for relay in self.node.relays():
                if relay.name == key:
                    relay.close()
            self.node.create_relay(key, at=route, wait=False)

    # -- requests ----------------------------------------------------------------

    def handle(self, op: str, args: Dict[str, Any]) -> Any:
        """Runs one request; raises what the node raised."""
        method: Optional[Callable[..., Any]] = getattr(self, f"op_{op}", None)
        if method is None:
            raise ValueError(f"unknown request {op!r}")
        log.debug("request %s %s", op, args)
        return method(**args)

    def op_ping(self) -> Dict[str, Any]:
        return {"name": self.nd.name, "pid": os.getpid()}

    def op_stop(self) -> Dict[str, Any]:
        return {"stopping": True}

    def op_info(self) -> Dict[str, Any]:
        return {
            "name": self.nd.name,
            "pid": os.getpid(),
            "identifier": self.node.identifier,
            "identity": self.config.identity,
            "started": self.started,
            "tcp_listener_address": self.node.tcp_listener.address if self.node.tcp_listener else None,
            "udp_binds": [{k: v for k, v in vars(b).items() if k != "node_name"} for b in self.node.udp_binds()],
            "services": self.op_service_list(),
            "tcp_connections": self.op_tcp_connection_list(),
            "relays": self.op_relay_list(),
            "relay_entries": [{"address": e.address, "route": e.route} for e in self.node.relay_service_entries()],
            "secure_channel_listeners": self.op_secure_channel_listener_list(),
            "secure_channels": self.op_secure_channel_list(),
            "inlets": self.op_inlet_list(),
            "outlets": self.op_outlet_list(),
            "restore_errors": list(self.restore_errors),
        }

    def op_service_start(self, kind: str, address: Optional[str] = None) -> Dict[str, str]:
        with self.lock:
            addr = self.node.start_service(kind, address or None)
            self.config.services.append({"kind": kind, "address": addr})
            self.nd.save(self.config)
        log.info("started %s service at /service/%s", kind, addr)
        return {"kind": kind, "address": f"/service/{addr}"}

    def op_service_list(self) -> List[Dict[str, str]]:
        return service_list(self.config)

    def op_tcp_connection_create(self, to: str, wait: float = 10.0) -> Dict[str, Any]:
        conn = self.node.connect_tcp(to, timeout=wait)
        log.info("tcp connection %s to %s", conn.address, to)
        return _conn_json(conn)

    def op_tcp_connection_list(self) -> List[Dict[str, Any]]:
        return [_conn_json(c) for c in self.node.connections()]

    def op_tcp_connection_delete(self, address: str) -> Dict[str, str]:
        self.node.close_connection(address)
        return {"address": address}

    def op_message_send(self, message: str, to: str, wait: float = 5.0, hex: bool = False) -> Dict[str, str]:
        """Sends ``message`` (hex digits with ``hex``: then the reply is hex too) and returns the reply."""
        if hex:
            return {"reply": bytes(self.node.message_send(bytes.fromhex(message), to=to, timeout=wait)).hex()}
        return {"reply": self.node.message_send(message, to=to, timeout=wait)}

    def _relay_json(self, relay: Any) -> Dict[str, Any]:
        record = next((r for r in self.config.relays if _relay_address(r) == relay.name), {})
        display = record.get("at_display", str(relay.at))
        local = getattr(relay, "local_address", None)
        status = {"up": "Up", "down": "Down", "closed": "Closed"}.get(relay.status, "Connecting")
        return {
            "name": record.get("name", relay.name),
            "status": relay.status,
            "connection_status": status,
            "at": display,
            "destination_address": display,
            "destination": display,
            "remote_address": f"{display}{relay.route}",
            "relay_route": f"{display}{relay.route}",
            "forwarding_route": f"{display}{relay.route}",
            "worker_address": f"/service/{local}" if local else None,
            "local_address": f"/node/{self.nd.name}" + (f"/service/{local}" if local else ""),
            "last_failure": relay.detail if relay.status == "down" and relay.detail else None,
            "flow_control_id": None,
            "attempts": relay.attempts,
            "detail": relay.detail,
        }

    def op_relay_create(self, name: str, at: str, at_display: str, wait: float = 10.0,
                        address: Optional[str] = None, no_wait: bool = False) -> Dict[str, Any]:
        """A relay registered at ``at`` as ``forward_to_<address or name>``; unless ``no_wait``,
        it must be up within ``wait`` seconds (otherwise it is closed and this raises)."""
        record = {"name": name, "at": at, "at_display": at_display, **({"address": address} if address else {})}
        core_name = _relay_address(record)
        with self.lock:
            if any(r["name"] == name for r in self.config.relays):
                raise ValueError(f"A relay with the name '{name}' already exists on node {self.nd.name}")
            relay = self._open_relay(core_name, at)
            if no_wait:
                self.config.relays.append(record)
                self.nd.save(self.config)
                return self._relay_json(relay)
        if not relay.wait_up(wait):  # not under the lock: lists go on meanwhile
            detail, refused = relay.detail, relay.refused
            with self.lock:
                relay.close()
                self.through.pop(("relay", core_name), None)
            if refused:
                raise PermissionError(f"relay '{name}' at {at_display}: {detail}")
            raise TimeoutError(f"relay '{name}' at {at_display} not up within {wait:g} s" + (f": {detail}" if detail else ""))
        with self.lock:
            self.config.relays.append(record)
            self.nd.save(self.config)
        log.info("relay %s up at %s", name, at_display)
        return self._relay_json(relay)

    def op_relay_list(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [self._relay_json(r) for r in self.node.relays()]

    def _relay_record(self, name: str) -> Dict[str, str]:
        record = next((r for r in self.config.relays if r["name"] == name), None)
        if record is None:
            raise LookupError(f"The relay {name} was not found on node {self.nd.name}")
        return record

    def op_relay_show(self, name: str) -> Dict[str, Any]:
        with self.lock:
            core_name = _relay_address(self._relay_record(name))
            relay = next((r for r in self.node.relays() if r.name == core_name), None)
            if relay is None:
                raise LookupError(f"The relay {name} was not found on node {self.nd.name}")
            return self._relay_json(relay)

    def op_relay_delete(self, name: str) -> Dict[str, str]:
        with self.lock:
            core_name = _relay_address(self._relay_record(name))
            for relay in self.node.relays():
                if relay.name == core_name:
                    relay.close()
            self.through.pop(("relay", core_name), None)
            self.config.relays = [r for r in self.config.relays if r["name"] != name]
            self.nd.save(self.config)
        return {"name": name}

    def op_outlet_create(self, address: Optional[str], to: str, allow: Optional[List[str]] = None) -> Dict[str, Any]:
        with self.lock:
            taken = {o["address"] for o in self.config.outlets} | {s["address"] for s in self.config.services}
            if address is None:  # as Ockam: the first outlet is /service/outlet, later ones get a random name
                address = "outlet" if "outlet" not in taken else f"outlet-{secrets.token_hex(3)}"
            elif address in taken or address in DEFAULT_SERVICES:
                raise ValueError(f"node '{self.nd.name}' already has a worker at /service/{address}")
            outlet = self.node.create_outlet(to=to, address=address, allow=allow)
            self.config.outlets.append({"address": address, "to": to, "allow": allow})
            self.nd.save(self.config)
        log.info("outlet /service/%s to %s%s", address, to, f", allowing {', '.join(allow)}" if allow else "")
        return _outlet_json(outlet)

    def op_outlet_list(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [_outlet_json(o) for o in self.node.outlets()]

    def op_outlet_delete(self, address: str) -> Dict[str, str]:
        with self.lock:
            outlet = next((o for o in self.node.outlets() if o.address == address), None)
            if outlet is None and not any(o["address"] == address for o in self.config.outlets):
                raise LookupError(f"node '{self.nd.name}' has no outlet at /service/{address}")
            if outlet is not None:
                outlet.close()
            self.config.outlets = [o for o in self.config.outlets if o["address"] != address]
            self.nd.save(self.config)
        return {"address": f"/service/{address}"}

    def _inlet_json(self, inlet: Any, probe: bool = True) -> Dict[str, Any]:
        """An inlet with Ockam's keys (alias, bind_addr, outlet_addr, status, ...) and this package's."""
        record = next((i for i in self.config.inlets if self.aliases.get(i["alias"]) == inlet.address), None)
        to_display = record["to_display"] if record else inlet.route
        return {
            "alias": record["alias"] if record else inlet.address,
            "bind_address": inlet.address,
            "bind_addr": inlet.address,
            "to": to_display,
            "outlet_addr": to_display,
            "outlet_route": inlet.route,
            "status": (("Up" if self._route_answers(inlet.route) else "Down") if probe else None),
            "worker_addr": None,
            "payload": None,
            **_stats_json(inlet),
        }

    def _route_answers(self, route: str, timeout: float = 1.0) -> bool:
        """Whether the node at the far end of ``route`` (an inlet's, ``1#host:port => 0#a => 0#outlet``)
        answers at its ``echo`` service: the way to the outlet is up (the outlet itself is not asked)."""
        hops = [h.strip() for h in route.split("=>") if h.strip()]
        if len(hops) < 2:
            return True  # an outlet of this very node
        try:
            self.node.message_send("ping", to=hops[:-1] + ["0#echo"], timeout=timeout)
            return True
        except Exception:
            return False

    def op_inlet_create(self, bind: str, to: str, to_display: str, alias: Optional[str] = None,
                        wait: float = 0.0) -> Dict[str, Any]:
        """Creates an inlet; with ``wait`` > 0 waits that long for its outlet's node to answer
        (the inlet is made either way and reports ``Down`` until it does)."""
        with self.lock:
            if alias and any(i["alias"] == alias for i in self.config.inlets):
                raise ValueError(f"node '{self.nd.name}' already has an inlet named '{alias}'")
            inlet = self._create_inlet(bind, to)
            alias = alias or f"inlet-{inlet.port}"
            if any(i["alias"] == alias for i in self.config.inlets):
                alias = f"{alias}-{secrets.token_hex(2)}"
            # record the bound address: a restart listens on the same port
            record = {"alias": alias, "bind": inlet.address, "to": to, "to_display": to_display}
            self.aliases[alias] = inlet.address
            self.config.inlets.append(record)
            self.nd.save(self.config)
        log.info("inlet %s at %s to %s", alias, inlet.address, to_display)
        bound = inlet.address
        deadline = time.monotonic() + wait

        def current() -> Any:  # the inlet may be reopened meanwhile, once its secure channel opens
            return next((i for i in self.node.inlets() if i.address == bound), inlet)

        while wait > 0 and not self._route_answers(current().route) and time.monotonic() < deadline:
            time.sleep(0.2)
        return self._inlet_json(current())

    def _find_inlet(self, alias: str) -> Any:
        record = next((i for i in self.config.inlets if alias in (i["alias"], i["bind"])), None)
        bound = self.aliases.get(record["alias"], record["bind"]) if record else alias
        inlet = next((i for i in self.node.inlets() if i.address == bound), None)
        if inlet is None:
            raise LookupError(f"The tcp inlet {alias} was not found on node {self.nd.name}")
        return inlet

    def op_inlet_show(self, alias: str) -> Dict[str, Any]:
        with self.lock:
            inlet = self._find_inlet(alias)
        return self._inlet_json(inlet)

    def op_outlet_show(self, address: str) -> Dict[str, Any]:
        with self.lock:
            outlet = next((o for o in self.node.outlets() if o.address == address), None)
            if outlet is None:
                raise LookupError(f"The tcp outlet {address} was not found on node {self.nd.name}")
            return {"node_name": self.nd.name, **_outlet_json(outlet)}

    def op_tcp_connection_show(self, address: str) -> Dict[str, Any]:
        hexa = address.rsplit("/", 1)[-1].split("#")[-1]
        conn = next((c for c in self.node.connections() if c.address.rsplit("/", 1)[-1] == hexa), None)
        if conn is None:
            raise LookupError(f"Connection {address} was not found in the registry.")
        return _conn_json(conn)

    def _open_forwarder(self, address: str) -> Any:
        from .tcp_forward import TcpForwarder

        if self.node.tcp_listener is None:
            raise ValueError(f"node '{self.nd.name}' has no TCP listener to forward to")
        forwarder = TcpForwarder(address, self.node.tcp_listener.address)
        self.forwarders[forwarder.address] = forwarder
        return forwarder

    def _listener_json(self, address: str, primary: bool) -> Dict[str, Any]:
        return {"type": "Tcp", "mode": "Listen", "socket_addr": address, "address": address,
                "worker_addr": "<none>", "processor_address": "0#listener" if primary else f"0#listener-{address}",
                "flow_control_id": None, "primary": primary}

    def op_tcp_listener_create(self, address: str) -> Dict[str, Any]:
        with self.lock:
            forwarder = self._open_forwarder(address)
            self.config.tcp_listeners.append({"address": forwarder.address})  # the bound port, kept on restart
            self.nd.save(self.config)
        log.info("tcp listener %s (to the node's listener)", forwarder.address)
        return self._listener_json(forwarder.address, False)

    def op_tcp_listener_list(self) -> List[Dict[str, Any]]:
        with self.lock:
            main = [self._listener_json(self.node.tcp_listener.address, True)] if self.node.tcp_listener else []
            return main + [self._listener_json(a, False) for a in self.forwarders]

    def op_tcp_listener_delete(self, address: str) -> Dict[str, str]:
        with self.lock:
            if self.node.tcp_listener is not None and address == self.node.tcp_listener.address:
                raise ValueError(f"node '{self.nd.name}' keeps its first TCP listener {address}; stop the node instead")
            forwarder = self.forwarders.pop(address, None)
            if forwarder is None:
                raise LookupError(f"TCP listener {address} was not found on node {self.nd.name}")
            forwarder.close()
            self.config.tcp_listeners = [t for t in self.config.tcp_listeners if t["address"] != address]
            self.nd.save(self.config)
        return {"address": address}

    def op_worker_list(self) -> List[Dict[str, str]]:
        """The node's workers: services, listeners, outlets, relays' and connections' workers."""
        with self.lock:
            names = [s["address"].split("/")[-1] for s in self.op_service_list()]
            names += [li.address for li in self.node.secure_channel_listeners()]
            names += [o.address for o in self.node.outlets()]
            names += [c.address.rsplit("/", 1)[-1] for c in self.node.connections()]
            names += [r.local_address for r in self.node.relays() if r.local_address]
            names += [e.address for e in self.node.relay_service_entries()]
            names += [c.encryptor for c in self.node.secure_channels()]
        return [{"addr": n, "address": f"/service/{n}"} for n in dict.fromkeys(names)]

    def op_inlet_list(self) -> List[Dict[str, Any]]:
        with self.lock:
            inlets = list(self.node.inlets())
        return [self._inlet_json(i) for i in inlets]  # probing outside the lock

    def op_inlet_delete(self, alias: str) -> Dict[str, str]:
        with self.lock:
            record = next((i for i in self.config.inlets if alias in (i["alias"], i["bind"])), None)
            if record is None:
                raise LookupError(f"node '{self.nd.name}' has no inlet named '{alias}'")
            bound = self.aliases.pop(record["alias"], record["bind"])
            for inlet in self.node.inlets():
                if inlet.address == bound:
                    inlet.close()
            self.through.pop(("inlet", bound), None)
            self.config.inlets.remove(record)
            self.nd.save(self.config)
        return {"alias": record["alias"], "bind_address": bound}

    # -- secure channels --------------------------------------------------------

    def op_secure_channel_create(self, to: str, to_display: str, authorized: Optional[List[str]] = None,
                                 wait: float = 5.0) -> Dict[str, Any]:
        route = self.node._through_secure(to, wait)  # a channel may run through another
        channel = self.node.create_secure_channel(route, authorized=authorized, timeout=wait)
        log.info("secure channel %s to %s (%s)", channel.address, to_display, channel.their_identifier)
        return {**_channel_json(channel), "to": to_display}

    def op_secure_channel_list(self) -> List[Dict[str, Any]]:
        return [_channel_json(c) for c in self.node.secure_channels()]

    def _channel(self, address: str) -> Any:
        hexa = address[len("/service/"):] if address.startswith("/service/") else address
        for channel in self.node.secure_channels():
            if hexa in (channel.encryptor, channel.decryptor):
                return channel
        raise LookupError(f"node '{self.nd.name}' has no secure channel at /service/{hexa}")

    def op_secure_channel_show(self, address: str) -> Dict[str, Any]:
        return _channel_json(self._channel(address))

    def op_secure_channel_delete(self, address: str) -> Dict[str, Any]:
        channel = self._channel(address)
        channel.close()
        log.info("secure channel %s closed", channel.address)
        return _channel_json(channel)

    def op_secure_channel_listener_create(self, address: str, authorized: Optional[List[str]] = None) -> Dict[str, Any]:
        with self.lock:
            self.node.create_secure_channel_listener(address, authorized=authorized)
            self.config.listeners = [li for li in self.config.listeners if li["address"] != address]
            self.config.listeners.append({"address": address, "authorized": authorized})
            self.nd.save(self.config)
        log.info("secure channel listener /service/%s%s", address,
                 f", authorizing {', '.join(authorized)}" if authorized else "")
        return {"address": f"/service/{address}", "authorized": authorized}

    def op_secure_channel_listener_list(self) -> List[Dict[str, Any]]:
        records = {li["address"]: li.get("authorized") for li in self.config.listeners}
        return [{"address": f"/service/{li.address}", "authorized": records.get(li.address)}
                for li in self.node.secure_channel_listeners()]

    # -- shutting down -------------------------------------------------------------

    def close(self) -> None:
        """Closes the node (its listener, connections, relays, portals)."""
        for forwarder in self.forwarders.values():
            forwarder.close()
        if self.node is not None:
            self.node.close()


class _Handler(socketserver.StreamRequestHandler):
    server: "_ControlServer"

    def handle(self) -> None:
        line = self.rfile.readline(MAX_LINE)
        if not line:
            return
        op = ""
        verbose = False
        try:
            req = json.loads(line)
            op = str(req.get("op", ""))
            verbose = bool(req.get("verbose"))
            result = self.server.daemon.handle(op, dict(req.get("args") or {}))
            reply: Dict[str, Any] = {"ok": True, "result": result}
        except Exception as e:
            message = e.strerror if isinstance(e, OSError) and e.errno and e.strerror and not e.filename else str(e)
            reply = {"ok": False, "error": message or type(e).__name__, "type": type(e).__name__}
            if verbose:
                reply["traceback"] = traceback.format_exc()
            log.info("request %s failed: %s: %s", op, type(e).__name__, e)
        try:
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()
        except OSError:
            pass
        if op == "stop" and reply["ok"]:
            self.server.daemon.stop_event.set()


class _ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, daemon: Daemon) -> None:
        self.daemon = daemon
        super().__init__(path, _Handler)


class _Fatal(Exception):
    """The daemon cannot run; the message becomes the last line of its log."""


def _start(nd: NodeDir, daemon: Daemon) -> _ControlServer:
    try:
        daemon.start_node()
    except OSError as e:
        raise _Fatal(e.strerror if e.errno and e.strerror else str(e)) from e
    except Exception as e:
        raise _Fatal(str(e) or type(e).__name__) from e
    try:
        nd.socket.unlink()  # left behind by a daemon that was killed
    except FileNotFoundError:
        pass
    try:
        server = _ControlServer(str(nd.socket), daemon)
    except OSError as e:
        raise _Fatal(f"cannot listen on control socket {nd.socket}: {e.strerror or e}") from e
    os.chmod(nd.socket, 0o600)
    return server


def _setup_logging(nd: NodeDir, foreground: bool, verbose: bool) -> None:
    # in the foreground the log goes to stdout (and the log file), as Ockam's does
    handlers: List[logging.Handler] = [logging.StreamHandler(sys.stdout if foreground else sys.stderr)]
    if foreground:
        handlers.append(logging.FileHandler(nd.log_file))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    """Ockam's node HTTP endpoints: ``HEAD /`` (alive) and ``GET /show`` (the node, as JSON)."""

    daemon_: "Daemon"

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path.strip("/") == "" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self.path.strip("/") != "show":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(self.daemon_.op_info()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


def _start_http(nd: NodeDir, daemon: "Daemon") -> Optional[http.server.ThreadingHTTPServer]:
    """The node's HTTP status server on 127.0.0.1, when its config asks for one."""
    port = daemon.config.http_server_port
    if port is None:
        return None
    handler = type("_Handler", (_StatusHandler,), {"daemon_": daemon})
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise _Fatal(f"cannot listen for HTTP on 127.0.0.1:{port}: {e.strerror or e}") from e
    server.daemon_threads = True
    bound = server.server_address[1]
    if bound != port:
        daemon.config.http_server_port = bound  # the same port on restart
        nd.save(daemon.config)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("HTTP server listening on 127.0.0.1:%d", bound)
    return server


def _watch_stdin_eof(stop: threading.Event) -> None:
    """Sets ``stop`` once stdin reaches its end (``node create -f --exit-on-eof``)."""
    def read() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        log.info("EOF received")
        stop.set()
    threading.Thread(target=read, name="stdin", daemon=True).start()


def run(nd: NodeDir, foreground: bool = False, verbose: bool = False, exit_on_eof: bool = False) -> int:
    """Runs the node's daemon until it is told to stop (request, SIGTERM, SIGINT).

    In the background (``foreground=False``) stdout and stderr are already the
    log file; in the foreground log lines go to the terminal and the log file.
    Returns the process exit code. When the node cannot start, the last line
    written is ``error: <why>``, which ``node create`` shows.
    """
    os.umask(0o077)
    _setup_logging(nd, foreground, verbose)
    lock_fd = os.open(nd.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        sys.stderr.write(f"error: node '{nd.name}' is already running\n")
        return 1
    nd.pid_file.write_text(f"{os.getpid()}\n")
    daemon = Daemon(nd)
    stop = daemon.stop_event
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not foreground:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    server: Optional[_ControlServer] = None
    http_server: Optional[http.server.ThreadingHTTPServer] = None
    failure = ""
    if exit_on_eof:
        _watch_stdin_eof(stop)
    try:
        server = _start(nd, daemon)
        http_server = _start_http(nd, daemon)
        threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
        threading.Thread(target=daemon.watch_channels, name="channels", daemon=True).start()
        log.info("control socket %s ready (pid %d)", nd.socket, os.getpid())
        while not stop.wait(0.5):
            pass
        log.info("stopping node %s", nd.name)
    except _Fatal as e:
        failure = str(e)
    finally:
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        if server is not None:
            server.shutdown()
            server.server_close()
            try:
                nd.socket.unlink()
            except FileNotFoundError:
                pass
        daemon.close()
        if nd.pid() == os.getpid():
            try:
                nd.pid_file.unlink()
            except FileNotFoundError:
                pass
        os.close(lock_fd)
    if failure:
        for h in logging.getLogger().handlers:
            h.flush()
        sys.stderr.write(f"error: {failure}\n")
        sys.stderr.flush()
        return 1
    log.info("node %s stopped", nd.name)
    return 0


def spawn(nd: NodeDir, verbose: bool = False) -> "tuple[int, Callable[[], Optional[int]]]":
    """Starts the node's daemon detached (own session, stdio to its log file).

    Returns its pid and a function that tells its exit code once it has exited.
    """
    import subprocess

    argv = [sys.executable, "-m", "ockam_py.cli", "node", "run", nd.name]
    if verbose:
        argv.append("--verbose")
    env = dict(os.environ)
    env[HOME_ENV] = str(nd.home)
    with open(os.open(nd.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as logf:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=logf,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=env,
        )
    return proc.pid, proc.poll


def last_log_line(nd: NodeDir) -> str:
    """The last non-empty line of the node's log (its fatal error, when it died)."""
    try:
        with open(nd.log_file, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def socket_path_ok(nd: NodeDir) -> bool:
    """Whether the control socket's path fits a unix socket address."""
    return len(os.fsencode(str(nd.socket))) <= SOCKET_PATH_MAX


__all__ = [
    "HOME_ENV",
    "Daemon",
    "NodeConfig",
    "NodeDir",
    "NotRunningError",
    "RemoteError",
    "home_dir",
    "last_log_line",
    "node_names",
    "pid_alive",
    "ping",
    "request",
    "run",
    "spawn",
    "socket_path_ok",
    "valid_name",
    "wait_dead",
]
