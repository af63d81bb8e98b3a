"""Wide accumulators: ``fx.matmul(a, b, accum=fmt)`` and ``fx.linear(..., accum=fmt)`` with an
accumulator wider than 64 bits, wide operands or products over 126 bits run the C++ multi-limb
kernel ``_core.wide_matmul_accum``. Compared bit for bit (raw integers) with

* the real ap_fixed.h: the golden ``mul`` records assigned into a mode-carrying type (each is a
  1x1x1 accumulation: acc = (to)(0 + (to)(a * b)) = (to)(a * b)), skipped when absent;
* an independent Python-int accumulation written here (rounding by integer floor division,
  SAT / SAT_ZERO / SAT_SYM / WRAP clamps and modular wraps), for the modes it covers;
* the reference model's Python-int accumulation ``_reference.matmul_accum`` (the scalar
  reference cast ``_reference.cast_raw`` per step), for every q/o/n including STOCH (same counter words);

over accumulator widths 65..1024, edge raws, odd shapes, batches, 1-d operands,
non-contiguous operands, 1 and 2 threads; and the kernel's input errors.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _core, _reference, _storage
from fixedpoint._storage import _limb_dtype, _native

from _golden import records
from _ints import obj, pyints

WIDTHS = [65, 96, 127, 128, 129, 200, 1024]
QS = list(fx.QMode)
OS = list(fx.OMode)


@pytest.fixture(autouse=True)
def _restore_threads():
    nt = fx.get_num_threads()
    yield
    fx.set_num_threads(nt)


def F(w, i, s=True, q="TRN", o="WRAP", n=0) -> fx.Fixed:
    return fx.Fixed(w, i, s, q, o, n)


def edge_raws(rng, fmt, shape) -> np.ndarray:
    """Python-int raws of fmt: min, max, 0, +-1 and uniform values over the whole range."""
    lo, hi = fmt.raw_min, fmt.raw_max
    n = int(np.prod(shape, dtype=np.int64))
    special = [lo, hi, 0, 1, lo + 1, hi - 1] + ([-1] if fmt.signed else [])
    vals = []
    for k in range(n):
        if k < len(special) or rng.random() < 0.25:
            vals.append(special[int(rng.integers(len(special)))] if k >= len(special) else special[k])
        else:
            vals.append(lo + int.from_bytes(rng.bytes((fmt.w + 7) // 8 + 1), "little") % (hi - lo + 1))
    vals = [vals[k] for k in rng.permutation(n)] if n else vals
    return obj(vals, shape)


# --- the independent oracle ---------------------------------------------------------------
def ind_cast(m: int, fs: int, t: fx.Fixed) -> int:
    """The raw of t holding m * 2^-fs: one rounding with t.q, then t.o (n = 0 WRAP and the SAT
    family only)."""
    q, o = t.q.value, t.o.value
    sh = fs - t.f
    if sh <= 0:
        r = m << -sh
    else:
        fl = m >> sh  # floor
        rem = m - (fl << sh)
        half = 1 << (sh - 1)
        up = {
            "TRN": False,
            "TRN_ZERO": m < 0 and rem != 0,
            "RND": rem >= half,
            "RND_ZERO": rem > half or (rem == half and m < 0),
            "RND_MIN_INF": rem > half,
            "RND_INF": rem > half or (rem == half and m > 0),
            "RND_CONV": rem > half or (rem == half and fl % 2 == 1),
        }[q]
        r = fl + int(up)
    lo, hi = t.raw_min, t.raw_max
    if o == "WRAP":
        assert t.n == 0
        r = (r - lo) % (1 << t.w) + lo
    elif o == "SAT":
        r = min(max(r, lo), hi)
    elif o == "SAT_ZERO":
        r = r if lo <= r <= hi else 0
    elif o == "SAT_SYM":  # symmetric: the minimum code is -max
        r = min(max(r, -hi if t.signed else 0), hi)
    else:
        raise AssertionError(o)
    return r


def ind_matmul(xa, fa, xb, fb, acc, bias=None) -> np.ndarray:
    """2-d Python ints: acc = bias; for k in order: acc = (acc)(acc + (acc)(a*b))."""
    M, K = xa.shape
    N = xb.shape[1]
    fs = fa.f + fb.f
    out = np.empty((M, N), dtype=object)
    for i in range(M):
        for j in range(N):
            s = 0 if bias is None else int(bias[j])
            for k in range(K):
                p = ind_cast(int(xa[i, k]) * int(xb[k, j]), fs, acc)
                s = ind_cast(s + p, acc.f, acc)
            out[i, j] = s
    return out


def independent(acc: fx.Fixed) -> bool:
    return acc.q is not fx.QMode.STOCH and acc.n == 0 and acc.o is not fx.OMode.WRAP_SM


def ref_matmul(ra, fa, rb, fb, acc, seed=0, base=0, bias=None):
    """``_reference.matmul_accum`` as an (M, N) object array of true integer values."""
    out = np.empty((len(ra), np.shape(rb)[1]), dtype=object)
    for i, row in enumerate(_reference.matmul_accum(ra, fa, rb, fb, acc, seed, base, bias)):
        out[i, :] = row
    return out


def python_path(a, b, acc, seed=0):
    """The reference model's accumulation of 2-d operands, as true values."""
    return ref_matmul(pyints(a), a.fmt, pyints(b), b.fmt, acc, seed, 0)


