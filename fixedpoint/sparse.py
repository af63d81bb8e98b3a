"""Sparse (CSR) fixed-point matrices: pruned weights for exact sparse x dense products.

``SparseFixed`` stores the nonzero stored integers of an (M, K) matrix in one format, in
compressed-sparse-row order. ``sp @ x``, ``fx.matmul(sp, x, accum=..., out=...)`` and
``fx.linear(x, sp, ...)`` give exactly the dense results: a zero term adds nothing to an exact
sum, and under ``accum`` a zero product casts to 0 and ``cast(acc + 0 -> accum)`` is ``acc``
(the running sum already has accum's format), so skipping it changes nothing.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from .array import FixedArray, _as_format, from_raw
from .format import Fixed

__all__ = ["SparseFixed"]


class SparseFixed:
    """A 2-d CSR matrix of fixed-point values (stored integers ``data`` in format ``fmt``)."""

    __array_priority__ = 20

    def __init__(self, indptr, indices, data, shape, fmt: Fixed):
        api = "fx.SparseFixed"
        self.fmt = _as_format(fmt, api)
        self.shape = (int(shape[0]), int(shape[1]))
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int64)
        self.data = from_raw(np.asarray(data), self.fmt)  # validates the raws against fmt
        M, K = self.shape
        if self.indptr.shape != (M + 1,) or self.indices.shape != self.data.shape or self.data.ndim != 1:
            raise ValueError(f"{api}: inconsistent CSR arrays for shape {self.shape}: indptr "
                             f"{self.indptr.shape}, indices {self.indices.shape}, data {self.data.shape}")
        if M + 1 and (self.indptr[0] != 0 or self.indptr[-1] != self.indices.size or np.any(np.diff(self.indptr) < 0)):
            raise ValueError(f"{api}: indptr must rise from 0 to nnz={self.indices.size}")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= K):
            raise ValueError(f"{api}: column indices must lie in [0, {K})")

    # construction ---------------------------------------------------------------------
    @classmethod
    def from_dense(cls, a: FixedArray, mask=None, threshold=None) -> "SparseFixed":
        """Keep the nonzero entries of the 2-d FixedArray ``a`` where ``mask`` is true (if given)
        and ``|value| > threshold`` (if given; a number in real units)."""
        api = "fx.SparseFixed.from_dense"
        if not isinstance(a, FixedArray) or a.ndim != 2:
            raise ValueError(f"{api}: expected a 2-d FixedArray, got {getattr(a, 'shape', type(a).__name__)}")
        raw = a.raw
        keep = raw != 0
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != a.shape:
                raise ValueError(f"{api}: mask shape mismatch, a: {a.shape}, mask: {mask.shape}")
            keep &= mask
        if threshold is not None:
            if not isinstance(threshold, numbers.Real):
                raise TypeError(f"{api}: threshold must be a real number, got {threshold!r}")
            keep &= np.abs(a.to_float()) > float(threshold)
        rows, cols = np.nonzero(keep)
        indptr = np.zeros(a.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=a.shape[0]), out=indptr[1:])
        return cls(indptr, cols, raw[rows, cols], a.shape, a.fmt)

    @classmethod
    def from_scipy(cls, m, fmt) -> "SparseFixed":
        """From a scipy.sparse matrix: integer data are stored integers in ``fmt``; float data
        are quantized into ``fmt`` (its q/o). Explicit zeros are dropped."""
        from .array import array

        fmt = _as_format(fmt, "fx.SparseFixed.from_scipy")
        csr = m.tocsr()
        csr.sort_indices()
        if csr.data.dtype.kind == "f":
            raw = array(csr.data, fmt).raw
        else:
            raw = from_raw(csr.data.astype(np.int64), fmt).raw
        keep = raw != 0
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))[keep]
        indptr = np.zeros(csr.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=csr.shape[0]), out=indptr[1:])
        return cls(indptr, csr.indices[keep], raw[keep], csr.shape, fmt)

    # views ----------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.shape[0] * self.shape[1])

    def to_dense(self) -> FixedArray:
        raw = self.data.raw
        out = np.zeros(self.shape, dtype=raw.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = raw
        return FixedArray(out, self.fmt, _trusted=True)

    def __repr__(self) -> str:
        return f"SparseFixed(shape={self.shape}, nnz={self.nnz}, fmt={self.fmt})"

    def __matmul__(self, other) -> FixedArray:
        from ._ops import matmul

        return matmul(self, other)


def sparse_exact(sp: SparseFixed, x: FixedArray, k: int, api: str) -> FixedArray:
    """Exact sp @ x for 1-d or 2-d x (natural matmul format)."""
    from ._ops import _from_ints, _growth, _make_fixed, _max_abs, matmul, result_format

    prod = result_format("mul", sp.fmt, x.fmt, api=api)
    g = _growth(k)
    fmt = _make_fixed(api, prod.w + g, prod.i + g, prod.signed, "matmul result")
    ra, rx = sp.data.raw, x.raw
    if ra.dtype != object and rx.dtype != object:
        bound = _max_abs(ra) * _max_abs(rx) * max(1, int(np.diff(sp.indptr).max(initial=0)))
        if bound < 1 << 63:  # every row's sum fits int64, so the mod-2^64 sums are exact
            x2 = rx.reshape(k, int(np.prod(x.shape[1:], dtype=np.int64)))
            out = _core.gemm_csr_i64(sp.indptr, sp.indices, np.ascontiguousarray(ra).view(np.int64), k,
                                     np.ascontiguousarray(x2).view(np.int64), bound < 1 << 31)
            out = out.reshape((sp.shape[0],) + x.shape[1:])
            if fmt.w > 64:
                return _from_ints(out.astype(object), fmt)
            return _from_ints(out, fmt)
    return matmul(sp.to_dense(), x)  # wide values: the dense exact paths
