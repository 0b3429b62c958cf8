"""The skip policy of tests/conftest.py, run on small suites of its own (pytester, in a subprocess).

With OCKAM_PY_STRICT_SKIPS=1 a skip that tests/skip_allowlist.txt does not allow fails the run,
even when everything that ran passed; an allowed skip does not; the interop module may be
skipped only while there is no ockam binary, and then a loud line says interop was not checked.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Dict, Optional

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent

INTEROP_LIKE = """
import os, shutil, pytest
def test_rust_node():
    if not (os.environ.get("OCKAM_BIN") or shutil.which("ockam")):
        pytest.skip("no ockam binary")
"""

ALLOWLIST = """
# comment
tests/test_allowed.py::test_param[a-*]  an allowed parameter
tests/test_module_skip.py  a whole module
tests/test_interop_ockam.py  when=no-ockam-binary  no ockam here
tests/test_wheel.py  when=no-dist  ./dev wheels runs it
"""

WHEEL_LIKE = """
import os, pytest
pytestmark = pytest.mark.skipif(not os.environ.get("OCKAM_PY_DIST"), reason="no OCKAM_PY_DIST")
def test_wheel(): pass
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, files: Dict[str, str], strict: bool = True,
        allowlist: str = ALLOWLIST, ockam_bin: Optional[str] = None,
        dist: Optional[str] = None) -> pytest.RunResult:
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text((HERE / "conftest.py").read_text())
    (pytester.path / "tests" / "skip_allowlist.txt").write_text(allowlist)
    for name, text in files.items():
        (pytester.path / "tests" / name).write_text(text)
    monkeypatch.setenv("OCKAM_PY_STRICT_SKIPS", "1" if strict else "0")
    monkeypatch.delenv("OCKAM_INTEROP", raising=False)
    if dist is None:
        monkeypatch.delenv("OCKAM_PY_DIST", raising=False)
    else:
        monkeypatch.setenv("OCKAM_PY_DIST", dist)
    if ockam_bin is None:
        monkeypatch.delenv("OCKAM_BIN", raising=False)
        monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no ockam on it
    else:
        monkeypatch.setenv("OCKAM_BIN", ockam_bin)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "tests")


def test_unexpected_skip_fails_a_run_that_otherwise_passed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"test_x.py": "import pytest\ndef test_ok(): pass\ndef test_gone(): pytest.skip('flaky here')\n"}
    result = run(pytester, monkeypatch, files)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "UNEXPECTED SKIP tests/test_x.py::test_gone: flaky here",
        "error: 1 test(s) skipped that tests/skip_allowlist.txt does not allow*",
    ])


def test_without_strict_the_skip_is_listed_and_the_run_passes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"test_x.py": "import pytest\ndef test_ok(): pass\ndef test_gone(): pytest.skip('flaky here')\n"}
    result = run(pytester, monkeypatch, files, strict=False)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] tests/test_x.py:3: flaky here"])
    assert "UNEXPECTED SKIP" not in result.stdout.str()


def test_listed_skips_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "test_allowed.py": (
            "import pytest\n"
            "@pytest.mark.parametrize('p', ['a-1', 'b-1'])\n"
            "def test_param(p):\n"
            "    if p == 'a-1': pytest.skip('allowed')\n"
        ),
        "test_module_skip.py": "import pytest\npytest.skip('module', allow_module_level=True)\n",
    }
    result = run(pytester, monkeypatch, files)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()


def test_a_pattern_matches_only_what_it_says(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """`*` is the only wildcard: test_param[a-*] does not allow test_param[b-1]."""
    files = {"test_allowed.py": "import pytest\n@pytest.mark.parametrize('p', ['b-1'])\n"
                                "def test_param(p): pytest.skip('not listed')\n"}
    result = run(pytester, monkeypatch, files)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["UNEXPECTED SKIP tests/test_allowed.py::test_param[[]b-1[]]: not listed"])


def test_interop_skip_is_allowed_without_a_binary_and_said_loudly(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(pytester, monkeypatch, {"test_interop_ockam.py": INTEROP_LIKE})
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*!!! INTEROP WITH A REAL OCKAM NODE NOT CHECKED !!!*"])


def test_interop_skip_fails_when_a_binary_is_there(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "ockam"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    body = "import pytest\ndef test_rust_node(): pytest.skip('some other reason')\n"
    result = run(pytester, monkeypatch, {"test_interop_ockam.py": body}, ockam_bin=str(fake))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["UNEXPECTED SKIP tests/test_interop_ockam.py::test_rust_node: some other reason"])
    assert "NOT CHECKED" not in result.stdout.str()


def test_an_entry_without_a_reason_is_refused(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(pytester, monkeypatch, {"test_x.py": "def test_ok(): pass\n"}, allowlist="tests/test_x.py\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tests/skip_allowlist.txt:1: expected*"])


def test_wheel_skip_is_allowed_only_without_a_dist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(pytester, monkeypatch, {"test_wheel.py": WHEEL_LIKE})
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "NOT CHECKED" not in result.stdout.str()


def test_wheel_skip_fails_when_a_dist_is_given(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "import pytest\ndef test_wheel(): pytest.skip('no wheel in it')\n"
    result = run(pytester, monkeypatch, {"test_wheel.py": body}, dist=str(pytester.path))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["UNEXPECTED SKIP tests/test_wheel.py::test_wheel: no wheel in it"])
