"""Compare a run with the reference for its tier: per-metric deltas and direction-aware verdicts.

A comparison is always shown; when the run and the reference differ in workload (the fingerprint:
prompts, lengths, range ratio, seed) or setup (hardware, model, TP, sglang version) it is
labelled "not comparable" with the reasons, so nobody reads a CPU run as an MI300X regression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook.core.schema import Tolerances

# metric → True when higher is better
METRICS: dict[str, bool] = {
    "request_throughput": True,
    "input_throughput": True,
    "output_throughput": True,
    "total_throughput": True,
    "mean_e2e_latency_ms": False,
    "median_e2e_latency_ms": False,
    "mean_ttft_ms": False,
    "median_ttft_ms": False,
    "p99_ttft_ms": False,
    "mean_tpot_ms": False,
    "median_tpot_ms": False,
    "p99_tpot_ms": False,
    "mean_itl_ms": False,
    "median_itl_ms": False,
    "p95_itl_ms": False,
    "p99_itl_ms": False,
}
WORKLOAD_KEYS = ("num_prompts", "random_input_len", "random_output_len", "random_range_ratio",
                 "seed", "max_concurrency")
SETUP_KEYS = ("hardware", "model", "tp", "sglang_version")

BETTER, WITHIN, WORSE, NA = "better", "within tolerance", "worse", "n/a"


@dataclass
class Comparison:
    tier: str
    table: pd.DataFrame
    comparable: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "comparable" if self.comparable else "not comparable: " + "; ".join(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "comparable": self.comparable, "reasons": self.reasons,
                "metrics": _records(self.table)}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = df.to_dict(orient="records")
    for r in recs:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
    return recs


def _val(row: Mapping[str, Any], key: str) -> Any:
    v = row.get(key)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return str(a) == str(b)


def same_hardware(run: str, ref: str) -> bool:
    """"AMD Instinct MI300X x8" (amd-smi's name, counted) is the reference's "AMD MI300X x8":
    the same GPU count, and every word of the reference's model in the run's."""
    def split(s: str) -> tuple[str, int | None]:
        m = re.match(r"^(.*?)\s*x(\d+)\s*$", s.strip())
        return (m.group(1), int(m.group(2))) if m else (s.strip(), None)

    (rm, rn), (fm, fn) = split(str(run)), split(str(ref))
    return rn == fn and all(w.lower() in rm.lower() for w in fm.split())


def comparability(run: Mapping[str, Any], ref: Mapping[str, Any]) -> list[str]:
    """Why a run cannot be read against the reference: its workload or its measured setup
    (GPUs as the vendor tool counts them, TP / model / version as the server reports them)."""
    reasons = []
    for key in WORKLOAD_KEYS + SETUP_KEYS:
        a, b = _val(run, key), _val(ref, key)
        if b is None:
            continue
        if a is None:
            reasons.append(f"{key} of the run unknown (reference: {b})")
        elif not (same_hardware(a, b) if key == "hardware" else _same(a, b)):
            reasons.append(f"{key} differs: run {a}, reference {b}")
    return reasons


def verdict(run: float, ref: float, higher_better: bool, tol: float) -> tuple[float, str]:
    if run is None or ref is None or not math.isfinite(ref) or ref == 0 or not math.isfinite(run):
        return math.nan, NA
    delta = (run - ref) / abs(ref)
    gain = delta if higher_better else -delta
    if gain > tol:
        return delta * 100, BETTER
    if gain < -tol:
        return delta * 100, WORSE
    return delta * 100, WITHIN


def compare(run: Mapping[str, Any], ref: Mapping[str, Any], tier: str,
            tolerances: Tolerances | None = None) -> Comparison:
    tol = tolerances or Tolerances()
    rows = []
    for metric, higher in METRICS.items():
        a, b = _val(run, metric), _val(ref, metric)
        if a is None and b is None:
            continue
        t = tol.per_metric.get(metric, tol.default_rel)
        delta, v = verdict(a, b, higher, t)
        rows.append({"metric": metric, "run": a, "reference": b, "delta_pct": delta,
                     "better_when": "higher" if higher else "lower", "tolerance_pct": t * 100,
                     "verdict": v})
    reasons = comparability(run, ref)
    return Comparison(tier, pd.DataFrame(rows), not reasons, reasons)


def styled(c: Comparison):
    """A pandas Styler with verdict colours, for notebooks and the HTML report."""
    from runbook.core.verdicts import colour

    return (c.table.style.map(lambda v: f"background-color: {colour(v)}", subset=["verdict"])
            .format({"run": "{:.2f}", "reference": "{:.2f}", "delta_pct": "{:+.1f} %",
                     "tolerance_pct": "±{:.0f} %"}, na_rep="—")
            .set_caption(f"tier {c.tier}: {c.label}"))
