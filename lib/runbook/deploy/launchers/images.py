"""The engine image: found locally, built from the project's Dockerfiles (the local stand-ins),
or pulled with layer progress (the vendor images: 1 TB of weights come later, but the image
alone is tens of GB, so a pull that says nothing looks like a hang)."""

from __future__ import annotations

from typing import Any

from runbook.core.errors import EngineError
from runbook.core.progress import Progress
from runbook.core.schema import Profile
from runbook.deploy.launchers.base import Out


def ensure_image(client: Any, p: Profile, out: Out) -> Any:
    """The profile's image: present, built locally (``container.build: local``) or pulled."""
    import docker

    c = p.container
    try:
        return client.images.get(c.image)
    except docker.errors.ImageNotFound:
        pass
    if c.build == "local":
        from runbook.engine.build import build

        build(p.server.engine, tag=c.image, log=out)
        return client.images.get(c.image)
    return pull(client, c.image)


def pull(client: Any, image: str) -> Any:
    """``docker pull`` with layer progress; a failure says which image and why."""
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    prog = Progress(f"pulling {image}", unit="layers")
    layers: dict[str, str] = {}
    try:
        for ev in client.api.pull(repo, tag=tag, stream=True, decode=True):
            if "error" in ev:
                raise EngineError(f"pull of {image} failed: {ev['error']}",
                                  hint="check the image name and registry access")
            if ev.get("id"):
                layers[ev["id"]] = ev.get("status", "")
                done = sum(1 for s in layers.values() if s in ("Pull complete", "Already exists"))
                prog.update(0, f"{done}/{len(layers)} layers; {ev['id']}: {ev.get('status')} "
                               f"{ev.get('progress', '')}")
    except EngineError:
        raise
    except Exception as e:
        raise EngineError(f"pull of {image} failed: {e}",
                          hint="no registry reachable? load or build the image locally") from None
    prog.close(f"{len(layers)} layers")
    return client.images.get(image)