def check(a, b, acc, seed=0, oracle=True):
    got = fx.matmul(a, b, accum=acc, seed=seed)
    assert got.fmt == acc
    got_raw = pyints(got)
    acc_seed = _storage._seed_for(acc, seed, "test")
    ref = python_path(a, b, acc, acc_seed)
    msg = f"{a.fmt} @ {b.fmt} into {acc}, shapes {a.shape} @ {b.shape}"
    np.testing.assert_array_equal(got_raw, ref, err_msg=msg)
    if oracle and independent(acc):
        np.testing.assert_array_equal(got_raw, ind_matmul(pyints(a), a.fmt, pyints(b), b.fmt, acc), err_msg=msg)
    return got


def acc_formats(W, fa, fb, K):
    """Accumulators of width W for fa x fb: one that rounds the products (3 bits) and overflows
    when W is small, one with more fraction bits than the products (left shifts) and few
    integer bits (overflows at every width)."""
    pf, pi = fa.f + fb.f, fa.i + fb.i
    return [(W, W - (pf - 3)), (W, pi - 6)]


def modes():
    for q in QS:
        for o in OS:
            for n in (0, 2):
                if n and o not in (fx.OMode.WRAP, fx.OMode.WRAP_SM):
                    continue
                yield q, o, n


OPERANDS = [
    (F(40, 20), F(33, 3, False)),    # native operands, 73-bit products
    (F(64, 30), F(64, 64, False)),   # 128-bit products: the multi-limb product path
    (F(100, 50), F(70, -5)),         # wide operands
]


@pytest.mark.parametrize("W", WIDTHS)
@pytest.mark.parametrize("ops", range(len(OPERANDS)))
def test_every_mode(W, ops):
    fa, fb = OPERANDS[ops]
    rng = np.random.default_rng(W * 10 + ops)
    M, K, N = 3, 5, 2
    a = fx.from_raw(edge_raws(rng, fa, (M, K)), fa)
    b = fx.from_raw(edge_raws(rng, fb, (K, N)), fb)
    for (w, i), (q, o, n), s in itertools.product(acc_formats(W, fa, fb, K), modes(), (True, False)):
        if o is fx.OMode.WRAP_SM and not s:
            continue  # WRAP_SM is defined for signed types only
        check(a, b, F(w, i, s, q.value, o.value, n), seed=7)


@pytest.mark.parametrize("W", [64, 65, 128, 129, 1024])
def test_sums_overflow_at_every_step(W):
    """Products that fit the accumulator and sums that leave it at once (both signs)."""
    fa, fb = F(16, 8), F(16, 8)
    rng = np.random.default_rng(W)
    a = fx.from_raw(edge_raws(rng, fa, (4, 9)), fa)
    b = fx.from_raw(edge_raws(rng, fb, (9, 3)), fb)
    for o in ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM", "WRAP_SM"):
        for s in (True, False):
            if o == "WRAP_SM" and not s:
                continue
            # the largest product barely fits: 2^30 * 2^-16 = 2^14 -> i = 16 signed
            check(a, b, F(W, 16 if s else 15, s, "RND_CONV", o, 0))


