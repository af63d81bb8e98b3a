"""sparse: exact CSR (1024 x 1024) @ dense (1024 x 256) of ap_int<8> values, against SciPy CSR
on int64 and dense NumPy float32 sgemm.

Cases ``s50``, ``s80``, ``s90``, ``s95``: 50/80/90/95 % of the weights are zero (fixed seed).
Peers: ``ours`` (``fx.SparseFixed`` built once, untimed; ``sp @ x``), ``scipy_int64`` (baseline;
``csr_matrix`` of the int64 stored integers), ``numpy_float32_dense`` (the dense sgemm of the
same matrices; exact, every partial sum is an integer below 2**24). Every output is checked
exactly against NumPy int64 matmul of the dense stored integers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.harness import Case, Impl, WrongResult, import_fixedpoint

SUITE = "sparse"
SEED = 20261124
M, K, N = 1024, 1024, 256
SPARSITY = {"s50": 0.5, "s80": 0.8, "s90": 0.9, "s95": 0.95}
GOAL = 3.0


@functools.cache
def data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    w = rng.integers(-128, 127, (M, K), endpoint=True)
    w[rng.random((M, K)) < SPARSITY[name]] = 0
    x = rng.integers(-128, 127, (K, N), endpoint=True)
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


def _ours(name: str) -> Impl:
    fx = import_fixedpoint()
    w, x, _ = data(name)
    sp = fx.SparseFixed.from_dense(fx.from_raw(w, fx.Fixed(8, 8)))
    fxx = fx.from_raw(x, fx.Fixed(8, 8))
    return Impl(run=lambda: sp @ fxx, check=_check(name, lambda out: np.asarray(out.raw)),
                note=f"nnz {sp.nnz:,}")


def _scipy(name: str) -> Impl:
    import scipy.sparse as sps  # noqa: PLC0415

    w, x, _ = data(name)
    csr = sps.csr_matrix(w.astype(np.int64))
    xi = x.astype(np.int64)
    return Impl(run=lambda: csr @ xi, check=_check(name, lambda out: np.asarray(out).astype(np.int64)))


def _dense_f32(name: str) -> Impl:
    w, x, _ = data(name)
    wf, xf = w.astype(np.float32), x.astype(np.float32)
    return Impl(run=lambda: wf @ xf, check=_check(name, lambda out: np.asarray(out).astype(np.int64)))


def cases(quick: bool = False) -> list[Case]:
    out = []
    for name, s in SPARSITY.items():
        peers: dict[str, Callable[[], Impl]] = {
            "ours": functools.partial(_ours, name),
            "scipy_int64": functools.partial(_scipy, name),
            "numpy_float32_dense": functools.partial(_dense_f32, name),
        }
        out.append(Case(suite=SUITE, name=name, n=2 * M * K * N, peers=peers, baseline="scipy_int64",
                        description=f"ap_int<8> CSR ({M}x{K}, {s:.0%} zeros) @ ({K}x{N}) (seed {SEED})"))
    return out


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reported, never asserted: at 90 % zeros, ours >= 3x dense float32 and >= 3x SciPy CSR."""
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}

    def med(peer: str, t: int) -> float | None:
        r = by.get(("s90", peer, t))
        return r["median_s"] if r is not None and r["status"] == "ok" and r["median_s"] else None

    out = []
    for t in sorted({r["threads"] for r in records if r["case"] == "s90"}):
        ours = med("ours", t)
        for peer in ("numpy_float32_dense", "scipy_int64"):
            other = med(peer, t)
            ratio = other / ours if ours and other else None
            out.append({"suite": SUITE, "case": "s90", "threads": t,
                        "goal": f"ours >= {GOAL:g}x {peer} ({t} threads)",
                        "value": "-" if ratio is None else f"{ratio:.3g}x",
                        "met": None if ratio is None else bool(ratio >= GOAL)})
    return out
