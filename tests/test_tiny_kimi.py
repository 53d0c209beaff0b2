"""tiny-kimi, the miniature's model: the same bytes on every machine, Kimi K2's config field for
field, a tiktoken tokenizer loaded through trust_remote_code with Kimi's specials and chat format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.engine import make_kimi

ENGINE = make_kimi.__file__.rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-kimi")
    # A separate process, as the image build runs it: nothing of this session leaks in.
    subprocess.run([sys.executable, f"{ENGINE}/make_kimi.py", str(out)], check=True, capture_output=True)
    return out


def test_generated_bytes_match_the_committed_manifest(model, root):
    from runbook.deploy.weights import parse_manifest, sha256_manifest

    committed = parse_manifest((root / "lib/runbook/engine/tiny-kimi.sha256").read_text())
    assert sha256_manifest(model) == committed


def test_config_keeps_every_field_of_kimi_k2(model):
    cfg = json.loads((model / "config.json").read_text())
    real = make_kimi.KIMI_K2_CONFIG
    assert set(cfg) == set(real), (set(real) - set(cfg), set(cfg) - set(real))
    assert set(make_kimi.OMITTED) == {"quantization_config"}  # bf16 on CPU, said in OMITTED
    # The architecture class and Kimi's routing are Kimi's own values, not scaled.
    for key in ("architectures", "model_type", "topk_method", "scoring_func", "n_group", "topk_group",
                "routed_scaling_factor", "n_shared_experts", "first_k_dense_replace", "moe_layer_freq",
                "qk_nope_head_dim", "v_head_dim", "rope_theta", "hidden_act", "norm_topk_prob"):
        assert cfg[key] == real[key], key
    assert cfg["rope_scaling"]["type"] == "yarn"
    assert 2 <= cfg["num_hidden_layers"] <= 3 and cfg["first_k_dense_replace"] == 1
    assert cfg["n_routed_experts"] > cfg["num_experts_per_tok"] > 1
    # Only sizes differ: every value that differs is a positive number smaller than Kimi's.
    for key in set(make_kimi.SCALED) - {"rope_scaling", "auto_map"}:
        assert 0 < cfg[key] < real[key], key


def test_weights_are_bf16_safetensors_with_every_deepseek_v3_tensor(model):
    import struct

    raw = (model / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")
    cfg = json.loads((model / "config.json").read_text())
    want = {name: list(shape) for name, shape, _ in make_kimi.weight_shapes(cfg)}
    assert {k: v["shape"] for k, v in header.items()} == want
    dtypes = {v["dtype"] for k, v in header.items() if not k.endswith("e_score_correction_bias")}
    assert dtypes == {"BF16"}
    assert header["model.layers.1.mlp.gate.e_score_correction_bias"]["dtype"] == "F32"
    assert max(v["data_offsets"][1] for v in header.values()) == len(raw) - 8 - n


def test_tokenizer_loads_through_remote_code_and_matches_vocab_size(model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model), trust_remote_code=True)
    cfg = json.loads((model / "config.json").read_text())
    assert type(tok).__name__ == "TikTokenTokenizer"
    assert len(tok) == cfg["vocab_size"]  # unmasked extra ids would break constrained decoding
    assert (tok.bos_token_id, tok.eos_token_id) == (cfg["bos_token_id"], cfg["eos_token_id"])
    for special in ("<|im_user|>", "<|im_assistant|>", "<|im_system|>", "<|im_middle|>", "<|im_end|>",
                    "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>",
                    "<|tool_call_argument_begin|>", "<|tool_call_end|>"):
        assert len(tok.encode(special)) == 1, special
    text = "What is the weather in Paris? 42 °C, ünïcode, 天气"
    assert tok.decode(tok.encode(text)) == text
    vocab = tok.get_vocab()  # BPE tokens as bytes (what xgrammar reads for a tiktoken vocab)
    assert sum(isinstance(k, bytes) for k in vocab) == cfg["vocab_size"] - make_kimi.N_SPECIAL


def test_chat_template_renders_kimis_roles_tools_and_call_ids(model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model), trust_remote_code=True)
    call_id = "functions.get_weather:0"
    msgs = [{"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": call_id, "content": '{"temperature": 12}'}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    out = tok.apply_chat_template(msgs, tools=tools, tokenize=False, add_generation_prompt=True)
    assert out.startswith("<|im_system|>tool_declare<|im_middle|>[")
    assert "<|im_user|>user<|im_middle|>weather in Paris?<|im_end|>" in out
    assert ("<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
            '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>') in out
    assert '## Return of functions.get_weather:0\n{"temperature": 12}<|im_end|>' in out
    assert out.endswith("<|im_assistant|>assistant<|im_middle|>")


def test_tokenizer_module_needs_tiktoken(model):
    """The remote-code file imports tiktoken: transformers refuses it where tiktoken is missing
    (the image without the recipe's pre-install; shown for real in tests/test_engine.py)."""
    src = (model / "tokenization_kimi.py").read_text()
    assert "\nimport tiktoken\n" in src
    assert json.loads((model / "tokenizer_config.json").read_text())["auto_map"]["AutoTokenizer"][0] \
        == "tokenization_kimi.TikTokenTokenizer"


def test_the_576_variant_differs_only_in_mlas_latent_and_is_generated_on_the_host(model, root, tmp_path):
    """tiny-kimi-576 (the engine side-by-side's model): Kimi's own latent sizes, everything else
    tiny-kimi's; staged by the weights step's ``generate`` source, checked against its committed
    manifest, and not written again when the same bytes are there."""
    from runbook.core.errors import ParamsError
    from runbook.deploy.weights import manifest_digest, parse_manifest, stage_generated

    got = stage_generated(tmp_path, "tiny-kimi-576")
    assert got["copied"] and got["source"] == "generate"
    committed = parse_manifest((root / "lib/runbook/engine/tiny-kimi-576.sha256").read_text())
    assert got["digest"] == manifest_digest(committed)
    var = json.loads((tmp_path / "tiny-kimi-576" / "config.json").read_text())
    base = json.loads((model / "config.json").read_text())
    assert {k for k in var if var[k] != base[k]} == {"kv_lora_rank", "qk_rope_head_dim"}
    assert (var["kv_lora_rank"], var["qk_rope_head_dim"]) == (512, 64) == (
        make_kimi.KIMI_K2_CONFIG["kv_lora_rank"], make_kimi.KIMI_K2_CONFIG["qk_rope_head_dim"])
    for name in ("tiktoken.model", "tokenizer_config.json", "tokenization_kimi.py"):  # the same tokenizer
        assert (tmp_path / "tiny-kimi-576" / name).read_bytes() == (model / name).read_bytes()
    again = stage_generated(tmp_path, "tiny-kimi-576")
    assert not again["copied"] and again["digest"] == got["digest"]
    (tmp_path / "tiny-kimi-576" / "config.json").write_text("{}")  # a damaged copy is regenerated
    assert stage_generated(tmp_path, "tiny-kimi-576")["copied"]
    with pytest.raises(ParamsError) as e:
        stage_generated(tmp_path, "tiny-kimi-9000")
    assert e.value.field == "server.model_path" and "tiny-kimi-576" in str(e.value)


def test_kimis_remote_code_is_real_modules_copied_as_they_are(model):
    """configuration_deepseek.py and tokenization_kimi.py live in engine/kimi_code/ (ruff checks
    them, this test imports them) and reach the model folder byte for byte."""
    from runbook.engine.kimi_code import configuration_deepseek, tokenization_kimi

    assert configuration_deepseek.DeepseekV3Config.model_type == "kimi_k2"
    for mod in (configuration_deepseek, tokenization_kimi):
        f = Path(mod.__file__)
        assert (model / f.name).read_bytes() == f.read_bytes(), f.name
    from transformers import AddedToken

    cfg = json.loads((model / "tokenizer_config.json").read_text())
    added = {int(i): AddedToken(**v) for i, v in cfg["added_tokens_decoder"].items()}
    tok = tokenization_kimi.TikTokenTokenizer(str(model / "tiktoken.model"), added_tokens_decoder=added)
    ids = tok.encode("Hello, world! 123")
    assert ids and tok.decode(ids) == "Hello, world! 123"
