"""Which layer family builds which hls4ml layer: ``@hls4ml_layer("Dense")`` on a builder.

A builder takes a *layer view* (the hls4ml frontend's :class:`fixedpoint.hls4ml.LayerView`:
``name``, ``class_name``, ``attr(key)``, ``fmt(key)``, ``literal(key, fmt)``, ``in_shapes``,
``out_shape``, ``io_type``, ``unsupported(setting)``) and returns the node's op. Adding a layer
is one builder in its family's file plus this one registration line.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["HLS4ML", "hls4ml_layer"]

HLS4ML: dict[str, Callable] = {}


def hls4ml_layer(*class_names: str):
    """Register the decorated builder for these hls4ml layer class names."""

    def deco(fn):
        for c in class_names:
            if c in HLS4ML:
                raise RuntimeError(f"hls4ml layer class {c!r} registered twice ({HLS4ML[c].__module__}, {fn.__module__})")
            HLS4ML[c] = fn
        return fn

    return deco
