"""fx.binary: packing, exact +-1 / ternary / binary-weight products, the output transform,
the NumPy quantizers and pinned error messages.

Expectations come from NumPy int64 matmul on the unpacked +-1 / -1,0,+1 matrices and on the
stored integers of the activations, or from Python ints and fractions.Fraction, never from
the implementation under test. Every product is run under every ISA this CPU supports.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _core
from fixedpoint.binary import PackedBits, PackedTernary

B = fx.binary
from strategies import ISAS, multi_threaded  # noqa: E402  (every supported ISA, read from the extension)
AVX512_SKIP = "this CPU has no AVX-512 (the avx512 ISA runs the AVX2 binary kernels anyway)"

# K values around the word boundaries, K < 64, K = 1, and the AVX2 4-word vector boundaries.
K_EDGES = [1, 2, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300]


@pytest.fixture(autouse=True)
def _restore_isa():
    before = fx.get_isa()
    yield
    fx.set_isa(before)


def _pm1(rng, shape):
    return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)


def _each_isa(fn):
    """fn() under every supported ISA; all results must be identical."""
    out = []
    for isa in ISAS:
        fx.set_isa(isa)
        out.append(fn())
    return out


def test_isa_list_covers_avx512_or_says_why():
    if "avx512" not in ISAS:
        pytest.skip(AVX512_SKIP)
    assert _core.isa_supported("avx512")


# --------------------------------------------------------------------------------------------
# pack / unpack


def test_pack_layout_bit_k_of_word():
    x = np.ones(130)
    x[[0, 3, 64, 129]] = -1
    p = B.pack(x)
    assert p.words.dtype == np.uint64 and p.words.shape == (3,) and p.length == 130 and p.axis == 0
    full = (1 << 64) - 1
    want = [full ^ 0b1001, full ^ 1, (1 << 2) - 1 - (1 << 1)]  # padding bits (k >= 130) are 0
    assert [int(w) for w in p.words] == want


@pytest.mark.parametrize("k", K_EDGES)
def test_pack_unpack_round_trip(k):
    rng = np.random.default_rng(k)
    x = _pm1(rng, (3, k, 2))
    for axis in (0, 1, 2, -1, -2):
        p = B.pack(x, axis=axis)
        assert p.shape == x.shape and p.length == x.shape[axis]
        np.testing.assert_array_equal(B.unpack(p), x)
        assert B.unpack(p).dtype == np.int8


def test_zero_convention():
    x = np.array([-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(B.unpack(B.pack(x)), [-1, 1, 1, 1])  # QKeras: x >= 0 -> +1
    np.testing.assert_array_equal(B.unpack(B.pack(x, zero="neg")), [-1, -1, -1, 1])  # quantizers
    i = np.array([-1, 0, 1], dtype=np.int32)
    np.testing.assert_array_equal(B.unpack(B.pack(i)), [-1, 1, 1])
    np.testing.assert_array_equal(B.unpack(B.pack(i, zero="neg")), [-1, -1, 1])


def test_pack_fixedarray_and_unsigned():
    a = fx.array([-0.5, 0.0, 0.25, -8.0], fx.Fixed(8, 4))
    np.testing.assert_array_equal(B.unpack(B.pack(a)), [-1, 1, 1, -1])
    u = fx.from_raw(np.array([0, 2**63, 2**64 - 1], dtype=np.uint64), fx.Fixed(64, 64, signed=False))
    np.testing.assert_array_equal(B.unpack(B.pack(u)), [1, 1, 1])
    np.testing.assert_array_equal(B.unpack(B.pack(u, zero="neg")), [-1, 1, 1])
    np.testing.assert_array_equal(B.unpack(B.pack(np.array([0, 5], dtype=np.uint8))), [1, 1])


def test_pack_wide_fixedarray():
    a = fx.from_raw(np.array([-(2**99), 0, 2**99], dtype=object), fx.Fixed(101, 101))
    np.testing.assert_array_equal(B.unpack(B.pack(a)), [-1, 1, 1])


@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=200),
    st.sampled_from(["pos", "neg"]),
)
@settings(max_examples=60, deadline=None)
def test_pack_matches_python(values, zero):
    p = B.pack(np.array(values), zero=zero)
    for k, v in enumerate(values):
        bit = (int(p.words[k // 64]) >> (k % 64)) & 1
        assert bit == int(v >= 0 if zero == "pos" else v > 0)
    for k in range(len(values), 64 * p.nwords):
        assert (int(p.words[k // 64]) >> (k % 64)) & 1 == 0


def test_pack_ternary_round_trip():
    rng = np.random.default_rng(1)
    t = rng.integers(-1, 2, size=(4, 131))
    for axis in (0, 1):
        pt = B.pack_ternary(t, axis=axis)
        assert isinstance(pt, PackedTernary)
        np.testing.assert_array_equal(B.unpack_ternary(pt), t)
    np.testing.assert_array_equal(B.unpack_ternary(B.pack_ternary(np.array([-0.1, 0.0, 7.0]))), [-1, 0, 1])


# --------------------------------------------------------------------------------------------
# xnor_matmul


def _xnor_all_isas(a, b):
    pa, pb = B.pack(a, axis=1), B.pack(b, axis=0)
    return _each_isa(lambda: B.xnor_matmul(pa, pb))


@st.composite
def _mkn(draw):
    m = draw(st.integers(1, 9))
    n = draw(st.integers(1, 9))
    k = draw(st.one_of(st.sampled_from(K_EDGES), st.integers(1, 700)))
    return m, k, n


@given(_mkn(), st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_xnor_matmul_matches_numpy(mkn, seed):
    m, k, n = mkn
    rng = np.random.default_rng(seed)
    a, b = _pm1(rng, (m, k)), _pm1(rng, (k, n))
    want = a @ b
    for got in _xnor_all_isas(a, b):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 64, 1), (1, 1000, 37), (37, 1000, 1), (6, 257, 11),
                                   (64, 512, 64), (3, 4096 + 5, 5)])
def test_xnor_matmul_shapes(m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    a, b = _pm1(rng, (m, k)), _pm1(rng, (k, n))
    for got in _xnor_all_isas(a, b):
        np.testing.assert_array_equal(got, a @ b)


def test_xnor_matmul_extremes():
    # all agreeing (K) and all disagreeing (-K), across word and vector tails
    for k in (1, 63, 64, 65, 256, 259):
        a = np.ones((5, k), dtype=np.int64)
        b = np.concatenate([np.ones((k, 3)), -np.ones((k, 4))], axis=1)
        for got in _xnor_all_isas(a, b):
            np.testing.assert_array_equal(got, np.array([[k] * 3 + [-k] * 4] * 5))


def test_xnor_matmul_threads_agree():
    rng = np.random.default_rng(7)
    a, b = _pm1(rng, (200, 333)), _pm1(rng, (333, 150))
    pa, pb = B.pack(a, axis=1), B.pack(b, axis=0)
    want = a @ b
    before = fx.get_num_threads()
    try:
        for t in (1, 2, 3):
            fx.set_num_threads(t)
            np.testing.assert_array_equal(B.xnor_matmul(pa, pb), want)
    finally:
        fx.set_num_threads(before)
    for r in multi_threaded(lambda i: B.xnor_matmul(pa, pb), 4):
        np.testing.assert_array_equal(r, want)


def test_xnor_matmul_output_transform_exact():
    rng = np.random.default_rng(3)
    a, b = _pm1(rng, (4, 70)), _pm1(rng, (70, 3))
    acc = a @ b
    scale = np.array([0.75, -1.5, 2.0**-20])
    bias = np.array([0.1, -3, 0.0])  # 0.1 is the float64 value, taken exactly
    y = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), scale=scale, bias=bias)
    f = y.fmt.w - y.fmt.i
    for (mi, ni), v in np.ndenumerate(acc):
        want = Fraction(int(v)) * Fraction(float(scale[ni])) + Fraction(float(bias[ni]))
        assert Fraction(int(y.raw[mi, ni]), 2**f) == want
    # requantize into a format: one rounding of the exact value
    out = fx.Fixed(12, 6, q="RND", o="SAT")
    q = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), scale=scale, bias=bias, out=out)
    assert q.fmt == out
    np.testing.assert_array_equal(q.raw, y.cast(out).raw)
    want_q = fx.array([[float(Fraction(int(v)) * Fraction(float(scale[j])) + Fraction(float(bias[j])))
                        for j, v in enumerate(row)] for row in acc], out)
    np.testing.assert_array_equal(q.raw, want_q.raw)


def test_xnor_matmul_rebinarize():
    rng = np.random.default_rng(4)
    a, b = _pm1(rng, (5, 100)), _pm1(rng, (100, 130))
    acc = a @ b
    bias = np.arange(130) % 7 - 3
    p = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), bias=bias, out="binary")
    assert isinstance(p, PackedBits) and p.shape == (5, 130) and p.axis == 1
    np.testing.assert_array_equal(B.unpack(p), np.where(acc + bias >= 0, 1, -1))
    # feeds the next layer directly
    c = _pm1(rng, (130, 9))
    np.testing.assert_array_equal(B.xnor_matmul(p, B.pack(c, axis=0)), np.where(acc + bias >= 0, 1, -1) @ c)


def test_xnor_matmul_int_scale_and_fixed_bias():
    rng = np.random.default_rng(5)
    a, b = _pm1(rng, (3, 10)), _pm1(rng, (10, 2))
    bias = fx.array([0.5, -0.25], fx.Fixed(8, 4))
    y = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), scale=[3, -2], bias=bias)
    f = y.fmt.w - y.fmt.i
    want = (a @ b) * np.array([3, -2]) * 2**f + np.array([2, -1]) * 2 ** (f - 2)
    np.testing.assert_array_equal(y.raw, want)


# --------------------------------------------------------------------------------------------
# binary-weight and ternary products


@pytest.mark.parametrize("fmt", [fx.Fixed(16, 6), fx.Fixed(8, 8, signed=False), fx.Fixed(32, 1),
                                 fx.Fixed(32, 32, signed=False), fx.Fixed(1, 1)])
@pytest.mark.parametrize("k", [1, 2, 63, 64, 65, 200])
def test_binary_weight_matmul(fmt, k):
    rng = np.random.default_rng(k + fmt.w)
    lo, hi = (-(2 ** (fmt.w - 1)), 2 ** (fmt.w - 1)) if fmt.signed else (0, 2**fmt.w)
    raw = rng.integers(lo, hi, size=(4, k), dtype=np.int64)
    raw[0, :] = lo
    raw[1, :] = hi - 1  # range edges: the sums reach the grown format's edges
    x = fx.from_raw(raw, fmt)
    w = _pm1(rng, (k, 5))
    w[:, 0] = -1
    w[:, 1] = 1
    g = (k - 1).bit_length() + 1
    for y in _each_isa(lambda: B.binary_weight_matmul(x, B.pack(w, axis=0))):
        assert y.fmt == fx.Fixed(fmt.w + g, fmt.i + g, True)
        want = [[sum(int(raw[m, j]) * int(w[j, n]) for j in range(k)) for n in range(5)] for m in range(4)]
        np.testing.assert_array_equal(y.raw, np.array(want, dtype=np.int64))
        lo_y, hi_y = -(2 ** (y.fmt.w - 1)), 2 ** (y.fmt.w - 1) - 1
        assert lo_y <= int(y.raw.min()) and int(y.raw.max()) <= hi_y


@given(_mkn(), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_ternary_products(mkn, seed):
    m, k, n = mkn
    rng = np.random.default_rng(seed)
    t = rng.integers(-1, 2, size=(m, k))
    b = _pm1(rng, (k, n))
    for got in _each_isa(lambda: B.ternary_matmul(B.pack_ternary(t, axis=1), B.pack(b, axis=0))):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, t @ b)
    raw = rng.integers(-(2**15), 2**15, size=(m, k))
    tw = rng.integers(-1, 2, size=(k, n))
    x = fx.from_raw(raw, fx.Fixed(16, 3))
    for y in _each_isa(lambda: B.ternary_weight_matmul(x, B.pack_ternary(tw, axis=0))):
        np.testing.assert_array_equal(y.raw, raw @ tw)


# --------------------------------------------------------------------------------------------
# NumPy quantizers


def test_binary_quantize():
    w = np.array([[0.5, -1.5, 0.0], [-0.25, 0.25, 2.0]])
    np.testing.assert_array_equal(B.binary_quantize(w), [[1, -1, 1], [-1, 1, 1]])
    np.testing.assert_array_equal(B.binary_quantize(w, zero="neg"), [[1, -1, -1], [-1, 1, 1]])
    alpha = (0.5 + 1.5 + 0.0 + 0.25 + 0.25 + 2.0) / 6
    np.testing.assert_array_equal(B.binary_quantize(w, scaled=True), np.array([[1, -1, 1], [-1, 1, 1]]) * alpha)
    per_row = np.array([[2.0 / 3], [2.5 / 3]])
    np.testing.assert_array_equal(B.binary_quantize(w, scaled=True, axis=0),
                                  np.array([[1, -1, 1], [-1, 1, 1]]) * per_row)


def test_ternary_quantize_twn():
    w = np.array([1.0, -1.0, 0.1, -0.2, 0.0, 3.0])
    delta = 0.7 * (1.0 + 1.0 + 0.1 + 0.2 + 0.0 + 3.0) / 6
    want = np.array([1, -1, 0, 0, 0, 1]) * (np.abs(w) > delta)
    np.testing.assert_array_equal(B.ternary_quantize(w), want)
    np.testing.assert_array_equal(B.ternary_quantize(w, threshold=0.15), [1, -1, 0, -1, 0, 1])
    np.testing.assert_array_equal(B.ternary_quantize(w, scaled=True), want * ((1.0 + 1.0 + 3.0) / 3))


# --------------------------------------------------------------------------------------------
# errors


def test_error_shape_mismatch_names_both_shapes():
    pa = B.pack(np.ones((3, 10)), axis=1)
    pb = B.pack(np.ones((11, 4)), axis=0)
    with pytest.raises(ValueError, match=r"fx\.binary\.xnor_matmul: shape mismatch, lhs \(3, 10\) and rhs \(11, 4\)"):
        B.xnor_matmul(pa, pb)
    x = fx.array(np.zeros((2, 5)), fx.Fixed(8, 4))
    with pytest.raises(ValueError, match=r"binary_weight_matmul: shape mismatch, x \(2, 5\) and w \(11, 4\)"):
        B.binary_weight_matmul(x, pb)


def test_error_wrong_packing_axis():
    pa = B.pack(np.ones((3, 10)), axis=1)
    with pytest.raises(ValueError, match=r"right operand must be \(K, N\) packed along axis 0.*\(3, 10\) packed along axis 1"):
        B.xnor_matmul(pa, pa)


def test_error_bad_axis():
    with pytest.raises(ValueError, match=r"fx\.binary\.pack: axis 2 is out of bounds for an array of 2 dimensions"):
        B.pack(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"fx\.binary\.pack: axis must be an int, got 1\.0"):
        B.pack(np.ones((2, 3)), axis=1.0)


def test_error_bad_dtype_and_values():
    with pytest.raises(TypeError, match=r"fx\.binary\.pack: unsupported dtype complex128"):
        B.pack(np.ones(3, dtype=complex))
    with pytest.raises(TypeError, match=r"fx\.binary\.pack: unsupported dtype bool"):
        B.pack(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match=r"fx\.binary\.pack: NaN at index \(1,\) has no sign"):
        B.pack(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"fx\.binary\.pack: zero must be one of \('pos', 'neg'\), got 'zero'"):
        B.pack(np.ones(3), zero="zero")


def test_error_activation_width():
    x = fx.array(np.zeros((2, 5)), fx.Fixed(33, 4))
    with pytest.raises(ValueError, match=r"binary_weight_matmul: activations need w <= 32, got ap_fixed<33,4"):
        B.binary_weight_matmul(x, B.pack(np.ones((5, 2)), axis=0))
    with pytest.raises(TypeError, match=r"binary_weight_matmul: x must be a FixedArray"):
        B.binary_weight_matmul(np.zeros((2, 5)), B.pack(np.ones((5, 2)), axis=0))


def test_error_output_transform():
    pa, pb = B.pack(np.ones((2, 3)), axis=1), B.pack(np.ones((3, 4)), axis=0)
    with pytest.raises(ValueError, match=r"xnor_matmul: scale must have shape \(4,\) \(one per output channel\), got \(3,\)"):
        B.xnor_matmul(pa, pb, scale=[1, 2, 3])
    with pytest.raises(ValueError, match=r"xnor_matmul: bias must be finite"):
        B.xnor_matmul(pa, pb, bias=[1, 2, 3, np.inf])


def test_error_core_word_shapes():
    with pytest.raises(ValueError, match=r"xnor_gemm: b must have shape \(rows, 2\) words, got \(3, 1\)"):
        _core.xnor_gemm(np.zeros((2, 2), np.uint64), np.zeros((3, 1), np.uint64), 100)
    with pytest.raises(ValueError, match=r"xnor_gemm: K must be in \[1, 2\*\*31\), got 0"):
        _core.xnor_gemm(np.zeros((2, 0), np.uint64), np.zeros((3, 0), np.uint64), 0)


def test_rebinarize_thresholds_signed_and_zero_scales():
    # per-channel integer thresholds: positive, negative and zero scales, ties at y == 0
    rng = np.random.default_rng(6)
    k = 37
    a, b = _pm1(rng, (40, k)), _pm1(rng, (k, 8))
    acc = a @ b
    scale = np.array([0.5, -0.25, 0.0, 0.0, 3.0, -1.0, 2.0**-30, -(2.0**20)])
    bias = np.array([0.5, 0.75, -0.125, 0.0, -3.0, 1.0, -(2.0**-29), 1e6])
    p = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), scale=scale, bias=bias, out="binary")
    want = np.array([[Fraction(int(v)) * Fraction(float(scale[j])) + Fraction(float(bias[j])) >= 0
                      for j, v in enumerate(row)] for row in acc])
    np.testing.assert_array_equal(B.unpack(p) > 0, want)
    # wide per-channel operands take the general exact path and agree
    wide = fx.from_raw(np.array([int(v * 8) for v in [1, -2, 0, 0, 24, -8, 1, -8]], dtype=object), fx.Fixed(80, 77))
    p2 = B.xnor_matmul(B.pack(a, axis=1), B.pack(b, axis=0), scale=wide, out="binary")
    sw = [1, -2, 0, 0, 24, -8, 1, -8]
    np.testing.assert_array_equal(B.unpack(p2) > 0, acc * np.array(sw) >= 0)


def test_binary_kernels_refuse_set_padding_bits():
    """issue 22: padding bits past k were counted by the kernels; they must be 0."""
    good = np.zeros((2, 2), np.uint64)
    bad = good.copy()
    bad[1, 1] = np.uint64(1) << np.uint64(40)  # bit 104 of row 1, past k = 100
    with pytest.raises(ValueError, match=r"xnor_gemm: b row 1 has padding bits set \(bits 100\.\.127 must be 0\)"):
        _core.xnor_gemm(good, bad, 100)
    with pytest.raises(ValueError, match=r"ternary_binary_gemm: mask row 1 has padding bits set"):
        _core.ternary_binary_gemm(bad, good, good, 100)
    with pytest.raises(ValueError, match=r"binary_weight_gemm: w row 1 has padding bits set \(bits 100\.\.127"):
        _core.binary_weight_gemm(np.zeros((1, 100), np.int64), bad)
    assert _core.xnor_gemm(good, good, 100).tolist() == [[100, 100], [100, 100]]
    full = np.full((1, 2), np.uint64(2**64 - 1))
    assert _core.xnor_gemm(full, full, 128).tolist() == [[128]]  # k = 128: no padding
