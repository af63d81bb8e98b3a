"""binary: XNOR-popcount +-1 matmul and a full binary layer, against NumPy float32 sgemm.

Cases (M = N = K = 1024; ``--quick`` only shortens the timing, not the data):

- ``xnor_matmul``: ``fx.binary.xnor_matmul(pa, pb)`` on operands packed once in the untimed
  set-up, vs ``a @ b`` in float32 (BLAS sgemm) on the same +-1 matrices. Peers ``ours`` (the
  best ISA this CPU supports), ``ours_avx2`` and ``ours_scalar`` (ISA forced with
  ``fx.set_isa`` inside the timed call; skipped where unsupported).
- ``layer``: a full binary layer from float32 activations: ``pack`` the activations, the
  XNOR matmul against pre-packed weights, the exact per-channel ``acc * scale + bias`` and
  re-binarization into packed bits for the next layer (``out="binary"``), vs float32
  ``sign(x) @ w * scale + bias`` then ``>= 0``.

Every output is checked exactly: the products against a float64 BLAS matmul of the +-1
matrices (integers of magnitude <= 1024: exact in any order), the layer's bits against the
signs of ``acc * scale + bias`` computed in float64 from those exact integers (scale and bias
are multiples of 1/8 below 8, so every value is exact). Seeds 20261101-20261104.

Goals (reported, never asserted; single thread): xnor_matmul ours >= 15x float32, ours_avx2
>= 4x float32; layer ours >= 10x float32.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, expect_equal, import_fixedpoint

SUITE = "binary"
M = N = K = 1024
SEED_A, SEED_B, SEED_X, SEED_SB = 20261101, 20261102, 20261103, 20261104
BASELINE = "numpy_float32"
GOALS = {("xnor_matmul", "ours"): 15.0, ("xnor_matmul", "ours_avx2"): 4.0, ("layer", "ours"): 10.0}


@functools.cache
def _data() -> dict[str, Any]:
    a = np.random.default_rng(SEED_A).choice(np.array([-1.0, 1.0]), size=(M, K))
    b = np.random.default_rng(SEED_B).choice(np.array([-1.0, 1.0]), size=(K, N))
    x = np.random.default_rng(SEED_X).standard_normal((M, K)).astype(np.float32)
    rng = np.random.default_rng(SEED_SB)
    scale = rng.integers(1, 64, size=N) / 8.0
    bias = rng.integers(-64, 64, size=N) / 8.0
    acc = a @ b  # float64 BLAS on +-1: exact integers
    xs = np.where(x >= 0, 1.0, -1.0)
    layer_acc = xs @ b
    layer_bits = (layer_acc * scale + bias) >= 0  # exact in float64
    return {"a": a, "b": b, "x": x, "scale": scale, "bias": bias, "acc": acc.astype(np.int64),
            "layer_bits": layer_bits}


def _ours(case: str, isa: str | None) -> Impl:
    fx = import_fixedpoint()
    if isa is not None and not fx._core.isa_supported(isa):
        raise Skip(f"this CPU does not support {isa}")
    d = _data()
    best = fx.get_isa()
    use = isa or best
    pb = fx.binary.pack(d["b"], axis=0)

    if case == "xnor_matmul":
        pa = fx.binary.pack(d["a"], axis=1)

        def run():
            fx.set_isa(use)
            try:
                return fx.binary.xnor_matmul(pa, pb)
            finally:
                fx.set_isa(best)

        def check(out):
            expect_equal(out, d["acc"], what="xnor_matmul")
    else:
        x, scale, bias = d["x"], d["scale"], d["bias"]

        def run():
            fx.set_isa(use)
            try:
                return fx.binary.xnor_matmul(fx.binary.pack(x, axis=1), pb, scale=scale, bias=bias, out="binary")
            finally:
                fx.set_isa(best)

        def check(out):
            expect_equal(fx.binary.unpack(out) > 0, d["layer_bits"], what="layer bits")

    return Impl(run=run, check=check, note=f"isa {use}")


def _numpy(case: str) -> Impl:
    d = _data()
    b32 = d["b"].astype(np.float32)
    if case == "xnor_matmul":
        a32 = d["a"].astype(np.float32)

        def run():
            return a32 @ b32

        def check(out):
            expect_equal(out.astype(np.int64), d["acc"], what="sgemm")
    else:
        x = d["x"]
        scale, bias = d["scale"].astype(np.float32), d["bias"].astype(np.float32)

        def run():
            xs = np.where(x >= 0, np.float32(1), np.float32(-1))
            return (xs @ b32) * scale + bias >= 0

        def check(out):
            expect_equal(out, d["layer_bits"], what="float32 layer bits")

    return Impl(run=run, check=check, note="float32 BLAS sgemm")


def cases(quick: bool = False) -> list[Case]:
    out = []
    for case in ("xnor_matmul", "layer"):
        peers = {
            BASELINE: functools.partial(_numpy, case),
            "ours": functools.partial(_ours, case, None),
            "ours_avx2": functools.partial(_ours, case, "avx2"),
            "ours_scalar": functools.partial(_ours, case, "scalar"),
        }
        what = ("(M,K)@(K,N) of +-1, pre-packed" if case == "xnor_matmul"
                else "pack float32 activations + xnor + exact scale/bias + re-binarize")
        out.append(Case(suite=SUITE, name=case, n=M, peers=peers, baseline=BASELINE,
                        description=f"{what}, M=N=K={M} (seeds {SEED_A}-{SEED_SB})"))
    return out


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Speed-ups over float32 at threads == 1, reported and never asserted."""
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}
    out = []
    for (case, peer), target in GOALS.items():
        ours, base = by.get((case, peer, 1)), by.get((case, BASELINE, 1))
        ok = ours is not None and base is not None and ours["status"] == "ok" and base["status"] == "ok"
        speed = base["median_s"] / ours["median_s"] if ok and ours["median_s"] else None
        out.append({
            "suite": SUITE, "case": case, "threads": 1,
            "goal": f"{peer} >= {target:g}x faster than float32 (1 thread)",
            "value": "-" if speed is None else f"{speed:.3g}x faster",
            "met": None if speed is None else bool(speed >= target),
        })
    return out
