"""FixedArray as a NumPy-like array: indexing, assignment, iteration, shape functions, the
``__array_function__`` / ``__array_ufunc__`` protocols, conversion to float, pickling,
``repr`` and ``to_string`` / ``fx.format_bits``.

Indexing and shape results are checked against the same NumPy operation on the stored
integers; values against ``fractions.Fraction``.
"""

from __future__ import annotations

import operator
import pickle
from fractions import Fraction

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _reference as ref

Fixed = fx.Fixed


from _ints import obj, pyints  # noqa: E402


def as_obj(a) -> np.ndarray:
    a = np.asarray(a, dtype=object)
    return obj([int(v) for v in a.reshape(-1)], a.shape)


def values(x: fx.FixedArray) -> np.ndarray:
    flat = [ref.value_of(int(r), x.fmt.w, x.fmt.i) for r in x.raw.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(x.shape)


def sample(fmt: Fixed, shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    span = fmt.raw_max - fmt.raw_min + 1
    vals = [fmt.raw_min + int.from_bytes(rng.bytes(fmt.w // 8 + 9), "little") % span for _ in range(n)]
    if n >= 3:
        vals[0], vals[1], vals[-1] = fmt.raw_min, fmt.raw_max, 0
    return obj(vals, shape)


FORMATS = [Fixed(8, 3), Fixed(64, 64, signed=False), Fixed(100, 20)]


@pytest.fixture(params=FORMATS, ids=str)
def arr(request):
    fmt = request.param
    r = sample(fmt, (3, 4, 5), seed=fmt.w)
    return fx.from_raw(r, fmt), r


# --------------------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------------------
KEYS = [
    0, -1, (1, 2), (1, 2, 3), (-1, -2, -3),
    slice(None), slice(1, 3), slice(None, None, -1), (slice(None), slice(3, 0, -2)),
    (Ellipsis, 1), (None, 0), (0, None, slice(1, 4)), (Ellipsis, None),
    [0, 2, 2], ([0, 2], [1, 3]), (slice(None), [3, 0, 1]), ([[0, 1], [2, 0]],),
    np.array([True, False, True]), (1, np.array([False, True, True, False])),
    (slice(None), slice(None), np.array([0, -1])),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_numpy_on_raws(arr, key):
    a, r = arr
    got = a[key]
    assert isinstance(got, fx.FixedArray)
    assert got.fmt == a.fmt
    exp = as_obj(r[key])
    assert got.shape == exp.shape
    np.testing.assert_array_equal(pyints(got), exp)


def test_getitem_bool_mask_same_shape(arr):
    a, r = arr
    mask = (np.arange(60).reshape(3, 4, 5) % 3) == 0
    np.testing.assert_array_equal(pyints(a[mask]), as_obj(r[mask]))


def test_getitem_rejects_fixedarray_index():
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    with pytest.raises(IndexError, match="cannot be used as an index"):
        a[fx.from_raw(obj([0]), Fixed(2, 2))]


def test_setitem_floats_quantize_with_the_arrays_modes():
    fmt = Fixed(6, 3, q="RND", o="SAT")
    a = fx.from_raw(obj([0] * 6), fmt)
    vals = [0.3, -0.7, 100.0, -100.0, 0.0625, -0.0625]  # ties, saturation
    a[:] = vals
    np.testing.assert_array_equal(pyints(a), pyints(fx.array(vals, fmt)))
    # hand-checked: RND (ties up), SAT into [-4, 3.875], lsb 1/8
    np.testing.assert_array_equal(pyints(a), obj([2, -6, 31, -32, 1, 0]))
    a[1] = 1.0
    assert int(a.raw[1]) == 8
    a[[0, 5]] = np.array([0.5, -0.5], dtype=np.float32)
    np.testing.assert_array_equal(pyints(a)[[0, 5]], obj([4, -4]))
    a[a.raw < 0] = 0.125
    assert (pyints(a) >= 0).all()


def test_setitem_stoch_array_quantizes_floats():
    fmt = Fixed(8, 4, q="STOCH", o="SAT")
    a = fx.from_raw(obj([0] * 4), fmt)
    a[:] = [0.03125] * 4  # half an LSB: STOCH gives 0 or 1
    assert set(int(v) for v in a.raw) <= {0, 1}


def test_setitem_exactly_fitting_fixedarray():
    a = fx.from_raw(obj([0] * 5), Fixed(10, 4, q="RND", o="SAT"))
    v = fx.from_raw(obj([-8, 7, 3]), Fixed(5, 2))  # F 3 <= 6, I 2 <= 4
    a[1:4] = v
    assert a.fmt == Fixed(10, 4, q="RND", o="SAT")
    np.testing.assert_array_equal(values(a)[1:4], values(v))
    np.testing.assert_array_equal(pyints(a), obj([0, -64, 56, 24, 0]))
    u = fx.from_raw(obj([7]), Fixed(3, 3, signed=False))  # unsigned into signed needs one more integer bit
    a[0:1] = u
    assert values(a)[0] == 7
    a[4] = a[0]  # same format
    assert int(a.raw[4]) == int(a.raw[0])
    w = fx.from_raw(obj([2**60 - 1]), Fixed(61, 40, signed=False))
    big = fx.from_raw(obj([0, 0]), Fixed(100, 50))
    big[1] = w[0]  # a 0-d FixedArray into one element
    assert values(big)[1] == values(w)[0]
    big[:] = w  # broadcast
    assert list(values(big)) == [values(w)[0]] * 2


@pytest.mark.parametrize("dst,src", [
    (Fixed(8, 3), Fixed(8, 4)),  # one more integer bit than the target
    (Fixed(8, 3), Fixed(8, 2)),  # one more fraction bit (F = 6 > 5)
    (Fixed(8, 3), Fixed(5, 3, signed=False)),  # unsigned with I = 3 needs I = 4 in a signed target
    (Fixed(8, 3, signed=False), Fixed(8, 3)),  # signed into unsigned
    (Fixed(8, 3), Fixed(100, 3)),
    (Fixed(8, 3, q="RND", o="SAT"), Fixed(9, 3)),
], ids=str)
def test_setitem_fixedarray_that_does_not_fit_raises(dst, src):
    a = fx.from_raw(obj([0, 0, 0]), dst)
    v = fx.from_raw(obj([1]), src)  # the value itself would fit; the format does not
    with pytest.raises(ValueError, match="format mismatch"):
        a[0] = v
    np.testing.assert_array_equal(pyints(a), obj([0, 0, 0]))


def test_iteration_and_len(arr):
    a, r = arr
    assert len(a) == 3
    rows = list(a)
    assert len(rows) == 3
    for k, row in enumerate(rows):
        assert isinstance(row, fx.FixedArray) and row.fmt == a.fmt and row.shape == (4, 5)
        np.testing.assert_array_equal(pyints(row), as_obj(r[k]))
    assert a.shape == (3, 4, 5) and a.ndim == 3 and a.size == 60
    assert np.shape(a) == (3, 4, 5) and np.ndim(a) == 3 and np.size(a) == 60


def test_zero_d_behaviour():
    a = fx.from_raw(np.array(-3), Fixed(8, 3))
    assert a.shape == () and a.ndim == 0 and a.size == 1
    with pytest.raises(TypeError, match="len"):
        len(a)
    with pytest.raises(TypeError, match="iteration"):
        iter(a).__next__()
    assert float(a) == -3 / 32
    assert bool(a) is True
    assert bool(fx.from_raw(np.array(0), Fixed(8, 3))) is False
    b = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))[1]
    assert b.shape == () and int(b.raw[()]) == 2
    w = fx.from_raw(obj([2**80, 5]), Fixed(90, 10))[0]
    assert w.shape == () and int(w.raw[()]) == 2**80


# --------------------------------------------------------------------------------------
# shape functions and __array_function__
# --------------------------------------------------------------------------------------
SHAPE_OPS = [
    ("reshape", lambda a: a.reshape(5, 12), lambda r: r.reshape(5, 12)),
    ("reshape_tuple", lambda a: a.reshape((2, -1)), lambda r: r.reshape((2, -1))),
    ("transpose", lambda a: a.transpose(), lambda r: r.transpose()),
    ("transpose_axes", lambda a: a.transpose(1, 0, 2), lambda r: r.transpose(1, 0, 2)),
    ("T", lambda a: a.T, lambda r: r.T),
    ("swapaxes", lambda a: a.swapaxes(0, 2), lambda r: r.swapaxes(0, 2)),
    ("ravel", lambda a: a.ravel(), lambda r: r.ravel()),
    ("flatten", lambda a: a.flatten(), lambda r: r.flatten()),
    ("squeeze", lambda a: a[:, :1].squeeze(), lambda r: r[:, :1].squeeze()),
    ("squeeze_axis", lambda a: a[:, :1].squeeze(1), lambda r: r[:, :1].squeeze(1)),
    ("copy", lambda a: a.copy(), lambda r: r.copy()),
    ("np.reshape", lambda a: np.reshape(a, (4, 15)), lambda r: np.reshape(r, (4, 15))),
    ("np.transpose", lambda a: np.transpose(a), lambda r: np.transpose(r)),
    ("np.transpose_axes", lambda a: np.transpose(a, (2, 0, 1)), lambda r: np.transpose(r, (2, 0, 1))),
    ("np.swapaxes", lambda a: np.swapaxes(a, 1, 2), lambda r: np.swapaxes(r, 1, 2)),
    ("np.ravel", lambda a: np.ravel(a), lambda r: np.ravel(r)),
    ("np.squeeze", lambda a: np.squeeze(a[:1]), lambda r: np.squeeze(r[:1])),
    ("np.copy", lambda a: np.copy(a), lambda r: np.copy(r)),
    ("np.expand_dims", lambda a: np.expand_dims(a, 1), lambda r: np.expand_dims(r, 1)),
    ("np.broadcast_to", lambda a: np.broadcast_to(a[:, :1], (2, 3, 4, 5)),
     lambda r: np.broadcast_to(r[:, :1], (2, 3, 4, 5))),
    ("np.concatenate", lambda a: np.concatenate([a, a[:1]]), lambda r: np.concatenate([r, r[:1]])),
    ("np.concatenate_axis", lambda a: np.concatenate([a, a], axis=2), lambda r: np.concatenate([r, r], axis=2)),
    ("np.stack", lambda a: np.stack([a, a], axis=-1), lambda r: np.stack([r, r], axis=-1)),
    ("np.where", lambda a: np.where(np.arange(5) % 2 == 0, a, a[:, :, ::-1]),
     lambda r: np.where(np.arange(5) % 2 == 0, r, r[:, :, ::-1])),
    ("np.max", lambda a: np.max(a, axis=1), lambda r: np.max(r, axis=1)),
    ("np.min", lambda a: np.min(a, axis=(0, 2)), lambda r: np.min(r, axis=(0, 2))),
]


@pytest.mark.parametrize("name,fn,npfn", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_functions(arr, name, fn, npfn):
    a, r = arr
    got = fn(a)
    assert isinstance(got, fx.FixedArray)
    assert got.fmt == a.fmt
    exp = as_obj(npfn(r))
    assert got.shape == exp.shape
    np.testing.assert_array_equal(pyints(got), exp)


def test_copy_is_independent():
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    c = a.copy()
    c[0] = 0.0
    assert int(a.raw[0]) == 1 and int(c.raw[0]) == 0
    v = a.reshape(3, 1)
    v[0, 0] = 0.0  # reshape is a view, as in NumPy
    assert int(a.raw[0]) == 0


def test_raw_is_read_only():
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    with pytest.raises(ValueError):
        a.raw[0] = 5


def test_array_functions_reductions_and_products():
    fa, fb = Fixed(8, 3), Fixed(6, 2, signed=False)
    ra, rb = sample(fa, (3, 4), 1), sample(fb, (4, 2), 2)
    a, b = fx.from_raw(ra, fa), fx.from_raw(rb, fb)
    s = np.sum(a)
    assert isinstance(s, fx.FixedArray) and s.fmt == Fixed(12, 7)  # 12 terms: ceil(log2 12) = 4
    assert int(s.raw[()]) == sum(int(v) for v in ra.reshape(-1))
    s0 = np.sum(a, axis=0, keepdims=True)
    np.testing.assert_array_equal(pyints(s0), as_obj(np.sum(ra, axis=0, keepdims=True)))
    cs = np.cumsum(a, axis=1)
    np.testing.assert_array_equal(pyints(cs), as_obj(np.cumsum(ra, axis=1)))
    assert isinstance(np.max(a), fx.FixedArray) and int(np.max(a).raw[()]) == max(ra.reshape(-1))
    assert int(np.argmax(a)) == int(np.argmax(ra))
    assert int(np.argmin(a)) == int(np.argmin(ra))
    m = np.matmul(a, b)
    assert isinstance(m, fx.FixedArray) and m.fmt == Fixed(16, 7)  # K = 4: 14 + 2, 5 + 2
    np.testing.assert_array_equal(pyints(m), as_obj(np.matmul(ra, rb)))
    d = np.dot(a, b)
    np.testing.assert_array_equal(pyints(d), pyints(m))
    o = np.outer(a[0], b[:, 0])
    assert o.fmt == Fixed(14, 5)
    np.testing.assert_array_equal(values(o), np.outer(values(a[0]), values(b[:, 0])))
    # np.array_equal compares values exactly, across formats
    assert np.array_equal(a, a.copy()) is True
    assert np.array_equal(a, a.cast(Fixed(12, 5))) is True  # same values, wider format
    assert np.array_equal(a, a.cast(Fixed(12, 5)).scale(1)) is False
    assert np.array_equal(a, a[:2]) is False


def test_where_and_stack_across_formats_via_numpy():
    a = fx.from_raw(obj([-8, 7]), Fixed(4, 2))
    b = fx.from_raw(obj([3, 1]), Fixed(3, 3, signed=False))
    w = np.where(np.array([True, False]), a, b)
    assert w.fmt == Fixed(6, 4)  # signed; F = 2; I = max(2, 3 + 1)
    np.testing.assert_array_equal(values(w), np.array([Fraction(-2), Fraction(1)], dtype=object))
    s = np.stack([a, b])
    assert s.fmt == Fixed(6, 4)
    np.testing.assert_array_equal(values(s), np.array([[-2, Fraction(7, 4)], [3, 1]], dtype=object))


# --------------------------------------------------------------------------------------
# __array_ufunc__
# --------------------------------------------------------------------------------------
BINARY_UFUNCS = [
    (np.add, operator.add), (np.subtract, operator.sub), (np.multiply, operator.mul),
    (np.true_divide, operator.truediv), (np.equal, operator.eq), (np.not_equal, operator.ne),
    (np.less, operator.lt), (np.less_equal, operator.le), (np.greater, operator.gt),
    (np.greater_equal, operator.ge),
]


@pytest.mark.parametrize("fa,fb", [(Fixed(8, 3), Fixed(6, 6, signed=False)), (Fixed(60, 3), Fixed(50, 40)),
                                   (Fixed(100, 3), Fixed(8, -4))], ids=str)
@pytest.mark.parametrize("uf,op", BINARY_UFUNCS, ids=lambda v: getattr(v, "__name__", ""))
def test_binary_ufuncs_equal_operators(fa, fb, uf, op):
    a = fx.from_raw(sample(fa, (2, 3), 3), fa)
    rb = sample(fb, (3,), 4)
    rb = obj([v if v else 1 for v in rb])  # nonzero divisors
    b = fx.from_raw(rb, fb)
    got, exp = uf(a, b), op(a, b)
    if isinstance(exp, fx.FixedArray):
        assert isinstance(got, fx.FixedArray) and got.fmt == exp.fmt
        np.testing.assert_array_equal(pyints(got), pyints(exp))
    else:
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, exp)
        # and the comparison is exact
        va, vb = np.broadcast_arrays(values(a), values(b))
        np.testing.assert_array_equal(got, np.array([op(x, y) for x, y in zip(va.flat, vb.flat)]).reshape(2, 3))
    # an int array on the left dispatches through the ufunc too
    ints = np.array([1, -2, 3], dtype=np.int16)
    got2, exp2 = uf(ints, b), op(fx.from_raw(ints, Fixed(16, 16)), b)
    if isinstance(exp2, fx.FixedArray):
        np.testing.assert_array_equal(pyints(got2), pyints(exp2))
        assert got2.fmt == exp2.fmt
    else:
        np.testing.assert_array_equal(got2, exp2)


@pytest.mark.parametrize("fmt", [Fixed(8, 3), Fixed(8, 3, signed=False), Fixed(90, 3)], ids=str)
def test_unary_ufuncs_equal_operators(fmt):
    a = fx.from_raw(sample(fmt, (5,), 6), fmt)
    for got, exp in ((np.negative(a), -a), (np.abs(a), abs(a)), (np.absolute(a), abs(a)), (np.positive(a), +a)):
        assert isinstance(got, fx.FixedArray) and got.fmt == exp.fmt
        np.testing.assert_array_equal(pyints(got), pyints(exp))
    np.testing.assert_array_equal(values(np.negative(a)), -values(a))


@pytest.mark.parametrize("call", [
    lambda a: np.sin(a),
    lambda a: np.exp(a),
    lambda a: np.sqrt(a),
    lambda a: np.add.reduce(a),
    lambda a: np.add.accumulate(a),
    lambda a: np.multiply.outer(a, a),
    lambda a: np.mean(a),
    lambda a: np.std(a),
    lambda a: np.median(a),
    lambda a: np.sort(a),
    lambda a: np.floor_divide(a, a),
    lambda a: np.maximum.reduce(a),
], ids=["sin", "exp", "sqrt", "add.reduce", "add.accumulate", "multiply.outer", "mean", "std", "median", "sort",
        "floor_divide", "maximum.reduce"])
def test_unsupported_numpy_raises_with_to_float_hint(call):
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    with pytest.raises(TypeError, match=r"to_float\(\)"):
        call(a)


def test_ufunc_out_argument_is_rejected():
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    with pytest.raises(TypeError, match="out="):
        np.add(a, a, out=np.empty(3))


def test_ufunc_out_argument_mentions_to_float():
    a = fx.from_raw(obj([1, 2, 3]), Fixed(8, 3))
    with pytest.raises(TypeError, match=r"to_float"):
        np.add(a, a, out=np.empty(3))


# --------------------------------------------------------------------------------------
# conversions, pickle, repr, to_string
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [Fixed(8, 3), Fixed(53, 3), Fixed(54, 3), Fixed(64, 64, signed=False),
                                 Fixed(64, -10), Fixed(120, 60), Fixed(12, 20, signed=False)], ids=str)
def test_asarray_and_to_float(fmt):
    r = sample(fmt, (4, 3), 8)
    a = fx.from_raw(r, fmt)
    f = a.to_float()
    assert f.dtype == np.float64 and f.shape == (4, 3)
    n = np.asarray(a)
    assert n.dtype == np.float64
    np.testing.assert_array_equal(n, f)
    # exact when w <= 53, else the correctly rounded (half-even) value: float(Fraction) is that
    exp = np.array([float(v) for v in values(a).reshape(-1)]).reshape(4, 3)
    np.testing.assert_array_equal(f, exp)
    if fmt.w <= 53:
        assert all(Fraction(x) == v for x, v in zip(f.reshape(-1), values(a).reshape(-1)))
    assert np.asarray(a, dtype=np.float32).dtype == np.float32
    assert a.tolist() == f.tolist()


@pytest.mark.parametrize("fmt", [Fixed(8, 3, q="RND", o="SAT"), Fixed(64, 64, signed=False),
                                 Fixed(64, 0), Fixed(200, 7, signed=False, q="STOCH", o="WRAP", n=3)], ids=str)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=str)
def test_pickle_round_trip(fmt, shape):
    r = sample(fmt, shape, 9)
    a = fx.from_raw(r, fmt)
    for proto in (2, pickle.HIGHEST_PROTOCOL):
        b = pickle.loads(pickle.dumps(a, protocol=proto))
        assert isinstance(b, fx.FixedArray)
        assert b.fmt == a.fmt and b.shape == a.shape
        assert b.raw.dtype == a.raw.dtype
        np.testing.assert_array_equal(pyints(b), r)


def test_pickle_of_a_view_is_independent():
    a = fx.from_raw(obj(range(12), (3, 4)), Fixed(8, 5))
    b = pickle.loads(pickle.dumps(a[:, ::2]))
    np.testing.assert_array_equal(pyints(b), as_obj(obj(range(12), (3, 4))[:, ::2]))


def test_repr_shows_values_and_format():
    a = fx.from_raw(obj([-8, 1, 7]), Fixed(4, 2, q="RND", o="SAT"))
    s = repr(a)
    assert s.startswith("FixedArray(")
    assert "-2." in s and "0.25" in s and "1.75" in s
    assert "ap_fixed<4,2,AP_RND,AP_SAT,0>" in s
    assert "ap_ufixed<8,8>" in repr(fx.from_raw(obj([255]), Fixed(8, 8, signed=False)))
    assert "1.75" in str(a)


def test_repr_is_summarised_for_large_arrays():
    a = fx.from_raw(np.arange(10_000) % 128, Fixed(8, 3))
    s = repr(a)
    assert "..." in s
    assert len(s) < 500
    assert "ap_fixed<8,3>" in s
    wide = fx.from_raw(obj([2**90] * 10_000), Fixed(100, 20))
    assert "..." in repr(wide)


@pytest.mark.parametrize("fmt,raw,b2,b16,b10", [
    (Fixed(4, 2), -1, "1111", "0xf", "-1"),
    (Fixed(4, 2), -8, "1000", "0x8", "-8"),
    (Fixed(4, 2), 7, "0111", "0x7", "7"),
    (Fixed(4, 2), 0, "0000", "0x0", "0"),
    (Fixed(12, 4, signed=False), 0xABC, "101010111100", "0xabc", "2748"),
    (Fixed(5, 9), -6, "11010", "0x1a", "-6"),
    (Fixed(1, 1), -1, "1", "0x1", "-1"),
    (Fixed(64, 64, signed=False), 2**64 - 1, "1" * 64, "0x" + "f" * 16, str(2**64 - 1)),
    (Fixed(64, 0), -(2**63), "1" + "0" * 63, "0x8" + "0" * 15, str(-(2**63))),
    (Fixed(65, 3), -1, "1" * 65, "0x1" + "f" * 16, "-1"),
    (Fixed(70, 3), 2**65 + 3, "0000" + "1" + "0" * 63 + "11", "0x02" + "0" * 15 + "3", str(2**65 + 3)),
], ids=str)
def test_to_string_bit_patterns(fmt, raw, b2, b16, b10):
    a = fx.from_raw(obj([raw], ()), fmt)
    assert a.to_string(2) == b2
    assert a.to_string(16) == b16
    assert a.to_string(10) == b10
    assert a.to_string() == b10
    assert fx.format_bits(a) == b2
    assert fx.format_bits(a, 16) == b16
    # in an array, the same patterns appear element by element
    arr = fx.from_raw(obj([raw, 0, raw]), fmt)
    s = arr.to_string(2)
    assert s.count(b2) >= 2 and s.startswith("[") and s.endswith("]")
    assert arr.to_string(16).count(b16) >= 2


@pytest.mark.parametrize("base", [8, 3, 0, "2"])
def test_to_string_bad_base(base):
    a = fx.from_raw(obj([1]), Fixed(8, 3))
    with pytest.raises(ValueError, match="base must be 2, 10 or 16"):
        a.to_string(base)
    with pytest.raises(ValueError, match="base must be 2, 10 or 16"):
        fx.format_bits(a, base)


def test_format_bits_needs_a_fixedarray():
    with pytest.raises(TypeError, match="expected a FixedArray"):
        fx.format_bits(np.array([1, 2]))


# --------------------------------------------------------------------------------------
# hashing and truth values
# --------------------------------------------------------------------------------------
def test_unhashable():
    a = fx.from_raw(obj([1, 2]), Fixed(8, 3))
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        {a}


def test_bool_of_multi_element_array_raises():
    a = fx.from_raw(obj([1, 2]), Fixed(8, 3))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a)
    with pytest.raises(ValueError, match="ambiguous"):
        if a == a:
            pass
    assert bool(fx.from_raw(obj([3]), Fixed(8, 3))) is True
    assert bool(fx.from_raw(obj([0]), Fixed(8, 3))) is False


def test_constructor_is_private():
    with pytest.raises(TypeError, match="fx.array"):
        fx.FixedArray(np.array([1]), Fixed(8, 3))
