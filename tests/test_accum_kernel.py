"""``_core.dense_accum`` (the hls4ml Dense emulation kernel) equals the validated scalar path
``_core.cast(_core.matmul_accum(...))`` bit for bit: every accumulator and result q/o/n, signed
and unsigned operands, widths 1..32 for x and w, accumulators 1..62 bits, product shifts of
both signs, lane remainders, edge raws, under every ISA and with 1 and 2 threads.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _core

Q = {q: k for k, q in enumerate(fx.QMode)}
O = {o: k for k, o in enumerate(fx.OMode)}
QS = [q for q in fx.QMode if q != fx.QMode.STOCH]
OS = list(fx.OMode)
from strategies import ISAS  # noqa: E402  (every supported ISA, read from the extension)
KS = [0, 1, 2, 7, 64]
NS = [1, 3, 4, 5, 8, 9, 16, 31, 33]


pytestmark = pytest.mark.usefixtures("restore_runtime")  # tests/conftest.py


def rng_raws(rng, w, s, shape, small=False):
    """Raws of a w-bit format: uniform over the range (or small magnitudes), with both extremes."""
    lo = -(1 << (w - 1)) if s else 0
    hi = (1 << (w - 1)) - 1 if s else (1 << w) - 1
    n = int(np.prod(shape, dtype=np.int64))
    if small:
        span = max(1, (hi - lo + 1) >> 6)
        mid = 0 if s else span
        v = rng.integers(mid - span // 2, mid + span // 2 + 1, size=n)
        v = np.clip(v, lo, hi)
    else:
        v = np.array([lo + int(t) % (hi - lo + 1) for t in rng.integers(0, 1 << 62, size=n)], dtype=np.int64)
    v = v.astype(np.int64)
    if n:
        v[0] = lo
        v[-1] = hi
        if n > 2:
            v[n // 2] = lo if rng.integers(2) else hi
    return v.reshape(shape)


def fmt_ok(w, i, s, q, o, n):
    return n <= w and (n == 0 or o in (fx.OMode.WRAP, fx.OMode.WRAP_SM)) and (o != fx.OMode.WRAP_SM or s)


def reference(x, xf, w, wf, acc, bias, res):
    m = _core.matmul_accum(x, *xf, w, *wf, *acc, bias, 0, 0)
    return _core.cast(m, acc[0], acc[1], acc[2], *res, 0)


def check(x, xf, w, wf, acc, bias, res, isas=ISAS, threads=(1,)):
    want = reference(x, xf, w, wf, acc, bias, res)
    for isa in isas:
        fx.set_isa(isa)
        for nt in threads:
            fx.set_num_threads(nt)
            got = _core.dense_accum(x, *xf, w, *wf, *acc, bias, *res)
            assert got.dtype == np.int64 and got.shape == want.shape
            if not np.array_equal(got, want):
                bad = np.argwhere(got != want)[0]
                raise AssertionError(
                    f"isa={isa} threads={nt} x{xf} w{wf} acc{acc} res{res} shape {x.shape}@{w.shape}: "
                    f"first mismatch at {tuple(bad)}: got {got[tuple(bad)]} want {want[tuple(bad)]}"
                )


def mode_args(w, i, s, q, o, n):
    return (w, i, bool(s), Q[q], O[o], n)


# --- every accumulator mode (q, o, n) against a few result formats ------------------------
ACC_MODES = [(q, o, n) for q in QS for o in OS for n in (0, 1, 2)]


@pytest.mark.parametrize("q,o,n", ACC_MODES, ids=[f"{q.value}-{o.value}-n{n}" for q, o, n in ACC_MODES])
def test_every_accum_mode(q, o, n):
    rng = np.random.default_rng(hash((q.value, o.value, n)) % 2**32)
    cases = [  # (x fmt, w fmt, accum (w, i, s), result)
        ((16, 6, True), (16, 6, True), (18, 8, True), (16, 6, True, Q[fx.QMode.RND], O[fx.OMode.SAT], 0)),
        ((16, 6, True), (16, 6, True), (38, 18, True), (16, 6, True, Q[fx.QMode.TRN], O[fx.OMode.WRAP], 0)),
        ((8, 3, True), (6, 1, False), (10, 4, True), (8, 3, True, Q[fx.QMode.RND_CONV], O[fx.OMode.SAT_SYM], 0)),
        ((5, 2, False), (7, 7, True), (12, 9, False), (6, 2, False, Q[fx.QMode.RND], O[fx.OMode.WRAP], 1)),
        ((20, 5, True), (12, 3, True), (24, 14, True), (12, 8, True, Q[fx.QMode.TRN], O[fx.OMode.SAT], 0)),
        ((3, 1, True), (3, 1, True), (30, 22, True), (8, 4, True, Q[fx.QMode.RND], O[fx.OMode.WRAP], 0)),
    ]
    for xf, wf, (aw, ai, asg), res in cases:
        if not fmt_ok(aw, ai, asg, q, o, n):
            continue
        acc = mode_args(aw, ai, asg, q, o, n)
        for K, N in [(7, 9), (64, 33), (0, 3), (2, 1), (1, 16)]:
            for small in (False, True):
                x = rng_raws(rng, xf[0], xf[2], (5, K), small)
                w = rng_raws(rng, wf[0], wf[2], (K, N), small)
                b = rng_raws(rng, aw, asg, (N,), small)
                check(x, xf, w, wf, acc, b, res)


# --- every result mode (q, o, n) ---------------------------------------------------------
RES_MODES = [(q, o, n) for q in QS for o in OS for n in (0, 1, 2)]


@pytest.mark.parametrize("q,o,n", RES_MODES, ids=[f"{q.value}-{o.value}-n{n}" for q, o, n in RES_MODES])
def test_every_result_mode(q, o, n):
    rng = np.random.default_rng(7 + hash((q.value, o.value, n)) % 2**32)
    for (rw, ri, rs), acc in [
        ((16, 6, True), mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0)),
        ((8, 3, True), mode_args(38, 18, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
        ((6, 2, False), mode_args(20, 8, False, fx.QMode.TRN, fx.OMode.SAT, 0)),
        ((12, 10, True), mode_args(10, 4, True, fx.QMode.RND, fx.OMode.SAT, 0)),
        ((18, 2, True), mode_args(14, 4, True, fx.QMode.RND_INF, fx.OMode.WRAP, 1)),
    ]:
        if not fmt_ok(rw, ri, rs, q, o, n):
            continue
        res = mode_args(rw, ri, rs, q, o, n)
        x = rng_raws(rng, 16, True, (6, 9))
        w = rng_raws(rng, 16, True, (9, 5))
        b = rng_raws(rng, acc[0], acc[2], (5,))
        check(x, (16, 6, True), w, (16, 6, True), acc, b, res)


# --- the full accum x result cross product on one small shape -----------------------------
def test_accum_result_cross_product():
    rng = np.random.default_rng(11)
    x = rng_raws(rng, 10, True, (4, 7))
    w = rng_raws(rng, 9, True, (7, 9))
    count = 0
    for (aq, ao, an), (rq, ro, rn) in itertools.product(
        [(q, o, n) for q in QS for o in OS for n in (0, 2)], [(q, o, n) for q in QS for o in OS for n in (0, 2)]
    ):
        if not (fmt_ok(14, 6, True, aq, ao, an) and fmt_ok(9, 4, True, rq, ro, rn)):
            continue
        acc = mode_args(14, 6, True, aq, ao, an)
        b = rng_raws(rng, 14, True, (9,))
        check(x, (10, 3, True), w, (9, 2, True), acc, b, mode_args(9, 4, True, rq, ro, rn))
        count += 1
    assert count > 1000


# --- lane remainders, depths and threads -------------------------------------------------
@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("N", NS)
def test_shapes_and_threads(K, N):
    rng = np.random.default_rng(K * 100 + N)
    M = 1500 if K * N <= 64 else 300  # enough rows for parallel_for to split across 2 threads
    sat = mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0)
    wrap = mode_args(38, 18, True, fx.QMode.TRN, fx.OMode.WRAP, 0)
    narrow = mode_args(10, 4, True, fx.QMode.RND, fx.OMode.SAT, 0)
    res = mode_args(16, 6, True, fx.QMode.RND, fx.OMode.SAT, 0)
    for acc in (sat, wrap, narrow):
        for small in (False, True):
            x = rng_raws(rng, 16, True, (M, K), small)
            w = rng_raws(rng, 16, True, (K, N), small)
            b = rng_raws(rng, acc[0], True, (N,), small)
            check(x, (16, 6, True), w, (16, 6, True), acc, b, res, threads=(1, 2))


# --- hypothesis: random formats, shifts of both signs, edge raws ---------------------------
@st.composite
def dense_cases(draw):
    xw = draw(st.integers(1, 32))
    ww = draw(st.integers(1, 32))
    xs, ws, asg, rs = (draw(st.booleans()) for _ in range(4))
    xi = draw(st.integers(-8, xw + 8))
    wi = draw(st.integers(-8, ww + 8))
    aw = draw(st.integers(1, 62))
    pf = (xw - xi) + (ww - wi)
    af = draw(st.integers(pf - 20, pf + 20))  # product shift pf - af of both signs
    ai = aw - af
    aq = draw(st.sampled_from(QS))
    ao = draw(st.sampled_from(OS))
    an = draw(st.sampled_from([0, 1, 2])) if ao in (fx.OMode.WRAP, fx.OMode.WRAP_SM) else 0
    if ao == fx.OMode.WRAP_SM:
        asg = True
    an = min(an, aw)
    rw = draw(st.integers(1, 32))
    ri = draw(st.integers(ai - 12, ai + 12))
    rq = draw(st.sampled_from(QS))
    ro = draw(st.sampled_from(OS))
    rn = draw(st.sampled_from([0, 1, 2])) if ro in (fx.OMode.WRAP, fx.OMode.WRAP_SM) else 0
    if ro == fx.OMode.WRAP_SM:
        rs = True
    rn = min(rn, rw)
    K = draw(st.sampled_from(KS))
    N = draw(st.sampled_from(NS))
    M = draw(st.integers(1, 6))
    small = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return (xw, xi, xs), (ww, wi, ws), (aw, ai, asg, Q[aq], O[ao], an), (rw, ri, rs, Q[rq], O[ro], rn), (M, K, N), small, seed


@settings(max_examples=400, deadline=None)
@given(dense_cases())
def test_hypothesis_matches_matmul_accum(case):
    xf, wf, acc, res, (M, K, N), small, seed = case
    rng = np.random.default_rng(seed)
    x = rng_raws(rng, xf[0], xf[2], (M, K), small)
    w = rng_raws(rng, wf[0], wf[2], (K, N), small)
    b = rng_raws(rng, acc[0], acc[2], (N,), small)
    check(x, xf, w, wf, acc, b, res, threads=(1, 2))


def test_edge_raws_everywhere():
    """Every operand and bias at its format's raw_min / raw_max."""
    for (xw, xs), (ww, ws), (aw, asg) in itertools.product(
        [(1, True), (1, False), (16, True), (15, False), (31, True), (32, True)],
        [(1, True), (16, True), (16, False), (32, True)],
        [(10, True), (31, True), (32, False), (40, True), (62, True)],
    ):
        for lo_hi in itertools.product([0, 1], repeat=3):
            xv = [-(1 << (xw - 1)) if xs else 0, (1 << (xw - 1)) - 1 if xs else (1 << xw) - 1]
            wv = [-(1 << (ww - 1)) if ws else 0, (1 << (ww - 1)) - 1 if ws else (1 << ww) - 1]
            bv = [-(1 << (aw - 1)) if asg else 0, (1 << (aw - 1)) - 1 if asg else (1 << aw) - 1]
            x = np.full((3, 7), xv[lo_hi[0]], dtype=np.int64)
            w = np.full((7, 5), wv[lo_hi[1]], dtype=np.int64)
            b = np.full(5, bv[lo_hi[2]], dtype=np.int64)
            for aq, ao in [(fx.QMode.RND, fx.OMode.SAT), (fx.QMode.TRN, fx.OMode.WRAP), (fx.QMode.RND, fx.OMode.WRAP)]:
                acc = (aw, aw // 2, asg, Q[aq], O[ao], 0)
                check(x, (xw, xw // 2, xs), w, (ww, 1, ws), acc, b, mode_args(12, 4, True, fx.QMode.RND, fx.OMode.SAT, 0))


def test_bias_none_is_zero():
    rng = np.random.default_rng(3)
    x = rng_raws(rng, 16, True, (9, 8))
    w = rng_raws(rng, 16, True, (8, 5))
    acc = mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0)
    res = mode_args(16, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0)
    got = _core.dense_accum(x, 16, 6, True, w, 16, 6, True, *acc, None, *res)
    want = _core.dense_accum(x, 16, 6, True, w, 16, 6, True, *acc, np.zeros(5, np.int64), *res)
    assert np.array_equal(got, want)


# --- validation ---------------------------------------------------------------------------
def _args(**over):
    a = dict(
        x=np.zeros((2, 3), np.int64), xw=16, xi=6, xsigned=True, w=np.zeros((3, 4), np.int64), ww=16, wi=6,
        wsigned=True, acc_w=18, acc_i=8, acc_signed=True, acc_q=Q[fx.QMode.RND], acc_o=O[fx.OMode.SAT], acc_n=0,
        bias_acc=np.zeros(4, np.int64), res_w=16, res_i=6, res_signed=True, res_q=0, res_o=0, res_n=0,
    )
    a.update(over)
    return a


@pytest.mark.parametrize(
    "over,match",
    [
        (dict(acc_q=Q[fx.QMode.STOCH]), "dense_accum: STOCH"),
        (dict(res_q=Q[fx.QMode.STOCH]), "dense_accum: STOCH"),
        (dict(x=np.zeros((2, 5), np.int64)), r"dense_accum: x is \(2, 5\) but w is \(3, 4\)"),
        (dict(x=np.zeros(3, np.int64)), "dense_accum: x must be"),
        (dict(bias_acc=np.zeros(3, np.int64)), r"dense_accum: bias_acc must have shape \(N,\) = \(4,\)"),
        (dict(acc_w=65), "dense_accum: accum format"),
        (dict(res_w=0), "dense_accum: result format"),
        (dict(acc_n=2), "dense_accum: accum format"),
        (dict(xw=64, ww=64), r"dense_accum: product width xw \+ ww = 64 \+ 64 exceeds 126"),
        (dict(w=np.full((3, 4), 1 << 15, np.int64)), r"dense_accum: w\[0, 0\] = 32768 is outside"),
        (dict(bias_acc=np.full(4, 1 << 17, np.int64)), r"dense_accum: bias_acc\[0\] = 131072 is outside"),
        (dict(x=np.array([[0, 0, 0], [0, -40000, 0]], np.int64)), r"dense_accum: x\[1, 1\] = -40000 is outside"),
    ],
)
def test_validation(over, match):
    with pytest.raises(ValueError, match=match):
        _core.dense_accum(**_args(**over))


# --- the row path (small N: lanes over blocks of rows) -------------------------------------
# Under AVX-512 (AVX2) dense_accum runs N < 16 (N < 8) across blocks of 32 (16) rows, the
# variant chosen per block. Shapes span several blocks plus a remainder; rows of mixed
# magnitude put "safe" and clamping rows into one block.
ROW_NS = [1, 2, 3, 4, 5, 8]
ROW_CLASSES = {  # (x fmt, w fmt, accum (w, i, s, q, o, n)): which lane variant the plan picks
    "i16-madd-rnd-sat": ((16, 6, True), (16, 6, True), mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "i16-madd-trn-sat": ((16, 6, True), (16, 6, True), mode_args(20, 8, True, fx.QMode.TRN, fx.OMode.SAT, 0)),
    "i16-wrap-trn": ((16, 6, True), (16, 6, True), mode_args(16, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
    "i16-wrap-rnd": ((16, 6, True), (16, 6, True), mode_args(16, 6, True, fx.QMode.RND, fx.OMode.WRAP, 0)),
    "i16-pair-sat": ((12, 4, True), (10, 2, True), mode_args(24, 8, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "i16-pair-wrap": ((12, 4, True), (10, 2, True), mode_args(20, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
    "i16-left-sat": ((8, 4, True), (8, 4, False), mode_args(16, 4, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "lo32-sat": ((20, 5, True), (12, 3, True), mode_args(24, 14, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "lo32-wrap": ((20, 5, True), (12, 3, False), mode_args(30, 14, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
    "i64-small-sat": ((24, 8, True), (24, 8, True), mode_args(40, 16, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "i64-small-wrap": ((24, 8, True), (24, 8, True), mode_args(38, 18, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
    "i64-wide-sat": ((40, 20, True), (16, 6, True), mode_args(44, 20, True, fx.QMode.RND, fx.OMode.SAT, 0)),
    "i64-wide-wrap": ((40, 20, True), (16, 6, True), mode_args(60, 30, True, fx.QMode.TRN, fx.OMode.WRAP, 0)),
    "unsigned-sat": ((9, 3, False), (7, 1, False), mode_args(14, 6, False, fx.QMode.TRN, fx.OMode.SAT, 0)),
    "scalar-sat-sym": ((16, 6, True), (16, 6, True), mode_args(18, 8, True, fx.QMode.RND_CONV, fx.OMode.SAT_SYM, 0)),
    "scalar-wrap-n1": ((16, 6, True), (16, 6, True), mode_args(18, 8, True, fx.QMode.RND, fx.OMode.WRAP, 1)),
}
ROW_RES = mode_args(16, 6, True, fx.QMode.RND, fx.OMode.SAT, 0)


def mixed_rows(rng, w, s, shape):
    """Raws with per-row magnitude: some rows tiny (provably in range), some full range."""
    v = rng_raws(rng, w, s, shape)
    if len(shape) == 2 and shape[0] > 1:
        shift = rng.integers(0, max(1, w - 1), size=(shape[0], 1))
        shift[rng.random(shape[0]) < 0.5] = 0
        v = v >> shift
    return v


@pytest.mark.parametrize("cls", list(ROW_CLASSES))
@pytest.mark.parametrize("N", ROW_NS)
def test_row_path_every_class(cls, N):
    xf, wf, acc = ROW_CLASSES[cls]
    rng = np.random.default_rng(hash((cls, N)) % 2**32)
    for K, M in [(9, 2 * 32 * 40 + 13), (36, 3 * 32 + 7), (1, 40), (2, 33), (0, 35), (7, 31)]:
        for data in ("full", "small", "mixed"):
            if data == "mixed":
                x = mixed_rows(rng, xf[0], xf[2], (M, K))
            else:
                x = rng_raws(rng, xf[0], xf[2], (M, K), data == "small")
            w = rng_raws(rng, wf[0], wf[2], (K, N), data == "small")
            b = rng_raws(rng, acc[0], acc[2], (N,), data == "small")
            check(x, xf, w, wf, acc, b, ROW_RES, threads=(1, 2) if M > 2000 else (1,))


@st.composite
def row_cases(draw):
    xf, wf, acc, res, (_, K, _), small, seed = draw(dense_cases())
    M = draw(st.sampled_from([1, 15, 16, 17, 31, 32, 33, 64, 100]))
    N = draw(st.sampled_from(ROW_NS))
    mixed = draw(st.booleans())
    return xf, wf, acc, res, (M, K, N), small, mixed, seed


@settings(max_examples=300, deadline=None)
@given(row_cases())
def test_hypothesis_row_path(case):
    xf, wf, acc, res, (M, K, N), small, mixed, seed = case
    rng = np.random.default_rng(seed)
    x = mixed_rows(rng, xf[0], xf[2], (M, K)) if mixed else rng_raws(rng, xf[0], xf[2], (M, K), small)
    w = rng_raws(rng, wf[0], wf[2], (K, N), small)
    b = rng_raws(rng, acc[0], acc[2], (N,), small)
    check(x, xf, w, wf, acc, b, res)


def test_row_path_x_out_of_range_reports_first():
    x = np.zeros((100, 9), np.int64)
    x[70, 3] = 1 << 15
    x[90, 0] = -(1 << 15) - 1
    w = np.ones((9, 4), np.int64)
    for isa in ISAS:
        fx.set_isa(isa)
        with pytest.raises(ValueError, match=r"dense_accum: x\[70, 3\] = 32768 is outside"):
            _core.dense_accum(x, 16, 6, True, w, 16, 6, True, *ROW_CLASSES["i16-madd-rnd-sat"][2], None, *ROW_RES)


# --- conv_accum: the fused im2col ------------------------------------------------------------
def im2col_ref(x, kh, kw, sh, sw, OH, OW):
    from numpy.lib.stride_tricks import sliding_window_view

    S, Hp, Wp, C = x.shape
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, : (OH - 1) * sh + 1 : sh, : (OW - 1) * sw + 1 : sw]
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(S * OH * OW, kh * kw * C)


def check_conv(x, geom, xf, w, wf, acc, bias, res, threads=(1, 2)):
    kh, kw, sh, sw, OH, OW = geom
    S = x.shape[0]
    cols = im2col_ref(x, kh, kw, sh, sw, OH, OW)
    want = reference(cols, xf, w, wf, acc, bias, res).reshape(S, OH, OW, w.shape[1])
    for isa in ISAS:
        fx.set_isa(isa)
        for nt in threads:
            fx.set_num_threads(nt)
            got = _core.conv_accum(x, kh, kw, sh, sw, OH, OW, *xf, w, *wf, *acc, bias, *res)
            assert got.dtype == np.int64 and got.shape == want.shape
            if not np.array_equal(got, want):
                bad = np.argwhere(got != want)[0]
                raise AssertionError(f"isa={isa} threads={nt} geom={geom} x{x.shape} w{w.shape} acc{acc}: first "
                                     f"mismatch at {tuple(bad)}: got {got[tuple(bad)]} want {want[tuple(bad)]}")
            dense = _core.dense_accum(cols, *xf, w, *wf, *acc, bias, *res)
            assert np.array_equal(dense.reshape(want.shape), want)


CONV_GEOMS = [  # (S, Hp, Wp, C, kh, kw, sh, sw)
    (50, 10, 10, 1, 3, 3, 1, 1),  # conv1 of the small CNN (padded 8x8)
    (40, 6, 6, 4, 3, 3, 1, 1),  # conv2 (padded 4x4, 4 channels)
    (7, 9, 11, 3, 3, 2, 2, 3),  # strides, non-square kernel, OW not a multiple of anything
    (5, 1, 40, 2, 1, 5, 1, 2),  # 1-D (Hp = 1)
    (3, 8, 8, 5, 1, 1, 2, 1),  # pointwise, strided
    (2, 5, 5, 1, 5, 5, 1, 1),  # the kernel covers the input: one window per sample
    (1, 4, 37, 1, 2, 3, 1, 1),  # one sample, long rows
    (0, 6, 6, 4, 3, 3, 1, 1),  # no samples
]


@pytest.mark.parametrize("geom", CONV_GEOMS, ids=[str(g) for g in CONV_GEOMS])
@pytest.mark.parametrize("N", [1, 3, 4, 8, 16, 33])
def test_conv_accum_matches_im2col(geom, N):
    S, Hp, Wp, C, kh, kw, sh, sw = geom
    OH, OW = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    rng = np.random.default_rng(hash((geom, N)) % 2**32)
    for cls in ("i16-madd-rnd-sat", "i16-wrap-trn", "i16-pair-sat", "lo32-wrap", "i64-small-sat", "scalar-sat-sym"):
        xf, wf, acc = ROW_CLASSES[cls]
        for small in (False, True):
            x = rng_raws(rng, xf[0], xf[2], (S, Hp, Wp, C), small)
            w = rng_raws(rng, wf[0], wf[2], (kh * kw * C, N), small)
            b = rng_raws(rng, acc[0], acc[2], (N,), small)
            check_conv(x, (kh, kw, sh, sw, OH, OW), xf, w, wf, acc, b, ROW_RES)


def test_conv_accum_threads_split():
    """Enough windows for parallel_for to split mid-sample and mid-row across 2 threads."""
    rng = np.random.default_rng(5)
    for N, C in [(4, 1), (8, 4), (20, 2)]:
        x = rng_raws(rng, 16, True, (300, 9, 7, C))
        w = rng_raws(rng, 16, True, (9 * C, N))
        for cls in ("i16-madd-rnd-sat", "i16-wrap-trn"):
            xf, wf, acc = ROW_CLASSES[cls]
            check_conv(x, (3, 3, 1, 1, 7, 5), xf, w, wf, acc, None, ROW_RES)


@st.composite
def conv_cases(draw):
    xf, wf, acc, res, _, small, seed = draw(dense_cases())
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    Hp, Wp = draw(st.integers(kh, kh + 6)), draw(st.integers(kw, kw + 9))
    C = draw(st.integers(1, 4))
    S = draw(st.integers(0, 4))
    N = draw(st.sampled_from([1, 2, 3, 4, 5, 8, 16, 17]))
    return xf, wf, acc, res, (S, Hp, Wp, C, kh, kw, sh, sw, N), small, seed


@settings(max_examples=200, deadline=None)
@given(conv_cases())
def test_hypothesis_conv_accum(case):
    xf, wf, acc, res, (S, Hp, Wp, C, kh, kw, sh, sw, N), small, seed = case
    rng = np.random.default_rng(seed)
    x = rng_raws(rng, xf[0], xf[2], (S, Hp, Wp, C), small)
    w = rng_raws(rng, wf[0], wf[2], (kh * kw * C, N), small)
    b = rng_raws(rng, acc[0], acc[2], (N,), small)
    check_conv(x, (kh, kw, sh, sw, (Hp - kh) // sh + 1, (Wp - kw) // sw + 1), xf, w, wf, acc, b, res, threads=(1,))


def _conv_args(**over):
    a = dict(
        x=np.zeros((2, 6, 6, 4), np.int64), kh=3, kw=3, sh=1, sw=1, OH=4, OW=4, xw=16, xi=6, xsigned=True,
        w=np.zeros((36, 8), np.int64), ww=16, wi=6, wsigned=True, acc_w=18, acc_i=8, acc_signed=True,
        acc_q=Q[fx.QMode.RND], acc_o=O[fx.OMode.SAT], acc_n=0, bias_acc=np.zeros(8, np.int64), res_w=16, res_i=6,
        res_signed=True, res_q=0, res_o=0, res_n=0,
    )
    a.update(over)
    return a


def _bad_x():
    x = np.zeros((2, 6, 6, 4), np.int64)
    x[1, 2, 3, 1] = 1 << 15
    return x


@pytest.mark.parametrize(
    "over,match",
    [
        (dict(x=np.zeros((2, 6, 24), np.int64)), r"conv_accum: x must be \(S, H, W, C\)"),
        (dict(w=np.zeros(36, np.int64)), r"conv_accum: w must be \(kh\*kw\*C, N\)"),
        (dict(x=np.zeros((2, 6, 6, 0), np.int64)), r"conv_accum: x is \(2, 6, 6, 0\): H, W and C must be >= 1"),
        (dict(kh=0), "conv_accum: kernel kh, kw = 0, 3 must be >= 1"),
        (dict(sw=0), "conv_accum: strides sh, sw = 1, 0 must be >= 1"),
        (dict(kh=7, w=np.zeros((84, 8), np.int64)), "conv_accum: kernel 7x3 does not fit the padded input 6x6"),
        (dict(OH=5), r"conv_accum: OH, OW = 5, 4 but .* gives OH = \(Hp - kh\) // sh \+ 1 = 4"),
        (dict(sh=2), r"conv_accum: OH, OW = 4, 4 but .* OH = \(Hp - kh\) // sh \+ 1 = 2"),
        (dict(w=np.zeros((35, 8), np.int64)), r"conv_accum: w is \(35, 8\) but the window length kh\*kw\*C = 3\*3\*4 = 36"),
        (dict(acc_q=Q[fx.QMode.STOCH]), "conv_accum: STOCH"),
        (dict(res_w=0), "conv_accum: result format"),
        (dict(xw=64, ww=64), r"conv_accum: product width xw \+ ww = 64 \+ 64 exceeds 126"),
        (dict(bias_acc=np.zeros(3, np.int64)), r"conv_accum: bias_acc must have shape \(N,\) = \(8,\)"),
        (dict(w=np.full((36, 8), -(1 << 15) - 1, np.int64)), r"conv_accum: w\[0, 0\] = -32769 is outside"),
        (dict(x=_bad_x()), r"conv_accum: x\[1, 2, 3, 1\] = 32768 is outside the raw range \[-32768, 32767\]"),
    ],
)
def test_conv_validation(over, match):
    with pytest.raises(ValueError, match=match):
        _core.conv_accum(**_conv_args(**over))


def test_conv_accepts_noncontiguous_and_bias_none():
    rng = np.random.default_rng(9)
    x = rng_raws(rng, 16, True, (3, 6, 12, 4))[:, :, ::2]  # a strided view: converted to C order
    w = rng_raws(rng, 16, True, (36, 8))
    a = _conv_args(x=x, w=w, bias_acc=None)
    got = _core.conv_accum(**a)
    want = _core.conv_accum(**dict(a, x=np.ascontiguousarray(x), bias_acc=np.zeros(8, np.int64)))
    assert np.array_equal(got, want)


def test_sat_bias_at_the_limit_is_clamped():
    """Regression (found by hypothesis in CI): a bias one below the top of a 56-bit saturating
    accumulator plus one product: the double bound bias + sum rounded back to the limit, the
    kernel skipped the clamp and the sum overflowed (the result cast then kept the wrong bit)."""
    x = np.array([[1]], np.int64)
    w = np.array([[1]], np.int64)
    acc = (56, 54, True, Q[fx.QMode.TRN], O[fx.OMode.SAT], 0)
    res = (1, 42, False, Q[fx.QMode.TRN], O[fx.OMode.WRAP], 0)
    for b in (2**55 - 1, 2**55 - 2, -(2**55), -(2**55) + 1):
        bias = np.array([b], np.int64)
        check(x, (1, 0, False), w, (1, 0, False), acc, bias, res)
        check(-x, (2, 1, True), w, (1, 0, False), acc, bias, res)
