"""What ran, compared between runs: run folders written here with known provenance. A tier
measured by another bench client is not comparable (diff and compare-engines); every other
difference in what ran (lock, image, engine packages, model) is named on the terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runbook.judge.diff import diff_runs
from runbook.judge.provenance import client_reasons, differences, facts
from runbook.judge.sidebyside import side_by_side

ROW = {"tier": "low", "num_prompts": 8, "random_input_len": 64, "random_output_len": 16,
       "random_range_ratio": 0.0, "seed": 1, "max_concurrency": 1, "output_throughput": 50.0,
       "request_throughput": 1.0, "median_ttft_ms": 10.0, "median_tpot_ms": 5.0, "median_itl_ms": 5.0,
       "median_e2e_latency_ms": 85.0}


def _env(lock: str = "sha256:aa", packages: str = "sha256:pp", client: str = "sglang.bench_serving 0.5.7",
         image: str = "sha256:img") -> dict:
    return {"profile": "local", "engine": "sglang", "engine_version": "0.5.7", "image_id": image,
            "weights": {"source": "generate", "digest": "d" * 64},
            "runbook": {"lock_digest": lock, "python": "3.11.7", "packages": {"openai": "3.63.0"}},
            "engine_env": {"measured": True, "packages_digest": packages, "bench_client": client}}


def _run(root: Path, name: str, client: str | None, env: dict) -> Path:
    p = root / name
    p.mkdir()
    rows = [{**ROW, "repeat": i + 1, **({"client": client} if client else {})} for i in range(2)]
    (p / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (p / "state.json").write_text(json.dumps({"params": {}}))
    (p / "environment.json").write_text(json.dumps(env))
    (p / "summary.json").write_text(json.dumps({"steps": []}))
    return p


def test_every_difference_in_what_ran_is_named():
    a, b = _env(), _env(lock="sha256:bb", packages="sha256:qq", image="sha256:new")
    b["runbook"]["packages"] = {"openai": "2.54.0"}
    got = {d.what: (d.a, d.b) for d in differences(a, b)}
    assert got == {"runbook lock": ("sha256:aa", "sha256:bb"), "engine image": ("sha256:img", "sha256:new"),
                   "engine packages": ("sha256:pp", "sha256:qq")}
    assert differences(a, _env()) == []
    assert facts({})["runbook lock"] == "not recorded"


def test_a_tier_measured_by_another_bench_client_is_not_comparable(tmp_path):
    a = _run(tmp_path, "a", "sglang.bench_serving 0.5.7", _env())
    b = _run(tmp_path, "b", "sglang.bench_serving 0.5.12", _env(client="sglang.bench_serving 0.5.12"))
    d = diff_runs(a, b)[0]
    assert not d.comparable and any("bench client differs" in r for r in d.reasons)
    s = side_by_side(a, b)
    assert not s.fair and "bench client differs" in "; ".join(s.tiers[0].reasons)
    same = _run(tmp_path, "c", "sglang.bench_serving 0.5.7", _env())
    assert diff_runs(a, same)[0].comparable
    assert client_reasons({"client": "x"}, {}) == ["bench client differs: x vs not recorded"]
    assert client_reasons({}, {}) == []  # two runs from before clients were recorded


def test_diff_names_what_ran_differently_on_the_terminal(tmp_path):
    a = _run(tmp_path, "a", "sglang.bench_serving 0.5.7", _env())
    b = _run(tmp_path, "b", "sglang.bench_serving 0.5.7", _env(lock="sha256:bb"))
    p = subprocess.run([sys.executable, "-m", "runbook", "diff", str(a), str(b)],
                       capture_output=True, text=True)
    assert "what ran differs" in p.stderr and "runbook lock: sha256:aa  vs  sha256:bb" in p.stderr
    p = subprocess.run([sys.executable, "-m", "runbook", "diff", str(a), str(a)],
                       capture_output=True, text=True)
    assert "the same lock, image" in p.stderr
