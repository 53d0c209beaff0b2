"""Fidelity: the builtin runner vs sglang 0.5.7's bench_serving on the same local server.

Starts the embedded default (or uses the profile's server if one answers), runs each tier with
both runners (bench_serving first, then builtin), and prints the per-metric % difference of the
builtin figure from bench_serving's for output throughput and median TTFT / TPOT / ITL. Goal:
within 3 %.

Usage: python bench/fidelity.py [-f PROFILE] [--tiers low,medium,high] [-p KEY=VALUE ...]
"""

from __future__ import annotations

import argparse

import pandas as pd

from runbook import deploy
from runbook.bench import _healthy, make_spec, resolve_tier, run_tier
from runbook.launchers import get_launcher
from runbook.params import load_profile
from runbook.runfolder import RunFolder

METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_itl_ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--profile", default="local")
    ap.add_argument("-p", "--param", action="append", default=[])
    ap.add_argument("--tiers", default="low,medium,high")
    a = ap.parse_args()
    p = load_profile(a.profile, a.param)
    run = RunFolder.create(f"{p.profile}-fidelity")
    started = False
    if not _healthy(p.endpoint):
        deploy.up(p, run)
        started = True
    rows = []
    try:
        for tier in a.tiers.split(","):
            name, t = resolve_tier(p, tier)
            res = {}
            for runner in ("bench_serving", "builtin"):
                launcher = get_launcher(p, run) if runner == "bench_serving" else None
                res[runner] = run_tier(p, run, make_spec(p, name, t, runner), runner, launcher,
                                       out=lambda s: None).row
            for m in METRICS:
                bs, bi = res["bench_serving"][m], res["builtin"][m]
                rows.append({"tier": tier, "metric": m, "bench_serving": round(bs, 2),
                             "builtin": round(bi, 2), "diff_%": round((bi - bs) / bs * 100, 2)})
    finally:
        if started:
            deploy.teardown(p, run)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    print(f"\nworst |diff|: {df['diff_%'].abs().max():.2f} % (goal ≤ 3 %); run folder {run.path}")


if __name__ == "__main__":
    main()
