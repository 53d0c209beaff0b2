"""``runbook run``: every notebook in order, with papermill, into a new run folder.

preflight → container → server → basic → vision → tools → the three tiers → report, then
teardown — always, even after a failure or an interrupt. A failed step's executed notebook is
kept (papermill puts the error on top). A failed preflight, container or server step skips the
steps after it (marked with the reason); a failed basic, vision or tools step does not: the
tiers only need the server ready, and an hour of loading is not thrown away;
the command exits non-zero and prints where the report is. Then the run folder is assembled
(``report.assembly``): summary.json
(verdicts per step and tier), environment.json, results.csv, the executed notebooks, their
HTML pages and index.html.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.core.errors import RunbookError
from runbook.core.params import PROJECT_ROOT, load_profile
from runbook.core.progress import TerminalEcho
from runbook.core.runfolder import OUTPUTS, RunFolder
from runbook.core.schema import Profile
from runbook.report.assembly import assemble

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


def _ipc_kernel_manager() -> type:
    """The kernels' manager: IPC sockets instead of TCP on localhost. ipykernel warns about TCP
    without encryption at every kernel start (once per notebook of a run); a kernel on IPC is
    reachable only through its socket files (in the temp folder, removed with the kernel), which is
    both quieter and what the warning itself recommends."""
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            folder = Path(tempfile.gettempdir()) / "runbook-kernels"
            folder.mkdir(exist_ok=True)
            self.transport = "ipc"
            self.ip = str(folder / uuid.uuid4().hex[:12])

    return IPCKernelManager


def execute(notebook: Path, output: Path | str, parameters: dict[str, Any], **kw: Any) -> Any:
    """One notebook through papermill, on the python3 kernel (over IPC), from the project root."""
    import papermill as pm

    return pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(PROJECT_ROOT),
                               kernel_manager_class=_ipc_kernel_manager(), **kw)


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
                    execute(NOTEBOOKS / s.notebook, o.output, params, log_output=False,
                            stdout_file=echo, stderr_file=echo)
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
    assemble(p, run, outcomes, teardown_lines, total, failed, out)
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

    try:
        execute(NOTEBOOKS / "99_teardown.ipynb", nb_dir / "99-teardown.ipynb",
                {"profile": p.profile, "run_dir": str(run.path), "overrides": ov})
        lines = run.read_state().get("teardown") or []
    except Exception as e:  # teardown must happen whatever broke
        from runbook.deploy.steps import teardown

        lines = [f"teardown notebook failed ({type(e).__name__}); torn down directly", *teardown(p, run)]
    out("teardown: " + "; ".join(lines))
    return lines


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
            execute(NOTEBOOKS / notebook, nb, {"profile": profile, "run_dir": str(run.path),
                                               "overrides": list(overrides), **params},
                    stdout_file=echo, stderr_file=echo)
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
