"""arith: exact add, mul, sum and matmul of ap_fixed<16,6> arrays (1,000,000 elements; 256x256).

Peers, side by side (ratios are against NumPy int64 arithmetic on the stored integers):

- ``ours``: ``a + b``, ``a * b``, ``a.sum()``, ``a @ b`` on FixedArrays. The result must be in
  the natural ap_fixed format (``ap_fixed<17,7>``, ``<32,12>``, ``<36,26>``, ``<40,20>``).
- ``numpy_int64`` (baseline): the same operation on the int64 stored integers (``np.matmul``
  on int64 does not use BLAS).
- ``numpy_float64``: the same operation on the float64 values. Every intermediate is an
  integer multiple of 2**-10 (add, sum) or 2**-20 (mul, matmul), at most 2**38 such units in
  magnitude, so float64 is exact here in any summation order (BLAS included).
- ``apytypes``: ``APyFixedArray`` operators and ``.sum()``; the operands come from
  ``APyFixedArray.from_float(values, int_bits=6, frac_bits=10)``, which is exact for values on
  the 2**-10 grid.
- ``fxpmath``: ``Fxp(values, signed=True, n_word=16, n_frac=10)`` operators and ``.sum()``;
  fxpmath has no ``@``, so matmul uses ``fxpmath.functions.dot``.

The inputs are ``floor(x * 2**10)`` of normal(0, 4) float64 draws (what ``fx.array(x,
fx.Fixed(16, 6))`` stores: TRN, and every draw is inside the range). Every peer's operands are
checked against these stored integers in the untimed set-up. Every output is checked exactly
against an independent NumPy int64 computation on the stored integers: integer outputs are
aligned to the expected binary point by exact shifts, float outputs are scaled by a power of
two and must be integers. A probe (untimed) repeats the check on range-edge operands: every
pair of edge values, uniform draws over the whole range, and all-minimum / all-maximum inputs
whose sums and products reach the edges of the grown result formats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.model import Case, Impl, WrongResult, import_fixedpoint

SUITE = "arith"

W, I = 16, 6
F = W - I
RAW_MIN, RAW_MAX = -(2 ** (W - 1)), 2 ** (W - 1) - 1
N = 1_000_000  # elements of the add/mul/sum operands
M = 256  # matmul: (M x M) @ (M x M)
SEED_A = 20240611
SEED_B = 20240612
SEED_MAT_A = 20240613
SEED_MAT_B = 20240614
SEED_PROBE = 20240615

OPS = ("add", "mul", "sum", "matmul")
BASELINE = "numpy_int64"

# Goals (reported, never asserted).
ELEMENTWISE_GOAL = 1.5  # add/mul: ours / numpy_int64 <= 1.5 at the lowest thread count run


def growth(k: int) -> int:
    """ceil(log2 k): the integer bits a sum of k terms grows by."""
    return (k - 1).bit_length() if k > 1 else 0


def result_format(op: str, k: int = 0) -> tuple[int, int, bool]:
    """The natural ap_fixed result (w, i, signed) of op on ap_fixed<16,6> operands; k is the
    number of summed terms (sum: elements; matmul: the contraction length)."""
    if op == "add":
        return W + 1, I + 1, True
    if op == "mul":
        return 2 * W, 2 * I, True
    if op == "sum":
        return W + growth(k), I + growth(k), True
    if op == "matmul":
        return 2 * W + growth(k), 2 * I + growth(k), True
    raise ValueError(f"unknown op {op!r}")


def fmt_name(fmt: tuple[int, int, bool]) -> str:
    w, i, s = fmt
    return f"ap_{'' if s else 'u'}fixed<{w},{i}>"


# --------------------------------------------------------------------------------------------
# Inputs and exact references


def quantize_trn(x: np.ndarray) -> np.ndarray:
    """Stored integers of ap_fixed<16,6> (TRN) for float64 x inside the range: floor(x * 2**10),
    exact (scaling by a power of two and floor are exact). Raises if any value is outside."""
    r = np.floor(x * 2.0**F)
    if r.size and (r.min() < RAW_MIN or r.max() > RAW_MAX):
        raise ValueError("quantize_trn: input outside the ap_fixed<16,6> range")
    return r.astype(np.int64)


def make_raws(shape: Any, seed: int) -> np.ndarray:
    """Stored integers of normal(0, 4) draws quantized into ap_fixed<16,6> (TRN)."""
    return quantize_trn(np.random.default_rng(seed).normal(0.0, 4.0, shape))


@dataclass
class Operands:
    """One set of inputs, as ap_fixed<16,6> stored integers (int64), with the exact result.

    ``x`` and ``y`` are the float64 values (exact: raw * 2**-10); ``rb``/``y`` are None for sum.
    ``want`` holds the expected stored integers of the result at ``want_frac`` fraction bits.
    """

    op: str
    ra: np.ndarray
    rb: Any  # np.ndarray, or None for sum
    label: str = "benchmark inputs"

    def __post_init__(self) -> None:
        self.x: Any = self.ra * 2.0**-F
        self.y: Any = None if self.rb is None else self.rb * 2.0**-F
        self.fmt = result_format(self.op, self.terms)
        self.want_frac = self.fmt[0] - self.fmt[1]
        self.want = expected(self.op, self.ra, self.rb)

    @property
    def terms(self) -> int:
        if self.op == "sum":
            return self.ra.size
        if self.op == "matmul":
            return self.ra.shape[-1]
        return 1

    def describe(self, flat_index: int) -> str:
        """The inputs behind element flat_index of the result (for failure messages)."""
        if self.op in ("add", "mul"):
            return f"a={self.x.ravel()[flat_index]!r}, b={self.y.ravel()[flat_index]!r}"
        if self.op == "matmul":
            i, j = np.unravel_index(flat_index, (self.ra.shape[0], self.rb.shape[1]))
            return f"row {int(i)} of a times column {int(j)} of b"
        return f"sum of {self.ra.size:,} elements"


def expected(op: str, ra: np.ndarray, rb: Any) -> np.ndarray:
    """Exact stored integers of the result, by NumPy int64 on the stored integers. Exact here:
    |add| < 2**17, |mul| <= 2**30, |sum| < 2**35 for 10**6 terms, |matmul| <= 2**38."""
    if op == "add":
        return ra.astype(np.int64) + rb
    if op == "mul":
        return ra.astype(np.int64) * rb
    if op == "sum":
        return np.asarray(int(ra.astype(np.int64).sum()), dtype=np.int64)
    if op == "matmul":
        return np.matmul(ra.astype(np.int64), rb.astype(np.int64))
    raise ValueError(f"unknown op {op!r}")


def probe_operands(op: str, n: int = N, m: int = M) -> list[Operands]:
    """Range-edge inputs, verified untimed: every pair of edge values plus uniform draws over
    the full range (add, mul); all-minimum and all-maximum inputs of the benchmark sizes (n
    elements, m x m matrices), whose sums reach the edge of the grown format (sum, matmul);
    full-range uniform draws."""
    rng = np.random.default_rng(SEED_PROBE)
    edges = np.array([RAW_MIN, RAW_MIN + 1, -(2**F) - 1, -(2**F), -1, 0, 1, 2**F, 2**F + 1, RAW_MAX - 1, RAW_MAX])
    if op in ("add", "mul"):
        pa, pb = np.meshgrid(edges, edges, indexing="ij")
        ua = rng.integers(RAW_MIN, RAW_MAX, 4096, endpoint=True)
        ub = rng.integers(RAW_MIN, RAW_MAX, 4096, endpoint=True)
        return [Operands(op, np.concatenate([pa.ravel(), ua]), np.concatenate([pb.ravel(), ub]), "edge inputs")]
    if op == "sum":
        return [
            Operands(op, np.full(n, RAW_MIN, dtype=np.int64), None, "all-minimum inputs"),
            Operands(op, np.full(n, RAW_MAX, dtype=np.int64), None, "all-maximum inputs"),
            Operands(op, rng.integers(RAW_MIN, RAW_MAX, n, endpoint=True), None, "full-range inputs"),
        ]
    if op == "matmul":
        lo = np.full((m, m), RAW_MIN, dtype=np.int64)
        hi = np.full((m, m), RAW_MAX, dtype=np.int64)
        full = rng.integers(RAW_MIN, RAW_MAX, (2, m, m), endpoint=True)
        return [
            Operands(op, lo, lo, "all-minimum matrices"),
            Operands(op, lo, hi, "all-minimum @ all-maximum matrices"),
            Operands(op, full[0], full[1], "full-range matrices"),
        ]
    raise ValueError(f"unknown op {op!r}")


def verify(ints: np.ndarray, frac: int, ops: Operands, what: str) -> None:
    """Exact comparison of a peer's result (stored integers ``ints`` at ``frac`` fraction
    bits) with the expected result; both are aligned to the finer binary point by exact
    shifts (Python ints when int64 could overflow)."""
    got = np.asarray(ints)
    want = ops.want
    if got.shape != want.shape:
        raise WrongResult(f"{what}: shape {got.shape}, expected {want.shape}")
    d = frac - ops.want_frac
    if d:
        got, want = got.astype(object), want.astype(object)
        if d > 0:
            want = want * (1 << d)
        else:
            got = got * (1 << -d)
    bad = np.asarray(got != want)
    if bad.any():
        idx = np.flatnonzero(bad.ravel())
        i = int(idx[0])
        g, e = got.ravel()[i], want.ravel()[i]
        scale = f" (stored integers at {max(frac, ops.want_frac)} fraction bits)" if d else ""
        raise WrongResult(
            f"{what}: {idx.size} of {want.size} differ; first at index {i} ({ops.describe(i)}): "
            f"got {int(g)}, expected {int(e)}{scale}"
        )


def float_to_ints(v: Any, frac: int, what: str) -> np.ndarray:
    """Exact stored integers of float64 results at ``frac`` fraction bits: v * 2**frac (exact)
    must be an integer below 2**53 in magnitude."""
    t = np.asarray(v, dtype=np.float64) * 2.0**frac
    bad = ~(np.isfinite(t) & (np.floor(t) == t) & (np.abs(t) < 2.0**53))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise WrongResult(
            f"{what}: {int(bad.sum())} float64 results are not multiples of 2**-{frac}; first at "
            f"index {i}: {t.ravel()[i] * 2.0**-frac!r}"
        )
    return t.astype(np.int64)


def signed_from_bits(bits: Any, w: int) -> np.ndarray:
    """Two's-complement w-bit patterns (unsigned ints or array) -> signed stored integers."""
    if isinstance(bits, int):
        return np.asarray(bits - (1 << w) if bits >> (w - 1) else bits, dtype=object)
    b = np.asarray(bits)
    if w <= 63:
        b = b.astype(np.int64)
        return np.where(b >= 1 << (w - 1), b - (1 << w), b)
    obj = np.array([int(v) for v in b.ravel()], dtype=object).reshape(b.shape)
    return np.where(obj >= 1 << (w - 1), obj - (1 << w), obj)


