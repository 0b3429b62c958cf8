"""The pytest plugin ``ockam_py.testing`` (installed under ``pytest11``), used by these very tests.

Its fixtures (ockam_node, free_port, ockam_topology, ockam_http_server) come
from the installed entry point, not from a conftest. Tests of what a failing
test reports run pytest in a subprocess on a generated test file.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import importlib.util
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

import ockam_py
from ockam_py import Node
from ockam_py.testing import (
    HttpServer,
    Network,
    NodeFactory,
    RouteCheckError,
    assert_route,
    build_topology,
    parse_topology,
)

Build = Callable[..., Network]


def http_get(port: int, path: str = "/") -> "tuple[str, bytes]":
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return f"HTTP/{resp.version / 10:.1f} {resp.status} {resp.reason}", resp.read()
    finally:
        conn.close()


def run_pytest(tmp_path: Path, source: str, *args: str) -> "subprocess.CompletedProcess[str]":
    (tmp_path / "test_generated.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- registration


def test_entry_point_is_registered() -> None:
    eps = importlib.metadata.entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])  # type: ignore[attr-defined]
    assert any(ep.name == "ockam_py" and ep.value == "ockam_py.testing" for ep in group), list(group)


def test_pytest_fixtures_lists_the_plugin_fixtures(tmp_path: Path) -> None:
    """``pytest --fixtures`` in an unrelated directory (no conftest) lists them from the installed plugin."""
    r = run_pytest(tmp_path, "def test_nothing():\n    pass\n", "--fixtures")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixtures defined from ockam_py.testing" in r.stdout, r.stdout
    for name in ("ockam_node", "free_port", "ockam_topology", "ockam_http_server"):
        assert re.search(rf"^{name}\b", r.stdout, re.M), f"{name} missing from:\n{r.stdout}"


# ---------------------------------------------------------------- ockam_node and free_port


def test_ockam_node_makes_unique_nodes(ockam_node: NodeFactory) -> None:
    a = ockam_node("n1", listen=True)
    b = ockam_node("n1")
    assert a.name != b.name and a.name.startswith("n1-") and b.name.startswith("n1-")
    assert a.tcp_listener is not None and a.tcp_listener.address.startswith("127.0.0.1:")
    assert b.tcp_listener is None
    assert ockam_node.nodes == [a, b]
    assert_route(b, f"/node/{a.name}/service/uppercase", "HELLO", payload="hello")


def test_ockam_node_services(ockam_node: NodeFactory) -> None:
    n2 = ockam_node("n2", listen=True, services=["hop"])
    n3 = ockam_node("n3", listen=True)
    n1 = ockam_node("n1")
    c12 = n1.connect_tcp(n2.tcp_listener.address)  # type: ignore[union-attr]
    c23 = n2.connect_tcp(n3.tcp_listener.address)  # type: ignore[union-attr]
    assert_route(n1, f"{c12.address}/service/hop{c23.address}/service/uppercase", "HELLO", payload="hello")


def test_ockam_node_closes_its_nodes_at_teardown(tmp_path: Path) -> None:
    r = run_pytest(
        tmp_path,
        """
        from ockam_py import Node
        made = []

        def test_make(ockam_node):
            made.append(ockam_node("a", listen=True))
            made.append(ockam_node("b"))
            assert not any(n.closed for n in made)

        def test_they_are_closed():
            assert len(made) == 2 and all(n.closed for n in made)
            for n in made:
                try:
                    Node.get(n.name)
                except KeyError:
                    continue
                raise AssertionError(f"{n.name} is still registered")
        """,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout


def test_free_port_is_free(free_port: int) -> None:
    assert 0 < free_port < 65536
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port))  # nobody holds it


# ---------------------------------------------------------------- topologies


def test_parse_topology_text() -> None:
    desc = parse_topology(
        """
        n2 listens            # the relay node
        n3 relay at n2 with hop
        n1 inlet to n3's outlet at 127.0.0.1:8000; n1 connects to n2
        n4 outlet web to 127.0.0.1:9000
        n5 relay r5 at n2
        n6 inlet on 127.0.0.1:7000 to n4's outlet web
        """
    )
    assert desc["n2"] == {"listen": True}
    assert desc["n3"] == {"relay": [{"at": "n2", "name": "n3"}], "hop": True}
    assert desc["n1"]["inlet"] == [{"to": "n3", "outlet": "outlet", "bind": "127.0.0.1:0", "at": "127.0.0.1:8000"}]
    assert desc["n1"]["connect"] == ["n2"]
    assert desc["n4"] == {"outlet": [{"to": "127.0.0.1:9000", "address": "web"}]}
    assert desc["n5"] == {"relay": [{"at": "n2", "name": "r5"}]}
    assert desc["n6"]["inlet"] == [{"to": "n4", "outlet": "web", "bind": "127.0.0.1:7000"}]


def test_parse_topology_rejects_nonsense_with_the_grammar() -> None:
    with pytest.raises(ValueError) as info:
        parse_topology("n2 listens; n3 flies to n2")
    assert "n3 flies to n2" in str(info.value)
    assert "N relay [NAME] at M [with hop]" in str(info.value)


def test_topology_bridge(ockam_topology: Build) -> None:
    net = ockam_topology("n2 listens; n3 listens; n2 hop; n1 connects to n2; n2 connects to n3")
    route = f"{net.connections[('n1', 'n2')].address}/service/hop{net.connections[('n2', 'n3')].address}/service/uppercase"
    assert assert_route(net["n1"], route, "HELLO", payload="hello") == "HELLO"
    assert net.route("n3", "uppercase") == f"/node/{net['n3'].name}/service/uppercase"


def test_topology_relay_and_portal_from_the_issue(ockam_topology: Build, ockam_http_server: HttpServer) -> None:
    """The issue's example, word for word with the port filled in: HTTP through n2's relay to n3's outlet."""
    net = ockam_topology(
        f"n2 listens; n3 relay at n2 with hop; n1 inlet to n3's outlet at 127.0.0.1:{ockam_http_server.port}"
    )
    assert net["n3"].tcp_listener is None
    assert net.relays["n3"].status == "up"
    inlet = net.inlets["n1"]
    assert inlet.route.endswith("0#forward_to_n3 => 0#hop => 0#outlet")
    status, body = http_get(inlet.port)
    assert status == "HTTP/1.0 200 OK" and body == ockam_http_server.body
    assert net.outlets["n3"].stats().total == 1
    assert_route(net["n1"], net.route("n3", "uppercase"), "HELLO", payload="hello")


