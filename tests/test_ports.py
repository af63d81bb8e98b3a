"""The mappings of docs/ports.md, verified against the real peer libraries.

For every peer that is installed (apytypes, fxpmath, and the NumPy half of ``quantizers``) the
claimed equivalent of each rounding and overflow mode is run on the same inputs by both
libraries and the stored integers are compared exactly. Inputs are random over the whole range
plus aimed values: exact ties ``(k + 1/2) * 2^-f``, one float64 ulp on either side of them, and
the range edges. A peer that is not installed skips its tests with the reason.

The differences docs/ports.md states (fxpmath's defaults, quantizers' ``floor(x + 0.5)``, apytypes'
``from_float``) are checked here too, so the page cannot claim a difference that is not there.
"""

from __future__ import annotations

import numpy as np
import pytest

import fixedpoint as fx

ROUNDINGS = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV")
FORMATS = [(8, 4), (12, 3), (16, 6), (10, -2), (6, 9), (24, 12)]  # (W, I), signed; I < 0 and I > W too


def _inputs(w: int, i: int, seed: int, n: int = 4000) -> np.ndarray:
    """float64 inputs for ap_fixed<w, i>: uniform over twice the range, ties +-1 ulp, edges."""
    rng = np.random.default_rng(seed)
    f = w - i
    lsb = 2.0**-f
    lo, hi = -(2.0 ** (i - 1)), 2.0 ** (i - 1)
    x = rng.uniform(2 * lo, 2 * hi, n)
    k = rng.integers(-(2 ** (w - 1)) - 8, 2 ** (w - 1) + 8, n // 4)
    ties = (k + 0.5) * lsb
    edges = np.array([lo, hi - lsb, hi, lo - lsb, hi + lsb / 2, lo - lsb / 2, 0.0, -0.0, lsb / 2, -lsb / 2])
    return np.concatenate([x, ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), edges])


def _signed(bits: np.ndarray, w: int) -> np.ndarray:
    """w-bit two's-complement patterns (unsigned) -> signed int64."""
    b = np.asarray(bits, dtype=np.int64)
    return np.where(b >= 1 << (w - 1), b - (1 << w), b)


# ---------------------------------------------------------------------------------------------
# APyTypes
APY_Q = {q: q for q in ROUNDINGS}  # apytypes spells the seven ap_fixed modes the same way


@pytest.fixture(scope="module")
def apy():
    return pytest.importorskip("apytypes", reason="apytypes is not installed (pip install apytypes)")


@pytest.mark.parametrize("w,i", FORMATS)
@pytest.mark.parametrize("o", ["WRAP", "SAT"])
@pytest.mark.parametrize("q", ROUNDINGS)
def test_apytypes_cast_equals_fixed_cast(apy, q, o, w, i):
    """APyFixedArray.cast(int_bits=I, frac_bits=W-I, quantization=Q, overflow=O) == FixedArray.cast."""
    # The source holds the inputs exactly: 40-bit integers with 16 more fraction bits than the target.
    rng = np.random.default_rng(4000 + 31 * w + i)
    f_src = (w - i) + 16
    src = fx.Fixed(48, 48 - f_src)
    raw = np.concatenate([rng.integers(-(2**47), 2**47, 3000),
                          (rng.integers(-(2**31), 2**31, 500) << 16) + (1 << 15),  # exact ties of the target
                          np.array([-(2**47), 2**47 - 1, 0, 1 << 15, -(1 << 15)])])
    raw = np.clip(raw, -(2**47), 2**47 - 1)
    tgt = fx.Fixed(w, i, q=q, o=o)
    ours = fx.from_raw(raw, src).cast(tgt).raw
    a = apy.APyFixedArray(raw, int_bits=src.i, frac_bits=src.f)
    theirs = a.cast(int_bits=i, frac_bits=w - i, quantization=getattr(apy.QuantizationMode, APY_Q[q]),
                    overflow=getattr(apy.OverflowMode, o))
    np.testing.assert_array_equal(ours, _signed(theirs.to_bits(), w))


