"""`runbook diff` on two real benchmark runs of three repeats each against the paced loopback
server (bench/loopback.py: a known TTFT and inter-token gap, no model): a run against itself
changes nothing; a run against a slower server (three times the inter-token gap) is a regression
and exits 1; the repeats keep their own files and give intervals; the report step judges a run
against `report.baseline` the same way, and index.html shows it."""

from __future__ import annotations

import io
import json
import sys

import pytest

from runbook.benchmark.run import run_repeats
from runbook.cli import main
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.judge.stats import NO_CHANGE, REGRESSION, repeat_intervals
from runbook.measure.tiers import resolve_tier
from runbook.orchestrate import StepSpec, run_all

from .conftest import ROOT, free_port

sys.path.insert(0, str(ROOT / "bench"))
import loopback

pytestmark = pytest.mark.slow


def _run(tmp_path, name: str, itl_ms: float):
    port = free_port()
    server = loopback.start(port, ttft_ms=30, itl_ms=itl_ms)
    try:
        p = load_profile("local", [f"target.endpoint=http://127.0.0.1:{port}", f"server.port={port}"])
        run = RunFolder.create(name, tmp_path)
        tier, t = resolve_tier(p, "", 4, num_prompts=16, input_len=32, output_len=24, warmup_requests=0,
                              flush_cache=False, repeats=3)
        result = run_repeats(p, run, tier, t, "builtin", out=lambda s: None)
    finally:
        server.kill()
    return run.path, result


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff")
    return _run(tmp, "base", 5), _run(tmp, "slow", 15)


@pytest.fixture(scope="module")
def runs(repeated):
    return repeated[0][0], repeated[1][0]


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
    tput = v["output_throughput"]  # judged over the three repeats of each run
    assert tput["verdict"] == NO_CHANGE and tput["ci_low_pct"] <= 0 <= tput["ci_high_pct"]


def test_a_slower_server_is_a_regression_and_exits_1(runs, capsys):
    base, slow = runs
    code, v = _verdicts(capsys, str(base), str(slow))
    assert code == 1
    assert v["itl_ms"]["verdict"] == REGRESSION and v["itl_ms"]["change_pct"] > 100  # ~5 → ~15 ms
    assert v["tpot_ms"]["verdict"] == REGRESSION and v["tpot_ms"]["ci_low_pct"] > 0
    assert v["ttft_ms"]["verdict"] != REGRESSION  # the first token is paced the same
    assert v["output_throughput"]["verdict"] == REGRESSION  # the repeats' rows agree: ~3× slower


def test_repeats_keep_their_own_records_and_give_intervals(repeated):
    (base, result), _ = repeated
    rows = [json.loads(x) for x in (base / "results.jsonl").read_text().splitlines()]
    assert [r["repeat"] for r in rows] == [1, 2, 3] and len(result.runs) == 3
    files = RunFolder(base).read_state()["tier_custom"]["all_files"]
    assert len({f["records"] for f in files}) == 3  # not one file overwritten three times
    assert len(result.request_records()) == 3 * 16
    iv = repeat_intervals([r.row for r in result.runs], result.request_records()).set_index("metric")
    for m in ("output_throughput", "median_itl_ms", "median_ttft_ms"):
        assert iv.loc[m, "ci_low"] <= iv.loc[m, "median"] <= iv.loc[m, "ci_high"], m
        assert iv.loc[m, "repeats"] == 3
    assert iv.loc["median_ttft_ms", "requests"] == 48
    assert iv.loc["median_itl_ms", "median"] == pytest.approx(5, rel=0.6)  # the paced gap
    assert "repeat" in result.table().columns and len(result.table()) == 3


def test_the_report_step_judges_a_run_against_its_baseline_and_the_index_shows_it(runs, tmp_path):
    base, slow = runs
    steps = [StepSpec("report", "report.ipynb", {"results": [str(slow)]})]
    code, run = run_all("local", ["container.launcher=attach", f"report.baseline={base}"], out=print,
                        steps=steps, outputs=tmp_path, echo_to=io.StringIO())
    summary = json.loads((run.path / "summary.json").read_text())
    report = next(s for s in summary["steps"] if s["name"] == "report")
    assert code == 1 and report["status"] == "FAIL" and "regression" in report["detail"]
    verdicts = {r["metric"]: r["verdict"] for r in summary["diff"]["rows"]}
    assert verdicts["itl_ms"] == REGRESSION and summary["diff"]["baseline"] == str(base)
    page = (run.path / "index.html").read_text()
    assert f"Against the baseline run {base.name} (<span class='engine'>" in page  # its engine named
    assert page.count(">regression<") >= 2 and 'id="engine">' in page
    nb = next((run.path / "notebooks").glob("*-report.ipynb")).read_text()
    assert "Verdicts against the baseline run" in nb and "regression" in nb


def test_a_baseline_that_is_no_run_folder_is_refused_before_anything(tmp_path, capsys):
    from runbook.core.runfolder import OUTPUTS

    before = set(OUTPUTS.glob("*")) if OUTPUTS.exists() else set()
    assert main(["run", "--baseline", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err
    assert "report.baseline" in err and "nothing-here" in err
    assert (set(OUTPUTS.glob("*")) if OUTPUTS.exists() else set()) == before  # no run folder made
