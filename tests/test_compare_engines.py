"""The engine side-by-side for real: vLLM's CPU build and SGLang 0.5.7 serving the same generated
Kimi-shaped model (tiny-kimi-576) with the same seeded tiers, measured by the same bench_serving,
then `runbook compare-engines` on the two run folders and its page in headless Chromium.

CI runs one tier of the two profiles — the recipe's high tier (concurrency 100), shrunk to short
prompts and answers, two repeats, the same overrides for both engines — so that both runs fit in a
few minutes; the profiles' own three tiers are what `runbook run -f local-kimi576` and
`-f local-vllm-kimi576` run (the closing note of the issue gives their figures). The steps that
only read from the server are run on vLLM (its kimi_k2 tool parser is the point); on SGLang the
default run proves them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runbook.core.params import load_profile
from runbook.judge.checks import check_result, workload_of
from runbook.orchestrate import StepSpec, default_steps, run_all
from runbook.report.browser import check_page, chromium

from .conftest import API_KEY_ENV, cname, container_gone, free_port

pytestmark = pytest.mark.engine

# The recipe's high tier (concurrency 100, 100 prompts here), two repeats, short prompts and answers.
SMALL = ["benchmark.tiers.high.num_prompts=100", "benchmark.tiers.high.input_len=200",
         "benchmark.tiers.high.output_len=16"]
TIERS = ("high",)


def _steps_of(profile: str, overrides: list[str], skip: tuple[str, ...]) -> list[StepSpec]:
    return [s for s in default_steps(load_profile(profile, overrides))
            if s.name not in skip and not (s.name.startswith("bench-") and s.name[6:] not in TIERS)]


def _overrides(name: str) -> list[str]:
    port = free_port()
    return [*SMALL, f"server.port={port}", f"container.name={name}",
            f"target.endpoint=http://127.0.0.1:{port}", f"server.api_key_env={API_KEY_ENV}"]


@pytest.fixture(scope="module")
def pair(engine_image, vllm_image, tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    names = {"vllm": cname("cmp-vllm"), "sglang": cname("cmp-sglang")}
    ov = _overrides(names["vllm"])
    code_v, run_v = run_all("local-vllm-kimi576", ov, outputs=root,
                            steps=_steps_of("local-vllm-kimi576", ov, ("vision",)))
    ov = _overrides(names["sglang"])
    code_s, run_s = run_all("local-kimi576", ov, outputs=root,
                            steps=_steps_of("local-kimi576", ov, ("basic", "vision", "tools")))
    return {"vllm": (code_v, run_v), "sglang": (code_s, run_s), "names": names}


def _steps(run) -> dict[str, tuple[str, str]]:
    summary = json.loads((run.path / "summary.json").read_text())
    return {s["name"]: (s["status"], s["detail"]) for s in summary["steps"]}


def test_both_engines_served_the_same_model_and_ran_every_tier(pair, root):
    from runbook.deploy.weights import manifest_digest, parse_manifest

    (_, run_v), (code_s, run_s) = pair["vllm"], pair["sglang"]
    sv, ss = _steps(run_v), _steps(run_s)
    for name in ("preflight", "container", "server", "bench-high", "teardown"):
        assert sv[name][0] == "PASS", (name, sv[name])
        assert ss[name][0] == "PASS", (name, ss[name])
    assert code_s == 0 and sv["basic"][0] == "PASS"
    # The same MLA on every CPU: vLLM's reference CPU_MLA, as the profile asks (AMX_MLA, picked by
    # default where the CPU has AMX, loads bf16 weights only).
    assert "Using CPU_MLA backend" in (run_v.path / "logs" / "server.log").read_text()
    # vLLM 0.32's kimi_k2 parser, streamed, misses a named call on this model (seen every time so
    # far): a finding the run reports; if a release fixes it the step passes, nothing else changes.
    assert sv["tools"][0] == "PASS" or "named (stream)" in sv["tools"][1], sv["tools"]
    manifest = (root / "lib/runbook/engine/tiny-kimi-576.sha256").read_text()
    committed = manifest_digest(parse_manifest(manifest))
    for run, engine, version in ((run_v, "vllm", "0.32.0"), (run_s, "sglang", "0.5.7")):
        env = json.loads((run.path / "environment.json").read_text())
        assert (env["engine"], env["engine_version"]) == (engine, version)
        assert env["weights"]["source"] == "generate" and env["weights"]["digest"] == committed
        assert f'id="engine">{"vLLM" if engine == "vllm" else "SGLang"} {version}</b>' in \
            (run.path / "index.html").read_text()
    rows = {e: [json.loads(x) for x in (r.path / "results.jsonl").read_text().splitlines()]
            for e, (_, r) in (("vllm", pair["vllm"]), ("sglang", pair["sglang"]))}
    for engine, rs in rows.items():
        assert sorted((r["tier"], r["repeat"]) for r in rs) == [(t, k) for t in TIERS for k in (1, 2)]
        assert {r["backend"] for r in rs} == {engine} and {r["runner"] for r in rs} == {"bench_serving"}
        for r in rs:  # genuine runs of the seeded workload: the totals are the workload's
            r["request_rate"] = float("inf")
            assert check_result(r, r["tier"], workload_of(r)) == [], (engine, r["tier"])
    totals = {e: sorted((r["tier"], r["total_input_tokens"]) for r in rs) for e, rs in rows.items()}
    assert totals["vllm"] == totals["sglang"]  # the same prompts, token for token
    for name in pair["names"].values():
        assert container_gone(name)


def test_compare_engines_page_shows_both_side_by_side(pair, tmp_path):
    (_, run_v), (_, run_s) = pair["vllm"], pair["sglang"]
    page = tmp_path / "compare.html"
    p = subprocess.run([sys.executable, "-m", "runbook", "compare-engines", str(run_s.path), str(run_v.path),
                        "--out", str(page), "--format", "json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr  # the same model and workloads: like for like
    rows = json.loads(p.stdout)
    assert {r["tier"] for r in rows} == set(TIERS)
    tput = {r["tier"]: r for r in rows if r["metric"] == "output_throughput"}
    for r in tput.values():
        assert r["SGLang 0.5.7"] > 0 and r["vLLM 0.32.0"] > 0 and r["basis"] == "2 vs 2 repeats"
        assert r["ratio"] == pytest.approx(r["vLLM 0.32.0"] / r["SGLang 0.5.7"])
        assert r["ratio_ci_low"] <= r["ratio"] <= r["ratio_ci_high"]
        assert r["verdict"] in ("within noise", "vLLM 0.32.0 better, beyond noise",
                                "SGLang 0.5.7 better, beyond noise")
    if chromium() is None:
        pytest.skip("no Chromium: the page was written but not checked in a browser")
    got = check_page(page)
    assert got.console == []
    dom = got.dom
    assert "SGLang 0.5.7 vs vLLM 0.32.0" in dom and "Same model" in dom
    assert dom.count("<tr>") >= len(TIERS) * 8  # a row per tier and metric
    assert run_v.path.name in dom and run_s.path.name in dom
