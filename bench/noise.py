"""Run-to-run noise: how small a difference this machine can see.

Runs each tier ``--repeats`` times on the same workload (the runbook's own ``run_repeats``, the
profile's runner) against the profile's server — the one that answers, else the local engine
started for this script and stopped after it — and prints, per tier and metric, the median over
the repeats, its 95 % bootstrap interval and the interval's width in % of the median (and, for
the median latencies, the interval over all the repeats' requests). A change between two runs
(``runbook diff``) narrower than this width cannot be told from noise here.

Usage: python bench/noise.py [-f PROFILE] [--tiers low,medium] [--repeats 5] [-p KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from runbook.benchmark.run import choose_runner, run_repeats
from runbook.benchmark.session import serving
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy.launchers import get_launcher
from runbook.judge.stats import repeat_intervals
from runbook.measure.tiers import resolve_tier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--profile", default="local")
    ap.add_argument("--tiers", default="low,medium")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("-p", "--param", action="append", default=[])
    a = ap.parse_args()
    p = load_profile(a.profile, a.param)
    run = RunFolder.create(f"noise-{p.profile}", Path(tempfile.mkdtemp(prefix="runbook-noise-")))
    run.update_state(profile=p.profile, params=p.model_dump(mode="json"))
    runner = choose_runner(p, "auto")
    frames = []
    with serving(p, run, out=lambda s: None):
        launcher = get_launcher(p, run) if runner == "bench_serving" else None
        for name in a.tiers.split(","):
            _, t = resolve_tier(p, name, repeats=a.repeats)
            res = run_repeats(p, run, name, t, runner, launcher, out=lambda s: None)
            df = repeat_intervals([r.row for r in res.runs], res.request_records())
            df.insert(0, "tier", name)
            frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    cols = ["tier", "metric", "repeats", "median", "ci_low", "ci_high", "ci_width_pct", "req_ci_low",
            "req_ci_high"]
    print(f"profile {p.profile}, runner {runner}, {a.repeats} repeats per tier (run folder {run.path})")
    print(out[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
