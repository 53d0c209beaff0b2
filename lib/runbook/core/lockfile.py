"""The runbook's own environment, locked: ``requirements.lock`` read as pins, its digest, and what
an installed environment holds against it.

The lock is a hashed requirements file written by ``make lock`` (``uv pip compile
--generate-hashes --universal``) and installed by ``scripts/install-lock.sh`` with ``pip
--require-hashes --no-deps``: every package at its pinned version whatever the index serves. A
run records the lock's digest and the venv's versions (``environment.json``); the tests check
that the venv the suite runs in is exactly the lock (``drift``).
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[3]
LOCK = PROJECT_ROOT / "requirements.lock"
PROJECT_DIST = "kimi-k2-runbook"
# Installed by venv itself, never by the lock.
VENV_OWN = frozenset({"pip"})

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: str
    marker: str | None
    hashes: tuple[str, ...]

    def applies(self, env: dict[str, str] | None = None) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(env)


def parse(text: str) -> list[Pin]:
    """The lock's pins, with their markers and hashes (continuation lines joined)."""
    pins: list[Pin] = []
    cur: tuple[str, str, str | None] | None = None
    hashes: list[str] = []

    def flush() -> None:
        if cur is not None:
            pins.append(Pin(cur[0], cur[1], cur[2], tuple(hashes)))

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            hashes.append(line.removeprefix("--hash=").rstrip("\\").strip())
            continue
        m = _PIN.match(line)
        if not m:
            raise ValueError(f"requirements.lock: not a pinned requirement: {line!r}")
        flush()
        cur, hashes = (canonicalize_name(m.group(1)), m.group(2), m.group(3)), []
    flush()
    return pins


def read(path: Path = LOCK) -> list[Pin]:
    return parse(path.read_text())


def digest(path: Path = LOCK) -> str | None:
    """``sha256:…`` of the lock file, the identity a run folder records (None without a lock)."""
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def expected(pins: list[Pin], env: dict[str, str] | None = None) -> dict[str, str]:
    """What the lock installs on this interpreter and platform: name → version."""
    return {p.name: p.version for p in pins if p.applies(env)}


def installed(prefix: str | None = None) -> dict[str, str]:
    """The distributions of this interpreter's environment: name → version."""
    dists = metadata.distributions() if prefix is None else metadata.distributions(
        path=[str(p) for p in Path(prefix).glob("lib/python*/site-packages")])
    return {canonicalize_name(d.metadata["Name"]): d.version for d in dists if d.metadata["Name"]}


def differences(want: dict[str, str], have: dict[str, str], pinned: str, unpinned: str) -> list[str]:
    """Each way an installed package set differs from a pinned one, a line each: ``pinned`` names
    the pin ("lock", "frozen"), ``unpinned`` what a package outside it is ("not in the lock")."""
    out = [f"{n}: {pinned} {v}, installed {have[n]}" for n, v in sorted(want.items())
           if n in have and have[n] != v]
    out += [f"{n}: {pinned} {v}, not installed" for n, v in sorted(want.items()) if n not in have]
    out += [f"{n}: installed {v}, {unpinned}" for n, v in sorted(have.items()) if n not in want]
    return out


def drift(pins: list[Pin], have: dict[str, str]) -> list[str]:
    """Each way an environment differs from the lock, one line each (empty: it is the lock)."""
    own = VENV_OWN | {PROJECT_DIST}
    return differences(expected(pins), {n: v for n, v in have.items() if n not in own},
                       "lock", "not in the lock")


def changes(old: list[Pin], new: list[Pin]) -> list[tuple[str, str, str]]:
    """(name, old version or '', new version or '') for every pin that differs, by name."""
    def versions(pins: list[Pin]) -> dict[str, str]:
        out: dict[str, list[str]] = {}
        for p in pins:
            out.setdefault(p.name, []).append(p.version + (f" ({p.marker})" if p.marker else ""))
        return {k: ", ".join(sorted(v)) for k, v in out.items()}

    a, b = versions(old), versions(new)
    return [(n, a.get(n, ""), b.get(n, "")) for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]


def host_record() -> dict[str, object]:
    """The runbook's side of a run's provenance: the lock's digest, the interpreter, the venv."""
    have = installed()
    try:
        pins = read()
        off = drift(pins, have)
    except (OSError, ValueError) as e:
        off = [f"lock unreadable: {e}"]
    return {"lock": "requirements.lock", "lock_digest": digest(),
            "python": sys.version.split()[0], "venv_matches_lock": not off, "venv_drift": off[:50],
            "packages": dict(sorted(have.items()))}
