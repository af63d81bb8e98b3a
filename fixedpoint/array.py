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
import secrets

import numpy as np

from . import _reference as _ref
from .format import MAX_WIDTH as MAX_W, O_CODES, Q_CODES, Fixed, QMode

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "fixedpoint: the C++ extension fixedpoint._core could not be imported "
        f"({exc}). Was the extension built? Run `pip install .` (or the editable install "
        "from the README) in the source tree."
    ) from exc

__all__ = ["FixedArray", "array", "from_raw", "from_bits", "format_bits"]

NATIVE_MAX_W = 64
_NAN_POLICIES = ("raise", "ap")


def _as_format(fmt, api: str) -> Fixed:
    if isinstance(fmt, Fixed):
        return fmt
    if isinstance(fmt, str):
        return Fixed.parse(fmt)
    raise TypeError(f"{api}: fmt must be a fx.Fixed or a type string such as 'ap_fixed<16,6>', got {type(fmt).__name__}")


def _seed_for(fmt: Fixed, seed, api: str) -> int:
    if seed is None:
        return secrets.randbits(64) if fmt.q is QMode.STOCH else 0
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{api}: seed must be an int in [0, 2**64) or None, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"{api}: seed must be in [0, 2**64), got {seed}")
    return seed


def _native(fmt: Fixed) -> bool:
    return fmt.w <= NATIVE_MAX_W


def _mode_args(fmt: Fixed):
    return fmt.w, fmt.i, fmt.signed, Q_CODES[fmt.q], O_CODES[fmt.o], fmt.n


# -- multi-limb storage (w > 64) ------------------------------------------------------
def _limbs(w: int) -> int:
    return (w + 63) // 64


def _limb_dtype(fmt: Fixed) -> np.dtype:
    return np.dtype((np.void, 8 * _limbs(fmt.w)))


def _to_limbs(values: np.ndarray, fmt: Fixed) -> np.ndarray:
    """Exact integers (int64/uint64 or Python ints, within fmt's range) -> the limb storage."""
    values = np.asarray(values)
    nl = _limbs(fmt.w)
    shape = values.shape
    if values.dtype.kind in "iub":
        v = values.astype(np.int64) if values.dtype.kind == "b" or values.dtype.itemsize < 8 else values
        out = np.empty(shape + (nl,), dtype=np.uint64)
        out[..., 0] = v.view(np.uint64) if v.dtype == np.int64 else v
        fill = (v < 0).astype(np.uint64) * np.uint64(0xFFFFFFFFFFFFFFFF) if v.dtype == np.int64 else 0
        out[..., 1:] = np.asarray(fill)[..., None] if nl > 1 else 0
        return np.ascontiguousarray(out).view(_limb_dtype(fmt)).reshape(shape)
    nb = 8 * nl
    mask = (1 << (8 * nb)) - 1
    buf = b"".join((int(v) & mask).to_bytes(nb, "little") for v in values.reshape(-1))
    return np.frombuffer(buf, dtype=_limb_dtype(fmt)).copy().reshape(shape)


def _from_limbs(raw: np.ndarray, fmt: Fixed) -> np.ndarray:
    """The limb storage -> an object array of Python ints."""
    nb = raw.dtype.itemsize
    buf = np.ascontiguousarray(raw).tobytes()
    out = np.empty(raw.size, dtype=object)
    signed = fmt.signed
    out[:] = [int.from_bytes(buf[k:k + nb], "little", signed=signed) for k in range(0, len(buf), nb)]
    return out.reshape(raw.shape)


