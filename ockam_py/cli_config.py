"""``ockam-py node create`` from a node configuration, in the format of Ockam's
``ockam node create CONFIG`` / ``--configuration``::

    variables:
      SERVICE_PORT: 5000
    name: n1
    tcp-listener-address: 127.0.0.1:0
    tcp-outlets:
      db-outlet:            # its address: /service/db-outlet (unless from: is given)
        to: $SERVICE_PORT
    relays:
      r1:
        at: /node/n2        # a node, /node/NAME, a route or HOST:PORT
    tcp-inlets:
      web-inlet:            # its alias
        from: 127.0.0.1:15000
        to: /node/n2/service/forward_to_r1/service/db-outlet

The text is JSON or YAML (YAML needs PyYAML). ``$VAR`` and ``${VAR}`` are
replaced by variables: ``--variable KEY=VALUE`` first, then the environment,
then the ``variables:`` section; one without a value is an error naming it.
Every resource is checked and recorded before the node starts; the node then
starts with them as ``node start`` restarts a node with what it ran.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import cli
from . import daemon as d

RESOURCE_KEYS = {
    "tcp-outlets": ("tcp-outlets", "tcp-outlet", "tcp_outlets"),
    "tcp-inlets": ("tcp-inlets", "tcp-inlet", "tcp_inlets"),
    "relays": ("relays", "relay"),
}
NODE_KEYS = {"name", "tcp-listener-address", "tcp_listener_address", "http-server", "enable-http-server",
             "http_server", "http-server-port", "http_server_port", "identity", "variables"}
ARGS = {
    "tcp-outlets": {"from", "to", "at", "allow"},
    "tcp-inlets": {"from", "to", "at", "via", "alias", "connection-wait", "retry-wait", "no-connection-wait"},
    "relays": {"at", "to", "relay-address"},
}
VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class ConfigError(cli.CliError):
    """A node configuration that cannot be used, with what is wrong and where."""


def parse_text(text: str, where: str) -> Dict[str, Any]:
    """The configuration ``text`` (JSON, or YAML when PyYAML is installed) as a mapping."""
    stripped = text.strip()
    data: Any
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise ConfigError(f"bad JSON in {where}: {e}") from None
    else:
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigError(f"{where} is not JSON, and YAML needs PyYAML, which is not installed",
                              "pip install pyyaml, or give the configuration as JSON") from None
        try:
            data = yaml.safe_load(stripped) if stripped else {}
        except yaml.YAMLError as e:
            raise ConfigError(f"bad YAML in {where}: {' '.join(str(e).split())}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top (name:, tcp-outlets:, ...), got {type(data).__name__}")
    return data


def scalar(value: Any, what: str) -> str:
    """A configuration value (string, number or boolean) as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(f"{what}: expected a string, number or boolean, got {type(value).__name__}")


def resolve_variables(text: str, where: str, given: List[str], environ: Mapping[str, str]) -> str:
    """``text`` with its ``$VAR``/``${VAR}`` replaced (``--variable`` first, then the environment,
    then its ``variables:`` section); a variable without a value is an error naming it."""
    values: Dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --variable '{item}': expected KEY=VALUE")
        if key in values:
            raise ConfigError(f"The variable with key {key} is duplicated", "give each variable once")
        if not value:
            raise ConfigError(f"Empty value for variable '{key}'")
        values[key] = value
    try:
        section = parse_text(text, where).get("variables") or {}  # the section, before expansion
    except ConfigError:  # e.g. JSON with an unquoted $VAR: only the section is wanted here
        section = parse_text(VAR_RE.sub("0", text), where).get("variables") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: variables: expected a mapping of NAME: VALUE")
    for key, value in section.items():
        if key in values or key in environ:
            continue
        if isinstance(value, list):
            raise ConfigError(f"List values are not supported for variable '{key}'")
        text_value = "" if value is None else scalar(value, f"variable '{key}'")
        if not text_value:
            raise ConfigError(f"Empty value for variable '{key}'")
        values[key] = text_value

    def sub(m: "re.Match[str]") -> str:
        key = m.group(1) or m.group(2)
        value = values.get(key, environ.get(key))
        if value is None:
            raise ConfigError(f"Failed to resolve variable '{key}' in {where}: it has no value",
                              f"pass --variable {key}=VALUE, set it in the environment, or add it under variables:")
        return value

    return VAR_RE.sub(sub, text)


