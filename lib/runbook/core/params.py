"""Run parameters: a profile's YAML loaded, its ``extends:`` chain resolved, overrides applied,
and the result validated by the schema (``schema.py``) — with where each value came from.

A profile (``params/*.yaml``) describes one deployment of the recipe. Every override —
``runbook … -p key=value`` or a papermill ``-p`` — is applied to the raw mapping and validated by
the same schema, so a bad value fails before anything is started, with a message that names the
file, the field and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from runbook.core.errors import ParamsError
from runbook.core.schema import Profile, Tier

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PARAMS_DIR = Path(os.environ.get("RUNBOOK_PARAMS_DIR", PROJECT_ROOT / "params"))


def available_profiles(params_dir: Path = PARAMS_DIR) -> list[str]:
    return sorted(p.stem for p in params_dir.glob("*.yaml"))


def resolve_profile_path(profile: str | os.PathLike[str], params_dir: Path = PARAMS_DIR) -> Path:
    """A profile name ('local') or a path ('params/local.yaml') → an existing file."""
    p = Path(profile)
    candidates = [p] if p.suffix in (".yaml", ".yml") or p.parent != Path(".") else []
    candidates += [params_dir / f"{p.name}.yaml", params_dir / p.name]
    for c in candidates:
        if c.is_file():
            return c
    raise ParamsError(
        "profile file not found",
        file=str(profile),
        allowed=", ".join(available_profiles(params_dir)) or f"no *.yaml in {params_dir}",
        hint=f"pass a profile name or a path to a YAML file under {params_dir}",
    )


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ParamsError(f"cannot read: {e.strerror}", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ParamsError(
            f"malformed YAML: {where}{problem}", file=str(path), hint="fix the YAML syntax there"
        ) from None
    if not isinstance(data, dict):
        raise ParamsError(
            f"top level must be a mapping, got {type(data).__name__}", file=str(path)
        )
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """'server.port=30001' → ('server.port', 30001); values are parsed as YAML scalars."""
    if "=" not in item:
        raise ParamsError(
            f"override {item!r} must be KEY=VALUE", field=item, hint="e.g. -p server.port=30001"
        )
    key, _, raw = item.partition("=")
    key = key.strip()
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$", key):
        raise ParamsError(f"override key {key!r} is not a dotted field path", field=key)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], file: str) -> dict[str, Any]:
    out = _deepcopy(data)
    for key, value in overrides.items():
        node: Any = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[part] = nxt
            if not isinstance(nxt, dict):
                raise ParamsError(
                    f"cannot set {key!r}: {'.'.join(parts[: i + 1])} is not a mapping",
                    file=file,
                    field=key,
                )
            node = nxt
        node[parts[-1]] = value
    return out


def _deepcopy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deepcopy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deepcopy(v) for v in obj]
    return obj


def format_validation_error(err: ValidationError, file: str, model: type[BaseModel]) -> ParamsError:
    lines = []
    first_field = None
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        first_field = first_field or loc
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, e["loc"][:-1])
            msg = f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
        elif e["type"] == "missing":
            msg = "required field is missing"
        got = "" if e["type"] in ("missing",) else f" (got {e.get('input')!r})"
        if e["type"] == "extra_forbidden":
            got = ""
        lines.append(f"{loc}: {msg}{got}")
    text = "invalid parameters:\n  " + "\n  ".join(lines)
    return ParamsError(text, file=file, field=first_field,
                       hint="correct the field(s) above in the profile or the -p override")


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None)
        if fields and part in fields:
            cur = _inner_model(fields[part].annotation)
        elif cur is Tier or getattr(cur, "__name__", "") == "dict":
            continue
        else:
            cur = _inner_model(cur) if not fields else None
        if cur is None:
            return []
    fields = getattr(cur, "model_fields", None)
    return sorted(fields) if fields else []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key (an empty one, ``{}``, clears),
    anything else (lists too) replaces."""
    out = _deepcopy(base)
    for k, v in over.items():
        nested = isinstance(v, dict) and v and isinstance(out.get(k), dict)
        out[k] = merge(out[k], v) if nested else _deepcopy(v)
    return out


