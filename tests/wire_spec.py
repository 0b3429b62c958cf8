"""A client of Ockam's wire protocol written from the spec alone.

Everything here follows /work/shared/spec/ockam-wire.md and nothing else: this module
imports nothing from ``ockam_py``, so the tests that use it check the node against the
spec, not against the node's own idea of the spec. It is shared by tests/test_raw_wire.py,
tests/test_relay.py, tests/test_portal.py and tests/test_hostile.py (pytest puts tests/ on
``sys.path``, so ``from wire_spec import ...`` works there; a child interpreter that needs
it puts this file's directory on ``sys.path`` itself). Only the standard library is used.

What it covers:

* 1.1  addresses: ``(transport type, inner bytes)``; a route is a list of them.
* 2.2  TcpTransportMessage = CBOR array [onward route, return route, bytes payload, ?text],
       route = array of [uint tt, bytes inner]; shortest integer forms, definite lengths;
       a trailing absent tracing field is omitted (array(3)), else a text string (array(4)).
       Encoded by the tiny encoder below, decoded by the tiny *strict* decoder below, which
       rejects indefinite lengths, non-shortest heads and trailing bytes, since a compatible
       node emits definite lengths and shortest forms only (spec 2.2, 12.2).
* 2.3  user-level payloads are BARE: uleb128(len) || bytes.
* 3.1  preamble 0x01 once per direction, sent independently right after connect; frames
       are u32 BE length || CBOR body, at most 16 MiB.
* 3.3/3.4  a reply arrives with the onward route equal to the return route we sent.
* 4    the echo service (payload back unchanged, return route [0#echo]).

Socket helpers raise ``AssertionError`` when the node misbehaves (closes early, sends a bad
preamble or an implausible frame), so a broken node fails a test instead of hanging it.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, List, Tuple, Union

IO_TIMEOUT = 5.0  # default socket timeout: a broken node fails the test instead of hanging it
QUIET_TIMEOUT = 0.5  # how long we wait to be sure that nothing else arrives
MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # spec 3.1: largest frame body a node accepts
PREAMBLE = b"\x01"  # spec 3.1, TcpProtocolVersion::V1

Address = Tuple[int, bytes]  # (transport type, inner bytes); spec 1.1
Route = List[Address]
CborValue = Union[int, bytes, str, List[Any], None]


class _Absent:
    """Marker: the optional tracing field is not in the array at all (array(3))."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
Tracing = Union[_Absent, None, str]  # ABSENT: array(3); None: array(4) with null; str: array(4)


# --------------------------------------------------------------------------------------------
# Minimal CBOR encoder (shortest forms, definite lengths), spec 2.2
# --------------------------------------------------------------------------------------------