@dataclass
class Resource:
    """One relay, outlet or inlet of a configuration: its name and arguments."""

    kind: str
    name: Optional[str]
    args: Dict[str, str]


def resources(data: Dict[str, Any], where: str) -> List[Resource]:
    """The relays, outlets and inlets of a configuration, each accepted form of Ockam's:
    ``relay: NAME``, a list of names or maps, ``NAME: {args}`` maps."""
    out: List[Resource] = []
    for kind, keys in RESOURCE_KEYS.items():
        present = [k for k in keys if k in data]
        if len(present) > 1:
            raise ConfigError(f"{where}: {present[0]} and {present[1]} are the same section; give one")
        if not present:
            continue
        section = data[present[0]]
        items = section if isinstance(section, list) else [section]
        for item in items:
            if isinstance(item, (str, int)):
                out.append(Resource(kind, str(item), {}))
            elif isinstance(item, dict):
                for name, args in item.items():
                    if args is None:
                        args = {}
                    if not isinstance(args, dict):
                        raise ConfigError(f"{where}: {present[0]}.{name}: expected a mapping of arguments")
                    unknown = set(args) - ARGS[kind]
                    if unknown:
                        raise ConfigError(f"{where}: {present[0]}.{name}: unknown argument '{sorted(unknown)[0]}'",
                                          f"known: {', '.join(sorted(ARGS[kind]))}")
                    out.append(Resource(kind, str(name), {k: scalar(v, f"{present[0]}.{name}.{k}")
                                                          for k, v in args.items()}))
            else:
                raise ConfigError(f"{where}: {present[0]}: expected names or a mapping, got {type(item).__name__}")
    unknown = set(data) - NODE_KEYS - {k for keys in RESOURCE_KEYS.values() for k in keys}
    if unknown:
        raise ConfigError(f"{where}: unsupported key '{sorted(unknown)[0]}'",
                          "supported: name, tcp-listener-address, http-server(-port), identity, variables, "
                          "tcp-outlets, tcp-inlets, relays")
    return out


def records(ctx: cli.Ctx, name: str, items: List[Resource]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]],
                                                                     List[Dict[str, str]]]:
    """The outlet, inlet and relay records (as ``config.json`` keeps them) of node ``name``."""
    outlets: List[Dict[str, Any]] = []
    inlets: List[Dict[str, Any]] = []
    relays: List[Dict[str, str]] = []
    for r in items:
        own = r.args.get("to" if r.kind == "relays" else "at")  # the node it belongs to: this one
        if own is not None and own.replace("/node/", "", 1) != name:
            raise ConfigError(f"{r.kind}.{r.name}: '{own}' is another node; a configuration sets up only its own node")
        if r.kind == "tcp-outlets":
            address = cli.worker_name(r.args.get("from") or r.name or "outlet", f"tcp-outlets.{r.name}.from")
            if "to" not in r.args:
                raise ConfigError(f"tcp-outlets.{r.name}: to: is missing (HOST:PORT of the TCP server)")
            if any(o["address"] == address for o in outlets):
                raise ConfigError(f"tcp-outlets.{r.name}: a second outlet at /service/{address}")
            allow = cli.identifiers([r.args["allow"]], f"tcp-outlets.{r.name}.allow") if "allow" in r.args else None
            outlets.append({"address": address, "to": cli.host_port(r.args["to"], f"tcp-outlets.{r.name}.to"),
                            "allow": allow})
        elif r.kind == "relays":
            relay = cli.worker_name(r.name or "default", "relay name")
            if "at" not in r.args:
                raise ConfigError(f"relays.{relay}: at: is missing (the relay node, e.g. /node/n2): "
                                  "there is no project to relay at")
            if any(x["name"] == relay for x in relays):
                raise ConfigError(f"relays.{relay}: a second relay of that name")
            route, display = cli.relay_at(ctx, r.args["at"])
            rec = {"name": relay, "at": route, "at_display": display}
            if r.args.get("relay-address"):
                rec["address"] = cli.worker_name(r.args["relay-address"], f"relays.{relay}.relay-address")
            relays.append(rec)
        else:
            alias = r.args.get("alias") or r.name or f"inlet-{len(inlets) + 1}"
            if any(i["alias"] == alias for i in inlets):
                raise ConfigError(f"tcp-inlets.{alias}: a second inlet of that alias")
            to = r.args.get("to")
            if r.args.get("via") is not None or to is None or not to.startswith("/"):
                via = r.args.get("via") or "default"
                mine = next((x for x in relays if x["name"] == via), None)
                base = (f"{mine['at_display']}/service/forward_to_{mine.get('address') or via}" if mine
                        else cli.relay_route(ctx, via))
                to = f"{base}/secure/api/service/{cli.worker_name(to or 'outlet', f'tcp-inlets.{alias}.to')}"
            bind = cli.host_port(r.args.get("from", "127.0.0.1:0"), f"tcp-inlets.{alias}.from", listen=True)
            inlets.append({"alias": alias, "bind": bind, "to": cli.resolve_route(ctx.home, to), "to_display": to})
    return outlets, inlets, relays


