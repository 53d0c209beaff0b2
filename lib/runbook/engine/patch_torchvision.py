"""Make the registry's (CUDA-linked) torchvision importable beside the CPU build of torch.

vLLM's LLaVA code imports torchvision's Python transforms (through transformers' Pixtral image
processor). The registry's torchvision wheel carries compiled ops linked against CUDA; beside the
CPU torch they fail to load, which torchvision tolerates (``extension._has_ops()`` is then False),
but its ``_meta_registrations`` / ``_autograd_registrations`` modules register kernels for those
ops unconditionally and raise "operator torchvision::nms does not exist". This patch makes those
two registrations conditional on the ops having loaded, and removes the compiled extension so the
result is the same on every machine: pure-Python torchvision, no ops pretending to exist.

Usage: python3 patch_torchvision.py   (run with the engine's interpreter; idempotent)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

OLD = "from torchvision import (\n    _autograd_registrations,\n    _meta_registrations,\n"
NEW = "from torchvision import (  # registrations: see below (runbook patch)\n"
TAIL = (
    "\n# runbook patch: register fake/autograd kernels only when the compiled ops loaded.\n"
    "if extension._has_ops():\n"
    "    from torchvision import _autograd_registrations, _meta_registrations  # noqa: F401\n"
)


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        print("torchvision is not installed: nothing to patch")
        return 0
    pkg = Path(spec.origin).parent
    init = pkg / "__init__.py"
    text = init.read_text()
    if "runbook patch" not in text:
        if OLD not in text:
            print(f"unexpected torchvision layout in {init}: update patch_torchvision.py",
                  file=sys.stderr)
            return 1
        init.write_text(text.replace(OLD, NEW, 1) + TAIL)
    for so in pkg.glob("_C*.so"):
        so.unlink()
    print(f"patched {init}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
