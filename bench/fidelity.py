"""Fidelity: the builtin runner vs sglang 0.5.7's bench_serving on the same local server.

Starts the embedded default (or uses the profile's server if one answers), runs each tier with
both runners, and prints the per-metric % difference of the builtin figure from bench_serving's
for output throughput and median TTFT / TPOT / ITL. Goal: within 3 %. With --repeats N each
runner runs N times per tier, in rotating order, and the medians are compared: on two shared
CPU cores single runs swing by tens of percent from one run to the next. --formats compares the
builtin runner's prompt formats (token_ids, text) side by side.

Usage: python bench/fidelity.py [-f PROFILE] [--tiers low,medium,high] [--repeats N]
                                [--formats token_ids,text] [-p KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

import pandas as pd

from runbook.bench import make_spec, resolve_tier, run_tier, serving
from runbook.launchers import get_launcher
from runbook.params import load_profile
from runbook.runfolder import RunFolder

METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_itl_ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--profile", default="local")
    ap.add_argument("-p", "--param", action="append", default=[])
    ap.add_argument("--tiers", default="low,medium,high")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--formats", default="token_ids", help="builtin prompt formats to compare")
    a = ap.parse_args()
    p = load_profile(a.profile, a.param)
    run = RunFolder.create(f"{p.profile}-fidelity")
    rows = []
    variants = ["bench_serving", *(f"builtin[{f}]" for f in a.formats.split(","))]
    with serving(p, run):
        for tier in a.tiers.split(","):
            name, t = resolve_tier(p, tier)
            res: dict[str, list[dict]] = {v: [] for v in variants}
            for i in range(a.repeats):
                k = i % len(variants)  # rotate who goes first: the host warms and drifts
                for v in variants[k:] + variants[:k]:
                    runner = v.split("[")[0]
                    spec = make_spec(p, name, t, runner)
                    if runner == "builtin":
                        spec = dataclasses.replace(spec, prompt_format=v[8:-1])
                    launcher = get_launcher(p, run) if runner == "bench_serving" else None
                    res[v].append(run_tier(p, run, spec, runner, launcher, out=lambda s: None).row)
            for m in METRICS:
                bs = statistics.median(r[m] for r in res["bench_serving"])
                row = {"tier": tier, "metric": m, "bench_serving": round(bs, 2)}
                for v in variants[1:]:
                    bi = statistics.median(r[m] for r in res[v])
                    row[v] = round(bi, 2)
                    row[f"diff_% {v}"] = round((bi - bs) / bs * 100, 2)
                rows.append(row)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    for v in variants[1:]:
        print(f"\n{v}: worst |diff| {df[f'diff_% {v}'].abs().max():.2f} % (goal ≤ 3 %)")
    print(f"medians of {a.repeats} run(s) per runner and tier; run folder {run.path}")


if __name__ == "__main__":
    main()
