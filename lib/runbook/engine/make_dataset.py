"""Generate the local ShareGPT-format dataset and the tokenizer corpus, deterministically.

bench_serving's random dataset samples prompt text from a ShareGPT JSON file (and silently runs
fewer requests when the file holds fewer conversations than --num-prompts), so the stand-in image
ships one made here: 2,400 two-turn conversations of generated English-like text. Only the
standard library is used, so the bytes are the same on every machine.

Usage: python3 make_dataset.py OUT.json [--conversations N]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 20260101
N_CONVERSATIONS = 2400

_WORDS = (
    "the a an of to in and for on with at by from about model server token request latency "
    "throughput batch cache kernel memory tensor parallel expert router layer attention head "
    "prompt answer question weather city tool call result image picture color red green blue "
    "please explain describe compare list why how what when where which quickly slowly "
    "benchmark runbook engine container node gpu cpu rack cluster deploy launch measure report "
    "is are was were be been has have had do does did can could will would should may might "
    "first second third next last many few more less most least good better best fast faster "
    "data file path folder log line number value table plot chart figure time second minute "
    "hello thanks sure here this that these those it they we you he she one two three four five"
).split()
_PUNCT = [".", ".", ".", "?", "!", ","]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 16))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(_PUNCT)


def paragraph(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def conversations(n: int = N_CONVERSATIONS, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append({
            "id": f"local-{i:05d}",
            "conversations": [
                {"from": "human", "value": paragraph(rng, 1, 12)},
                {"from": "gpt", "value": paragraph(rng, 2, 20)},
            ],
        })
    return out


def corpus(n: int = 3000, seed: int = SEED + 1) -> list[str]:
    """Text the tokenizer is trained on (same vocabulary, another stream)."""
    rng = random.Random(seed)
    return [paragraph(rng, 1, 8) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--conversations", type=int, default=N_CONVERSATIONS)
    a = ap.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(conversations(a.conversations), indent=None))
    print(f"wrote {a.conversations} conversations to {a.out}")


if __name__ == "__main__":
    main()
