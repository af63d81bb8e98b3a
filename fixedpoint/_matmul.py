"""Dense matrix products of FixedArrays: the exact GEMM (its kernel chosen from the operands'
bit bounds), the accumulator-accurate sequential accumulation (hls4ml's ``dense_latency``),
linear layers, ``dot`` and ``outer``. :mod:`fixedpoint._linalg` holds the public ``matmul`` and
``linear``, which send SparseFixed operands to :mod:`fixedpoint.sparse`."""

from __future__ import annotations


import numpy as np

from . import _backend
from .array import FixedArray, _wrap_limbs
from ._storage import _as_format, _flat_limbs, _limb_dtype, _limbs, _native, _seed_for
from .format import Fixed
from ._operands import (_make_fixed, result_format, _operand, _ints, _from_ints, _growth)
from ._arith import (_binary, add)
from ._plan import AccumKernel, MatmulKernel, f64_split_plan, plan_accum, plan_matmul

# ---------------------------------------------------------------------------
# products
def _matmul_shapes(api, sa, sb):
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"{api}: matmul needs at least 1-d operands, lhs: {sa}, rhs: {sb}")
    ka = sa[-1]
    kb = sb[-2] if len(sb) >= 2 else sb[0]
    if ka != kb:
        raise ValueError(f"{api}: input shape mismatch, lhs: {sa}, rhs: {sb} (contraction {ka} != {kb})")
    try:
        np.broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2]))
    except ValueError:
        raise ValueError(f"{api}: batch dimensions do not broadcast, lhs: {sa}, rhs: {sb} "
                         f"(batch {tuple(sa[:-2])} vs {tuple(sb[:-2])})") from None
    return ka


def matmul_dense(a: FixedArray, b: FixedArray, accum, seed, api: str) -> FixedArray:
    """``a @ b`` for FixedArray operands (see :func:`fixedpoint.matmul`): exact without ``accum``,
    else the sequential accumulation into ``accum`` (a format or type string)."""
    k = _matmul_shapes(api, a.shape, b.shape)
    if accum is not None:
        accum = _as_format(accum, api)
        return _matmul_accum(a, b, accum, _seed_for(accum, seed, api), api)
    return _matmul_exact(a, b, k, api)


def _gemm_bounds(ra: np.ndarray, rb: np.ndarray) -> tuple[int, int, bool]:
    """(amax, bmax, fits16) of two int64/uint64 raw arrays: the largest magnitudes, and whether
    every value of both lies in int16 (-32768 included)."""
    lims = []
    for r in (ra, rb):
        lo, hi = (int(r.min()), int(r.max())) if r.size else (0, 0)
        lims.append((max(-lo, hi), lo >= -32768 and hi <= 32767))
    return lims[0][0], lims[1][0], lims[0][1] and lims[1][1]


def _matmul_f64_split(x: np.ndarray, y: np.ndarray, amax: int, bmax: int) -> np.ndarray:
    """x @ y modulo 2^64 for int64 raws by float64 BLAS on limbs: x = sum_l x_l 2^(L l) with
    low limbs in [0, 2^L) and a signed top limb (|x_l| <= 2^L), each limb GEMM exact in float64,
    recombined with wrapping int64 shifts and adds (exact when the result fits 64 bits)."""
    split_a, L, n = f64_split_plan(amax, bmax, x.shape[-1])
    src, other = (x, y) if split_a else (y, x)
    of = other.astype(np.float64)
    total = None
    rest = src
    for limb in range(n):
        part = rest & ((1 << L) - 1) if limb < n - 1 else rest
        rest = rest >> L
        pf = part.astype(np.float64)
        r = (np.matmul(pf, of) if split_a else np.matmul(of, pf)).astype(np.int64)
        r = (r.view(np.uint64) << np.uint64(L * limb)).view(np.int64) if limb else r
        total = r if total is None else (total.view(np.uint64) + r.view(np.uint64)).view(np.int64)
    return total


