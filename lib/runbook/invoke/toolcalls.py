"""The tool-calling invocation check: named and required calls, streamed and not, the parser's
call ids (Kimi's ``functions.NAME:N``), auto reported, and a round trip with the tool's answer."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pandas as pd

from runbook.core.verdicts import PASS, SKIPPED, WARN, StepChecks
from runbook.invoke.client import openai_client, row

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
                rows.append(row(f"tools: {name}", t0, usage and usage.prompt_tokens,
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
        rows.append(row("tools: auto", t0, usage and usage.prompt_tokens,
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
        rows.append(row("round trip: tool result → answer", t0, fin.usage.prompt_tokens,
                         fin.usage.completion_tokens, fin.choices[0].finish_reason, fmsg.content or ""))
        chk.ok("round trip: the tool result accepted, a final answer",
               bool(fmsg.content) and not fmsg.tool_calls,
               f"{fin.usage.prompt_tokens} prompt tokens with the result under id {first['id']!r}")
    finally:
        client.close()
    return chk, pd.DataFrame(rows)
