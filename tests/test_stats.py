"""The statistics module on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runbook.judge.stats import (
    IMPROVEMENT,
    NO_CHANGE,
    NOT_ENOUGH,
    REGRESSION,
    bootstrap,
    change,
    goodput,
    pareto_front,
    repeat_intervals,
    with_interval,
)
from runbook.measure.metrics import RequestRecord


def test_bootstrap_interval_covers_the_true_median_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = bootstrap(rng.normal(100, 10, 50))
    large = bootstrap(rng.normal(100, 10, 2000))
    assert small.lo < 100 < small.hi and large.lo < 100 < large.hi
    assert large.width < small.width / 3  # ~ 1/sqrt(n): 40x the data, ~6x narrower
    assert bootstrap([5.0]).width == 0 and math.isnan(bootstrap([]).value)
    assert str(bootstrap([1.0, 2.0, 3.0], seed=3)) == str(bootstrap([1.0, 2.0, 3.0], seed=3))  # reproducible


def _rec(i, ttft, tpot, n=11, ok=True):
    return RequestRecord(i, 100, n, ttft=ttft, latency=ttft + tpot * (n - 1), output_len=n, success=ok)


def test_goodput_counts_the_requests_meeting_both_bounds():
    recs = [_rec(0, 0.5, 0.02), _rec(1, 2.5, 0.02), _rec(2, 0.5, 0.08), _rec(3, 1.9, 0.049),
            _rec(4, 0.1, 0.01, ok=False)]
    g = goodput(recs, 10.0, ttft_ms=2000, tpot_ms=50)
    assert (g.good, g.total) == (2, 5) and g.per_s == pytest.approx(0.2)
    assert g.sentence().startswith("2 of 5 requests met TTFT ≤ 2000 ms and TPOT ≤ 50 ms: goodput 0.20 req/s")
    assert goodput(recs, 10.0).good == 4  # no SLO: every successful request


def test_pareto_front_keeps_only_the_undominated_points():
    pts = [(100, 50), (300, 40), (250, 30), (600, 20), (590, 19), (700, 5)]
    assert pareto_front(pts) == [0, 1, 3, 5]
    assert pareto_front([(1, 1), (1, 1)]) == [0, 1]  # equal points dominate nothing
    assert pareto_front([(math.nan, 1), (2, 2)]) == [1]


def test_change_verdicts_on_known_shifts():
    rng = np.random.default_rng(7)
    base = rng.normal(50, 2, 400)  # TPOT in ms: lower is better
    same = change("median_tpot_ms", base, rng.normal(50, 2, 400), higher_better=False, tolerance=0.02)
    assert same.verdict == NO_CHANGE and same.delta_pct.lo < 0 < same.delta_pct.hi
    slower = change("median_tpot_ms", base, rng.normal(60, 2, 400), higher_better=False, tolerance=0.02)
    assert slower.verdict == REGRESSION and slower.delta_pct.value == pytest.approx(20, abs=2)
    faster = change("output_throughput", [100, 101, 99, 100], [120, 121, 119, 120], higher_better=True,
                    tolerance=0.05)
    assert faster.verdict == IMPROVEMENT
    within = change("median_tpot_ms", base, base * 1.01, higher_better=False, tolerance=0.03)
    assert within.verdict == NO_CHANGE  # real but inside the tolerance
    assert change("x", [1.0], [2.0], True, 0.05).verdict == NOT_ENOUGH


def test_repeat_intervals_summarise_the_repeats_and_the_pooled_requests():
    rows = [{"output_throughput": v, "median_ttft_ms": 10.0, "median_itl_ms": 2.0} for v in (90, 100, 110)]
    recs = [RequestRecord(i, 100, 10, success=True, ttft=0.010 + i * 1e-4, latency=0.1, output_len=10,
                          itl=[0.002] * 9)
            for i in range(40)]
    df = repeat_intervals(rows, recs).set_index("metric")
    t = df.loc["output_throughput"]
    assert t["median"] == 100 and 90 <= t["ci_low"] < 100 < t["ci_high"] <= 110 and t["repeats"] == 3
    assert t["ci_width_pct"] == pytest.approx((t["ci_high"] - t["ci_low"]) / 100 * 100)
    assert math.isnan(t["requests"])  # throughput has no per-request samples
    ttft = df.loc["median_ttft_ms"]  # all repeats printed 10 ms: no run-to-run spread…
    assert ttft["ci_width_pct"] == 0 and ttft["requests"] == 40
    assert 10.0 < ttft["req_ci_low"] < ttft["req_ci_high"] < 14.0  # …but the requests spread 10–13.9 ms
    assert df.loc["median_itl_ms", "requests"] == 40 * 9
    assert "p99_itl_ms" not in df.index  # a figure no repeat has is left out, not shown as 0


def test_a_figure_is_shown_with_its_interval_only_when_there_is_one():
    assert with_interval(12.345, 12.0, 12.8) == "12.35 [12.00, 12.80]"
    assert with_interval(5.0, 5.0, 5.0) == "5.00"  # one repeat
    assert with_interval(math.nan, 1, 2) == "—"


def test_each_repeat_of_a_tier_writes_its_own_files(tmp_path):
    from runbook.core.schema import TierRun
    from runbook.measure.runners import out_path

    one = TierRun(tier="low", concurrency=1, num_prompts=10, input_len=100, output_len=100)
    assert out_path(tmp_path, one, "builtin", ".log").name == "bench-low-builtin.log"
    second = TierRun(tier="low", concurrency=1, num_prompts=10, input_len=100, output_len=100, repeat=2)
    assert out_path(tmp_path, second, "bench_serving", ".jsonl").name == "bench-low-bench_serving-r2.jsonl"
