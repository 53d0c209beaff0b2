"""What every launcher does, and the shell wrapper all of them start the server through.

The wrapper writes the server's pid and, when it ends, its exit code into the run folder's
``logs/`` — so any later process (another notebook, the CLI) can tell whether the server is alive
without holding a handle to it. State lives in the run folder, never in the launcher object.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile
from runbook.deploy.server import LaunchCommand

Out = Callable[[str], None]
LABEL_RUN = "org.runbook.run"
LABEL_CONFIG = "org.runbook.config"


@dataclass
class ExecResult:
    code: int
    output: str


def wrapper_script(cmd: LaunchCommand, log: str, pid: str, exitf: str, workdir: str = "/tmp") -> str:
    """Start ``cmd`` in the background with its output in ``log``; record pid and exit code."""
    # "${RUNBOOK_API_KEY}" stays unquoted so the shell expands it from the process environment.
    argv = " ".join(f'"{a}"' if a == "${RUNBOOK_API_KEY}" else shlex.quote(a) for a in cmd.argv)
    # Unbuffered: the log shows what the server is doing while it loads, and right up to a crash.
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"PYTHONUNBUFFERED": "1", **cmd.env}.items())
    return (f"cd {shlex.quote(workdir)} && rm -f {shlex.quote(exitf)} && "
            f"( exec env {env} {argv} ) > {shlex.quote(log)} 2>&1 & "
            f"p=$!; echo $p > {shlex.quote(pid)}; wait $p; echo $? > {shlex.quote(exitf)}")


class Launcher:
    """What every launcher does; state lives in the run folder so any process can resume it."""

    name = "base"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        self.p = profile
        self.run = run
        self.out = out

    def container_path(self, host_path: Path) -> str:
        """Where a host path appears to the server (the same path for a host process)."""
        return str(host_path.resolve())

    # Files the wrapper writes, as seen on the host.
    @property
    def server_log(self) -> Path:
        return self.run.logs / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.run.logs / "server.pid"

    @property
    def exit_file(self) -> Path:
        return self.run.logs / "server.exit"

    def prepare(self) -> dict[str, Any]:
        raise NotImplementedError

    def pre_install(self) -> ExecResult | None:
        """The recipe's pre-install step (4.2.2) where the engine lives, its exit code checked;
        then what the engine's environment holds is recorded (``record_engine_env``)."""
        cmd = self.p.container.pre_install
        res = None
        if cmd:
            cmd = self.pre_install_command(cmd)
            # pip's own output (resolver notes and warnings) goes to a log, not the notebook.
            res = self.exec(["sh", "-c", cmd], echo=False)
            log = self.run.logs / "pre-install.log"
            log.write_text(res.output)
            self.out(f"pre-install: `{cmd}` exit code {res.code} (pip's output: {log})")
            self.run.update_state(pre_install={"command": cmd, "code": res.code, "log": str(log)})
            if res.code != 0:
                raise EngineError(f"pre-install `{cmd}` failed with exit code {res.code}",
                                  log_tail="\n".join(res.output.splitlines()[-20:]))
        self.record_engine_env()
        return res

    def pre_install_command(self, cmd: str) -> str:
        return cmd

    def record_engine_env(self) -> dict[str, Any]:
        """The engine environment's packages after the pre-install (``pip freeze --all`` into the
        run folder's ``engine-packages.txt``, its digest, and how it differs from the image's
        frozen list) and the bench client's version (``sglang.bench_serving`` is the image's
        sglang): the provenance a later run is compared on."""
        from runbook.engine import freeze

        py = shlex.quote(self.engine_python())
        rec: dict[str, Any] = {"measured": False}
        try:
            res = self.exec(["sh", "-c", f"{py} -m pip freeze --all"], echo=False, timeout_s=180)
            ver = self.exec([self.engine_python(), "-c", "import sglang; print(sglang.__version__)"],
                            echo=False, timeout_s=180)
        except EngineError as e:
            rec["why"] = e.message
            self.run.update_state(engine_env=rec)
            return rec
        if res.code == 0:
            lines = sorted((freeze.as_pin(ln) for ln in res.output.splitlines()
                            if ln.strip() and not ln.startswith(("#", "WARNING", "DEPRECATION"))),
                           key=str.lower)
            (self.run.path / "engine-packages.txt").write_text("\n".join(lines) + "\n")
            rec.update(measured=True, packages_file="engine-packages.txt", packages=len(lines),
                       packages_digest=freeze.digest(lines))
            frozen = self.frozen_constraints()
            if frozen is not None:
                off = freeze.drift(freeze.pins(frozen.read_text()), freeze.pins("\n".join(lines)))
                rec.update(frozen=frozen.name, matches_frozen=not off, drift=off[:50])
        else:
            rec["why"] = f"pip freeze exited {res.code}"
        deb = self.exec(["sh", "-c", f"cat {freeze.DEBIAN_LIST} 2>/dev/null || "
                         "dpkg-query -W -f='${Package}==${Version}\\n' 2>/dev/null | sort"],
                        echo=False, timeout_s=60)
        deb_lines = [ln for ln in deb.output.splitlines() if "==" in ln]
        if deb.code == 0 and deb_lines:
            rec.update(debian_packages=len(deb_lines), debian_digest=freeze.digest(deb_lines))
        last = ver.output.strip().splitlines()[-1:] if ver.code == 0 else []
        rec["bench_client"] = f"sglang.bench_serving {last[0]}" if last else None
        self.run.update_state(engine_env=rec)
        return rec

    def engine_python(self) -> str:
        """The engine's interpreter, as a command where the engine lives."""
        return self.p.server.python

    def frozen_constraints(self) -> Path | None:
        """The frozen package list this engine was built from (a locally built image or the
        process launcher's venv); None for an image from elsewhere."""
        from runbook.engine import freeze

        if self.p.container.build == "local" or self.name == "process":
            f = freeze.constraints_file(self.p.server.engine)
            return f if f.is_file() else None
        return None

    def start_server(self, cmd: LaunchCommand) -> None:
        raise NotImplementedError

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        """Run a command where the engine lives; its output is echoed line by line to ``out``."""
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def stop_server(self, grace_s: float = 20.0) -> None:
        raise NotImplementedError

    def teardown(self) -> list[str]:
        raise NotImplementedError

    def _recorded_exit(self) -> int | None:
        """The code the wrapper wrote, or None while the file is absent or not yet written."""
        try:
            text = self.exit_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.lstrip("-").isdigit() else None

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        """None while the server runs; its exit code (or -1 when its host is gone) once it ended."""
        code = self._recorded_exit()
        if code is not None:
            return code
        if self.pid_file.exists() and not self.alive():
            # The wrapper writes server.exit right after `wait` returns, a moment after the pid is
            # gone: wait for it, so a kill reads as 137 rather than "unknown" (-1).
            deadline = time.monotonic() + settle_s
            while time.monotonic() < deadline:
                time.sleep(0.1)
                code = self._recorded_exit()
                if code is not None:
                    return code
            return -1
        return None
