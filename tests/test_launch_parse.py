"""Every profile's launch command parsed by the SGLang release it names, with that release's own
parser, inside the stand-in image: the recipe's 0.5.7 profiles by the image's SGLang, the tuned
MI300X profile by 0.5.12's (its wheel fetched once), and every node's command of the multi-node
plans — the disaggregated pair's router by sglang-router's own parser; and every vLLM profile's by
vLLM's own parser in the local vLLM image. A flag that does not exist, or a value outside a flag's
choices (a tool parser the engine does not register), fails.

Marked ``index``: the first run downloads SGLang 0.5.12's and sglang-router's wheels from the
package index (cached by version after that), so it needs the index the engine images use.
`make test` runs it; `pytest -m "not index"` leaves it out on a machine without one."""

from __future__ import annotations

import pytest

from runbook.core.params import available_profiles, load_profile
from runbook.deploy.launchcheck import IMAGE_SGLANG, parse_launches, profile_launches
from runbook.engine.venv import shared_cache

pytestmark = [pytest.mark.engine, pytest.mark.index]


def test_every_profile_launch_is_accepted_by_its_sglang_release(engine_image):
    profiles = [load_profile(n) for n in available_profiles()]
    by_version = profile_launches(profiles)
    names = {n for launches in by_version.values() for n in launches}
    assert {"mi300x-kimi-k2", "mi300x-kimi-k2-tuned", "h200-kimi-k2", "local"} <= names
    by_version[IMAGE_SGLANG]["(a flag 0.5.7 lacks)"] = ["--model-path", "m", "--no-such-flag"]
    by_version[IMAGE_SGLANG]["(a choice 0.5.7 lacks)"] = ["--model-path", "m", "--attention-backend=nope"]
    assert {"mi300x-kimi-k2-2node rank 1 on 10.0.0.2", "mi300x-kimi-k2-pd decode on 10.0.0.2",
            "mi300x-kimi-k2-pd 10.0.0.1 router"} <= names
    router = load_profile("mi300x-kimi-k2-pd").cluster.router_version
    seen = {}
    for version, launches in by_version.items():
        got = parse_launches(launches, version, engine_image, shared_cache() / "wheels", router)
        assert got["version"] == version  # the release named, not another
        seen |= got["results"]
    bad = {n: r["error"] for n, r in seen.items() if not r["ok"] and not n.startswith("(")}
    assert not bad, bad
    assert "--no-such-flag" in seen["(a flag 0.5.7 lacks)"]["error"]
    assert not seen["(a choice 0.5.7 lacks)"]["ok"] and "nope" in seen["(a choice 0.5.7 lacks)"]["error"]
    tuned = seen["mi300x-kimi-k2-tuned"]["values"]
    assert tuned["attention_backend"] == "aiter" and tuned["kv_cache_dtype"] == "fp8_e4m3"
    assert seen["mi300x-kimi-k2"]["values"]["tool_call_parser"] == "kimi_k2"
    rank1 = seen["mi300x-kimi-k2-2node rank 1 on 10.0.0.2"]["values"]
    assert (rank1["nnodes"], rank1["node_rank"], rank1["dist_init_addr"]) == ("2", "1", "10.0.0.1:5000")
    assert seen["mi300x-kimi-k2-pd decode on 10.0.0.2"]["values"]["disaggregation_mode"] == "decode"
    r = seen["mi300x-kimi-k2-pd 10.0.0.1 router"]["values"]
    assert r["pd_disaggregation"] == "True" and "('http://10.0.0.1:30000', 8998)" in r["prefill_urls"]


def test_every_vllm_profile_launch_is_accepted_by_vllms_own_parser(vllm_image):
    """The vLLM profiles (the MI300X side-by-side profile, and the local ones) through vLLM's
    ``make_arg_parser`` in the local vLLM image, their tool parser looked up in vLLM's registry."""
    from runbook.deploy.launchcheck import parse_vllm_launches, vllm_launches

    launches = vllm_launches([load_profile(n) for n in available_profiles()])
    assert {"mi300x-kimi-k2-vllm", "local-vllm", "local-vllm-kimi576"} <= set(launches)
    launches["(a flag vLLM lacks)"] = ["--model", "m", "--no-such-flag"]
    launches["(a tool parser vLLM lacks)"] = ["--model", "m", "--enable-auto-tool-choice",
                                               "--tool-call-parser", "kimi_k9"]
    got = parse_vllm_launches(launches, vllm_image)
    assert got["version"] == "0.32.0"
    res = got["results"]
    bad = {n: r["error"] for n, r in res.items() if not r["ok"] and not n.startswith("(")}
    assert not bad, bad
    assert "--no-such-flag" in res["(a flag vLLM lacks)"]["error"]
    wrong_parser = res["(a tool parser vLLM lacks)"]
    assert not wrong_parser["ok"] and "kimi_k9" in wrong_parser["error"]
    mi = res["mi300x-kimi-k2-vllm"]["values"]
    assert (mi["tensor_parallel_size"], mi["tool_call_parser"], mi["trust_remote_code"],
            mi["enable_auto_tool_choice"], mi["enable_prefix_caching"]) == (
        "8", "kimi_k2", "True", "True", "False")
    assert mi["model"] == "moonshotai/Kimi-K2-Instruct"
    assert res["local-vllm-kimi576"]["values"]["tool_call_parser"] == "kimi_k2"
