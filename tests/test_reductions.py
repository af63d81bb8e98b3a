"""FixedArray reductions and products: sum, cumsum, max, min, argmax, argmin, matmul/@, dot,
outer, and the accumulator semantics of ``fx.matmul(a, b, accum=..., out=...)``; joining
(where, concatenate, stack) across formats; the same kernels from several threads.

Exact results are checked against NumPy on object arrays of Python ints (the stored
integers) or ``fractions.Fraction`` values; accumulator results against a slow, independent
loop over ``_reference.cast_raw`` written here.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _reference as ref

Fixed = fx.Fixed

from strategies import O_MODES, Q_MODES, multi_threaded  # noqa: E402  (the lists of fx.QMode / fx.OMode)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
from _ints import obj, pyints  # noqa: E402


def as_obj(a: np.ndarray) -> np.ndarray:
    """An object array of Python ints from any integer-valued array or scalar."""
    a = np.asarray(a, dtype=object)
    return obj([int(v) for v in a.reshape(-1)], a.shape)


def values(x: fx.FixedArray) -> np.ndarray:
    flat = [ref.value_of(int(r), x.fmt.w, x.fmt.i) for r in x.raw.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(x.shape)


def random_raws(fmt: Fixed, shape, rng, extremes=True) -> np.ndarray:
    """Python-int raws: uniform over the range, with the range edges mixed in."""
    n = int(np.prod(shape, dtype=np.int64))
    span = fmt.raw_max - fmt.raw_min + 1
    vals = [fmt.raw_min + int.from_bytes(rng.bytes(fmt.w // 8 + 9), "little") % span for _ in range(n)]
    if extremes and n >= 4:
        vals[0], vals[1], vals[2] = fmt.raw_min, fmt.raw_max, 0
    return obj(vals, shape)


def make(raws: np.ndarray, fmt: Fixed) -> fx.FixedArray:
    return fx.from_raw(raws, fmt)


def growth(k: int) -> int:
    return math.ceil(math.log2(k)) if k > 1 else 0


# --------------------------------------------------------------------------------------
# sum, cumsum, max, min, argmax, argmin
# --------------------------------------------------------------------------------------
FORMATS = [Fixed(10, 4), Fixed(12, 3, signed=False), Fixed(60, 10), Fixed(63, 0, signed=False),
           Fixed(64, 64, signed=False), Fixed(64, -8), Fixed(100, 30), Fixed(90, 5, signed=False)]
AXES = [None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1, 2), ()]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("axis", AXES, ids=repr)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_exact_and_grows(fmt, axis, keepdims):
    rng = np.random.default_rng(fmt.w * 7 + fmt.i)
    r = random_raws(fmt, (3, 4, 5), rng)
    a = make(r, fmt)
    got = a.sum(axis=axis, keepdims=keepdims)
    axes = range(3) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    k = math.prod(r.shape[ax] for ax in axes)  # number of summed terms (1 for axis=())
    g = growth(k)
    assert got.fmt == Fixed(fmt.w + g, fmt.i + g, signed=fmt.signed)
    exp = as_obj(np.sum(r, axis=axis, keepdims=keepdims))
    assert got.shape == exp.shape
    np.testing.assert_array_equal(pyints(got), exp)
    if got.fmt.w > 64:
        assert got.raw.dtype == object
    np.testing.assert_array_equal(pyints(np.sum(a, axis=axis, keepdims=keepdims)), exp)


@pytest.mark.parametrize("fmt", [Fixed(10, 4), Fixed(7, 9, signed=False, q="RND", o="SAT")], ids=str)
def test_sum_over_one_term_keeps_the_format(fmt):
    a = make(obj([3, 5, 7], (3, 1)), fmt)
    got = a.sum(axis=1)
    assert (got.fmt.w, got.fmt.i, got.fmt.signed) == (fmt.w, fmt.i, fmt.signed)
    np.testing.assert_array_equal(pyints(got), obj([3, 5, 7]))
    if fmt.q == "TRN" and fmt.o == "WRAP":
        assert got.fmt == fmt


@pytest.mark.parametrize("k,g", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (1000, 10), (1024, 10), (1025, 11)])
def test_sum_growth_table(k, g):
    a = make(obj([1] * k), Fixed(8, 3))
    got = a.sum()
    assert got.fmt == Fixed(8 + g, 3 + g)
    assert int(got.raw[()]) == k


def test_sum_60_bit_over_many_elements_goes_wide():
    fmt = Fixed(60, 10)
    n = 3000
    raws = obj([fmt.raw_max] * (n - 2) + [fmt.raw_min, fmt.raw_max - 5])
    got = make(raws, fmt).sum()
    assert got.fmt == Fixed(72, 22)  # ceil(log2 3000) = 12
    assert got.raw.dtype == object
    assert int(got.raw[()]) == (n - 2) * fmt.raw_max + fmt.raw_min + fmt.raw_max - 5
    assert int(got.raw[()]) > 1 << 64
    neg = make(obj([fmt.raw_min] * n), fmt).sum()
    assert int(neg.raw[()]) == n * fmt.raw_min


def test_sum_uint64_and_wide_inputs():
    u = make(obj([2**64 - 1, 2**64 - 1, 1]), Fixed(64, 64, signed=False))
    got = u.sum()
    assert got.fmt == Fixed(66, 66, signed=False)
    assert int(got.raw[()]) == 2 * (2**64 - 1) + 1
    w = make(obj([2**199 - 1, -(2**199), 12345]), Fixed(200, 100))
    got = w.sum()
    assert got.fmt == Fixed(202, 102)
    assert int(got.raw[()]) == 12345 - 1


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_exact_and_grows(fmt, axis):
    rng = np.random.default_rng(fmt.w * 11 + fmt.i)
    r = random_raws(fmt, (3, 5), rng)
    a = make(r, fmt)
    got = a.cumsum(axis=axis)
    k = 15 if axis is None else r.shape[axis]
    g = growth(k)
    assert got.fmt == Fixed(fmt.w + g, fmt.i + g, signed=fmt.signed)
    exp = as_obj(np.cumsum(r, axis=axis))
    assert got.shape == exp.shape
    np.testing.assert_array_equal(pyints(got), exp)
    np.testing.assert_array_equal(pyints(np.cumsum(a, axis=axis)), exp)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)], ids=repr)
def test_max_min_arg_exact(fmt, axis):
    rng = np.random.default_rng(fmt.w * 13 + fmt.i)
    r = random_raws(fmt, (4, 5), rng, extremes=False)
    r[1, 2] = r[3, 0] = fmt.raw_max  # ties: the first occurrence wins
    r[2, 1] = r[0, 4] = fmt.raw_min
    a = make(r, fmt)
    for name in ("max", "min"):
        got = getattr(a, name)(axis=axis)
        assert got.fmt == fmt
        exp = as_obj(getattr(np, name)(r, axis=axis))
        np.testing.assert_array_equal(pyints(got), exp)
        kd = getattr(a, name)(axis=axis, keepdims=True)
        np.testing.assert_array_equal(pyints(kd), as_obj(getattr(np, name)(r, axis=axis, keepdims=True)))
    if axis == (0, 1):
        return
    for name in ("argmax", "argmin"):
        got = getattr(a, name)(axis=axis)
        np.testing.assert_array_equal(np.asarray(got), getattr(np, name)(r, axis=axis))
        np.testing.assert_array_equal(np.asarray(getattr(np, name)(a, axis=axis)), getattr(np, name)(r, axis=axis))


def test_max_of_uint64_compares_unsigned():
    a = make(obj([1, 2**64 - 1, 2**63, 5]), Fixed(64, 64, signed=False))
    assert int(a.max().raw[()]) == 2**64 - 1
    assert int(a.min().raw[()]) == 1
    assert int(a.argmax()) == 1
    assert int(a.argmin()) == 0


# --------------------------------------------------------------------------------------
# matmul / @ / dot / outer: exact
# --------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((1,), (1, 3)),
]
# (fa, fb, regime of the result width)
MATMUL_FORMATS = [
    (Fixed(8, 3), Fixed(10, 2), "<=53"),
    (Fixed(20, 3), Fixed(30, 2, signed=False), "<=53"),
    (Fixed(27, 5), Fixed(27, 5), "54..64"),
    (Fixed(31, 5, signed=False), Fixed(31, 3, signed=False), "54..64"),  # 64-bit unsigned result
    (Fixed(30, 0), Fixed(31, 31, signed=False), "54..64"),
    (Fixed(40, 5), Fixed(40, 5), ">64"),
    (Fixed(64, 64, signed=False), Fixed(8, 8), ">64"),
    (Fixed(100, 10), Fixed(9, 1), ">64"),
]


def _width_regime(w):
    return "<=53" if w <= 53 else ("54..64" if w <= 64 else ">64")


@pytest.mark.parametrize("fa,fb,regime", MATMUL_FORMATS, ids=str)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_exact(fa, fb, regime, sa, sb):
    rng = np.random.default_rng(fa.w * 31 + fb.w + len(sa) * 3 + len(sb))
    ra, rb = random_raws(fa, sa, rng), random_raws(fb, sb, rng)
    a, b = make(ra, fa), make(rb, fb)
    k = sa[-1]
    g = growth(k)
    fmt = Fixed(fa.w + fb.w + g, fa.i + fb.i + g, signed=fa.signed or fb.signed)
    if k == 4:
        assert _width_regime(fmt.w) == regime
    exp = as_obj(np.matmul(ra, rb))
    for got in (a @ b, fx.matmul(a, b), np.matmul(a, b)):
        assert isinstance(got, fx.FixedArray)
        assert got.fmt == fmt
        assert got.shape == exp.shape
        np.testing.assert_array_equal(pyints(got), exp)


def test_matmul_all_extremes_in_each_regime():
    """Every product at its extreme (min*min, max*max), so partial sums are as large as they get."""
    for fa, fb in ((Fixed(26, 1), Fixed(25, 7)), (Fixed(31, 5), Fixed(31, 5)), (Fixed(32, 0, signed=False),
                                                                                Fixed(30, 0, signed=False)),
                   (Fixed(62, 2), Fixed(62, 2))):
        K = 4
        for va, vb in ((fa.raw_min, fb.raw_min), (fa.raw_max, fb.raw_max), (fa.raw_min, fb.raw_max)):
            ra, rb = obj([va] * 2 * K, (2, K)), obj([vb] * K * 3, (K, 3))
            got = make(ra, fa) @ make(rb, fb)
            np.testing.assert_array_equal(pyints(got), obj([K * va * vb] * 6, (2, 3)))


def test_matmul_shape_mismatch_names_both_shapes():
    a = make(obj([1] * 12, (3, 4)), Fixed(8, 3))
    b = make(obj([1] * 10, (5, 2)), Fixed(8, 3))
    with pytest.raises(ValueError, match=r"input shape mismatch, lhs: \(3, 4\), rhs: \(5, 2\)"):
        a @ b
    with pytest.raises(ValueError, match=r"^fx\.matmul: input shape mismatch, lhs: \(3, 4\), rhs: \(5, 2\)"):
        fx.matmul(a, b, accum=Fixed(16, 8))
    with pytest.raises(ValueError, match=r"lhs: \(3, 4\), rhs: \(5,\)"):
        a @ make(obj([1] * 5), Fixed(8, 3))


@pytest.mark.parametrize("sa, sb", [((3, 2, 2), (2, 2, 2)), ((0, 0, 0), (2, 0, 0)), ((3, 1, 2), (2, 2, 1)),
                                     ((2, 3, 1, 4), (3, 2, 4, 1))])
@pytest.mark.parametrize("bits", [8, 40, 100])  # the int16/f64, the int64 and the multi-limb paths
def test_matmul_batch_mismatch_names_both_shapes(sa, sb, bits):
    """Found by tests/test_fuzz_api.py: batch dimensions that do not broadcast leaked NumPy's
    message (which names neither the API nor the operands' shapes)."""
    a = make(obj([1] * int(np.prod(sa)), sa), Fixed(bits, 3))
    b = make(obj([1] * int(np.prod(sb)), sb), Fixed(bits, 3))
    msg = rf"^fx\.matmul: batch dimensions do not broadcast, lhs: {re.escape(str(sa))}, rhs: {re.escape(str(sb))}"
    with pytest.raises(ValueError, match=msg):
        a @ b
    with pytest.raises(ValueError, match=msg):
        fx.matmul(a, b, accum=Fixed(16, 8))
    with pytest.raises(ValueError):
        np.matmul(np.zeros(sa), np.zeros(sb))  # NumPy refuses the same shapes


def test_dot_and_outer_across_formats():
    fa, fb = Fixed(8, 3), Fixed(6, 6, signed=False)
    rng = np.random.default_rng(5)
    ra, rb = random_raws(fa, (4,), rng), random_raws(fb, (4,), rng)
    a, b = make(ra, fa), make(rb, fb)
    va, vb = values(a), values(b)
    d = fx.dot(a, b)
    assert d.fmt == Fixed(14 + 2, 9 + 2, signed=True)
    assert values(d)[()] == sum(x * y for x, y in zip(va, vb))
    assert values(np.dot(a, b))[()] == values(d)[()]
    assert values(a.dot(b))[()] == values(d)[()]
    o = fx.outer(a, b)
    assert o.fmt == Fixed(14, 9, signed=True)
    np.testing.assert_array_equal(values(o), np.array([[x * y for y in vb] for x in va], dtype=object))
    np.testing.assert_array_equal(pyints(np.outer(a, b)), pyints(o))
    # 2-d dot is matmul; scalar dot is an elementwise product
    m = make(random_raws(fa, (2, 4), rng), fa)
    np.testing.assert_array_equal(pyints(fx.dot(m, b)), as_obj(np.matmul(pyints(m), rb)))
    s = make(obj([-3], ()), Fixed(4, 2))
    sd = fx.dot(s, a)
    assert sd.fmt == Fixed(12, 5)
    np.testing.assert_array_equal(values(sd), np.array([Fraction(-3, 4) * x for x in va], dtype=object))


# --------------------------------------------------------------------------------------
# fx.matmul(accum=, out=): slow independent reference
# --------------------------------------------------------------------------------------
def slow_matmul_accum(ra, fa: Fixed, rb, fb: Fixed, accum: Fixed, seed: int, out: Fixed | None = None):
    """Cast every product into accum, add in index order, cast the sum into accum after
    every step; the product cast of element (t, i, j) at step k uses STOCH counter
    base + ((i*N + j)*K + k)*2 and the sum cast that + 1, base = t*M*N*K*2. Returns the
    accumulator raws (and the out-cast raws when out is given) with matmul's shape."""
    ra, rb = np.asarray(ra, dtype=object), np.asarray(rb, dtype=object)
    a2 = ra.reshape((1,) + ra.shape) if ra.ndim == 1 else ra
    b2 = rb.reshape(rb.shape + (1,)) if rb.ndim == 1 else rb
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    M, K, N = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    a3 = np.broadcast_to(a2, batch + (M, K)).reshape((-1, M, K))
    b3 = np.broadcast_to(b2, batch + (K, N)).reshape((-1, K, N))
    pw, pi, ps = fa.w + fb.w, fa.i + fb.i, fa.signed or fb.signed
    q, o, n = accum.q.value, accum.o.value, accum.n
    res = []
    for t in range(a3.shape[0]):
        base = t * M * N * K * 2
        for i in range(M):
            for j in range(N):
                acc = 0
                for k in range(K):
                    ctr = base + ((i * N + j) * K + k) * 2
                    p = ref.cast_raw(int(a3[t, i, k]) * int(b3[t, k, j]), pw, pi, ps, accum.w, accum.i,
                                     accum.signed, q, o, n, seed=seed, index=ctr)
                    acc = ref.cast_raw(acc + p, accum.w + 1, accum.i + 1, accum.signed, accum.w, accum.i,
                                       accum.signed, q, o, n, seed=seed, index=ctr + 1)
                res.append(acc)
    shape = batch + (M, N)
    if ra.ndim == 1:
        shape = shape[:-2] + (N,)
    if rb.ndim == 1:
        shape = shape[:-1]
    acc_raws = obj(res, shape)
    if out is None:
        return acc_raws
    out_raws = obj([ref.cast_raw(int(v), accum.w, accum.i, accum.signed, out.w, out.i, out.signed, out.q.value,
                                 out.o.value, out.n, seed=seed, index=k) for k, v in enumerate(res)], shape)
    return acc_raws, out_raws


def test_accum_sat_depends_on_order():
    # accum ap_int<4> SAT holds [-8, 7]: 7 + 7 saturates to 7, then 7 - 7 = 0; the exact sum is 7
    a = make(obj([7, 7, -7], (1, 3)), Fixed(4, 4))
    b = make(obj([1, 1, 1], (3, 1)), Fixed(2, 2))
    accum = Fixed(4, 4, o="SAT")
    got = fx.matmul(a, b, accum=accum)
    assert got.fmt == accum
    np.testing.assert_array_equal(pyints(got), obj([0], (1, 1)))
    np.testing.assert_array_equal(pyints(got), slow_matmul_accum(pyints(a), a.fmt, pyints(b), b.fmt, accum, 0))
    exact_then_cast = fx.matmul(a, b).cast(accum)
    assert int(exact_then_cast.raw[0, 0]) == 7
    # order matters: the reversed contraction gives a different answer (-7 + 7 + 7 = 7)
    rev = fx.matmul(a[:, ::-1], b[::-1, :], accum=accum)
    assert int(rev.raw[0, 0]) == 7


ACCUM_CASES = [
    # (fa, fb, accum, out, shapes)
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, o="SAT"), None, ((5, 7), (7, 4))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="RND", o="SAT"), Fixed(6, 3, q="RND_CONV", o="SAT_SYM"),
     ((5, 7), (7, 4))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(12, 5), None, ((5, 7), (7, 4))),  # WRAP, product bits truncated
    (Fixed(8, 3), Fixed(8, 2), Fixed(9, 3, q="RND_INF", o="WRAP", n=2), None, ((3, 6), (6, 2))),
    (Fixed(8, 3), Fixed(6, 6, signed=False), Fixed(8, 4, signed=False, q="RND", o="SAT"), None,
     ((4, 5), (5, 3))),  # unsigned accumulator, negative products saturate to 0
    (Fixed(7, 7, signed=False), Fixed(5, 5, signed=False), Fixed(9, 9, signed=False, o="WRAP", n=1), None,
     ((4, 5), (5, 3))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="TRN_ZERO", o="WRAP_SM"), None, ((4, 6), (6, 3))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="RND_MIN_INF", o="SAT_ZERO"), None, ((2, 3, 4), (4, 5))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="RND_ZERO", o="SAT"), None, ((1, 3, 4), (2, 4, 5))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="STOCH", o="SAT"), Fixed(8, 4, q="STOCH"), ((2, 3, 4), (4, 5))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="STOCH", o="WRAP"), None, ((1, 3, 4), (2, 4, 5))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="RND", o="SAT"), None, ((6,), (6, 3))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="RND", o="SAT"), None, ((3, 6), (6,))),
    (Fixed(8, 3), Fixed(8, 2), Fixed(10, 4, q="STOCH", o="SAT"), None, ((6,), (6,))),
    (Fixed(40, 10), Fixed(40, 8), Fixed(64, 30, q="RND", o="SAT"), None, ((3, 5), (5, 2))),
    (Fixed(64, 64, signed=False), Fixed(64, 0, signed=False), Fixed(64, 64, signed=False, q="RND", o="SAT"),
     None, ((2, 3), (3, 2))),  # product 128 bits: the Python path
    (Fixed(70, 10), Fixed(70, 10), Fixed(80, 25, q="STOCH", o="SAT"), Fixed(20, 10, q="RND"),
     ((2, 3), (3, 2))),  # wide accumulator
    (Fixed(30, 10), Fixed(30, 10), Fixed(66, 26, q="RND_CONV", o="WRAP"), None, ((2, 3), (3, 2))),
    (Fixed(64, 32, signed=False), Fixed(8, 3), Fixed(64, 40, q="RND", o="SAT"), None, ((3, 4), (4, 2))),
    (Fixed(64, 32, signed=False), Fixed(8, 3, signed=False), Fixed(64, 38, signed=False, q="RND", o="SAT"),
     None, ((3, 4), (4, 2))),  # 64-bit unsigned accumulator
]


