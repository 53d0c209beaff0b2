"""``runbook run``: every notebook in order, with papermill, into a new run folder.

preflight → container → server → basic → vision → tools → the three tiers → report, then
teardown — always, even after a failure or an interrupt. A failed step's executed notebook is
kept (papermill puts the error on top). A failed preflight, container or server step skips the
steps after it (marked with the reason); a failed basic, vision or tools step does not: the
tiers only need the server ready, and an hour of loading is not thrown away;
the command exits non-zero and prints where the report is. The run folder gets summary.json
(verdicts per step and tier), environment.json, results.jsonl/csv, the executed notebooks, their
HTML pages and index.html.
"""

from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook.core import lockfile
from runbook.core.errors import RunbookError
from runbook.core.params import PROJECT_ROOT, load_profile
from runbook.core.progress import TerminalEcho
from runbook.core.runfolder import OUTPUTS, RunFolder, write_json
from runbook.core.schema import Profile

NOTEBOOKS = PROJECT_ROOT / "notebooks"


@dataclass
class StepSpec:
    name: str
    notebook: str
    params: dict[str, Any] = field(default_factory=dict)
    # A gate's failure skips every step after it (nothing to talk to). Other steps only need the
    # server ready: a FAIL in basic, vision or tools marks the run FAIL, the tiers still run.
    gate: bool = False


def default_steps(p: Profile) -> list[StepSpec]:
    steps = [StepSpec("preflight", "00_preflight.ipynb", gate=True),
             StepSpec("container", "01_container.ipynb", gate=True),
             StepSpec("server", "02_server.ipynb", gate=True), StepSpec("basic", "03_basic.ipynb"),
             StepSpec("vision", "04_vision.ipynb"), StepSpec("tools", "05_tools.ipynb")]
    steps += [StepSpec(f"bench-{t}", "bench.ipynb", {"tier": t}) for t in p.benchmark.tiers]
    steps.append(StepSpec("report", "report.ipynb"))
    return steps


@dataclass
class StepOutcome:
    name: str
    notebook: str
    status: str = "SKIPPED"
    seconds: float = 0.0
    detail: str = ""
    output: str = ""
    html: str = ""
    html_seconds: float = 0.0


class Interrupted(Exception):
    pass


