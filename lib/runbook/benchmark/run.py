"""Running a tier: each repeat through the chosen runner, its row saved to the run's results,
checked for consistency and against the reference; the recorded verdict is the worst repeat's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook.core.errors import BenchError
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile, Tier, TierRun
from runbook.judge.checks import Finding, check_result, workload_of
from runbook.judge.compare import Comparison, compare
from runbook.measure.runners import RunnerResult, get_runner
from runbook.measure.store import append_result
from runbook.measure.tiers import make_spec


@dataclass
class TierResult:
    tier: str
    row: dict[str, Any]
    printed: str
    findings: list[Finding]
    comparison: Comparison | None
    runner: str
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    records: list[Any] | None = None
    earlier: list[TierResult] = field(default_factory=list)  # the repeats before this one

    @property
    def runs(self) -> list[TierResult]:
        """Every repeat of the tier, this (the last) one included."""
        return [*self.earlier, self]

    @property
    def verdict(self) -> str:
        """FAIL when requests were dropped or another workload ran; WARN when the result only
        disagrees with itself somewhere (shown, never hidden); PASS otherwise. With repeats, the
        worst of them."""
        def one(r: TierResult) -> str:
            if any(f.check in FAILING_CHECKS for f in r.findings):
                return "FAIL"
            return "WARN" if r.findings else "PASS"
        verdicts = {one(r) for r in self.runs}
        return next(v for v in ("FAIL", "WARN", "PASS") if v in verdicts)

    def raise_on_failure(self) -> None:
        """A tier that dropped requests or ran another workload fails the step (after display)."""
        if self.verdict == "FAIL":
            why = "; ".join(f"{f.metric}: {f.check} (printed {f.printed}, expected {f.expected})"
                            for r in self.runs for f in r.findings if f.check in FAILING_CHECKS)
            raise BenchError(f"tier {self.tier} failed: {why}",
                             hint=f"per-request records and logs: {', '.join(self.files.values())}")

    def table(self, every_field: bool = False) -> pd.DataFrame:
        """bench_serving's figures, one row per repeat: the headline fields (``every_field``:
        all of them, as ``results.csv`` has them)."""
        from runbook.measure.results import summary_columns

        df = pd.DataFrame([r.row for r in self.runs])
        cols = summary_columns(df) if every_field else [c for c in HEADLINE if c in df]
        return df[(["repeat"] if "repeat" in df and len(df) > 1 else []) + [c for c in cols if c != "repeat"]]

    def logs(self) -> str:
        """Where this tier's raw output is (bench_serving's log and JSONL, or the records)."""
        return "; ".join(f"{k}: {v}" for r in self.runs for k, v in r.files.items())

    def own_records(self) -> list[Any]:
        """This run's per-request records: the builtin runner's own, or bench_serving's
        ``--output-details`` lists read back from its JSONL."""
        if self.records is not None:
            return list(self.records)
        from runbook.measure.metrics import records_from_files

        return records_from_files(self.files)

    def request_records(self) -> list[Any]:
        """Every repeat's per-request records, pooled."""
        return [rec for r in self.runs for rec in r.own_records()]

    def intervals(self) -> Any:
        """With repeats: each figure's median over them and its 95 % interval (and, for latencies,
        the interval over all their requests); the width is the noise a difference must beat."""
        from runbook.judge.stats import repeat_intervals

        if len(self.runs) < 2:
            return "one run of this tier: set repeats (2 or more) for confidence intervals"
        df = repeat_intervals([r.row for r in self.runs], self.request_records())
        fmt = {c: "{:.2f}" for c in ("median", "ci_low", "ci_high", "req_ci_low", "req_ci_high")}
        fmt |= {"ci_width_pct": "{:.1f} %", "requests": "{:.0f}"}
        return df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(
            f"tier {self.tier}: {len(self.runs)} repeats, 95 % bootstrap intervals")


FAILING_CHECKS = ("completed = num_prompts", "workload fingerprint")  # the findings that fail a tier
# What the tier's table shows (the rest, ~50 fields, is in results.csv / results.jsonl).
HEADLINE = ("runner", "client", "completed", "failed", "duration", "total_input_tokens",
            "total_output_tokens", "request_throughput", "output_throughput", "median_ttft_ms",
            "p99_ttft_ms", "median_tpot_ms", "median_itl_ms", "median_e2e_latency_ms", "concurrency")


def choose_runner(p: Profile, runner: str) -> str:
    """An explicit runner wins, then the profile's; "auto" everywhere means the builtin client
    (it needs nothing beside the server)."""
    if runner != "auto":
        return runner
    return p.benchmark.runner if p.benchmark.runner != "auto" else "builtin"


