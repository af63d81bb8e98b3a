"""The AVX-512 VNNI GEMM kernels (csrc/core/gemm_avx512.cpp): dense int8 (vpdpbusd with the
unsigned-offset correction) and int16 (vpdpwssd), CSR int16 and BSR int8 / int16, run through the
public `_core` entry points under every ISA this build supports (on a machine without AVX-512,
the SIMDe build runs the same source emulated). Expected values are NumPy int64 matmuls of the
stored integers (every result here is far inside int64), never the implementation under test.

Cases: the int8 / int16 edges (-128, 127, -32768, 32767), the int32 overflow bounds (one pair
per partial sum), odd sizes, every register-block height (1..8 rows), ragged 32-column tiles,
K across the 128-word cache blocks, 1 and 2 threads, non-contiguous inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _core
from strategies import ISAS

Fixed = fx.Fixed
VNNI = "avx512_vnni"


def _runs_vnni(isa: str) -> bool:
    """Whether the VNNI / VPOPCNTDQ kernels run under `isa`: the registry's avx512_vnni level."""
    return isa == VNNI


def test_vnni_level_listed_or_says_why():
    if not any(_runs_vnni(n) for n in ISAS):
        pytest.skip("this CPU has no AVX-512 VNNI and this build does not emulate it (the SIMDe build "
                    "of .ci/simde runs these tests under avx512_vnni)")
    assert any(_core.isa_supported(n) for n in ISAS if _runs_vnni(n))


def _edge_ints(rng, lo, hi, shape):
    """Random ints in [lo, hi] with about a third at each edge."""
    v = rng.integers(lo, hi, size=shape, endpoint=True)
    pick = rng.random(shape)
    v[pick < 0.3] = lo
    v[pick > 0.7] = hi
    return v.astype(np.int64)


# ---------------------------------------------------------------------------------------
# dense
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 70])
@pytest.mark.parametrize("K,N", [(1, 1), (3, 31), (4, 32), (5, 33), (129, 65), (515, 7), (1030, 40)])
def test_dense_int8_edges(isa, threads, M, K, N):
    # int8 operands take vpdpbusd on avx512_vnni: a as signed bytes, b offset to unsigned
    # (b + 128), then 128 * (row sums of a) subtracted; K not a multiple of 4 pads the quads,
    # K = 515 and 1030 cross the 128-quad blocks after which the int32 lanes are widened
    rng = np.random.default_rng(M * 1000 + K + N)
    a = _edge_ints(rng, -128, 127, (M, K))
    b = _edge_ints(rng, -128, 127, (K, N))
    np.testing.assert_array_equal(_core.gemm_i16(a, b, 128, 128), a @ b)


@pytest.mark.parametrize("K", [1, 4, 511, 512, 513, 2051])
def test_dense_int8_extreme_sums(isa, threads, K):
    # every product at its largest: (-128)(-128) = 2^14 per term and 127 * (-128) per term;
    # the offset products (b + 128) * a reach 255 * 128 per term
    for av, bv in ((-128, -128), (127, -128), (-128, 127), (127, 127)):
        a = np.full((9, K), av, dtype=np.int64)
        b = np.full((K, 33), bv, dtype=np.int64)
        np.testing.assert_array_equal(_core.gemm_i16(a, b, 128, 128), np.full((9, 33), av * bv * K))


@pytest.mark.parametrize("amax,bmax", [(32767, 32767), (32768, 32767), (16384, 32767), (32767, 255), (128, 256),
                                       (300, 300), (1, 32768)])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (8, 3, 32), (9, 7, 33), (5, 257, 65), (11, 600, 31)])
def test_dense_int16_overflow_bounds(isa, threads, amax, bmax, M, K, N):
    # vpdpwssd: int32 lanes widened every gemm_i16_pairs(amax, bmax) pairs (1 pair at the
    # full int16 range: 2 * 32767^2 < 2^31); -32768 only where the bound is 32768
    rng = np.random.default_rng(amax + bmax + M + K + N)
    a = _edge_ints(rng, -amax, min(amax, 32767), (M, K))
    b = _edge_ints(rng, -bmax, min(bmax, 32767), (K, N))
    assert _core.gemm_i16_pairs(amax, bmax) > 0
    np.testing.assert_array_equal(_core.gemm_i16(a, b, amax, bmax), a @ b)


def test_dense_int16_all_extremes_one_pair(isa, threads):
    # the largest pair sums: 2 * (-32767)^2 = 2147352578 per int32 lane, widened after each pair
    K = 301
    for av, bv in ((-32767, -32767), (32767, -32767), (-32768, 1)):
        a = np.full((10, K), av, dtype=np.int64)
        b = np.full((K, 35), bv, dtype=np.int64)
        amax, bmax = max(abs(av), 1), max(abs(bv), 1)
        np.testing.assert_array_equal(_core.gemm_i16(a, b, amax, bmax), np.full((10, 35), av * bv * K))


def test_dense_non_contiguous(isa, threads):
    rng = np.random.default_rng(5)
    # (a's range, b's range): int8 x int8 (the vpdpbusd kernel), int16 x int8, int16 x {-1, 0, 1}
    for (alo, ahi), (blo, bhi) in (((-128, 127), (-128, 127)), ((-32767, 32767), (-128, 127)),
                                   ((-32767, 32767), (-1, 1))):
        abound, bbound = max(-alo, ahi), max(-blo, bhi)
        a = _edge_ints(rng, alo, ahi, (30, 70))
        b = _edge_ints(rng, blo, bhi, (90, 50))
        x, y = a[::3, 1::2], b[1:71:2, ::2]  # strided slices (10, 35) @ (35, 25)
        np.testing.assert_array_equal(_core.gemm_i16(x, y, abound, bbound), x @ y)
        x, y = b.T[:, :30], a.T[::-1][:30][:, ::2]  # transposes (50, 30) @ (30, 15)
        np.testing.assert_array_equal(_core.gemm_i16(x, y, bbound, abound), x @ y)


