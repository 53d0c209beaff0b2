"""Profile paths: ``${WEIGHTS_DIR}``, ``${RUN_DIR}`` and ``${PROJECT_ROOT}`` in profile values, the
weights folder, and the process launcher's interpreter. Read by the launchers, the weights stage,
preflight and the tier runners alike, so it lives apart from all of them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from runbook.core.errors import EngineError
from runbook.core.params import PROJECT_ROOT
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile


def weights_dir(p: Profile) -> Path:
    d = Path(os.path.expandvars(p.target.weights_dir))
    return d if d.is_absolute() else PROJECT_ROOT / d


def expand(value: str, p: Profile, run: RunFolder) -> str:
    """``${WEIGHTS_DIR}``, ``${RUN_DIR}`` and ``${PROJECT_ROOT}`` in profile values."""
    return (value.replace("${WEIGHTS_DIR}", str(weights_dir(p)))
            .replace("${RUN_DIR}", str(run.path))
            .replace("${PROJECT_ROOT}", str(PROJECT_ROOT)))


def expand_path(value: str | None, p: Profile) -> str | None:
    """``${WEIGHTS_DIR}`` / ``${PROJECT_ROOT}`` in a value that doesn't depend on the run."""
    if value is None:
        return None
    return (value.replace("${WEIGHTS_DIR}", str(weights_dir(p)))
            .replace("${PROJECT_ROOT}", str(PROJECT_ROOT)))


def engine_python(p: Profile) -> str:
    """The process launcher's interpreter, which must exist before anything is started."""
    py = expand_path(p.server.python, p) or ""
    if not Path(py).exists() and not shutil.which(py):
        raise EngineError(f"the engine's python {py!r} does not exist",
                          hint="run `runbook engine build -f PROFILE` to create the engine venv")
    return py
