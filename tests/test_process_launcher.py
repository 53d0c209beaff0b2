"""The process launcher: the same engine from a project-managed venv on the host, with everything
downstream unchanged (readiness, invocation, a tier with both runners, teardown)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import invoke
from runbook.benchmark.run import run_tier
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.core.verdicts import PASS
from runbook.deploy import steps as deploy
from runbook.measure.tiers import make_spec, resolve_tier

from .conftest import free_port

pytestmark = pytest.mark.engine


def test_process_launcher_end_to_end(tmp_path):
    build = subprocess.run([sys.executable, "-m", "runbook", "engine", "build", "-f", "local-process"],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    p = load_profile("local-process", [f"server.port={(port := free_port())}", f"target.endpoint=http://127.0.0.1:{port}"])
    run = RunFolder.create("process", tmp_path)
    info = deploy.up(p, run, out=lambda s: None)
    try:
        assert info["container"]["launcher"] == "process"
        chk, _ = invoke.basic(p.endpoint, p.target.model)
        assert chk.status == PASS, chk.frame().to_string()
        name, t = resolve_tier(p, "", 2, num_prompts=6, input_len=100, output_len=32)
        for runner in ("bench_serving", "builtin"):
            launcher = deploy.get_launcher(p, run) if runner == "bench_serving" else None
            res = run_tier(p, run, make_spec(p, name, t, runner), runner, launcher, out=lambda s: None)
            assert res.row["completed"] == 6 and res.findings == [], res.findings
            if runner == "bench_serving":  # a stream with no text keeps bench_serving's TTFT at 0
                details = json.loads(Path(res.files["jsonl"]).read_text().splitlines()[-1])
                zeros = sum(t == 0 for t in details["ttfts"])
                assert res.row["ttft_untimed"] == zeros
                assert any("streamed no text" in n for n in res.notes) == (zeros > 0), res.notes
    finally:
        deploy.teardown(p, run)
    pid = int((run.path / "logs" / "server.pid").read_text())
    alive = subprocess.run(["sh", "-c", f"kill -0 {pid}"], capture_output=True)
    assert alive.returncode != 0  # the server process is gone
