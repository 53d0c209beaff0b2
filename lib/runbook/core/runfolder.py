"""The run folder: ``outputs/<run-id>/`` holds everything one run produced, and its state.

A run id is ``<UTC time>-<profile>-<short hash>``; folders are created with ``exist_ok=False``
so a re-run never overwrites an earlier one and two runs started in the same second don't
collide. ``state.json`` is what later steps read (endpoint, model, capabilities, what was
started); it is written atomically so an interrupted write never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook.core.params import PROJECT_ROOT

OUTPUTS = Path(os.environ.get("RUNBOOK_OUTPUTS", PROJECT_ROOT / "outputs"))


def new_run_id(profile: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    salt = f"{profile}{time.time_ns()}{os.getpid()}{secrets.token_hex(4)}"
    return f"{now:%Y%m%d-%H%M%S}-{profile}-{hashlib.sha256(salt.encode()).hexdigest()[:6]}"


class RunFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()

    @classmethod
    def create(cls, profile: str, root: Path | None = None) -> RunFolder:
        root = Path(root or OUTPUTS)
        root.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            p = root / new_run_id(profile)
            try:
                p.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            rf = cls(p)
            rf.logs.mkdir()
            return rf
        raise RuntimeError(f"could not create a new run folder under {root}")

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    def read_state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text())

    def update_state(self, **changes: Any) -> dict[str, Any]:
        state = self.read_state()
        state.update(changes)
        write_json(self.state_file, state)
        return state


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    """A run folder's JSON file, or {} where it is missing or unreadable (an older run)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
