"""Merge layers: what ``nnet_merge.h`` and ``nnet_merge_stream.h`` compute, and io_stream's
Broadcast (``nnet_stream.h``) that hls4ml inserts before a merge of differently shaped streams.

- ``add`` / ``subtract`` / ``multiply``: ``res[i] = data1[i] op data2[i]``, the operation in
  ap_fixed's natural (full-precision) result format, then one cast into ``res_T``. io_parallel
  reads ``data1[i % n_elem1]`` and ``data2[i % n_elem2]`` for ``i < max(n_elem1, n_elem2)``
  (a flat-index broadcast, reproduced as it is, also where it is not a numpy broadcast);
- ``average``: ``(data1 + data2) * ap_ufixed<1,0>(0.5)``, the exact half of the exact sum (one
  more fraction bit), then the cast;
- ``maximum`` / ``minimum``: ``data1 > data2 ? (res_T) data1 : (res_T) data2`` (``<`` for the
  minimum): ap_fixed's comparison (exact, except between a signed and an unsigned input of 32
  or more bits, where it follows C's integer rules: docs/modes.md, quirks), then the chosen
  value's cast;
- ``dot1d`` (class Dot): ``mult[k] = (accum_t)(data1[k] * data2[k])``, ``acc = 0`` then
  ``acc = (accum_t)(acc + mult[k])`` for k ascending, ``res[0] = (res_T) acc``;
- ``concatenate{1,2,3}d`` (class Concatenate): each value assigned (cast) into ``res_T``,
  along the per-sample axis the template's ``axis`` constant selects (``-1`` and the rank are
  the last axis, ``2``/``-2`` the middle one of three, anything else the first).
"""

from __future__ import annotations

import numpy as np

from ..format import Fixed
from ._raw import cast_raw, is_wide, raw_ok, storage, wrap
from .registry import hls4ml_layer
from ..quantize import array
from .._operands import result_format
from .._arith import compare_op

__all__ = ["MergeOp", "DotOp", "ConcatOp", "BroadcastOp"]

_HALF = None  # ap_ufixed<1,0>(0.5) as a FixedArray, made on first use
_ELEMENTWISE = ("add", "subtract", "multiply", "average", "maximum", "minimum")


def _half():
    global _HALF
    if _HALF is None:
        _HALF = array(np.array(0.5), Fixed(1, 0, signed=False))
    return _HALF


def _native(*pairs) -> bool:
    """Every raw is an int64 array (not limbs) of a format the int64 engine holds (w <= 63)."""
    return all(not is_wide(r) and raw_ok(f) for r, f in pairs)