@pytest.mark.parametrize("W", [65, 200])
def test_shapes_batches_and_views(W):
    fa, fb = F(24, 10), F(9, 2, False)
    acc = F(W, 30, True, "RND", "SAT")
    rng = np.random.default_rng(3)
    big_a = fx.from_raw(edge_raws(rng, fa, (7, 12)), fa)
    big_b = fx.from_raw(edge_raws(rng, fb, (12, 10)), fb)
    # non-contiguous views (strided rows and columns, a transpose)
    check(big_a[::2, 1::3], big_b[1::3, ::3], acc)
    check(big_b.T[::2], big_a.T[:, ::3], acc)
    # odd shapes, K = 1, empty dimensions
    for M, K, N in [(1, 1, 1), (1, 13, 1), (5, 1, 7), (0, 3, 2), (2, 0, 3), (3, 4, 0)]:
        a = fx.from_raw(edge_raws(rng, fa, (M, K)), fa)
        b = fx.from_raw(edge_raws(rng, fb, (K, N)), fb)
        r = check(a, b, acc)
        assert r.shape == (M, N)
    # 1-d operands and batches (NumPy matmul shape rules)
    v = fx.from_raw(edge_raws(rng, fa, (5,)), fa)
    m = fx.from_raw(edge_raws(rng, fb, (5, 3)), fb)
    r = fx.matmul(v, m, accum=acc)
    assert r.shape == (3,)
    np.testing.assert_array_equal(pyints(r), ind_matmul(pyints(v).reshape(1, 5), fa, pyints(m), fb, acc)[0])
    ba = fx.from_raw(edge_raws(rng, fa, (2, 1, 3, 4)), fa)
    bb = fx.from_raw(edge_raws(rng, fb, (3, 4, 2)), fb)
    r = fx.matmul(ba, bb, accum=acc)
    assert r.shape == (2, 3, 3, 2)
    for t, u in itertools.product(range(2), range(3)):
        np.testing.assert_array_equal(pyints(r[t, u]), ind_matmul(pyints(ba[t, 0]), fa, pyints(bb[u]), fb, acc))


def test_stoch_batches_use_the_python_counters():
    """STOCH draws word (seed, base + 2 c) per product cast, base advancing per batch."""
    fa, fb = F(20, 5), F(20, 5)
    acc = F(96, 80, True, "STOCH", "SAT")  # 16 fraction bits: products lose 14
    rng = np.random.default_rng(5)
    a = fx.from_raw(edge_raws(rng, fa, (2, 3, 6)), fa)
    b = fx.from_raw(edge_raws(rng, fb, (6, 4)), fb)
    r = fx.matmul(a, b, accum=acc, seed=11)
    M, K, N = 3, 6, 4
    for t in range(2):
        ref = ref_matmul(pyints(a[t]), fa, pyints(b), fb, acc, 11, t * M * N * K * 2)
        np.testing.assert_array_equal(pyints(r[t]), ref)
    r2 = fx.matmul(a, b, accum=acc, seed=12)
    assert not np.array_equal(pyints(r2), pyints(r))  # the seed is used


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    fx.set_num_threads(threads)
    fa, fb = F(32, 12), F(30, 1)
    acc = F(129, 50, True, "RND_INF", "SAT_SYM")
    rng = np.random.default_rng(9)
    # 300 rows of K * N = 72: chunks of 227 rows, so 2 threads split the rows
    a = fx.from_raw(edge_raws(rng, fa, (300, 9)), fa)
    b = fx.from_raw(edge_raws(rng, fb, (9, 8)), fb)
    got = fx.matmul(a, b, accum=acc)
    np.testing.assert_array_equal(pyints(got), ind_matmul(pyints(a), fa, pyints(b), fb, acc))


@pytest.mark.parametrize("W", [65, 128, 1024])
def test_linear_with_bias(W):
    fx_, fw = F(18, 6), F(12, 1)
    acc = F(W, 12, True, "RND", "SAT")
    rng = np.random.default_rng(W + 1)
    x = fx.from_raw(edge_raws(rng, fx_, (2, 3, 7)), fx_)
    w = fx.from_raw(edge_raws(rng, fw, (5, 7)), fw)
    b = fx.from_raw(edge_raws(rng, F(40, 12), (5,)), F(40, 12))
    got = fx.linear(x, w, b, accum=acc)
    assert got.shape == (2, 3, 5) and got.fmt == acc
    bias = pyints(b.cast(acc))
    x2 = pyints(x).reshape(6, 7)
    wt = pyints(w).T
    np.testing.assert_array_equal(pyints(got).reshape(6, 5), ind_matmul(x2, fx_, wt, fw, acc, bias))
    np.testing.assert_array_equal(pyints(got).reshape(6, 5),
                                  ref_matmul(x2, fx_, wt, fw, acc, 0, 0, bias))


