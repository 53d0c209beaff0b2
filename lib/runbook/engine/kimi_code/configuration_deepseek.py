"""Kimi K2's config class (model_type kimi_k2), loaded through auto_map as Kimi's own is.

Kimi-K2-Instruct ships configuration_deepseek.py with a DeepseekV3Config whose model_type is
"kimi_k2"; transformers' own DeepseekV3Config has the same fields, so this one only renames it.
"""

from __future__ import annotations

from transformers.models.deepseek_v3.configuration_deepseek_v3 import (
    DeepseekV3Config as _DeepseekV3Config,
)


class DeepseekV3Config(_DeepseekV3Config):
    model_type = "kimi_k2"
