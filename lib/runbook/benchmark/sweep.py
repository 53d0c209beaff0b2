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

from runbook.benchmark.run import TierResult, run_repeats
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile, Slo, Sweep
from runbook.judge.stats import bootstrap, goodput, pareto_front, tpot_s
from runbook.measure.tiers import CUSTOM, resolve_tier


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


def _pct(vals: list[float], q: float) -> float:
    return float(np.percentile(vals, q)) if vals else math.nan


def _ci(iv: Any, n: int) -> str:
    return f"[{iv.lo:.2f}, {iv.hi:.2f}]" if n > 1 and math.isfinite(iv.lo) else "—"


def run_sweep(p: Profile, run: RunFolder, sw: Sweep, runner: str, launcher: Any = None,
              endpoint: str | None = None, out: Any = print) -> SweepResult:
    from runbook.deploy.preflight import measured_host

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
        from runbook.judge.reference import load_reference

        ref = load_reference(p.report.reference)
    return SweepResult(sw, p.benchmark.slo, gpus, points, ref)
