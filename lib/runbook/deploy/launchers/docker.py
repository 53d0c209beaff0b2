"""The ``docker`` launcher — the recipe's way: ``docker run -d`` with the profile's flags (through
the Docker SDK), the pre-install step and the server started inside with ``docker exec``. A
container already holding the name is reused only when its image and flags match; one this run
did not create is never removed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.paths import weights_dir
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile
from runbook.deploy.launchers import transfer
from runbook.deploy.launchers.base import (
    LABEL_CONFIG,
    LABEL_RUN,
    ExecResult,
    Launcher,
    Out,
    wrapper_script,
)
from runbook.deploy.launchers.containerspec import ContainerSpec
from runbook.deploy.launchers.images import ensure_image
from runbook.deploy.server import LaunchCommand


def docker_client():
    import docker

    try:
        c = docker.from_env(timeout=120)
        c.ping()
        return c
    except Exception as e:  # the SDK raises several unrelated types here
        raise EngineError(f"no Docker daemon reachable: {e}",
                          hint="run `make setup` (starts dockerd as root) or use "
                          "container.launcher=process") from None


def docker_exec(client: Any, ctr: Any, argv: list[str], timeout_s: float | None, env: dict[str, str] | None,
                echo: bool, out: Out) -> ExecResult:
    """Run ``argv`` in a running container, its output echoed line by line to ``out`` (the docker
    launcher's and the attach launcher's exec)."""
    if timeout_s:
        argv = ["timeout", "--signal=TERM", "--kill-after=10", str(int(timeout_s)), *argv]
    eid = client.api.exec_create(ctr.id, argv, environment=env or None)["Id"]
    chunks: list[str] = []
    pending = ""
    for raw in client.api.exec_start(eid, stream=True):
        text = raw.decode(errors="replace")
        chunks.append(text)
        if echo:
            pending += text
            # tqdm redraws with \r: treat it as a line end so progress shows as it happens.
            *lines, pending = pending.replace("\r", "\n").split("\n")
            for ln in lines:
                out(ln)
    if echo and pending:
        out(pending)
    code = client.api.exec_inspect(eid)["ExitCode"]
    return ExecResult(int(code if code is not None else -1), "".join(chunks))


def scratch_path(run: RunFolder, name: str) -> str:
    """A path inside the container for a file to copy out afterwards. Not in the run folder's
    mount: a reused container may hold another run's folder there (or none at all)."""
    return f"/tmp/runbook-{run.run_id}-{name}"


