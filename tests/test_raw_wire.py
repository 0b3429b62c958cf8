"""A raw socket client written from the wire spec alone (no code of this project).

Every frame here is built by the tiny CBOR encoder below and every reply is parsed by the
tiny strict CBOR decoder below, following ../shared/spec/ockam-wire.md:

* 2.2  TcpTransportMessage = CBOR array [onward route, return route, bytes payload, ?text]
       route = array of [uint tt, bytes inner]; shortest integer forms; definite lengths;
       a trailing absent tracing field is omitted (array(3)), or a text string (array(4)).
* 2.3  user-level payloads are BARE: uleb128(len) || bytes.
* 2.5  worked bytes of an echo request, with and without the tracing field "{}".
* 3.1  preamble 0x01 once per direction, sent independently right after connect; frames are
       u32 BE length || CBOR body; >16 MiB, bad preamble, short reads and CBOR errors close
       the connection; frames with an empty onward route are heartbeats and are ignored.
* 3.3/3.4  the node's sender pops its own connection address, so a reply arrives with the
       onward route equal to the return route we sent.
* 4    echo (raw, return route [0#echo]) and uppercase (BARE String, return [0#uppercase]),
       and the worked uppercase round trip.

The only thing imported from the project is ``Node``.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple, Union

import pytest

from ockam_py import Node

IO_TIMEOUT = 5.0  # a broken node fails the test instead of hanging it
QUIET_TIMEOUT = 0.5  # how long we wait to be sure that nothing else arrives
MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # spec 3.1

PREAMBLE = b"\x01"  # spec 3.1, TcpProtocolVersion::V1

Address = Tuple[int, bytes]  # (transport type, inner bytes); spec 1.1
Route = List[Address]
CborValue = Union[int, bytes, str, list, None]


class _Absent:
    """Marker: the optional tracing field is not in the array at all (array(3))."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
Tracing = Union[_Absent, None, str]


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
    return cbor_head(0, n)


def cbor_bytes(b: bytes) -> bytes:
    return cbor_head(2, len(b)) + b


def cbor_text(s: str) -> bytes:
    raw = s.encode("utf-8")
    return cbor_head(3, len(raw)) + raw


def cbor_array_head(count: int) -> bytes:
    return cbor_head(4, count)


CBOR_NULL = b"\xf6"


def encode_address(addr: Address) -> bytes:
    tt, inner = addr
    return cbor_array_head(2) + cbor_uint(tt) + cbor_bytes(inner)


def encode_route(route: Route) -> bytes:
    return cbor_array_head(len(route)) + b"".join(encode_address(a) for a in route)


def encode_message(onward: Route, ret: Route, payload: bytes, tracing: Tracing = ABSENT) -> bytes:
    """CBOR body of a TcpTransportMessage (spec 2.2)."""
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
    return frame(encode_message(onward, ret, payload, tracing))


def bare_string(s: Union[str, bytes]) -> bytes:
    """BARE String / Vec<u8>: uleb128(len) || bytes (spec 2.3)."""
    raw = s.encode("utf-8") if isinstance(s, str) else s
    n, out = len(raw), bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out) + raw


def local(name: str) -> Address:
    return (0, name.encode("ascii"))


# --------------------------------------------------------------------------------------------
# Minimal strict CBOR decoder: uint, bytes, text, array, null. Rejects everything else,
# indefinite lengths, non-shortest heads and trailing bytes, since a compatible node emits
# definite lengths and shortest forms only (spec 2.2, 12.2).
# --------------------------------------------------------------------------------------------

class CborError(ValueError):
    pass


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
            n = self._take(1)[0]
            minimum = 24
        elif ai == 25:
            n = struct.unpack(">H", self._take(2))[0]
            minimum = 0x100
        elif ai == 26:
            n = struct.unpack(">I", self._take(4))[0]
            minimum = 0x10000
        elif ai == 27:
            n = struct.unpack(">Q", self._take(8))[0]
            minimum = 0x100000000
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
    dec = _Decoder(data)
    value = dec.item()
    if dec.pos != len(data):
        raise CborError(f"{len(data) - dec.pos} trailing bytes after the CBOR item")
    return value


