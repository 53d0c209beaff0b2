"""Run against run: per tier and metric, the change with its confidence interval and a verdict.

``runbook diff RUN_A RUN_B`` answers "is the new image faster or slower": for each tier both
runs measured with the same workload (the fingerprint fields must match, otherwise the tier is
"not comparable" with the reasons), latencies are judged on their per-request distributions
(TTFT, TPOT, ITL, E2E: medians, bootstrap intervals over requests), throughput on the repeats'
rows (an interval needs two or more repeats of each run). A verdict is a regression or an
improvement only when the whole interval lies beyond the profile's tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.errors import ParamsError
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Tolerances
from runbook.judge.compare import WORKLOAD_KEYS, comparability
from runbook.judge.provenance import client_reasons
from runbook.judge.stats import LATENCY_SAMPLES, REGRESSION, Change, change
from runbook.measure.metrics import RequestRecord, records_from_files

THROUGHPUTS = ("output_throughput", "request_throughput")


@dataclass
class TierData:
    tier: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per repeat
    records: list[RequestRecord] = field(default_factory=list)  # successful requests, pooled


@dataclass
class TierDiff:
    tier: str
    comparable: bool
    reasons: list[str]
    changes: list[Change]

    @property
    def regression(self) -> bool:
        return any(c.verdict == REGRESSION for c in self.changes)


def load_run(path: str | Path) -> tuple[dict[str, TierData], dict[str, Any]]:
    """A run folder's tiers (rows and per-request records) and its recorded params."""
    p = Path(path)
    if not (p / "results.jsonl").is_file():
        raise ParamsError(f"{p} is not a run folder with results (no results.jsonl)", field="RUN",
                          hint="pass outputs/<run-id> folders of runs that benchmarked")
    run = RunFolder(p)
    state = run.read_state()
    tiers: dict[str, TierData] = {}
    for line in (p / "results.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            tiers.setdefault(str(row.get("tier")), TierData(str(row.get("tier")))).rows.append(row)
    for name, td in tiers.items():
        files_list = (state.get(f"tier_{name}") or {}).get("all_files") or \
            [(state.get(f"tier_{name}") or {}).get("files") or {}]
        seen: set[str] = set()  # a tier re-run in the same folder rewrites its files: read each once
        for files in files_list:
            key = files.get("records") or files.get("jsonl") or ""
            if key in seen:
                continue
            seen.add(key)
            td.records += [r for r in records_from_files(files) if r.success]
    return tiers, state.get("params") or {}


def workload_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in WORKLOAD_KEYS}


def diff_tier(a: TierData, b: TierData, tol: Tolerances) -> TierDiff:
    reasons = comparability(workload_fields(b.rows[-1]), workload_fields(a.rows[-1])) \
        + client_reasons(a.rows[-1], b.rows[-1])
    if reasons:
        return TierDiff(a.tier, False, reasons, [])
    changes = []
    for metric, samples in LATENCY_SAMPLES.items():  # tolerance keys: median_ttft_ms, …
        changes.append(change(metric, samples(a.records), samples(b.records), higher_better=False,
                              tolerance=tol.per_metric.get(f"median_{metric}", tol.default_rel)))
    for metric in THROUGHPUTS:
        changes.append(change(metric, [r.get(metric) for r in a.rows], [r.get(metric) for r in b.rows],
                              higher_better=True, tolerance=tol.per_metric.get(metric, tol.default_rel)))
    return TierDiff(a.tier, True, [], changes)


def load_pair(run_a: str | Path, run_b: str | Path, tiers: list[str] | None = None
              ) -> tuple[dict[str, TierData], dict[str, TierData], Tolerances, list[str]]:
    """Both runs' tiers, RUN_A's profile's tolerances, and the tiers to compare (those asked for,
    else every tier both measured); a tier one run lacks is an error naming ``--tier``."""
    a, params = load_run(run_a)
    b, _ = load_run(run_b)
    tol = Tolerances.model_validate(((params.get("report") or {}).get("tolerances")) or {})
    names = tiers or [t for t in a if t in b]
    missing = [t for t in names if t not in a or t not in b]
    if missing or not names:
        raise ParamsError(f"tier(s) {', '.join(missing) or '(none in common)'} not measured by both runs",
                          field="--tier", allowed=", ".join(sorted(set(a) & set(b))) or "none")
    return a, b, tol, names


def diff_runs(run_a: str | Path, run_b: str | Path, tiers: list[str] | None = None) -> list[TierDiff]:
    """RUN_A is the base, RUN_B the candidate; the tolerances are RUN_A's profile's."""
    a, b, tol, names = load_pair(run_a, run_b, tiers)
    return [diff_tier(a[t], b[t], tol) for t in names]


def table(diffs: list[TierDiff]) -> pd.DataFrame:
    rows = []
    for d in diffs:
        if not d.comparable:
            rows.append({"tier": d.tier, "metric": "—", "verdict": "not comparable: " + "; ".join(d.reasons)})
        for c in d.changes:
            rows.append({"tier": d.tier, "metric": c.metric, "base": c.base, "new": c.new,
                         "change_pct": c.delta_pct.value, "ci_low_pct": c.delta_pct.lo,
                         "ci_high_pct": c.delta_pct.hi, "tolerance_pct": c.tolerance_pct,
                         "verdict": c.verdict})
    return pd.DataFrame(rows)