def _on_signal(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` inside the block, whatever the process inherited:
    a background job of a script starts with SIGINT ignored, and SIGTERM's default would end the
    process without its teardown. The handlers before are restored after."""
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def environment(p: Profile, run: RunFolder) -> dict[str, Any]:
    from importlib.metadata import version

    st = run.read_state()
    c, f = st.get("container") or {}, st.get("facts") or {}
    return {
        "profile": p.profile, "overrides": st.get("overrides") or [],
        "resolved_params": p.model_dump(mode="json"),
        "image": c.get("image"), "image_id": c.get("image_id"), "image_digests": c.get("image_digests"),
        "engine": f.get("engine"), "engine_version": f.get("engine_version"),
        "weights": weights_record(p, st.get("weights") or {}),
        "runbook_commit": git_commit(), "python": platform.python_version(),
        "host": platform.node(),
        "packages": {k: version(k) for k in ("papermill", "nbconvert", "pandas", "pydantic", "docker",
                                             "openai", "httpx")},
        # Provenance (runbook diff / compare-engines read it): the lock and the venv, the engine's
        # packages after the pre-install, and each tier's bench client.
        "runbook": lockfile.host_record(),
        "engine_env": st.get("engine_env") or {"measured": False, "why": "no container step ran"},
        "bench_clients": sorted({str(r.get("client")) for r in _rows(run) if r.get("client")}),
    }


def _rows(run: RunFolder) -> list[dict[str, Any]]:
    f = run.path / "results.jsonl"
    if not f.is_file():
        return []
    return [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]


def weights_record(p: Profile, staged: dict[str, Any]) -> dict[str, Any]:
    """What the server loaded: source, repo, the revision asked for and the commit it resolved
    to (the staged snapshot's, or — where the server downloaded — the hub cache's ref)."""
    from runbook.core.paths import weights_dir
    from runbook.deploy import weights

    rec = {k: staged.get(k) for k in ("source", "path", "revision", "commit", "digest") if staged.get(k)}
    if staged.get("source") == "server":
        rec["commit"] = weights.resolve_commit(weights_dir(p), p.target.model, p.target.revision)
    if rec.get("source") in ("hub", "server"):
        rec["repo_id"] = p.target.model
    return rec


NO_CHECKS = "WARN"


def step_status(run: RunFolder, step: StepSpec) -> str:
    st = run.read_state()
    if step.name.startswith("bench-"):
        return (st.get(f"tier_{step.params.get('tier')}") or {}).get("verdict", "PASS")
    checks = (st.get("steps") or {}).get(step.name) or {}
    return checks.get("status", NO_CHECKS)  # a step that recorded no checks has shown nothing


def run_all(profile: str, overrides: list[str] | None = None, out=print,
            steps: list[StepSpec] | None = None, outputs: Path | None = None,
            echo_to: Any = None) -> tuple[int, RunFolder]:
    import papermill as pm

    ov = list(overrides or [])
    p = load_profile(profile, ov)  # validated before anything starts…
    from runbook.core import secrets

    secrets.api_key(p)  # …including a configured key that isn't there…
    if p.report.baseline:  # …and a baseline run that isn't one
        from runbook.report.runs import baseline_folder

        baseline_folder(p.report.baseline)
    run = RunFolder.create(p.profile, outputs or OUTPUTS)
    run.update_state(profile=p.profile, overrides=ov, params=p.model_dump(mode="json"))
    nb_dir = run.path / "notebooks"
    nb_dir.mkdir()
    plan = steps or default_steps(p)
    outcomes = [StepOutcome(s.name, s.notebook) for s in plan]
    out(f"run {run.run_id}: {len(plan)} steps, folder {run.path}")
    echo = TerminalEcho(echo_to)  # the steps' progress on the terminal (stderr) while they run
    failed: str | None = None  # the first step that failed: the run's verdict
    blocked: str | None = None  # a failed gate (or an interrupt): nothing after it runs
    t_run = time.monotonic()
    with interruptible():  # an interrupt ends the steps; the teardown still runs
        try:
            for i, (s, o) in enumerate(zip(plan, outcomes, strict=False)):
                if blocked:
                    o.status, o.detail = "SKIPPED", f"skipped: step {blocked!r} failed"
                    continue
                o.output = str(nb_dir / f"{i:02d}-{s.name}.ipynb")
                params = {"profile": str(profile), "run_dir": str(run.path), "overrides": ov, **s.params}
                out(f"[{i + 1}/{len(plan)}] {s.name} ({s.notebook})")
                t0 = time.monotonic()
                try:
                    pm.execute_notebook(str(NOTEBOOKS / s.notebook), o.output, parameters=params,
                                        kernel_name="python3", progress_bar=False, log_output=False,
                                        stdout_file=echo, stderr_file=echo, cwd=str(PROJECT_ROOT))
                    o.status = step_status(run, s)
                    o.detail = _detail(run, s, o.status)
                    if o.status == "FAIL":  # a FAIL the notebook recorded without raising still counts
                        failed = failed or s.name
                except pm.PapermillExecutionError as e:
                    o.status, o.detail = "FAIL", f"{e.ename}: {str(e.evalue)[:400]}"
                    failed = failed or s.name
                    if s.gate:
                        blocked = s.name
                o.seconds = round(time.monotonic() - t0, 1)
                out(f"    {o.status} in {o.seconds:.0f} s" + (f" — {o.detail}" if o.status == "FAIL" else ""))
        except (Interrupted, KeyboardInterrupt) as e:
            failed = f"interrupted ({e})"
            for o in outcomes:
                if o.status == "SKIPPED" and not o.detail:
                    o.detail = f"skipped: run {failed}"
            out(f"run {failed}: tearing down")
        finally:
            teardown_lines = _teardown(p, run, ov, nb_dir, out)
    total = round(time.monotonic() - t_run, 1)
    from runbook.deploy.steps import teardown_status

    outcomes.append(StepOutcome("teardown", "99_teardown.ipynb", teardown_status(teardown_lines), 0.0,
                                "; ".join(teardown_lines), str(nb_dir / "99-teardown.ipynb")))
    _finish(p, run, outcomes, teardown_lines, total, failed, out)
    return (0 if not failed else 1), run


def _detail(run: RunFolder, s: StepSpec, status: str) -> str:
    if s.name.startswith("bench-"):
        return "ok" if status == "PASS" else "findings: see the tier's checks"
    rec = (run.read_state().get("steps") or {}).get(s.name)
    if rec is None:
        return "the step recorded no checks"
    checks = rec.get("checks") or []
    if status in ("SKIPPED", "WARN", "FAIL"):
        return "; ".join(f"{c['name']}: {c['detail']}" for c in checks if c["status"] == status)[:300]
    return "ok"


def _teardown(p: Profile, run: RunFolder, ov: list[str], nb_dir: Path, out) -> list[str]:
    """The teardown notebook, and the lib call directly should the notebook itself fail."""
    import papermill as pm

    try:
        pm.execute_notebook(str(NOTEBOOKS / "99_teardown.ipynb"), str(nb_dir / "99-teardown.ipynb"),
                            parameters={"profile": p.profile, "run_dir": str(run.path), "overrides": ov},
                            kernel_name="python3", progress_bar=False, cwd=str(PROJECT_ROOT))
        lines = run.read_state().get("teardown") or []
    except Exception as e:  # teardown must happen whatever broke
        from runbook.deploy.steps import teardown

        lines = [f"teardown notebook failed ({type(e).__name__}); torn down directly", *teardown(p, run)]
    out("teardown: " + "; ".join(lines))
    return lines


def _finish(p: Profile, run: RunFolder, outcomes: list[StepOutcome], teardown_lines: list[str],
            total: float, failed: str | None, out) -> None:
    from runbook.measure.store import load_results
    from runbook.report import html

    df = load_results(run)
    if not df.empty:
        df.to_csv(run.path / "results.csv", index=False)
    env = environment(p, run)
    write_json(run.path / "environment.json", env)
    for o in outcomes:
        if o.output and Path(o.output).exists():
            t0 = time.monotonic()
            o.html = html.export_notebook(Path(o.output))
            o.html_seconds = round(time.monotonic() - t0, 2)
    floor = _floors(p, run, df, out)
    st = run.read_state()
    tiers = {k[5:]: v for k, v in st.items() if k.startswith("tier_")}
    summary = {
        "run_id": run.run_id, "profile": p.profile, "status": "FAIL" if failed else "PASS",
        "failed_step": failed, "total_seconds": total,
        "steps": [asdict(o) for o in outcomes], "tiers": tiers, "teardown": teardown_lines,
        "ready_seconds": (st.get("ready") or {}).get("seconds"),
        "diff": st.get("diff"),  # the report step's verdicts against report.baseline, if any
        "floor": floor,
    }
    write_json(run.path / "summary.json", summary)
    index = html.write_index(run, summary, env, df)
    from runbook.core import secrets
    from runbook.report import browser

    # Last: no secret survives in what the run leaves behind (the server's own log may print it).
    scrubbed = secrets.scrub_tree(run.path, secrets.known(p))
    if scrubbed:
        out(f"secrets masked in {scrubbed} file(s) of the run folder")

    if browser.chromium():  # a look at the page as a reader gets it; kept beside it
        try:
            pc = browser.check_page(Path(index), run.path / "index.png")
            summary["index_console_messages"] = pc.console
            write_json(run.path / "summary.json", summary)
        except Exception as e:  # the report stands without its screenshot
            out(f"screenshot skipped: {e}")
    out(f"report: {index}")


def _floors(p: Profile, run: RunFolder, df: Any, out) -> dict[str, Any]:
    """Each tier's % of its decode floor, and the reference's (floor.py); the report stands
    without it should the model's config be unreadable."""
    from runbook.judge.reference import load_reference
    from runbook.measure import floor

    try:
        ref = load_reference(p.report.reference) if p.report.reference else None
        fl = floor.run_floors(p, run, df, ref)
        return {"basis": fl.attrs["basis"], "ref_basis": fl.attrs["ref_basis"],
                "tiers": fl.astype(object).where(fl.notna(), None).to_dict("records")}
    except Exception as e:  # a missing floor is said on the page, not fatal
        out(f"floor not computed: {type(e).__name__}: {e}")
        return {"error": f"{type(e).__name__}: {e}"}


def run_one(profile: str, overrides: list[str], notebook: str, params: dict[str, Any],
            outputs: Path | None = None, out=print) -> tuple[int, RunFolder, Path]:
    """One notebook (``runbook sweep``) into a new run folder, its HTML page beside it.

    Ctrl-C or SIGTERM (exit 130) interrupts the notebook's kernel — its own teardown runs — and
    then tears down what the run folder says was started, as ``run_all`` does."""
    import papermill as pm

    from runbook.report import html

    p = load_profile(profile, overrides)  # validated before anything starts
    run = RunFolder.create(p.profile, outputs or OUTPUTS)
    run.update_state(profile=p.profile, overrides=list(overrides), params=p.model_dump(mode="json"))
    (run.path / "notebooks").mkdir()
    nb = run.path / "notebooks" / notebook
    echo = TerminalEcho()
    code = 0
    try:
        with interruptible():
            pm.execute_notebook(str(NOTEBOOKS / notebook), str(nb), kernel_name="python3", progress_bar=False,
                                parameters={"profile": profile, "run_dir": str(run.path),
                                            "overrides": list(overrides), **params},
                                stdout_file=echo, stderr_file=echo, cwd=str(PROJECT_ROOT))
    except pm.PapermillExecutionError as e:
        out(f"{notebook} failed: {e.ename}: {str(e.evalue)[:400]}")
        code = 1
    except (Interrupted, KeyboardInterrupt) as e:
        from runbook.deploy.steps import teardown

        out(f"{notebook} interrupted ({e or 'SIGINT'}): tearing down")
        out("teardown: " + "; ".join(teardown(p, run)))
        code = 130
    page = Path(html.export_notebook(nb)) if nb.exists() else nb
    return code, run, page


def main_run(profile: str, overrides: list[str]) -> int:
    try:
        code, run = run_all(profile, overrides)
    except RunbookError as e:
        print(f"runbook run: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"run": str(run.path), "index": str(run.path / "index.html"), "exit": code}))
    return code