# --------------------------------------------------------------------------------------------
# Peers. Each returns a _Peer for the requested op, or raises ImportError (peer missing).


@dataclass
class _Peer:
    bind: Callable[[Operands], Callable[[], Any]]  # untimed set-up (checked) -> timed call
    to_ints: Callable[[Any, Operands, str], tuple[np.ndarray, int]]  # output -> (ints, frac bits)
    note: str = ""
    set_threads: Callable[[int], None] | None = None


def _call(op: str, a: Any, b: Any) -> Callable[[], Any]:
    if op == "add":
        return lambda: a + b
    if op == "mul":
        return lambda: a * b
    if op == "sum":
        return lambda: a.sum()
    if op == "matmul":
        return lambda: a @ b
    raise ValueError(f"unknown op {op!r}")


def _require_equal(got: np.ndarray, want: np.ndarray, peer: str, label: str) -> None:
    if got.shape != want.shape or not np.array_equal(got, want):
        raise RuntimeError(f"{peer}: the operands built from the {label} do not hold the intended stored integers")


def peer_ours(op: str) -> _Peer:
    fx = import_fixedpoint()
    fmt = fx.Fixed(W, I)

    def operand(raw: np.ndarray, vals: np.ndarray, label: str) -> Any:
        a = fx.array(vals, fmt)  # on-grid values: the stored integers are exactly raw
        _require_equal(np.asarray(a.raw), raw, "fx.array", label)
        return a

    def bind(ops: Operands) -> Callable[[], Any]:
        a = operand(ops.ra, ops.x, ops.label)
        b = None if ops.rb is None else operand(ops.rb, ops.y, ops.label)
        return _call(op, a, b)

    def to_ints(out: Any, ops: Operands, what: str) -> tuple[np.ndarray, int]:
        if not isinstance(out, fx.FixedArray):
            raise WrongResult(f"{what}: got a {type(out).__name__}, expected a FixedArray")
        got = (out.fmt.w, out.fmt.i, out.fmt.signed)
        if got != ops.fmt:
            raise WrongResult(f"{what}: result format {out.fmt}, expected the natural {fmt_name(ops.fmt)}")
        raw = np.asarray(out.raw)
        if raw.dtype != np.int64:
            raise WrongResult(f"{what}: raw dtype {raw.dtype}, expected int64 for {fmt_name(ops.fmt)}")
        return raw, out.fmt.w - out.fmt.i

    return _Peer(bind, to_ints)


