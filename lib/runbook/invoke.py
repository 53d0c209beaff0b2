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
          prompt: str = "Say hello in one short sentence.") -> tuple[StepChecks, pd.DataFrame]:
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

    sg = sglang_endpoints(endpoint, api_key)
    if sg["/generate"]:
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


def vision_capability(endpoint: str, api_key: str | None = None) -> tuple[bool | None, str]:
    """Decide before sending an image: SGLang's /model_info when present (SGLang silently DROPS
    image parts for a text-only model), else None = ask the engine (vLLM rejects them loudly)."""
    info = sglang_endpoints(endpoint, api_key)["/model_info"]
    if info is not None:
        has = bool(info.get("has_image_understanding"))
        return has, f"/model_info has_image_understanding={has}"
    return None, "no /model_info: the engine answers for itself (it rejects images it can't see)"


def vision(endpoint: str, model: str, api_key: str | None = None, extra_image: str = "",
           max_tokens: int = 8) -> tuple[StepChecks, pd.DataFrame]:
    chk = StepChecks("vision")
    rows: list[dict] = []
    capable, why = vision_capability(endpoint, api_key)
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
    "required": ["city", "unit"],
    # enum values and no extra keys: a random model's arguments still terminate and validate.
    "additionalProperties": False,
}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city", "parameters": WEATHER_SCHEMA}}]


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


def tools(endpoint: str, model: str, tool_choice: str = "auto", parser: str | None = None,
          api_key: str | None = None, max_tokens: int = 128) -> tuple[StepChecks, pd.DataFrame]:
    chk = StepChecks("tools")
    rows: list[dict] = []
    tc = tool_choice_arg(tool_choice)
    client = openai_client(endpoint, api_key)
    chk.add("server tool-call parser", PASS if parser else WARN, f"--tool-call-parser {parser}",
            "" if parser else "start the server with --tool-call-parser (kimi_k2 for Kimi K2)")
    user = {"role": "user", "content": "What is the weather in Paris? Use the tool."}
    try:
        # 1. non-streaming
        t0 = time.perf_counter()
        r = client.chat.completions.create(model=model, messages=[user], tools=TOOLS, tool_choice=tc,
                                           max_tokens=max_tokens, temperature=0)
        msg, finish = r.choices[0].message, r.choices[0].finish_reason
        calls = msg.tool_calls or []
        rows.append(_row("tools (non-stream)", t0, r.usage.prompt_tokens, r.usage.completion_tokens,
                         finish, "; ".join(f"{c.function.name}({c.function.arguments})" for c in calls)
                         or (msg.content or "")))
        if not chk.ok("non-stream: tool_calls present", bool(calls),
                      f"{len(calls)} call(s), finish_reason {finish!r}",
                      f"no tool call came back with tool_choice={tool_choice!r}: a model that can "
                      "decline needs tool_choice 'required' or a named function to be forced"):
            chk.add("round trip", SKIPPED, "no tool call to answer")
            return chk, pd.DataFrame(rows)
        call = calls[0]
        ok, detail, args = _validate_args(call.function.arguments)
        chk.ok("non-stream: name and arguments valid", call.function.name == "get_weather" and ok,
               f"{call.function.name}: {detail}")
        chk.ok("non-stream: call id present", bool(call.id), f"id {call.id!r} (any form accepted)")
        chk.add("non-stream: finish reason", PASS if finish in ("tool_calls", "stop") else FAIL,
                f"{finish!r} (as the engine reports it: 'tool_calls', or 'stop' for a named call)")

        # 2. streaming: assemble the deltas by index
        t0 = time.perf_counter()
        stream = client.chat.completions.create(model=model, messages=[user], tools=TOOLS, tool_choice=tc,
                                                max_tokens=max_tokens, temperature=0, stream=True)
        acc: dict[int, dict[str, str]] = {}
        sfinish = None
        for ev in stream:
            for ch in ev.choices:
                for d in (ch.delta.tool_calls or []) if ch.delta else []:
                    slot = acc.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = d.id or slot["id"]
                    if d.function:
                        slot["name"] += d.function.name or ""
                        slot["arguments"] += d.function.arguments or ""
                if ch.finish_reason:
                    sfinish = ch.finish_reason
        rows.append(_row("tools (stream)", t0, None, None, sfinish,
                         "; ".join(f"{v['name']}({v['arguments']})" for v in acc.values())))
        if chk.ok("stream: tool-call deltas assembled", bool(acc), f"{len(acc)} call(s)",
                  "the server streamed no tool_calls deltas"):
            s0 = acc[min(acc)]
            sok, sdetail, _ = _validate_args(s0["arguments"])
            chk.ok("stream: name and arguments valid", s0["name"] == "get_weather" and sok,
                   f"{s0['name']}: {sdetail}")

        # 3. round trip: run the tool, send its result, get the final message, then a second turn
        result = get_weather(**args) if ok else {"error": "invalid arguments"}
        history = [user, {"role": "assistant", "content": msg.content or "",
                          "tool_calls": [{"id": call.id, "type": "function", "function": {
                              "name": call.function.name, "arguments": call.function.arguments}}]},
                   {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}]
        t0 = time.perf_counter()
        fin = client.chat.completions.create(model=model, messages=history, tools=TOOLS, tool_choice="none",
                                             max_tokens=32, temperature=0)
        fmsg = fin.choices[0].message
        rows.append(_row("round trip: tool result → answer", t0, fin.usage.prompt_tokens,
                         fin.usage.completion_tokens, fin.choices[0].finish_reason, fmsg.content or ""))
        chk.ok("round trip: final assistant message", bool(fmsg.content) and not fmsg.tool_calls,
               f"{fin.usage.prompt_tokens} prompt tokens (the tool result was read)")
        history += [{"role": "assistant", "content": fmsg.content or ""},
                    {"role": "user", "content": "And in Tokyo?"}]
        t0 = time.perf_counter()
        r2 = client.chat.completions.create(model=model, messages=history, tools=TOOLS, tool_choice=tc,
                                            max_tokens=max_tokens, temperature=0)
        calls2 = r2.choices[0].message.tool_calls or []
        rows.append(_row("second turn", t0, r2.usage.prompt_tokens, r2.usage.completion_tokens,
                         r2.choices[0].finish_reason,
                         "; ".join(f"{c.function.name}({c.function.arguments})" for c in calls2)))
        ok2 = bool(calls2) and _validate_args(calls2[0].function.arguments)[0]
        chk.ok("second turn: a second valid call", ok2, f"{len(calls2)} call(s)")
    finally:
        client.close()
    return chk, pd.DataFrame(rows)
