"""FixedArray elementwise arithmetic against the pure-Python reference model.

``+ - * /``, unary minus and ``abs`` must give the natural ap_fixed result format
(``_reference.result_format``) and exactly the stored integers of
``_reference.arith_raw`` (which is checked against golden vectors of the real
``ap_fixed.h``). The fused forms ``fx.add(a, b, out_fmt=...)`` must equal
``_reference.cast_raw`` of that, for every rounding/overflow mode (STOCH included,
keyed by the flat index of the broadcast result). Also: the three internal storage
paths (int64, 128-bit C++, Python ints), broadcasting, int/NumPy/float operands,
division by zero, comparisons across formats, shifts and ``scale``.

Expectations come from the reference model, ``fractions.Fraction`` or Python integer
arithmetic; never from the implementation.
"""

from __future__ import annotations

import importlib.util
import operator
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _backend
from fixedpoint import _reference as ref

Fixed = fx.Fixed

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
FUSED = {"add": fx.add, "sub": fx.subtract, "mul": fx.multiply, "div": fx.divide}
from strategies import O_MODES, Q_MODES  # noqa: E402  (the lists of fx.QMode / fx.OMode)

HYPO = settings(max_examples=150, deadline=None)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
from _ints import obj, pyints  # noqa: E402
import strategies  # noqa: E402


def t3(fmt: Fixed) -> tuple:
    return (fmt.w, fmt.i, fmt.signed)


def nat(op: str, fa: Fixed, fb: Fixed | None = None) -> Fixed:
    return Fixed(*ref.result_format(op, t3(fa), None if fb is None else t3(fb)))


def values(x: fx.FixedArray) -> list:
    return [ref.value_of(int(r), x.fmt.w, x.fmt.i) for r in x.raw.reshape(-1)]


def make(raws, fmt: Fixed, shape=None) -> fx.FixedArray:
    return fx.from_raw(obj(list(raws), shape if shape is not None else (len(raws),)), fmt)


def expected_binary(op, a: fx.FixedArray, b: fx.FixedArray) -> np.ndarray:
    xa, xb = np.broadcast_arrays(pyints(a), pyints(b))
    res = [ref.arith_raw(op, int(x), t3(a.fmt), int(y), t3(b.fmt))[0] for x, y in zip(xa.reshape(-1), xb.reshape(-1))]
    return obj(res, xa.shape)


def check_binary(op, a: fx.FixedArray, b: fx.FixedArray) -> fx.FixedArray:
    got = OPS[op](a, b)
    assert isinstance(got, fx.FixedArray)
    assert got.fmt == nat(op, a.fmt, b.fmt)
    exp = expected_binary(op, a, b)
    assert got.shape == exp.shape
    np.testing.assert_array_equal(pyints(got), exp)
    return got


def formats(min_w=1, max_w=64, signed=None):
    """Formats without modes (the shared strategy: operand modes do not enter exact arithmetic)."""
    return strategies.formats(min_w, max_w, signed=signed, modes=False)


raw_values = strategies.raw_values


def with_modes(draw, fmt: Fixed) -> Fixed:
    """fmt with random q/o: operand modes must not affect (exact) arithmetic results."""
    return fmt.replace(q=draw(st.sampled_from(Q_MODES)), o=draw(st.sampled_from(["WRAP", "SAT", "SAT_SYM"])))


@st.composite
def out_formats(draw, max_w=72):
    w = draw(st.integers(1, max_w))
    i = draw(st.integers(-6, w + 6))
    o = draw(st.sampled_from(O_MODES))
    s = True if o == "WRAP_SM" else draw(st.booleans())
    n = draw(st.integers(0, w)) if o in ("WRAP", "WRAP_SM") else 0
    q = draw(st.sampled_from(Q_MODES))
    return Fixed(w, i, signed=s, q=q, o=o, n=n)


def cast_expected(nat_raws: np.ndarray, src: Fixed, out: Fixed, seed: int) -> np.ndarray:
    flat = [
        ref.cast_raw(int(r), src.w, src.i, src.signed, out.w, out.i, out.signed, out.q.value, out.o.value, out.n,
                     seed=seed, index=k)
        for k, r in enumerate(nat_raws.reshape(-1))
    ]
    return obj(flat, nat_raws.shape)


# --------------------------------------------------------------------------------------
# elementwise operators vs the reference (hypothesis)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@HYPO
@given(data=st.data())
def test_binary_matches_reference(op, data):
    fa = with_modes(data.draw, data.draw(formats(), label="fa"))
    fb = with_modes(data.draw, data.draw(formats(), label="fb"))
    n = data.draw(st.integers(1, 4), label="n")
    ra = data.draw(st.lists(raw_values(fa), min_size=n, max_size=n), label="ra")
    rb = data.draw(st.lists(raw_values(fb), min_size=n, max_size=n), label="rb")
    check_binary(op, make(ra, fa), make(rb, fb))


@HYPO
@given(data=st.data())
def test_divide_matches_reference(data):
    fa = with_modes(data.draw, data.draw(formats(), label="fa"))
    fb = with_modes(data.draw, data.draw(formats(), label="fb"))
    n = data.draw(st.integers(1, 4), label="n")
    ra = data.draw(st.lists(raw_values(fa), min_size=n, max_size=n), label="ra")
    rb = data.draw(st.lists(raw_values(fb, nonzero=True), min_size=n, max_size=n), label="rb")
    if fa.signed and fb.signed:  # aim at the wrap quirk: most negative / raw -1
        ra[0], rb[0] = fa.raw_min, -1
    check_binary("div", make(ra, fa), make(rb, fb))


