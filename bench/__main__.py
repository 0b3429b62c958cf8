"""python3 -m bench [--quick] [--peers]: portal paths against direct TCP, socat chains, ssh -R and peers.

One run measures, on 127.0.0.1 only:
  throughput   iperf3, 1 stream and -P 8, through every path;
  latency      p50/p99 of 64-byte round trips (2000 after 200 warm-up);
  setup rate   connections/s, each one 64-byte request/response, 16 at a time;
  memory       per idle connection, 1000 of them open;
  CPU          seconds of the forwarding processes per GiB moved;
  handshakes   secure channels/s between two node processes on one CPU.
The portal paths run plaintext and through a secure channel (/secure/api), side by side, and the
1-hop portal also with its middle leg over UDP.
--peers adds the tunnels users would pick instead, built when missing (bench/peers.py): Ockam 0.139,
rathole and bore, on the same topologies (3 legs; the walkthrough's 4 legs).
Writes bench/results/latest.{json,md,png} (--quick: quick.*; --stem NAME: NAME.*) and fails (exit 1)
when a target met in the committed bench/results/latest.json regresses beyond the noise band (bench/gate.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

from . import deps, gate, peers, procs, report
from .paths import (REPO, Direct, Handshakes, NodePath, Path, Portal1Hop, PortalUdpLeg, RelayChain, RelayInlet,
                    SecurePortal1Hop, SecureRelayChain, SocatChain, SshR)
from .procs import BenchError

HERE = os.path.dirname(os.path.abspath(__file__))
IDLE_CONNS = 1000
HANDSHAKE_CONCURRENCY = (1, 16)  # one after another; 16 at a time


def log(msg: str) -> None:
    print(msg, flush=True)


def _loadgen(*args: str, timeout: float, cpus: Optional[str] = None) -> dict:
    """Runs a load generator: bench/netload.c when built, else bench/loadgen.py. Returns its JSON."""
    if NETLOAD["path"] and args[0] in ("pingpong", "connrate"):
        names = {"pingpong": ("--port", "--count", "--warmup", "--size"),
                 "connrate": ("--port", "--seconds", "--concurrency", "--size")}[args[0]]
        opts = dict(zip(args[1::2], args[2::2]))
        cmd = [NETLOAD["path"], args[0], *(opts[k] for k in names)]
    else:
        cmd = [sys.executable, "-m", "bench.loadgen", *args]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError(f"{args[0]} failed: {r.stderr.strip()[-600:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


NETLOAD: Dict[str, Optional[str]] = {"path": None, "why": None}


def build_netload(tmp: str) -> None:
    """Compiles bench/netload.c (the C load generator and echo target); Python's loadgen if that fails."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        NETLOAD["why"] = "no C compiler: Python load generators (their overhead inflates direct RTT)"
        return
    out = os.path.join(tmp, "netload")
    r = subprocess.run([cc, "-std=c11", "-O2", "-o", out, os.path.join(HERE, "netload.c")], capture_output=True,
                       text=True)
    if r.returncode != 0:
        NETLOAD["why"] = f"netload.c did not build ({r.stderr.strip()[-200:]}): Python load generators"
        return
    NETLOAD["path"] = out


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        self.args = args
        self.tmp = tmp
        self.quick = args.quick
        n = os.cpu_count() or 1
        if args.no_pin or n < 2:
            self.fwd_cpus: Optional[str] = None
            self.load_cpu: Optional[int] = None
            self.pinning = "no CPU pinning"
        else:
            self.load_cpu = load = n - 1
            self.fwd_cpus = "0" if n == 2 else f"0-{n - 2}"
            os.sched_setaffinity(0, {load})  # every child not started with taskset inherits this
            self.pinning = (f"throughput: load generators (iperf3) and targets on CPU {load}, forwarders on CPU "
                            f"{self.fwd_cpus} ('split'); latency: everything on CPU 0 (and split); setup rate: "
                            f"unpinned (and split)")
        self.iperf_port = procs.free_port()
        self.echo_port = procs.free_port()
        self.once_port = procs.free_port()
        self.targets = {"iperf": self.iperf_port, "echo": self.echo_port, "once": self.once_port}
        self.echo: Optional[subprocess.Popen] = None
        self.listen_overflows = 0

    # ---- targets ----

    def start_echo(self) -> None:
        if NETLOAD["path"]:
            cmd = [NETLOAD["path"], "echo", str(self.echo_port), str(self.once_port), "64"]
        else:
            cmd = [sys.executable, "-m", "bench.loadgen", "echo", "--port", str(self.echo_port),
                   "--once-port", str(self.once_port)]
        self.echo = procs.spawn(cmd, cwd=REPO, stderr=None)
        procs.wait_listening(self.echo_port, proc=self.echo)
        procs.wait_listening(self.once_port, proc=self.echo)

    def iperf(self, path: Path, streams: int) -> dict:
        server = procs.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(self.iperf_port)])
        of0 = procs.listen_overflows()
        try:
            procs.wait_listening(self.iperf_port, proc=server)
            path.settle()
            cpu0 = path.cpu()
            t = self.args.seconds
            r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(path.ports["iperf"]), "-t", f"{t:g}",
                                "-P", str(streams), "-J", "--connect-timeout", "5000"],
                               capture_output=True, text=True, timeout=t + 30)
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                pass
            path.settle()
            cpu1 = path.cpu()
        finally:
            procs.stop(server)
        try:
            j = json.loads(r.stdout)
        except json.JSONDecodeError:
            raise BenchError(f"iperf3: {r.stderr.strip() or r.stdout.strip()[:300]}") from None
        if j.get("error"):
            raise BenchError(f"iperf3: {j['error']}")
        recv = j["end"]["sum_received"]
        nbytes = int(recv["bytes"])
        cpu = cpu1 - cpu0
        return {
            "streams": streams,
            "gbit_s": recv["bits_per_second"] / 1e9,
            "bytes": nbytes,
            "seconds": recv["seconds"],
            "retransmits": j["end"].get("sum_sent", {}).get("retransmits"),
            "cpu_s": cpu if path.name != "direct" else None,
            "cpu_s_per_gib": cpu / (nbytes / 2**30) if nbytes and path.name != "direct" else None,
            "listen_overflows": procs.listen_overflows() - of0,
        }

    # Placements: "split" (the default: forwarders on CPU 0, the ends - load generator and echo target - on
    # the last CPU), "one" (everything on CPU 0), "free" (no pinning at all). Returns the CPUs for the client.
    def place(self, path: Path, mode: str) -> Optional[str]:
        if self.load_cpu is None:
            return None
        every = set(range(os.cpu_count() or 1))
        fwd = {int(c) for c in self.fwd_cpus.split("-")} if "-" not in self.fwd_cpus else set(
            range(int(self.fwd_cpus.split("-")[0]), int(self.fwd_cpus.split("-")[1]) + 1))
        ends = {self.load_cpu}
        if mode == "one":
            fwd = ends = {0}
        elif mode == "free":
            fwd = ends = every
        procs.set_affinity(path.all_pids(), fwd)
        procs.set_affinity([self.echo.pid], ends)
        return ",".join(str(c) for c in sorted(ends))

    def _placed(self, path: Path, mode: str, fn: Callable[[Optional[str]], dict]) -> dict:
        of0 = procs.listen_overflows()
        try:
            r = fn(self.place(path, mode))
        finally:
            self.place(path, "split")
        r["listen_overflows"] = procs.listen_overflows() - of0
        r["placement"] = {"one": "one CPU", "free": "unpinned", "split": "split"}[mode] if self.load_cpu is not None \
            else "unpinned"
        return r

    def _pingpong(self, path: Path, cpus: Optional[str]) -> dict:
        return _loadgen("pingpong", "--port", str(path.ports["echo"]), "--count", "2000", "--warmup", "200",
                        "--size", "64", timeout=60, cpus=cpus)

    def latency(self, path: Path) -> dict:
        """RTT with everything on one CPU (headline), and with the ends on the other CPU ('split').

        A round trip is a chain of wakeups with nothing to overlap, and in this VM a wakeup
        across CPUs costs tens of µs, so the one-CPU figure is the one that measures the path.
        """
        runs = [self._placed(path, "one", lambda cpus: self._pingpong(path, cpus)) for _ in range(3)]
        r = dict(runs[0])
        for q in ("p50_us", "p90_us", "p99_us", "mean_us"):  # median of three runs, each figure on its own
            r[q] = sorted(x[q] for x in runs)[1]
        r["min_us"] = min(x["min_us"] for x in runs)
        r["max_us"] = max(x["max_us"] for x in runs)
        r["runs"] = [{"p50_us": x["p50_us"], "p99_us": x["p99_us"]} for x in runs]
        if self.load_cpu is not None:
            r["split"] = self._placed(path, "split", lambda cpus: self._pingpong(path, cpus))
        return r

    def _connrate(self, path: Path, cpus: Optional[str]) -> dict:
        s = self.args.connrate_seconds
        path.settle()
        cpu0 = path.cpu()
        r = _loadgen("connrate", "--port", str(path.ports["once"]), "--seconds", f"{s:g}", "--concurrency", "16",
                     "--size", "64", timeout=s + 30, cpus=cpus)
        path.settle()
        cpu = path.cpu() - cpu0
        if path.name != "direct" and r["connections"]:
            r["cpu_s"] = cpu
            r["cpu_us_per_conn"] = cpu / r["connections"] * 1e6
        return r

    def connrate(self, path: Path) -> dict:
        """Setups/s with nothing pinned (headline: the scheduler may use every CPU for every process, which
        is what setup-heavy loads get), and 'split' as for throughput."""
        r = self._placed(path, "free", lambda cpus: self._connrate(path, cpus))
        if self.load_cpu is not None:
            r["split"] = self._placed(path, "split", lambda cpus: self._connrate(path, cpus))
        return r

    def idle_memory(self, path: Path) -> dict:
        """Fresh path: memory of its processes with IDLE_CONNS idle connections, minus before, per connection."""
        path.start({"echo": self.echo_port})
        hold = None
        try:
            # warm up: a few connections with traffic, then let everything close
            _loadgen("pingpong", "--port", str(path.ports["echo"]), "--count", "200", "--warmup", "0",
                     "--size", "64", timeout=30)
            time.sleep(0.3)
            path.settle()
            base = path.memory()
            base_procs = len([pid for p in path.procs for pid in procs.tree(p.pid)])
            hold = procs.spawn([sys.executable, "-m", "bench.loadgen", "hold", "--port", str(path.ports["echo"]),
                                "--count", str(IDLE_CONNS)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=None)
            from .paths import LineReader

            held = json.loads(LineReader(hold).expect("HELD", 120, "hold"))
            time.sleep(0.5)
            open_now = path.open_connections() if isinstance(path, NodePath) else None
            after = path.memory()
            n = held["held"]
            out = {
                "connections": n,
                "errors": held["errors"],
                "open_seconds": held["seconds"],
                "bytes_before": base,
                "bytes_after": after,
                "kib_per_conn": (after - base) / n / 1024 if n else None,
                "method": "RSS of the node processes" if isinstance(path, NodePath) else "PSS of all its processes",
                "portal_open": open_now,
                "processes_before": base_procs,
                "processes_after": len([pid for p in path.procs for pid in procs.tree(p.pid)]),
            }
            return out
        finally:
            if hold is not None:
                procs.stop(hold)
            path.stop()

    def handshakes(self) -> dict:
        """Secure channels/s from one node process to another's api listener, both on one CPU."""
        cpu = 0 if self.load_cpu is not None else None
        seconds = 1.0 if self.quick else self.args.connrate_seconds
        log(f"-- secure channel handshakes ({seconds:g} s each: one after another, "
            f"{HANDSHAKE_CONCURRENCY[-1]} at a time; " + ("both nodes on CPU 0)" if cpu is not None else "unpinned)"))
        r = Handshakes(cpu, self.tmp).run(seconds, list(HANDSHAKE_CONCURRENCY))
        for x in r["runs"]:
            errs = sum(x["errors"].values())
            log(f"  {x['concurrency']:2} at a time: {x['per_second']:.0f} channels/s ({x['channels']} in "
                f"{x['seconds']:.1f} s, p50 {x['p50_ms']:.2f} ms, {errs} errors), {x['cpu_share'] * 100:.0f}% of a "
                f"CPU, {x['cpu_us_per_channel'] or 0:.0f} CPU µs per channel (both ends); open after: "
                f"{x['open_after']} / {x['responder_open_after']}; RSS {x['rss_before'] / 2**20:.1f} -> "
                f"{x['rss_after'] / 2**20:.1f} MiB")
        best = max(r["runs"], key=lambda x: x["per_second"])
        r["per_second"] = best["per_second"]
        r["best_concurrency"] = best["concurrency"]
        return r

    # ---- the paths ----

    def revive(self, path: Path, out: Dict[str, Any]) -> None:
        """Starts a path again when one of its processes has exited (on a shared machine something else may
        kill it) or a 64-byte message no longer comes back through it; each restart is logged and kept in
        the results as "restarts"."""
        why = ", ".join(path.dead())
        if not why and "echo" in path.ports:
            try:
                peers.probe_echo(path.ports["echo"], timeout=5)
                return
            except BenchError as e:
                why = f"{e}; {path.diagnose()}".rstrip("; ")
        if not why:
            return
        log(f"  {path.name}: {why}: starting it again")
        out.setdefault("restarts", []).append(why)
        path.stop()
        try:
            path.start(self.targets)
            self.place(path, "split")
        except BenchError as e:
            log(f"  {path.name}: did not start again: {e}")

    def measure_all(self, plan: List[tuple]) -> Dict[str, Dict[str, Any]]:
        """Starts every path, runs the iperf3 passes interleaved (path after path, `reps` times, so a
        change in the machine's load hits all paths alike), then latency and setup rate path by path."""
        res: Dict[str, Dict[str, Any]] = {}
        live: List[tuple] = []
        try:
            for path, what in plan:
                out: Dict[str, Any] = {"legs": path.legs, "kind": path.kind, "topology": path.topology, "error": None,
                                       "throughput": {}}
                if getattr(path, "plain", None):
                    out["plain"] = path.plain  # the plaintext portal path it is compared with
                res[path.name] = out
                try:
                    path.start(self.targets)
                    live.append((path, what))
                except BenchError as e:
                    out["error"] = str(e)
                    log(f"  {path.name}: unavailable: {e}")
            of0 = procs.listen_overflows()
            runs: Dict[tuple, List[dict]] = {}
            for rep in range(self.args.reps):
                log(f"-- iperf3 pass {rep + 1}/{self.args.reps}")
                for path, _ in live:
                    self.revive(path, res[path.name])
                    for streams in self.args.streams:
                        try:
                            r = self.iperf(path, streams)
                        except (BenchError, subprocess.TimeoutExpired) as e:
                            res[path.name]["error"] = f"iperf3 -P {streams}: {e}"
                            log(f"  {path.name}: iperf3 -P {streams} failed: {e}")
                            continue
                        runs.setdefault((path.name, streams), []).append(r)
                        cpu = "" if r["cpu_s_per_gib"] is None else f", forwarders {r['cpu_s_per_gib']:.2f} CPU s/GiB"
                        log(f"  {path.name:23} -P {streams}: {r['gbit_s']:6.2f} Gbit/s{cpu}")
            for (name, streams), rs in runs.items():
                res[name]["throughput"][str(streams)] = summarize(rs)
            log("-- latency and connection setup rate")
            for path, what in live:
                self.revive(path, res[path.name])
                if what.get("latency"):
                    try:
                        res[path.name]["latency"] = r = self.latency(path)
                        sp = r.get("split")
                        split = f" (ends on the other CPU: p50 {sp['p50_us']:.1f}, p99 {sp['p99_us']:.1f})" if sp else ""
                        log(f"  {path.name:23} RTT p50 {r['p50_us']:.1f} µs, p99 {r['p99_us']:.1f} µs{split}")
                    except (BenchError, subprocess.TimeoutExpired) as e:
                        res[path.name]["error"] = f"latency: {e}"
                        log(f"  {path.name}: latency failed: {e}")
                if what.get("connrate"):
                    try:
                        res[path.name]["connrate"] = r = self.connrate(path)
                        errs = sum(r["errors"].values())
                        cpu = f", forwarders {r['cpu_us_per_conn']:.0f} CPU µs each" if r.get("cpu_us_per_conn") else ""
                        sp = r.get("split")
                        split = f"; split: {sp['per_second']:.0f}/s" if sp else ""
                        log(f"  {path.name:23} {r['per_second']:.0f} connection setups/s (p99 {r['p99_ms']:.2f} ms, "
                            f"{errs} errors{cpu}){split}")
                    except (BenchError, subprocess.TimeoutExpired) as e:
                        res[path.name]["error"] = f"connrate: {e}"
                        log(f"  {path.name}: connection rate failed: {e}")
            self.listen_overflows = procs.listen_overflows() - of0
        finally:
            for path, _ in live:
                path.stop()
        return res


def summarize(rs: List[dict]) -> dict:
    """The median run of several iperf3 runs (by throughput), with every run's figure beside it."""
    order = sorted(rs, key=lambda r: r["gbit_s"])
    med = dict(order[(len(order) - 1) // 2]) if len(order) % 2 else dict(order[len(order) // 2])
    if len(order) % 2 == 0 and len(order) > 1:  # even: mean of the middle two
        a, b = order[len(order) // 2 - 1], order[len(order) // 2]
        med["gbit_s"] = (a["gbit_s"] + b["gbit_s"]) / 2
        if a.get("cpu_s_per_gib") is not None and b.get("cpu_s_per_gib") is not None:
            med["cpu_s_per_gib"] = (a["cpu_s_per_gib"] + b["cpu_s_per_gib"]) / 2
    med["runs_gbit_s"] = [round(r["gbit_s"], 3) for r in rs]
    med["runs_cpu_s_per_gib"] = [None if r["cpu_s_per_gib"] is None else round(r["cpu_s_per_gib"], 3) for r in rs]
    med["runs_listen_overflows"] = [r.get("listen_overflows", 0) for r in rs]
    return med


def overflow_steps(paths: Dict[str, Dict[str, Any]]) -> List[str]:
    """Which measurements saw TcpExtListenOverflows go up, e.g. 'portal 1-hop connrate +12'."""
    out = []
    for name, p in paths.items():
        for s, t in (p.get("throughput") or {}).items():
            runs = t.get("runs_listen_overflows") or []
            if sum(runs):
                out.append(f"{name} iperf3 -P {s} +{sum(runs)}")
        for kind in ("latency", "connrate"):
            r = p.get(kind) or {}
            for label, x in (("", r), (" split", r.get("split") or {})):
                if x.get("listen_overflows"):
                    out.append(f"{name} {kind}{label} +{x['listen_overflows']}")
    return out


def git_commit() -> Optional[str]:
    try:
        r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "csrc", "ockam_py"],
                               capture_output=True, text=True).stdout.strip()
        return r.stdout.strip() + ("+dirty" if dirty else "") if r.returncode == 0 else None
    except OSError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def build_peers(args: argparse.Namespace) -> Dict[str, peers.Built]:
    """Builds (or finds in the cache) every peer; one that does not build is reported and left out."""
    built: Dict[str, peers.Built] = {}
    if not args.peers:
        return built
    log("-- peers: " + ", ".join(f"{p.name} {p.version}" for p in peers.PEERS))
    for p in peers.PEERS:
        b = built[p.name] = peers.build(p, say=log)
        log(f"  {p.name}: " + (b.path or f"unavailable: {b.error}") + (f" ({b.version})" if b.version else ""))
    return built


def peer_info(built: Dict[str, peers.Built]) -> Dict[str, Any]:
    """The JSON's "peers": version pinned, binary, why one is missing, and what stands for its 4-leg path."""
    out: Dict[str, Any] = {}
    for name, b in built.items():
        source = b.peer.note or f"cargo install {b.peer.crate}@{b.peer.version} {' '.join(b.peer.cargo_args)}".strip()
        out[name] = {"pinned": b.peer.version, "source": source, "binary": b.path, "version": b.version,
                     "error": b.error, "notes": b.notes,
                     "four_legs": None if name == "ockam" else peers.NOT_APPLICABLE_4_LEGS}
    return out


def peer_paths(built: Dict[str, peers.Built], legs: int, fwd_cpus: Optional[str], tmp: str) -> List[Path]:
    """The peers' paths with ``legs`` legs whose binaries are there (rathole and bore have 3-leg ones only)."""
    out: List[Path] = []
    ok = {n: b.path for n, b in built.items() if b.path}
    if "ockam" in ok:
        out.append(peers.OckamPath(legs, ok["ockam"], fwd_cpus, tmp))
    if legs == 3 and "rathole" in ok:
        out.append(peers.RatholePath(ok["rathole"], fwd_cpus, tmp))
    if legs == 3 and "bore" in ok:
        out.append(peers.BorePath(ok["bore"], fwd_cpus, tmp))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: 1 stream of direct, socat 3 legs, 1-hop "
                    "portal, and the portal's p50 RTT")
    ap.add_argument("--seconds", type=float, default=None, help="iperf3 -t (default 4; --quick 3)")
    ap.add_argument("--reps", type=int, default=None, help="iperf3 passes over all paths (default 3; --quick 2)")
    ap.add_argument("--connrate-seconds", type=float, default=3.0)
    ap.add_argument("--no-pin", action="store_true", help="don't pin load generators and forwarders apart")
    ap.add_argument("--no-install", action="store_true", help="don't apt-get/pip install missing tools")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory")
    ap.add_argument("--stem", help="results file names, STEM.{json,md,png} (default latest; --quick: quick)")
    ap.add_argument("--peers", action="store_true", help="also Ockam 0.139, rathole and bore on the same topologies "
                    "(built into ~/.cache when missing)")
    ap.add_argument("--no-gate", action="store_true", help="don't fail on targets regressed against the committed "
                    "bench/results/latest.json")
    ap.add_argument("--noise-band", type=float, default=gate.NOISE_BAND * 100,
                    help="%% worse than the baseline a missed target may be before the run fails (default %(default)g)")
    args = ap.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 4.0)
    args.streams = (1,) if args.quick else (1, 8)
    args.reps = args.reps or (2 if args.quick else 3)

    procs.install_cleanup()
    procs.raise_nofile(20000)
    t_start = time.monotonic()
    log(f"== ockam_py bench{' --quick' if args.quick else ''}{' --peers' if args.peers else ''} ==")
    if not args.no_install:
        have = deps.ensure(args.quick)
    else:
        have = {t: deps._have(t) for t in deps.TOOLS}
        have["matplotlib"] = deps._have_matplotlib()
    for t in deps.QUICK_TOOLS:
        if not have.get(t):
            log(f"error: {t} is required and could not be installed")
            return 2
    chk = subprocess.run([sys.executable, "-c", "import ockam_py._core"], cwd=REPO, capture_output=True, text=True)
    if chk.returncode != 0:
        log(f"error: ockam_py does not import ({chk.stderr.strip().splitlines()[-1:]}): run `pip install -e .` first")
        return 2

    built = build_peers(args)
    tmp = tempfile.mkdtemp(prefix="ockam-bench-")
    keep_tmp = False
    res: Dict[str, Any] = {}
    try:
        build_netload(tmp)
        if NETLOAD["why"]:
            log(f"note: {NETLOAD['why']}")
        b = Bench(args, tmp)
        res["meta"] = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "quick": args.quick,
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "commit": git_commit(),
            "pinning": b.pinning,
            "seconds": args.seconds,
            "connrate_seconds": args.connrate_seconds,
            "loadavg_before": loadavg(),
            "tools": {k: v for k, v in have.items()},
            "load_generator": "bench/netload.c" if NETLOAD["path"] else "bench/loadgen.py",
        }
        if built:
            res["peers"] = peer_info(built)
        log(f"{b.pinning}; load average {res['meta']['loadavg_before']}")
        b.start_echo()
        ssh = SshR(b.fwd_cpus, tmp) if not args.quick else None
        if args.quick:
            plan: List[tuple] = [
                (Direct(), {"latency": True}),
                (SocatChain(3, b.fwd_cpus), {"latency": True}),
                (Portal1Hop(b.fwd_cpus, tmp), {"latency": True}),
                (SecurePortal1Hop(b.fwd_cpus, tmp), {"latency": True}),
                (PortalUdpLeg(b.fwd_cpus, tmp), {"latency": True}),
            ]
            if built:
                plan += [(p, {"latency": True}) for p in [RelayInlet(b.fwd_cpus, tmp),
                                                          *peer_paths(built, 3, b.fwd_cpus, tmp),
                                                          SocatChain(4, b.fwd_cpus), RelayChain(b.fwd_cpus, tmp),
                                                          *peer_paths(built, 4, b.fwd_cpus, tmp)]]
        else:
            plan = [
                (Direct(), {"latency": True, "connrate": True}),
                (SocatChain(2, b.fwd_cpus), {"latency": True}),
                (SocatChain(3, b.fwd_cpus), {"latency": True, "connrate": True}),
                (SocatChain(4, b.fwd_cpus), {"latency": True}),
                (ssh, {"latency": True, "connrate": True}),
                (Portal1Hop(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                (SecurePortal1Hop(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                (PortalUdpLeg(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                (RelayInlet(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                *((p, {"latency": True, "connrate": True}) for p in peer_paths(built, 3, b.fwd_cpus, tmp)),
                (RelayChain(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                (SecureRelayChain(b.fwd_cpus, tmp), {"latency": True, "connrate": True}),
                *((p, {"latency": True, "connrate": True}) for p in peer_paths(built, 4, b.fwd_cpus, tmp)),
            ]
        try:
            log("-- starting " + ", ".join(f"{p.name} ({p.legs} leg{'s' if p.legs > 1 else ''})" for p, _ in plan))
            res["paths"] = b.measure_all(plan)
            keep_tmp = any(p.get("error") for p in res["paths"].values())
            try:
                res["handshakes"] = b.handshakes()
            except (BenchError, subprocess.TimeoutExpired, OSError, ValueError) as e:
                res["handshakes"] = {"error": str(e)}
                log(f"  handshakes failed: {e}")
                keep_tmp = True
            if not args.quick:
                mem_plan: List[Path] = [SocatChain(3, b.fwd_cpus), Portal1Hop(b.fwd_cpus, tmp),
                                        SecurePortal1Hop(b.fwd_cpus, tmp), RelayInlet(b.fwd_cpus, tmp),
                                        RelayChain(b.fwd_cpus, tmp),
                                        SecureRelayChain(b.fwd_cpus, tmp)]
                if ssh is not None and not ssh.unavailable:
                    mem_plan.insert(1, ssh)
                for path in mem_plan:
                    log(f"-- {path.name}: {IDLE_CONNS} idle connections")
                    try:
                        m = b.idle_memory(path)
                    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
                        log(f"  failed: {e}")
                        keep_tmp = True
                        continue
                    res["paths"][path.name]["memory"] = m
                    extra = "" if m["portal_open"] is None else f", inlet reports {m['portal_open']} open"
                    log(f"  {m['connections']} held ({sum(m['errors'].values())} errors){extra}: "
                        f"{m['kib_per_conn']:.1f} KiB per connection ({m['method']})")
        finally:
            if ssh is not None:
                ssh.shutdown()
        res["meta"]["loadavg_after"] = loadavg()
        res["meta"]["wall_seconds"] = round(time.monotonic() - t_start, 1)
        res["meta"]["listen_overflows"] = overflows = b.listen_overflows
        where = overflow_steps(res["paths"])
        res["notes"] = [
            "Legs: TCP connections a byte crosses (direct 1; portal 1-hop: client->inlet, inlet->outlet, "
            "outlet->server = 3; portal via relay: + n2 = 4). Each portal path is compared with the socat chain "
            "(socat -b 131072, backlog=1024, nodelay) of the same legs.",
            "Secure portal paths: the same nodes and legs as the plaintext ones, the inlet's route through "
            "/secure/api of the outlet node (via relay: n1 -> n2's forward_to_n3 -> n3's api, so n2 forwards "
            "ciphertext), one secure channel per inlet node shared by its connections, outlets that allow only "
            "the inlet node's identity. Each is compared with the plaintext portal with the same legs.",
            f"Load generator and echo target: {res['meta']['load_generator']} (the same on every path).",
            f"Throughput: median of {args.reps} interleaved iperf3 runs per cell (all runs in the JSON). "
            f"TcpExtListenOverflows during the measurements: {overflows}"
            + (f" (counted during: {', '.join(where)}; the counter is machine-wide, so other jobs count too)."
               if where else "."),
        ]
        if built:
            res["notes"].append(
                "Peers: each runs plaintext over TCP on 127.0.0.1, its processes pinned like our nodes, with the "
                "same targets and load tools. Ockam 0.139: nodes made by its CLI (`ockam node create --foreground`, "
                "`service start hop`, `tcp-outlet create`, `relay create n3 --at /node/n2 --to /node/n3`, "
                "`tcp-inlet create`); 3 legs: inlets on n2 to /service/forward_to_n3/service/hop/service/OUTLET; "
                "4 legs: the walkthrough, inlets on n1 to /node/n2/service/forward_to_n3/service/hop/service/OUTLET. "
                "rathole: server (public ports) and client (dials out), tcp transport, nodelay. bore: `bore server` "
                "and one `bore local` per target. rathole and bore have no 4-leg path: "
                + peers.NOT_APPLICABLE_4_LEGS + ".")
        report.derive(res)
        band = args.noise_band / 100
        res["gate"] = gate.check(res, REPO, band) if not args.no_gate else None
        os.makedirs(args.out, exist_ok=True)
        stem = args.stem or ("quick" if args.quick else "latest")
        md = report.markdown(res) + ("\n" + "\n".join(gate.lines(res["gate"])) if res["gate"] else "")
        report.write_json(res, os.path.join(args.out, f"{stem}.json"))
        with open(os.path.join(args.out, f"{stem}.md"), "w") as f:
            f.write(md)
        err = report.plot(res, os.path.join(args.out, f"{stem}.png"))
        log("")
        log(md)
        log(f"wrote {args.out}/{stem}.json, {stem}.md" + (f", {stem}.png" if err is None else f" ({err})") +
            f" in {res['meta']['wall_seconds']:.0f} s")
        if res["gate"] and res["gate"]["failed"]:
            log("error: a target met in the committed results regressed beyond the noise band (see above)")
            return 1
        return 0
    finally:
        procs.kill_all()
        if keep_tmp:
            log(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
