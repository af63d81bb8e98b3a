"""Slow, obviously-correct pure-Python reference model of ``ap_fixed`` quantization.

This module is the independent check of the C++ core. It is written *semantically*:
every conversion is "take the exact rational value, round it to an integer number of
destination LSBs with the rounding mode, then resolve overflow with the overflow mode".
It is deliberately not a transliteration of the header's bit fiddling (shift, quantization
bit, carry, ``deleted_zeros``/``deleted_ones`` flags, ...), so that a bug in a port of that
logic does not also appear here. Only Python ints and :class:`fractions.Fraction` are used.

Semantics (``Fixed(w, i, signed, q, o, n)``, ``F = w - i`` fraction bits)
-----------------------------------------------------------------------
1. ``R`` = the exact value times ``2**F`` rounded to an integer by ``q``:

   ========== =====================================================
   TRN        floor
   TRN_ZERO   toward zero
   RND        nearest, ties toward +inf
   RND_ZERO   nearest, ties toward zero
   RND_MIN_INF nearest, ties toward -inf
   RND_INF    nearest, ties away from zero
   RND_CONV   nearest, ties to even
   STOCH      floor + 1 with probability ``frac`` (our extension, see below)
   ========== =====================================================

2. The stored range is ``[-2**(w-1), 2**(w-1)-1]`` (signed) or ``[0, 2**w-1]`` (unsigned).
   If ``R`` is in range the stored value is ``R``; otherwise (``R > max``: overflow,
   ``R < min``: underflow) the overflow mode decides:

   * ``SAT``: clamp to min/max.
   * ``SAT_ZERO``: 0.
   * ``SAT_SYM``: signed: clamp to ``[-max, max]``; an exact ``R == min`` also becomes
     ``-max`` (the header flags it as underflow). Header quirk (golden README quirk 3):
     for ``w == 1`` the symmetric bound ``-max`` would be 0, but the header writes the code
     ``min | 1`` which for one bit is raw ``-1``; so ``w == 1`` ``SAT_SYM`` equals ``SAT``.
     Unsigned ``SAT_SYM`` is ``SAT``.
   * ``WRAP``, ``n == 0``: ``R mod 2**w`` (sign-extended if signed).
   * ``WRAP``, ``n > 0`` (only when out of range): signed: wrap, then bit ``w-1`` is
     ``R < 0`` and bits ``w-n .. w-2`` are ``0`` if ``R < 0`` else ``1``.
     Unsigned: wrap, then bits ``w-n .. w-1`` are all set, also when ``R < 0``
     (header quirk, golden README quirk 2).
   * ``WRAP_SM`` (signed only; the header rejects ``ap_ufixed`` + ``AP_WRAP_SM``): the
     header's bit recipe in ``overflow_adjust`` (see :func:`_wrap_sm`). For ``n == 0`` the
     new sign bit ``lD`` is bit ``w`` of ``floor(value * 2**F)``, i.e. the source bit just
     above the kept field *before rounding* (README quirk 4).

Why the semantic flags equal the header's flags
-----------------------------------------------
The header computes ``overflow``/``underflow`` from the source bits above the kept field
(``Range1``/``Range2``), the rounding carry out of bit ``w-1`` and the new sign bit. With
``U`` = the source bits above the kept field (sign-extended), ``K`` = the kept ``w``-bit field
and ``inc`` the rounding increment, ``R = U*2**w + K + inc``; the header's ``neg_src`` is
``R < 0`` (``isneg`` and not "``U == -1`` with a carry", which gives ``R == 0``), its
``overflow`` is ``R >= 0`` and (``U + carry != 0`` or, for a signed target, bit ``w-1`` set),
i.e. ``R > max``, and its ``underflow`` is ``R < 0`` and not (``U == -1``, no carry and, for
a signed target, bit ``w-1`` set), i.e. ``R < min``. The ``SAT_SYM`` addition
(``neg_src`` and the low ``w-1`` bits zero) adds exactly ``R == min`` (for ``w == 1``: every
``R < 0``). The overflow logic is skipped entirely when the header can prove the type
cannot overflow (``I - S >= I2 - S2 + QUAN_INC``); that proof is sound, so skipping it does
not change results. ``lD`` is read as 0 when ``pos1`` is outside the source word; for
``pos1 < 0`` that is the true bit (zeros shifted in); for ``pos1 >= W2`` the true bit of a
negative source would be 1, but then the whole source fits in the kept field and neither
flag can be raised (rounding only moves up, and a non-negative source has bit 0 there), so
``lD`` is never used. This was checked exhaustively for all small formats against a
transliteration of the header, and is checked on every golden vector by
``tests/test_golden.py``.

STOCH (not in ap_fixed)
-----------------------
``frac = value*2**F - floor(value*2**F)`` (exact), ``T = ceil(frac * 2**64)`` and
``u = stoch_bits(seed, index)`` (SplitMix64 keyed by the seed, counter = the element's flat
C-order index). Round up iff ``u < T``. ``frac == 0`` never rounds; the probability of
rounding up is ``T / 2**64``, which is ``frac`` up to ``2**-64``. Overflow is then resolved
as above; ``lD`` for ``WRAP_SM`` is still the pre-rounding source bit.

Doubles
-------
The header's ``ap_fixed_base(double)`` reads a double as a signed 54-bit source
``man = +-(2**52 | mantissa)`` with ``I2 = exp + 2`` (``exp = biased exponent - 1023``) and
then does the fixed -> fixed conversion. Quirks reproduced by :func:`double_to_source`:
the implicit bit is set even for subnormals, which are read as ``(1.m) * 2**-1023``; NaN and
infinities have ``exp = 1024`` and are read as the huge finite values ``+-(1.m) * 2**1024``;
``+0.0`` and ``-0.0`` give raw 0.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

# The header's own (inexact) multi-word division lives in production (fixedpoint/_header.py);
# it is checked against the real ap_fixed.h by the live oracle (tests/test_oracle.py), not here.
from ._header import header_div_int, header_udiv  # noqa: E402,F401

__all__ = [
    "Q_MODES",
    "O_MODES",
    "normalize_q",
    "normalize_o",
    "raw_range",
    "value_of",
    "round_ratio",
    "stoch_bits",
    "stoch_threshold",
    "quantize",
    "cast_raw",
    "double_to_source",
    "from_double",
    "from_int",
    "to_double",
    "result_format",
    "arith_raw",
    "matmul_accum",
]

Q_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV", "STOCH")
O_MODES = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM", "WRAP_SM")

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------
def _mode_name(mode, kind: str) -> str:
    name = mode
    if not isinstance(name, str):
        name = getattr(mode, "name", None)  # enum members are accepted by name
    if not isinstance(name, str):
        raise ValueError(f"invalid {kind} mode {mode!r}")
    if name.startswith("AP_"):
        name = name[3:]
    return name


def normalize_q(q) -> str:
    """Return the canonical quantization-mode name (no ``AP_`` prefix); ValueError if bad."""
    name = _mode_name(q, "quantization")
    if name not in Q_MODES:
        raise ValueError(f"invalid quantization mode {q!r}; expected one of {', '.join(Q_MODES)}")
    return name


def normalize_o(o) -> str:
    """Return the canonical overflow-mode name (no ``AP_`` prefix); ValueError if bad."""
    name = _mode_name(o, "overflow")
    if name not in O_MODES:
        raise ValueError(f"invalid overflow mode {o!r}; expected one of {', '.join(O_MODES)}")
    return name


def _check_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            import operator

            v = operator.index(v)
        except TypeError:
            raise ValueError(f"{name} must be an integer, got {v!r}") from None
    return int(v)


def _check_format(w, i, signed) -> tuple[int, int, bool]:
    w = _check_int("w", w)
    i = _check_int("i", i)
    if w < 1:
        raise ValueError(f"width w must be >= 1, got {w}")
    return w, i, bool(signed)


def raw_range(w: int, signed: bool) -> tuple[int, int]:
    """Inclusive range ``(min, max)`` of the stored integer of a ``w``-bit format."""
    if signed:
        return -(1 << (w - 1)), (1 << (w - 1)) - 1
    return 0, (1 << w) - 1


def _check_raw(name: str, raw, w: int, signed: bool) -> int:
    raw = _check_int(name, raw)
    lo, hi = raw_range(w, signed)
    if not lo <= raw <= hi:
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"{name}={raw} is outside the {kind} {w}-bit range [{lo}, {hi}]")
    return raw


def value_of(raw: int, w: int, i: int) -> Fraction:
    """Exact real value ``raw * 2**-(w - i)`` of a stored integer."""
    f = w - i
    return Fraction(raw, 1 << f) if f >= 0 else Fraction(raw << -f)


# --------------------------------------------------------------------------------------
# rounding
# --------------------------------------------------------------------------------------
def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def stoch_bits(seed: int, index: int) -> int:
    """64 uniform bits for element ``index`` under ``seed`` (SplitMix64, counter-based)."""
    key = _mix64((seed ^ 0x6A09E667F3BCC909) & M64)
    return _mix64((key + (index + 1) * GAMMA) & M64)


def stoch_threshold(frac) -> int:
    """``T = ceil(frac * 2**64)`` for an exact fraction ``0 <= frac < 1``."""
    frac = Fraction(frac)
    if not 0 <= frac < 1:
        raise ValueError(f"frac must be in [0, 1), got {frac}")
    return math.ceil(frac * (1 << 64))


def round_ratio(num: int, den: int, q: str = "TRN", *, seed: int = 0, index: int = 0) -> int:
    """Round the exact rational ``num / den`` (``den > 0``) to an integer with mode ``q``."""
    q = normalize_q(q)
    if den <= 0:
        raise ValueError("den must be positive")
    fl = num // den  # floor
    rem = num - fl * den  # 0 <= rem < den; frac = rem / den
    if rem == 0:
        return fl  # exact: every mode (STOCH included) keeps it
    if q == "TRN":
        return fl
    if q == "TRN_ZERO":
        return fl + 1 if num < 0 else fl
    if q == "STOCH":
        t = -((-rem << 64) // den)  # ceil(rem * 2**64 / den) = ceil(frac * 2**64)
        return fl + 1 if stoch_bits(seed, index) < t else fl
    # round to nearest
    if 2 * rem < den:
        return fl
    if 2 * rem > den:
        return fl + 1
    # exact tie between fl and fl + 1
    if q == "RND":  # toward +inf
        return fl + 1
    if q == "RND_MIN_INF":  # toward -inf
        return fl
    if q == "RND_ZERO":  # toward zero
        return fl + 1 if num < 0 else fl
    if q == "RND_INF":  # away from zero
        return fl if num < 0 else fl + 1
    if q == "RND_CONV":  # to even
        return fl if fl % 2 == 0 else fl + 1
    raise AssertionError(q)  # pragma: no cover


# --------------------------------------------------------------------------------------
# overflow
# --------------------------------------------------------------------------------------
def _bit(v: int, k: int) -> int:
    return (v >> k) & 1


def _set_bit(v: int, k: int, b) -> int:
    return v | (1 << k) if b else v & ~(1 << k)


def _set_range(v: int, lo: int, hi: int, ones: bool) -> int:
    """Set bits ``lo..hi`` (inclusive) of ``v`` to all ones or all zeros."""
    if hi < lo:
        return v
    mask = ((1 << (hi - lo + 1)) - 1) << lo
    return v | mask if ones else v & ~mask


def _to_signed(bits: int, w: int) -> int:
    return bits - (1 << w) if bits >> (w - 1) else bits


def _wrap_sm(bits: int, w: int, n: int, neg: bool, lD: int) -> int:
    """``overflow_adjust`` for ``AP_WRAP_SM`` on ``w``-bit two's-complement ``bits``."""
    full = (1 << w) - 1
    ro = _bit(bits, w - 1)
    if n == 0:
        if lD != ro:
            bits = ~bits & full
            bits = _set_bit(bits, w - 1, lD)
        return bits
    if n == 1:
        if int(neg) != ro:
            bits = ~bits & full
    else:
        lno = _bit(bits, w - n)
        if lno == int(neg):
            bits = ~bits & full
        bits = _set_range(bits, w - n, w - 2, not neg)
    return _set_bit(bits, w - 1, neg)


