"""FixedArray's computing methods: the arithmetic operators, comparisons, reductions and NumPy
protocols, and assignment (which quantizes). They are defined here and attached to the class
(array.py holds the data, views and conversions) because they call the operation modules, which
construct FixedArrays: array.py cannot import them without an import cycle. Importing
fixedpoint attaches them.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _arith, _join, _linalg, _protocol, _reduce
from . import _matmul as _dense
from .array import FixedArray, _holds, _index_key
from .quantize import array


def __setitem__(self, key, value) -> None:
    api = "FixedArray.__setitem__"
    key = _index_key(key, api)
    fmt = self._fmt
    if isinstance(value, FixedArray):
        src = value.fmt
        if src != fmt and not _holds(fmt, src):
            raise ValueError(
                f"{api}: format mismatch: {src} values do not all fit {fmt} exactly; "
                "cast explicitly with value.cast(a.fmt)"
            )
        value = value.cast(fmt.replace(q="TRN", o="WRAP", n=0)) if src != fmt else value
        raw = value._raw
    else:
        raw = array(value, fmt)._raw
    if raw.dtype != self._raw.dtype:
        raw = raw.astype(self._raw.dtype)
    self._raw[key] = raw


def __add__(self, other):
    return _arith._binary("add", self, other, "FixedArray.__add__")


def __radd__(self, other):
    return _arith._binary("add", other, self, "FixedArray.__radd__")


def __sub__(self, other):
    return _arith._binary("sub", self, other, "FixedArray.__sub__")


def __rsub__(self, other):
    return _arith._binary("sub", other, self, "FixedArray.__rsub__")


def __mul__(self, other):
    return _arith._binary("mul", self, other, "FixedArray.__mul__")


def __rmul__(self, other):
    return _arith._binary("mul", other, self, "FixedArray.__rmul__")


def __truediv__(self, other):
    return _arith._binary("div", self, other, "FixedArray.__truediv__")


def __rtruediv__(self, other):
    return _arith._binary("div", other, self, "FixedArray.__rtruediv__")


def __matmul__(self, other):
    return _linalg.matmul(self, other)


def __rmatmul__(self, other):
    return _linalg.matmul(other, self)


def __neg__(self):
    return _arith.negative(self)


def __abs__(self):
    return _arith.absolute(self)


def __lshift__(self, k):
    return _arith.shift(self, k, True, "FixedArray.__lshift__")


def __rshift__(self, k):
    return _arith.shift(self, k, False, "FixedArray.__rshift__")


def _compare(self, other, api, op):
    # ap_fixed.h's result (mixed signedness can differ from the exact one: fx.compare)
    try:
        return _arith.compare_op(self, other, op, api)
    except TypeError:
        if isinstance(other, (FixedArray, numbers.Number, np.ndarray, list, tuple)):
            raise
        return NotImplemented


def __eq__(self, other):
    return _compare(self, other, "FixedArray.__eq__", "==")


def __ne__(self, other):
    return _compare(self, other, "FixedArray.__ne__", "!=")


def __lt__(self, other):
    return _compare(self, other, "FixedArray.__lt__", "<")


def __le__(self, other):
    return _compare(self, other, "FixedArray.__le__", "<=")


def __gt__(self, other):
    return _compare(self, other, "FixedArray.__gt__", ">")


def __ge__(self, other):
    return _compare(self, other, "FixedArray.__ge__", ">=")


def sum(self, axis=None, keepdims=False) -> FixedArray:
    """Exact sum; the format grows by ceil(log2 K) integer bits for K summed terms.

    Raises:
        ValueError: an axis is out of bounds or repeated.
    """
    return _reduce.sum_(self, axis=axis, keepdims=keepdims)


def cumsum(self, axis=None) -> FixedArray:
    """Exact running sums (flattened when axis is None), grown like sum.

    Raises:
        ValueError: ``axis`` is not an int or None, or is out of bounds.
    """
    return _reduce.cumsum(self, axis=axis)


def max(self, axis=None, keepdims=False) -> FixedArray:
    """The largest element(s), exact, in the same format.

    Raises:
        ValueError: the array (or the reduced axis) is empty, or an axis is invalid.
    """
    return _reduce.max_(self, axis=axis, keepdims=keepdims)


def min(self, axis=None, keepdims=False) -> FixedArray:
    """The smallest element(s), exact, in the same format.

    Raises:
        ValueError: the array (or the reduced axis) is empty, or an axis is invalid.
    """
    return _reduce.min_(self, axis=axis, keepdims=keepdims)


def argmax(self, axis=None):
    """Index of the largest element (first on ties), compared exactly.

    Raises:
        ValueError: the array is empty, or ``axis`` is not an int or None.
    """
    return _reduce.argmax(self, axis=axis)


def argmin(self, axis=None):
    """Index of the smallest element (first on ties), compared exactly.

    Raises:
        ValueError: the array is empty, or ``axis`` is not an int or None.
    """
    return _reduce.argmin(self, axis=axis)


def clip(self, a_min=None, a_max=None) -> FixedArray:
    """``fx.clip(self, a_min, a_max)``: exact, see :func:`fixedpoint.clip`."""
    return _join.clip(self, a_min, a_max)


def dot(self, other) -> FixedArray:
    """``fx.dot(self, other)``: exact, see :func:`fixedpoint.dot`."""
    return _dense.dot(self, other)


def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    return _protocol.array_ufunc(ufunc, method, inputs, kwargs)


def __array_function__(self, func, types, args, kwargs):
    return _protocol.array_function(func, types, args, kwargs)


_METHODS = (
    __setitem__,
    __add__,
    __radd__,
    __sub__,
    __rsub__,
    __mul__,
    __rmul__,
    __truediv__,
    __rtruediv__,
    __matmul__,
    __rmatmul__,
    __neg__,
    __abs__,
    __lshift__,
    __rshift__,
    __eq__,
    __ne__,
    __lt__,
    __le__,
    __gt__,
    __ge__,
    sum,
    cumsum,
    max,
    min,
    argmax,
    argmin,
    clip,
    dot,
    __array_ufunc__,
    __array_function__,
)

for _fn in _METHODS:
    _fn.__qualname__ = f"FixedArray.{_fn.__name__}"
    setattr(FixedArray, _fn.__name__, _fn)
