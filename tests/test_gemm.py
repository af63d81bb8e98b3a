"""Exact dense GEMM paths of ``fx.matmul`` (int16 pair sums, float64 BLAS, blocked int64,
int128, Python ints): every path, at its bit boundaries, under every ISA, equals the product
of the stored integers computed with Python ints.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _core
from fixedpoint import _matmul, _plan
from fixedpoint import _reference as ref

Fixed = fx.Fixed
from strategies import ISAS, O_MODES, Q_MODES, multi_threaded  # noqa: E402  (the `isa` fixture is tests/conftest.py's)


def obj(a) -> np.ndarray:
    if isinstance(a, list):  # np.asarray would read ints >= 2**63 mixed with small ones as float64
        out = np.empty(len(a), dtype=object)
        out[:] = [int(v) for v in a]
        return out
    a = np.asarray(a)
    out = np.empty(a.size, dtype=object)
    out[:] = [int(v) for v in a.reshape(-1)]
    return out.reshape(a.shape)


def py_matmul(a: fx.FixedArray, b: fx.FixedArray) -> np.ndarray:
    """The exact product of the stored integers (Python ints; uint64 raws read unsigned)."""
    ra, rb = obj(a.raw), obj(b.raw)
    if ra.shape[-1] == 0:
        shp = np.matmul(np.zeros(ra.shape, dtype=np.int8), np.zeros(rb.shape, dtype=np.int8)).shape
        return obj(np.zeros(shp, dtype=np.int64))
    return np.asarray(np.matmul(ra, rb), dtype=object)


def edge_raws(fmt: Fixed, shape, rng) -> np.ndarray:
    """Raws spanning fmt's range with both extremes present (as Python ints)."""
    lo = -(1 << (fmt.w - 1)) if fmt.signed else 0
    hi = (1 << (fmt.w - 1)) - 1 if fmt.signed else (1 << fmt.w) - 1
    n = int(np.prod(shape, dtype=np.int64))
    vals = [int(v) for v in rng.integers(0, 1 << 62, size=n)]
    vals = [lo + v % (hi - lo + 1) for v in vals]
    if n:
        vals[0] = lo
        vals[-1] = hi
        if n > 2:
            vals[n // 2] = lo
    return obj(np.array(vals, dtype=object).reshape(shape)) if n else np.zeros(shape, dtype=np.int64)


def fixed(fmt: Fixed, shape, rng) -> fx.FixedArray:
    raws = edge_raws(fmt, shape, rng)
    return fx.from_raw(raws, fmt)


def path_for(a: fx.FixedArray, b: fx.FixedArray) -> str:
    k = a.shape[-1]
    prod = fx.result_format("mul", a.fmt, b.fmt)
    g = (k - 1).bit_length() if k > 1 else 0
    fmt = Fixed(prod.w + g, prod.i + g, signed=prod.signed) if prod.w + g <= fx.MAX_WIDTH else None
    ra, rb = a.raw, b.raw
    if ra.dtype == object or rb.dtype == object:
        return "object"
    amax, bmax, fits16 = _matmul._gemm_bounds(ra, rb)
    got = _plan.plan_matmul(amax, bmax, k, None if fmt is None else fmt.w,
                            unsigned64=ra.dtype == np.uint64 or rb.dtype == np.uint64, fits16=fits16)
    return "object" if got is _plan.MatmulKernel.WIDE else got  # "object": the multi-limb kernel


def check(a: fx.FixedArray, b: fx.FixedArray):
    res = fx.matmul(a, b)
    want = py_matmul(a, b)
    got = obj(res.raw) if res.raw.dtype != object else res.raw
    if res.fmt.w == 64 and not res.fmt.signed:  # stored integers read unsigned, exactly
        got = obj([int(v) % (1 << 64) for v in np.asarray(res.raw).reshape(-1).tolist()]).reshape(res.shape)
    assert got.shape == np.shape(want)
    np.testing.assert_array_equal(got, want)
    return res


def i16_or_f64(pairs: int) -> tuple[str, int]:
    """The path of int16-sized operands whose int32 holds ``pairs`` pairs of products (worked
    out by hand below) where float64 BLAS is exact: int16 from the running ISA's
    ``_plan.CROSSOVERS`` pair count, float64 BLAS below it or when the row says never (None)."""
    return ("i16|f64", pairs)


def expected_path(path) -> str:
    if not isinstance(path, tuple):
        return path
    row = _plan.crossovers()
    return "i16" if row.i16_min_pairs is not None and path[1] >= row.i16_min_pairs else "f64"


# the format pairs that sit at each path's bit boundaries (signed full-range data)
BOUNDARY = [
    ((8, 8, True), (8, 8, True), 37, i16_or_f64(65535)),     # 2 * 2^7 * 2^7 = 2^15 per pair
    ((9, 9, True), (9, 9, True), 37, i16_or_f64(16383)),     # 2^17 per pair
    ((8, 8, False), (9, 9, True), 37, i16_or_f64(16448)),    # 2 * 255 * 2^8 per pair
    ((13, 13, True), (14, 14, True), 37, i16_or_f64(31)),    # 2 * 2^12 * 2^13 per pair: 31 pairs per int32
    ((14, 14, True), (14, 14, True), 37, i16_or_f64(15)),    # 2 * 2^13 * 2^13: 15 pairs
    ((14, 14, True), (14, 14, True), 700, i16_or_f64(15)),
    ((15, 15, True), (16, 16, True), 3, "f64"),   # |b| = 2^15 is outside int16: float64 BLAS
    ((16, 16, True), (16, 16, True), 37, "f64"),  # -2^15 * -2^15 pairs overflow int32: not int16
    ((17, 17, True), (16, 16, True), 37, "f64"),
    ((27, 27, True), (27, 27, True), 2, "f64"),   # partial sums reach exactly 2**53: still exact
    ((27, 27, True), (27, 27, True), 3, "f64split"),  # 3 * 2**52 > 2**53: float64 on limbs
    ((32, 32, True), (31, 31, True), 2, "f64split"),  # int32 operands, 64-bit result
    ((32, 32, True), (31, 31, True), 4, "i128"),  # 65-bit result
    ((40, 20, True), (20, 5, False), 5, "f64split"),
    ((63, 63, True), (1, 1, False), 1, "f64split"),  # 63-bit operands, result fits 64 bits
    ((64, 64, True), (1, 1, False), 1, "i128"),   # 65-bit product format
    ((64, 64, False), (1, 1, False), 1, "i128"),  # unsigned 64-bit bit patterns
    ((33, 33, True), (33, 33, True), 3, "i128"),  # 65..126-bit results
    ((64, 64, True), (60, 60, True), 3, "i128"),
    ((64, 0, True), (62, 3, True), 1, "i128"),    # 126-bit product
    ((64, 64, False), (62, 62, True), 2, "i128"),  # 2 * (2**64 - 1) * 2**61 < 2**126
    ((64, 64, False), (62, 62, True), 4, "object"),  # past 126 bits
    ((70, 70, True), (8, 8, True), 3, "object"),     # wide operands
]


@pytest.mark.parametrize("fa,fb,k,path", BOUNDARY)
def test_matmul_paths_at_bit_boundaries(isa, fa, fb, k, path):
    rng = np.random.default_rng(abs(hash((fa, fb, k))) % 2**32)
    a = fixed(Fixed(*fa), (5, k), rng)
    b = fixed(Fixed(*fb), (k, 7), rng)
    if isinstance(path, tuple):  # the bounds of full-range data, and the pairs worked out above
        amax, bmax = ((1 << f[0]) - 1 if not f[2] else 1 << (f[0] - 1) for f in (fa, fb))
        assert _core.gemm_i16_pairs(amax, bmax) == path[1]
    if path != "object" or fa[0] <= 64:
        assert path_for(a, b) == expected_path(path)
    check(a, b)


def test_i16_path_with_full_16_bit_range_but_small_k_choice():
    # 15 x 16 bits: 2 * 2^14 * 2^15 = 2^30 per pair -> one pair per int32 block
    assert _core.gemm_i16_pairs(16384, 32768) == 1  # 2 * 2^14 * 2^15 = 2^30 per pair
    assert _core.gemm_i16_pairs(16384, 32767) == 2
    assert _core.gemm_i16_pairs(32767, 32767) == 1
    assert _core.gemm_i16_pairs(32768, 1) == (2**31 - 1) // 2**16  # -32768 fits int16
    assert _core.gemm_i16_pairs(32769, 1) == 0
    assert _core.gemm_i16_pairs(128, 128) == (2**31 - 1) // 2**15


@pytest.mark.parametrize("amax,bmax", [(128, 128), (255, 127), (32767, 32767), (16384, 32767), (1, 32767)])
def test_gemm_i16_kernel_overflow_edges(isa, amax, bmax):
    # every product at the extreme, many K: partial sums must be widened before int32 overflows
    rng = np.random.default_rng(amax + bmax)
    for M, K, N in ((3, 1, 1), (5, 513, 17), (4, 1025, 33), (2, 2, 40)):
        a = rng.choice([-amax, amax], size=(M, K)).astype(np.int64)
        b = rng.choice([-bmax, bmax], size=(K, N)).astype(np.int64)
        a[:, : K // 2] = amax
        b[: K // 2, :] = bmax
        want = np.matmul(obj(a), obj(b))
        np.testing.assert_array_equal(obj(_core.gemm_i16(a, b, amax, bmax)), want)


@pytest.mark.parametrize("amax,bmax", [(127, 128), (8191, 8191), (32767, 1)])
@pytest.mark.parametrize("M,K,N", [(130, 515, 47), (67, 1030, 16), (64, 2, 15)])
def test_gemm_i16_kernel_blocks(isa, amax, bmax, M, K, N):
    # several row blocks, pair blocks and column tiles (ragged last tile, odd K) of the packed
    # kernel; int64 matmul is exact here (|sums| < 2^41)
    rng = np.random.default_rng(M * K + N)
    a = rng.integers(-amax, amax, size=(M, K), endpoint=True)
    b = rng.integers(-bmax, bmax, size=(K, N), endpoint=True)
    a[0, :], b[:, -1] = amax, -bmax
    np.testing.assert_array_equal(_core.gemm_i16(a, b, amax, bmax), a @ b)
    # non-contiguous operands through the public API take the same kernel
    fa = fx.from_raw(np.asfortranarray(a), Fixed(16, 16))
    fb = fx.from_raw(b[:, ::1], Fixed(16, 16))
    np.testing.assert_array_equal(np.asarray(fx.matmul(fa.T.T, fb).raw), a @ b)


def test_gemm_i16_rejects_unsafe_bounds():
    a = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="gemm_i16: operand bounds amax=32768, bmax=32768"):
        _core.gemm_i16(a, a, 32768, 32768)
    with pytest.raises(ValueError, match="gemm_i16: operand bounds amax=32769, bmax=1"):
        _core.gemm_i16(a, a, 32769, 1)


def test_gemm_i16_checks_values_against_the_bounds(isa):
    # the stated bounds are verified, not trusted: a value beyond them, or +32768 (outside
    # int16 although |v| <= 32768), is refused with the range found
    a = np.array([[1, -5], [3, 4]], dtype=np.int64)
    b = np.array([[1, 0], [0, 1]], dtype=np.int64)
    with pytest.raises(ValueError, match=r"gemm_i16: a holds values in \[-5, 4\], outside the stated bound \[-4, 4\]"):
        _core.gemm_i16(a, b, 4, 1)
    with pytest.raises(ValueError, match=r"gemm_i16: b holds values in \[0, 32768\], outside the stated bound \[-32768, 32767\]"):
        _core.gemm_i16(a, b * 32768, 5, 32768)
    # -32768 itself fits int16 and is exact with a small partner
    np.testing.assert_array_equal(_core.gemm_i16(a, b * -32768, 5, 32768), a @ (b * -32768))


@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (5, 37, 7), (64, 300, 33), (130, 1030, 17)])
@pytest.mark.parametrize("bits", [(16, 11), (11, 16)])
def test_i16_path_admits_minus_32768(isa, M, K, N, bits):
    # a full-range 16-bit operand (-32768 present, bound 32768) times an 11-bit one: int16
    # holds -32768, the bound allows floor((2^31 - 1) / (2 * 2^15 * 2^10)) = 31 pairs, so the planner
    # takes the int16 kernel wherever the ISA's row does at 31 pairs (float64 BLAS before the bound
    # admitted 32768), and the int16 kernel itself is exact with it under every ISA
    rng = np.random.default_rng(M + K + N + bits[0])
    fa, fb = Fixed(bits[0], bits[0]), Fixed(bits[1], bits[1])
    a = rng.integers(-(2 ** (bits[0] - 1)), 2 ** (bits[0] - 1), size=(M, K))
    b = rng.integers(-(2 ** (bits[1] - 1)), 2 ** (bits[1] - 1), size=(K, N))
    a.flat[0], b.flat[-1] = -(2 ** (bits[0] - 1)), -(2 ** (bits[1] - 1))
    amax, bmax, fits16 = _matmul._gemm_bounds(a, b)
    assert fits16 and max(amax, bmax) == 32768 and _core.gemm_i16_pairs(amax, bmax) == 31
    for isa_name, row in _plan.CROSSOVERS.items():
        want = "i16" if row.i16_min_pairs is not None and row.i16_min_pairs <= 31 else "f64"
        assert _plan.plan_matmul(amax, bmax, K, None, fits16=fits16, isa=isa_name) == want, isa_name
    assert any(row.i16_min_pairs is not None and row.i16_min_pairs <= 31 for row in _plan.CROSSOVERS.values())
    res = fx.matmul(fx.from_raw(a, fa), fx.from_raw(b, fb))
    np.testing.assert_array_equal(np.asarray(res.raw), a @ b)
    np.testing.assert_array_equal(_core.gemm_i16(a, b, amax, bmax), a @ b)