def test_topology_from_a_dict(ockam_topology: Build, ockam_http_server: HttpServer) -> None:
    net = ockam_topology(
        {
            "n2": {"listen": True},
            "n3": {"relay": "n2", "outlet": ockam_http_server.address},
            "n1": {"inlet": "n3", "connect": "n2"},
            "n4": {"listen": True, "outlet": {"to": ockam_http_server.address, "address": "web"}},
            "n5": {"inlet": [{"to": "n4", "outlet": "web"}, {"to": "n3"}]},
        }
    )
    assert set(net.inlets) == {"n1", "n5", "n5#2"}
    assert net.inlets["n5"].route.endswith("0#web")  # n4 listens: direct, no relay
    for key in net.inlets:
        assert http_get(net.inlets[key].port)[0] == "HTTP/1.0 200 OK", key
    conn = net.connections[("n1", "n2")]
    assert_route(net["n1"], f"{conn.address}/service/forward_to_n3/service/echo", "x", payload="x")


def test_build_topology_without_pytest_closes_on_failure() -> None:
    """Outside a test: a Network owns its nodes; a failing step names itself and leaves no node behind."""
    with build_topology("n2 listens; n1 connects to n2") as net:
        names = [n.name for n in net.nodes.values()]
        assert_route(net["n1"], net.route("n2"), "x", payload="x")
    assert all(net.nodes[k].closed for k in net.nodes)
    with pytest.raises(ValueError) as info:
        build_topology("n2; n1 connects to n2")
    assert "n1 connects to n2" in str(info.value) and "does not listen" in str(info.value)
    with pytest.raises(ValueError):
        build_topology("n1 inlet to n3's outlet")  # n3 neither listens nor has a relay
    assert not [n for n in Node._by_name.values() if n.name.split("-")[0] in ("n1", "n2", "n3") and n.name not in names]


# ---------------------------------------------------------------- assert_route


def test_assert_route_names_the_first_silent_hop(ockam_topology: Build) -> None:
    net = ockam_topology("n2 listens; n3 listens; n3 relay at n2; n1 connects to n2")
    n1, n2 = net["n1"], net["n2"]
    route = f"/node/{n2.name}/service/forward_to_nobody/service/uppercase"
    with pytest.raises(RouteCheckError) as info:
        assert_route(n1, route, "HELLO", payload="hello", timeout=1.0, probe_timeout=2.0)
    text = str(info.value)
    assert f"from node {n1.name!r}" in text
    assert route in text
    assert "0#forward_to_nobody => 0#uppercase" in text
    assert f"1. 1#{n2.tcp_listener.address}" in text  # type: ignore[union-attr]
    assert f"answers (node {n2.name})" in text
    assert re.search(r"2\. 0#forward_to_nobody\s+NO ANSWER: TimeoutError", text), text
    assert f"first hop that does not answer: 2. 0#forward_to_nobody, after node {n2.name}" in text


