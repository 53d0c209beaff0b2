"""The engine side-by-side's arithmetic and refusals on run folders written here with known figures
(the real two-engine runs are in test_compare_engines.py): ratios, verdicts against the repeats'
spread, one repeat not judged, another workload or another model refused, the CLI's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.judge.sidebyside import side_by_side, table
from runbook.report.engines import write_page

WORKLOAD = {"num_prompts": 16, "random_input_len": 200, "random_output_len": 32,
            "random_range_ratio": 0.0, "seed": 1, "max_concurrency": 16}


def _run(root: Path, name: str, engine: str, version: str, tput: list[float], tpot: list[float],
         digest: str = "d" * 64, workload: dict | None = None, tools: str = "PASS") -> Path:
    p = root / name
    p.mkdir(parents=True)
    rows = [{"tier": "medium", "repeat": i + 1, **(workload or WORKLOAD), "output_throughput": t,
             "request_throughput": t / 32, "median_ttft_ms": 100.0, "p99_ttft_ms": 200.0,
             "median_tpot_ms": tp, "median_itl_ms": tp, "p99_itl_ms": 3 * tp,
             "median_e2e_latency_ms": 100 + 31 * tp}
            for i, (t, tp) in enumerate(zip(tput, tpot, strict=True))]
    (p / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (p / "state.json").write_text(json.dumps({"params": {"report": {"tolerances": {"default_rel": 0.05}}}}))
    (p / "environment.json").write_text(json.dumps({
        "profile": f"local-{engine}", "engine": engine, "engine_version": version, "image": f"{engine}:x",
        "weights": {"source": "generate", "path": "/w/tiny-kimi-576", "digest": digest}}))
    (p / "summary.json").write_text(json.dumps({"steps": [
        {"name": "server", "status": "PASS", "detail": ""},
        {"name": "tools", "status": tools,
         "detail": "named (stream): 0 call(s)" if tools == "FAIL" else ""}]}))
    return p


def test_twice_the_throughput_with_tight_repeats_is_beyond_noise(tmp_path):
    a = _run(tmp_path, "a", "sglang", "0.5.7", [100, 101, 99], [40, 41, 39])
    b = _run(tmp_path, "b", "vllm", "0.32.0", [200, 203, 198], [20, 21, 19], tools="FAIL")
    s = side_by_side(a, b)
    assert s.fair and s.a.label == "SGLang 0.5.7" and s.b.label == "vLLM 0.32.0"
    df = table(s).set_index("metric")
    assert df.loc["output_throughput", "ratio"] == pytest.approx(2.0, rel=0.02)
    assert df.loc["output_throughput", "verdict"] == "vLLM 0.32.0 better, beyond noise"
    assert df.loc["median_tpot_ms", "ratio"] == pytest.approx(0.5, rel=0.03)
    assert df.loc["median_tpot_ms", "verdict"] == "vLLM 0.32.0 better, beyond noise"
    assert df.loc["median_ttft_ms", "verdict"] == "within noise"  # the same 100 ms on both
    assert df.loc["output_throughput", "basis"] == "3 vs 3 repeats"
    lo, hi = df.loc["output_throughput", ["ratio_ci_low", "ratio_ci_high"]]
    assert lo <= 2.0 <= hi and hi - lo < 0.1
    page = write_page(s, tmp_path / "page.html").read_text()
    assert "SGLang 0.5.7 vs vLLM 0.32.0" in page and "named (stream): 0 call(s)" in page  # the tools finding


def test_a_difference_inside_the_spread_is_not_called(tmp_path):
    a = _run(tmp_path, "a", "sglang", "0.5.7", [100, 140, 70], [40, 30, 55])
    b = _run(tmp_path, "b", "vllm", "0.32.0", [115, 80, 150], [35, 50, 28])
    df = table(side_by_side(a, b)).set_index("metric")
    assert df.loc["output_throughput", "verdict"] == "within noise"
    assert df.loc["median_tpot_ms", "verdict"] == "within noise"


def test_one_repeat_leaves_throughput_unjudged(tmp_path):
    a = _run(tmp_path, "a", "sglang", "0.5.7", [100], [40])
    b = _run(tmp_path, "b", "vllm", "0.32.0", [300], [10])
    df = table(side_by_side(a, b)).set_index("metric")
    assert df.loc["output_throughput", "verdict"] == "not judged (one repeat)"
    assert df.loc["output_throughput", "ratio"] == pytest.approx(3.0)
    assert df.loc["output_throughput", "basis"].startswith("requests")


def test_another_workload_or_another_model_is_not_like_for_like(tmp_path):
    a = _run(tmp_path, "a", "sglang", "0.5.7", [100, 101], [40, 41])
    b = _run(tmp_path, "b", "vllm", "0.32.0", [200, 201], [20, 21],
             workload={**WORKLOAD, "random_output_len": 64})
    s = side_by_side(a, b)
    assert not s.fair and not s.tiers[0].comparable
    assert "random_output_len differs" in table(s).loc[0, "verdict"]
    c = _run(tmp_path, "c", "vllm", "0.32.0", [200, 201], [20, 21], digest="e" * 64)
    s = side_by_side(a, c)
    assert s.tiers[0].comparable and not s.same_model and not s.fair
    assert "served different models" in write_page(s, tmp_path / "p.html").read_text()
    cli = [sys.executable, "-m", "runbook", "compare-engines"]
    d = _run(tmp_path, "d", "vllm", "0.32.0", [150, 151], [30, 31])
    same = subprocess.run([*cli, str(a), str(d), "--out", str(tmp_path / "ok.html")],
                          capture_output=True, text=True)
    assert same.returncode == 0, same.stderr
    other = subprocess.run([*cli, str(a), str(c), "--out", str(tmp_path / "bad.html")],
                           capture_output=True, text=True)
    assert other.returncode == 1 and "different models" in other.stderr
    assert (tmp_path / "bad.html").is_file()  # the page is written either way, with the warning on top
    nothing = subprocess.run([*cli, str(a), str(tmp_path)], capture_output=True, text=True)
    assert nothing.returncode == 2 and "results.jsonl" in nothing.stderr


def test_the_same_engine_on_both_sides_keeps_two_columns(tmp_path):
    """An image against its tuned profile: both SGLang 0.5.7, told apart by profile, else run id."""
    a = _run(tmp_path, "a", "sglang", "0.5.7", [100, 101], [40, 41])
    b = _run(tmp_path, "b", "sglang", "0.5.7", [130, 131], [30, 31])
    s = side_by_side(a, b)
    assert s.labels == ("SGLang 0.5.7 (a)", "SGLang 0.5.7 (b)")  # same profile name: the run ids
    df = table(s).set_index("metric")
    assert df.loc["output_throughput", "SGLang 0.5.7 (b)"] == pytest.approx(130.5)
    assert df.loc["output_throughput", "verdict"] == "SGLang 0.5.7 (b) better, beyond noise"
