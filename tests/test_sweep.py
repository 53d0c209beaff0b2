"""Integration: a three-point concurrency sweep on the session's SGLang miniature — bench_serving
at each point, the Pareto front, goodput against an SLO some requests miss (counted against the
per-request records), and `runbook sweep` leaving a page with the headline on top and the plots."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from runbook.benchmark.sweep import records_of, run_sweep
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Slo
from runbook.deploy.launchers import get_launcher
from runbook.notebook.stepparams import resolve_sweep

from .conftest import API_KEY_ENV, ENGINE_NAME, ENGINE_PORT

pytestmark = pytest.mark.engine


def test_three_points_a_front_and_goodput_from_the_records(engine, tmp_path):
    p, _ = engine
    run = RunFolder.create("sweep", tmp_path)
    sw = resolve_sweep(p, concurrencies=[4, 1, 2], prompts_per_concurrency=3, warmup_per_concurrency=0,
                       input_len=64, output_len=24)
    res = run_sweep(p, run, sw, "bench_serving", get_launcher(p, run), out=lambda s: None)
    df = res.frame()
    assert df["concurrency"].tolist() == [1, 2, 4] and df["completed"].tolist() == [3, 6, 12]
    assert df["on_front"].any() and (df["tps_per_user"] > 0).all()
    # An SLO half the requests miss: goodput's count is the records' own.
    recs = {c: [r for r in records_of(pt.results[0]) if r.success] for c, pt in
            zip(df["concurrency"], res.points, strict=True)}
    bound = float(np.median([r.ttft * 1000 for rs in recs.values() for r in rs]))
    strict = dataclasses.replace(res, slo=Slo(ttft_ms=bound, tpot_ms=None, attainment=0.99))
    got = strict.frame()
    for (_, row), (c, rs) in zip(got.iterrows(), recs.items(), strict=True):
        good = sum(r.ttft * 1000 <= bound for r in rs)
        assert row["slo_met_share"] == pytest.approx(good / len(rs)), c
    assert 0 < sum(got["slo_met_share"] * got["completed"]) < got["completed"].sum()
    assert "Pareto front" in res.headline() or "No concurrency tried" in res.headline()


def test_runbook_sweep_leaves_a_page_with_the_headline_on_top(engine, tmp_path):
    cmd = [sys.executable, "-m", "runbook", "sweep", "-f", "local", "--concurrencies", "1,2,4",
           "--prompts-per-concurrency", "2", "--warmup-per-concurrency", "0", "--input-len", "64",
           "--output-len", "16", "--runner", "builtin"]
    for o in (f"server.port={ENGINE_PORT}", f"container.name={ENGINE_NAME}",
              f"target.endpoint=http://127.0.0.1:{ENGINE_PORT}", f"server.api_key_env={API_KEY_ENV}"):
        cmd += ["-p", o]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    page = open(out["page"]).read()
    headline = ("the highest concurrency on the Pareto front" if "the highest" in page
                else "No concurrency tried")
    assert page.index(headline) < page.index("The server (started here only if none answers)")
    assert page.count("data:image/png;base64") >= 2  # the front and the latency curves
    assert len(open(out["table"]).read().splitlines()) == 4  # header + three points
    assert headline.split()[0] in proc.stderr


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_runbook_sweep_interrupted_stops_the_server_it_started(engine_image, tmp_path, sig):
    """Ctrl-C (or SIGTERM) on `runbook sweep` while its notebook starts the embedded default: the
    kernel is interrupted inside the deployment and what the run started is torn down; nothing is
    left. Started with SIGINT ignored, as a script's background job inherits it: the runbook's
    own handler still takes Ctrl-C."""
    import signal

    from .conftest import cname, container_gone, free_port, signal_once_started

    port, name = free_port(), cname(f"sweepint{sig[3:].lower()}")
    cmd = [sys.executable, "-m", "runbook", "sweep", "-f", "local", "--concurrencies", "1",
           "--prompts-per-concurrency", "1", "--input-len", "16", "--output-len", "8",
           "-p", f"server.port={port}", "-p", f"container.name={name}",
           "-p", f"target.endpoint=http://127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    output = signal_once_started(proc, name, getattr(signal, sig))
    assert proc.returncode == 130, output[-3000:]
    assert "sweep.ipynb interrupted" in output and "teardown:" in output, output[-3000:]
    assert container_gone(name), output[-3000:]
    run = next(tmp_path.glob("*-local-*"))
    assert (run / "notebooks" / "sweep.ipynb").exists()  # the interrupted notebook is kept


def test_the_papermill_command_line_with_a_list_as_text(engine, tmp_path):
    """`papermill notebooks/sweep.ipynb out.ipynb -p concurrencies "[1, 2]"`: papermill's -p hands
    the list over as text; the notebook takes it as the list it reads."""
    from .conftest import ROOT

    ov = (f"['server.port={ENGINE_PORT}', 'container.name={ENGINE_NAME}', "
          f"'server.api_key_env={API_KEY_ENV}']")
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "sweep.ipynb"), str(out),
           "-p", "concurrencies", "[1, 2]", "-p", "prompts_per_concurrency", "2",
           "-p", "warmup_per_concurrency", "0", "-p", "input_len", "32", "-p", "output_len", "8",
           "-p", "runner", "builtin", "-p", "endpoint", f"http://127.0.0.1:{ENGINE_PORT}",
           "-p", "overrides", ov, "-k", "python3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "highest concurrency" in out.read_text() or "No concurrency tried" in out.read_text()
    csv = next(tmp_path.glob("*/sweep.csv")).read_text().splitlines()
    assert csv[0].startswith("concurrency,") and [ln.split(",")[0] for ln in csv[1:]] == ["1", "2"]