@pytest.mark.parametrize("fa,fb,accum,out,shapes", ACCUM_CASES, ids=lambda v: str(v))
def test_matmul_accum_matches_slow_reference(fa, fb, accum, out, shapes):
    rng = np.random.default_rng(accum.w * 97 + fa.w)
    sa, sb = shapes
    ra, rb = random_raws(fa, sa, rng), random_raws(fb, sb, rng)
    a, b = make(ra, fa), make(rb, fb)
    seed = 0xDEADBEEF12345
    got = fx.matmul(a, b, accum=accum, out=out, seed=seed)
    if out is None:
        exp = slow_matmul_accum(ra, fa, rb, fb, accum, seed)
        assert got.fmt == accum
    else:
        _, exp = slow_matmul_accum(ra, fa, rb, fb, accum, seed, out)
        assert got.fmt == out
    assert got.shape == exp.shape == np.shape(np.matmul(ra, rb))
    np.testing.assert_array_equal(pyints(got), exp)
    if accum.q.value == "STOCH":  # reproducible from the seed, and the seed matters
        again = fx.matmul(a, b, accum=accum, out=out, seed=seed)
        np.testing.assert_array_equal(pyints(again), pyints(got))


def test_accum_sat_mid_sum_differs_from_saturating_the_exact_sum():
    rng = np.random.default_rng(2024)
    fa, fb = Fixed(8, 4), Fixed(8, 4)
    accum = Fixed(8, 5, q="RND", o="SAT")
    ra, rb = random_raws(fa, (6, 16), rng), random_raws(fb, (16, 6), rng)
    a, b = make(ra, fa), make(rb, fb)
    got = fx.matmul(a, b, accum=accum)
    np.testing.assert_array_equal(pyints(got), slow_matmul_accum(ra, fa, rb, fb, accum, 0))
    assert (pyints(got) != pyints(fx.matmul(a, b).cast(accum))).any()