def peer_numpy_int64(op: str) -> _Peer:
    def bind(ops: Operands) -> Callable[[], Any]:
        return _call(op, ops.ra.astype(np.int64), None if ops.rb is None else ops.rb.astype(np.int64))

    def to_ints(out: Any, ops: Operands, what: str) -> tuple[np.ndarray, int]:
        out = np.asarray(out)
        if out.dtype != np.int64:
            raise WrongResult(f"{what}: dtype {out.dtype}, expected int64")
        return out, ops.want_frac  # stored integers of the natural format, like the expectation

    note = "np.matmul on int64 (no BLAS)" if op == "matmul" else ""
    return _Peer(bind, to_ints, note=note)


def peer_numpy_float64(op: str) -> _Peer:
    def bind(ops: Operands) -> Callable[[], Any]:
        return _call(op, ops.x, ops.y)

    def to_ints(out: Any, ops: Operands, what: str) -> tuple[np.ndarray, int]:
        return float_to_ints(out, ops.want_frac, what), ops.want_frac

    note = "float64 BLAS (exact on these inputs)" if op == "matmul" else "exact on these inputs"
    return _Peer(bind, to_ints, note=note)


def peer_apytypes(op: str) -> _Peer:
    import apytypes as apy  # noqa: PLC0415

    def operand(raw: np.ndarray, vals: np.ndarray, label: str) -> Any:
        # from_float rounds RND_INF and wraps, which is exact for values on the 2**-10 grid. (Raw
        # bit patterns in a NumPy uint array are not sign-extended by apytypes 0.5.1:
        # APyFixedArray(np.array([60198], np.uint64), int_bits=6, frac_bits=10) reads +58.79,
        # the list [60198] reads -5.21. The check below would catch either way.)
        a = apy.APyFixedArray.from_float(vals, int_bits=I, frac_bits=F)
        _require_equal(signed_from_bits(a.to_bits(numpy=True), W), raw, "apytypes from_float", label)
        return a

    def bind(ops: Operands) -> Callable[[], Any]:
        a = operand(ops.ra, ops.x, ops.label)
        b = None if ops.rb is None else operand(ops.rb, ops.y, ops.label)
        return _call(op, a, b)

    def to_ints(out: Any, ops: Operands, what: str) -> tuple[np.ndarray, int]:
        bits = out.to_bits(numpy=True) if isinstance(out, apy.APyFixedArray) else out.to_bits()
        return signed_from_bits(bits, out.bits), out.frac_bits

    return _Peer(bind, to_ints, note="operands via APyFixedArray.from_float", set_threads=apy.reset_thread_pool)


