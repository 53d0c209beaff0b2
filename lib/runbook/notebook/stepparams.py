"""Each notebook's parameters as one pydantic model: what papermill may pass, what open_step
validates, and what the JupyterLab form shows (choices, checkboxes, bounds) — one definition.

The ``parameters`` cell itself stays plain annotated literals (papermill injects values after it),
so a sentinel stands for "not given": ``0`` / ``-1`` / ``""`` mean the tier's (or the profile's)
value. A field says so in its schema (``unset``), and the bounds a given value must keep
(``set_min`` / ``set_max``) come from the profile schema's own fields, so a value the form lets
through is one the tier accepts. ``tests/test_notebooks_static.py`` checks each notebook's
parameters cell against its model, name for name and default for default.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from runbook.core.errors import ParamsError
from runbook.core.schema import Profile, Sweep, Tier, TierWorkload
from runbook.measure.tiers import resolve_tier


def _bounds(model: type[BaseModel], name: str) -> dict[str, float]:
    """A schema field's numeric bounds (ge/gt/le), as the form's min/max."""
    out: dict[str, float] = {}
    for m in model.model_fields[name].metadata:
        for attr, key in (("ge", "set_min"), ("gt", "set_min"), ("le", "set_max")):
            if getattr(m, attr, None) is not None:
                out[key] = getattr(m, attr)
    return out


def _profile(values: dict[str, Any]) -> Any:
    from runbook.core.params import load_profile

    try:
        return load_profile(values.get("profile") or "local", values.get("overrides") or [])
    except Exception:  # an unloadable profile is open_step's to report, not the form's
        return None


def unset(default: Any, label: str, description: str, like: tuple[type[BaseModel], str] | None = None,
          **bounds: float) -> Any:
    """A parameter whose ``default`` means "the tier's/profile's value" (``label``); a given value
    keeps the bounds of ``like`` (a profile-schema field) or ``bounds``."""
    extra: dict[str, Any] = {"unset": default, "unset_label": label,
                             **(_bounds(*like) if like else {}), **bounds}
    return Field(default, description=description, json_schema_extra=extra)


class NotebookParams(BaseModel):
    """What every step notebook takes."""

    model_config = ConfigDict(extra="forbid")
    step: str = Field("", exclude=True, json_schema_extra={"hidden": True})

    profile: str = Field("local", description="profile name in params/ or a path to a YAML file",
                         json_schema_extra={"choices": "profiles"})
    run_dir: str = Field("", description="run folder to continue (empty: a new outputs/<run-id>/)")
    overrides: list[str] = Field(default_factory=list, description="profile overrides as for the "
                                 "CLI -p option (dotted key, equals sign, value)")

    @field_validator("*")
    @classmethod
    def _unset_or_bounded(cls, value: Any, info: ValidationInfo) -> Any:
        f = cls.model_fields[info.field_name or ""]
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        if "unset" not in extra or value == extra["unset"]:
            return value
        lo, hi = extra.get("set_min"), extra.get("set_max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = " and ".join(x for x in (f"≥ {lo}" if lo is not None else "",
                                             f"≤ {hi}" if hi is not None else "") if x)
            raise ValueError(f"must be {span}, or {extra['unset']!r} for {extra['unset_label']} "
                             "value")
        return value

    @classmethod
    def inherited(cls, values: dict[str, Any]) -> dict[str, Any]:
        """What each "unset" parameter stands for with these values (the form shows it beside the
        box): the chosen tier's, the profile's. Empty where the profile cannot be loaded."""
        return {}


class PlainParams(NotebookParams):
    """preflight, container, teardown: the common three only."""


class ServerParams(NotebookParams):
    timeout_s: float = unset(0.0, "the profile's", "readiness timeout in seconds", set_min=1.0)
    teardown_after: bool = Field(False, description="stop the server and remove the container at "
                                 "the end of this notebook")

    @classmethod
    def inherited(cls, values: dict[str, Any]) -> dict[str, Any]:
        p = _profile(values)
        return {"timeout_s": p.server.readiness.timeout_s} if p else {}


class BasicParams(NotebookParams):
    max_tokens: int = Field(16, ge=1, le=4096, description="tokens per answer")


class VisionParams(NotebookParams):
    image: str = Field("", description="an extra image: a local path or an http(s)/data URL "
                       "(empty: none)")


class ToolsParams(NotebookParams):
    tool_choice: str = Field("", description="auto | required | a function name (empty: the "
                             "profile's target.tool_choice)")
    max_tokens: int = Field(1024, ge=1, le=32768, description="token limit of each tool-calling answer")


RUNNERS = Literal["auto", "bench_serving", "builtin"]


class BenchParams(NotebookParams):
    tier: str = Field("", description="a tier of the profile, or custom (empty: chosen by "
                      "concurrency, else the first)", json_schema_extra={"choices": "tiers"})
    concurrency: int = unset(0, "the tier's", "--max-concurrency", (TierWorkload, "concurrency"))
    num_prompts: int = unset(0, "the tier's", "--num-prompts", (TierWorkload, "num_prompts"))
    input_len: int = unset(0, "the tier's", "--random-input-len", (TierWorkload, "input_len"))
    output_len: int = unset(0, "the tier's", "--random-output-len", (TierWorkload, "output_len"))
    range_ratio: float = unset(-1.0, "the tier's", "--random-range-ratio (0.0 in the recipe)",
                               (TierWorkload, "range_ratio"))
    request_rate: float = unset(0.0, "the tier's", "requests/s, or inf for all at once behind the "
                                "cap", set_min=1e-9, allow_inf=True)
    seed: int = unset(-1, "the tier's", "--seed (1 as bench_serving 0.5.7)", (TierWorkload, "seed"))
    warmup_requests: int = unset(-1, "the tier's", "warm-up requests, not counted",
                                 (TierWorkload, "warmup_requests"))
    flush_cache: Literal["", "true", "false"] = Field(
        "", description="flush the server's cache after warm-up (empty: the tier's)")
    repeats: int = unset(0, "the tier's", "runs of the tier on the same workload, for confidence "
                         "intervals", set_min=1, set_max=20)
    runner: RUNNERS = Field("auto", description="auto (the profile's) | bench_serving | builtin")
    endpoint: str = Field("", description="server base URL (empty: the profile's)")
    tag: str = Field("", description="free-form tag written into the result")

    @classmethod
    def inherited(cls, values: dict[str, Any]) -> dict[str, Any]:
        p = _profile(values)
        try:
            _, tier = resolve_notebook_tier(p, values.get("tier", ""),
                                            concurrency=values.get("concurrency", 0)) if p else ("", None)
        except Exception:  # a custom tier with no concurrency yet: nothing to show
            return {}
        if tier is None:
            return {}
        out = tier.model_dump()
        return {**out, "flush_cache": str(out["flush_cache"]).lower()}

    def tier_values(self) -> dict[str, Any]:
        """The values the tier rule reads (``resolve_notebook_tier``)."""
        return self.model_dump(include=set(TIER_VALUES))


TIER_VALUES = ("concurrency", "num_prompts", "input_len", "output_len", "range_ratio", "request_rate",
               "seed", "warmup_requests", "flush_cache", "repeats")


class SweepParams(NotebookParams):
    concurrencies: list[int] = Field(default_factory=list, description="--max-concurrency of each "
                                     "point (empty: the profile's)")
    prompts_per_concurrency: int = unset(0, "the profile's", "--num-prompts: this times concurrency",
                                         (Sweep, "prompts_per_concurrency"))
    warmup_per_concurrency: int = unset(-1, "the profile's", "warm-up requests: this times "
                                        "concurrency", (Sweep, "warmup_per_concurrency"))
    input_len: int = unset(0, "the profile's", "--random-input-len", (Sweep, "input_len"))
    output_len: int = unset(0, "the profile's", "--random-output-len", (Sweep, "output_len"))
    range_ratio: float = unset(-1.0, "the profile's", "--random-range-ratio", (Sweep, "range_ratio"))
    seed: int = unset(-1, "the profile's", "--seed", (Sweep, "seed"))
    repeats: int = unset(0, "the profile's", "runs per point, same workload", (Sweep, "repeats"))
    runner: RUNNERS = Field("auto", description="auto (the profile's) | bench_serving | builtin")
    endpoint: str = Field("", description="server base URL (empty: the profile's)")

    @classmethod
    def inherited(cls, values: dict[str, Any]) -> dict[str, Any]:
        p = _profile(values)
        return p.benchmark.sweep.model_dump() if p else {}

    def sweep_values(self) -> dict[str, Any]:
        """The values ``resolve_sweep`` reads (the profile's sweep fields)."""
        return self.model_dump(include=set(Sweep.model_fields) & set(type(self).model_fields))


class ReportParams(NotebookParams):
    results: list[str] = Field(default_factory=list, description="runs to report: run folder "
                               "names, paths (from the project root) or result files (empty: only "
                               "the reference)", json_schema_extra={"choices": "runs"})


MODELS: dict[str, type[NotebookParams]] = {
    "preflight": PlainParams, "container": PlainParams, "server": ServerParams, "basic": BasicParams,
    "vision": VisionParams, "tools": ToolsParams, "bench": BenchParams, "sweep": SweepParams,
    "report": ReportParams, "teardown": PlainParams,
}
NOTEBOOKS: dict[str, str] = {
    "00_preflight.ipynb": "preflight", "01_container.ipynb": "container", "02_server.ipynb": "server",
    "03_basic.ipynb": "basic", "04_vision.ipynb": "vision", "05_tools.ipynb": "tools",
    "bench.ipynb": "bench", "sweep.ipynb": "sweep", "report.ipynb": "report",
    "99_teardown.ipynb": "teardown",
}

_KIND = {"int_parsing": "an integer", "int_from_float": "an integer", "float_parsing": "a number",
         "bool_parsing": "true or false", "list_type": "a list", "string_type": "text",
         "literal_error": "one of the listed values"}


def validate(step: str, ns: dict[str, Any]) -> NotebookParams:
    """The step's parameters from a notebook's namespace, validated; a bad one is a ParamsError
    naming the field, the value and what it takes."""
    from runbook.core.params import as_list

    model = MODELS[step]
    values = {n: ns[n] for n in model.model_fields if n != "step" and n in ns}
    for n, f in model.model_fields.items():  # papermill's -p passes a list as text
        if n in values and "list" in str(f.annotation):
            values[n] = as_list(values[n])
    if isinstance(values.get("request_rate"), str) and values["request_rate"].strip().lower() in (
            "inf", "infinity"):
        values["request_rate"] = math.inf
    try:
        return model.model_validate({**values, "step": step})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "parameters"
        got = values.get(str(err["loc"][0])) if err["loc"] else None
        kind = _KIND.get(err["type"])
        msg = (f"{step} parameter {field} must be {kind}, got {got!r}" if kind else
               f"{step} parameter {field} {err['msg'].removeprefix('Value error, ')}; got {got!r}")
        props = model.model_json_schema().get("properties", {})
        choices = props.get(field, {}).get("enum")
        raise ParamsError(msg, field=field, allowed=", ".join(map(repr, choices)) if choices else None,
                          hint=f"e.g. papermill notebooks/{step}.ipynb out.ipynb -p {field} …"
                          if step in ("bench", "sweep", "report") else None) from None


# bench.ipynb's "use the tier's value" defaults (papermill needs plain literals, not None): the
# notebook's parameter model holds them.
TIER_UNSET = {n: BenchParams.model_fields[n].default for n in TIER_VALUES}


def resolve_notebook_tier(p: Profile, tier: str = "", **values: Any) -> tuple[str, Tier]:
    """bench.ipynb's parameters → the tier rule: values equal to UNSET mean "the tier's". The
    values are checked by the notebook's own parameter model (types, bounds, choices), so a value
    papermill passed as text is taken or refused exactly as ``open_step`` takes or refuses it."""
    unknown = set(values) - set(TIER_UNSET)
    if unknown:
        raise ParamsError(f"unknown bench parameter(s): {', '.join(sorted(unknown))}",
                          field="bench", allowed=", ".join(TIER_UNSET))
    params = validate("bench", values)
    given = {k: getattr(params, k) for k in values if getattr(params, k) != TIER_UNSET[k]}
    if "flush_cache" in given:
        given["flush_cache"] = given["flush_cache"] == "true"
    conc = given.pop("concurrency", None)
    return resolve_tier(p, tier, conc, **given)


# sweep.ipynb's "use the profile's value" defaults (papermill needs plain literals).
SWEEP_UNSET = {n: f.get_default(call_default_factory=True) for n, f in SweepParams.model_fields.items()
         if n in Sweep.model_fields}  # sweep.ipynb's "the profile's value" (its parameter model)


def resolve_sweep(p: Profile, **values: Any) -> Sweep:
    """The profile's sweep with the notebook's (or CLI's) values applied, validated."""
    from pydantic import ValidationError

    from runbook.core.params import format_validation_error

    unknown = set(values) - set(SWEEP_UNSET)
    if unknown:
        raise ParamsError(f"unknown sweep parameter(s): {', '.join(sorted(unknown))}", field="sweep",
                          allowed=", ".join(SWEEP_UNSET))
    from runbook.core.params import as_list

    base = p.benchmark.sweep.model_dump()
    if "concurrencies" in values:  # papermill -p concurrencies "[1, 4, 16]" arrives as text
        values["concurrencies"] = as_list(values["concurrencies"])
    for k, v in values.items():
        if v != SWEEP_UNSET[k] or type(v) is not type(SWEEP_UNSET[k]):
            base[k] = v
    try:
        return Sweep.model_validate(base)
    except ValidationError as e:
        raise format_validation_error(e, "sweep parameters", Sweep) from None
