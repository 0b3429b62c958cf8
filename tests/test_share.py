"""``ockam_py.expose`` and ``ockam_py.connect``: share a local port through a relay node, reach it by name.

A real ``http.server`` (the plugin's ``ockam_http_server``) is exposed through
a relay node made with ``ockam_node``; connect's inlet must serve its pages.
"""

from __future__ import annotations

import http.client

import pytest

import ockam_py
from ockam_py import Node
from ockam_py.testing import HttpServer, NodeFactory, assert_route


def get(port: int) -> "tuple[str, bytes]":
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return f"HTTP/{resp.version / 10:.1f} {resp.status} {resp.reason}", resp.read()
    finally:
        conn.close()


def open_node_names() -> "list[str]":
    with Node._registry_lock:
        return [n.name for n in Node._by_name.values() if not n.closed]


def test_expose_then_connect_serves_http(ockam_node: NodeFactory, ockam_http_server: HttpServer) -> None:
    relay = ockam_node("relay", listen=True)
    relay_at = relay.tcp_listener.address  # type: ignore[union-attr]
    with ockam_py.expose(ockam_http_server.port, relay=relay_at, name="web") as shared:
        assert shared.status == "up" and shared.name == "web"
        assert shared.route == "/service/forward_to_web/service/hop/service/outlet"
        assert shared.node.tcp_listener is None  # nothing listens on the exposing side
        assert any(e.address == "forward_to_web" for e in relay.relay_service_entries())
        with ockam_py.connect("web", relay=relay_at) as tunnel:
            assert tunnel.host == "127.0.0.1" and tunnel.port > 0
            assert tunnel.address == f"127.0.0.1:{tunnel.port}"
            assert tunnel.route.endswith("0#forward_to_web => 0#hop => 0#outlet")
            for _ in range(3):
                status, body = get(tunnel.port)
                assert status == "HTTP/1.0 200 OK" and body == ockam_http_server.body
            assert shared.outlet.stats().total == 3
            # the exposed route, from the relay node's point of view, is what a peer uses
            assert_route(relay, shared.route.replace("/service/outlet", "/service/echo"), "x", payload="x")
        assert tunnel.node.closed
    assert shared.node.closed
    shared.close()  # twice is fine
    tunnel.close()
    assert not [n for n in open_node_names() if n.startswith(("expose-web", "connect-web"))]


def test_connect_on_a_fixed_local_port_and_default_name(
    ockam_node: NodeFactory, ockam_http_server: HttpServer, free_port: int
) -> None:
    relay = ockam_node("relay", listen=True)
    at = relay.tcp_listener.address  # type: ignore[union-attr]
    shared = ockam_py.expose(ockam_http_server.port, at)
    try:
        assert shared.name == f"port-{ockam_http_server.port}"
        tunnel = ockam_py.connect(shared.name, at, local=f"127.0.0.1:{free_port}")
        try:
            assert tunnel.port == free_port
            assert get(free_port)[0] == "HTTP/1.0 200 OK"
        finally:
            tunnel.close()
    finally:
        shared.close()


def test_connect_with_a_multiaddr_relay(ockam_node: NodeFactory, ockam_http_server: HttpServer) -> None:
    relay = ockam_node("relay", listen=True)
    port = relay.tcp_listener.port  # type: ignore[union-attr]
    with ockam_py.expose(ockam_http_server.port, relay=f"/ip4/127.0.0.1/tcp/{port}", name="ma"):
        with ockam_py.connect("ma", relay=f"localhost:{port}") as tunnel:  # a host name: /dnsaddr/
            assert get(tunnel.port)[0] == "HTTP/1.0 200 OK"


def test_connect_to_a_name_nobody_exposes(ockam_node: NodeFactory) -> None:
    relay = ockam_node("relay", listen=True)
    at = relay.tcp_listener.address  # type: ignore[union-attr]
    with pytest.raises(ConnectionError) as info:
        ockam_py.connect("nobody", relay=at, timeout=0.5)
    assert "'nobody'" in str(info.value) and at in str(info.value)
    assert not [n for n in open_node_names() if n.startswith("connect-nobody")]


def test_expose_to_a_relay_that_is_not_there(free_port: int) -> None:
    with pytest.raises((OSError, TimeoutError)):
        ockam_py.expose(80, relay=f"127.0.0.1:{free_port}", name="lost", timeout=1.0)
    assert not [n for n in open_node_names() if n.startswith("expose-lost")]


def test_bad_relay_address() -> None:
    with pytest.raises(ValueError, match="host:port"):
        ockam_py.connect("x", relay="nowhere")
