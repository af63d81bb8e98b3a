"""Python-int arithmetic that production code needs where the C++ kernels cannot go.

- :func:`cast_int`: ``ap_[u]fixed<W,I,Q,O,N>(v)`` for an exact Python integer ``v`` of any size
  (``fx.array`` of Python ints wider than the kernels' 1024-bit sources, and the per-element
  containers that ``AP_WRAP_SM`` without saturation bits reads). Written from the header's
  rules, independently of the reference model (``fixedpoint._reference``), which checks it.
- :func:`mix64` / :func:`stoch_word` / :func:`seed_at`: the core's counter-based stochastic
  rounding words (SplitMix64), in Python.
"""

from __future__ import annotations

from .format import Fixed, OMode, QMode

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # the core's SplitMix64 increment (csrc/core/rng.hpp)
KEY_XOR = 0x6A09E667F3BCC909  # the seed is xored with this before it is mixed into the key
_MUL1, _MUL2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_INV1, _INV2 = pow(_MUL1, -1, 1 << 64), pow(_MUL2, -1, 1 << 64)


def mix64(z: int) -> int:
    """SplitMix64's finalizer (a bijection of 64-bit words)."""
    z = ((z ^ (z >> 30)) * _MUL1) & M64
    z = ((z ^ (z >> 27)) * _MUL2) & M64
    return z ^ (z >> 31)


def _unxorshift(y: int, s: int) -> int:
    x = y
    for _ in range(64 // s + 1):
        x = y ^ (x >> s)
    return x


def unmix64(z: int) -> int:
    """The inverse of :func:`mix64`."""
    z = _unxorshift(z, 31)
    z = _unxorshift((z * _INV2) & M64, 27)
    return _unxorshift((z * _INV1) & M64, 30)


def stoch_word(seed: int, index: int) -> int:
    """The 64 random bits STOCH rounding compares for element ``index`` under ``seed``."""
    return mix64((mix64((seed ^ KEY_XOR) & M64) + (index + 1) * GAMMA) & M64)


def seed_at(seed: int, offset: int) -> int:
    """The seed whose word for element ``j`` is ``seed``'s word for element ``offset + j``:
    shifting the index shifts the key by ``offset * GAMMA``, and mix64 is a bijection, so the
    shifted key has a seed."""
    key = (mix64(seed ^ KEY_XOR) + offset * GAMMA) & M64
    return unmix64(key) ^ KEY_XOR


def _rounds_up(q: QMode, fl: int, rem: int, s: int, seed: int, index: int) -> bool:
    """Whether ``fl + rem / 2**s`` (``0 < rem < 2**s``) rounds up to ``fl + 1`` under ``q``."""
    negative = fl < 0  # the value's sign (rem > 0, so the value is negative exactly when fl is)
    if q is QMode.TRN:
        return False
    if q is QMode.TRN_ZERO:
        return negative
    if q is QMode.STOCH:  # up with probability rem / 2**s: word < ceil(rem * 2**64 / 2**s)
        threshold = -((-rem << 64) >> s)
        return stoch_word(seed, index) < threshold
    half = 1 << (s - 1)
    if rem != half:
        return rem > half
    return {QMode.RND: True, QMode.RND_MIN_INF: False, QMode.RND_ZERO: negative,
            QMode.RND_INF: not negative, QMode.RND_CONV: fl & 1 == 1}[q]


def _overflow(r: int, above: int, fmt: Fixed) -> int:
    """The stored integer for the rounded value ``r`` (in units of fmt's lsb): fmt's overflow
    mode when ``r`` is out of range. ``above``: bit ``w`` of the value before rounding (what
    AP_WRAP_SM without saturation bits writes into the sign)."""
    w, n, o, signed = fmt.w, fmt.n, fmt.o, fmt.signed
    lo, hi = fmt.raw_min, fmt.raw_max
    if o is OMode.SAT_SYM and signed:  # symmetric: -max..max (one bit: -1..0, min|1 is -1)
        return min(max(r, -hi if w > 1 else -1), hi)
    if lo <= r <= hi:
        return r
    neg = r < 0
    if o in (OMode.SAT, OMode.SAT_SYM):
        return lo if neg else hi
    if o is OMode.SAT_ZERO:
        return 0
    full = (1 << w) - 1
    top = 1 << (w - 1)
    sat_field = ((1 << n) - 1) << (w - n) if n else 0  # the n most significant bits
    bits = r & full
    if o is OMode.WRAP:
        if n and signed:  # sign bit = the sign of r; the other n - 1 saturated bits = its complement
            bits = (bits & ~sat_field) | (top if neg else sat_field & ~top)
        elif n:  # unsigned: the n top bits are set, also on underflow (the header's quirk)
            bits |= sat_field
    else:  # WRAP_SM (signed only)
        msb = bits >> (w - 1) & 1
        if n == 0:
            if above != msb:
                bits = (~bits & full & ~top) | (top if above else 0)
        else:
            flip = (msb != neg) if n == 1 else ((bits >> (w - n)) & 1 == neg)
            if flip:
                bits = ~bits & full
            if n > 1:
                bits = (bits & ~(sat_field & ~top)) | (0 if neg else sat_field & ~top)
            bits = (bits & ~top) | (top if neg else 0)
    return bits - (1 << w) if signed and bits & top else bits


def cast_int(v: int, fmt: Fixed, seed: int = 0, index: int = 0) -> int:
    """The stored integer of ``fmt(v)`` for an exact integer ``v`` of any size (a signed source
    just wide enough for it, as ``fx.array`` reads Python ints): rounded with fmt's q (STOCH
    draws word ``(seed, index)``), then fmt's overflow mode."""
    s = -fmt.f  # fmt's lsb is 2**s
    if s <= 0:
        fl, rem = v << -s, 0
    else:
        fl, rem = v >> s, v & ((1 << s) - 1)  # floor and remainder (0 <= rem < 2**s)
    r = fl + 1 if rem and _rounds_up(fmt.q, fl, rem, s, seed, index) else fl
    return _overflow(r, fl >> fmt.w & 1, fmt)
