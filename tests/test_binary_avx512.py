"""The AVX-512 binary kernels (csrc/core/binary_avx512.cpp: vpopcntq XNOR-popcount, ternary x
binary, +-1 weights times activations), run through the `_core` entry points under every ISA this
build supports (without AVX-512, the SIMDe build runs the same source emulated). Expected values
are NumPy int64 matmuls of the unpacked +-1 / -1,0,+1 matrices, never the implementation.

Cases: K around the 64-bit word and 8-word (zmm) boundaries, M and N around the 4 x 4 register
blocks and past a column tile, all-equal / all-different rows, 1 and 2 threads, non-contiguous
activations.
"""

from __future__ import annotations

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _core
from strategies import ISAS

VNNI = "avx512_vnni"


def _runs_vnni(isa: str) -> bool:
    """Whether the VNNI / VPOPCNTDQ kernels run under `isa`: the registry's avx512_vnni level."""
    return isa == VNNI


K_EDGES = [1, 63, 64, 65, 511, 512, 513, 1000, 1024]
MN = [(1, 1), (3, 5), (4, 4), (5, 9), (8, 17), (33, 130)]


def test_vnni_level_listed_or_says_why():
    if not any(_runs_vnni(n) for n in ISAS):
        pytest.skip("this CPU has no AVX-512 VNNI / VPOPCNTDQ and this build does not emulate it (the SIMDe "
                    "build of .ci/simde runs these tests under avx512_vnni)")
    assert any(_core.isa_supported(n) for n in ISAS if _runs_vnni(n))


def _pack(bits: np.ndarray) -> np.ndarray:
    """(rows, K) 0/1 -> (rows, ceil(K / 64)) uint64, bit k % 64 of word k // 64, padding 0."""
    rows, K = bits.shape
    words = (K + 63) // 64
    padded = np.zeros((rows, words * 64), dtype=np.uint8)
    padded[:, :K] = bits
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64).reshape(rows, words)


def _signs(rng, shape, mode):
    if mode == "ones":
        return np.ones(shape, dtype=np.int64)
    if mode == "minus":
        return -np.ones(shape, dtype=np.int64)
    return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)


@pytest.mark.parametrize("K", K_EDGES)
@pytest.mark.parametrize("M,N", MN)
def test_xnor_gemm(isa, threads, K, M, N):
    rng = np.random.default_rng(K * 7 + M * 3 + N)
    for amode, bmode in (("rand", "rand"), ("ones", "minus"), ("ones", "ones")):
        a, b = _signs(rng, (M, K), amode), _signs(rng, (N, K), bmode)
        got = _core.xnor_gemm(_pack(a > 0), _pack(b > 0), K)
        np.testing.assert_array_equal(got, a @ b.T)


@pytest.mark.parametrize("K", K_EDGES)
@pytest.mark.parametrize("M,N", MN)
def test_ternary_binary_gemm(isa, threads, K, M, N):
    rng = np.random.default_rng(K * 11 + M * 5 + N)
    t = rng.choice(np.array([-1, 0, 1], dtype=np.int64), size=(M, K))
    t[0] = 0  # an all-zero ternary row
    if M > 1:
        t[1] = 1
    b = _signs(rng, (N, K), "rand")
    got = _core.ternary_binary_gemm(_pack(t != 0), _pack(t > 0), _pack(b > 0), K)
    np.testing.assert_array_equal(got, t @ b.T)


@pytest.mark.parametrize("K", [1, 7, 8, 9, 64, 65, 200])
@pytest.mark.parametrize("M,N", [(1, 1), (3, 5), (6, 8), (9, 13)])
def test_binary_weight_gemm(isa, threads, K, M, N):
    # activations at +-(2^32 - 1) (the contract's bound) and random ones; 8 per zmm with the
    # weight bits as the blend mask, K % 8 left for the scalar tail
    rng = np.random.default_rng(K + M * 13 + N)
    lim = 2**32 - 1
    x = rng.integers(-lim, lim, size=(M, 2 * K), endpoint=True)
    x[:, ::3] = lim
    x[:, 1::5] = -lim
    xs = x[:, ::2]  # non-contiguous
    w = _signs(rng, (N, K), "rand")
    got = _core.binary_weight_gemm(xs, _pack(w > 0))
    np.testing.assert_array_equal(got, xs @ w.T)


def test_public_xnor_matmul_all_isas_agree(threads):
    # the public product: one result under every ISA, equal to NumPy's
    rng = np.random.default_rng(3)
    a = rng.choice(np.array([-1, 1]), size=(37, 777))
    b = rng.choice(np.array([-1, 1]), size=(777, 41))
    cur = fx.get_isa()
    try:
        for name in ISAS:
            fx.set_isa(name)
            got = fx.binary.xnor_matmul(fx.binary.pack(a, axis=-1), fx.binary.pack(b, axis=0))
            np.testing.assert_array_equal(np.asarray(got), a @ b)
    finally:
        fx.set_isa(cur)
