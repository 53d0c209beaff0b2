"""A concurrency sweep: which concurrency to run at under a latency budget.

Each point is one tier run (``bench.run_tier``: bench_serving or the builtin runner, the
recipe's methodology) at ``--max-concurrency c`` with ``prompts_per_concurrency × c`` prompts and
``warmup_per_concurrency × c`` warm-up requests, repeated ``repeats`` times on the same workload.
From the per-request records: output tokens/s per GPU against tokens/s per user (1000 / median
TPOT), the Pareto front of those points, goodput under the profile's SLO, and the one sentence a
reader wants first: the highest concurrency on the front that meets the SLO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from runbook.errors import ParamsError
from runbook.load.run import TierResult, run_repeats
from runbook.load.tiers import CUSTOM, resolve_tier
from runbook.nbparams import SweepParams
from runbook.runfolder import RunFolder
from runbook.schema import Profile, Slo, Sweep
from runbook.stats import bootstrap, goodput, pareto_front, tpot_s

# sweep.ipynb's "use the profile's value" defaults (papermill needs plain literals).
UNSET = {n: f.get_default(call_default_factory=True) for n, f in SweepParams.model_fields.items()
         if n in Sweep.model_fields}  # sweep.ipynb's "the profile's value" (its parameter model)


def resolve_sweep(p: Profile, **values: Any) -> Sweep:
    """The profile's sweep with the notebook's (or CLI's) values applied, validated."""
    from pydantic import ValidationError

    from runbook.params import format_validation_error

    unknown = set(values) - set(UNSET)
    if unknown:
        raise ParamsError(f"unknown sweep parameter(s): {', '.join(sorted(unknown))}", field="sweep",
                          allowed=", ".join(UNSET))
    from runbook.nbtools import as_list

    base = p.benchmark.sweep.model_dump()
    if "concurrencies" in values:  # papermill -p concurrencies "[1, 4, 16]" arrives as text
        values["concurrencies"] = as_list(values["concurrencies"])
    for k, v in values.items():
        if v != UNSET[k] or type(v) is not type(UNSET[k]):
            base[k] = v
    try:
        return Sweep.model_validate(base)
    except ValidationError as e:
        raise format_validation_error(e, "sweep parameters", Sweep) from None


def point_name(c: int) -> str:
    return f"sweep-c{c}"


@dataclass
class SweepPoint:
    concurrency: int
    results: list[TierResult] = field(default_factory=list)  # one per repeat


@dataclass
class SweepResult:
    sweep: Sweep
    slo: Slo
    gpus: int  # the measured count (1 where there is none: per device = per machine)
    points: list[SweepPoint]
    reference: pd.DataFrame | None = None

    def frame(self) -> pd.DataFrame:
        rows = []
        for pt in self.points:
            recs = [r for tr in pt.results for r in records_of(tr)]
            ok = [r for r in recs if r.success]
            tput = [tr.row.get("output_throughput") for tr in pt.results]
            dur = sum(float(tr.row.get("duration") or 0) for tr in pt.results)
            tpots = [t * 1000 for r in ok if (t := tpot_s(r)) is not None]
            ttfts = [r.ttft * 1000 for r in ok]
            g = goodput(recs, dur, self.slo.ttft_ms, self.slo.tpot_ms)
            t_ci = bootstrap(tput)
            tpot_med = float(np.median(tpots)) if tpots else math.nan
            rows.append({
                "concurrency": pt.concurrency, "repeats": len(pt.results),
                "completed": sum(int(tr.row.get("completed") or 0) for tr in pt.results),
                "output_throughput": t_ci.value, "output_throughput_ci": _ci(t_ci, len(tput)),
                "output_tps_per_gpu": t_ci.value / self.gpus,
                "tps_per_user": 1000 / tpot_med if tpot_med and math.isfinite(tpot_med) else math.nan,
                "median_ttft_ms": _pct(ttfts, 50), "p99_ttft_ms": _pct(ttfts, 99),
                "median_tpot_ms": tpot_med, "p99_tpot_ms": _pct(tpots, 99),
                "median_tpot_ms_ci": _ci(bootstrap(tpots), len(tpots)),
                "goodput_rps": g.per_s, "slo_met_share": g.good / g.total if g.total else math.nan,
            })
        df = pd.DataFrame(rows)
        front = set(pareto_front(list(zip(df["tps_per_user"], df["output_tps_per_gpu"], strict=True)))) \
            if not df.empty else set()
        df["on_front"] = [i in front for i in range(len(df))]
        df["meets_slo"] = df["slo_met_share"] >= self.slo.attainment if not df.empty else []
        return df

    def best(self) -> pd.Series | None:
        df = self.frame()
        ok = df[df["on_front"] & df["meets_slo"]]
        return None if ok.empty else ok.sort_values("concurrency").iloc[-1]

    def headline(self) -> str:
        """The sentence at the top of the page."""
        slo = " and ".join(s for s in (f"TTFT ≤ {self.slo.ttft_ms:g} ms" if self.slo.ttft_ms else "",
                                       f"TPOT ≤ {self.slo.tpot_ms:g} ms" if self.slo.tpot_ms else "") if s)
        share = f"{self.slo.attainment:.0%} of requests"
        b = self.best()
        tried = ", ".join(str(pt.concurrency) for pt in self.points)
        if b is None:
            return (f"No concurrency tried ({tried}) meets {slo} for {share}: lower the concurrency "
                    "or relax the SLO.")
        return (f"Under {slo} for {share}, the highest concurrency on the Pareto front that meets it "
                f"is {int(b['concurrency'])}: {b['output_throughput']:.1f} output tok/s "
                f"({b['output_tps_per_gpu']:.1f} per GPU), {b['tps_per_user']:.1f} tok/s per user, "
                f"goodput {b['goodput_rps']:.2f} req/s (tried: {tried}).")


def records_of(tr: TierResult) -> list[Any]:
    """One run's per-request records (a point's ``results`` hold one run per repeat)."""
    return tr.own_records()


def placeholder() -> Any:
    """An output at the top of the notebook that ``publish`` fills with the headline once the
    sweep has run (nbclient applies the update to the executed notebook and its HTML)."""
    from IPython.display import Markdown, display

    return display(Markdown("*The sweep's headline appears here once it has run.*"), display_id=True)


def publish(result: SweepResult, run: RunFolder, handle: Any = None) -> str:
    """The headline at the top of the page, sweep.csv in the run folder, the record in state."""
    from IPython.display import Markdown

    text = result.headline()
    df = result.frame()
    df.to_csv(run.path / "sweep.csv", index=False)
    run.update_state(sweep={"headline": text, "csv": str(run.path / "sweep.csv"),
                            "concurrencies": [int(c) for c in df["concurrency"]]})
    if handle is not None:
        handle.update(Markdown(f"**{text}**"))
    print(text)
    return text


def plots(result: SweepResult) -> None:
    from runbook import plots as P

    df = result.frame()
    ref_gpus = 8
    if result.reference is not None and "hardware" in result.reference:
        import re

        m = re.search(r"x(\d+)\s*$", str(result.reference["hardware"].iloc[0]))
        ref_gpus = int(m.group(1)) if m else ref_gpus
    P.show([P.pareto(df, result.reference, result.gpus, ref_gpus),
            P.latency_vs_concurrency(df)])


def _pct(vals: list[float], q: float) -> float:
    return float(np.percentile(vals, q)) if vals else math.nan


def _ci(iv: Any, n: int) -> str:
    return f"[{iv.lo:.2f}, {iv.hi:.2f}]" if n > 1 and math.isfinite(iv.lo) else "—"


def run_sweep(p: Profile, run: RunFolder, sw: Sweep, runner: str, launcher: Any = None,
              endpoint: str | None = None, out: Any = print) -> SweepResult:
    from runbook.preflight import measured_host

    points = []
    for c in sw.concurrencies:
        _, t = resolve_tier(p, CUSTOM, c, num_prompts=sw.prompts_per_concurrency * c,
                            input_len=sw.input_len, output_len=sw.output_len, range_ratio=sw.range_ratio,
                            seed=sw.seed, warmup_requests=sw.warmup_per_concurrency * c,
                            repeats=sw.repeats, vary_seed=sw.vary_seed)
        out(f"sweep point c={c} ({t.num_prompts} prompts, {sw.repeats} run(s))")
        points.append(SweepPoint(c, run_repeats(p, run, point_name(c), t, runner, launcher, endpoint,
                                                out=out).runs))
    gpus = max(1, int(measured_host(run).get("gpus") or 0))
    ref = None
    if p.report.reference:
        from runbook.reference import load_reference

        ref = load_reference(p.report.reference)
    return SweepResult(sw, p.benchmark.slo, gpus, points, ref)
