"""NumPy protocols for FixedArray: ufuncs and array functions dispatch to exact fixed-point
code; anything else raises TypeError (never a silent float result)."""

from __future__ import annotations

import numpy as np

from . import _arith, _join, _linalg, _operands
from . import _matmul as _dense
from .array import FixedArray

_HINT = "convert explicitly with a.to_float() (or np.asarray(a)) to compute in floating point"


def _unsupported(name: str) -> TypeError:
    return TypeError(f"FixedArray does not support numpy.{name}; {_HINT}")


def _cmp(op):
    # as the operators: ap_fixed.h's result (fx.compare(..., exact=True) for the exact one)
    return lambda a, b: _arith.compare_op(a, b, op, "numpy comparison")


_BINARY = {
    np.add: lambda a, b: _arith._binary("add", a, b, "numpy.add"),
    np.subtract: lambda a, b: _arith._binary("sub", a, b, "numpy.subtract"),
    np.multiply: lambda a, b: _arith._binary("mul", a, b, "numpy.multiply"),
    np.true_divide: lambda a, b: _arith._binary("div", a, b, "numpy.true_divide"),
    np.matmul: lambda a, b: _linalg.matmul(a, b),
    np.equal: _cmp("=="),
    np.not_equal: _cmp("!="),
    np.less: _cmp("<"),
    np.less_equal: _cmp("<="),
    np.greater: _cmp(">"),
    np.greater_equal: _cmp(">="),
    np.maximum: lambda a, b: _join._select(a, b, lambda s: s >= 0, "numpy.maximum"),
    np.minimum: lambda a, b: _join._select(a, b, lambda s: s <= 0, "numpy.minimum"),
    np.fmax: lambda a, b: _join._select(a, b, lambda s: s >= 0, "numpy.fmax"),  # no NaN in fixed point
    np.fmin: lambda a, b: _join._select(a, b, lambda s: s <= 0, "numpy.fmin"),
    np.left_shift: lambda a, b: _arith.shift(_operands._operand(a, "numpy.left_shift"), b, True, "numpy.left_shift"),
    np.right_shift: lambda a, b: _arith.shift(_operands._operand(a, "numpy.right_shift"), b, False, "numpy.right_shift"),
}
_UNARY = {
    np.negative: _arith.negative,
    np.absolute: _arith.absolute,
    np.positive: lambda a: a.copy(),
}


def array_ufunc(ufunc, method, inputs, kwargs):
    name = getattr(ufunc, "__name__", str(ufunc))
    if method != "__call__":
        raise TypeError(f"FixedArray does not support numpy.{name}.{method}; use the FixedArray methods "
                        f"(sum, cumsum, max, min) or {_HINT}")
    if kwargs.get("out") is not None:
        raise TypeError(f"numpy.{name}: out= is not supported for FixedArrays (results have their own format); "
                        f"{_HINT}")
    extra = {k for k, v in kwargs.items() if k != "out" and v is not None}
    if extra:
        raise TypeError(f"numpy.{name}: keyword arguments {sorted(extra)} are not supported for FixedArrays")
    if ufunc in _UNARY and len(inputs) == 1:
        return _UNARY[ufunc](inputs[0])
    if ufunc in _BINARY and len(inputs) == 2:
        return _BINARY[ufunc](*inputs)
    raise _unsupported(name)


# -- array functions -----------------------------------------------------------------------
def _fa(x, api):
    return _operands._operand(x, api)


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _no_extra("sum", dtype=dtype, out=out, **kw)
    return _fa(a, "numpy.sum").sum(axis=axis, keepdims=bool(keepdims))


def _cumsum(a, axis=None, dtype=None, out=None):
    _no_extra("cumsum", dtype=dtype, out=out)
    return _fa(a, "numpy.cumsum").cumsum(axis=axis)


def _max(a, axis=None, out=None, keepdims=False, **kw):
    _no_extra("max", out=out, **kw)
    return _fa(a, "numpy.max").max(axis=axis, keepdims=bool(keepdims))


def _min(a, axis=None, out=None, keepdims=False, **kw):
    _no_extra("min", out=out, **kw)
    return _fa(a, "numpy.min").min(axis=axis, keepdims=bool(keepdims))


def _argmax(a, axis=None, out=None, **kw):
    _no_extra("argmax", out=out, **kw)
    return _fa(a, "numpy.argmax").argmax(axis=axis)


