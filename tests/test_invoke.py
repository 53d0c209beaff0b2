"""Invocation checks against the real SGLang miniature (PASS; vision SKIPPED for the text-only
model as /model_info says, nothing sent), the vLLM stand-in's vision path (PASS), and FAIL paths
(a wrong key for real; malformed tool calls through a MockTransport in a unit test)."""

from __future__ import annotations

import httpx
import pytest

from runbook import invoke
from runbook.core import secrets
from runbook.core.errors import CheckFailed
from runbook.core.verdicts import FAIL, PASS, SKIPPED
from runbook.invoke import toolcalls


def key(p):
    return secrets.api_key(p)


def openai_http():
    """The HTTP library the installed openai builds on: httpx for 2.x, httpx2 for 3.x (a mocked
    transport must be that library's, as must the Response a handler returns)."""
    import importlib

    import openai

    return importlib.import_module("httpx2" if int(openai.__version__.split(".")[0]) >= 3 else "httpx")


H = openai_http()


@pytest.mark.engine
def test_wrong_or_missing_api_key_fails_clearly(engine):
    p, _ = engine
    for sent, says in (("not-the-key", "it rejected the key"), (None, "no key was sent")):
        chk, _ = invoke.basic(p.endpoint, p.target.model, sent)
        assert chk.status == FAIL
        with pytest.raises(CheckFailed, match=f"API key accepted: the server answered 401: {says}"):
            chk.raise_on_failure()


@pytest.mark.engine
def test_basic_all_pass_with_sglangs_native_generate(engine):
    p, _ = engine
    chk, calls = invoke.basic(p.endpoint, p.target.model, key(p))
    assert chk.status == PASS, chk.frame().to_string()
    assert {"GET /v1/models", "chat", "chat (stream)", "completion", "POST /generate"} <= set(calls["call"])
    assert chk.frame().set_index("name").loc["/generate (SGLang native)", "status"] == PASS


@pytest.mark.engine
def test_vision_skipped_for_the_text_only_model_as_model_info_says(engine):
    p, _ = engine
    chk, calls = invoke.vision(p.endpoint, p.target.model, key(p))
    assert chk.status == SKIPPED and calls.empty  # no image was sent
    assert "has_image_understanding=False" in chk.checks[0].detail


@pytest.mark.engine
@pytest.mark.parametrize("profile_choice", ["get_weather", "auto"])
def test_tools_through_the_kimi_k2_parser(engine, profile_choice):
    """Named and required, streamed and not: parsed tool_calls with ids functions.NAME:IDX and
    schema-valid arguments; auto reported; the round trip under the call's id completes."""
    p, _ = engine
    chk, calls = invoke.tools(p.endpoint, p.target.model, profile_choice, parser=p.server.tool_call_parser,
                              api_key=key(p))
    frame = chk.frame().set_index("name")
    assert chk.status == PASS, chk.frame().to_string()
    for name in ("named", "named (stream)", "required", "required (stream)"):
        assert frame.loc[f"{name}: tool_calls returned", "status"] == PASS
        assert "functions.get_weather:" in frame.loc[f"{name}: call ids", "detail"]
    assert frame.loc["round trip: the tool result accepted, a final answer", "status"] == PASS
    assert "tools: auto" in set(calls["call"])


def test_malformed_tool_calls_fail_with_what_came_back(monkeypatch):
    """A server whose parser returns a call with the wrong id form and invalid arguments."""
    import json

    def handler(request):
        body = json.loads(request.content)
        call = {"id": "call_123", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Atlantis"}'}}
        msg = {"role": "assistant", "content": None if body.get("tool_choice") != "none" else "ok",
               "tool_calls": [call] if body.get("tool_choice") != "none" else None}
        return H.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})

    _chat_answers(monkeypatch, handler)
    chk, _ = invoke.tools("http://fake", "m", "get_weather", parser="kimi_k2")
    frame = chk.frame().set_index("name")
    assert chk.status == FAIL
    assert frame.loc["named: name and arguments valid", "status"] == FAIL
    assert "Atlantis" in frame.loc["named: name and arguments valid", "detail"]
    assert frame.loc["named: call ids", "status"] == FAIL
    with pytest.raises(CheckFailed, match="call ids"):
        chk.raise_on_failure()


