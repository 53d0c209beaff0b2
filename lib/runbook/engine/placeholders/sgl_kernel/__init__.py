"""Placeholder for sgl_kernel (no CPU build): every name imports, every call raises (and is logged).

Submodules (``sgl_kernel.flash_attn`` …) are made on import by a finder; ``sgl_kernel.scalar_type``
is refused, so SGLang takes its own fallback for it. See placeholders/README.md.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

from _runbook_placeholder import raising

__version__ = "0.0.0+runbook.placeholder"
RUNBOOK_PLACEHOLDER = True
_REFUSED = {"sgl_kernel.scalar_type"}


def _module_getattr(modname: str):
    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return raising(f"{modname}.{name}")

    return __getattr__


__getattr__ = _module_getattr(__name__)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("sgl_kernel.") or fullname in _REFUSED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__ = []  # a package, so deeper submodules import too
        m.__getattr__ = _module_getattr(spec.name)  # type: ignore[attr-defined]
        return m

    def exec_module(self, module):
        pass


sys.meta_path.append(_Finder())
