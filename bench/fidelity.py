"""Fidelity: the builtin runner vs sglang 0.5.7's bench_serving, the same workload, two servers.

Prints, per tier, the per-metric % difference of the builtin figure from bench_serving's for
output throughput and median TTFT / TPOT / ITL. Goal: within 3 %.

--server engine (default): the local engine (started, or the profile's server if one answers).
With --repeats N each variant runs N times per tier, in rotating order, and the medians are
compared: on two shared CPU cores single runs of the same client swing by 20-30 % from one run to
the next, which a handful of repeats cannot average out.
--server paced: the loopback server (``loopback.py``) streaming at a fixed pace (--ttft-ms,
--itl-ms), so each metric has a known true value and the two clients are compared without an
engine's noise; bench_serving runs from the engine venv on this host, beside the builtin client.

--formats: the builtin runner's prompt formats (token_ids, text). --placement (engine server):
where the builtin client runs — ``host`` (where the runbook runs it: this process) or ``engine``
(inside the engine's container, where bench_serving runs, by ``docker exec python3 -m
runbook.measure.runners.builtin`` with the lib copied in), so that only the client code differs. On a
small CPU host the engine's threads and the client share two cores and where the client runs
moves the engine's speed; on a GPU node it does not.

Usage: python bench/fidelity.py [-f PROFILE] [--tiers low,medium,high] [--repeats N]
         [--formats token_ids,text] [--placement host,engine] [--server engine|paced]
         [--ttft-ms 100 --itl-ms 10] [-p KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import loopback  # bench/, beside this script
import pandas as pd

from runbook.benchmark.run import run_tier
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.core.schema import TierRun
from runbook.deploy.launchers import get_launcher
from runbook.measure.results import parse_jsonl
from runbook.measure.runners.builtin import BuiltinRunner
from runbook.measure.tiers import make_spec, resolve_tier, serving

METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_itl_ms")
LIB = Path(__file__).resolve().parents[1] / "lib" / "runbook"
Measure = Callable[[str, str, Any], dict]  # (variant, tier name, tier) -> result row


def builtin_in_engine(launcher: Any, spec: TierRun, lib: str) -> dict:
    """One builtin tier run inside the engine's container; its result row."""
    res = launcher.exec(["python3", "-m", "runbook.measure.runners.builtin",
                         json.dumps(spec.model_dump()), "/tmp/runbook-fidelity"],
                        env={"PYTHONPATH": lib.rsplit("/", 1)[0]}, echo=False)
    line = next((ln for ln in res.output.splitlines() if ln.startswith("RUNBOOK_ROW ")), None)
    if res.code != 0 or line is None:
        raise SystemExit(f"builtin in the engine's container failed ({res.code}):\n{res.output[-2000:]}")
    return json.loads(line.split(" ", 1)[1])


def engine_measure(p: Any, run: RunFolder, places: list[str]) -> Measure:
    launcher = get_launcher(p, run)
    lib = launcher.copy_in(LIB, "/tmp/runbook-lib") if "engine" in places else ""

    def measure(v: str, name: str, t: Any) -> dict:
        if v == "bench_serving":
            return run_tier(p, run, make_spec(p, name, t, v), v, launcher, out=lambda s: None).row
        fmt, where = v[8:-1].split("@")
        spec = make_spec(p, name, t, "builtin").model_copy(update={"prompt_format": fmt})
        if where == "engine":  # the tokenizer as the engine's side sees it
            spec = spec.model_copy(update={"tokenizer": make_spec(p, name, t, "bench_serving").tokenizer})
            return builtin_in_engine(launcher, spec, lib)
        return run_tier(p, run, spec, "builtin", None, out=lambda s: None).row

    return measure


def paced_measure(url: str, tmp: Path) -> Measure:
    def measure(v: str, name: str, t: Any) -> dict:
        if v == "bench_serving":
            out = tmp / f"{name}-bs.jsonl"
            out.unlink(missing_ok=True)
            argv = loopback.bench_serving_argv(url, t.num_prompts, t.concurrency, t.input_len,
                                               t.output_len, t.range_ratio, str(out), t.seed)
            p = subprocess.run(argv, capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1",
                                                                          "PATH": "/usr/bin:/bin"})
            if p.returncode != 0:
                raise SystemExit(f"bench_serving failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
            return parse_jsonl(out.read_text(), str(out))[-1]
        spec = TierRun(tier=name, concurrency=t.concurrency, num_prompts=t.num_prompts,
                       input_len=t.input_len, output_len=t.output_len, range_ratio=t.range_ratio,
                       seed=t.seed, endpoint=url, model="tiny-kimi",
                       tokenizer=str(loopback.MODEL), flush_cache=False,
                       prompt_format=v[8:-1].split("@")[0])
        return BuiltinRunner(out=lambda s: None).run(spec, tmp).row

    return measure


def compare(measure: Measure, p: Any, tiers: list[str], variants: list[str], repeats: int) -> list[dict]:
    rows = []
    for tier in tiers:
        name, t = resolve_tier(p, tier)
        res: dict[str, list[dict]] = {v: [] for v in variants}
        for i in range(repeats):
            k = i % len(variants)  # rotate who goes first: the host warms and drifts
            for v in variants[k:] + variants[:k]:
                res[v].append(measure(v, name, t))
        for m in METRICS:
            bs = statistics.median(r[m] for r in res["bench_serving"])
            row = {"tier": tier, "metric": m, "bench_serving": round(bs, 2)}
            for v in variants[1:]:
                bi = statistics.median(r[m] for r in res[v])
                row[v] = round(bi, 2)
                row[f"diff_% {v}"] = round((bi - bs) / bs * 100, 2)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--profile", default="local")
    ap.add_argument("-p", "--param", action="append", default=[])
    ap.add_argument("--tiers", default="low,medium,high")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--formats", default="token_ids", help="builtin prompt formats to compare")
    ap.add_argument("--placement", default="host", help="where the builtin client runs: host,engine")
    ap.add_argument("--server", choices=["engine", "paced"], default="engine")
    ap.add_argument("--ttft-ms", type=float, default=100.0)
    ap.add_argument("--itl-ms", type=float, default=10.0)
    a = ap.parse_args()
    p = load_profile(a.profile, a.param)
    tiers = a.tiers.split(",")
    places = a.placement.split(",") if a.server == "engine" else ["host"]
    if "engine" in places and p.container.launcher != "docker":
        raise SystemExit("--placement engine needs the docker launcher (the process launcher's "
                         "engine runs on this host already)")
    variants = ["bench_serving", *(f"builtin[{f}@{w}]" for f in a.formats.split(",") for w in places)]
    if a.server == "paced":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = loopback.start(port, a.ttft_ms, a.itl_ms)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                rows = compare(paced_measure(f"http://127.0.0.1:{port}", Path(tmp)), p, tiers,
                               variants, a.repeats)
        finally:
            server.terminate()
        where = f"the paced loopback server (TTFT {a.ttft_ms:g} ms, ITL {a.itl_ms:g} ms)"
    else:
        run = RunFolder.create(f"{p.profile}-fidelity")
        with serving(p, run):
            rows = compare(engine_measure(p, run, places), p, tiers, variants, a.repeats)
        where = f"the {p.profile} engine; run folder {run.path}"
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    for v in variants[1:]:
        print(f"\n{v}: worst |diff| {df[f'diff_% {v}'].abs().max():.2f} % (goal ≤ 3 %)")
    print(f"medians of {a.repeats} run(s) per variant and tier, against {where}")


if __name__ == "__main__":
    main()
