"""Integration: the miniature — the real SGLang 0.5.7 server serving tiny-kimi in the locally built
stand-in image, deployed through the lib the notebooks use (the session's shared server), and
the image itself: the recipe's pre-install needed for real, placeholders that are never called,
the generated model byte-identical inside the image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from runbook.core.errors import ServerNotReady
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy import steps as deploy
from runbook.deploy.launchers import get_launcher

from .conftest import cname, container_gone, free_port

pytestmark = pytest.mark.engine
PLACEHOLDER_MARK = "RUNBOOK-PLACEHOLDER-CALLED"


def test_ready_on_health_generate_and_facts_from_sglang(engine):
    _, run = engine
    state = run.read_state()
    assert state["ready"]["probe"] == "/health_generate" and state["ready"]["history"] == []
    f = state["facts"]
    assert f["engine"] == "sglang" and f["engine_version"] == "0.5.7"
    assert f["server_info"]["tp_size"] == 1 and f["server_info"]["tool_call_parser"] == "kimi_k2"
    assert f["model_info"]["architectures"] == ["DeepseekV3ForCausalLM"]
    assert f["model_info"]["model_type"] == "kimi_k2" and f["model_info"]["has_image_understanding"] is False
    assert f["served_models"] == ["/models/tiny-kimi"]  # served name = --model-path, as in the recipe


def test_native_endpoints_answer(engine, auth):
    p, _ = engine
    with httpx.Client(base_url=p.endpoint, headers=auth, timeout=120) as c:
        assert c.get("/v1/models", headers={"Authorization": ""}).status_code == 401  # key enforced
        for path in ("/health", "/health_generate", "/model_info", "/get_model_info", "/server_info",
                     "/get_server_info", "/v1/models"):
            assert c.get(path).status_code == 200, path
        r = c.post("/generate", json={"input_ids": list(range(100, 400)),
                                      "sampling_params": {"max_new_tokens": 40, "ignore_eos": True}})
        meta = r.json()["meta_info"]
        assert (meta["prompt_tokens"], meta["completion_tokens"]) == (300, 40)  # ignore_eos honoured
        # Right after an answer SGLang's scheduler may still hold the finished batch for one loop
        # turn and refuse the flush: HTTP 400 (with the same "Cache flushed." text as a 200, so
        # only the status tells). The runner retries; so does this.
        deadline = time.monotonic() + 5
        while (flushed := c.post("/flush_cache")).status_code == 400 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert flushed.status_code == 200 and "Cache flushed" in flushed.text


def test_the_launch_is_the_recipes_command_plus_cpu_flags(engine):
    _, run = engine
    cmd = run.read_state()["server"]["command"]
    assert cmd.startswith("SGLANG_ROCM_FUSED_DECODE_MLA=0 SGLANG_USE_CPU_ENGINE=1 python3 -m "
                          "sglang.launch_server --model-path /models/tiny-kimi")
    for flag in ("--tp 1", "--tool-call-parser kimi_k2", "--trust-remote-code", "--device=cpu"):
        assert flag in cmd, flag


def test_pre_install_is_needed_for_real(engine, engine_image, tmp_path):
    """Without the recipe's `pip install sentencepiece tiktoken` the server cannot load Kimi's
    tokenizer (transformers' remote-code import check) and the wait fails at once with that
    error; the session's server, deployed with the step, is up."""
    p, run = engine
    assert get_launcher(p, run).exec(["python3", "-c", "import tiktoken"], echo=False).code == 0
    no_tiktoken = subprocess.run(["docker", "run", "--rm", engine_image, "python3", "-c", "import tiktoken"],
                                 capture_output=True, text=True)
    assert no_tiktoken.returncode != 0 and "No module named 'tiktoken'" in no_tiktoken.stderr
    port = free_port()
    bare = load_profile("local", [f"server.port={port}", f"container.name={cname('notiktoken')}",
                                  f"target.endpoint=http://127.0.0.1:{port}", "container.pre_install=null"])
    bare_run = RunFolder.create("notiktoken", tmp_path)
    with pytest.raises(ServerNotReady) as e:
        deploy.up(bare, bare_run, out=lambda s: None)
    assert "requires the following packages that were not found in your environment: tiktoken" in str(e.value)
    assert container_gone(bare.container.name)


def test_placeholders_raise_and_say_so_when_called(engine):
    """The GPU-kernel placeholders are live in the image: a call raises and leaves the mark that
    the whole-run test looks for in the server log (tests/test_runbook.py)."""
    p, run = engine
    res = get_launcher(p, run).exec(["python3", "-c", "import sgl_kernel; sgl_kernel.rmsnorm(1)"], echo=False)
    assert res.code != 0 and f"{PLACEHOLDER_MARK} sgl_kernel.rmsnorm" in res.output
    assert "NotImplementedError" in res.output
    res = get_launcher(p, run).exec(["python3", "-c", "import sgl_kernel.scalar_type"], echo=False)
    assert res.code != 0 and "No module named 'sgl_kernel.scalar_type'" in res.output  # SGLang's fallback
    assert PLACEHOLDER_MARK not in (run.logs / "server.log").read_text()


def test_build_time_fixes_are_in_place_and_refuse_other_versions(engine):
    p, run = engine
    res = get_launcher(p, run).exec(["python3", "/opt/runbook/patch_sglang.py"], echo=False)
    assert res.code == 0 and res.output.count("already patched") == 2, res.output
    fake = ("import importlib.metadata as m, runpy, sys; m.version = lambda n: '0.5.8'; "
            "sys.argv = ['x']; runpy.run_path('/opt/runbook/patch_sglang.py', run_name='__main__')")
    res = get_launcher(p, run).exec(["python3", "-c", fake], echo=False)
    assert res.code != 0 and "fixes sglang 0.5.7 only; found 0.5.8" in res.output


def test_generated_model_is_byte_identical_in_the_image(engine_image, root):
    out = subprocess.run(["docker", "run", "--rm", engine_image, "cat", "/models/tiny-kimi.sha256"],
                         capture_output=True, text=True, timeout=120)
    committed = (root / "lib/runbook/engine/tiny-kimi.sha256").read_text()
    assert sorted(out.stdout.splitlines()) == sorted(committed.splitlines())


def test_cli_engine_up_status_down_leaves_nothing(engine_image, tmp_path):
    env = {**os.environ, "RUNBOOK_OUTPUTS": str(tmp_path)}
    port, name = free_port(), cname("cli")
    args = ["-p", f"server.port={port}", "-p", f"container.name={name}",
            "-p", f"target.endpoint=http://127.0.0.1:{port}"]
    run = lambda *a: subprocess.run([sys.executable, "-m", "runbook", "engine", *a],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=900)
    up = run("up", *args)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert f"ready: http://127.0.0.1:{port}" in up.stdout
        st = run("status")
        assert json.loads(st.stdout)["health"] == 200
    finally:
        down = run("down")
    assert down.returncode == 0 and "removed" in down.stdout
    assert container_gone(name)
    host = subprocess.run(["pgrep", "-f", f"port {port}"], capture_output=True, text=True)
    assert host.stdout.strip() == ""


def test_the_exit_check_of_the_readiness_loop_runs_nothing_in_the_container(engine):
    """While a model loads for an hour the loop asks, once per interval, whether the server
    exited: a file and one container inspect — no `docker exec`."""
    p, run = engine
    launcher = get_launcher(p, run)
    execs = []
    launcher.exec = lambda argv, *a, **k: execs.append(argv)  # counts; must stay unused
    assert [launcher.server_exit_code() for _ in range(5)] == [None] * 5
    assert execs == []