def _flat_limbs(x: "FixedArray") -> np.ndarray:
    """Contiguous uint64 limbs of every element (1 limb per element for native formats)."""
    r = np.ascontiguousarray(x._raw).reshape(-1)
    return r.view(np.uint64)


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
            return _core.to_double(np.asarray(self._raw, order="C"), fmt.w, fmt.i, fmt.signed)
        return _core.wide_to_double(_flat_limbs(self), self.size, fmt.w, fmt.i, fmt.signed).reshape(self.shape)

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
            raw = _core.cast(np.asarray(self._raw, order="C"), src.w, src.i, src.signed, *_mode_args(fmt), seed)
            return FixedArray(raw, fmt, _trusted=True)
        buf = _core.wide_cast(_flat_limbs(self), self.size, src.w, src.i, src.signed, _mode_args(fmt), seed)
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

    # -- arithmetic (exact, natural ap_fixed result formats) ---------------------------
    def __add__(self, other):
        return _ops._binary("add", self, other, "FixedArray.__add__")

    def __radd__(self, other):
        return _ops._binary("add", other, self, "FixedArray.__radd__")

    def __sub__(self, other):
        return _ops._binary("sub", self, other, "FixedArray.__sub__")

    def __rsub__(self, other):
        return _ops._binary("sub", other, self, "FixedArray.__rsub__")

    def __mul__(self, other):
        return _ops._binary("mul", self, other, "FixedArray.__mul__")

    def __rmul__(self, other):
        return _ops._binary("mul", other, self, "FixedArray.__rmul__")

    def __truediv__(self, other):
        return _ops._binary("div", self, other, "FixedArray.__truediv__")

    def __rtruediv__(self, other):
        return _ops._binary("div", other, self, "FixedArray.__rtruediv__")

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self.copy()

    def __abs__(self):
        return _ops.absolute(self)

    def __lshift__(self, k):
        return _ops.shift(self, k, True, "FixedArray.__lshift__")

    def __rshift__(self, k):
        return _ops.shift(self, k, False, "FixedArray.__rshift__")

    def _compare(self, other, api, op):
        # ap_fixed.h's result (mixed signedness can differ from the exact one: fx.compare)
        try:
            return _ops.compare_op(self, other, op, api)
        except TypeError:
            if isinstance(other, (FixedArray, numbers.Number, np.ndarray, list, tuple)):
                raise
            return NotImplemented

    def __eq__(self, other):
        return self._compare(other, "FixedArray.__eq__", "==")

    def __ne__(self, other):
        return self._compare(other, "FixedArray.__ne__", "!=")

    def __lt__(self, other):
        return self._compare(other, "FixedArray.__lt__", "<")

    def __le__(self, other):
        return self._compare(other, "FixedArray.__le__", "<=")

    def __gt__(self, other):
        return self._compare(other, "FixedArray.__gt__", ">")

    def __ge__(self, other):
        return self._compare(other, "FixedArray.__ge__", ">=")

    __hash__ = None  # type: ignore[assignment]

    # -- reductions ------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False) -> "FixedArray":
        """Exact sum; the format grows by ceil(log2 K) integer bits for K summed terms.

        Raises:
            ValueError: an axis is out of bounds or repeated.
        """
        return _ops.sum_(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None) -> "FixedArray":
        """Exact running sums (flattened when axis is None), grown like sum.

        Raises:
            ValueError: ``axis`` is not an int or None, or is out of bounds.
        """
        return _ops.cumsum(self, axis=axis)

    def max(self, axis=None, keepdims=False) -> "FixedArray":
        """The largest element(s), exact, in the same format.

        Raises:
            ValueError: the array (or the reduced axis) is empty, or an axis is invalid.
        """
        return _ops.max_(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False) -> "FixedArray":
        """The smallest element(s), exact, in the same format.

        Raises:
            ValueError: the array (or the reduced axis) is empty, or an axis is invalid.
        """
        return _ops.min_(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        """Index of the largest element (first on ties), compared exactly.

        Raises:
            ValueError: the array is empty, or ``axis`` is not an int or None.
        """
        return _ops.argmax(self, axis=axis)

    def argmin(self, axis=None):
        """Index of the smallest element (first on ties), compared exactly.

        Raises:
            ValueError: the array is empty, or ``axis`` is not an int or None.
        """
        return _ops.argmin(self, axis=axis)

    def clip(self, a_min=None, a_max=None) -> "FixedArray":
        """``fx.clip(self, a_min, a_max)``: exact, see :func:`fixedpoint.clip`."""
        return _ops.clip(self, a_min, a_max)

    def dot(self, other) -> "FixedArray":
        """``fx.dot(self, other)``: exact, see :func:`fixedpoint.dot`."""
        return _ops.dot(self, other)

    # -- NumPy protocols ---------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _protocol.array_function(func, types, args, kwargs)


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


def _parse_patterns(strings: np.ndarray, base, api: str) -> np.ndarray:
    """An array of str/bytes -> an object array of Python ints (int(s, base), base None: a
    0x/0b/0o prefix or decimal digits)."""
    flat = strings.reshape(-1)
    out = np.empty(flat.size, dtype=object)
    for k, s in enumerate(flat):
        if isinstance(s, (bytes, np.bytes_)):
            s = s.decode("ascii", "replace")
        if not isinstance(s, str):
            raise TypeError(f"{api}: a sequence of bit strings holds {type(s).__name__} ({s!r}); pass all strings "
                            "or all integers")
        try:
            out[k] = int(s.strip(), 0 if base is None else base)
        except ValueError:
            where = tuple(int(v) for v in np.unravel_index(k, strings.shape)) if strings.ndim else ()
            how = "a 0x (hex), 0b (binary) or 0o prefix, or decimal digits" if base is None else f"base-{base} digits"
            raise ValueError(f"{api}: cannot read {s!r} at index {where} as a bit pattern; expected {how}"
                             + (" (pass base=16 or base=2 for unprefixed hex or binary digits)" if base is None else "")
                             ) from None
    return out.reshape(strings.shape)


def from_bits(bits, fmt, base=None) -> FixedArray:
    """A FixedArray from raw bit patterns, as an RTL simulation or a cosim dump shows them:
    each pattern is a non-negative ``w``-bit integer, read as two's complement for signed
    formats (``0xff`` in ``ap_fixed<8,4>`` is raw -1, value -0.0625).

    bits: Python ints (any size), a NumPy integer array (unsigned or signed with
        non-negative values), or strings: ``"0x1f"``, ``"0b101"``, ``"0o17"`` or decimal
        digits; with ``base=16`` or ``base=2`` unprefixed digits (``"1f"``, ``"101"``, as
        ``$readmemh``/``$readmemb`` files hold them). Lists and arrays of either, any shape.
    fmt: a :class:`Fixed` or a type string. Every width up to 1024 bits.
    base: None (strings carry their prefix), 2 or 16 (or any base ``int()`` takes).

    The inverse of ``a.bits`` (and of ``a.to_hex()`` / ``a.to_bin()``).

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``bits`` holds floats or other
            non-integers, or mixes strings and integers.
        ValueError: ``fmt`` does not parse; a pattern is negative or not below ``2**w`` (the
            message names the first, its index and the range); a string is not a number in
            the expected base.
    """
    api = "fx.from_bits"
    fmt = _as_format(fmt, api)
    w = fmt.w
    if isinstance(bits, (str, bytes, np.str_, np.bytes_)):
        pats = _parse_patterns(np.array(bits, dtype=object), base, api)
    else:
        if isinstance(bits, (list, tuple)) and any(isinstance(v, (str, bytes)) for v in np.asarray(
                bits, dtype=object).reshape(-1)):
            pats = _parse_patterns(np.asarray(bits, dtype=object), base, api)
        else:
            pats = _as_exact_array(bits, api)
            if pats.dtype.kind in "USO" and pats.size and all(
                    isinstance(v, (str, bytes, np.str_, np.bytes_)) for v in pats.reshape(-1)):
                pats = _parse_patterns(pats.astype(object), base, api)
    if pats.dtype.kind == "O":
        flat = pats.reshape(-1)
        bad = next((v for v in flat if not isinstance(v, numbers.Integral) or isinstance(v, (bool, np.bool_))), None)
        if bad is not None:
            raise TypeError(f"{api}: bit patterns must be integers or strings, got {type(bad).__name__} ({bad!r})")
        pats = _narrow_ints(pats)
    elif pats.dtype.kind not in "iu":
        raise TypeError(f"{api}: bit patterns must be integers or strings, got an array of dtype {pats.dtype}")
    if pats.size:
        if pats.dtype.kind == "O":
            bad_mask = np.array([not 0 <= int(v) < 1 << w for v in pats.reshape(-1)], dtype=bool)
        else:
            bad_mask = (pats < 0).reshape(-1) if pats.dtype.kind == "i" else np.zeros(pats.size, dtype=bool)
            if w < 64:
                bad_mask |= (pats >= (1 << w)).reshape(-1) if pats.dtype.kind == "u" else \
                    (pats.astype(np.int64) >= (1 << w)).reshape(-1)
        if bad_mask.any():
            k = int(np.flatnonzero(bad_mask)[0])
            where = tuple(int(v) for v in np.unravel_index(k, pats.shape)) if pats.ndim else ()
            raise ValueError(f"{api}: bit pattern {int(pats.reshape(-1)[k])} at index {where} is outside the "
                             f"{w}-bit patterns of {fmt}, [0, 2**{w}) = [0, {(1 << w) - 1}]")
    if pats.dtype.kind != "O" and _native(fmt):  # vectorized: sign-extend the low w bits
        u = np.asarray(pats.astype(np.int64).view(np.uint64) if pats.dtype.kind == "i" else pats.astype(np.uint64))
        raw = u.view(np.int64)
        if fmt.signed and w < 64:
            raw = np.asarray((u << np.uint64(64 - w)).view(np.int64) >> np.int64(64 - w))
        return FixedArray(np.array(raw, dtype=np.int64, order="C"), fmt, _trusted=True)
    ints = [int(v) for v in pats.reshape(-1)]
    if fmt.signed:
        ints = [v - (1 << w) if v >> (w - 1) else v for v in ints]
    raw = np.empty(len(ints), dtype=object)
    raw[:] = ints
    return from_raw(raw.reshape(pats.shape), fmt)


# ---------------------------------------------------------------------------
def _python_quantize(values: np.ndarray, fn, fmt: Fixed) -> FixedArray:
    """Exact element-by-element path through the reference model (wide formats)."""
    flat_in = np.asarray(values).reshape(-1)
    results = [fn(v, k) for k, v in enumerate(flat_in)]
    shape = np.shape(values)
    if _native(fmt):
        raw = np.array(results, dtype=np.uint64 if (not fmt.signed and fmt.w == 64) else np.int64)
        raw = raw.view(np.int64).reshape(shape)
    else:
        raw = np.empty(len(results), dtype=object)
        raw[:] = results
        raw = raw.reshape(shape)
    return FixedArray(raw, fmt, _trusted=True)


def _nan_error(api: str, flat_index: int, shape: tuple, fmt: Fixed) -> ValueError:
    where = tuple(int(k) for k in np.unravel_index(flat_index, shape)) if shape else ()
    return ValueError(
        f"{api}: NaN at index {where} cannot be quantized into {fmt}; "
        "pass nan='ap' to reproduce ap_fixed (which reads NaN as a huge finite value)"
    )


def _check_nan_policy(nan, api):
    if nan not in _NAN_POLICIES:
        raise ValueError(f"{api}: nan must be 'raise' or 'ap', got {nan!r}")


def _native_order(x: np.ndarray) -> np.ndarray:
    """``x`` with its elements in the machine's byte order. Arrays of the other order (data
    written on a big-endian machine: FITS, some HDF5/ROOT dumps, ``'>f8'``, ``'>i4'``) are
    converted value for value, so they mean what they hold; the C++ kernels read native
    bytes only (and reject any other order)."""
    if x.dtype.isnative:
        return x
    return x.astype(x.dtype.newbyteorder("="))


def _holds_fixed(seq) -> bool:
    """Whether a (nested) list or tuple holds a FixedArray anywhere."""
    return any(isinstance(v, FixedArray) or (isinstance(v, (list, tuple)) and _holds_fixed(v)) for v in seq)


def _as_exact_array(values, api: str = "fx.array") -> np.ndarray:
    """np.asarray, except that Python sequences NumPy would read as float64 although they hold
    ints (ints beyond int64 mixed with others, or an empty list) keep their exact ints, and
    the elements are in native byte order (``_native_order``).

    ``bytes``/``bytearray`` are what Python says they are, sequences of ints 0..255 (uint8).
    A list holding FixedArrays is refused (NumPy would read them through float64, rounding
    formats wider than 53 bits; ``fx.array`` stacks a flat list of them exactly itself), and
    so are ragged sequences, with the API's name instead of NumPy's message."""
    if isinstance(values, (bytes, bytearray)):
        return np.frombuffer(bytes(values), dtype=np.uint8).copy()
    if isinstance(values, (list, tuple)) and _holds_fixed(values):
        raise TypeError(
            f"{api}: a sequence holding FixedArrays would be read through float64; join them exactly with "
            "fx.stack or fx.concatenate (fx.array takes a flat list of FixedArrays and stacks it)"
        )
    try:
        x = _native_order(np.asarray(values))
    except ValueError as exc:
        if not isinstance(values, (list, tuple)):
            raise
        raise ValueError(
            f"{api}: values must be a rectangular nested sequence (every row of one length at each level), "
            f"got a ragged one ({exc})"
        ) from None
    if isinstance(values, np.ndarray) or x.dtype.kind != "f":
        return x
    if x.size == 0:
        return x.astype(np.int64) if isinstance(values, (list, tuple)) else x
    # float16/float32 come only from NumPy scalars of those types (any Python int or float makes
    # float64), so no int lost bits; comparing them with 2**53 would overflow in the cast and warn.
    if x.dtype.itemsize < 8 or not np.any(np.abs(x) >= 2.0**53):  # every int was exact in float64
        return x
    try:
        obj = np.asarray(values, dtype=object)
    except ValueError:
        return x
    if obj.shape != x.shape:
        return x
    flat = obj.reshape(-1)
    if not any(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in flat):
        return x  # NumPy floats only: nothing was lost
    return _narrow_ints(obj)


def _narrow_ints(obj: np.ndarray) -> np.ndarray:
    """An object array: int64 or uint64 when every element is an int that fits, else as is."""
    flat = obj.reshape(-1)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in flat):
        ints = [int(v) for v in flat]
        if all(-(1 << 63) <= v < 1 << 63 for v in ints):
            return np.array(ints, dtype=np.int64).reshape(obj.shape)
        if all(0 <= v < 1 << 64 for v in ints):
            return np.array(ints, dtype=np.uint64).reshape(obj.shape)
    return obj