def _argmin(a, axis=None, out=None, **kw):
    _no_extra("argmin", out=out, **kw)
    return _fa(a, "numpy.argmin").argmin(axis=axis)


def _no_extra(name, **kw):
    bad = sorted(k for k, v in kw.items() if v is not None and v is not np._NoValue)
    if bad:
        raise TypeError(f"numpy.{name}: arguments {bad} are not supported for FixedArrays")


def _concatenate(arrays, axis=0, out=None, **kw):
    _no_extra("concatenate", out=out, **kw)
    return _join.concatenate(arrays, axis=axis)


def _stack(arrays, axis=0, out=None, **kw):
    _no_extra("stack", out=out, **kw)
    return _join.stack(arrays, axis=axis)


def _where(condition, x=None, y=None):
    if x is None and y is None:
        raise TypeError(f"numpy.where(condition) on a FixedArray condition is not supported; {_HINT}")
    return _join.where(condition, x, y)


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue, max=np._NoValue, **kw):
    _no_extra("clip", out=out, **kw)
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    lo = None if lo is np._NoValue else lo
    hi = None if hi is np._NoValue else hi
    return _join.clip(a, lo, hi)


def _matmul(a, b, out=None, **kw):
    _no_extra("matmul", out=out, **kw)
    return _linalg.matmul(a, b)


def _dot(a, b, out=None):
    _no_extra("dot", out=out)
    return _dense.dot(a, b)


def _outer(a, b, out=None):
    _no_extra("outer", out=out)
    return _dense.outer(a, b)


def _reshape(a, *args, **kwargs):
    shape = kwargs.pop("shape", kwargs.pop("newshape", None))
    if shape is None:
        shape = args[0]
    _no_extra("reshape", **{k: v for k, v in kwargs.items() if k != "order" or v != "C"})
    return _fa(a, "numpy.reshape").reshape(shape)


def _transpose(a, axes=None):
    return _fa(a, "numpy.transpose").transpose(axes) if axes is not None else _fa(a, "numpy.transpose").T


def _swapaxes(a, axis1, axis2):
    return _fa(a, "numpy.swapaxes").swapaxes(axis1, axis2)


def _ravel(a, order="C"):
    if order != "C":
        raise TypeError("numpy.ravel: only order='C' is supported for FixedArrays")
    return _fa(a, "numpy.ravel").ravel()


def _copy(a, order="K", subok=False):
    return _fa(a, "numpy.copy").copy()


def _squeeze(a, axis=None):
    return _fa(a, "numpy.squeeze").squeeze(axis)


def _expand_dims(a, axis):
    a = _fa(a, "numpy.expand_dims")
    return FixedArray(np.expand_dims(a._raw, axis), a.fmt, _trusted=True)


def _broadcast_to(array, shape, subok=False):
    a = _fa(array, "numpy.broadcast_to")
    return FixedArray(np.broadcast_to(a._raw, shape), a.fmt, _trusted=True)


def _shape(a):
    return a.shape


def _ndim(a):
    return a.ndim


def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


def _array_equal(a1, a2, equal_nan=False):
    try:
        a1 = _fa(a1, "numpy.array_equal")
        a2 = _fa(a2, "numpy.array_equal")
    except TypeError:
        return False
    if a1.shape != a2.shape:
        return False
    return bool(np.all(_arith.compare_sign(a1, a2, "numpy.array_equal") == 0))


def _negative(a):
    return _arith.negative(a)


_FUNCTIONS = {
    np.sum: _sum,
    np.cumsum: _cumsum,
    np.max: _max,
    np.amax: _max,
    np.min: _min,
    np.amin: _min,
    np.argmax: _argmax,
    np.argmin: _argmin,
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.where: _where,
    np.clip: _clip,
    np.matmul: _matmul,
    np.dot: _dot,
    np.outer: _outer,
    np.reshape: _reshape,
    np.transpose: _transpose,
    np.swapaxes: _swapaxes,
    np.ravel: _ravel,
    np.copy: _copy,
    np.squeeze: _squeeze,
    np.expand_dims: _expand_dims,
    np.broadcast_to: _broadcast_to,
    np.shape: _shape,
    np.ndim: _ndim,
    np.size: _size,
    np.array_equal: _array_equal,
}


def array_function(func, types, args, kwargs):
    impl = _FUNCTIONS.get(func)
    if impl is None:
        raise _unsupported(getattr(func, "__name__", str(func)))
    return impl(*args, **kwargs)