@pytest.mark.parametrize("bits", [8, 9, 16])
def test_public_matmul_through_the_planner(isa, threads, bits):
    # fx.matmul picks the int16 path for these formats; int8 values run the VNNI int8 kernel
    rng = np.random.default_rng(bits)
    fmt = Fixed(bits, 3)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    ra = _edge_ints(rng, lo, hi, (37, 260))
    rb = _edge_ints(rng, lo, hi, (520, 45))[::2]  # non-contiguous rows
    a, b = fx.from_raw(ra, fmt), fx.from_raw(rb, fmt)
    np.testing.assert_array_equal(fx.matmul(a, b).raw, ra @ rb)


# ---------------------------------------------------------------------------------------
# CSR
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("vals,xvals", [((-32768, 1), (-1, 1)), ((-1, 1), (-32768, 32767)),
                                        ((-32768, 32767), (-32768, 32767)), ((-128, 127), (-128, 127))])
@pytest.mark.parametrize("N", [1, 31, 32, 33, 70])
def test_csr_int16_pairs(isa, threads, vals, xvals, N):
    # pairs of a row's stored entries through vpdpwssd on 32-column tiles (x packed in the
    # order the unpack instructions need); rows with 0, 1, 2 and many entries
    rng = np.random.default_rng(N + abs(vals[0]) + xvals[1])
    M, K = 67, 45
    w = rng.choice(np.array(vals + (0, 0, 0), dtype=np.int64), size=(M, K))
    if max(abs(v) for v in vals) * max(abs(v) for v in xvals) * K >= 2**31:
        w[:, 1:] = 0  # keep the caller's row-sum bound below 2^31: one entry per row
    w[0] = 0
    w[1, :] = 0
    w[1, 7] = vals[0]
    w[2, :] = 0
    w[2, [3, 44]] = vals
    x = rng.choice(np.array(xvals, dtype=np.int64), size=(K, N))
    sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(18, 18)))
    got = _core.gemm_csr_i64(sp.indptr, sp.indices, sp.data.raw, K, x, True)
    np.testing.assert_array_equal(got, w @ x)
    xs = np.asfortranarray(x)  # non-contiguous x through the public product
    np.testing.assert_array_equal((sp @ fx.from_raw(xs, Fixed(18, 18))).raw, w @ x)


# ---------------------------------------------------------------------------------------
# BSR
# ---------------------------------------------------------------------------------------
def _bsr_case(rng, R, C, N, lo, hi, xlo, xhi):
    Mb, Kb = 5, max(1, 48 // C)
    w = _edge_ints(rng, lo, hi, (Mb * R, Kb * C))
    keep = rng.random((Mb, Kb)) < 0.4
    keep[1] = False  # an empty block row
    w *= np.repeat(np.repeat(keep, R, axis=0), C, axis=1)
    x = _edge_ints(rng, xlo, xhi, (Kb * C, N))
    return w, x


@pytest.mark.parametrize("blocksize", [(4, 4), (1, 16), (2, 2), (3, 1), (1, 3), (2, 8), (1, 5), (5, 24), (8, 8),
                                       (9, 4), (4, 1), (1, 7), (3, 12)])
@pytest.mark.parametrize("N", [1, 32, 45])
def test_bsr_int8_and_int16_every_block_width(isa, threads, blocksize, N):
    R, C = blocksize
    rng = np.random.default_rng(R * 100 + C + N)
    for lo, hi, xlo, xhi in ((-128, 127, -128, 127), (-32767, 32767, -3, 3), (-1000, 1000, -32767, 32767)):
        w, x = _bsr_case(rng, R, C, N, lo, hi, xlo, xhi)
        sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(16, 16)), blocksize=blocksize)
        out, path = _core.gemm_bsr_i64(sp.indptr, sp.indices, sp.data.raw, x.shape[0], x)
        np.testing.assert_array_equal(out, w @ x)
        pairs = _core.gemm_i16_pairs(max(-lo, hi), max(-xlo, xhi))
        if _runs_vnni(isa):
            want = "i8" if hi <= 127 and C % 4 == 0 else ("i16" if pairs >= (C + 1) // 2 else "i64")
            assert path == want, (blocksize, lo, path)
        xs = x[::-1][::-1]  # a view: the public product copies what it needs
        np.testing.assert_array_equal((sp @ fx.from_raw(xs, Fixed(16, 16))).raw, w @ x)


def test_bsr_int8_sums_at_the_edges(isa, threads):
    # every weight -128 or 127 against x of -128: the offset products (x + 128) * w are 0 and the
    # whole result comes from the correction; then x = 127 (offset 255, the largest byte)
    R, C, Mb, Kb, N = 4, 4, 3, 40, 33
    for wv in (-128, 127):
        for xv in (-128, 127):
            w = np.full((Mb * R, Kb * C), wv, dtype=np.int64)
            x = np.full((Kb * C, N), xv, dtype=np.int64)
            sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(8, 8)), blocksize=(R, C))
            out, _ = _core.gemm_bsr_i64(sp.indptr, sp.indices, sp.data.raw, x.shape[0], x)
            np.testing.assert_array_equal(out, np.full((Mb * R, N), wv * xv * Kb * C))
