"""vLLM's compiled ops that SGLang 0.5.7 imports on CPU: placeholders that raise if called."""

from __future__ import annotations

from _runbook_placeholder import raising

rotary_embedding = raising("vllm._custom_ops.rotary_embedding")
rms_norm = raising("vllm._custom_ops.rms_norm")
fused_add_rms_norm = raising("vllm._custom_ops.fused_add_rms_norm")
