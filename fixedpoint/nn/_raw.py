"""Stored-integer helpers shared by every layer family of the emulation engine.

The engine holds each tensor as its stored integers: an int64 NumPy array (the bit pattern,
also for 64-bit unsigned formats) when ``w <= 64``, FixedArray's limb storage above (a NumPy
void array, one element of ``ceil(w/64)`` little-endian 64-bit limbs per value; reshapes,
transposes and indexing work on it as on any array), with the sample axis first. Formats wider
than :data:`RAW_MAX_W` take the generic (exact, C++ limb) FixedArray paths: :func:`wrap` a
tensor, compute with FixedArray arithmetic, and take :func:`storage` of the result.
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from .._storage import RAW_MAX_W  # 63: the widest format the int64 engine takes
from ..array import FixedArray
from ..quantize import array
from ..format import Fixed

__all__ = ["RAW_MAX_W", "F64_EXACT", "literal_raw", "raw_ok", "is_wide", "storage", "wrap", "cast_raw",
           "quantize_input", "apply_post"]

F64_EXACT = float(2**53)


def literal_raw(values: np.ndarray, fmt: Fixed) -> np.ndarray:
    """Stored integers of hls4ml's weight path: each value printed as a decimal literal with
    ``fmt.f`` digits after the point, read back as a double, quantized into ``fmt``. Each
    distinct value is printed once."""
    values = np.asarray(values)
    digits = max(0, fmt.f)
    uniq, inverse = np.unique(values.reshape(-1), return_inverse=True)
    printed = np.array([float(f"{v:.{digits}f}") for v in uniq], dtype=np.float64)
    q = array(printed[inverse].reshape(values.shape), fmt)
    return storage(q)


def raw_ok(*fmts: Fixed) -> bool:
    """Every format fits the native int64 engine."""
    return all(f.w <= RAW_MAX_W for f in fmts)


def is_wide(raw: np.ndarray) -> bool:
    """The tensor is held as limbs (w > 64) or Python ints, not as int64."""
    return raw.dtype.kind in "OV"


def storage(a: FixedArray) -> np.ndarray:
    """A FixedArray's stored integers as the engine holds them: int64 bit patterns for w <= 64,
    the limb storage above."""
    raw = a._raw
    return raw if raw.dtype.kind == "V" else raw.view(np.int64)


def wrap(raw: np.ndarray, fmt: Fixed) -> FixedArray:
    """The stored integers as a FixedArray (no copy, no check)."""
    return FixedArray(raw, fmt, _trusted=True)


def cast_raw(raw: np.ndarray, src: Fixed, dst: Fixed) -> np.ndarray:
    """``(dst) src`` on stored integers (dst's q/o/n); the identity when the two have the same
    w, i and signedness."""
    if (src.w, src.i, src.signed) == (dst.w, dst.i, dst.signed):
        return raw
    if is_wide(raw) or not raw_ok(src, dst):
        return storage(wrap(raw, src).cast(dst))
    shape = raw.shape
    out = _backend.cast(raw.reshape(-1), src, dst)
    return out.reshape(shape)


def quantize_input(x: np.ndarray, fmt: Fixed) -> np.ndarray:
    """``(input_t) float``: one rounding of the float inputs into ``fmt``, as stored integers."""
    return storage(array(x, fmt))


def relu_raw(raw: np.ndarray, fmt: Fixed) -> np.ndarray:
    """``x > 0 ? x : 0`` on stored integers, int64 or limbs (the sign is the top limb's)."""
    if not fmt.signed:
        return raw
    if raw.dtype.kind != "V":
        return np.maximum(raw, 0)
    nl = raw.dtype.itemsize // 8
    limbs = raw.view(np.uint64).reshape(raw.shape + (nl,))
    neg = limbs[..., -1].view(np.int64) < 0
    out = limbs.copy()
    out[neg] = 0
    return out.view(raw.dtype).reshape(raw.shape)


def apply_post(raw: np.ndarray, fmt: Fixed, post) -> tuple:
    """A fused activation ``post = (relu, res_t)`` (see :mod:`fixedpoint.nn.graph`): hls4ml's ReLU
    (``relu``) or linear layer, ``(res_t)(x > 0 ? x : 0)`` / ``(res_t) x``; ``(raw, fmt)`` unchanged
    for ``post = None``."""
    if post is None:
        return raw, fmt
    relu, res_t = post
    if relu:
        raw = relu_raw(raw, fmt)
    return cast_raw(raw, fmt, res_t), res_t
