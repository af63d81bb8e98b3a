"""Activations: what ``nnet_activation.h`` (and ``nnet_activation_stream.h``) compute.

- ReLU: ``res = (result_t)(x > 0 ? x : 0)``; linear: ``res = (result_t) x``.
"""

from __future__ import annotations

import numpy as np

from ._raw import cast_raw, relu_raw
from .registry import hls4ml_layer

__all__ = ["ReluOp"]


class ReluOp:
    """``(result_t)(x > 0 ? x : 0)`` (a linear activation when ``relu`` is False)."""

    __slots__ = ("res_t", "relu")

    def __init__(self, res_t, relu=True):
        self.res_t, self.relu = res_t, relu

    def __call__(self, x, x_fmt):
        if self.relu:
            x = relu_raw(x, x_fmt)
        return cast_raw(x, x_fmt, self.res_t), self.res_t


@hls4ml_layer("Activation", "ReLU")
def _from_hls4ml(view):
    res_t = view.fmt("result_t")
    act = str(view.attr("activation", view.class_name)).lower()
    if act in ("relu", "linear"):
        return ReluOp(res_t, relu=act == "relu")
    view.unsupported(f"activation {act!r}")
