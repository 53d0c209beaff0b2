"""Invocation checks: basic, vision and tool calling, each a table of PASS / FAIL / SKIPPED.

Through the OpenAI Python client (base_url and API key from params), plus SGLang's native
``/generate`` and ``/model_info`` where the server has them. Every call's latency, tokens and
finish reason go in a table; the checks say what was expected and what came back.
"""

from __future__ import annotations

import base64
import io
import json
import mimetypes
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from runbook.verdicts import FAIL, PASS, SKIPPED, WARN, StepChecks

TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)


def openai_client(endpoint: str, api_key: str | None = None):
    from openai import OpenAI

    # max_retries=0: a failure is reported as it happened, not hidden behind retries.
    return OpenAI(base_url=endpoint + "/v1", api_key=api_key or "EMPTY", timeout=TIMEOUT, max_retries=0)


def _row(call: str, t0: float, prompt_tokens: Any, completion_tokens: Any, finish: Any, answer: str) -> dict:
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


# ---------------------------------------------------------------------------------------------
# basic


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
        rows.append(_row("GET /v1/models", t0, None, None, None, ", ".join(ids)))
        chk.ok("/v1/models lists the model", model in ids, f"served: {ids}",
               f"set target.model to one of {ids}")
        msgs = [{"role": "user", "content": prompt}]

        t0 = time.perf_counter()
        r = client.chat.completions.create(model=model, messages=msgs, max_tokens=max_tokens,
                                           temperature=0)
        ch = r.choices[0]
        rows.append(_row("chat", t0, r.usage and r.usage.prompt_tokens,
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
        rows.append(_row("chat (stream)", t0, usage and usage.prompt_tokens,
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
        rows.append(_row("completion", t0, rc.usage and rc.usage.prompt_tokens,
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
        r = httpx.post(endpoint + "/generate", timeout=TIMEOUT, headers=headers, json={
            "text": prompt, "sampling_params": {"max_new_tokens": max_tokens, "temperature": 0}})
        body = r.json() if r.status_code == 200 else {}
        meta = body.get("meta_info") or {}
        rows.append(_row("POST /generate", t0, meta.get("prompt_tokens"), meta.get("completion_tokens"),
                         (meta.get("finish_reason") or {}).get("type"), body.get("text", "")))
        chk.ok("/generate (SGLang native)", r.status_code == 200 and bool(body.get("text")),
               f"HTTP {r.status_code}")
    else:
        chk.add("/generate (SGLang native)", SKIPPED, "this server has no /generate (not SGLang)")
    return chk, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# vision


def png_data_url(color: tuple[int, int, int] = (200, 30, 30), size: int = 96, stripes: bool = True) -> str:
    """A PNG made here (no internet): a coloured square, optionally striped."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), color)
    if stripes:
        d = ImageDraw.Draw(img)
        for x in range(0, size, 12):
            d.rectangle([x, 0, x + 5, size], fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_url(source: str) -> str:
    """A local path becomes a data URL; http(s) and data URLs pass through."""
    if source.startswith(("http://", "https://", "data:")):
        return source
    p = Path(source)
    if not p.is_file():
        from runbook.errors import ParamsError

        raise ParamsError(f"image {source!r} is neither a URL nor a readable file", field="image")
    mime = mimetypes.guess_type(p.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(p.read_bytes()).decode()


def vision_capability(endpoint: str, api_key: str | None = None,
                      caps: dict[str, Any] | None = None) -> tuple[bool | None, str]:
    """Decide before sending an image: SGLang's /model_info when present (SGLang silently DROPS
    image parts for a text-only model), else None = ask the engine (vLLM rejects them loudly)."""
    if caps is not None:
        if caps.get("vision") is not None:
            return bool(caps["vision"]), f"/model_info has_image_understanding={caps['vision']}"
        return None, "no /model_info: the engine answers for itself (it rejects images it can't see)"
    info = sglang_endpoints(endpoint, api_key)["/model_info"]
    if info is not None:
        has = bool(info.get("has_image_understanding"))
        return has, f"/model_info has_image_understanding={has}"
    return None, "no /model_info: the engine answers for itself (it rejects images it can't see)"


def vision(endpoint: str, model: str, api_key: str | None = None, extra_image: str = "",
           max_tokens: int = 8, caps: dict[str, Any] | None = None) -> tuple[StepChecks, pd.DataFrame]:
    chk = StepChecks("vision")
    rows: list[dict] = []
    capable, why = vision_capability(endpoint, api_key, caps)
    if capable is False:
        chk.add("model sees images", SKIPPED, f"text-only model ({why}): no image was sent, since "
                "SGLang would drop it silently and answer anyway")
        return chk, pd.DataFrame(rows)
    client = openai_client(endpoint, api_key)
    question = {"type": "text", "text": "What colour is the picture?"}

    def ask(label: str, parts: list[dict]) -> Any:
        t0 = time.perf_counter()
        r = client.chat.completions.create(model=model, max_tokens=max_tokens, temperature=0,
                                           messages=[{"role": "user", "content": parts}])
        rows.append(_row(label, t0, r.usage.prompt_tokens, r.usage.completion_tokens,
                         r.choices[0].finish_reason, r.choices[0].message.content or ""))
        return r

    try:
        from openai import BadRequestError

        base = ask("text only (baseline)", [question]).usage.prompt_tokens
        try:
            one = ask("one generated PNG (data URL)",
                      [question, {"type": "image_url", "image_url": {"url": png_data_url()}}])
        except BadRequestError as e:
            msg = str(e)
            if "multimodal" in msg or "image" in msg.lower():
                chk.add("model sees images", SKIPPED, f"the engine says the model is text-only: {msg[:160]}")
                return chk, pd.DataFrame(rows)
            raise
        n1 = one.usage.prompt_tokens
        chk.add("model sees images", PASS, why)
        chk.ok("image tokens counted (one image)", n1 > base,
               f"prompt tokens {base} without the image, {n1} with it",
               "the server dropped the image: check the model's vision support")
        two = ask("two images in one message", [
            question, {"type": "image_url", "image_url": {"url": png_data_url((30, 30, 200))}},
            {"type": "image_url", "image_url": {"url": png_data_url((30, 200, 30))}}])
        n2 = two.usage.prompt_tokens
        chk.ok("image tokens counted (two images)", n2 > n1,
               f"{n2} prompt tokens with two images vs {n1} with one")
        chk.ok("answers non-empty", all(r["answer"] or r["completion_tokens"] for r in rows),
               f"{len(rows)} answers")
        if extra_image:
            r = ask(f"image from parameter ({extra_image[:40]})",
                    [question, {"type": "image_url", "image_url": {"url": image_url(extra_image)}}])
            chk.ok("image from parameter counted", r.usage.prompt_tokens > base,
                   f"{r.usage.prompt_tokens} prompt tokens")
    finally:
        client.close()
    return chk, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# tools

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima", "Oslo"],
                 "description": "the city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    # Only what the prompt names is required: a real model is not failed for leaving out a unit
    # nobody asked for. Enums and no extra keys: a random model's arguments still terminate.
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city", "parameters": WEATHER_SCHEMA}}]
USER = {"role": "user", "content": "What is the weather in Paris? Use the tool."}
# Sampled at the model's own distribution (temperature 1). Greedy decoding is not used: under
# "required" (an unbounded JSON array of calls) a random model's greedy output repeats calls until
# max_tokens, and low temperatures sharpen it into the same repetition (seen at 0.6: 1 answer in
# 12 cut at 1024 tokens); at 1 it closes the array within a few calls. max_tokens (1024) leaves
# room for ~25 calls, so a cut answer (finish_reason "length") says something is wrong.
TOOL_TEMPERATURE = 1.0
AUTO_MAX_TOKENS = 256  # auto is only reported: a model answering in text need not run long
# SGLang's kimi_k2 parser names every call functions.NAME:IDX (IDX counts calls in the history);
# Kimi K2 expects exactly these ids back in later turns.
KIMI_ID = re.compile(r"^functions\.[A-Za-z0-9_.-]+:\d+$")


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """The tool, run locally: deterministic, so the round trip is reproducible."""
    temp_c = {"Paris": 12, "Tokyo": 17, "Lima": 19, "Oslo": 3}.get(city, 15)
    t = temp_c if unit == "celsius" else round(temp_c * 9 / 5 + 32)
    return {"city": city, "temperature": t, "unit": unit, "sky": "clear"}


def tool_choice_arg(tool_choice: str) -> Any:
    if tool_choice in ("auto", "required", "none"):
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


def _validate_args(args_text: str) -> tuple[bool, str, dict]:
    import jsonschema

    try:
        args = json.loads(args_text)
    except json.JSONDecodeError as e:
        return False, f"arguments are not JSON: {e.msg}: {args_text[:80]!r}", {}
    try:
        jsonschema.validate(args, WEATHER_SCHEMA)
    except jsonschema.ValidationError as e:
        return False, f"arguments violate the schema: {e.message}", args
    return True, json.dumps(args), args


def _id_ok(call_id: str | None, parser: str | None) -> tuple[bool, str]:
    if parser == "kimi_k2":
        return bool(call_id and KIMI_ID.match(call_id)), f"id {call_id!r} (kimi_k2: functions.NAME:IDX)"
    return bool(call_id), f"id {call_id!r} (any form accepted for parser {parser!r})"


def _calls_text(calls: list[dict[str, str]], text: str = "") -> str:
    return "; ".join(f"{c['name']}({c['arguments']})" for c in calls) or text


def _ask(client: Any, model: str, tc: Any, stream: bool,
         max_tokens: int) -> tuple[list[dict[str, str]], Any, str, Any]:
    """One tools request → (calls as {id, name, arguments}, finish_reason, text, usage)."""
    kw = dict(model=model, messages=[USER], tools=TOOLS, tool_choice=tc,
              max_tokens=max_tokens, temperature=TOOL_TEMPERATURE)
    if not stream:
        r = client.chat.completions.create(**kw)
        msg = r.choices[0].message
        calls = [{"id": c.id or "", "name": c.function.name, "arguments": c.function.arguments}
                 for c in msg.tool_calls or []]
        return calls, r.choices[0].finish_reason, msg.content or "", r.usage
    acc: dict[int, dict[str, str]] = {}
    finish, text, usage = None, [], None
    for ev in client.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True}):
        usage = ev.usage or usage
        for ch in ev.choices:
            for d in (ch.delta.tool_calls or []) if ch.delta else []:
                slot = acc.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = d.id or slot["id"]
                if d.function:
                    slot["name"] += d.function.name or ""
                    slot["arguments"] += d.function.arguments or ""
            if ch.delta and ch.delta.content:
                text.append(ch.delta.content)
            finish = ch.finish_reason or finish
    return [acc[i] for i in sorted(acc)], finish, "".join(text), usage


def tools(endpoint: str, model: str, tool_choice: str = "auto", parser: str | None = None,
          api_key: str | None = None, max_tokens: int = 1024) -> tuple[StepChecks, pd.DataFrame]:
    """Tool calling through the server's parser: a named tool and "required", each streamed and
    not, must come back as parsed ``tool_calls`` (schema-valid arguments, ids in the parser's
    form); "auto" is run and reported (a model may answer in text); the round trip sends the
    tool's result back and needs a final answer. ``tool_choice`` (the profile's) is reported
    as the one a user of this model would send."""
    chk = StepChecks("tools")
    rows: list[dict] = []
    client = openai_client(endpoint, api_key)
    chk.add("server tool-call parser", PASS if parser else WARN, f"--tool-call-parser {parser}",
            "" if parser else "start the server with --tool-call-parser (kimi_k2 for Kimi K2)")
    first: dict[str, str] | None = None
    try:
        for label, tc in (("named", tool_choice_arg("get_weather")), ("required", "required")):
            for stream in (False, True):
                name = f"{label}{' (stream)' if stream else ''}"
                t0 = time.perf_counter()
                calls, finish, text, usage = _ask(client, model, tc, stream, max_tokens)
                rows.append(_row(f"tools: {name}", t0, usage and usage.prompt_tokens,
                                 usage and usage.completion_tokens, finish, _calls_text(calls, text)))
                if not chk.ok(f"{name}: tool_calls returned", bool(calls),
                              f"{len(calls)} call(s), finish_reason {finish!r}",
                              "the server returned no parsed tool_calls: check --tool-call-parser"):
                    continue
                checked = [(c, *_validate_args(c["arguments"])[:2]) for c in calls]
                bad = [(c, d) for c, ok, d in checked if not ok or c["name"] != "get_weather"]
                cut = " (finish_reason 'length': the answer was cut at max_tokens)" \
                    if finish == "length" else ""
                chk.ok(f"{name}: name and arguments valid", not bad,
                       f"{len(calls)} call(s); {calls[0]['name']}: {checked[0][2]}"
                       if not bad else f"{bad[0][0]['name']}: {bad[0][1]}{cut}")
                ok_ids = [_id_ok(c["id"], parser) for c in calls]
                chk.ok(f"{name}: call ids", all(o for o, _ in ok_ids), ok_ids[0][1])
                if first is None and not bad and not stream:
                    first = calls[0]

        # auto: the model decides; reported, and what comes back must be well-formed either way.
        t0 = time.perf_counter()
        calls, finish, text, usage = _ask(client, model, "auto", False, min(max_tokens, AUTO_MAX_TOKENS))
        rows.append(_row("tools: auto", t0, usage and usage.prompt_tokens,
                         usage and usage.completion_tokens, finish, _calls_text(calls, text)))
        bad = [c for c in calls if not _validate_args(c["arguments"])[0]]
        chk.ok("auto: answered (a call or text; not required to call)", not bad,
               f"{len(calls)} call(s)" + (f", e.g. {calls[0]['name']}" if calls else
                                          f"; text {text[:40]!r}"),
               "auto returned malformed tool_calls")
        chk.add("profile's tool_choice", PASS, f"{tool_choice!r} (what a user of this model sends; "
                "named and required are checked above, auto is reported)")

        # round trip: run the tool, send its result under the call's id, get a final answer.
        if first is None:
            chk.add("round trip", SKIPPED, "no valid tool call to answer")
            return chk, pd.DataFrame(rows)
        args = json.loads(first["arguments"])
        history = [USER, {"role": "assistant", "content": "", "tool_calls": [{
                       "id": first["id"], "type": "function",
                       "function": {"name": first["name"], "arguments": first["arguments"]}}]},
                   {"role": "tool", "tool_call_id": first["id"], "content": json.dumps(get_weather(**args))}]
        t0 = time.perf_counter()
        fin = client.chat.completions.create(model=model, messages=history, tools=TOOLS, tool_choice="none",
                                             max_tokens=32, temperature=TOOL_TEMPERATURE)
        fmsg = fin.choices[0].message
        rows.append(_row("round trip: tool result → answer", t0, fin.usage.prompt_tokens,
                         fin.usage.completion_tokens, fin.choices[0].finish_reason, fmsg.content or ""))
        chk.ok("round trip: the tool result accepted, a final answer",
               bool(fmsg.content) and not fmsg.tool_calls,
               f"{fin.usage.prompt_tokens} prompt tokens with the result under id {first['id']!r}")
    finally:
        client.close()
    return chk, pd.DataFrame(rows)
