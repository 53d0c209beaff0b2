"""The whole runbook on the embedded default — the real SGLang 0.5.7 serving tiny-kimi: one
command, a run folder, an HTML report checked in a real headless Chromium; and an injected failure
(a wrong model path) that turns a step red, skips the rest, tears down and exits non-zero."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from runbook.judge.checks import check_result, workload_of
from runbook.measure.runners.bench_serving import flush_statuses
from runbook.orchestrate import run_all
from runbook.report.browser import check_page, chromium

from .conftest import API_KEY_ENV, cname, container_gone, free_port

pytestmark = pytest.mark.engine
PORT, NAME = free_port(), cname("run")
OVERRIDES = [f"server.port={PORT}", f"container.name={NAME}", f"target.endpoint=http://127.0.0.1:{PORT}",
             f"server.api_key_env={API_KEY_ENV}"]
PLANTED_HF_TOKEN = "hf_plantedTokenForTheGrepTest0042"


@pytest.fixture(scope="module")
def full_run(engine_image, tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    os.environ["HF_TOKEN"] = PLANTED_HF_TOKEN
    try:
        code, run = run_all("local", OVERRIDES, outputs=root)
    finally:
        del os.environ["HF_TOKEN"]
    return code, run, root


def test_no_secret_anywhere_in_the_run_folder(full_run):
    _, run, _ = full_run
    secrets = [os.environ[API_KEY_ENV].encode(), PLANTED_HF_TOKEN.encode()]
    hits = [str(f) for f in run.path.rglob("*") if f.is_file()
            and any(s in f.read_bytes() for s in secrets)]
    assert hits == []
    # …and the key was really in play: the server was started with it (expanded from the env).
    command = json.loads((run.path / "state.json").read_text())["server"]["command"]
    assert "--api-key '${RUNBOOK_API_KEY}'" in command  # the variable's name, never the key


def test_every_step_green_and_the_three_tiers_exact(full_run):
    code, run, _ = full_run
    summary = json.loads((run.path / "summary.json").read_text())
    statuses = {s["name"]: s["status"] for s in summary["steps"]}
    assert code == 0, summary
    assert statuses == {**{k: "PASS" for k in ("preflight", "container", "server", "basic", "tools",
                                                "bench-low", "bench-medium", "bench-high", "teardown")},
                        "vision": "SKIPPED",  # text only, like Kimi K2
                        "report": "WARN"}  # the published numbers' own errors, found and shown
    rows = [json.loads(x) for x in (run.path / "results.jsonl").read_text().splitlines()]
    got = {r["tier"]: (r["completed"], r["total_input_tokens"], r["total_output_tokens"]) for r in rows}
    assert got == {"low": (10, 6101, 4220), "medium": (80, 39668, 40805), "high": (500, 249831, 252662)}
    for r in rows:  # genuine runs: the consistency checks find nothing
        r["request_rate"] = float("inf") if str(r["request_rate"]).lower() in ("inf", "infinity") \
            else r["request_rate"]
        assert check_result(r, r["tier"], workload_of(r)) == [], r["tier"]
    assert all(r["runner"] == "bench_serving" and r["backend"] == "sglang" for r in rows)
    assert container_gone(NAME) and any("removed" in t for t in summary["teardown"])


def test_sglang_served_every_step_and_no_placeholder_was_called(full_run):
    """The run's server log: SGLang's own endpoints answered the steps, bench_serving's cache
    flush was honoured before each tier, and no GPU-kernel placeholder was ever called."""
    _, run, _ = full_run
    log = (run.path / "logs" / "server.log").read_text()
    assert "RUNBOOK-PLACEHOLDER-CALLED" not in log
    assert "The server is fired up and ready to roll!" in log
    for line in ('"GET /health_generate HTTP/1.1" 200', '"GET /model_info HTTP/1.1" 200',
                 '"GET /server_info HTTP/1.1" 200', '"POST /generate HTTP/1.1" 200',
                 '"POST /v1/chat/completions HTTP/1.1" 200'):
        assert line in log, line
    # --flush-cache, once per tier: SGLang takes it (200), or refuses it while the warm-up request
    # is being retired (400) and the tier's log says so (bench_serving itself does not check).
    flushes = flush_statuses(run.path / "logs" / "server.log")
    refused = 0
    for tier in ("low", "medium", "high"):
        out = next((run.path / "bench").glob(f"*{tier}*bench_serving*.log")).read_text()
        assert "backend='sglang'" in out and "flush_cache=True" in out  # bench_serving's own args
        refused += "--flush-cache was refused" in out
    assert len(flushes) == 3 and flushes.count(200) == 3 - refused, (flushes, refused)


def test_run_folder_holds_what_it_promises(full_run):
    _, run, _ = full_run
    for f in ("summary.json", "environment.json", "results.jsonl", "results.csv", "state.json",
              "index.html", "logs/server.log", "telemetry.csv"):
        assert (run.path / f).exists(), f
    tel = pd.read_csv(run.path / "telemetry.csv")
    assert set(tel["tier"]) == {"low", "medium", "high"} and (tel["source"] == "host").all()
    floor = json.loads((run.path / "summary.json").read_text())["floor"]
    assert floor["basis"].startswith("host memory,") and "measured" in floor["basis"]
    for t in floor["tiers"]:  # this run's and the reference's % of their decode floors
        assert 0 < t["pct_of_floor"] < 100 and 0 < t["ref_pct_of_floor"] < 100, t
    assert "% of decode floor" in (run.path / "index.html").read_text()
    env = json.loads((run.path / "environment.json").read_text())
    assert env["image_id"].startswith("sha256:") and env["engine"] == "sglang" and env["runbook_commit"]
    # What ran: the lock (and the venv is exactly it), the image's frozen package set after the
    # pre-install, and the bench client every tier used.
    from runbook.core import lockfile

    assert env["runbook"]["lock_digest"] == lockfile.digest() and env["runbook"]["venv_matches_lock"]
    eng = env["engine_env"]
    assert eng["measured"] and eng["frozen"] == "sglang-constraints.txt", eng
    assert eng["matches_frozen"], eng["drift"]
    assert "tiktoken==" in (run.path / eng["packages_file"]).read_text()  # the pre-install's
    assert eng["bench_client"] == "sglang.bench_serving 0.5.7" == env["bench_clients"][0]
    pages = {p.stem[3:]: p.read_text() for p in (run.path / "notebooks").glob("*.html")}
    assert len(pages) == 11  # 10 steps + teardown
    # Each page for what it must hold: its step's verdict as the step's table shows it, plots
    # embedded where the step draws them, and nothing fetched from elsewhere.
    must = {"preflight": ["preflight: PASS", "server port"], "container": ["container: PASS", "pre-install"],
            "server": ["server: PASS", "/health_generate answered 200", "cluster.mode: single"],
            "basic": ["basic: PASS"],
            "vision": ["vision: SKIPPED"], "tools": ["tools: PASS", "round trip"],
            "report": ["report: WARN", "data:image/png;base64", "% of the decode floor"],
            "teardown": ["container " + NAME + " removed"],
            **{f"bench-{t}": [f"tier {t}: checks: PASS", "data:image/png;base64", "telemetry.csv"]
               for t in ("low", "medium", "high")}}
    assert set(pages) == set(must)
    for name, text in pages.items():
        for part in must[name]:
            assert part in text, (name, part)
        assert not re.search(r"""(src|href)=["']https?://""", text), name  # self-contained
        assert "injected-parameters" in text, name  # the parameters it ran with
    for t in ("low", "medium", "high"):  # distributions, timeline, and the tier's telemetry
        assert pages[f"bench-{t}"].count("data:image/png;base64") >= 3, t
        # Each thing once: the result block once, bench_serving's argument dump only in its log.
        assert pages[f"bench-{t}"].count("Serving Benchmark Result") == 1, t
        assert "Namespace(" not in pages[f"bench-{t}"], t
    assert "Requirement already satisfied" not in pages["container"]  # pip's output: in its log
    assert (run.path / "logs" / "pre-install.log").read_text().strip()


@pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: make test installs it")
def test_index_in_headless_chromium(full_run):
    _, run, _ = full_run
    shot = run.path / "index-test.png"
    pc = check_page(run.path / "index.html", shot)
    assert pc.console == [], pc.console
    assert 'id="verdicts"' in pc.dom and 'id="tiers"' in pc.dom and "bench-high" in pc.dom
    assert shot.exists() and shot.stat().st_size > 10_000
    assert (run.path / "index.png").exists()  # the run kept its own screenshot


def test_injected_failure_red_step_skips_teardown_nonzero(full_run):
    _, first, root = full_run
    cmd = [sys.executable, "-m", "runbook", "run", "-f", "local"]
    for o in [*OVERRIDES, "server.model_path=/models/no-such-model"]:
        cmd += ["-p", o]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                       env={**os.environ, "RUNBOOK_OUTPUTS": str(root)})
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    result = json.loads(p.stdout.strip().splitlines()[-1])
    assert result["run"] != str(first.path)  # a second run makes a second folder
    summary = json.loads(open(result["run"] + "/summary.json").read())
    st = {s["name"]: s for s in summary["steps"]}
    assert st["server"]["status"] == "FAIL" and "no-such-model" in st["server"]["detail"]
    assert all(st[n]["status"] == "SKIPPED" and "server" in st[n]["detail"]
               for n in ("basic", "vision", "tools", "bench-low", "report"))
    assert container_gone(NAME)
    failed_nb = json.loads(open(st["server"]["output"]).read())
    assert "An Exception was encountered" in "".join(failed_nb["cells"][0]["source"])  # error on top
