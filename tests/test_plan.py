"""The kernel planners of ``fixedpoint._plan``: ``plan_matmul`` (exact GEMM kernels) and
``plan_accum`` (accumulator matmul kernels).

- Soundness over a grid of bounds and formats: every choice satisfies its kernel's condition,
  checked with arithmetic written here (float64 only when every partial sum is an integer of
  at most 2**53, int16 only when the operands fit int16 and a pair of products fits int32,
  64-bit kernels only when the result fits 64 bits or is wanted modulo 2**64, ...).
- Every chosen kernel, run on operands at the grid's bounds, gives the exact product
  (Python-int matmul) or, for accumulators, the reference model's in-order accumulation.
- ``plan_accum`` names the kernel ``fx.matmul(accum=)``, ``fx.linear``,
  ``nn.dense.dense_accum`` and ``DenseOp`` actually call (spied on).
"""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _backend, _core, _matmul, _plan, _reference, _storage
from fixedpoint._plan import AccumKernel as A
from fixedpoint._plan import MatmulKernel as M

from _ints import obj, pyints

BOUNDS = [0, 1, 3, 127, 128, 255, 1 << 12, 8191, 11585, 32767, 32768, 46341, 1 << 20, (1 << 26) + 1, (1 << 31) - 1,
          1 << 31, (1 << 40) + 5, 1 << 53, (1 << 62) + 1, (1 << 63) - 1]
KS = [0, 1, 2, 3, 16, 1000, 1 << 20, (1 << 40) + 1]
RESULT_WS = [None, 16, 64, 65, 100, 126, 127, 128, 300]


def _matmul_grid():
    for amax, bmax, k, rw, u64 in itertools.product(BOUNDS, BOUNDS, KS, RESULT_WS, (False, True)):
        fits16s = (False, True) if max(amax, bmax) <= 32768 else (False,)
        for fits16 in fits16s:
            yield amax, bmax, k, rw, u64, fits16


def _sound_matmul(kernel, amax, bmax, k, rw, u64, fits16, max_limbs):
    """The condition under which ``kernel`` gives the exact GEMM (or its residue modulo 2**64
    when rw is None), in arithmetic written here."""
    bound = k * amax * bmax
    fits64 = rw is None or rw <= 64 or bound < 1 << 63
    if kernel is M.I16:
        in16 = (fits16 and max(amax, bmax) <= 32768) or max(amax, bmax) <= 32767
        return in16 and 2 * amax * bmax <= (1 << 31) - 1 and fits64  # a pair of products fits int32
    if kernel is M.F64:
        return bound <= 1 << 53 and not u64
    if kernel is M.F64_SPLIT:
        split = _plan.f64_split_plan(amax, bmax, k, max_limbs)
        if split is None or u64 or not fits64:
            return False
        split_a, L, n = split
        mine, other = (amax, bmax) if split_a else (bmax, amax)
        g = max(k - 1, 0).bit_length()
        return L + other.bit_length() + g <= 53 and n * L >= mine.bit_length() and n <= max_limbs
    if kernel is M.I64:
        return fits64
    if kernel is M.I128:
        return rw is not None and bound < 1 << 126
    return rw is not None  # WIDE: any width, for a result format


def test_crossover_table_covers_every_isa():
    assert set(_plan.CROSSOVERS) == set(_core.known_isas())
    for isa, row in _plan.CROSSOVERS.items():
        assert row.i16_min_pairs is None or row.i16_min_pairs >= 1, isa
        assert row.f64_split_max_limbs >= 1 and row.measured, isa


def _i16_pairs(amax, bmax):
    """Pairs of products an int32 holds before a widening: 2 * amax * bmax per pair."""
    return ((1 << 31) - 1) // (2 * amax * bmax) if amax and bmax else 1 << 62


