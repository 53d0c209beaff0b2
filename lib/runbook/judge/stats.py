"""Statistics beyond one run: bootstrap confidence intervals, goodput under an SLO, the Pareto
front of a concurrency sweep, and the verdict on a change between two runs.

Everything is computed from what a run keeps: the per-request records (bench_serving's
``--output-details`` lists, the builtin runner's records) and the result rows of repeats. The
bootstrap is a percentile bootstrap with a fixed seed, so a report redrawn from the same files
shows the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runbook.measure.metrics import RequestRecord

REGRESSION, IMPROVEMENT, NO_CHANGE, NOT_ENOUGH = (
    "regression", "improvement", "no significant change", "not enough data")


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float
    level: float = 0.95

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


def bootstrap(values: Sequence[float], stat: Callable[[np.ndarray], float] = np.median,
              n: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """``stat`` of ``values`` with its percentile-bootstrap interval."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return Interval(math.nan, math.nan, math.nan, level)
    point = float(stat(arr))
    if arr.size == 1:
        return Interval(point, point, point, level)
    rng = np.random.default_rng(seed)
    draws = np.array([stat(arr[rng.integers(0, arr.size, arr.size)]) for _ in range(n)])
    a = (1 - level) / 2
    return Interval(point, float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a)), level)


def tpot_s(r: RequestRecord) -> float | None:
    """bench_serving's TPOT of one request (seconds): (E2E − TTFT) / (output_len − 1)."""
    return (r.latency - r.ttft) / (r.output_len - 1) if r.success and r.output_len > 1 else None


# per-request samples (ms) behind bench_serving's latency figures
LATENCY_SAMPLES: dict[str, Callable[[Sequence[RequestRecord]], list[float]]] = {
    "ttft_ms": lambda rs: [r.ttft * 1000 for r in rs],
    "tpot_ms": lambda rs: [t * 1000 for r in rs if (t := tpot_s(r)) is not None],
    "itl_ms": lambda rs: [x * 1000 for r in rs for x in r.itl],
    "e2e_latency_ms": lambda rs: [r.latency * 1000 for r in rs],
}
# the figures a tier's repeats are summarised on; latencies also get an interval over requests
REPEAT_METRICS = ("output_throughput", "request_throughput", "median_ttft_ms", "median_tpot_ms",
                  "median_itl_ms", "median_e2e_latency_ms", "p99_ttft_ms", "p99_tpot_ms", "p99_itl_ms")