@pytest.mark.parametrize("shape", [((0, 3), (3, 4)), ((3, 0), (0, 4)), ((1, 1), (1, 1)), ((3,), (3,)),
                                   ((4,), (4, 5)), ((6, 4), (4,)), ((2, 3, 17), (17, 9)),
                                   ((2, 1, 5, 6), (3, 6, 7)), ((33, 65), (65, 31))])
@pytest.mark.parametrize("bits", [(8, 8), (16, 16), (30, 30), (40, 50)])
def test_matmul_shapes_every_path(isa, shape, bits):
    rng = np.random.default_rng(7)
    a = fixed(Fixed(bits[0], 2), shape[0], rng)
    b = fixed(Fixed(bits[1], 3, signed=False), shape[1], rng)
    check(a, b)


def test_matmul_non_contiguous_inputs(isa):
    rng = np.random.default_rng(8)
    for w in (8, 16, 30, 40):
        a = fixed(Fixed(w, 4), (20, 30), rng)
        b = fixed(Fixed(w, 4), (40, 22), rng)
        views = [(a[::2, 1::2], b[1:31:2, ::2]),   # strided slices (10, 15) @ (15, 11)
                 (b.T[:, :20], a.T[:20, :])]        # transposes (22, 20) @ (20, 20)
        for x, y in views:
            res = fx.matmul(x, y)
            got = obj(res.raw) if res.raw.dtype != object else res.raw
            np.testing.assert_array_equal(got, np.matmul(obj(x.raw), obj(y.raw)))


