"""One node process of tests/test_portal.py (for RSS measurements and for nodes that get killed).

Usage::

    portal_node.py outlet NAME TARGET      a node with a TCP listener on 127.0.0.1:0 and an
                                           outlet at "outlet" to TARGET (host:port)
    portal_node.py inlet NAME ROUTE        a node without listener and an inlet on
                                           127.0.0.1:0 to ROUTE
    portal_node.py relayed NAME TARGET AT  n3 of the walkthrough: no listener, hop, an outlet at
                                           "outlet" to TARGET, and relay NAME at AT (host:port)

Each role prints one line ``READY <port>`` (the outlet node's listener port, the inlet's
port, or 0), then runs until its stdin closes, closes its node and prints ``CLOSED``.
"""

from __future__ import annotations

import sys


def say(*parts: object) -> None:
    print(*parts, flush=True)


def wait_for_stdin_eof() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass


def main(argv: "list[str]") -> int:
    if len(argv) not in (4, 5) or argv[1] not in ("outlet", "inlet", "relayed") or (len(argv) == 5) != (argv[1] == "relayed"):
        print(__doc__, file=sys.stderr)
        return 2
    from ockam_py import Node

    role, name, arg = argv[1], argv[2], argv[3]
    if role == "outlet":
        node = Node(name, tcp_listener_address="127.0.0.1:0")
        node.create_outlet(to=arg, address="outlet")
        port = node.tcp_listener.port if node.tcp_listener else 0
    elif role == "inlet":
        node = Node(name)
        port = node.create_inlet("127.0.0.1:0", to=arg).port
    else:
        node = Node(name)
        node.start_service("hop")
        node.create_outlet(to=arg, address="outlet")
        node.create_relay(name, at=argv[4], timeout=20)
        port = 0
    try:
        say("READY", port)
        wait_for_stdin_eof()
    finally:
        node.close()
    say("CLOSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