class MergeOp:
    """One element-wise merge of two tensors (``op`` in add, subtract, multiply, average,
    maximum, minimum) into ``res_t``. ``n1``, ``n2``: the flat sizes of the inputs; the result
    has ``max(n1, n2)`` values per sample (``data_k[i % n_k]``), in ``out_shape``.

    Raises:
        ValueError: an unknown op, or an ``out_shape`` that does not hold ``max(n1, n2)`` values.
    """

    __slots__ = ("op", "res_t", "n1", "n2", "out_shape")

    def __init__(self, op, res_t, n1, n2, out_shape):
        if op not in _ELEMENTWISE:
            raise ValueError(f"MergeOp: unknown op {op!r} (one of {', '.join(_ELEMENTWISE)})")
        self.op, self.res_t, self.n1, self.n2 = op, res_t, int(n1), int(n2)
        self.out_shape = tuple(int(d) for d in out_shape)
        if int(np.prod(self.out_shape)) != max(self.n1, self.n2):
            raise ValueError(f"MergeOp: output shape {self.out_shape} for inputs of {n1} and {n2} values")

    def _operands(self, a, b):
        n = max(self.n1, self.n2)
        a = a.reshape(a.shape[0], self.n1)
        b = b.reshape(b.shape[0], self.n2)
        if self.n1 != n:
            a = a[:, np.arange(n) % self.n1]
        if self.n2 != n:
            b = b[:, np.arange(n) % self.n2]
        return a, b

    def __call__(self, a, a_fmt, b, b_fmt):
        a, b = self._operands(a, b)
        op, res_t = self.op, self.res_t
        if op in ("maximum", "minimum"):
            out = self._select(a, a_fmt, b, b_fmt)
        else:
            kind = {"add": "add", "average": "add", "subtract": "sub", "multiply": "mul"}[op]
            nat = result_format(kind, a_fmt, b_fmt)
            if _native((a, a_fmt), (b, b_fmt)) and raw_ok(nat, res_t) and (op != "average" or nat.w < 63):
                if kind == "mul":
                    exact = a * b  # |a * b| < 2^(nat.w - 1): exact in int64
                else:
                    x = a << (nat.f - a_fmt.f) if nat.f != a_fmt.f else a
                    y = b << (nat.f - b_fmt.f) if nat.f != b_fmt.f else b
                    exact = x + y if kind == "add" else x - y
                if op == "average":  # times ap_ufixed<1,0>(0.5) (stored 1): the same integers, one more fraction bit
                    nat = result_format("mul", nat, Fixed(1, 0, signed=False))
                out = cast_raw(exact, nat, res_t)
            else:  # wide formats: exact FixedArray arithmetic
                x, y = wrap(a, a_fmt), wrap(b, b_fmt)
                exact = x * y if kind == "mul" else (x + y if kind == "add" else x - y)
                if op == "average":
                    exact = exact * _half()
                out = storage(exact.cast(res_t))
        return out.reshape((out.shape[0],) + self.out_shape), res_t

    def _select(self, a, a_fmt, b, b_fmt):
        common = result_format("sub", a_fmt, b_fmt)  # holds both exactly
        if a_fmt.signed != b_fmt.signed:  # the header's mixed-signedness comparison
            first = compare_op(wrap(a, a_fmt), wrap(b, b_fmt), ">" if self.op == "maximum" else "<",
                               f"hls4ml {self.op} merge")
        elif _native((a, a_fmt), (b, b_fmt)) and raw_ok(common):
            x = a << (common.f - a_fmt.f) if common.f != a_fmt.f else a
            y = b << (common.f - b_fmt.f) if common.f != b_fmt.f else b
            first = x > y if self.op == "maximum" else x < y
        else:
            x, y = wrap(a, a_fmt), wrap(b, b_fmt)
            first = np.asarray(x > y if self.op == "maximum" else x < y)
        # the chosen value's own cast: (res_T) data1 or (res_T) data2
        ca, cb = cast_raw(a, a_fmt, self.res_t), cast_raw(b, b_fmt, self.res_t)
        return np.where(first, ca, cb)


class DotOp:
    """``nnet::dot1d``: per sample, ``acc = 0``; ``acc = (accum_t)(acc + (accum_t)(a[k] * b[k]))``
    for k ascending; ``(res_t) acc``, one value."""

    __slots__ = ("acc_t", "res_t")

    def __init__(self, acc_t, res_t):
        self.acc_t, self.res_t = acc_t, res_t

    def __call__(self, a, a_fmt, b, b_fmt):
        m = a.shape[0]
        a, b = a.reshape(m, -1), b.reshape(m, -1)
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"DotOp: inputs of {a.shape[1]} and {b.shape[1]} values")
        acc_t, res_t = self.acc_t, self.res_t
        prod = result_format("mul", a_fmt, b_fmt)
        total = result_format("add", acc_t, acc_t)
        if _native((a, a_fmt), (b, b_fmt)) and raw_ok(prod, total, res_t):
            mult = cast_raw(a * b, prod, acc_t)
            acc = np.zeros(m, np.int64)
            for k in range(mult.shape[1]):  # the same fraction bits: the sum is exact in total
                acc = cast_raw(acc + mult[:, k], total, acc_t)
            out = cast_raw(acc, acc_t, res_t)
        else:
            x, y = wrap(a, a_fmt), wrap(b, b_fmt)
            mult = (x * y).cast(acc_t)
            acc = wrap(storage(mult)[:, :1] * 0, acc_t)
            for k in range(mult.shape[1]):
                acc = (acc + mult[:, k:k + 1]).cast(acc_t)
            out = storage(acc.cast(res_t)).reshape(m)
        return out.reshape(m, 1), res_t


class ConcatOp:
    """Both inputs cast into ``res_t`` and joined along per-sample axis ``axis`` (0-based)."""

    __slots__ = ("axis", "shape1", "shape2", "res_t")

    def __init__(self, axis, shape1, shape2, res_t):
        self.axis, self.res_t = int(axis), res_t
        self.shape1, self.shape2 = tuple(int(d) for d in shape1), tuple(int(d) for d in shape2)

    def __call__(self, a, a_fmt, b, b_fmt):
        m = a.shape[0]
        ca = cast_raw(a.reshape((m,) + self.shape1), a_fmt, self.res_t)
        cb = cast_raw(b.reshape((m,) + self.shape2), b_fmt, self.res_t)
        if ca.dtype != cb.dtype:  # one object array: keep Python ints throughout
            ca, cb = ca.astype(object), cb.astype(object)
        return np.concatenate([ca, cb], axis=self.axis + 1), self.res_t


