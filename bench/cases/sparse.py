"""sparse: exact sparse (1024 x 1024) @ dense (1024 x 256) of ap_int<8> values, CSR and
block-sparse (BSR 4x4), against SciPy CSR (int64 and float32), dense NumPy float32 sgemm and
our own dense exact path.

Cases ``s50``, ``s80``, ``s90``, ``s95``: 50/80/90/95 % of the weights are zero, scattered
(fixed seed); ``ours`` is ``fx.SparseFixed`` in CSR. Cases ``b50`` ... ``b95``: 50/80/90/95 %
of the 4x4 blocks are zero (the kept blocks are dense); ``ours`` is ``fx.SparseFixed`` in BSR
with ``blocksize=(4, 4)`` and ``ours_csr`` the same matrix in CSR. Every sparse matrix is built
once, untimed. Peers: ``scipy_int64`` (baseline; ``csr_matrix`` of the int64 stored integers),
``scipy_float32`` (CSR float32), ``torch_sparse_float32`` (``torch.sparse_csr`` float32; torch
has no CPU int64 sparse matmul), ``numpy_float32_dense`` (the dense sgemm of the same
matrices) and ``ours_dense`` (``fx.matmul`` of the dense FixedArrays, our exact dense
dispatch). The float32 peers are exact here: every partial sum is an integer of magnitude at
most 128 * 128 * 1024 = 2**24. Every output is checked exactly against NumPy int64 matmul of
the dense stored integers.

Goals (reported, never asserted): at 90 % zeros, ``ours`` >= 3x dense float32 and >= 3x SciPy
int64 CSR, for CSR and for BSR; and the break-even sparsity against our own dense path, by
70 % sparsity: the sparsity at which ``ours`` and ``ours_dense`` take the same time,
interpolated linearly in density between the two measured cases around it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.model import Case, Impl, WrongResult, import_fixedpoint, median_lookup

SUITE = "sparse"
SEED = 20261124
M, K, N = 1024, 1024, 256
SPARSITY = {"s50": 0.5, "s80": 0.8, "s90": 0.9, "s95": 0.95}
BLOCK_SPARSITY = {"b50": 0.5, "b80": 0.8, "b90": 0.9, "b95": 0.95}
BLOCK = (4, 4)
GOAL = 3.0
BREAK_EVEN_GOAL = 0.7


def _dims(name: str) -> tuple[int, int]:
    """(rows, cols) of W: block cases round M and K down to multiples of the block (a no-op at
    the full size; it keeps stand-in sizes valid)."""
    if name in BLOCK_SPARSITY:
        return M - M % BLOCK[0], K - K % BLOCK[1]
    return M, K


@functools.cache
def data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    m, k = _dims(name)
    w = rng.integers(-128, 127, (m, k), endpoint=True)
    if name in BLOCK_SPARSITY:
        R, C = BLOCK
        zero = rng.random((m // R, k // C)) < BLOCK_SPARSITY[name]
        w[np.repeat(np.repeat(zero, R, axis=0), C, axis=1)] = 0
    else:
        w[rng.random((m, k)) < SPARSITY[name]] = 0
    x = rng.integers(-128, 127, (k, N), endpoint=True)
    return w, x, np.matmul(w, x)


def _check(name: str, to_ints: Callable[[Any], np.ndarray]) -> Callable[[Any], None]:
    want = data(name)[2]

    def check(out: Any) -> None:
        got = to_ints(out)
        if got.shape != want.shape:
            raise WrongResult(f"{name}: shape {got.shape}, expected {want.shape}")
        bad = np.flatnonzero((got != want).ravel())
        if bad.size:
            raise WrongResult(f"{name}: {bad.size} entries differ; first at flat index {int(bad[0])}")

    return check


def _ours(name: str, blocksize=None) -> Impl:
    fx = import_fixedpoint()
    w, x, _ = data(name)
    sp = fx.SparseFixed.from_dense(fx.from_raw(w, fx.Fixed(8, 8)), blocksize=blocksize)
    fxx = fx.from_raw(x, fx.Fixed(8, 8))
    note = f"nnz {sp.nnz:,}" if blocksize is None else f"{sp.nnzb:,} blocks {blocksize[0]}x{blocksize[1]}"
    return Impl(run=lambda: sp @ fxx, check=_check(name, lambda out: np.asarray(out.raw)), note=note)


def _ours_dense(name: str) -> Impl:
    fx = import_fixedpoint()
    w, x, _ = data(name)
    fw, fxx = fx.from_raw(w, fx.Fixed(8, 8)), fx.from_raw(x, fx.Fixed(8, 8))
    return Impl(run=lambda: fx.matmul(fw, fxx), check=_check(name, lambda out: np.asarray(out.raw)))


def _scipy(name: str, dtype) -> Impl:
    import scipy.sparse as sps  # noqa: PLC0415

    w, x, _ = data(name)
    csr = sps.csr_matrix(w.astype(dtype))
    xd = x.astype(dtype)
    return Impl(run=lambda: csr @ xd, check=_check(name, lambda out: np.asarray(out).astype(np.int64)))


def _torch_csr(name: str) -> Impl:
    """torch.sparse CSR float32 @ dense float32 (exact here: integer sums within 2**24). Its
    int64 sparse matmul is not implemented on the CPU ("addmm_out_sparse_csr_impl_mkl" not
    implemented for 'Long'), so float32 is the only exact torch peer."""
    import torch  # noqa: PLC0415

    w, x, _ = data(name)
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        ws = torch.from_numpy(w.astype(np.float32)).to_sparse_csr()
    xt = torch.from_numpy(x.astype(np.float32))
    return Impl(run=lambda: ws @ xt, check=_check(name, lambda out: out.numpy().astype(np.int64)),
                set_threads=lambda n: torch.set_num_threads(n))


def _dense_f32(name: str) -> Impl:
    w, x, _ = data(name)
    wf, xf = w.astype(np.float32), x.astype(np.float32)
    return Impl(run=lambda: wf @ xf, check=_check(name, lambda out: np.asarray(out).astype(np.int64)))


def cases(quick: bool = False) -> list[Case]:
    out = []
    for table, blocked in ((SPARSITY, False), (BLOCK_SPARSITY, True)):
        for name, s in table.items():
            peers: dict[str, Callable[[], Impl]] = {
                "ours": functools.partial(_ours, name, BLOCK if blocked else None),
            }
            if blocked:
                peers["ours_csr"] = functools.partial(_ours, name, None)
            peers.update({
                "ours_dense": functools.partial(_ours_dense, name),
                "scipy_int64": functools.partial(_scipy, name, np.int64),
                "scipy_float32": functools.partial(_scipy, name, np.float32),
                "torch_sparse_float32": functools.partial(_torch_csr, name),
                "numpy_float32_dense": functools.partial(_dense_f32, name),
            })
            m, k = _dims(name)
            what = (f"BSR {BLOCK[0]}x{BLOCK[1]} ({m}x{k}, {s:.0%} of the blocks zero)" if blocked
                    else f"CSR ({m}x{k}, {s:.0%} zeros)")
            out.append(Case(suite=SUITE, name=name, n=2 * m * k * N, peers=peers, baseline="scipy_int64",
                            description=f"ap_int<8> {what} @ ({k}x{N}) (seed {SEED})"))
    return out


def break_even(points: list[tuple[float, float, float]]) -> float | None:
    """The sparsity where ours (sparse) takes as long as ours_dense, from (sparsity, sparse s,
    dense s) points: linear in density between the two measured points around the crossing;
    None when sparse never wins, the lowest sparsity measured when it always wins."""
    pts = sorted(points)
    if not pts:
        return None
    if pts[0][1] <= pts[0][2]:
        return pts[0][0]
    for (s0, t0, d0), (s1, t1, d1) in zip(pts, pts[1:]):
        if t1 <= d1:  # the crossing lies in (s0, s1]: solve t(s) = d(s) on the two lines
            g0, g1 = t0 - d0, t1 - d1
            return s0 + (s1 - s0) * g0 / (g0 - g1)
    return None


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reported, never asserted: at 90 % zeros, ours >= 3x dense float32 and >= 3x SciPy CSR
    (CSR case s90, then BSR case b90); break-even with ours_dense by 70 % sparsity."""
    med = median_lookup(records)

    out = []
    for case in ("s90", "b90"):
        for t in sorted({r["threads"] for r in records if r["case"] == case}):
            ours = med(case, "ours", t)
            for peer in ("numpy_float32_dense", "scipy_int64"):
                other = med(case, peer, t)
                ratio = other / ours if ours and other else None
                label = "" if case == "s90" else " [BSR 4x4]"
                out.append({"suite": SUITE, "case": case, "threads": t,
                            "goal": f"ours >= {GOAL:g}x {peer}{label} ({t} threads)",
                            "value": "-" if ratio is None else f"{ratio:.3g}x",
                            "met": None if ratio is None else bool(ratio >= GOAL)})
    for table, label in ((SPARSITY, "CSR"), (BLOCK_SPARSITY, "BSR 4x4")):
        threads = sorted({r["threads"] for r in records if r["case"] in table and r["peer"] == "ours_dense"})
        for t in threads:
            pts = [(s, med(c, "ours", t), med(c, "ours_dense", t)) for c, s in table.items()]
            pts = [p for p in pts if p[1] and p[2]]
            if not pts:
                continue
            be = break_even(pts)
            out.append({"suite": SUITE, "case": "break-even", "threads": t,
                        "goal": f"{label} faster than ours_dense by {BREAK_EVEN_GOAL:.0%} sparsity ({t} threads)",
                        "value": "never (in the measured range)" if be is None else f"{be:.0%}",
                        "met": be is not None and be <= BREAK_EVEN_GOAL})
    return out