def _coerce_input(values, api: str) -> np.ndarray:
    x = _as_exact_array(values, api)
    kind = x.dtype.kind
    if kind == "f":
        if x.dtype.itemsize > 8:
            raise TypeError(f"{api}: {x.dtype} input cannot be converted exactly; use float64 or float32")
        if x.dtype.itemsize < 4:
            x = x.astype(np.float32)  # exact: every float16 is a float32
    elif kind in "iub":
        pass
    elif kind == "O":
        flat = x.reshape(-1)
        if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in flat):
            x = _narrow_ints(x)  # Python ints: exact; beyond 64 bits handled by the caller
            return x if x.dtype == object else np.asarray(x, order="C")
        if all(isinstance(v, (float, numbers.Integral)) for v in flat):
            if any(isinstance(v, float) for v in flat) and any(
                isinstance(v, numbers.Integral) and abs(int(v)) >= 1 << 53 for v in flat
            ):
                raise TypeError(f"{api}: a mix of floats and ints beyond 2**53 cannot be converted exactly")
            return np.asarray(x.tolist(), dtype=np.float64)
        bad = next(v for v in flat if not isinstance(v, (float, numbers.Integral)))
        raise TypeError(f"{api}: cannot quantize values of type {type(bad).__name__} ({bad!r})")
    else:
        raise TypeError(f"{api}: cannot quantize an array of dtype {x.dtype}; expected floats or integers")
    return np.asarray(x, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)


