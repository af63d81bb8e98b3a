"""Quantization: building FixedArrays from values (``fx.array``), from stored integers
(``fx.from_raw``) and from bit patterns (``fx.from_bits``), with the exact input coercion they
share (every float, int and byte order read by value; NaN policy; clear errors).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from ._pyint import cast_int
from ._join import stack
from ._storage import _as_format, _native, _native_order, _seed_for, _to_limbs
from .array import FixedArray, _wrap_limbs
from .format import MAX_WIDTH as MAX_W, Fixed

__all__ = ["array", "from_raw", "from_bits"]

_NAN_POLICIES = ("raise", "ap")


def _python_quantize(values: np.ndarray, fn, fmt: Fixed) -> FixedArray:
    """Exact element-by-element path on Python ints (``fn(value, flat index)`` -> stored int)."""
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
        return stack(values).cast(fmt, seed=seed)  # exact, as fx.stack then cast
    seed = _seed_for(fmt, seed, api)
    x = _coerce_input(values, api)
    if x.dtype == object:  # Python ints
        ints = [int(v) for v in x.reshape(-1)]
        sw = max(v.bit_length() for v in ints) + 1 if ints else 1
        # One signed container for the whole array gives the same values; only WRAP_SM without
        # saturation bits reads the container's bits above the kept field (per element in ap_fixed).
        if sw <= MAX_W and not (fmt.o.value == "WRAP_SM" and fmt.n == 0):
            src = Fixed(sw, sw)
            buf = _backend.wide_cast(_to_limbs(np.array(ints + [None], dtype=object)[:-1], src).reshape(-1).view(np.uint64),
                                  len(ints), src, fmt, seed)
            return _wrap_limbs(buf, x.shape, fmt)
        return _python_quantize(x, lambda v, k: cast_int(int(v), fmt, seed, k), fmt)
    if _native(fmt):
        raw, first_nan = _backend.quantize(x, fmt, seed, nan == "ap")
        if first_nan >= 0:
            raise _nan_error(api, first_nan, x.shape, fmt)
        return FixedArray(raw, fmt, _trusted=True)
    # Wide formats: the multi-limb kernels.
    if x.dtype.kind == "f":
        flat = np.ascontiguousarray(x.reshape(-1), dtype=np.float64)  # float32 -> float64 is exact
        if nan == "raise" and np.isnan(flat).any():
            raise _nan_error(api, int(np.flatnonzero(np.isnan(flat))[0]), x.shape, fmt)
        return _wrap_limbs(_backend.wide_from_double(flat, fmt, seed), x.shape, fmt)
    bits = 1 if x.dtype.kind == "b" else x.dtype.itemsize * 8
    signed = x.dtype.kind == "i"
    src = np.ascontiguousarray(x.reshape(-1)).astype(np.int64 if signed else np.uint64).view(np.uint64)
    buf = _backend.wide_cast(src, x.size, Fixed(bits, bits, signed=signed), fmt, seed)
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
