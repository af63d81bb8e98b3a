"""FixedArray: arrays of fixed-point values with exact ap_fixed semantics.

A FixedArray holds the stored integers (``raw``) and a format. Widths up to 64
bits use int64 storage and the C++ kernels. Wider formats are held as Python
ints and computed exactly by the pure-Python reference model (slow; native wide
kernels are planned).
"""

from __future__ import annotations

import numbers
import secrets

import numpy as np

from . import _reference as _ref
from .format import O_CODES, Q_CODES, Fixed, QMode

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "fixedpoint: the C++ extension fixedpoint._core could not be imported "
        f"({exc}). Was the extension built? Run `pip install .` (or the editable install "
        "from the README) in the source tree."
    ) from exc

__all__ = ["FixedArray", "array", "from_raw"]

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


class FixedArray:
    """An n-dimensional array of values in one fixed-point format.

    Build one with :func:`fixedpoint.array` (quantize values) or
    :func:`fixedpoint.from_raw` (stored integers).
    """

    __slots__ = ("_raw", "_fmt")
    __array_priority__ = 100

    def __init__(self, raw: np.ndarray, fmt: Fixed, *, _trusted: bool = False):
        if not _trusted:
            raise TypeError("FixedArray is built with fx.array(values, fmt) or fx.from_raw(raw, fmt)")
        self._raw = raw  # int64 (w <= 64; uint64 bit patterns for 64-bit unsigned) or object
        self._fmt = fmt

    # -- basic properties ------------------------------------------------------
    @property
    def fmt(self) -> Fixed:
        return self._fmt

    @property
    def shape(self) -> tuple:
        return self._raw.shape

    @property
    def ndim(self) -> int:
        return self._raw.ndim

    @property
    def size(self) -> int:
        return self._raw.size

    def __len__(self) -> int:
        if self._raw.ndim == 0:
            raise TypeError("len() of a 0-d FixedArray")
        return len(self._raw)

    @property
    def raw(self) -> np.ndarray:
        """The stored integers, read-only: int64 (uint64 for 64-bit unsigned formats),
        or an object array of Python ints when w > 64."""
        if _native(self._fmt) and not self._fmt.signed and self._fmt.w == 64:
            view = self._raw.view(np.uint64)
        else:
            view = self._raw.view()
        view.flags.writeable = False
        return view

    # -- conversions --------------------------------------------------------------
    def to_float(self) -> np.ndarray:
        """float64 values: exact when w <= 53 (and within float64's range), else
        rounded to nearest, ties to even."""
        fmt = self._fmt
        if _native(fmt):
            return _core.to_double(self._raw, fmt.w, fmt.i, fmt.signed)
        out = np.empty(self.shape, dtype=np.float64)
        flat = out.reshape(-1)
        for k, r in enumerate(self._raw.reshape(-1)):
            flat[k] = _ref.to_double(int(r), fmt.w, fmt.i, fmt.signed)
        return out

    def cast(self, fmt, seed=None) -> "FixedArray":
        """Requantize into ``fmt`` with its rounding/overflow modes (one exact rounding).
        ``seed`` drives STOCH (element k uses the counter-based word for (seed, k))."""
        fmt = _as_format(fmt, "FixedArray.cast")
        seed = _seed_for(fmt, seed, "FixedArray.cast")
        src = self._fmt
        if _native(src) and _native(fmt):
            raw = _core.cast(self._raw, src.w, src.i, src.signed, *_mode_args(fmt), seed)
            return FixedArray(raw, fmt, _trusted=True)
        return _python_quantize(
            self._raw,
            lambda r, k: _ref.cast_raw(int(r), src.w, src.i, src.signed, fmt.w, fmt.i, fmt.signed,
                                       fmt.q.value, fmt.o.value, fmt.n, seed=seed, index=k),
            fmt,
        )

    def __array__(self, dtype=None, copy=None):
        values = self.to_float()
        return values if dtype is None else values.astype(dtype)

    # NumPy ufuncs on FixedArray are not implemented yet: refuse rather than
    # silently compute in floating point.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(
            f"FixedArray does not support numpy.{ufunc.__name__} yet; convert explicitly with "
            "a.to_float() to compute in floating point"
        )

    def __repr__(self) -> str:
        body = np.array2string(self.to_float(), separator=", ", threshold=20, edgeitems=3,
                               floatmode="unique", prefix="FixedArray(")
        return f"FixedArray({body}, fmt={self._fmt})"

    def __str__(self) -> str:
        return np.array2string(self.to_float(), threshold=20, edgeitems=3, floatmode="unique")


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


def _coerce_input(values, api: str) -> np.ndarray:
    x = np.asarray(values)
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
            return x  # Python ints: exact, handled by the caller
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
        (any NumPy integer dtype or Python ints, exact), or a FixedArray (cast).
    fmt: a :class:`Fixed` or a type string such as ``"ap_fixed<16,6,AP_RND,AP_SAT>"``.
    seed: for ``q="STOCH"``; ``None`` draws fresh entropy.
    nan: ``"raise"`` (default) raises ValueError naming the first NaN's index;
        ``"ap"`` reproduces ap_fixed, which reads NaN as a huge finite value.
        Infinities always follow ap_fixed (a huge finite value of that sign).
    """
    api = "fx.array"
    fmt = _as_format(fmt, api)
    _check_nan_policy(nan, api)
    if isinstance(values, FixedArray):
        return values.cast(fmt, seed=seed)
    seed = _seed_for(fmt, seed, api)
    x = _coerce_input(values, api)
    q, o = fmt.q.value, fmt.o.value
    if x.dtype == object:  # Python ints
        return _python_quantize(
            x, lambda v, k: _ref.from_int(int(v), fmt.w, fmt.i, fmt.signed, q, o, fmt.n, seed=seed, index=k), fmt
        )
    if _native(fmt):
        raw, first_nan = _core.quantize(x, *_mode_args(fmt), seed, nan == "ap")
        if first_nan >= 0:
            raise _nan_error(api, first_nan, x.shape, fmt)
        return FixedArray(raw, fmt, _trusted=True)
    # Wide formats: exact reference path.
    if x.dtype.kind == "f":
        flat = x.reshape(-1)
        if nan == "raise" and np.isnan(flat).any():
            raise _nan_error(api, int(np.flatnonzero(np.isnan(flat))[0]), x.shape, fmt)
        return _python_quantize(
            x, lambda v, k: _ref.from_double(float(v), fmt.w, fmt.i, fmt.signed, q, o, fmt.n, nan="ap",
                                             seed=seed, index=k), fmt
        )
    bits = 1 if x.dtype.kind == "b" else x.dtype.itemsize * 8
    signed = x.dtype.kind == "i"
    return _python_quantize(
        x, lambda v, k: _ref.cast_raw(int(v), bits, bits, signed, fmt.w, fmt.i, fmt.signed, q, o, fmt.n,
                                      seed=seed, index=k), fmt
    )


def from_raw(raw, fmt) -> FixedArray:
    """A FixedArray holding the stored integers ``raw`` (NumPy integer arrays or Python
    ints of any size). Each must lie in the format's range [fmt.raw_min, fmt.raw_max]."""
    api = "fx.from_raw"
    fmt = _as_format(fmt, api)
    r = np.asarray(raw)
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
    out = np.empty(r.size, dtype=object)
    out[:] = [int(v) for v in r.reshape(-1)]
    return FixedArray(out.reshape(r.shape), fmt, _trusted=True)