class BroadcastOp:
    """``nnet::broadcast_stream``: (1, 1, C) -> (H, W, C) repeats the pixel, (H, W, 1) -> (H, W, C)
    repeats each pixel's value over the channels; each value assigned (cast) into ``res_t``."""

    __slots__ = ("in_shape", "out_shape", "res_t")

    def __init__(self, in_shape, out_shape, res_t):
        self.in_shape, self.out_shape = tuple(int(d) for d in in_shape), tuple(int(d) for d in out_shape)
        self.res_t = res_t

    def __call__(self, x, x_fmt):
        x = x.reshape((x.shape[0],) + self.in_shape)
        out = np.broadcast_to(x, (x.shape[0],) + self.out_shape).copy()
        return cast_raw(out, x_fmt, self.res_t), self.res_t


def _two_inputs(view):
    if len(view.in_shapes) != 2:
        view.unsupported(f"{len(view.in_shapes)} inputs (the templates merge two)")
    return view.in_shapes


@hls4ml_layer("Merge")
def _merge(view):
    op = str(view.attr("op", "")).lower()
    if op not in _ELEMENTWISE:
        view.unsupported(f"op {op!r}")
    fn = view.function()
    if fn != op:
        view.unsupported(f"function {fn!r} for op {op!r}")
    s1, s2 = _two_inputs(view)
    n1, n2 = int(np.prod(s1)), int(np.prod(s2))
    if view.io_type == "io_stream" and n1 != n2:
        view.unsupported(f"an io_stream merge of {s1} and {s2} (hls4ml inserts a Broadcast)")
    if int(np.prod(view.out_shape)) != max(n1, n2):
        view.unsupported(f"output shape {view.out_shape} for inputs {s1} and {s2}")
    return MergeOp(op, view.fmt("result_t"), n1, n2, view.out_shape)


@hls4ml_layer("Dot")
def _dot(view):
    op = str(view.attr("op", "")).lower()
    if op != "dot1d" or view.function() != "dot1d":
        view.unsupported(f"op {op!r} (function {view.function()!r}); only dot1d is emulated")
    s1, s2 = _two_inputs(view)
    if len(s1) != 1 or s1 != s2:
        view.unsupported(f"inputs {s1} and {s2} (dot1d takes two vectors of one length)")
    cfg = str(view.attr("config_cpp", "") or "")
    if cfg and "nnet::product::mult<" not in cfg:
        view.unsupported("a product other than nnet::product::mult (binary, ternary or exponential inputs)")
    return DotOp(view.fmt("accum_t"), view.fmt("result_t"))


@hls4ml_layer("Concatenate")
def _concatenate(view):
    s1, s2 = _two_inputs(view)
    rank = len(s1)
    fn = view.function()
    if rank not in (1, 2, 3) or len(s2) != rank or fn != f"concatenate{rank}d":
        view.unsupported(f"function {fn!r} for inputs {s1} and {s2}")
    axis = int(view.attr("axis", -1))
    if rank == 1:
        k = 0
    elif rank == 2:
        k = 1 if axis in (2, -1) else 0
    else:
        k = 2 if axis in (3, -1) else 1 if axis in (2, -2) else 0
    want = list(s1)
    want[k] += s2[k]
    if any(s1[d] != s2[d] for d in range(rank) if d != k) or tuple(want) != tuple(view.out_shape):
        view.unsupported(f"axis {axis} for inputs {s1} and {s2} and output {view.out_shape}")
    return ConcatOp(k, s1, s2, view.fmt("result_t"))


@hls4ml_layer("Broadcast")
def _broadcast(view):
    if view.function() != "broadcast_stream":
        view.unsupported(f"function {view.function()!r}")
    (s,) = view.in_shapes
    t = tuple(view.out_shape)
    ok = len(s) == 3 == len(t) and ((s[0] == s[1] == 1 and s[2] == t[2]) or (s[2] == 1 and s[:2] == t[:2]))
    if not ok:
        view.unsupported(f"broadcast of {s} to {t}")
    return BroadcastOp(s, t, view.fmt("result_t"))
