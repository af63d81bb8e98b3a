"""fx.SparseFixed (CSR): construction, and sp @ x, fx.matmul(sp, x, accum=, out=) and
fx.linear with sparse weights, all identical to the dense results (which tests/test_gemm.py and
tests/test_linear.py check against Python ints and the reference model)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from strategies import multi_threaded

Fixed = fx.Fixed


def sparse_raws(fmt: Fixed, shape, density, rng) -> np.ndarray:
    lo = -(1 << (fmt.w - 1)) if fmt.signed else 0
    hi = (1 << (fmt.w - 1)) - 1 if fmt.signed else (1 << fmt.w) - 1
    r = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    r[rng.random(shape) >= density] = 0
    return r


def obj(a):
    if isinstance(a, list):  # np.asarray would read ints >= 2**63 mixed with small ones as float64
        out = np.empty(len(a), dtype=object)
        out[:] = [int(v) for v in a]
        return out
    a = np.asarray(a)
    out = np.empty(a.size, dtype=object)
    out[:] = [int(v) for v in a.reshape(-1)]
    return out.reshape(a.shape)


def test_from_dense_mask_threshold_and_round_trip():
    rng = np.random.default_rng(1)
    a = fx.from_raw(sparse_raws(Fixed(8, 4), (6, 9), 0.5, rng), Fixed(8, 4))
    sp = fx.SparseFixed.from_dense(a)
    assert sp.nnz == int(np.count_nonzero(a.raw)) and sp.shape == (6, 9)
    np.testing.assert_array_equal(sp.to_dense().raw, a.raw)
    mask = rng.random((6, 9)) < 0.5
    np.testing.assert_array_equal(fx.SparseFixed.from_dense(a, mask=mask).to_dense().raw, np.where(mask, a.raw, 0))
    thr = fx.SparseFixed.from_dense(a, threshold=2.0).to_dense()
    np.testing.assert_array_equal(thr.raw, np.where(np.abs(a.to_float()) > 2.0, a.raw, 0))
    with pytest.raises(ValueError, match=r"mask shape mismatch, a: \(6, 9\), mask: \(2, 2\)"):
        fx.SparseFixed.from_dense(a, mask=np.ones((2, 2), dtype=bool))


def test_from_scipy():
    sps = pytest.importorskip("scipy.sparse")
    m = sps.random(7, 5, density=0.4, random_state=3, format="coo") * 8
    sp = fx.SparseFixed.from_scipy(m, Fixed(10, 5, q="RND", o="SAT"))
    np.testing.assert_array_equal(sp.to_dense().raw, fx.array(m.toarray(), Fixed(10, 5, q="RND", o="SAT")).raw)
    mi = sps.csr_matrix(np.array([[0, 3, -2], [5, 0, 0]]))
    np.testing.assert_array_equal(fx.SparseFixed.from_scipy(mi, Fixed(4, 4)).to_dense().raw, mi.toarray())


@pytest.mark.parametrize("bits", [(8, 8), (16, 12), (30, 30), (40, 30), (60, 20)])
@pytest.mark.parametrize("xshape", [(11, 4), (11,), (11, 1), (11, 0)])
def test_sparse_matmul_equals_dense(bits, xshape):
    rng = np.random.default_rng(sum(bits) + len(xshape))
    fa, fb = Fixed(bits[0], 3), Fixed(bits[1], 2, signed=False)
    a = fx.from_raw(sparse_raws(fa, (7, 11), 0.3, rng), fa)
    x = fx.from_raw(sparse_raws(fb, xshape, 1.0, rng), fb)
    sp = fx.SparseFixed.from_dense(a)
    dense = fx.matmul(a, x)
    for got in (sp @ x, fx.matmul(sp, x)):
        assert got.fmt == dense.fmt and got.shape == dense.shape
        np.testing.assert_array_equal(obj(got.raw), obj(dense.raw))
        np.testing.assert_array_equal(obj(got.raw), np.matmul(obj(a.raw), obj(x.raw)))


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_sparse_accum_and_linear_equal_dense(data):
    q = data.draw(st.sampled_from(("TRN", "RND", "RND_CONV", "STOCH")))
    o = data.draw(st.sampled_from(("WRAP", "SAT", "SAT_SYM", "WRAP_SM")))
    aw = data.draw(st.integers(2, 30))
    fa = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-2, 8)))
    fx_ = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-2, 8)), signed=data.draw(st.booleans()))
    af = fa.f + fx_.f + data.draw(st.integers(-3, 3))
    acc = Fixed(aw, aw - af, q=q, o=o)
    N, K, M = data.draw(st.integers(1, 5)), data.draw(st.integers(0, 8)), data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = fx.from_raw(sparse_raws(fa, (N, K), data.draw(st.sampled_from((0.0, 0.3, 1.0))), rng), fa)
    x = fx.from_raw(sparse_raws(fx_, (M, K), 1.0, rng), fx_)
    b = fx.from_raw(sparse_raws(Fixed(10, 6), (N,), 1.0, rng), Fixed(10, 6)) if data.draw(st.booleans()) else None
    sp = fx.SparseFixed.from_dense(w)
    seed = data.draw(st.integers(0, 2**64 - 1))
    got = fx.matmul(sp, x.T, accum=acc, seed=seed, out=Fixed(8, 4, o="SAT"))
    want = fx.matmul(w, x.T, accum=acc, seed=seed, out=Fixed(8, 4, o="SAT"))
    np.testing.assert_array_equal(got.raw, want.raw)
    for a_ in (None, acc):
        got = fx.linear(x, sp, b, accum=a_, seed=seed)
        want = fx.linear(x, w, b, accum=a_, seed=seed)
        assert got.fmt == want.fmt
        np.testing.assert_array_equal(got.raw, want.raw)


def test_sparse_linear_one_d_and_errors():
    rng = np.random.default_rng(5)
    w = fx.from_raw(sparse_raws(Fixed(8, 3), (4, 6), 0.5, rng), Fixed(8, 3))
    x = fx.from_raw(sparse_raws(Fixed(8, 3), (6,), 1.0, rng), Fixed(8, 3))
    sp = fx.SparseFixed.from_dense(w)
    np.testing.assert_array_equal(fx.linear(x, sp).raw, fx.linear(x, w).raw)
    with pytest.raises(ValueError, match=r"fx.matmul: input shape mismatch, lhs: \(4, 6\), rhs: \(5,\)"):
        sp @ fx.from_raw([1, 2, 3, 4, 5], Fixed(8, 8))
    with pytest.raises(ValueError, match=r"fx.linear: input shape mismatch, x: \(5,\), w: \(4, 6\)"):
        fx.linear(fx.from_raw([1, 2, 3, 4, 5], Fixed(8, 8)), sp)


@pytest.mark.parametrize("isa", ["scalar", "avx2"])
@pytest.mark.parametrize("xmax", [2**15, 2**16, 2**31 - 1])
def test_sparse_int32_lane_boundary(isa, xmax):
    # rows of 4 entries of -2^14 times x = +-xmax: row sums reach 2^16 * xmax (int32 lanes only
    # while that stays below 2^31), compared with Python ints under each ISA
    try:
        cur = fx.get_isa()
        fx.set_isa(isa)
    except ValueError:
        pytest.skip(f"{isa} not supported here")
    try:
        w = np.zeros((3, 8), dtype=np.int64)
        w[:, :4] = -(2**14)
        w[1, 5] = 2**14 - 1
        x = np.full((8, 9), xmax, dtype=np.int64)
        x[2, ::2] = -xmax
        sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(15, 15)))
        xf = fx.from_raw(x, Fixed(33, 33))
        got = (sp @ xf).raw
        np.testing.assert_array_equal(obj(got), np.matmul(obj(w), obj(x)))
    finally:
        fx.set_isa(cur)


@pytest.mark.parametrize("isa", ["scalar", "avx2"])
@pytest.mark.parametrize("vals,xvals", [((-32768, 1), (-1, 1)), ((-1, 1), (-32768, 32767)),
                                        ((-32768, 32767), (-32768, 32767)), ((-32769, 5), (-1, 1)),
                                        ((-3, 3), (32768, -5)), ((-128, 127), (-128, 127))])
@pytest.mark.parametrize("N", [1, 16, 37])
def test_csr_int16_pair_kernel(isa, vals, xvals, N):
    # the int32-lane CSR kernels: int16 pairs of a row's entries when values and x fit int16
    # (-32768 included), int32 otherwise; rows with 0, 1 (odd: a half pair), 2 and many entries;
    # the row-sum bound is the caller's (kept below 2^31 here)
    cur = with_isa(isa)
    try:
        rng = np.random.default_rng(N + abs(vals[0]))
        M, K = 67, 40
        w = rng.choice(np.array(vals + (0, 0, 0), dtype=np.int64), size=(M, K))
        if max(abs(v) for v in vals) * max(abs(v) for v in xvals) * K >= 2**31:
            w[:, 1:] = 0  # keep the bound: one entry per row (and row 2 below)
        w[0] = 0
        w[1, :] = 0
        w[1, 7] = vals[0]
        w[2, :] = 0
        w[2, [3, 39]] = vals
        x = rng.choice(np.array(xvals, dtype=np.int64), size=(K, N))
        sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(18, 18)))
        got = fx._core.gemm_csr_i64(sp.indptr, sp.indices, sp.data.raw, K, x, True)
        np.testing.assert_array_equal(got, w @ x)
        np.testing.assert_array_equal((sp @ fx.from_raw(x, Fixed(18, 18))).raw, w @ x)
    finally:
        fx.set_isa(cur)


# ---------------------------------------------------------------------------------------
# block-sparse (BSR)
# ---------------------------------------------------------------------------------------
def block_raws(fmt: Fixed, shape, blocksize, block_density, rng, entry_density=1.0) -> np.ndarray:
    """Random raws whose nonzeros sit in randomly kept blocks (some entries zero inside)."""
    R, C = blocksize
    r = sparse_raws(fmt, shape, entry_density, rng)
    keep = rng.random((shape[0] // R, shape[1] // C)) < block_density
    return r * np.repeat(np.repeat(keep, R, axis=0), C, axis=1)


def with_isa(isa):
    try:
        cur = fx.get_isa()
        fx.set_isa(isa)
    except ValueError:
        pytest.skip(f"{isa} not supported here")
    return cur


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_bsr_matmul_equals_dense(data):
    R, C = data.draw(st.sampled_from([(1, 1), (4, 4), (1, 16), (2, 8), (16, 1), (3, 5), (2, 1), (1, 3)]))
    Mb, Kb = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))
    wa = data.draw(st.sampled_from([4, 8, 12, 16, 17, 24, 32, 40]))
    xw = data.draw(st.sampled_from([4, 8, 16, 17, 30]))
    fa = Fixed(wa, data.draw(st.integers(-3, wa + 2)))
    fb = Fixed(xw, data.draw(st.integers(-3, xw + 2)), signed=data.draw(st.booleans()))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = block_raws(fa, (Mb * R, Kb * C), (R, C), data.draw(st.sampled_from([0.0, 0.3, 0.7, 1.0])), rng,
                   data.draw(st.sampled_from([0.5, 1.0])))
    xshape = data.draw(st.sampled_from([(Kb * C, 5), (Kb * C,), (Kb * C, 1), (Kb * C, 0), (Kb * C, 33)]))
    x = fx.from_raw(sparse_raws(fb, xshape, 1.0, rng), fb)
    if data.draw(st.booleans()) and x.ndim == 2:  # a non-contiguous rhs
        x = fx.from_raw(sparse_raws(fb, xshape[::-1], 1.0, rng), fb).T
    a = fx.from_raw(w, fa)
    sp = fx.SparseFixed.from_dense(a, blocksize=(R, C))
    assert sp.format == "bsr" and sp.blocksize == (R, C)
    np.testing.assert_array_equal(sp.to_dense().raw, w)
    cur = with_isa(data.draw(st.sampled_from(["scalar", "avx2"])))
    try:
        got = sp @ x
    finally:
        fx.set_isa(cur)
    dense = fx.matmul(a, x)
    assert got.fmt == dense.fmt and got.shape == dense.shape
    np.testing.assert_array_equal(obj(got.raw), obj(dense.raw))
    np.testing.assert_array_equal(obj(got.raw), np.matmul(obj(w), obj(x.raw)))


@pytest.mark.parametrize("isa", ["scalar", "avx2"])
@pytest.mark.parametrize("blocksize", [(4, 4), (1, 16), (2, 2), (3, 1), (1, 3), (2, 8), (1, 5), (5, 24)])
@pytest.mark.parametrize("xmax", [2**14 - 1, 2**15 - 1, 2**15, 2**16])
def test_bsr_int16_overflow_boundary(isa, blocksize, xmax):
    # all products +-(2**15-1) * xmax with the same sign: int32 lanes would overflow after a few
    # pairs, so the kernel must widen in time (or take the 64-bit path); Python ints decide.
    R, C = blocksize
    cur = with_isa(isa)
    try:
        Mb, Kb = 3, 48 // C
        w = np.full((Mb * R, Kb * C), -(2**15 - 1), dtype=np.int64)
        w[R:2 * R] = 2**15 - 1
        w[-1, ::2] = 0  # an explicit zero inside stored blocks
        x = np.full((Kb * C, 40), -xmax, dtype=np.int64)
        x[:, 1::3] = xmax
        sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(16, 16)), blocksize=blocksize)
        got = sp @ fx.from_raw(x, Fixed(18, 18))
        np.testing.assert_array_equal(obj(got.raw), np.matmul(obj(w), obj(x)))
        # the kernel itself, and which path it reports
        out, path = fx._core.gemm_bsr_i64(sp.indptr, sp.indices, sp.data.raw, x.shape[0], x)
        np.testing.assert_array_equal(out, np.matmul(w, x))
        pairs = fx._core.gemm_i16_pairs(2**15 - 1, xmax) if xmax <= 32767 else 0
        # every level above scalar has an int16 BSR kernel (avx512_vnni's own takes int16 values
        # under the same pair bound; these are not int8, so its int8 quads never apply)
        assert path == ("i16" if isa != "scalar" and pairs >= (C + 1) // 2 else "i64")
    finally:
        fx.set_isa(cur)


@pytest.mark.parametrize("blocksize", [(4, 4), (1, 16), (2, 2), (3, 1), (1, 3), (2, 8), (1, 5), (5, 24), (8, 8),
                                       (4, 1), (1, 7)])
@pytest.mark.parametrize("N", [1, 16, 40])
def test_bsr_int16_kernel_every_block_width(isa, blocksize, N):
    # 8-bit values keep every block shape on the int16 kernel (one template per pairs-per-row
    # count: 1, 2, 4, 8 and the generic loop); random block sparsity, ragged column tiles
    R, C = blocksize
    cur = with_isa(isa)
    try:
        rng = np.random.default_rng(R * 100 + C + N)
        Mb, Kb = 5, max(1, 48 // C)
        w = rng.integers(-128, 127, size=(Mb * R, Kb * C), endpoint=True)
        keep = rng.random((Mb, Kb)) < 0.4
        keep[1] = False  # an empty block row
        w *= np.repeat(np.repeat(keep, R, axis=0), C, axis=1)
        x = rng.integers(-128, 127, size=(Kb * C, N), endpoint=True)
        sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(8, 8)), blocksize=blocksize)
        out, path = fx._core.gemm_bsr_i64(sp.indptr, sp.indices, sp.data.raw, x.shape[0], x)
        # avx512_vnni: int8 quads (vpdpbusd) when the block width is a multiple of 4, else int16 pairs
        want = "i64" if isa == "scalar" else "i8" if isa == "avx512_vnni" and C % 4 == 0 else "i16"
        assert path == want
        np.testing.assert_array_equal(out, w @ x)
        np.testing.assert_array_equal((sp @ fx.from_raw(x, Fixed(8, 8))).raw, w @ x)
    finally:
        fx.set_isa(cur)


def test_bsr_empty_rows_all_zero_and_full():
    rng = np.random.default_rng(3)
    f = Fixed(8, 3)
    x = fx.from_raw(sparse_raws(f, (12, 7), 1.0, rng), f)
    w = sparse_raws(f, (8, 12), 1.0, rng)
    w[0:4] = 0  # an empty block row
    w[:, 4:8] = 0  # an empty block column
    # a 2 x 3 grid of 4x4 blocks: block row 0 and block column 1 are empty
    for raw, indptr in ((w, [0, 0, 2]), (np.zeros((8, 12), dtype=np.int64), [0, 0, 0]),
                        (np.where(w == 0, 1, w), [0, 3, 6])):
        a = fx.from_raw(raw, f)
        sp = fx.SparseFixed.from_dense(a, blocksize=(4, 4))
        np.testing.assert_array_equal(sp.indptr, indptr)
        assert sp.nnzb == indptr[-1] and sp.nnz == 16 * indptr[-1] and sp.block_density == indptr[-1] / 6
        np.testing.assert_array_equal((sp @ x).raw, fx.matmul(a, x).raw)
        np.testing.assert_array_equal((sp @ x).raw, raw @ x.raw)
        np.testing.assert_array_equal(fx.linear(x.T, sp).raw, fx.linear(x.T, a).raw)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_bsr_accum_and_linear_equal_dense_and_csr(data):
    q = data.draw(st.sampled_from(("TRN", "RND", "RND_CONV", "STOCH")))
    o = data.draw(st.sampled_from(("WRAP", "SAT", "SAT_SYM", "WRAP_SM")))
    aw = data.draw(st.integers(2, 30))
    fa = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-2, 8)))
    fx_ = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-2, 8)), signed=data.draw(st.booleans()))
    af = fa.f + fx_.f + data.draw(st.integers(-3, 3))
    acc = Fixed(aw, aw - af, q=q, o=o)
    R, C = data.draw(st.sampled_from([(1, 1), (2, 2), (1, 4), (4, 1), (2, 3)]))
    N, K, M = R * data.draw(st.integers(1, 3)), C * data.draw(st.integers(0, 4)), data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = fx.from_raw(block_raws(fa, (N, K), (R, C), data.draw(st.sampled_from((0.0, 0.4, 1.0))), rng, 0.7), fa)
    x = fx.from_raw(sparse_raws(fx_, (M, K), 1.0, rng), fx_)
    b = fx.from_raw(sparse_raws(Fixed(10, 6), (N,), 1.0, rng), Fixed(10, 6)) if data.draw(st.booleans()) else None
    bsr = fx.SparseFixed.from_dense(w, blocksize=(R, C))
    csr = fx.SparseFixed.from_dense(w)
    seed = data.draw(st.integers(0, 2**64 - 1))
    want = fx.matmul(w, x.T, accum=acc, seed=seed, out=Fixed(8, 4, o="SAT"))
    for sp in (bsr, csr):
        got = fx.matmul(sp, x.T, accum=acc, seed=seed, out=Fixed(8, 4, o="SAT"))
        np.testing.assert_array_equal(got.raw, want.raw)
    for a_ in (None, acc):
        want = fx.linear(x, w, b, accum=a_, seed=seed)
        got = fx.linear(x, bsr, b, accum=a_, seed=seed)
        assert got.fmt == want.fmt
        np.testing.assert_array_equal(got.raw, want.raw)


def test_bsr_wrap_accumulator_overflows_like_dense():
    # a narrow WRAP accumulator that overflows many times: the BSR kernel's sums modulo 2^64,
    # shifted and wrapped, equal the sequential dense accumulation (checked by test_linear.py
    # against the reference); also for 64-bit unsigned operands (uint64 raws).
    rng = np.random.default_rng(8)
    for fa, fb in ((Fixed(16, 4), Fixed(16, 2)), (Fixed(64, 64, signed=False), Fixed(8, 8))):
        if fa.w == 64:  # uint64 raws up to 2**64 - 1
            keep = np.repeat(np.repeat(rng.random((4, 4)) < 0.5, 2, axis=0), 8, axis=1)
            raw = rng.integers(0, 2**64 - 1, size=(8, 32), dtype=np.uint64, endpoint=True) * keep
            raw[0, :8] = 2**64 - 1
        else:
            raw = block_raws(fa, (8, 32), (2, 8), 0.5, rng)
        w = fx.from_raw(raw, fa)
        x = fx.from_raw(sparse_raws(fb, (32, 6), 1.0, rng), fb)
        acc = Fixed(12, 12 - fa.f - fb.f)
        sp = fx.SparseFixed.from_dense(w, blocksize=(2, 8))
        np.testing.assert_array_equal(fx.matmul(sp, x, accum=acc).raw, fx.matmul(w, x, accum=acc).raw)
        np.testing.assert_array_equal(fx.linear(x.T, sp, accum=acc).raw, fx.linear(x.T, w, accum=acc).raw)
        np.testing.assert_array_equal(obj((sp @ x).raw), obj(fx.matmul(w, x).raw))


def test_bsr_wide_values_fall_back_exactly():
    fa = Fixed(100, 50)
    w = np.zeros((4, 4), dtype=object)
    w[0, :2] = [2**98, -(2**97) + 3]
    a = fx.from_raw(w, fa)
    sp = fx.SparseFixed.from_dense(a, blocksize=(2, 2))
    x = fx.from_raw(np.arange(-8, 8).reshape(4, 4), Fixed(8, 4))
    np.testing.assert_array_equal(obj((sp @ x).raw), np.matmul(obj(w), obj(x.raw)))


def test_bsr_mask_threshold_and_conversions():
    rng = np.random.default_rng(4)
    a = fx.from_raw(sparse_raws(Fixed(8, 4), (8, 12), 0.6, rng), Fixed(8, 4))
    mask = fx.prune.block(a, 0.5, block=(2, 3))
    sp = fx.SparseFixed.from_dense(a, mask=mask, blocksize=(2, 3))
    np.testing.assert_array_equal(sp.to_dense().raw, np.where(mask, a.raw, 0))
    assert sp.nnzb <= 8
    thr = fx.SparseFixed.from_dense(a, threshold=2.0, blocksize=(4, 4))
    np.testing.assert_array_equal(thr.to_dense().raw, np.where(np.abs(a.to_float()) > 2.0, a.raw, 0))
    np.testing.assert_array_equal(sp.tocsr().to_dense().raw, sp.to_dense().raw)
    assert sp.tocsr().format == "csr" and sp.tocsr().nnz == sp.count_nonzero()
    np.testing.assert_array_equal(sp.tocsr().tobsr((1, 4)).to_dense().raw, sp.to_dense().raw)
    assert "bsr" in repr(sp) and "blocksize=(2, 3)" in repr(sp)


def test_bsr_from_scipy_zero_copy_and_quantized():
    sps = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(6)
    w = block_raws(Fixed(8, 8), (8, 12), (2, 4), 0.5, rng)
    w[0:2, 0:4] = 7  # at least one block
    for cls in (sps.bsr_array, sps.bsr_matrix):
        m = cls(w, blocksize=(2, 4))
        assert m.data.dtype == np.int64
        sp = fx.SparseFixed.from_scipy(m, Fixed(8, 8))
        assert sp.format == "bsr" and sp.blocksize == (2, 4)
        assert np.shares_memory(sp.data.raw, m.data)  # zero-copy stored integers
        np.testing.assert_array_equal(sp.to_dense().raw, w)
        np.testing.assert_array_equal(sp.to_scipy().toarray(), w)
    with pytest.raises(ValueError, match=r"fx.from_raw: raw value .* is outside ap_fixed<4,4>'s range"):
        fx.SparseFixed.from_scipy(sps.bsr_array(w, blocksize=(2, 4)), Fixed(4, 4))
    # float data are quantized with the format's modes; an explicit zero block is dropped
    mf = sps.bsr_array(w / 8.0 + 0.03, blocksize=(2, 4))
    mf.data[0] = 0.0
    sp = fx.SparseFixed.from_scipy(mf, Fixed(10, 5, q="RND", o="SAT"))
    dense = mf.toarray()
    np.testing.assert_array_equal(sp.to_dense().raw, fx.array(dense, Fixed(10, 5, q="RND", o="SAT")).raw)
    assert sp.nnzb == mf.data.shape[0] - 1
    # any scipy format with a blocksize becomes BSR; duplicates are summed first
    coo = sps.coo_array((np.array([1, 2, 5]), (np.array([0, 0, 3]), np.array([1, 1, 5]))), shape=(4, 8))
    sp = fx.SparseFixed.from_scipy(coo, Fixed(8, 8), blocksize=(2, 2))
    np.testing.assert_array_equal(sp.to_dense().raw, coo.toarray())
    assert sp.nnzb == 2
    assert fx.SparseFixed.from_scipy(coo, Fixed(8, 8)).to_dense().raw[0, 1] == 3
    with pytest.raises(ValueError, match=r"fx.SparseFixed.from_scipy: shape \(4, 8\) is not divisible by the blocksize \(3, 2\)"):
        fx.SparseFixed.from_scipy(coo, Fixed(8, 8), blocksize=(3, 2))


def test_bsr_errors():
    a = fx.from_raw(np.ones((6, 8), dtype=np.int64), Fixed(8, 8))
    with pytest.raises(ValueError, match=r"fx.SparseFixed.from_dense: shape \(6, 8\) is not divisible by the blocksize \(4, 4\)"):
        fx.SparseFixed.from_dense(a, blocksize=(4, 4))
    with pytest.raises(ValueError, match=r"blocksize must be a pair of positive integers such as \(4, 4\), got 4"):
        fx.SparseFixed.from_dense(a, blocksize=4)
    with pytest.raises(ValueError, match=r"blocksize must be a pair of positive integers.*got \(2, 0\)"):
        fx.SparseFixed.from_dense(a, blocksize=(2, 0))
    sp = fx.SparseFixed.from_dense(a, blocksize=(2, 4))
    with pytest.raises(ValueError, match=r"fx.matmul: input shape mismatch, lhs: \(6, 8\), rhs: \(7, 2\)"):
        sp @ fx.from_raw(np.ones((7, 2), dtype=np.int64), Fixed(8, 8))
    with pytest.raises(ValueError, match=r"inconsistent BSR arrays for shape \(6, 8\)"):
        fx.SparseFixed(sp.indptr, sp.indices, sp.data.raw[:, :1], (6, 8), Fixed(8, 8), blocksize=(2, 4))
    with pytest.raises(ValueError, match=r"block column indices must lie in \[0, 2\)"):
        fx.SparseFixed(sp.indptr, sp.indices + 1, sp.data.raw, (6, 8), Fixed(8, 8), blocksize=(2, 4))
    with pytest.raises(ValueError, match=r"duplicate blocks in a row"):
        fx.SparseFixed([0, 2, 2, 2], [1, 1], sp.data.raw[:2], (6, 8), Fixed(8, 8), blocksize=(2, 4))
    with pytest.raises(ValueError, match=r"gemm_bsr_i64: block column index 5 outside \[0, 2\)"):
        fx._core.gemm_bsr_i64(sp.indptr, sp.indices * 0 + 5, sp.data.raw, 8, np.zeros((8, 1), dtype=np.int64))
    bad = sp.indices.copy()
    bad[-1] = -1  # the first offender is named, after the vectorized range check
    with pytest.raises(ValueError, match=r"gemm_bsr_i64: block column index -1 outside \[0, 2\)"):
        fx._core.gemm_bsr_i64(sp.indptr, bad, sp.data.raw, 8, np.zeros((8, 1), dtype=np.int64))


def test_csr_kernel_rejects_bad_indices():
    sp = fx.SparseFixed.from_dense(fx.from_raw(np.eye(5, dtype=np.int64), Fixed(8, 8)))
    x = np.ones((5, 3), dtype=np.int64)
    for k, bad in ((2, 5), (4, -3)):
        idx = sp.indices.copy()
        idx[k] = bad
        with pytest.raises(ValueError, match=rf"gemm_csr_i64: column index {bad} outside \[0, 5\)"):
            fx._core.gemm_csr_i64(sp.indptr, idx, sp.data.raw, 5, x, True)


def test_bsr_threads_agree():
    rng = np.random.default_rng(10)
    w = block_raws(Fixed(8, 8), (64, 64), (4, 4), 0.4, rng)
    x = fx.from_raw(sparse_raws(Fixed(8, 8), (64, 300), 1.0, rng), Fixed(8, 8))
    sp = fx.SparseFixed.from_dense(fx.from_raw(w, Fixed(8, 8)), blocksize=(4, 4))
    want = w @ x.raw
    old = fx.get_num_threads()
    try:
        for nt in (1, 2):
            fx.set_num_threads(nt)
            for r in multi_threaded(lambda i: (sp @ x).raw, 4):
                np.testing.assert_array_equal(r, want)
    finally:
        fx.set_num_threads(old)


@pytest.mark.parametrize("blocksize", [None, (1, 2)])
def test_sparse_uint64_weights_through_linear_with_accum(blocksize):
    """issue 22: a 64-bit unsigned SparseFixed weight above 2**63 reached the C++ accumulator
    kernel as a uint64 array ('incompatible function arguments'); it matches the dense weight."""
    w = fx.from_raw(np.array([[2**63 + 5, 3]], np.uint64), Fixed(64, -4, signed=False))
    x = fx.from_raw([[1, 2]], Fixed(14, 2, signed=False))
    sp = fx.SparseFixed.from_dense(w, blocksize=blocksize)
    assert sp.to_dense().raw.tolist() == w.raw.tolist()
    for accum in (Fixed(20, 10, q="TRN", o="SAT"), Fixed(90, -30, q="RND"), Fixed(40, 4, o="WRAP")):
        got, want = fx.linear(x, sp, accum=accum), fx.linear(x, w, accum=accum)
        assert got.fmt == want.fmt == accum
        assert got.raw.tolist() == want.raw.tolist()
    assert fx.linear(x, sp).raw.tolist() == fx.linear(x, w).raw.tolist() == [[2**63 + 11]]
    assert (sp @ x.T).raw.tolist() == (w @ x.T).raw.tolist()


def test_sparse_refuses_float_indices():
    """issue 22: float index arrays were truncated ([0.9] became 0)."""
    with pytest.raises(TypeError, match=r"fx\.SparseFixed: indices must be integers, got an array of dtype float64"):
        fx.SparseFixed([0, 1], [0.9], [5], (1, 2), "ap_fixed<8,8>")
    with pytest.raises(TypeError, match=r"fx\.SparseFixed: indptr must be integers, got an array of dtype float32"):
        fx.SparseFixed(np.array([0, 1], np.float32), [1], [5], (1, 2), "ap_fixed<8,8>")
    with pytest.raises(TypeError, match=r"fx\.SparseFixed: indices must be integers, got an array of dtype bool"):
        fx.SparseFixed([0, 1], [True], [5], (1, 2), "ap_fixed<8,8>")
    empty = fx.SparseFixed([0, 0], [], [], (1, 2), "ap_fixed<8,8>")  # [] is float64 to NumPy: an empty index
    assert empty.to_dense().raw.tolist() == [[0, 0]]
    ok = fx.SparseFixed(np.array([0, 1], np.uint32), np.array([1], np.int16), [5], (1, 2), "ap_fixed<8,8>")
    assert ok.to_dense().raw.tolist() == [[0, 5]]


def test_sparse_kernels_check_their_own_bounds():
    """issue 22: gemm_csr_i64's small flag (int32 lanes) and gemm_bsr_i64's Mb * R were trusted."""
    ip, ix = np.array([0, 2], np.int64), np.array([0, 1], np.int64)
    vals = np.array([2**15, 2**15], np.int64)
    x = np.full((2, 1), 2**15, np.int64)
    with pytest.raises(ValueError, match=r"gemm_csr_i64: small=True but a row's sum of \|value\| times max\|x\| = "
                                         r"65536 \* 32768 is not below 2\*\*31"):
        fx._core.gemm_csr_i64(ip, ix, vals, 2, x, True)
    assert fx._core.gemm_csr_i64(ip, ix, vals, 2, x, False).tolist() == [[2**31]]
    assert fx._core.gemm_csr_i64(ip, ix, vals, 2, x - 1, True).tolist() == [[2**16 * (2**15 - 1)]]
    blocks = np.zeros((0, 2**59, 1), np.int64)  # an empty array may claim a huge block shape
    with pytest.raises(ValueError, match=r"gemm_bsr_i64: Mb \* R = 16 \* 576460752303423488 overflows int64"):
        fx._core.gemm_bsr_i64(np.zeros(17, np.int64), np.zeros(0, np.int64), blocks, 1, np.zeros((1, 1), np.int64))


# -- the transpose: sp.T and x @ sp.T -----------------------------------------------------------
@pytest.mark.parametrize("blocksize", [None, (2, 3), (1, 4), (4, 1)])
def test_transpose_equals_the_dense_transpose(blocksize):
    rng = np.random.default_rng(21)
    for fmt in (Fixed(8, 3), Fixed(6, 6, signed=False), Fixed(64, 10), Fixed(100, 40)):
        raw = sparse_raws(fmt, (8, 12), 0.3, rng) if fmt.w <= 64 else obj(sparse_raws(Fixed(60, 0), (8, 12), 0.3, rng))
        d = fx.from_raw(raw, fmt)
        sp = fx.SparseFixed.from_dense(d, blocksize=blocksize)
        t = sp.T
        assert t.shape == (12, 8) and t.fmt == fmt and t.format == sp.format
        assert t.blocksize == (None if blocksize is None else blocksize[::-1])
        np.testing.assert_array_equal(obj(t.to_dense().raw), obj(np.asarray(d.raw).T))
        np.testing.assert_array_equal(obj(t.T.to_dense().raw), obj(d.raw))
        if blocksize is None and fmt.w <= 64:  # scipy's transpose, where it is installed
            sps = pytest.importorskip("scipy.sparse")
            ref = sps.csr_array((np.asarray(sp.data.raw, dtype=np.int64), sp.indices, sp.indptr), shape=sp.shape).T.tocsr()
            ref.sort_indices()
            np.testing.assert_array_equal(t.indptr, ref.indptr)
            np.testing.assert_array_equal(t.indices, ref.indices)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_dense_times_sparse_transpose_equals_dense(data):
    """x @ sp.T (and fx.matmul(x, sp.T, accum=, out=)) equals x @ d.T bit for bit, and the exact
    product equals Python-int arithmetic."""
    w = data.draw(st.integers(2, 16))
    fw = Fixed(w, data.draw(st.integers(-2, w + 2)), signed=data.draw(st.booleans()))
    fx_ = Fixed(data.draw(st.integers(2, 16)), data.draw(st.integers(-2, 8)), signed=data.draw(st.booleans()))
    N, K = data.draw(st.integers(1, 9)), data.draw(st.sampled_from([2, 4, 6, 12]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    d = fx.from_raw(sparse_raws(fw, (N, K), data.draw(st.floats(0, 1)), rng), fw)
    bs = data.draw(st.sampled_from([None, (1, 2), (N, 2)]))
    sp = fx.SparseFixed.from_dense(d, blocksize=bs)
    one_d = data.draw(st.booleans())
    xs = (K,) if one_d else (data.draw(st.integers(1, 5)), K)
    x = fx.from_raw(sparse_raws(fx_, xs, 1.0, rng), fx_)
    got, want = x @ sp.T, x @ d.T
    assert got.fmt == want.fmt and got.shape == want.shape
    np.testing.assert_array_equal(got.raw, want.raw)
    xr, dr = obj(x.raw), obj(d.raw)
    np.testing.assert_array_equal(obj(got.raw), obj(np.dot(xr, dr.T)))  # Python ints: exact
    acc = Fixed(data.draw(st.integers(4, 24)), data.draw(st.integers(1, 10)),
                q=data.draw(st.sampled_from(["TRN", "RND", "STOCH"])), o=data.draw(st.sampled_from(["WRAP", "SAT"])))
    out = data.draw(st.sampled_from([None, Fixed(8, 4, q="RND", o="SAT")]))
    got = fx.matmul(x, sp.T, accum=acc, out=out, seed=7)
    want = fx.matmul(x, d.T, accum=acc, out=out, seed=7)
    assert got.fmt == want.fmt
    np.testing.assert_array_equal(got.raw, want.raw)


def test_dense_times_sparse_errors():
    sp = fx.SparseFixed.from_dense(fx.array(np.eye(3), "ap_fixed<8,4>"))
    with pytest.raises(ValueError, match=r"fx.matmul: input shape mismatch, lhs: \(2, 4\), rhs: \(3, 3\)"):
        fx.from_raw(np.ones((2, 4), dtype=np.int64), "ap_fixed<8,4>") @ sp.T
    with pytest.raises(ValueError, match=r"fx.matmul: a SparseFixed rhs needs a 1-d or 2-d lhs, lhs: \(2, 2, 3\)"):
        fx.from_raw(np.ones((2, 2, 3), dtype=np.int64), "ap_fixed<8,4>") @ sp