def _matmul_exact(a: FixedArray, b: FixedArray, k: int, api: str) -> FixedArray:
    prod = result_format("mul", a.fmt, b.fmt, api=api)
    g = _growth(k)
    fmt = _make_fixed(api, prod.w + g, prod.i + g, prod.signed, "matmul result")
    if not (_native(a.fmt) and _native(b.fmt)):
        path = plan_matmul(None, None, k, fmt.w)
        ra, rb = a._raw, b._raw  # limb storage (void) or int64
    else:
        ra, rb = _ints(a), _ints(b)
        amax, bmax, fits16 = _gemm_bounds(ra, rb)
        path = plan_matmul(amax, bmax, k, fmt.w, unsigned64=ra.dtype == np.uint64 or rb.dtype == np.uint64,
                           fits16=fits16)
        if path is MatmulKernel.WIDE:
            ra, rb = a._raw, b._raw
    if path is MatmulKernel.F64:
        res = np.matmul(ra.astype(np.float64), rb.astype(np.float64)).astype(np.int64)
        return _from_ints(res, fmt)
    # C++ kernels on 2-d blocks: NumPy matmul shape rules (promote 1-d, broadcast batches).
    a_1d, b_1d = ra.ndim == 1, rb.ndim == 1
    ra2 = ra.reshape((1,) + ra.shape) if a_1d else ra
    rb2 = rb.reshape(rb.shape + (1,)) if b_1d else rb
    batch = np.broadcast_shapes(ra2.shape[:-2], rb2.shape[:-2])
    M, N = ra2.shape[-2], rb2.shape[-1]
    nb = int(np.prod(batch, dtype=np.int64))
    ra2 = np.broadcast_to(ra2, batch + (M, k)).reshape((nb, M, k)) if batch else ra2.reshape((1, M, k))
    rb2 = np.broadcast_to(rb2, batch + (k, N)).reshape((nb, k, N)) if batch else rb2.reshape((1, k, N))
    shape = batch + (M, N)
    if a_1d:
        shape = shape[:-2] + (N,)
    if b_1d:
        shape = shape[:-1]
    if path is MatmulKernel.WIDE:
        fa, fb = a.fmt, b.fmt
        parts = [
            _backend.wide_matmul(_flat_limbs(FixedArray(ra2[t], fa, _trusted=True)), fa,
                                 _flat_limbs(FixedArray(rb2[t], fb, _trusted=True)), fb, M, k, N, fmt)
            for t in range(nb)
        ]
        buf = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        return _wrap_limbs(buf, shape, fmt)
    au, bu = ra.dtype == np.uint64, rb.dtype == np.uint64
    los, his = [], []
    for t in range(nb):
        x = np.ascontiguousarray(ra2[t]).view(np.int64)
        y = np.ascontiguousarray(rb2[t]).view(np.int64)
        if path is MatmulKernel.I128:
            lo_t, hi_t = _backend.gemm_i128(x, au, y, bu)
            los.append(lo_t)
            his.append(hi_t)
        else:
            los.append(_gemm_2d(x, y, path, amax, bmax))
    # one block is used as it is (no copy of the product); batches are stacked
    lo = los[0][None] if nb == 1 else np.stack(los) if nb else np.empty((0, M, N), dtype=np.int64)
    hi = None
    if path is MatmulKernel.I128:
        hi = his[0][None] if nb == 1 else np.stack(his) if nb else np.empty((0, M, N), dtype=np.int64)
    if path is MatmulKernel.I128:  # fmt.w > 64: 128-bit (lo, hi) -> limbs, sign-extended
        nl = _limbs(fmt.w)
        limbs = np.empty(shape + (nl,), dtype=np.uint64)
        limbs[..., 0] = lo.reshape(shape).view(np.uint64)
        limbs[..., 1] = hi.reshape(shape).view(np.uint64)
        limbs[..., 2:] = (hi.reshape(shape) < 0).astype(np.uint64)[..., None] * np.uint64(0xFFFFFFFFFFFFFFFF)
        return _wrap_limbs(limbs.reshape(-1), shape, fmt)
    return _from_ints(lo.reshape(shape), fmt)  # wide formats: int64 values -> limbs


