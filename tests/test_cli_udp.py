"""``ockam-py node create --udp-listener-address`` and UDP routes from the command line.

Real node daemons with a private ``$OCKAM_PY_HOME`` (the ``ockam`` fixture of test_cli.py),
on 127.0.0.1 only. Contract: README "Command line", docs/udp.md.
"""

from __future__ import annotations

from test_cli import Cli, free_port, head, http_server, ockam  # noqa: F401 (fixtures)


def udp_port(ockam: Cli, node: str) -> int:
    [bind] = ockam.json("node", "show", node)["udp_binds"]
    return int(bind["address"].rsplit(":", 1)[1])


def test_message_over_udp_between_cli_nodes_and_the_counters(ockam: Cli) -> None:
    ockam.ok("node", "create", "n1", "--udp-listener-address", "127.0.0.1:0")
    ockam.ok("node", "create", "n2", "--udp-listener-address", "127.0.0.1:0")
    port = udp_port(ockam, "n2")
    route = f"/ip4/127.0.0.1/udp/{port}/service/uppercase"
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", route).strip() == "HELLO"
    [bind] = ockam.json("node", "show", "n2")["udp_binds"]
    assert bind["received"] >= 1 and bind["sent"] >= 1
    assert f"UDP listener: 127.0.0.1:{port}" in ockam.ok("node", "show", "n2")
    # the bound port is kept across a restart
    ockam.ok("node", "stop", "n2")
    ockam.ok("node", "start", "n2")
    assert udp_port(ockam, "n2") == port
    assert ockam.ok("message", "send", "again", "--from", "n1", "--to", route).strip() == "AGAIN"


def test_nodes_have_no_udp_unless_asked_and_bad_addresses_are_refused(ockam: Cli) -> None:
    ockam.ok("node", "create", "plain")
    assert ockam.json("node", "show", "plain")["udp_binds"] == []
    err = ockam.fails("node", "create", "bad", "--udp-listener-address", "127.0.0.1:99999")
    assert "bad UDP listener address '127.0.0.1:99999'" in err
    err = ockam.fails("message", "send", "x", "--from", "plain", "--to", "/ip4/127.0.0.1/udp/9/service/echo")
    assert "UDP" in err and len(err.strip().splitlines()) <= 2


def test_mixed_bridge_and_a_portal_across_udp_from_the_cli(ockam: Cli, http_server: int) -> None:
    """The documentation's bridge, n1 -UDP-> n2 -TCP-> n3, built with commands
    only; then an inlet on n1 whose route crosses the UDP leg to an outlet on
    n2 in front of ``python3 -m http.server``, fetched with curl."""
    ockam.ok("node", "create", "n1", "--udp-listener-address", "127.0.0.1:0")
    ockam.ok("node", "create", "n2", "--udp-listener-address", "127.0.0.1:0")
    ockam.ok("node", "create", "n3")
    port = udp_port(ockam, "n2")
    ockam.ok("service", "start", "hop", "--at", "n2")
    c23 = ockam.ok("tcp-connection", "create", "--from", "n2", "--to", "/node/n3").strip()
    to = f"/ip4/127.0.0.1/udp/{port}/service/hop{c23}/service/uppercase"
    assert ockam.ok("message", "send", "hello", "--from", "n1", "--to", to).strip() == "HELLO"

    ockam.ok("tcp-outlet", "create", "--at", "n2", "--to", f"127.0.0.1:{http_server}")
    inlet_port = free_port()
    ockam.ok("tcp-inlet", "create", "--at", "n1", "--from", f"127.0.0.1:{inlet_port}",
             "--to", f"/ip4/127.0.0.1/udp/{port}/service/outlet")
    assert head(inlet_port).startswith("HTTP/1.0 200 OK")
