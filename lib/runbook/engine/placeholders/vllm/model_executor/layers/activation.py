"""SGLang imports vLLM's SiluAndMul/GeluAndMul here on CPUs without AMX, replacing its own:
hand back SGLang's own pure-torch classes (its module is mid-import, with them defined)."""

from __future__ import annotations

import sys

_sglang = sys.modules["sglang.srt.layers.activation"]
SiluAndMul = _sglang.SiluAndMul
GeluAndMul = _sglang.GeluAndMul