def test_assert_route_when_only_the_destination_is_missing(ockam_topology: Build) -> None:
    net = ockam_topology("n2 listens; n3 relay at n2; n1")
    route = net.route("n3", "nobody")
    with pytest.raises(AssertionError) as info:
        assert_route(net["n1"], route, "x", timeout=0.5, probe_timeout=2.0)
    text = str(info.value)
    assert f"answers (node {net['n3'].name})" in text, text  # the relay hop leads to n3
    assert f"every hop answers an echo: the last address, 0#nobody on node {net['n3'].name}" in text


def test_assert_route_wrong_reply_and_bad_route(ockam_node: NodeFactory) -> None:
    n = ockam_node("n")
    with pytest.raises(RouteCheckError, match=r"got 'HELLO', expected 'hello'"):
        assert_route(n, "/service/uppercase", "hello", payload="hello")
    with pytest.raises(RouteCheckError, match="the route does not parse"):
        assert_route(n, "/nonsense/x", "x")


def test_a_failing_test_reports_node_route_hop_and_nodes(tmp_path: Path) -> None:
    r = run_pytest(
        tmp_path,
        """
        from ockam_py.testing import assert_route

        def test_broken_relay(ockam_topology):
            net = ockam_topology("n2 listens; n3 relay at n2; n1 connects to n2")
            assert_route(net["n1"], f"/node/{net['n2'].name}/service/forward_to_n4/service/echo", "hi",
                         payload="hi", timeout=0.5, probe_timeout=2.0)
        """,
    )
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert "RouteCheckError: route check failed from node 'n1-" in out, out
    assert "first hop that does not answer: 2. 0#forward_to_n4, after node n2-" in out, out
    assert "ockam_py nodes" in out, out  # the report section
    assert re.search(r"node n2-\w+: listening on 127\.0\.0\.1:\d+", out), out
    assert "relay service entry forward_to_n3" in out and "relay n3 at /node/n2-" in out, out


# ---------------------------------------------------------------- notebook pieces: reprs and the picture


def test_html_reprs(ockam_topology: Build, ockam_http_server: HttpServer) -> None:
    net = ockam_topology(f"n2 listens; n3 relay at n2; n1 inlet to n3's outlet at {ockam_http_server.address}")
    http_get(net.inlets["n1"].port)
    n1, n3 = net["n1"], net["n3"]
    assert "Node " + n1.name in n1._repr_html_() and "inlet" in n1._repr_html_()
    assert "Relay n3" in net.relays["n3"]._repr_html_() and "up" in net.relays["n3"]._repr_html_()
    assert "Inlet 127.0.0.1:" in net.inlets["n1"]._repr_html_()
    assert "Outlet /service/outlet" in net.outlets["n3"]._repr_html_()
    assert ockam_http_server.address in net.outlets["n3"]._repr_html_()
    conn = n3.connections()[0]
    assert f"TcpConnection {conn.address}" in conn._repr_html_()
    evil = Node("<b>&amp;")
    try:
        assert "&lt;b&gt;&amp;amp;" in evil._repr_html_()  # escaped
    finally:
        evil.close()
    assert "closed" in evil._repr_html_()


def test_topology_picture(ockam_topology: Build, ockam_http_server: HttpServer, tmp_path: Path) -> None:
    net = ockam_topology(
        f"n2 listens; n3 relay at n2 with hop; n1 connects to n2; n1 inlet to n3's outlet at {ockam_http_server.address}"
    )
    for _ in range(2):
        assert http_get(net.inlets["n1"].port)[0] == "HTTP/1.0 200 OK"
    picture = net.picture()
    svg = picture._repr_svg_()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg)  # well-formed
    for node in net.nodes.values():
        assert node.name in svg
    assert "relay n3" in svg and "relay service: forward_to_n3" in svg
    assert f"portal {net.inlets['n1'].address}: {net['n1'].name} \u2192 {net['n2'].name} \u2192 {net['n3'].name}" in svg
    assert "2 total" in svg and "TCP server" in svg and ockam_http_server.address in svg
    text = str(picture)
    assert f"(outlet on node {net['n3'].name})" in text and "carrying relay n3" in text
    picture.save(tmp_path / "t.svg")
    assert (tmp_path / "t.svg").read_text() == svg
    if importlib.util.find_spec("cairosvg") is not None:
        picture.save(tmp_path / "t.png")
        assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the process-wide picture has them too, and a closed node drops out
    assert net["n1"].name in ockam_py.topology().svg
    net["n1"].close()
    assert net["n1"].name not in ockam_py.topology().svg


