"""Fixed-point formats: ``Fixed(w, i, signed, q, o, n)``, the ap_fixed ``<W, I, Q, O, N>``."""

from __future__ import annotations

import enum
import math
import operator
import re
from fractions import Fraction

__all__ = ["QMode", "OMode", "Fixed", "MAX_WIDTH", "MAX_INT_BITS"]

MAX_WIDTH = 1024  # ap_fixed's default AP_INT_MAX_W
# Bound on |i| (integer bits). ap_fixed allows any I, also I > W and I < 0; 2**20 is far beyond
# any format a value can need (a double spans 2**-1074 .. 2**1024), and it keeps every shift,
# width and exponent the kernels compute (sums of a few w, i and f) exact in 32-bit ints
# (csrc/core/format.hpp kMaxIntBits, the same bound).
MAX_INT_BITS = 1 << 20


class QMode(str, enum.Enum):
    """Rounding (quantization) modes: the seven ap_fixed modes plus stochastic rounding.

    Members are also their strings (``QMode.RND == "RND"``); every API that takes a mode
    accepts the member, its name, or the name with the ``AP_`` prefix. Each mode rounds the
    exact input once (no double rounding); see docs/modes.md for a worked example of each.

    Raises:
        ValueError: ``QMode(name)`` with a name that is not a member (``fx.Fixed`` reports the
            allowed names instead).
    """

    TRN = "TRN"  # toward -inf (floor); the ap_fixed default
    TRN_ZERO = "TRN_ZERO"  # toward zero
    RND = "RND"  # to nearest, ties toward +inf
    RND_ZERO = "RND_ZERO"  # to nearest, ties toward zero
    RND_MIN_INF = "RND_MIN_INF"  # to nearest, ties toward -inf
    RND_INF = "RND_INF"  # to nearest, ties away from zero
    RND_CONV = "RND_CONV"  # to nearest, ties to even
    STOCH = "STOCH"  # up with probability equal to the discarded fraction (not in ap_fixed)

    def __str__(self) -> str:
        return self.value


class OMode(str, enum.Enum):
    """Overflow modes, as in ap_fixed, applied after rounding.

    ``SAT_ZERO``, ``SAT_SYM`` and ``WRAP_SM`` reproduce ap_fixed bit for bit, including its
    quirks (docs/modes.md). ``WRAP`` and ``WRAP_SM`` take ``n`` saturation bits.

    Raises:
        ValueError: ``OMode(name)`` with a name that is not a member.
    """

    WRAP = "WRAP"  # keep the low bits (the ap_fixed default)
    SAT = "SAT"  # clamp to [min, max]
    SAT_ZERO = "SAT_ZERO"  # out of range -> 0
    SAT_SYM = "SAT_SYM"  # clamp to [-max, max] (signed)
    WRAP_SM = "WRAP_SM"  # sign-magnitude wrap (signed only)

    def __str__(self) -> str:
        return self.value




def _mode(enum_cls, value, field: str):
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str) and value.isascii():  # 'ſat'.upper() == 'SAT': compare ASCII names only
        name = value.strip().upper()
        if name.startswith("AP_"):
            name = name[3:]
        try:
            return enum_cls(name)
        except ValueError:
            pass
    allowed = ", ".join(m.value for m in enum_cls)
    raise ValueError(f"Fixed: unknown {field} mode {value!r}; allowed: {allowed} (an 'AP_' prefix is accepted)")


def _int_field(value, field: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"Fixed: {field} must be an integer, got {value!r}")
    return operator.index(value)


