"""Deprecated private name of :mod:`fixedpoint.datasets` (kept importable: ``from fixedpoint
import _demo_data`` still works). Use ``fx.datasets``."""

from __future__ import annotations

from .datasets import blobs, train_mlp  # noqa: F401

__all__ = ["blobs", "train_mlp"]
