"""Pre-stage the weights before the server starts, as production users do.

Launching SGLang on a cold cache downloads ~1 TB during startup, inside the readiness wait. This
step does it first, visibly: a disk-space check against the model's size, then one of

* ``hub``: huggingface_hub's ``snapshot_download`` at a pinned revision into the weights folder
  (a cut transfer resumes with a Range request; files already there are not fetched again);
* ``local``: an existing folder (offline clusters) — verified, not copied;
* ``image``: the embedded default's generated model (``/models/<model>`` of the locally built
  image: tiny-kimi for SGLang, tiny-llava for vLLM), copied out and checked against the sha256
  manifest the image build wrote beside it;
* ``generate``: one of the project's generated models (``make_kimi.VARIANTS``: the folder name of
  ``server.model_path``) written on the host into the weights folder and checked against the
  manifest committed beside the generator — the same bytes for every engine that serves it;
* ``server``: nothing staged; the server downloads at start (the recipe's literal behaviour),
  into the same hub cache so the copy outlives the container.

Weights already there (a hub snapshot this step wrote, or a plain model folder) count against the
disk check, so a re-run does not demand the model's full size free again.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook.core.errors import EngineError, ParamsError
from runbook.core.paths import weights_dir
from runbook.core.schema import Profile

COMMIT = re.compile(r"^[0-9a-f]{40}$")


def source(p: Profile) -> str:
    """The profile's weights source, ``auto`` decided from what is there."""
    src = p.target.weights_source
    if src != "auto":
        return src
    if p.container.build == "local":
        return "image"
    return "folder" if (weights_dir(p) / "config.json").is_file() else "hub"


def repo_cache(root: Path, repo_id: str) -> Path:
    """huggingface_hub's cache folder of a model repo under ``root`` (HF_HOME)."""
    return root / "hub" / ("models--" + repo_id.replace("/", "--"))


def resolve_commit(root: Path, repo_id: str, revision: str | None) -> str | None:
    """The commit a revision (commit, branch, tag or None = main) points to in the cache."""
    if revision and COMMIT.match(revision):
        return revision
    ref = repo_cache(root, repo_id) / "refs" / (revision or "main")
    return ref.read_text().strip() if ref.is_file() else None


def hub_snapshot(root: Path, repo_id: str, revision: str | None) -> Path | None:
    """``hub/models--ORG--NAME/snapshots/COMMIT/`` under ``root`` when it holds a config.json."""
    commit = resolve_commit(root, repo_id, revision)
    snap = repo_cache(root, repo_id) / "snapshots" / commit if commit else None
    return snap if snap is not None and (snap / "config.json").is_file() else None


def present_gb(p: Profile) -> float:
    """Bytes of this model already under ``weights_dir`` (hub blobs, partial ones included, or
    the plain folder's files), in GB."""
    root = weights_dir(p)
    src = source(p)
    where = root if src == "folder" else repo_cache(root, p.target.model) / "blobs"
    if src in ("image", "generate") or not where.is_dir():
        return 0.0
    return sum(f.stat().st_size for f in where.rglob("*") if f.is_file() and not f.is_symlink()) / 1e9


def free_gb(path: Path) -> float:
    p = path
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free / 1e9


def check_disk(path: Path, need_gb: float, margin: float = 1.1) -> dict[str, Any]:
    free = free_gb(path)
    ok = free >= need_gb * margin
    return {"path": str(path), "free_gb": round(free, 3), "need_gb": need_gb, "ok": ok}


def sha256_manifest(folder: Path) -> dict[str, str]:
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file():
            out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def manifest_digest(manifest: dict[str, str]) -> str:
    """One sha256 for a whole model folder's manifest: the identity a run records, so two runs
    (two engines) can be shown to have served the same bytes."""
    return hashlib.sha256("".join(f"{d}  {n}\n" for n, d in sorted(manifest.items())).encode()).hexdigest()


def parse_manifest(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip().lstrip("*")] = digest
    return out


