"""Placeholder package path (see placeholders/README.md)."""

from __future__ import annotations
