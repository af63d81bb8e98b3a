"""Exact elementwise arithmetic on FixedArrays: ``+ - * /``, negation, absolute value, shifts and
comparisons, with fused casts.

Every result is the exact ap_fixed result in its natural format (TRN/WRAP modes, so nothing
is quantized until a cast). Four storage paths, chosen per call, give identical results:

- NumPy int64 on the raw integers when the natural result has at most 64 bits (the raws
  are aligned by left shifts, which are exact there);
- the C++ kernel (``elementwise``) for division, comparisons of far-apart formats,
  fused arithmetic + cast, and natural results of 65..126 bits (128-bit intermediates);
- the C++ multi-limb kernel (``wide_elementwise``) for wider formats;
- exact Python integers (object arrays) for what the kernels do not cover (the header's
  multi-word division, ``fixedpoint._header``).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend, _header
from .array import FixedArray, _wrap_limbs
from ._storage import _as_format, _flat_limbs, _native, _seed_for
from .format import Fixed
from ._operands import (_NATIVE_ARITH_MAX_W, result_format, _operand, _object_array, _ints, _obj, _from_ints, _wrap_obj, _first_index, _broadcast_shape)



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
    div_w = _backend.natural_format("div", fa, fb)[3] if op == "div" else None
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
        lo, hi, _ = _backend.elementwise(op, ra, fa, rb, fb, out_fmt, seed or 0, nat.w > 64)
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
    res = _backend.wide_elementwise(op, ba, sa, fa, bb, sb, fb, n, nat, out_fmt, seed or 0)
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
