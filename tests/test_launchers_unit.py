"""The launcher's reading of how the server ended, on the host with real processes (no engine)."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from runbook.core.errors import ServerNotReady
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy.launchers.process import ProcessLauncher


def _launcher_with_dead_pid(tmp_path) -> ProcessLauncher:
    launcher = ProcessLauncher(load_profile("local-process"), RunFolder.create("exit", tmp_path),
                               out=lambda s: None)
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid names no process now
    launcher.pid_file.write_text(f"{dead.pid}\n")
    return launcher


def test_exit_code_written_just_after_the_pid_died_is_read(tmp_path):
    """The wrapper writes server.exit a moment after the server's pid is gone; a poll that lands
    in between must wait for it (a kill -9 reads as 137), not report an unknown exit (-1)."""
    launcher = _launcher_with_dead_pid(tmp_path)
    launcher.exit_file.write_text("")  # the wrapper's `echo $? > file` has opened it, not written
    writer = threading.Timer(0.5, lambda: launcher.exit_file.write_text("137\n"))
    writer.start()
    try:
        assert launcher.server_exit_code() == 137
    finally:
        writer.cancel()


def test_exit_code_unknown_when_the_wrapper_never_writes_it(tmp_path):
    launcher = _launcher_with_dead_pid(tmp_path)
    t0 = time.monotonic()
    assert launcher.server_exit_code(settle_s=0.5) == -1
    assert 0.4 < time.monotonic() - t0 < 3


def test_exit_code_none_while_the_server_runs(tmp_path):
    launcher = ProcessLauncher(load_profile("local-process"), RunFolder.create("run", tmp_path),
                               out=lambda s: None)
    with subprocess.Popen(["sleep", "30"]) as proc:
        launcher.pid_file.write_text(f"{proc.pid}\n")
        try:
            assert launcher.server_exit_code() is None
        finally:
            proc.kill()


def _docker_launcher(p, run):
    """The Docker launcher's path mapping without a daemon (only the profile's volumes matter)."""
    from runbook.deploy.launchers.base import Launcher
    from runbook.deploy.launchers.docker import DockerLauncher

    launcher = DockerLauncher.__new__(DockerLauncher)
    Launcher.__init__(launcher, p, run)
    return launcher


@pytest.mark.parametrize("profile, home", [("mi300x-kimi-k2", "/work/data/hf"),
                                           ("mi300x-kimi-k2-hardened", "/root/.cache/huggingface")])
def test_the_server_loads_the_staged_hub_copy_offline_at_its_commit(tmp_path, profile, home):
    from runbook.deploy.server import launch_command
    from runbook.deploy.steps import weights_for_server

    p = load_profile(profile, ["target.weights_dir=/data/hf"])
    run = RunFolder.create("w", tmp_path)
    cmd = weights_for_server(p, _docker_launcher(p, run), launch_command(p),
                             {"source": "hub", "commit": "c" * 40})
    assert cmd.env == {"SGLANG_ROCM_FUSED_DECODE_MLA": "0", "HF_HOME": home, "HF_HUB_OFFLINE": "1"}
    assert cmd.argv[cmd.argv.index("--revision") + 1] == "c" * 40
    assert cmd.argv[cmd.argv.index("--model-path") + 1] == "moonshotai/Kimi-K2-Instruct"  # the recipe's


def test_the_hub_token_reaches_a_downloading_server_masked(tmp_path, monkeypatch):
    from runbook.deploy.server import launch_command
    from runbook.deploy.steps import weights_for_server

    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue1234567890")
    p = load_profile("mi300x-kimi-k2-hardened", ["target.weights_dir=/data/hf",
                                                 "target.weights_source=server", "target.revision=v1"])
    cmd = weights_for_server(p, _docker_launcher(p, RunFolder.create("t", tmp_path)), launch_command(p),
                             {"source": "server"})
    assert cmd.secret_env == {"HF_TOKEN": "hf_secretvalue1234567890"}
    assert "hf_secret" not in cmd.display() and "HF_HUB_OFFLINE" not in cmd.env
    assert cmd.env["HF_HOME"] == "/root/.cache/huggingface" and "--revision v1" in cmd.display()


def test_an_offline_folder_is_the_model_path_and_the_name_stays(tmp_path):
    from runbook.deploy.server import launch_command
    from runbook.deploy.steps import weights_for_server

    p = load_profile("mi300x-kimi-k2-hardened", ["target.weights_dir=/data/Kimi-K2-Instruct"])
    cmd = weights_for_server(p, _docker_launcher(p, RunFolder.create("f", tmp_path)), launch_command(p),
                             {"source": "folder", "path": "/data/Kimi-K2-Instruct"})
    shown = cmd.display()
    for part in ("--model-path /root/.cache/huggingface", "--tokenizer-path /root/.cache/huggingface",
                 "--served-model-name moonshotai/Kimi-K2-Instruct"):
        assert part in shown
    assert cmd.env["HF_HUB_OFFLINE"] == "1"


def test_readiness_checks_the_exit_once_per_interval(tmp_path):
    """A loopback server that is never ready: over 4.5 s at a 2 s interval the loop probes three
    times and checks the exit three times (not every half second)."""
    import http.server
    import threading

    from runbook.core.schema import Readiness
    from runbook.deploy.server import wait_ready

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    checks = []
    try:
        with pytest.raises(ServerNotReady, match="not ready after"):
            wait_ready(f"http://127.0.0.1:{srv.server_port}", Readiness(timeout_s=4.5, interval_s=2),
                       exit_code=lambda: checks.append(1))
    finally:
        srv.shutdown()
    assert 3 <= len(checks) <= 4


@pytest.mark.parametrize("generates", [True, False])
def test_a_liveness_only_probe_is_followed_by_one_generated_token(generates):
    """/health answers 200 while the model cannot run (seen: vLLM CPU and a 80-wide MLA latent):
    readiness then asks for one token and fails with the engine's answer; /health_generate (a
    generation itself) is trusted alone."""
    import http.server
    import json
    import threading

    from runbook.core.schema import Readiness
    from runbook.deploy.server import wait_ready

    posts: list[str] = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404 if self.path == "/health_generate" and not generates else 200)
            self.end_headers()

        def do_POST(self):
            posts.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert body["max_tokens"] == 1 and body["model"] == "m"
            self.send_response(200 if generates else 500)
            self.end_headers()
            self.wfile.write(b'{"choices": []}' if generates
                             else b'{"error": "Head dimension 80 is not supported"}')

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}"
    try:
        if generates:
            rep = wait_ready(url, Readiness(endpoints=["/health"], timeout_s=5, interval_s=1), model="m")
            assert posts == ["/v1/completions"] and "one token" in rep.history[-1]
            posts.clear()
            rep = wait_ready(url, Readiness(endpoints=["/health_generate", "/health"], timeout_s=5,
                                            interval_s=1), model="m")
            assert rep.probe == "/health_generate" and posts == []  # a generation already
        else:
            with pytest.raises(ServerNotReady, match=r"cannot generate.*500.*Head dimension 80"):
                wait_ready(url, Readiness(endpoints=["/health_generate", "/health"], timeout_s=5,
                                          interval_s=1), model="m")
    finally:
        srv.shutdown()
