"""SGLang imports vLLM's RMSNorm/GemmaRMSNorm here on CPUs without AMX, replacing its own:
hand back SGLang's own pure-torch classes (its module is mid-import, with them defined)."""

from __future__ import annotations

import sys

_sglang = sys.modules["sglang.srt.layers.layernorm"]
RMSNorm = _sglang.RMSNorm
GemmaRMSNorm = _sglang.GemmaRMSNorm