class Fixed:
    """A fixed-point format, ``ap_fixed<w, i, q, o, n>`` (``signed=False``: ``ap_ufixed``).

    ``w`` is the total width in bits (1..1024), ``i`` the integer bits including the
    sign bit (may be negative or larger than ``w``; ``|i| <= 2**20``), ``f = w - i`` the
    fraction bits.
    ``q``/``o``/``n`` are the rounding mode, overflow mode and saturation bits applied
    when a value is quantized into this format. Instances are immutable and hashable.

    A format is a description: it computes nothing, and its derived properties (``f``,
    ``raw_min``, ``raw_max``, ``lsb_exact``) are exact integers or fractions.

    Args:
        w: total width in bits, 1..1024 (``MAX_WIDTH``).
        i: integer bits including the sign bit; any integer in [-2**20, 2**20]
            (``MAX_INT_BITS``): negative and larger than ``w`` as in ap_fixed.
        signed: ``True`` for ``ap_fixed``, ``False`` for ``ap_ufixed``.
        q: rounding mode (a ``QMode``, or its name with or without ``AP_``).
        o: overflow mode (an ``OMode``, or its name with or without ``AP_``).
        n: saturation bits, 0..w, used by ``WRAP`` and ``WRAP_SM``. ``ap_fixed.h`` accepts N
            with the saturating modes (``SAT``, ``SAT_ZERO``, ``SAT_SYM``) and never reads it
            there, so such a format computes as with N = 0: it is stored as ``n=0`` (equal to,
            and printed as, the N = 0 format).

    Raises:
        ValueError: ``w``, ``i`` or ``n`` is not an integer, ``w`` is outside [1, 1024],
            ``i`` is outside [-2**20, 2**20], ``n`` is outside [0, w], ``signed`` is not a
            bool, a mode name is unknown (or not ASCII), or ``WRAP_SM`` is asked of an unsigned format
            (ap_ufixed rejects it). The message names the field and its value.
        AttributeError: on any attempt to set or delete a field (use ``replace``).
    """

    __slots__ = ("w", "i", "signed", "q", "o", "n")

    w: int
    i: int
    signed: bool
    q: QMode
    o: OMode
    n: int

    def __init__(self, w, i, signed=True, q="TRN", o="WRAP", n=0):
        w = _int_field(w, "w")
        i = _int_field(i, "i")
        n = _int_field(n, "n")
        if not isinstance(signed, bool) and type(signed).__name__ != "bool":
            raise ValueError(f"Fixed: signed must be a bool, got {signed!r}")
        signed = bool(signed)
        if not 1 <= w <= MAX_WIDTH:
            raise ValueError(
                f"Fixed: w must be in [1, {MAX_WIDTH}] (ap_fixed's AP_INT_MAX_W), got w={w}"
            )
        if not -MAX_INT_BITS <= i <= MAX_INT_BITS:
            raise ValueError(
                f"Fixed: i (integer bits) must be in [-2**20, 2**20] = [{-MAX_INT_BITS}, {MAX_INT_BITS}], got i={i}"
            )
        q = _mode(QMode, q, "rounding (q)")
        o = _mode(OMode, o, "overflow (o)")
        if not 0 <= n <= w:
            raise ValueError(f"Fixed: n (saturation bits) must be in [0, w={w}], got n={n}")
        if o not in (OMode.WRAP, OMode.WRAP_SM):
            n = 0  # ap_fixed.h reads N only in the WRAP modes: SAT/SAT_ZERO/SAT_SYM with any N compute as N = 0
        if o is OMode.WRAP_SM and not signed:
            raise ValueError("Fixed: o=WRAP_SM needs a signed format (ap_ufixed rejects AP_WRAP_SM)")
        for name, value in (("w", w), ("i", i), ("signed", signed), ("q", q), ("o", o), ("n", n)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("Fixed is immutable; use fmt.replace(...)")

    def __delattr__(self, name):
        raise AttributeError("Fixed is immutable")

    # -- derived properties -------------------------------------------------
    @property
    def f(self) -> int:
        """Fraction bits, ``w - i`` (may be negative)."""
        return self.w - self.i

    @property
    def lsb(self) -> float:
        """The value of one LSB, ``2**-f``, as a float64: ``inf`` beyond the double range and
        0.0 below it (see ``lsb_exact`` for the exact value)."""
        return _to_float(self.lsb_exact)

    @property
    def lsb_exact(self) -> Fraction:
        """The value of one LSB, ``2**-f``, as an exact ``fractions.Fraction``."""
        return Fraction(2) ** -self.f

    @property
    def raw_min(self) -> int:
        """The smallest stored integer."""
        return -(1 << (self.w - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        """The largest stored integer."""
        return (1 << (self.w - 1)) - 1 if self.signed else (1 << self.w) - 1

    @property
    def min(self) -> float:
        """The smallest representable value as a float64 (rounded to nearest if not exact,
        -inf beyond the double range)."""
        return _to_float(self.raw_min * self.lsb_exact)

    @property
    def max(self) -> float:
        """The largest representable value as a float64 (rounded to nearest if not exact,
        inf beyond the double range)."""
        return _to_float(self.raw_max * self.lsb_exact)

    def replace(self, **changes) -> "Fixed":
        """A copy with some fields changed, e.g. ``fmt.replace(q="RND")``.

        Raises:
            TypeError: a keyword is not one of ``w, i, signed, q, o, n``.
            ValueError: the changed fields make an invalid format (as ``Fixed(...)``).
        """
        fields = {k: getattr(self, k) for k in self.__slots__}
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"Fixed.replace: unknown fields {sorted(unknown)}; allowed: {list(fields)}")
        fields.update(changes)
        return Fixed(**fields)

    # -- equality, hashing, printing ------------------------------------------
    def _key(self):
        return (self.w, self.i, self.signed, self.q, self.o, self.n)

    def __eq__(self, other):
        if not isinstance(other, Fixed):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(("Fixed",) + self._key())

    def __reduce__(self):
        return (Fixed, (self.w, self.i, self.signed, self.q.value, self.o.value, self.n))

    def _default_modes(self) -> bool:
        return self.q is QMode.TRN and self.o is OMode.WRAP and self.n == 0

    def __str__(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        if self._default_modes():
            return f"{base}<{self.w},{self.i}>"
        return f"{base}<{self.w},{self.i},AP_{self.q.value},AP_{self.o.value},{self.n}>"

    def to_hls4ml(self) -> str:
        """The hls4ml precision string, e.g. ``fixed<16,6,RND,SAT,0>``."""
        base = "fixed" if self.signed else "ufixed"
        if self._default_modes():
            return f"{base}<{self.w},{self.i}>"
        return f"{base}<{self.w},{self.i},{self.q.value},{self.o.value},{self.n}>"

    def __repr__(self) -> str:
        return (
            f"Fixed({self.w}, {self.i}, signed={self.signed}, q={self.q.value!r}, "
            f"o={self.o.value!r}, n={self.n})"
        )

    # -- parsing ---------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> "Fixed":
        """Parse an ap_fixed or hls4ml type string.

        Accepted: ``ap_fixed<W,I[,Q[,O[,N]]]>``, ``ap_ufixed<...>``, ``ap_int<W>``,
        ``ap_uint<W>`` and the hls4ml spellings ``fixed<...>``, ``ufixed<...>``,
        ``int<W>``, ``uint<W>``. Modes may carry the ``AP_`` prefix. Omitted arguments take
        ap_fixed's defaults (``TRN``, ``WRAP``, 0). A ``Fixed`` is returned unchanged.

        Raises:
            ValueError: ``text`` is not a string, holds a non-ASCII character, does not match
                one of the spellings, has an empty or non-integer argument or the wrong number
                of arguments, or describes an invalid format (as ``Fixed(...)``); the message
                quotes the text.
        """
        if isinstance(text, Fixed):
            return text
        if not isinstance(text, str):
            raise ValueError(f"Fixed.parse: expected a type string, got {type(text).__name__}")
        bad = next((c for c in text if not c.isascii()), None)
        if bad is not None:  # '\d', str.upper() and str.strip() would read '١٦', 'ſat' or U+00A0 silently
            raise ValueError(f"Fixed.parse: non-ASCII character {bad!r} (U+{ord(bad):04X}) in {text!r}; "
                             "type strings are C++ template syntax")
        m = _TYPE_RE.fullmatch(text.strip())
        if m is None:
            raise ValueError(
                f"Fixed.parse: cannot parse {text!r}; expected e.g. 'ap_fixed<16,6,AP_RND,AP_SAT,0>', "
                "'ap_ufixed<8,0>', 'ap_int<8>', 'fixed<16,6,RND,SAT>' or 'uint<4>'"
            )
        kind = m.group("kind")
        args = [a.strip() for a in m.group("args").split(",")]
        if any(a == "" for a in args):
            raise ValueError(f"Fixed.parse: empty template argument in {text!r}")
        signed = kind in ("fixed", "int")
        if kind in ("int", "uint"):
            if len(args) != 1:
                raise ValueError(f"Fixed.parse: {kind}<W> takes exactly one argument, got {text!r}")
            return cls(_parse_int(args[0], "W", text), _parse_int(args[0], "W", text), signed=signed)
        if not 2 <= len(args) <= 5:
            spelled = text.strip().split("<")[0].strip()
            raise ValueError(
                f"Fixed.parse: {spelled}<W,I[,Q[,O[,N]]]> takes 2 to 5 arguments, got {len(args)} in {text!r}"
            )
        w = _parse_int(args[0], "W", text)
        i = _parse_int(args[1], "I", text)
        q = args[2] if len(args) > 2 else "TRN"
        o = args[3] if len(args) > 3 else "WRAP"
        n = _parse_int(args[4], "N", text) if len(args) > 4 else 0
        return cls(w, i, signed=signed, q=q, o=o, n=n)


def _to_float(v: Fraction) -> float:
    """float(v) rounded to nearest, with +-inf instead of OverflowError beyond the double range."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


_TYPE_RE = re.compile(r"(?:ap_)?(?P<kind>ufixed|fixed|uint|int)\s*<(?P<args>[^<>]*)>")


def _parse_int(token: str, field: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", token):
        raise ValueError(f"Fixed.parse: {field} must be an integer, got {token!r} in {text!r}")
    return int(token)
