"""The vision invocation check: whether the served model takes images (from ``/model_info``,
decided before anything is sent), then a generated image and any extra one described."""

from __future__ import annotations

import base64
import io
import mimetypes
import time
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.verdicts import PASS, SKIPPED, StepChecks
from runbook.invoke.client import openai_client, row, sglang_endpoints


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
        from runbook.core.errors import ParamsError

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
        rows.append(row(label, t0, r.usage.prompt_tokens, r.usage.completion_tokens,
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