@pytest.mark.parametrize("w,i", FORMATS)
def test_apytypes_from_float_is_rnd_inf_wrap(apy, w, i):
    """APyFixedArray.from_float always rounds RND_INF and wraps: fx.array with those modes."""
    x = _inputs(w, i, seed=1000 + 31 * w + i)
    ours = fx.array(x, fx.Fixed(w, i, q="RND_INF", o="WRAP")).raw
    theirs = apy.APyFixedArray.from_float(x, int_bits=i, frac_bits=w - i)
    np.testing.assert_array_equal(ours, _signed(theirs.to_bits(), w))


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_apytypes_arithmetic_formats_and_bits(apy, op):
    """Signed + - * : apytypes' result (int_bits, frac_bits) and bits equal the natural ap_fixed result."""
    rng = np.random.default_rng(5)
    fa, fb = fx.Fixed(10, 3), fx.Fixed(7, 5)
    ra = rng.integers(fa.raw_min, fa.raw_max + 1, 2000)
    rb = rng.integers(fb.raw_min, fb.raw_max + 1, 2000)
    a, b = fx.from_raw(ra, fa), fx.from_raw(rb, fb)
    ours = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    pa = apy.APyFixedArray(ra, int_bits=fa.i, frac_bits=fa.f)
    pb = apy.APyFixedArray(rb, int_bits=fb.i, frac_bits=fb.f)
    theirs = {"add": pa + pb, "sub": pa - pb, "mul": pa * pb}[op]
    assert (theirs.int_bits, theirs.frac_bits) == (ours.fmt.i, ours.fmt.f)
    np.testing.assert_array_equal(ours.raw, _signed(theirs.to_bits(), ours.fmt.w))


# ---------------------------------------------------------------------------------------------
# fxpmath
FXP_ROUNDING = {
    "TRN": "floor",
    "TRN_ZERO": "trunc",
    "RND": "nearest_posinf",
    "RND_ZERO": "nearest_zero",
    "RND_MIN_INF": "nearest_neginf",
    "RND_INF": "nearest_away",
    "RND_CONV": "around",
}
FXP_OVERFLOW = {"WRAP": "wrap", "SAT": "saturate"}


@pytest.fixture(scope="module")
def fxpmath():
    return pytest.importorskip("fxpmath", reason="fxpmath is not installed (pip install fxpmath)")


def _fxp_raw(fxpmath, x, w, i, signed, rounding, overflow):
    v = fxpmath.Fxp(x, signed=signed, n_word=w, n_frac=w - i, rounding=rounding, overflow=overflow)
    return np.asarray(v.val, dtype=np.int64)


@pytest.mark.parametrize("w,i", FORMATS)
@pytest.mark.parametrize("o", ["WRAP", "SAT"])
@pytest.mark.parametrize("q", ROUNDINGS)
@pytest.mark.parametrize("signed", [True, False])
def test_fxpmath_modes(fxpmath, q, o, w, i, signed):
    """Fxp(x, signed, n_word=W, n_frac=W-I, rounding=FXP_ROUNDING[q], overflow=...) == fx.array."""
    x = _inputs(w, i, seed=2000 + 31 * w + i)
    if not signed:
        x = np.concatenate([np.abs(x), x[:50]])  # mostly in range, some negative (overflow)
    x = _no_float_pitfall(x, w, i)
    ours = fx.array(x, fx.Fixed(w, i, signed=signed, q=q, o=o)).raw
    theirs = _fxp_raw(fxpmath, x, w, i, signed, FXP_ROUNDING[q], FXP_OVERFLOW[o])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("q,theirs", [("RND_INF", -1), ("RND_MIN_INF", -1), ("RND", 0), ("RND_ZERO", 0),
                                       ("RND_CONV", 0)])
def test_fxpmath_just_above_negative_tie(fxpmath, q, theirs):
    """fxpmath's nearest_* modes compute frac = t - floor(t) in float64, which rounds to exactly
    1/2 for t = -0.49999999999999994: ties-away and ties-to-minus-inf then round it to -1.
    ap_fixed (and fixedpoint) give 0: |t| < 1/2. The other modes land on 0 either way."""
    x = np.array([-BELOW_HALF * 2.0**-4])
    assert fx.array(x, fx.Fixed(8, 4, q=q)).raw.tolist() == [0]
    assert _fxp_raw(fxpmath, x, 8, 4, True, FXP_ROUNDING[q], "saturate").tolist() == [theirs]


def test_fxpmath_defaults_differ_from_ap_fixed(fxpmath):
    """Fxp's defaults are rounding='trunc' (toward zero) and overflow='saturate'; ap_fixed's are TRN/WRAP."""
    x = np.array([-0.3, 0.3, 9.0])
    v = fxpmath.Fxp(x, signed=True, n_word=8, n_frac=4)
    assert (v.config.rounding, v.config.overflow) == ("trunc", "saturate")
    assert np.asarray(v.val).tolist() == fx.array(x, "ap_fixed<8,4,AP_TRN_ZERO,AP_SAT>").raw.tolist() == [-4, 4, 127]
    assert fx.array(x, "ap_fixed<8,4>").raw.tolist() == [-5, 4, -112]