def read_chain(path: Path, params_dir: Path = PARAMS_DIR,
               _seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """A profile's ``extends:`` chain, base first: each file with only what it writes. The base is
    a name in params/, or a path relative to the file that extends it."""
    if path.resolve() in _seen:
        chain = " → ".join(str(x.name) for x in (*_seen, path.resolve()))
        raise ParamsError(f"profiles extend each other in a circle: {chain}", file=str(path),
                          field="extends", hint="one of them must not extend the other")
    data = read_yaml(path)
    base = data.pop("extends", None)
    if base is None:
        return [(path, data)]
    if not isinstance(base, str) or not base:
        raise ParamsError(f"extends must name one profile, got {base!r}", file=str(path), field="extends")
    rel = path.parent / base
    base_path = rel if rel.suffix in (".yaml", ".yml") and rel.is_file() else None
    try:
        base_path = base_path or resolve_profile_path(base, params_dir)
    except ParamsError as e:
        raise ParamsError(f"extends: base profile {base!r} not found", file=str(path), field="extends",
                          allowed=e.allowed) from None
    return [*read_chain(base_path, params_dir, (*_seen, path.resolve())), (path, data)]


def read_profile_data(path: Path, params_dir: Path = PARAMS_DIR) -> dict[str, Any]:
    """A profile's YAML with its ``extends:`` chain resolved (each file on top of its base)."""
    out: dict[str, Any] = {}
    for _, data in read_chain(path, params_dir):
        out = merge(out, data)
    return out


def _leaves(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested mapping; lists, scalars and empty mappings are leaves."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out |= _leaves(v, key + ".")
        else:
            out[key] = v
    return out


def provenance(profile: str | os.PathLike[str] = "local", overrides: Iterable[str] | None = None,
               params_dir: Path = PARAMS_DIR) -> list[tuple[str, Any, str]]:
    """The resolved profile as (dotted key, value, where it came from): the file in the
    ``extends:`` chain that last set it, a ``-p`` override, or the schema's default."""
    path = resolve_profile_path(profile, params_dir)
    layers = [(p.name, set(_leaves(data))) for p, data in read_chain(path, params_dir)]
    given = [parse_override(o) for o in overrides or []]
    resolved = _leaves(load_profile(profile, list(overrides or []), params_dir).model_dump(mode="json"))

    def source(key: str) -> str:
        parts = key.split(".")
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        for k, v in reversed(given):
            if k in prefixes:
                return f"-p {k}={v}"
        for name, keys in reversed(layers):
            if keys & prefixes:
                return name
        return "default (schema)"

    return [(k, v, source(k)) for k, v in resolved.items()]


def load_profile(
    profile: str | os.PathLike[str] = "local",
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    params_dir: Path = PARAMS_DIR,
) -> Profile:
    """Load and validate a profile (its ``extends:`` chain resolved); overrides are a mapping or
    'key=value' strings."""
    path = resolve_profile_path(profile, params_dir)
    data = read_profile_data(path, params_dir)
    if overrides:
        if not isinstance(overrides, Mapping):
            overrides = dict(parse_override(o) for o in overrides)
        data = apply_overrides(data, overrides, str(path))
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        raise format_validation_error(e, str(path), Profile) from None


def as_list(value: Any) -> Any:
    """A list parameter as papermill's ``-p`` passes it — text: a YAML list ("[1, 4, 16]") or
    comma-separated ("1,4,16", "a=1,b=2") — as a list; anything else unchanged."""
    if not isinstance(value, str):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, list):
        return parsed
    items = [x.strip() for x in value.split(",") if x.strip()]
    return [yaml.safe_load(x) if x.lstrip("-").isdigit() else x for x in items]
