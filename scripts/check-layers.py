#!/usr/bin/env python3
"""Checks csrc/'s layering, twice:

- includes: a file includes headers only from its own layer or the layers
  below it, and no two modules (a .c with its .h) include each other in a circle;
- symbols: each core file is compiled and `nm` tells which file defines every
  function another one calls; no call goes to a layer above, and no two files
  call each other in a circle (this catches what includes cannot: a function
  declared in one place and defined in another).

    scripts/check-layers.py          exit 1 with one line per violation

The order is the one csrc/README.md draws, lowest first.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

LAYERS = ["base", "codec", "runtime", "routing", "transport", "node", "secure",
          "services", "portal", "api", "python"]
# Not part of the core: they may include anything.
FREE = {"tests"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return str(rel.with_suffix(""))


def main() -> int:
    root = Path(__file__).resolve().parent.parent / "csrc"
    problems: list[str] = []
    deps: dict[str, set[str]] = {}
    for f in sorted(root.rglob("*.[ch]")):
        layer = f.relative_to(root).parts[0]
        if layer in FREE:
            continue
        if layer not in LAYERS:
            problems.append(f"csrc/{f.relative_to(root)}: folder '{layer}' is not a layer of scripts/check-layers.py")
            continue
        mod = module_of(f, root)
        deps.setdefault(mod, set())
        for inc in INCLUDE.findall(f.read_text()):
            target = root / inc
            if not target.exists():
                problems.append(f"csrc/{f.relative_to(root)}: includes \"{inc}\", which is not csrc/{inc}")
                continue
            tlayer = Path(inc).parts[0]
            if tlayer in LAYERS and LAYERS.index(tlayer) > LAYERS.index(layer):
                problems.append(f"csrc/{f.relative_to(root)}: includes \"{inc}\" from layer '{tlayer}', above '{layer}'")
            tmod = str(Path(inc).with_suffix(""))
            if tmod != mod:
                deps[mod].add(tmod)
    problems += cycles(deps)
    problems += symbol_problems(root)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-layers: {len(deps)} modules in {len(LAYERS)} layers: no upward include or call, no cycle")
    return 0


def symbol_problems(root: Path) -> list[str]:
    """Layer order and cycles on the graph of calls between compiled files."""
    sources = [f for f in sorted(root.glob("*/*.c")) if f.relative_to(root).parts[0] not in FREE]
    cc = os.environ.get("CC", "cc")
    flags = subprocess.run(["pkg-config", "--cflags", "libuv"], capture_output=True, text=True).stdout.split()
    flags.append("-I" + sysconfig.get_paths()["include"])  # the Python skin
    defined: dict[str, str] = {}
    used: dict[str, set[str]] = {}
    tmp = tempfile.mkdtemp(prefix="check-layers.")
    try:
        for f in sources:
            mod = module_of(f, root)
            obj = Path(tmp) / (mod.replace("/", "_") + ".o")
            cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-O0", "-c", f"-I{root}", *flags, str(f), "-o", str(obj)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                return [f"csrc/{f.relative_to(root)}: does not compile:\n{r.stderr}"]
            nm = subprocess.run(["nm", "--defined-only", "-g", str(obj)], capture_output=True, text=True, check=True)
            for line in nm.stdout.splitlines():
                parts = line.split()
                if len(parts) == 3:
                    defined[parts[2]] = mod
            und = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True)
            used[mod] = {line.split()[-1] for line in und.stdout.splitlines() if line.strip()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for mod, symbols in used.items():
        graph[mod] = set()
        for sym in sorted(symbols):
            target = defined.get(sym)
            if target is None or target == mod:
                continue
            graph[mod].add(target)
            here, there = mod.split("/")[0], target.split("/")[0]
            if LAYERS.index(there) > LAYERS.index(here):
                problems.append(f"csrc/{mod}.c: calls {sym} of csrc/{target}.c, in layer '{there}' above '{here}'")
    return problems + [c.replace("circular dependency", "circular calls") for c in cycles(graph)]


def cycles(deps: dict[str, set[str]]) -> list[str]:
    """Tarjan's strongly connected components: each one of more than one module is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[str] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append("circular dependency: " + " -> ".join(sorted(comp)))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
