"""fx.linear: y = x @ w.T + b, exact or with hls4ml Dense (latency) accumulator semantics.

Expectations come from an independent slow loop over ``_reference.cast_raw`` on Python ints
(bias cast first, then products and running sums in index order), never from the kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _reference as ref

Fixed = fx.Fixed
from strategies import DETERMINISTIC_Q_MODES as Q_MODES, O_MODES  # noqa: E402


def rand_fixed(fmt: Fixed, shape, rng) -> fx.FixedArray:
    lo = -(1 << (fmt.w - 1)) if fmt.signed else 0
    hi = (1 << (fmt.w - 1)) - 1 if fmt.signed else (1 << fmt.w) - 1
    raws = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    flat = raws.reshape(-1)
    if flat.size:
        flat[0] = lo
        flat[-1] = hi
    return fx.from_raw(raws, fmt)


def ref_linear(x: fx.FixedArray, w: fx.FixedArray, b, accum: Fixed) -> list:
    """Python-int model of the Dense layer, one output row per leading index of x."""
    fx_, fw = x.fmt, w.fmt
    pw, pi, ps = fx_.w + fw.w, fx_.i + fw.i, fx_.signed or fw.signed
    K = x.shape[-1]
    N = w.shape[0]
    M = int(np.prod(x.shape[:-1], dtype=np.int64))
    xs = [[int(v) for v in row] for row in x.raw.reshape(M, K)]
    ws = [[int(v) for v in row] for row in w.raw]
    q, o = accum.q.value, accum.o.value
    rows = []
    for xr in xs:
        row = []
        for n in range(N):
            if b is None:
                acc = 0
            else:
                acc = ref.cast_raw(int(b.raw[n]), b.fmt.w, b.fmt.i, b.fmt.signed, accum.w, accum.i,
                                   accum.signed, q, o, accum.n)
            for k in range(K):
                p = ref.cast_raw(xr[k] * ws[n][k], pw, pi, ps, accum.w, accum.i, accum.signed, q, o, accum.n)
                acc = ref.cast_raw(acc + p, accum.w + 1, accum.i + 1, accum.signed, accum.w, accum.i,
                                   accum.signed, q, o, accum.n)
            row.append(acc)
        rows.append(row)
    return rows


def test_linear_exact_matches_python_ints():
    rng = np.random.default_rng(1)
    fa, fw, fb = Fixed(8, 3), Fixed(6, 2), Fixed(10, 5)
    x = rand_fixed(fa, (4, 7), rng)
    w = rand_fixed(fw, (5, 7), rng)
    b = rand_fixed(fb, (5,), rng)
    y = fx.linear(x, w, b)
    # exact value: sum x*w / 2^(f1+f2) + b / 2^fb
    f = y.fmt.f
    for m in range(4):
        for n in range(5):
            num = sum(int(x.raw[m, k]) * int(w.raw[n, k]) for k in range(7))
            want = (num << (f - fa.f - fw.f)) + (int(b.raw[n]) << (f - fb.f))
            assert int(y.raw[m, n]) == want
    assert y.fmt == fx.add(fx.matmul(x, w.T), b).fmt


def test_linear_no_bias_equals_matmul_transpose():
    rng = np.random.default_rng(2)
    x = rand_fixed(Fixed(9, 4), (3, 6), rng)
    w = rand_fixed(Fixed(7, 1), (4, 6), rng)
    y = fx.linear(x, w)
    np.testing.assert_array_equal(y.raw, fx.matmul(x, w.T).raw)


@pytest.mark.parametrize("o", O_MODES)
@pytest.mark.parametrize("q", ("TRN", "RND", "RND_CONV"))
def test_linear_accum_matches_reference(q, o):
    rng = np.random.default_rng(hash((q, o)) % 2**32)
    x = rand_fixed(Fixed(8, 2), (2, 3, 9), rng)
    w = rand_fixed(Fixed(8, 1), (5, 9), rng)
    b = rand_fixed(Fixed(12, 6), (5,), rng)
    acc = Fixed(10, 4, q=q, o=o)
    y = fx.linear(x, w, b, accum=acc)
    assert y.fmt == acc and y.shape == (2, 3, 5)
    assert y.raw.reshape(-1, 5).tolist() == ref_linear(x, w, b, acc)


def test_linear_sat_bias_first_and_order_dependence():
    # accum ap_fixed<4,4,TRN,SAT>: range [-8, 7]. The bias 7 is cast first; then +5 saturates
    # at 7, and -5 gives 2. Adding the bias last would give 0 + 5 - 5 = 0 -> 7 (clipped).
    acc = Fixed(4, 4, o="SAT")
    x = fx.from_raw([1, 1], Fixed(4, 4))
    w = fx.from_raw([[5, -5]], Fixed(4, 4))
    b = fx.from_raw([7], Fixed(8, 8))
    y = fx.linear(x, w, b, accum=acc)
    assert y.raw.tolist() == [2]
    # order matters under SAT: reversing K changes the result
    w2 = fx.from_raw([[-5, 5]], Fixed(4, 4))
    assert fx.linear(x, w2, b, accum=acc).raw.tolist() == [7]
    # the bias itself saturates when cast into accum
    b_big = fx.from_raw([100], Fixed(8, 8))
    assert fx.linear(x, w, b_big, accum=acc).raw.tolist() == [2]


def test_linear_wide_formats_use_python_path():
    rng = np.random.default_rng(3)
    x = rand_fixed(Fixed(40, 10), (2, 3), rng)
    w = rand_fixed(Fixed(40, 10), (2, 3), rng)
    b = rand_fixed(Fixed(20, 10), (2,), rng)
    acc = Fixed(70, 30, q="RND", o="SAT")
    y = fx.linear(x, w, b, accum=acc)
    assert [[int(v) for v in r] for r in y.raw] == ref_linear(x, w, b, acc)


def test_linear_one_d_input_and_out_cast():
    rng = np.random.default_rng(4)
    x = rand_fixed(Fixed(8, 3), (6,), rng)
    w = rand_fixed(Fixed(8, 3), (3, 6), rng)
    acc = Fixed(16, 8, o="SAT")
    y = fx.linear(x, w, None, accum=acc, out=Fixed(6, 4, q="RND", o="SAT"))
    want = ref_linear(x, w, None, acc)[0]
    assert y.shape == (3,)
    assert y.raw.tolist() == [ref.cast_raw(v, 16, 8, True, 6, 4, True, "RND", "SAT", 0) for v in want]


def test_linear_empty_k():
    x = fx.from_raw(np.zeros((2, 0), dtype=np.int64), Fixed(8, 3))
    w = fx.from_raw(np.zeros((3, 0), dtype=np.int64), Fixed(8, 3))
    b = fx.from_raw([1, -2, 3], Fixed(8, 8))
    acc = Fixed(8, 8)
    assert fx.linear(x, w, b, accum=acc).raw.tolist() == [[1, -2, 3]] * 2
    assert fx.linear(x, w, b).to_float().tolist() == [[1.0, -2.0, 3.0]] * 2


def test_linear_shape_errors():
    x = fx.from_raw(np.zeros((2, 4), dtype=np.int64), Fixed(8, 3))
    w = fx.from_raw(np.zeros((3, 5), dtype=np.int64), Fixed(8, 3))
    with pytest.raises(ValueError, match=r"fx.linear: input shape mismatch, x: \(2, 4\), w: \(3, 5\)"):
        fx.linear(x, w)
    w = fx.from_raw(np.zeros((3, 4), dtype=np.int64), Fixed(8, 3))
    b = fx.from_raw([0, 0], Fixed(8, 3))
    with pytest.raises(ValueError, match=r"fx.linear: bias shape mismatch, b: \(2,\), w: \(3, 4\)"):
        fx.linear(x, w, b)
    with pytest.raises(ValueError, match=r"fx.linear: weights must be 2-d"):
        fx.linear(x, fx.from_raw([1, 2, 3, 4], Fixed(8, 3)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_linear_accum_hypothesis(data):
    q = data.draw(st.sampled_from(Q_MODES))
    o = data.draw(st.sampled_from(O_MODES))
    n = data.draw(st.integers(0, 2)) if o in ("WRAP", "WRAP_SM") else 0
    aw = data.draw(st.integers(2, 20))
    ai = data.draw(st.integers(-2, aw + 2))
    signed = True if o == "WRAP_SM" else data.draw(st.booleans())
    acc = Fixed(aw, ai, signed=signed, q=q, o=o, n=min(n, aw - 1))
    fa = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-3, 8)), signed=data.draw(st.booleans()))
    fw = Fixed(data.draw(st.integers(1, 12)), data.draw(st.integers(-3, 8)), signed=data.draw(st.booleans()))
    fb = Fixed(data.draw(st.integers(1, 16)), data.draw(st.integers(-3, 10)), signed=data.draw(st.booleans()))
    K = data.draw(st.integers(0, 6))
    N = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rand_fixed(fa, (2, K), rng)
    w = rand_fixed(fw, (N, K), rng)
    b = rand_fixed(fb, (N,), rng) if data.draw(st.booleans()) else None
    y = fx.linear(x, w, b, accum=acc)
    assert y.raw.tolist() == ref_linear(x, w, b, acc)
