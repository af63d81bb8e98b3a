"""Result formats and operand coercion, shared by every operation: the natural ap_fixed format
of each operation (from the core's ``natural_format``), format unification, Python and NumPy
integers as FixedArrays (floats are refused: they need an explicit format), and the stored
integers as int64, limbs or Python ints."""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from .array import FixedArray
from ._storage import _as_format, _native, _native_order
from .format import MAX_INT_BITS, MAX_WIDTH, Fixed

_NATIVE_ARITH_MAX_W = _backend.ARITH_MAX_NATURAL_WIDTH  # natural widths the C++ kernel holds in 128-bit integers
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_RESULT_OPS = ("add", "sub", "mul", "div", "neg", "cmp")


# ---------------------------------------------------------------------------
# formats
def _make_fixed(api: str, w: int, i: int, signed: bool, what: str) -> Fixed:
    if w > MAX_WIDTH:
        raise ValueError(
            f"{api}: the exact {what} needs {w} bits (ap_fixed<{w},{i}>), more than the "
            f"{MAX_WIDTH}-bit limit (ap_fixed's AP_INT_MAX_W); cast an operand to a narrower format first"
        )
    if not -MAX_INT_BITS <= i <= MAX_INT_BITS:
        raise ValueError(
            f"{api}: the exact {what} needs {i} integer bits (ap_fixed<{w},{i}>), outside the "
            f"[-2**20, 2**20] bound on i (fx.format.MAX_INT_BITS); cast an operand to a format whose i is "
            "nearer 0 first"
        )
    return Fixed(w, i, signed=signed)


def result_format(op: str, a: Fixed, b: Fixed | None = None, *, api: str = "fx.result_format") -> Fixed:
    """The natural (full-precision) ap_fixed result format of ``a op b``.

    ``op`` is one of ``"add"``, ``"sub"``, ``"mul"``, ``"div"``, ``"neg"``; ``a`` and ``b``
    are formats (``Fixed``) or type strings such as ``"ap_fixed<8,4>"``. The result has
    TRN/WRAP modes. These are the rules of ``ap_fixed.h`` (see docs/arrays.md).

    Raises:
        TypeError: ``a`` or ``b`` is neither a ``Fixed`` nor a string.
        ValueError: a two-operand op without ``b``; an unknown ``op``; a format string that
            does not parse; a result wider than 1024 bits (ap_fixed's ``AP_INT_MAX_W``) or
            with ``|i| > 2**20`` (``fx.format.MAX_INT_BITS``).
    """
    if op not in _RESULT_OPS:
        raise ValueError(f"{api}: unknown op {op!r}; expected one of {', '.join(map(repr, _RESULT_OPS[:5]))}")
    a = _as_format(a, api)
    b = None if b is None else _as_format(b, api)
    if op == "neg":
        return _make_fixed(api, a.w + 1, a.i + 1, True, "negation")
    if b is None:
        raise ValueError(f"{api}: op {op!r} takes two formats")
    w, i, s, _ = _backend.natural_format(op, a, b)
    return _make_fixed(api, w, i, s, "result of " + _SYMBOLS.get(op, op))


def unify_formats(fmts, api: str = "fx.unify_formats") -> Fixed:
    """The smallest format holding every value of every format in ``fmts`` exactly.

    ``fmts`` holds formats (``Fixed``) or type strings. Identical formats unify to themselves
    (modes kept); otherwise the result has TRN/WRAP modes.

    Raises:
        TypeError: an element is neither a ``Fixed`` nor a string.
        ValueError: ``fmts`` is empty; a format string does not parse; the union is wider than
            1024 bits.
    """
    fmts = [_as_format(f, api) for f in fmts]
    if not fmts:
        raise ValueError(f"{api}: need at least one format")
    if all(f == fmts[0] for f in fmts):
        return fmts[0]
    signed = any(f.signed for f in fmts)
    frac = max(f.f for f in fmts)
    integer = max(f.i + (1 if signed and not f.signed else 0) for f in fmts)
    return _make_fixed(api, integer + frac, integer, signed, "common format")


def _int_format(v: int) -> Fixed:
    """The smallest format holding the Python int v: ap_uint<bits> for v >= 0, else ap_int<bits>."""
    if v >= 0:
        w = max(1, v.bit_length())
        return Fixed(w, w, signed=False)
    w = (-v - 1).bit_length() + 1
    return Fixed(w, w, signed=True)


_DTYPE_FORMATS = {
    np.dtype(np.bool_): (1, False),
    np.dtype(np.int8): (8, True),
    np.dtype(np.int16): (16, True),
    np.dtype(np.int32): (32, True),
    np.dtype(np.int64): (64, True),
    np.dtype(np.uint8): (8, False),
    np.dtype(np.uint16): (16, False),
    np.dtype(np.uint32): (32, False),
    np.dtype(np.uint64): (64, False),
}


