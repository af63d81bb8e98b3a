"""Elementwise selects and scalar conversions: fx.maximum / fx.minimum / fx.clip / fx.relu (and
np.maximum, np.minimum, np.fmax, np.fmin, np.clip dispatching to them), int() and float().

Expected values come from fractions.Fraction arithmetic on the stored integers; the expected
result format is checked against its definition (every value of both operand formats is
representable, and no narrower format holds them all), found by brute force, never by
calling the implementation's format rule. int() is also checked against ap_fixed.h's
``to_int()`` compiled at test time (skipped without g++ or hls4ml).
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _reference as ref

Fixed = fx.Fixed


def values(a) -> list:
    """The exact values of a FixedArray, flattened, as Fractions."""
    lsb = Fraction(2) ** -a.fmt.f
    return [int(r) * lsb for r in a.raw.reshape(-1)]


def all_of(fmt: Fixed) -> fx.FixedArray:
    """Every value of a (narrow) format."""
    return fx.from_raw(np.arange(fmt.raw_min, fmt.raw_max + 1), fmt)


def holds(w: int, i: int, signed: bool, v: Fraction) -> bool:
    r = v * Fraction(2) ** (w - i)
    if r.denominator != 1:
        return False
    lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)
    return lo <= r <= hi


def smallest_width(vals) -> int:
    """The smallest w of any (w, i, signed) holding every value in vals (brute force)."""
    for w in range(1, 40):
        for i in range(-20, 40):
            for signed in (False, True):
                if all(holds(w, i, signed, v) for v in vals):
                    return w
    raise AssertionError("no format found")


PAIRS = [
    (Fixed(4, 2), Fixed(3, 1, signed=False)),
    (Fixed(5, -1), Fixed(4, 6)),
    (Fixed(3, 3, signed=False), Fixed(4, 0, signed=False)),
    (Fixed(6, 2, q="RND", o="SAT"), Fixed(6, 2, q="RND", o="SAT")),
    (Fixed(1, 1), Fixed(2, 0, signed=False)),
]


@pytest.mark.parametrize("fa,fb", PAIRS, ids=str)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_every_pair_of_values_small_formats(fa, fb, name):
    a, b = all_of(fa), all_of(fb)
    fn = getattr(fx, name)
    res = fn(a.reshape(-1, 1), b.reshape(1, -1))
    pick = max if name == "maximum" else min
    want = [pick(x, y) for x in values(a) for y in values(b)]
    assert res.shape == (a.size, b.size)
    assert values(res) == want
    # the format: holds every value of both formats, and nothing narrower does
    r = res.fmt
    assert all(holds(r.w, r.i, r.signed, v) for v in values(a) + values(b))
    assert r.w == smallest_width(values(a) + values(b))
    if fa == fb:
        assert r == fa  # identical formats are kept, modes included
    else:
        assert (r.q, r.o, r.n) == ("TRN", "WRAP", 0)
    # the NumPy ufuncs dispatch to the same exact code
    np_fn = np.maximum if name == "maximum" else np.minimum
    f_fn = np.fmax if name == "maximum" else np.fmin
    for g in (np_fn, f_fn):
        other = g(a.reshape(-1, 1), b.reshape(1, -1))
        assert other.fmt == r
        np.testing.assert_array_equal(other.raw, res.raw)


def test_wide_formats_random_values():
    rng = random.Random(5)
    fa, fb = Fixed(100, 40), Fixed(70, 70, signed=False)
    ra = [rng.randrange(fa.raw_min, fa.raw_max + 1) for _ in range(60)] + [fa.raw_min, fa.raw_max, 0]
    rb = [rng.randrange(0, 1 << 70) for _ in range(60)] + [0, fb.raw_max, 1]
    a, b = fx.from_raw(ra, fa), fx.from_raw(rb, fb)
    for fn, pick in ((fx.maximum, max), (fx.minimum, min)):
        res = fn(a, b)
        assert values(res) == [pick(x, y) for x, y in zip(values(a), values(b))]
        assert all(holds(res.fmt.w, res.fmt.i, res.fmt.signed, v) for v in values(a) + values(b))
    # a narrow and a wide operand, broadcast
    n = fx.array([-1.5, 2.25], "ap_fixed<8,4>")
    res = np.maximum(a[:2].reshape(2, 1), n)
    assert values(res) == [max(x, y) for x in values(a[:2]) for y in values(n)]


def test_integer_constants_take_the_arrays_format():
    fmt = Fixed(8, 3, q="RND", o="SAT")
    a = all_of(fmt)
    for c in (0, 1, -4, 3, np.int16(-2)):
        for fn, pick in ((fx.maximum, max), (fx.minimum, min)):
            res = fn(a, c)
            assert res.fmt == fmt, (c, res.fmt)
            assert values(res) == [pick(v, Fraction(int(c))) for v in values(a)]
            assert values(fn(c, a)) == values(res)
    # a constant the format cannot hold widens the result exactly
    res = np.maximum(a, 100)
    assert values(res) == [max(v, Fraction(100)) for v in values(a)]
    assert res.fmt.i >= 8 and holds(res.fmt.w, res.fmt.i, res.fmt.signed, Fraction(100))
    tiny = fx.from_raw([-3, 0, 2], Fixed(4, -1))  # values in (-0.25, 0.25): 1 is not representable
    res = fx.maximum(tiny, 1)
    assert values(res) == [Fraction(1)] * 3 and holds(res.fmt.w, res.fmt.i, res.fmt.signed, Fraction(1))


@pytest.mark.parametrize("fmt", [Fixed(6, 3), Fixed(5, 5, signed=False), Fixed(4, -2), Fixed(130, 60),
                                 Fixed(7, 2, q="RND_CONV", o="SAT_SYM")], ids=str)
def test_relu(fmt):
    a = all_of(fmt) if fmt.w <= 8 else fx.from_raw([fmt.raw_min, -1, 0, 1, fmt.raw_max, -(1 << 100)], fmt)
    res = fx.relu(a)
    assert res.fmt == fmt
    assert values(res) == [max(v, 0) for v in values(a)]
    out = Fixed(4, 2, q="RND", o="SAT")
    cast = fx.relu(a, out_fmt=out)
    want = [ref.cast_raw(max(int(r), 0), fmt.w, fmt.i, fmt.signed, 4, 2, True, "RND", "SAT", 0) for r in a.raw]
    assert cast.fmt == out
    np.testing.assert_array_equal(cast.raw, np.array(want))


def test_clip():
    fmt = Fixed(7, 3)
    a = all_of(fmt)
    lo, hi = fx.array([-1.25], "ap_fixed<6,2>"), fx.array([2.5], "ap_ufixed<4,2>")
    for lo_, hi_ in ((lo, hi), (-2, 3), (None, hi), (lo, None), (hi, lo)):  # (hi, lo): a_min > a_max
        want = []
        for v in values(a):
            if lo_ is not None:
                v = max(v, Fraction(lo_) if isinstance(lo_, int) else values(lo_)[0])
            if hi_ is not None:
                v = min(v, Fraction(hi_) if isinstance(hi_, int) else values(hi_)[0])
            want.append(v)
        for res in (fx.clip(a, lo_, hi_), np.clip(a, lo_, hi_), a.clip(lo_, hi_)):
            assert values(res) == want, (lo_, hi_)
            bounds = [x for x in (lo_, hi_) if isinstance(x, fx.FixedArray)]
            allv = values(a) + [v for x in bounds for v in values(x)]
            assert res.fmt.w == smallest_width(allv)
    assert fx.clip(a, -2, 3).fmt == fmt  # integer bounds the format holds keep it
    assert values(np.clip(a, min=-1, max=1)) == [min(max(v, -1), 1) for v in values(a)]
    np.testing.assert_array_equal(fx.clip(a).raw, a.raw)


def test_select_errors():
    a = fx.array([1.0, 2.0], "ap_fixed<8,4>")
    with pytest.raises(TypeError, match=r"numpy.maximum: a float operand needs an explicit fixed-point format"):
        np.maximum(a, 0.5)
    with pytest.raises(TypeError, match=r"fx.clip: a float operand needs an explicit fixed-point format"):
        fx.clip(a, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"fx.minimum: operands could not be broadcast together, lhs: \(2,\), "
                                         r"rhs: \(3,\)"):
        fx.minimum(a, fx.array([1, 2, 3], "ap_fixed<8,4>"))
    with pytest.raises(TypeError, match=r"numpy.clip: arguments \['out'\] are not supported"):
        np.clip(a, 0, 1, out=np.empty(2))


# -- int() and float() ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [Fixed(6, 3), Fixed(5, -1), Fixed(4, 7), Fixed(6, 2, signed=False)], ids=str)
def test_int_truncates_toward_zero_every_value(fmt):
    a = all_of(fmt)
    for k, v in enumerate(values(a)):
        assert int(a[k]) == int(v)  # Fraction.__int__ truncates toward zero
        assert float(a[k]) == float(v)


def test_int_and_float_of_wide_and_shaped_scalars():
    fmt = Fixed(200, 150)
    raw = -(1 << 190) - 12345
    x = fx.from_raw([raw], fmt)
    assert int(x[0]) == int(Fraction(raw, 1 << 50))
    assert int(x) == int(x[0])  # size 1, any shape
    assert float(fx.array([[2.75]], "ap_fixed<8,4>")) == 2.75
    a = fx.array([1.0, 2.0], "ap_fixed<8,4>")
    with pytest.raises(TypeError, match=r"int\(\): only a FixedArray of size 1 converts to a Python int, got shape "
                                        r"\(2,\); use a.raw"):
        int(a)
    with pytest.raises(TypeError, match=r"float\(\): only a FixedArray of size 1 converts to a Python float, got "
                                        r"shape \(2,\)"):
        float(a)


def _ap_types() -> Path | None:
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    return p if (p / "ap_fixed.h").exists() else None


def test_int_equals_ap_fixed_to_int(tmp_path):
    """Every value of ap_fixed<8,4> and ap_ufixed<6,3>: int() equals the header's to_int()."""
    hdr = _ap_types()
    if shutil.which("g++") is None or hdr is None:
        pytest.skip("needs g++ and hls4ml (its wheel ships ap_fixed.h)")
    src = tmp_path / "to_int.cpp"
    src.write_text(
        '#include "ap_fixed.h"\n#include <cstdio>\nint main() {\n'
        "  for (int r = -128; r < 128; ++r) { ap_fixed<8,4> v; v.V = r; printf(\"%d\\n\", v.to_int()); }\n"
        "  for (int r = 0; r < 64; ++r) { ap_ufixed<6,3> v; v.V = r; printf(\"%d\\n\", v.to_int()); }\n"
        "  return 0;\n}\n")
    exe = tmp_path / "to_int"
    subprocess.run(["g++", "-std=c++17", "-O0", "-w", f"-I{hdr}", str(src), "-o", str(exe)], check=True)
    want = [int(s) for s in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    got = [int(x) for x in fx.from_raw(np.arange(-128, 128), "ap_fixed<8,4>")]
    got += [int(x) for x in fx.from_raw(np.arange(64), "ap_ufixed<6,3>")]
    assert got == want
