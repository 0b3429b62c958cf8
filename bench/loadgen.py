"""Small load generators and targets, each run as its own process.

    python3 -m bench.loadgen echo --port P [--once-port Q]
        echo server; on --once-port it answers one request and closes (server
        closes first, so clients leave no TIME_WAIT behind). Prints READY.
    python3 -m bench.loadgen pingpong --port P [--count 2000 --warmup 200 --size 64]
        round trips of size-byte messages on one connection; prints JSON (µs).
    python3 -m bench.loadgen connrate --port Q [--seconds 3 --concurrency 16]
        new connection, one request/response, until EOF; prints JSON.
    python3 -m bench.loadgen hold --port P [--count 1000]
        opens count connections, one round trip on each, prints HELD {json},
        keeps them open until stdin ends.
"""

from __future__ import annotations

import argparse
import errno
import json
import resource
import selectors
import socket
import sys
import time
from typing import Dict, List

EVR = selectors.EVENT_READ
EVW = selectors.EVENT_WRITE


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def _pct(sorted_vals: List[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


# ---- echo server --------------------------------------------------------------


def serve_echo(port: int, once_port: int, size: int) -> int:
    sel = selectors.DefaultSelector()
    listeners = {}
    for p, once in ((port, False), (once_port, True)):
        if not p:
            continue
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", p))
        ls.listen(4096)
        ls.setblocking(False)
        listeners[ls.fileno()] = once
        sel.register(ls, EVR, ("listen", once))
    print("READY", flush=True)
    pending: Dict[int, bytearray] = {}  # fd -> unsent bytes (echo) or received (once)
    while True:
        for key, mask in sel.select():
            kind, once = key.data
            sock = key.fileobj
            if kind == "listen":
                for _ in range(64):
                    try:
                        c, _ = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # EMFILE and friends: back off a little
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            time.sleep(0.01)
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    pending[c.fileno()] = bytearray()
                    sel.register(c, EVR, ("conn", once))
                continue
            fd = sock.fileno()
            buf = pending[fd]
            if mask & EVR:
                try:
                    data = sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    sel.unregister(sock)
                    del pending[fd]
                    sock.close()
                    continue
                if data:
                    if once:
                        buf += data
                        if len(buf) >= size:
                            try:
                                sock.send(buf)
                            except OSError:
                                pass
                            sel.unregister(sock)
                            del pending[fd]
                            sock.close()
                        continue
                    if not buf:
                        try:
                            n = sock.send(data)
                        except (BlockingIOError, InterruptedError):
                            n = 0
                        except OSError:
                            n = len(data)
                        data = data[n:]
                    if data:
                        buf += data
                        sel.modify(sock, EVR | EVW, key.data)
            if mask & EVW and buf:
                try:
                    n = sock.send(buf)
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    n = len(buf)
                del buf[:n]
                if not buf:
                    sel.modify(sock, EVR, key.data)


# ---- ping-pong -------------------------------------------------------------------


def pingpong(port: int, count: int, warmup: int, size: int) -> dict:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = bytes(range(256)) * (size // 256 + 1)
    msg = msg[:size]
    recv_into = s.recv_into
    buf = bytearray(size)
    view = memoryview(buf)
    clock = time.perf_counter_ns
    rtts = []
    for i in range(warmup + count):
        t0 = clock()
        s.sendall(msg)
        got = 0
        while got < size:
            n = recv_into(view[got:])
            if n == 0:
                raise ConnectionError("connection closed mid round trip")
            got += n
        t1 = clock()
        if i >= warmup:
            rtts.append((t1 - t0) / 1000.0)
    s.close()
    if bytes(buf) != msg:
        raise ValueError("echo mismatch")
    rtts.sort()
    return {
        "count": count,
        "size": size,
        "p50_us": _pct(rtts, 50),
        "p90_us": _pct(rtts, 90),
        "p99_us": _pct(rtts, 99),
        "min_us": rtts[0],
        "max_us": rtts[-1],
        "mean_us": sum(rtts) / len(rtts),
    }


# ---- connection rate ----------------------------------------------------------------


class _Conn:
    __slots__ = ("sock", "t0", "got", "state")


def connrate(port: int, seconds: float, concurrency: int, size: int, conn_timeout: float = 5.0) -> dict:
    sel = selectors.DefaultSelector()
    payload = b"x" * size
    addr = ("127.0.0.1", port)
    done = 0
    errors: Dict[str, int] = {}
    durations: List[float] = []
    live: Dict[int, _Conn] = {}

    def err(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    def start() -> None:
        c = _Conn()
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock, c.t0, c.got, c.state = s, time.perf_counter(), 0, "connecting"
        rc = s.connect_ex(addr)
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            err(errno.errorcode.get(rc, str(rc)))
            return
        live[s.fileno()] = c
        sel.register(s, EVW, c)

    def finish(c: _Conn, ok: bool, why: str = "") -> None:
        nonlocal done
        sel.unregister(c.sock)
        del live[c.sock.fileno()]
        c.sock.close()
        if ok:
            done += 1
            durations.append(time.perf_counter() - c.t0)
        else:
            err(why)

    t_start = time.perf_counter()
    deadline = t_start + seconds
    t_last = t_start
    for _ in range(concurrency):
        start()
    while live:
        now = time.perf_counter()
        if now > deadline + conn_timeout:
            for c in list(live.values()):
                finish(c, False, "timeout")
            break
        for key, mask in sel.select(timeout=0.2):
            c = key.data
            s = c.sock
            if c.state == "connecting":
                e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    finish(c, False, errno.errorcode.get(e, str(e)))
                else:
                    try:
                        s.send(payload)
                        c.state = "reading"
                        sel.modify(s, EVR, c)
                        continue
                    except OSError as ex:
                        finish(c, False, errno.errorcode.get(ex.errno or 0, "send"))
            else:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as ex:
                    finish(c, False, errno.errorcode.get(ex.errno or 0, "recv"))
                    data = None
                if data:
                    c.got += len(data)
                    continue
                if data == b"":
                    finish(c, c.got >= size, "short")
                    t_last = time.perf_counter()
            if time.perf_counter() < deadline:
                start()
        now = time.perf_counter()
        for c in [c for c in live.values() if now - c.t0 > conn_timeout]:
            finish(c, False, "timeout")
            if now < deadline:
                start()
    elapsed = max(t_last, min(time.perf_counter(), deadline)) - t_start
    durations.sort()
    return {
        "connections": done,
        "seconds": elapsed,
        "per_second": done / elapsed if elapsed > 0 else 0.0,
        "errors": errors,
        "concurrency": concurrency,
        "p50_ms": _pct(durations, 50) * 1000,
        "p99_ms": _pct(durations, 99) * 1000,
    }


# ---- hold idle connections ---------------------------------------------------------------


def hold(port: int, count: int, size: int, parallel: int = 64, timeout: float = 60.0) -> int:
    sel = selectors.DefaultSelector()
    payload = b"y" * size
    held: List[socket.socket] = []
    errors: Dict[str, int] = {}
    started = 0
    inflight: Dict[int, list] = {}
    t0 = time.perf_counter()

    def start() -> None:
        nonlocal started
        started += 1
        s = socket.socket()
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            errors[str(rc)] = errors.get(str(rc), 0) + 1
            s.close()
            return
        st = [s, "connecting", 0]
        inflight[s.fileno()] = st
        sel.register(s, EVW, st)

    while started < min(parallel, count):
        start()
    while inflight and time.perf_counter() - t0 < timeout:
        for key, _mask in sel.select(timeout=0.5):
            st = key.data
            s = st[0]
            ok = None
            if st[1] == "connecting":
                e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    ok = False
                else:
                    s.send(payload)
                    st[1] = "reading"
                    sel.modify(s, EVR, st)
            else:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                st[2] += len(data)
                if not data:
                    ok = False
                elif st[2] >= size:
                    ok = True
            if ok is not None:
                sel.unregister(s)
                del inflight[s.fileno()]
                if ok:
                    held.append(s)
                else:
                    errors["failed"] = errors.get("failed", 0) + 1
                    s.close()
                if started < count:
                    start()
    print("HELD " + json.dumps({"held": len(held), "errors": errors, "seconds": time.perf_counter() - t0}), flush=True)
    for _ in sys.stdin:
        pass
    for s in held:
        s.close()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.loadgen")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--once-port", type=int, default=0)
    e.add_argument("--size", type=int, default=64)
    p = sub.add_parser("pingpong")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--size", type=int, default=64)
    c = sub.add_parser("connrate")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--seconds", type=float, default=3.0)
    c.add_argument("--concurrency", type=int, default=16)
    c.add_argument("--size", type=int, default=64)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--count", type=int, default=1000)
    h.add_argument("--size", type=int, default=64)
    a = ap.parse_args(argv)
    _raise_nofile()
    if a.cmd == "echo":
        return serve_echo(a.port, a.once_port, a.size)
    if a.cmd == "pingpong":
        print(json.dumps(pingpong(a.port, a.count, a.warmup, a.size)), flush=True)
        return 0
    if a.cmd == "connrate":
        print(json.dumps(connrate(a.port, a.seconds, a.concurrency, a.size)), flush=True)
        return 0
    if a.cmd == "hold":
        return hold(a.port, a.count, a.size)
    return 2


if __name__ == "__main__":
    sys.exit(main())