def _resolve_overflow(r: int, lD: int, w: int, signed: bool, o: str, n: int) -> int:
    """Stored value for the rounded integer ``r`` (in destination LSBs)."""
    lo, hi = raw_range(w, signed)
    if o == "SAT_SYM" and signed:
        # symmetric range; an exact min is flagged as underflow too. Quirk: w == 1
        # writes min|1, which for one bit is raw -1 (so the lower bound stays -1).
        sym_lo = -hi if w > 1 else -1
        return min(max(r, sym_lo), hi)
    if lo <= r <= hi:
        return r
    neg = r < 0
    if o in ("SAT", "SAT_SYM"):
        return lo if neg else hi
    if o == "SAT_ZERO":
        return 0
    bits = r & ((1 << w) - 1)  # r mod 2**w
    if o == "WRAP":
        if n > 0:
            if signed:
                bits = _set_bit(bits, w - 1, neg)
                bits = _set_range(bits, w - n, w - 2, not neg)
            else:
                # quirk: the top n bits are set also when the value underflowed
                bits = _set_range(bits, w - n, w - 1, True)
    elif o == "WRAP_SM":
        bits = _wrap_sm(bits, w, n, neg, lD)
    else:  # pragma: no cover
        raise AssertionError(o)
    return _to_signed(bits, w) if signed else bits


