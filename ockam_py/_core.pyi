"""Type stubs for ``ockam_py._core``, the C extension (csrc/python/module.c).

Every function takes a node id (an ``int`` from :func:`node_create`) and runs
its command on the loop thread, waiting with the GIL released. Calls that take
an optional ``token`` do not wait when it is given: they return a
handle (a capsule) and their result arrives later as a
``("call", token, code, text, payload)`` event from :func:`next_event`;
:func:`cancel` stops such a call in the core.

Routes are a ``str`` (a multiaddr such as ``/worker/<hex>/service/echo`` or
route text such as ``0#a => 1#b``) or a sequence of such strings.
"""

from typing import Any, NewType, Optional, Sequence, Tuple, Union, overload

_RouteLike = Union[str, Sequence[str]]

# One event from next_event(); its first item says which:
#   ("log", level, text)
#   ("message", node_id, worker_address, payload, onward_route, return_route)
#   ("call", token, code, text, payload)
#   ("status", node_id, code, name, detail, serial)
_Event = Tuple[Any, ...]

import builtins

# Opaque: a call started with a token, for cancel() (a capsule at runtime).
_CallHandle = NewType("_CallHandle", object)

class Error(Exception):
    """Base of every error ockam_py raises."""

class RouteError(Error, ValueError):
    """A malformed route or an unknown node."""

class NodeClosedError(Error, RuntimeError):
    """The node was closed."""

class TimeoutError(Error, builtins.TimeoutError):
    """No answer in time (also the builtin TimeoutError)."""

class AccessDeniedError(Error, PermissionError):
    """An identity or a registration was refused (also a PermissionError)."""

class NotFoundError(Error, LookupError):
    """No such node, worker, portal or channel (also a LookupError)."""

class ProtocolError(Error, ValueError):
    """A peer sent something invalid: a bad signature, an expired identity (also a ValueError)."""

class StateError(Error, RuntimeError):
    """Not possible in this state (also a RuntimeError)."""

class InvalidError(Error, ValueError):
    """A value the core refused: a name in use, a limit (also a ValueError)."""

def node_create(
    name: str, listen: Optional[str] = None, secret: Optional[bytes] = None, history: Optional[bytes] = None, /
) -> Tuple[int, str]:
    """Creates a node (with an identity: the given one, else a new one, and a
    secure channel listener at ``api``); returns (id, bound listener address or "")."""

def node_close(id: int, /) -> None: ...
def start_service(id: int, kind: str, address: Optional[str] = None, /) -> None: ...
@overload
def connect(id: int, hostport: str, timeout: float = 10.0, /) -> str:
    """Opens a TCP connection to ``host:port``; returns its worker address (32 hex)."""

@overload
def connect(id: int, hostport: str, timeout: float, token: int, /) -> _CallHandle:
    """With a token: returns at once; the worker address comes in the "call" event."""

@overload
def request(id: int, route: _RouteLike, payload: bytes, timeout: float, /) -> bytes:
    """Sends payload along route and returns the raw reply payload."""

@overload
def request(id: int, route: _RouteLike, payload: bytes, timeout: float, token: int, /) -> _CallHandle:
    """With a token: returns at once; the reply comes in the "call" event."""

def send(id: int, onward: _RouteLike, return_route: _RouteLike, payload: bytes, /) -> None: ...
def start_worker(id: int, address: str, /) -> None: ...
def stop_worker(id: int, address: str, /) -> None: ...
def list_connections(id: int, /) -> str:
    """Lines ``worker incoming|outgoing peer target bytes_in bytes_out``."""

def close_connection(id: int, worker: str, /) -> None: ...
def udp_bind(id: int, hostport: str, /) -> str:
    """Binds a UDP socket at ``IP:port``; returns ``"<worker> <bound IP:port>"``."""

def udp_list(id: int, /) -> str:
    """Lines ``worker address sent received datagrams_out datagrams_in
    dropped_incomplete dropped_too_large dropped_malformed dropped_send``."""

def relay_create(
    id: int, name: str, at: _RouteLike, ping_interval: float = ..., backoff_max: float = ..., serial: int = ..., /
) -> None: ...
def relay_close(id: int, name: str, /) -> None: ...
def relay_list(id: int, /) -> str:
    """Lines ``name status remote attempts local_address`` (``-`` for a field not known yet)."""

def relay_service_list(id: int, /) -> str:
    """Lines ``forward_to_<name> route``."""

def make_error(code: int, message: str, /) -> BaseException: ...
def inlet_create(id: int, bind: str, route: _RouteLike, /) -> str:
    """Starts an inlet; returns the bound ``host:port``."""

def outlet_create(id: int, target: str, address: str, allow: Optional[Sequence[str]] = ..., /) -> None: ...
def portal_close(id: int, kind: str, address: str, /) -> None: ...
def portal_list(id: int, /) -> str:
    """Lines ``inlet|outlet address where open total bytes_out bytes_in`` (``where`` may hold spaces)."""

def node_identity(id: int, /) -> Tuple[str, bytes]:
    """The node's identifier (``I`` + 64 hex) and its CBOR change history."""

def identity_create() -> Tuple[str, bytes, bytes]:
    """A new Ed25519 identity: (identifier, 32-byte secret, change history)."""

def identity_check(secret: bytes, history: bytes, /) -> str:
    """Verifies a change history ending with secret's key; returns its identifier."""

@overload
def sc_create(id: int, route: _RouteLike, authorized: Optional[Sequence[str]], timeout: float, /) -> str:
    """Opens a secure channel to the listener at the end of route; returns ``"<encryptor> <their identifier>"``."""

@overload
def sc_create(
    id: int, route: _RouteLike, authorized: Optional[Sequence[str]], timeout: float, token: int, /
) -> _CallHandle:
    """With a token: returns at once; the result comes in the "call" event."""

def sc_listener_create(id: int, address: str, authorized: Optional[Sequence[str]], /) -> None: ...
def sc_close(id: int, kind: str, address: str, /) -> None:
    """Closes a channel (kind ``"channel"``, by encryptor) or stops a listener (``"listener"``)."""

def sc_list(id: int, kind: str = "channels", /) -> str:
    """Channels: lines ``encryptor decryptor initiator|responder handshake|open identifier|- listener|-``;
    listeners: lines ``address everyone|<n authorized>``."""

def set_limit(id: int, name: str, value: int, /) -> None: ...
def limits(id: int, /) -> str: ...
def node_stats(id: int, /) -> str:
    """Lines ``name value``: pending_requests, tcp_open, tcp_connecting, tcp_closing."""

def cancel(handle: _CallHandle, /) -> None:
    """Cancels the call in the core if it still runs (its event then carries the error)."""

def parse_route(route: _RouteLike, /) -> list[str]: ...
def next_event(timeout: float, /) -> Optional[_Event]: ...
def interrupt_events() -> None: ...
def events_dropped() -> Tuple[int, int]: ...
def shutdown(timeout: float = 5.0, /) -> None: ...
def after_fork_child() -> None: ...
def bare_encode(data: Union[bytes, bytearray, memoryview], /) -> bytes: ...
def bare_decode(data: Union[bytes, bytearray, memoryview], /) -> bytes: ...
def set_log_level(level: int, /) -> None: ...
