"""`make lock`: resolve pyproject.toml's ranges (with the test and dev extras) into the hashed
requirements.lock, then show what changed. `make lock` keeps every pin that still fits (adding a
dependency moves nothing else); `make lock-upgrade` re-resolves everything to the newest allowed.

uv writes the file (`uv pip compile --generate-hashes --universal`): it names no index, and the
check below refuses a lock that names a host or a local path.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from runbook.core import lockfile

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"  # environment.yml's and the engine images' (Debian bookworm) Python


def compile_lock(out: Path, upgrade: bool) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        sys.exit("make lock: no uv in the venv (the lock's dev extra installs it: make setup)")
    cmd = [uv, "pip", "compile", "pyproject.toml", "--extra", "test", "--extra", "dev",
           "--universal", "--python-version", PYTHON, "--generate-hashes", "--no-progress",
           "--custom-compile-command", "make lock", "-o", str(out)]
    if upgrade:
        cmd.append("--upgrade")
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"make lock: uv pip compile failed (exit {p.returncode}):\n{p.stderr[-3000:]}")


def refuse_locations(text: str) -> None:
    bad = [ln for ln in text.splitlines()
           if re.search(r"://|^\s*-(i|-index-url|-extra-index-url|-find-links|f)\b|(^|\s)/(opt|root|home|tmp)/",
                        ln)]
    if bad:
        sys.exit("make lock: the lock names an index, a host or a local path; committed files "
                 "must not:\n  " + "\n  ".join(bad[:10]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--upgrade", action="store_true", help="re-resolve every pin to the newest allowed")
    a = ap.parse_args()
    lock = lockfile.LOCK
    old = lockfile.read(lock) if lock.exists() else []
    tmp = lock.with_suffix(".lock.new")
    if lock.exists():
        shutil.copy2(lock, tmp)  # uv keeps the pins it finds in the output file
    compile_lock(tmp, a.upgrade)
    text = tmp.read_text()
    refuse_locations(text)
    new = lockfile.parse(text)
    tmp.replace(lock)
    rows = lockfile.changes(old, new)
    print(f"requirements.lock: {len(new)} pins, {lockfile.digest(lock)}")
    if not rows:
        print("no version changed")
    for name, before, after in rows:
        print(f"  {name:32s} {before or '(new)':>24s} -> {after or '(removed)'}")
    if rows:
        print("then `make setup` installs it (the venv is made anew) and `make test` tries it")


if __name__ == "__main__":
    main()
