"""Client capacity: streamed chunks parsed per CPU-second, builtin vs sglang 0.5.7's bench_serving.

The loopback server (``loopback.py``) streams completions as fast as it can (no model, no
waiting), so the client's own parsing cost is what limits it. Each client runs in its own
process; its CPU time (user + sys, from the kernel's rusage) is measured for a full run and for a
small baseline run, and the difference divides the difference in chunks: start-up (imports,
bench_serving's tokenizer and dataset, which cost it ~12 CPU-seconds, ± ~1 from run to run)
cancels out, so the figure is the streaming path's alone; the runs are long enough that the
start-up's own noise stays a few per cent of the difference. Goal: builtin ≥ bench_serving.

Needs the engine venv for bench_serving (`runbook engine build -f local-process`).
Usage: python bench/client_capacity.py [--prompts 2000] [--baseline 200] [--concurrency 100]
                                       [--tokens 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import loopback  # bench/, beside this script


def argv_for(client: str, url: str, prompts: int, a: argparse.Namespace, tmp: str) -> list[str]:
    if client == "bench_serving":
        return loopback.bench_serving_argv(url, prompts, a.concurrency, 16, a.tokens, 1.0,
                                           f"{tmp}/bs.jsonl")
    return [sys.executable, "-c", (
        "from pathlib import Path; from runbook.core.schema import TierRun;"
        "from runbook.measure.runners.builtin import BuiltinRunner;"
        f"s=TierRun(tier='cap', concurrency={a.concurrency}, num_prompts={prompts}, input_len=16,"
        f" output_len={a.tokens}, range_ratio=1.0,"
        f" endpoint={url!r}, model='tiny-kimi', flush_cache=False);"
        f"BuiltinRunner(out=lambda x: None).run(s, Path({tmp!r}))")]


def cpu_of(argv: list[str]) -> tuple[float, float]:
    """CPU seconds (user + sys) and wall seconds of one client process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:])
        raise SystemExit(f"{argv[:3]} failed")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--baseline", type=int, default=200, help="prompts of the start-up baseline run")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--port", type=int, default=30199)
    a = ap.parse_args()
    server = loopback.start(a.port)
    rows = []
    chunks = (a.prompts - a.baseline) * a.tokens
    try:
        url = f"http://127.0.0.1:{a.port}"
        with tempfile.TemporaryDirectory() as tmp:
            for client in ("bench_serving", "builtin"):
                rates, walls = [], []
                for _ in range(a.repeats):
                    cpu_full, wall = cpu_of(argv_for(client, url, a.prompts, a, tmp))
                    cpu_base, _ = cpu_of(argv_for(client, url, a.baseline, a, tmp))
                    rates.append(chunks / max(cpu_full - cpu_base, 1e-9))
                    walls.append(wall)
                rows.append((client, chunks, statistics.median(walls), statistics.median(rates)))
    finally:
        server.terminate()
    print(f"{'client':<14} {'chunks':>8} {'wall s':>8} {'chunks/cpu-s':>13}")
    for r in rows:
        print(f"{r[0]:<14} {r[1]:>8} {r[2]:>8.2f} {r[3]:>13.0f}")
    print(f"\nbuiltin / bench_serving: {rows[1][3] / rows[0][3]:.2f}x (goal ≥ 1.0); medians of "
          f"{a.repeats}; chunks and CPU of {a.prompts} minus {a.baseline} prompts (start-up cancels)")


if __name__ == "__main__":
    main()