def cbor_head(major: int, n: int) -> bytes:
    """Initial byte(s) of a CBOR item of major type `major` with argument `n`, shortest form."""
    assert 0 <= major <= 7 and n >= 0
    mt = major << 5
    if n < 24:
        return bytes([mt | n])
    if n < 0x100:
        return bytes([mt | 24, n])
    if n < 0x10000:
        return bytes([mt | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([mt | 26]) + struct.pack(">I", n)
    return bytes([mt | 27]) + struct.pack(">Q", n)


def cbor_uint(n: int) -> bytes:
    """CBOR unsigned integer (major type 0)."""
    return cbor_head(0, n)


def cbor_bytes(b: bytes) -> bytes:
    """CBOR byte string (major type 2), definite length."""
    return cbor_head(2, len(b)) + b


def cbor_text(s: str) -> bytes:
    """CBOR text string (major type 3), UTF-8, definite length."""
    raw = s.encode("utf-8")
    return cbor_head(3, len(raw)) + raw


def cbor_array_head(count: int) -> bytes:
    """Head of a definite-length CBOR array of `count` items (major type 4)."""
    return cbor_head(4, count)


CBOR_NULL = b"\xf6"


def encode_address(addr: Address) -> bytes:
    """An address as CBOR array(2) [uint tt, bytes inner] (spec 2.2)."""
    tt, inner = addr
    return cbor_array_head(2) + cbor_uint(tt) + cbor_bytes(inner)


def encode_route(route: Route) -> bytes:
    """A route as a CBOR array of addresses (spec 2.2)."""
    return cbor_array_head(len(route)) + b"".join(encode_address(a) for a in route)


def encode_message(onward: Route, ret: Route, payload: bytes, tracing: Tracing = ABSENT) -> bytes:
    """CBOR body of a TcpTransportMessage (spec 2.2): array(3), or array(4) with the tracing field."""
    fields = [encode_route(onward), encode_route(ret), cbor_bytes(payload)]
    if tracing is None:
        fields.append(CBOR_NULL)
    elif isinstance(tracing, str):
        fields.append(cbor_text(tracing))
    return cbor_array_head(len(fields)) + b"".join(fields)


def frame(body: bytes) -> bytes:
    """u32 big-endian length of the body, then the body (spec 3.1)."""
    return struct.pack(">I", len(body)) + body


def message_frame(onward: Route, ret: Route, payload: bytes, tracing: Tracing = ABSENT) -> bytes:
    """A whole frame (length header included) carrying one TcpTransportMessage."""
    return frame(encode_message(onward, ret, payload, tracing))


def uleb(n: int) -> bytes:
    """Unsigned LEB128 of `n`, as BARE writes lengths (spec 2.3)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def bare_string(s: Union[str, bytes]) -> bytes:
    """BARE String / Vec<u8>: uleb128(len) || bytes (spec 2.3); a str is encoded as UTF-8."""
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return uleb(len(raw)) + raw


def local(name: Union[str, bytes]) -> Address:
    """A LOCAL address (transport type 0), e.g. ``local("echo")`` is 0#echo."""
    return (0, name.encode("ascii") if isinstance(name, str) else name)


def echo_frame(payload: bytes, reply_to: str = "app", tracing: Tracing = ABSENT) -> bytes:
    """A request to the echo service: onward [0#echo], return [0#<reply_to>] (spec 4)."""
    return message_frame([local("echo")], [local(reply_to)], payload, tracing)


# --------------------------------------------------------------------------------------------
# Minimal strict CBOR decoder: uint, bytes, text, array, null. Rejects everything else,
# indefinite lengths, non-shortest heads and trailing bytes (spec 2.2, 12.2).
# --------------------------------------------------------------------------------------------

class CborError(ValueError):
    """The bytes are not CBOR that a compatible node may send."""


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CborError(f"truncated at offset {self.pos}, wanted {n} bytes")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def _argument(self, ai: int) -> int:
        if ai < 24:
            return ai
        if ai == 24:
            n, minimum = self._take(1)[0], 24
        elif ai == 25:
            n, minimum = struct.unpack(">H", self._take(2))[0], 0x100
        elif ai == 26:
            n, minimum = struct.unpack(">I", self._take(4))[0], 0x10000
        elif ai == 27:
            n, minimum = struct.unpack(">Q", self._take(8))[0], 0x100000000
        else:
            raise CborError(f"indefinite length or reserved additional info {ai}")
        if n < minimum:
            raise CborError(f"non-shortest encoding of {n}")
        return n

    def item(self) -> CborValue:
        start = self.pos
        ib = self._take(1)[0]
        major, ai = ib >> 5, ib & 0x1F
        if ib == 0xF6:
            return None
        if major == 7:
            raise CborError(f"unsupported simple/float 0x{ib:02x} at offset {start}")
        n = self._argument(ai)
        if major == 0:
            return n
        if major == 2:
            return self._take(n)
        if major == 3:
            return self._take(n).decode("utf-8")
        if major == 4:
            return [self.item() for _ in range(n)]
        raise CborError(f"unsupported major type {major} at offset {start}")


def cbor_decode(data: bytes) -> CborValue:
    """Exactly one CBOR item, strictly (see above); raises CborError otherwise."""
    dec = _Decoder(data)
    value = dec.item()
    if dec.pos != len(data):
        raise CborError(f"{len(data) - dec.pos} trailing bytes after the CBOR item")
    return value


@dataclass
class WireMessage:
    """A decoded TcpTransportMessage; `tracing` is ABSENT for an array(3)."""

    onward: Route
    ret: Route
    payload: bytes
    tracing: Tracing


def _as_route(value: CborValue, what: str) -> Route:
    assert isinstance(value, list), f"{what} route is not an array: {value!r}"
    route: Route = []
    for addr in value:
        assert isinstance(addr, list) and len(addr) == 2, f"{what}: bad address {addr!r}"
        tt, inner = addr
        assert isinstance(tt, int) and 0 <= tt <= 255, f"{what}: bad transport type {tt!r}"
        assert isinstance(inner, bytes), f"{what}: address inner is not a byte string {inner!r}"
        route.append((tt, inner))
    return route


def decode_message(body: bytes) -> WireMessage:
    """Decodes and checks the CBOR body of a frame (spec 2.2); asserts on anything else."""
    value = cbor_decode(body)
    assert isinstance(value, list), f"message is not a CBOR array: {value!r}"
    assert len(value) in (3, 4), f"message is array({len(value)}), expected array(3) or array(4)"
    payload = value[2]
    assert isinstance(payload, bytes), f"payload is not a byte string: {payload!r}"
    tracing: Tracing = ABSENT
    if len(value) == 4:
        tracing = value[3]
        assert tracing is None or isinstance(tracing, str), f"tracing field is {tracing!r}"
    return WireMessage(_as_route(value[0], "onward"), _as_route(value[1], "return"), payload, tracing)


# --------------------------------------------------------------------------------------------
# Socket helpers (spec 3.1)
# --------------------------------------------------------------------------------------------

def read_exact(sock: socket.socket, n: int) -> bytes:
    """Exactly `n` bytes; AssertionError if the node closes the connection first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"node closed the connection after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket) -> bytes:
    """Read one frame and return the whole frame (header included)."""
    header = read_exact(sock, 4)
    (length,) = struct.unpack(">I", header)
    assert 0 < length <= MAX_MESSAGE_SIZE, f"implausible frame length {length}"
    return header + read_exact(sock, length)


def read_message(sock: socket.socket) -> WireMessage:
    """Read one frame and decode its body."""
    return decode_message(read_frame(sock)[4:])


def raw_connect(addr: Tuple[str, int], timeout: float = IO_TIMEOUT) -> socket.socket:
    """A TCP connection to the node with a timeout on every operation; no preamble yet."""
    sock = socket.create_connection(addr, timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_preamble(sock: socket.socket) -> None:
    """The node's preamble, which it sends on its own right after connect (spec 3.1)."""
    got = read_exact(sock, 1)
    assert got == PREAMBLE, f"node preamble is {got.hex()}, spec 3.1 says 01"


def exchange_preambles(sock: socket.socket) -> None:
    """Send our preamble, then read the node's (spec 3.1)."""
    sock.sendall(PREAMBLE)
    read_preamble(sock)


def open_conn(addr: Tuple[str, int], timeout: float = IO_TIMEOUT) -> socket.socket:
    """Connect, send our preamble, and read the node's: ready for frames."""
    sock = raw_connect(addr, timeout)
    exchange_preambles(sock)
    return sock


def assert_reply(raw_frame: bytes, onward: Route, ret: Route, payload: bytes) -> WireMessage:
    """Check a reply field by field, then byte by byte.

    The node may omit the tracing field (array(3)) or send a text string (array(4), as Rust
    does with "{}"), spec 2.2. Whatever shape it chose, the whole frame must be exactly what a
    shortest-form, definite-length encoder produces for the expected fields with that shape.
    """
    msg = decode_message(raw_frame[4:])
    assert msg.onward == onward, f"onward route {msg.onward!r}, expected {onward!r}"
    assert msg.ret == ret, f"return route {msg.ret!r}, expected {ret!r}"
    assert msg.payload == payload, f"payload {msg.payload.hex()}, expected {payload.hex()}"
    expected = message_frame(onward, ret, payload, msg.tracing)
    assert raw_frame == expected, (
        f"frame bytes differ from the canonical encoding\n got      {raw_frame.hex(' ')}\n"
        f" expected {expected.hex(' ')}"
    )
    return msg


def assert_quiet(sock: socket.socket, wait: float = QUIET_TIMEOUT, restore: float = IO_TIMEOUT) -> None:
    """Nothing more arrives for `wait` seconds, and the connection is still open.

    The socket's timeout is set back to `restore` afterwards.
    """
    sock.settimeout(wait)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return
    finally:
        sock.settimeout(restore)
    if data:
        raise AssertionError(f"unexpected extra bytes from the node: {data.hex(' ')}")
    raise AssertionError("node closed a connection that should have stayed open")


def assert_closed_by_node(sock: socket.socket, timeout: float = IO_TIMEOUT) -> None:
    """The node closes this connection (EOF or reset) within `timeout`, sending nothing."""
    sock.settimeout(timeout)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise socket.timeout()
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"node kept the connection open for {timeout} s") from None
    assert not received, f"node sent bytes on a connection it should drop: {received.hex(' ')}"


def check_echo(sock: socket.socket, text: Union[str, bytes]) -> None:
    """One echo round trip on an open connection, checked byte for byte (spec 4)."""
    payload = bare_string(text)
    sock.sendall(echo_frame(payload))
    assert_reply(read_frame(sock), [local("app")], [local("echo")], payload)
