"""Derived figures, targets, and the JSON / markdown / PNG outputs."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional

STREAMS = ("1", "8")
TARGET_SOCAT_PCT = 90.0
TARGET_P50_X = 4.0
TARGET_CONN_RATE = 5000.0
TARGET_IDLE_KIB = 8.0
TARGET_SECURE_PCT = 70.0  # secure portal throughput, % of the plaintext portal with the same legs
TARGET_HANDSHAKES = 1000.0  # secure channels/s, both ends on one CPU
# the second round's targets (issue 17), as ratios in one run
TARGET2_SOCAT_PCT = 100.0  # every portal path, % of the socat chain with the same legs, 1 and 8 streams
TARGET2_OCKAM_X = 3.0  # x Ockam 0.139 on the same topology, 1 and 8 streams
TARGET2_P50_X_SOCAT = 1.1  # p50 round trip, x socat's with the same legs
TARGET2_CONN_RATE = 10000.0  # portal setups/s on the 3-leg paths
# our portal path -> the Ockam path with the same topology
SAME_TOPOLOGY = {"portal, inlet on relay": "ockam 3 legs", "portal via relay": "ockam via relay"}


def _get(d: Optional[dict], *keys: str) -> Optional[float]:
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d  # type: ignore[return-value]


def _ratio(a: Optional[float], b: Optional[float], scale: float = 1.0) -> Optional[float]:
    if a is None or b is None or b == 0 or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b * scale


def socat_for(legs: int) -> str:
    return f"socat {legs} legs"


def ockam_for(name: str, p: Dict[str, Any]) -> Optional[str]:
    """The Ockam 0.139 path a path is compared with: the same topology, else the same legs."""
    if p.get("kind") == "peer" and name.startswith("ockam"):
        return None
    return SAME_TOPOLOGY.get(name) or {3: "ockam 3 legs", 4: "ockam via relay"}.get(p.get("legs", 0))


def plain_for(name: str, p: Dict[str, Any]) -> Optional[str]:
    """The plaintext portal path a secure portal path is compared with."""
    if p.get("kind") != "secure portal":
        return None
    return p.get("plain") or name[len("secure "):]


def derive(res: Dict[str, Any]) -> None:
    """Adds percent-of-direct / of-socat / of-plaintext figures and the target verdicts to res."""
    paths = res["paths"]
    direct = paths.get("direct", {})
    derived: Dict[str, Dict[str, Any]] = {}
    for name, p in paths.items():
        d: Dict[str, Any] = {}
        pn = plain_for(name, p)
        plain = paths.get(pn) if pn else None
        if plain is not None:
            for s in STREAMS:
                d[f"tp{s}_pct_plain"] = _ratio(_get(p, "throughput", s, "gbit_s"),
                                               _get(plain, "throughput", s, "gbit_s"), 100)
                d[f"cpu{s}_x_plain"] = _ratio(_get(p, "throughput", s, "cpu_s_per_gib"),
                                              _get(plain, "throughput", s, "cpu_s_per_gib"))
            d["p50_us_x_plain"] = _ratio(_get(p, "latency", "p50_us"), _get(plain, "latency", "p50_us"))
            d["conn_pct_plain"] = _ratio(_get(p, "connrate", "per_second"), _get(plain, "connrate", "per_second"),
                                         100)
        sock = paths.get(socat_for(p["legs"])) if p["legs"] > 1 and not name.startswith("socat") else None
        for s in STREAMS:
            v = _get(p, "throughput", s, "gbit_s")
            d[f"tp{s}_pct_direct"] = _ratio(v, _get(direct, "throughput", s, "gbit_s"), 100)
            d[f"tp{s}_pct_socat"] = _ratio(v, _get(sock, "throughput", s, "gbit_s"), 100) if sock else None
        for q in ("p50_us", "p99_us"):
            v = _get(p, "latency", q)
            d[f"{q}_x_direct"] = _ratio(v, _get(direct, "latency", q))
            d[f"{q}_x_socat"] = _ratio(v, _get(sock, "latency", q)) if sock else None
        on = ockam_for(name, p)
        ock = paths.get(on) if on else None
        if ock is not None:
            d["ockam"] = on
            for s in STREAMS:
                d[f"tp{s}_x_ockam"] = _ratio(_get(p, "throughput", s, "gbit_s"), _get(ock, "throughput", s, "gbit_s"))
            d["p50_us_x_ockam"] = _ratio(_get(p, "latency", "p50_us"), _get(ock, "latency", "p50_us"))
            d["conn_x_ockam"] = _ratio(_get(p, "connrate", "per_second"), _get(ock, "connrate", "per_second"))
        d["conn_pct_direct"] = _ratio(_get(p, "connrate", "per_second"), _get(direct, "connrate", "per_second"), 100)
        d["conn_pct_socat"] = (
            _ratio(_get(p, "connrate", "per_second"), _get(sock, "connrate", "per_second"), 100) if sock else None
        )
        derived[name] = d
    res["derived"] = derived

    targets: List[Dict[str, Any]] = []

    def add(what: str, path: str, value: Optional[float], limit: float, higher_better: bool, unit: str) -> None:
        ok = None if value is None else (value >= limit if higher_better else value <= limit)
        targets.append({"target": what, "path": path, "value": value, "limit": limit, "unit": unit,
                        "higher_is_better": higher_better, "pass": ok})

    for name, p in paths.items():
        if p.get("kind") == "secure portal":
            for s in STREAMS:
                if _get(p, "throughput", s) is not None or not res["meta"].get("quick"):
                    add(f"throughput {s} stream{'s' if s != '1' else ''} >= {TARGET_SECURE_PCT:.0f}% of "
                        f"{plain_for(name, p)} (plaintext)", name, derived[name].get(f"tp{s}_pct_plain"),
                        TARGET_SECURE_PCT, True, "%")
            continue
        if p.get("kind") != "portal":
            continue
        dd = derived[name]
        for s in STREAMS:
            if _get(p, "throughput", s) is not None or not res["meta"].get("quick"):
                add(f"throughput {s} stream{'s' if s != '1' else ''} >= {TARGET_SOCAT_PCT:.0f}% of {socat_for(p['legs'])}",
                    name, dd.get(f"tp{s}_pct_socat"), TARGET_SOCAT_PCT, True, "%")
        add(f"p50 RTT <= {TARGET_P50_X:g}x direct", name, dd.get("p50_us_x_direct"), TARGET_P50_X, False, "x")
        if not res["meta"].get("quick"):
            add(f">= {TARGET_CONN_RATE:.0f} connection setups/s", name, _get(p, "connrate", "per_second"),
                TARGET_CONN_RATE, True, "/s")
            add(f"<= {TARGET_IDLE_KIB:g} KiB per idle portal connection", name,
                _get(p, "memory", "kib_per_conn"), TARGET_IDLE_KIB, False, "KiB")
        for s in STREAMS:
            if _get(p, "throughput", s) is not None or not res["meta"].get("quick"):
                add(f"throughput {s} stream{'s' if s != '1' else ''} >= {TARGET2_SOCAT_PCT:.0f}% of "
                    f"{socat_for(p['legs'])}", name, dd.get(f"tp{s}_pct_socat"), TARGET2_SOCAT_PCT, True, "%")
                if name in SAME_TOPOLOGY and SAME_TOPOLOGY[name] in paths:
                    add(f"throughput {s} stream{'s' if s != '1' else ''} >= {TARGET2_OCKAM_X:g}x {SAME_TOPOLOGY[name]}"
                        " (same topology)", name, dd.get(f"tp{s}_x_ockam"), TARGET2_OCKAM_X, True, "x")
        add(f"p50 RTT <= {TARGET2_P50_X_SOCAT:g}x {socat_for(p['legs'])}", name, dd.get("p50_us_x_socat"),
            TARGET2_P50_X_SOCAT, False, "x")
        if p["legs"] == 3 and not res["meta"].get("quick"):
            add(f">= {TARGET2_CONN_RATE:.0f} connection setups/s (3 legs)", name, _get(p, "connrate", "per_second"),
                TARGET2_CONN_RATE, True, "/s")
    hs = res.get("handshakes")
    if hs is not None:
        best = hs.get("best_concurrency")
        how = "" if best is None else (", one after another" if best == 1 else f", {best} at a time")
        add(f">= {TARGET_HANDSHAKES:.0f} secure channel handshakes/s on one CPU",
            f"node -> node api{how}", hs.get("per_second"), TARGET_HANDSHAKES, True, "/s")
    res["targets"] = targets


# ---- formatting ---------------------------------------------------------------


def _f(v: Optional[float], fmt: str = "{:.1f}", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v) + suffix


def markdown(res: Dict[str, Any]) -> str:
    meta = res["meta"]
    paths = res["paths"]
    der = res["derived"]
    out: List[str] = []
    out.append(f"Measured {meta['date']} on {meta['cpus']} CPUs ({meta['cpu_model']}), kernel {meta['kernel']}; "
               f"{meta['pinning']}; load average (1, 5, 15 min) before {meta['loadavg_before']}"
               + (f", after {meta['loadavg_after']}" if meta.get("loadavg_after") else "") + ". "
               f"Short runs on a possibly shared machine: read the percentages, not the absolutes.")
    out.append("")
    out.append(f"**Throughput** (iperf3 -t {meta['seconds']:g}, Gbit/s; forwarder CPU seconds per GiB moved)")
    out.append("")
    out.append("| path | legs | 1 stream | % direct | % socat same legs | 8 streams | % direct | % socat same legs | CPU s/GiB 1 / 8 |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, p in paths.items():
        d = der[name]
        if p.get("error") and not p.get("throughput"):
            out.append(f"| {name} | {p['legs']} | unavailable: {p['error'][:80]} | | | | | | |")
            continue
        row = [name, str(p["legs"])]
        cpu = []
        for s in STREAMS:
            t = _get(p, "throughput", s)
            row += [_f(_get(t, "gbit_s"), "{:.2f}"), _f(d.get(f"tp{s}_pct_direct"), "{:.0f}", "%"),
                    _f(d.get(f"tp{s}_pct_socat"), "{:.0f}", "%")]
            cpu.append(_f(_get(t, "cpu_s_per_gib"), "{:.2f}"))
        row.append(" / ".join(cpu) if name != "direct" else "-")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    lat = [(n, p) for n, p in paths.items() if p.get("latency")]
    if lat:
        l0 = lat[0][1]["latency"]
        split = any(p["latency"].get("split") for _, p in lat)
        reps = len(l0.get("runs") or [1])
        out.append(f"**Latency** ({l0['size']}-byte round trips on one connection, {l0['count']} after warm-up, "
                   f"{'median of ' + str(reps) + ' runs, ' if reps > 1 else ''}µs; "
                   f"placement: {l0.get('placement', '?')}" + ("; 'split' as for throughput"
                                                                if split else "") + ")")
        out.append("")
        out.append("| path | legs | p50 | p99 | p50 × direct | p99 × direct | p50 × socat same legs |"
                   + (" split p50 | split p99 |" if split else ""))
        out.append("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if split else ""))
        for name, p in lat:
            d = der[name]
            sp = p["latency"].get("split") or {}
            out.append(f"| {name} | {p['legs']} | {_f(p['latency']['p50_us'])} | {_f(p['latency']['p99_us'])} | "
                       f"{_f(d.get('p50_us_x_direct'), '{:.2f}')} | {_f(d.get('p99_us_x_direct'), '{:.2f}')} | "
                       f"{_f(d.get('p50_us_x_socat'), '{:.2f}')} |"
                       + (f" {_f(sp.get('p50_us'))} | {_f(sp.get('p99_us'))} |" if split else ""))
        out.append("")
    conn = [(n, p) for n, p in paths.items() if p.get("connrate") or p.get("memory")]
    if conn:
        c0 = next((p["connrate"] for _, p in conn if p.get("connrate")), {})
        out.append("**Connections** (setups/s: connect, 64-byte request/response, close, 16 at a time for "
                   f"{meta.get('connrate_seconds', 3):g} s, placement: {c0.get('placement', '?')}; 'split' as for "
                   "throughput; memory: 1000 idle connections, after one round trip each)")
        out.append("")
        out.append("| path | legs | setups/s | % direct | p99 setup ms | errors | forwarder CPU µs per setup "
                   "| split setups/s | KiB per idle connection | measured as |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, p in conn:
            c = p.get("connrate") or {}
            m = p.get("memory") or {}
            errs = sum((c.get("errors") or {}).values()) if c else None
            out.append(f"| {name} | {p['legs']} | {_f(c.get('per_second'), '{:.0f}')} | "
                       f"{_f(der[name].get('conn_pct_direct'), '{:.0f}', '%')} | {_f(c.get('p99_ms'), '{:.2f}')} | "
                       f"{'-' if errs is None else errs} | {_f(c.get('cpu_us_per_conn'), '{:.0f}')} | "
                       f"{_f((c.get('split') or {}).get('per_second'), '{:.0f}')} | "
                       f"{_f(m.get('kib_per_conn'), '{:.1f}')} | {m.get('method', '-')} |")
        out.append("")
    sec = [(n, p) for n, p in paths.items() if p.get("kind") == "secure portal"]
    if sec:
        out.append("**Secure portal against the plaintext portal with the same legs** (same run, same placements; "
                   "CPU: forwarder CPU seconds per GiB, × the plaintext portal's)")
        out.append("")
        out.append("| path | legs | 1 stream | % plaintext | 8 streams | % plaintext | CPU s/GiB 1 / 8 | CPU × plaintext "
                   "1 / 8 | p50 RTT µs | × plaintext | setups/s | % plaintext | KiB per idle connection |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, p in sec:
            d = der[name]
            pn = plain_for(name, p)
            out.append(
                f"| {name} (vs {pn}) | {p['legs']} | {_f(_get(p, 'throughput', '1', 'gbit_s'), '{:.2f}')} | "
                f"{_f(d.get('tp1_pct_plain'), '{:.0f}', '%')} | {_f(_get(p, 'throughput', '8', 'gbit_s'), '{:.2f}')} | "
                f"{_f(d.get('tp8_pct_plain'), '{:.0f}', '%')} | "
                f"{_f(_get(p, 'throughput', '1', 'cpu_s_per_gib'), '{:.2f}')} / "
                f"{_f(_get(p, 'throughput', '8', 'cpu_s_per_gib'), '{:.2f}')} | "
                f"{_f(d.get('cpu1_x_plain'), '{:.2f}')} / {_f(d.get('cpu8_x_plain'), '{:.2f}')} | "
                f"{_f(_get(p, 'latency', 'p50_us'))} | {_f(d.get('p50_us_x_plain'), '{:.2f}')} | "
                f"{_f(_get(p, 'connrate', 'per_second'), '{:.0f}')} | {_f(d.get('conn_pct_plain'), '{:.0f}', '%')} | "
                f"{_f(_get(p, 'memory', 'kib_per_conn'), '{:.1f}')} |")
        out.append("")
    hs = res.get("handshakes")
    if hs:
        if hs.get("error"):
            out.append(f"**Secure channel handshakes**: unavailable: {hs['error'][:200]}")
        else:
            r0 = (hs.get("runs") or [{}])[0]
            out.append(f"**Secure channel handshakes** (a node process opens Noise XX channels to another's `api` "
                       f"listener for {r0.get('seconds', 0):.0f} s and closes each once open; {hs['placement']}; "
                       "CPU: both processes)")
            out.append("")
            out.append("| opened | channels/s | p50 ms | p99 ms | errors | CPU used | CPU µs per channel | open after "
                       "(initiator / responder) | RSS both, MiB before -> after |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for x in hs.get("runs", []):
                how = "one after another" if x["concurrency"] == 1 else f"{x['concurrency']} at a time"
                out.append(f"| {how} | {x['per_second']:.0f} | {_f(x.get('p50_ms'), '{:.2f}')} | "
                           f"{_f(x.get('p99_ms'), '{:.2f}')} | {sum(x['errors'].values())} | "
                           f"{_f((x.get('cpu_share') or 0) * 100, '{:.0f}', '%')} | "
                           f"{_f(x.get('cpu_us_per_channel'), '{:.0f}')} | {x['open_after']} / "
                           f"{x['responder_open_after']} | {x['rss_before'] / 2**20:.1f} -> "
                           f"{x['rss_after'] / 2**20:.1f} |")
        out.append("")
    out += peers_table(res)
    if res.get("targets"):
        out.append("**Targets**")
        out.append("")
        out.append("| target | path | measured | verdict |")
        out.append("|---|---|---:|---|")
        for t in res["targets"]:
            unit = t["unit"]
            val = _f(t["value"], "{:.0f}" if unit in ("%", "/s") else "{:.2f}", unit if unit in ("%", "x") else " " + unit)
            verdict = "n/a" if t["pass"] is None else ("PASS" if t["pass"] else "MISS")
            out.append(f"| {t['target']} | {t['path']} | {val} | {verdict} |")
        out.append("")
    notes = res.get("notes") or []
    for n in notes:
        out.append(f"- {n}")
    return "\n".join(out).rstrip() + "\n"


def peers_table(res: Dict[str, Any]) -> List[str]:
    """Markdown: our portal paths and the peers, 3 legs then 4, beside socat and Ockam with the same legs."""
    paths, der = res["paths"], res["derived"]
    peers = res.get("peers") or {}
    if not peers:
        return []
    out = ["**Side by side with the peers** (same run, same load tools and placements; × socat: the socat chain "
           "with the same legs; × Ockam: Ockam 0.139 on the same topology, else with the same legs)", "",
           "| path | topology | legs | 1 stream Gbit/s | % socat | × Ockam | 8 streams Gbit/s | % socat | × Ockam "
           "| p50 RTT µs | × socat | × Ockam | setups/s | × Ockam |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for legs in (3, 4):
        rows = [n for n, p in paths.items() if p.get("legs") == legs and p.get("kind") in ("reference", "portal", "peer")]
        for name in rows:
            p, d = paths[name], der[name]
            if p.get("error") and not p.get("throughput"):
                out.append(f"| {name} | {p.get('topology') or ''} | {legs} | unavailable: {p['error'][:100]} "
                           "| | | | | | | | | | |")
                continue
            cells = [name, p.get("topology") or "", str(legs)]
            for s in STREAMS:
                cells += [_f(_get(p, "throughput", s, "gbit_s"), "{:.2f}"), _f(d.get(f"tp{s}_pct_socat"), "{:.0f}", "%"),
                          _f(d.get(f"tp{s}_x_ockam"), "{:.2f}")]
            cells += [_f(_get(p, "latency", "p50_us")), _f(d.get("p50_us_x_socat"), "{:.2f}"),
                      _f(d.get("p50_us_x_ockam"), "{:.2f}"), _f(_get(p, "connrate", "per_second"), "{:.0f}"),
                      _f(d.get("conn_x_ockam"), "{:.2f}")]
            out.append("| " + " | ".join(cells) + " |")
        if legs == 4:
            for name, info in peers.items():
                if info.get("four_legs"):
                    out.append(f"| {name} | not applicable: no inlet side (below) | 4 | | | | | | | | | | | |")
    out.append("")
    for name, info in peers.items():
        what = info.get("error") and f"unavailable: {info['error']}" or f"{info.get('version') or info['pinned']}"
        notes = "; ".join(info.get("notes") or [])
        out.append(f"- {name} {info['pinned']} ({info['source']}): {what}" + (f"; {notes}" if notes else ""))
        if info.get("four_legs"):
            out.append(f"  - {name}, 4 legs: {info['four_legs']}.")
    out.append("")
    return out


def write_json(res: Dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(res, f, indent=2, sort_keys=False)
        f.write("\n")


PLOT_ORDER = ("direct", "socat 2 legs", "socat 3 legs", "ssh -R", "portal 1-hop", "secure portal 1-hop",
              "portal, inlet on relay", "ockam 3 legs", "rathole", "bore", "socat 4 legs", "portal via relay",
              "secure portal via relay", "ockam via relay")


def plot(res: Dict[str, Any], path: str) -> Optional[str]:
    """Throughput as % of direct, socat chains beside the portal paths with the same legs."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"no plot: {e}"
    der = res["derived"]
    names = [n for n in PLOT_ORDER if n in res["paths"]] + [n for n in res["paths"] if n not in PLOT_ORDER]
    streams = [s for s in STREAMS if any(_get(res["paths"][n], "throughput", s) for n in names)]
    fig, ax = plt.subplots(figsize=(max(12, len(names) * 0.95), 4.8), dpi=110)
    width = 0.8 / max(1, len(streams))
    colors = {"reference": ("#9aa5b1", "#52606d"), "portal": ("#f0a35e", "#c2571a"), "direct": ("#7cc48b", "#2f8a44"),
              "secure portal": ("#b39ddb", "#5e35b1"), "peer": ("#90caf9", "#1565c0"),
              "udp portal": ("#ffe082", "#f9a825")}
    for i, s in enumerate(streams):
        xs, ys, cs = [], [], []
        for j, n in enumerate(names):
            v = der[n].get(f"tp{s}_pct_direct")
            if v is None:
                continue
            kind = "direct" if n == "direct" else res["paths"][n].get("kind", "reference")
            xs.append(j + (i - (len(streams) - 1) / 2) * width)
            ys.append(v)
            cs.append(colors[kind][i % 2])
        bars = ax.bar(xs, ys, width * 0.95, color=cs, label=f"{s} stream{'s' if s != '1' else ''}")
        for x, y in zip(xs, ys):
            ax.text(x, y + 1, f"{y:.0f}", ha="center", va="bottom", fontsize=8)
        del bars
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n.replace('secure portal ', 'secure portal' + chr(10)).replace(', ', ',' + chr(10))}\n({res['paths'][n]['legs']} leg{'s' if res['paths'][n]['legs'] > 1 else ''})"
                        for n in names], fontsize=8)
    ax.set_ylabel("throughput, % of direct (same run)")
    d = res["paths"].get("direct", {})
    sub = ", ".join(f"{s} stream{'s' if s != '1' else ''} {(_get(d, 'throughput', s, 'gbit_s') or 0):.1f} Gbit/s"
                    for s in streams)
    ax.set_title(f"iperf3 over loopback: portal paths beside socat chains and peers with the same legs\n(direct = 100%: {sub})",
                 fontsize=10)
    ax.axhline(100, color="#2f8a44", lw=0.8, ls=":")
    ax.set_ylim(0, max(110, max((der[n].get("tp1_pct_direct") or 0) for n in names) + 15))
    from matplotlib.patches import Patch

    handles = [Patch(color=colors["direct"][0], label="direct"), Patch(color=colors["reference"][0], label="socat / ssh"),
               Patch(color=colors["portal"][0], label="ockam_py portal")]
    if any(res["paths"][n].get("kind") == "secure portal" for n in names):
        handles.append(Patch(color=colors["secure portal"][0], label="ockam_py portal, secure channel"))
    if len(streams) > 1:
        handles.append(Patch(facecolor="white", edgecolor="black", label="light: 1 stream, dark: 8 streams"))
    if any(res["paths"][n].get("kind") == "udp portal" for n in names):
        handles.append(Patch(color=colors["udp portal"][0], label="ockam_py portal, UDP leg"))
    if any(res["paths"][n].get("kind") == "peer" for n in names):
        handles.append(Patch(color=colors["peer"][0], label="peers: Ockam 0.139, rathole, bore"))
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None
