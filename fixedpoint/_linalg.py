"""The public matrix products ``fx.matmul`` and ``fx.linear``: they coerce the operands, send
SparseFixed ones to :mod:`fixedpoint.sparse` and FixedArrays to :mod:`fixedpoint._matmul`, and
cast the result into ``out``."""

from __future__ import annotations

from ._matmul import linear_dense, matmul_dense
from ._operands import _operand
from ._storage import _as_format
from .array import FixedArray
from .sparse import SparseFixed, matmul_sparse_rhs, sparse_linear, sparse_matmul

__all__ = ["matmul", "linear"]


def matmul(a, b, accum=None, out=None, seed=None) -> FixedArray:
    """Exact ``a @ b`` (NumPy's matmul shapes, batched), or accumulator-accurate.

    Without ``accum`` the result is exact in the product format plus ``ceil(log2 K)`` bits.
    With ``accum`` (a format), every product is cast into it and the running sum is cast into
    it after every step, in index order k = 0..K-1, with accum's q/o/n: what a MAC array or an
    hls4ml Dense layer (latency strategy) computes. ``out`` casts the final result. ``seed``
    drives STOCH in ``accum`` and ``out``.

    ``a`` may be a :class:`fixedpoint.SparseFixed` (CSR or BSR) with a 1-d or 2-d ``b``, or
    ``b`` one with a 1-d or 2-d ``a`` (``x @ sp.T``); the result is the same bits as the dense
    product. The exact path picks its kernel from bit bounds
    (int16 AVX2, float64 BLAS while every partial sum is exact, 64-bit limbs) and never
    rounds; under ``accum`` with WRAP the result does not depend on the summation order,
    under SAT it is the in-order result.

    Raises:
        TypeError: an operand is a float or of an unsupported type; ``accum``/``out`` is not
            a format; ``seed`` is not an int.
        ValueError: an operand is 0-d, the contraction lengths differ or batch shapes do not
            broadcast (both shapes are named); ``accum``/``out`` does not parse; the exact
            result would be wider than 1024 bits.
    """
    api = "fx.matmul"
    if isinstance(a, SparseFixed):
        res = sparse_matmul(a, b, accum, seed, api)
    else:
        a = _operand(a, api)
        if isinstance(b, SparseFixed):
            res = matmul_sparse_rhs(a, b, accum, seed, api)
        else:
            res = matmul_dense(a, _operand(b, api), accum, seed, api)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res


def linear(x, w, b=None, accum=None, out=None, seed=None) -> FixedArray:
    """A dense layer ``y = x @ w.T + b`` (hls4ml Dense, latency strategy, when ``accum`` is given).

    ``x`` is ``(..., K)`` (1-d or batched), ``w`` is ``(N, K)`` and ``b`` is ``(N,)`` or None.
    Without ``accum`` the result is exact: ``x @ w.T`` in its natural format, plus the bias
    added exactly (the natural sum format). With ``accum``, per output:
    ``acc = cast(b -> accum)``; then for k = 0..K-1 in order
    ``acc = cast(acc + cast(x[k] * w[n, k] -> accum) -> accum)``, each cast with accum's
    q/o/n. ``out`` casts the final result. ``seed`` drives STOCH (the bias cast draws word
    (seed, n); the products and sums draw the words ``fx.matmul`` uses for ``x @ w.T``).

    ``w`` may be a :class:`fixedpoint.SparseFixed`; the result is the same bits. With
    ``accum`` the result equals hls4ml's ``dense_latency`` C-simulation bit for bit.

    Raises:
        TypeError: an operand is a float or of an unsupported type; ``accum``/``out`` is not
            a format; ``seed`` is not an int.
        ValueError: ``w`` is not 2-d; ``x``'s last dimension differs from ``w``'s K; ``b`` is
            not of shape (N,) (the shapes are named); ``accum``/``out`` does not parse.
    """
    api = "fx.linear"
    x = _operand(x, api)
    if isinstance(w, SparseFixed):
        res = sparse_linear(x, w, b, accum, seed, api)
    else:
        res = linear_dense(x, w, b, accum, seed, api)
    if out is not None:
        res = res.cast(_as_format(out, api), seed=seed)
    return res
