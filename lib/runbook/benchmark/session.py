"""A server to run tiers on: the one that answers at the endpoint, or the profile's deployment
started now — and then stopped when the session closes, whatever happened in between.

One way in: ``open_session``. The notebooks call ``ensure_server`` (which also arms the guard that
stops a standalone notebook's server should its kernel be killed); scripts under ``bench/`` use
``serving`` as a ``with`` block. Both are that one function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runbook.benchmark.run import TierResult, choose_runner, run_repeats
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile, Tier


@dataclass
class Session:
    profile: Profile
    run_folder: RunFolder
    runner: str
    launcher: Any
    started: bool
    endpoint: str
    guard: Any = None  # stops the server this notebook started should the notebook be killed

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "runner": self.runner,
                "started by this notebook": self.started, "run folder": str(self.run_folder.path)}

    def run(self, tier_name: str, workload: Tier, tag: str | None = None) -> TierResult:
        """The tier (each of its repeats) on this server."""
        try:
            return run_repeats(self.profile, self.run_folder, tier_name, workload, self.runner,
                               self.launcher, self.endpoint, tag)
        except BaseException:
            self.close()  # a failed tier still leaves no container or process behind
            raise

    def sweep(self, sw: Any) -> Any:
        """A concurrency sweep on this server (``sweep.run_sweep``); a failure stops what this
        session started, as ``run`` does."""
        from runbook.benchmark.sweep import run_sweep

        try:
            return run_sweep(self.profile, self.run_folder, sw, self.runner, self.launcher,
                             self.endpoint)
        except BaseException:
            self.close()
            raise

    def close(self) -> list[str]:
        if self.guard is not None:
            self.guard.release()
            self.guard = None
        if not self.started:
            return ["nothing to stop: the server was already running"]
        from runbook.deploy.steps import teardown

        self.started = False
        return teardown(self.profile, self.run_folder)


def healthy(endpoint: str, api_key: str | None = None) -> bool:
    import httpx

    from runbook.deploy.server import auth_headers

    try:
        return httpx.get(endpoint + "/health", timeout=5, headers=auth_headers(api_key)).status_code == 200
    except httpx.TransportError:
        return False


def open_session(p: Profile, run: RunFolder, endpoint: str | None = None, runner: str = "auto",
                 arm_guard: Callable[[], Any] | None = None, out: Any = print) -> Session:
    """The server at ``endpoint`` (the profile's by default), or the profile's deployment started
    now; ``arm_guard`` is called just before a start."""
    from runbook.core import secrets
    from runbook.deploy.launchers import get_launcher

    endpoint = endpoint or p.endpoint
    started, guard = False, None
    if not healthy(endpoint, secrets.api_key(p)):
        from runbook.deploy.steps import up

        out(f"no server answers at {endpoint}: starting the {p.profile} deployment")
        guard = arm_guard() if arm_guard is not None else None
        up(p, run, out=out)
        started = True
    chosen = choose_runner(p, runner)
    launcher = get_launcher(p, run) if chosen == "bench_serving" else None
    return Session(p, run, chosen, launcher, started, endpoint, guard)


def ensure_server(step: Any, runner: str = "auto") -> Session:
    """For a notebook step: its endpoint's server, or its profile's deployment started now."""
    return open_session(step.profile, step.run, step.endpoint, runner, arm_guard=step.guard_server)


@contextmanager
def serving(p: Profile, run: RunFolder, out: Any = print) -> Iterator[bool]:
    """For a script's block: yields whether the server was started here (then stopped after)."""
    s = open_session(p, run, out=out)
    try:
        yield s.started
    finally:
        s.close()