def peer_fxpmath(op: str) -> _Peer:
    from fxpmath import Fxp  # noqa: PLC0415
    from fxpmath import functions as fxp_functions  # noqa: PLC0415

    def operand(raw: np.ndarray, vals: np.ndarray, label: str) -> Any:
        a = Fxp(vals, signed=True, n_word=W, n_frac=F)
        _require_equal(np.asarray(a.val).astype(np.int64), raw, "fxpmath Fxp", label)
        return a

    def bind(ops: Operands) -> Callable[[], Any]:
        a = operand(ops.ra, ops.x, ops.label)
        b = None if ops.rb is None else operand(ops.rb, ops.y, ops.label)
        if op == "matmul":
            return lambda: fxp_functions.dot(a, b)
        return _call(op, a, b)

    def to_ints(out: Any, ops: Operands, what: str) -> tuple[np.ndarray, int]:
        val = np.asarray(out.val)
        if val.dtype.kind not in "iuO":
            raise WrongResult(f"{what}: Fxp.val has dtype {val.dtype}, expected stored integers")
        return val, int(out.n_frac)

    note = "fxpmath has no @; fxpmath.functions.dot" if op == "matmul" else ""
    return _Peer(bind, to_ints, note=note)


PEERS: dict[str, Callable[[str], _Peer]] = {
    "ours": peer_ours,
    "numpy_int64": peer_numpy_int64,
    "numpy_float64": peer_numpy_float64,
    "apytypes": peer_apytypes,
    "fxpmath": peer_fxpmath,
}


