"""The built distribution: the sdist and the abi3 wheel that scripts/wheels.sh puts in dist/.

The artefacts are found in ``$OCKAM_PY_DIST`` (``./dev wheels`` builds them and sets it;
``.ci/run`` does the same). When it is not set this module is skipped; when it is set and
the artefacts of this version are not there, it fails.

For every CPython from 3.9 on found on this machine (this interpreter, pyenv's, /usr/bin's;
one per minor version) the wheel is installed into a fresh virtual environment with pip,
from the file only (no index, no build), and run in an environment where pkg-config finds no
libuv, ``LD_LIBRARY_PATH``/``LD_PRELOAD``/``PYTHONPATH`` are unset and the working directory
is outside the repository:

- ``import ockam_py._core`` loads the extension from the venv, and ``/proc/self/maps`` shows
  that loading it mapped the libraries setup.py links (libuv, libcrypto) from inside the
  installed wheel (``ockam_py.libs/``) and nothing from the system but glibc;
- ``examples/bridge.py`` and ``examples/relay.py`` print HELLO;
- a portal (inlet -> relay node over TCP -> hop -> outlet) to a real ``python -m http.server``,
  fetched with real ``curl``: ``HTTP/1.0 200 OK`` and a 4 MiB file bit-exact;
- ``ockam-py --version`` prints this version.

Only 127.0.0.1 is used.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "ockam_py" / "__init__.py").read_text(), re.M).group(1)
DIST = os.environ.get("OCKAM_PY_DIST")


def linked_libraries() -> List[str]:
    """The C libraries setup.py links (the keys of its PKG_CONFIG): each must be inside the wheel."""
    for node in ast.parse((ROOT / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PKG_CONFIG"]:
            return sorted(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no PKG_CONFIG")


LINKED = linked_libraries()

pytestmark = pytest.mark.skipif(
    not DIST, reason="no OCKAM_PY_DIST: ./dev wheels builds dist/ and runs these tests on it"
)

# What a manylinux wheel may take from the system (the policies' glibc libraries).
SYSTEM_OK = re.compile(r"^(libc|libm|libpthread|libdl|librt|libutil|libresolv|libcrypt|libnsl|libgcc_s|"
                       r"ld-linux-x86-64|ld-linux-aarch64|libanl)\.so")
ENV_DROP = ("PYTHON", "LD_", "PKG_CONFIG", "VIRTUAL_ENV", "PYENV_VERSION", "CONDA", "OCKAM_PY_HOME", "CFLAGS",
            "LDFLAGS", "CPPFLAGS", "C_INCLUDE_PATH", "LIBRARY_PATH")


def artefact(pattern: str) -> Path:
    found = sorted(Path(DIST or ".").glob(pattern))
    if len(found) != 1:
        pytest.fail(f"expected one {pattern} in {DIST}, found {[p.name for p in found] or 'none'}: "
                    "run scripts/wheels.sh")
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return artefact(f"ockam_py-{VERSION}-cp39-abi3-manylinux*.whl")


@pytest.fixture(scope="module")
def sdist() -> Path:
    return artefact(f"ockam_py-{VERSION}.tar.gz")


# ---- the artefacts themselves ----


def test_sdist_has_every_source(sdist: Path) -> None:
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    want = {str(p.relative_to(ROOT)) for p in ROOT.glob("csrc/**/*") if p.suffix in (".c", ".h")}
    want |= {"setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "scripts/csrc-sources.sh"}
    want |= {str(p.relative_to(ROOT)) for p in (ROOT / "ockam_py").iterdir() if p.suffix in (".py", ".pyi", ".typed")}
    assert want - names == set(), f"missing from {sdist.name}"
    assert not [n for n in names if n.endswith((".so", ".o", ".pyc"))], "build products in the sdist"


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"ockam_py-{VERSION}.dist-info/METADATA").decode()
        tags = z.read(f"ockam_py-{VERSION}.dist-info/WHEEL").decode()
    pkg = {f"ockam_py/{p.name}" for p in (ROOT / "ockam_py").iterdir() if p.suffix in (".py", ".pyi", ".typed")}
    assert pkg - names == set(), "package files missing from the wheel"
    assert [n for n in names if re.match(r"ockam_py/_core\..*so$", n)] == ["ockam_py/_core.abi3.so"]
    for lib in LINKED:
        assert [n for n in names if re.match(rf"ockam_py\.libs/{lib}-[0-9a-f]+\.so", n)], f"{lib} is not in the wheel"
    assert not [n for n in names if n.startswith(("tests/", "csrc/", "bench/"))]
    assert {f"ockam_py-{VERSION}.dist-info/licenses/LICENSE", f"ockam_py-{VERSION}.dist-info/LICENSE"} & names
    assert "Tag: cp39-abi3-manylinux" in tags
    for line in ("Requires-Python: >=3.9", "License: Apache-2.0",
                 "Classifier: Programming Language :: Python :: 3.13", "Classifier: Operating System :: POSIX :: Linux"):
        assert line in meta


# ---- installed into a fresh venv, per CPython ----


def interpreters() -> List[Tuple[str, str]]:
    """(minor version, python) for each CPython >= 3.9 found, this interpreter first."""
    cands = [sys.executable]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    cands += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
    cands += sorted(glob.glob("/usr/bin/python3.[0-9]*")) + sorted(glob.glob("/usr/local/bin/python3.[0-9]*"))
    found: Dict[str, str] = {}
    probe = "import sys, ensurepip, venv; print('%d.%d' % sys.version_info[:2], sys.implementation.name)"
    for exe in cands:
        if not re.search(r"python3(\.\d+)?$", exe) or not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run([exe, "-c", probe], capture_output=True, text=True, timeout=30).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if len(out) == 2 and out[1] == "cpython" and tuple(map(int, out[0].split("."))) >= (3, 9):
            found.setdefault(out[0], exe)
    return sorted(found.items(), key=lambda kv: tuple(map(int, kv[0].split("."))))


PYTHONS = interpreters() if DIST else []


def scrubbed_env(venv: Path, home: Path) -> Dict[str, str]:
    """No libuv for pkg-config, no loader or Python path overrides, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_DROP)}
    empty = home / "no-pkg-config"
    empty.mkdir(exist_ok=True)
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", PKG_CONFIG_LIBDIR=str(empty), PKG_CONFIG_PATH=str(empty),
               HOME=str(home), OCKAM_PY_HOME=str(home / "ockam-py"), PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1")
    return env


