"""Installs the tools the bench needs from Debian (and matplotlib from pip if apt's can't be imported)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from typing import Dict, List

# executable -> Debian package
TOOLS: Dict[str, str] = {
    "iperf3": "iperf3",
    "socat": "socat",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "wrk": "wrk",
    "taskset": "util-linux",
}
QUICK_TOOLS = ("iperf3", "socat", "taskset")


def _have(exe: str) -> bool:
    return bool(shutil.which(exe)) or os.path.exists(f"/usr/sbin/{exe}")


def _have_matplotlib() -> bool:
    try:
        importlib.invalidate_caches()
        importlib.import_module("matplotlib")
        return True
    except ImportError:
        return False


def _apt_install(pkgs: List[str], log) -> bool:
    if not shutil.which("apt-get"):
        print(f"  no apt-get: cannot install {' '.join(pkgs)}", file=log)
        return False
    if os.geteuid() != 0:
        print(f"  not root: cannot install {' '.join(pkgs)}", file=log)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"  apt-get update; apt-get install {' '.join(pkgs)}", file=log, flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *pkgs], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"  apt-get install failed: {r.stderr.strip()[-500:]}", file=log)
        return False
    return True


def ensure(quick: bool, want_plot: bool = True, log=sys.stdout) -> Dict[str, bool]:
    """Installs what is missing (one apt-get update first); returns tool -> available."""
    names = QUICK_TOOLS if quick else tuple(TOOLS)
    missing = sorted({TOOLS[t] for t in names if not _have(t)})
    plot_missing = want_plot and not quick and not _have_matplotlib()
    # Debian's python3-matplotlib only helps the system interpreter
    system_python = os.path.realpath(sys.executable).startswith("/usr/bin/")
    if plot_missing and system_python:
        missing.append("python3-matplotlib")
    if missing:
        _apt_install(missing, log)
    if plot_missing and not _have_matplotlib():
        print("  pip install matplotlib", file=log, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    have = {t: _have(t) for t in TOOLS}
    have["matplotlib"] = _have_matplotlib()
    return have
