"""Result files judged as they come: ``runbook check`` and ``runbook compare`` on bench_serving's
printed output or JSONL, with no run folder around them. A printed block does not name its
workload: its token totals do (``infer``), matched against the tiers of the recipe's profiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook.core.errors import ParamsError
from runbook.judge.checks import (
    Finding,
    check_result,
    infer_workload,
    tier_workloads,
    workload_fields,
    workload_of,
)
from runbook.judge.compare import Comparison, compare
from runbook.measure.workload import Workload

INFER_FROM = ["mi300x-kimi-k2", "local"]  # the profiles whose tiers a bare result is matched to
Say = Callable[[str], None]


def infer(r: dict[str, Any], what: str, say: Say) -> tuple[str | None, Workload | None]:
    """(tier, workload) a result's token totals identify, said through ``say``; (None, None) if none."""
    hit = infer_workload(r, tier_workloads(INFER_FROM))
    if hit is None:
        return None, None
    tier, w = hit
    say(f"{what}: workload inferred from its token totals: tier {tier} ({w.num_prompts} prompts, "
        f"{w.input_len}/{w.output_len} tokens, range ratio {w.range_ratio}, seed {w.seed})")
    return tier, w


def check_files(files: list[str], say: Say, tier: str | None = None, num_prompts: int | None = None,
                seed: int = 1, rel: float = 0.02) -> list[Finding]:
    """Every run in ``files`` checked for consistency against its workload (given, named by the
    result, or inferred from its totals)."""
    from runbook.measure.results import read_results

    findings: list[Finding] = []
    for _, row in read_results(files).iterrows():
        r = row.dropna().to_dict()
        label = tier or f"{row['source']}#{row['run_index']}"
        if num_prompts:
            w = Workload(num_prompts, int(r.get("random_input_len") or 0),
                         int(r.get("random_output_len") or 0),
                         float(r.get("random_range_ratio") or 0.0), seed)
        else:
            w = workload_of(r)
            if w is None:  # a printed block does not name its workload: its totals do
                inferred, w = infer(r, label, say)
                label = tier or inferred or label
        findings += check_result(r, label, w, rel)
    return findings


def check_reference(reference: str, rel: float = 0.02) -> list[Finding]:
    """The published blocks checked as any result is (the recipe's own errors)."""
    from runbook.judge.reference import load_reference

    findings: list[Finding] = []
    for tier, row in load_reference(reference).iterrows():
        r = row.to_dict()
        findings += check_result(r, str(tier), workload_of(r), rel)
    return findings


def compare_file(result: str, reference: str, say: Say, tier: str | None = None,
                 profile: str | None = None, meta: dict[str, Any] | None = None) -> list[Comparison]:
    """Each run in ``result`` against the reference's tier (given, or inferred from the totals),
    with the profile's tolerances and the setup it describes (hardware, model, TP)."""
    from runbook.core.params import load_profile
    from runbook.core.schema import Tolerances
    from runbook.judge.reference import load_reference
    from runbook.measure.results import read_results

    ref = load_reference(reference)
    df = read_results([result])
    if not tier:
        tier, w = infer(df.iloc[-1].dropna().to_dict(), result, say)
        if tier is None or w is None:
            raise ParamsError("the result does not say its tier and its token totals match none of "
                              "the recipe's workloads", field="--tier", allowed=", ".join(ref.index))
        for col, v in workload_fields(w).items():
            df[col] = df[col].fillna(v) if col in df else v
    if tier not in ref.index:
        raise ParamsError(f"tier {tier!r} is not in the reference", field="--tier",
                          allowed=", ".join(ref.index))
    setup: dict[str, Any] = {}
    tol = Tolerances()
    if profile:
        prof = load_profile(profile)
        tol = prof.report.tolerances
        setup.update(hardware=prof.target.hardware, model=prof.target.model, tp=prof.server.tp)
        if tier in prof.benchmark.tiers:
            t = prof.tier(tier)
            setup.update(num_prompts=t.num_prompts, seed=t.seed)
    setup.update(meta or {})
    return [compare({**setup, **row.dropna().to_dict()}, ref.loc[tier].to_dict(), tier, tol)
            for _, row in df.iterrows()]