@HYPO
@given(data=st.data())
def test_negative_and_abs_match_reference(data):
    fa = data.draw(formats(), label="fa")
    ra = data.draw(st.lists(raw_values(fa), min_size=1, max_size=5), label="ra")
    a = make(ra, fa)
    neg = -a
    assert neg.fmt == nat("neg", fa)
    np.testing.assert_array_equal(pyints(neg), obj([ref.arith_raw("neg", r, t3(fa))[0] for r in ra]))
    ab = abs(a)
    if fa.signed:
        assert ab.fmt == Fixed(fa.w + 1, fa.i + 1, signed=True)
        np.testing.assert_array_equal(pyints(ab), obj([abs(r) for r in ra]))
    else:
        assert ab.fmt == fa
        np.testing.assert_array_equal(pyints(ab), obj(ra))
    assert [abs(v) for v in values(a)] == values(ab)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_result_format_accepts_type_strings(op):
    """Strings are accepted wherever a format is (issue 21: result_format raised AttributeError)."""
    pairs = [("ap_fixed<8,4>", "ap_ufixed<6,2>"), ("ap_ufixed<5,-1,AP_RND,AP_SAT>", "fixed<12,7>"),
             ("ap_int<9>", "uint<3>"), ("ap_fixed<100,40>", "ap_fixed<30,1>")]
    for sa, sb in pairs:
        fa, fb = Fixed.parse(sa), Fixed.parse(sb)
        assert fx.result_format(op, sa, sb) == nat(op, fa, fb)
        assert fx.result_format(op, sa, fb) == fx.result_format(op, fa, sb) == nat(op, fa, fb)
        assert fx.result_format("neg", sa) == nat("neg", fa)
        assert fx.unify_formats([sa, sb]) == fx.unify_formats([fa, fb])
    with pytest.raises(ValueError, match=r"fx.result_format: unknown op 'pow'; expected one of 'add', 'sub', 'mul', "
                                         r"'div', 'neg'$"):
        fx.result_format("pow", "ap_fixed<8,4>", "ap_fixed<8,4>")
    with pytest.raises(TypeError, match=r"fx.result_format: fmt must be a fx.Fixed or a type string"):
        fx.result_format(op, 8, "ap_fixed<8,4>")
    with pytest.raises(ValueError, match=r"Fixed.parse: cannot parse 'ap_fixd<8,4>'"):
        fx.result_format(op, "ap_fixd<8,4>", "ap_fixed<8,4>")
    with pytest.raises(TypeError, match=r"fx.unify_formats: fmt must be a fx.Fixed or a type string"):
        fx.unify_formats(["ap_fixed<8,4>", None])


def test_results_have_trn_wrap_modes_and_are_not_quantized():
    # operands with RND/SAT modes: the exact result is kept, in a TRN/WRAP format
    fa, fb = Fixed(4, 2, q="RND", o="SAT"), Fixed(4, 1, q="RND_CONV", o="SAT_SYM")
    a, b = make([7, -8], fa), make([7, -8], fb)  # 1.75, -2 and 0.875, -1
    for op in ("add", "sub", "mul", "div"):
        got = check_binary(op, a, b)
        assert got.fmt.q == "TRN" and got.fmt.o == "WRAP" and got.fmt.n == 0
    assert values(a * b) == [Fraction(49, 32), Fraction(2)]
    assert (-a).fmt == Fixed(5, 3) and abs(a).fmt == Fixed(5, 3)
    assert abs(make([7], Fixed(4, 2, signed=False, q="RND", o="SAT"))).fmt == Fixed(4, 2, signed=False)


def test_signed_division_wrap_quirk():
    # golden README quirk 5: most negative / raw -1 wraps in max(W1 + max(F2,0), W2) bits
    a = make([-128, -128, 100], Fixed(8, 8))
    b = make([-1, 1, -1], Fixed(8, 8))
    got = a / b
    assert got.fmt == Fixed(9, 9)  # W = S2 + W1 + max(F2, 0)
    np.testing.assert_array_equal(pyints(got), obj([-128, -128, -100]))  # not +128
    np.testing.assert_array_equal(pyints(got), expected_binary("div", a, b))


def test_division_truncates_toward_zero():
    # ap_fixed<8,4> / ap_fixed<8,4>: F2 = 4, W = 1 + 8 + 4 = 13, I = 1 + 4 + 4 = 9, F = 4
    a = make([7, -7, 16, -16], Fixed(8, 4))  # 7/16, -7/16, 1, -1
    b = make([48, 48, 48, -48], Fixed(8, 4))  # 3, 3, 3, -3
    got = a / b
    assert got.fmt == Fixed(13, 9)
    # 7/48 = 0.1458 -> 2/16 (trunc), -7/48 -> -2/16, 1/3 -> 5/16, -1/-3 -> 5/16
    np.testing.assert_array_equal(pyints(got), obj([2, -2, 5, 5]))


# --------------------------------------------------------------------------------------
# the three storage paths, with fixed examples in each natural-width regime
# --------------------------------------------------------------------------------------
PATH_CASES = [
    # (op, fa, fb, expected natural width regime)
    ("add", Fixed(20, 5), Fixed(30, 10, signed=False), "int64"),
    ("sub", Fixed(62, 30), Fixed(40, 10), "int64"),
    ("mul", Fixed(32, 16, signed=False), Fixed(32, 0, signed=False), "int64"),  # exactly 64 bits, unsigned
    ("mul", Fixed(20, 5), Fixed(30, 10), "int64"),
    ("add", Fixed(63, 63, signed=False), Fixed(63, 63, signed=False), "int64"),  # 64-bit unsigned sum
    ("sub", Fixed(63, 63), Fixed(63, 63), "int64"),
    ("sub", Fixed(62, 62, signed=False), Fixed(62, 62), "int64"),
    ("add", Fixed(64, 64, signed=False), Fixed(40, 0), "c++128"),
    ("sub", Fixed(60, 0), Fixed(60, 60, signed=False), "c++128"),
    ("mul", Fixed(48, 10), Fixed(48, -3), "c++128"),
    ("mul", Fixed(63, 3, signed=False), Fixed(63, 60, signed=False), "c++128"),  # 126 bits
    ("div", Fixed(40, 10), Fixed(30, 5), "c++128"),
    ("div", Fixed(16, 4, signed=False), Fixed(16, 4), "int64"),  # division always runs in C++
    ("mul", Fixed(64, 64, signed=False), Fixed(64, 64, signed=False), "python"),
    ("mul", Fixed(64, 10), Fixed(63, 3), "python"),  # 127 bits
    ("add", Fixed(8, 100), Fixed(8, -100), "python"),
    ("sub", Fixed(8, -100, signed=False), Fixed(8, 100, signed=False), "python"),
    ("div", Fixed(64, 0), Fixed(64, -6), "python"),
    ("div", Fixed(60, 60), Fixed(40, -40, signed=False), "python"),
]


def _regime(w: int) -> str:
    return "int64" if w <= 64 else ("c++128" if w <= 126 else "python")


