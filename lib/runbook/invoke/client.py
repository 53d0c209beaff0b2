"""The client every invocation check uses: the OpenAI Python client with explicit timeouts and no
retries, one row per call for the calls table, and which SGLang-only endpoints a server has.

The timeouts reach the OpenAI client as its own ``openai.Timeout``: openai 2.x builds on httpx
and 3.x on httpx2, and each refuses the other's ``Timeout`` (a TypeError at the first call), so no
httpx object crosses into it. Our own plain HTTP calls (``/generate``) use ``HTTP_TIMEOUT``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

# Seconds: connecting, reading an answer (a long generation), writing, waiting for a connection.
TIMEOUTS = {"connect": 10.0, "read": 300.0, "write": 30.0, "pool": 10.0}
HTTP_TIMEOUT = httpx.Timeout(**TIMEOUTS)


def openai_timeout() -> Any:
    """``TIMEOUTS`` as the installed openai's own Timeout type (httpx's in 2.x, httpx2's in 3.x)."""
    import openai

    return openai.Timeout(**TIMEOUTS)


def openai_client(endpoint: str, api_key: str | None = None):
    from openai import OpenAI

    # max_retries=0: a failure is reported as it happened, not hidden behind retries.
    return OpenAI(base_url=endpoint + "/v1", api_key=api_key or "EMPTY", timeout=openai_timeout(),
                  max_retries=0)


def row(call: str, t0: float, prompt_tokens: Any, completion_tokens: Any, finish: Any, answer: str) -> dict:
    return {"call": call, "latency_ms": round((time.perf_counter() - t0) * 1000, 1),
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "finish_reason": finish, "answer": (answer or "")[:80]}


def sglang_endpoints(endpoint: str, api_key: str | None = None) -> dict[str, Any]:
    """Which SGLang-only endpoints this server has, and /model_info's answer."""
    out: dict[str, Any] = {"/model_info": None, "/generate": False}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=10.0, headers=headers) as c:
        try:
            r = c.get(endpoint + "/model_info")
            if r.status_code == 200:
                out["/model_info"] = r.json()
                out["/generate"] = True  # SGLang serves both
        except (httpx.TransportError, ValueError):
            pass
    return out
