"""Kimi K2's remote code for tiny-kimi, as real modules: ``configuration_deepseek.py`` (the config
class, model_type kimi_k2) and ``tokenization_kimi.py`` (the tiktoken tokenizer). ``make_kimi.py``
copies them into the model folder, where ``auto_map`` loads them with trust_remote_code."""
