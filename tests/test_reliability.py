"""Faults during a run, really injected: the server killed mid-tier, the run interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from runbook.benchmark.run import run_tier
from runbook.core.errors import BenchError
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy import steps as deploy
from runbook.measure.tiers import make_spec, resolve_tier

from .conftest import API_KEY_ENV, cname, container_gone, free_port

pytestmark = pytest.mark.engine


def test_server_killed_during_a_tier(engine_image, tmp_path):
    """In-flight requests count as failed, records so far are saved, the tier fails with the
    reason, teardown leaves nothing."""
    port = free_port()
    p = load_profile("local", [f"server.port={port}", f"container.name={cname('midkill')}",
                               f"target.endpoint=http://127.0.0.1:{port}",
                               f"server.api_key_env={API_KEY_ENV}"])
    run = RunFolder.create("midkill", tmp_path)
    deploy.up(p, run, out=lambda s: None)
    launcher = deploy.get_launcher(p, run)
    name, t = resolve_tier(p, "", 8, num_prompts=40, input_len=200, output_len=400, warmup_requests=1)
    pid = int(launcher.pid_file.read_text())

    def kill_later() -> None:
        time.sleep(6)
        launcher.exec(["sh", "-c", f"kill -9 {pid}"], echo=False)

    killer = threading.Thread(target=kill_later)
    killer.start()
    try:
        res = run_tier(p, run, make_spec(p, name, t, "builtin"), "builtin", None, out=lambda s: None)
        killer.join()
        assert 0 < res.row["completed"] < 40 and res.row["failed"] == 40 - res.row["completed"]
        records = (run.path / "bench" / "bench-custom-builtin.records.jsonl").read_text().splitlines()
        assert len(records) == 40  # every request accounted for, the failed ones with their error
        assert sum(not json.loads(r)["success"] for r in records) == res.row["failed"]
        with pytest.raises(BenchError, match="completed = num_prompts"):
            res.raise_on_failure()
        assert run.read_state()["tier_custom"]["verdict"] == "FAIL"
    finally:
        killer.join()
        deploy.teardown(p, run)
    assert container_gone(p.container.name)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_tears_down_and_keeps_its_notebooks(engine_image, tmp_path, sig):
    name = cname(f"int{int(sig)}")
    port = free_port()
    env = {**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "runbook", "run", "-f", "local",
                             "-p", f"server.port={port}", "-p", f"container.name={name}",
                             "-p", f"target.endpoint=http://127.0.0.1:{port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:  # interrupt while the server is loading
        runs = list(tmp_path.glob("*/logs/server.log"))
        if runs and runs[0].stat().st_size > 0:
            break
        time.sleep(0.5)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out[-2000:]
    assert "interrupted" in out and "teardown: container" in out
    assert container_gone(name)
    run = next(tmp_path.glob("*-local-*"))
    nbs = sorted(p.name for p in (run / "notebooks").glob("*.ipynb"))
    assert nbs[:3] == ["00-preflight.ipynb", "01-container.ipynb", "02-server.ipynb"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "FAIL" and "interrupted" in summary["failed_step"]
