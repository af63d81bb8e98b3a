"""The extension checks the raws it is given against their formats (issue 22: `_core` is
importable, so every binding checks its own arguments rather than trusting the Python caller).
An out-of-range raw used to give a silently wrong value in `cast`, `to_double`, `elementwise`,
`matmul_accum` and the wide kernels (a top limb that is not the sign extension of the format).
Each binding now raises a ValueError naming itself, the operand, the format, the first bad
index and its value. The ranges below come from the format definition, not from the code."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from fixedpoint import _core

# (w, signed): the narrowest, the widths around the 52-bit conversion trick, the widest checked
WIDTHS = [(1, True), (1, False), (8, True), (8, False), (51, False), (52, False), (52, True), (53, True),
          (63, True), (63, False)]


def raw_range(w, signed):
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def name(w, i, signed):
    return f"ap_{'' if signed else 'u'}fixed<{w},{i}>"


def outside_msg(api, what, index, value, w, i, signed):
    lo, hi = raw_range(w, signed)
    where = ", ".join(str(k) for k in index)
    return re.escape(f"{api}: {what}[{where}] = {value} is outside the raw range [{lo}, {hi}] of its format "
                     f"{name(w, i, signed)} ({w}-bit {'signed' if signed else 'unsigned'})")


def edge_raws(w, signed, n, rng):
    """n raws of the format, its two extremes among them."""
    lo, hi = raw_range(w, signed)
    v = rng.integers(lo, hi, n, dtype=np.int64, endpoint=True)
    v[:2] = [lo, hi][:n]
    return v


@pytest.mark.parametrize("w,signed", WIDTHS)
def test_cast_and_to_double_refuse_raws_outside_the_format(isa, threads, w, signed):
    rng = np.random.default_rng(w)
    lo, hi = raw_range(w, signed)
    i = w // 2
    # several bad raws in different blocks and thread chunks: the first one is named
    for n, first in [(1, 0), (5000, 2049), (300_000, 150_001)]:
        v = edge_raws(w, signed, n, rng)
        bad = [b for b in (lo - 1, hi + 1) if -(2**63) <= b < 2**63]  # int64 values outside the range
        v[first] = bad[0]
        if n > 1:
            v[n - 1] = bad[-1]
            v[first + 1:first + 3] = [lo, hi]
        with pytest.raises(ValueError, match=outside_msg("to_double", "raw", [first], bad[0], w, i, signed)):
            _core.to_double(v, w, i, signed)
        with pytest.raises(ValueError, match=outside_msg("cast", "raw", [first], bad[0], w, i, signed)):
            _core.cast(v, w, i, signed, 16, 8, True, 2, 1, 0, 0)  # RND, SAT
    # an n-d array names the n-d index
    v = edge_raws(w, signed, 12, rng).reshape(3, 4)
    big = hi + 1 if hi + 1 < 2**63 else -(2**63)
    v[2, 1] = big
    with pytest.raises(ValueError, match=outside_msg("to_double", "raw", [2, 1], big, w, i, signed)):
        _core.to_double(v, w, i, signed)
    with pytest.raises(ValueError, match=outside_msg("cast", "raw", [2, 1], big, w, i, signed)):
        _core.cast(v, w, i, signed, 8, 8, False, 0, 0, 0, 0)


@pytest.mark.parametrize("w,signed", WIDTHS + [(64, True), (64, False)])
def test_to_double_of_raws_at_the_edges_is_exact(isa, w, signed):
    """The in-range raws, extremes included, convert exactly (Python's Fraction -> float rounds
    correctly): the check and the 52-bit conversion path keep every raw of the format."""
    rng = np.random.default_rng(7)
    lo, hi = raw_range(w, signed)
    vals = [lo, hi, lo + 1, hi - 1, 0] + [int(x) for x in rng.integers(lo, hi, 3000, endpoint=True, dtype=np.uint64 if w == 64 and not signed else np.int64)]
    vals = [min(max(x, lo), hi) for x in vals]
    for i in (w // 2, 0, w, -5, w + 7):
        f = w - i
        raw = np.array([x - (1 << 64) if x >= 2**63 else x for x in vals], dtype=np.int64)
        got = _core.to_double(raw, w, i, signed)
        want = np.array([float(Fraction(x, 1) / Fraction(2) ** f) for x in vals])
        np.testing.assert_array_equal(got, want)


def test_64_bit_formats_take_every_int64():
    v = np.array([-(2**63), 2**63 - 1, -1, 0], np.int64)
    np.testing.assert_array_equal(_core.to_double(v, 64, 64, True), [-(2.0**63), 2.0**63, -1.0, 0.0])
    np.testing.assert_array_equal(_core.to_double(v, 64, 64, False), [2.0**63, 2.0**63, 2.0**64, 0.0])
    np.testing.assert_array_equal(_core.cast(v, 64, 64, True, 64, 64, True, 0, 0, 0, 0), v)


def test_elementwise_refuses_raws_outside_the_formats(isa):
    ok = np.zeros(6, np.int64)
    a = np.array([1, -128, 127, 5, 128, 0], np.int64)
    with pytest.raises(ValueError, match=outside_msg("elementwise", "a", [4], 128, 8, 4, True)):
        _core.elementwise(0, a, 8, 4, True, ok, 8, 4, True, None, 0, False)
    b = np.array([0, 255, 256, -1, 0, 0], np.int64)
    with pytest.raises(ValueError, match=outside_msg("elementwise", "b", [2], 256, 8, 2, False)):
        _core.elementwise(3, ok + 1, 8, 4, True, b, 8, 2, False, (16, 8, True, 0, 0, 0), 0, False)
    # a broadcast (stride 0) operand, and n-d broadcast views as the Python layer passes them
    with pytest.raises(ValueError, match=outside_msg("elementwise", "b", [0], -9, 4, 4, True)):
        _core.elementwise(2, ok, 8, 4, True, np.broadcast_to(np.array([-9]), (6,)), 4, 4, True, None, 0, False)
    col = np.broadcast_to(np.array([[3], [-300], [2]], np.int64), (3, 5))
    with pytest.raises(ValueError, match=outside_msg("elementwise", "a", [1, 0], -300, 9, 9, True)):
        _core.elementwise(4, col, 9, 9, True, np.zeros((3, 5), np.int64), 9, 9, True, None, 0, False)
    row = np.broadcast_to(np.array([0, 0, 7, 8], np.int64), (2, 4))
    with pytest.raises(ValueError, match=outside_msg("elementwise", "b", [0, 3], 8, 3, 1, False)):
        _core.elementwise(0, np.zeros((2, 4), np.int64), 3, 1, False, row, 3, 1, False, None, 0, False)
    # in range: the exact sum (each raw scaled by 2^-4: -8 + 7.9375 = -0.0625)
    lo, hi, _ = _core.elementwise(0, np.array([-128]), 8, 4, True, np.array([127]), 8, 4, True, None, 0, False)
    assert lo.tolist() == [-1]


def test_matmul_accum_refuses_raws_outside_the_formats(isa):
    a = np.array([[1, 2], [3, 40]], np.int64)
    b = np.array([[1, 0], [0, 1]], np.int64)
    with pytest.raises(ValueError, match=outside_msg("matmul_accum", "a", [1, 1], 40, 6, 2, True)):
        _core.matmul_accum(a, 6, 2, True, b, 4, 2, True, 20, 10, True, 0, 0, 0, None, 0, 0)
    with pytest.raises(ValueError, match=outside_msg("matmul_accum", "b", [0, 0], 1, 1, 1, True)):
        _core.matmul_accum(a, 8, 2, True, b, 1, 1, True, 20, 10, True, 0, 0, 0, None, 0, 0)
    with pytest.raises(ValueError, match=outside_msg("matmul_accum", "bias", [1], 2**11, 12, 10, True)):
        _core.matmul_accum(a, 8, 2, True, b, 4, 2, True, 12, 10, True, 0, 0, 0, np.array([0, 2**11]), 0, 0)
    with pytest.raises(ValueError, match=outside_msg("matmul_accum", "bias", [0], -1, 12, 10, False)):
        _core.matmul_accum(a, 8, 2, True, b, 4, 2, True, 12, 10, False, 0, 0, 0, np.array([-1, 0]), 0, 0)


def limbs_of(values, L):
    out = np.zeros((len(values), L), np.uint64)
    for k, v in enumerate(values):
        for t in range(L):
            out[k, t] = (v >> (64 * t)) & (2**64 - 1)
    return out.reshape(-1)


def test_wide_bindings_refuse_limbs_that_are_not_sign_extended():
    """A w-bit element occupies ceil(w/64) limbs, sign-extended (zero-extended when unsigned):
    other bits in the top limb are not a raw of the format."""
    good = limbs_of([-3, 5], 2)  # ap_fixed<100,50>: -3 and 5, sign-extended to 128 bits
    np.testing.assert_array_equal(_core.wide_to_double(good, 2, 100, 98, True), [-0.75, 1.25])
    bad = good.copy()
    bad[3] |= np.uint64(1 << 36)  # element 1's top limb: bit 100 set, bit 99 clear
    msg = ("element 1 is outside its format ap_fixed<100,98>: its top limb 0x0000001000000000 is not "
           "sign-extended from bit 99")
    with pytest.raises(ValueError, match=re.escape("wide_to_double: " + msg)):
        _core.wide_to_double(bad, 2, 100, 98, True)
    with pytest.raises(ValueError, match=re.escape("wide_cast: " + msg)):
        _core.wide_cast(bad, 2, 100, 98, True, (16, 8, True, 0, 0, 0), 0)
    with pytest.raises(ValueError, match=re.escape("wide_elementwise: " + msg)):
        _core.wide_elementwise(0, good, 1, 100, 98, True, bad, 1, 100, 98, True, 2, 101, 99, True, None, 0)
    with pytest.raises(ValueError, match=re.escape("wide_matmul: " + msg)):
        _core.wide_matmul(bad, 100, 98, True, limbs_of([1], 2), 100, 98, True, 2, 1, 1, 201, True)
    with pytest.raises(ValueError, match=re.escape("wide_sum_rows: " + msg)):
        _core.wide_sum_rows(bad, 100, 98, True, 1, 2, 101)
    # unsigned: zero-extended; a broadcast (stride 0) operand is element 0
    with pytest.raises(ValueError, match=re.escape("wide_elementwise: element 0 is outside its format "
                                                   "ap_ufixed<70,3>: its top limb 0xffffffffffffffff is not "
                                                   "zero-extended from bit 69")):
        _core.wide_elementwise(1, limbs_of([1, 2], 2), 1, 70, 3, False, limbs_of([-1], 2), 0, 70, 3, False, 2,
                               72, 5, True, None, 0)
    # a multiple of 64 bits has no spare bits: any limbs are a raw
    np.testing.assert_array_equal(_core.wide_to_double(limbs_of([-1], 2), 1, 128, 128, True), [-1.0])
    np.testing.assert_array_equal(_core.wide_to_double(limbs_of([-1], 2), 1, 128, 128, False), [2.0**128])
