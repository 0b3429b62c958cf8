"""The regression gate: a run fails when it regresses a target that the committed results met.

A target (the same text, on the same path) that passed in the baseline, by default
``bench/results/latest.json`` as committed at HEAD, regresses when this run misses it and its
value is worse than the baseline's by more than the noise band (15% by default, relative):
a miss within the band is reported, not failed, since a shared 2-core machine moves figures that much
from run to run.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Dict, List, Optional, Tuple

NOISE_BAND = 0.15
BASELINE = "bench/results/latest.json"


def load_baseline(repo: str, rel: str = BASELINE) -> Tuple[Optional[Dict[str, Any]], str]:
    """(results, where from): the committed file at HEAD, else the file on disk, else (None, why)."""
    r = subprocess.run(["git", "-C", repo, "show", f"HEAD:{rel}"], capture_output=True, text=True)
    if r.returncode == 0:
        try:
            return json.loads(r.stdout), f"{rel} at HEAD"
        except json.JSONDecodeError as e:
            return None, f"{rel} at HEAD is not JSON ({e})"
    path = os.path.join(repo, rel)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f), path
    return None, f"no {rel} committed"


def _worse_by(new: float, old: float, higher_is_better: bool) -> float:
    """How much worse new is than old, as a fraction of old (negative: better)."""
    if old == 0:
        return 0.0
    return (old - new) / abs(old) if higher_is_better else (new - old) / abs(old)


def regressions(targets: List[Dict[str, Any]], baseline: Dict[str, Any], band: float = NOISE_BAND) -> List[Dict[str, Any]]:
    """Targets met in ``baseline`` and missed now, each worse than its baseline value by more than ``band``."""
    before = {(t["target"], t["path"]): t for t in baseline.get("targets") or []}
    out = []
    for t in targets:
        b = before.get((t["target"], t["path"]))
        if b is None or not b.get("pass") or t.get("pass") is not False:
            continue
        if t.get("value") is None or b.get("value") is None:
            continue
        worse = _worse_by(t["value"], b["value"], t["higher_is_better"])
        out.append({"target": t["target"], "path": t["path"], "value": t["value"], "baseline": b["value"],
                    "worse_pct": worse * 100, "beyond_band": worse > band})
    return out


def check(res: Dict[str, Any], repo: str, band: float = NOISE_BAND) -> Dict[str, Any]:
    """The gate's verdict for a run's results, to be stored in them as ``res["gate"]``."""
    base, where = load_baseline(repo)
    if base is None:
        return {"baseline": where, "band_pct": band * 100, "misses": [], "failed": False}
    found = regressions(res.get("targets") or [], base, band)
    return {"baseline": f"{where} ({base.get('meta', {}).get('date', '?')})", "band_pct": band * 100,
            "misses": found, "failed": any(x["beyond_band"] for x in found)}


def lines(gate: Dict[str, Any]) -> List[str]:
    """Markdown lines: what the gate compared with and each target it found missed."""
    out = [f"**Regression gate** (against {gate['baseline']}; a target met there fails the run when missed "
           f"now by more than {gate['band_pct']:.0f}% worse than its value there): "
           + ("FAILED" if gate["failed"] else "passed"), ""]
    for x in gate["misses"]:
        out.append(f"- {'REGRESSED' if x['beyond_band'] else 'missed within the noise band'}: {x['target']} "
                   f"({x['path']}): {x['value']:.2f}, was {x['baseline']:.2f} ({x['worse_pct']:.0f}% worse)")
    if gate["misses"]:
        out.append("")
    return out
