"""Exact fixed-point arithmetic on FixedArrays: operators, fused casts, reductions, matmul.

Every result is the exact ap_fixed result in its natural format (TRN/WRAP modes, so nothing
is quantized until a cast). Three storage paths, chosen per call, give identical results:

- NumPy int64 on the raw integers when the natural result has at most 64 bits (the raws
  are aligned by left shifts, which are exact there);
- the C++ kernel (``_core.elementwise``) for division, comparisons of far-apart formats,
  fused arithmetic + cast, and natural results of 65..126 bits (128-bit intermediates);
- exact Python integers (object arrays) beyond that.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _header
from .array import (FixedArray, _as_format, _flat_limbs, _limb_dtype, _limbs, _mode_args, _native, _seed_for,
                    _wrap_limbs)
from .quantize import _native_order
from .format import MAX_INT_BITS, MAX_WIDTH, O_CODES, Q_CODES, Fixed, OMode, QMode

from . import _core

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "compare",
    "negative",
    "absolute",
    "matmul",
    "linear",
    "dot",
    "outer",
    "where",
    "maximum",
    "minimum",
    "clip",
    "relu",
    "concatenate",
    "stack",
    "unify_formats",
    "result_format",
]

_NATIVE_ARITH_MAX_W = _core.ARITH_MAX_NATURAL_WIDTH  # natural widths the C++ kernel holds in 128-bit integers
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
    w, i, s, _ = _core.natural_format(_core.ARITH_OPS[op], a.w, a.i, a.signed, b.w, b.i, b.signed)
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
        from .quantize import from_raw

        return from_raw(_object_array(vals, arr.shape), fmt)
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


def _binary(op: str, a, b, api: str, out_fmt=None, seed=None, exact: bool = False):
    """Exact ``a op b`` (op in add/sub/mul/div/cmp); cast into out_fmt when given.

    cmp returns an int8 array holding the sign of a - b. div follows the header: its
    quotient is wrapped to the internal division width, and above 64 bits it is the
    header's multi-word division (``_header.header_udiv``) unless ``exact``.

    Four paths, the first that applies: (1) NumPy int64 for add/sub/mul/cmp whose natural
    result fits 64 bits, without a cast; (2) the C++ elementwise kernel for native operands
    whose natural result (and division width) fits 126 bits; (3) the multi-limb kernels for
    every other add/sub/mul/cmp, any width up to 1024 bits; (4) Python integers for the
    remaining divisions."""
    a = _operand(a, api)
    b = _operand(b, api)
    shape = _broadcast_shape(api, a, b)
    fa, fb = a.fmt, b.fmt
    nat = result_format(op, fa, fb, api=api)
    if out_fmt is not None:
        out_fmt = _as_format(out_fmt, api)
        seed = _seed_for(out_fmt, seed, api)
    if op == "div":
        zero = np.broadcast_to(_ints(b) == 0, shape)
        if zero.any():
            raise ZeroDivisionError(f"{api}: division by zero at index {_first_index(zero)} of the result")
    div_w = _core.natural_format(_core.ARITH_OPS["div"], fa.w, fa.i, fa.signed, fb.w, fb.i, fb.signed)[3] \
        if op == "div" else None
    # 1) NumPy int64: add/sub/mul/cmp whose natural result fits 64 bits, no cast.
    if out_fmt is None and op in ("add", "sub", "mul", "cmp") and nat.w <= 64 and _native(fa) and _native(fb):
        ra, rb = a._raw, b._raw
        if op == "mul":
            return _from_ints(np.multiply(ra, rb), nat)
        sa, sb = nat.f - fa.f, nat.f - fb.f
        xa = np.left_shift(ra, sa) if sa else ra
        xb = np.left_shift(rb, sb) if sb else rb
        if op == "cmp":
            return np.sign(np.subtract(xa, xb)).astype(np.int8) if nat.w <= 63 else _cmp_int64(xa, xb)
        return _from_ints(np.add(xa, xb) if op == "add" else np.subtract(xa, xb), nat)
    # 2) C++: natural result within 126 bits, operands native, output native or natural.
    native_out = out_fmt is None or _native(out_fmt)
    # above 64 bits the header's division is its own multi-word algorithm: Python ints below
    header_div = div_w is not None and div_w > 64 and not exact
    if header_div and not _knuth_div_may_run(a, b, max(fb.f, 0)):
        header_div = False  # the header's multi-word division is exact on these operands
    if (_native(fa) and _native(fb) and nat.w <= _NATIVE_ARITH_MAX_W and native_out
            and (div_w is None or div_w <= _NATIVE_ARITH_MAX_W) and not header_div):
        ra, rb = _kernel_operands(a._raw, b._raw, shape)
        fmt_args = None if out_fmt is None else _mode_args(out_fmt)
        lo, hi, _ = _core.elementwise(_core.ARITH_OPS[op], ra, fa.w, fa.i, fa.signed, rb, fb.w, fb.i, fb.signed,
                                      fmt_args, seed or 0, nat.w > 64)
        lo = lo.reshape(shape)
        hi = hi.reshape(shape) if hi is not None else None
        if op == "cmp":
            return lo.astype(np.int8)
        if out_fmt is not None:
            return FixedArray(lo, out_fmt, _trusted=True)
        if nat.w <= 64:
            return FixedArray(lo, nat, _trusted=True)
        limbs = np.stack([lo.view(np.uint64), hi.view(np.uint64)], axis=-1)  # 2 limbs: nat.w <= 126
        return _wrap_limbs(np.ascontiguousarray(limbs).reshape(-1), shape, nat)
    # 3) the multi-limb kernels: any width up to 1024 bits (division stays on Python ints).
    if op != "div":
        return _wide_binary(op, a, b, shape, nat, out_fmt, seed)
    # 4) division on Python integers (flattened: NumPy turns 0-d object results into plain ints):
    #    the header's multi-word algorithm, or the exact quotient.
    ra, rb = (np.array(r).reshape(-1) for r in np.broadcast_arrays(_obj(a), _obj(b)))
    if header_div:
        num = ra * (1 << max(fb.f, 0))
        res = _object_array([_header.header_div_int(int(x), int(y), div_w, fa.signed or fb.signed)
                             for x, y in zip(num, rb)], (len(num),))
        res = _wrap_obj(res, nat.w, nat.signed)
    else:
        num = ra * (1 << max(fb.f, 0))
        mag = np.array([abs(x) // abs(y) for x, y in zip(num, rb)] + [None])[:-1]  # object, stays 1-d
        res = np.where((num < 0) != (rb < 0), -mag, mag)
        res = _wrap_obj(_wrap_obj(res, div_w, fa.signed or fb.signed), nat.w, nat.signed)
    res = np.asarray(res, dtype=object).reshape(shape)
    result = FixedArray(res, nat, _trusted=True) if not _native(nat) else _from_ints(res, nat)
    if out_fmt is not None:
        return result.cast(out_fmt, seed=seed)
    return result


def _magnitude_at_least(r: np.ndarray, bits: int) -> np.ndarray:
    """``|r| >= 2**bits`` elementwise for int64 (or uint64) raws, without overflow."""
    if bits <= 0:
        return r != 0
    if r.dtype == np.uint64:
        return r >= np.uint64(1 << bits) if bits < 64 else np.zeros(r.shape, dtype=bool)
    if bits >= 64:
        return np.zeros(r.shape, dtype=bool)
    if bits == 63:
        return r == np.iinfo(np.int64).min
    t = np.int64(1 << bits)
    return (r >= t) | (r <= -t)


def _knuth_div_may_run(a: FixedArray, b: FixedArray, shift: int) -> bool:
    """Whether ap_private's division could reach its multi-word Knuth path (the one that loses
    bits) for some element: the shifted dividend needs 2 or more 64-bit words and the divisor 2 or
    more 32-bit digits (otherwise ``_header.header_udiv`` is exact). Conservative (True) for
    operands beyond 64 bits."""
    if not (_native(a.fmt) and _native(b.fmt)):
        return True
    ra, rb = _ints(a), _ints(b)
    big_a = _magnitude_at_least(ra, 64 - shift)
    big_b = _magnitude_at_least(rb, 32)
    if not (big_a.any() and big_b.any()):
        return False
    return bool(np.any(np.logical_and(*np.broadcast_arrays(big_a, big_b))))




def _wide_operand(x: FixedArray, shape: tuple):
    """Flat limbs of x for the wide kernels: (buffer, stride) with stride 1 (full size) or 0."""
    if x.shape == shape:
        return _flat_limbs(x), 1
    if x.size == 1:
        return _flat_limbs(x), 0
    full = FixedArray(np.broadcast_to(x._raw, shape), x.fmt, _trusted=True)
    return _flat_limbs(full), 1


def _wide_binary(op: str, a: FixedArray, b: FixedArray, shape: tuple, nat: Fixed, out_fmt, seed):
    n = int(np.prod(shape, dtype=np.int64))
    (ba, sa), (bb, sb) = _wide_operand(a, shape), _wide_operand(b, shape)
    fa, fb = a.fmt, b.fmt
    res = _core.wide_elementwise(_core.WIDE_OPS[op], ba, sa, fa.w, fa.i, fa.signed, bb, sb, fb.w, fb.i, fb.signed,
                                 n, nat.w, nat.i, nat.signed, None if out_fmt is None else _mode_args(out_fmt),
                                 seed or 0)
    if op == "cmp":
        return res.reshape(shape)
    return _wrap_limbs(res, shape, nat if out_fmt is None else out_fmt)


def _kernel_operands(ra: np.ndarray, rb: np.ndarray, shape: tuple):
    """Operands for the C++ kernel: flat 1-d views (stride 1, or 0 for a single element) when
    each operand is full-size or a scalar, which keeps the kernel's inner loop simple;
    otherwise broadcast n-d views with 0 strides."""
    n = int(np.prod(shape, dtype=np.int64))

    def flat(r):
        if r.shape == shape:
            return np.asarray(r, order="C").reshape(-1)
        if r.size == 1:
            return np.broadcast_to(r.reshape(-1), (n,))
        return None

    fa, fb = flat(ra), flat(rb)
    if fa is not None and fb is not None:
        return fa, fb
    return np.broadcast_arrays(ra, rb)


def _cmp_int64(xa, xb):
    # 64-bit natural width: compare directly instead of subtracting (which could wrap).
    return (np.greater(xa, xb).astype(np.int8) - np.less(xa, xb).astype(np.int8))


def add(a, b, out_fmt=None, seed=None) -> FixedArray:
    """Exact ``a + b``; with ``out_fmt``, cast into it in the same pass (one rounding).

    Operands are FixedArrays, Python ints or NumPy integer arrays (taken exactly), and they
    broadcast as in NumPy. The result is exact in the natural ap_fixed result format (TRN/WRAP,
    ``fx.result_format``); with ``out_fmt`` it is cast into ``out_fmt`` in the same pass, with
    one rounding, and ``seed`` drives STOCH there.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats with
            ``fx.array`` first); ``out_fmt`` is not a format; ``seed`` is not an int.
        ValueError: the shapes do not broadcast (both shapes are named); the natural result
            would be wider than 1024 bits; ``out_fmt`` does not parse.
    """
    return _binary("add", a, b, "fx.add", out_fmt, seed)


def subtract(a, b, out_fmt=None, seed=None) -> FixedArray:
    """Exact ``a - b``; with ``out_fmt``, cast into it in the same pass (one rounding).

    Operands are FixedArrays, Python ints or NumPy integer arrays (taken exactly), and they
    broadcast as in NumPy. The result is exact in the natural ap_fixed result format (TRN/WRAP,
    ``fx.result_format``); with ``out_fmt`` it is cast into ``out_fmt`` in the same pass, with
    one rounding, and ``seed`` drives STOCH there.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats with
            ``fx.array`` first); ``out_fmt`` is not a format; ``seed`` is not an int.
        ValueError: the shapes do not broadcast (both shapes are named); the natural result
            would be wider than 1024 bits; ``out_fmt`` does not parse.
    """
    return _binary("sub", a, b, "fx.subtract", out_fmt, seed)


def multiply(a, b, out_fmt=None, seed=None) -> FixedArray:
    """Exact ``a * b``; with ``out_fmt``, cast into it in the same pass (one rounding).

    Operands are FixedArrays, Python ints or NumPy integer arrays (taken exactly), and they
    broadcast as in NumPy. The result is exact in the natural ap_fixed result format (TRN/WRAP,
    ``fx.result_format``); with ``out_fmt`` it is cast into ``out_fmt`` in the same pass, with
    one rounding, and ``seed`` drives STOCH there.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats with
            ``fx.array`` first); ``out_fmt`` is not a format; ``seed`` is not an int.
        ValueError: the shapes do not broadcast (both shapes are named); the natural result
            would be wider than 1024 bits; ``out_fmt`` does not parse.
    """
    return _binary("mul", a, b, "fx.multiply", out_fmt, seed)


def divide(a, b, out_fmt=None, seed=None, *, exact=False) -> FixedArray:
    """``a / b`` as ap_fixed computes it (quotient truncated toward zero in the natural format,
    with the header's signed-division wrap); with ``out_fmt``, cast into it in the same pass.

    Bit for bit ``ap_fixed``'s ``operator/``: ``W = S2 + W1 + max(F2, 0)``,
    ``I = S2 + I1 + F2``, the quotient truncated toward zero (docs/modes.md lists the quirks).
    When the header's internal division width ``max(W1 + max(F2,0) + [S2 and not S1],
    W2 + [S1 and not S2])`` exceeds 64 bits, the header's multi-word long division loses low
    bits for some operands (long runs of ones); that is reproduced too, unless
    ``exact=True``, which gives the exact truncated quotient (the ``/`` operator always follows
    the header).

    Operands are FixedArrays, Python ints or NumPy integer arrays (taken exactly), and they
    broadcast as in NumPy. The result is exact in the natural ap_fixed result format (TRN/WRAP,
    ``fx.result_format``); with ``out_fmt`` it is cast into ``out_fmt`` in the same pass, with
    one rounding, and ``seed`` drives STOCH there.

    Raises:
        TypeError: an operand is a float or of an unsupported type (quantize floats with
            ``fx.array`` first); ``out_fmt`` is not a format; ``seed`` is not an int.
        ValueError: the shapes do not broadcast (both shapes are named); the natural result
            would be wider than 1024 bits; ``out_fmt`` does not parse.
        ZeroDivisionError: an element of ``b`` is zero (the message names its index).
    """
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"fx.divide: exact must be a bool, got {type(exact).__name__}")
    return _binary("div", a, b, "fx.divide", out_fmt, seed, exact=bool(exact))


def compare_sign(a, b, api: str) -> np.ndarray:
    """The sign of a - b (int8 array), exact across formats."""
    return _binary("cmp", a, b, api)


_CMP_TESTS = {
    "==": lambda s: s == 0, "!=": lambda s: s != 0, "<": lambda s: s < 0,
    "<=": lambda s: s <= 0, ">": lambda s: s > 0, ">=": lambda s: s >= 0,
}


def _aligned_widths(fa: Fixed, fb: Fixed) -> tuple[int, int]:
    """The widths ap_fixed_base's comparison operators give the two raws after aligning the
    binary points (``OP_CMP_AF``: a coarser lhs is widened by one extra bit)."""
    if fa.f == fb.f:
        return fa.w, fb.w
    if fa.f > fb.f:
        return fa.w, fb.w + fa.f - fb.f
    return fa.w + fb.f - fa.f + 1, fb.w


def compare_op(a, b, op: str, api: str, exact: bool = False) -> np.ndarray:
    """``a op b`` (bool array) as ap_fixed.h computes it, or exactly with ``exact``.

    Only two FixedArrays of mixed signedness can differ from the exact result (Python ints
    and NumPy integers have no ap_ type here and compare exactly): the header compares the
    aligned raws as C compares integers (``_reference.header_compare`` gives the rules)."""
    test = _CMP_TESTS[op]
    quirk = not exact and isinstance(a, FixedArray) and isinstance(b, FixedArray) and a.fmt.signed != b.fmt.signed
    sign = compare_sign(a, b, api)
    if not quirk:
        return test(sign)
    fa, fb = a.fmt, b.fmt
    wa, wb = _aligned_widths(fa, fb)
    ws, wu = (wa, wb) if fa.signed else (wb, wa)
    shape = sign.shape
    s_neg = np.broadcast_to(_ints(a if fa.signed else b) < 0, shape)
    if op in ("<", "<=", ">", ">="):
        if (wa < 32 and wb < 32) or wu < ws:
            return test(sign)
        # unsigned (max(wa, wb) + 1)-bit patterns: a negative signed side is the greater one
        forced = np.int8(1 if fa.signed else -1)
        return test(np.where(s_neg, forced, sign))
    # ==, !=: unsigned patterns of m bits; a negative signed x equals y == x + 2**m
    m = 64 if wa == wb <= 64 else max(wa, wb, 32)
    eq = sign == 0
    if m == wu and s_neg.any():
        idx = np.flatnonzero(s_neg.reshape(-1))
        xa, xb = (np.broadcast_to(_obj(v), shape).reshape(-1) for v in (a, b))
        sh_a, sh_b = max(fb.f - fa.f, 0), max(fa.f - fb.f, 0)
        eq = eq.copy().reshape(-1)
        for k in idx:
            x, y = int(xa[k]) << sh_a, int(xb[k]) << sh_b
            if not fa.signed:
                x, y = y, x
            eq[k] = x + (1 << m) == y
        eq = eq.reshape(shape)
    return eq if op == "==" else ~eq


def compare(a, b, op: str, *, exact: bool = False) -> np.ndarray:
    """``a op b`` elementwise as a bool array; ``op`` is one of ``== != < <= > >=``.

    By default the result is ``ap_fixed.h``'s, bit for bit, as the operators give it
    (``a < b`` is ``fx.compare(a, b, "<")``): when a signed and an unsigned FixedArray are
    compared, the header compares the raws (after aligning the binary points) as C compares
    integers, so a negative value can compare greater than an unsigned one (docs/modes.md,
    quirks). ``exact=True`` compares the mathematical values. Python ints and NumPy integer
    arrays always compare exactly.

    Raises:
        ValueError: ``op`` is not a comparison; the shapes do not broadcast.
        TypeError: an operand is a float or of an unsupported type; ``exact`` is not a bool.
    """
    if op not in _CMP_TESTS:
        raise ValueError(f"fx.compare: op must be one of {', '.join(_CMP_TESTS)}, got {op!r}")
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"fx.compare: exact must be a bool, got {type(exact).__name__}")
    return compare_op(a, b, op, "fx.compare", bool(exact))


# ---------------------------------------------------------------------------
# unary operations
def negative(a, out_fmt=None, seed=None) -> FixedArray:
    """Exact ``-a`` in ``ap_fixed<w+1, i+1>`` (always signed); optionally cast into out_fmt.

    Raises:
        TypeError: ``a`` is a float or of an unsupported type; ``out_fmt`` is not a format;
            ``seed`` is not an int.
        ValueError: ``out_fmt`` does not parse; the result would be wider than 1024 bits.
    """
    api = "fx.negative"
    a = _operand(a, api)
    nat = result_format("neg", a.fmt, api=api)
    if nat.w <= 64:
        res = _from_ints(-a._raw, nat)
    else:
        zero = FixedArray(np.zeros((), dtype=a._raw.dtype), a.fmt, _trusted=True)
        res = _wide_binary("sub", zero, a, a.shape, nat, None, 0)
    return res if out_fmt is None else res.cast(out_fmt, seed=seed)


def absolute(a, out_fmt=None, seed=None) -> FixedArray:
    """Exact ``|a|``: unsigned formats are unchanged; signed ones grow like ``-a``
    (``ap_fixed<w+1, i+1>``), since |min| needs one more bit. Optionally cast into out_fmt.

    Raises:
        TypeError: ``a`` is a float or of an unsupported type; ``out_fmt`` is not a format;
            ``seed`` is not an int.
        ValueError: ``out_fmt`` does not parse; the result would be wider than 1024 bits.
    """
    api = "fx.absolute"
    a = _operand(a, api)
    if not a.fmt.signed:
        res = FixedArray(a._raw.copy(), a.fmt.replace(q="TRN", o="WRAP", n=0), _trusted=True)
    else:
        nat = result_format("neg", a.fmt, api=api)
        res = _from_ints(np.abs(a._raw), nat) if nat.w <= 64 else _from_ints(np.abs(_obj(a)), nat)
    return res if out_fmt is None else res.cast(out_fmt, seed=seed)


def shift(a: FixedArray, k, left: bool, api: str) -> FixedArray:
    """ap_fixed's ``a << k`` / ``a >> k``: the stored bits move inside the same format.

    Left shifts wrap to w bits; right shifts floor (arithmetic for signed formats). A negative
    k shifts the other way, as in ap_fixed. |k| must be below w: ap_fixed.h gives inconsistent
    results at and beyond the width (0 for exactly w, sign fill beyond)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{api}: the shift amount must be an int, got {type(k).__name__}")
    k = int(k)
    if k < 0:
        k, left = -k, not left
    fmt = a.fmt
    if k >= fmt.w:
        raise ValueError(
            f"{api}: shift amount {k} must be less than the width w={fmt.w}; ap_fixed.h's results for shifts "
            "of w bits or more are inconsistent (use .scale() to move the binary point instead)"
        )
    if k == 0:
        return FixedArray(a._raw.copy(), fmt, _trusted=True)
    if not _native(fmt):
        flat = _obj(a).reshape(-1)
        if left:  # wrap to w bits
            res = list(_wrap_obj(_object_array([v << k for v in flat], (flat.size,)), fmt.w, fmt.signed))
        else:
            res = [v >> k for v in flat]
        return FixedArray(_object_array(res, a.shape), fmt, _trusted=True)
    if left:  # wrap to w bits: shift the kept bits to the top, then back with sign or zero fill
        raw = np.asarray(np.left_shift(a._raw, k))
        wsh = 64 - fmt.w
        if wsh:
            raw = np.asarray(np.left_shift(raw, wsh))
            raw = np.asarray(np.right_shift(raw, wsh)) if fmt.signed else \
                np.asarray(np.right_shift(raw.view(np.uint64), np.uint64(wsh))).view(np.int64)
        return FixedArray(raw, fmt, _trusted=True)
    r = a._raw
    raw = np.asarray(np.right_shift(r, k)) if fmt.signed else \
        np.asarray(np.right_shift(r.view(np.uint64), np.uint64(k))).view(np.int64)
    return FixedArray(raw, fmt, _trusted=True)