def array(values, fmt, seed=None, nan="raise") -> FixedArray:
    """Quantize ``values`` into ``fmt`` once, exactly as ``ap_fixed`` construction does.

    values: floats (float64/float32/float16, exact binary values), integers
        (any NumPy integer dtype or Python ints, exact), or a FixedArray (cast). NumPy
        arrays of either byte order are read by value (``'>f8'`` data from a big-endian
        file means what it holds). A flat list or tuple of FixedArrays is stacked exactly
        (``fx.stack``) and cast; ``bytes``/``bytearray`` are ints 0..255 (uint8), as in
        Python; other buffer objects (``memoryview``, ``array.array``) are read as NumPy
        reads them.
    fmt: a :class:`Fixed` or a type string such as ``"ap_fixed<16,6,AP_RND,AP_SAT>"``.
    seed: for ``q="STOCH"``; ``None`` draws fresh entropy.
    nan: ``"raise"`` (default) raises ValueError naming the first NaN's index;
        ``"ap"`` reproduces ap_fixed, which reads NaN as a huge finite value.
        Infinities always follow ap_fixed (a huge finite value of that sign).

    Returns:
        A FixedArray of ``values``' shape whose stored integers are bit for bit what
        ``ap_fixed<...> v = x;`` stores, for every width up to 1024 and every mode.

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``values`` has an unsupported
            dtype or element type (complex, strings, longdouble, a float/int mix that
            cannot be converted exactly), or is a nested sequence holding FixedArrays (or
            FixedArrays mixed with numbers), which NumPy would read through float64;
            ``seed`` is not an int.
        ValueError: ``fmt`` does not parse; ``nan`` is not ``"raise"`` or ``"ap"``; a NaN with
            ``nan="raise"`` (the message names its index); ``seed`` outside [0, 2**64);
            ``values`` is a ragged nested sequence.
    """
    api = "fx.array"
    fmt = _as_format(fmt, api)
    _check_nan_policy(nan, api)
    if isinstance(values, FixedArray):
        return values.cast(fmt, seed=seed)
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, FixedArray) for v in values):
        return _ops.stack(values).cast(fmt, seed=seed)  # exact, as fx.stack then cast
    seed = _seed_for(fmt, seed, api)
    x = _coerce_input(values, api)
    q, o = fmt.q.value, fmt.o.value
    if x.dtype == object:  # Python ints
        ints = [int(v) for v in x.reshape(-1)]
        sw = max(v.bit_length() for v in ints) + 1 if ints else 1
        # One signed container for the whole array gives the same values; only WRAP_SM without
        # saturation bits reads the container's bits above the kept field (per element in ap_fixed).
        if sw <= MAX_W and not (fmt.o.value == "WRAP_SM" and fmt.n == 0):
            src = Fixed(sw, sw)
            buf = _core.wide_cast(_to_limbs(np.array(ints + [None], dtype=object)[:-1], src).reshape(-1).view(np.uint64),
                                  len(ints), sw, sw, True, _mode_args(fmt), seed)
            return _wrap_limbs(buf, x.shape, fmt)
        return _python_quantize(
            x, lambda v, k: _ref.from_int(int(v), fmt.w, fmt.i, fmt.signed, q, o, fmt.n, seed=seed, index=k), fmt
        )
    if _native(fmt):
        raw, first_nan = _core.quantize(x, *_mode_args(fmt), seed, nan == "ap")
        if first_nan >= 0:
            raise _nan_error(api, first_nan, x.shape, fmt)
        return FixedArray(raw, fmt, _trusted=True)
    # Wide formats: the multi-limb kernels.
    if x.dtype.kind == "f":
        flat = np.ascontiguousarray(x.reshape(-1), dtype=np.float64)  # float32 -> float64 is exact
        if nan == "raise" and np.isnan(flat).any():
            raise _nan_error(api, int(np.flatnonzero(np.isnan(flat))[0]), x.shape, fmt)
        return _wrap_limbs(_core.wide_from_double(flat, _mode_args(fmt), seed), x.shape, fmt)
    bits = 1 if x.dtype.kind == "b" else x.dtype.itemsize * 8
    signed = x.dtype.kind == "i"
    src = np.ascontiguousarray(x.reshape(-1)).astype(np.int64 if signed else np.uint64).view(np.uint64)
    buf = _core.wide_cast(src, x.size, bits, bits, signed, _mode_args(fmt), seed)
    return _wrap_limbs(buf, x.shape, fmt)