def _bound_with_pairs(p):
    """The largest m <= 32767 with _i16_pairs(m, m) >= p (so m + 1 gives fewer pairs)."""
    m = min(32767, math.isqrt(((1 << 31) - 1) // (2 * p)))
    while m < 32767 and _i16_pairs(m + 1, m + 1) >= p:
        m += 1
    while _i16_pairs(m, m) < p:
        m -= 1
    return m


@pytest.mark.parametrize("isa_name", sorted(_plan.CROSSOVERS))
def test_plan_matmul_follows_the_crossovers(isa_name):
    """The int16 / float64 and float64-split / int64 choices switch where the isa's row says."""
    row = _plan.crossovers(isa_name)

    def plan(amax, bmax, k, rw=None):
        return _plan.plan_matmul(amax, bmax, k, rw, isa=isa_name)

    # int16 against float64 BLAS (exact: K * amax * bmax <= 2**53) at both sides of the row's pair count
    for p in range(1, 130):
        m = _bound_with_pairs(p)
        assert _backend.gemm_i16_pairs(m, m) == _i16_pairs(m, m) >= p > _i16_pairs(m + 1, m + 1)
        for amax, bmax in ((m, m), (m + 1, m + 1)):
            want = M.I16 if row.i16_min_pairs is not None and _i16_pairs(amax, bmax) >= row.i16_min_pairs else M.F64
            assert plan(amax, bmax, 1000) is want, (p, amax, want)
    # where BLAS is not exact: int16 (fewer pairs than the row's) against the limb split, whose
    # planner runs here with a limit of 64 limbs so that the row's limit decides
    for amax, bmax, k in ((32767, 32767, 1 << 24), (181, 181, 1 << 40), (255, 4000, 1 << 34),
                          (32767, 1, 1 << 40), (32767, 32767, 1 << 40)):
        assert k * amax * bmax > 1 << 53 and _i16_pairs(amax, bmax) >= 1
        split = _plan.f64_split_plan(amax, bmax, k, max_limbs=64)
        split_ok = split is not None and split[2] <= row.f64_split_max_limbs
        if row.i16_min_pairs is not None and _i16_pairs(amax, bmax) >= row.i16_min_pairs:
            want = M.I16
        elif row.i16_min_pairs is None and split_ok:
            want = M.F64_SPLIT
        else:
            want = M.I16
        assert plan(amax, bmax, k) is want, (amax, bmax, k, split)
    # the float64 limb split against the blocked int64 kernel, at 1 .. max + 1 limbs (the
    # product modulo 2**64): a 63-bit operand times the widest one that keeps L-bit limbs exact
    k = 512
    for limbs in range(2, row.f64_split_max_limbs + 2):
        L = -(-63 // limbs)
        bmax = (1 << (53 - 9 - L)) - 1  # 53 - log2(K) - L bits
        assert _plan.f64_split_plan((1 << 63) - 1, bmax, k, max_limbs=64)[1:] == (L, limbs)
        want = M.F64_SPLIT if limbs <= row.f64_split_max_limbs else M.I64
        assert plan((1 << 63) - 1, bmax, k) is want, (limbs, want)


def test_limits_agree_with_the_engine():
    from fixedpoint.array import NATIVE_MAX_W
    from fixedpoint.nn._raw import RAW_MAX_W

    assert (_plan.NATIVE_MAX_W, _plan.FUSED_MAX_W, _plan.PRODUCT_MAX_W) == (NATIVE_MAX_W, RAW_MAX_W, 126)
    assert (NATIVE_MAX_W, RAW_MAX_W) == (64, 63)
    # the int64 engine's limit is assigned once, from NATIVE_MAX_W in _storage, and imported
    # where it is used: no module assigns the number 63 to a name
    where = []
    for path in Path(fx.__file__).parent.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == 63:
                where.append((path.name, [getattr(t, "id", "?") for t in node.targets]))
    assert where == [], where
    assert _storage.RAW_MAX_W == RAW_MAX_W


@pytest.mark.parametrize("isa_name", sorted(_plan.CROSSOVERS))
def test_plan_matmul_is_sound_on_a_grid(isa_name):
    row = _plan.crossovers(isa_name)
    seen = set()
    for amax, bmax, k, rw, u64, fits16 in _matmul_grid():
        got = _plan.plan_matmul(amax, bmax, k, rw, unsigned64=u64, fits16=fits16, isa=isa_name)
        assert isinstance(got, M)
        seen.add(got)
        assert _sound_matmul(got, amax, bmax, k, rw, u64, fits16, row.f64_split_max_limbs), \
            (got, amax, bmax, k, rw, u64, fits16)
        if rw is None:
            assert got not in (M.I128, M.WIDE)
    assert seen == set(M)


def test_plan_matmul_limb_operands_and_errors():
    assert _plan.plan_matmul(None, None, 5, 200) is M.WIDE
    with pytest.raises(ValueError, match=r"plan_matmul: limb-stored operands .* need a result width"):
        _plan.plan_matmul(None, None, 5, None)
    with pytest.raises(ValueError, match=r"plan_matmul: amax, bmax and k must be >= 0, got amax=-1, bmax=2, k=3"):
        _plan.plan_matmul(-1, 2, 3, 64)


def _ops_matrix(rng, bound, shape, signed=True):
    """int64 raws with |v| <= bound, both edges present."""
    lo = -bound if signed else 0
    r = rng.integers(lo, bound, shape, endpoint=True, dtype=np.int64)
    flat = r.reshape(-1)
    flat[: min(2, flat.size)] = [bound, lo][: min(2, flat.size)]
    return r


@pytest.mark.parametrize("kernel_bounds", [
    (M.I16, 3, 5), (M.I16, 32767, 1), (M.I16, 181, 181), (M.F64, 1 << 20, 1 << 20),
    (M.F64, 40000, 40000), (M.F64_SPLIT, (1 << 40) + 5, 1 << 20), (M.I64, (1 << 62) + 1, (1 << 62) + 1),
    (M.F64_SPLIT, (1 << 31) - 1, (1 << 31) - 1), (M.I64, 1 << 50, (1 << 50) + 3),
])
def test_each_matmul_kernel_is_exact_where_chosen(kernel_bounds):
    """Run the kernel the planner names for these bounds; compare with a Python-int matmul
    (modulo 2**64 for the 64-bit kernels, which the planner chose with result_w None)."""
    kernel, amax, bmax = kernel_bounds
    rng = np.random.default_rng(amax ^ bmax)
    row = _plan.crossovers()
    for k in (1, 7, 33):
        want = kernel
        if kernel is M.I16 and (row.i16_min_pairs is None or _i16_pairs(amax, bmax) < row.i16_min_pairs):
            want = M.F64  # this ISA's int16 kernel loses to (exact) float64 BLAS here; run it all the same
        got_kernel = _plan.plan_matmul(amax, bmax, k, None)
        assert got_kernel is want, (got_kernel, amax, bmax, k)
        x = _ops_matrix(rng, amax, (4, k))
        y = _ops_matrix(rng, bmax, (k, 5))
        got = _matmul._gemm_2d(x, y, kernel, amax, bmax)
        want = (obj(x.reshape(-1), x.shape) @ obj(y.reshape(-1), y.shape))
        want = np.vectorize(lambda v: (v + (1 << 63)) % (1 << 64) - (1 << 63), otypes=[object])(want)
        np.testing.assert_array_equal(got.astype(object), want)


def test_i128_and_wide_matmul_are_exact_where_chosen():
    rng = np.random.default_rng(5)
    for bound in ((1 << 60) + 1, (1 << 61) + 7):  # 6 * bound**2 < 2**126
        x, y = _ops_matrix(rng, bound, (3, 6)), _ops_matrix(rng, bound, (6, 2))
        assert _plan.plan_matmul(bound, bound, 6, 127) is M.I128
        lo, hi = _core.gemm_i128(x, False, y, False)
        got = obj([int(h) * (1 << 64) + int(np.uint64(v & 0xFFFFFFFFFFFFFFFF)) for v, h in
                   zip(lo.reshape(-1).tolist(), hi.reshape(-1).tolist())], lo.shape)
        np.testing.assert_array_equal(got, obj(x.reshape(-1), x.shape) @ obj(y.reshape(-1), y.shape))
    assert _plan.plan_matmul((1 << 62) + 1, (1 << 62) + 1, 6, 127) is M.WIDE  # 6 * 2**124 > 2**126


# ---- plan_accum -----------------------------------------------------------------------------
def F(w, i, s=True, q="TRN", o="WRAP", n=0):
    return fx.Fixed(w, i, s, q, o, n)


OPERANDS = [F(8, 3), F(16, 6, False), F(33, 10), F(63, 20), F(64, 30), F(64, 40, False), F(70, 20), F(100, 50)]
ACCUMS = [F(20, 8), F(20, 8, True, "RND", "SAT"), F(32, 12, True, "STOCH"), F(40, 30), F(63, 10, True, "RND"),
          F(64, 10), F(64, 60, True, "TRN", "SAT"), F(80, 40, True, "RND", "SAT"), F(80, 10), F(130, 40),
          F(24, 8, True, "TRN", "WRAP", 2), F(64, 2, True, "STOCH", "WRAP")]


def _accum_grid():
    return itertools.product(OPERANDS, OPERANDS[:6], ACCUMS)


def _sound_accum(kernel, fa, fb, acc, casts=()):
    fmts = (fa, fb, acc) + tuple(casts)
    if kernel is A.FUSED:
        return all(f.w <= 63 for f in fmts) and all(f.q.value != "STOCH" for f in (acc,) + tuple(casts))
    if kernel is A.WRAP_GEMM:
        return (acc.o.value == "WRAP" and acc.n == 0 and max(fa.w, fb.w, acc.w) <= 64
                and fa.f + fb.f <= acc.f)  # every product's cast is an exact shift, reduced mod 2**w
    if kernel is A.SEQUENTIAL:
        return max(fa.w, fb.w, acc.w) <= 64 and fa.w + fb.w <= 126
    return kernel is A.WIDE


@pytest.mark.parametrize("kernels", [_plan.ALL_ACCUM_KERNELS, {A.WRAP_GEMM, A.SEQUENTIAL, A.WIDE},
                                     {A.SEQUENTIAL, A.WIDE}, {A.FUSED, A.WIDE}])
def test_plan_accum_is_sound_and_prefers_the_fastest(kernels):
    order = [A.FUSED, A.WRAP_GEMM, A.SEQUENTIAL, A.WIDE]
    for fa, fb, acc in _accum_grid():
        for casts in ((), (F(16, 6),), (F(16, 6, True, "STOCH"),), (F(64, 6),)):
            got = _plan.plan_accum(fa, fb, acc, kernels=kernels, fused_casts=casts)
            assert got in kernels and _sound_accum(got, fa, fb, acc, casts), (got, fa, fb, acc, casts)
            # no faster kernel the caller offers was sound
            for faster in order[:order.index(got)]:
                assert not (faster in kernels and _sound_accum(faster, fa, fb, acc, casts)), (faster, got)


def test_plan_accum_exact_proof_and_errors():
    fa, fb, acc = F(8, 3), F(8, 3), F(20, 8)
    for k in (A.EXACT_F64, A.EXACT_I64, A.EXACT_GEMM):
        assert _plan.plan_accum(fa, fb, acc, exact=k) is k
    with pytest.raises(ValueError, match=r"plan_accum: exact must be one of EXACT_F64, EXACT_GEMM, EXACT_I64 or "
                                         r"None, got <AccumKernel.FUSED: 'fused'>"):
        _plan.plan_accum(fa, fb, acc, exact=A.FUSED)
    with pytest.raises(ValueError, match=r"dense: no accumulator kernel of FUSED, SEQUENTIAL takes inputs "
                                         r"ap_fixed<100,50.*>, weights ap_fixed<8,3.*> and accumulator ap_fixed<20,8"):
        _plan.plan_accum(F(100, 50), fb, acc, kernels={A.FUSED, A.SEQUENTIAL}, api="dense")


class _Spy:
    """Records which accumulator kernel the production code calls (then calls it)."""

    def __init__(self, monkeypatch):
        self.calls = []
        for mod, name, kernel in ((_core, "dense_accum", A.FUSED), (_core, "matmul_accum", A.SEQUENTIAL),
                                  (_matmul, "_accum_wrap_gemm", A.WRAP_GEMM), (_core, "wide_matmul_accum", A.WIDE)):
            monkeypatch.setattr(mod, name, self._wrap(getattr(mod, name), kernel))

    def _wrap(self, fn, kernel):
        def spy(*a, **kw):
            self.calls.append(kernel)
            return fn(*a, **kw)
        return spy

    def take(self):
        calls, self.calls = self.calls, []
        assert len(set(calls)) == 1, calls
        return calls[0]


def _operands(rng, fa, fb, m=3, k=4, n=2):
    def raws(fmt, shape):
        vals = [fmt.raw_min, fmt.raw_max, 0] + [int(v) for v in rng.integers(-5, 6, int(np.prod(shape)))]
        vals = [max(fmt.raw_min, min(fmt.raw_max, v)) for v in vals[:int(np.prod(shape))]]
        return fx.from_raw(obj(vals, shape), fmt)
    return raws(fa, (m, k)), raws(fb, (k, n))


def test_plan_accum_equals_what_matmul_and_linear_run_today(monkeypatch):
    """fx.matmul(accum=) and fx.linear call the kernel plan_accum names (spied on), and the
    result equals the reference model's in-order accumulation."""
    spy = _Spy(monkeypatch)
    rng = np.random.default_rng(3)
    for fa, fb, acc in _accum_grid():
        x, w = _operands(rng, fa, fb)
        got = fx.matmul(x, w, accum=acc, seed=9)
        assert spy.take() is _plan.plan_accum(fa, fb, acc), (fa, fb, acc)
        seed = _storage._seed_for(acc, 9, "t")
        want = _reference.matmul_accum(pyints(x), fa, pyints(w), fb, acc, seed, 0)
        np.testing.assert_array_equal(pyints(got), obj([v for r in want for v in r], got.shape))
        wt = fx.from_raw(np.ascontiguousarray(pyints(w).T), fb)
        got = fx.linear(x, wt, accum=acc, seed=9)
        assert spy.take() is _plan.plan_accum(fa, fb, acc)
        np.testing.assert_array_equal(pyints(got), obj([v for r in want for v in r], got.shape))


def test_plan_accum_equals_what_dense_runs_today(monkeypatch):
    """nn.dense.dense_accum and DenseOp call the kernel plan_accum names; results equal the
    reference model's accumulation (bias first)."""
    from fixedpoint.nn.dense import DenseOp, dense_accum

    rng = np.random.default_rng(4)
    for fa, fb, acc in _accum_grid():
        if acc.q.value == "STOCH":
            continue  # the engine's layers have no STOCH seed
        x, w = _operands(rng, fa, fb)
        b = fx.from_raw(obj([1, -1]), F(8, 4))
        bacc = b.cast(acc)
        want = _reference.matmul_accum(pyints(x), fa, pyints(w), fb, acc, 0, 0, list(pyints(bacc)))
        want = obj([v for r in want for v in r], (3, 2))
        spy = _Spy(monkeypatch)
        got = dense_accum(x, w, b, acc)
        np.testing.assert_array_equal(pyints(got), want)
        if spy.calls:  # the exact product otherwise (no accumulator kernel)
            assert spy.take() is _plan.plan_accum(fa, fb, acc, kernels={A.SEQUENTIAL, A.WIDE})
        if max(fa.w, fb.w, acc.w) <= 63:  # DenseOp's int64 engine
            op = DenseOp(np.asarray(w.raw, dtype=np.int64), fb, np.asarray(b.raw), b.fmt, acc, acc)
            xr = np.asarray(x.raw, dtype=np.int64)
            kernel = op.plan(xr, fa)
            out, fmt = op(xr, fa)
            assert fmt == acc
            np.testing.assert_array_equal(pyints(fx.from_raw(out, acc)), want)
            if kernel in (A.FUSED, A.SEQUENTIAL):
                assert spy.take() is kernel
                assert (kernel is A.FUSED) == _plan.accum_sound(A.FUSED, fa, fb, acc, (acc,))
            else:
                assert kernel in (A.EXACT_F64, A.EXACT_I64) and not spy.calls
