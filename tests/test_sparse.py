"""fx.SparseFixed (CSR): construction, and sp @ x, fx.matmul(sp, x, accum=, out=) and
fx.linear with sparse weights, all identical to the dense results (which tests/test_gemm.py and
tests/test_linear.py check against Python ints and the reference model)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx

Fixed = fx.Fixed


def sparse_raws(fmt: Fixed, shape, density, rng) -> np.ndarray:
    lo = -(1 << (fmt.w - 1)) if fmt.signed else 0
    hi = (1 << (fmt.w - 1)) - 1 if fmt.signed else (1 << fmt.w) - 1
    r = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    r[rng.random(shape) >= density] = 0
    return r


def obj(a):
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