def finite_values(rows: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    """A metric's finite numbers over result rows (one per repeat); missing, inf and NaN left out."""
    return [float(v) for r in rows if isinstance(v := r.get(metric), int | float) and math.isfinite(v)]


def repeat_intervals(rows: Sequence[dict], records: Sequence[RequestRecord] = ()) -> pd.DataFrame:
    """One line per metric: the median over the repeats' rows with its 95 % bootstrap interval
    and the interval's width in % of the median (the run-to-run noise: a difference smaller than
    it cannot be seen on this machine); for median latencies also the interval over the pooled
    requests of all repeats."""
    ok = [r for r in records if r.success]
    out = []
    for m in REPEAT_METRICS:
        vals = finite_values(rows, m)
        if not vals:
            continue
        iv = bootstrap(vals)
        line = {"metric": m, "repeats": len(vals), "median": iv.value, "ci_low": iv.lo, "ci_high": iv.hi,
                "ci_width_pct": iv.width / abs(iv.value) * 100 if iv.value else math.nan,
                "requests": math.nan, "req_ci_low": math.nan, "req_ci_high": math.nan}
        key = m.removeprefix("median_")
        if m.startswith("median_") and key in LATENCY_SAMPLES and ok:
            samples = LATENCY_SAMPLES[key](ok)
            riv = bootstrap(samples)
            line |= {"requests": len(samples), "req_ci_low": riv.lo, "req_ci_high": riv.hi}
        out.append(line)
    return pd.DataFrame(out)


def with_interval(value: float, lo: float, hi: float, digits: int = 2) -> str:
    """A figure and its interval as the tables show it: ``12.34 [12.01, 12.80]``."""
    if not math.isfinite(value):
        return "—"
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi == value:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def meets_slo(r: RequestRecord, ttft_ms: float | None, tpot_ms: float | None) -> bool:
    if not r.success:
        return False
    if ttft_ms is not None and r.ttft * 1000 > ttft_ms:
        return False
    t = tpot_s(r)
    return tpot_ms is None or t is None or t * 1000 <= tpot_ms


@dataclass(frozen=True)
class Goodput:
    good: int
    total: int
    duration_s: float
    ttft_ms: float | None
    tpot_ms: float | None

    @property
    def per_s(self) -> float:
        return self.good / self.duration_s if self.duration_s > 0 else math.nan

    def sentence(self) -> str:
        slo = " and ".join(s for s in (f"TTFT ≤ {self.ttft_ms:g} ms" if self.ttft_ms is not None else "",
                                       f"TPOT ≤ {self.tpot_ms:g} ms" if self.tpot_ms is not None else "")
                           if s) or "no SLO"
        return (f"{self.good} of {self.total} requests met {slo}: goodput {self.per_s:.2f} req/s "
                f"over {self.duration_s:.1f} s")


def goodput(records: Sequence[RequestRecord], duration_s: float, ttft_ms: float | None = None,
            tpot_ms: float | None = None) -> Goodput:
    """Requests meeting the SLO (successful, TTFT and TPOT within their bounds) per second."""
    good = sum(meets_slo(r, ttft_ms, tpot_ms) for r in records)
    return Goodput(good, len(records), duration_s, ttft_ms, tpot_ms)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (both higher-is-better), in
    order of the first axis."""
    idx = [i for i, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)]
    front = [i for i in idx if not any(
        points[j][0] >= points[i][0] and points[j][1] >= points[i][1] and points[j] != points[i]
        for j in idx)]
    return sorted(front, key=lambda i: points[i][0])


@dataclass(frozen=True)
class Change:
    metric: str
    base: float
    new: float
    delta_pct: Interval  # the change of the statistic, in % of the base, with its interval
    verdict: str
    tolerance_pct: float


def change(metric: str, base: Sequence[float], new: Sequence[float], higher_better: bool,
           tolerance: float, stat: Callable[[np.ndarray], float] = np.median, n: int = 2000,
           seed: int = 0) -> Change:
    """The change of ``stat`` from ``base`` to ``new`` samples (requests, or repeats), with a
    bootstrap interval (both samples resampled). A regression (improvement) only when the whole
    interval lies beyond the tolerance in the bad (good) direction; otherwise no significant
    change — a difference this data cannot tell from noise is not called."""
    a = np.asarray([v for v in base if v is not None and math.isfinite(v)], dtype=float)
    b = np.asarray([v for v in new if v is not None and math.isfinite(v)], dtype=float)
    if a.size < 2 or b.size < 2 or stat(a) == 0:
        nan = Interval(math.nan, math.nan, math.nan)
        return Change(metric, math.nan, math.nan, nan, NOT_ENOUGH, tolerance * 100)
    rng = np.random.default_rng(seed)
    base_v, new_v = float(stat(a)), float(stat(b))
    draws = np.array([stat(b[rng.integers(0, b.size, b.size)]) / stat(a[rng.integers(0, a.size, a.size)]) - 1
                      for _ in range(n)]) * 100
    ci = Interval((new_v / base_v - 1) * 100, float(np.quantile(draws, 0.025)),
                  float(np.quantile(draws, 0.975)))
    tol = tolerance * 100
    good_lo, good_hi = (ci.lo, ci.hi) if higher_better else (-ci.hi, -ci.lo)
    if good_hi < -tol:
        verdict = REGRESSION
    elif good_lo > tol:
        verdict = IMPROVEMENT
    else:
        verdict = NO_CHANGE
    return Change(metric, base_v, new_v, ci, verdict, tol)
