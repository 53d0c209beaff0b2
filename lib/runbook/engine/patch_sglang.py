"""Fix the two bugs of SGLang 0.5.7's CPU path that stop the miniature, at build time only.

Each fix checks the exact upstream lines first and fails loudly on any other SGLang version or
layout; nothing else in SGLang is changed. Neither file is on a GPU run's path in a way this
changes: both edits only add what the CPU path reads.

1. ``srt/constrained/xgrammar_backend.py``: ``XGrammarGrammar.apply_vocab_mask`` calls
   ``self.apply_vocab_mask_cpu`` on CPU, which 0.5.7 never defines, so the first constrained
   request (any tool_choice "required" or named, any JSON schema) kills the server with an
   AttributeError. The fix defines it as xgrammar's own CPU kernel,
   ``xgrammar.apply_token_bitmask_inplace``. (``--grammar-backend llguidance`` avoids the crash
   without a patch but fails named tool calls with HTTP 500.)
2. ``srt/models/deepseek_v2.py``: ``--attention-backend torch_native`` (the CPU backend) has no MLA
   handler registered, so DeepseekV3 falls back to triton's, which runs a fresh prefill as MHA
   and crashes on the MLA tensors' shapes ("Expected size … [4, 48] but got [4, 80]"). The fix
   registers torch_native to the same MLA dispatcher the other MLA backends use.

Usage: python3 patch_sglang.py   (with the engine's interpreter; idempotent)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

VERSION = "0.5.7"
MARK = "# runbook patch"

FIXES = [
    (
        "srt/constrained/xgrammar_backend.py",
        "    @staticmethod\n"
        "    def move_vocab_mask(vocab_mask: torch.Tensor, device) -> torch.Tensor:\n"
        "        return vocab_mask.to(device, non_blocking=True)\n",
        "    @staticmethod\n"
        "    def move_vocab_mask(vocab_mask: torch.Tensor, device) -> torch.Tensor:\n"
        "        return vocab_mask.to(device, non_blocking=True)\n"
        "\n"
        f"    {MARK}: 0.5.7 reads this on CPU but never defines it (see patch_sglang.py).\n"
        "    @staticmethod\n"
        "    def apply_vocab_mask_cpu(logits: torch.Tensor, vocab_mask: torch.Tensor) -> None:\n"
        "        import xgrammar\n"
        "\n"
        "        xgrammar.apply_token_bitmask_inplace(logits, vocab_mask)\n",
    ),
    (
        "srt/models/deepseek_v2.py",
        'AttentionBackendRegistry.register("triton", handle_attention_triton)\n',
        'AttentionBackendRegistry.register("triton", handle_attention_triton)\n'
        f"{MARK}: the CPU backend has no MLA handler in 0.5.7 (see patch_sglang.py).\n"
        'AttentionBackendRegistry.register("torch_native", _dispatch_mla_subtype)\n',
    ),
]


def main() -> int:
    version = importlib.metadata.version("sglang")
    if version != VERSION:
        print(f"patch_sglang.py fixes sglang {VERSION} only; found {version}: review the fixes "
              "against the new sources, then update VERSION", file=sys.stderr)
        return 1
    spec = importlib.util.find_spec("sglang")
    assert spec is not None and spec.origin is not None
    pkg = Path(spec.origin).parent
    for rel, old, new in FIXES:
        path = pkg / rel
        text = path.read_text()
        if new in text:
            print(f"already patched: {rel}")
            continue
        if text.count(old) != 1:
            print(f"{rel}: the upstream lines this fix expects are not there exactly once; "
                  "refusing to patch", file=sys.stderr)
            return 1
        path.write_text(text.replace(old, new, 1))
        print(f"patched: {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
