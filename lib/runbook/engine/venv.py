"""The process launcher's engine: the same stack as the SGLang image, in a project-managed venv.

Where no Docker daemon can run (no root, no Docker), ``runbook engine build -f local-process``
creates a venv with the same pins and fixes as ``sglang.Dockerfile`` (torch 2.13.0+cpu from the
carried wheel, sglang 0.5.7 and its CPU requirements, the torchvision patch, the two 0.5.7 CPU
fixes, the kernel placeholders), and generates tiny-kimi and the dataset into the weights folder.

Cached by content: the venv lives in the user's cache (``$RUNBOOK_CACHE``, else
``~/.cache/runbook``) under the hash of its inputs, and the profile's path
(``.cache/engine-venv`` in the project) is a link to it — so every clone of the project on a
machine (CI's fresh clones among them) shares one build, and a change of inputs builds a new one.
A file lock keeps two builds of the same inputs from interleaving.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from runbook.core.errors import EngineError
from runbook.engine.build import HERE, image_spec, inputs_hash
from runbook.engine.sources import torch_source

# The steps of sglang.Dockerfile, in its order, each held to the image's frozen versions
# (sglang-constraints.txt: the image sets PIP_CONSTRAINT to it, the venv passes it to every pip).
CONSTRAINTS = HERE / "sglang-constraints.txt"
PIP_STEPS = (
    ["install", "-c", "{constraints}", "{wheel}"],
    ["install", "-c", "{constraints}", "--no-deps", "sglang==0.5.7"],
    ["install", "-c", "{constraints}", "-r", str(HERE / "sglang-cpu-requirements.txt")],
    ["install", "-c", "{constraints}", "--no-deps", "torchao==0.9.0"],
)
FIX_SCRIPTS = ("patch_torchvision.py", "patch_sglang.py", "install_placeholders.py")


def _run(argv: list[str], what: str) -> None:
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise EngineError(f"{what} failed (exit {p.returncode})",
                          log_tail="\n".join((p.stdout + p.stderr).splitlines()[-20:]))


def shared_cache() -> Path:
    """Where content-keyed builds shared by every clone on this machine live."""
    return Path(os.environ.get("RUNBOOK_CACHE") or Path.home() / ".cache" / "runbook")


def _link(venv: Path, target: Path) -> None:
    """Point the profile's venv path at the shared build (replacing an older link or copy)."""
    if venv.is_symlink():
        if venv.resolve() == target.resolve():
            return
        venv.unlink()
    elif venv.exists():
        shutil.rmtree(venv)  # a project-managed venv of an earlier layout or other inputs
    venv.parent.mkdir(parents=True, exist_ok=True)
    venv.symlink_to(target, target_is_directory=True)


def _generate(py: Path, weights: Path, data: Path, model: str) -> None:
    _run([str(py), str(HERE / "make_kimi.py"), str(weights / model)], "model generation")
    _run([str(py), str(HERE / "make_dataset.py"), str(data)], "dataset generation")


def build_venv(venv: Path, weights: Path, data: Path, engine: str = "sglang",
               log=print) -> dict[str, object]:
    if engine != "sglang":
        raise EngineError(f"the process launcher serves SGLang only (server.engine is {engine!r})",
                          hint="use container.launcher: docker for the vLLM profile")
    spec = image_spec(engine)
    t0 = time.monotonic()
    # The host interpreter's version is an input too: the venv is made from it.
    torch_src = torch_source()  # probed once: the hash and the install use the same answer
    digest = inputs_hash(spec, extra=f"venv-py{sys.version_info[0]}.{sys.version_info[1]}", torch=torch_src)
    target = shared_cache() / f"engine-venv-{digest}"
    target.parent.mkdir(parents=True, exist_ok=True)
    stamp = target / ".runbook-inputs"
    py = target / "bin" / "python"
    with open(target.parent / f"engine-venv-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another clone building the same inputs: wait for it
        cached = stamp.exists() and stamp.read_text().strip() == digest
        if not cached:
            if target.exists():
                shutil.rmtree(target)  # a build that was cut short
            log(f"creating {target}")
            _run([sys.executable, "-m", "venv", str(target)], "venv creation")
            constraints = CONSTRAINTS
            torch = torch_src.pip_args()  # a local wheel, or the pin from PyTorch's CPU index
            for step in PIP_STEPS:
                args = [x for a in step for x in
                        (torch if a == "{wheel}" else [a.replace("{constraints}", str(constraints))])]
                log("pip " + " ".join(args))
                _run([str(py), "-m", "pip", "-q", *args], "pip " + args[0])
            for script in FIX_SCRIPTS:
                _run([str(py), str(HERE / script)], script)
            stamp.write_text(digest)
    _link(venv, target)
    if not cached or not (weights / spec.model).is_dir() or not data.is_file():
        log("generating the model and the dataset")
        _generate(py, weights, data, spec.model)
    return {"venv": str(venv), "shared": str(target), "cached": cached,
            "seconds": round(time.monotonic() - t0, 1)}
