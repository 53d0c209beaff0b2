"""The params schema: both profiles load, and every kind of bad input fails before side effects."""

from __future__ import annotations

import json
import math

import pytest

from runbook.core.errors import ParamsError
from runbook.core.params import load_profile, parse_override


def test_mi300x_profile_is_the_recipe():
    p = load_profile("mi300x-kimi-k2")
    c, s = p.container, p.server
    assert c.image == "lmsysorg/sglang:v0.5.7-rocm700-mi30x" and c.name == "Kimi"
    assert c.privileged and c.ipc == "host" and c.network == "host"
    assert c.devices == ["/dev/kfd", "/dev/dri", "/dev/mem"] and c.group_add == ["video"]
    assert set(c.cap_add) == {"CAP_SYS_ADMIN", "SYS_PTRACE"}
    assert c.security_opt == ["seccomp=unconfined"] and c.volumes == ["/:/work"]
    assert c.env == {"SHELL": "/bin/bash"} and c.pre_install == "pip install sentencepiece tiktoken"
    assert s.env == {"SGLANG_ROCM_FUSED_DECODE_MLA": "0"} and s.module == "sglang.launch_server"
    assert s.tp == 8 and s.tool_call_parser == "kimi_k2" and s.trust_remote_code
    assert s.model_path == "moonshotai/Kimi-K2-Instruct" and s.port == 30000
    tiers = {k: (t.concurrency, t.num_prompts, t.input_len, t.output_len, t.range_ratio,
                 t.request_rate, t.seed) for k, t in p.benchmark.tiers.items()}
    assert tiers == {"low": (1, 10, 1000, 1000, 0.0, math.inf, 1),
                     "medium": (16, 80, 1000, 1000, 0.0, math.inf, 1),
                     "high": (100, 500, 1000, 1000, 0.0, math.inf, 1)}


# Every way the embedded default's launch may differ from the recipe's: the model (a generated
# miniature, at the path the image holds it), one process instead of 8 GPUs, and CPU flags.
CPU_FLAGS = {"--device=cpu", "--attention-backend=torch_native", "--disable-cuda-graph", "--dtype=float32",
             "--mem-fraction-static=0.05", "--max-total-tokens=262144", "--sleep-on-idle"}
# Random weights pad JSON with whitespace under a constraint (a trained Kimi K2 does not).
MINIATURE_FLAGS = {"--constrained-json-disable-any-whitespace"}


def test_local_profile_is_the_recipes_launch_plus_cpu_flags_only():
    from runbook.deploy.server import launch_command

    recipe, local = load_profile("mi300x-kimi-k2"), load_profile("local")
    a, b = launch_command(recipe), launch_command(local)
    model = {"moonshotai/Kimi-K2-Instruct": "/models/tiny-kimi"}
    swapped = [model.get(x, x) for x in a.argv]
    swapped[swapped.index("--tp") + 1] = "1"
    assert b.argv[:len(swapped)] == swapped  # the recipe's command line, word for word
    assert set(b.argv[len(swapped):]) == CPU_FLAGS | MINIATURE_FLAGS
    assert b.env == {**a.env, "SGLANG_USE_CPU_ENGINE": "1"}
    assert (local.server.engine, local.benchmark.backend, local.container.pre_install) == \
        (recipe.server.engine, recipe.benchmark.backend, recipe.container.pre_install)
    assert local.benchmark.tiers == recipe.benchmark.tiers


def test_process_profile_follows_the_default():
    local, proc = load_profile("local"), load_profile("local-process")
    assert proc.container.launcher == "process" and proc.server.engine == "sglang"
    assert set(proc.server.extra_args) - set(local.server.extra_args) == {"--served-model-name=tiny-kimi"}
    assert proc.server.env == local.server.env and proc.benchmark.tiers == local.benchmark.tiers


def test_profiles_by_name_and_path(root):
    assert load_profile("mi300x-kimi-k2").profile == "mi300x-kimi-k2"
    assert load_profile(root / "params" / "mi300x-kimi-k2.yaml").profile == "mi300x-kimi-k2"


