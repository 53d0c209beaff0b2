"""The report: runs against the published reference, across tiers and across runs.

``build`` gathers result rows from files or run folders; the ``Report`` then renders what
report.ipynb shows — the reference's own findings, the workload fingerprints, per-tier
comparisons (labelled "not comparable" with reasons when setup or workload differ) and a
throughput-vs-median-TPOT plot with the reference points — and, given two or more run folders
(or the profile's ``report.baseline``), each later run judged against the first as ``runbook
diff`` judges it (``Report.verdicts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.errors import ParamsError
from runbook.core.schema import Profile
from runbook.core.verdicts import colour
from runbook.judge.checks import check_result, workload_of
from runbook.judge.compare import compare, styled
from runbook.judge.reference import load_reference
from runbook.measure.results import read_results
from runbook.measure.workload import Workload, fingerprint


def resolve_source(s: str | Path, field_name: str = "results") -> Path:
    """A result file or run folder as given, else relative to the project root (a kernel started
    in notebooks/ has another working folder), else under outputs/ (a run id alone)."""
    from runbook.core.params import PROJECT_ROOT
    from runbook.core.runfolder import OUTPUTS

    for cand in (Path(s), PROJECT_ROOT / s, OUTPUTS / s):
        if cand.exists():
            return cand
    raise ParamsError(f"{s} is neither a result file nor a run folder", field=field_name,
                      hint="give a path to outputs/<run-id> (or just the run id) or to a "
                      "bench_serving JSONL / printed output")


def gather(sources: list[str]) -> pd.DataFrame:
    """Rows from result files and run folders (a run folder contributes its results.jsonl)."""
    frames = []
    for s in sources:
        p = resolve_source(s)
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
    sources: list[str] = field(default_factory=list)
    _checks: Any = None  # the report step's checks, shared by the cells that record them

    @property
    def checks(self) -> Any:
        from runbook.core.verdicts import StepChecks

        if self._checks is None:
            self._checks = StepChecks("report")
        return self._checks

    def reference_findings(self, run: Any = None) -> Any:
        """The published blocks checked like a run's: each error found in them is a WARN (it is
        the reference's, not this run's), recorded as the report step's checks."""
        from runbook.core.verdicts import PASS, WARN

        chk = self.checks
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
        given (the baseline) — e.g. two images, two flag sets, or MI300X vs local. A run with
        repeats shows the median over them and its 95 % interval beside it."""
        from runbook.judge.stats import bootstrap, with_interval

        if self.runs.empty or "label" not in self.runs or self.runs["label"].nunique() < 2:
            return "give two or more runs (result files or run folders) to compare them"
        rows = []
        for tier, g in self.runs.groupby("tier", sort=False):
            base: dict[str, float] = {}
            for label, r in g.groupby("label", sort=False):
                row = {"tier": tier, "run": label, "repeats": len(r)}
                for m in metrics:
                    iv = bootstrap(list(r[m])) if m in r else None
                    v = iv.value if iv is not None else None
                    base.setdefault(m, v)
                    b = base[m]
                    row[m] = v
                    row[f"{m} Δ%"] = (v - b) / b * 100 if b and v is not None else None
                    if len(r) > 1 and iv is not None:
                        row[f"{m} 95 % CI"] = with_interval(iv.value, iv.lo, iv.hi)
                rows.append(row)
        df = pd.DataFrame(rows)
        fmt = {c: "{:+.1f} %" for c in df.columns if c.endswith("Δ%")}
        fmt |= {m: "{:.2f}" for m in metrics}
        return df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(
            f"baseline per tier: the first run given ({self.runs['label'].iloc[0]})")

    def verdicts(self, run: Any = None) -> Any:
        """Each later run folder against the first (the baseline), per tier and metric, as
        ``runbook diff BASELINE RUN``: a regression beyond the tolerance FAILs the report step; a
        tier measured with another workload is "not comparable" (WARN) with the reasons."""
        from runbook.core.verdicts import FAIL, PASS, WARN
        from runbook.judge.diff import diff_runs, table
        from runbook.judge.stats import IMPROVEMENT, NO_CHANGE, REGRESSION

        folders = [str(f) for f in map(resolve_source, self.sources) if (f / "results.jsonl").is_file()]
        if len(folders) < 2:
            return ("give two or more run folders (or set report.baseline, e.g. `runbook run "
                    "--baseline outputs/<run-id>`) to judge runs against each other")
        base, frames = folders[0], []
        chk = self.checks
        for other in folders[1:]:
            who = f"{Path(other).name} vs {Path(base).name}"
            try:
                diffs = diff_runs(base, other)
            except ParamsError as e:
                chk.add(who, WARN, str(e), "benchmark the same tiers in both runs")
                continue
            df = table(diffs)
            df.insert(0, "run", Path(other).name)
            frames.append(df)
            for d in diffs:
                if not d.comparable:
                    chk.add(f"{who}: tier {d.tier}", WARN, "not comparable: " + "; ".join(d.reasons),
                            "run the same workload in both")
                    continue
                bad = [c for c in d.changes if c.verdict == REGRESSION]
                good = [c for c in d.changes if c.verdict == IMPROVEMENT]
                if bad:
                    chk.add(f"{who}: tier {d.tier}", FAIL,
                            f"{REGRESSION} beyond ±{bad[0].tolerance_pct:g} %: {_changes(bad)}",
                            f"runbook diff {base} {other} --tier {d.tier}")
                else:
                    chk.add(f"{who}: tier {d.tier}", PASS,
                            f"{IMPROVEMENT}: {_changes(good)}" if good else NO_CHANGE)
        chk.record(run)
        if not frames:
            return "no run could be judged against the baseline: see the report's checks"
        out = pd.concat(frames, ignore_index=True)
        if run is not None:
            run.update_state(diff={"baseline": base, "rows": out.astype(object).where(out.notna(), None)
                                   .to_dict("records")})
        return diff_styled(out, Path(base).name)

    def floor(self, run: Any = None) -> Any:
        """Each tier's median TPOT as % of its decode floor (floor.py), the reference's beside it:
        how far from what the memory bandwidth allows."""
        from runbook.measure.floor import run_floors

        df = run_floors(self.profile, run, self.runs, self.reference)
        fmt = {c: "{:.1f} %" for c in df.columns if c.endswith("pct_of_floor")}
        fmt |= {c: "{:.3g}" for c in df.columns if c.endswith("_ms")}
        fmt |= {c: "{:.1f}" for c in df.columns if "tok_s" in c}
        return df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(
            f"this run: {df.attrs['basis']}; reference: {df.attrs['ref_basis']}")

    def raise_on_failure(self) -> None:
        """After everything is shown: a regression against the baseline fails the step."""
        self.checks.raise_on_failure()

    def plot(self) -> None:
        from runbook.report.plots import show, throughput_vs_tpot

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


def _changes(cs: list[Any]) -> str:
    return ", ".join(f"{c.metric} {c.delta_pct.value:+.1f} % [{c.delta_pct.lo:+.1f}, {c.delta_pct.hi:+.1f}]"
                     for c in cs)


def diff_styled(df: pd.DataFrame, base: str) -> Any:
    """``runbook diff``'s table with its verdicts coloured (also the index page's)."""
    fmt = {c: "{:+.1f}" for c in ("change_pct", "ci_low_pct", "ci_high_pct")}
    fmt |= {"base": "{:.2f}", "new": "{:.2f}", "tolerance_pct": "±{:.0f}"}
    return (df.style.format(fmt, na_rep="—").hide(axis="index")
            .map(lambda v: f"background-color: {colour(v)}", subset=["verdict"])
            .set_caption(f"against the baseline run {base}: change in % with its 95 % interval"))


def baseline_folder(base: str) -> Path:
    """``report.baseline`` as a run folder with results, or the error naming the field."""
    b = resolve_source(base, "report.baseline")
    if not (b / "results.jsonl").is_file():
        raise ParamsError(f"report.baseline {base} is not a run folder with results (no results.jsonl)",
                          field="report.baseline", hint="give outputs/<run-id> of a run that benchmarked")
    return b


def build(step: Any, sources: list[str] | None = None) -> Report:
    """The report over ``sources`` (empty: this run), the profile's ``report.baseline`` first."""
    from runbook.core.params import as_list

    srcs = [str(resolve_source(s)) for s in as_list(sources or [])]
    if not srcs and (step.run.path / "results.jsonl").exists():
        srcs = [str(step.run.path)]
    if step.profile.report.baseline:
        b = baseline_folder(step.profile.report.baseline)
        srcs = [str(b), *[s for s in srcs if Path(s).resolve() != b.resolve()]]
    ref = load_reference(step.profile.report.reference)
    return Report(step.profile, infer_tiers(gather(srcs), step.profile), ref, srcs)