def _gemm_2d(x: np.ndarray, y: np.ndarray, path: MatmulKernel, amax: int, bmax: int) -> np.ndarray:
    """x @ y for 2-d C-contiguous int64 raws by one of plan_matmul's 64-bit kernels (exact when
    the result fits 64 bits, else modulo 2^64)."""
    if path is MatmulKernel.I16:
        return _backend.gemm_i16(x, y, amax, bmax)
    if path is MatmulKernel.F64:
        return np.matmul(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
    if path is MatmulKernel.F64_SPLIT:
        return _matmul_f64_split(x, y, amax, bmax)  # recombined modulo 2^64
    return _backend.gemm_i64(x, y, amax < 1 << 31 and bmax < 1 << 31)  # wraps modulo 2^64


def _gemm_mod64(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y modulo 2^64 (int64 bit patterns) for 2-d int64 raws, by the fastest exact kernel."""
    x = np.ascontiguousarray(x).view(np.int64)
    y = np.ascontiguousarray(y).view(np.int64)
    amax, bmax, fits16 = _gemm_bounds(x, y)
    return _gemm_2d(x, y, plan_matmul(amax, bmax, x.shape[1], None, fits16=fits16), amax, bmax)


def _accum_wrap_gemm(x: np.ndarray, fa: Fixed, y: np.ndarray, fb: Fixed, accum: Fixed, bias) -> np.ndarray:
    """The sequential WRAP accumulation for exact_product_wraps formats, as accum raws."""
    return _wrap_mod64(_gemm_mod64(x, y), fa, fb, accum, bias)


def _wrap_mod64(s: np.ndarray, fa: Fixed, fb: Fixed, accum: Fixed, bias) -> np.ndarray:
    """Exact products summed modulo 2^64 -> accum raws: shift to accum's point, add the bias
    (accum raws), reduce modulo 2^w."""
    s = s.view(np.uint64)
    sh = accum.f - fa.f - fb.f
    s = s << np.uint64(sh) if sh < 64 else np.zeros_like(s)
    if bias is not None:
        s = s + np.asarray(bias, dtype=np.int64).view(np.uint64)
    w = accum.w
    if w < 64:
        if accum.signed:  # keep the low w bits, sign-extended (shifts: 2**63 has no int64 form)
            return np.asarray((s << np.uint64(64 - w)).view(np.int64) >> np.int64(64 - w), dtype=np.int64)
        return np.asarray((s & np.uint64((1 << w) - 1)).view(np.int64), dtype=np.int64)
    return s.view(np.int64)


def _matmul_accum(a: FixedArray, b: FixedArray, accum: Fixed, seed: int, api: str) -> FixedArray:
    # NumPy matmul shape rules: promote 1-d operands, broadcast batch dimensions.
    a_1d, b_1d = a.ndim == 1, b.ndim == 1
    ra, rb = a._raw, b._raw  # stored raws: int64, or limbs (wide formats)
    ra = ra.reshape((1,) + a.shape) if a_1d else ra
    rb = rb.reshape(b.shape + (1,)) if b_1d else rb
    batch = np.broadcast_shapes(ra.shape[:-2], rb.shape[:-2])
    M, K, N = ra.shape[-2], ra.shape[-1], rb.shape[-1]
    ra = np.broadcast_to(ra, batch + (M, K))
    rb = np.broadcast_to(rb, batch + (K, N))
    nb = int(np.prod(batch, dtype=np.int64))
    fa, fb = a.fmt, b.fmt
    out = np.empty(batch + (M, N), dtype=np.int64 if _native(accum) else _limb_dtype(accum))
    ra2 = ra.reshape((nb, M, K))
    rb2 = rb.reshape((nb, K, N))
    out2 = out.reshape((nb, M, N))
    # FUSED (the vectorized kernel, without a result cast) covers the wrapping fast
    # path too; SEQUENTIAL takes STOCH; WIDE takes operands, accumulators or products past 64/126 bits
    kernel = plan_accum(fa, fb, accum, api=api)
    for t in range(nb):
        base = t * M * N * K * 2
        if kernel is AccumKernel.FUSED:
            out2[t] = _backend.dense_accum(ra2[t], fa, rb2[t], fb, accum, None)
        elif kernel is AccumKernel.WRAP_GEMM:
            out2[t] = _accum_wrap_gemm(ra2[t], fa, rb2[t], fb, accum, None)
        elif kernel is AccumKernel.SEQUENTIAL:
            out2[t] = _backend.matmul_accum(ra2[t], fa, rb2[t], fb, accum, None, seed, base)
        else:
            out2[t] = _matmul_accum_wide(ra2[t], fa, rb2[t], fb, accum, seed, base)
    if a_1d:
        out = out.reshape(out.shape[:-2] + (N,))
    if b_1d:
        out = out.reshape(out.shape[:-1])
    return FixedArray(np.asarray(out, order="C"), accum, _trusted=True)


def linear_dense(x: FixedArray, w, b, accum, seed, api: str) -> FixedArray:
    """``x @ w.T + b`` for a FixedArray ``x`` and dense weights (see :func:`fixedpoint.linear`):
    exact without ``accum``, else hls4ml's dense_latency accumulation into ``accum``."""
    w = _operand(w, api)
    if w.ndim != 2:
        raise ValueError(f"{api}: weights must be 2-d (N, K), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{api}: input shape mismatch, x: {x.shape}, w: {w.shape} "
                         f"(x's last dimension must equal w's K = {w.shape[1]})")
    N, K = w.shape
    if b is not None:
        b = _operand(b, api)
        if b.shape != (N,):
            raise ValueError(f"{api}: bias shape mismatch, b: {b.shape}, w: {w.shape} (expected ({N},))")
    wt = w.T
    if accum is None:
        res = matmul_dense(x, wt, None, None, "fx.matmul")
        if b is not None:
            res = add(res, b)
    else:
        accum = _as_format(accum, api)
        acc_seed = _seed_for(accum, seed, api)
        lead = x.shape[:-1]
        M = int(np.prod(lead, dtype=np.int64))
        ra = x._raw.reshape(M, K)
        rb = np.ascontiguousarray(wt._raw)
        fa, fb = x.fmt, w.fmt
        bias = None if b is None else b.cast(accum, seed=acc_seed)
        kernel = plan_accum(fa, fb, accum, api=api)  # the bias is the accumulator's first value
        if kernel is AccumKernel.FUSED:
            raw = _backend.dense_accum(ra, fa, rb, fb, accum, None if bias is None else bias._raw)
        elif kernel is AccumKernel.WRAP_GEMM:
            raw = _accum_wrap_gemm(ra, fa, rb, fb, accum, None if bias is None else bias._raw)
        elif kernel is AccumKernel.SEQUENTIAL:
            raw = _backend.matmul_accum(ra, fa, rb, fb, accum, None if bias is None else bias._raw, acc_seed, 0)
        else:
            raw = _matmul_accum_wide(x._raw.reshape(M, K), fa, wt._raw, fb, accum, acc_seed, 0,
                                     None if bias is None else bias._raw)
        res = FixedArray(np.asarray(raw.reshape(lead + (N,)), order="C"), accum, _trusted=True)
    return res




def _matmul_accum_wide(ra: np.ndarray, fa: Fixed, rb: np.ndarray, fb: Fixed, accum: Fixed, seed: int, base: int,
                       bias=None) -> np.ndarray:
    """The sequential accumulation of matmul_accum for every width (the C++ multi-limb kernel):
    ra (M, K) and rb (K, N) stored raws (int64 or limbs), bias (N,) accum's stored raws or None;
    returns (M, N) accum stored raws. The same semantics and STOCH counters as _backend.matmul_accum."""
    M, K = ra.shape
    N = rb.shape[1]

    def limbs(r):
        return np.ascontiguousarray(r).reshape(-1).view(np.uint64)

    buf = _backend.wide_matmul_accum(limbs(ra), fa, limbs(rb), fb, M, K, N, accum,
                                     None if bias is None else limbs(bias), seed, base)
    return buf.view(np.int64 if _native(accum) else _limb_dtype(accum)).reshape(M, N)



def dot(a, b) -> FixedArray:
    """``np.dot`` for FixedArrays: scalars multiply; 1-d and 2-d operands are ``matmul``.

    Exact, in the natural product (or matmul) format.

    Raises:
        TypeError: an operand is a float or of an unsupported type.
        ValueError: an operand has more than 2 dimensions (use ``fx.matmul``), or the
            contraction lengths differ.
    """
    api = "fx.dot"
    a = _operand(a, api)
    b = _operand(b, api)
    if a.ndim == 0 or b.ndim == 0:
        return _binary("mul", a, b, api)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul_dense(a, b, None, None, "fx.matmul")
    raise ValueError(f"{api}: operands of more than 2 dimensions are not supported, lhs: {a.shape}, "
                     f"rhs: {b.shape}; use fx.matmul for batched products")


def outer(a, b) -> FixedArray:
    """Exact outer product of the flattened operands (product format).

    Raises:
        TypeError: an operand is a float or of an unsupported type.
        ValueError: the product would be wider than 1024 bits.
    """
    api = "fx.outer"
    a = _operand(a, api)
    b = _operand(b, api)
    return _binary("mul", a.reshape(-1, 1), b.reshape(1, -1), api)
