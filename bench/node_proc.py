"""Runs one ockam_py node in this process, set up from the command line.

    python3 -m bench.node_proc --name out --listen 127.0.0.1:0 --outlet o_iperf=127.0.0.1:5201
    python3 -m bench.node_proc --name in --inlet iperf=/ip4/127.0.0.1/tcp/4000/service/o_iperf
    python3 -m bench.node_proc --new-identity /tmp/in.identity     # prints IDENTIFIER I...
    python3 -m bench.node_proc --name out --listen 127.0.0.1:0 --allow I... --outlet o_iperf=127.0.0.1:5201
    python3 -m bench.node_proc --name in --identity /tmp/in.identity \
        --inlet iperf=/ip4/127.0.0.1/tcp/4000/secure/api/service/o_iperf

Prints one line ``READY {"listen_port": ..., "inlets": {label: port}, "pid": ..., "identifier": ...}``
once everything is up, then reads commands from stdin, one a line:
``stats`` prints ``STATS {json}`` (open/total/bytes of each inlet and outlet, open secure channels),
``handshakes ROUTE SECONDS CONCURRENCY`` opens secure channels to the listener at ROUTE
for SECONDS, CONCURRENCY at a time (1: one after another), closing each once open,
and prints ``HANDSHAKES {json}``,
``quit`` or end of input closes the node and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def _pair(text: str, sep: str) -> tuple:
    if sep not in text:
        raise argparse.ArgumentTypeError(f"expected A{sep}B, got {text!r}")
    a, b = text.split(sep, 1)
    return a, b


def _pct(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def handshakes(node, route: str, seconds: float, concurrency: int) -> dict:
    """Secure channels to ``route`` for ``seconds``, ``concurrency`` at a time, each closed once open."""
    times: list = []
    errors: dict = {}

    def err(e: BaseException) -> None:
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

    t0 = time.perf_counter()
    deadline = t0 + seconds
    if concurrency <= 1:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                ch = node.create_secure_channel(route)
            except Exception as e:  # counted, the run goes on
                err(e)
                continue
            times.append(time.perf_counter() - t)
            ch.close()
    else:
        import asyncio

        async def one() -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    ch = await node.acreate_secure_channel(route)
                except Exception as e:
                    err(e)
                    continue
                times.append(time.perf_counter() - t)
                ch.close()

        async def run() -> None:
            await asyncio.gather(*(one() for _ in range(concurrency)))

        asyncio.run(run())
    elapsed = time.perf_counter() - t0
    return {
        "channels": len(times),
        "seconds": elapsed,
        "per_second": len(times) / elapsed if elapsed else 0.0,
        "concurrency": concurrency,
        "errors": errors,
        "p50_ms": _pct(times, 0.5) * 1e3,
        "p99_ms": _pct(times, 0.99) * 1e3,
        "open_after": len(node.secure_channels()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.node_proc", description=__doc__.splitlines()[0])
    ap.add_argument("--name")
    ap.add_argument("--new-identity", metavar="PATH", help="write a new identity to PATH, print IDENTIFIER, exit")
    ap.add_argument("--identity", metavar="PATH", help="the node's identity (written by --new-identity)")
    ap.add_argument("--allow", action="append", default=None, metavar="IDENTIFIER",
                    help="the outlets accept portal connections only from this identity, through a secure channel "
                         "(repeatable)")
    ap.add_argument("--listen", help="TCP listener host:port (port 0: any free one)")
    ap.add_argument("--udp-listen", help="UDP bind host:port (port 0: any free one)")
    ap.add_argument("--service", action="append", default=[], help="echo, uppercase or hop (repeatable)")
    ap.add_argument("--outlet", action="append", default=[], type=lambda s: _pair(s, "="),
                    metavar="ADDRESS=HOST:PORT", help="an outlet at worker ADDRESS to HOST:PORT (repeatable)")
    ap.add_argument("--relay", action="append", default=[], type=lambda s: _pair(s, "@"),
                    metavar="NAME@HOST:PORT", help="register relay NAME at the node listening on HOST:PORT")
    ap.add_argument("--inlet", action="append", default=[], type=lambda s: _pair(s, "="),
                    metavar="LABEL=ROUTE", help="an inlet on 127.0.0.1:0 to ROUTE (repeatable)")
    args = ap.parse_args(argv)
    if args.new_identity:
        from ockam_py import Identity

        ident = Identity.create()
        ident.save(args.new_identity)
        print("IDENTIFIER " + ident.identifier, flush=True)
        return 0
    if not args.name:
        ap.error("--name is required")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))

    from ockam_py import Identity, Node

    identity = Identity.from_file(args.identity) if args.identity else None
    node = Node(args.name, tcp_listener_address=args.listen, udp_listener_address=args.udp_listen, identity=identity)
    try:
        for kind in args.service:
            node.start_service(kind)
        outlets = {addr: node.create_outlet(to=target, address=addr, allow=args.allow) for addr, target in args.outlet}
        for name, at in args.relay:
            node.create_relay(name, at=at, timeout=15.0)
        inlets = {label: node.create_inlet("127.0.0.1:0", to=route) for label, route in args.inlet}
        ready = {
            "pid": os.getpid(),
            "listen_port": node.tcp_listener.port if node.tcp_listener else None,
            "udp_port": node.udp_binds()[0].port if args.udp_listen else None,
            "inlets": {label: inlet.port for label, inlet in inlets.items()},
            "identifier": node.identifier,
        }
        print("READY " + json.dumps(ready), flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd == "stats":
                stats = {f"inlet:{k}": vars(v.stats()) for k, v in inlets.items()}
                stats.update({f"outlet:{k}": vars(v.stats()) for k, v in outlets.items()})
                stats["secure_channels"] = len(node.secure_channels())
                print("STATS " + json.dumps(stats), flush=True)
            elif cmd.startswith("handshakes "):
                _, route, seconds, concurrency = cmd.split()
                r = handshakes(node, route, float(seconds), int(concurrency))
                print("HANDSHAKES " + json.dumps(r), flush=True)
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
