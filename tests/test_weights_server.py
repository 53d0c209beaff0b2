"""Integration: the server loads exactly what the weights step staged. tiny-kimi is published on
the local hub under a repo id, staged through the real download code at a pinned commit, the
hub is shut down, and the real SGLang server (in the stand-in image, the hardened profile's
mounts) resolves the recipe's repo id to the staged files offline. Also the offline-cluster
way: a plain model folder the server is pointed at, the served name kept."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy import steps as deploy, weights
from runbook.engine import make_kimi
from runbook.report.assembly import environment

from .conftest import cname, container_gone, free_port
from .minihub import serve

pytestmark = pytest.mark.engine
REPO = "moonshotai/tiny-kimi"
SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


@pytest.fixture(scope="module")
def tiny_kimi(tmp_path_factory):
    out = tmp_path_factory.mktemp("src") / "tiny-kimi"
    subprocess.run([sys.executable, make_kimi.__file__, str(out)], check=True, capture_output=True)
    return out


def _profile(tmp_path, name: str, *extra: str):
    port = free_port()
    return load_profile("local", [
        f"server.port={port}", f"target.endpoint=http://127.0.0.1:{port}",
        f"container.name={cname(name)}", f"target.weights_dir={tmp_path / 'w'}",
        "container.volumes=['${WEIGHTS_DIR}:/root/.cache/huggingface', '${RUN_DIR}:/runbook/run']",
        *extra])


def _up(p, run):
    launcher, _ = deploy.start_container(p, run, out=lambda s: None)
    launcher.pre_install()
    deploy.start_server(p, launcher)
    return deploy.wait_until_ready(p, launcher, progress_every_s=60)


def test_staged_from_the_hub_then_served_offline_at_the_pinned_commit(tiny_kimi, tmp_path, engine_image,
                                                                     monkeypatch):
    srv, log = serve(tiny_kimi, REPO, SHA)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{srv.server_port}")
    p = _profile(tmp_path, "hubstaged", "target.weights_source=hub", f"target.model={REPO}",
                 f"server.model_path={REPO}", f"server.tokenizer_path={REPO}", f"target.revision={SHA}")
    run = RunFolder.create("hubstaged", tmp_path)
    try:
        staged = deploy.stage_weights(p, run)
    finally:
        srv.shutdown()  # from here on the hub is unreachable
    assert staged["commit"] == SHA and {rev for *_, rev in log} == {SHA}
    assert weights.sha256_manifest(tiny_kimi) == weights.sha256_manifest(weights.hub_snapshot(tmp_path / "w",
                                                                                             REPO, SHA))
    try:
        ready = _up(p, run)
        cmd = run.read_state()["server"]["command"]
        assert "HF_HOME=/root/.cache/huggingface HF_HUB_OFFLINE=1 " in cmd and f"--revision {SHA}" in cmd
        assert f"--model-path {REPO}" in cmd  # the recipe's repo id, resolved to the staged copy
        assert ready["facts"]["served_models"] == [REPO]
        env = environment(p, run)["weights"]  # environment.json records the resolved commit
        assert (env["source"], env["repo_id"], env["commit"]) == ("hub", REPO, SHA)
        with httpx.Client(base_url=p.endpoint, timeout=60) as c:
            r = c.post("/generate", json={"input_ids": [100, 200, 300],
                                          "sampling_params": {"max_new_tokens": 4, "ignore_eos": True}})
            assert r.json()["meta_info"]["completion_tokens"] == 4
    finally:
        deploy.teardown(p, run)
    assert container_gone(p.container.name)


def test_a_plain_folder_is_served_under_the_recipes_name(tiny_kimi, tmp_path, engine_image):
    folder = tmp_path / "w"
    subprocess.run(["cp", "-r", str(tiny_kimi), str(folder)], check=True)
    name = "moonshotai/Kimi-K2-Instruct"
    p = _profile(tmp_path, "folder", "target.weights_source=auto", "container.build=null",
                 f"target.model={name}", f"server.model_path={name}", f"server.tokenizer_path={name}")
    run = RunFolder.create("folder", tmp_path)
    staged = deploy.stage_weights(p, run)
    assert staged["source"] == "folder"  # auto: weights_dir holds a config.json
    try:
        ready = _up(p, run)
        cmd = run.read_state()["server"]["command"]
        assert "--model-path /root/.cache/huggingface --tokenizer-path /root/.cache/huggingface" in cmd
        assert ready["facts"]["served_models"] == [name]
    finally:
        deploy.teardown(p, run)
    assert container_gone(p.container.name)
