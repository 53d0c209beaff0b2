"""The ``attach`` launcher: a server already up, nothing created, started or stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile
from runbook.deploy.launchers import transfer
from runbook.deploy.launchers.base import ExecResult, Launcher, Out
from runbook.deploy.launchers.containerspec import ContainerSpec
from runbook.deploy.launchers.docker import docker_client, docker_exec, scratch_path
from runbook.deploy.server import LaunchCommand


class AttachedLauncher(Launcher):
    """A server already up at the profile's endpoint — started by hand, or by an earlier run that
    left it loaded — so the tiers can be rerun without reloading 1 TB: nothing is created, started
    or stopped. Commands (bench_serving) still run where the engine lives: in the running
    container of the profile's name, when there is one."""

    name = "attach"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        super().__init__(profile, run, out)
        self.client: Any = None  # Docker only if a command must run in the engine's container

    def container(self) -> Any:
        import docker

        if self.client is None:
            try:
                self.client = docker_client()
            except EngineError:
                return None
        try:
            return self.client.containers.get(self.p.container.name)
        except docker.errors.NotFound:
            return None

    def prepare(self) -> dict[str, Any]:
        ctr = self.container()
        facts = {"launcher": self.name, "attached_to": self.p.endpoint, "created_container": False,
                 "container_name": ctr.name if ctr is not None else None,
                 "image": (ctr.image.tags or [ctr.image.id])[0] if ctr is not None else None,
                 "image_id": ctr.image.id if ctr is not None else None}
        self.run.update_state(container=facts)
        return facts

    def pre_install(self) -> ExecResult | None:
        """Whoever started the server installed what it needs; what the engine holds is still
        recorded where its container is here (else the record says it was not measured)."""
        self.record_engine_env()
        return None

    def start_server(self, cmd: LaunchCommand | None) -> None:
        self.run.update_state(server={"command": f"(attached to {self.p.endpoint}: started outside "
                                      "this run)", "launcher": self.name, "attached": True})

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        ctr = self.container()
        if ctr is None or ctr.status != "running":
            raise EngineError(f"attached to {self.p.endpoint}, but no running container named "
                              f"{self.p.container.name!r} to run {argv[0]} in",
                              hint="set container.name to the server's container, or run the tiers "
                              "with the builtin runner (benchmark.runner=builtin)")
        return docker_exec(self.client, ctr, argv, timeout_s, env, echo, out or self.out)

    def container_path(self, host_path: Path) -> str:
        """Where a host path appears in the server's container, through the profile's mounts."""
        return ContainerSpec(self.p, self.run).container_path(host_path)

    # bench_serving's JSONL is written inside the container and copied out, as with docker.
    def scratch_path(self, name: str) -> str:
        return scratch_path(self.run, name)

    def copy_in(self, host_dir: Path, inside_parent: str) -> str:
        return transfer.copy_in(self, host_dir, inside_parent)

    def copy_out(self, inside: str, host: Path) -> bool:
        return transfer.copy_out(self, inside, host)

    def alive(self) -> bool:
        return True

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        return None  # not ours to watch: the readiness wait ends on its timeout

    def stop_server(self, grace_s: float = 20.0) -> None:
        return None

    def teardown(self) -> list[str]:
        return [f"attached to {self.p.endpoint}: nothing was started here, nothing stopped"]
