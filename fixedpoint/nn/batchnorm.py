"""BatchNormalization: what ``nnet_batchnorm.h`` computes.

``res[i] = (result_t)(x[i] * scale[c] + bias[c])`` with ``c = i % n_filt`` on the flat index
(the channel, channels last; ``c = i`` when ``n_filt`` is -1), the product and the sum in full
precision.
"""

from __future__ import annotations

import numpy as np

from ._raw import cast_raw, is_wide, raw_ok, storage, wrap
from .registry import hls4ml_layer
from .._operands import result_format

__all__ = ["ScaleOp"]


class ScaleOp:
    """``(result_t)(x * scale + bias)`` with exact products and sums; scale and bias broadcast
    along the last axis (one per channel) or per value."""

    __slots__ = ("s", "s_fmt", "b", "b_fmt", "res_t")

    def __init__(self, s_raw, s_fmt, b_raw, b_fmt, res_t):
        self.s, self.s_fmt, self.b, self.b_fmt, self.res_t = s_raw, s_fmt, b_raw, b_fmt, res_t

    def __call__(self, x, x_fmt):
        shape = x.shape  # flat index i uses scale[i % n]: view the values as (samples, -1, n)
        x = x.reshape(shape[0], -1, self.s.size)
        s, b = self.s, self.b
        prod = result_format("mul", x_fmt, self.s_fmt)
        total = result_format("add", prod, self.b_fmt)
        if not raw_ok(total, self.res_t) or is_wide(x) or is_wide(s) or is_wide(b):  # wide formats: exact FixedArray arithmetic
            out = (wrap(x, x_fmt) * wrap(s, self.s_fmt) + wrap(b, self.b_fmt)).cast(self.res_t)
            return storage(out).reshape(shape), self.res_t
        p = x * s  # |p| < 2^(prod.w - 1) <= 2^62
        exact = (p << (total.f - prod.f)) + (b << (total.f - self.b_fmt.f))
        return cast_raw(exact, total, self.res_t).reshape(shape), self.res_t


@hls4ml_layer("BatchNormalization")
def _from_hls4ml(view):
    s_t, b_t, res_t = view.fmt("scale_t"), view.fmt("bias_t"), view.fmt("result_t")
    scale = view.literal("scale", s_t).reshape(-1)
    bias = view.literal("bias", b_t).reshape(-1)
    n_filt = int(view.attr("n_filt", -1) or -1)
    size = int(np.prod(view.out_shape))
    want = size if n_filt == -1 else n_filt
    if scale.size != want or bias.size != want:
        view.unsupported(f"{scale.size} scales and {bias.size} biases for n_filt={n_filt} and output {view.out_shape}")
    if size % want:
        view.unsupported(f"n_filt={n_filt} with output shape {view.out_shape}")
    return ScaleOp(scale, s_t, bias, b_t, res_t)