def _stage_checked(source: str, dest: Path, want: dict[str, str], write: Callable[[], None],
                   mismatch: EngineError) -> dict[str, Any]:
    """``dest`` holding exactly the files of manifest ``want``: kept when it already does, else
    written anew by ``write`` and checked (``mismatch`` when the bytes differ)."""
    if dest.is_dir() and sha256_manifest(dest) == want:
        return {"source": source, "path": str(dest), "copied": False, "files": len(want),
                "digest": manifest_digest(want)}
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write()
    got = sha256_manifest(dest)
    if got != want:
        raise mismatch
    return {"source": source, "path": str(dest), "copied": True, "files": len(got),
            "digest": manifest_digest(got)}


def stage_from_image(p: Profile, client: Any = None) -> dict[str, Any]:
    """Copy the generated model out of the engine image into ``weights_dir`` (skip if identical)."""
    import docker

    from runbook.engine.build import image_spec

    model = image_spec(p.server.engine).model
    client = client or docker.from_env()
    dest = weights_dir(p) / model
    ctr = client.containers.create(p.container.image, command="true")

    def copy_out() -> None:
        bits, _ = ctr.get_archive(f"/models/{model}")
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
            t.extractall(dest.parent, filter="data")

    try:
        bits, _ = ctr.get_archive(f"/models/{model}.sha256")
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
            member = t.getmembers()[0]
            want = parse_manifest(t.extractfile(member).read().decode())  # type: ignore[union-attr]
        return _stage_checked("image", dest, want, copy_out, EngineError(
            f"staged model at {dest} does not match the image's manifest",
            hint="rebuild the image: runbook engine build --force"))
    finally:
        ctr.remove(force=True)


def stage_generated(dest_root: Path, name: str) -> dict[str, Any]:
    """Generate ``name`` (a tiny-kimi variant) into ``dest_root/name`` unless the same bytes are
    there, and check it against the committed manifest (engine/<name>.sha256)."""
    from runbook.engine import make_kimi

    if name not in make_kimi.VARIANTS:
        raise ParamsError(f"no generated model named {name!r}", field="server.model_path",
                          hint=f"weights_source generate serves /models/<one of "
                               f"{', '.join(make_kimi.VARIANTS)}>")
    want = parse_manifest((Path(make_kimi.__file__).parent / f"{name}.sha256").read_text())
    dest = dest_root / name
    return _stage_checked("generate", dest, want, lambda: make_kimi.make(dest, name), EngineError(
        f"generated {name} at {dest} does not match its committed manifest",
        hint=f"the generator changed: regenerate lib/runbook/engine/{name}.sha256 with make_kimi.py "
             "and review the difference"))


def stage_local(path: Path) -> dict[str, Any]:
    if not (path / "config.json").is_file():
        raise ParamsError(f"{path} holds no config.json: not a model folder",
                          field="target.weights_dir", hint="point it at the downloaded model folder")
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"source": "local", "path": str(path), "copied": False, "size_gb": round(size / 1e9, 3)}


def snapshot(repo_id: str, revision: str | None, dest: Path, endpoint: str | None = None,
             token: str | None = None, allow_patterns: list[str] | None = None) -> dict[str, Any]:
    """huggingface_hub snapshot download into ``dest``/hub (files already there are not fetched again)."""
    from huggingface_hub import snapshot_download

    if not revision:
        print(f"warning: no revision pinned for {repo_id}: the download takes whatever is newest; "
              "pin target.revision to make runs comparable")
    # cache_dir: the hub cache layout, so a server given the repo id finds the files offline.
    path = snapshot_download(repo_id=repo_id, revision=revision, cache_dir=str(dest / "hub"),
                             endpoint=endpoint, token=token, allow_patterns=allow_patterns)
    # The snapshot folder is named by the commit the revision resolved to: what the server loads.
    return {"source": "hub", "repo_id": repo_id, "revision": revision, "path": path,
            "commit": Path(path).name}
