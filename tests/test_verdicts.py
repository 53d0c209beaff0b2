"""Verdicts that mean what they say: teardown judged by what it did, a step without checks not
PASS, findings that do not fail a tier shown as WARN (not red rows under a PASS), and the
published reference's own errors as warnings of the report step."""

from __future__ import annotations

import pandas as pd

from runbook.benchmark.run import TierResult
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy.steps import step_checks, teardown_status
from runbook.judge.checks import Finding
from runbook.judge.reference import load_reference
from runbook.orchestrate import StepSpec, step_status
from runbook.report.runs import Report
from runbook.report.views import findings_table


def test_teardown_status_is_what_teardown_did():
    assert teardown_status(["container runbook-sglang removed"]) == "PASS"
    assert teardown_status(["container removal failed: 409 Conflict"]) == "FAIL"
    assert teardown_status(["server stop failed: timeout", "container x left running: this run did "
                            "not create it"]) == "FAIL"
    assert teardown_status(["teardown skipped: no Docker daemon answers"]) == "FAIL"
    assert teardown_status(["container already gone"]) == "WARN"


def test_a_step_that_recorded_no_checks_is_not_pass(tmp_path):
    run = RunFolder.create("t", tmp_path)
    assert step_status(run, StepSpec("container", "01_container.ipynb")) == "WARN"
    run.update_state(container={"container_id": "abc", "container_name": "n", "created_container": True,
                                "image": "i", "launcher": "docker"},
                     weights={"source": "hub", "path": "/w", "commit": "c" * 40},
                     pre_install={"command": "pip install tiktoken", "code": 0})
    assert step_checks("container", run).status == "PASS"
    assert step_status(run, StepSpec("container", "01_container.ipynb")) == "PASS"
    run.update_state(pre_install={"command": "pip install tiktoken", "code": 1})
    assert step_checks("container", run).status == "FAIL"


def _tier(findings):
    return TierResult("low", {}, "", findings, None, "builtin")


def test_findings_that_do_not_fail_a_tier_are_warnings():
    soft = Finding("low", "output_throughput", "tokens / duration", 10.0, 12.0, "differs by 20 %")
    hard = Finding("low", "completed", "completed = num_prompts", 9, 10, "one dropped")
    assert _tier([]).verdict == "PASS"
    assert _tier([soft]).verdict == "WARN"
    assert _tier([soft, hard]).verdict == "FAIL"
    statuses = list(findings_table(_tier([soft, hard])).data["status"])
    assert statuses == ["WARN", "FAIL"]


def test_the_published_references_errors_are_the_report_steps_warnings(tmp_path):
    run = RunFolder.create("r", tmp_path)
    ref = load_reference("mi300x-kimi-k2-sglang-0.5.7.yaml")
    rep = Report(load_profile("mi300x-kimi-k2"), pd.DataFrame(), ref)
    rep.reference_findings(run)
    rec = run.read_state()["steps"]["report"]
    statuses = [c["status"] for c in rec["checks"] if c["name"].startswith("reference")]
    assert "WARN" in statuses and "FAIL" not in statuses  # the recipe's numbers have errors
    assert rec["status"] == "WARN"
