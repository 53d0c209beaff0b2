"""Shared fixtures: project paths, the reference frame, and the engine gate for integration tests."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
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
    from runbook.judge.reference import load_reference

    return load_reference()


def docker_available() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "no docker CLI on PATH"
    p = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if p.returncode != 0:
        return False, "no Docker daemon answers `docker info` (make test starts one as root)"
    return True, ""


# Every container and port a test session uses is its own: a session id in each name and ports
# checked free, so two sessions on one host (a CI job beside a developer's run) never meet, and
# containers left by a session that was killed (daemon stopped, machine suspended) never block the
# next one.
SESSION = secrets.token_hex(3)
_PORTS: set[int] = set()


def cname(base: str) -> str:
    """A container name for this test session: runbook-test-BASE-SESSION."""
    return f"runbook-test-{base}-{SESSION}"


def free_port() -> int:
    """A port nothing listens on, below Linux's ephemeral range (client sockets never take it)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        if port in _PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        _PORTS.add(port)
        return port
    raise RuntimeError("no free port found in 20000-32000")


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_test_containers():
    """Remove stopped containers that earlier, killed test sessions left (test names only)."""
    if docker_available()[0]:
        out = subprocess.run(["docker", "ps", "-a", "--filter", "name=^runbook-test-",
                              "--filter", "status=exited", "--filter", "status=created",
                              "--filter", "status=dead", "--format", "{{.Names}}"],
                             capture_output=True, text=True)
        stale = out.stdout.split()
        if stale:
            subprocess.run(["docker", "rm", "-f", *stale], capture_output=True)
            print(f"removed {len(stale)} stopped test container(s) left by killed sessions: {stale}")
    yield


def container_gone(name: str) -> bool:
    """No container, running or stopped, holds this name."""
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"name=^{name}$"],
                         capture_output=True, text=True)
    return out.stdout.strip() == ""


def _image(engine: str) -> str:
    ok, why = docker_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"integration tests need Docker in CI: {why}")
        pytest.skip(f"engine tests skipped: {why}")
    from runbook.engine.build import build

    report = build(engine, log=lambda s: print(s, flush=True))
    print(report.as_text())
    return report.image


@pytest.fixture(scope="session")
def engine_image() -> str:
    """The embedded default's image (SGLang 0.5.7 + tiny-kimi), built or reused once a session."""
    return _image("sglang")


@pytest.fixture(scope="session")
def vllm_image() -> str:
    """The second engine profile's image (vLLM CPU + tiny-llava)."""
    return _image("vllm")


ENGINE_PORT = free_port()
ENGINE_NAME = cname("engine")
# The test server requires an API key, so every client path is shown to send it. The key lives
# in the environment, as the profile's api_key_env says; never in params.
API_KEY_ENV = "RUNBOOK_TEST_API_KEY"
API_KEY = "rb-test-key-4b1d9c0e7f"
os.environ.setdefault(API_KEY_ENV, API_KEY)


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ[API_KEY_ENV]}"}


def _deployed(profile: str, port: int, name: str, root):
    from runbook.core.params import load_profile
    from runbook.core.runfolder import RunFolder
    from runbook.deploy import steps as deploy

    p = load_profile(profile, [f"server.port={port}", f"container.name={name}",
                               f"target.endpoint=http://127.0.0.1:{port}",
                               f"server.api_key_env={API_KEY_ENV}"])
    run = RunFolder.create(f"{profile}-test", root=root)
    info = deploy.up(p, run)
    print(f"{profile} engine ready in {info['seconds']} s (deployment {info['total_seconds']} s)")
    return p, run


@pytest.fixture(scope="session")
def engine(engine_image, tmp_path_factory):
    """One SGLang miniature for the integration tests that only read from it, deployed through
    the lib the notebooks use."""
    from runbook.deploy import steps as deploy

    p, run = _deployed("local", ENGINE_PORT, ENGINE_NAME, tmp_path_factory.mktemp("runs"))
    yield p, run
    print("; ".join(deploy.teardown(p, run)))


@pytest.fixture(scope="module")
def vllm_engine(vllm_image, tmp_path_factory):
    """The vLLM stand-in, for its own module's tests (then stopped: one engine at a time)."""
    from runbook.deploy import steps as deploy

    p, run = _deployed("local-vllm", free_port(), cname("vllm"), tmp_path_factory.mktemp("runs"))
    yield p, run
    print("; ".join(deploy.teardown(p, run)))


def signal_once_started(proc, name: str, sig: int, start_timeout_s: float = 300,
                        exit_timeout_s: float = 120) -> str:
    """Wait until ``proc`` has started the container ``name``, send it ``sig`` a few seconds
    later, and return its output once it exited (killed if it does not)."""
    import time

    try:
        deadline = time.monotonic() + start_timeout_s
        while container_gone(name):
            assert proc.poll() is None and time.monotonic() < deadline, "the container never started"
            time.sleep(0.5)
        time.sleep(3)
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=exit_timeout_s)
        return output
    finally:
        if proc.poll() is None:
            proc.kill()
