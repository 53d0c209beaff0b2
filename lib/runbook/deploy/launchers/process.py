"""The ``process`` launcher — the fallback where no Docker daemon can run: the same engine from a
project-managed venv on the host (``runbook engine build -f local-process``), started through
the same wrapper as in a container."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from typing import Any

from runbook.core.paths import engine_python, expand
from runbook.deploy.launchers.base import ExecResult, Launcher, Out, wrapper_script
from runbook.deploy.server import LaunchCommand


class ProcessLauncher(Launcher):
    """The engine as a host process, from a project-managed venv (no Docker needed)."""

    name = "process"

    def prepare(self) -> dict[str, Any]:
        py = engine_python(self.p)
        facts = {"launcher": self.name, "python": py, "created_container": False}
        self.run.update_state(container=facts)
        return facts

    def pre_install_command(self, cmd: str) -> str:
        """The pre-install with the engine's own interpreter, as inside the container, held to the
        image's frozen versions as the image's PIP_CONSTRAINT holds it there."""
        from runbook.engine.venv import CONSTRAINTS

        py = expand(self.p.server.python, self.p, self.run)
        pip = f"{shlex.quote(py)} -m pip install -c {shlex.quote(str(CONSTRAINTS))}"
        return cmd.replace("pip install", pip, 1)

    def engine_python(self) -> str:
        return expand(self.p.server.python, self.p, self.run)

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        out = out or self.out
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **(env or {})})
        lines = []
        assert proc.stdout is not None
        t0 = time.monotonic()
        for ln in proc.stdout:
            lines.append(ln)
            if echo:
                out(ln.rstrip("\n"))
            if timeout_s and time.monotonic() - t0 > timeout_s:
                proc.kill()
                break
        return ExecResult(proc.wait(), "".join(lines))

    def start_server(self, cmd: LaunchCommand) -> None:
        for f in (self.exit_file, self.pid_file):
            f.unlink(missing_ok=True)
        py = expand(self.p.server.python, self.p, self.run)
        argv = [py if a == self.p.server.python else expand(a, self.p, self.run) for a in cmd.argv]
        cmd = LaunchCommand({k: expand(v, self.p, self.run) for k, v in cmd.env.items()}, argv,
                            cmd.secret_env)
        script = wrapper_script(cmd, str(self.server_log), str(self.pid_file), str(self.exit_file),
                                workdir=str(self.run.path))
        subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **cmd.secret_env})
        self.run.update_state(server={"command": cmd.display(), "argv": cmd.argv, "env": cmd.env,
                                      "log": str(self.server_log), "launcher": self.name})

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self._pid()
        if pid is None:
            return True
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop_server(self, grace_s: float = 20.0) -> None:
        pid = self._pid()
        if pid is None or self.exit_file.exists():
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        t0 = time.monotonic()
        while time.monotonic() - t0 < grace_s and self.alive():
            time.sleep(0.5)
        if self.alive():
            os.kill(pid, signal.SIGKILL)

    def teardown(self) -> list[str]:
        self.stop_server()
        return ["server process stopped"]
