"""Shared fixtures: project paths, the reference frame, and the engine gate for integration tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def reference():
    from runbook.reference import load_reference

    return load_reference()


def docker_available() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "no docker CLI on PATH"
    p = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if p.returncode != 0:
        return False, "no Docker daemon answers `docker info` (make test starts one as root)"
    return True, ""


@pytest.fixture(scope="session")
def engine_image() -> str:
    """The local engine image, built (or reused from the cache) once per test session."""
    ok, why = docker_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"integration tests need Docker in CI: {why}")
        pytest.skip(f"engine tests skipped: {why}")
    from runbook.engine.build import build

    report = build(log=lambda s: print(s, flush=True))
    print(report.as_text())
    return report.image