@dataclass
class WireMessage:
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
# Socket helpers
# --------------------------------------------------------------------------------------------

def read_exact(sock: socket.socket, n: int) -> bytes:
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


def raw_connect(addr: Tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(addr, timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    return sock


def read_preamble(sock: socket.socket) -> None:
    got = read_exact(sock, 1)
    assert got == PREAMBLE, f"node preamble is {got.hex()}, spec 3.1 says 01"


def open_conn(addr: Tuple[str, int]) -> socket.socket:
    """Connect, send our preamble, and read the node's (which it sends on its own)."""
    sock = raw_connect(addr)
    sock.sendall(PREAMBLE)
    read_preamble(sock)
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


def assert_quiet(sock: socket.socket, wait: float = QUIET_TIMEOUT) -> None:
    """Nothing more arrives for `wait` seconds, and the connection is still open."""
    sock.settimeout(wait)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return
    finally:
        sock.settimeout(IO_TIMEOUT)
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


def echo_frame(payload: bytes, reply_to: str = "app", tracing: Tracing = ABSENT) -> bytes:
    return message_frame([local("echo")], [local(reply_to)], payload, tracing)


def check_echo(sock: socket.socket, text: str) -> None:
    """One echo round trip on an open connection (spec 4)."""
    payload = bare_string(text)
    sock.sendall(echo_frame(payload))
    assert_reply(read_frame(sock), [local("app")], [local("echo")], payload)


# --------------------------------------------------------------------------------------------
# Literal bytes from the spec
# --------------------------------------------------------------------------------------------

# spec 2.5: onward [0#echo], return [0#app], payload BARE("hello"), no tracing field
SPEC_ECHO_REQUEST = bytes.fromhex(
    "00 00 00 17 83 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f"
)
# spec 2.5: the same with tracing "{}" (as a Rust node sends when export is off)
SPEC_ECHO_REQUEST_TRACING = bytes.fromhex(
    "00 00 00 1a 84 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d"
)
# spec 4: worked uppercase round trip, D = 603b62d245c9119d584ba3d874eb8108
CLI_CTX = "603b62d245c9119d584ba3d874eb8108"
SPEC_UPPERCASE_REQUEST = (
    bytes.fromhex("00 00 00 3d 84 81 82 00 49 75 70 70 65 72 63 61 73 65 81 82 00 58 20")
    + CLI_CTX.encode()
    + bytes.fromhex("46 05 68 65 6c 6c 6f 62 7b 7d")
)
SPEC_UPPERCASE_REPLY = (
    bytes.fromhex("00 00 00 3d 84 81 82 00 58 20")
    + CLI_CTX.encode()
    + bytes.fromhex("81 82 00 49 75 70 70 65 72 63 61 73 65 46 05 48 45 4c 4c 4f 62 7b 7d")
)
# spec 3.1: the smallest heartbeat
SPEC_HEARTBEAT = bytes.fromhex("00 00 00 04 83 80 80 40")


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

@pytest.fixture
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    """A fresh node per test, with a unique name, closed at teardown."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    n = Node(f"rawwire-{stem}-{uuid.uuid4().hex[:8]}", tcp_listener_address="127.0.0.1:0")
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def addr(node: Node) -> Tuple[str, int]:
    host, port = node.tcp_listener.address.rsplit(":", 1)
    assert host == "127.0.0.1", f"listener bound to {host!r}, asked for 127.0.0.1"
    assert 0 < int(port) < 65536, f"listener port {port!r} is not a bound port"
    return host, int(port)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

def test_own_codec_reproduces_spec_bytes() -> None:
    """The helpers of this file agree with the spec's worked bytes (2.5, 3.1, 4).

    If this fails, the test file is wrong, not the node.
    """
    hello = bare_string("hello")
    assert hello == bytes.fromhex("05 68 65 6c 6c 6f")
    assert echo_frame(hello) == SPEC_ECHO_REQUEST
    assert echo_frame(hello, tracing="{}") == SPEC_ECHO_REQUEST_TRACING
    assert message_frame([local("uppercase")], [local(CLI_CTX)], hello, "{}") == SPEC_UPPERCASE_REQUEST
    assert (
        message_frame([local(CLI_CTX)], [local("uppercase")], bare_string("HELLO"), "{}")
        == SPEC_UPPERCASE_REPLY
    )
    assert message_frame([], [], b"") == SPEC_HEARTBEAT
    assert encode_address((1, b"127.0.0.1:4000")) == bytes.fromhex(
        "82 01 4e 31 32 37 2e 30 2e 30 2e 31 3a 34 30 30 30"
    )
    msg = decode_message(SPEC_ECHO_REQUEST_TRACING[4:])
    assert (msg.onward, msg.ret, msg.payload, msg.tracing) == ([local("echo")], [local("app")], hello, "{}")


def test_echo_byte_exact_without_tracing(addr: Tuple[str, int]) -> None:
    """A minimal client (preamble, u32 + CBOR array(3) frame, no tracing field) gets its
    payload back byte-for-byte from `echo`, addressed to the return route it sent, with
    return route [0#echo] (spec 2.2, 2.5, 3.1, 3.3, 4)."""
    sock = raw_connect(addr)
    with sock:
        read_preamble(sock)  # the node sends 01 on its own, before hearing from us
        sock.sendall(PREAMBLE + SPEC_ECHO_REQUEST)
        reply = read_frame(sock)
        payload = bare_string("hello")
        msg = assert_reply(reply, [local("app")], [local("echo")], payload)
        if isinstance(msg.tracing, _Absent):
            # the exact mirror of the spec 2.5 request, 27 bytes
            assert reply == bytes.fromhex(
                "00 00 00 17 83 81 82 00 43 61 70 70 81 82 00 44 65 63 68 6f 46 05 68 65 6c 6c 6f"
            )
        assert_quiet(sock)


def test_echo_with_tracing_field_as_rust_sends(addr: Tuple[str, int]) -> None:
    """A Rust node always sends the 4th field, tracing "{}" (array(4)); the node must accept
    it and echo the payload unchanged (spec 2.2 "must accept an array(4)", 2.5 bytes)."""
    with open_conn(addr) as sock:
        sock.sendall(SPEC_ECHO_REQUEST_TRACING)
        assert_reply(read_frame(sock), [local("app")], [local("echo")], bare_string("hello"))
        assert_quiet(sock)


@pytest.mark.parametrize(
    "tracing",
    [
        pytest.param('{"traceparent":"00-' + "0af7651916cd43dd8448eb211c80319c"
                     + '-b7ad6b7169203331-01"}', id="traceparent"),
        pytest.param("x" * 300, id="long-text"),
        pytest.param(None, id="null"),
    ],
)
def test_echo_accepts_other_tracing_values(addr: Tuple[str, int], tracing: Tracing) -> None:
    """Rust peers with tracing export send a traceparent JSON string; the node must accept a
    text of any reasonable length and should tolerate null (spec 2.2)."""
    payload = bare_string("traced")
    with open_conn(addr) as sock:
        sock.sendall(echo_frame(payload, tracing=tracing))
        assert_reply(read_frame(sock), [local("app")], [local("echo")], payload)


def test_echo_ignores_extra_trailing_elements(addr: Tuple[str, int]) -> None:
    """Forward compatibility: extra trailing array elements are ignored (spec 2.2, 12.2)."""
    payload = bare_string("future")
    body = (
        cbor_array_head(5)
        + encode_route([local("echo")])
        + encode_route([local("app")])
        + cbor_bytes(payload)
        + cbor_text("{}")
        + cbor_uint(7)
    )
    with open_conn(addr) as sock:
        sock.sendall(frame(body))
        assert_reply(read_frame(sock), [local("app")], [local("echo")], payload)


def test_uppercase_worked_round_trip(addr: Tuple[str, int]) -> None:
    """What `ockam message send hello --to .../service/uppercase` does: the spec 4 worked
    round trip, with a 32-hex return address; reply BARE("HELLO"), return [0#uppercase]."""
    with open_conn(addr) as sock:
        sock.sendall(SPEC_UPPERCASE_REQUEST)
        reply = read_frame(sock)
        msg = assert_reply(reply, [local(CLI_CTX)], [local("uppercase")], bare_string("HELLO"))
        assert msg.payload == bytes.fromhex("05 48 45 4c 4c 4f")
        if msg.tracing == "{}":
            assert reply == SPEC_UPPERCASE_REPLY
        assert_quiet(sock)


def test_undeliverable_messages_get_no_reply_and_keep_connection(addr: Tuple[str, int]) -> None:
    """No "not found" or error replies exist on the wire: a message to an unknown address,
    or a payload `uppercase` cannot decode as a BARE String, is dropped, and the connection
    keeps working (spec 4)."""
    with open_conn(addr) as sock:
        sock.sendall(
            message_frame([local("no-such-worker-" + uuid.uuid4().hex)], [local("app")], bare_string("x"))
            + message_frame([local("uppercase")], [local("app")], b"\x09hi")  # length past the end
            + message_frame([local("uppercase")], [local("app")], b"\x02\xff\xfe")  # not UTF-8
        )
        check_echo(sock, "still here")  # the first thing that comes back is the echo reply
        assert_quiet(sock)


def test_heartbeats_change_nothing(addr: Tuple[str, int]) -> None:
    """Frames with an empty onward route are heartbeats and are silently ignored: requests
    around them are answered and nothing else arrives (spec 3.1, 3.4)."""
    hb_tracing = message_frame([], [], b"", "{}")
    hb_with_return = message_frame([], [local("app")], b"ping")
    first, second = bare_string("one"), bare_string("two")
    with open_conn(addr) as sock:
        sock.sendall(SPEC_HEARTBEAT)
        assert_quiet(sock)
        sock.sendall(echo_frame(first))
        assert_reply(read_frame(sock), [local("app")], [local("echo")], first)
        sock.sendall(SPEC_HEARTBEAT + hb_tracing + hb_with_return)
        sock.sendall(echo_frame(second))
        assert_reply(read_frame(sock), [local("app")], [local("echo")], second)
        sock.sendall(SPEC_HEARTBEAT)
        assert_quiet(sock)


def test_pipelined_requests_answered_in_order(addr: Tuple[str, int]) -> None:
    """Preamble and two echo requests written in one sendall are both answered, in order
    (framing must not assume one frame per read)."""
    first, second = bare_string("hello"), bare_string("world")
    sock = raw_connect(addr)
    with sock:
        sock.sendall(PREAMBLE + echo_frame(first) + echo_frame(second))
        read_preamble(sock)
        assert_reply(read_frame(sock), [local("app")], [local("echo")], first)
        assert_reply(read_frame(sock), [local("app")], [local("echo")], second)
        assert_quiet(sock)


def test_frame_split_into_single_bytes(addr: Tuple[str, int]) -> None:
    """A frame that arrives one byte per TCP segment is reassembled (spec 3.1 framing)."""
    payload = bare_string("drip")
    sock = raw_connect(addr)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in PREAMBLE + echo_frame(payload):
            sock.sendall(bytes([b]))
            time.sleep(0.005)
        read_preamble(sock)
        assert_reply(read_frame(sock), [local("app")], [local("echo")], payload)


# --------------------------------------------------------------------------------------------
# Hostile inputs (spec 3.1): each must close only its own connection
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hostile:
    id: str
    data: bytes  # everything sent after the node's preamble has been read
    half_close: bool = False  # then shut down our write side (EOF for the node)


_GOOD_BODY = encode_message([local("echo")], [local("app")], bare_string("hello"))

HOSTILE_CASES = [
    # preamble other than 01 drops the connection, and the frame behind it is never served
    Hostile("bad-preamble-02", b"\x02" + echo_frame(bare_string("sneaky"))),
    # EOF instead of a preamble
    Hostile("eof-before-preamble", b"", half_close=True),
    # a header announcing 4 GiB, and one just over MAX_MESSAGE_SIZE: close without waiting
    Hostile("length-4GiB", PREAMBLE + b"\xff\xff\xff\xff"),
    Hostile("length-16MiB-plus-1", PREAMBLE + struct.pack(">I", MAX_MESSAGE_SIZE + 1)),
    # valid length, body of 64 bytes 0xff (a CBOR "break" where an item must be)
    Hostile("body-64-ff", PREAMBLE + frame(b"\xff" * 64)),
    # array(3) then 0x1f: major 0 with additional info 31 is not well-formed
    Hostile("cbor-bad-additional-info", PREAMBLE + frame(bytes.fromhex("83 1f 00 00 00 00 00 00"))),
    # fixed random-looking bytes; 0x9c is a reserved additional info
    Hostile(
        "cbor-random-looking",
        PREAMBLE + frame(bytes.fromhex("9c 4e d1 07 3a be 12 f0 88 5d c3 61 2b 97 e4 0a 6f 39 c8 55")),
    ),
    # a map where the message array must be ("Map encoding is not accepted", spec 2.2)
    Hostile(
        "cbor-map-instead-of-array",
        PREAMBLE + frame(b"\xa3" + b"\x00" + encode_route([local("echo")]) + b"\x01"
                         + encode_route([local("app")]) + b"\x02" + cbor_bytes(bare_string("hello"))),
    ),
    # transport type as a text string instead of a uint
    Hostile(
        "cbor-address-tt-is-text",
        PREAMBLE + frame(b"\x83\x81\x82" + cbor_text("0") + cbor_bytes(b"echo")
                         + encode_route([local("app")]) + cbor_bytes(bare_string("hello"))),
    ),
    # the frame is complete but the CBOR item inside it is cut short (10 of 23 bytes)
    Hostile("cbor-truncated-inside-frame", PREAMBLE + frame(_GOOD_BODY[:10])),
    # header promises 23 bytes, 10 arrive, then EOF
    Hostile("truncated-body-then-eof", PREAMBLE + frame(_GOOD_BODY)[:14], half_close=True),
    # two bytes of a length header, then EOF
    Hostile("truncated-header-then-eof", PREAMBLE + b"\x00\x00", half_close=True),
]


def _attack(addr: Tuple[str, int], case: Hostile) -> None:
    sock = raw_connect(addr)
    with sock:
        read_preamble(sock)
        try:
            if case.data:
                sock.sendall(case.data)
            if case.half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return  # the node already dropped us: that is the expected outcome
        assert_closed_by_node(sock)


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=[c.id for c in HOSTILE_CASES])
def test_hostile_input_closes_only_that_connection(addr: Tuple[str, int], case: Hostile) -> None:
    """A bad preamble, an oversize or truncated frame, or undecodable CBOR makes the node
    close that connection within seconds, without replying (spec 3.1); a connection opened
    before keeps working and a fresh connection still gets a correct echo reply."""
    with open_conn(addr) as good:
        check_echo(good, "before")
        _attack(addr, case)
        check_echo(good, "after")
        assert_quiet(good, 0.1)
    with open_conn(addr) as fresh:
        check_echo(fresh, "fresh")


def test_one_good_connection_survives_all_hostile_inputs(addr: Tuple[str, int]) -> None:
    """Every other connection keeps working while hostile peers are dropped one after another
    on the same node (spec 3.1: an error closes that connection only)."""
    with open_conn(addr) as good:
        check_echo(good, "start")
        for i, case in enumerate(HOSTILE_CASES):
            _attack(addr, case)
            check_echo(good, f"after {case.id} #{i}")
        assert_quiet(good, 0.1)
    with open_conn(addr) as fresh:
        check_echo(fresh, "fresh")
