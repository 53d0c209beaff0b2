"""The report: runs against the published reference, across tiers and across runs.

``build`` gathers result rows from files or run folders; the ``Report`` then renders what
report.ipynb shows — the reference's own findings, the workload fingerprints, per-tier
comparisons (labelled "not comparable" with reasons when setup or workload differ) and a
throughput-vs-median-TPOT plot with the reference points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.checks import check_result, workload_of
from runbook.compare import compare, styled
from runbook.params import Profile
from runbook.reference import load_reference
from runbook.results import read_results
from runbook.workload import Workload, fingerprint


def gather(sources: list[str]) -> pd.DataFrame:
    """Rows from result files and run folders (a run folder contributes its results.jsonl)."""
    frames = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            f = p / "results.jsonl"
            if f.exists():
                df = read_results(f)
                df["label"] = p.name
                frames.append(df)
        else:
            df = read_results(p)
            df["label"] = p.stem
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass
class Report:
    profile: Profile
    runs: pd.DataFrame
    reference: pd.DataFrame

    def reference_findings(self, run: Any = None) -> Any:
        """The published blocks checked like a run's: each error found in them is a WARN (it is
        the reference's, not this run's), recorded as the report step's checks."""
        from runbook.verdicts import PASS, WARN, StepChecks

        chk = StepChecks("report")
        for tier, row in self.reference.iterrows():
            fs = check_result(row.to_dict(), str(tier), workload_of(row.to_dict()))
            if not fs:
                chk.add(f"reference {tier}", PASS, "consistent")
            for f in fs:
                chk.add(f"reference {tier}: {f.metric}", WARN, f"{f.check}: printed {f.printed}, "
                        f"expected {f.expected} — {f.detail}", "compare against the recomputed figure")
        chk.add("runs read", PASS if not self.runs.empty else WARN,
                f"{len(self.runs)} result row(s)" if not self.runs.empty else "no runs given")
        chk.record(run)
        return chk.styled()

    def fingerprints(self) -> pd.DataFrame:
        rows = []
        for name, t in self.profile.benchmark.tiers.items():
            fp = fingerprint(Workload(t.num_prompts, t.input_len, t.output_len, t.range_ratio, t.seed))
            ref = self.reference.loc[name] if name in self.reference.index else None
            rows.append({"tier": name, "num_prompts": t.num_prompts, "concurrency": t.concurrency,
                         "seed": t.seed, "expected input tokens": fp["total_input_tokens"],
                         "expected output tokens": fp["total_output_tokens"],
                         "reference input": None if ref is None else ref["total_input_tokens"],
                         "reference output": None if ref is None else ref["total_output_tokens"]})
            for _, r in (self.runs[self.runs["tier"] == name].iterrows()
                         if "tier" in self.runs else []):
                rows[-1][f"{r.get('label', 'run')} input"] = r.get("total_input_tokens")
                rows[-1][f"{r.get('label', 'run')} output"] = r.get("total_output_tokens")
        return pd.DataFrame(rows)

    def comparisons(self) -> list[Any]:
        from IPython.display import display

        out = []
        if self.runs.empty:
            return ["no runs given: only the reference is shown"]
        for _, r in self.runs.iterrows():
            tier = r.get("tier")
            if tier not in self.reference.index:
                continue
            c = compare(r.dropna().to_dict(), self.reference.loc[tier].to_dict(), tier,
                        self.profile.report.tolerances)
            display(styled(c))
            out.append(c.label)
        return out

    def run_deltas(self, metrics: tuple[str, ...] = ("output_throughput", "median_ttft_ms",
                                                     "median_tpot_ms", "median_itl_ms")) -> Any:
        """Runs against each other, per tier: each metric and its % change from the first run
        given (the baseline) — e.g. two images, two flag sets, or MI300X vs local."""
        if self.runs.empty or "label" not in self.runs or self.runs["label"].nunique() < 2:
            return "give two or more runs (result files or run folders) to compare them"
        rows = []
        for tier, g in self.runs.groupby("tier", sort=False):
            base = g.iloc[0]
            for _, r in g.iterrows():
                row = {"tier": tier, "run": r["label"]}
                for m in metrics:
                    v, b = r.get(m), base.get(m)
                    row[m] = v
                    row[f"{m} Δ%"] = (v - b) / b * 100 if b and v is not None else None
                rows.append(row)
        df = pd.DataFrame(rows)
        fmt = {c: "{:+.1f} %" for c in df.columns if c.endswith("Δ%")}
        fmt |= {m: "{:.2f}" for m in metrics}
        return df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(
            f"baseline per tier: the first run given ({self.runs['label'].iloc[0]})")

    def plot(self) -> None:
        from runbook.plots import show, throughput_vs_tpot

        show([throughput_vs_tpot(self.runs, self.reference)])


def infer_tiers(runs: pd.DataFrame, p: Profile) -> pd.DataFrame:
    """Rows without a tier (a raw bench_serving file) get the profile's tier with their concurrency."""
    if runs.empty:
        return runs
    by_conc = {t.concurrency: name for name, t in p.benchmark.tiers.items()}
    tiers = runs["tier"] if "tier" in runs else pd.Series([None] * len(runs), index=runs.index)
    conc = runs.get("max_concurrency", pd.Series([None] * len(runs), index=runs.index))
    runs = runs.copy()
    runs["tier"] = [t if isinstance(t, str) and t else by_conc.get(c)
                    for t, c in zip(tiers, conc, strict=True)]
    return runs


def build(step: Any, sources: list[str] | None = None) -> Report:
    srcs = list(sources or [])
    if not srcs and (step.run.path / "results.jsonl").exists():
        srcs = [str(step.run.path)]
    ref = load_reference(step.profile.report.reference)
    return Report(step.profile, infer_tiers(gather(srcs), step.profile), ref)
