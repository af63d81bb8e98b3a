"""Exact reductions of FixedArrays along axes: ``sum`` and ``cumsum`` (the format grows by
``ceil(log2 K)`` integer bits for K terms), ``max``/``min`` and ``argmax``/``argmin``."""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from .array import FixedArray, _wrap_limbs
from ._storage import _flat_limbs, _native
from ._operands import (_make_fixed, _object_array, _ints, _obj, _from_ints, _growth)

def _axis_len(shape: tuple, axis) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return int(np.prod([shape[ax] for ax in axes], dtype=np.int64))


def _norm_axis(api: str, ndim: int, axis):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) and not isinstance(axis, bool) else tuple(axis)
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, numbers.Integral) or not -ndim <= ax < ndim:
            raise ValueError(f"{api}: axis {ax!r} is out of bounds for an array of dimension {ndim}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{api}: repeated axis in {axis!r}")
    return out[0] if isinstance(axis, numbers.Integral) else tuple(out)


def sum_(a: FixedArray, axis=None, keepdims=False) -> FixedArray:
    api = "FixedArray.sum"
    axis = _norm_axis(api, a.ndim, axis)
    g = _growth(_axis_len(a.shape, axis))
    fmt = _make_fixed(api, a.fmt.w + g, a.fmt.i + g, a.fmt.signed, "sum")
    ints = _ints(a) if _native(a.fmt) else None
    if _native(fmt) and ints.dtype != np.uint64:
        return _from_ints(np.sum(ints, axis=axis, keepdims=keepdims, dtype=np.int64), fmt)
    if not _native(fmt):  # the multi-limb kernel: move the summed axes last, one row per result
        axes = tuple(range(a.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        keep = tuple(d for d in range(a.ndim) if d not in axes)
        out_shape = tuple(a.shape[d] for d in keep)
        K = int(np.prod([a.shape[d] for d in axes], dtype=np.int64))
        rows = int(np.prod(out_shape, dtype=np.int64))
        moved = FixedArray(np.ascontiguousarray(a._raw.transpose(keep + axes)), a.fmt, _trusted=True)
        res = _wrap_limbs(_backend.wide_sum_rows(_flat_limbs(moved), a.fmt, rows, K, fmt.w),
                          out_shape, fmt)
        if keepdims:
            res = res.reshape(tuple(1 if d in axes else a.shape[d] for d in range(a.ndim)))
        return res
    res = np.sum(_obj(a), axis=axis, keepdims=keepdims)
    res = np.asarray(res, dtype=object) if not isinstance(res, np.ndarray) else res
    if res.shape == () and not isinstance(res, np.ndarray):
        res = _object_array([res], ())
    if res.dtype != object or (res.size and not isinstance(res.reshape(-1)[0], int)):
        res = _object_array([int(v) for v in np.asarray(res).reshape(-1)], np.shape(res))
    return _from_ints(res, fmt)


def cumsum(a: FixedArray, axis=None) -> FixedArray:
    api = "FixedArray.cumsum"
    if axis is not None:
        axis = _norm_axis(api, a.ndim, axis)
        if isinstance(axis, tuple):
            raise ValueError(f"{api}: axis must be an int or None, got {axis!r}")
    g = _growth(_axis_len(a.shape, axis))
    fmt = _make_fixed(api, a.fmt.w + g, a.fmt.i + g, a.fmt.signed, "cumulative sum")
    ints = _ints(a)
    if _native(fmt) and ints.dtype != np.uint64:
        return _from_ints(np.cumsum(ints, axis=axis, dtype=np.int64), fmt)
    return _from_ints(np.cumsum(_obj(a), axis=axis), fmt)


def _extreme(a: FixedArray, fn, axis, keepdims, api) -> FixedArray:
    if a.size == 0:
        raise ValueError(f"{api}: zero-size array has no {fn.__name__.lstrip('a')}")
    axis = _norm_axis(api, a.ndim, axis)
    fmt = a.fmt
    res = fn(_ints(a), axis=axis, keepdims=keepdims)
    res = np.asarray(res, dtype=object if not _native(fmt) else None)
    return _from_ints(res, fmt)


def max_(a, axis=None, keepdims=False):
    return _extreme(a, np.max, axis, keepdims, "FixedArray.max")


def min_(a, axis=None, keepdims=False):
    return _extreme(a, np.min, axis, keepdims, "FixedArray.min")


def _arg(a: FixedArray, fn, axis, api):
    if a.size == 0:
        raise ValueError(f"{api}: attempt to get {fn.__name__} of an empty sequence")
    if axis is not None:
        axis = _norm_axis(api, a.ndim, axis)
        if isinstance(axis, tuple):
            raise ValueError(f"{api}: axis must be an int or None, got {axis!r}")
    ints = _ints(a)
    if ints.dtype == object:  # np.argmax on object arrays compares Python ints exactly
        return fn(ints, axis=axis)
    return fn(ints, axis=axis)


def argmax(a, axis=None):
    return _arg(a, np.argmax, axis, "FixedArray.argmax")


def argmin(a, axis=None):
    return _arg(a, np.argmin, axis, "FixedArray.argmin")
