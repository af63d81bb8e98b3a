"""fixedpoint.binary: binary (+-1) and ternary (-1, 0, +1) networks on packed sign bits.

Signs are packed along one axis into little-endian ``uint64`` words: element ``k`` of the
packed axis is bit ``k % 64`` of word ``k // 64``, set for +1. Padding bits past the length
``K`` are always 0, so popcounts over whole words are exact for any ``K``.

Every product here is exact: ``xnor_matmul`` returns the int32 +-1 dot products
``K - 2 * popcount(a ^ b)``; the output transform, the binary-weight and the ternary products
are computed in integers or with fixedpoint's exact arithmetic. See ``docs/binary.md``.

>>> import numpy as np, fixedpoint as fx
>>> p = fx.binary.pack(np.array([[0.5, -1.0, 0.0]]))
>>> p.words.tolist(), p.length
([[5]], 3)
>>> fx.binary.unpack(p).tolist()
[[1, -1, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import _backend
from ._arith import add as _add
from ._arith import multiply as _multiply
from .array import FixedArray
from .quantize import from_raw
from ._storage import _native_order
from .format import Fixed

__all__ = [
    "PackedBits",
    "PackedTernary",
    "binary_quantize",
    "binary_weight_matmul",
    "pack",
    "pack_ternary",
    "ternary_matmul",
    "ternary_quantize",
    "ternary_weight_matmul",
    "unpack",
    "unpack_ternary",
    "xnor_matmul",
]

ZERO_MODES = ("pos", "neg")


@dataclass(frozen=True)
class PackedBits:
    """Signs packed along one axis.

    ``words``: uint64, the input's shape with ``axis`` removed plus a last axis of
    ``ceil(length / 64)`` words. ``length``: the packed axis' length ``K``. ``axis``: the
    (non-negative) axis of the original array that was packed. ``shape``: the original shape.

    Built by :func:`pack`; padding bits past ``length`` are 0. Frozen (immutable fields).

    Raises:
        dataclasses.FrozenInstanceError: on assignment to a field. Constructing one directly
            is not validated; use :func:`pack`.
    """

    words: np.ndarray
    length: int
    axis: int
    shape: tuple

    @property
    def nwords(self) -> int:
        """The number of uint64 words per packed row, ``ceil(length / 64)``."""
        return self.words.shape[-1]


@dataclass(frozen=True)
class PackedTernary:
    """Ternary values as two bit-planes packed along one axis: ``mask`` (set where the value is
    nonzero) and ``sign`` (set where it is +1; 0 for -1 and for 0).

    Built by :func:`pack_ternary`. Frozen (immutable fields).

    Raises:
        dataclasses.FrozenInstanceError: on assignment to a field. Constructing one directly
            is not validated; use :func:`pack_ternary`.
    """

    mask: PackedBits
    sign: PackedBits

    @property
    def length(self) -> int:
        """The packed axis' length ``K``."""
        return self.mask.length

    @property
    def axis(self) -> int:
        """The axis of the original array that was packed."""
        return self.mask.axis

    @property
    def shape(self) -> tuple:
        """The original array's shape."""
        return self.mask.shape


# --------------------------------------------------------------------------------------------
# input coercion


def _as_numeric(x, api: str) -> np.ndarray:
    """A real NumPy array whose sign is the sign of each value of x (no rounding involved)."""
    if isinstance(x, FixedArray):
        raw = x.raw
        if raw.dtype == object:
            return np.sign(raw).astype(np.int8)
        return raw
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu()
        if x.dtype.is_complex:
            raise TypeError(f"{api}: unsupported dtype {x.dtype} (need real numbers)")
        x = x.numpy() if x.dtype.is_floating_point is False else x.double().numpy()
    a = _native_order(np.asarray(x))  # '>f8' data means its values
    if a.dtype == bool:
        raise TypeError(f"{api}: unsupported dtype bool (pass +-1 or signed values; "
                        "x >= 0 means +1)")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{api}: unsupported dtype {a.dtype} (need real numbers: int, uint, float, "
                        "FixedArray or a torch tensor)")
    if a.dtype.kind == "f" and np.isnan(a).any():
        idx = np.unravel_index(int(np.flatnonzero(np.isnan(a))[0]), a.shape)
        raise ValueError(f"{api}: NaN at index {tuple(int(i) for i in idx)} has no sign")
    return a


