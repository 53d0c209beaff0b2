"""The weights step: real huggingface_hub snapshot downloads from a local file-based hub
(pinned revision, resume of a partial file, nothing fetched twice), and the disk check."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.core.errors import EngineError
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy import steps as deploy, weights

from .minihub import serve

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def model_dir(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    # 24 MiB: bigger than huggingface_hub's 10 MiB read chunk, so a cut transfer has bytes to keep.
    (d / "model.safetensors").write_bytes(bytes(range(256)) * 4096 * 24)
    (d / "tokenizer.json").write_text('{"model": {"vocab": {}}}')
    return d


def test_snapshot_pinned_then_resumed_then_cached(model_dir, tmp_path):
    srv, log = serve(model_dir, "org/model", SHA, drop_once="model.safetensors")
    ep = f"http://127.0.0.1:{srv.server_port}"
    dest = tmp_path / "weights"
    try:
        res = weights.snapshot("org/model", SHA, dest, endpoint=ep)
        assert res["path"].endswith(SHA) and res["revision"] == SHA  # the pinned revision
        assert weights.sha256_manifest(model_dir) == weights.sha256_manifest(Path(res["path"]))
        size = (model_dir / "model.safetensors").stat().st_size
        assert {rev for *_, rev in log} == {SHA}  # every file fetched at the pinned revision
        big = [start for m, n, start, _ in log if m == "GET" and n == "model.safetensors"]
        assert len(big) == 2 and big[0] == 0 and 0 < big[1] <= size // 2  # resumed with a Range
        log.clear()
        weights.snapshot("org/model", SHA, dest, endpoint=ep)
        assert [m for m, *_ in log if m == "GET"] == []  # nothing fetched twice
    finally:
        srv.shutdown()


def test_disk_check_fails_before_downloading(tmp_path):
    p = load_profile("mi300x-kimi-k2", [f"target.weights_dir={tmp_path}", "target.model_size_gb=1e9"])
    run = RunFolder.create("disk", tmp_path)
    with pytest.raises(EngineError, match="not enough disk for the weights"):
        deploy.stage_weights(p, run)
    assert weights.check_disk(tmp_path, 0.001)["ok"]


def test_local_folder_for_offline_clusters(model_dir, tmp_path):
    p = load_profile("mi300x-kimi-k2", [f"target.weights_dir={model_dir}", "target.model_size_gb=0.001"])
    res = deploy.stage_weights(p, RunFolder.create("local", tmp_path))
    assert res["source"] == "folder" and res["path"] == str(model_dir)


def test_a_rerun_with_the_weights_there_needs_no_free_space_for_them(model_dir, tmp_path, monkeypatch):
    """The snapshot this step wrote counts against the disk check (and preflight's): with the
    model there and almost no disk left, the re-run goes on; the first run could not have."""
    from runbook.deploy import preflight

    srv, _ = serve(model_dir, "org/model", SHA)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{srv.server_port}")
    dest = tmp_path / "weights"
    size_gb = sum(f.stat().st_size for f in model_dir.iterdir()) / 1e9
    p = load_profile("mi300x-kimi-k2", [f"target.weights_dir={dest}", "target.model=org/model",
                                        f"target.revision={SHA}", f"target.model_size_gb={size_gb}"])
    try:
        deploy.stage_weights(p, RunFolder.create("first", tmp_path))
        monkeypatch.setattr(weights, "free_gb", lambda path: 0.001)  # a nearly full disk
        monkeypatch.setattr(preflight, "free_gb", lambda path: 0.001)
        res = deploy.stage_weights(p, RunFolder.create("again", tmp_path))
        assert res["disk"]["present_gb"] == pytest.approx(size_gb, abs=1e-3) and res["disk"]["ok"]
        chk, _ = preflight.run_preflight(p)
        disk = next(c for c in chk.checks if c.name == "disk for weights")
        assert disk.status == "PASS" and "already there" in disk.detail
        (dest / "hub" / "models--org--model" / "blobs").rename(tmp_path / "moved")  # not there now
        with pytest.raises(EngineError, match="not enough disk"):
            deploy.stage_weights(p, RunFolder.create("gone", tmp_path))
    finally:
        srv.shutdown()
