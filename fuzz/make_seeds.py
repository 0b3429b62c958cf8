#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/ (seed-*). Other files there
are left alone: regress-* are inputs that once found a bug, and the files
named by a SHA-1 are inputs merged in from longer runs (libFuzzer -merge=1). The byte examples of the wire spec
(shared/spec/ockam-wire.md 2.5, 3.1, 4, 5.2, 5.3, 6.3) are rebuilt here with a tiny
CBOR encoder and checked against the spec's own length bytes. Run it again
after changing it: python3 fuzz/make_seeds.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
D = b"603b62d245c9119d584ba3d874eb8108"  # spec 4: the CLI's detached context
MAIN = b"0123456789abcdef0123456789abcdef"  # spec 5.2: main_remote
S_IN, S_OUT = b"aa" * 16, b"bb" * 16  # spec 6.3


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)


def cbytes(b):
    return head(2, len(b)) + b


def route(*addrs):
    out = head(4, len(addrs))
    for a in addrs:
        tt, inner = a if isinstance(a, tuple) else (0, a)
        out += b"\x82" + head(0, tt) + cbytes(inner)
    return out


def body(onward, ret, payload, tracing=None):
    out = head(4, 4 if tracing is not None else 3) + route(*onward) + route(*ret) + cbytes(payload)
    if tracing is not None:
        out += head(3, len(tracing)) + tracing
    return out


def frame(b):
    return struct.pack(">I", len(b)) + b


def bare(s):
    n, out = len(s), b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out + s


# ---- the spec's examples, with the lengths the spec prints ----
spec = {
    "2.5-echo": (body([b"echo"], [b"app"], bare(b"hello")), 0x17),
    "2.5-echo-tracing": (body([b"echo"], [b"app"], bare(b"hello"), b"{}"), 0x1A),
    "3.1-heartbeat": (body([], [], b""), 0x04),
    "4-uppercase-request": (body([b"uppercase"], [D], bare(b"hello"), b"{}"), 0x3D),
    "4-uppercase-reply": (body([D], [b"uppercase"], bare(b"HELLO"), b"{}"), 0x3D),
    "5.2-registration": (body([b"static_forwarding_service"], [MAIN], bare(b"n3")), 0x48),
    "6.3-ping": (body([b"outlet"], [S_IN], b"\x00"), 0x32),
    "6.3-pong": (body([S_IN], [S_OUT], b"\x01"), 0x4D),
    "6.3-payload": (body([S_OUT], [S_IN], b"\x03\x02hi"), 0x50),
}
for name, (b, want) in spec.items():
    assert len(b) == want, (name, len(b), want)
assert frame(spec["2.5-echo"][0]).hex() == "000000178381820044656368 6f8182004361707046056865 6c6c6f".replace(" ", "")
assert frame(spec["3.1-heartbeat"][0]).hex() == "0000000483808040"

frames = {k: v[0] for k, v in spec.items()}
frames.update({
    # what tests/test_fuzz.c starts from: indefinite arrays, null tracing, extra fields, a TCP address
    "indefinite": bytes.fromhex("9f9f9f00446563686fffff9f8200436170 70ff460568656c6c6fff".replace(" ", "")),
    "tracing-null": b"\x84" + body([b"echo"], [b"app"], b"x")[1:] + b"\xf6",
    "extra-fields": bytes.fromhex("85818200446563686f818200436170704605 68656c6c6f627b7da10102".replace(" ", "")),
    "tcp-address": body([(1, b"127.0.0.1:4000"), b"echo"], [b"app"], b""),
    "wide-ints": bytes.fromhex("83 81 82 1b 0000000000000000 5a 00000004 6563686f 80 59 0000".replace(" ", "")),
    "max-hops": body([b"h%d" % i for i in range(32)], [b"r"], b"p"),
    "relay-forward": body([b"forward_to_n3", b"uppercase"], [D], bare(b"hi"), b'{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'),
})

