"""Soak: the builtin client at concurrency 500 against the local engine for 5 minutes.

Runs batches of the builtin runner back to back until the time is up and prints, per batch and
in all: requests sent / completed / failed (every request accounted for), the client's RSS, open
file descriptors (from /proc) and live Python objects (after a collection) — which must stay
flat. The first batch sizes the allocator's arenas and the client's pools, so the steady state
is judged from batch 0's end onwards; the change from before it is printed too.

Usage: python bench/soak.py [-f PROFILE] [--minutes 5] [--concurrency 500] [-p KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path

from runbook.benchmark.session import serving
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.measure.runners.builtin import BuiltinRunner
from runbook.measure.tiers import make_spec, resolve_tier


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--profile", default="local")
    ap.add_argument("-p", "--param", action="append", default=[])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1500, help="requests per batch")
    ap.add_argument("--input-len", type=int, default=64)
    ap.add_argument("--output-len", type=int, default=32)
    a = ap.parse_args()
    p = load_profile(a.profile, a.param)
    run = RunFolder.create(f"{p.profile}-soak")
    out_dir = run.path / "bench"
    out_dir.mkdir(exist_ok=True)
    rows = []
    sent = done = failed = 0
    with serving(p, run, out=lambda s: None):
        runner = BuiltinRunner(out=lambda s: None)
        gc.collect()
        rss0, fd0, obj0 = rss_mb(), fds(), len(gc.get_objects())
        t_end = time.monotonic() + a.minutes * 60
        i = 0
        while time.monotonic() < t_end:
            _, t = resolve_tier(p, "", a.concurrency, num_prompts=a.batch, input_len=a.input_len,
                                   output_len=a.output_len, range_ratio=0.5, seed=i + 1,
                                   warmup_requests=0, flush_cache=False)
            spec = make_spec(p, f"soak{i}", t, "builtin")
            t0 = time.monotonic()
            res = runner.run(spec, out_dir)
            recs = res.records or []
            assert len(recs) == a.batch, "a request went missing"
            done_i, failed_i = res.row["completed"], res.row["failed"]
            sent += a.batch
            done += done_i
            failed += failed_i
            del res, recs  # what a batch leaves alive is what the next row counts
            gc.collect()
            rows.append((i, a.batch, done_i, failed_i, time.monotonic() - t0, rss_mb(), fds(),
                         len(gc.get_objects())))
            print(f"batch {i}: {done_i}/{a.batch} ok, {failed_i} failed, {rows[-1][4]:.0f} s, "
                  f"RSS {rows[-1][5]:.0f} MB, fds {rows[-1][6]}, objects {rows[-1][7]}", flush=True)
            i += 1
    print(f"\n{'batch':>5} {'sent':>6} {'ok':>6} {'failed':>6} {'secs':>6} {'RSS MB':>7} {'fds':>5} "
          f"{'objects':>8}")
    for r in rows:
        print(f"{r[0]:>5} {r[1]:>6} {r[2]:>6} {r[3]:>6} {r[4]:>6.0f} {r[5]:>7.0f} {r[6]:>5} {r[7]:>8}")
    missing = sent - done - failed
    print(f"\nin all: {sent} sent = {done} completed + {failed} failed "
          f"({'all accounted for' if not missing else f'MISSING {missing}'})")
    if rows:
        first, last = rows[0], rows[-1]
        print(f"before the first batch: RSS {rss0:.0f} MB, fds {fd0}, objects {obj0}")
        print(f"steady state, end of batch 0 → end of batch {last[0]}: RSS {first[5]:.0f} → "
              f"{last[5]:.0f} MB, fds {first[6]} → {last[6]}, objects {first[7]} → {last[7]}")


if __name__ == "__main__":
    main()
