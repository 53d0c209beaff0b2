"""A reproducible runbook for SGLang's "Kimi K2 on AMD GPUs" recipe.

The package is the lib behind the notebooks: parameters, deployment, invocation checks,
benchmark runners, result parsing, judging against the published numbers, and the report.
"""

from __future__ import annotations

__version__ = "0.1.0"
