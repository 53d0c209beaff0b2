"""The tier rule: which workload a tier run is, from the profile and the notebook's parameters.

An explicit ``tier`` picks that tier; with no tier, a ``concurrency`` picks the profile's tier
with that concurrency (``-p concurrency 100`` → the "high" tier, 500 prompts); explicit values
(num_prompts, lengths, …) override the tier's; a concurrency no tier has, or ``tier="custom"``,
starts from the recipe's defaults with num_prompts = 10 × concurrency. The result is a
``TierRun`` (``runbook.core.schema``): the one validated model of what a runner runs.
"""

from __future__ import annotations

from typing import Any

from runbook.core.errors import ParamsError
from runbook.core.schema import Profile, Tier, TierRun

CUSTOM = "custom"


def resolve_tier(p: Profile, tier: str = "", concurrency: int | None = None,
                 **overrides: Any) -> tuple[str, Tier]:
    """Apply the tier rule; every value is validated by the Tier schema (extra keys rejected)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if concurrency is not None and concurrency < 1:
        raise ParamsError(f"concurrency must be ≥ 1, got {concurrency}", field="concurrency")
    if tier and tier != CUSTOM:
        name = tier
        base = p.tier(tier).model_dump()
    elif concurrency is not None and not tier:
        match = [n for n, t in p.benchmark.tiers.items() if t.concurrency == concurrency]
        name = match[0] if match else CUSTOM
        base = p.benchmark.tiers[name].model_dump() if match else None
    elif not tier:
        name = next(iter(p.benchmark.tiers))
        base = p.benchmark.tiers[name].model_dump()
    else:
        name, base = CUSTOM, None
    if base is None:
        c = concurrency or overrides.get("concurrency")
        if not c:
            raise ParamsError("a custom tier needs a concurrency", field="concurrency")
        base = {"concurrency": c, "num_prompts": 10 * c, "input_len": 1000, "output_len": 1000}
    if concurrency is not None:
        base["concurrency"] = concurrency
    base.update(overrides)
    try:
        return name, Tier.model_validate(base)
    except Exception as e:
        from pydantic import ValidationError

        from runbook.core.params import format_validation_error

        if isinstance(e, ValidationError):
            raise format_validation_error(e, "bench parameters", Tier) from None
        raise


def make_spec(p: Profile, name: str, t: Tier, runner: str, endpoint: str | None = None,
              tag: str | None = None, repeat: int = 0) -> TierRun:
    """The tier as a runner sees it. bench_serving runs inside the engine's environment (the
    container or the engine venv), so it gets the server's tokenizer path and the dataset file;
    the builtin client runs here and uses the host-side tokenizer."""
    from runbook.core.paths import expand_path

    inside = runner == "bench_serving"
    tokenizer = (p.server.tokenizer_path or p.server.model_path) if inside else p.target.tokenizer
    return TierRun(
        tier=name, concurrency=t.concurrency, num_prompts=t.num_prompts, input_len=t.input_len,
        output_len=t.output_len, range_ratio=t.range_ratio, request_rate=t.request_rate, seed=t.seed,
        warmup_requests=t.warmup_requests, flush_cache=t.flush_cache,
        endpoint=endpoint or p.endpoint, model=p.target.model, backend=p.benchmark.backend,
        tokenizer=expand_path(tokenizer, p), tag=tag, repeat=repeat,
        dataset_path=expand_path(p.benchmark.dataset_path, p) if inside else None,
        min_dataset_conversations=p.benchmark.min_dataset_conversations if inside else 0,
        extra_args=list(p.benchmark.extra_args) if inside else [],
        api_key=_api_key(p), prompt_format=p.benchmark.prompt_format,
    )


def _api_key(p: Profile) -> str | None:
    from runbook.core import secrets

    return secrets.api_key(p)
