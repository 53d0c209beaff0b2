"""Deployment faults, really injected on the embedded default: each reported within seconds of
its cause, with the log lines that show it, and nothing left behind."""

from __future__ import annotations

import socket
import time

import docker
import pytest

from runbook.core.errors import EngineError, ServerNotReady
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy import steps as deploy
from runbook.deploy.launchers import get_launcher

from .conftest import cname, container_gone, free_port

pytestmark = pytest.mark.engine


def _profile(port: int, name: str, *extra: str):
    return load_profile("local", [f"server.port={port}", f"container.name={name}",
                                  f"target.endpoint=http://127.0.0.1:{port}", *extra])


def test_server_killed_during_the_wait_fails_within_5_s(engine_image, tmp_path):
    p = _profile(free_port(), cname("kill"))
    run = RunFolder.create("kill", tmp_path)
    launcher, _ = deploy.start_container(p, run)
    try:
        deploy.stage_weights(p, run)
        deploy.start_server(p, launcher)
        for _ in range(600):  # until the server is loading: its log has lines
            if launcher.server_log.exists() and launcher.server_log.stat().st_size > 200:
                break
            time.sleep(0.1)
        pid = int(launcher.pid_file.read_text())
        t_kill = time.monotonic()
        launcher.exec(["sh", "-c", f"kill -9 {pid}"], echo=False)
        with pytest.raises(ServerNotReady) as e:
            deploy.wait_until_ready(p, launcher)
        waited = time.monotonic() - t_kill
        assert waited < 5, waited
        assert "exited (code 137)" in str(e.value) and "last log lines" in str(e.value)
    finally:
        deploy.teardown(p, run)
    assert container_gone(p.container.name)


def test_wrong_model_path_fails_fast_with_the_engines_own_error(engine_image, tmp_path):
    p = _profile(free_port(), cname("badmodel"), "server.model_path=/models/no-such-model")
    run = RunFolder.create("badmodel", tmp_path)
    t0 = time.monotonic()
    with pytest.raises(ServerNotReady) as e:
        deploy.up(p, run, out=lambda s: None)
    took = time.monotonic() - t0
    msg = str(e.value)
    assert "engine errors" in msg and "no-such-model" in msg, msg
    assert took < p.server.readiness.timeout_s / 4, took  # the exit, not the timeout, ended it
    assert container_gone(p.container.name)  # deploy.up tore down what it started


def test_port_taken_is_a_clear_error_before_launch(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = load_profile("local-process", [f"server.port={port}"])
        run = RunFolder.create("port", tmp_path)
        launcher = get_launcher(p, run)
        with pytest.raises(EngineError) as e:
            deploy.start_server(p, launcher)
    assert f"port {port} is already in use" in str(e.value)
    assert not launcher.pid_file.exists()  # nothing was launched


def test_name_conflict_fails_with_the_command_and_never_removes_it(engine_image, tmp_path):
    client = docker.from_env()
    name = cname("conflict")
    other = client.containers.run(engine_image, "sleep 300", name=name, detach=True)
    try:
        p = _profile(free_port(), name)
        run = RunFolder.create("conflict", tmp_path)
        with pytest.raises(EngineError) as e:
            get_launcher(p, run).prepare()
        assert f"docker rm -f {name}" in str(e.value) and "never removes" in str(e.value)
        other.reload()
        assert other.status == "running"  # untouched
        assert deploy.teardown(p, run)  # teardown of a run that created nothing removes nothing
        other.reload()
        assert other.status == "running"
    finally:
        other.remove(force=True)


def test_matching_running_container_is_reused(engine_image, tmp_path):
    p = _profile(free_port(), cname("reuse"))
    run = RunFolder.create("reuse", tmp_path)
    first = get_launcher(p, run).prepare()
    try:
        second = get_launcher(p, run).prepare()
        assert first["created_container"] and not second["created_container"]
        assert first["container_id"] == second["container_id"]
    finally:
        run.update_state(container=first)
        deploy.teardown(p, run)
    assert container_gone(p.container.name)


def test_container_that_dies_at_once_is_reported_with_its_output(engine_image, tmp_path):
    p = _profile(free_port(), cname("dies"), "container.command=sh -c 'echo cannot start here; exit 3'")
    run = RunFolder.create("dies", tmp_path)
    t0 = time.monotonic()
    with pytest.raises(EngineError) as e:
        get_launcher(p, run).prepare()
    assert time.monotonic() - t0 < 10
    assert "exited right after start (code 3)" in str(e.value) and "cannot start here" in str(e.value)
    assert deploy.teardown(p, run)  # the run created it: teardown removes it
    assert container_gone(p.container.name)


def test_readiness_timeout_names_the_setting(engine_image, tmp_path):
    p = _profile(free_port(), cname("timeout"), "server.readiness.timeout_s=4")
    run = RunFolder.create("timeout", tmp_path)
    t0 = time.monotonic()
    with pytest.raises(ServerNotReady) as e:
        deploy.up(p, run, out=lambda s: None)
    assert time.monotonic() - t0 < 30
    assert "not ready after 4 s" in str(e.value) and "server.readiness.timeout_s" in str(e.value)
    assert container_gone(p.container.name)