# ---------------------------------------------------------------------------
# reductions
def _growth(k: int) -> int:
    return (k - 1).bit_length() if k > 1 else 0  # ceil(log2 k)


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
        res = _wrap_limbs(_core.wide_sum_rows(_flat_limbs(moved), a.fmt.w, a.fmt.i, a.fmt.signed, rows, K, fmt.w),
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


# ---------------------------------------------------------------------------
# products
def _matmul_shapes(api, sa, sb):
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"{api}: matmul needs at least 1-d operands, lhs: {sa}, rhs: {sb}")
    ka = sa[-1]
    kb = sb[-2] if len(sb) >= 2 else sb[0]
    if ka != kb:
        raise ValueError(f"{api}: input shape mismatch, lhs: {sa}, rhs: {sb} (contraction {ka} != {kb})")
    try:
        np.broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2]))
    except ValueError:
        raise ValueError(f"{api}: batch dimensions do not broadcast, lhs: {sa}, rhs: {sb} "
                         f"(batch {tuple(sa[:-2])} vs {tuple(sb[:-2])})") from None
    return ka


def matmul(a, b, accum=None, out=None, seed=None) -> FixedArray:
    """Exact ``a @ b`` (NumPy's matmul shapes, batched), or accumulator-accurate.

    Without ``accum`` the result is exact in the product format plus ``ceil(log2 K)`` bits.
    With ``accum`` (a format), every product is cast into it and the running sum is cast into
    it after every step, in index order k = 0..K-1, with accum's q/o/n: what a MAC array or an
    hls4ml Dense layer (latency strategy) computes. ``out`` casts the final result. ``seed``
    drives STOCH in ``accum`` and ``out``.

    ``a`` may be a :class:`fixedpoint.SparseFixed` (CSR or BSR) with a 1-d or 2-d ``b``, or
    ``b`` one with a 1-d or 2-d ``a`` (``x @ sp.T``); the result is the same bits as the dense
    product. The exact path picks its kernel from bit bounds
    (int16 AVX2, float64 BLAS while every partial sum is exact, 64-bit limbs) and never
    rounds; under ``accum`` with WRAP the result does not depend on the summation order,
    under SAT it is the in-order result.

    Raises:
        TypeError: an operand is a float or of an unsupported type; ``accum``/``out`` is not
            a format; ``seed`` is not an int.
        ValueError: an operand is 0-d, the contraction lengths differ or batch shapes do not
            broadcast (both shapes are named); ``accum``/``out`` does not parse; the exact
            result would be wider than 1024 bits.
    """
    api = "fx.matmul"
    from .sparse import SparseFixed, sparse_exact

    if isinstance(a, SparseFixed):
        b = _operand(b, api)
        k = _matmul_shapes(api, a.shape, b.shape)
        if b.ndim > 2:
            raise ValueError(f"{api}: a SparseFixed lhs needs a 1-d or 2-d rhs, lhs: {a.shape}, rhs: {b.shape}")
        if accum is None:
            res = sparse_exact(a, b, k, api)
        else:
            accum = _as_format(accum, api)
            acc_seed = _seed_for(accum, seed, api)
            if _exact_product_wraps(a.fmt, b.fmt, accum) and b.raw.dtype != object:
                x2 = b.raw.reshape(k, int(np.prod(b.shape[1:], dtype=np.int64)))
                s = a._gemm_mod64(x2)  # the CSR or BSR kernel, modulo 2^64
                raw = _wrap_mod64(s, a.fmt, b.fmt, accum, None)
                res = FixedArray(np.asarray(raw.reshape((a.shape[0],) + b.shape[1:]), order="C"), accum,
                                 _trusted=True)
            else:  # order-dependent modes: the dense sequential kernel (skipped zeros change nothing)
                res = _matmul_accum(a.to_dense(), b, accum, acc_seed, api)
        if out is not None:
            res = res.cast(_as_format(out, api), seed=seed)
        return res
    a = _operand(a, api)
    if isinstance(b, SparseFixed):
        return _matmul_sparse_rhs(a, b, accum, out, seed, api)
    b = _operand(b, api)
    k = _matmul_shapes(api, a.shape, b.shape)
    if accum is not None:
        accum = _as_format(accum, api)
        acc_seed = _seed_for(accum, seed, api)
        res = _matmul_accum(a, b, accum, acc_seed, api)
    else:
        res = _matmul_exact(a, b, k, api)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res


