"""A raw socket client written from the wire spec alone (no code of this project).

Every frame here is built by the tiny CBOR encoder of tests/wire_spec.py and every reply is
parsed by its tiny strict CBOR decoder, following ../shared/spec/ockam-wire.md:

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

The only thing imported from the project is ``Node``; tests/wire_spec.py imports nothing from it.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Iterator, Tuple

import pytest

from ockam_py import Node
from wire_spec import (
    MAX_MESSAGE_SIZE,
    PREAMBLE,
    Tracing,
    _Absent,
    assert_closed_by_node,
    assert_quiet,
    assert_reply,
    bare_string,
    cbor_array_head,
    cbor_bytes,
    cbor_text,
    cbor_uint,
    check_echo,
    decode_message,
    echo_frame,
    encode_address,
    encode_message,
    encode_route,
    frame,
    local,
    message_frame,
    open_conn,
    raw_connect,
    read_frame,
    read_preamble,
)

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