def _check_modes(w: int, signed: bool, q, o, n) -> tuple[str, str, int]:
    q = normalize_q(q)
    o = normalize_o(o)
    n = _check_int("n", n)
    if n < 0:
        raise ValueError(f"saturation bits n must be >= 0, got {n}")
    if o in ("WRAP", "WRAP_SM") and n > w:
        raise ValueError(f"saturation bits n={n} exceed the width w={w}")
    if o == "WRAP_SM" and not signed:
        raise ValueError("WRAP_SM requires a signed format (ap_ufixed rejects AP_WRAP_SM)")
    return q, o, n


def _quantize_ratio(num: int, den: int, w: int, signed: bool, q: str, o: str, n: int,
                    seed: int, index: int) -> int:
    """Quantize the exact ``num / den`` (already in destination-LSB units)."""
    r = round_ratio(num, den, q, seed=seed, index=index)
    lD = _bit(num // den, w)  # bit just above the kept field, before rounding
    return _resolve_overflow(r, lD, w, signed, o, n)


# --------------------------------------------------------------------------------------
# public conversions
# --------------------------------------------------------------------------------------
def quantize(value, w: int, i: int, signed: bool, q="TRN", o="WRAP", n: int = 0, *,
             seed: int = 0, index: int = 0) -> int:
    """Stored integer of ``Fixed(w, i, signed, q, o, n)`` holding the exact rational ``value``.

    ``value`` is an int, a :class:`~fractions.Fraction` or a float (taken exactly; this is
    *not* the header's double reading, see :func:`from_double`). NaN/inf are rejected.
    """
    w, i, signed = _check_format(w, i, signed)
    q, o, n = _check_modes(w, signed, q, o, n)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot quantize {value!r}")
    value = Fraction(value) * Fraction(2) ** (w - i)
    return _quantize_ratio(value.numerator, value.denominator, w, signed, q, o, n, seed, index)


def cast_raw(src_raw: int, src_w: int, src_i: int, src_signed: bool, w: int, i: int,
             signed: bool, q="TRN", o="WRAP", n: int = 0, *, seed: int = 0,
             index: int = 0) -> int:
    """Fixed -> fixed conversion: ``ap_[u]fixed<w,i,q,o,n> v(src)``; returns the stored int."""
    src_w, src_i, src_signed = _check_format(src_w, src_i, src_signed)
    src_raw = _check_raw("src_raw", src_raw, src_w, src_signed)
    w, i, signed = _check_format(w, i, signed)
    q, o, n = _check_modes(w, signed, q, o, n)
    # value * 2**F = src_raw * 2**(F - F_src)
    shift = (w - i) - (src_w - src_i)
    if shift >= 0:
        num, den = src_raw << shift, 1
    else:
        num, den = src_raw, 1 << -shift
    return _quantize_ratio(num, den, w, signed, q, o, n, seed, index)


def double_to_source(x: float) -> tuple[int, int, int, bool]:
    """The header's reading of a double as a fixed-point source ``(raw, w, i, signed)``.

    Finite normal doubles give their exact value. Quirks: subnormals read as
    ``(1.m) * 2**-1023``, NaN/inf as ``+-(1.m) * 2**1024``; zeros give ``(0, 54, 2, True)``.
    """
    bits = struct.unpack("<Q", struct.pack("<d", float(x)))[0]
    if bits & ~(1 << 63) == 0:
        return 0, 54, 2, True
    exp = ((bits >> 52) & 0x7FF) - 1023
    man = (bits & ((1 << 52) - 1)) | (1 << 52)  # implicit bit always set (header quirk)
    if bits >> 63:
        man = -man
    return man, 54, exp + 2, True


def from_double(x: float, w: int, i: int, signed: bool, q="TRN", o="WRAP", n: int = 0, *,
                nan: str = "raise", seed: int = 0, index: int = 0) -> int:
    """``ap_[u]fixed<w,i,q,o,n> v(x)`` for a double ``x``; returns the stored int.

    ``nan="raise"`` rejects NaN with ValueError; ``nan="ap"`` reproduces the header (NaN is
    read as a huge finite value). Infinities always follow the header.
    """
    if nan not in ("raise", "ap"):
        raise ValueError(f"nan must be 'raise' or 'ap', got {nan!r}")
    x = float(x)
    if math.isnan(x) and nan == "raise":
        raise ValueError("cannot convert NaN to fixed point (pass nan='ap' to reproduce ap_fixed)")
    raw, sw, si, ss = double_to_source(x)
    return cast_raw(raw, sw, si, ss, w, i, signed, q, o, n, seed=seed, index=index)


def from_int(v: int, w: int, i: int, signed: bool, q="TRN", o="WRAP", n: int = 0, *,
             seed: int = 0, index: int = 0) -> int:
    """Exact integer input (a signed source just wide enough for ``v``, ``I = W``)."""
    v = _check_int("v", v)
    sw = v.bit_length() + 1
    return cast_raw(v, sw, sw, True, w, i, signed, q, o, n, seed=seed, index=index)


def to_double(raw: int, w: int, i: int, signed: bool) -> float:
    """Value of a stored integer as a double: exact when representable, else round-half-even.

    Out of the double range this returns ``+-inf`` and gradual underflow (subnormals, signed
    zero), i.e. IEEE semantics. The header's ``to_double`` writes the exponent field without
    range checks, so it differs there (values beyond about ``2**1024`` or below ``2**-1022``).
    """
    w, i, signed = _check_format(w, i, signed)
    raw = _check_raw("raw", raw, w, signed)
    if raw == 0:
        return 0.0
    f = w - i
    num, den = (raw, 1 << f) if f >= 0 else (raw << -f, 1)
    try:
        return num / den  # int / int true division is correctly rounded (half-even)
    except OverflowError:
        return math.inf if raw > 0 else -math.inf


# --------------------------------------------------------------------------------------
# arithmetic (natural result formats)
# --------------------------------------------------------------------------------------
def result_format(op: str, a: tuple, b: tuple | None = None) -> tuple[int, int, bool]:
    """Natural result format ``(w, i, signed)`` of ``a op b`` (or ``-a`` for ``op="neg"``).

    ``a`` and ``b`` are ``(w, i, signed)`` tuples.
    """
    w1, i1, s1 = a
    if op == "neg":
        return w1 + 1, i1 + 1, True
    w2, i2, s2 = b
    f1, f2 = w1 - i1, w2 - i2
    if op in ("add", "sub"):
        i = max(i1 + (s2 and not s1), i2 + (s1 and not s2)) + 1
        return i + max(f1, f2), i, (s1 or s2) if op == "add" else True
    if op == "mul":
        return w1 + w2, i1 + i2, s1 or s2
    if op == "div":
        return s2 + w1 + max(f2, 0), s2 + i1 + f2, s1 or s2
    raise ValueError(f"unknown op {op!r}")


def _wrap_int(v: int, w: int, signed: bool) -> int:
    bits = v & ((1 << w) - 1)
    return _to_signed(bits, w) if signed else bits


def arith_raw(op: str, a_raw: int, a: tuple, b_raw: int | None = None,
              b: tuple | None = None, *, exact: bool = False) -> tuple[int, tuple[int, int, bool]]:
    """Stored result and result format of ``a op b`` as the headers compute it.

    ``+ - *`` and unary minus are exact. ``/`` is the quotient in units of the result
    LSB truncated toward zero, computed in ``max(W1 + max(F2,0) + [S2 and not S1],
    W2 + [S1 and not S2])`` bits and wrapped there (README quirk 5: most-negative / raw -1
    wraps), then sign- or zero-extended into the result format. Above 64 bits that
    division is the header's multi-word division (:func:`header_udiv`), which loses low
    bits for some operands; ``exact=True`` gives the exact quotient instead.
    """
    res = result_format(op, a, b)
    rw, ri, rs = res
    w1, i1, s1 = _check_format(*a)
    a_raw = _check_raw("a_raw", a_raw, w1, s1)
    va = value_of(a_raw, w1, i1)
    if op == "neg":
        exact = -va
    else:
        w2, i2, s2 = _check_format(*b)
        b_raw = _check_raw("b_raw", b_raw, w2, s2)
        vb = value_of(b_raw, w2, i2)
        if op == "add":
            exact = va + vb
        elif op == "sub":
            exact = va - vb
        elif op == "mul":
            exact = va * vb
        else:  # div
            if b_raw == 0:
                raise ZeroDivisionError("fixed-point division by zero")
            f2 = w2 - i2
            num = a_raw << max(f2, 0)
            w_div = max(w1 + max(f2, 0) + (s2 and not s1), w2 + (s1 and not s2))
            if exact or w_div <= 64:
                q = abs(num) // abs(b_raw)
                if (num < 0) != (b_raw < 0):
                    q = -q  # truncation toward zero
            else:  # the header's multi-word division (docs/modes.md quirks)
                q = header_div_int(num, b_raw, w_div, s1 or s2)
            return _wrap_int(_wrap_int(q, w_div, s1 or s2), rw, rs), res
    scaled = exact * Fraction(2) ** (rw - ri)
    assert scaled.denominator == 1  # the natural format holds the exact result
    raw = int(scaled)
    assert raw_range(rw, rs)[0] <= raw <= raw_range(rw, rs)[1]
    return raw, res


# --------------------------------------------------------------------------------------
# the header's non-exact comparisons and wide division (docs/modes.md, quirks)
# --------------------------------------------------------------------------------------
CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")


def header_compare(op: str, a_raw: int, a: tuple, b_raw: int, b: tuple) -> bool:
    """``a op b`` as ``ap_fixed.h`` computes it (``op`` in ``CMP_OPS``; ``a``, ``b`` are
    ``(w, i, signed)``).

    The header first aligns the binary points (``OP_CMP_AF`` in ap_fixed_base.h): with equal
    fraction bits the raws are compared as they are; if the lhs has more, the rhs is widened
    to ``W2 + F1 - F2`` bits; otherwise the lhs is widened to ``W1 + F2 - F1 + 1`` bits. The
    aligned integers ``x`` (``Wa`` bits) and ``y`` (``Wb`` bits) are then compared by
    ``ap_private`` as C compares integers of those widths:

    * same signedness: exactly;
    * ordered (``< <= > >=``), mixed signedness: exactly if both widths are below 32 or
      the signed one is wider; otherwise (the unsigned side is at least as wide and not both
      are below 32) as unsigned ``max(Wa, Wb) + 1``-bit patterns, so a negative signed value
      compares greater than every unsigned one;
    * ``==``/``!=``: as unsigned bit patterns of ``max(Wa, Wb, 32)`` bits, or of 64 bits when
      ``Wa == Wb <= 64``. With mixed signedness a negative ``x`` then equals the unsigned
      ``y == x + 2**Wu`` when the unsigned width ``Wu`` is at least 32, at least the signed
      width, and not equal to it below 64 bits (``ap_fixed<2,2>(-1) == ap_ufixed<32,32>(2**32-1)``
      is true; ``ap_fixed<32,32>(-1) == ap_ufixed<32,32>(2**32-1)`` is false).
    """
    if op not in CMP_OPS:
        raise ValueError(f"unknown comparison {op!r}")
    w1, i1, s1 = a
    w2, i2, s2 = b
    f1, f2 = w1 - i1, w2 - i2
    if f1 == f2:
        x, wa, y, wb = a_raw, w1, b_raw, w2
    elif f1 > f2:
        x, wa, y, wb = a_raw, w1, b_raw << (f1 - f2), w2 + f1 - f2
    else:
        x, wa, y, wb = a_raw << (f2 - f1), w1 + f2 - f1 + 1, b_raw, w2
    if op in ("==", "!="):
        # ap_private compares equal-width (<= 64 bits) operands as their 64-bit words, any
        # others as unsigned patterns of max(Wa, Wb, 32) bits
        m = (1 << (64 if wa == wb <= 64 else max(wa, wb, 32))) - 1
        return ((x & m) == (y & m)) == (op == "==")
    if s1 != s2 and not (wa < 32 and wb < 32):
        w_s, w_u = (wa, wb) if s1 else (wb, wa)
        if w_u >= w_s:
            m = (1 << (max(wa, wb) + 1)) - 1
            x, y = x & m, y & m
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def matmul_accum(ra, a, rb, b, accum, seed: int = 0, base: int = 0, bias=None):
    """Accumulator-accurate ``ra @ rb`` one product at a time, as the firmware adds them: each
    product cast into the accumulator format (its rounding and overflow modes), added to the
    running sum, and the sum cast back, in index order (STOCH counters ``base + 2 * ((i * N + j)
    * K + k)`` for the product and ``+ 1`` for the sum).

    ``ra`` (M, K) and ``rb`` (K, N) hold stored integers (NumPy ints or Python ints; 64-bit
    unsigned formats may hold them as negative int64), ``a`` and ``b`` their formats and
    ``accum`` the accumulator's, as objects with ``w``, ``i``, ``signed``, ``q``, ``o``, ``n``
    (a ``fx.Fixed``); ``bias`` (N,) accumulator raws or None. Returns an (M, N) list of lists
    of Python ints.
    """
    M = len(ra)
    K = ra.shape[1] if hasattr(ra, "shape") else (len(ra[0]) if M else 0)
    N = rb.shape[1] if hasattr(rb, "shape") else (len(rb[0]) if len(rb) else 0)
    q, o = normalize_q(accum.q), normalize_o(accum.o)
    pw, pi, ps = a.w + b.w, a.i + b.i, a.signed or b.signed

    def true_int(v, fmt):
        v = int(v)
        return v + (1 << 64) if (not fmt.signed and fmt.w == 64 and v < 0) else v

    out = []
    for i in range(M):
        row = []
        for j in range(N):
            acc = 0 if bias is None else true_int(bias[j], accum)
            for k in range(K):
                ctr = base + ((i * N + j) * K + k) * 2
                p = true_int(ra[i][k], a) * true_int(rb[k][j], b)
                pq = cast_raw(p, pw, pi, ps, accum.w, accum.i, accum.signed, q, o, accum.n, seed=seed, index=ctr)
                acc = cast_raw(acc + pq, accum.w + 1, accum.i + 1, accum.signed, accum.w, accum.i, accum.signed,
                               q, o, accum.n, seed=seed, index=ctr + 1)
            row.append(acc)
        out.append(row)
    return out
