"""The benchmark against the real local engine: both runners on the same server give the same
table; bench_serving's short-dataset trap fails the tier; requests the server rejects are
counted as failed, never dropped."""

from __future__ import annotations

import json

import pytest

from runbook.benchmark.run import run_tier
from runbook.core.errors import BenchError
from runbook.deploy.launchers import get_launcher
from runbook.measure.tiers import make_spec, resolve_tier
from runbook.measure.workload import Workload, random_lengths

pytestmark = pytest.mark.engine


def test_both_runners_same_workload_same_table(engine):
    p, run = engine
    name, t = resolve_tier(p, "", 4, num_prompts=12, input_len=200, output_len=64)
    rows = {}
    for runner in ("bench_serving", "builtin"):
        launcher = get_launcher(p, run) if runner == "bench_serving" else None
        res = run_tier(p, run, make_spec(p, name, t, runner), runner, launcher)
        rows[runner] = res.row
        assert res.findings == [], res.findings  # consistent and the fingerprint matches
        assert "Serving Benchmark Result" in res.printed
    a, b = rows["bench_serving"], rows["builtin"]
    for key in ("completed", "total_input_tokens", "total_output_tokens", "max_concurrency"):
        assert a[key] == b[key], key
    ins, outs = random_lengths(Workload(12, 200, 64))
    assert a["total_input_tokens"] == ins.sum() and a["total_output_tokens"] == outs.sum()
    scalar = lambda r: {k for k, v in r.items() if not isinstance(v, (list, dict))}  # noqa: E731
    assert scalar(a) - scalar(b) <= {"tag", "server_info", "sharegpt_output_len"}, scalar(a) - scalar(b)


def test_bench_serving_in_a_container_another_run_started(engine, tmp_path):
    """A second run (bench.ipynb standalone, a script) reuses the server the first one started:
    the container has the FIRST run's folder mounted, yet bench_serving's output lands in the
    second run's folder, and nothing is left in the container."""
    from runbook.core.runfolder import RunFolder

    p, first = engine
    snapshot = lambda: {q: q.stat().st_mtime_ns for q in first.path.rglob("*") if q.is_file()  # noqa: E731
                        and q.parent.name == "bench"}
    before = snapshot()
    second = RunFolder.create("reuse", tmp_path)
    launcher = get_launcher(p, second)
    name, t = resolve_tier(p, "", 2, num_prompts=4, input_len=64, output_len=16)
    res = run_tier(p, second, make_spec(p, name, t, "bench_serving"), "bench_serving", launcher)
    assert res.row["completed"] == 4 and res.findings == []
    assert res.files["jsonl"].startswith(str(second.path))
    assert snapshot() == before  # nothing written into the first run's folder
    left = launcher.exec(["sh", "-c", "ls /tmp | grep -c runbook- || true"], echo=False)
    assert left.output.strip() == "0", left.output


def test_short_dataset_fails_the_tier(engine):
    p, run = engine
    short = run.path / "short-sharegpt.json"
    conv = [{"conversations": [{"from": "human", "value": f"hello number {i} " * 5},
                               {"from": "gpt", "value": "hi"}]} for i in range(5)]
    short.write_text(json.dumps(conv))
    p2 = p.model_copy(update={"benchmark": p.benchmark.model_copy(
        update={"dataset_path": "/runbook/run/short-sharegpt.json"})})
    name, t = resolve_tier(p2, "", 2, num_prompts=8, input_len=50, output_len=16)
    # The profile's floor (500 conversations) is checked in the container before the tier runs.
    logs = set((run.path / "bench").glob("*.log"))
    with pytest.raises(BenchError) as e:
        run_tier(p2, run, make_spec(p2, name, t, "bench_serving"), "bench_serving", get_launcher(p2, run))
    assert ("benchmark.dataset_path /runbook/run/short-sharegpt.json holds 5 conversations of ≥ 2 "
            "turns; benchmark.min_dataset_conversations is 500") in str(e.value)
    assert set((run.path / "bench").glob("*.log")) == logs  # bench_serving never started
    # Without the floor, bench_serving 0.5.7 shrinks the run and exits 0: caught after the run.
    p3 = p2.model_copy(update={"benchmark": p2.benchmark.model_copy(update={"min_dataset_conversations": 0})})
    with pytest.raises(BenchError) as e:
        run_tier(p3, run, make_spec(p3, name, t, "bench_serving"), "bench_serving", get_launcher(p3, run))
    assert "completed 5 of 8 requests" in str(e.value)
    assert run.read_state()["tier_custom"]["verdict"] == "FAIL"


def test_rejected_requests_are_counted_as_failed(engine):
    """Prompts longer than the model's context (tiny-kimi: 8192 tokens) are rejected by SGLang (a
    streamed request: HTTP 200 and one error event): those requests fail, are counted and
    recorded with the server's reason — never dropped."""
    p, run = engine
    name, t = resolve_tier(p, "", 4, num_prompts=4, input_len=9000, output_len=16, range_ratio=0.8,
                           warmup_requests=0)
    ins, _ = random_lengths(Workload(4, 9000, 16, 0.8, 1))
    too_long = int((ins > 8192).sum())
    assert 0 < too_long < 4
    res = run_tier(p, run, make_spec(p, name, t, "builtin"), "builtin", None)
    assert res.row["failed"] == too_long and res.row["completed"] == 4 - too_long
    errors = [r.error for r in res.records if not r.success]
    assert len(errors) == too_long
    assert all("server error in the stream" in e and "context length (8192 tokens)" in e for e in errors)
    assert any(f.check == "completed = num_prompts" for f in res.findings)


def test_comparability_is_judged_on_measured_facts_not_labels(engine, tmp_path):
    """A profile LABELLED as the recipe's setup (MI300X x8, TP 8) pointed at the CPU miniature:
    the tier is not comparable — the node's GPUs and the server's own TP say so — and the
    capabilities record the steps share was asked once and kept in state.json."""
    from runbook.core.runfolder import RunFolder

    p, _ = engine
    labelled = p.model_copy(update={
        "target": p.target.model_copy(update={"hardware": "AMD MI300X x8"}),
        "server": p.server.model_copy(update={"tp": 8}),
        "report": p.report.model_copy(update={"reference": "mi300x-kimi-k2-sglang-0.5.7.yaml"})})
    run = RunFolder.create("labels", tmp_path)
    name, t = resolve_tier(labelled, "low", None, num_prompts=2, output_len=8, input_len=64)
    res = run_tier(labelled, run, make_spec(labelled, name, t, "builtin"), "builtin", None)
    reasons = " | ".join(res.comparison.reasons)
    assert "hardware differs: run CPU (" in reasons and "tp differs: run 1, reference 8" in reasons
    assert res.row["profile_hardware"] == "AMD MI300X x8" and res.row["sglang_version"] == "0.5.7"
    caps = run.read_state()["capabilities"]
    assert caps["engine"] == "sglang" and caps["tp"] == 1 and caps["vision"] is False
    assert caps["native"] == {"/generate": True, "/model_info": True, "/server_info": True,
                              "/flush_cache": True}
