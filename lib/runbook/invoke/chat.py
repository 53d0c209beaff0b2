"""The basic invocation check: a chat completion, a streamed one, a completion, and SGLang's
native ``/generate`` where the server has it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pandas as pd

from runbook.core.verdicts import FAIL, PASS, SKIPPED, StepChecks
from runbook.invoke.client import HTTP_TIMEOUT, openai_client, row, sglang_endpoints


def basic(endpoint: str, model: str, api_key: str | None = None, max_tokens: int = 16,
          prompt: str = "Say hello in one short sentence.",
          caps: dict[str, Any] | None = None) -> tuple[StepChecks, pd.DataFrame]:
    """``caps``: the run's server-capabilities record (state.json); asked of the server if absent."""
    from openai import AuthenticationError

    chk = StepChecks("basic")
    rows = []
    client = openai_client(endpoint, api_key)
    try:
        t0 = time.perf_counter()
        try:
            ids = [m.id for m in client.models.list().data]
        except AuthenticationError as e:
            chk.add("API key accepted", FAIL, f"the server answered {e.status_code}: "
                    + ("no key was sent" if not api_key else "it rejected the key that was sent"),
                    "set server.api_key_env to the variable holding the key the server was started with")
            return chk, pd.DataFrame(rows)
        chk.add("API key accepted", PASS if api_key else SKIPPED,
                "authenticated" if api_key else "the profile sets no API key")
        rows.append(row("GET /v1/models", t0, None, None, None, ", ".join(ids)))
        chk.ok("/v1/models lists the model", model in ids, f"served: {ids}",
               f"set target.model to one of {ids}")
        msgs = [{"role": "user", "content": prompt}]

        t0 = time.perf_counter()
        r = client.chat.completions.create(model=model, messages=msgs, max_tokens=max_tokens,
                                           temperature=0)
        ch = r.choices[0]
        rows.append(row("chat", t0, r.usage and r.usage.prompt_tokens,
                         r.usage and r.usage.completion_tokens, ch.finish_reason, ch.message.content))
        chk.ok("chat: non-empty answer", bool(ch.message.content), repr((ch.message.content or "")[:60]))
        chk.ok("chat: usage present", r.usage is not None and r.usage.completion_tokens > 0,
               str(r.usage and r.usage.model_dump(exclude_none=True)))
        chk.ok("chat: finish reason", ch.finish_reason in ("stop", "length"), str(ch.finish_reason))
        if ch.finish_reason == "length" and r.usage:
            chk.ok("chat: length stop at max_tokens", r.usage.completion_tokens == max_tokens,
                   f"{r.usage.completion_tokens} tokens, max_tokens {max_tokens}")

        t0 = time.perf_counter()
        stream = client.chat.completions.create(model=model, messages=msgs, max_tokens=max_tokens,
                                                temperature=0, stream=True,
                                                stream_options={"include_usage": True})
        pieces, usage, finish, chunks = [], None, None, 0
        for ev in stream:
            if ev.usage is not None:
                usage = ev.usage
            for c in ev.choices:
                if c.delta and c.delta.content:
                    pieces.append(c.delta.content)
                    chunks += 1
                if c.finish_reason:
                    finish = c.finish_reason
        text = "".join(pieces)
        rows.append(row("chat (stream)", t0, usage and usage.prompt_tokens,
                         usage and usage.completion_tokens, finish, text))
        chk.ok("stream: non-empty answer", bool(text), f"{chunks} content chunks")
        chk.ok("stream: usage chunk present", usage is not None,
               "stream_options.include_usage answered" if usage else "no usage chunk",
               "the server must honour stream_options.include_usage")
        if usage is not None:
            consistent = 0 < chunks <= usage.completion_tokens <= max_tokens
            chk.ok("stream: usage consistent with what streamed", consistent,
                   f"{chunks} chunks, usage says {usage.completion_tokens} tokens (max {max_tokens})")
        chk.ok("stream: finish reason", finish in ("stop", "length"), str(finish))

        t0 = time.perf_counter()
        rc = client.completions.create(model=model, prompt="The capital of France is",
                                       max_tokens=max_tokens, temperature=0)
        c0 = rc.choices[0]
        rows.append(row("completion", t0, rc.usage and rc.usage.prompt_tokens,
                         rc.usage and rc.usage.completion_tokens, c0.finish_reason, c0.text))
        chk.ok("completion: non-empty text", bool(c0.text), repr(c0.text[:60]))
        chk.ok("completion: usage present", rc.usage is not None and rc.usage.completion_tokens > 0,
               str(rc.usage and rc.usage.model_dump(exclude_none=True)))
    finally:
        client.close()

    has_generate = (caps["native"]["/generate"] if caps else sglang_endpoints(endpoint, api_key)["/generate"])
    if has_generate:
        t0 = time.perf_counter()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        r = httpx.post(endpoint + "/generate", timeout=HTTP_TIMEOUT, headers=headers, json={
            "text": prompt, "sampling_params": {"max_new_tokens": max_tokens, "temperature": 0}})
        body = r.json() if r.status_code == 200 else {}
        meta = body.get("meta_info") or {}
        rows.append(row("POST /generate", t0, meta.get("prompt_tokens"), meta.get("completion_tokens"),
                         (meta.get("finish_reason") or {}).get("type"), body.get("text", "")))
        chk.ok("/generate (SGLang native)", r.status_code == 200 and bool(body.get("text")),
               f"HTTP {r.status_code}")
    else:
        chk.add("/generate (SGLang native)", SKIPPED, "this server has no /generate (not SGLang)")
    return chk, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# vision
