"""FixedArray: arrays of fixed-point values with exact ap_fixed semantics.

A FixedArray holds the stored integers (``raw``) and a format. Widths up to 64
bits use int64 storage and the native C++ kernels. Wider formats (65..1024 bits)
are stored as ``ceil(w / 64)`` little-endian 64-bit limbs per element (two's
complement, sign-extended for signed formats, zero-extended for unsigned ones)
in a NumPy void array, so that indexing, reshaping and joining stay NumPy
operations, and are computed by the multi-limb C++ kernels. ``raw`` shows them
as Python ints.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from ._storage import NATIVE_MAX_W, _as_format, _flat_limbs, _from_limbs, _limb_dtype, _native, _seed_for, _to_limbs
from .format import Fixed

__all__ = ["FixedArray", "format_bits"]

def _wrap_limbs(buf: np.ndarray, shape: tuple, fmt: Fixed) -> "FixedArray":
    """A FixedArray over the limbs a wide kernel returned (native formats: one int64 each)."""
    if _native(fmt):
        return FixedArray(buf.view(np.int64).reshape(shape), fmt, _trusted=True)
    return FixedArray(buf.view(_limb_dtype(fmt)).reshape(shape), fmt, _trusted=True)


class FixedArray:
    """An n-dimensional array of values in one fixed-point format.

    Build one with :func:`fixedpoint.array` (quantize values) or
    :func:`fixedpoint.from_raw` (stored integers). ``raw`` holds the stored integers and
    ``fmt`` the format; the value of element k is ``raw[k] * 2**-fmt.f`` exactly.

    Arithmetic (``+ - * /``, unary ``-``, ``abs``, ``@``, shifts, comparisons) is exact and
    returns the natural ap_fixed result format with TRN/WRAP modes (docs/arrays.md);
    reductions (``sum``, ``cumsum``) grow the format by ``ceil(log2 K)`` bits. Nothing is
    rounded until ``cast``. Indexing returns views in the same format; assignment quantizes
    non-FixedArray values into ``fmt`` (as ``fx.array``).

    Raises:
        TypeError: calling ``FixedArray(...)`` directly; a float operand in arithmetic (quantize
            it first) or an unsupported operand type; a NumPy function or ufunc without an
            exact fixed-point implementation (convert with ``to_float()``).
        IndexError: a FixedArray used as an index (use a boolean or integer array).
        ValueError: operands whose shapes do not broadcast; an exact result wider than 1024
            bits; assigning a FixedArray whose values do not all fit ``fmt`` exactly (cast it
            first); ``np.asarray(a, copy=False)``.
        ZeroDivisionError: division by a zero element (the message names its index).
    """

    __slots__ = ("_raw", "_fmt")
    __array_priority__ = 100

    def __init__(self, raw: np.ndarray, fmt: Fixed, *, _trusted: bool = False):
        if not _trusted:
            raise TypeError("FixedArray is built with fx.array(values, fmt) or fx.from_raw(raw, fmt)")
        if fmt.w > NATIVE_MAX_W and raw.dtype != _limb_dtype(fmt):
            raw = _to_limbs(raw, fmt)  # exact ints (Python ints, int64) -> limbs
        elif raw.dtype == np.uint64:
            raw = raw.view(np.int64)  # 64-bit unsigned values (a.raw): kept as their int64 bit patterns
        self._raw = raw  # int64 (w <= 64; uint64 bit patterns for 64-bit unsigned) or limbs (void)
        self._fmt = fmt

    # -- basic properties ------------------------------------------------------
    @property
    def fmt(self) -> Fixed:
        """The format (a :class:`Fixed`) every element is stored in."""
        return self._fmt

    @property
    def shape(self) -> tuple:
        """The array's shape, as NumPy's."""
        return self._raw.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._raw.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._raw.size

    def __len__(self) -> int:
        if self._raw.ndim == 0:
            raise TypeError("len() of a 0-d FixedArray")
        return len(self._raw)

    @property
    def raw(self) -> np.ndarray:
        """The stored integers, read-only: int64 (uint64 for 64-bit unsigned formats),
        or an object array of Python ints when w > 64."""
        if not _native(self._fmt):
            view = _from_limbs(self._raw, self._fmt)
            view.flags.writeable = False
            return view
        if not self._fmt.signed and self._fmt.w == 64:
            view = self._raw.view(np.uint64)
        else:
            view = self._raw.view()
        view.flags.writeable = False
        return view

    @property
    def bits(self) -> np.ndarray:
        """The stored bits as non-negative ``w``-bit two's-complement patterns (what an RTL or
        cosim dump shows), read-only: uint64 when w <= 64, an object array of Python ints when
        w > 64. ``fx.from_bits(a.bits, a.fmt)`` gives ``a`` back."""
        fmt = self._fmt
        if _native(fmt):
            pat = np.asarray(self._raw).view(np.uint64)
            pat = np.asarray(pat & np.uint64((1 << fmt.w) - 1)) if fmt.w < 64 else pat.copy()
        else:
            nb, mask = self._raw.dtype.itemsize, (1 << fmt.w) - 1
            buf = np.ascontiguousarray(self._raw).tobytes()
            pat = np.empty(self.size, dtype=object)
            pat[:] = [int.from_bytes(buf[k:k + nb], "little") & mask for k in range(0, len(buf), nb)]
            pat = pat.reshape(self.shape)
        pat.flags.writeable = False
        return pat

    def to_hex(self, prefix: bool = True):
        """The bit patterns (``a.bits``) as hex strings of ``ceil(w/4)`` digits, ``"0x"``-prefixed
        unless ``prefix=False``: a NumPy array of str of ``a``'s shape (a str for a 0-d array).
        ``fx.from_bits`` reads them back (``base=16`` for unprefixed digits)."""
        return _pattern_strings(self, 16, prefix)

    def to_bin(self, prefix: bool = True):
        """The bit patterns (``a.bits``) as binary strings of ``w`` digits, ``"0b"``-prefixed
        unless ``prefix=False``: a NumPy array of str of ``a``'s shape (a str for a 0-d array).
        ``fx.from_bits`` reads them back (``base=2`` for unprefixed digits)."""
        return _pattern_strings(self, 2, prefix)

    # -- conversions --------------------------------------------------------------
    def to_float(self) -> np.ndarray:
        """float64 values: exact when w <= 53 (and within float64's range), else
        rounded to nearest, ties to even (``inf`` beyond the double range). Never raises."""
        fmt = self._fmt
        if _native(fmt):
            return _backend.to_double(self._raw, fmt)
        return _backend.wide_to_double(_flat_limbs(self), self.size, fmt).reshape(self.shape)

    def cast(self, fmt, seed=None) -> "FixedArray":
        """Requantize into ``fmt`` with its rounding/overflow modes (one exact rounding).

        The result is bit for bit what assigning an ap_fixed of this format to one of ``fmt``
        gives. ``seed`` drives STOCH (element k uses the counter-based word for (seed, k)),
        so the result does not depend on the thread count.

        Raises:
            TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``seed`` is not an int.
            ValueError: ``fmt`` does not parse; ``seed`` is outside [0, 2**64).
        """
        fmt = _as_format(fmt, "FixedArray.cast")
        seed = _seed_for(fmt, seed, "FixedArray.cast")
        src = self._fmt
        if _native(src) and _native(fmt):
            raw = _backend.cast(self._raw, src, fmt, seed)
            return FixedArray(raw, fmt, _trusted=True)
        buf = _backend.wide_cast(_flat_limbs(self), self.size, src, fmt, seed)
        return _wrap_limbs(buf, self.shape, fmt)

    def scale(self, k: int) -> "FixedArray":
        """Multiply by ``2**k`` exactly by moving the binary point: the stored bits stay,
        the format becomes ``(w, i + k)``.

        Raises:
            TypeError: ``k`` is not an int.
        """
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"FixedArray.scale: k must be an int, got {type(k).__name__}")
        return FixedArray(self._raw, self._fmt.replace(i=self._fmt.i + int(k)), _trusted=True)

    def to_string(self, base: int = 10) -> str:
        """The stored bits as text: base 2 or 16 give the w-bit two's-complement pattern,
        base 10 the signed (or unsigned) stored integer (see :func:`fixedpoint.format_bits`).

        Raises:
            ValueError: ``base`` is not 2, 10 or 16.
        """
        return format_bits(self, base)

    def tolist(self):
        """Nested lists of float64 values (see ``raw.tolist()`` for the stored integers)."""
        return self.to_float().tolist()

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("FixedArray: np.asarray(a, copy=False) is impossible; the float64 values are computed")
        values = self.to_float()
        return values if dtype is None else values.astype(dtype)

    def __float__(self) -> float:
        if self.size != 1:
            raise TypeError(f"float(): only a FixedArray of size 1 converts to a Python float, got shape {self.shape}; "
                            "use a.to_float() for the float64 values of an array")
        return float(self.to_float().reshape(-1)[0])

    def __int__(self) -> int:
        """The value truncated toward zero, exact at every width (as ap_fixed's ``to_int()``
        and Python's ``int(float)``)."""
        if self.size != 1:
            raise TypeError(f"int(): only a FixedArray of size 1 converts to a Python int, got shape {self.shape}; "
                            "use a.raw for the stored integers of an array")
        r, f = int(self.raw.reshape(-1)[0]), self._fmt.f
        if f <= 0:
            return r << -f
        q = abs(r) >> f
        return -q if r < 0 else q

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError("the truth value of a FixedArray with more than one element is ambiguous")
        return bool(self.raw.reshape(-1)[0] != 0)

    def __reduce__(self):
        return (_rebuild, (self._raw.copy(), self._fmt))

    def __repr__(self) -> str:
        body = np.array2string(self.to_float(), separator=", ", threshold=20, edgeitems=3,
                               floatmode="unique", prefix="FixedArray(")
        return f"FixedArray({body}, fmt={self._fmt})"

    def __str__(self) -> str:
        return np.array2string(self.to_float(), threshold=20, edgeitems=3, floatmode="unique")

    # -- indexing and shape ------------------------------------------------------
    def __getitem__(self, key) -> "FixedArray":
        key = _index_key(key, "FixedArray.__getitem__")
        r = self._raw[key]
        return FixedArray(r if isinstance(r, np.ndarray) else np.asarray(r, dtype=self._raw.dtype), self._fmt,
                          _trusted=True)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d FixedArray")
        for k in range(len(self)):
            yield self[k]

    def reshape(self, *shape) -> "FixedArray":
        """The same elements in a new shape (NumPy's rules; ValueError if the size differs)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return FixedArray(self._raw.reshape(shape), self._fmt, _trusted=True)

    def transpose(self, *axes) -> "FixedArray":
        """The axes permuted, as ``np.transpose`` (a view; the format is kept)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return FixedArray(self._raw.transpose(*axes) if axes else self._raw.transpose(), self._fmt, _trusted=True)

    @property
    def T(self) -> "FixedArray":
        """The transpose (reversed axes)."""
        return self.transpose()

    def swapaxes(self, axis1: int, axis2: int) -> "FixedArray":
        """Two axes interchanged, as ``np.swapaxes``."""
        return FixedArray(self._raw.swapaxes(axis1, axis2), self._fmt, _trusted=True)

    def ravel(self) -> "FixedArray":
        """The elements as a 1-d array, in C order."""
        return FixedArray(self._raw.ravel(), self._fmt, _trusted=True)

    def flatten(self) -> "FixedArray":
        """A 1-d copy of the elements, in C order."""
        return FixedArray(self._raw.flatten(), self._fmt, _trusted=True)

    def squeeze(self, axis=None) -> "FixedArray":
        """Length-1 axes removed, as ``np.squeeze`` (ValueError for an axis longer than 1)."""
        return FixedArray(self._raw.squeeze(axis), self._fmt, _trusted=True)

    def copy(self) -> "FixedArray":
        """A copy with its own stored integers."""
        return FixedArray(self._raw.copy(), self._fmt, _trusted=True)

    # Arithmetic, comparisons, reductions and the NumPy protocols are methods too; they are
    # defined in fixedpoint/_operators.py and attached to this class there, because they build
    # on the operation modules (_arith, _reduce, _join, _linalg), which build on this class.
    def __pos__(self):
        return self.copy()

    __hash__ = None  # type: ignore[assignment]


def _rebuild(raw, fmt):
    return FixedArray(raw, fmt, _trusted=True)


def _holds(dst: Fixed, src: Fixed) -> bool:
    """Whether every value of src is exactly representable in dst."""
    if src.f > dst.f:
        return False
    if src.signed and not dst.signed:
        return False
    return src.i + (1 if dst.signed and not src.signed else 0) <= dst.i


def _index_key(key, api):
    if isinstance(key, FixedArray):
        raise IndexError(f"{api}: a FixedArray cannot be used as an index; use a boolean or integer array")
    if isinstance(key, tuple) and any(isinstance(k, FixedArray) for k in key):
        raise IndexError(f"{api}: a FixedArray cannot be used as an index; use a boolean or integer array")
    return key


def format_bits(a, base: int = 2) -> str:
    """The stored bits of a FixedArray as text, laid out like NumPy prints arrays.

    base=2: the w-bit two's-complement pattern; base=16: the same as hex digits
    (ceil(w/4) of them); base=10: the stored integer. Exact at every width.

    Raises:
        TypeError: ``a`` is not a FixedArray.
        ValueError: ``base`` is not 2, 10 or 16.
    """
    if not isinstance(a, FixedArray):
        raise TypeError(f"fx.format_bits: expected a FixedArray, got {type(a).__name__}")
    if base not in (2, 10, 16):
        raise ValueError(f"fx.format_bits: base must be 2, 10 or 16, got {base!r}")
    w = a.fmt.w
    mask = (1 << w) - 1
    if base == 2:
        fn = lambda v: format(int(v) & mask, f"0{w}b")  # noqa: E731
    elif base == 16:
        fn = lambda v: "0x" + format(int(v) & mask, f"0{(w + 3) // 4}x")  # noqa: E731
    else:
        fn = lambda v: str(int(v))  # noqa: E731
    raw = a.raw
    if raw.ndim == 0:
        return fn(raw[()])
    obj = np.empty(raw.shape, dtype=object)
    obj.reshape(-1)[:] = [fn(v) for v in raw.reshape(-1)]
    return np.array2string(obj, separator=", ", threshold=64, edgeitems=3, formatter={"all": str})


def _pattern_strings(a: FixedArray, base: int, prefix: bool):
    w = a.fmt.w
    digits, tag, spec = ((w + 3) // 4, "0x", "x") if base == 16 else (w, "0b", "b")
    head = tag if prefix else ""
    pats = a.bits
    if pats.ndim == 0:
        return head + format(int(pats[()]), f"0{digits}{spec}")
    out = [head + format(int(v), f"0{digits}{spec}") for v in pats.reshape(-1)]
    return np.array(out, dtype=f"<U{digits + len(head)}").reshape(pats.shape)