def test_overrides_are_validated_and_applied():
    p = load_profile("mi300x-kimi-k2", ["server.port=30001", "benchmark.tiers.low.concurrency=2"])
    assert p.server.port == 30001 and p.tier("low").concurrency == 2
    p = load_profile("mi300x-kimi-k2", {"benchmark.tiers.high.request_rate": "inf"})
    assert p.tier("high").request_rate == math.inf


def _write(tmp_path, text, name="p.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


# Each bad input: (overrides, the field the message must name, a phrase it must contain)
BAD = [
    (["server.prot=1"], "server.prot", "unknown key"),                              # unknown key
    (["server.port=70000"], "server.port", "less than or equal to 65535"),        # port range
    (["server.port=0"], "server.port", "greater than or equal to 1"),
    (["server.port=abc"], "server.port", "valid integer"),                        # wrong type
    (["benchmark.tiers.low.concurrency=0"], "benchmark.tiers.low.concurrency", "greater than"),
    (["benchmark.tiers.low.input_len=-5"], "benchmark.tiers.low.input_len", "greater than"),
    (["benchmark.tiers.low.range_ratio=1.5"], "benchmark.tiers.low.range_ratio", "less than"),
    (["benchmark.tiers.low.request_rate=0"], "benchmark.tiers.low.request_rate", "greater than"),
    (["benchmark.runner=fastest"], "benchmark.runner", "'auto', 'bench_serving' or 'builtin'"),
    (["container.launcher=k8s"], "container.launcher", "'docker', 'process' or 'attach'"),
    (["container.volumes=[/a]"], "container.volumes", "HOST:CONTAINER"),
    (["server.readiness.endpoints=[/v1/models]"], "server.readiness.endpoints", "answers before"),
    (["server.readiness.timeout_s=-1"], "server.readiness.timeout_s", "greater than 0"),
    (["target.endpoint=localhost:30000"], "target.endpoint", "http://"),
    (["server.tp=0"], "server.tp", "greater than or equal to 1"),
    (["container.name=has space"], "container.name", "pattern"),
    (["benchmark.tiers.huge.concurrency=5"], "benchmark.tiers.huge.num_prompts", "missing"),
]


@pytest.mark.parametrize("overrides,field,phrase", BAD, ids=[b[1] + ":" + b[0][0] for b in BAD])
def test_bad_values_name_file_field_and_allowed(overrides, field, phrase):
    with pytest.raises(ParamsError) as e:
        load_profile("mi300x-kimi-k2", overrides)
    msg = str(e.value)
    assert "mi300x-kimi-k2.yaml" in msg and field in msg and phrase in msg, msg


def test_unknown_key_lists_allowed_keys():
    with pytest.raises(ParamsError) as e:
        load_profile("mi300x-kimi-k2", ["server.prot=1"])
    assert "allowed: " in str(e.value) and "port" in str(e.value)


def test_tier_that_does_not_exist():
    p = load_profile("mi300x-kimi-k2")
    with pytest.raises(ParamsError) as e:
        p.tier("extreme")
    assert "extreme" in str(e.value) and "low, medium, high" in str(e.value)


def test_missing_profile_file_lists_profiles(tmp_path):
    with pytest.raises(ParamsError) as e:
        load_profile("nope")
    assert "nope" in str(e.value) and "mi300x-kimi-k2" in str(e.value)


def test_malformed_yaml_names_line(tmp_path, root):
    text = (root / "params" / "mi300x-kimi-k2.yaml").read_text().replace("tp: 8", "tp: [8")
    f = _write(tmp_path, text)
    with pytest.raises(ParamsError) as e:
        load_profile(f)
    assert str(f) in str(e.value) and "malformed YAML: line" in str(e.value)


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ParamsError, match="top level must be a mapping"):
        load_profile(_write(tmp_path, "- a\n- b\n"))


def test_missing_section(tmp_path, root):
    text = (root / "params" / "mi300x-kimi-k2.yaml").read_text()
    f = _write(tmp_path, text.replace("profile: mi300x-kimi-k2", "profile: x").split("container:")[0])
    with pytest.raises(ParamsError) as e:
        load_profile(f)
    assert "container: required field is missing" in str(e.value)


