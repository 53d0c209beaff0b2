"""Notebooks run headlessly under papermill with their defaults and render to HTML
(notebooker-style); bench.ipynb standalone starts the embedded default and stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from runbook.report.html import export_notebook

from .conftest import DATA, ROOT, cname, container_gone, free_port, signal_once_started

pytestmark = pytest.mark.slow


def _papermill(nb: str, out, *args: str, env=None):
    return subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / nb), str(out),
                           "--cwd", str(ROOT), *args], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, **(env or {})})


def _texts(nb_path) -> str:
    nb = json.loads(nb_path.read_text())
    out = []
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            out.append("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")))
            out.append("".join(o.get("data", {}).get("text/html", "")))
    return "\n".join(out)


@pytest.mark.parametrize("nb", ["00_preflight.ipynb", "report.ipynb"])
def test_runs_with_defaults_and_renders(nb, tmp_path):
    out = tmp_path / nb
    p = _papermill(nb, out, env={"RUNBOOK_OUTPUTS": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-3000:]
    html = export_notebook(out)
    text = open(html).read()
    assert 'src="http' not in text
    if nb == "report.ipynb":
        assert "report: WARN" in text and "Workload fingerprints" in text  # the reference's errors
    else:
        assert "preflight: " in text and "server port" in text


def test_report_compares_given_result_files(tmp_path):
    out = tmp_path / "report.ipynb"
    p = _papermill("report.ipynb", out, "-y", f"results: [{DATA / 'bench_serving_0.5.23_block.txt'}]",
                   env={"RUNBOOK_OUTPUTS": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-3000:]
    text = _texts(out)
    assert "tier medium: not comparable" in text  # its tier inferred from max concurrency 16
    assert "hardware of the run unknown" in text


@pytest.mark.engine
def test_bench_notebook_standalone_starts_and_stops_the_engine(engine_image, tmp_path):
    out = tmp_path / "bench.ipynb"
    port, name = free_port(), cname("nb")
    ov = f'["server.port={port}", "container.name={name}", "target.endpoint=http://127.0.0.1:{port}"]'
    p = _papermill("bench.ipynb", out, "-p", "concurrency", "4", "-p", "num_prompts", "8",
                   "-p", "input_len", "100", "-p", "output_len", "32", "-y", f"overrides: {ov}",
                   env={"RUNBOOK_OUTPUTS": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-3000:]
    text = _texts(out)
    assert "'started by this notebook': True" in text
    assert "Serving Benchmark Result" in text and "Successful requests:                     8" in text
    assert f"container {name} removed" in text
    gone = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"name=^{name}$"],
                          capture_output=True, text=True)
    assert gone.stdout.strip() == ""


@pytest.mark.engine
def test_a_standalone_notebook_killed_stops_the_server_it_started(engine_image, tmp_path):
    """papermill sent SIGTERM while bench.ipynb (standalone) waits for the server it started:
    the kernel's guard stops it — no container outlives the notebook."""
    out = tmp_path / "bench.ipynb"
    port, name = free_port(), cname("killed")
    ov = f'["server.port={port}", "container.name={name}", "target.endpoint=http://127.0.0.1:{port}"]'
    proc = subprocess.Popen([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "bench.ipynb"),
                             str(out), "--cwd", str(ROOT), "-p", "num_prompts", "4",
                             "-y", f"overrides: {ov}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)})
    output = signal_once_started(proc, name, signal.SIGTERM, exit_timeout_s=60)
    deadline = time.monotonic() + 30
    while not container_gone(name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert container_gone(name), output[-3000:]


def test_a_bad_bench_parameter_is_a_clear_error_and_leaves_no_run_folder(tmp_path):
    out = tmp_path / "bench.ipynb"
    outputs = tmp_path / "outputs"
    p = _papermill("bench.ipynb", out, "-p", "concurrency", "abc", env={"RUNBOOK_OUTPUTS": str(outputs)})
    assert p.returncode != 0
    assert "bench parameter concurrency must be an integer, got 'abc'" in p.stderr + out.read_text()
    errors = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["ParamsError"]  # not a TypeError from deep inside
    assert not outputs.exists() or list(outputs.iterdir()) == []  # nothing made for a bad value
