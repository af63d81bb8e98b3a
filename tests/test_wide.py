"""Wide formats (65..1024 bits): the multi-limb storage and kernels against the pure-Python
reference model ``fixedpoint._reference`` (itself checked against the golden vectors and
the live ap_fixed.h oracle, which covers wide formats too: tests/test_oracle.py).

Values are chosen where multi-limb code breaks: around every limb boundary
(2^63, 2^64, 2^127, 2^128, ... +-1), carries across limbs, negative values, the
format's extremes. Expected values come from the reference model or Python ints,
never from the implementation.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _reference as ref

Fixed = fx.Fixed
from strategies import O_MODES, Q_MODES  # noqa: E402  (the lists of fx.QMode / fx.OMode)
import strategies  # noqa: E402
SETTINGS = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def formats(wmin=1, wmax=1024, modes=True):
    """The shared strategy, i within 20 of the range."""
    return strategies.formats(wmin, wmax, modes=modes, i_margin=20)


def _boundary_ints(lo: int, hi: int) -> list[int]:
    """Values around every limb boundary that lie in [lo, hi], plus the extremes."""
    out = {lo, hi, 0, 1, -1, lo + 1, hi - 1}
    for k in range(63, 1026, 64):
        for base in (1 << k, 1 << (k + 1)):
            for d in (-1, 0, 1):
                out.update({base + d, -(base + d)})
    return sorted(v for v in out if lo <= v <= hi)


@st.composite
def raws(draw, fmt: Fixed, n: int = 12):
    lo, hi = fmt.raw_min, fmt.raw_max
    edge = _boundary_ints(lo, hi)
    vals = draw(st.lists(st.one_of(st.sampled_from(edge), st.integers(lo, hi)), min_size=1, max_size=n))
    return vals


def _np_obj(vals) -> np.ndarray:
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out


# -- storage -----------------------------------------------------------------------------
@settings(**SETTINGS)
@given(st.data())
def test_raw_roundtrip_and_storage(data):
    fmt = data.draw(formats(65, 1024, modes=False))
    vals = data.draw(raws(fmt))
    a = fx.from_raw(_np_obj(vals), fmt)
    assert a.raw.dtype == object
    assert a.raw.tolist() == vals
    # the storage is ceil(w/64) limbs per element, two's complement
    assert a._raw.dtype.itemsize == 8 * ((fmt.w + 63) // 64)
    limbs = np.ascontiguousarray(a._raw).view(np.uint64).reshape(len(vals), -1)
    for v, row in zip(vals, limbs):
        assert sum(int(x) << (64 * k) for k, x in enumerate(row)) == v % (1 << (64 * len(row)))
    b = pickle.loads(pickle.dumps(a))
    assert b.raw.tolist() == vals and b.fmt == fmt


def test_limb_boundaries_roundtrip_exactly():
    for w in (65, 127, 128, 129, 191, 192, 193, 1024):
        for signed in (True, False):
            fmt = Fixed(w, w // 2, signed)
            vals = _boundary_ints(fmt.raw_min, fmt.raw_max)
            a = fx.from_raw(_np_obj(vals), fmt)
            assert a.raw.tolist() == vals
            assert a.to_float().tolist() == [ref.to_double(v, w, w // 2, signed) for v in vals]


def test_width_limit_is_explained():
    with pytest.raises(ValueError, match=r"w must be in \[1, 1024\].*AP_INT_MAX_W.*1025"):
        Fixed(1025, 10)
    a = fx.from_raw(_np_obj([1]), Fixed(1000, 10))
    with pytest.raises(ValueError, match="1024"):
        a * a  # natural result needs 2000 bits


def test_from_raw_rejects_out_of_range_wide():
    fmt = Fixed(100, 10)
    with pytest.raises(ValueError, match=r"outside .* range"):
        fx.from_raw(_np_obj([1 << 99]), fmt)


# -- quantization ------------------------------------------------------------------------
@settings(**SETTINGS)
@given(st.data())
def test_cast_matches_reference(data):
    src = data.draw(formats(1, 1024, modes=False))
    dst = data.draw(formats(1, 1024))
    if src.w <= 64 and dst.w <= 64:
        dst = dst.replace(w=dst.w + 64, i=dst.i + 64) if dst.w + 64 <= 1024 else dst
    vals = data.draw(raws(src))
    seed = data.draw(st.integers(0, 2**64 - 1))
    a = fx.from_raw(_np_obj(vals), src)
    got = a.cast(dst, seed=seed).raw.tolist()
    want = [ref.cast_raw(v, src.w, src.i, src.signed, dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n,
                         seed=seed, index=k) for k, v in enumerate(vals)]
    assert got == want


@settings(**SETTINGS)
@given(st.data())
def test_from_double_matches_reference(data):
    dst = data.draw(formats(65, 1024))
    xs = data.draw(st.lists(st.one_of(
        st.floats(allow_nan=False, allow_infinity=True),
        st.integers(-(2**70), 2**70).map(lambda v: float(v) / 2**20),
        st.sampled_from([2.0**63, -(2.0**63), 2.0**64, 2.0**127, -(2.0**128), 0.5, -0.5, 1.5, -2.5])),
        min_size=1, max_size=10))
    seed = data.draw(st.integers(0, 2**64 - 1))
    got = fx.array(np.array(xs), dst, seed=seed).raw.tolist()
    want = [ref.from_double(x, dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n, seed=seed, index=k)
            for k, x in enumerate(xs)]
    assert got == want
    with np.errstate(over="ignore"):  # float32 overflows to inf, which ap_fixed reads as huge
        x32 = np.array(xs, dtype=np.float32)
    got32 = fx.array(x32, dst, seed=seed).raw.tolist()
    want32 = [ref.from_double(float(x), dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n,
                              seed=seed, index=k) for k, x in enumerate(x32)]
    assert got32 == want32


@settings(**SETTINGS)
@given(st.data())
def test_from_ints_matches_reference(data):
    dst = data.draw(formats(65, 1024))
    vals = data.draw(st.lists(st.integers(-(2**1100), 2**1100), min_size=1, max_size=8))
    seed = data.draw(st.integers(0, 2**64 - 1))
    got = fx.array(vals, dst, seed=seed).raw.tolist()
    want = [ref.from_int(v, dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n, seed=seed, index=k)
            for k, v in enumerate(vals)]
    assert got == want
    ints = np.array([-(2**63), -1, 0, 2**63 - 1], dtype=np.int64)
    want64 = [ref.cast_raw(int(v), 64, 64, True, dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n,
                           seed=seed, index=k) for k, v in enumerate(ints)]
    assert fx.array(ints, dst, seed=seed).raw.tolist() == want64
    u = np.array([0, 2**63, 2**64 - 1], dtype=np.uint64)
    wantu = [ref.cast_raw(int(v), 64, 64, False, dst.w, dst.i, dst.signed, dst.q.value, dst.o.value, dst.n,
                          seed=seed, index=k) for k, v in enumerate(u)]
    assert fx.array(u, dst, seed=seed).raw.tolist() == wantu


@settings(**SETTINGS)
@given(st.data())
def test_to_float_matches_reference(data):
    fmt = data.draw(formats(65, 1024, modes=False))
    fmt = fmt.replace(i=data.draw(st.integers(-1100, 1100)))  # also beyond the double range
    vals = data.draw(raws(fmt))
    got = fx.from_raw(_np_obj(vals), fmt).to_float()
    want = np.array([ref.to_double(v, fmt.w, fmt.i, fmt.signed) for v in vals])
    np.testing.assert_array_equal(got, want)
    assert [np.signbit(x) for x in got] == [np.signbit(x) for x in want]


def test_nan_policy_wide():
    fmt = Fixed(100, 50)
    with pytest.raises(ValueError, match=r"NaN at index \(1,\)"):
        fx.array([1.0, np.nan], fmt)
    got = fx.array([np.nan, np.inf, -np.inf], fmt.replace(o="SAT"), nan="ap").raw.tolist()
    want = [ref.from_double(x, 100, 50, True, "TRN", "SAT", nan="ap") for x in (np.nan, np.inf, -np.inf)]
    assert got == want


# -- arithmetic --------------------------------------------------------------------------
@settings(**SETTINGS)
@given(st.data())
def test_elementwise_matches_reference(data):
    fa = data.draw(formats(1, 520, modes=False))
    fb = data.draw(formats(1, 500, modes=False))
    if fa.w <= 64 and fb.w <= 64:
        fa = fa.replace(w=fa.w + 64, i=fa.i + 64)
    n = data.draw(st.integers(1, 8))
    va = data.draw(raws(fa, n))
    vb = data.draw(raws(fb, n))
    m = min(len(va), len(vb))
    va, vb = va[:m], vb[:m]
    a, b = fx.from_raw(_np_obj(va), fa), fx.from_raw(_np_obj(vb), fb)
    ta, tb = (fa.w, fa.i, fa.signed), (fb.w, fb.i, fb.signed)
    for op, fn in (("add", lambda x, y: x + y), ("sub", lambda x, y: x - y), ("mul", lambda x, y: x * y)):
        rw, ri, rs = ref.result_format(op, ta, tb)
        if rw > 1024:
            with pytest.raises(ValueError):
                fn(a, b)
            continue
        res = fn(a, b)
        assert (res.fmt.w, res.fmt.i, res.fmt.signed) == (rw, ri, rs)
        assert res.raw.tolist() == [ref.arith_raw(op, x, ta, y, tb)[0] for x, y in zip(va, vb)]
    # comparisons: exact values (Fractions) with exact=True; the operators follow the header
    # (its mixed-signedness rules, docs/modes.md quirks; exact when the signedness agrees)
    fva = [ref.value_of(x, fa.w, fa.i) for x in va]
    fvb = [ref.value_of(y, fb.w, fb.i) for y in vb]
    for name, got, f in (("<", a < b, lambda x, y: x < y), ("==", a == b, lambda x, y: x == y),
                         (">=", a >= b, lambda x, y: x >= y)):
        exact = np.array([f(x, y) for x, y in zip(fva, fvb)])
        np.testing.assert_array_equal(fx.compare(a, b, name, exact=True), exact)
        np.testing.assert_array_equal(got, [ref.header_compare(name, x, ta, y, tb) for x, y in zip(va, vb)])
        if fa.signed == fb.signed:
            np.testing.assert_array_equal(got, exact)
    neg = -a
    assert neg.raw.tolist() == [ref.arith_raw("neg", x, ta)[0] for x in va]


@settings(**SETTINGS)
@given(st.data())
def test_fused_cast_matches_reference(data):
    fa = data.draw(formats(60, 400, modes=False))
    fb = data.draw(formats(1, 400, modes=False))
    out = data.draw(formats(1, 1024))
    va = data.draw(raws(fa, 6))
    vb = data.draw(raws(fb, 6))
    m = min(len(va), len(vb))
    va, vb = va[:m], vb[:m]
    seed = data.draw(st.integers(0, 2**64 - 1))
    a, b = fx.from_raw(_np_obj(va), fa), fx.from_raw(_np_obj(vb), fb)
    ta, tb = (fa.w, fa.i, fa.signed), (fb.w, fb.i, fb.signed)
    for op, fn in (("add", fx.add), ("sub", fx.subtract), ("mul", fx.multiply)):
        rw, ri, rs = ref.result_format(op, ta, tb)
        if rw > 1024:
            continue
        got = fn(a, b, out_fmt=out, seed=seed).raw.tolist()
        want = []
        for k, (x, y) in enumerate(zip(va, vb)):
            r, _ = ref.arith_raw(op, x, ta, y, tb)
            want.append(ref.cast_raw(r, rw, ri, rs, out.w, out.i, out.signed, out.q.value, out.o.value, out.n,
                                     seed=seed, index=k))
        assert got == want, op


def test_broadcasting_and_mixed_native_operands():
    fa = Fixed(130, 65)
    va = [(1 << 127) + 5, -(1 << 100), 3]
    a = fx.from_raw(_np_obj(va), fa).reshape(3, 1)
    b = fx.array(np.array([[1.5, -2.25]]), "ap_fixed<16,6>")
    res = a * b
    ta, tb = (130, 65, True), (16, 6, True)
    bb = b.raw.reshape(-1).tolist()
    want = [[ref.arith_raw("mul", x, ta, y, tb)[0] for y in bb] for x in va]
    assert res.shape == (3, 2) and res.raw.tolist() == want
    s = a + 1  # Python int operand
    assert s.raw.reshape(-1).tolist()[2] == ref.arith_raw("add", 3, ta, 1, (2, 2, True))[0]


def test_automatic_promotion():
    x = fx.from_raw(np.array([2**47 - 1, -(2**47)], dtype=np.int64), Fixed(48, 10))
    p = x * x
    assert p.fmt.w == 96 and p.raw.tolist() == [(2**47 - 1) ** 2, 2**94]
    y = fx.from_raw(np.full(1000, 2**59 - 1, dtype=np.int64), Fixed(60, 60))
    s = y.sum()
    assert s.fmt.w == 70 and int(s.raw) == 1000 * (2**59 - 1)
    z = fx.from_raw(np.array([3, -4], dtype=np.int64), Fixed(8, 4))
    assert (z * z).raw.dtype == np.int64  # results that fit stay on the fast path


# -- reductions and matmul ----------------------------------------------------------------
@settings(**SETTINGS)
@given(st.data())
def test_sum_and_matmul_match_python_ints(data):
    fa = data.draw(formats(40, 300, modes=False))
    fb = data.draw(formats(1, 300, modes=False))
    M, K, N = data.draw(st.integers(1, 4)), data.draw(st.integers(0, 5)), data.draw(st.integers(1, 4))
    va = [data.draw(st.sampled_from(_boundary_ints(fa.raw_min, fa.raw_max)) | st.integers(fa.raw_min, fa.raw_max))
          for _ in range(M * K)]
    vb = [data.draw(st.sampled_from(_boundary_ints(fb.raw_min, fb.raw_max)) | st.integers(fb.raw_min, fb.raw_max))
          for _ in range(K * N)]
    A = fx.from_raw(_np_obj(va).reshape(M, K), fa)
    B = fx.from_raw(_np_obj(vb).reshape(K, N), fb)
    want = [[sum(va[i * K + k] * vb[k * N + j] for k in range(K)) for j in range(N)] for i in range(M)]
    if fa.w + fb.w + max(K - 1, 0).bit_length() > 1024:
        with pytest.raises(ValueError):
            A @ B
    else:
        C = A @ B
        assert C.raw.tolist() == want
        assert C.fmt.f == fa.f + fb.f
    if K:
        s = A.sum(axis=1)
        assert s.raw.tolist() == [sum(va[i * K:(i + 1) * K]) for i in range(M)]
        assert int(A.sum().raw) == sum(va)


def test_matmul_limb_carries():
    # every product and partial sum crosses limb boundaries
    fa = Fixed(128, 64)
    big = (1 << 127) - 1
    A = fx.from_raw(_np_obj([big, -big - 1, big, big]).reshape(2, 2), fa)
    B = fx.from_raw(_np_obj([-big - 1, big, -1, big]).reshape(2, 2), fa)
    a, b = [[big, -big - 1], [big, big]], [[-big - 1, big], [-1, big]]
    want = [[sum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)] for i in range(2)]
    assert (A @ B).raw.tolist() == want


def test_wide_indexing_joining_where():
    fmt = Fixed(200, 100)
    vals = [1 << 150, -(1 << 199), 7, -(1 << 64)]
    a = fx.from_raw(_np_obj(vals), fmt)
    assert a[1].raw.tolist() == vals[1]
    assert a[::-1].raw.tolist() == vals[::-1]
    b = a.copy()
    b[0] = a[3]
    assert b.raw.tolist() == [vals[3]] + vals[1:]
    c = fx.concatenate([a, fx.array([0.5], "ap_fixed<8,4>")])
    assert c.raw.tolist()[:4] == [v << (c.fmt.f - fmt.f) for v in vals]
    d = fx.where(np.array([True, False, True, False]), a, a[::-1])
    assert d.raw.tolist() == [vals[0], vals[2], vals[2], vals[0]]
    assert a.reshape(2, 2).T.raw.tolist() == [[vals[0], vals[2]], [vals[1], vals[3]]]
    assert int(a.max().raw) == max(vals) and int(a.argmin()) == 1


@pytest.mark.parametrize("isa", list(reversed(strategies.known_isas())))  # unsupported ones skip
@pytest.mark.parametrize("fa,fb", [(Fixed(96, 48), Fixed(96, 48)), (Fixed(100, 30, False), Fixed(100, 30, False)),
                                   (Fixed(127, 3), Fixed(127, 3)), (Fixed(70, 70, False), Fixed(70, 70))])
def test_two_limb_add_sub_every_isa(isa, fa, fb):
    """The vectorized two-limb add/sub (AVX2) equals the scalar path and Python ints, odd lengths
    and carries/borrows across the limb boundary included."""
    rng = np.random.default_rng(fa.w + fb.w)
    edges_a = _boundary_ints(fa.raw_min, fa.raw_max)
    edges_b = _boundary_ints(fb.raw_min, fb.raw_max)
    n = 1001
    va = [int(edges_a[k % len(edges_a)]) if k % 3 else int(rng.integers(0, 2**62)) * (1 if k % 2 else -1)
          for k in range(n)]
    vb = [int(edges_b[(7 * k) % len(edges_b)]) for k in range(n)]
    va = [min(max(v, fa.raw_min), fa.raw_max) for v in va]
    a, b = fx.from_raw(_np_obj(va), fa), fx.from_raw(_np_obj(vb), fb)
    ta, tb = (fa.w, fa.i, fa.signed), (fb.w, fb.i, fb.signed)
    old = fx.get_isa()
    try:
        try:
            fx.set_isa(isa)
        except ValueError:
            pytest.skip(f"{isa} is not supported on this CPU")
        assert (a + b).raw.tolist() == [ref.arith_raw("add", x, ta, y, tb)[0] for x, y in zip(va, vb)]
        assert (a - b).raw.tolist() == [ref.arith_raw("sub", x, ta, y, tb)[0] for x, y in zip(va, vb)]
    finally:
        fx.set_isa(old)


@pytest.mark.parametrize("op", ["add", "subtract", "multiply"])
def test_empty_wide_operand_broadcast_against_one_element(op):
    """issue 22: an empty operand broadcast against a 1-element one on the wide path raised
    'wide_elementwise: a 33-bit operand of 0 elements needs 0 limbs, got 1'."""
    e = fx.from_raw(np.zeros(0, np.int64), "ap_fixed<70,10>")
    one = fx.from_raw([1], "ap_fixed<33,3>")
    fn = getattr(fx, op)
    for a, b in ((e, one), (one, e)):
        r = fn(a, b)
        assert r.shape == (0,) and r.fmt == fx.result_format(op[:3] if op != "multiply" else "mul", a.fmt, b.fmt)
    assert (e < one).shape == (0,)
    e2 = fx.from_raw(np.zeros((0, 3), np.int64), "ap_fixed<100,10>")
    assert fx.add(e2, fx.from_raw(5, "ap_fixed<90,2>")).shape == (0, 3)
    from fixedpoint import _core

    # the binding itself: a broadcast (stride 0) operand is one element, whatever the count
    with pytest.raises(ValueError, match=r"wide_elementwise: a 33-bit operand of 0 elements needs 1 limbs, got 0"):
        _core.wide_elementwise(0, np.zeros(0, np.uint64), 1, 70, 10, True, np.zeros(0, np.uint64), 0, 33, 3, True,
                               0, 72, 12, True, None, 0)


def test_wide_bindings_check_size_products():
    """issue 22: unchecked count * limbs products: wide_sum_rows with rows * K wrapping to 0
    segfaulted, wide_matmul with M = K = N = 2**32 wrapped to an empty result."""
    from fixedpoint import _core

    z = np.zeros(0, np.uint64)
    with pytest.raises(ValueError, match=r"wide_sum_rows: rows \* K = 4611686018427387904 \* 4 is negative or "
                                         r"overflows int64"):
        _core.wide_sum_rows(z, 100, 0, True, 2**62, 4, 200)
    with pytest.raises(ValueError, match=r"wide_matmul: M \* K = 4294967296 \* 4294967296 is negative or overflows"):
        _core.wide_matmul(z, 100, 0, True, z, 100, 0, True, 2**32, 2**32, 2**32, 200, True)
    with pytest.raises(ValueError, match=r"wide_cast: elements \* limbs = 4611686018427387904 \* 2"):
        _core.wide_cast(z, 2**62, 100, 0, True, (100, 0, True, 0, 0, 0), 0)
    with pytest.raises(ValueError, match=r"wide_elementwise: elements \* limbs = 4611686018427387904 \* 2"):
        one = np.zeros(2, np.uint64)
        _core.wide_elementwise(0, one, 0, 100, 0, True, one, 0, 100, 0, True, 2**62, 101, 1, True, None, 0)
    with pytest.raises(ValueError, match=r"wide_elementwise: negative element count -1"):
        _core.wide_elementwise(0, one, 0, 100, 0, True, one, 0, 100, 0, True, -1, 101, 1, True, None, 0)
    with pytest.raises(ValueError, match=r"wide_to_double: elements \* limbs = -1 \* 2 is negative"):
        _core.wide_to_double(z, -1, 100, 0, True)
