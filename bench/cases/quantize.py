"""quantize: 1,000,000 normal(0,4) float64 values into ap_fixed<16,6,{RND,RND_CONV,STOCH},SAT>.

Peers, side by side (ratios are against the NumPy float baseline):

- ``ours``: ``fx.array(x, fx.Fixed(16, 6, q=..., o="SAT"), seed=...)``.
- ``numpy`` (baseline): ``np.clip(np.round(x * 2**10), -2**15, 2**15 - 1)``. ``np.round`` ties
  to even, so it is exactly RND_CONV; for RND and STOCH it is a timing reference only.
- ``apytypes``: its cast path. ``APyFixedArray.from_float`` always rounds RND_INF and wraps, so
  the input is first converted into an intermediate format wide enough to hold every input
  exactly, then ``.cast(int_bits=6, frac_bits=10, quantization=..., overflow=SAT)`` does the
  single rounding (RND, RND_CONV, STOCH_WEIGHTED).
- ``apytypes_direct`` (RND case only): ``from_float(x, int_bits=6, frac_bits=10)`` followed by
  the same cast. from_float already rounds (RND_INF, WRAP), so the cast is a no-op and the mode
  differs; it is checked against RND_INF/WRAP and shows apytypes' fastest conversion.
- ``fxpmath``: ``Fxp(x, signed=True, n_word=16, n_frac=10, rounding=..., overflow="saturate")``
  with ``nearest_posinf`` (RND) and ``around`` (RND_CONV); it has no stochastic rounding.

Every output is checked against an exact NumPy computation of the peer's own mode on the
benchmark inputs, and again on a small set of tie-aimed and range-edge inputs (untimed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, expect_equal, import_fixedpoint

SUITE = "quantize"

W, I = 16, 6
F = W - I
SCALE = 2.0**F  # x * SCALE is exact for every float64 input used here
RAW_MIN, RAW_MAX = -(2 ** (W - 1)), 2 ** (W - 1) - 1
N = 1_000_000
DATA_SEED = 20240607
STOCH_SEED = 12345

# STOCH statistics: in each of STOCH_BINS equal bins of the discarded fraction r (with at least
# STOCH_MIN_BIN elements), the summed rounding error sum(up - r) must lie within STOCH_Z
# standard deviations, sigma = sqrt(sum r(1-r)). For an unbiased stochastic rounder a false
# alarm has probability < 2e-9 per bin; round-to-nearest or truncation are off by >= 90 sigma
# in every bin at n = 10**6.
STOCH_BINS = 8
STOCH_MIN_BIN = 1000
STOCH_Z = 6.0

CASES = (  # (case name, q)
    ("rnd_sat", "RND"),
    ("rnd_conv_sat", "RND_CONV"),
    ("stoch_sat", "STOCH"),
)


def make_input(n: int = N, seed: int = DATA_SEED) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 4.0, n)


def edge_inputs() -> np.ndarray:
    """Ties (k + 1/2) * lsb and their neighbours 1 ulp away, representable values, and the
    edges of the range (including ties just past max/min), zero, tiny and huge values."""
    lsb = 2.0**-F
    k = np.arange(-48, 48, dtype=np.float64)
    ties = np.concatenate([(k + 0.5) * lsb, (np.array([RAW_MAX, RAW_MIN - 1]) + 0.5) * lsb])
    edges = np.array(
        [RAW_MAX * lsb, RAW_MIN * lsb, (RAW_MAX + 1) * lsb, (RAW_MIN - 1) * lsb,
         (RAW_MAX + 0.25) * lsb, (RAW_MIN - 0.25) * lsb, 0.0, -0.0,
         2.0**-40, -(2.0**-40), 1e6, -1e6, 3.0 * 2.0**-52, -3.0 * 2.0**-52],
    )  # fmt: skip
    vals = np.concatenate([ties, k * lsb, edges])
    return np.concatenate([vals, np.nextafter(vals, np.inf), np.nextafter(vals, -np.inf)])


# --------------------------------------------------------------------------------------------
# Exact references


def reference(x: np.ndarray, q: str, o: str = "SAT") -> np.ndarray:
    """Exact stored integers of ap_fixed<16,6,q,o> for float64 x (deterministic modes).

    t = x * 2**10 and fl = floor(t) are exact. The discarded fraction is compared with 1/2 as
    ``t`` against ``fl + 0.5`` (exact while |t| < 2**52), never through ``t - fl`` (inexact for
    -1/2 < t < 0: 1 - 0.49999999999999994 rounds to 0.5) or ``t + 0.5``."""
    t = x * SCALE
    fl = np.floor(t)
    inexact = t != fl  # integral t (including every |t| >= 2**52) needs no rounding
    half = fl + 0.5
    above = inexact & (t > half)
    tie = inexact & (t == half)
    if q == "RND":  # ties toward +inf
        r = fl + (above | tie)
    elif q == "RND_CONV":  # ties to even; np.round is round-half-even and exact
        r = np.round(t)
    elif q == "RND_INF":  # ties away from zero
        r = fl + (above | (tie & (t > 0)))
    elif q == "TRN":
        r = fl
    else:
        raise ValueError(f"reference: no deterministic reference for q={q!r}")
    if o == "SAT":
        return np.clip(r, RAW_MIN, RAW_MAX).astype(np.int64)
    if o == "WRAP":
        # Clip far outside the range first (keeps int64 exact); wrapping is mod 2**W anyway.
        r = np.clip(r, -(2.0**62), 2.0**62).astype(np.int64)
        return (r - RAW_MIN) % (2**W) + RAW_MIN
    raise ValueError(f"reference: unsupported o={o!r}")


def check_stoch(raw: np.ndarray, x: np.ndarray, what: str = "raw") -> None:
    """STOCH/SAT: every element is floor or floor+1 of x*2**10 (then saturated), exact inputs
    are left unchanged, and the rounding is unbiased per fraction bin (see STOCH_Z)."""
    raw = np.asarray(raw)
    if raw.shape != x.shape:
        raise WrongResult(f"{what}: shape {raw.shape}, expected {x.shape}")
    t = x * SCALE
    fl = np.floor(t)
    frac = t - fl  # may be off by an ulp for -1/2 < t < 0; only used for the statistics
    lo = np.clip(fl, RAW_MIN, RAW_MAX)
    hi = np.clip(fl + 1, RAW_MIN, RAW_MAX)
    exact = t == fl
    expect_equal(raw[exact], lo[exact].astype(np.int64), x[exact], what=f"{what} (exact inputs)")
    bad = ~((raw == lo) | (raw == hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WrongResult(
            f"{what}: {int(bad.sum())} of {raw.size} are neither floor nor floor+1; first at "
            f"index {i} (input {x[i]!r}): got {raw[i]}, allowed {int(lo[i])} or {int(hi[i])}"
        )
    free = ~exact & (fl >= RAW_MIN) & (fl + 1 <= RAW_MAX)
    r = frac[free]
    err = (raw[free] == fl[free] + 1) - r
    edges = np.linspace(0.0, 1.0, STOCH_BINS + 1)
    which = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, STOCH_BINS - 1)
    for b in range(STOCH_BINS):
        sel = which == b
        count = int(sel.sum())
        if count < STOCH_MIN_BIN:
            continue
        total = float(err[sel].sum())
        sigma = math.sqrt(float((r[sel] * (1 - r[sel])).sum()))
        if abs(total) > STOCH_Z * sigma:
            raise WrongResult(
                f"{what}: STOCH is biased for fractions in [{edges[b]:.3f}, {edges[b + 1]:.3f}): "
                f"mean error {total / count:+.3e} lsb over {count} values, bound "
                f"{STOCH_Z:g} sigma = {STOCH_Z * sigma / count:.3e} lsb"
            )


class _Data:
    """Inputs plus cached references, shared by every peer of every case."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._refs: dict[tuple[str, str], np.ndarray] = {}

    def verify(self, raw: np.ndarray, q: str, o: str, what: str) -> None:
        if q == "STOCH":
            check_stoch(raw, self.x, what)
            return
        if (q, o) not in self._refs:
            self._refs[(q, o)] = reference(self.x, q, o)
        expect_equal(raw, self._refs[(q, o)], self.x, what=what)


