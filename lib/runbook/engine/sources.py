"""Where an engine build's inputs come from on this machine: the CPU torch the engines pin (a
local wheel folder, else PyTorch's CPU wheel index or a mirror of it, probed once per build) and
the CA bundle the image's pip trusts (a proxy only the host trusts)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runbook.core.errors import EngineError

TORCH_WHEEL_GLOB = "torch-2.13.0+cpu-cp311-*.whl"


def pip_setting(name: str) -> str | None:
    """A value from this machine's pip configuration (cert, find-links)."""
    env = os.environ.get(f"PIP_{name.upper().replace('-', '_')}")
    if env:
        return env
    try:
        out = subprocess.run(["pip", "config", "list"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        m = re.match(rf"^[\w:.]*\.{re.escape(name)}='(.*)'$", line.strip())
        if m:
            return m.group(1)
    return None


def host_ca_bundle() -> Path:
    for cand in (pip_setting("cert"), os.environ.get("SSL_CERT_FILE"),
                 "/etc/ssl/certs/ca-certificates.crt"):
        if cand and Path(cand).is_file():
            return Path(cand)
    raise EngineError("no CA bundle found for the image's pip",
                      hint="set PIP_CERT to the CA bundle this machine trusts")


TORCH_PIN = "torch==2.13.0+cpu"
# PyTorch's own CPU wheel index, where a user's machine gets the pinned CPU build (the package
# registry's torch is a CUDA build). RUNBOOK_TORCH_INDEX points elsewhere (a mirror).
TORCH_INDEX_DEFAULT = "https://download.pytorch.org/whl/cpu"


@dataclass
class TorchSource:
    """Where the engines' CPU torch comes from: a local wheel (carried into the build) or an
    index (pip installs the pin from it)."""

    wheel: Path | None = None
    index: str | None = None

    def describe(self) -> str:
        return f"wheel {self.wheel}" if self.wheel else f"{TORCH_PIN} from {self.index}"

    def pip_args(self) -> list[str]:
        return [str(self.wheel)] if self.wheel else ["--index-url", str(self.index), TORCH_PIN]


def _local_wheel() -> Path | None:
    dirs = [d for d in (pip_setting("find-links") or "").split() if d]
    dirs += ["/opt/wheels"]
    for d in dirs:
        d = d.removeprefix("file://")
        found = sorted(Path(d).glob(TORCH_WHEEL_GLOB)) if Path(d).is_dir() else []
        if found:
            return found[-1]
    return None


def _index_answers(index: str, timeout_s: float = 10.0) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=timeout_s) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def torch_source() -> TorchSource:
    """A local wheel where one is (this workplace: a find-links folder), else PyTorch's CPU
    index where it answers (a user's machine); whichever is reachable, checked before building."""
    wheel = _local_wheel()
    if wheel is not None:
        return TorchSource(wheel=wheel)
    index = os.environ.get("RUNBOOK_TORCH_INDEX", TORCH_INDEX_DEFAULT)
    if _index_answers(index):
        return TorchSource(index=index)
    raise EngineError(
        f"the CPU torch the engines pin ({TORCH_PIN}) is reachable neither as a local wheel "
        f"({TORCH_WHEEL_GLOB} in a PIP_FIND_LINKS folder or /opt/wheels) nor from {index}",
        hint="put the wheel in a folder named by PIP_FIND_LINKS, or set RUNBOOK_TORCH_INDEX to a "
        "reachable mirror of PyTorch's CPU index")
