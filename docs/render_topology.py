"""Draws docs/topology.svg and docs/topology.png: the portal walkthrough after a few HTTP requests.

    python docs/render_topology.py        (the PNG needs cairosvg: pip install cairosvg)

n2 listens (the relay node); n3 never listens: it has hop, relay "n3" at n2 and
an outlet to a local http.server; n1 has an inlet whose route goes through n2's
relay and n3's hop to the outlet, and a connection to n2 used for a message.
"""

from __future__ import annotations

import http.client
import importlib.util
from pathlib import Path

import ockam_py
from ockam_py.testing import HttpServer, build_topology

HERE = Path(__file__).resolve().parent


def main() -> None:
    with HttpServer(str(HERE)) as server:
        # plain names (n1, n2, n3) read better in the picture than the unique ones
        def make(name: str, listen: object = False) -> ockam_py.Node:
            return ockam_py.Node(name, tcp_listener_address="127.0.0.1:0" if listen is True else None)

        net = build_topology(
            f"n2 listens; n3 relay at n2 with hop; n1 inlet to n3's outlet at {server.address}", make_node=make
        )
        try:
            for path in ("/", "/render_topology.py", "/"):
                conn = http.client.HTTPConnection("127.0.0.1", net.inlets["n1"].port, timeout=10)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
            print(net["n1"].message_send("hello", to=net.route("n3", "uppercase")))
            picture = net.picture()
            picture.save(HERE / "topology.svg")
            if importlib.util.find_spec("cairosvg") is not None:
                picture.save(HERE / "topology.png")
            print(picture)
        finally:
            for node in net.nodes.values():
                node.close()


if __name__ == "__main__":
    main()