def _matmul_sparse_rhs(a: FixedArray, sp, accum, out, seed, api: str) -> FixedArray:
    """``a @ sp`` for a 1-d or 2-d FixedArray ``a`` and a SparseFixed ``sp``: ``(sp.T @ a.T).T``,
    the same products summed in the same index order, so exact results and WRAP accumulators
    that hold every product give the same bits; other accumulators (order-dependent rounding
    or saturation, STOCH counters) take the dense sequential kernel."""
    _matmul_shapes(api, a.shape, sp.shape)
    if a.ndim > 2:
        raise ValueError(f"{api}: a SparseFixed rhs needs a 1-d or 2-d lhs, lhs: {a.shape}, rhs: {sp.shape}")
    if accum is not None:
        accum = _as_format(accum, api)
        if not (_exact_product_wraps(a.fmt, sp.fmt, accum) and a.raw.dtype != object):
            return matmul(a, sp.to_dense(), accum=accum, out=out, seed=seed)
    at = a.T if a.ndim == 2 else a
    res = matmul(sp.T, FixedArray(np.ascontiguousarray(at._raw), a.fmt, _trusted=True), accum=accum, seed=seed)
    res = FixedArray(np.ascontiguousarray(res._raw.T), res.fmt, _trusted=True)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res


def _max_abs(r: np.ndarray) -> int:
    """The largest |stored integer| (true values: uint64 raws are unsigned)."""
    if r.size == 0:
        return 0
    return max(-int(r.min()), int(r.max()))


