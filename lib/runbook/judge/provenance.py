"""What ran, as a run folder records it, and what differs between two runs.

``environment.json`` records the runbook's side (the lock's digest, the host's Python, the venv's
versions), the engine's side (image id and digest, its ``pip freeze`` after the pre-install), the
model (revision or digest) and each tier's bench client (``client`` in every result row:
``sglang.bench_serving 0.5.7`` or ``runbook builtin 0.1.0``). ``runbook diff`` and ``runbook
compare-engines`` list every difference; a tier measured by different bench clients is not
comparable (``client_reasons``), since the client's timing rules are part of the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Difference:
    what: str
    a: str
    b: str


def facts(env: Mapping[str, Any]) -> dict[str, str]:
    """The provenance facts of one run's environment.json, as comparable strings."""
    rb = env.get("runbook") or {}
    eng = env.get("engine_env") or {}
    w = env.get("weights") or {}
    model = w.get("digest") or (f"{w.get('repo_id')}@{w.get('commit') or w.get('revision') or 'unpinned'}"
                                if w.get("repo_id") else w.get("path"))
    out = {
        "runbook lock": rb.get("lock_digest"),
        "host python": rb.get("python") or env.get("python"),
        "engine": " ".join(str(x) for x in (env.get("engine"), env.get("engine_version")) if x),
        "engine image": env.get("image_id"),
        "engine packages": eng.get("packages_digest"),
        "bench client (bench_serving)": eng.get("bench_client"),
        "model": model,
    }
    return {k: str(v) if v else "not recorded" for k, v in out.items()}


def differences(env_a: Mapping[str, Any], env_b: Mapping[str, Any]) -> list[Difference]:
    fa, fb = facts(env_a), facts(env_b)
    return [Difference(k, fa[k], fb[k]) for k in fa if fa[k] != fb[k]]


def package_changes(env_a: Mapping[str, Any], env_b: Mapping[str, Any], key: str = "packages"
                    ) -> list[str]:
    """The host venv's packages that differ (``name: a -> b``)."""
    a = (env_a.get("runbook") or {}).get(key) or {}
    b = (env_b.get("runbook") or {}).get(key) or {}
    return [f"{n}: {a.get(n, '-')} -> {b.get(n, '-')}" for n in sorted(set(a) | set(b))
            if a.get(n) != b.get(n)]


def client_reasons(row_a: Mapping[str, Any], row_b: Mapping[str, Any]) -> list[str]:
    """Why two rows of a tier were not measured by the same bench client (empty: they were, or
    neither run recorded it: runs from before clients were recorded compare as before)."""
    a, b = row_a.get("client"), row_b.get("client")
    if a == b:
        return []
    return [f"bench client differs: {a or 'not recorded'} vs {b or 'not recorded'}"]