def test_topology_of_no_nodes() -> None:
    picture = ockam_py.topology([])
    assert "no open nodes" in picture.svg and str(picture) == "(no open nodes)"


# ---------------------------------------------------------------- JUnit XML, fixture names, marker, asyncio

import xml.etree.ElementTree as ET  # noqa: E402

FAILING_RELAY_TEST = """
    from ockam_py.testing import assert_route

    def test_broken_relay(ockam_topology):
        net = ockam_topology("n2 listens; n3 relay at n2; n1 connects to n2")
        assert_route(net["n1"], f"/node/{net['n2'].name}/service/forward_to_n4/service/echo", "hi",
                     payload="hi", timeout=0.5, probe_timeout=2.0)

    def test_passes(ockam_node):
        ockam_node("n5")
"""


def test_the_nodes_section_is_in_junit_xml(tmp_path: Path) -> None:
    xml = tmp_path / "report.xml"
    r = run_pytest(tmp_path, FAILING_RELAY_TEST, f"--junitxml={xml}")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.count("ockam_py nodes") == 1, r.stdout  # shown once in the terminal
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    failure = cases["test_broken_relay"].find("failure")
    assert failure is not None and failure.text
    assert "ockam_py nodes" in failure.text, failure.text
    assert re.search(r"node n2-\w+: listening on 127\.0\.0\.1:\d+", failure.text), failure.text
    assert "relay service entry forward_to_n3" in failure.text, failure.text
    props = {p.get("name"): p.get("value") for p in cases["test_broken_relay"].iter("property")}
    assert "relay service entry forward_to_n3" in props.get("ockam_py nodes", ""), props
    assert cases["test_passes"].find("failure") is None
    assert not list(cases["test_passes"].iter("property")), "a passing test got the nodes section"


def test_fixtures_have_ockam_names_and_the_old_names_stay(tmp_path: Path, ockam_free_port: int,
                                                          free_port: int) -> None:
    for port in (ockam_free_port, free_port):
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    r = run_pytest(tmp_path, "def test_nothing():\n    pass\n", "--fixtures")
    for name in ("ockam_free_port", "free_port", "ockam_network", "ockam_async_node", "ockam_async_topology"):
        assert re.search(rf"^{name}\b", r.stdout, re.M), f"{name} missing from:\n{r.stdout}"


def test_a_suites_own_free_port_fixture_wins(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("import pytest\n\n@pytest.fixture\ndef free_port():\n    return 'mine'\n")
    r = run_pytest(
        tmp_path,
        """
        def test_mine(free_port, ockam_free_port):
            assert free_port == "mine" and isinstance(ockam_free_port, int)
        """,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_topology_marker(tmp_path: Path) -> None:
    source = """
        import pytest

        @pytest.mark.ockam_topology("n2 listens; n1 connects to n2")
        def test_declared(ockam_network):
            assert ockam_network["n1"].message_send("hi", to=ockam_network.route("n2", "uppercase")) == "HI"

        def test_by_fixture(ockam_topology):
            ockam_topology("n3")

        def test_plain():
            pass
    """
    r = run_pytest(tmp_path, source, "--markers")
    assert re.search(r"^@pytest\.mark\.ockam_topology\(description=None", r.stdout, re.M), r.stdout
    r = run_pytest(tmp_path, source, "--strict-markers", "-m", "ockam_topology", "-rA")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 1 deselected" in r.stdout, r.stdout
    r = run_pytest(tmp_path, source, "--strict-markers", "-m", "not ockam_topology", "-rA")
    assert "1 passed, 2 deselected" in r.stdout, r.stdout


def test_ockam_network_without_a_description_says_what_is_missing(tmp_path: Path) -> None:
    r = run_pytest(tmp_path, "def test_missing(ockam_network):\n    pass\n")
    assert r.returncode != 0
    assert 'ockam_network needs @pytest.mark.ockam_topology("<description>")' in r.stdout + r.stderr


def test_async_fixtures_work_with_plain_asyncio_run(tmp_path: Path) -> None:
    r = run_pytest(
        tmp_path,
        """
        import asyncio

        def test_async(ockam_async_node, ockam_async_topology):
            async def main():
                server = await ockam_async_node("srv", listen=True)
                client = await ockam_async_node("cli")
                net = await ockam_async_topology("n2 listens; n3 relay at n2")
                reply = await client.amessage_send("hi", to=f"/node/{server.name}/service/uppercase")
                relayed = await client.amessage_send("x", to=net.route("n3", "echo"))
                return reply, relayed, server, client

            reply, relayed, server, client = asyncio.run(main())
            assert (reply, relayed) == ("HI", "x")
            test_async.nodes = (server, client)

        def test_closed_at_teardown():
            assert all(n.closed for n in test_async.nodes)
        """,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