def _extreme_operands(fa: Fixed, fb: Fixed, nonzero_b: bool):
    rng = np.random.default_rng(fa.w * 1000 + fb.w)
    la = [fa.raw_min, fa.raw_max, 0, 1, fa.raw_max // 3]
    lb = [fb.raw_max, fb.raw_min, fb.raw_max, fb.raw_min + 1, fb.raw_max // 7]
    if fa.signed:
        la.append(-1)
        lb.append(-1 if fb.signed else 1)
    la += [int(v) for v in rng.integers(0, 1 << 62, 3)]
    lb += [int(v) for v in rng.integers(0, 1 << 62, 3)]
    la = [min(max(v, fa.raw_min), fa.raw_max) for v in la]
    lb = [min(max(v, fb.raw_min), fb.raw_max) for v in lb]
    if nonzero_b:
        lb = [v if v != 0 else 1 for v in lb]
    return make(la, fa), make(lb, fb)


@pytest.mark.parametrize("op,fa,fb,regime", PATH_CASES, ids=lambda v: str(v))
def test_storage_paths(op, fa, fb, regime, monkeypatch):
    assert _regime(nat(op, fa, fb).w) == regime  # the case is where it claims to be
    a, b = _extreme_operands(fa, fb, nonzero_b=op == "div")
    calls = []
    real = _backend._core.elementwise
    monkeypatch.setattr(_backend._core, "elementwise", lambda *args: calls.append(1) or real(*args))
    got = check_binary(op, a, b)
    # each path really runs: natural results of 65..126 bits go through the C++ 128-bit kernel,
    # wider ones through Python ints (results <= 64 bits may use NumPy or, for division, C++)
    if regime == "c++128":
        assert calls
    if op == "div":
        calls.clear()
        exact = fx.divide(a, b, exact=True)
        assert calls or regime == "python"
        xa, xb = pyints(a), pyints(b)
        want = [ref.arith_raw("div", int(x), t3(a.fmt), int(y), t3(b.fmt), exact=True)[0] for x, y in zip(xa, xb)]
        np.testing.assert_array_equal(pyints(exact), obj(want))
    if regime == "python":
        assert not calls
    if got.fmt.w > 64:
        assert got.raw.dtype == object
    elif not got.fmt.signed and got.fmt.w == 64:
        assert got.raw.dtype == np.uint64
    else:
        assert got.raw.dtype == np.int64


WIDE_CASES = [
    (Fixed(100, 20), Fixed(70, -5, signed=False)),
    (Fixed(65, 65, signed=False), Fixed(8, 3)),
    (Fixed(8, 3), Fixed(200, 100)),
]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("fa,fb", WIDE_CASES, ids=str)
def test_wide_operands(op, fa, fb):
    a, b = _extreme_operands(fa, fb, nonzero_b=op == "div")
    got = check_binary(op, a, b)
    assert got.raw.dtype == object
    neg = -a
    np.testing.assert_array_equal(pyints(neg), obj([-int(r) for r in pyints(a)]))
    assert neg.fmt == nat("neg", fa)


# --------------------------------------------------------------------------------------
# fused arithmetic + cast
# --------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fused_matches_reference_cast(data):
    op = data.draw(st.sampled_from(["add", "sub", "mul", "div"]), label="op")
    fa = with_modes(data.draw, data.draw(formats(), label="fa"))
    fb = data.draw(formats(), label="fb")
    out = data.draw(out_formats(), label="out")
    seed = data.draw(st.integers(0, (1 << 64) - 1), label="seed")
    broadcast = data.draw(st.booleans(), label="broadcast")
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    sa, sb = ((m, 1), (1, n)) if broadcast else ((n,), (n,))
    ra = data.draw(st.lists(raw_values(fa), min_size=int(np.prod(sa)), max_size=int(np.prod(sa))))
    rb = data.draw(st.lists(raw_values(fb, nonzero=op == "div"), min_size=int(np.prod(sb)),
                            max_size=int(np.prod(sb))))
    a, b = make(ra, fa, sa), make(rb, fb, sb)
    got = FUSED[op](a, b, out_fmt=out, seed=seed)
    assert got.fmt == out
    nfmt = nat(op, fa, fb)
    exp = cast_expected(expected_binary(op, a, b), nfmt, out, seed)
    np.testing.assert_array_equal(pyints(got), exp)
    np.testing.assert_array_equal(pyints(OPS[op](a, b).cast(out, seed=seed)), exp)


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_fused_near_the_int64_requantizer_limits(data):
    """Natural widths, target widths and rounding shifts around 62 bits, where the C++ kernel
    switches between its int64 and 128-bit requantizers (and the cast kernel likewise)."""
    op = data.draw(st.sampled_from(["add", "sub", "mul", "div"]), label="op")
    nw = data.draw(st.integers(56, 66), label="natural width")
    sa, sb = data.draw(st.booleans()), data.draw(st.booleans())
    if op == "mul":
        wa = data.draw(st.integers(max(1, nw - 64), min(64, nw - 1)))
        fa = Fixed(wa, data.draw(st.integers(-4, wa + 4)), signed=sa)
        fb = Fixed(nw - wa, data.draw(st.integers(-4, nw - wa + 4)), signed=sb)
    elif op in ("add", "sub"):
        i = data.draw(st.integers(-4, 70))
        fa = Fixed(nw - 1, i, signed=sa)  # same alignment: the natural format is (w + 1, i + 1)
        fb = Fixed(nw - 1, i, signed=sa)
    else:  # F2 <= 0: W = S2 + W1
        wb = data.draw(st.integers(1, 64))
        fb = Fixed(wb, wb + data.draw(st.integers(0, 4)), signed=sb)
        fa = Fixed(min(64, nw - int(sb)), data.draw(st.integers(-4, 70)), signed=sa)
    nfmt = nat(op, fa, fb)
    sh = data.draw(st.one_of(st.integers(-12, 3), st.integers(58, 66)), label="shift")
    ow = data.draw(st.one_of(st.integers(56, 64), st.integers(1, 8)), label="out w")
    o = data.draw(st.sampled_from(["WRAP", "SAT", "SAT_ZERO", "SAT_SYM", "WRAP_SM"]), label="o")
    out = Fixed(ow, ow - (nfmt.f - sh), signed=True if o == "WRAP_SM" else data.draw(st.booleans()),
                q=data.draw(st.sampled_from(Q_MODES)), o=o,
                n=data.draw(st.sampled_from([0, 0, 0, 1])) if o in ("WRAP", "WRAP_SM") else 0)
    n = data.draw(st.integers(1, 4))
    a = make(data.draw(st.lists(raw_values(fa), min_size=n, max_size=n)), fa)
    b = make(data.draw(st.lists(raw_values(fb, nonzero=op == "div"), min_size=n, max_size=n)), fb)
    seed = data.draw(st.integers(0, (1 << 64) - 1))
    exp = cast_expected(expected_binary(op, a, b), nfmt, out, seed)
    got = FUSED[op](a, b, out_fmt=out, seed=seed)
    assert got.fmt == out
    np.testing.assert_array_equal(pyints(got), exp)
    np.testing.assert_array_equal(pyints(OPS[op](a, b).cast(out, seed=seed)), exp)


@pytest.mark.parametrize("q", Q_MODES)
@pytest.mark.parametrize("o,n", [("WRAP", 0), ("WRAP", 2), ("SAT", 0), ("SAT_ZERO", 0), ("SAT_SYM", 0),
                                 ("WRAP_SM", 0), ("WRAP_SM", 1)])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_fused_exhaustive_small(op, q, o, n):
    """Every pair of a 4-bit and a 3-bit operand, broadcast (16,1) x (1,8), into narrow outputs
    (ties and overflow everywhere), for every rounding and overflow mode."""
    fa, fb = Fixed(4, 2), Fixed(3, 1, signed=False)
    a = make(list(range(-8, 8)), fa, (16, 1))
    rb = list(range(1, 8)) + [5] if op == "div" else list(range(8))
    b = make(rb, fb, (1, 8))
    seed = 0x1234_5678_9ABC_DEF0
    nfmt = nat(op, fa, fb)
    nat_raws = expected_binary(op, a, b)
    for out in (Fixed(4, 2, True, q, o, n), Fixed(3, 1, o == "WRAP_SM", q, o, n)):
        got = FUSED[op](a, b, out_fmt=out, seed=seed)
        assert got.fmt == out
        exp = cast_expected(nat_raws, nfmt, out, seed)
        np.testing.assert_array_equal(pyints(got), exp)
        np.testing.assert_array_equal(pyints(OPS[op](a, b).cast(out, seed=seed)), exp)


def test_fused_stoch_uses_flat_index_of_broadcast_result():
    # value 1/2 LSB everywhere: the STOCH draw decides every element, so a wrong counter shows
    a = make([1] * 8, Fixed(8, 7), (8, 1))  # 1/2
    b = make([1] * 16, Fixed(8, 8), (1, 16))  # 1
    out = Fixed(8, 8, q="STOCH")
    seed = 987654321
    got = fx.multiply(a, b, out_fmt=out, seed=seed)
    exp = [ref.cast_raw(1, 16, 15, True, 8, 8, True, "STOCH", seed=seed, index=k) for k in range(128)]
    assert 20 < sum(exp) < 108  # the draws really differ
    np.testing.assert_array_equal(pyints(got), obj(exp, (8, 16)))
    np.testing.assert_array_equal(pyints(fx.multiply(a, b, out_fmt=out, seed=seed)), pyints(got))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("fa,fb", WIDE_CASES + [(Fixed(64, 100), Fixed(64, -100))], ids=str)
@pytest.mark.parametrize("out", [Fixed(20, 5, q="RND", o="SAT"), Fixed(70, 30, q="STOCH", o="WRAP", n=3),
                                 Fixed(16, 16, signed=False, q="RND_CONV", o="SAT_SYM")], ids=str)
def test_fused_python_path(op, fa, fb, out):
    a, b = _extreme_operands(fa, fb, nonzero_b=op == "div")
    seed = 42
    got = FUSED[op](a, b, out_fmt=out, seed=seed)
    assert got.fmt == out
    exp = cast_expected(expected_binary(op, a, b), nat(op, fa, fb), out, seed)
    np.testing.assert_array_equal(pyints(got), exp)


def test_fused_accepts_type_strings():
    a, b = make([3, -5], Fixed(8, 3)), make([7, 7], Fixed(6, 2))
    got = fx.add(a, b, out_fmt="ap_fixed<6,3,AP_RND,AP_SAT>")
    assert got.fmt == Fixed(6, 3, q="RND", o="SAT")
    exp = cast_expected(expected_binary("add", a, b), nat("add", a.fmt, b.fmt), got.fmt, 0)
    np.testing.assert_array_equal(pyints(got), exp)


# --------------------------------------------------------------------------------------
# broadcasting
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("fa,fb", [(Fixed(8, 3), Fixed(6, 6, signed=False)), (Fixed(40, 8), Fixed(40, 30)),
                                   (Fixed(64, 64, signed=False), Fixed(64, 1))], ids=str)
def test_broadcast_3x1_1x4(op, fa, fb):
    a = make([fa.raw_min or 1, 0 if op != "div" else 2, fa.raw_max], fa, (3, 1))
    b = make([fb.raw_max, 1, fb.raw_max // 2 + 1, fb.raw_max - 1], fb, (1, 4))
    got = check_binary(op, a, b)
    assert got.shape == (3, 4)
    got2 = check_binary(op, b.T, a.T)
    assert got2.shape == (4, 3)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("fa,fb", [(Fixed(8, 3), Fixed(6, 2)), (Fixed(48, 8), Fixed(48, 40)),
                                   (Fixed(64, 64, signed=False), Fixed(64, 64, signed=False))], ids=str)
def test_zero_d_operands(op, fa, fb):
    s = make([fa.raw_min + 1], fa, ())
    assert s.shape == ()
    arr = make([1, fb.raw_max, 3, fb.raw_max // 2], fb, (2, 2))
    assert check_binary(op, s, arr).shape == (2, 2)
    assert check_binary(op, arr, s).shape == (2, 2)
    r = check_binary(op, s, make([fb.raw_max], fb, ()))
    assert r.shape == ()


@pytest.mark.parametrize("op", [
    "add", "sub", "mul", "neg", "abs", "div", "cmp",
])
@pytest.mark.parametrize("fa,fb", [
    (Fixed(80, 10), Fixed(8, 8)),  # a wide operand
    (Fixed(64, 100), Fixed(64, -100)),  # native operands, natural result > 126 bits
], ids=str)
def test_zero_d_python_path(op, fa, fb):
    a = make([fa.raw_min + 5], fa, ())
    b = make([-3], fb, ())
    if op == "neg":
        got = -a
        assert got.shape == () and got.fmt == nat("neg", fa)
        assert int(got.raw[()]) == -(fa.raw_min + 5)
    elif op == "abs":
        got = abs(a)
        assert got.shape == () and got.fmt == nat("neg", fa)
        assert int(got.raw[()]) == -(fa.raw_min + 5)
    elif op == "cmp":
        check_compare(a, b)
    else:
        got = check_binary(op, a, b)
        assert got.shape == ()


LAYOUTS = {
    # name: (a from a (3, 4) base and b from b (3, 4) base); views are non-contiguous
    "contiguous": (lambda x: x, lambda y: y),
    "transposed": (lambda x: x.T.copy().T, lambda y: y),
    "strided": (lambda x: x[:, ::-1], lambda y: y[::-1, :]),
    "size1_2d": (lambda x: x[1:2, 2:3], lambda y: y),
    "size1_1d": (lambda x: x, lambda y: y[0, :1]),
    "row": (lambda x: x, lambda y: y[2]),
    "column": (lambda x: x[:, 1:2], lambda y: y),
    "broadcast_view": (lambda x: np.broadcast_to(x[0], (3, 4)), lambda y: y),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("fa,fb", [(Fixed(8, 3), Fixed(6, 2, signed=False)), (Fixed(40, 8), Fixed(40, 30))],
                         ids=str)
def test_operand_layouts(layout, fa, fb):
    """Full-size, strided, transposed and single-element operands reach the kernels with the
    right element order (STOCH counters included)."""
    rng = np.random.default_rng(17)
    base_a = make([int(v) for v in rng.integers(fa.raw_min, fa.raw_max, 12, endpoint=True)], fa, (3, 4))
    base_b = make([int(v) for v in rng.integers(1, fb.raw_max, 12, endpoint=True)], fb, (3, 4))  # nonzero
    fx_, fy = LAYOUTS[layout]
    a, b = fx_(base_a), fy(base_b)
    out = Fixed(10, 6, q="STOCH", o="SAT")
    for op in ("add", "sub", "mul", "div"):
        check_binary(op, a, b)
        if op != "div":
            check_binary(op, b, a)
        got = FUSED[op](a, b, out_fmt=out, seed=99)
        exp = cast_expected(expected_binary(op, a, b), nat(op, a.fmt, b.fmt), out, 99)
        np.testing.assert_array_equal(pyints(got), exp)
    check_compare(a, b)


def test_broadcast_mismatch_names_both_shapes():
    a = make([1, 2, 3], Fixed(8, 3))
    b = make([1, 2, 3, 4], Fixed(8, 3))
    with pytest.raises(ValueError, match=r"lhs: \(3,\), rhs: \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"lhs: \(3,\), rhs: \(4,\)"):
        a / b
    with pytest.raises(ValueError, match=r"^fx\.multiply: .*lhs: \(2, 3\), rhs: \(4,\)"):
        fx.multiply(make([1] * 6, Fixed(8, 3), (2, 3)), b, out_fmt=Fixed(8, 3))
    with pytest.raises(ValueError, match=r"lhs: \(3,\), rhs: \(4,\)"):
        a < b


# --------------------------------------------------------------------------------------
# operands: Python ints, NumPy integer arrays, floats
# --------------------------------------------------------------------------------------
# (value, the smallest format holding it, derived by hand)
INT_OPERANDS = [
    (0, Fixed(1, 1, signed=False)),
    (1, Fixed(1, 1, signed=False)),
    (5, Fixed(3, 3, signed=False)),
    (255, Fixed(8, 8, signed=False)),
    (256, Fixed(9, 9, signed=False)),
    (-1, Fixed(1, 1, signed=True)),
    (-7, Fixed(4, 4, signed=True)),
    (-8, Fixed(4, 4, signed=True)),
    (-9, Fixed(5, 5, signed=True)),
    (2**63, Fixed(64, 64, signed=False)),  # regression: once overflowed building an int64
    (2**64 - 1, Fixed(64, 64, signed=False)),
    (2**63 - 1, Fixed(63, 63, signed=False)),
    (2**64 + 3, Fixed(65, 65, signed=False)),
    (-(2**70), Fixed(71, 71, signed=True)),
]


@pytest.mark.parametrize("v,vfmt", INT_OPERANDS, ids=lambda x: str(x))
@pytest.mark.parametrize("fa", [Fixed(4, 2), Fixed(12, 20, signed=False), Fixed(70, 3)], ids=str)
def test_python_int_operands_exact(v, vfmt, fa):
    a = make([fa.raw_min, fa.raw_min + 1, 0, 1, fa.raw_max], fa)
    va = values(a)
    py = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
    for op, f in py.items():
        for got, exp_vals, exp_fmt in (
            (OPS[op](a, v), [f(x, v) for x in va], nat(op, fa, vfmt)),
            (OPS[op](v, a), [f(v, x) for x in va], nat(op, vfmt, fa)),
        ):
            assert got.fmt == exp_fmt
            assert values(got) == [Fraction(x) for x in exp_vals]
    # division follows the reference in the operand's smallest format
    vop = make([v], vfmt, ())
    if v != 0:
        got = a / v
        assert got.fmt == nat("div", fa, vfmt)
        np.testing.assert_array_equal(pyints(got), expected_binary("div", a, vop))
    nz = make([fa.raw_min or 3, 1, fa.raw_max], fa)
    got = v / nz
    assert got.fmt == nat("div", vfmt, fa)
    np.testing.assert_array_equal(pyints(got), expected_binary("div", vop, nz))


def test_reflected_ops():
    a = make([-8, -3, 0, 5, 7], Fixed(4, 2))  # -2, -0.75, 0, 1.25, 1.75
    assert values(3 - a) == [Fraction(3) - x for x in values(a)]
    assert values(2 * a) == [2 * x for x in values(a)]
    assert values(-5 + a) == [x - 5 for x in values(a)]
    assert (3 - a).fmt == nat("sub", Fixed(2, 2, signed=False), a.fmt)
    assert (2 * a).fmt == nat("mul", Fixed(2, 2, signed=False), a.fmt)


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_integer_arrays_are_exact_integers(dtype):
    info = np.iinfo(dtype)
    ints = [int(info.min), 0, 1, int(info.max), int(info.max) - 1]
    if info.min < 0:
        ints.append(-1)
    arr = np.array(ints, dtype=dtype)
    bits = info.bits
    ifmt = Fixed(bits, bits, signed=info.min < 0)
    a = make([-5, 3, -8, 7, 1, 2][: len(ints)], Fixed(4, 2))
    va = values(a)
    for got, exp, exp_fmt in (
        (a + arr, [x + y for x, y in zip(va, ints)], nat("add", a.fmt, ifmt)),
        (arr + a, [y + x for x, y in zip(va, ints)], nat("add", ifmt, a.fmt)),
        (a - arr, [x - y for x, y in zip(va, ints)], nat("sub", a.fmt, ifmt)),
        (arr * a, [y * x for x, y in zip(va, ints)], nat("mul", ifmt, a.fmt)),
        (fx.multiply(a, arr), [x * y for x, y in zip(va, ints)], nat("mul", a.fmt, ifmt)),
    ):
        assert isinstance(got, fx.FixedArray)
        assert got.fmt == exp_fmt
        assert values(got) == exp
    # comparisons against exact integers
    np.testing.assert_array_equal(a < arr, np.array([x < y for x, y in zip(va, ints)]))


def test_numpy_integer_scalar_operand():
    a = make([-8, 7], Fixed(4, 2))
    got = a * np.uint64(2**64 - 1)
    assert values(got) == [x * (2**64 - 1) for x in values(a)]


@pytest.mark.parametrize("make_expr", [
    lambda a: a + 1.5,
    lambda a: 1.5 + a,
    lambda a: a - 0.25,
    lambda a: 2.0 * a,
    lambda a: a / 2.0,
    lambda a: a * np.float64(2.0),
    lambda a: np.float64(2.0) * a,
    lambda a: a + np.array([1.0, 2.0]),
    lambda a: np.array([1.0, 2.0]) - a,
    lambda a: a * np.array([1.0, 2.0], dtype=np.float32),
    lambda a: fx.add(a, 0.5, out_fmt=Fixed(8, 4)),
    lambda a: fx.divide(np.array([0.5, 1.0]), a, out_fmt=Fixed(8, 4)),
], ids=lambda f: "")
def test_float_operands_need_a_format(make_expr):
    a = make([3, 5], Fixed(8, 3))
    with pytest.raises(TypeError, match="explicit fixed-point format"):
        make_expr(a)


# --------------------------------------------------------------------------------------
# division by zero
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fa,fb", [(Fixed(8, 3), Fixed(6, 2)), (Fixed(60, 3), Fixed(60, 1)),
                                   (Fixed(64, -30), Fixed(64, -60)), (Fixed(100, 3), Fixed(8, 8))], ids=str)
def test_division_by_zero_names_first_index(fa, fb):
    a = make(list(range(12)), fa, (3, 4))
    b = make([1, 2, 3, 4, 5, 6, 0, 7, 0, 1, 1, 1], fb, (3, 4))  # zeros at (1, 2) and (2, 0)
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \(1, 2\)"):
        a / b
    with pytest.raises(ZeroDivisionError, match=r"^fx\.divide: division by zero at index \(1, 2\)"):
        fx.divide(a, b, out_fmt=Fixed(8, 4, q="RND", o="SAT"))
    # broadcast: the zero of a (1, 4) divisor first hits result element (0, 3)
    b2 = make([1, 2, 3, 0], fb, (1, 4))
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \(0, 3\)"):
        a / b2
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \(\)"):
        make([1], fa, ()) / make([0], fb, ())
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \(1,\)"):
        a[0] / make([1, 0, 0, 1], fb)


def test_division_by_python_zero():
    a = make([1, 2], Fixed(8, 3))
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \(0,\)"):
        a / 0


# --------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------
CMPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


def check_compare(a: fx.FixedArray, b: fx.FixedArray) -> None:
    """fx.compare(exact=True) against Fractions; the operators against the header's rules
    (``_reference.header_compare``, itself checked against ap_fixed.h in test_oracle.py),
    which are the exact result unless the signedness is mixed."""
    xa, xb = np.broadcast_arrays(np.array(values(a) or [], dtype=object).reshape(a.shape),
                                 np.array(values(b) or [], dtype=object).reshape(b.shape))
    ra, rb = np.broadcast_arrays(pyints(a), pyints(b))
    for name, f in CMPS.items():
        got = np.asarray(f(a, b))  # an ndarray (np.bool_ for 0-d results, as NumPy gives)
        assert got.dtype == np.bool_ and got.shape == xa.shape, name
        exp = np.array([f(x, y) for x, y in zip(xa.reshape(-1), xb.reshape(-1))], dtype=bool).reshape(xa.shape)
        np.testing.assert_array_equal(np.asarray(fx.compare(a, b, name, exact=True)), exp, err_msg=name)
        hdr = np.array([ref.header_compare(name, int(x), t3(a.fmt), int(y), t3(b.fmt))
                        for x, y in zip(ra.reshape(-1), rb.reshape(-1))], dtype=bool).reshape(xa.shape)
        np.testing.assert_array_equal(got, hdr, err_msg=name)
        if a.fmt.signed == b.fmt.signed:
            np.testing.assert_array_equal(got, exp, err_msg=name)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_comparisons_match_fractions(data):
    fa = data.draw(formats(), label="fa")
    fb = data.draw(formats(), label="fb")
    n = data.draw(st.integers(1, 5), label="n")
    ra = data.draw(st.lists(raw_values(fa), min_size=n, max_size=n), label="ra")
    rb = data.draw(st.lists(raw_values(fb), min_size=n, max_size=n), label="rb")
    # make some pairs equal in value when b can represent a's value
    for k in range(n):
        v = ref.value_of(ra[k], fa.w, fa.i) * (Fraction(2) ** fb.f)
        if data.draw(st.booleans()) and v.denominator == 1 and fb.raw_min <= v <= fb.raw_max:
            rb[k] = int(v)
    check_compare(make(ra, fa), make(rb, fb))


def test_comparisons_below_one_lsb_of_the_coarser_format():
    coarse = make([16, 16, 16, -16, -16], Fixed(8, 4))  # 1, 1, 1, -1, -1
    one = 1 << 16
    fine = make([one, one + 1, one - 1, -one - 1, -one], Fixed(24, 8))  # 1, 1+2^-16, 1-2^-16, ...
    check_compare(coarse, fine)
    np.testing.assert_array_equal(coarse == fine, [True, False, False, False, True])
    np.testing.assert_array_equal(coarse < fine, [False, True, False, False, False])
    # unsigned 255 vs signed -1: same bits, different values
    u, s = make([255], Fixed(8, 8, signed=False)), make([-1], Fixed(8, 8))
    np.testing.assert_array_equal(u > s, [True])
    np.testing.assert_array_equal(u == s, [False])


@pytest.mark.parametrize("fa,fb", [
    (Fixed(64, 100), Fixed(64, -100)),  # natural difference format far beyond 126 bits
    (Fixed(64, 64, signed=False), Fixed(64, 64)),  # 66 bits
    (Fixed(63, 30), Fixed(63, 30, signed=False)),  # 65 bits
    (Fixed(32, 16), Fixed(31, 16)),  # exactly 33 bits
    (Fixed(63, 63), Fixed(63, 0)),  # 127 bits
    (Fixed(62, 62), Fixed(1, 1)),  # 63 bits
    (Fixed(63, 63), Fixed(63, 63)),  # 64 bits: a - b may not fit int64 in the subtraction
    (Fixed(120, 7), Fixed(90, 80, signed=False)),  # wide operands
], ids=str)
def test_comparisons_extreme_formats(fa, fb):
    ra = [fa.raw_min, fa.raw_min, fa.raw_max, fa.raw_max, 0, 1, -1 if fa.signed else 2, fa.raw_max // 3]
    rb = [fb.raw_max, fb.raw_min, fb.raw_min, fb.raw_max, 0, 1, 1, fb.raw_max // 5]
    ra = [min(max(v, fa.raw_min), fa.raw_max) for v in ra]
    rb = [min(max(v, fb.raw_min), fb.raw_max) for v in rb]
    check_compare(make(ra, fa), make(rb, fb))
    check_compare(make(rb, fb), make(ra, fa))
    # tiny positive vs tiny negative values that differ by far less than either LSB
    tiny_pos = make([1], Fixed(8, -120))
    tiny_neg = make([-1], Fixed(8, -300))
    zero = make([0], Fixed(4, 4))
    check_compare(tiny_pos, tiny_neg)
    check_compare(tiny_neg, zero)


def test_comparisons_with_python_ints_and_broadcast():
    a = make([-8, -4, 0, 4, 7], Fixed(4, 2))  # -2, -1, 0, 1, 1.75
    np.testing.assert_array_equal(a == 1, [False, False, False, True, False])
    np.testing.assert_array_equal(a < -1, [True, False, False, False, False])
    np.testing.assert_array_equal(a >= 2**80, [False] * 5)
    check_compare(a.reshape(5, 1), make([-4, 4], Fixed(8, 3), (1, 2)))


# --------------------------------------------------------------------------------------
# shifts and scale
# --------------------------------------------------------------------------------------
def shl_ref(r: int, k: int, w: int, signed: bool) -> int:
    bits = (r << k) & ((1 << w) - 1)
    return bits - (1 << w) if signed and bits >> (w - 1) else bits


def shift_ref(r: int, k: int, left: bool, w: int, signed: bool) -> int:
    if k < 0:
        k, left = -k, not left
    return shl_ref(r, k, w, signed) if left else r >> k  # Python >> is floor


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_shifts_match_reference(data):
    fa = data.draw(st.one_of(formats(), formats(min_w=65, max_w=130)), label="fa")
    fa = fa.replace(q=data.draw(st.sampled_from(["TRN", "RND"])), o=data.draw(st.sampled_from(["WRAP", "SAT"])))
    ra = data.draw(st.lists(raw_values(fa), min_size=1, max_size=5), label="ra")
    k = data.draw(st.integers(-(fa.w - 1), fa.w - 1), label="k")
    a = make(ra, fa)
    for left, got in ((True, a << k), (False, a >> k)):
        assert got.fmt == a.fmt  # same format, modes untouched and not applied
        np.testing.assert_array_equal(pyints(got), obj([shift_ref(r, k, left, fa.w, fa.signed) for r in ra]))


def test_shift_worked_examples():
    a = make([0b0101_1011, -0b0100_0000, -1], Fixed(8, 3))
    np.testing.assert_array_equal(pyints(a << 1), obj([-0b0100_1010, -0b1000_0000, -2]))
    np.testing.assert_array_equal(pyints(a >> 2), obj([0b0001_0110, -0b0001_0000, -1]))
    np.testing.assert_array_equal(pyints(a >> -1), pyints(a << 1))
    u = make([0b1101_1011, 1], Fixed(8, 3, signed=False))
    np.testing.assert_array_equal(pyints(u << 3), obj([0b1101_1000, 8]))
    np.testing.assert_array_equal(pyints(u >> 7), obj([1, 0]))
    wide_u = make([(1 << 64) - 1], Fixed(64, 0, signed=False))
    np.testing.assert_array_equal(pyints(wide_u << 4), obj([(1 << 64) - 16]))
    np.testing.assert_array_equal(pyints(wide_u >> 60), obj([15]))
    sat = make([0b0110_0000], Fixed(8, 3, q="RND", o="SAT"))  # modes do not saturate a shift
    assert int((sat << 1).raw[0]) == -0b0100_0000


@pytest.mark.parametrize("w", [1, 8, 64, 100])
def test_shift_amount_must_be_below_width(w):
    a = make([0], Fixed(w, 2))
    with pytest.raises(ValueError, match=rf"__lshift__: shift amount {w} must be less than the width w={w}"):
        a << w
    for bad in (lambda: a >> w, lambda: a << -w, lambda: a >> (w + 5)):
        with pytest.raises(ValueError, match=rf"shift amount \d+ must be less than the width w={w}"):
            bad()
    with pytest.raises(TypeError, match="shift amount must be an int"):
        a << 1.0
    assert (a << (w - 1)).fmt == a.fmt


@pytest.mark.parametrize("left", [True, False], ids=["lshift", "rshift"])
@pytest.mark.parametrize("fmt", [Fixed(8, 3), Fixed(8, 3, signed=False), Fixed(80, 3)], ids=str)
def test_shift_zero_d(fmt, left):
    r = -5 if fmt.signed else 5
    a = make([r], fmt, ())
    got = a << 2 if left else a >> 2
    assert got.shape == ()
    assert int(got.raw[()]) == (r * 4 if left else r // 4)


@settings(max_examples=60, deadline=None)
@given(fa=formats(max_w=100), k=st.integers(-40, 40), data=st.data())
def test_scale_moves_the_binary_point(fa, k, data):
    fa = fa.replace(q=data.draw(st.sampled_from(["TRN", "RND_CONV"])), o=data.draw(st.sampled_from(["WRAP", "SAT"])))
    ra = data.draw(st.lists(raw_values(fa), min_size=1, max_size=4))
    a = make(ra, fa)
    got = a.scale(k)
    assert got.fmt == fa.replace(i=fa.i + k)
    np.testing.assert_array_equal(pyints(got), obj(ra))
    assert values(got) == [v * Fraction(2) ** k for v in values(a)]


def test_scale_rejects_non_int():
    with pytest.raises(TypeError, match="k must be an int"):
        make([1], Fixed(8, 3)).scale(1.0)


# --------------------------------------------------------------------------------------
# shifts against the real ap_fixed.h (compiled at test time)
# --------------------------------------------------------------------------------------
_SHIFT_SRC = r"""
#include <ap_fixed.h>
#include <cstdio>
template <class T> void run(const char* name) {
  for (int bits = 0; bits < 256; ++bits) {
    T x;
    x.range(7, 0) = bits;
    for (int k = -7; k <= 7; ++k) {
      T l = x << k;
      T r = x >> k;
      std::printf("%s %d %d %u %u\n", name, bits, k, (unsigned)l.range(7, 0).to_uint(),
                  (unsigned)r.range(7, 0).to_uint());
    }
  }
}
int main() {
  run<ap_fixed<8, 3> >("s");
  run<ap_ufixed<8, 3> >("u");
  return 0;
}
"""


def _ap_types_dir() -> Path | None:
    spec = importlib.util.find_spec("hls4ml")  # locates the package without importing its dependencies
    if spec is None or not spec.origin:
        return None
    d = Path(spec.origin).resolve().parent / "templates" / "vivado" / "ap_types"
    return d if (d / "ap_fixed.h").is_file() else None


def test_shifts_against_ap_fixed_header(tmp_path):
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found on PATH: the ap_fixed.h shift check needs a C++ compiler")
    ap_types = _ap_types_dir()
    if ap_types is None:
        pytest.skip("hls4ml (which ships ap_fixed.h under templates/vivado/ap_types) is not installed "
                    "in this interpreter: pip install hls4ml")
    src = tmp_path / "shift.cpp"
    src.write_text(_SHIFT_SRC)
    exe = tmp_path / "shift"
    subprocess.run([cxx, "-std=c++17", "-O0", "-w", "-I", str(ap_types), str(src), "-o", str(exe)], check=True,
                   capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    rows = [lines[j:j + 5] for j in range(0, len(lines), 5)]
    assert len(rows) == 2 * 256 * 15
    for signed, tag in ((True, "s"), (False, "u")):
        fmt = Fixed(8, 3, signed=signed)

        def raw_of(bits):
            return bits - 256 if signed and bits >= 128 else bits

        mine = [r for r in rows if r[0] == tag]
        bits = sorted({int(r[1]) for r in mine})
        a = make([raw_of(b) for b in bits], fmt)
        for k in range(-7, 8):
            want_l = {int(r[1]): raw_of(int(r[3])) for r in mine if int(r[2]) == k}
            want_r = {int(r[1]): raw_of(int(r[4])) for r in mine if int(r[2]) == k}
            np.testing.assert_array_equal(pyints(a << k), obj([want_l[b] for b in bits]), err_msg=f"{fmt} << {k}")
            np.testing.assert_array_equal(pyints(a >> k), obj([want_r[b] for b in bits]), err_msg=f"{fmt} >> {k}")


@pytest.mark.parametrize("out", [None, Fixed(60, 50, q="RND", o="SAT")], ids=str)
def test_division_runs_the_header_algorithm_only_where_it_can_lose_bits(out, monkeypatch):
    """Internal division width 65..126 bits: the 128-bit kernel (exact) unless some element can
    reach ap_private's multi-word Knuth division (dividend of 2+ 64-bit words after the shift,
    divisor of 2+ 32-bit digits); then the header's algorithm, whose result can differ."""
    calls = []
    real = _backend._core.elementwise
    monkeypatch.setattr(_backend._core, "elementwise", lambda *args: calls.append(1) or real(*args))
    fa, fb = Fixed(64, 64, signed=False), Fixed(40, 4, signed=False)  # shift 36, W = 100
    ta, tb = t3(fa), t3(fb)
    small = fx.from_raw(np.array([2**27 - 1, 12345], dtype=np.uint64), fa)  # |a << 36| < 2**64
    big = fx.from_raw(np.array([2**64 - 1, 2**63 + 2**40 - 1], dtype=np.uint64), fa)
    den = fx.from_raw(np.array([2**40 - 1, 2**33 + 1]), fb)
    for a, expect_kernel in ((small, True), (big, False)):
        calls.clear()
        got = fx.divide(a, den, out_fmt=out)
        assert bool(calls) == expect_kernel
        want = [ref.arith_raw("div", int(x), ta, int(y), tb)[0] for x, y in zip(pyints(a), pyints(den))]
        if out is not None:
            nat_w, nat_i, nat_s = ref.result_format("div", ta, tb)
            want = [ref.cast_raw(r, nat_w, nat_i, nat_s, out.w, out.i, out.signed, "RND", "SAT") for r in want]
        np.testing.assert_array_equal(pyints(got), obj(want))


def test_fused_division_by_a_64_bit_unsigned_divisor():
    """Regression (found by hypothesis): the natural width of a division can be below the
    divisor's, and the int64 fused pass read a 64-bit unsigned divisor as -1."""
    fa, fb, out = Fixed(56, 0, signed=False), Fixed(64, 64, signed=False), Fixed(56, 0, signed=False)
    a = fx.from_raw(np.array([1, 2**56 - 1]), fa)
    b = fx.from_raw(np.array([2**64 - 1, 2**63 + 5], dtype=np.uint64), fb)
    ta, tb = (fa.w, fa.i, fa.signed), (fb.w, fb.i, fb.signed)
    nat = [ref.arith_raw("div", int(x), ta, int(y), tb) for x, y in zip(a.raw, b.raw)]
    want = [ref.cast_raw(r, *f, out.w, out.i, out.signed) for r, f in nat]
    assert fx.divide(a, b, out_fmt=out).raw.tolist() == want
    assert (a / b).cast(out).raw.tolist() == want