# ---------------------------------------------------------------------------------------------
# quantizers (the NumPy implementation; the Keras one needs keras)
QZ_ROUNDING = {q: q for q in ROUNDINGS}


@pytest.fixture(scope="module")
def qz():
    pytest.importorskip("quantizers", reason="quantizers is not installed (pip install quantizers)")
    from quantizers import get_fixed_quantizer_np  # noqa: PLC0415

    return get_fixed_quantizer_np


def _qz_raw(get_q, x, w, i, signed, q, o):
    k = int(signed)
    fn = get_q(round_mode=q, overflow_mode=o)
    y = fn(x, k, i - k, w - i)
    r = np.asarray(y, dtype=np.float64) * 2.0 ** (w - i)
    assert np.all(r == np.round(r))
    return r.astype(np.int64)


BELOW_HALF = 0.5 - 2.0**-54  # 0.49999999999999994, the largest double below 1/2


def _no_float_pitfall(x, w, i):
    """Drop the inputs with x * 2^f = +-0.49999999999999994, the one value per sign where the
    float64 rounding tricks of fxpmath and quantizers go wrong (tested on their own below)."""
    t = x * 2.0 ** (w - i)
    return x[np.abs(t) != BELOW_HALF]


@pytest.mark.parametrize("w,i", FORMATS)
@pytest.mark.parametrize("o", ["WRAP", "SAT", "SAT_SYM"])
@pytest.mark.parametrize("q", ROUNDINGS)
@pytest.mark.parametrize("signed", [True, False])
def test_quantizers_modes(qz, q, o, w, i, signed):
    """get_fixed_quantizer_np(q, o)(x, k, i - k, f) == fx.array(x, ap_fixed<W, I, q, o>)."""
    x = _inputs(w, i, seed=3000 + 31 * w + i)
    if not signed:
        x = np.concatenate([np.abs(x), x[:50]])
    x = _no_float_pitfall(x, w, i)
    ours = fx.array(x, fx.Fixed(w, i, signed=signed, q=q, o=o)).raw
    np.testing.assert_array_equal(ours, _qz_raw(qz, x, w, i, signed, q, o))


@pytest.mark.parametrize("q", ["RND", "RND_CONV"])
def test_quantizers_wrap_sm(qz, q):
    """WRAP_SM (quantizers supports it with RND and RND_CONV only) matches ap_fixed's WRAP_SM."""
    w, i = 8, 4
    x = _no_float_pitfall(_inputs(w, i, seed=99), w, i)
    ours = fx.array(x, fx.Fixed(w, i, q=q, o="WRAP_SM")).raw
    np.testing.assert_array_equal(ours, _qz_raw(qz, x, w, i, True, q, "WRAP_SM"))


@pytest.mark.parametrize("q,t,theirs", [("RND", BELOW_HALF, 1), ("RND_INF", BELOW_HALF, 1),
                                         ("RND_INF", -BELOW_HALF, -1), ("RND_MIN_INF", -BELOW_HALF, -1),
                                         ("RND_ZERO", BELOW_HALF, 0), ("RND_CONV", BELOW_HALF, 0)])
def test_quantizers_floor_plus_half_differs(qz, q, t, theirs):
    """quantizers' RND is floor(t + 0.5) in float64 (RND_INF and RND_MIN_INF alike), and
    0.49999999999999994 + 0.5 rounds to 1.0: the value just below a half rounds away from 0.
    ap_fixed rounds it to 0 (it is below the tie)."""
    x = np.array([t * 2.0**-4])
    assert fx.array(x, fx.Fixed(8, 4, q=q, o="SAT")).raw.tolist() == [0]
    assert _qz_raw(qz, x, 8, 4, True, q, "SAT").tolist() == [theirs]


def test_quantizers_rnd_beyond_2_to_52(qz):
    """floor(t + 0.5) also fails where float64 spacing reaches 1: t = 2^52 + 1 gives 2^52 + 2."""
    x = np.array([2.0**52 + 1])
    assert fx.array(x, fx.Fixed(60, 60, q="RND", o="SAT")).raw.tolist() == [2**52 + 1]
    assert _qz_raw(qz, x, 60, 60, True, "RND", "SAT").tolist() == [2**52 + 2]