portal = {
    "6.1-ping": b"\x00", "6.1-pong": b"\x01", "6.1-disconnect": b"\x02",
    "6.3-payload-hi": b"\x03\x02hi",
    "6.1-payload-counter": b"\x03\x02hi\x01\x07\x00",
    "6.1-payload-no-counter": b"\x03\x02hi\x00",
    "6.8-ping-caps": b"\x00\x03", "6.8-pong-caps": b"\x01\x01",
    "6.8-eof": b"\x04", "6.8-credit": b"\x05\x80\x80\x80\x01",
    "payload-48k-header": b"\x03\x80\x80\x03",
    "credit-max": b"\x05" + b"\xff" * 9 + b"\x01",
}

bare_seeds = {
    "2.3-hello": bare(b"hello"), "5.2-n3": bare(b"n3"), "5.3-forward_to_n3": bare(b"forward_to_n3"),
    "5.2-register": bare(b"register"), "utf8": bare("héllo wörld ✓ 𝄞".encode()),
    "uleb-max": b"\xff" * 9 + b"\x01", "uleb-overflow": b"\xff" * 9 + b"\x02",
    "surrogate": bare(b"\xed\xa0\x80"), "overlong": bare(b"\xc0\xaf"), "above-max": bare(b"\xf4\x90\x80\x80"),
    "5.5-session-ping": b"\x1b\x01\x02\x03\x04\x05\x06\x07\x08",
    "2.4-legacy-v1": bytes.fromhex("001601010004 6563686f01000361 7070060568656c6c 6f00".replace(" ", "")),
}

routes = {
    "1.3-ip4": b"/ip4/127.0.0.1/tcp/4000/service/echo",
    "1.3-ip6": b"/ip6/::1/tcp/4000/service/outlet",
    "1.3-dnsaddr": b"/dnsaddr/localhost/tcp/4000/worker/" + D,
    "1.3-node": b"/node/n1/service/uppercase",
    "1.3-node-nolistener": b"/node/quiet/service/echo",
    "1.3-node-unknown": b"/node/n9",
    "5.6-relay": b"/node/n1/service/forward_to_n3/service/hop/service/outlet",
    "1.3-secure": b"/ip4/10.0.0.1/tcp/1/secure/abc/service/outlet",
    "1.2-text": b"0#a3f => 0#forward_to_n3",
    "1.2-text-tcp": b"1#127.0.0.1:4000 => echo",
    "1.2-parse": b"1#alice => bob",
    "1.1-two-hashes": b"0#a#b",
    "1.1-tt255": b"255#x => 256#y",
    "hostport-v6": b"[::1]:4000",
    "hostport-port0": b"127.0.0.1:0",
    "trailing-slash": b"/service/echo/",
}

relay = {
    "5.2-n3": bare(b"n3"),
    "5.2-register": bare(b"register"),
    "5.6-default": bare(b"default"),
    "unicode": bare("relé-✓".encode()),
    "max-name": bare(b"x" * 255),
    "too-long": bare(b"x" * 256),
    "parts-limits": b"\xfe\xfe".join(bare(n) for n in (b"n1", b"n2", b"n3", b"n4", b"n5", b"register")),
    "parts-replace": b"\xfe\xfe".join(bare(n) for n in (b"a", b"a", b"b", b"a")),
}

