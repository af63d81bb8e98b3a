"""Layers that move values without arithmetic: Reshape/Flatten, Transpose (``nnet_transpose.h``),
and io_stream's Clone (one stream copied to several readers) and Repack (``repack_stream``, which
hls4ml puts in place of a Reshape that is not a flatten, or that is a model output).

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


def _out_fmt(view):
    """The type of the layer's output variables, which the generated call names as ``output_t``.
    hls4ml's Clone and Repack passes set the variables' types directly, so the ``result_t``
    attribute may lag behind them: the variables are what the firmware uses."""
    from ..hls4ml import _fmt  # noqa: PLC0415 - the frontend imports this package

    variables = getattr(view.layer, "variables", None)
    fmts = set()
    for out in view.outputs:
        try:
            var = variables[out]
        except Exception:  # noqa: BLE001 - fakes and layers without variables
            return view.fmt("result_t")
        if getattr(var, "type", None) is None:
            return view.fmt("result_t")
        fmts.add(_fmt(var.type, f"layer {view.name!r} output {out!r}"))
    if len(fmts) != 1:
        view.unsupported(f"outputs of different types ({', '.join(sorted(map(str, fmts)))})")
    return fmts.pop()


@hls4ml_layer("Reshape")
def _reshape(view):
    # io_parallel: hls4ml makes the output an in-place alias of the input (same variable, same
    # type): nothing is cast. io_stream: a flatten is in place too; other reshapes repack.
    fn = view.function()
    if fn is None:
        return ReshapeOp(view.out_shape)
    if fn == "repack_stream":
        return ReshapeOp(view.out_shape, _out_fmt(view))
    view.unsupported(f"function {fn!r}")


@hls4ml_layer("Repack")
def _repack(view):
    # repack_stream regroups the stream's packets (out_data[k] = in_data[...], an assignment
    # into res_T's values); the values keep their C order
    fn = view.function()
    if fn != "repack_stream":
        view.unsupported(f"function {fn!r}")
    if int(np.prod(view.out_shape)) != int(np.prod(view.in_shapes[0])):
        view.unsupported(f"output shape {view.out_shape} for input {view.in_shapes[0]}")
    return ReshapeOp(view.out_shape, _out_fmt(view))


@hls4ml_layer("Transpose")
def _transpose(view):
    if view.function() != "transpose":
        view.unsupported(f"function {view.function()!r}")
    perm = view.attr("perm")
    if perm is None or sorted(int(p) for p in perm) != list(range(len(view.in_shapes[0]))):
        view.unsupported(f"perm {perm!r} for input shape {view.in_shapes[0]}")
    return TransposeOp(perm, _out_fmt(view))


@hls4ml_layer("Clone")
def _clone(view):
    # clone_stream copies each value into every output stream (out_data_k[j] = in_data[j], into
    # res_T, one type for every output); the graph writes this one value to every output name
    fn = view.function()
    if fn != "clone_stream":
        view.unsupported(f"function {fn!r}")
    return ReshapeOp(view.out_shape, _out_fmt(view))
