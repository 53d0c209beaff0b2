"""One benchmark tier, end to end: resolve the workload, run it, parse, check, compare, save.

The tier rule (documented in bench.ipynb): an explicit ``tier`` picks that tier; with no tier, a
``concurrency`` picks the profile's tier with that concurrency (``-p concurrency 100`` → the
"high" tier, 500 prompts); explicit values (num_prompts, lengths, …) override the tier's; a
concurrency no tier has, or ``tier="custom"``, starts from the recipe's defaults with
num_prompts = 10 × concurrency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.checks import Finding, check_result, workload_of
from runbook.compare import Comparison, compare
from runbook.errors import BenchError, ParamsError
from runbook.params import Profile, Tier
from runbook.runfolder import RunFolder
from runbook.runners import BenchSpec, RunnerResult, get_runner

CUSTOM = "custom"


def resolve_tier(p: Profile, tier: str = "", concurrency: int | None = None,
                 **overrides: Any) -> tuple[str, Tier]:
    """Apply the tier rule; every value is validated by the Tier schema (extra keys rejected)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if concurrency is not None and concurrency < 1:
        raise ParamsError(f"concurrency must be ≥ 1, got {concurrency}", field="concurrency")
    if tier and tier != CUSTOM:
        name = tier
        base = p.tier(tier).model_dump()
    elif concurrency is not None and not tier:
        match = [n for n, t in p.benchmark.tiers.items() if t.concurrency == concurrency]
        name = match[0] if match else CUSTOM
        base = p.benchmark.tiers[name].model_dump() if match else None
    elif not tier:
        name = next(iter(p.benchmark.tiers))
        base = p.benchmark.tiers[name].model_dump()
    else:
        name, base = CUSTOM, None
    if base is None:
        c = concurrency or overrides.get("concurrency")
        if not c:
            raise ParamsError("a custom tier needs a concurrency", field="concurrency")
        base = {"concurrency": c, "num_prompts": 10 * c, "input_len": 1000, "output_len": 1000}
    if concurrency is not None:
        base["concurrency"] = concurrency
    base.update(overrides)
    try:
        return name, Tier.model_validate(base)
    except Exception as e:
        from pydantic import ValidationError

        from runbook.params import format_validation_error

        if isinstance(e, ValidationError):
            raise format_validation_error(e, "bench parameters", Tier) from None
        raise


# bench.ipynb's "use the tier's value" defaults (papermill needs plain literals, not None).
UNSET = {"concurrency": 0, "num_prompts": 0, "input_len": 0, "output_len": 0, "range_ratio": -1.0,
         "request_rate": 0.0, "seed": -1, "warmup_requests": -1, "flush_cache": "", "repeats": 0}


def _as_type(name: str, value: Any, want: type) -> Any:
    if want is str:
        return value if isinstance(value, str) else str(value)
    kind = "an integer" if want is int else "a number"
    try:
        if isinstance(value, bool):
            raise ValueError
        out = want(value)
        if want is int and isinstance(value, float) and value != out:
            raise ValueError
        return out
    except (TypeError, ValueError):
        raise ParamsError(f"bench parameter {name} must be {kind}, got {value!r}", field=name,
                          hint=f"e.g. papermill notebooks/bench.ipynb out.ipynb -p {name} "
                          f"{16 if want is int else 0.5}") from None


def resolve_notebook_tier(p: Profile, tier: str = "", **values: Any) -> tuple[str, Tier]:
    """bench.ipynb's parameters → the tier rule: values equal to UNSET mean "the tier's"."""
    unknown = set(values) - set(UNSET)
    if unknown:
        raise ParamsError(f"unknown bench parameter(s): {', '.join(sorted(unknown))}",
                          field="bench", allowed=", ".join(UNSET))
    given = {k: v for k, v in values.items() if not (v == UNSET[k] and type(v) is type(UNSET[k]))}
    for k, v in given.items():  # papermill -p passes what it cannot parse as text: say so
        given[k] = _as_type(k, v, type(UNSET[k]))
    if isinstance(given.get("flush_cache"), str):
        flag = given["flush_cache"].strip().lower()
        if flag not in ("true", "false"):
            raise ParamsError(f"flush_cache must be 'true', 'false' or '' (the tier's), got {flag!r}",
                              field="flush_cache")
        given["flush_cache"] = flag == "true"
    conc = given.pop("concurrency", None)
    return resolve_tier(p, tier, conc, **given)