# whole TCP byte streams: preamble 01, then frames (spec 3.1)
stream = {
    "3.1-preamble-only": b"\x01",
    "3.1-bad-preamble": b"\x02",
    "2.4-legacy-v1": bare_seeds["2.4-legacy-v1"],
    "2.5-echo": b"\x01" + frame(frames["2.5-echo"]) + frame(frames["2.5-echo-tracing"]),
    "3.1-heartbeat": b"\x01" + frame(frames["3.1-heartbeat"]) * 3,
    "4-uppercase": b"\x01" + frame(frames["4-uppercase-request"]),
    "5.2-register-and-forward": b"\x01" + frame(frames["5.2-registration"])
    + frame(body([b"forward_to_n3", b"echo"], [D], b"ping", b"{}"))
    + frame(body([b"forwarding_service"], [MAIN], bare(b"register"))),
    "5.2-register-many": b"\x01" + b"".join(
        frame(body([b"static_forwarding_service"], [MAIN], bare(b"r%d" % i))) for i in range(10)),
    "6.3-ping-outlet": b"\x01" + frame(frames["6.3-ping"]),
    # a live portal (fuzz_stream.c): S_OUT is replaced by the address the Pong came from
    "6.3-portal-payload-disconnect": b"\x01" + frame(frames["6.3-ping"]) + frame(frames["6.3-payload"])
    + frame(body([S_OUT], [S_IN], b"\x03\x05hello")) + frame(body([S_OUT], [S_IN], b"\x02")),
    "6.8-portal-half-close": b"\x01" + frame(body([b"outlet"], [S_IN], b"\x00\x01"))
    + frame(frames["6.3-payload"]) + frame(body([S_OUT], [S_IN], b"\x04")),
    # the echoed 8 bytes used 8 of the outlet's credit: granting them back is within the window
    "6.8-portal-credit": b"\x01" + frame(body([b"outlet"], [S_IN], b"\x00\x03"))
    + frame(body([S_OUT], [S_IN], b"\x03\x08credit..")) + frame(body([S_OUT], [S_IN], b"\x05\x08"))
    + frame(body([S_OUT], [S_IN], b"\x04")),
    "6.3-portal-two": b"\x01" + frame(frames["6.3-ping"]) + frame(frames["6.3-payload"])
    + frame(body([b"outlet"], [b"cc" * 16], b"\x00")) + frame(body([S_OUT], [b"cc" * 16], b"\x03\x03two"))
    + frame(body([b"outlet"], [S_IN], b"\x02")),
    "6.3-portal-ping-flood": b"\x01" + b"".join(frame(body([b"outlet"], [b"%032d" % i], b"\x00")) for i in range(10)),
    "6.3-portal-via-hop": b"\x01" + frame(body([b"hop", b"outlet"], [S_IN], b"\x00"))
    + frame(body([b"hop", S_OUT], [S_IN], b"\x03\x02hi")),
    "hop": b"\x01" + frame(body([b"hop", b"hop", b"uppercase"], [D], bare(b"via hop"))),
    "echo-loop": b"\x01" + frame(body([b"echo"], [b"echo"], b"loop")),
    "frame-too-big": b"\x01\x01\x00\x00\x01",
    "split-frame": b"\x01" + frame(frames["2.5-echo"])[:9],
    "bad-cbor": b"\x01\x00\x00\x00\x02\xa0\xff",
}

# the relay node's reply to a registration (spec 5.3), as fuzz_relay_client.c reads it: a mode
# byte (bit 0: the rest is a whole message body, not a payload; bit 1: the name is "relé-✓", not
# "n3"), then the payload or the message
UNI = "relé-✓".encode()
R3 = bare(b"forward_to_n3")
relay_client = {
    "5.3-reply-n3": b"\x00" + R3,
    "5.3-reply-unicode": b"\x02" + bare(b"forward_to_" + UNI),
    "5.3-reply-name-only": b"\x00" + bare(b"n3"),
    "5.3-reply-wrong-name": b"\x00" + bare(b"forward_to_n4"),
    "5.3-reply-truncated": b"\x00" + R3[:-1],
    "5.3-reply-trailing-byte": b"\x00" + R3 + b"\x00",
    "5.3-reply-empty": b"\x00",
    "5.3-reply-broken-char": b"\x02" + bare(b"forward_to_" + UNI[:-1]),
    "5.3-wire-reply": b"\x01" + body([], [b"c" * 32, b"forward_to_n3"], R3, b"{}"),
    "5.3-wire-unicode": b"\x03" + body([], [b"forward_to_" + UNI], bare(b"forward_to_" + UNI)),
    "5.3-wire-onward-left": b"\x01" + body([b"echo"], [b"forward_to_n3"], R3),
    "5.3-wire-tcp-recipient": b"\x01" + body([], [(1, b"forward_to_n3")], R3),
    "5.3-wire-no-return": b"\x01" + body([], [], R3),
}

sets = {"fuzz_frame": frames, "fuzz_portal": portal, "fuzz_bare": bare_seeds, "fuzz_route": routes,
        "fuzz_relay": relay, "fuzz_stream": stream, "fuzz_relay_client": relay_client}
for target, seeds in sets.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as fh:
            fh.write(data)
    print(f"{target}: {len(seeds)} seeds")
