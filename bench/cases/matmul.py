"""matmul: exact dense GEMM of fixed-point matrices against NumPy sgemm and int64 matmul.

Cases (``n`` is the operation count 2*M*K*N; GOP/s = n / median / 1e9):

- ``i8_1024``: ap_int<8> (1024 x 1024) @ (1024 x 1024). Peers: ``ours`` (``fx.matmul``: the
  int16 pair-sum kernel), ``numpy_float32`` (baseline; sgemm is exact here: every partial sum
  is an integer of at most 2**24), ``numpy_float64`` and ``numpy_int64`` (no BLAS).
- ``i16_1024``: ap_int<16> at the same size. ``numpy_float64`` (baseline) is exact (sums
  below 2**40); float32 is not, so the ≤16-bit goal compares with the float32 median of
  ``i8_1024`` (the same shape and the same sgemm work).
- ``i32_256``: ap_int<24> (256 x 256) @ (256 x 256), a 56-bit result: the blocked int64
  kernel. Baseline ``numpy_int64``.

Inputs are uniform over each format's full range (fixed seeds) with the range edges present.
Every output is checked exactly against Python-int products of the stored integers on 64
sampled entries and against NumPy int64 matmul on all entries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.model import Case, Impl, WrongResult, import_fixedpoint, median_lookup

SUITE = "matmul"
SEED = 20261123
GOAL_I8_VS_F32 = 3.0
GOAL_I16_VS_F32 = 1.5
GOAL_VS_INT64 = 30.0

CASES = {  # name: (bits, M=K=N)
    "i8_1024": (8, 1024),
    "i16_1024": (16, 1024),
    "i32_256": (24, 256),
}


def make_raws(bits: int, size: int, seed: int) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    r = np.random.default_rng(seed).integers(lo, hi, (size, size), endpoint=True)
    r[0, 0], r[-1, -1] = lo, hi
    return r


@functools.cache
def data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bits, size = CASES[name]
    a, b = make_raws(bits, size, SEED), make_raws(bits, size, SEED + 1)
    return a, b, np.matmul(a, b)  # int64 is exact: |sums| < 2**56


def _checker(name: str, to_ints: Callable[[Any], np.ndarray]) -> Callable[[Any], None]:
    a, b, want = data(name)
    rng = np.random.default_rng(SEED + 2)
    idx = rng.integers(0, want.shape[0], (64, 2))

    def check(out: Any) -> None:
        got = to_ints(out)
        if got.shape != want.shape:
            raise WrongResult(f"{name}: shape {got.shape}, expected {want.shape}")
        for i, j in idx:  # independent Python-int dot products
            e = sum(int(x) * int(y) for x, y in zip(a[i], b[:, j]))
            if int(got[i, j]) != e:
                raise WrongResult(f"{name}: entry ({i}, {j}) got {int(got[i, j])}, expected {e}")
        bad = np.flatnonzero((got != want).ravel())
        if bad.size:
            k = int(bad[0])
            raise WrongResult(f"{name}: {bad.size} entries differ; first at flat index {k}")

    return check


def _ours(name: str) -> Impl:
    fx = import_fixedpoint()
    bits, _ = CASES[name]
    a, b, _want = data(name)
    fa = fx.from_raw(a, fx.Fixed(bits, bits))
    fb = fx.from_raw(b, fx.Fixed(bits, bits))

    def to_ints(out: Any) -> np.ndarray:
        if not isinstance(out, fx.FixedArray):
            raise WrongResult(f"{name}: got {type(out).__name__}, expected a FixedArray")
        return np.asarray(out.raw)

    return Impl(run=lambda: fx.matmul(fa, fb), check=_checker(name, to_ints), note=f"isa {fx.get_isa()}")


def _numpy(name: str, dtype: Any) -> Impl:
    a, b, _want = data(name)
    x, y = a.astype(dtype), b.astype(dtype)

    def to_ints(out: Any) -> np.ndarray:
        out = np.asarray(out)
        if out.dtype.kind == "f":
            t = out.astype(np.float64)
            if not np.all(np.floor(t) == t):
                raise WrongResult(f"{name}: non-integer float results")
        return out.astype(np.int64)

    return Impl(run=lambda: np.matmul(x, y), check=_checker(name, to_ints))


def cases(quick: bool = False) -> list[Case]:
    out = []
    for name, (bits, size) in CASES.items():
        peers: dict[str, Callable[[], Impl]] = {"ours": functools.partial(_ours, name)}
        if name == "i8_1024":
            peers["numpy_float32"] = functools.partial(_numpy, name, np.float32)
        peers["numpy_float64"] = functools.partial(_numpy, name, np.float64)
        if name == "i32_256":
            del peers["numpy_float64"]  # not exact for 56-bit results
        peers["numpy_int64"] = functools.partial(_numpy, name, np.int64)
        baseline = {"i8_1024": "numpy_float32", "i16_1024": "numpy_float64", "i32_256": "numpy_int64"}[name]
        out.append(Case(suite=SUITE, name=name, n=2 * size**3, peers=peers, baseline=baseline,
                        description=f"ap_int<{bits}> ({size}x{size}) @ ({size}x{size}), exact (seed {SEED})"))
    return out


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reported, never asserted: ≤8-bit ≥ 3x NumPy float32 GOP/s, ≤16-bit ≥ 1.5x float32 (the
    sgemm median of i8_1024, same shape), any path ≥ 30x NumPy int64; per thread count."""
    if not records:
        return []
    med = median_lookup(records)

    out = []
    for t in sorted({r["threads"] for r in records}):
        f32 = med("i8_1024", "numpy_float32", t)
        for case, goal in (("i8_1024", GOAL_I8_VS_F32), ("i16_1024", GOAL_I16_VS_F32)):
            ours = med(case, "ours", t)
            ratio = f32 / ours if f32 and ours else None
            out.append({"suite": SUITE, "case": case, "threads": t,
                        "goal": f"ours >= {goal:g}x numpy float32 GOP/s ({t} threads)",
                        "value": "-" if ratio is None else f"{ratio:.3g}x",
                        "met": None if ratio is None else bool(ratio >= goal)})
        for case in CASES:
            ours, i64 = med(case, "ours", t), med(case, "numpy_int64", t)
            ratio = i64 / ours if ours and i64 else None
            out.append({"suite": SUITE, "case": case, "threads": t,
                        "goal": f"ours >= {GOAL_VS_INT64:g}x numpy int64 ({t} threads)",
                        "value": "-" if ratio is None else f"{ratio:.3g}x",
                        "met": None if ratio is None else bool(ratio >= GOAL_VS_INT64)})
    return out
