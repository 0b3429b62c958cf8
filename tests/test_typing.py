"""Typing: ``mypy --strict ockam_py examples`` is clean, and the stubs of the C extension match it.

CI installs mypy (``pip install mypy``); without it the first test fails and says so.
"""

from __future__ import annotations

import ast
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


def test_stubs_cover_exactly_the_extension() -> None:
    """Every public name of ockam_py._core is in _core.pyi, and the stub names nothing the module lacks."""
    tree = ast.parse(STUB.read_text())
    stubbed = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
    }
    runtime = {name for name in dir(_core) if not name.startswith("_")}
    assert runtime - stubbed == set(), f"in ockam_py._core but not in _core.pyi: {sorted(runtime - stubbed)}"
    assert stubbed - runtime == set(), f"in _core.pyi but not in ockam_py._core: {sorted(stubbed - runtime)}"


def test_package_ships_the_markers() -> None:
    assert (ROOT / "ockam_py" / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"_core.pyi"' in pyproject and '"py.typed"' in pyproject
