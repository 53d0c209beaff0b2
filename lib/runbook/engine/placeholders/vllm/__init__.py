"""Placeholder for vllm inside the SGLang stand-in: only what SGLang 0.5.7 imports from it on a
CPU without AMX (see placeholders/README.md). Not vLLM; the vLLM stand-in image has the real one."""

from __future__ import annotations

__version__ = "0.0.0+runbook.placeholder"
RUNBOOK_PLACEHOLDER = True
