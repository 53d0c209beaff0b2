"""Generate the runbook's tiny multimodal model, deterministically (fixed seeds, same bytes).

A LLaVA-1.5-style model small enough to build in seconds and serve on two CPU cores, yet able to
take every path of the recipe: text chat, 1000-token completions with ignore_eos, images (a CLIP
vision tower: 112 px images, 14 px patches → 64 image tokens), and tool calls (a chat template
that renders tools, assistant tool_calls and tool results). Weights are random: answers are noise,
which is all a runbook that checks plumbing and measures speed needs.

Usage: python3 make_model.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")  # single-threaded BPE training: stable merges

SEED = 1234
VOCAB = 1024
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<tool_call>", "</tool_call>",
           "<pad>"]

# ChatML, plus: image parts → <image>, tool definitions in the system turn, assistant tool_calls as
# <tool_call>{json}</tool_call> (the hermes parser's format), and tool results as their own role.
CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\nYou may call these tools:\n"
    "{%- for t in tools %}\n{{ t | tojson }}{%- endfor %}<|im_end|>\n{%- endif %}"
    "{%- for m in messages %}"
    "<|im_start|>{{ m['role'] }}\n"
    "{%- if m['content'] is string %}{{ m['content'] }}"
    "{%- elif m['content'] %}{%- for p in m['content'] %}"
    "{%- if p['type'] == 'text' %}{{ p['text'] }}"
    "{%- elif p['type'] in ('image', 'image_url') %}<image>\n{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{%- if m['tool_calls'] is defined and m['tool_calls'] %}{%- for c in m['tool_calls'] %}"
    "<tool_call>{\"name\": \"{{ c['function']['name'] }}\", \"arguments\": "
    "{%- if c['function']['arguments'] is string %}{{ c['function']['arguments'] }}"
    "{%- else %}{{ c['function']['arguments'] | tojson }}{%- endif %}}</tool_call>"
    "{%- endfor %}{%- endif %}"
    "<|im_end|>\n"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


def build_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    sys.path.insert(0, str(Path(__file__).parent))
    from make_dataset import corpus

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", bos_token="<|endoftext|>",
        pad_token="<pad>", unk_token=None, model_max_length=4096,
        extra_special_tokens={"image_token": "<image>"},
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer):
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    torch.manual_seed(SEED)
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, head_dim=32,  # CPU attention needs ≥ 32
        max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        image_size=112, patch_size=14, projection_dim=64,
    )
    cfg = LlavaConfig(
        vision_config=vision, text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-2, vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )
    cfg.dtype = "bfloat16"
    model = LlavaForConditionalGeneration(cfg).to(torch.bfloat16).eval()
    model.generation_config.do_sample = False
    return model


def build_processor(tokenizer):
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 112}, crop_size={"height": 112, "width": 112},
        do_center_crop=True, do_resize=True,
    )
    return LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )


def fix_vision_keys(out: Path) -> None:
    """vLLM expects ``vision_tower.vision_model.*``; newer transformers saves ``vision_tower.*``."""
    from safetensors.torch import load_file, save_file

    for f in sorted(out.glob("*.safetensors")):
        sd = load_file(str(f))
        renamed = {}
        for k, v in sd.items():
            for pre in ("model.vision_tower.", "vision_tower."):
                if k.startswith(pre) and not k.startswith(pre + "vision_model."):
                    k = pre + "vision_model." + k[len(pre):]
                    break
            renamed[k] = v
        save_file(dict(sorted(renamed.items())), str(f), metadata={"format": "pt"})


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    model = build_model(tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    fix_vision_keys(out)
    build_processor(tokenizer).save_pretrained(out)
    tokenizer.save_pretrained(out)
    # A readable card: what this is, so nobody mistakes it for a real model.
    (out / "README.md").write_text(
        "# tiny-llava (generated)\n\nRandom weights, generated by the runbook's make_model.py "
        f"(seed {SEED}). For plumbing and speed tests only: its answers are noise.\n"
    )
    print(json.dumps({"out": str(out), "files": sorted(p.name for p in out.iterdir())}))


if __name__ == "__main__":
    main()