def _operand(x, api: str) -> FixedArray:
    """A FixedArray for an operand: FixedArrays as they are, Python ints in the smallest format
    that holds them, NumPy integer arrays as exact integers of their dtype's width."""
    if isinstance(x, FixedArray):
        return x
    if isinstance(x, (bool, np.bool_)):
        return FixedArray(np.array(int(x), dtype=np.int64), Fixed(1, 1, signed=False), _trusted=True)
    if isinstance(x, numbers.Integral) and not isinstance(x, np.integer):
        v = int(x)
        fmt = _int_format(v)
        # the stored bits: a 64-bit unsigned value above 2**63 is kept as its int64 bit pattern
        raw = np.array(v - (1 << 64) if v >= 1 << 63 else v, dtype=np.int64) if fmt.w <= 64 \
            else _object_array([v], ())
        return FixedArray(raw, fmt, _trusted=True)
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        raise TypeError(
            f"{api}: a float operand needs an explicit fixed-point format; quantize it first, e.g. "
            "fx.array(x, fmt) (floats are never mixed in silently)"
        )
    arr = _native_order(np.asarray(x))  # '>i4' means its values, as '<i4' does
    if arr.dtype in _DTYPE_FORMATS:
        w, s = _DTYPE_FORMATS[arr.dtype]
        raw = arr.astype(np.uint64).view(np.int64) if arr.dtype == np.uint64 else arr.astype(np.int64)
        return FixedArray(np.asarray(raw, order="C"), Fixed(w, w, signed=s), _trusted=True)
    if arr.dtype.kind == "f":
        raise TypeError(
            f"{api}: a float operand needs an explicit fixed-point format; quantize it first, e.g. "
            "fx.array(x, fmt) (floats are never mixed in silently)"
        )
    if arr.dtype.kind == "O" and arr.size and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr.reshape(-1)
    ):
        vals = [int(v) for v in arr.reshape(-1)]
        fmt = unify_formats([_int_format(v) for v in vals], api)
        return _from_ints(_object_array(vals, arr.shape), fmt)  # unify_formats holds every value
    raise TypeError(f"{api}: unsupported operand of type {type(x).__name__}; expected a FixedArray, "
                    "an int or an integer array")


# ---------------------------------------------------------------------------
# integer views of raws
def _object_array(values, shape) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out.reshape(shape)


def _ints(x: FixedArray) -> np.ndarray:
    """The stored integers with their true values: int64, uint64 (64-bit unsigned) or object."""
    return x.raw


def _obj(x: FixedArray) -> np.ndarray:
    """The stored integers as an object array of Python ints."""
    r = x.raw
    if r.dtype == object:
        return r
    return _object_array([int(v) for v in r.reshape(-1)], r.shape) if r.size else np.empty(r.shape, dtype=object)


def _from_ints(values: np.ndarray, fmt: Fixed) -> FixedArray:
    """A FixedArray from exact integer values that lie in fmt's range (trusted)."""
    values = np.asarray(values)
    if _native(fmt):
        if values.dtype == object:
            dt = np.uint64 if (not fmt.signed and fmt.w == 64) else np.int64
            stored = np.array([int(v) for v in values.reshape(-1)], dtype=dt).reshape(values.shape)
            stored = stored.view(np.int64)
        elif values.dtype == np.uint64:
            stored = values.view(np.int64)
        else:
            stored = values.astype(np.int64, copy=False)
        return FixedArray(np.asarray(stored, order="C"), fmt, _trusted=True)
    # int64/uint64 values go to the limb storage in one vectorized pass (array._to_limbs); only
    # Python ints take the per-element path
    return FixedArray(values, fmt, _trusted=True)


def _wrap_obj(v: np.ndarray, w: int, signed: bool) -> np.ndarray:
    mask = (1 << w) - 1
    out = v & mask
    if signed:
        half = 1 << (w - 1)
        out = np.where(out >= half, out - (1 << w), out)
    return out


def _first_index(mask: np.ndarray) -> tuple:
    k = int(np.flatnonzero(mask.reshape(-1))[0])
    return tuple(int(v) for v in np.unravel_index(k, mask.shape)) if mask.ndim else ()


# ---------------------------------------------------------------------------
# elementwise binary operations
def _broadcast_shape(api: str, a: FixedArray, b: FixedArray) -> tuple:
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{api}: operands could not be broadcast together, lhs: {a.shape}, rhs: {b.shape}") from None


# ---------------------------------------------------------------------------
# reductions
def _growth(k: int) -> int:
    return (k - 1).bit_length() if k > 1 else 0  # ceil(log2 k)


def _max_abs(r: np.ndarray) -> int:
    """The largest |stored integer| (true values: uint64 raws are unsigned)."""
    if r.size == 0:
        return 0
    return max(-int(r.min()), int(r.max()))


# ---------------------------------------------------------------------------
# joining and selecting
def _cast_exact(x: FixedArray, fmt: Fixed) -> FixedArray:
    if x.fmt == fmt:
        return x
    return x.cast(fmt.replace(q="TRN", o="WRAP", n=0)) if (x.fmt.w, x.fmt.i, x.fmt.signed) != (
        fmt.w, fmt.i, fmt.signed) else FixedArray(x._raw, fmt, _trusted=True)