def _norm_axis(axis, ndim: int, api: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{api}: axis must be an int, got {axis!r}")
    if ndim == 0:
        raise ValueError(f"{api}: cannot pack a 0-d array")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{api}: axis {axis} is out of bounds for an array of {ndim} dimensions")
    return int(axis) % ndim


def _pack_bool(bits: np.ndarray, axis: int, shape: tuple) -> PackedBits:
    k = shape[axis]
    moved = np.moveaxis(bits, axis, -1)
    nwords = max(1, (k + 63) // 64)
    if k == 0:
        raise ValueError("fx.binary.pack: the packed axis has length 0")
    if k % 64 == 0:
        padded = moved
    else:  # padding bits are 0
        padded = np.zeros(moved.shape[:-1] + (nwords * 64,), dtype=bool)
        padded[..., :k] = moved
    by = np.packbits(padded, axis=-1, bitorder="little")
    words = np.ascontiguousarray(by).view("<u8").astype(np.uint64, copy=False)
    return PackedBits(np.ascontiguousarray(words), int(k), axis, tuple(int(s) for s in shape))


def pack(x, axis: int = -1, zero: str = "pos") -> PackedBits:
    """Pack the signs of ``x`` along ``axis``: bit 1 means +1.

    ``zero="pos"`` (default, as QKeras' ``binary``): ``x >= 0`` is +1. ``zero="neg"`` (as the
    ``quantizers`` package): ``x > 0`` is +1, so 0 becomes -1. ``x``: a NumPy array (int, uint or
    float; NaN raises), a FixedArray (the sign of its values) or a torch tensor.

    Exact: only signs are read, never rounded.

    Raises:
        TypeError: ``x`` is not real-valued (bool, complex, strings, objects) or ``axis`` is
            not an int.
        ValueError: ``x`` holds a NaN (the message names its index), is 0-d, the packed
            axis is empty or ``axis`` is out of bounds; ``zero`` is not ``"pos"`` or ``"neg"``.
    """
    api = "fx.binary.pack"
    if zero not in ZERO_MODES:
        raise ValueError(f"{api}: zero must be one of {ZERO_MODES}, got {zero!r}")
    a = _as_numeric(x, api)
    ax = _norm_axis(axis, a.ndim, api)
    bits = (a >= 0) if zero == "pos" else (a > 0)
    return _pack_bool(bits, ax, a.shape)


def _unpack_bits(p: PackedBits) -> np.ndarray:
    by = np.ascontiguousarray(p.words.astype("<u8", copy=False)).view(np.uint8)
    bits = np.unpackbits(by, axis=-1, bitorder="little")[..., : p.length]
    return np.moveaxis(bits, -1, p.axis)


def unpack(p: PackedBits) -> np.ndarray:
    """The +-1 values (int8, the original shape) of packed bits; exact inverse of :func:`pack`.

    Raises:
        TypeError: ``p`` is not PackedBits.
    """
    if not isinstance(p, PackedBits):
        raise TypeError(f"fx.binary.unpack: expected PackedBits, got {type(p).__name__}")
    bits = _unpack_bits(p)
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


def pack_ternary(x, axis: int = -1) -> PackedTernary:
    """Pack the three-valued sign of ``x`` (-1, 0, +1) along ``axis`` as two bit-planes.
    Apply :func:`ternary_quantize` first to map real weights to -1/0/+1 by a threshold.

    Exact: only signs are read, never rounded.

    Raises:
        TypeError: ``x`` is not real-valued (bool, complex, strings, objects) or ``axis`` is
            not an int.
        ValueError: ``x`` holds a NaN (the message names its index), is 0-d, the packed
            axis is empty or ``axis`` is out of bounds.
    """
    api = "fx.binary.pack_ternary"
    a = _as_numeric(x, api)
    ax = _norm_axis(axis, a.ndim, api)
    return PackedTernary(_pack_bool(a != 0, ax, a.shape), _pack_bool(a > 0, ax, a.shape))


def unpack_ternary(t: PackedTernary) -> np.ndarray:
    """The -1/0/+1 values (int8, the original shape) of a :class:`PackedTernary`; exact inverse
    of :func:`pack_ternary`.

    Raises:
        TypeError: ``t`` is not a PackedTernary.
    """
    if not isinstance(t, PackedTernary):
        raise TypeError(f"fx.binary.unpack_ternary: expected PackedTernary, got {type(t).__name__}")
    m = _unpack_bits(t.mask).astype(np.int8)
    s = _unpack_bits(t.sign).astype(np.int8)
    return (m * (2 * s - 1)).astype(np.int8)


# --------------------------------------------------------------------------------------------
# products


def _check_pair(api: str, a, b, a_kind, b_kind) -> int:
    if not isinstance(a, a_kind):
        raise TypeError(f"{api}: the left operand must be {a_kind.__name__}, got {type(a).__name__}")
    if not isinstance(b, b_kind):
        raise TypeError(f"{api}: the right operand must be {b_kind.__name__}, got {type(b).__name__}")
    if len(a.shape) != 2 or a.axis != 1:
        raise ValueError(f"{api}: the left operand must be (M, K) packed along axis 1, "
                         f"got shape {a.shape} packed along axis {a.axis}")
    if len(b.shape) != 2 or b.axis != 0:
        raise ValueError(f"{api}: the right operand must be (K, N) packed along axis 0 "
                         f"(pack(b, axis=0)), got shape {b.shape} packed along axis {b.axis}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{api}: shape mismatch, lhs {a.shape} and rhs {b.shape} (K {a.shape[1]} != {b.shape[0]})")
    return a.shape[1]


def _float_to_ints(a: np.ndarray):
    """Finite float64 values as (Python ints r, f) with a == r * 2**-f exactly, f >= 0 minimal."""
    flat = a.reshape(-1)
    m, e = np.frexp(flat)  # flat = m * 2**e, 0.5 <= |m| < 1 (m = 0 for 0)
    mant = np.ldexp(m, 53).astype(np.int64)  # exact: |m| * 2**53 < 2**53 is an integer
    nz = mant != 0
    low = np.where(nz, mant & -mant, 1)
    tz = np.frexp(low.astype(np.float64))[1] - 1  # trailing zero bits of the mantissa
    need = np.where(nz, 53 - e - tz, 0)  # fraction bits each value needs
    f = max(0, int(need.max())) if need.size else 0
    if need.size and int((e + f).max(initial=0)) > 62:  # too wide for int64: exact Python path
        fr = [Fraction(float(x)) for x in flat.tolist()]
        return [int(q * (1 << f)) for q in fr], f
    return [int(r) for r in np.ldexp(flat, f).astype(np.int64).tolist()], f


def _exact_fixed(v, n: int, api: str, what: str) -> FixedArray:
    """Per-channel values as an exact FixedArray (no rounding: floats must fit in 64 bits)."""
    if isinstance(v, FixedArray):
        arr = v
    else:
        a = np.asarray(v)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{api}: {what} must be real numbers or a FixedArray, got dtype {a.dtype}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{api}: {what} must be finite")
        if a.dtype.kind == "f":
            ints, f = _float_to_ints(a.astype(np.float64))
        else:
            ints, f = [int(x) for x in a.reshape(-1).tolist()], 0
        w = max(2, max((abs(r).bit_length() + 1 for r in ints), default=1))
        if w > 64:
            raise ValueError(f"{api}: {what} needs {w} bits to be exact (more than 64); pass a FixedArray")
        arr = from_raw(np.array(ints, dtype=np.int64).reshape(a.shape), Fixed(w, w - f))
    if arr.shape not in ((n,), (), (1,)):
        raise ValueError(f"{api}: {what} must have shape ({n},) (one per output channel), got {arr.shape}")
    return arr


def _acc_fixed(acc: np.ndarray, k: int) -> FixedArray:
    w = k.bit_length() + 1  # |acc| <= k
    return from_raw(acc.astype(np.int64), Fixed(w, w))


def _fixed_terms(v, n: int, api: str, what: str):
    """(int raws, fraction bits) of an exact per-channel operand, or None for wide formats."""
    if v is None:
        return None
    f = _exact_fixed(v, n, api, what)
    if f.raw.dtype == object or (not f.fmt.signed and f.fmt.w == 64):
        return False
    return np.broadcast_to(f.raw.astype(np.int64), (n,)), f.fmt.w - f.fmt.i, f.fmt.w


def _threshold(acc: np.ndarray, k: int, scale, bias, n: int, api: str):
    """``acc * scale[n] + bias[n] >= 0`` exactly, as per-channel integer thresholds on acc:
    with integers S = scale * 2**f, B = bias * 2**f, S > 0: acc >= ceil(-B / S); S < 0:
    acc <= floor(B / -S); S == 0: B >= 0. None for operands in wide (object) formats."""
    st = _fixed_terms(scale, n, api, "scale") if scale is not None else (np.ones(n, np.int64), 0, 2)
    bt = _fixed_terms(bias, n, api, "bias") if bias is not None else (np.zeros(n, np.int64), 0, 1)
    if st is False or bt is False:
        return None
    (s_raw, fs, _), (b_raw, fb, _) = st, bt
    f = max(fs, fb)
    lo = np.empty(n, np.int64)  # acc >= lo
    hi = np.empty(n, np.int64)  # acc <= hi
    edge = k + 1  # |acc| <= k: clip thresholds into int32-safe range
    for c, (sv, bv) in enumerate(zip(s_raw.tolist(), b_raw.tolist())):
        sv, bv = int(sv) << (f - fs), int(bv) << (f - fb)
        if sv > 0:
            lo[c], hi[c] = max(-edge, min(edge, -(bv // sv))), edge  # ceil(-B/S) = -floor(B/S)
        elif sv < 0:
            lo[c], hi[c] = -edge, max(-edge, min(edge, bv // -sv))
        else:
            lo[c], hi[c] = (-edge, edge) if bv >= 0 else (edge, -edge)
    lo32, hi32 = lo.astype(np.int32), hi.astype(np.int32)
    if (hi32 == edge).all():
        return acc >= lo32
    return (acc >= lo32) & (acc <= hi32)


def _transform(api: str, acc: np.ndarray, k: int, scale, bias, out):
    if scale is None and bias is None and out is None:
        return acc
    n = acc.shape[1]
    if isinstance(out, str) and out == "binary":
        fast = _threshold(acc, k, scale, bias, n, api)
        if fast is not None:
            return _pack_bool(fast, 1, acc.shape)
    y = _acc_fixed(acc, k)
    if scale is not None:
        y = _multiply(y, _exact_fixed(scale, n, api, "scale"))
    if bias is not None:
        y = _add(y, _exact_fixed(bias, n, api, "bias"))
    if out is None:
        return y
    if isinstance(out, str) and out == "binary":
        r = y.raw
        bits = (r >= 0) if r.dtype != object else np.vectorize(lambda z: z >= 0, otypes=[bool])(r)
        return _pack_bool(np.asarray(bits), 1, y.shape)
    return y.cast(out)


def xnor_matmul(pa: PackedBits, pb: PackedBits, scale=None, bias=None, out=None):
    """Exact +-1 matrix product of packed operands: ``pa`` (M, K) packed along axis 1 and
    ``pb`` (K, N) packed along axis 0 (``pack(b, axis=0)``).

    Without ``scale``/``bias``/``out``: the int32 (M, N) array ``a @ b`` (= K - 2 popcount).
    Output transform ``y = acc * scale[n] + bias[n]``, computed exactly (``scale``/``bias``:
    FixedArrays, ints, or floats, converted without rounding; floats needing more than 64 bits
    raise): ``out=None`` returns y as a FixedArray in its natural format; ``out=<format>``
    casts y into it (one rounding, the format's modes); ``out="binary"`` re-binarizes
    (``y >= 0`` is +1) and returns PackedBits (M, N) packed along axis 1, the next layer's input.

    Raises:
        TypeError: an operand is not of the packed kind named above; ``scale``/``bias`` are
            not real numbers or FixedArrays.
        ValueError: ``pa`` is not (M, K) packed along axis 1, ``pb`` is not (K, N) packed along
            axis 0, or the K differ (both shapes are named); ``scale``/``bias`` are not finite,
            not of shape (N,), or floats needing more than 64 bits to be exact; ``out`` does
            not parse.
    """
    api = "fx.binary.xnor_matmul"
    k = _check_pair(api, pa, pb, PackedBits, PackedBits)
    acc = _backend.xnor_gemm(pa.words, pb.words, k)
    return _transform(api, acc, k, scale, bias, out)


def ternary_matmul(ta: PackedTernary, pb: PackedBits, scale=None, bias=None, out=None):
    """Exact ternary x binary product: ``ta`` (M, K) from ``pack_ternary(t, axis=1)``, ``pb``
    (K, N) from ``pack(b, axis=0)``; int32 (M, N). ``scale``/``bias``/``out`` as in
    :func:`xnor_matmul`. Exact.

    Raises:
        TypeError: an operand is not of the packed kind named above; ``scale``/``bias`` are
            not real numbers or FixedArrays.
        ValueError: ``ta`` is not (M, K) packed along axis 1, ``pb`` is not (K, N) packed along
            axis 0, or the K differ (both shapes are named); ``scale``/``bias`` are not finite,
            not of shape (N,), or floats needing more than 64 bits to be exact; ``out`` does
            not parse.
    """
    api = "fx.binary.ternary_matmul"
    k = _check_pair(api, ta, pb, PackedTernary, PackedBits)
    acc = _backend.ternary_binary_gemm(ta.mask.words, ta.sign.words, pb.words, k)
    return _transform(api, acc, k, scale, bias, out)


def _weight_operands(api: str, x, w, kind):
    if not isinstance(x, FixedArray):
        raise TypeError(f"{api}: x must be a FixedArray (use fx.array), got {type(x).__name__}")
    if not isinstance(w, kind):
        raise TypeError(f"{api}: w must be {kind.__name__}, got {type(w).__name__}")
    if x.fmt.w > 32:
        raise ValueError(f"{api}: activations need w <= 32, got {x.fmt}")
    if x.ndim != 2:
        raise ValueError(f"{api}: x must be (M, K), got shape {x.shape}")
    if len(w.shape) != 2 or w.axis != 0:
        raise ValueError(f"{api}: w must be (K, N) packed along axis 0, got shape {w.shape} packed along axis {w.axis}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{api}: shape mismatch, x {x.shape} and w {w.shape} (K {x.shape[1]} != {w.shape[0]})")
    k = x.shape[1]
    g = (k - 1).bit_length() + 1  # ceil(log2 K) bits of growth plus one for the sign
    fmt = Fixed(x.fmt.w + g, x.fmt.i + g, True)
    return np.ascontiguousarray(x.raw, dtype=np.int64), k, fmt


def binary_weight_matmul(x: FixedArray, w: PackedBits) -> FixedArray:
    """Exact ``x @ w`` of fixed-point activations ``x`` (M, K), w <= 32, and +-1 weights ``w``
    (K, N) packed along axis 0, with adds and subtracts only. The result is a FixedArray in the
    natural format: ``x``'s format with w and i grown by ``ceil(log2 K) + 1`` (signed).

    Raises:
        TypeError: ``x`` is not a FixedArray or ``w`` is not PackedBits.
        ValueError: ``x`` is wider than 32 bits or not 2-d; ``w`` is not (K, N) packed along
            axis 0; the K differ (both shapes are named).
    """
    raw, _, fmt = _weight_operands("fx.binary.binary_weight_matmul", x, w, PackedBits)
    return from_raw(_backend.binary_weight_gemm(raw, w.words), fmt)


def ternary_weight_matmul(x: FixedArray, w: PackedTernary) -> FixedArray:
    """Exact ``x @ t`` of fixed-point activations ``x`` (M, K), w <= 32, and ternary weights
    (K, N) from ``pack_ternary(t, axis=0)``; format as in :func:`binary_weight_matmul`.

    Computed as ``(B(x, p) - B(x, q)) / 2`` with the +-1 planes ``p = [t == +1]`` and
    ``q = [t == -1]`` (each bit 0 meaning -1), B the binary-weight product. Exact.

    Raises:
        TypeError: ``x`` is not a FixedArray or ``w`` is not a PackedTernary.
        ValueError: ``x`` is wider than 32 bits or not 2-d; ``w`` is not (K, N) packed along
            axis 0; the K differ (both shapes are named). K is 2**30 or more.
    """
    api = "fx.binary.ternary_weight_matmul"
    raw, k, fmt = _weight_operands(api, x, w, PackedTernary)
    if k >= 1 << 30:
        raise ValueError(f"{api}: K must be < 2**30, got {k}")
    plus = w.mask.words & w.sign.words
    minus = w.mask.words & ~w.sign.words
    diff = _backend.binary_weight_gemm(raw, plus) - _backend.binary_weight_gemm(raw, minus)
    return from_raw(diff // 2, fmt)


# --------------------------------------------------------------------------------------------
# quantizers (NumPy; the torch versions with straight-through gradients are in fixedpoint.torch)


def _channel_mean(a: np.ndarray, axis, api: str) -> np.ndarray:
    if axis is None:
        return np.mean(a, keepdims=True) if a.size else np.zeros((1,) * a.ndim)
    ax = _norm_axis(axis, a.ndim, api)
    others = tuple(d for d in range(a.ndim) if d != ax)
    return np.mean(a, axis=others, keepdims=True)


def _float_input(w, api: str) -> np.ndarray:
    a = _as_numeric(w, api)
    return a.astype(np.float64) if not isinstance(w, FixedArray) else np.asarray(w.to_float())


def binary_quantize(w, scaled: bool = False, axis=None, zero: str = "pos") -> np.ndarray:
    """Binarize: ``+1`` where ``w >= 0`` (``zero="neg"``: where ``w > 0``), else ``-1``.
    ``scaled=True`` multiplies by ``alpha = mean(|w|)`` (XNOR-Net), per channel along
    ``axis`` when given (the mean runs over every other axis), else over the whole tensor.

    Returns float64 (+-1, or +-alpha); the signs are exact, alpha is a float64 mean.

    Raises:
        TypeError: ``w`` is not real-valued.
        ValueError: ``w`` holds a NaN; ``zero`` is not ``"pos"`` or ``"neg"``; ``axis`` is
            out of bounds.
    """
    api = "fx.binary.binary_quantize"
    if zero not in ZERO_MODES:
        raise ValueError(f"{api}: zero must be one of {ZERO_MODES}, got {zero!r}")
    a = _float_input(w, api)
    s = np.where(a >= 0 if zero == "pos" else a > 0, 1.0, -1.0)
    if not scaled:
        return s
    return s * _channel_mean(np.abs(a), axis, api)


def ternary_quantize(w, threshold=None, scaled: bool = False, axis=None) -> np.ndarray:
    """Ternarize: ``sign(w)`` where ``|w| > threshold``, else 0. The default threshold is
    TWN's ``0.7 * mean(|w|)`` (per channel along ``axis`` when given). ``scaled=True``
    multiplies by ``alpha = mean(|w|)`` over the kept (nonzero) weights.

    Returns float64 (-1/0/+1, or scaled by alpha, a float64 mean).

    Raises:
        TypeError: ``w`` is not real-valued.
        ValueError: ``w`` holds a NaN; ``axis`` is out of bounds.
    """
    api = "fx.binary.ternary_quantize"
    a = _float_input(w, api)
    absw = np.abs(a)
    delta = 0.7 * _channel_mean(absw, axis, api) if threshold is None else np.asarray(threshold, dtype=np.float64)
    keep = absw > delta
    t = np.where(keep, np.sign(a), 0.0)
    if not scaled:
        return t
    if axis is None:
        num, cnt = np.sum(absw * keep, keepdims=True), np.sum(keep, keepdims=True)
    else:
        ax = _norm_axis(axis, a.ndim, api)
        others = tuple(d for d in range(a.ndim) if d != ax)
        num, cnt = np.sum(absw * keep, axis=others, keepdims=True), np.sum(keep, axis=others, keepdims=True)
    alpha = np.where(cnt > 0, num / np.maximum(cnt, 1), 0.0)
    return t * alpha

