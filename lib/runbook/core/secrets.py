"""Secrets: the server API key and the hub token come from the environment or a file, never from
a literal in params, and never end up in what a run leaves behind.

``resolve`` reads them where the profile says; ``mask`` hides them in any text; ``scrub_tree``
rewrites every text file of a run folder that still contains one (the server's own log may print
its arguments) — the last step of every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from runbook.core.errors import ParamsError
from runbook.core.schema import Profile

MASK = "***"
MIN_LEN = 6  # shorter values would mask ordinary words


def _read(env: str | None, file: str | None, field: str) -> str | None:
    if env:
        value = os.environ.get(env)
        if not value:
            raise ParamsError(f"the environment variable {env} is not set", field=field,
                              hint=f"export {env}=… before the run, or drop {field} from the profile")
        return value.strip()
    if file:
        p = Path(os.path.expanduser(file))
        if not p.is_file():
            raise ParamsError(f"secret file {p} does not exist", field=field)
        return p.read_text().strip()
    return None


def api_key(p: Profile) -> str | None:
    """The server's API key (sent by every client call), or None when the profile sets none."""
    return _read(p.server.api_key_env, p.server.api_key_file, "server.api_key_env")


def hf_token(p: Profile) -> str | None:
    """The hub token for weight downloads; optional (public models need none)."""
    name = p.target.hf_token_env
    value = os.environ.get(name) if name else None
    return value.strip() if value else None


def known(p: Profile) -> list[str]:
    vals = []
    for getter in (api_key, hf_token):
        try:
            v = getter(p)
        except ParamsError:
            v = None
        if v and len(v) >= MIN_LEN:
            vals.append(v)
    return vals


def mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, MASK)
    return text


def scrub_tree(folder: Path, secrets: list[str]) -> int:
    """Mask secrets in every file under ``folder``; returns how many files were rewritten."""
    if not secrets:
        return 0
    needles = [s.encode() for s in secrets]
    changed = 0
    for f in folder.rglob("*"):
        if not f.is_file() or f.is_symlink():
            continue
        data = f.read_bytes()
        if any(n in data for n in needles):
            for n in needles:
                data = data.replace(n, MASK.encode())
            f.write_bytes(data)
            changed += 1
    return changed