# --------------------------------------------------------------------------------------------
# Peers. Each returns a _Peer for the requested mode, or raises ImportError / Skip.


@dataclass
class _Peer:
    bind: Callable[[np.ndarray], Callable[[], Any]]  # untimed set-up for inputs -> timed call
    to_raw: Callable[[Any], np.ndarray]  # output -> stored integers (untimed)
    q: str  # the mode the peer really computes; its output is checked against this
    o: str = "SAT"
    note: str = ""
    set_threads: Callable[[int], None] | None = None
    reproducible: bool = False  # same output on every call and thread count (ours, by design)


def _mode_note(peer_q: str, q: str, how: str) -> str:
    return "" if peer_q == q else f"mode differs: {how}"


def peer_ours(q: str) -> _Peer:
    fx = import_fixedpoint()
    fmt = fx.Fixed(W, I, signed=True, q=q, o="SAT")
    seed = STOCH_SEED if q == "STOCH" else None

    def bind(x: np.ndarray) -> Callable[[], Any]:
        if seed is None:
            return lambda: fx.array(x, fmt)
        return lambda: fx.array(x, fmt, seed=seed)

    return _Peer(bind, lambda a: np.asarray(a.raw), q, reproducible=True)


def peer_numpy(q: str) -> _Peer:
    def bind(x: np.ndarray) -> Callable[[], Any]:
        return lambda: np.clip(np.round(x * 2**10), -(2**15), 2**15 - 1)

    how = "np.round ties to even (RND_CONV)"
    if q == "STOCH":
        how = "deterministic np.round (RND_CONV); timing reference only"
    return _Peer(bind, lambda r: np.asarray(r).astype(np.int64), "RND_CONV", note=_mode_note("RND_CONV", q, how))


