"""Shared by the placeholder packages: a function that records its call, then raises."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

MARK = "RUNBOOK-PLACEHOLDER-CALLED"


def raising(qualname: str) -> Callable[..., Any]:
    def placeholder(*args: Any, **kwargs: Any) -> Any:
        print(f"{MARK} {qualname}", file=sys.stderr, flush=True)
        raise NotImplementedError(
            f"{qualname} is a runbook placeholder: this GPU kernel has no CPU build "
            "(see runbook/engine/placeholders/README.md)")

    placeholder.__name__ = placeholder.__qualname__ = qualname.rsplit(".", 1)[-1]
    return placeholder
