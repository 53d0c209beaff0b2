"""One reading of a figure: what the consistency checks read from a result row and what the
telemetry sampler reads from a GPU tool's output."""

from __future__ import annotations

import math
from typing import Any


def number(v: Any) -> float | None:
    """A figure as a float, or None where there is none: 12, "12.5", "12.5 W", {"value": 12} →
    12.0; booleans, NaN, "[N/A]", None → None. The one reading of a figure for checks and tools."""
    if isinstance(v, dict):
        v = v.get("value")
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        f = float(v)
    else:
        try:
            f = float(str(v).strip().split()[0])
        except (ValueError, IndexError):
            return None
    return None if math.isnan(f) else f
