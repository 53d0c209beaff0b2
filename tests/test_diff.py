"""`runbook diff` on two real benchmark runs against the paced loopback server (bench/loopback.py:
a known TTFT and inter-token gap, no model): a run against itself changes nothing; a run against
a slower server (three times the inter-token gap) is a regression and exits 1."""

from __future__ import annotations

import json
import sys

import pytest

from runbook.bench import make_spec, resolve_tier, run_tier
from runbook.cli import main
from runbook.params import load_profile
from runbook.runfolder import RunFolder
from runbook.stats import NO_CHANGE, NOT_ENOUGH, REGRESSION

from .conftest import ROOT, free_port

sys.path.insert(0, str(ROOT / "bench"))
import loopback


def _run(tmp_path, name: str, itl_ms: float):
    port = free_port()
    server = loopback.start(port, ttft_ms=30, itl_ms=itl_ms)
    try:
        p = load_profile("local", [f"target.endpoint=http://127.0.0.1:{port}", f"server.port={port}"])
        run = RunFolder.create(name, tmp_path)
        tier, t = resolve_tier(p, "", 4, num_prompts=16, input_len=32, output_len=24, warmup_requests=0,
                              flush_cache=False)
        run_tier(p, run, make_spec(p, tier, t, "builtin"), "builtin", out=lambda s: None)
    finally:
        server.kill()
    return run.path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff")
    return _run(tmp, "base", 5), _run(tmp, "slow", 15)


def _verdicts(capsys, *args) -> tuple[int, dict]:
    code = main(["diff", *args, "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    return code, {r["metric"]: r for r in rows}


def test_a_run_against_itself_has_no_significant_change(runs, capsys):
    base, _ = runs
    code, v = _verdicts(capsys, str(base), str(base))
    assert code == 0
    for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_latency_ms"):
        assert v[m]["verdict"] == NO_CHANGE and v[m]["ci_low_pct"] <= 0 <= v[m]["ci_high_pct"], m
    assert v["output_throughput"]["verdict"] == NOT_ENOUGH  # one repeat each: no interval


def test_a_slower_server_is_a_regression_and_exits_1(runs, capsys):
    base, slow = runs
    code, v = _verdicts(capsys, str(base), str(slow))
    assert code == 1
    assert v["itl_ms"]["verdict"] == REGRESSION and v["itl_ms"]["change_pct"] > 100  # ~5 → ~15 ms
    assert v["tpot_ms"]["verdict"] == REGRESSION and v["tpot_ms"]["ci_low_pct"] > 0
    assert v["ttft_ms"]["verdict"] != REGRESSION  # the first token is paced the same