def test_golden_products_into_wide_types():
    """The real ap_fixed.h: `to v = a * b;` records, as 1x1x1 accumulations into `to`."""
    groups = defaultdict(list)
    for r in records("arith"):
        if r["op"] != "mul" or "to" not in r or r.get("ref_assert"):
            continue
        a, b, t = r["a"], r["b"], r["to"]
        groups[(a, b, t)].append((r["a_raw"], r["b_raw"], r["to_raw"]))
    wide = 0
    for (a, b, t), rows in groups.items():
        fa, fb = F(a.w, a.i, a.signed), F(b.w, b.i, b.signed)
        acc = F(t.w, t.i, t.signed, t.q, t.o, t.n)
        if max(fa.w, fb.w, acc.w) <= 64 and fa.w + fb.w <= 126:
            continue  # the native kernels' records (tested elsewhere)
        wide += len(rows)
        for ra, rb, want in rows:
            x = fx.from_raw(obj([ra], (1, 1)), fa)
            y = fx.from_raw(obj([rb], (1, 1)), fb)
            got = fx.matmul(x, y, accum=acc)
            assert int(pyints(got)[0, 0]) == want, f"{fa}({ra}) * {fb}({rb}) -> {acc}"
    assert wide > 500  # the file holds ~1,300 such records


# --- the kernel's input checks -----------------------------------------------------------
def limbs(vals, w):
    return np.ascontiguousarray(fx.from_raw(obj(vals), F(w, w))._raw).view(np.uint64).reshape(-1)


def test_bad_inputs():
    acc = (96, 40, True, 0, 0, 0)
    a = limbs([1, 2, 3, 4, 5, 6], 100)
    b = limbs([1, 2, 3], 70)
    ok = dict(a=a, wa=100, ia=100, sa=True, b=b, wb=70, ib=70, sb=True, M=2, K=3, N=1, accum=acc, bias=None,
              seed=0, counter_base=0)
    got = _core.wide_matmul_accum(**ok)
    assert got.size == 2 * 2
    bad = [
        (dict(K=2), "needs"),                       # a's buffer does not match M * K
        (dict(M=-1), "negative dimension"),
        (dict(M=1 << 62, K=1 << 2), "overflows int64"),
        (dict(accum=(96, 40, True)), "(w, i, signed, q, o, n)"),
        (dict(accum=(96, 40, True, 0, 0, 200)), ""),  # n > w
        (dict(bias=limbs([1, 2], 96)), "needs"),      # N = 1 accumulator elements
    ]
    for change, words in bad:
        with pytest.raises(ValueError) as e:
            _core.wide_matmul_accum(**{**ok, **change})
        assert words in str(e.value) and "wide_matmul_accum" in str(e.value)
    # a raw outside its format: the top limb not sign-extended from bit w - 1
    a_bad = a.copy()
    a_bad[1] = np.uint64(1 << 40)
    with pytest.raises(ValueError, match=r"element 0 is outside its format ap_fixed<100,100>"):
        _core.wide_matmul_accum(**{**ok, "a": a_bad})
    # the public API names itself and the shapes
    x = fx.from_raw(obj([1, 2, 3]), F(100, 10))
    with pytest.raises(ValueError, match="fx.matmul"):
        fx.matmul(x.reshape(1, 3), x.reshape(1, 3), accum=F(200, 50))


def test_results_are_limb_storage():
    fa = F(16, 4)
    a = fx.from_raw(obj([1, -2, 3, -4]).reshape(2, 2), fa)
    r = fx.matmul(a, a, accum=F(130, 40))
    assert r._raw.dtype == _limb_dtype(r.fmt) and not _native(r.fmt)
    r64 = fx.matmul(fx.from_raw(obj([1, 2]).reshape(1, 2), F(100, 3)), a, accum=F(40, 20))
    assert r64._raw.dtype == np.int64


def test_network_dense_accum_wide():
    """fixedpoint.nn's Dense accumulation (bias first) beyond 64 bits: the same sequential casts."""
    from fixedpoint.nn.dense import dense_accum

    fx_, fw = F(20, 8), F(14, 2)
    rng = np.random.default_rng(21)
    x = fx.from_raw(edge_raws(rng, fx_, (4, 6)), fx_)
    w = fx.from_raw(edge_raws(rng, fw, (6, 3)), fw)
    b = fx.from_raw(edge_raws(rng, F(30, 10), (3,)), F(30, 10))
    for acc in (F(80, 9, True, "RND", "SAT"), F(130, 12, True, "TRN", "WRAP_SM")):
        got = dense_accum(x, w, b, acc)
        bias = pyints(b.cast(acc))
        want = ref_matmul(pyints(x), fx_, pyints(w), fw, acc, 0, 0, bias)
        np.testing.assert_array_equal(pyints(got), want)
        if independent(acc):
            np.testing.assert_array_equal(pyints(got), ind_matmul(pyints(x), fx_, pyints(w), fw, acc, bias))
