"""Operations that bring several operands into one format: ``concatenate``, ``stack``, ``where``,
``maximum``, ``minimum``, ``clip`` and ``relu``. The common format holds every operand exactly,
so nothing rounds; ``out_fmt`` casts the result."""

from __future__ import annotations

import numbers

import numpy as np

from .array import FixedArray
from ._storage import _as_format
from ._operands import (unify_formats, _operand, _broadcast_shape, _cast_exact, _from_ints, _object_array)
from ._arith import (compare_sign)

def _join(fn, arrays, api, **kwargs) -> FixedArray:
    arrays = [_operand(x, api) for x in arrays]
    if not arrays:
        raise ValueError(f"{api}: need at least one array")
    fmt = unify_formats([x.fmt for x in arrays], api)
    raws = [_cast_exact(x, fmt)._raw for x in arrays]  # one storage dtype (int64 or limbs)
    return FixedArray(np.asarray(fn(raws, **kwargs), order="C"), fmt, _trusted=True)


def concatenate(arrays, axis=0) -> FixedArray:
    """Join FixedArrays along an axis; differing formats unify exactly (see unify_formats).

    Exact: every input is cast losslessly into the common format (``fx.unify_formats``).

    Raises:
        TypeError: an element is a float array or of an unsupported type.
        ValueError: ``arrays`` is empty; NumPy rejects the shapes or the axis; the common
            format would be wider than 1024 bits.
    """
    return _join(np.concatenate, arrays, "fx.concatenate", axis=axis)


def stack(arrays, axis=0) -> FixedArray:
    """Stack FixedArrays along a new axis; differing formats unify exactly.

    Exact: every input is cast losslessly into the common format (``fx.unify_formats``).

    Raises:
        TypeError: an element is a float array or of an unsupported type.
        ValueError: ``arrays`` is empty; NumPy rejects the shapes or the axis; the common
            format would be wider than 1024 bits.
    """
    return _join(np.stack, arrays, "fx.stack", axis=axis)


def where(condition, x, y) -> FixedArray:
    """Elements of x where condition holds, else of y, in the formats' exact union.

    Raises:
        TypeError: ``condition`` is a FixedArray or not of bool dtype; ``x`` or ``y`` is a
            float or of an unsupported type.
        ValueError: the three shapes do not broadcast (all are named).
    """
    api = "fx.where"
    if isinstance(condition, FixedArray):
        raise TypeError(f"{api}: condition must be a boolean array, got a FixedArray")
    cond = np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"{api}: condition must be a boolean array, got dtype {cond.dtype}")
    x = _operand(x, api)
    y = _operand(y, api)
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{api}: shapes could not be broadcast together: condition {cond.shape}, "
                         f"x {x.shape}, y {y.shape}") from None
    fmt = unify_formats([x.fmt, y.fmt], api)
    rx, ry = _cast_exact(x, fmt)._raw, _cast_exact(y, fmt)._raw
    return FixedArray(np.asarray(np.where(cond, rx, ry), order="C"), fmt, _trusted=True)



# ---------------------------------------------------------------------------
# elementwise selects: maximum, minimum, clip, relu
def _constant_in(x, other) -> FixedArray | None:
    """A Python or NumPy integer scalar ``x`` as a 0-d FixedArray in ``other``'s format when
    that format holds it exactly (HLS code writes the constant in the variable's type, as in
    ``x > 0 ? x : T(0)``); None otherwise."""
    if not isinstance(other, FixedArray) or isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        return None
    v, fmt = int(x), other.fmt
    if fmt.f >= 0:
        raw = v << fmt.f
    elif v % (1 << -fmt.f) == 0:
        raw = v >> -fmt.f
    else:
        return None
    if not fmt.raw_min <= raw <= fmt.raw_max:
        return None
    return _from_ints(_object_array([raw], ()), fmt)


