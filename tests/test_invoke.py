"""Invocation checks against the real local engine (PASS), a real FAIL path (tool_choice auto on a
random model never calls), and the SKIPPED path for a text-only model as SGLang reports it
(/model_info, httpx MockTransport inside this module's unit test)."""

from __future__ import annotations

import httpx
import pytest

from runbook import invoke, secrets
from runbook.errors import CheckFailed
from runbook.verdicts import FAIL, PASS, SKIPPED


def key(p):
    return secrets.api_key(p)


@pytest.mark.engine
def test_wrong_or_missing_api_key_fails_clearly(engine):
    p, _ = engine
    for sent, says in (("not-the-key", "it rejected the key"), (None, "no key was sent")):
        chk, _ = invoke.basic(p.endpoint, p.target.model, sent)
        assert chk.status == FAIL
        with pytest.raises(CheckFailed, match=f"API key accepted: the server answered 401: {says}"):
            chk.raise_on_failure()


@pytest.mark.engine
def test_basic_all_pass(engine):
    p, _ = engine
    chk, calls = invoke.basic(p.endpoint, p.target.model, key(p))
    assert chk.status == PASS, chk.frame().to_string()
    assert {"GET /v1/models", "chat", "chat (stream)", "completion"} <= set(calls["call"])
    skipped = chk.frame().set_index("name").loc["/generate (SGLang native)", "status"]
    assert skipped == SKIPPED  # vLLM has no /generate: shown, not failed


@pytest.mark.engine
def test_vision_really_sends_images(engine):
    p, _ = engine
    chk, calls = invoke.vision(p.endpoint, p.target.model, key(p))
    assert chk.status == PASS, chk.frame().to_string()
    tokens = dict(zip(calls["call"], calls["prompt_tokens"], strict=True))
    assert tokens["one generated PNG (data URL)"] >= tokens["text only (baseline)"] + 64
    assert tokens["two images in one message"] >= tokens["one generated PNG (data URL)"] + 64


@pytest.mark.engine
@pytest.mark.parametrize("choice", ["get_weather", "required"])
def test_tools_pass_when_constrained(engine, choice):
    p, _ = engine
    chk, calls = invoke.tools(p.endpoint, p.target.model, choice, parser=p.server.tool_call_parser,
                              api_key=key(p))
    assert chk.status == PASS, chk.frame().to_string()
    assert "second turn" in set(calls["call"])


@pytest.mark.engine
def test_tools_fail_clearly_when_no_call_comes_back(engine):
    p, _ = engine
    chk, _ = invoke.tools(p.endpoint, p.target.model, "auto", parser=p.server.tool_call_parser,
                          api_key=key(p))
    assert chk.status == FAIL
    with pytest.raises(CheckFailed) as e:
        chk.raise_on_failure()
    assert "no tool call came back with tool_choice='auto'" in str(e.value)


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
    assert invoke._validate_args('{"city": "Paris", "unit": "celsius"}')[0]
    assert not invoke._validate_args('{"city": "Atlantis", "unit": "celsius"}')[0]
    assert not invoke._validate_args('{"city": "Paris"')[0]
    assert invoke.get_weather("Oslo", "fahrenheit")["temperature"] == 37
