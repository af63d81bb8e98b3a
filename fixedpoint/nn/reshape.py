"""Layers that move values without arithmetic: Reshape/Flatten, Transpose (``nnet_transpose.h``),
and io_stream's Clone (one stream copied to several readers).

The firmware holds every tensor as a flat array in C order (channels last after hls4ml's
conversion), so Reshape changes nothing but the shape. Transpose writes
``res[...] = data[perm...]``, an assignment that casts into ``result_t``.
"""

from __future__ import annotations

import numpy as np

from ._raw import cast_raw
from .registry import hls4ml_layer

__all__ = ["ReshapeOp", "TransposeOp"]


class ReshapeOp:
    """The same stored integers seen with another per-sample shape (cast into ``res_t`` if given)."""

    __slots__ = ("shape", "res_t")

    def __init__(self, shape, res_t=None):
        self.shape, self.res_t = tuple(int(d) for d in shape), res_t

    def __call__(self, x, x_fmt):
        x = x.reshape((x.shape[0],) + self.shape)
        if self.res_t is None:
            return x, x_fmt
        return cast_raw(x, x_fmt, self.res_t), self.res_t


class TransposeOp:
    """``res = (result_t) data`` with the per-sample axes permuted by ``perm``."""

    __slots__ = ("perm", "res_t")

    def __init__(self, perm, res_t):
        self.perm, self.res_t = tuple(int(p) for p in perm), res_t

    def __call__(self, x, x_fmt):
        x = np.ascontiguousarray(np.transpose(x, (0,) + tuple(p + 1 for p in self.perm)))
        return cast_raw(x, x_fmt, self.res_t), self.res_t


@hls4ml_layer("Reshape")
def _reshape(view):
    # io_parallel: hls4ml makes the output an in-place alias of the input (same variable, same
    # type): nothing is cast. io_stream: a flatten is in place too; other reshapes repack.
    fn = view.function()
    if fn is None:
        return ReshapeOp(view.out_shape)
    if fn == "repack_stream":
        return ReshapeOp(view.out_shape, view.fmt("result_t"))
    view.unsupported(f"function {fn!r}")


@hls4ml_layer("Transpose")
def _transpose(view):
    perm = view.attr("perm")
    if perm is None or sorted(int(p) for p in perm) != list(range(len(view.in_shapes[0]))):
        view.unsupported(f"perm {perm!r} for input shape {view.in_shapes[0]}")
    return TransposeOp(perm, view.fmt("result_t"))


@hls4ml_layer("Clone")
def _clone(view):
    # clone_stream copies each value into every output stream (same type); the frontend wires
    # each of the layer's outputs to this one value
    return ReshapeOp(view.out_shape, view.fmt("result_t"))
