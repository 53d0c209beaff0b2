"""The container a profile asks for, as the Docker SDK and a reader see it: ``docker run``'s
keyword arguments, the equivalent command line, the volumes and where a host path appears inside,
and the hash of it all that tells a reusable container from one with other flags."""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.paths import expand
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile


class ContainerSpec:
    """The profile's ``container`` section resolved for one run folder."""

    def __init__(self, profile: Profile, run: RunFolder) -> None:
        self.p = profile
        self.run = run

    def volumes(self) -> dict[str, dict[str, str]]:
        vols = {}
        for spec in self.p.container.volumes:
            parts = expand(spec, self.p, self.run).split(":")
            host, cpath = parts[0], parts[1]
            vols[host] = {"bind": cpath, "mode": parts[2] if len(parts) > 2 else "rw"}
        return vols

    def container_path(self, host_path: Path) -> str:
        """Where a host path appears inside the container (through the profile's volumes)."""
        best = None
        for host, spec in self.volumes().items():
            hp = Path(host).resolve()
            try:
                rel = host_path.resolve().relative_to(hp)
            except ValueError:
                continue
            if best is None or len(str(hp)) > len(best[0]):
                best = (str(hp), str(PurePosixPath(spec["bind"]) / rel))
        if best is None:
            raise EngineError(
                f"{host_path} is not visible inside the container",
                hint="add a volume that covers it to container.volumes (e.g. ${RUN_DIR}:/runbook/run "
                "for the run folder, ${WEIGHTS_DIR}:/root/.cache/huggingface for the weights)")
        return best[1]

    def run_kwargs(self) -> dict[str, Any]:
        c = self.p.container
        kw = dict(
            image=c.image, command=c.command, name=c.name, detach=True, tty=True, stdin_open=True,
            privileged=c.privileged, ipc_mode=c.ipc, network_mode=c.network, cap_add=c.cap_add or None,
            devices=[f"{d}:{d}:rwm" for d in c.devices] or None, group_add=c.group_add or None,
            security_opt=c.security_opt or None, volumes=self.volumes(),
            environment=dict(c.env),
        )
        if c.gpus == "all":  # docker run --gpus all: every NVIDIA GPU, through the NVIDIA runtime
            from docker.types import DeviceRequest

            kw["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return kw

    def config_hash(self, image_id: str) -> str:
        kw = {k: v for k, v in self.run_kwargs().items() if k != "image"}
        blob = json.dumps({"image": image_id, **kw}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def docker_run_display(self) -> str:
        """The equivalent ``docker run`` command line, for the reader."""
        c = self.p.container
        parts = ["docker run -d -it"]
        parts += [f"--ipc={c.ipc}"] if c.ipc else []
        parts += [f"--network={c.network}"] if c.network else []
        parts += ["--privileged"] if c.privileged else []
        parts += [f"--cap-add={x}" for x in c.cap_add]
        parts += [f"--device={d}" for d in c.devices]
        parts += ["--gpus all"] if c.gpus == "all" else []
        parts += [f"--group-add {g}" for g in c.group_add]
        parts += [f"--security-opt {s}" for s in c.security_opt]
        parts += [f"-v {h}:{v['bind']}" + (":ro" if v["mode"] == "ro" else "")
                  for h, v in self.volumes().items()]
        parts += [f"-e {k}={shlex.quote(v)}" for k, v in c.env.items()]
        parts += [f"--name {c.name}", c.image, c.command]
        return " \\\n  ".join(parts)
