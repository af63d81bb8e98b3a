"""plan: the speed crossovers of the exact-GEMM planner (``fixedpoint._plan.CROSSOVERS``),
measured on the running CPU and reported next to the table's values.

Two families of cases, every operand drawn uniformly within the case's bounds (fixed seeds,
both edges present), M = K = N (int16: 1024, the size the table's AVX2 value was measured
at, quick 256; limb split: 512, quick 128); ``n`` is the operation count 2*M*K*N. The
crossovers depend on the size (at 256^3 the int16 kernel already wins from 4 pairs on AVX2):

- ``i16_pairs<P>``: operands with ``|a|, |b| <= m`` where m is the largest bound whose
  int16 kernel sums P products in int32 before a widening (``_core.gemm_i16_pairs(m, m) ==
  P``). Peers: ``f64`` (baseline: float64 BLAS, exact here since every partial sum is below
  2**53) and ``i16_<isa>``, the int16 kernel ``_core.gemm_i16`` run under each ISA this CPU
  supports. The planner takes the int16 kernel when P >= ``i16_min_pairs`` (None: never
  while BLAS is exact).
- ``split_<L>limbs``: a 63-bit operand (40-bit for one limb) times the widest operand that
  keeps L limbs exact in float64 (``53 - log2 K - 63/L`` bits): the float64 limb split
  (float64 BLAS on L limbs, exact per limb, recombined modulo 2**64; written here after
  ``fixedpoint._plan.f64_split_plan``) against the blocked int64 kernel ``_core.gemm_i64``
  (baseline ``i64``). The planner takes the split when L <= ``f64_split_max_limbs``.

Every output is checked against NumPy int64 matmul (exact, or the same residue modulo 2**64).
The goals report the crossover measured per thread count and ISA (the smallest P from which
the int16 kernel beats BLAS at every larger P; the largest L up to which the split beats
int64) next to the table's value; ``met`` says whether the table's rule picks the faster
kernel at every point measured.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, import_fixedpoint, median_lookup

SUITE = "plan"
SEED = 20261130
PAIRS = (1, 2, 4, 8, 12, 16, 24, 32, 64)
LIMBS = (1, 2, 3, 4, 5, 6, 7, 8)
_LIM = (1 << 31) - 1


def _pairs_bound(p: int) -> int:
    """The largest m with 2*m*m*p <= 2**31 - 1 (gemm_i16_pairs(m, m) >= p), capped at 32767."""
    m = min(32767, math.isqrt(_LIM // (2 * p)))
    while m > 1 and _LIM // (2 * m * m) < p:
        m -= 1
    return m


def _split_bounds(limbs: int, k: int) -> tuple[int, int]:
    """(amax, bmax): a left operand (63 bits; 40 for one limb) that the limb split cuts into
    ``limbs`` pieces, and the widest right operand that keeps those limbs exact in float64."""
    g = (k - 1).bit_length()
    abits = 63 if limbs > 1 else 40
    L = -(-abits // limbs)  # the limb width that gives exactly `limbs` limbs
    bbits = 53 - g - L  # the right operand's bits that leave L-bit limbs exact in float64
    return (1 << abits) - 1, (1 << bbits) - 1


def _raws(bound: int, shape: tuple[int, int], seed: int) -> np.ndarray:
    r = np.random.default_rng(seed).integers(-bound, bound, shape, endpoint=True, dtype=np.int64)
    r.reshape(-1)[:2] = (bound, -bound)
    return r


@functools.cache
def _data(kind: str, param: int, size: int):
    if kind == "i16":
        amax = bmax = _pairs_bound(param)
    else:
        amax, bmax = _split_bounds(param, size)
    a, b = _raws(amax, (size, size), SEED + param), _raws(bmax, (size, size), SEED + 100 + param)
    return a, b, amax, bmax, np.matmul(a, b)  # int64 matmul: exact, or the residue modulo 2**64


def _check(want: np.ndarray, what: str) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        got = np.asarray(out)
        if got.shape != want.shape or got.dtype != np.int64:
            raise WrongResult(f"{what}: got {got.dtype} {got.shape}, expected int64 {want.shape}")
        bad = np.flatnonzero((got != want).ravel())
        if bad.size:
            raise WrongResult(f"{what}: {bad.size} of {want.size} entries differ; first at flat index {int(bad[0])}")
    return check


def _f64(kind: str, param: int, size: int) -> Impl:
    a, b, _, _, want = _data(kind, param, size)
    x, y = a.astype(np.float64), b.astype(np.float64)
    return Impl(run=lambda: np.matmul(x, y).astype(np.int64), check=_check(want, "f64"))


def _i16(param: int, size: int, isa: str) -> Impl:
    import_fixedpoint()
    from fixedpoint import _core

    if not _core.isa_supported(isa):
        raise Skip(f"this CPU does not run {isa}")
    a, b, amax, bmax, want = _data("i16", param, size)

    def run():
        before = _core.isa()
        _core.set_isa(isa)
        try:
            return _core.gemm_i16(a, b, amax, bmax)
        finally:
            _core.set_isa(before)

    return Impl(run=run, check=_check(want, f"i16 {isa}"), note=f"pairs {_core.gemm_i16_pairs(amax, bmax)}, bound {amax}")


def _split(param: int, size: int) -> Impl:
    import_fixedpoint()
    from fixedpoint import _plan

    a, b, amax, bmax, want = _data("split", param, size)
    plan = _plan.f64_split_plan(amax, bmax, size, max_limbs=64)
    if plan is None or plan[2] != param or not plan[0]:
        raise Skip(f"the split plan for these bounds is {plan}, not {param} limbs of the left operand")
    _, L, n = plan
    bf = b.astype(np.float64)
    mask = (1 << L) - 1

    def run():
        total = None
        rest = a
        for limb in range(n):
            part = rest & mask if limb < n - 1 else rest
            rest = rest >> L
            r = np.matmul(part.astype(np.float64), bf).astype(np.int64)
            r = (r.view(np.uint64) << np.uint64(L * limb)).view(np.int64) if limb else r
            total = r if total is None else (total.view(np.uint64) + r.view(np.uint64)).view(np.int64)
        return total

    return Impl(run=run, check=_check(want, f"f64split {n} limbs"), note=f"{n} limbs of {L} bits")


def _i64(kind: str, param: int, size: int) -> Impl:
    import_fixedpoint()
    from fixedpoint import _core

    a, b, amax, bmax, want = _data(kind, param, size)
    return Impl(run=lambda: _core.gemm_i64(a, b, amax < 1 << 31 and bmax < 1 << 31), check=_check(want, "i64"))


def _isas() -> list[str]:
    try:
        import_fixedpoint()
        from fixedpoint import _core
    except ImportError:
        return ["avx2"]
    return [n for n in reversed(_core.known_isas()) if _core.isa_supported(n)]


def cases(quick: bool = False) -> list[Case]:
    size, split_size = (256, 128) if quick else (1024, 512)
    out = []
    for p in PAIRS:
        peers: dict[str, Callable[[], Impl]] = {"f64": functools.partial(_f64, "i16", p, size)}
        for isa in _isas():
            peers[f"i16_{isa}"] = functools.partial(_i16, p, size, isa)
        out.append(Case(suite=SUITE, name=f"i16_pairs{p}", n=2 * size**3, peers=peers, baseline="f64",
                        description=f"int16 kernel vs float64 BLAS at {p} pairs per int32 widening, "
                                    f"{size}^3 (seed {SEED})"))
    for n in LIMBS:
        peers = {"i64": functools.partial(_i64, "split", n, split_size),
                 "f64split": functools.partial(_split, n, split_size)}
        out.append(Case(suite=SUITE, name=f"split_{n}limbs", n=2 * split_size**3, peers=peers, baseline="i64",
                        description=f"float64 BLAS on {n} limbs vs the blocked int64 kernel, {split_size}^3"))
    return out


def _table(isa: str):
    try:
        import_fixedpoint()
        from fixedpoint import _plan
    except ImportError:
        return None
    return _plan.crossovers(isa)


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reported, never asserted: the measured crossovers next to ``_plan.CROSSOVERS``."""
    med = median_lookup(records)

    out = []
    for t in sorted({r["threads"] for r in records}):
        for isa in sorted({r["peer"][4:] for r in records if r["peer"].startswith("i16_")}):
            row = _table(isa)
            faster = {}  # pairs -> the int16 kernel beats BLAS
            for p in PAIRS:
                ours, base = med(f"i16_pairs{p}", f"i16_{isa}", t), med(f"i16_pairs{p}", "f64", t)
                if ours and base:
                    faster[p] = ours < base
            if not faster or row is None:
                continue
            wins_from = [p for p in faster if all(faster[q] for q in faster if q >= p)]
            measured = min(wins_from) if wins_from else None
            # the table's None: the int16 kernel never beats BLAS (at any pair count)
            agree = all((row.i16_min_pairs is not None and p >= row.i16_min_pairs) == f for p, f in faster.items())
            table = "never" if row.i16_min_pairs is None else row.i16_min_pairs
            out.append({"suite": SUITE, "case": "i16_pairs*", "threads": t,
                        "goal": f"i16_min_pairs on {isa} ({t} threads): table {table}",
                        "value": f"measured {measured if measured is not None else '> ' + str(max(faster))}",
                        "met": agree})
        row = _table(_isas()[-1])
        faster = {}
        for n in LIMBS:
            ours, base = med(f"split_{n}limbs", "f64split", t), med(f"split_{n}limbs", "i64", t)
            if ours and base:
                faster[n] = ours < base
        if faster and row is not None:
            wins_to = [n for n in faster if all(faster[q] for q in faster if q <= n)]
            measured = max(wins_to) if wins_to else 0
            agree = all((n <= row.f64_split_max_limbs) == f for n, f in faster.items())
            out.append({"suite": SUITE, "case": "split_*limbs", "threads": t,
                        "goal": f"f64_split_max_limbs ({t} threads): table {row.f64_split_max_limbs}",
                        "value": f"measured {measured}", "met": agree})
    return out
