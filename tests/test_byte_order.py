"""Arrays of non-native byte order ('>f8', '>i4', ... on a little-endian machine: data read from
files written on big-endian machines, FITS, some HDF5/ROOT dumps) mean their values at every
entry point that hands a NumPy buffer to C++; the extension itself refuses them rather than
misread the bytes (issue 22: they were reinterpreted as native bytes, silently wrong)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _core

Fixed = fx.Fixed

SWAPPED = ">" if sys.byteorder == "little" else "<"
FLOAT_DTYPES = [SWAPPED + "f4", SWAPPED + "f8"]
INT_DTYPES = [SWAPPED + t for t in ("i2", "i4", "i8", "u2", "u8")]
FORMATS = ["ap_fixed<16,8>", "ap_ufixed<12,4,AP_RND,AP_SAT>", "ap_fixed<64,40,AP_RND_CONV>",
           "ap_fixed<100,50,AP_RND>", "ap_fixed<8,3,AP_RND,AP_WRAP_SM>"]

FLOATS = [0.33333334, 1.5, -2.25, 1e-3, 7.0, -0.0, 250.5]
INTS = [3, -7, 1, 0, 120, -128, 77]


def swapped(values, dt):
    a = np.array(values, dtype=dt)
    assert not a.dtype.isnative
    return a


def native(a):
    return a.astype(a.dtype.newbyteorder("="))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dt", FLOAT_DTYPES + INT_DTYPES)
def test_array_of_swapped_byte_order_reads_values(dt, fmt):
    vals = FLOATS if dt[1] == "f" else [v for v in INTS if v >= 0 or dt[1] == "i"]
    x = swapped(vals, dt)
    got = fx.array(x, fmt)
    want = fx.array(native(x), fmt)
    assert got.fmt == want.fmt
    np.testing.assert_array_equal(got.raw, want.raw)
    # 2-d and non-contiguous inputs too
    x2 = swapped([vals, vals[::-1]], dt)[:, ::2]
    np.testing.assert_array_equal(fx.array(x2, fmt).raw, fx.array(native(x2), fmt).raw)


def test_array_of_swapped_byte_order_issue_reproducers():
    x = np.array([0.33333334, 1.5, -2.25]).astype(">f8")
    assert fx.array(x, "ap_fixed<16,8>").raw.tolist() == [85, 384, -576]
    assert fx.array(np.array([3, -7, 1], ">i4"), "ap_fixed<16,8>").raw.tolist() == [768, -1792, 256]


@pytest.mark.parametrize("dt", FLOAT_DTYPES)
@pytest.mark.parametrize("fmt", ["ap_fixed<16,8>", "ap_fixed<100,50>"])
def test_swapped_nan_still_raises(dt, fmt):
    x = swapped([1.0, np.nan, 2.0], dt)
    with pytest.raises(ValueError, match=r"fx\.array: NaN at index \(1,\)"):
        fx.array(x, fmt)
    ap = fx.array(x, fmt, nan="ap")
    np.testing.assert_array_equal(ap.raw, fx.array(native(x), fmt, nan="ap").raw)


@pytest.mark.parametrize("fmt", ["ap_fixed<16,8>", "ap_ufixed<64,10>", "ap_fixed<64,64>", "ap_fixed<90,9>"])
@pytest.mark.parametrize("dt", INT_DTYPES)
def test_from_raw_of_swapped_byte_order_reads_values(dt, fmt):
    f = Fixed.parse(fmt)
    vals = [0, 1, 5, 77, 2**15 - 1]
    if dt[1] == "i":
        vals += [-1, -77]
    if dt[2] == "8" and f.raw_max >= 2**40:
        vals += [2**40 + 3, (2**63 + 5) if (dt[1] == "u" and f.raw_max >= 2**63) else 2**41]
    vals = [v for v in vals if f.raw_min <= v <= f.raw_max and np.can_cast(np.min_scalar_type(v), dt[1:])]
    x = swapped(vals, dt)
    got = fx.from_raw(x, f)
    assert got.raw.tolist() == vals
    np.testing.assert_array_equal(got.to_float(), fx.from_raw(native(x), f).to_float())


def test_from_raw_of_swapped_byte_order_checks_the_range_by_value():
    with pytest.raises(ValueError, match=r"fx\.from_raw: raw value 300 at index \(1,\) is outside"):
        fx.from_raw(np.array([1, 300], ">i4"), "ap_fixed<8,4>")


@pytest.mark.parametrize("dt", INT_DTYPES)
def test_arithmetic_and_kernels_take_swapped_integer_operands(dt):
    a = fx.array([[0.5, -1.25], [2.0, 3.75]], "ap_fixed<12,4>")
    x = swapped([[1, 2], [3, 4]], dt)
    n = native(x)
    for op in (fx.add, fx.subtract, fx.multiply, fx.matmul):
        got, want = op(a, x), op(a, n)
        assert got.fmt == want.fmt
        np.testing.assert_array_equal(got.raw, want.raw)
    acc = Fixed(24, 12, q="RND", o="SAT")
    for got, want in ((fx.matmul(x, a, accum=acc), fx.matmul(n, a, accum=acc)),
                      (fx.linear(a, x, accum=acc), fx.linear(a, n, accum=acc)),
                      (fx.linear(a, x), fx.linear(a, n)),
                      (fx.linear(a, a, b=swapped([1, 2], dt)), fx.linear(a, a, b=native(swapped([1, 2], dt))))):
        assert got.fmt == want.fmt
        np.testing.assert_array_equal(got.raw, want.raw)


@pytest.mark.parametrize("dt", INT_DTYPES)
def test_sparse_constructor_takes_swapped_arrays(dt):
    idx_dt = SWAPPED + "i8"
    data = swapped([5, 7, 1], dt)
    sp = fx.SparseFixed(np.array([0, 2, 3], idx_dt), np.array([0, 2, 1], SWAPPED + "i4"), data, (2, 3),
                        "ap_fixed<16,8>")
    assert sp.to_dense().raw.tolist() == [[5, 0, 7], [0, 1, 0]]
    x = fx.array(np.array([[1.0], [2.0], [-1.5]]).astype(SWAPPED + "f8"), "ap_fixed<10,5>")
    np.testing.assert_array_equal((sp @ x).raw, (sp.to_dense() @ x).raw)


@pytest.mark.parametrize("dt", FLOAT_DTYPES + INT_DTYPES)
def test_binary_pack_of_swapped_byte_order(dt):
    vals = [[1, -2, 0, 3], [-1, 2, 5, -7]] if dt[1] != "u" else [[1, 0, 3, 2], [0, 9, 5, 7]]
    x = swapped(vals, dt)
    p, q = fx.binary.pack(x), fx.binary.pack(native(x))
    np.testing.assert_array_equal(p.words, q.words)
    np.testing.assert_array_equal(fx.binary.unpack(fx.binary.pack_ternary(x).sign),
                                  fx.binary.unpack(fx.binary.pack_ternary(native(x)).sign))


def test_core_refuses_swapped_byte_order():
    """The extension never misreads bytes: quantize (a generic buffer) refuses the other byte
    order; the typed int64/uint64/float64 arguments are converted by value."""
    x = np.array([1.5, -2.25]).astype(SWAPPED + "f8")
    with pytest.raises(ValueError, match=r"quantize: input must be in native byte order, got dtype [<>]f8"):
        _core.quantize(x, 16, 8, True, 0, 0, 0, 0, False)
    with pytest.raises(ValueError, match=r"quantize: input must be in native byte order, got dtype [<>]i4"):
        _core.quantize(np.array([3], SWAPPED + "i4"), 16, 8, True, 0, 0, 0, 0, False)
    a = np.array([[1, -2], [3, 4]], SWAPPED + "i8")
    assert _core.gemm_i64(a, a, True).tolist() == [[-5, -10], [15, 10]]
    assert _core.to_double(np.array([256, -384], SWAPPED + "i8"), 16, 8, True).tolist() == [1.0, -1.5]
    lo, _, _ = _core.elementwise(0, np.array([1, 2], SWAPPED + "i8"), 8, 8, True, np.array([3, 4], SWAPPED + "i8"),
                                 8, 8, True, None, 0, False)
    assert lo.tolist() == [4, 6]
    limbs = _core.wide_from_double(np.array([1.5, -2.0]).astype(SWAPPED + "f8"), (100, 50, True, 0, 0, 0), 0)
    want = _core.wide_from_double(np.array([1.5, -2.0]), (100, 50, True, 0, 0, 0), 0)
    np.testing.assert_array_equal(limbs, want)
    np.testing.assert_array_equal(
        _core.wide_to_double(want.astype(SWAPPED + "u8"), 2, 100, 50, True), [1.5, -2.0])


def test_setitem_of_swapped_byte_order():
    a = fx.array(np.zeros(3), "ap_fixed<16,8>")
    a[:] = np.array([1.5, -2.25, 3.0]).astype(SWAPPED + "f8")
    assert a.raw.tolist() == [384, -576, 768]