def _apy_raw(a: Any) -> np.ndarray:
    bits = np.asarray(a.to_bits(numpy=True)).astype(np.int64)
    return np.where(bits > RAW_MAX, bits - 2**W, bits)


def exact_apy_format(x: np.ndarray) -> tuple[int, int]:
    """(int_bits, frac_bits) of a signed fixed format holding every value of x exactly."""
    nz = x[x != 0]
    if nz.size == 0:
        return 2, 1
    _, e = np.frexp(nz)  # |x| < 2**e, ulp(x) >= 2**(e - 53)
    return int(e.max()) + 1, max(int((53 - e).max()), 1)


def peer_apytypes(q: str) -> _Peer:
    import apytypes as apy  # noqa: PLC0415

    modes = {
        "RND": apy.QuantizationMode.RND,
        "RND_CONV": apy.QuantizationMode.RND_CONV,
        "STOCH": apy.QuantizationMode.STOCH_WEIGHTED,
    }
    qm = modes[q]
    sat = apy.OverflowMode.SAT

    def bind(x: np.ndarray) -> Callable[[], Any]:
        ib, fb = exact_apy_format(x)
        if not np.array_equal(apy.APyFixedArray.from_float(x, int_bits=ib, frac_bits=fb).to_numpy(), x):
            raise RuntimeError(f"apytypes: intermediate format <int_bits={ib}, frac_bits={fb}> is not exact")
        if not peer.note:  # the first bind is for the benchmark inputs
            peer.note = f"from_float into exact <{ib},{fb}>, then cast" + (" (STOCH_WEIGHTED)" if q == "STOCH" else "")
        if q == "STOCH":
            apy.set_fixed_quantization_seed(STOCH_SEED)
        return lambda: apy.APyFixedArray.from_float(x, int_bits=ib, frac_bits=fb).cast(
            int_bits=I, frac_bits=F, quantization=qm, overflow=sat
        )

    peer = _Peer(bind, _apy_raw, q, set_threads=apy.reset_thread_pool)
    return peer


def peer_apytypes_direct(q: str) -> _Peer:
    import apytypes as apy  # noqa: PLC0415

    qm = {"RND": apy.QuantizationMode.RND, "RND_CONV": apy.QuantizationMode.RND_CONV}.get(q)
    if qm is None:
        raise Skip(f"not run for {q}")

    def bind(x: np.ndarray) -> Callable[[], Any]:
        return lambda: apy.APyFixedArray.from_float(x, int_bits=I, frac_bits=F).cast(
            int_bits=I, frac_bits=F, quantization=qm, overflow=apy.OverflowMode.SAT
        )

    note = "mode differs: from_float(x, 6, 10) already rounds RND_INF and wraps; the cast is a no-op"
    return _Peer(bind, _apy_raw, "RND_INF", o="WRAP", note=note, set_threads=apy.reset_thread_pool)