def _select_operands(a, b, api: str) -> tuple[FixedArray, FixedArray]:
    ca, cb = _constant_in(a, b), _constant_in(b, a)
    return (ca if ca is not None else _operand(a, api)), (cb if cb is not None else _operand(b, api))


def _select(a, b, keep_a, api: str) -> FixedArray:
    """Elementwise ``a if keep_a(sign(a - b)) else b`` in the exact union of the formats."""
    a, b = _select_operands(a, b, api)
    _broadcast_shape(api, a, b)
    sign = compare_sign(a, b, api)  # exact across formats, any width
    fmt = unify_formats([a.fmt, b.fmt], api)
    ra, rb = _cast_exact(a, fmt)._raw, _cast_exact(b, fmt)._raw
    return FixedArray(np.asarray(np.where(keep_a(sign), ra, rb), order="C"), fmt, _trusted=True)


def _finish(res: FixedArray, out_fmt, seed, api: str) -> FixedArray:
    return res if out_fmt is None else res.cast(_as_format(out_fmt, api), seed=seed)


def maximum(a, b, out_fmt=None, seed=None) -> FixedArray:
    """Elementwise maximum, exact (``np.maximum`` dispatches here).

    The result format is the smallest one that holds every value of both operands' formats
    exactly (``fx.unify_formats``; identical formats are kept with their modes, otherwise
    TRN/WRAP): what the ``?:`` select needs in HLS, where ``a > b ? a : b`` with two
    different ap_fixed types does not compile until both sides share a type. An integer
    constant that the other operand's format holds exactly takes that format, so
    ``fx.maximum(a, 0)`` keeps ``a.fmt``. ``out_fmt`` casts the result (``seed`` for STOCH).

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats first).
        ValueError: the shapes do not broadcast (both are named); the common format would be
            wider than 1024 bits; ``out_fmt`` does not parse.
    """
    api = "fx.maximum"
    return _finish(_select(a, b, lambda s: s >= 0, api), out_fmt, seed, api)


def minimum(a, b, out_fmt=None, seed=None) -> FixedArray:
    """Elementwise minimum, exact (``np.minimum`` dispatches here); the result format is as
    :func:`maximum`'s.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats first).
        ValueError: the shapes do not broadcast (both are named); the common format would be
            wider than 1024 bits; ``out_fmt`` does not parse.
    """
    api = "fx.minimum"
    return _finish(_select(a, b, lambda s: s <= 0, api), out_fmt, seed, api)


def clip(a, a_min=None, a_max=None, out_fmt=None, seed=None) -> FixedArray:
    """``minimum(maximum(a, a_min), a_max)``, exact, as ``np.clip`` (which dispatches here);
    a bound of ``None`` is not applied. The result format is the exact union of the formats
    of ``a`` and the bounds given (integer constants that ``a``'s format holds take it, so
    ``fx.clip(a, -1, 1)`` keeps ``a.fmt`` when it holds -1 and 1). Where ``a_min > a_max``
    the result is ``a_max``, as NumPy's.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats first).
        ValueError: the shapes do not broadcast; the common format would be wider than 1024
            bits; ``out_fmt`` does not parse.
    """
    api = "fx.clip"
    res = a if isinstance(a, FixedArray) else _operand(a, api)
    if a_min is not None:
        res = _select(res, a_min, lambda s: s >= 0, api)
    if a_max is not None:
        res = _select(res, a_max, lambda s: s <= 0, api)
    if res is a:
        res = a.copy()
    return _finish(res, out_fmt, seed, api)


def relu(a, out_fmt=None, seed=None) -> FixedArray:
    """``maximum(a, 0)`` in ``a``'s format, exact: what hls4ml's ``relu`` computes before the
    cast into its result type (``out_fmt`` casts, ``seed`` for STOCH).

    Raises:
        TypeError: ``a`` is a float or of an unsupported type.
        ValueError: ``out_fmt`` does not parse.
    """
    api = "fx.relu"
    a = _operand(a, api)
    return _finish(_select(a, 0, lambda s: s >= 0, api), out_fmt, seed, api)
