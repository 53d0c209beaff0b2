"""The CLI: JSON outputs with the promised keys, and bad input rejected with a message naming the
field — before any side effect (no run folder, no container)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import DATA


def rb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runbook", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_workload_json():
    out = rb("workload", "--num-prompts", "80", "--input-len", "1000", "--output-len", "1000",
             "--format", "json")
    d = json.loads(out.stdout)
    assert (d["total_input_tokens"], d["total_output_tokens"]) == (39668, 40805)


def test_check_reference_json_finds_the_published_errors():
    findings = json.loads(rb("check-reference", "--format", "json").stdout)
    assert all({"tier", "metric", "check", "printed", "expected"} <= f.keys() for f in findings)
    got = {(f["tier"], f["metric"], f["check"]) for f in findings}
    assert ("low", "output_throughput", "throughput = count / duration") in got
    assert ("medium", "total_input_tokens", "workload fingerprint") in got
    assert ("medium", "median_itl_ms", "median ≤ p95") in got
    assert ("high", "total_input_tokens", "workload fingerprint") in got
    assert ("high", "concurrency", "concurrency ≤ max concurrency") in got


def test_check_a_consistent_result_finds_nothing(tmp_path):
    f = tmp_path / "r.jsonl"
    row = {"completed": 10, "duration": 10.0, "total_input_tokens": 6101, "total_output_tokens": 4220,
           "request_throughput": 1.0, "input_throughput": 610.1, "output_throughput": 422.0,
           "total_throughput": 1032.1, "mean_e2e_latency_ms": 1000.0, "concurrency": 1.0,
           "max_concurrency": 1, "mean_ttft_ms": 10.0, "median_ttft_ms": 10.0, "p99_ttft_ms": 12.0,
           "median_itl_ms": 2.0, "p95_itl_ms": 3.0, "p99_itl_ms": 4.0, "random_input_len": 1000,
           "random_output_len": 1000, "random_range_ratio": 0.0, "dataset_name": "random"}
    f.write_text(json.dumps(row) + "\n")
    out = rb("check", str(f), "--num-prompts", "10", "--format", "json")
    assert json.loads(out.stdout) == []


def test_compare_json_labels_not_comparable():
    out = rb("compare", str(DATA / "bench_serving_0.5.23_block.txt"), "--tier", "medium",
             "--profile", "local", "--format", "json")
    d = json.loads(out.stdout)
    assert d["comparable"] is False and any("hardware differs" in r for r in d["reasons"])
    m = {x["metric"]: x for x in d["metrics"]}
    assert m["output_throughput"]["verdict"] == "within tolerance"  # 298.41 vs 298.41


@pytest.mark.parametrize("args,phrase", [
    (["workload", "--num-prompts", "0", "--input-len", "1", "--output-len", "1"],
     "--num-prompts must be ≥ 1"),
    (["workload", "--num-prompts", "x", "--input-len", "1", "--output-len", "1"], "must be an integer"),
    (["workload", "--num-prompts", "1", "--input-len", "-4", "--output-len", "1"], "--input-len must be ≥ 1"),
    (["workload", "--num-prompts", "1", "--input-len", "1", "--output-len", "1", "--range-ratio", "3"],
     "--range-ratio must be within 0..1"),
    (["compare", str(DATA / "bench_serving_0.5.23_block.txt"), "--tier", "extreme"],
     "tier 'extreme' is not in the reference"),
    (["check", "/no/such/file.jsonl"], "cannot read"),
    (["run", "-f", "no-such-profile"], "profile file not found"),
    (["run", "-f", "local", "-p", "server.port=99999"], "server.port"),
    (["run", "-f", "local", "-p", "benchmark.tiers.low.concurrency=0"], "benchmark.tiers.low.concurrency"),
    (["run", "-f", "local", "-p", "nonsense"], "must be KEY=VALUE"),
    (["engine", "up", "-f", "local", "-p", "container.launcher=k8s"], "container.launcher"),
    (["run", "-f", "local", "-p", "server.api_key_env=NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE is not set"),
    (["engine", "up", "-f", "local-process", "-p", "server.python=/no/such/python"],
     "runbook engine build"),
])
def test_bad_input_fails_before_side_effects(args, phrase, tmp_path):
    env = {"RUNBOOK_OUTPUTS": str(tmp_path)}
    os.environ.pop("NOT_SET_ANYWHERE", None)
    out = rb(*args, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert phrase in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []  # no run folder, nothing started


def _high_tier_block(tmp_path):
    """A printed block (no prompt count, lengths or seed in it) with the high tier's totals."""
    from runbook.measure.results import format_block

    d = 446.7
    row = {"backend": "sglang", "request_rate": float("inf"), "max_concurrency": 100, "completed": 500,
           "duration": d, "total_input_tokens": 249831, "total_output_tokens": 252662,
           "request_throughput": 500 / d, "input_throughput": 249831 / d, "output_throughput": 252662 / d,
           "total_throughput": (249831 + 252662) / d, "concurrency": 99.0,
           "mean_e2e_latency_ms": 99.0 * d / 500 * 1000, "median_e2e_latency_ms": 88000.0,
           "mean_ttft_ms": 900.0, "median_ttft_ms": 800.0, "p99_ttft_ms": 2000.0, "mean_tpot_ms": 170.0,
           "median_tpot_ms": 170.0, "p99_tpot_ms": 200.0, "mean_itl_ms": 170.0, "median_itl_ms": 160.0,
           "p95_itl_ms": 190.0, "p99_itl_ms": 250.0, "max_itl_ms": 900.0}
    f = tmp_path / "high.txt"
    f.write_text(format_block(row) + "\n")
    return f


def test_check_and_compare_infer_the_workload_from_the_token_totals(tmp_path):
    f = _high_tier_block(tmp_path)
    out = rb("check", str(f), "--format", "json")
    assert "workload inferred from its token totals: tier high (500 prompts, 1000/1000 tokens" in out.stderr
    assert json.loads(out.stdout) == []  # the fingerprint checks ran and agree
    cmp = rb("compare", str(f), "--profile", "mi300x-kimi-k2", "--format", "json")  # no --tier
    assert cmp.returncode == 0, cmp.stderr
    d = json.loads(cmp.stdout)
    assert d["tier"] == "high" and not any("num_prompts" in r or "workload" in r for r in d["reasons"])


def test_parse_gives_bench_servings_field_names_in_three_formats(tmp_path):
    block = DATA / "bench_serving_0.5.23_block.txt"
    rows = json.loads(rb("parse", str(block), "--format", "json").stdout)
    assert len(rows) == 1 and rows[0]["completed"] == 80 and rows[0]["output_throughput"] == 298.41
    assert rows[0]["total_output_tokens_retokenized"] == 40790 and rows[0]["max_concurrency"] == 16
    csv = rb("parse", str(block), str(_high_tier_block(tmp_path)), "--format", "csv").stdout.splitlines()
    assert len(csv) == 3 and csv[0].split(",")[:3] == ["source", "run_index", "backend"]
    table = rb("parse", str(block)).stdout
    assert "median_tpot_ms" in table and "298.41" in table
    bad = rb("parse", "/no/such/file.txt")
    assert bad.returncode == 2 and "cannot read" in bad.stderr