class Venv:
    def __init__(self, path: Path, work: Path, env: Dict[str, str]) -> None:
        self.path, self.work, self.env = path, work, env
        self.python = str(path / "bin" / "python")

    def run(self, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout, **kw)

    def ok(self, *args: str, timeout: float = 60) -> str:
        r = self.run(*args, timeout=timeout)
        assert r.returncode == 0, f"{' '.join(args)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        return r.stdout


@pytest.fixture(scope="module", params=PYTHONS, ids=[f"cpython{v}" for v, _ in PYTHONS])
def venv(request, wheel: Path, tmp_path_factory) -> Iterator[Venv]:
    version, exe = request.param
    home = tmp_path_factory.mktemp(f"wheel-py{version}")
    path, work = home / "venv", home / "work"
    work.mkdir()
    env = scrubbed_env(path, home)
    r = subprocess.run([exe, "-m", "venv", str(path)], env=env, cwd=work, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"python{version} -m venv failed: {r.stderr[-2000:]}"
    v = Venv(path, work, env)
    out = v.ok(v.python, "-m", "pip", "install", "--no-index", "--no-deps", "--only-binary=:all:", str(wheel),
               timeout=300)
    assert "Successfully installed ockam_py" in out.replace("ockam-py", "ockam_py"), out
    yield v


def test_pkg_config_finds_no_libuv(venv: Venv) -> None:
    if not shutil.which("pkg-config"):
        return  # nothing could find libuv's headers then
    r = venv.run("pkg-config", "--exists", "libuv")
    assert r.returncode != 0, "the scrubbed environment still shows libuv to pkg-config"


PROBE = """
import importlib.util, json, os, sysconfig
def mapped():
    return {os.path.realpath(l.split()[5]) for l in open("/proc/self/maps")
            if len(l.split()) >= 6 and l.split()[5].startswith("/")}
site = os.path.realpath(sysconfig.get_paths()["platlib"])
core = [os.path.join(site, "ockam_py", n) for n in sorted(os.listdir(os.path.join(site, "ockam_py")))
        if n.startswith("_core.") and n.endswith(".so")]
before = mapped()
spec = importlib.util.spec_from_file_location("ockam_py._core", core[0])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
added = sorted(mapped() - before)
import ockam_py, ockam_py._core
print(json.dumps({"site": site, "cores": core, "added": added, "imported": os.path.realpath(ockam_py._core.__file__),
                  "version": ockam_py.__version__, "all": sorted(mapped())}))
"""


def test_loads_the_bundled_libuv(venv: Venv) -> None:
    info = json.loads(venv.ok(venv.python, "-c", PROBE).strip().splitlines()[-1])
    site = Path(info["site"])
    assert info["cores"] == [str(site / "ockam_py" / "_core.abi3.so")], info["cores"]
    assert info["imported"] == info["cores"][0], f"ockam_py._core came from {info['imported']}"
    assert info["version"] == VERSION
    # what loading the extension mapped: itself, what the wheel bundles (libuv, ...), glibc
    assert info["cores"][0] in info["added"]
    for lib in LINKED:
        mine = [m for m in info["added"] if re.match(rf"{lib}[-.]", os.path.basename(m))]
        assert mine, f"loading the extension mapped no {lib}: {info['added']}"
        for m in mine:
            assert Path(m).parent == site / "ockam_py.libs", f"{lib} mapped from {m}, not from the wheel"
    foreign = [m for m in info["added"] if not m.startswith(str(site) + "/") and not SYSTEM_OK.match(os.path.basename(m))]
    assert not foreign, f"the extension loaded these from the system: {foreign}"
    # and no other libuv in the process once the package is imported
    libuv = [m for m in info["all"] if os.path.basename(m).startswith("libuv")]
    assert libuv and all(Path(m).parent == site / "ockam_py.libs" for m in libuv), libuv


def test_bridge_prints_hello(venv: Venv) -> None:
    assert venv.ok(venv.python, str(ROOT / "examples" / "bridge.py")).strip() == "HELLO"


def test_relay_prints_hello(venv: Venv) -> None:
    assert venv.ok(venv.python, str(ROOT / "examples" / "relay.py")).strip() == "HELLO"


PORTAL = """
import sys
from ockam_py import Node
target = sys.argv[1]
with Node("n2", tcp_listener_address="127.0.0.1:0") as n2, Node("n3") as n3, Node("n1") as n1:
    n3.start_service("hop")
    n3.create_outlet(to=target, address="outlet")
    n3.create_relay("n3", at=n2.tcp_listener.address)
    relay = f"/ip4/127.0.0.1/tcp/{n2.tcp_listener.port}"
    inlet = n1.create_inlet("127.0.0.1:0", to=f"{relay}/service/forward_to_n3/service/hop/service/outlet")
    print(inlet.port, flush=True)
    sys.stdin.readline()
"""


def test_portal_with_curl(venv: Venv) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed (apt-get install curl)"
    served = venv.work / "www"
    served.mkdir(exist_ok=True)
    blob = os.urandom(4 << 20)
    (served / "blob").write_bytes(blob)
    server = subprocess.Popen([venv.python, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                               "--directory", str(served)], cwd=venv.work, env=venv.env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    nodes: Optional[subprocess.Popen] = None
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ..."
        m = re.search(r"port (\d+)", line)
        assert m, f"http.server said {line!r}"
        nodes = subprocess.Popen([venv.python, "-c", PORTAL, f"127.0.0.1:{m.group(1)}"], cwd=venv.work, env=venv.env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        port_line = nodes.stdout.readline().strip()
        assert port_line.isdigit(), f"the portal script said {port_line!r}: {nodes.stderr.read() if nodes.poll() is not None else ''}"
        url = f"http://127.0.0.1:{port_line}"
        head = venv.ok(curl, "-sS", "--max-time", "20", "--head", f"{url}/")
        assert head.startswith("HTTP/1.0 200 OK"), head
        got = venv.work / "got"
        venv.ok(curl, "-sS", "--fail", "--max-time", "60", "-o", str(got), f"{url}/blob", timeout=90)
        assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(blob).hexdigest(), "4 MiB changed"
    finally:
        if nodes:
            if nodes.poll() is None:
                nodes.stdin.write("\n")
                nodes.stdin.flush()
            try:
                nodes.wait(15)
            except subprocess.TimeoutExpired:
                nodes.kill()
                nodes.wait()
        server.terminate()
        server.wait(15)
    assert nodes.returncode == 0, f"the portal script exited {nodes.returncode}: {nodes.stderr.read()[-2000:]}"


def test_cli_version(venv: Venv) -> None:
    assert venv.ok(str(venv.path / "bin" / "ockam-py"), "--version").strip() == f"ockam-py {VERSION}"
