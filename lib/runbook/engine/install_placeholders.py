"""Install the placeholder packages (placeholders/, see its README) into this interpreter's
site-packages: ``sgl_kernel`` and the sliver of ``vllm`` SGLang 0.5.7 imports on a CPU without AMX.

Usage: python3 install_placeholders.py   (with the engine's interpreter; idempotent)
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

SRC = Path(__file__).resolve().parent / "placeholders"
NAMES = ("_runbook_placeholder.py", "sgl_kernel", "vllm")


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    for name in NAMES:
        dest = site / name
        if dest.is_dir() and not (dest / "__init__.py").read_text().count("RUNBOOK_PLACEHOLDER"):
            print(f"{dest} is a real package, not the placeholder: refusing to replace it",
                  file=sys.stderr)
            return 1
        if dest.is_dir():
            shutil.rmtree(dest)
        src = SRC / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest)
    print(f"placeholders installed in {site}: {', '.join(NAMES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
