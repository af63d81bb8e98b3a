"""What every operation shares below the FixedArray class: format and seed validation, the
multi-limb storage of wide formats (65..1024 bits: ``ceil(w / 64)`` little-endian 64-bit limbs per
element in a NumPy void array), and byte-order normalization of input arrays."""

from __future__ import annotations

import numbers
import secrets

import numpy as np

from .format import Fixed, QMode

NATIVE_MAX_W = 64  # formats up to this width store one int64 per element (uint64 bit patterns when unsigned w = 64)
# The widest format the int64 engine takes: nn's raw paths (nn._raw.RAW_MAX_W, raw_ok) and the
# fused dense_accum kernel (_plan.FUSED_MAX_W); 64-bit formats (an unsigned one's stored integers
# are uint64 bit patterns) take the exact generic paths. Defined here only: the C++ extension
# does not state it (its dense_accum binding takes w <= 64).
RAW_MAX_W = NATIVE_MAX_W - 1


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


def _flat_limbs(x) -> np.ndarray:
    """Contiguous uint64 limbs of every element of a FixedArray (1 limb per element for native
    formats)."""
    r = np.ascontiguousarray(x._raw).reshape(-1)
    return r.view(np.uint64)


def _native_order(x: np.ndarray) -> np.ndarray:
    """``x`` with its elements in the machine's byte order. Arrays of the other order (data
    written on a big-endian machine: FITS, some HDF5/ROOT dumps, ``'>f8'``, ``'>i4'``) are
    converted value for value, so they mean what they hold; the C++ kernels read native
    bytes only (and reject any other order)."""
    if x.dtype.isnative:
        return x
    return x.astype(x.dtype.newbyteorder("="))