def make_spec(p: Profile, name: str, t: Tier, runner: str, endpoint: str | None = None,
              tag: str | None = None, repeat: int = 0) -> BenchSpec:
    """The tier as a runner sees it. bench_serving runs inside the engine's environment (the
    container or the engine venv), so it gets the server's tokenizer path and the dataset file;
    the builtin client runs here and uses the host-side tokenizer."""
    from runbook.launchers import expand_path

    inside = runner == "bench_serving"
    tokenizer = (p.server.tokenizer_path or p.server.model_path) if inside else p.target.tokenizer
    return BenchSpec(
        tier=name, concurrency=t.concurrency, num_prompts=t.num_prompts, input_len=t.input_len,
        output_len=t.output_len, range_ratio=t.range_ratio, request_rate=t.request_rate, seed=t.seed,
        warmup_requests=t.warmup_requests, flush_cache=t.flush_cache,
        endpoint=endpoint or p.endpoint, model=p.target.model, backend=p.benchmark.backend,
        tokenizer=expand_path(tokenizer, p), tag=tag, repeat=repeat,
        dataset_path=expand_path(p.benchmark.dataset_path, p) if inside else None,
        min_dataset_conversations=p.benchmark.min_dataset_conversations if inside else 0,
        extra_args=list(p.benchmark.extra_args) if inside else [],
        api_key=_api_key(p), prompt_format=p.benchmark.prompt_format,
    )


def _api_key(p: Profile) -> str | None:
    from runbook import secrets

    return secrets.api_key(p)


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

    def table(self) -> pd.DataFrame:
        """bench_serving's figures, one row per repeat."""
        from runbook.results import summary_columns

        df = pd.DataFrame([r.row for r in self.runs])
        cols = summary_columns(df)
        return df[(["repeat"] if "repeat" in df and len(df) > 1 else []) + [c for c in cols if c != "repeat"]]

    def own_records(self) -> list[Any]:
        """This run's per-request records: the builtin runner's own, or bench_serving's
        ``--output-details`` lists read back from its JSONL."""
        if self.records is not None:
            return list(self.records)
        if self.files.get("jsonl"):
            from runbook.metrics import records_from_details
            from runbook.results import read_results

            return records_from_details(read_results(self.files["jsonl"]).iloc[-1].to_dict())
        return []

    def request_records(self) -> list[Any]:
        """Every repeat's per-request records, pooled."""
        return [rec for r in self.runs for rec in r.own_records()]

    def intervals(self) -> Any:
        """With repeats: each figure's median over them and its 95 % interval (and, for latencies,
        the interval over all their requests); the width is the noise a difference must beat."""
        from runbook.stats import repeat_intervals

        if len(self.runs) < 2:
            return "one run of this tier: set repeats (2 or more) for confidence intervals"
        df = repeat_intervals([r.row for r in self.runs], self.request_records())
        fmt = {c: "{:.2f}" for c in ("median", "ci_low", "ci_high", "req_ci_low", "req_ci_high")}
        fmt |= {"ci_width_pct": "{:.1f} %", "requests": "{:.0f}"}
        return df.style.format(fmt, na_rep="—").hide(axis="index").set_caption(
            f"tier {self.tier}: {len(self.runs)} repeats, 95 % bootstrap intervals")


FAILING_CHECKS = ("completed = num_prompts", "workload fingerprint")  # the findings that fail a tier


def choose_runner(p: Profile, runner: str) -> str:
    """An explicit runner wins, then the profile's; "auto" everywhere means the builtin client
    (it needs nothing beside the server)."""
    if runner != "auto":
        return runner
    return p.benchmark.runner if p.benchmark.runner != "auto" else "builtin"


def run_tier(p: Profile, run: RunFolder, spec: BenchSpec, runner: str, launcher: Any = None,
             out=print) -> TierResult:
    """Run one tier, save its row to the run's results table, and judge it."""
    from runbook.preflight import measured_host
    from runbook.server import read_capabilities

    caps = read_capabilities(run, spec.endpoint, spec.api_key)  # the run's record: no new probes
    native = caps.get("native") or {}
    if runner == "bench_serving":
        from runbook.launchers import expand_path

        r = get_runner(runner)(launcher=launcher, out=out, flush_endpoint=bool(native.get("/flush_cache")),
                               python=expand_path(p.server.python, p) or "python3")
    else:
        r = get_runner(runner)(out=out, native=native.get("/generate"))
    bench_dir = run.path / "bench"
    bench_dir.mkdir(exist_ok=True)
    failure: BenchError | None = None
    from runbook import telemetry

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
    from runbook.reference import load_reference

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


def results_file(run: RunFolder) -> Path:
    return run.path / "results.jsonl"


def append_result(run: RunFolder, row: dict[str, Any]) -> None:
    from runbook.results import DETAIL_FIELDS

    slim = {k: v for k, v in row.items() if k not in DETAIL_FIELDS}
    with open(results_file(run), "a") as fh:
        fh.write(json.dumps(slim, default=str) + "\n")