def test_accum_wrap_with_exact_products_equals_exact_then_cast():
    # WRAP is order independent; with products exact in accum the result is the exact sum wrapped
    rng = np.random.default_rng(7)
    fa, fb = Fixed(8, 3), Fixed(8, 2)
    accum = Fixed(14, 3)  # F = 11 = the product's F (5 + 6); only the integer part wraps
    ra, rb = random_raws(fa, (5, 9), rng), random_raws(fb, (9, 4), rng)
    a, b = make(ra, fa), make(rb, fb)
    got = fx.matmul(a, b, accum=accum)
    np.testing.assert_array_equal(pyints(got), pyints(fx.matmul(a, b).cast(accum)))
    np.testing.assert_array_equal(pyints(got), slow_matmul_accum(ra, fa, rb, fb, accum, 0))


def test_accum_stoch_counters_depend_on_seed_and_batch():
    rng = np.random.default_rng(11)
    fa, fb = Fixed(8, 3), Fixed(8, 2)
    accum = Fixed(8, 4, q="STOCH", o="SAT")
    ra, rb = random_raws(fa, (2, 3, 4), rng), random_raws(fb, (4, 5), rng)
    a, b = make(ra, fa), make(rb, fb)
    r1 = fx.matmul(a, b, accum=accum, seed=1)
    r2 = fx.matmul(a, b, accum=accum, seed=2)
    assert (pyints(r1) != pyints(r2)).any()
    # batch 1 uses its own counters: computing it alone (batch index 0) differs in general
    alone = fx.matmul(a[1], b, accum=accum, seed=1)
    np.testing.assert_array_equal(pyints(alone), slow_matmul_accum(ra[1], fa, rb, fb, accum, 1))
    np.testing.assert_array_equal(pyints(r1)[1], slow_matmul_accum(ra, fa, rb, fb, accum, 1)[1])


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_matmul_accum_hypothesis(data):
    wa, wb = data.draw(st.integers(2, 40)), data.draw(st.integers(2, 40))
    fa = Fixed(wa, data.draw(st.integers(-2, wa + 4)), signed=data.draw(st.booleans()))
    fb = Fixed(wb, data.draw(st.integers(-2, wb + 4)), signed=data.draw(st.booleans()))
    o = data.draw(st.sampled_from(O_MODES))
    # narrow accumulators and ones around the 62-bit limit of the int64 kernel
    w = data.draw(st.one_of(st.integers(2, 20), st.integers(58, 66)))
    s = True if o == "WRAP_SM" else data.draw(st.booleans())
    accum = Fixed(w, w - (fa.f + fb.f) + data.draw(st.integers(-8, 8)) if data.draw(st.booleans())
                  else data.draw(st.integers(-2, w + 4)), signed=s, q=data.draw(st.sampled_from(Q_MODES)), o=o,
                  n=data.draw(st.integers(0, w)) if o in ("WRAP", "WRAP_SM") else 0)
    M, K, N = (data.draw(st.integers(1, 3)) for _ in range(3))
    seed = data.draw(st.integers(0, 2**64 - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    ra, rb = random_raws(fa, (M, K), rng), random_raws(fb, (K, N), rng)
    got = fx.matmul(make(ra, fa), make(rb, fb), accum=accum, seed=seed)
    np.testing.assert_array_equal(pyints(got), slow_matmul_accum(ra, fa, rb, fb, accum, seed))


# --------------------------------------------------------------------------------------
# joining and selecting across formats
# --------------------------------------------------------------------------------------
def test_join_unifies_formats_exactly():
    f1, f2, f3 = Fixed(8, 3), Fixed(6, 6, signed=False), Fixed(10, -2, signed=False)
    # signed; F = max(5, 0, 12) = 12; I = max(3, 6 + 1, -2 + 1) = 7
    unified = Fixed(19, 7)
    rng = np.random.default_rng(3)
    arrs = [make(random_raws(f, (2, 3), rng), f) for f in (f1, f2, f3)]
    vals = [values(x) for x in arrs]
    cat = fx.concatenate(arrs, axis=0)
    assert cat.fmt == unified
    np.testing.assert_array_equal(values(cat), np.concatenate(vals, axis=0))
    cat1 = np.concatenate(arrs, axis=1)
    assert isinstance(cat1, fx.FixedArray) and cat1.fmt == unified
    np.testing.assert_array_equal(values(cat1), np.concatenate(vals, axis=1))
    st_ = fx.stack(arrs, axis=1)
    assert st_.fmt == unified and st_.shape == (2, 3, 3)
    np.testing.assert_array_equal(values(st_), np.stack(vals, axis=1))
    np.testing.assert_array_equal(values(np.stack(arrs)), np.stack(vals))
    cond = np.array([[True, False, True], [False, False, True]])
    w = fx.where(cond, arrs[0], arrs[2])
    assert w.fmt == Fixed(15, 3)  # signed; F = max(5, 12) = 12; I = max(3, -2 + 1) = 3
    np.testing.assert_array_equal(values(w), np.where(cond, vals[0], vals[2]))
    np.testing.assert_array_equal(values(np.where(cond, arrs[1], arrs[0])), np.where(cond, vals[1], vals[0]))


def test_join_identical_formats_keep_modes():
    f = Fixed(8, 3, q="RND", o="SAT")
    a = make(obj([1, 2, 3]), f)
    assert fx.concatenate([a, a]).fmt == f
    assert fx.stack([a, a]).fmt == f
    assert fx.where(np.array([True, False, True]), a, a).fmt == f


def test_join_wide_and_int_operands():
    a = make(obj([2**99 - 1, -(2**99)]), Fixed(100, 100))
    b = make(obj([3, 1]), Fixed(4, 2, signed=False))
    cat = fx.concatenate([a, b])
    assert cat.fmt == Fixed(102, 100)  # F = 2, I = 100
    np.testing.assert_array_equal(values(cat), np.concatenate([values(a), values(b)]))
    assert cat.raw.dtype == object


# --------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------
def big_native(fmt: Fixed, shape, rng, nonzero=False) -> fx.FixedArray:
    r = rng.integers(fmt.raw_min, fmt.raw_max, size=shape, endpoint=True, dtype=np.int64)
    if nonzero:
        r[r == 0] = 1
    return fx.from_raw(r, fmt)


def test_same_kernels_from_several_threads():
    rng = np.random.default_rng(99)
    fa, fb = Fixed(12, 4), Fixed(10, 3)
    ra, rb = random_raws(fa, (48, 96), rng), random_raws(fb, (96, 40), rng)
    a, b = make(ra, fa), make(rb, fb)
    accum = Fixed(16, 8, q="STOCH", o="SAT")
    x = big_native(fa, (200_000,), rng)
    y = big_native(fb, (200_000,), rng)
    d = big_native(fb, (200_000,), rng, nonzero=True)
    out = Fixed(10, 5, q="STOCH", o="SAT_SYM")

    def work(_):
        return (fx.matmul(a, b, accum=accum, seed=5).raw.copy(),
                fx.multiply(x, y, out_fmt=out, seed=6).raw.copy(),
                fx.divide(x, d, out_fmt=out, seed=7).raw.copy())

    base = work(0)
    results = multi_threaded(work, 12)
    for r in results:
        for got, exp in zip(r, base):
            np.testing.assert_array_equal(got, exp)
    # spot-check the baseline against the slow reference
    np.testing.assert_array_equal(as_obj(base[0][:2]), slow_matmul_accum(ra[:2], fa, rb, fb, accum, 5))
    k = [0, 1, 99_999, 199_999]
    np.testing.assert_array_equal(
        as_obj(base[1][k]),
        obj([ref.cast_raw(int(x.raw[j]) * int(y.raw[j]), 22, 7, True, 10, 5, True, "STOCH", "SAT_SYM", seed=6, index=j)
             for j in k]))


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(123)
    fa, fb = Fixed(12, 4), Fixed(10, 3)
    a, b = big_native(fa, (64, 80), rng), big_native(fb, (80, 48), rng)
    x = big_native(fa, (300_000,), rng)
    y = big_native(fb, (300_000,), rng)
    accum = Fixed(14, 7, q="STOCH", o="SAT")
    out = Fixed(9, 4, q="STOCH", o="WRAP")
    old = fx.get_num_threads()
    try:
        res = {}
        for n in (1, 2):
            fx.set_num_threads(n)
            assert fx.get_num_threads() == n
            res[n] = (fx.matmul(a, b, accum=accum, seed=3).raw.copy(),
                      fx.add(x, y, out_fmt=out, seed=4).raw.copy(),
                      (x * y).sum(axis=0).raw.copy())
    finally:
        fx.set_num_threads(old)
    assert fx.get_num_threads() == old
    for r1, r2 in zip(res[1], res[2]):
        np.testing.assert_array_equal(r1, r2)


def test_wrap_accumulator_of_63_bits():
    """Regression (found by hypothesis): the WRAP fast path sign-extended a 63-bit accumulator
    with 1 << 63, which has no int64 form (OverflowError)."""
    x = fx.from_raw(np.array([[1, -2], [-1, 1]]), fx.Fixed(2, 0))
    y = fx.from_raw(np.array([[1, -2], [1, 1]]), fx.Fixed(2, 0))
    acc = fx.Fixed(63, 10)
    got = fx.matmul(x, y, accum=acc).raw.tolist()
    # exact sums (no wrap at these magnitudes) at the accumulator's 53 fraction bits
    want = [[sum(int(x.raw[i, k]) * int(y.raw[k, j]) for k in range(2)) << (acc.f - 4) for j in range(2)]
            for i in range(2)]
    assert got == want
