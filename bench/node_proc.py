"""Runs one ockam_py node in this process, set up from the command line.

    python3 -m bench.node_proc --name out --listen 127.0.0.1:0 --outlet o_iperf=127.0.0.1:5201
    python3 -m bench.node_proc --name in --inlet iperf=/ip4/127.0.0.1/tcp/4000/service/o_iperf

Prints one line ``READY {"listen_port": ..., "inlets": {label: port}, "pid": ...}``
once everything is up, then reads commands from stdin, one a line:
``stats`` prints ``STATS {json}`` (open/total/bytes of each inlet and outlet),
``quit`` or end of input closes the node and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys


def _pair(text: str, sep: str) -> tuple:
    if sep not in text:
        raise argparse.ArgumentTypeError(f"expected A{sep}B, got {text!r}")
    a, b = text.split(sep, 1)
    return a, b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.node_proc", description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--listen", help="TCP listener host:port (port 0: any free one)")
    ap.add_argument("--service", action="append", default=[], help="echo, uppercase or hop (repeatable)")
    ap.add_argument("--outlet", action="append", default=[], type=lambda s: _pair(s, "="),
                    metavar="ADDRESS=HOST:PORT", help="an outlet at worker ADDRESS to HOST:PORT (repeatable)")
    ap.add_argument("--relay", action="append", default=[], type=lambda s: _pair(s, "@"),
                    metavar="NAME@HOST:PORT", help="register relay NAME at the node listening on HOST:PORT")
    ap.add_argument("--inlet", action="append", default=[], type=lambda s: _pair(s, "="),
                    metavar="LABEL=ROUTE", help="an inlet on 127.0.0.1:0 to ROUTE (repeatable)")
    args = ap.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))

    from ockam_py import Node

    node = Node(args.name, tcp_listener_address=args.listen)
    try:
        for kind in args.service:
            node.start_service(kind)
        outlets = {addr: node.create_outlet(to=target, address=addr) for addr, target in args.outlet}
        for name, at in args.relay:
            node.create_relay(name, at=at, timeout=15.0)
        inlets = {label: node.create_inlet("127.0.0.1:0", to=route) for label, route in args.inlet}
        ready = {
            "pid": os.getpid(),
            "listen_port": node.tcp_listener.port if node.tcp_listener else None,
            "inlets": {label: inlet.port for label, inlet in inlets.items()},
        }
        print("READY " + json.dumps(ready), flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd == "stats":
                stats = {f"inlet:{k}": vars(v.stats()) for k, v in inlets.items()}
                stats.update({f"outlet:{k}": vars(v.stats()) for k, v in outlets.items()})
                print("STATS " + json.dumps(stats), flush=True)
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
