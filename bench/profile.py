"""Where the portal nodes spend CPU: perf (cpu-clock samples) on the node processes under load.

    python3 -m bench.profile [connrate|latency|throughput ...] [--path 1-hop|relay] [--seconds 4]

Starts the same 1-hop portal (or relay chain) as `python3 -m bench`, with the
same pinning, runs each workload while `perf record` samples the node
processes, and prints per node: user/system CPU, the share of samples per
shared object (kernel, _core.so, libuv, libc, python) and the top symbols.
Needs `perf` (Debian: linux-perf); the C extension keeps its symbols.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, Tuple

from . import procs
from .__main__ import NETLOAD, _loadgen, build_netload
from .paths import REPO, Portal1Hop, RelayChain
from .procs import BenchError


def _stat(pid: int) -> Tuple[float, float]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / procs.CLK_TCK, int(fields[12]) / procs.CLK_TCK


def _dso_group(dso: str) -> str:
    if dso.startswith("[kernel") or dso == "[vdso]":
        return "kernel"
    base = os.path.basename(dso)
    if base.startswith("_core"):
        return "_core.so (csrc/)"
    if "libuv" in base:
        return "libuv"
    if base.startswith("libc") or base.startswith("ld-linux"):
        return "libc"
    if "python" in base:
        return "python"
    return base or "?"


def report(data: str, pids: Dict[int, str], top: int) -> None:
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-F", "pid,dso,sym,period",
                        "-t", "\t", "--percent-limit", "0"], capture_output=True, text=True)
    per: Dict[str, Dict[Tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for line in r.stdout.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 4:
            continue
        pidcol, dso, sym, period = parts[0], parts[1], parts[2], parts[3]
        try:
            pid = int(pidcol.split(":", 1)[0])
            n = int(period)
        except ValueError:
            continue
        name = pids.get(pid, f"pid {pid}")
        sym = sym.replace("[k] ", "").replace("[.] ", "")
        per[name][(dso, sym)] += n
    for name, syms in per.items():
        total = sum(syms.values()) or 1
        groups: Dict[str, int] = defaultdict(int)
        for (dso, _), n in syms.items():
            groups[_dso_group(dso)] += n
        print(f"  {name}: " + ", ".join(f"{g} {n * 100 / total:.0f}%" for g, n in
                                        sorted(groups.items(), key=lambda kv: -kv[1])))
        for (dso, sym), n in sorted(syms.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {n * 100 / total:5.1f}%  {_dso_group(dso):17} {sym}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.profile")
    ap.add_argument("workloads", nargs="*", default=["connrate", "latency", "throughput"])
    ap.add_argument("--path", choices=("1-hop", "relay"), default="1-hop")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--streams", type=int, default=1, help="iperf3 -P for the throughput workload")
    args = ap.parse_args(argv)
    if not shutil.which("perf"):
        print("perf not found: apt-get install linux-perf", file=sys.stderr)
        return 2
    procs.install_cleanup()
    procs.raise_nofile(20000)
    tmp = tempfile.mkdtemp(prefix="ockam-profile-")
    try:
        build_netload(tmp)
        n = os.cpu_count() or 1
        fwd = "0" if n >= 2 else None
        if n >= 2:
            os.sched_setaffinity(0, {n - 1})
        ports = {k: procs.free_port() for k in ("iperf", "echo", "once")}
        if NETLOAD["path"]:
            echo = procs.spawn([NETLOAD["path"], "echo", str(ports["echo"]), str(ports["once"]), "64"])
        else:
            echo = procs.spawn([sys.executable, "-m", "bench.loadgen", "echo", "--port", str(ports["echo"]),
                                "--once-port", str(ports["once"])], cwd=REPO)
        procs.wait_listening(ports["once"], proc=echo)
        iperf = procs.spawn(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(ports["iperf"])])
        procs.wait_listening(ports["iperf"], proc=iperf)
        path = Portal1Hop(fwd, tmp) if args.path == "1-hop" else RelayChain(fwd, tmp)
        path.start(ports)
        names = {nd.pid: (nd.proc.args[nd.proc.args.index("--name") + 1]) for nd in path.nodes}
        threads = {}  # perf reports thread ids
        for pid, nm in names.items():
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    comm = f.read().strip()
                threads[int(tid)] = f"node {nm}" + ("" if int(tid) == pid else f" thread {tid} ({comm})")
        for wl in args.workloads:
            data = os.path.join(tmp, f"{wl}.data")
            before = {pid: _stat(pid) for pid in names}
            perf = procs.spawn(["perf", "record", "-e", "cpu-clock", "-F", "4999", "-o", data, "-p",
                                ",".join(str(p) for p in names)], stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            t0 = time.monotonic()
            if wl == "connrate":
                r = _loadgen("connrate", "--port", str(path.ports["once"]), "--seconds", f"{args.seconds:g}",
                             "--concurrency", "16", "--size", "64", timeout=args.seconds + 30)
                what = f"{r['per_second']:.0f} setups/s, {r['connections']} connections"
                count = r["connections"]
            elif wl == "latency":
                os.sched_setaffinity(echo.pid, {0})
                rtts = int(args.seconds / 100e-6)
                r = _loadgen("pingpong", "--port", str(path.ports["echo"]), "--count", str(rtts), "--warmup", "200",
                             "--size", "64", timeout=args.seconds * 5 + 30, cpus="0" if fwd else None)
                os.sched_setaffinity(echo.pid, {n - 1})
                what = f"p50 {r['p50_us']:.1f} µs, p99 {r['p99_us']:.1f} µs over {rtts} round trips (one CPU)"
                count = rtts
            elif wl == "throughput":
                out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(path.ports["iperf"]), "-t",
                                      f"{args.seconds:g}", "-P", str(args.streams), "-J"], capture_output=True, text=True)
                import json

                j = json.loads(out.stdout)
                gbit = j["end"]["sum_received"]["bits_per_second"] / 1e9
                count = j["end"]["sum_received"]["bytes"] / 2**30
                what = f"{gbit:.2f} Gbit/s, {count:.2f} GiB, {args.streams} stream(s)"
            else:
                raise BenchError(f"unknown workload {wl!r}")
            wall = time.monotonic() - t0
            procs.stop(perf, grace=5)
            after = {pid: _stat(pid) for pid in names}
            print(f"== {wl} through {path.name}: {what}")
            unit = "GiB" if wl == "throughput" else ("round trip" if wl == "latency" else "connection")
            for pid, name in names.items():
                u = after[pid][0] - before[pid][0]
                s = after[pid][1] - before[pid][1]
                per = (u + s) / count * (1 if wl == "throughput" else 1e6) if count else 0
                per_txt = f"{per:.2f} s" if wl == "throughput" else f"{per:.1f} µs"
                print(f"  {name} (pid {pid}): user {u:.2f} s, system {s:.2f} s in {wall:.1f} s; {per_txt} per {unit}")
            report(data, threads, args.top)
            print()
        path.stop()
    finally:
        procs.kill_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