def from_raw(raw, fmt) -> FixedArray:
    """A FixedArray holding the stored integers ``raw`` (NumPy integer arrays or Python
    ints of any size). Each must lie in the format's range [fmt.raw_min, fmt.raw_max].

    Nothing is rounded: the integers are stored as they are (64-bit unsigned formats also
    accept uint64 arrays). Arrays of either byte order are read by value (``'>i4'``).

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``raw`` holds non-integers
            (FixedArrays included: pass ``a.raw``).
        ValueError: ``fmt`` does not parse; a value is outside [fmt.raw_min, fmt.raw_max]
            (the message names the first one, its index and the range); ``raw`` is a
            ragged nested sequence.
    """
    api = "fx.from_raw"
    fmt = _as_format(fmt, api)
    r = _as_exact_array(raw, api)
    if r.dtype.kind == "O":
        flat = r.reshape(-1)
        bad = next((v for v in flat if not isinstance(v, numbers.Integral) or isinstance(v, bool)), None)
        if bad is not None:
            raise TypeError(f"{api}: raw values must be integers, got {type(bad).__name__} ({bad!r})")
    elif r.dtype.kind not in "iu":
        raise TypeError(f"{api}: raw values must be integers, got an array of dtype {r.dtype}")
    lo, hi = fmt.raw_min, fmt.raw_max
    if r.size:
        if r.dtype.kind == "O":
            bad_mask = np.array([not lo <= int(v) <= hi for v in r.reshape(-1)], dtype=bool)
        else:
            info = np.iinfo(r.dtype)
            bad_mask = np.zeros(r.size, dtype=bool)
            if info.min < lo:
                bad_mask |= (r < lo).reshape(-1) if lo > info.min else False
            if info.max > hi:
                bad_mask |= (r > hi).reshape(-1) if hi < info.max else False
        if bad_mask.any():
            k = int(np.flatnonzero(bad_mask)[0])
            where = tuple(int(v) for v in np.unravel_index(k, r.shape)) if r.ndim else ()
            raise ValueError(
                f"{api}: raw value {int(r.reshape(-1)[k])} at index {where} is outside {fmt}'s range "
                f"[{lo}, {hi}]"
            )
    if _native(fmt):
        if r.dtype.kind == "O":
            dt = np.uint64 if (not fmt.signed and fmt.w == 64) else np.int64
            stored = np.array([int(v) for v in r.reshape(-1)], dtype=dt).reshape(r.shape)
        else:
            stored = r
        if stored.dtype == np.uint64:
            stored = stored.view(np.int64) if fmt.w == 64 else stored.astype(np.int64)
        stored = np.array(stored, dtype=np.int64, order="C")  # a 0-d input stays 0-d
        return FixedArray(stored, fmt, _trusted=True)
    return FixedArray(_to_limbs(r, fmt), fmt, _trusted=True)


from . import _ops, _protocol  # noqa: E402  (they build on FixedArray)