def load(ctx: cli.Ctx) -> Tuple[Dict[str, Any], str]:
    """The configuration given to ``node create`` (a file, or ``--configuration``), its variables
    resolved, and where it came from."""
    a = ctx.args
    if a.configuration is not None:
        text, where = a.configuration, "--configuration"
    else:
        path = Path(a.name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read configuration {path}: {getattr(e, 'strerror', None) or e}") from None
        where = str(path)
    text = resolve_variables(text, where, a.variable, os.environ)
    return parse_text(text, where), where


def create_from_configuration(ctx: cli.Ctx) -> int:
    """``node create CONFIG`` / ``node create [NAME] --configuration TEXT``: a node with the
    configuration's relays, outlets and inlets, all checked before it starts."""
    a = ctx.args
    data, where = load(ctx)
    items = resources(data, where)
    name = (a.name if a.configuration is not None and a.name else None) or (
        scalar(data["name"], "name") if "name" in data else None) or cli.random_node_name(ctx.home)
    cli.check_node_name(name)
    nd = d.NodeDir(ctx.home, name)
    if nd.exists():
        raise cli.CliError(f"node '{name}' already exists", f"delete it first: {cli.PROG} node delete {name}")
    listener = scalar(data.get("tcp-listener-address", data.get("tcp_listener_address", a.tcp_listener_address)),
                      "tcp-listener-address")
    http = next((data[k] for k in ("http-server-port", "http_server_port") if k in data), None)
    if http is None:
        http = next((data[k] for k in ("http-server", "enable-http-server", "http_server") if k in data), None)
        http = True if http is True else None
    if http is True:
        a.http_server = True
    elif http is not None:
        a.http_server_port = scalar(http, "http-server-port")
    identity = scalar(data["identity"], "identity") if "identity" in data else a.identity
    if identity is not None:
        cli.identity_path(ctx, identity)
    outlets, inlets, relays = records(ctx, name, items)
    config = d.NodeConfig(name=name, tcp_listener_address=cli.host_port(listener, "tcp-listener-address", listen=True),
                          identity=identity, outlets=outlets, inlets=inlets, relays=relays,
                          http_server_port=cli.http_port(a))
    nd = cli.new_node_dir(ctx, config)
    if a.foreground:
        return cli.run_created(ctx, nd, new=True)
    try:
        cli.start_daemon(ctx, nd)
        errors = ctx.call(nd, "info")["restore_errors"]
        if errors:
            raise cli.CliError(f"{where}: {errors[0]}")
    except BaseException:
        cli.stop_node(nd)
        cli.forget_node(ctx, nd)
        raise
    info = cli._node_details(ctx, nd)
    ctx.emit(info, lambda: "\n".join(
        [f"{ctx.c('✔', 'green')} Created a new node named {ctx.c(name, 'bold')} from {where} "
         f"(TCP listener {info['tcp_listener_address']})"]
        + [f"  {cli._outlet_line(ctx, o)}" for o in info["outlets"]]
        + [f"  {cli._relay_line(ctx, r)}" for r in info["relays"]]
        + [f"  {cli._inlet_line(ctx, i)}" for i in info["inlets"]]), machine=name)
    return 0