def _gemm_bounds(ra: np.ndarray, rb: np.ndarray) -> tuple[int, int, bool]:
    """(amax, bmax, fits16) of two int64/uint64 raw arrays: the largest magnitudes, and whether
    every value of both lies in int16 (-32768 included)."""
    lims = []
    for r in (ra, rb):
        lo, hi = (int(r.min()), int(r.max())) if r.size else (0, 0)
        lims.append((max(-lo, hi), lo >= -32768 and hi <= 32767))
    return lims[0][0], lims[1][0], lims[0][1] and lims[1][1]


_I16_MIN_PAIRS = 16  # below this the int16 kernel widens so often that float64 BLAS is faster

# The planner's crossovers per ISA (the int16 kernels differ: AVX2 vpmaddwd, AVX-512 VNNI vpdpwssd
# and, for int8 operands, vpdpbusd). Each value comes from `python -m bench matmul` run on a CPU
# of that ISA: "avx2" was measured (see _matmul_path); the AVX-512 entries repeat it until they are
# measured on AVX-512 hardware (issue 16: none was available; emulated speed means nothing).
_I16_MIN_PAIRS_BY_ISA = {"scalar": _I16_MIN_PAIRS, "avx2": _I16_MIN_PAIRS, "avx512": _I16_MIN_PAIRS,
                         "avx512_vnni": _I16_MIN_PAIRS}


