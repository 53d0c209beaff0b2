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

import html as H
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runbook.compare import comparability
from runbook.diff import TierData, load_pair, workload_fields
from runbook.provenance import client_reasons
from runbook.schema import Tolerances
from runbook.stats import (
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


def _fmt(v: Any, digits: int = 2) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "—"
    return str(v)


def _colour(verdict: str, la: str, lb: str) -> str:
    if verdict.startswith(lb):
        return "#c8e6c9"
    if verdict.startswith(la):
        return "#ffe0b2"
    return "#ffffff" if verdict == "within noise" else "#eeeeee"


def _differs(step: str, a: RunFacts, b: RunFacts) -> str:
    """Where the engines' verdicts on a step differ, what each said (the finding to hand on)."""
    if a.steps.get(step) == b.steps.get(step):
        return ""
    return "<br>".join(f"{H.escape(f.label)}: {H.escape(f.details.get(step, '')[:300])}"
                       for f in (a, b) if f.steps.get(step) not in ("PASS", None))


def _rel(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page.resolve().parent)).as_posix()


def write_page(s: SideBySide, out: Path) -> Path:
    """One self-contained HTML page: both runs' facts, the fairness checks, steps, the table."""
    from runbook.html import badge, png_data_uri
    from runbook.plots import engines_plot

    la, lb = s.labels
    df = table(s)
    facts = "".join(
        f"<tr><td>{H.escape(k)}</td><td>{H.escape(str(getattr(s.a, k)))}</td>"
        f"<td>{H.escape(str(getattr(s.b, k)))}</td></tr>"
        for k in ("run_id", "profile", "engine", "version", "image", "model", "model_identity"))
    names = list(dict.fromkeys([*s.a.steps, *s.b.steps]))
    steps = "".join(
        f"<tr><td>{H.escape(n)}</td><td>{badge(s.a.steps.get(n, '—'))}</td>"
        f"<td>{badge(s.b.steps.get(n, '—'))}</td><td>{_differs(n, s.a, s.b)}</td></tr>" for n in names)
    fair = ("<p id='fair' class='ok'>Same model (" + H.escape(s.a.model_identity) + ") and, per tier, "
            "the same workload: the differences below are the engines'.</p>") if s.fair else (
        "<p id='fair' class='bad'><b>Not a like-for-like comparison:</b> "
        + ("the runs served different models (" + H.escape(s.a.model_identity) + " vs "
           + H.escape(s.b.model_identity) + "). " if not s.same_model else "")
        + " ".join(f"Tier {H.escape(t.tier)}: {H.escape('; '.join(t.reasons))}."
                   for t in s.tiers if not t.comparable) + "</p>")
    body = []
    for _, r in df.iterrows():
        if r.get("metric") == "—":
            body.append(f"<tr><td>{H.escape(str(r['tier']))}</td>"
                        f"<td colspan='7'>{H.escape(r['verdict'])}</td></tr>")
            continue
        ci = f"[{_fmt(r['ratio_ci_low'], 3)}, {_fmt(r['ratio_ci_high'], 3)}]"
        body.append(
            f"<tr><td>{H.escape(r['tier'])}</td><td>{H.escape(r['metric'])}</td><td>{_fmt(r[la])}</td>"
            f"<td>{_fmt(r[lb])}</td><td>{_fmt(r['ratio'], 3)}</td><td>{ci}</td>"
            f"<td>{H.escape(r['basis'])}</td>"
            f"<td style='background:{_colour(r['verdict'], la, lb)}'>{H.escape(r['verdict'])}</td></tr>")
    plot = "" if df.empty or "ratio" not in df else \
        f"<img alt='engines per tier' src='{png_data_uri(engines_plot(df, la, lb))}'>"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{H.escape(la)} vs {H.escape(lb)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
th {{ background: #f5f5f5; }} .badge {{ padding: 2px 8px; border-radius: 4px; font-weight: bold; }}
.ok {{ background: #e8f5e9; padding: 6px; }} .bad {{ background: #ffcdd2; padding: 6px; }}
</style></head><body>
<h1 id="title">{H.escape(la)} vs {H.escape(lb)} — side by side</h1>
{fair}
<h2>The two runs</h2>
<table id="runs"><tr><th></th><th>A: {H.escape(la)}</th><th>B: {H.escape(lb)}</th></tr>{facts}</table>
<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>{H.escape(la)}</th><th>{H.escape(lb)}</th>
<th>where they differ</th></tr>
{steps}</table>
<h2>Per tier and metric</h2>
<p>Each engine's figure is the median over its repeats; ratio = B / A with its 95 % bootstrap
interval over the basis named; a difference is called only when the whole interval lies beyond
the tolerance (higher is better for throughput, lower for latencies). With two repeats an
interval is rough; five give a call one can rely on (<code>repeats</code> on the tiers).</p>
<table id="sidebyside"><tr><th>tier</th><th>metric</th><th>{H.escape(la)}</th><th>{H.escape(lb)}</th>
<th>ratio B/A</th><th>95 % interval</th><th>basis</th><th>verdict</th></tr>{''.join(body)}</table>
{plot}
<p>Run pages: <a href="{H.escape(_rel(s.a.path / 'index.html', out))}">{H.escape(s.a.run_id)}</a>,
<a href="{H.escape(_rel(s.b.path / 'index.html', out))}">{H.escape(s.b.run_id)}</a>.</p>
</body></html>"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
