"""Integration: the vLLM stand-in (params/local-vllm.yaml), really built and really run — the
second engine profile, with the vision path the text-only SGLang miniature does not have.

One server for the module: up through the same lib the notebooks and `runbook engine up` use,
then the checks that profile promises, then teardown with nothing left behind.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess

import httpx
import pytest

pytestmark = pytest.mark.engine


def _png_data_url(color=(200, 30, 30)) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_health_and_facts(vllm_engine, auth):
    p, run = vllm_engine
    assert httpx.get(p.endpoint + "/health", timeout=10).status_code == 200
    assert httpx.get(p.endpoint + "/v1/models", timeout=10).status_code == 401  # the key is enforced
    assert httpx.get(p.endpoint + "/v1/models", timeout=10, headers=auth).status_code == 200
    state = run.read_state()
    assert state["ready"]["probe"] == "/health"  # /health_generate is absent on vLLM: fell back
    assert any("/health_generate → 404" in h for h in state["ready"]["history"])
    assert state["facts"]["served_models"] == ["tiny-llava"]
    assert state["facts"]["max_model_len"] == 4096


def test_1000_token_completion_with_ignore_eos(vllm_engine, auth):
    p, _ = vllm_engine
    prompt = [100 + (i % 700) for i in range(1000)]
    r = httpx.post(p.endpoint + "/v1/completions", timeout=300, headers=auth, json={
        "model": "tiny-llava", "prompt": prompt, "max_tokens": 1000, "ignore_eos": True,
        "temperature": 0})
    usage = r.json()["usage"]
    assert usage["prompt_tokens"] == 1000 and usage["completion_tokens"] == 1000


def test_image_tokens_are_counted(vllm_engine, auth):
    p, _ = vllm_engine

    def ask(content):
        r = httpx.post(p.endpoint + "/v1/chat/completions", timeout=120, headers=auth, json={
            "model": "tiny-llava", "max_tokens": 4,
            "messages": [{"role": "user", "content": content}]})
        assert r.status_code == 200, r.text
        return r.json()["usage"]["prompt_tokens"]

    text_only = ask([{"type": "text", "text": "what colour is this?"}])
    one = ask([{"type": "text", "text": "what colour is this?"},
               {"type": "image_url", "image_url": {"url": _png_data_url()}}])
    assert one >= text_only + 64  # 112 px / 14 px patches → 64 image tokens


def test_named_tool_call_returns_tool_calls(vllm_engine, auth):
    p, _ = vllm_engine
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "weather for a city",
        "parameters": {"type": "object", "additionalProperties": False, "required": ["city"],
                       "properties": {"city": {"type": "string", "enum": ["Paris", "Tokyo"]}}}}}]
    r = httpx.post(p.endpoint + "/v1/chat/completions", timeout=120, headers=auth, json={
        "model": "tiny-llava", "max_tokens": 64, "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "messages": [{"role": "user", "content": "weather in Paris?"}]})
    calls = r.json()["choices"][0]["message"]["tool_calls"]
    assert calls and calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"])["city"] in ("Paris", "Tokyo")


def test_generated_model_is_byte_identical_when_regenerated(vllm_engine, root):
    """A fresh generation (new container, new process) matches the committed manifest."""
    p, _ = vllm_engine
    out = subprocess.run(
        ["docker", "run", "--rm", p.container.image, "sh", "-c",
         "python3 /opt/runbook/make_model.py /tmp/m >/dev/null 2>&1 && cd /tmp/m && sha256sum *"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    committed = (root / "lib/runbook/engine/tiny-llava.sha256").read_text()
    assert sorted(out.stdout.split("\n")) == sorted(committed.split("\n"))


def test_vision_check_really_sends_images(vllm_engine):
    """The runbook's vision step on a model that sees images (the SGLang miniature is text only)."""
    from runbook import invoke
    from runbook.core import secrets
    from runbook.core.verdicts import PASS

    p, _ = vllm_engine
    chk, calls = invoke.vision(p.endpoint, p.target.model, secrets.api_key(p))
    assert chk.status == PASS, chk.frame().to_string()
    tokens = dict(zip(calls["call"], calls["prompt_tokens"], strict=True))
    assert tokens["one generated PNG (data URL)"] >= tokens["text only (baseline)"] + 64
    assert tokens["two images in one message"] >= tokens["one generated PNG (data URL)"] + 64
