"""One process of tests/test_relay_netns.py, run inside a network namespace.

Usage (always under ``ip netns exec NS``)::

    netns_node.py relay HOST:PORT         n2: listens, runs the relay service
    netns_node.py n3 HOST:PORT            n3: no listener; hop + relay "n3" at HOST:PORT
    netns_node.py n1 HOST:PORT            n1: messages n3 through forward_to_n3, exits
    netns_node.py tcp-listen HOST:PORT    a plain TCP listener (firewall probe target)
    netns_node.py tcp-probe HOST:PORT T   a plain TCP connect with timeout T seconds

Long-running roles print one ``READY ...`` line, then wait until stdin closes
(or they are killed). Every line is flushed so the parent can read it at once.
"""

from __future__ import annotations

import os
import select
import socket
import sys


def say(*parts: object) -> None:
    print(*parts, flush=True)


def wait_for_stdin_eof() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass


def split_hostport(address: str) -> "tuple[str, int]":
    host, port = address.rsplit(":", 1)
    return host, int(port)


def role_relay(address: str) -> int:
    from ockam_py import Node

    with Node("n2", tcp_listener_address=address) as n2:
        say("READY", n2.tcp_listener.address if n2.tcp_listener else "no-listener")
        wait_for_stdin_eof()
    return 0


def role_n3(relay_at: str) -> int:
    from ockam_py import Node

    with Node("n3") as n3:
        n3.start_service("hop")
        relay = n3.create_relay("n3", at=relay_at, timeout=10)
        listener = n3.tcp_listener.address if n3.tcp_listener else "none"
        say("READY", relay.status, f"listener={listener}", f"route={relay.route}")
        wait_for_stdin_eof()
    return 0


def role_n1(relay_at: str) -> int:
    from ockam_py import Node

    with Node("n1") as n1:
        c = n1.connect_tcp(relay_at)
        say("CONNECTION", c.address, c.peer)
        upper = n1.message_send("hello", to=f"{c.address}/service/forward_to_n3/service/uppercase", timeout=10)
        say("UPPERCASE", upper)
        echoed = n1.message_send("ping", to=f"{c.address}/service/forward_to_n3/service/hop/service/echo", timeout=10)
        say("ECHO", echoed)
    return 0


def role_tcp_listen(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(split_hostport(address))
        s.listen(16)
        say("READY", "%s:%d" % s.getsockname())
        stdin = sys.stdin.fileno()
        while True:
            readable, _, _ = select.select([s, stdin], [], [], 1.0)
            if stdin in readable and not os.read(stdin, 4096):
                return 0
            if s in readable:
                try:
                    conn, _ = s.accept()
                    conn.close()
                except OSError:
                    pass


def role_tcp_probe(address: str, timeout: float) -> int:
    """Prints CONNECTED, TIMEOUT or ERROR <errno name>; exit code 0 only when connected."""
    try:
        with socket.create_connection(split_hostport(address), timeout=timeout):
            say("CONNECTED")
            return 0
    except socket.timeout:
        say("TIMEOUT")
        return 1
    except OSError as exc:
        import errno

        say("ERROR", errno.errorcode.get(exc.errno or 0, str(exc.errno)), exc)
        return 1


def main(argv: "list[str]") -> int:
    if len(argv) < 2:
        say(__doc__)
        return 2
    role, address = argv[0], argv[1]
    if role == "relay":
        return role_relay(address)
    if role == "n3":
        return role_n3(address)
    if role == "n1":
        return role_n1(address)
    if role == "tcp-listen":
        return role_tcp_listen(address)
    if role == "tcp-probe":
        return role_tcp_probe(address, float(argv[2]) if len(argv) > 2 else 2.0)
    say(f"unknown role {role!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