def _chat_answers(monkeypatch, handler) -> None:
    """The OpenAI client of the tool-call check answered by ``handler`` (non-streamed calls only)."""
    from openai import OpenAI

    monkeypatch.setattr(toolcalls, "openai_client", lambda endpoint, api_key=None: OpenAI(
        base_url="http://fake/v1", api_key="k", max_retries=0,
        http_client=H.Client(transport=H.MockTransport(handler))))
    monkeypatch.setattr(toolcalls, "_ask", _non_stream_only(toolcalls._ask))


def _non_stream_only(ask):
    return lambda client, model, tc, stream, max_tokens: ask(client, model, tc, False, max_tokens)


def test_text_only_sglang_model_is_skipped_without_sending_an_image(monkeypatch):
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path == "/model_info":  # SGLang 0.5.7's documented shape
            return httpx.Response(200, json={
                "model_path": "moonshotai/Kimi-K2-Instruct", "tokenizer_path": "moonshotai/Kimi-K2-Instruct",
                "is_generation": True, "has_image_understanding": False, "model_type": "kimi_k2",
                "architectures": ["DeepseekV3ForCausalLM"]})
        return httpx.Response(500)

    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(handler), **kw))
    chk, calls = invoke.vision("http://sglang", "moonshotai/Kimi-K2-Instruct")
    assert chk.status == SKIPPED and calls.empty
    assert "text-only" in chk.checks[0].detail
    assert sent == ["/model_info"]  # decided before any image was sent


def test_tool_arguments_are_validated_against_the_schema():
    assert toolcalls._validate_args('{"city": "Paris", "unit": "celsius"}')[0]
    assert not toolcalls._validate_args('{"city": "Atlantis", "unit": "celsius"}')[0]
    assert not toolcalls._validate_args('{"city": "Paris"')[0]
    assert toolcalls.get_weather("Oslo", "fahrenheit")["temperature"] == 37


def test_a_real_kimi_answer_passes_the_tool_step(monkeypatch):
    """As Kimi K2 answers the runbook's prompt: the city only (the prompt names no unit), `auto`
    answered in text, the round trip's answer in text — all well-formed, so the step passes;
    only what the parser and server guarantee is asserted."""
    import json

    def handler(request):
        body = json.loads(request.content)
        tc = body.get("tool_choice")
        if tc in ("none", "auto"):
            msg = {"role": "assistant", "content": "It is 12 °C and clear in Paris." if tc == "none"
                   else "I'll look that up.", "tool_calls": None}
            finish = "stop"
        else:
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "functions.get_weather:0", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
            finish = "tool_calls"
        return H.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}})

    _chat_answers(monkeypatch, handler)
    chk, _ = invoke.tools("http://fake", "moonshotai/Kimi-K2-Instruct", "auto", parser="kimi_k2")
    assert chk.status == PASS, chk.frame().to_string()


def test_the_client_takes_its_timeouts_on_the_installed_openai():
    """openai 3.x (httpx2) refused the httpx.Timeout the client used to pass: a TypeError at the
    first call, before any request. Now the first call reaches the network and fails as one."""
    import openai

    from runbook.invoke.client import TIMEOUTS, openai_client

    client = openai_client("http://127.0.0.1:9")  # the discard port: nothing listens
    try:
        assert client.timeout.read == TIMEOUTS["read"] and client.timeout.connect == TIMEOUTS["connect"]
        with pytest.raises(openai.APIConnectionError):
            client.models.list()
    finally:
        client.close()
