"""Engine against engine: two run folders side by side, per tier and metric, with the noise.

``runbook compare-engines RUN_A RUN_B`` answers "would vLLM serve this faster than SGLang on the
same node": for each tier both runs measured, each metric of each engine (the median over its
repeats), the ratio B / A, and whether the difference is beyond the run-to-run noise. Where both
runs have two or more repeats of a tier, every metric is judged on the repeats' values (the
spread from one run to the next, which is what a rerun would see); with one repeat, latencies
fall back to the pooled per-request distributions and throughput cannot be judged. A ratio is
only called a difference when its whole 95 % interval lies beyond the tolerance (the base run's
profile's, as ``runbook diff``).

Before any figure, what makes the comparison fair is checked and shown: the same model (the
weights' digest, or hub repo and commit), the same workload per tier (the fingerprint fields),
and which steps each engine passed — a tool-calling FAIL on one engine is part of the answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runbook.core.schema import Tolerances
from runbook.judge.compare import comparability
from runbook.judge.diff import TierData, load_pair, workload_fields
from runbook.judge.provenance import client_reasons
from runbook.judge.stats import (
    IMPROVEMENT,
    LATENCY_SAMPLES,
    NOT_ENOUGH,
    REGRESSION,
    Change,
    change,
    finite_values,
)

# (metric, higher is better). Latency medians and tails, and the two throughputs.
METRICS: tuple[tuple[str, bool], ...] = (
    ("output_throughput", True), ("request_throughput", True),
    ("median_ttft_ms", False), ("p99_ttft_ms", False), ("median_tpot_ms", False),
    ("median_itl_ms", False), ("p99_itl_ms", False), ("median_e2e_latency_ms", False),
)
ENGINE_NAMES = {"sglang": "SGLang", "vllm": "vLLM"}


@dataclass
class RunFacts:
    """What a run was: its engine and version, image, profile, model identity and step verdicts."""

    path: Path
    run_id: str
    profile: str
    engine: str
    version: str
    image: str
    model: str
    model_identity: str
    steps: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)  # each step's one-line detail

    @property
    def label(self) -> str:
        return label(self.engine, self.version)


def label(engine: str | None, version: str | None) -> str:
    """``SGLang 0.5.7`` / ``vLLM 0.32.0``: how pages name an engine and its release."""
    engine = engine or "unknown engine"
    return f"{ENGINE_NAMES.get(engine, engine)} {version or ''}".strip()


def engine_label(run_dir: str | Path) -> str:
    """The label of a run folder's engine, from what its server said."""
    return run_facts(run_dir).label


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def model_identity(weights: dict[str, Any], model: str) -> str:
    """The weights a run served, as exactly as the run recorded them."""
    if weights.get("digest"):
        return f"{Path(str(weights.get('path') or model)).name} sha256:{weights['digest'][:16]}"
    if weights.get("repo_id"):
        return f"{weights['repo_id']}@{weights.get('commit') or weights.get('revision') or 'unpinned'}"
    return f"{weights.get('path') or model} (no digest recorded)"


def run_facts(run_dir: str | Path) -> RunFacts:
    p = Path(run_dir)
    env, state, summary = _json(p / "environment.json"), _json(p / "state.json"), _json(p / "summary.json")
    caps = state.get("capabilities") or {}
    params = env.get("resolved_params") or state.get("params") or {}
    model = caps.get("model") or (params.get("target") or {}).get("model") or "?"
    return RunFacts(
        path=p, run_id=p.name, profile=env.get("profile") or state.get("profile") or "?",
        engine=env.get("engine") or caps.get("engine") or "unknown",
        version=env.get("engine_version") or caps.get("version") or "",
        image=env.get("image") or "", model=model,
        model_identity=model_identity(env.get("weights") or state.get("weights") or {}, model),
        steps={s["name"]: s["status"] for s in summary.get("steps") or []},
        details={s["name"]: s.get("detail") or "" for s in summary.get("steps") or []})