class DockerLauncher(Launcher):
    name = "docker"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        super().__init__(profile, run, out)
        self.client = docker_client()
        self._last_liveness = time.monotonic()

    @property
    def spec(self) -> ContainerSpec:
        """The container's configuration (ContainerSpec); the methods below are what other steps
        ask a launcher for."""
        return ContainerSpec(self.p, self.run)

    def container_path(self, host_path: Path) -> str:
        return self.spec.container_path(host_path)

    def docker_run_display(self) -> str:
        return self.spec.docker_run_display()

    def copy_in(self, host_dir: Path, inside_parent: str) -> str:
        return transfer.copy_in(self, host_dir, inside_parent)

    def copy_out(self, inside: str, host: Path) -> bool:
        return transfer.copy_out(self, inside, host)

    def scratch_path(self, name: str) -> str:
        return scratch_path(self.run, name)

    def find_existing(self) -> Any:
        import docker

        try:
            return self.client.containers.get(self.p.container.name)
        except docker.errors.NotFound:
            return None

    def prepare(self) -> dict[str, Any]:
        """Image present (built or pulled), container running with the profile's flags."""
        image = ensure_image(self.client, self.p, self.out)
        cfg = self.spec.config_hash(image.id)
        name = self.p.container.name
        existing = self.find_existing()
        created = False
        if existing is not None:
            labels = existing.labels or {}
            same = (existing.status == "running" and existing.image.id == image.id
                    and labels.get(LABEL_CONFIG) == cfg)
            if not same:
                why = ("it is not running" if existing.status != "running" else
                       "its image differs" if existing.image.id != image.id else
                       "its flags or mounts differ from this profile's")
                # A stopped one left by an earlier run (node rebooted, daemon restarted) is named
                # as such, but still not removed: its logs may be what someone needs to read.
                origin = (f" (left by runbook run {labels[LABEL_RUN]})" if LABEL_RUN in labels
                          else "")
                raise EngineError(
                    f"a container named {name!r}{origin} already exists and {why}; the runbook "
                    "never removes a container this run did not create",
                    hint=f"free the name with: docker rm -f {name}   (or set container.name)")
            container = existing
            self.out(f"reusing running container {name} ({container.short_id}): same image and flags")
        else:
            kw = self.spec.run_kwargs()
            kw["labels"] = {LABEL_RUN: self.run.run_id, LABEL_CONFIG: cfg}
            for host in kw["volumes"]:
                Path(host).mkdir(parents=True, exist_ok=True) if host.startswith(
                    (str(self.run.path), str(weights_dir(self.p)))) else None
            container = self.client.containers.run(**kw)
            created = True
            # Recorded at once, so teardown finds it whatever happens next.
            self.run.update_state(container={"container_id": container.id, "container_name": name,
                                             "created_container": True, "launcher": self.name})
            # `docker run -d` succeeds even when the container dies at once: confirm it runs.
            time.sleep(1.0)
            container.reload()
            if container.status != "running":
                logs = container.logs(tail=200).decode(errors="replace")
                (self.run.logs / "container.log").write_text(logs)
                code = container.attrs.get("State", {}).get("ExitCode")
                container.remove(force=True)  # ours, and dead: its output is kept in the run folder
                raise EngineError(f"container {name} exited right after start (code {code})",
                                  log_tail="\n".join(logs.splitlines()[-30:]),
                                  hint=f"its own output is above and in {self.run.logs / 'container.log'}")
        facts = {"container_id": container.id, "container_name": name, "created_container": created,
                 "image": self.p.container.image, "image_id": image.id,
                 "image_digests": image.attrs.get("RepoDigests") or [], "config_hash": cfg,
                 "launcher": self.name}
        self.run.update_state(container=facts)
        return facts

    def container(self) -> Any:
        """The run's container (by the id the run recorded, else by name); None when it is gone."""
        state = self.run.read_state().get("container") or {}
        import docker

        try:
            return self.client.containers.get(state.get("container_id") or self.p.container.name)
        except docker.errors.NotFound:
            return None

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        ctr = self.container()
        if ctr is None:
            raise EngineError("the container is gone", hint="re-run the container step")
        return docker_exec(self.client, ctr, argv, timeout_s, env, echo, out or self.out)

    def start_server(self, cmd: LaunchCommand) -> None:
        for f in (self.exit_file, self.pid_file):
            f.unlink(missing_ok=True)
        script = wrapper_script(cmd, self.container_path(self.server_log),
                                self.container_path(self.pid_file),
                                self.container_path(self.exit_file))
        ctr = self.container()
        if ctr is None:
            raise EngineError("the container is gone", hint="re-run the container step")
        ctr.exec_run(["sh", "-c", script], detach=True, environment=cmd.secret_env or None)
        self.run.update_state(server={"command": cmd.display(), "argv": cmd.argv, "env": cmd.env,
                                      "log": str(self.server_log), "launcher": self.name})

    def alive(self) -> bool:
        ctr = self.container()
        if ctr is None or ctr.status != "running":
            return False
        if not self.pid_file.exists():
            return True  # starting: the wrapper has not written its pid yet
        pid = self.pid_file.read_text().strip()
        # `kill` is a shell builtin (minimal images have no /bin/kill).
        res = self.exec(["sh", "-c", f"kill -0 {int(pid)}"], echo=False)
        return res.code == 0

    LIVENESS_EVERY_S = 60.0  # the `docker exec kill -0` fallback, for a wrapper killed outright

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        """Cheap, for the readiness loop: the exit code the wrapper wrote (a file in the run
        folder) and one container inspect. Only once a minute is the server's pid probed with
        `docker exec` — for the rare case where the wrapper itself was killed and wrote nothing."""
        code = self._recorded_exit()
        if code is not None:
            return code
        ctr = self.container()  # one inspect
        if ctr is None:
            return -1
        if ctr.status != "running":
            return int(ctr.attrs.get("State", {}).get("ExitCode", -1) or -1)
        now = time.monotonic()
        if now - self._last_liveness >= self.LIVENESS_EVERY_S:
            self._last_liveness = now
            return super().server_exit_code(settle_s)
        return None

    def stop_server(self, grace_s: float = 20.0) -> None:
        if not self.pid_file.exists() or self.exit_file.exists():
            return
        ctr = self.container()
        if ctr is None or ctr.status != "running":
            return
        pid = self.pid_file.read_text().strip()
        self.exec(["sh", "-c", f"kill -TERM {int(pid)}"], echo=False)
        t0 = time.monotonic()
        while time.monotonic() - t0 < grace_s and not self.exit_file.exists():
            time.sleep(0.5)
        if not self.exit_file.exists():
            self.exec(["sh", "-c", f"kill -KILL {int(pid)}"], echo=False)

    def teardown(self) -> list[str]:
        done = []
        state = self.run.read_state().get("container") or {}
        ctr = self.container()
        if ctr is None:
            return ["container already gone"]
        if not state.get("created_container"):
            try:
                self.stop_server()
                done.append("server stopped")
            except Exception as e:  # teardown must go on
                done.append(f"server stop failed: {e}")
            done.append(f"container {ctr.name} left running: this run did not create it")
            return done
        try:
            ctr.remove(force=True)
            done.append(f"container {ctr.name} removed")
        except Exception as e:
            done.append(f"container removal failed: {e}")
        return done


#
