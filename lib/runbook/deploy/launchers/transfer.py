"""Files across the container's wall without a mount: a host folder in (as a tar stream) and one
file out. A reused container may not mount this run's folder, so results written inside it are
copied out this way."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any, Protocol

from runbook.core.errors import EngineError


class InContainer(Protocol):
    """What a transfer needs of a launcher (the docker one): its container, its profile, exec.
    A protocol rather than the class, so the launcher can use this module without a circle."""

    p: Any

    def container(self) -> Any: ...

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Any = None) -> Any: ...


def copy_in(launcher: InContainer, host_dir: Path, inside_parent: str) -> str:
    """Copy a host folder into the container under ``inside_parent``; returns its path."""
    ctr = launcher.container()
    if ctr is None:
        raise EngineError(f"no container {launcher.p.container.name!r} to copy {host_dir} into")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(host_dir), arcname=host_dir.name,
                filter=lambda ti: None if "__pycache__" in ti.name else ti)
    launcher.exec(["mkdir", "-p", inside_parent], echo=False)
    ctr.put_archive(inside_parent, buf.getvalue())
    return f"{inside_parent.rstrip('/')}/{host_dir.name}"


def copy_out(launcher: InContainer, inside: str, host: Path) -> bool:
    """Copy one file out of the container to ``host`` and remove it inside; False if absent."""
    import docker

    ctr = launcher.container()
    if ctr is None:
        return False
    try:
        stream, _ = ctr.get_archive(inside)
    except docker.errors.NotFound:
        return False
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        data = tar.extractfile(member) if member is not None else None
        if data is None:
            return False
        host.write_bytes(data.read())
    launcher.exec(["rm", "-f", inside], echo=False)
    return True