@dataclass
class TierSide:
    tier: str
    comparable: bool
    reasons: list[str]
    basis: str  # what the intervals are over
    changes: list[Change]


@dataclass
class SideBySide:
    a: RunFacts
    b: RunFacts
    same_model: bool
    tiers: list[TierSide]

    @property
    def fair(self) -> bool:
        return self.same_model and all(t.comparable for t in self.tiers)

    @property
    def labels(self) -> tuple[str, str]:
        """The two columns' names: engine and version, or — the same engine on both sides (an
        image against a tuned one) — with the profile, else the run id, to tell them apart."""
        la, lb = self.a.label, self.b.label
        for extra in ("profile", "run_id"):
            if la != lb:
                break
            la = f"{self.a.label} ({getattr(self.a, extra)})"
            lb = f"{self.b.label} ({getattr(self.b, extra)})"
        return la, lb


def compare_tier(a: TierData, b: TierData, tol: Tolerances) -> TierSide:
    reasons = comparability(workload_fields(b.rows[-1]), workload_fields(a.rows[-1])) \
        + client_reasons(a.rows[-1], b.rows[-1])
    if reasons:
        return TierSide(a.tier, False, reasons, "", [])
    repeats = min(len(a.rows), len(b.rows))
    basis = (f"{len(a.rows)} vs {len(b.rows)} repeats" if repeats >= 2
             else "requests (one repeat each: throughput not judged)")
    changes = []
    for metric, higher in METRICS:
        t = tol.per_metric.get(metric, tol.default_rel)
        key = metric.removeprefix("median_")
        va, vb = finite_values(a.rows, metric), finite_values(b.rows, metric)
        if repeats >= 2 or not (metric.startswith("median_") and key in LATENCY_SAMPLES):
            c = change(metric, va, vb, higher_better=higher, tolerance=t)
        else:  # one repeat: the median latency's interval over the pooled requests
            c = change(metric, LATENCY_SAMPLES[key](a.records), LATENCY_SAMPLES[key](b.records),
                       higher_better=higher, tolerance=t)
        if c.verdict == NOT_ENOUGH and va and vb:  # not judged, but each engine's figure is shown
            c = replace(c, base=float(np.median(va)), new=float(np.median(vb)))
        changes.append(c)
    return TierSide(a.tier, True, [], basis, changes)


def side_by_side(run_a: str | Path, run_b: str | Path, tiers: list[str] | None = None) -> SideBySide:
    """RUN_A is the base (its profile's tolerances), RUN_B the other engine."""
    ta, tb, tol, names = load_pair(run_a, run_b, tiers)
    fa, fb = run_facts(run_a), run_facts(run_b)
    return SideBySide(fa, fb, fa.model_identity == fb.model_identity,
                      [compare_tier(ta[t], tb[t], tol) for t in names])


def verdict_text(c: Change, a: str, b: str) -> str:
    if c.verdict == NOT_ENOUGH:
        return "not judged (one repeat)"
    if c.verdict == IMPROVEMENT:
        return f"{b} better, beyond noise"
    if c.verdict == REGRESSION:
        return f"{a} better, beyond noise"
    return "within noise"


def table(s: SideBySide) -> pd.DataFrame:
    la, lb = s.labels
    rows = []
    for t in s.tiers:
        if not t.comparable:
            rows.append({"tier": t.tier, "metric": "—", "verdict": "not comparable: " + "; ".join(t.reasons)})
            continue
        for c in t.changes:
            ratio = c.new / c.base if c.base and math.isfinite(c.base) and math.isfinite(c.new) else math.nan
            rows.append({"tier": t.tier, "metric": c.metric, la: c.base, lb: c.new, "ratio": ratio,
                         "ratio_ci_low": 1 + c.delta_pct.lo / 100, "ratio_ci_high": 1 + c.delta_pct.hi / 100,
                         "basis": t.basis, "verdict": verdict_text(c, la, lb)})
    return pd.DataFrame(rows)
