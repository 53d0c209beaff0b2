"""The embedded default: a locally built stand-in for the SGLang container.

``build`` makes the image (Debian base via debootstrap, vLLM's CPU build, sglang 0.5.7's
bench_serving, the generated model and dataset); the files beside this module are its build
context. The stand-in is started and stopped through the same launchers as the real thing.
"""

from __future__ import annotations
