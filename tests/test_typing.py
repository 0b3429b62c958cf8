"""Typing: ``mypy --strict ockam_py examples`` is clean, and the stubs of the C extension match it.

CI installs mypy (``pip install mypy``); without it the first test fails and says so.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from ockam_py import _core

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "ockam_py" / "_core.pyi"


def test_mypy_strict_is_clean() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: pip install mypy (CI installs it)", pytrace=False)
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "ockam_py", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, f"mypy --strict ockam_py examples failed:\n{r.stdout}{r.stderr}"


def test_stubtest_holds_the_stubs_to_the_extension(tmp_path: Path) -> None:
    """mypy's stubtest on ockam_py._core: every public name of the extension is in _core.pyi and
    the stub names nothing the extension lacks, each of the same kind (function, class). The
    extension's functions carry no text signatures, so their arguments are held to the stub by
    mypy --strict over their uses (the test above), not by stubtest."""
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: pip install mypy (CI installs it)", pytrace=False)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\ncache_dir = /dev/null\n")  # no .mypy_cache in the checkout
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--concise", "--mypy-config-file", str(config), "ockam_py._core"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, f"stubtest ockam_py._core found the stub and the extension apart:\n{r.stdout}{r.stderr}"


def test_stub_classes_have_the_extensions_bases() -> None:
    """What the stub says a class derives from (RouteError is a ValueError) holds at runtime."""
    classes = [node for node in ast.parse(STUB.read_text()).body if isinstance(node, ast.ClassDef)]
    assert classes
    for node in classes:
        runtime = getattr(_core, node.name)
        for base in node.bases:
            name = ast.unparse(base)  # a builtin ("ValueError", "builtins.TimeoutError") or a class of the stub
            cls = getattr(builtins, name.split(".", 1)[1]) if name.startswith("builtins.") else getattr(
                builtins, name, None) or getattr(_core, name)
            assert issubclass(runtime, cls), f"_core.{node.name} is not a {name}: {runtime.__mro__}"


def test_package_ships_the_markers() -> None:
    assert (ROOT / "ockam_py" / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"_core.pyi"' in pyproject and '"py.typed"' in pyproject
