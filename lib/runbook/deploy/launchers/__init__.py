"""Launchers: where the server runs. A registry of variants behind one interface (``base.Launcher``).

* ``docker`` — the recipe's way: the container with the profile's flags (``docker.py``);
* ``process`` — the engine from a venv on the host, where no Docker daemon can run (``process.py``);
* ``attach`` — a server already up; nothing is started or stopped (``attach.py``).

Each is imported when chosen, so a host-process run never needs the Docker SDK.
"""

from __future__ import annotations

from importlib import import_module

from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile
from runbook.deploy.launchers.base import ExecResult, Launcher, Out

LAUNCHERS: dict[str, str] = {"docker": "docker:DockerLauncher", "process": "process:ProcessLauncher",
                             "attach": "attach:AttachedLauncher"}

__all__ = ["LAUNCHERS", "ExecResult", "Launcher", "get_launcher"]


def get_launcher(profile: Profile, run: RunFolder, out: Out = print) -> Launcher:
    mod, cls = LAUNCHERS[profile.container.launcher].split(":")
    return getattr(import_module(f"runbook.deploy.launchers.{mod}"), cls)(profile, run, out)
