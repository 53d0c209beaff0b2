"""Integration: a loaded server is precious. `runbook run --attach` on the session's SGLang
miniature: no container created, no launch, nothing torn down; and a FAIL in the tools step (its
answers cut at 2 tokens, from the real server) marks the run FAIL without skipping the tier after it.
The tier runs twice (repeats: 2) with bench_serving in the container: each repeat keeps its own
files, and the index shows the tier as the median of both with its interval."""

from __future__ import annotations

import io
import json
import subprocess

import httpx
import pandas as pd
import pytest

from runbook.core.runfolder import RunFolder
from runbook.orchestrate import StepSpec, run_all

from .conftest import API_KEY_ENV, ENGINE_NAME, ENGINE_PORT

pytestmark = pytest.mark.engine


def docker_names() -> set[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True)
    return set(out.stdout.split())


def test_attach_reruns_without_a_launch_and_a_tools_fail_skips_no_tier(engine, auth, tmp_path):
    p, _ = engine
    before = docker_names()
    overrides = [f"server.port={ENGINE_PORT}", f"container.name={ENGINE_NAME}",
                 f"target.endpoint=http://127.0.0.1:{ENGINE_PORT}", f"server.api_key_env={API_KEY_ENV}",
                 "benchmark.tiers.low.num_prompts=2", "benchmark.tiers.low.output_len=8",
                 "benchmark.tiers.low.input_len=64", "benchmark.tiers.low.repeats=2",
                 "container.launcher=attach"]
    steps = [StepSpec("preflight", "00_preflight.ipynb", gate=True),
             StepSpec("container", "01_container.ipynb", gate=True),
             StepSpec("server", "02_server.ipynb", gate=True),
             StepSpec("tools", "05_tools.ipynb", {"max_tokens": 2}),
             StepSpec("bench-low", "bench.ipynb", {"tier": "low"})]
    echoed = io.StringIO()
    code, run = run_all("local", overrides, out=print, steps=steps, outputs=tmp_path, echo_to=echoed)
    summary = json.loads((run.path / "summary.json").read_text())
    err = echoed.getvalue()  # the steps' own progress reached the terminal while they ran
    assert "ready via /health_generate" in err and "│ step bench: profile local" in err
    st = {s["name"]: s for s in summary["steps"]}
    assert code == 1 and summary["status"] == "FAIL" and summary["failed_step"] == "tools"
    assert st["tools"]["status"] == "FAIL"
    assert st["bench-low"]["status"] == "PASS"  # ran after the tools FAIL: the server was ready
    rows = pd.read_csv(run.path / "results.csv")
    assert list(rows["completed"]) == [2, 2] and list(rows["repeat"]) == [1, 2]
    state = RunFolder(run.path).read_state()
    jsonls = [f["jsonl"] for f in state["tier_low"]["all_files"]]
    assert [j.rsplit("-", 1)[-1] for j in jsonls] == ["r1.jsonl", "r2.jsonl"]  # each its own file
    assert state["tier_low"]["repeats"] == 2 and "× 2 repeats" in (run.path / "index.html").read_text()
    tel = pd.read_csv(run.path / "telemetry.csv")  # sampled while each repeat ran
    assert set(tel[tel["tier"] == "low"]["repeat"]) == {1, 2} and (tel["mem_total_mib"] > 0).all()
    assert state["container"]["created_container"] is False and state["weights"]["source"] == "attached"
    assert state["server"]["attached"] is True and "started outside this run" in state["server"]["command"]
    assert summary["teardown"] == [f"attached to {p.endpoint}: nothing was started here, nothing stopped"]
    assert docker_names() == before  # no container made or removed
    with httpx.Client(base_url=p.endpoint, headers=auth, timeout=30) as c:
        assert c.get("/health").status_code == 200  # the loaded server is still up
