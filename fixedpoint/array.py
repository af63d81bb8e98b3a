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

from .format import O_CODES, Q_CODES, Fixed, QMode

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "fixedpoint: the C++ extension fixedpoint._core could not be imported "
        f"({exc}). Was the extension built? Run `pip install .` (or the editable install "
        "from the README) in the source tree."
    ) from exc

__all__ = ["FixedArray", "format_bits"]

NATIVE_MAX_W = 64


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
            from .quantize import array  # noqa: PLC0415  (quantize builds on FixedArray)

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


from . import _ops, _protocol  # noqa: E402  (they build on FixedArray)
