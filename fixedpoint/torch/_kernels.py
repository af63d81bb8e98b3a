"""Pure-torch kernels with the C++ core's semantics (the ``"torch"`` backend).

These functions use only torch tensor operations, so they run on any device. They reproduce
``fixedpoint._backend.quantize`` bit for bit:

* the input float is read the way ``ap_fixed.h`` reads a double: a signed 54-bit mantissa
  ``m = +-(2**52 | mantissa)`` and an exponent, with the implicit bit set even for
  subnormals and NaN/inf read as huge finite values (float32 inputs are first widened to
  float64, as the core does; this module decodes the float32 bits directly with the same
  result, so no float64 support is needed for that step);
* ``m * 2**-sh`` is rounded to an integer with int64 arithmetic (exact for every shift);
* STOCH draws the same counter-based words as ``csrc/core/rng.hpp``: SplitMix64
  ``u(seed, k)`` computed with wrapping int64 multiplies and logical shifts emulated by
  masking;
* the overflow modes (including the saturation bits ``n`` and ``WRAP_SM``) work on the
  wrapped low ``w`` bits exactly as ``quantize_one`` does.

Supported: every q/o/n and every ``w <= 64`` except 64-bit unsigned formats, and formats
whose LSB ``2**-f`` is a float64 (``-1023 <= f <= 1074``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch

from ..format import Fixed, OMode, QMode

__all__ = [
    "torch_supports",
    "quantize_raw",
    "raw_to_float",
    "stoch_words",
    "in_range_mask_bounds",
]

_M64 = (1 << 64) - 1
_MIN64 = -(1 << 63)


def _s64(v: int) -> int:
    """A Python int taken mod 2**64 as a signed int64 (two's complement)."""
    v &= _M64
    return v - (1 << 64) if v >> 63 else v


_GAMMA = _s64(0x9E3779B97F4A7C15)
_MUL1 = _s64(0xBF58476D1CE4E5B9)
_MUL2 = _s64(0x94D049BB133111EB)


def _mix64_py(z: int) -> int:
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _srl(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 words by a constant k (1 <= k <= 63)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def _mix64(z: torch.Tensor) -> torch.Tensor:
    z = (z ^ _srl(z, 30)) * _MUL1  # int64 multiplication wraps mod 2**64, as uint64 does
    z = (z ^ _srl(z, 27)) * _MUL2
    return z ^ _srl(z, 31)


def stoch_words(seed: int, count: int, device) -> torch.Tensor:
    """The STOCH words u(seed, k), k = 0..count-1, as int64 bit patterns of the uint64s."""
    key = _s64(_mix64_py(seed ^ 0x6A09E667F3BCC909))
    idx = torch.arange(1, count + 1, dtype=torch.int64, device=device)
    return _mix64(idx * _GAMMA + key)


def _ult(a: torch.Tensor, b) -> torch.Tensor:
    """Unsigned a < b for int64 bit patterns."""
    return (a ^ _MIN64) < (b ^ _MIN64)


def torch_supports(fmt: Fixed) -> str | None:
    """None if the torch backend computes ``fmt`` exactly like the core, else the reason."""
    if fmt.w > 64:
        return f"w must be <= 64, got {fmt}"
    if fmt.w == 64 and not fmt.signed:
        return f"64-bit unsigned formats do not fit int64 tensors, got {fmt}"
    if not -1023 <= fmt.f <= 1074:
        return f"the LSB 2**-f must be a float64 (-1023 <= f <= 1074), got f={fmt.f} in {fmt}"
    return None


def _decode(x: torch.Tensor):
    """(m, e): the header's reading of each float as m * 2**e (m = 0 for +-0)."""
    if x.dtype == torch.float64:
        bits = x.contiguous().view(torch.int64)
        biased = (bits >> 52) & 0x7FF
        mant = bits & ((1 << 52) - 1)
        m = mant | (1 << 52)
        e = biased - 1075  # normal: exp - 52; subnormal: -1023 - 52; NaN/inf: 1024 - 52
    elif x.dtype == torch.float32:
        bits = x.contiguous().view(torch.int32).to(torch.int64)
        biased = (bits >> 23) & 0xFF
        mant = bits & ((1 << 23) - 1)
        special = biased == 255
        # float -> double quiets a signalling NaN (sets the top mantissa bit)
        mant = torch.where(special & (mant != 0), mant | (1 << 22), mant)
        sub = biased == 0  # a float32 subnormal is a normal double: its exact value
        m = torch.where(sub, mant, mant | (1 << 23))
        e = torch.where(sub, torch.full_like(biased, -149), biased - 150)
        e = torch.where(special, torch.full_like(e, 1024 - 23), e)
    else:  # pragma: no cover - callers convert first
        raise TypeError(f"_decode: unsupported dtype {x.dtype}")
    m = torch.where(bits < 0, -m, m)
    m = torch.where((bits & ~_MIN64) == 0, torch.zeros_like(m), m)
    return m, e


def _round_up(q: QMode, m, neg, fl, rem, half, sh, seed: int | None):
    """Whether m * 2**-sh (sh > 0) rounds up from its floor fl, for rounding mode q."""
    if q is QMode.TRN:
        return torch.zeros_like(neg)
    nz = rem != 0
    if q is QMode.TRN_ZERO:
        return neg & nz
    if q is QMode.STOCH:
        u = stoch_words(seed, m.numel(), m.device).view(m.shape)
        # 1 <= sh <= 64: T = ceil(frac * 2**64) = (m mod 2**sh) << (64 - sh), an integer
        # < 2**64, computed mod 2**64 by a wrapping shift of m itself.
        t_mid = m << (64 - sh.clamp(1, 64))
        up_mid = _ult(u, t_mid)
        # sh > 64 (|value| < 2**-11): m > 0: T = ceil(m / 2**d); m < 0: T = 2**64 - floor(|m| / 2**d)
        d = (sh - 64).clamp(1, 63)
        t_pos = (m >> d) + ((m & ((torch.ones_like(m) << d) - 1)) != 0).to(torch.int64)
        qn = (-m) >> d
        up_far = torch.where(neg, (qn == 0) | _ult(u, -qn), _ult(u, t_pos))
        return torch.where(sh <= 64, up_mid, up_far)
    gt = rem > half
    eq = rem == half
    if q is QMode.RND:
        return gt | eq
    if q is QMode.RND_ZERO:
        return gt | (eq & neg)
    if q is QMode.RND_MIN_INF:
        return gt
    if q is QMode.RND_INF:
        return gt | (eq & ~neg)
    if q is QMode.RND_CONV:
        return gt | (eq & ((fl & 1) == 1))
    raise AssertionError(q)  # pragma: no cover


def _set_bits(v, lo_bit: int, hi_bit: int, ones):
    """Bits lo_bit..hi_bit of v set to ones (a bool tensor) or zeros."""
    if hi_bit < lo_bit:
        return v
    mask = _s64(((1 << (hi_bit + 1)) - 1) & ~((1 << lo_bit) - 1))
    return torch.where(ones, v | mask, v & ~mask)


def quantize_raw(x: torch.Tensor, fmt: Fixed, seed: int | None) -> torch.Tensor:
    """Stored integers (int64) of ``fmt`` for float32/float64 ``x``, as ``_backend.quantize``
    computes them (NaN is read as ap_fixed reads it; the caller handles the NaN policy)."""
    w, f, signed, n = fmt.w, fmt.f, fmt.signed, fmt.n
    q, o = fmt.q, fmt.o
    m, e = _decode(x)
    neg = m < 0
    sh = -(e + f)  # value * 2**f = m * 2**-sh
    # sh <= 0: an exact left shift, unless it leaves int64 (then out of every w <= 64 range)
    L = (-sh).clamp(0, 63)
    left = m << L
    left_exact = (sh >= -62) & ((left >> L) == m)
    left_bits = torch.where(sh < -63, torch.zeros_like(left), left)  # low 64 bits of m * 2**-sh
    # sh > 0: floor and remainder (|m| < 2**54, so clamping sh at 62 keeps floor and
    # every comparison with 1/2; STOCH uses the true sh)
    shc = sh.clamp(1, 62)
    fl = m >> shc
    rem = m - (fl << shc)
    half = torch.ones_like(m) << (shc - 1)
    up = _round_up(q, m, neg, fl, rem, half, sh, seed)
    right = sh > 0
    r = torch.where(right, fl + up.to(torch.int64), left)
    exact = right | left_exact
    lo, hi = fmt.raw_min, fmt.raw_max
    in_range = exact & (r >= lo) & (r <= hi)
    if o is OMode.SAT_SYM and signed:
        sym = -hi if w > 1 else -1
        r = torch.where(in_range & (r == lo), torch.full_like(r, sym), r)
    rneg = torch.where(exact, r < 0, neg)
    wmask = _s64((1 << w) - 1)
    bits = torch.where(exact, r, left_bits) & wmask

    def finish(v):
        v = v & wmask
        if signed and w < 64:
            v = (v << (64 - w)) >> (64 - w)
        return v

    if o is OMode.SAT:
        out = torch.where(rneg, torch.full_like(r, lo), torch.full_like(r, hi))
    elif o is OMode.SAT_ZERO:
        out = torch.zeros_like(r)
    elif o is OMode.SAT_SYM:
        if not signed:
            out = torch.where(rneg, torch.zeros_like(r), torch.full_like(r, hi))
        else:
            out = torch.where(rneg, torch.full_like(r, -hi if w > 1 else -1), torch.full_like(r, hi))
    elif o is OMode.WRAP:
        v = bits
        if n > 0:
            if signed:
                v = _set_bits(v, w - 1, w - 1, rneg)
                v = _set_bits(v, w - n, w - 2, ~rneg)
            else:
                v = _set_bits(v, w - n, w - 1, torch.ones_like(rneg))
        out = finish(v)
    elif o is OMode.WRAP_SM:
        v = bits
        ro = ((v >> (w - 1)) & 1) == 1
        if n == 0:
            pos1 = sh + w  # the source bit just above the kept field, before rounding
            ld = (((m >> pos1.clamp(0, 63)) & 1) == 1) & (pos1 >= 0)
            flip = ld != ro
            v = torch.where(flip, ~v, v)
            v = torch.where(flip, _set_bits(v, w - 1, w - 1, ld), v)
        elif n == 1:
            v = torch.where(rneg != ro, ~v, v)
            v = _set_bits(v, w - 1, w - 1, rneg)
        else:
            lno = ((v >> (w - n)) & 1) == 1
            v = torch.where(lno == rneg, ~v, v)
            v = _set_bits(v, w - n, w - 2, ~rneg)
            v = _set_bits(v, w - 1, w - 1, rneg)
        out = finish(v)
    else:  # pragma: no cover
        raise AssertionError(o)
    return torch.where(in_range, r, out)


def _no_float64(device: torch.device) -> bool:
    return device.type == "mps"


def raw_to_float(raw: torch.Tensor, fmt: Fixed, dtype: torch.dtype) -> torch.Tensor:
    """Values raw * 2**-f as ``dtype``: the float64 value (exact when w <= 53) rounded to
    ``dtype``, computed with torch ops (float32 on devices without float64)."""
    f = fmt.f
    if _no_float64(raw.device):  # pragma: no cover - no such device here
        return (raw.to(torch.float32) * math.ldexp(1.0, -f)).to(dtype)
    return (raw.to(torch.float64) * math.ldexp(1.0, -f)).to(dtype)


# -- the "clipped" straight-through mask --------------------------------------------------
def _round_dir(value: Fraction, dtype: torch.dtype, up: bool) -> float:
    """The nearest float of ``dtype`` at or above (``up``) / below ``value``, exactly."""
    npdt = np.float64 if dtype == torch.float64 else np.float32
    info = np.finfo(npdt)
    if value > Fraction(float(info.max)):
        return math.inf if up else float(info.max)
    if value < -Fraction(float(info.max)):
        return -float(info.max) if up else -math.inf
    c = npdt(float(value))  # nearest double, then nearest dtype: may be off by one step
    while Fraction(float(c)) < value if up else Fraction(float(c)) > value:
        c = np.nextafter(c, npdt(np.inf) if up else npdt(-np.inf))
    while True:  # the tightest such float
        d = np.nextafter(c, npdt(-np.inf) if up else npdt(np.inf))
        if (Fraction(float(d)) >= value) if up else (Fraction(float(d)) <= value):
            c = d
        else:
            break
    return float(c)


def in_range_bounds(q: QMode, lo: int, hi: int) -> tuple[Fraction, bool, Fraction, bool]:
    """The set of reals y whose rounding with q lands in [lo, hi]: (lower, inclusive,
    upper, inclusive). STOCH: the set that always lands in range, [lo, hi]."""
    half = Fraction(1, 2)
    if q is QMode.TRN:
        return Fraction(lo), True, Fraction(hi + 1), False
    if q is QMode.TRN_ZERO:
        return Fraction(lo - 1), False, Fraction(hi + 1), False
    if q is QMode.STOCH:
        return Fraction(lo), True, Fraction(hi), True
    low_tie_up = {  # does the tie lo - 1/2 (< 0) round up, into range?
        QMode.RND: True, QMode.RND_ZERO: True, QMode.RND_MIN_INF: False, QMode.RND_INF: False,
        QMode.RND_CONV: lo % 2 == 0,
    }[q]
    high_tie_down = {  # does the tie hi + 1/2 (> 0) round down, into range?
        QMode.RND: False, QMode.RND_ZERO: True, QMode.RND_MIN_INF: True, QMode.RND_INF: False,
        QMode.RND_CONV: hi % 2 == 0,
    }[q]
    return lo - half, low_tie_up, hi + half, high_tie_down


def in_range_mask_bounds(fmt: Fixed, dtype: torch.dtype):
    """Float bounds (a, a_inclusive, b, b_inclusive) in ``dtype`` such that x lies in
    [a, b] (open/closed as flagged) exactly when the rounded value of x does not overflow
    ``fmt`` (for SAT_SYM the symmetric range [-max, max])."""
    lo, hi = fmt.raw_min, fmt.raw_max
    if fmt.o is OMode.SAT_SYM and fmt.signed and fmt.w > 1:
        lo = -hi
    a, a_inc, b, b_inc = in_range_bounds(fmt.q, lo, hi)
    scale = Fraction(2) ** -fmt.f
    a, b = a * scale, b * scale
    # x >= a <=> x >= up(a); x > a <=> x > down(a); x <= b <=> x <= down(b); x < b <=> x < up(b)
    fa = _round_dir(a, dtype, up=a_inc)
    fb = _round_dir(b, dtype, up=not b_inc)
    return fa, a_inc, fb, b_inc


def mask_between(x: torch.Tensor, a, a_inc: bool, b, b_inc: bool) -> torch.Tensor:
    lower = x >= a if a_inc else x > a
    upper = x <= b if b_inc else x < b
    return lower & upper