def load_results(run: RunFolder) -> pd.DataFrame:
    f = results_file(run)
    if not f.exists():
        return pd.DataFrame()
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    df = pd.DataFrame(rows)
    if "request_rate" in df:
        df["request_rate"] = df["request_rate"].map(lambda v: math.inf if v in ("inf", "Infinity") else v)
    return df


# ---------------------------------------------------------------------------------------------
# bench.ipynb's session: use the server that answers, or start the embedded default and stop it.


@dataclass
class Session:
    step: Any
    runner: str
    launcher: Any
    started: bool
    endpoint: str
    guard: Any = None  # stops the server this notebook started should the notebook be killed

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "runner": self.runner,
                "started by this notebook": self.started, "run folder": str(self.step.run.path)}

    def run(self, tier_name: str, workload: Tier, tag: str | None = None) -> TierResult:
        """The tier (each of its repeats) on this server."""
        try:
            return run_repeats(self.step.profile, self.step.run, tier_name, workload, self.runner,
                               self.launcher, self.endpoint, tag)
        except BaseException:
            self.close()  # a failed tier still leaves no container or process behind
            raise

    def sweep(self, sw: Any) -> Any:
        """A concurrency sweep on this server (``sweep.run_sweep``); a failure stops what this
        notebook started, as ``run`` does."""
        from runbook.sweep import run_sweep

        try:
            return run_sweep(self.step.profile, self.step.run, sw, self.runner, self.launcher,
                             self.endpoint)
        except BaseException:
            self.close()
            raise

    def close(self) -> list[str]:
        if self.guard is not None:
            self.guard.release()
        if not self.started:
            return ["nothing to stop: the server was already running"]
        from runbook.deploy import teardown

        self.started = False
        return teardown(self.step.profile, self.step.run)


def _healthy(endpoint: str, api_key: str | None = None) -> bool:
    import httpx

    from runbook.server import auth_headers

    try:
        return httpx.get(endpoint + "/health", timeout=5, headers=auth_headers(api_key)).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(p: Profile, run: RunFolder, out: Any = print) -> Iterator[bool]:
    """For a script's block: the server that answers, or the profile's deployment started now and
    torn down after it (yields whether it was started here)."""
    from runbook.deploy import teardown, up

    started = not _healthy(p.endpoint, _api_key(p))
    if started:
        up(p, run, out=out)
    try:
        yield started
    finally:
        if started:
            teardown(p, run)


def ensure_server(step: Any, runner: str = "auto") -> Session:
    """The server at the step's endpoint, or the profile's deployment started now."""
    from runbook.launchers import get_launcher

    p = step.profile
    endpoint = step.endpoint
    started = False
    launcher = None
    guard = None
    if not _healthy(endpoint, _api_key(p)):
        from runbook.deploy import up

        print(f"no server answers at {endpoint}: starting the {p.profile} deployment")
        guard = step.guard_server() if hasattr(step, "guard_server") else None
        up(p, step.run)
        started = True
    chosen = choose_runner(p, runner)
    if chosen == "bench_serving":
        launcher = get_launcher(p, step.run)
    return Session(step, chosen, launcher, started, endpoint, guard)


def findings_table(result: TierResult) -> Any:
    from runbook.verdicts import FAIL, PASS, WARN, StepChecks

    chk = StepChecks(f"tier {result.tier}: checks")
    for k, r in enumerate(result.runs, 1):
        which = f"repeat {k}: " if len(result.runs) > 1 else ""
        if not r.findings:
            chk.add(f"{which}consistency and workload", PASS, "no findings: the result agrees with "
                    "itself and with the seeded workload's token totals")
        for f in r.findings:
            # Only dropped requests or another workload fail a tier; the rest is a warning to read.
            chk.add(f"{which}{f.metric}: {f.check}", FAIL if f.check in FAILING_CHECKS else WARN,
                    f"printed {f.printed}, expected {f.expected} — {f.detail}")
    return chk.styled()


def comparison_view(result: TierResult) -> Any:
    from runbook.compare import styled

    if result.comparison is None:
        return f"no reference for tier {result.tier!r}"
    return styled(result.comparison)


def plots(result: TierResult) -> None:
    """Latency distributions and the per-second timeline of the requests, and the telemetry
    sampled while the tier ran (utilisation, memory, power, temperature)."""
    from runbook import plots as P
    from runbook import telemetry

    figs = []
    recs = result.request_records()
    if recs:
        figs += [P.distributions(recs, f"tier {result.tier} ({result.runner})"),
                 P.timeline_plot(recs, f"tier {result.tier}: output tokens/s and requests in flight")]
    if result.files.get("telemetry"):
        tel = telemetry.read(Path(result.files["telemetry"]).parent, result.tier)
        if len(tel):
            figs.append(P.telemetry_plot(tel, f"tier {result.tier}: telemetry.csv, once a second"))
    if figs:
        P.show(figs)
    return None