def test_matmul_isas_agree_on_large_blocks():
    rng = np.random.default_rng(9)
    a = fixed(Fixed(8, 8), (70, 600), rng)
    b = fixed(Fixed(8, 8), (600, 300), rng)
    results = []
    cur = fx.get_isa()
    try:
        for name in ISAS:
            fx.set_isa(name)
            results.append(fx.matmul(a, b).raw.copy())
    finally:
        fx.set_isa(cur)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_array_equal(obj(results[0]), np.matmul(obj(a.raw), obj(b.raw)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_matmul_exact_hypothesis(data):
    w1 = data.draw(st.integers(1, 64))
    w2 = data.draw(st.integers(1, 64))
    fa = Fixed(w1, data.draw(st.integers(-4, w1 + 4)), signed=data.draw(st.booleans()))
    fb = Fixed(w2, data.draw(st.integers(-4, w2 + 4)), signed=data.draw(st.booleans()))
    M, K, N = (data.draw(st.integers(0, 6)) for _ in range(3))
    if w1 + w2 + max(K - 1, 0).bit_length() > fx.MAX_WIDTH:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    isa_name = data.draw(st.sampled_from(ISAS))
    cur = fx.get_isa()
    fx.set_isa(isa_name)
    try:
        check(fixed(fa, (M, K), rng), fixed(fb, (K, N), rng))
    finally:
        fx.set_isa(cur)


# --------------------------------------------------------------------------------------
# accumulator fast paths (WRAP, n = 0): exact reorderings of the sequential semantics
# --------------------------------------------------------------------------------------
ALL_Q = Q_MODES
ALL_O = O_MODES


def ref_accum_matmul(a: fx.FixedArray, b: fx.FixedArray, acc: Fixed, seed: int) -> list:
    """Sequential model: products cast into acc, then running sums cast, in k order; STOCH
    words (seed, ((i*N + j)*K + k)*2 [+1])."""
    M, K = a.shape
    N = b.shape[1]
    pw, pi, ps = a.fmt.w + b.fmt.w, a.fmt.i + b.fmt.i, a.fmt.signed or b.fmt.signed
    q, o = acc.q.value, acc.o.value
    rows = []
    for i in range(M):
        row = []
        for j in range(N):
            s = 0
            for k in range(K):
                ctr = ((i * N + j) * K + k) * 2
                p = ref.cast_raw(int(a.raw[i, k]) * int(b.raw[k, j]), pw, pi, ps, acc.w, acc.i, acc.signed, q, o,
                                 acc.n, seed=seed, index=ctr)
                s = ref.cast_raw(s + p, acc.w + 1, acc.i + 1, acc.signed, acc.w, acc.i, acc.signed, q, o, acc.n,
                                 seed=seed, index=ctr + 1)
            row.append(s)
        rows.append(row)
    return rows




@settings(max_examples=150, deadline=None)
@given(st.data())
def test_accum_every_mode_matches_sequential_reference(data):
    q = data.draw(st.sampled_from(ALL_Q))
    o = data.draw(st.sampled_from(ALL_O))
    signed = True if o == "WRAP_SM" else data.draw(st.booleans())
    aw = data.draw(st.integers(2, 40))
    fa = Fixed(data.draw(st.integers(1, 16)), data.draw(st.integers(-3, 10)), signed=data.draw(st.booleans()))
    fb = Fixed(data.draw(st.integers(1, 16)), data.draw(st.integers(-3, 10)), signed=data.draw(st.booleans()))
    # aim at both fast paths: accum fraction bits at, above and below the product's
    af = fa.f + fb.f + data.draw(st.integers(-6, 4))
    acc = Fixed(aw, aw - af, signed=signed, q=q, o=o)
    M, K, N = data.draw(st.integers(1, 3)), data.draw(st.integers(0, 9)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = fixed(fa, (M, K), rng), fixed(fb, (K, N), rng)
    seed = data.draw(st.integers(0, 2**64 - 1))
    isa_name = data.draw(st.sampled_from(ISAS))
    cur = fx.get_isa()
    fx.set_isa(isa_name)
    try:
        got = fx.matmul(a, b, accum=acc, seed=seed)
    finally:
        fx.set_isa(cur)
    assert got.raw.tolist() == ref_accum_matmul(a, b, acc, seed)


@pytest.mark.parametrize("q", ("TRN", "RND", "RND_CONV"))
def test_accum_wrap_fast_path_large_overflowing_sums(isa, q):
    # wide sums that wrap many times, 8-bit data (int16 GEMM) and 40-bit data (int64 GEMM)
    rng = np.random.default_rng(11)
    for fa, acc in ((Fixed(8, 8), Fixed(10, 10, q=q)), (Fixed(40, 20), Fixed(64, 24, q=q)),
                    (Fixed(8, 4), Fixed(12, 6, q=q)), (Fixed(8, 4), Fixed(16, 16, q=q, signed=False))):
        a, b = fixed(fa, (3, 200), rng), fixed(fa, (200, 5), rng)
        assert fx.matmul(a, b, accum=acc).raw.tolist() == ref_accum_matmul(a, b, acc, 0)


def test_gemm_kernels_from_several_python_threads():
    rng = np.random.default_rng(12)
    pairs = [(fixed(Fixed(w, w), (40, 300), rng), fixed(Fixed(w, w), (300, 50), rng)) for w in (8, 30, 40)]
    want = [np.matmul(obj(a.raw), obj(b.raw)) for a, b in pairs]
    got = multi_threaded(lambda n: fx.matmul(*pairs[n % 3]), 4 * len(pairs))
    for n, res in enumerate(got):
        r = res.raw
        np.testing.assert_array_equal(obj(r) if r.dtype != object else r, want[n % 3])


def test_f64_split_plan_bounds():
    # every limb GEMM must stay within 2**53: L + bits(other) + ceil(log2 K) <= 53
    for amax, bmax, k in ((2**31, 2**20, 1024), (2**26, 2**26, 3), (2**62, 1, 1), (5, 2**40, 7)):
        split_a, L, n = _plan.f64_split_plan(amax, bmax, k)
        mine, other = (amax, bmax) if split_a else (bmax, amax)
        g = (k - 1).bit_length()
        assert L + other.bit_length() + g <= 53 and n * L >= mine.bit_length()
    assert _plan.f64_split_plan(2**63, 2**63, 2**20) is None


def test_i64_path_with_unsigned_64_bit_raws(isa):
    # ap_uint<64> values held as uint64 raws: no float64 path; the int64 kernel wraps mod 2^64
    rng = np.random.default_rng(13)
    a = fx.from_raw(obj(rng.integers(0, 2**20, (6, 9))), Fixed(64, 64, signed=False))
    a_raw = a.raw
    assert a_raw.dtype == np.uint64
    b = fixed(Fixed(8, 8), (9, 5), rng)
    assert path_for(a, b) == "i64"
    check(a, b)


@pytest.mark.parametrize("small", [True, False])
def test_gemm_i64_kernel_direct(isa, small):
    rng = np.random.default_rng(14)
    hi = 2**31 if small else 2**40  # results stay below 2**63: |a| * 2**12 * K
    for M, K, N in ((1, 1, 1), (5, 7, 19), (9, 130, 300), (6, 0, 3)):
        a = rng.integers(-hi, hi, (M, K))
        b = rng.integers(-(2**12), 2**12, (K, N))
        want = np.matmul(obj(a), obj(b)) if K else obj(np.zeros((M, N), dtype=np.int64))
        np.testing.assert_array_equal(obj(_core.gemm_i64(a, b, small)), want)


def test_gemm_i64_checks_the_small_operands_flag():
    """issue 22: the packed 32-bit path was taken on the caller's word; operands outside int32
    now raise instead of being truncated."""
    a = np.array([[2**31, 1]], dtype=np.int64)
    b = np.ones((2, 1), dtype=np.int64)
    with pytest.raises(ValueError, match=r"gemm_i64: small_operands=True but a holds 2147483648 \(flat index 0\), "
                                         r"outside int32 \[-2147483648, 2147483647\]"):
        _core.gemm_i64(a, b, True)
    with pytest.raises(ValueError, match=r"gemm_i64: small_operands=True but b holds -2147483649 \(flat index 1\)"):
        _core.gemm_i64(b.T.copy(), np.array([[1], [-(2**31) - 1]], dtype=np.int64), True)
    assert _core.gemm_i64(a, b, False).tolist() == [[2**31 + 1]]
    assert _core.gemm_i64(np.array([[-(2**31), 2**31 - 1]]), b, True).tolist() == [[-1]]