_F64_SPLIT_MAX_LIMBS = 6  # beyond this the blocked int64 kernel is faster


def _f64_split_plan(amax: int, bmax: int, k: int):
    """Split one operand into L-bit limbs so that every limb GEMM is exact in float64:
    |limb| <= 2^L, |other| < 2^bits, K <= 2^g, and L + bits + g <= 53. Returns
    (split_a, L, limbs) with the fewest limbs, or None."""
    g = (k - 1).bit_length() if k > 1 else 0
    best = None
    for split_a, mine, other in ((True, amax, bmax), (False, bmax, amax)):
        L = 53 - other.bit_length() - g
        if L < 4:
            continue
        n = max(1, -(-mine.bit_length() // L))
        if n <= _F64_SPLIT_MAX_LIMBS and (best is None or n < best[2]):
            best = (split_a, L, n)
    return best


def _matmul_f64_split(x: np.ndarray, y: np.ndarray, amax: int, bmax: int) -> np.ndarray:
    """x @ y modulo 2^64 for int64 raws by float64 BLAS on limbs: x = sum_l x_l 2^(L l) with
    low limbs in [0, 2^L) and a signed top limb (|x_l| <= 2^L), each limb GEMM exact in float64,
    recombined with wrapping int64 shifts and adds (exact when the result fits 64 bits)."""
    split_a, L, n = _f64_split_plan(amax, bmax, x.shape[-1])
    src, other = (x, y) if split_a else (y, x)
    of = other.astype(np.float64)
    total = None
    rest = src
    for limb in range(n):
        part = rest & ((1 << L) - 1) if limb < n - 1 else rest
        rest = rest >> L
        pf = part.astype(np.float64)
        r = (np.matmul(pf, of) if split_a else np.matmul(of, pf)).astype(np.int64)
        r = (r.view(np.uint64) << np.uint64(L * limb)).view(np.int64) if limb else r
        total = r if total is None else (total.view(np.uint64) + r.view(np.uint64)).view(np.int64)
    return total


def _matmul_path(amax: int, bmax: int, k: int, fmt: Fixed | None, unsigned64: bool, fits16: bool = False) -> str:
    """The fastest exact kernel for |a| <= amax, |b| <= bmax and K = k (measured on AVX2,
    single-threaded: int16 pair sums ~100 GOP/s with >= 64 pairs per int32, ~60 at 16 pairs,
    float64 BLAS ~37, float64 on n limbs ~37/n, blocked int64 ~3, int128 ~0.6). ``fmt`` None
    asks for the result modulo 2**64 (never "i128" or "object"). ``fits16``: every value of
    both operands is in int16, so a bound of 32768 (a -32768 present) still admits "i16"."""
    bound = k * amax * bmax  # every partial sum is at most this in magnitude
    in16 = fits16 or (amax <= 32767 and bmax <= 32767)
    pairs = _core.gemm_i16_pairs(amax, bmax) if in16 else 0
    if pairs >= _I16_MIN_PAIRS_BY_ISA.get(_core.isa(), _I16_MIN_PAIRS):
        return "i16"
    if bound <= 1 << 53 and not unsigned64:
        return "f64"  # float64 BLAS is exact: every partial sum is an integer within 2**53
    if pairs > 0:
        return "i16"
    if fmt is None or fmt.w <= 64 or bound < 1 << 63:  # fmt None: the result modulo 2**64
        if not unsigned64 and _f64_split_plan(amax, bmax, k) is not None:
            return "f64split"  # float64 BLAS on limbs, recombined modulo 2**64
        return "i64"  # sums wrap modulo 2**64, exact because the result fits 64 bits
    if bound < 1 << 126:
        return "i128"
    return "object"


def _matmul_exact(a: FixedArray, b: FixedArray, k: int, api: str) -> FixedArray:
    prod = result_format("mul", a.fmt, b.fmt, api=api)
    g = _growth(k)
    fmt = _make_fixed(api, prod.w + g, prod.i + g, prod.signed, "matmul result")
    if not (_native(a.fmt) and _native(b.fmt)):
        path = "wide"
        ra, rb = a._raw, b._raw  # limb storage (void) or int64
    else:
        ra, rb = _ints(a), _ints(b)
        amax, bmax, fits16 = _gemm_bounds(ra, rb)
        path = _matmul_path(amax, bmax, k, fmt, ra.dtype == np.uint64 or rb.dtype == np.uint64, fits16)
        if path == "object":
            path, ra, rb = "wide", a._raw, b._raw
    if path == "f64":
        res = np.matmul(ra.astype(np.float64), rb.astype(np.float64)).astype(np.int64)
        return _from_ints(res, fmt)
    # C++ kernels on 2-d blocks: NumPy matmul shape rules (promote 1-d, broadcast batches).
    a_1d, b_1d = ra.ndim == 1, rb.ndim == 1
    ra2 = ra.reshape((1,) + ra.shape) if a_1d else ra
    rb2 = rb.reshape(rb.shape + (1,)) if b_1d else rb
    batch = np.broadcast_shapes(ra2.shape[:-2], rb2.shape[:-2])
    M, N = ra2.shape[-2], rb2.shape[-1]
    nb = int(np.prod(batch, dtype=np.int64))
    ra2 = np.broadcast_to(ra2, batch + (M, k)).reshape((nb, M, k)) if batch else ra2.reshape((1, M, k))
    rb2 = np.broadcast_to(rb2, batch + (k, N)).reshape((nb, k, N)) if batch else rb2.reshape((1, k, N))
    shape = batch + (M, N)
    if a_1d:
        shape = shape[:-2] + (N,)
    if b_1d:
        shape = shape[:-1]
    if path == "wide":
        fa, fb = a.fmt, b.fmt
        parts = [
            _core.wide_matmul(_flat_limbs(FixedArray(ra2[t], fa, _trusted=True)), fa.w, fa.i, fa.signed,
                              _flat_limbs(FixedArray(rb2[t], fb, _trusted=True)), fb.w, fb.i, fb.signed,
                              M, k, N, fmt.w, fmt.signed)
            for t in range(nb)
        ]
        buf = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        return _wrap_limbs(buf, shape, fmt)
    au, bu = ra.dtype == np.uint64, rb.dtype == np.uint64
    los, his = [], []
    for t in range(nb):
        x = np.ascontiguousarray(ra2[t]).view(np.int64)
        y = np.ascontiguousarray(rb2[t]).view(np.int64)
        if path == "i128":
            lo_t, hi_t = _core.gemm_i128(x, au, y, bu)
            los.append(lo_t)
            his.append(hi_t)
        else:
            los.append(_gemm_2d(x, y, path, amax, bmax))
    # one block is used as it is (no copy of the product); batches are stacked
    lo = los[0][None] if nb == 1 else np.stack(los) if nb else np.empty((0, M, N), dtype=np.int64)
    hi = None
    if path == "i128":
        hi = his[0][None] if nb == 1 else np.stack(his) if nb else np.empty((0, M, N), dtype=np.int64)
    if path == "i128":  # fmt.w > 64: 128-bit (lo, hi) -> limbs, sign-extended
        nl = _limbs(fmt.w)
        limbs = np.empty(shape + (nl,), dtype=np.uint64)
        limbs[..., 0] = lo.reshape(shape).view(np.uint64)
        limbs[..., 1] = hi.reshape(shape).view(np.uint64)
        limbs[..., 2:] = (hi.reshape(shape) < 0).astype(np.uint64)[..., None] * np.uint64(0xFFFFFFFFFFFFFFFF)
        return _wrap_limbs(limbs.reshape(-1), shape, fmt)
    return _from_ints(lo.reshape(shape), fmt)  # wide formats: int64 values -> limbs


def _exact_product_wraps(fa: Fixed, fb: Fixed, accum: Fixed) -> bool:
    """WRAP (n = 0) accumulators that hold every product's fraction bits: each product's cast is
    an exact shift reduced modulo 2^w, so the sequential accumulation equals the exact GEMM
    reduced modulo 2^w (docs/arrays.md, "Accumulator fast paths")."""
    return (accum.o.value == "WRAP" and accum.n == 0 and _native(accum) and _native(fa) and _native(fb)
            and fa.f + fb.f <= accum.f)


def _gemm_2d(x: np.ndarray, y: np.ndarray, path: str, amax: int, bmax: int) -> np.ndarray:
    """x @ y for 2-d C-contiguous int64 raws by one of _matmul_path's 64-bit paths (exact when
    the result fits 64 bits, else modulo 2^64)."""
    if path == "i16":
        return _core.gemm_i16(x, y, amax, bmax)
    if path == "f64":
        return np.matmul(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
    if path == "f64split":
        return _matmul_f64_split(x, y, amax, bmax)  # recombined modulo 2^64
    return _core.gemm_i64(x, y, amax < 1 << 31 and bmax < 1 << 31)  # wraps modulo 2^64


def _gemm_mod64(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y modulo 2^64 (int64 bit patterns) for 2-d int64 raws, by the fastest exact kernel."""
    x = np.ascontiguousarray(x).view(np.int64)
    y = np.ascontiguousarray(y).view(np.int64)
    amax, bmax, fits16 = _gemm_bounds(x, y)
    return _gemm_2d(x, y, _matmul_path(amax, bmax, x.shape[1], None, False, fits16), amax, bmax)


def _accum_wrap_gemm(x: np.ndarray, fa: Fixed, y: np.ndarray, fb: Fixed, accum: Fixed, bias) -> np.ndarray:
    """The sequential WRAP accumulation for _exact_product_wraps formats, as accum raws."""
    return _wrap_mod64(_gemm_mod64(x, y), fa, fb, accum, bias)


def _wrap_mod64(s: np.ndarray, fa: Fixed, fb: Fixed, accum: Fixed, bias) -> np.ndarray:
    """Exact products summed modulo 2^64 -> accum raws: shift to accum's point, add the bias
    (accum raws), reduce modulo 2^w."""
    s = s.view(np.uint64)
    sh = accum.f - fa.f - fb.f
    s = s << np.uint64(sh) if sh < 64 else np.zeros_like(s)
    if bias is not None:
        s = s + np.asarray(bias, dtype=np.int64).view(np.uint64)
    w = accum.w
    if w < 64:
        if accum.signed:  # keep the low w bits, sign-extended (shifts: 2**63 has no int64 form)
            return np.asarray((s << np.uint64(64 - w)).view(np.int64) >> np.int64(64 - w), dtype=np.int64)
        return np.asarray((s & np.uint64((1 << w) - 1)).view(np.int64), dtype=np.int64)
    return s.view(np.int64)


def _matmul_accum(a: FixedArray, b: FixedArray, accum: Fixed, seed: int, api: str) -> FixedArray:
    # NumPy matmul shape rules: promote 1-d operands, broadcast batch dimensions.
    a_1d, b_1d = a.ndim == 1, b.ndim == 1
    ra, rb = a._raw, b._raw  # stored raws: int64, or limbs (wide formats)
    ra = ra.reshape((1,) + a.shape) if a_1d else ra
    rb = rb.reshape(b.shape + (1,)) if b_1d else rb
    batch = np.broadcast_shapes(ra.shape[:-2], rb.shape[:-2])
    M, K, N = ra.shape[-2], ra.shape[-1], rb.shape[-1]
    ra = np.broadcast_to(ra, batch + (M, K))
    rb = np.broadcast_to(rb, batch + (K, N))
    nb = int(np.prod(batch, dtype=np.int64))
    fa, fb = a.fmt, b.fmt
    native = _native(fa) and _native(fb) and _native(accum) and fa.w + fb.w <= _NATIVE_ARITH_MAX_W
    out = np.empty(batch + (M, N), dtype=np.int64 if _native(accum) else _limb_dtype(accum))
    ra2 = ra.reshape((nb, M, K))
    rb2 = rb.reshape((nb, K, N))
    out2 = out.reshape((nb, M, N))
    fast = _exact_product_wraps(fa, fb, accum)
    # the vectorized kernel (the same sequential semantics, fused with an identity result cast)
    # for native formats without STOCH; it also covers the wrapping fast path
    kernel = native and max(fa.w, fb.w, accum.w) <= 63 and accum.q is not QMode.STOCH
    ident = (accum.w, accum.i, accum.signed, Q_CODES[QMode.TRN], O_CODES[OMode.WRAP], 0)
    for t in range(nb):
        base = t * M * N * K * 2
        if kernel:
            out2[t] = _core.dense_accum(np.asarray(ra2[t], order="C"), fa.w, fa.i, fa.signed,
                                        np.asarray(rb2[t], order="C"), fb.w, fb.i, fb.signed,
                                        *_mode_args(accum), None, *ident)
        elif fast:
            out2[t] = _accum_wrap_gemm(ra2[t], fa, rb2[t], fb, accum, None)
        elif native:
            out2[t] = _core.matmul_accum(np.asarray(ra2[t], order="C"), fa.w, fa.i, fa.signed,
                                         np.asarray(rb2[t], order="C"), fb.w, fb.i, fb.signed,
                                         *_mode_args(accum), None, seed, base)
        else:  # wide operands, accumulators or products: the multi-limb kernel
            out2[t] = _matmul_accum_wide(ra2[t], fa, rb2[t], fb, accum, seed, base)
    if a_1d:
        out = out.reshape(out.shape[:-2] + (N,))
    if b_1d:
        out = out.reshape(out.shape[:-1])
    return FixedArray(np.asarray(out, order="C"), accum, _trusted=True)


def linear(x, w, b=None, accum=None, out=None, seed=None) -> FixedArray:
    """A dense layer ``y = x @ w.T + b`` (hls4ml Dense, latency strategy, when ``accum`` is given).

    ``x`` is ``(..., K)`` (1-d or batched), ``w`` is ``(N, K)`` and ``b`` is ``(N,)`` or None.
    Without ``accum`` the result is exact: ``x @ w.T`` in its natural format, plus the bias
    added exactly (the natural sum format). With ``accum``, per output:
    ``acc = cast(b -> accum)``; then for k = 0..K-1 in order
    ``acc = cast(acc + cast(x[k] * w[n, k] -> accum) -> accum)``, each cast with accum's
    q/o/n. ``out`` casts the final result. ``seed`` drives STOCH (the bias cast draws word
    (seed, n); the products and sums draw the words ``fx.matmul`` uses for ``x @ w.T``).

    ``w`` may be a :class:`fixedpoint.SparseFixed`; the result is the same bits. With
    ``accum`` the result equals hls4ml's ``dense_latency`` C-simulation bit for bit.

    Raises:
        TypeError: an operand is a float or of an unsupported type; ``accum``/``out`` is not
            a format; ``seed`` is not an int.
        ValueError: ``w`` is not 2-d; ``x``'s last dimension differs from ``w``'s K; ``b`` is
            not of shape (N,) (the shapes are named); ``accum``/``out`` does not parse.
    """
    api = "fx.linear"
    from .sparse import SparseFixed

    x = _operand(x, api)
    if isinstance(w, SparseFixed):
        accum_f = None if accum is None else _as_format(accum, api)
        if x.ndim >= 1 and x.shape[-1] == w.shape[1] and x.raw.dtype != object and (
                accum_f is None or _exact_product_wraps(x.fmt, w.fmt, accum_f)):
            return _linear_sparse(x, w, b, accum_f, out, seed, api)
        w = w.to_dense()  # order-dependent accumulators: the dense sequential kernel
    w = _operand(w, api)
    if w.ndim != 2:
        raise ValueError(f"{api}: weights must be 2-d (N, K), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{api}: input shape mismatch, x: {x.shape}, w: {w.shape} "
                         f"(x's last dimension must equal w's K = {w.shape[1]})")
    N, K = w.shape
    if b is not None:
        b = _operand(b, api)
        if b.shape != (N,):
            raise ValueError(f"{api}: bias shape mismatch, b: {b.shape}, w: {w.shape} (expected ({N},))")
    wt = w.T
    if accum is None:
        res = matmul(x, wt)
        if b is not None:
            res = add(res, b)
    else:
        accum = _as_format(accum, api)
        acc_seed = _seed_for(accum, seed, api)
        lead = x.shape[:-1]
        M = int(np.prod(lead, dtype=np.int64))
        ra = x._raw.reshape(M, K)
        rb = np.ascontiguousarray(wt._raw)
        fa, fb = x.fmt, w.fmt
        bias = None if b is None else b.cast(accum, seed=acc_seed)
        native = _native(fa) and _native(fb) and _native(accum) and fa.w + fb.w <= _NATIVE_ARITH_MAX_W
        if _exact_product_wraps(fa, fb, accum):
            raw = _accum_wrap_gemm(ra, fa, rb, fb, accum, None if bias is None else bias._raw)
        elif native:
            raw = _core.matmul_accum(np.ascontiguousarray(ra), fa.w, fa.i, fa.signed, rb, fb.w, fb.i, fb.signed,
                                     *_mode_args(accum), None if bias is None else bias._raw, acc_seed, 0)
        else:
            raw = _matmul_accum_wide(x._raw.reshape(M, K), fa, wt._raw, fb, accum, acc_seed, 0,
                                     None if bias is None else bias._raw)
        res = FixedArray(np.asarray(raw.reshape(lead + (N,)), order="C"), accum, _trusted=True)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res


def _linear_sparse(x: FixedArray, w, b, accum, out, seed, api: str) -> FixedArray:
    """fx.linear with CSR weights: exact, or a WRAP accumulator that holds every product exactly
    (the bias then commutes with the products: reduction modulo 2^w is a ring homomorphism)."""
    N, K = w.shape
    if b is not None:
        b = _operand(b, api)
        if b.shape != (N,):
            raise ValueError(f"{api}: bias shape mismatch, b: {b.shape}, w: {w.shape} (expected ({N},))")
    lead = x.shape[:-1]
    M = int(np.prod(lead, dtype=np.int64))
    xt = FixedArray(np.ascontiguousarray(x._raw.reshape(M, K).T), x.fmt, _trusted=True)
    if accum is None:
        res = matmul(w, xt).T  # (N, M) -> (M, N)
        res = FixedArray(np.ascontiguousarray(res._raw).reshape(lead + (N,)), res.fmt, _trusted=True)
        if b is not None:
            res = add(res, b)
    else:
        acc_seed = _seed_for(accum, seed, api)
        bias = None if b is None else b.cast(accum, seed=acc_seed)._raw
        s = w._gemm_mod64(xt._raw)  # (N, M), modulo 2^64 (the CSR or BSR kernel)
        raw = _wrap_mod64(np.ascontiguousarray(s.T), x.fmt, w.fmt, accum, bias)
        res = FixedArray(np.asarray(raw.reshape(lead + (N,)), order="C"), accum, _trusted=True)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res


def _matmul_accum_wide(ra: np.ndarray, fa: Fixed, rb: np.ndarray, fb: Fixed, accum: Fixed, seed: int, base: int,
                       bias=None) -> np.ndarray:
    """The sequential accumulation of matmul_accum for every width (the C++ multi-limb kernel):
    ra (M, K) and rb (K, N) stored raws (int64 or limbs), bias (N,) accum's stored raws or None;
    returns (M, N) accum stored raws. The same semantics and STOCH counters as _core.matmul_accum."""
    M, K = ra.shape
    N = rb.shape[1]

    def limbs(r):
        return np.ascontiguousarray(r).reshape(-1).view(np.uint64)

    buf = _core.wide_matmul_accum(limbs(ra), fa.w, fa.i, fa.signed, limbs(rb), fb.w, fb.i, fb.signed, M, K, N,
                                  _mode_args(accum), None if bias is None else limbs(bias), seed, base)
    return buf.view(np.int64 if _native(accum) else _limb_dtype(accum)).reshape(M, N)


def dot(a, b) -> FixedArray:
    """``np.dot`` for FixedArrays: scalars multiply; 1-d and 2-d operands are ``matmul``.

    Exact, in the natural product (or matmul) format.

    Raises:
        TypeError: an operand is a float or of an unsupported type.
        ValueError: an operand has more than 2 dimensions (use ``fx.matmul``), or the
            contraction lengths differ.
    """
    api = "fx.dot"
    a = _operand(a, api)
    b = _operand(b, api)
    if a.ndim == 0 or b.ndim == 0:
        return _binary("mul", a, b, api)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    raise ValueError(f"{api}: operands of more than 2 dimensions are not supported, lhs: {a.shape}, "
                     f"rhs: {b.shape}; use fx.matmul for batched products")


def outer(a, b) -> FixedArray:
    """Exact outer product of the flattened operands (product format).

    Raises:
        TypeError: an operand is a float or of an unsupported type.
        ValueError: the product would be wider than 1024 bits.
    """
    api = "fx.outer"
    a = _operand(a, api)
    b = _operand(b, api)
    return _binary("mul", a.reshape(-1, 1), b.reshape(1, -1), api)


# ---------------------------------------------------------------------------
# joining and selecting
def _cast_exact(x: FixedArray, fmt: Fixed) -> FixedArray:
    if x.fmt == fmt:
        return x
    return x.cast(fmt.replace(q="TRN", o="WRAP", n=0)) if (x.fmt.w, x.fmt.i, x.fmt.signed) != (
        fmt.w, fmt.i, fmt.signed) else FixedArray(x._raw, fmt, _trusted=True)


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
    from .quantize import from_raw

    return from_raw(raw, fmt)


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
