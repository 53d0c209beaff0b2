"""Notebook plumbing: open a profile and run folder from a notebook's parameters, show things.

Every notebook's first code cell after ``parameters`` calls ``open_step``: it validates the
parameters through the same schema as the CLI (a bad value fails here, before anything starts),
and finds the run folder — the one passed in, or a new one for a standalone run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.core.errors import ParamsError
from runbook.core.params import as_list, load_profile
from runbook.core.runfolder import OUTPUTS, RunFolder
from runbook.core.schema import Profile


@dataclass
class Step:
    name: str
    profile: Profile
    _run: RunFolder | None
    standalone: bool
    overrides: list[str] = field(default_factory=list)
    params: Any = None  # the notebook's parameters, validated (stepparams), when it passed them

    @property
    def run(self) -> RunFolder:
        """The run folder. A standalone notebook's is made on first use — after the notebook's
        own parameters were checked — so invalid parameters leave no empty run folder behind."""
        if self._run is None:
            self._run = RunFolder.create(self.profile.profile,
                                         Path(os.environ.get("RUNBOOK_OUTPUTS", OUTPUTS)))
            self._run.update_state(profile=self.profile.profile, overrides=self.overrides,
                                   params=self.profile.model_dump(mode="json"))
            print(f"step {self.name}: run folder {self._run.path} (standalone)")
        return self._run

    def guard_server(self) -> ServerGuard:
        """Armed while a standalone notebook starts a server: killed, it stops it (see ServerGuard)."""
        return ServerGuard(self).arm()

    @property
    def endpoint(self) -> str:
        return self.run.read_state().get("endpoint") or self.profile.endpoint

    @property
    def capabilities(self) -> dict[str, Any]:
        """The server's capabilities record (state.json), asked once if this run has none."""
        from runbook.deploy.server import read_capabilities

        return read_capabilities(self.run, self.endpoint, self.api_key)

    @property
    def api_key(self) -> str | None:
        """The server's API key, from where the profile says (environment or file)."""
        from runbook.core import secrets

        return secrets.api_key(self.profile)


class ServerGuard:
    """Armed while a standalone notebook starts (or uses) a server it started: should the
    notebook be killed, a watchdog outside the kernel stops that server (``watchdog.py`` says
    why a handler inside the kernel cannot). Runs under ``runbook run`` are torn down by the
    orchestrator instead, so the guard is only for standalone runs."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self.armed = False

    def arm(self) -> ServerGuard:
        from runbook.notebook import watchdog

        if self.step.standalone:
            watchdog.arm(self.step.run.path)
            self.armed = True
        return self

    def release(self) -> None:
        from runbook.notebook import watchdog

        if self.armed:
            watchdog.release(self.step.run.path)
            self.armed = False


def open_step(name: str, profile: str | dict[str, Any] = "local", run_dir: str = "",
              overrides: Any = None, endpoint: str = "") -> Step:
    """The step's profile and run folder. A notebook passes its namespace (``globals()``): its
    parameters are then validated by the step's model (``stepparams``) first, and kept as
    ``step.params``."""
    params = None
    if isinstance(profile, dict):
        from runbook.notebook import stepparams

        params = stepparams.validate(name, profile)
        profile, run_dir, overrides = params.profile, params.run_dir, list(params.overrides)
        endpoint = getattr(params, "endpoint", "")
        if getattr(params, "timeout_s", 0.0):
            overrides.append(f"server.readiness.timeout_s={params.timeout_s}")
    overrides = as_list([] if overrides is None else overrides)
    if not isinstance(overrides, (list, tuple, dict)):
        raise ParamsError(f"overrides must be a list of 'key=value' strings, got {overrides!r}",
                          field="overrides")
    ov = list(overrides) if not isinstance(overrides, dict) else [f"{k}={v}" for k, v in overrides.items()]
    if endpoint:
        ov.append(f"target.endpoint={endpoint}")
    if run_dir:
        rd = Path(run_dir)
        if not rd.is_dir():
            raise ParamsError(f"run folder {run_dir!r} does not exist", field="run_dir",
                              hint="pass an existing outputs/<run-id> folder, or '' for a new one")
        run = RunFolder(rd)
        state = run.read_state()
        if state.get("overrides") and not ov:
            ov = state["overrides"]
        standalone = False
    else:
        run = None  # type: ignore[assignment]
        standalone = True
    p = load_profile(profile, ov)  # validated before any side effect
    from runbook.core import secrets

    secrets.api_key(p)  # a configured but missing key fails here, before anything starts
    if run is not None and not run.read_state().get("profile"):
        run.update_state(profile=p.profile, overrides=ov, params=p.model_dump(mode="json"))
    print(f"step {name}: profile {p.profile}" + (f", run folder {run.path}" if run is not None else
                                                 " (standalone: a new run folder when first needed)"))
    return Step(name, p, run, standalone, ov, params)
