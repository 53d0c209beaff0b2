"""Invocation checks: basic, vision and tool calling, each a table of PASS / FAIL / SKIPPED.

Through the OpenAI Python client (base_url and API key from params), plus SGLang's native
``/generate`` and ``/model_info`` where the server has them. Every call's latency, tokens and
finish reason go in a table; the checks say what was expected and what came back. One module a
check: ``chat`` (basic), ``images`` (vision), ``toolcalls`` (tools); ``client`` is theirs.
"""

from __future__ import annotations

from runbook.invoke.chat import basic
from runbook.invoke.images import vision
from runbook.invoke.toolcalls import tools

__all__ = ["basic", "tools", "vision"]
