"""The runbook's own environment is requirements.lock, exactly: the lock's form, pyproject's ranges
inside it, environment.yml installing it, the venv the suite runs in matching it, and the install
script taking the locked version when the index serves a newer one."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from runbook.core import lockfile


@pytest.fixture(scope="module")
def pins(root):
    return lockfile.read(root / "requirements.lock")


def test_lock_is_pinned_hashed_and_names_no_location(root, pins):
    text = (root / "requirements.lock").read_text()
    assert pins and all(p.hashes for p in pins), "every pin carries its hashes"
    assert all(h.startswith("sha256:") for p in pins for h in p.hashes)
    for line in text.splitlines():
        s = line.strip()
        assert not s.startswith(("-i", "--index-url", "--extra-index-url", "--find-links", "-f ")), s
        assert "://" not in s and "/opt/" not in s and "/root/" not in s, s
    assert "make lock" in text.splitlines()[1], "the header says how the lock is remade"


def test_every_range_in_pyproject_is_locked_within_it(root, pins):
    proj = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    reqs = [*proj["dependencies"], *proj["optional-dependencies"]["test"],
            *proj["optional-dependencies"]["dev"]]
    here = lockfile.expected(pins)
    for r in map(Requirement, reqs):
        name = canonicalize_name(r.name)
        assert name in here, f"{r} is not in requirements.lock: run `make lock`"
        assert r.specifier.contains(here[name], prereleases=True), \
            f"requirements.lock pins {name}=={here[name]}, outside pyproject's {r}: run `make lock`"


def test_environment_yml_installs_the_lock(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip == ["--require-hashes", "-r requirements.lock"], \
        "environment.yml must install requirements.lock and nothing else"
    assert "python=3.11" in deps
    lock_header = (root / "scripts" / "lock.py").read_text()
    assert 'PYTHON = "3.11"' in lock_header, "the lock is resolved for environment.yml's Python"


def test_the_suite_runs_in_exactly_the_lock(pins):
    """The venv `make test` made is the lock, package for package (fails on any drift: an
    unlocked install, a bare `pip install -U`, a dependency added to pyproject but not locked)."""
    off = lockfile.drift(pins, lockfile.installed())
    assert not off, "the venv differs from requirements.lock:\n" + "\n".join(off)


def test_drift_names_each_difference():
    pins = lockfile.parse("a==1.0 \\\n    --hash=sha256:00\nb==2.0 ; sys_platform == 'nowhere' \\\n"
                          "    --hash=sha256:11\nc==3.0 \\\n    --hash=sha256:22\n")
    assert [p.name for p in pins] == ["a", "b", "c"] and pins[1].marker
    off = lockfile.drift(pins, {"a": "1.1", "d": "4", "pip": "25", "kimi-k2-runbook": "0.1.0"})
    assert off == ["a: lock 1.0, installed 1.1", "c: lock 3.0, not installed",
                   "d: installed 4, not in the lock"]
    newer = lockfile.parse("a==1.1 \\\n --hash=sha256:0\n")
    assert lockfile.changes(pins[:1], newer) == [("a", "1.0", "1.1")]


def test_a_line_that_is_not_a_pin_is_refused():
    with pytest.raises(ValueError, match="not a pinned requirement"):
        lockfile.parse("requests>=2\n")


# --- the install script against a local index that serves a newer release --------------------

def _wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, written by hand (no network, no build backend)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"VERSION = {version!r}\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return out


def _install(root: Path, tmp: Path, lock_text: str, index: Path) -> subprocess.CompletedProcess:
    lock = tmp / "requirements.lock"
    lock.write_text(lock_text)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index), "PY": sys.executable,
           "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run(["bash", str(root / "scripts" / "install-lock.sh"), str(tmp / "venv"), str(lock)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_install_takes_the_locked_version_when_a_newer_one_is_served(root, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    old = _wheel(index, "rbprobe", "1.0")
    _wheel(index, "rbprobe", "2.0")  # what a fresh resolution would take
    sha = hashlib.sha256(old.read_bytes()).hexdigest()
    p = _install(root, tmp_path, f"rbprobe==1.0 \\\n    --hash=sha256:{sha}\n", index)
    assert p.returncode == 0, p.stdout + p.stderr
    got = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c",
                          "import rbprobe; print(rbprobe.VERSION)"], capture_output=True, text=True)
    assert got.stdout.strip() == "1.0"


@pytest.mark.slow
def test_install_refuses_a_file_whose_hash_is_not_the_locked_one(root, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, "rbprobe", "1.0")
    p = _install(root, tmp_path, "rbprobe==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n", index)
    assert p.returncode != 0 and "HASH" in (p.stdout + p.stderr).upper()
