"""Shared by the whole suite: timing bounds under sanitizers, and the skip policy.

Timing
    ``scripts/sanitize.sh`` exports ``OCKAM_PY_SANITIZER=asan|tsan``. A test that
    bounds a latency takes the bound through :func:`scaled` (``from conftest
    import scaled``), so the bound is the same as without a sanitizer times the
    sanitizer's usual slowdown (:data:`SLOWDOWN`) and no test is left out of a
    sanitizer run. Bounds on what a test counts (bytes, replies, fds) do not
    scale.

Skips
    ``./dev test`` lists every skip with its reason (``-rs``). With
    ``OCKAM_PY_STRICT_SKIPS=1`` (``.ci/run`` exports it) a skip that
    ``tests/skip_allowlist.txt`` does not allow fails the run: each one is
    named at the end with its reason, and the exit status is 1 even when every
    test that ran passed. When the interop tests are skipped because there is
    no ``ockam`` binary, a loud line says that interop was not checked, strict
    or not.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

# --------------------------------------------------------------------------------------------
# Timing bounds under sanitizers
# --------------------------------------------------------------------------------------------

#: How many times slower the node runs under each sanitizer (ASan+UBSan about 2x,
#: ThreadSanitizer 5-15x).
SLOWDOWN: Dict[str, float] = {"": 1.0, "asan": 2.0, "tsan": 10.0}


def sanitizer() -> str:
    """``""``, ``"asan"`` or ``"tsan"``: what ``OCKAM_PY_SANITIZER`` says this run is built with."""
    name = os.environ.get("OCKAM_PY_SANITIZER", "")
    if name not in SLOWDOWN:
        raise RuntimeError(f"OCKAM_PY_SANITIZER={name!r}: expected asan, tsan or nothing")
    return name


def scaled(seconds: float) -> float:
    """A latency bound of ``seconds`` without a sanitizer, scaled for the sanitizer of this run."""
    return seconds * SLOWDOWN[sanitizer()]


# --------------------------------------------------------------------------------------------
# Skips: the allow-list
# --------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = Path(__file__).resolve().parent / "skip_allowlist.txt"
ALLOWLIST_NAME = "tests/skip_allowlist.txt"


def ockam_binary() -> Optional[str]:
    """The ``ockam`` binary tests/test_interop_ockam.py would use: ``$OCKAM_BIN``, else ``ockam`` on PATH."""
    path = os.environ.get("OCKAM_BIN") or shutil.which("ockam") or ""
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def udp_peer() -> Optional[str]:
    """The Rust UDP peer tests/test_interop_udp.py would use: ``$OCKAM_UDP_PEER`` when executable."""
    path = os.environ.get("OCKAM_UDP_PEER", "")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


# condition name -> (holds now?, (title, line) printed loudly when a skip was allowed by it, or None)
CONDITIONS: Dict[str, Tuple[Callable[[], bool], Optional[Tuple[str, str]]]] = {
    "no-ockam-binary": (
        lambda: ockam_binary() is None,
        ("INTEROP WITH A REAL OCKAM NODE NOT CHECKED",
         "no ockam binary: the interop tests were skipped; "
         "run them with OCKAM_BIN=/path/to/ockam OCKAM_INTEROP=1 ./dev test -k interop"),
    ),
    "no-udp-peer": (
        lambda: not udp_peer(),
        ("UDP INTEROP WITH OCKAM'S TRANSPORT NOT CHECKED",
         "no UDP peer: tests/test_interop_udp.py was skipped; run it with "
         "OCKAM_UDP_PEER=$(scripts/build-udp-peer.sh) OCKAM_INTEROP=1 ./dev test -k interop_udp"),
    ),
    "no-dist": (lambda: not os.environ.get("OCKAM_PY_DIST"), None),
}


@dataclass
class Entry:
    pattern: str
    reason: str
    when: Optional[str]
    line: int
    regex: "re.Pattern[str]" = field(init=False)

    def __post_init__(self) -> None:
        # `*` matches anything, everything else literally (node ids hold [ ] which
        # fnmatch would read as a character class); a module path covers its tests
        body = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        if "::" not in self.pattern:
            body += r"(::.*)?"
        self.regex = re.compile(body)

    def matches(self, nodeid: str) -> bool:
        return self.regex.fullmatch(nodeid) is not None


def load_allowlist(path: Path = ALLOWLIST) -> List[Entry]:
    """Parses ``PATTERN [when=CONDITION] REASON`` lines; ``#`` starts a comment line."""
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        pattern, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        when = None
        if rest.startswith("when="):
            cond, _, rest = rest.partition(" ")
            when = cond[len("when="):]
            if when not in CONDITIONS:
                raise pytest.UsageError(f"{ALLOWLIST_NAME}:{number}: unknown condition {when!r} "
                                        f"(known: {', '.join(sorted(CONDITIONS))})")
        reason = rest.strip()
        if not pattern.startswith("tests/") or not reason:
            raise pytest.UsageError(f"{ALLOWLIST_NAME}:{number}: expected 'tests/<path>[::<test>] "
                                    f"[when=<condition>] <reason>', got {raw!r}")
        entries.append(Entry(pattern, reason, when, number))
    return entries


def skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipPolicy:
    def __init__(self, entries: List[Entry], strict: bool) -> None:
        self.entries = entries
        self.strict = strict
        self.allowed: List[Tuple[str, str, Entry]] = []
        self.unexpected: List[Tuple[str, str]] = []
        self.loud: List[Tuple[str, str]] = []

    def judge(self, nodeid: str, reason: str) -> None:
        for entry in self.entries:
            if entry.matches(nodeid):
                if entry.when is None:
                    self.allowed.append((nodeid, reason, entry))
                    return
                holds, loud = CONDITIONS[entry.when]
                if holds():
                    self.allowed.append((nodeid, reason, entry))
                    if loud is not None and loud not in self.loud:
                        self.loud.append(loud)
                    return
        self.unexpected.append((nodeid, reason))

    # a module-level skip (pytest.skip(..., allow_module_level=True)) is a skipped collection
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.judge(report.nodeid, skip_reason(report))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.judge(report.nodeid, skip_reason(report))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.strict and self.unexpected and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # after the summary line, so that it is what one sees last
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        for title, line in self.loud:
            tr.write_sep("!", title, red=True, bold=True)
            tr.write_line(line, red=True, bold=True)
        if self.strict and self.unexpected:
            tr.write_sep("!", "UNEXPECTED SKIPS (OCKAM_PY_STRICT_SKIPS=1)", red=True, bold=True)
            for nodeid, reason in self.unexpected:
                tr.write_line(f"UNEXPECTED SKIP {nodeid}: {reason}", red=True)
            tr.write_line(f"error: {len(self.unexpected)} test(s) skipped that {ALLOWLIST_NAME} does not allow: "
                          "the run fails (make them run, or add each with its reason to the list)",
                          red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    strict = os.environ.get("OCKAM_PY_STRICT_SKIPS", "") not in ("", "0")
    config.pluginmanager.register(SkipPolicy(load_allowlist(), strict), "ockam_py_skip_policy")