def peer_fxpmath(q: str) -> _Peer:
    from fxpmath import Fxp  # noqa: PLC0415

    rounding = {"RND": "nearest_posinf", "RND_CONV": "around"}.get(q)
    if rounding is None:
        raise Skip("mode differs: fxpmath has no stochastic rounding")
    try:
        Fxp(np.array([0.5 / SCALE]), signed=True, n_word=W, n_frac=F, rounding=rounding, overflow="saturate")
    except ValueError as exc:
        raise Skip(f"mode differs: this fxpmath lacks rounding={rounding!r} ({exc})") from None

    def bind(x: np.ndarray) -> Callable[[], Any]:
        return lambda: Fxp(x, signed=True, n_word=W, n_frac=F, rounding=rounding, overflow="saturate")

    return _Peer(bind, lambda a: np.asarray(a.val).astype(np.int64), q, note=f"rounding={rounding!r}")


PEERS: dict[str, Callable[[str], _Peer]] = {
    "ours": peer_ours,
    "numpy": peer_numpy,
    "apytypes": peer_apytypes,
    "apytypes_direct": peer_apytypes_direct,
    "fxpmath": peer_fxpmath,
}
BASELINE = "numpy"


def _make_impl(make_peer: Callable[[str], _Peer], q: str, data: _Data, edge: _Data) -> Impl:
    peer = make_peer(q)
    run = peer.bind(data.x)
    first: list[np.ndarray] = []

    def check(out: Any) -> None:
        raw = peer.to_raw(out)
        data.verify(raw, peer.q, peer.o, what="raw")
        if peer.reproducible:
            if not first:
                first.append(np.array(raw, copy=True))
            else:
                expect_equal(raw, first[0], data.x, what="raw differs from the first call (thread count?)")

    def probe() -> None:
        raw = peer.to_raw(peer.bind(edge.x)())
        edge.verify(raw, peer.q, peer.o, what="edge inputs")

    return Impl(run=run, check=check, probe=probe, note=peer.note, set_threads=peer.set_threads)


def cases(quick: bool = False) -> list[Case]:
    """Same inputs for every case and peer; --quick only shortens the timing, not the data."""
    data = _Data(make_input())
    edge = _Data(edge_inputs())
    out = []
    for name, q in CASES:
        peers = {}
        for peer_name, make_peer in PEERS.items():
            if peer_name == "apytypes_direct" and q != "RND":
                continue
            peers[peer_name] = lambda mp=make_peer, q=q: _make_impl(mp, q, data, edge)
        out.append(
            Case(
                suite=SUITE,
                name=name,
                n=data.x.size,
                peers=peers,
                baseline=BASELINE,
                description=f"{data.x.size:,} normal(0,4) float64 (seed {DATA_SEED}) -> "
                f"ap_fixed<{W},{I},AP_{q},AP_SAT>" + (f", seed {STOCH_SEED}" if q == "STOCH" else ""),
            )
        )
    return out


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, at the lowest thread count run: ours <= the NumPy baseline
    (ratio <= 1.0) and ours >= 10x faster than apytypes. Reported, never asserted."""
    if not records:
        return []
    t = min(r["threads"] for r in records)
    by = {(r["case"], r["peer"]): r for r in records if r["threads"] == t}
    out = []
    for name in dict.fromkeys(r["case"] for r in records):
        ours = by.get((name, "ours"))
        apy = by.get((name, "apytypes"))
        ours_ok = ours is not None and ours["status"] == "ok"
        ratio = ours["ratio_vs_baseline"] if ours_ok else None
        out.append(
            {
                "suite": SUITE,
                "case": name,
                "threads": t,
                "goal": f"ours <= numpy baseline ({t} thread{'s' * (t > 1)})",
                "value": "-" if ratio is None else f"{ratio:.3g}x",
                "met": None if ratio is None else bool(ratio <= 1.0),
            }
        )
        speedup = None
        if ours_ok and apy is not None and apy["status"] == "ok" and ours["median_s"]:
            speedup = apy["median_s"] / ours["median_s"]
        out.append(
            {
                "suite": SUITE,
                "case": name,
                "threads": t,
                "goal": f"ours >= 10x faster than apytypes ({t} thread{'s' * (t > 1)})",
                "value": "-" if speedup is None else f"{speedup:.3g}x faster",
                "met": None if speedup is None else bool(speedup >= 10.0),
            }
        )
    return out