def _make_impl(
    make_peer: Callable[[str], _Peer], op: str, data: Operands, probes: Callable[[], list[Operands]]
) -> Impl:
    peer = make_peer(op)
    run = peer.bind(data)

    def check(out: Any) -> None:
        ints, frac = peer.to_ints(out, data, "result")
        verify(ints, frac, data, "result")

    bound: list[tuple[Operands, Callable[[], Any]]] = []  # probe set-up, done once per peer

    def probe() -> None:
        if not bound:
            bound.extend((ops, peer.bind(ops)) for ops in probes())
        for ops, call in bound:
            ints, frac = peer.to_ints(call(), ops, ops.label)
            verify(ints, frac, ops, ops.label)

    return Impl(run=run, check=check, probe=probe, note=peer.note, set_threads=peer.set_threads)


_CALLS = {"add": "a + b", "mul": "a * b", "sum": "a.sum()", "matmul": "a @ b"}


def cases(quick: bool = False) -> list[Case]:
    """Same inputs for every peer and mode; --quick only shortens the timing, not the data."""
    vec_a, vec_b = make_raws(N, SEED_A), make_raws(N, SEED_B)
    out = []
    for op in OPS:
        if op == "matmul":
            data = Operands(op, make_raws((M, M), SEED_MAT_A), make_raws((M, M), SEED_MAT_B))
            n = M
            what = f"{M}x{M} @ {M}x{M}"
            seeds = f"seeds {SEED_MAT_A}, {SEED_MAT_B}"
        else:
            data = Operands(op, vec_a, None if op == "sum" else vec_b)
            n = N
            what = f"{N:,}"
            seeds = f"seed {SEED_A}" if op == "sum" else f"seeds {SEED_A}, {SEED_B}"
        probes = functools.cache(functools.partial(probe_operands, op))  # built once, on first use
        peers: dict[str, Callable[[], Impl]] = {
            name: functools.partial(_make_impl, make_peer, op, data, probes) for name, make_peer in PEERS.items()
        }
        out.append(
            Case(
                suite=SUITE,
                name=op,
                n=n,
                peers=peers,
                baseline=BASELINE,
                description=f"{_CALLS[op]}: {what} normal(0,4) values in ap_fixed<{W},{I}> ({seeds}) -> "
                f"{fmt_name(data.fmt)}",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Goals


def _threads_label(t: int) -> str:
    return f"{t} thread{'s' * (t > 1)}"


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, reported and never asserted:

    - add, mul: ours / numpy_int64 <= 1.5 at the lowest thread count run;
    - matmul: ours faster than apytypes, both single-threaded (threads == 1).
    """
    if not records:
        return []
    case_names = list(dict.fromkeys(r["case"] for r in records))
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}
    t_low = min(r["threads"] for r in records)
    out = []

    def median(rec: dict[str, Any] | None) -> float | None:
        return rec["median_s"] if rec is not None and rec["status"] == "ok" and rec["median_s"] else None

    for name in case_names:
        if name in ("add", "mul"):
            ours = by.get((name, "ours", t_low))
            ratio = ours["ratio_vs_baseline"] if ours is not None and median(ours) else None
            out.append(
                {
                    "suite": SUITE,
                    "case": name,
                    "threads": t_low,
                    "goal": f"ours <= {ELEMENTWISE_GOAL:g}x numpy_int64 ({_threads_label(t_low)})",
                    "value": "-" if ratio is None else f"{ratio:.3g}x",
                    "met": None if ratio is None else bool(ratio <= ELEMENTWISE_GOAL),
                }
            )
        elif name == "matmul":
            ours, apy = by.get((name, "ours", 1)), by.get((name, "apytypes", 1))
            m_ours, m_apy = median(ours), median(apy)
            speedup = m_apy / m_ours if m_ours and m_apy else None
            out.append(
                {
                    "suite": SUITE,
                    "case": name,
                    "threads": 1,
                    "goal": "ours faster than apytypes (1 thread)",
                    "value": "-" if speedup is None else f"{speedup:.3g}x faster",
                    "met": None if speedup is None else bool(speedup > 1.0),
                }
            )
    return out

