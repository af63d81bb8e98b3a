"""Sparse fixed-point matrices (CSR and block-sparse BSR): pruned weights for exact sparse x
dense products.

``SparseFixed`` stores the nonzero stored integers of an (M, K) matrix in one format, either in
compressed-sparse-row order (CSR: one value per entry) or in block-sparse-row order (BSR:
dense ``(R, C)`` blocks, such as 4x4 or 1x16, on a block grid; ``blocksize=(R, C)``).
``sp @ x``, ``fx.matmul(sp, x, accum=..., out=...)`` and ``fx.linear(x, sp, ...)`` give exactly
the dense results: a zero term adds nothing to an exact sum, and under ``accum`` a zero
product casts to 0 and ``cast(acc + 0 -> accum)`` is ``acc`` (the running sum already has
accum's format), so skipping it changes nothing. The zeros stored inside BSR blocks are such
terms too.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from ._arith import add
from ._matmul import _matmul_accum, _matmul_shapes, _wrap_mod64, linear_dense, matmul_dense
from ._plan import exact_product_wraps
from ._operands import _from_ints, _growth, _make_fixed, _max_abs, _operand, result_format
from ._storage import _as_format, _seed_for
from .array import FixedArray
from .format import Fixed
from .quantize import array, from_raw

__all__ = ["SparseFixed"]


def _blocksize(bs, api: str) -> tuple[int, int]:
    if (not isinstance(bs, (tuple, list)) or len(bs) != 2
            or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1 for b in bs)):
        raise ValueError(f"{api}: blocksize must be a pair of positive integers such as (4, 4), got {bs!r}")
    return int(bs[0]), int(bs[1])


def _check_divisible(shape, bs, api: str) -> None:
    if shape[0] % bs[0] or shape[1] % bs[1]:
        raise ValueError(f"{api}: shape {tuple(shape)} is not divisible by the blocksize {bs}")


def _index_array(a, what: str, api: str) -> np.ndarray:
    """An int64 copy-free view (when possible) of an integer index array. Floats, bools and
    other kinds are refused rather than truncated ([0.9] would become 0); an empty array of
    any dtype (``[]`` is float64 to NumPy) is an empty index."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{api}: {what} must be integers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= 1 << 63:
        raise ValueError(f"{api}: {what} value {int(arr.max())} does not fit int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _indptr_of(rows: np.ndarray, n: int) -> np.ndarray:
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr


class SparseFixed:
    """A 2-d sparse matrix of fixed-point values in format ``fmt``, CSR or BSR.

    CSR (``blocksize=None``): ``indptr`` (M+1,), column ``indices`` (nnz,) and ``data``, a
    1-d FixedArray of the stored values. BSR (``blocksize=(R, C)``, R | M and C | K):
    ``indptr`` (M/R+1,), block-column ``indices`` (nnzb,) and ``data``, a FixedArray of shape
    (nnzb, R, C) (the layout of ``scipy.sparse.bsr_array``). Construct with
    :meth:`from_dense` or :meth:`from_scipy`; the constructor validates the arrays and
    the stored integers (``ValueError`` naming the inconsistency).

    Raises:
        ValueError: inconsistent indptr/indices/data, duplicate entries, a blocksize that does
            not divide the shape, or stored integers outside ``fmt``.
        TypeError: ``indptr`` or ``indices`` that are not integers (float indices are refused,
            never truncated), ``from_dense`` with a non-real threshold, ``from_scipy`` with
            something that is not a scipy.sparse array or matrix.
    """

    __array_priority__ = 20

    def __init__(self, indptr, indices, data, shape, fmt: Fixed, blocksize=None, *, _trusted: bool = False):
        api = "fx.SparseFixed"
        self.fmt = _as_format(fmt, api)
        if len(shape) != 2:
            raise ValueError(f"{api}: shape must be 2-d, got {tuple(shape)}")
        self.shape = (int(shape[0]), int(shape[1]))
        self.blocksize = None if blocksize is None else _blocksize(blocksize, api)
        self.indptr = _index_array(indptr, "indptr", api)
        self.indices = _index_array(indices, "indices", api)
        if _trusted:
            self.data = data
            return
        self.data = from_raw(data, self.fmt)  # validates the raws against fmt ([] is empty, not float)
        M, K = self.shape
        if self.blocksize is None:
            rows, cols, dshape = M, K, (self.indices.size,)
        else:
            _check_divisible(self.shape, self.blocksize, api)
            rows, cols = M // self.blocksize[0], K // self.blocksize[1]
            dshape = (self.indices.size,) + self.blocksize
        if self.indptr.shape != (rows + 1,) or self.indices.ndim != 1 or self.data.shape != dshape:
            raise ValueError(f"{api}: inconsistent {self.format.upper()} arrays for shape {self.shape}: indptr "
                             f"{self.indptr.shape}, indices {self.indices.shape}, data {self.data.shape} (expected "
                             f"indptr ({rows + 1},) and data {dshape})")
        if self.indptr[0] != 0 or self.indptr[-1] != self.indices.size or np.any(np.diff(self.indptr) < 0):
            raise ValueError(f"{api}: indptr must rise from 0 to {self.indices.size}")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= cols):
            raise ValueError(f"{api}: {'block ' if self.blocksize else ''}column indices must lie in [0, {cols})")
        key = np.repeat(np.arange(rows, dtype=np.int64), np.diff(self.indptr)) * max(cols, 1) + self.indices
        if key.size > 1 and np.any(np.diff(np.sort(key)) == 0):
            raise ValueError(f"{api}: duplicate {'blocks' if self.blocksize else 'entries'} in a row (sum them "
                             "first, e.g. scipy's sum_duplicates)")

    # construction ---------------------------------------------------------------------
    @classmethod
    def from_dense(cls, a: FixedArray, mask=None, threshold=None, blocksize=None) -> "SparseFixed":
        """Keep the nonzero entries of the 2-d FixedArray ``a`` where ``mask`` is true (a bool
        array or torch tensor of a's shape, e.g. from ``fx.prune``) and ``|value| > threshold``
        (a number in real units), exactly (no value is changed).

        ``blocksize=(R, C)`` builds a BSR matrix: every (R, C) tile holding a kept entry is
        stored whole, with the entries that are not kept stored as 0 (so the values are the
        masked dense values). R and C must divide a's shape; tiles are not padded.

        Raises ``ValueError`` for a non-2-d ``a``, a mask of another shape, a bad blocksize or
        a shape it does not divide; ``TypeError`` for a non-real threshold.
        """
        api = "fx.SparseFixed.from_dense"
        if not isinstance(a, FixedArray) or a.ndim != 2:
            raise ValueError(f"{api}: expected a 2-d FixedArray, got {getattr(a, 'shape', type(a).__name__)}")
        raw = a.raw
        keep = raw != 0
        if mask is not None:
            if hasattr(mask, "detach") and hasattr(mask, "cpu"):  # a torch tensor
                mask = mask.detach().cpu().numpy()
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != a.shape:
                raise ValueError(f"{api}: mask shape mismatch, a: {a.shape}, mask: {mask.shape}")
            keep &= mask
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
                raise TypeError(f"{api}: threshold must be a real number, got {threshold!r}")
            keep &= np.abs(a.to_float()) > float(threshold)
        if blocksize is not None:
            R, C = _blocksize(blocksize, api)
            _check_divisible(a.shape, (R, C), api)
            Mb, Kb = a.shape[0] // R, a.shape[1] // C
            kept = np.where(keep, raw, np.zeros((), dtype=raw.dtype))
            tiles = kept.reshape(Mb, R, Kb, C).transpose(0, 2, 1, 3)  # (Mb, Kb, R, C)
            brows, bcols = np.nonzero(keep.reshape(Mb, R, Kb, C).any(axis=(1, 3)))
            data = FixedArray(np.ascontiguousarray(tiles[brows, bcols]), a.fmt, _trusted=True)
            return cls(_indptr_of(brows, Mb), bcols, data, a.shape, a.fmt, (R, C), _trusted=True)
        rows, cols = np.nonzero(keep)
        data = FixedArray(np.ascontiguousarray(raw[rows, cols]), a.fmt, _trusted=True)
        return cls(_indptr_of(rows, a.shape[0]), cols, data, a.shape, a.fmt, _trusted=True)

    @classmethod
    def from_scipy(cls, m, fmt, blocksize=None) -> "SparseFixed":
        """From a scipy.sparse array or matrix: integer data are stored integers in ``fmt``
        (``ValueError`` if one is out of range); float data are quantized into ``fmt`` (its
        q/o). Duplicate entries are summed first (as scipy does).

        A ``bsr_array``/``bsr_matrix`` (or any input with ``blocksize=(R, C)``, converted by
        ``m.tobsr``) gives a BSR matrix; blocks whose values are all zero are dropped. For BSR
        input with canonical int64 data that fits ``fmt`` and no zero block, ``data`` shares
        the scipy array's memory (zero-copy; the int32 index arrays are widened to int64, a
        1/(R*C) fraction of the size). Other input gives CSR; explicit zeros are dropped.

        Raises ``ValueError`` for a bad blocksize or one that does not divide the shape,
        ``TypeError`` for non-numeric data.
        """
        api = "fx.SparseFixed.from_scipy"
        fmt = _as_format(fmt, api)
        fmt_of = getattr(m, "format", None)
        if fmt_of is None:
            raise TypeError(f"{api}: expected a scipy.sparse array or matrix, got {type(m).__name__}")
        if blocksize is not None or fmt_of == "bsr":
            bs = _blocksize(blocksize, api) if blocksize is not None else tuple(int(b) for b in m.blocksize)
            _check_divisible(m.shape, bs, api)
            b = m if (fmt_of == "bsr" and tuple(m.blocksize) == bs) else m.tobsr(blocksize=bs)
            if not b.has_canonical_format:
                b = b.copy()
                b.sum_duplicates()
            d = b.data
            if d.dtype.kind == "f":
                raw = array(d, fmt).raw
            elif d.dtype.kind in "iub":
                raw = d
            else:
                raise TypeError(f"{api}: data must be integers or floats, got dtype {d.dtype}")
            if raw.dtype == np.int64 and raw.flags.c_contiguous and raw.size:
                lo, hi = fmt.raw_min, fmt.raw_max
                if int(raw.min()) < lo or int(raw.max()) > hi:
                    from_raw(raw, fmt)  # raises the range error naming the value
                data = FixedArray(raw, fmt, _trusted=True)  # zero-copy
            else:
                data = from_raw(raw.astype(np.int64) if raw.dtype.kind == "b" else raw, fmt)
            rawd = data.raw
            nz = rawd.reshape(rawd.shape[0], -1).any(axis=1)
            indptr = np.asarray(b.indptr)
            indices = np.asarray(b.indices)
            if not nz.all():
                rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))[nz]
                indptr = _indptr_of(rows, indptr.size - 1)
                indices = indices[nz]
                data = FixedArray(np.ascontiguousarray(rawd[nz]), fmt, _trusted=True)
            return cls(indptr, indices, data, b.shape, fmt, bs, _trusted=True)
        csr = m.tocsr()
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        if csr.data.dtype.kind == "f":
            raw = array(csr.data, fmt).raw
        elif csr.data.dtype.kind in "iub":
            raw = from_raw(csr.data.astype(np.int64), fmt).raw
        else:
            raise TypeError(f"{api}: data must be integers or floats, got dtype {csr.data.dtype}")
        keep = raw != 0
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))[keep]
        data = FixedArray(np.ascontiguousarray(raw[keep]), fmt, _trusted=True)
        return cls(_indptr_of(rows, csr.shape[0]), csr.indices[keep], data, csr.shape, fmt, _trusted=True)

    # views ----------------------------------------------------------------------------
    @property
    def format(self) -> str:
        """``"csr"`` or ``"bsr"``."""
        return "csr" if self.blocksize is None else "bsr"

    @property
    def nnz(self) -> int:
        """Stored entries (for BSR every entry of every stored block, as scipy counts)."""
        return int(self.data.size)

    @property
    def nnzb(self) -> int:
        """Stored blocks (BSR) or stored entries (CSR)."""
        return int(self.indices.size)

    def count_nonzero(self) -> int:
        """Stored entries whose value is not zero."""
        return int(np.count_nonzero(self.data.raw))

    @property
    def density(self) -> float:
        """``nnz / (M * K)``."""
        return self.nnz / max(1, self.shape[0] * self.shape[1])

    @property
    def block_density(self) -> float:
        """Stored blocks over all blocks of the grid (CSR: ``density``)."""
        if self.blocksize is None:
            return self.density
        R, C = self.blocksize
        return self.nnzb / max(1, (self.shape[0] // R) * (self.shape[1] // C))

    def to_dense(self) -> FixedArray:
        """The dense FixedArray (exact)."""
        raw = self.data.raw
        M, K = self.shape
        if self.blocksize is None:
            out = np.zeros(self.shape, dtype=raw.dtype)
            rows = np.repeat(np.arange(M), np.diff(self.indptr))
            out[rows, self.indices] = raw
            return FixedArray(out, self.fmt, _trusted=True)
        R, C = self.blocksize
        out = np.zeros((M // R, K // C, R, C), dtype=raw.dtype)
        brows = np.repeat(np.arange(M // R), np.diff(self.indptr))
        out[brows, self.indices] = raw
        return FixedArray(np.ascontiguousarray(out.transpose(0, 2, 1, 3).reshape(M, K)), self.fmt, _trusted=True)

    def tocsr(self) -> "SparseFixed":
        """The same values in CSR (stored zeros of BSR blocks dropped)."""
        return self if self.blocksize is None else SparseFixed.from_dense(self.to_dense())

    def tobsr(self, blocksize) -> "SparseFixed":
        """The same values in BSR with ``blocksize`` (see :meth:`from_dense`)."""
        return SparseFixed.from_dense(self.to_dense(), blocksize=blocksize)

    def to_scipy(self):
        """A ``scipy.sparse`` ``csr_array``/``bsr_array`` of the stored integers (int64 raws;
        object raws of wide formats raise ``ValueError``). Shares ``data``'s memory."""
        import scipy.sparse as sps

        raw = self.data.raw
        if raw.dtype == object:
            raise ValueError(f"fx.SparseFixed.to_scipy: {self.fmt} values are wider than 64 bits")
        if self.blocksize is None:
            return sps.csr_array((raw, self.indices, self.indptr), shape=self.shape)
        return sps.bsr_array((raw, self.indices, self.indptr), shape=self.shape, blocksize=self.blocksize)

    def transpose(self) -> "SparseFixed":
        """The (K, M) transpose, in the same storage (CSR, or BSR with the blocksize swapped and
        each block transposed); no value changes. ``x @ sp.T`` and ``fx.linear``-style products
        with it equal the dense products bit for bit."""
        M, K = self.shape
        if self.blocksize is None:
            rows = np.repeat(np.arange(M, dtype=np.int64), np.diff(self.indptr))
            order = np.lexsort((rows, self.indices))  # by column, then row: CSR of the transpose
            raw = self.data._raw
            data = FixedArray(np.ascontiguousarray(raw[order]), self.fmt, _trusted=True)
            return SparseFixed(_indptr_of(self.indices[order], K), rows[order], data, (K, M), self.fmt,
                               _trusted=True)
        R, C = self.blocksize
        brows = np.repeat(np.arange(M // R, dtype=np.int64), np.diff(self.indptr))
        order = np.lexsort((brows, self.indices))
        blocks = self.data._raw[order].transpose(0, 2, 1)  # (nnzb, C, R)
        data = FixedArray(np.ascontiguousarray(blocks), self.fmt, _trusted=True)
        return SparseFixed(_indptr_of(self.indices[order], K // C), brows[order], data, (K, M), self.fmt, (C, R),
                           _trusted=True)

    @property
    def T(self) -> "SparseFixed":
        """The transpose (see :meth:`transpose`)."""
        return self.transpose()

    def __repr__(self) -> str:
        extra = "" if self.blocksize is None else f", blocksize={self.blocksize}, nnzb={self.nnzb}"
        return f"SparseFixed({self.format}, shape={self.shape}, nnz={self.nnz}{extra}, fmt={self.fmt})"

    def __matmul__(self, other) -> FixedArray:
        return sparse_matmul(self, other, None, None, "fx.matmul")

    def __rmatmul__(self, other) -> FixedArray:
        return matmul_sparse_rhs(_operand(other, "fx.matmul"), self, None, None, "fx.matmul")

    # kernels --------------------------------------------------------------------------
    def _row_terms(self) -> int:
        """The most stored terms any output row sums."""
        per = np.diff(self.indptr).max(initial=0)
        return int(per) * (1 if self.blocksize is None else self.blocksize[1])

    def _gemm_mod64(self, x2: np.ndarray, xmax: int | None = None) -> np.ndarray:
        """``self @ x2`` modulo 2^64 as int64 for a (K, N) int64 (bit pattern) array, by the C++
        CSR or BSR kernel (exact integers when the result fits 64 bits)."""
        x2 = np.ascontiguousarray(x2).view(np.int64)
        vals = np.ascontiguousarray(self.data.raw).view(np.int64)
        if self.blocksize is None:
            terms = self._row_terms()
            # the int32-lane bound: from the formats when they suffice, else from the values
            small = xmax is not None and _fmt_abs_max(self.fmt) * xmax * terms < 1 << 31
            if not small:
                small = _abs_max(vals) * (_abs_max(x2) if xmax is None else xmax) * terms < 1 << 31
            return _backend.gemm_csr_i64(self.indptr, self.indices, vals, self.shape[1], x2, small)
        return _backend.gemm_bsr_i64(self.indptr, self.indices, vals, self.shape[1], x2)[0]


def _abs_max(r: np.ndarray) -> int:
    return 0 if r.size == 0 else max(-int(r.min()), int(r.max()))


def _fmt_abs_max(fmt: Fixed) -> int:
    """The largest |stored integer| the format allows."""
    return 1 << (fmt.w - 1) if fmt.signed else (1 << fmt.w) - 1


def sparse_exact(sp: SparseFixed, x: FixedArray, k: int, api: str) -> FixedArray:
    """Exact sp @ x for 1-d or 2-d x (natural matmul format)."""
    prod = result_format("mul", sp.fmt, x.fmt, api=api)
    g = _growth(k)
    fmt = _make_fixed(api, prod.w + g, prod.i + g, prod.signed, "matmul result")
    ra, rx = sp.data.raw, x.raw
    if ra.dtype != object and rx.dtype != object:
        terms = max(1, sp._row_terms())
        xmax = _fmt_abs_max(x.fmt)  # format bounds first: no pass over the values when they suffice
        bound = _fmt_abs_max(sp.fmt) * xmax * terms
        if bound >= 1 << 63:
            xmax = _max_abs(rx)
            bound = _max_abs(ra) * xmax * terms
        if bound < 1 << 63:  # every row's sum fits int64, so the mod-2^64 sums are exact
            x2 = rx.reshape(k, int(np.prod(x.shape[1:], dtype=np.int64)))
            out = sp._gemm_mod64(x2, xmax).reshape((sp.shape[0],) + x.shape[1:])
            if fmt.w > 64:
                return _from_ints(out.astype(object), fmt)
            return _from_ints(out, fmt)
    return matmul_dense(sp.to_dense(), x, None, None, api)  # wide values: the dense exact paths


# products --------------------------------------------------------------------------------
def sparse_matmul(a: SparseFixed, b, accum, seed, api: str) -> FixedArray:
    """``a @ b`` for a SparseFixed ``a`` and a 1-d or 2-d ``b`` (see :func:`fixedpoint.matmul`):
    exact by the CSR/BSR kernels; a WRAP accumulator that holds every product is the exact sum
    reduced modulo 2^w; other accumulators (order-dependent rounding or saturation, STOCH
    counters) take the dense sequential kernel (the skipped zeros change nothing)."""
    b = _operand(b, api)
    k = _matmul_shapes(api, a.shape, b.shape)
    if b.ndim > 2:
        raise ValueError(f"{api}: a SparseFixed lhs needs a 1-d or 2-d rhs, lhs: {a.shape}, rhs: {b.shape}")
    if accum is None:
        return sparse_exact(a, b, k, api)
    accum = _as_format(accum, api)
    acc_seed = _seed_for(accum, seed, api)
    if exact_product_wraps(a.fmt, b.fmt, accum) and b.raw.dtype != object:
        x2 = b.raw.reshape(k, int(np.prod(b.shape[1:], dtype=np.int64)))
        s = a._gemm_mod64(x2)  # the CSR or BSR kernel, modulo 2^64
        raw = _wrap_mod64(s, a.fmt, b.fmt, accum, None)
        return FixedArray(np.asarray(raw.reshape((a.shape[0],) + b.shape[1:]), order="C"), accum, _trusted=True)
    return _matmul_accum(a.to_dense(), b, accum, acc_seed, api)


def matmul_sparse_rhs(a: FixedArray, sp: SparseFixed, accum, seed, api: str) -> FixedArray:
    """``a @ sp`` for a 1-d or 2-d FixedArray ``a`` and a SparseFixed ``sp``: ``(sp.T @ a.T).T``,
    the same products summed in the same index order, so exact results and WRAP accumulators
    that hold every product give the same bits; other accumulators (order-dependent rounding
    or saturation, STOCH counters) take the dense sequential kernel."""
    _matmul_shapes(api, a.shape, sp.shape)
    if a.ndim > 2:
        raise ValueError(f"{api}: a SparseFixed rhs needs a 1-d or 2-d lhs, lhs: {a.shape}, rhs: {sp.shape}")
    if accum is not None:
        accum = _as_format(accum, api)
        if not (exact_product_wraps(a.fmt, sp.fmt, accum) and a.raw.dtype != object):
            return matmul_dense(a, sp.to_dense(), accum, seed, api)
    at = a.T if a.ndim == 2 else a
    res = sparse_matmul(sp.T, FixedArray(np.ascontiguousarray(at._raw), a.fmt, _trusted=True), accum, seed, api)
    return FixedArray(np.ascontiguousarray(res._raw.T), res.fmt, _trusted=True)


def sparse_linear(x: FixedArray, w: SparseFixed, b, accum, seed, api: str) -> FixedArray:
    """``x @ w.T + b`` with SparseFixed weights (see :func:`fixedpoint.linear`): exact, or a WRAP
    accumulator that holds every product exactly (the bias then commutes with the products:
    reduction modulo 2^w is a ring homomorphism), by the CSR/BSR kernels; other accumulators
    (order-dependent) run the dense sequential kernel on ``w.to_dense()``."""
    accum_f = None if accum is None else _as_format(accum, api)
    if not (x.ndim >= 1 and x.shape[-1] == w.shape[1] and x.raw.dtype != object and (
            accum_f is None or exact_product_wraps(x.fmt, w.fmt, accum_f))):
        return linear_dense(x, w.to_dense(), b, accum, seed, api)
    N, K = w.shape
    if b is not None:
        b = _operand(b, api)
        if b.shape != (N,):
            raise ValueError(f"{api}: bias shape mismatch, b: {b.shape}, w: {w.shape} (expected ({N},))")
    lead = x.shape[:-1]
    M = int(np.prod(lead, dtype=np.int64))
    xt = FixedArray(np.ascontiguousarray(x._raw.reshape(M, K).T), x.fmt, _trusted=True)
    if accum_f is None:
        res = sparse_matmul(w, xt, None, None, "fx.matmul").T  # (N, M) -> (M, N)
        res = FixedArray(np.ascontiguousarray(res._raw).reshape(lead + (N,)), res.fmt, _trusted=True)
        if b is not None:
            res = add(res, b)
        return res
    acc_seed = _seed_for(accum_f, seed, api)
    bias = None if b is None else b.cast(accum_f, seed=acc_seed)._raw
    s = w._gemm_mod64(xt._raw)  # (N, M), modulo 2^64 (the CSR or BSR kernel)
    raw = _wrap_mod64(np.ascontiguousarray(s.T), x.fmt, w.fmt, accum_f, bias)
    return FixedArray(np.asarray(raw.reshape(lead + (N,)), order="C"), accum_f, _trusted=True)