def run_tier(p: Profile, run: RunFolder, spec: TierRun, runner: str, launcher: Any = None,
             out=print) -> TierResult:
    """Run one tier, save its row to the run's results table, and judge it."""
    from runbook.deploy.preflight import measured_host
    from runbook.deploy.server import read_capabilities

    caps = read_capabilities(run, spec.endpoint, spec.api_key)  # the run's record: no new probes
    native = caps.get("native") or {}
    if runner == "bench_serving":
        from runbook.core.paths import expand_path

        r = get_runner(runner)(launcher=launcher, out=out, flush_endpoint=bool(native.get("/flush_cache")),
                               python=expand_path(p.server.python, p) or "python3")
    else:
        r = get_runner(runner)(out=out, native=native.get("/generate"))
    bench_dir = run.path / "bench"
    bench_dir.mkdir(exist_ok=True)
    failure: BenchError | None = None
    from runbook.measure import telemetry

    # GPU and host telemetry once a second while the tier runs (telemetry.csv); never blocks it
    tel = telemetry.sampler_for(run.path, spec.tier, spec.repeat,
                                p.container.name if p.container.launcher == "docker" else None).start()
    try:
        res: RunnerResult = r.run(spec, bench_dir)
    except BenchError as e:
        if "result" not in e.context:
            raise
        res, failure = e.context["result"], e
    finally:
        tel_notes = tel.stop()
    res.notes += tel_notes
    res.files["telemetry"] = str(run.path / "telemetry.csv")
    # The setup as measured — GPUs from the vendor tool, TP, model and version from the server —
    # is what comparability is judged on; the profile's own labels are kept beside it.
    host = measured_host(run)
    row = {**res.row, **({"repeat": spec.repeat} if spec.repeat else {}),
           "hardware": host["hardware"], "gpu_count": host["gpus"], "model": caps.get("model"),
           "tp": caps.get("tp"), "sglang_version": _sglang_version(caps),
           "profile": p.profile, "profile_hardware": p.target.hardware, "run_id": run.run_id}
    append_result(run, row)
    findings = check_result(row, spec.tier, workload_of(row), p.report.tolerances.consistency_rel)
    comparison = None
    from runbook.judge.reference import load_reference

    ref = load_reference(p.report.reference) if p.report.reference else None
    if ref is not None and spec.tier in ref.index:
        comparison = compare(row, ref.loc[spec.tier].to_dict(), spec.tier, p.report.tolerances)
    tr = TierResult(spec.tier, row, res.printed, findings, comparison, runner, res.files, res.notes,
                    res.records)
    before = run.read_state().get(f"tier_{spec.tier}") or {}
    run.update_state(**{f"tier_{spec.tier}": {"verdict": "FAIL" if failure else tr.verdict,
                                              "runner": runner, "files": res.files,
                                              # every run of this tier in the run folder: repeats
                                              "all_files": [*(before.get("all_files") or []), res.files],
                                              "error": str(failure) if failure else None}})
    if failure is not None:
        raise failure
    return tr


def run_repeats(p: Profile, run: RunFolder, name: str, t: Tier, runner: str, launcher: Any = None,
                endpoint: str | None = None, tag: str | None = None, out=print) -> TierResult:
    """The tier ``t.repeats`` times on the same workload (seed + k for repeat k only with
    ``vary_seed``); the last result carries the earlier ones, and the tier's recorded verdict is
    the worst of them."""
    results: list[TierResult] = []
    for k in range(t.repeats):
        tk = t.model_copy(update={"seed": t.seed + k}) if t.vary_seed else t
        label = f"repeat {k + 1}/{t.repeats}" if t.repeats > 1 else None
        if label:
            out(f"tier {name}: {label}")
        spec = make_spec(p, name, tk, runner, endpoint, " · ".join(x for x in (tag, label) if x) or None,
                         repeat=k + 1 if t.repeats > 1 else 0)
        results.append(run_tier(p, run, spec, runner, launcher, out=out))
    last = results[-1]
    last.earlier = results[:-1]
    if len(results) > 1:
        st = run.read_state().get(f"tier_{name}") or {}
        run.update_state(**{f"tier_{name}": {**st, "verdict": last.verdict, "repeats": len(results)}})
    return last


def _sglang_version(caps: dict[str, Any]) -> str:
    if caps.get("engine") == "sglang" and caps.get("version"):
        return str(caps["version"])
    return f"n/a ({caps.get('engine')} {caps.get('version') or ''})".strip()
