"""The portal walkthrough: an HTTP server behind an outlet on n3, reached from n1's inlet.

`python3 -m http.server` runs on 127.0.0.1; n3 (no listener) has an outlet to
it and a relay at n2; n1 has an inlet whose route goes through n2's relay and
n3's hop to the outlet. A plain HTTP client talks to the inlet and prints the
status line it got: HTTP/1.0 200 OK.
"""

import http.client
import random
import socket
import subprocess
import sys
import time

from ockam_py import Node


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768 and up), where no
    outgoing connection can take it before the server binds it."""
    for _ in range(100):
        port = random.randrange(10000, 32768)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        with Node("n2", tcp_listener_address="127.0.0.1:0") as n2, Node("n3") as n3, Node("n1") as n1:
            n3.start_service("hop")
            n3.create_outlet(to=f"127.0.0.1:{port}", address="outlet")
            n3.create_relay("n3", at="/node/n2")
            inlet = n1.create_inlet("127.0.0.1:0", to="/node/n2/service/forward_to_n3/service/hop/service/outlet")
            conn = http.client.HTTPConnection("127.0.0.1", inlet.port, timeout=10)
            conn.request("HEAD", "/")
            response = conn.getresponse()
            print(f"HTTP/{response.version / 10:.1f} {response.status} {response.reason}")
            conn.close()
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