@pytest.mark.parametrize("item", ["noequals", "bad key=1", "=3"])
def test_malformed_override(item):
    with pytest.raises(ParamsError):
        load_profile("mi300x-kimi-k2", [item])


def test_override_values_parse_as_yaml_scalars():
    assert parse_override("a.b=100") == ("a.b", 100)
    assert parse_override("a=true") == ("a", True)
    assert parse_override("a=[x, y]") == ("a", ["x", "y"])


def test_a_profile_extends_another_writing_only_its_differences():
    base, tuned = load_profile("mi300x-kimi-k2"), load_profile("mi300x-kimi-k2-tuned")
    assert tuned.profile == "mi300x-kimi-k2-tuned" and tuned.server.sglang_version == "0.5.12"
    assert tuned.benchmark == base.benchmark and tuned.target == base.target  # inherited whole
    assert tuned.container.devices == base.container.devices and tuned.container.image != base.container.image
    env = tuned.server.env  # a mapping written again keeps the keys it does not name
    assert env["SGLANG_ROCM_FUSED_DECODE_MLA"] == "0" and env["SGLANG_AITER_MLA_PERSIST"] == "1"
    assert "--kv-cache-dtype=fp8_e4m3" in tuned.server.extra_args  # lists replace, not append
    h200 = load_profile("h200-kimi-k2")
    assert h200.container.gpus == "all" and h200.container.devices == [] and not h200.container.privileged
    assert h200.server.tool_call_parser == "kimi_k2" and h200.server.env == {}  # {} clears


def test_extends_errors_name_the_field(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b\nprofile: a\n")
    (tmp_path / "b.yaml").write_text("extends: a\nprofile: b\n")
    with pytest.raises(ParamsError, match="circle") as e:
        load_profile(tmp_path / "a.yaml", params_dir=tmp_path)
    assert e.value.field == "extends"
    (tmp_path / "c.yaml").write_text("extends: nowhere\nprofile: c\n")
    with pytest.raises(ParamsError, match="'nowhere' not found") as e:
        load_profile(tmp_path / "c.yaml", params_dir=tmp_path)
    assert e.value.field == "extends" and "a, b, c" in str(e.value)


def test_provenance_names_the_file_each_value_came_from():
    from runbook.core.params import provenance

    rows = {k: (v, s) for k, v, s in provenance("local-process", ["server.port=31000"])}
    assert rows["target.model"] == ("tiny-kimi", "local-process.yaml")
    assert rows["container.launcher"] == ("process", "local-process.yaml")
    assert rows["server.tp"] == (1, "local.yaml")  # inherited through extends: local
    assert rows["benchmark.tiers.high.num_prompts"] == (500, "local.yaml")
    assert rows["server.port"] == (31000, "-p server.port=31000")
    assert rows["target.weight_dtype"][1] == "default (schema)"
    chain = {k: s for k, _, s in provenance("h200-kimi-k2")}
    assert chain["server.tp"] in ("h200-kimi-k2.yaml", "mi300x-kimi-k2.yaml")
    assert chain["report.reference"] == "mi300x-kimi-k2.yaml"


def test_params_show_prints_the_resolved_profile(capsys):
    from runbook.cli import main

    assert main(["params", "show", "-f", "mi300x-kimi-k2-hardened", "--format", "json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["container.privileged"] == {"key": "container.privileged", "value": False,
                                            "from": "mi300x-kimi-k2-hardened.yaml"}
    assert rows["server.tp"]["from"] == "mi300x-kimi-k2.yaml" and rows["server.tp"]["value"] == 8
    assert main(["params", "show", "-f", "local", "-p", "server.tp=zero"]) == 2  # validated
    assert "server.tp" in capsys.readouterr().err


def test_the_local_variants_write_only_their_differences(root):
    """local-process and the hardened MI300X profile extend their base: no copied tiers."""
    import yaml

    for name, base in (("local-process", "local"), ("mi300x-kimi-k2-hardened", "mi300x-kimi-k2")):
        data = yaml.safe_load((root / "params" / f"{name}.yaml").read_text())
        assert data["extends"] == base and "tiers" not in (data.get("benchmark") or {})
