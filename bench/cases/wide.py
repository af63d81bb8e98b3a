"""wide: multi-limb formats (96, 128 and 512 bits): quantize, add, mul and exact matmul
(504-bit operands for the 512-bit-class matmul, whose exact result must fit ap_fixed's 1024 bits),
and matmul into 96- and 200-bit accumulators.

Peers, side by side (ratios are against apytypes, the peer this suite must beat):

- ``ours``: ``fx.array(x, fmt)`` (quantize), ``a + b``, ``a * b``, ``a @ b`` on FixedArrays in
  ``ap_fixed<W, W/2>``; results in the natural ap_fixed formats (exact).
- ``apytypes`` (baseline): ``APyFixedArray.from_float`` (which rounds half away from zero, so
  ours quantizes with ``AP_RND_INF`` to compute the same thing) and the ``+ * @`` operators,
  which are exact with the same result widths.
- ``numpy_object``: NumPy object arrays of Python ints holding the stored integers (the usual
  fallback for wide integers; ``np.matmul`` works on them). Not for quantize.

``accum_96`` / ``accum_200``: ``fx.matmul(a, b, accum=ap_fixed<w, i, AP_TRN, AP_WRAP>)`` of
64x64 ap_fixed<32,8> operands (every product rounded into the accumulator, then added);
apytypes runs ``a @ b`` in an ``APyFixedAccumulatorContext`` with the same format and modes
(TRN/WRAP accumulation does not depend on the order, so both compute the same bits), and the
``numpy_object`` column is fixedpoint's previous Python-int accumulator path.

Operands are stored integers drawn uniformly over the whole format (seeded), so every limb is
busy and half of them are negative; quantize takes normal(0, 4) float64 draws. Every output is
checked exactly against Python-int arithmetic on the stored integers (quantize: exact
half-away-from-zero rounding of ``x * 2**f`` with Python's exact ``float.as_integer_ratio``).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, import_fixedpoint

SUITE = "wide"
BASELINE = "apytypes"
SEED = 20261123

# (case name, op, width, size): elementwise sizes are element counts; matmul sizes are M=K=N.
FULL_CASES = (
    ("quantize_96", "quantize", 96, 200_000),
    ("add_96", "add", 96, 200_000),
    ("mul_96", "mul", 96, 200_000),
    ("matmul_96", "matmul", 96, 96),
    ("quantize_128", "quantize", 128, 200_000),
    ("add_128", "add", 128, 200_000),
    ("mul_128", "mul", 128, 200_000),
    ("matmul_128", "matmul", 128, 96),
    ("quantize_512", "quantize", 512, 50_000),
    ("add_512", "add", 512, 50_000),
    ("mul_512", "mul", 512, 50_000),
    ("matmul_504", "matmul", 504, 24),  # 2 * 504 + 5 bits: within the 1024-bit limit
    ("accum_96", "accum", 96, 64),  # fx.matmul(..., accum=96-bit): ap_fixed<32,8> operands
    ("accum_200", "accum", 200, 64),
)
# accum cases: the accumulator ap_fixed<w, i, AP_TRN, AP_WRAP> (products lose 12 and 18 fraction
# bits: every product is rounded), operands ap_fixed<32, 8>
ACCUM = {96: 60, 200: 170}
ACCUM_OPERAND = (32, 8)
QUICK_SCALE = 10  # --quick: sizes / 10 (matmul: / 2), same code paths


def _growth(k: int) -> int:
    return (k - 1).bit_length() if k > 1 else 0


def _obj(values) -> np.ndarray:
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class Data:
    """Inputs and the exact expected result (stored integers at `want_frac` fraction bits)."""

    def __init__(self, op: str, w: int, size: int) -> None:
        self.op, self.w, self.i = op, w, w // 2
        self.f = w - self.i
        rng = random.Random(SEED + w * 7 + len(op))
        lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        if op == "quantize":
            self.x = np.random.default_rng(SEED + w).normal(0.0, 4.0, size)
            self.want = _obj(_round_half_away(float(v), self.f) for v in self.x)
            self.want_frac = self.f
            return
        if op == "accum":
            self._accum(rng, w, size)
            return
        shape = (size, size) if op == "matmul" else (size,)
        n = int(np.prod(shape))
        self.ra = _obj(rng.randint(lo, hi) for _ in range(n)).reshape(shape)
        self.rb = _obj(rng.randint(lo, hi) for _ in range(n)).reshape(shape)
        if op == "add":
            self.want, self.want_frac = self.ra + self.rb, self.f
        elif op == "mul":
            self.want, self.want_frac = self.ra * self.rb, 2 * self.f
        else:
            self.want, self.want_frac = np.matmul(self.ra, self.rb), 2 * self.f

    def _accum(self, rng: random.Random, w: int, size: int) -> None:
        """Operands in ap_fixed<32,8>; want: sum_k floor(a*b * 2^-sh) modulo 2^w (TRN/WRAP
        accumulation is independent of the order: the same for every peer)."""
        ow, oi = ACCUM_OPERAND
        self.ow, self.oi, self.i = ow, oi, ACCUM[w]
        self.f = w - self.i
        lo, hi = -(1 << (ow - 1)), (1 << (ow - 1)) - 1
        n = size * size
        self.ra = _obj(rng.randint(lo, hi) for _ in range(n)).reshape(size, size)
        self.rb = _obj(rng.randint(lo, hi) for _ in range(n)).reshape(size, size)
        sh = 2 * (ow - oi) - self.f
        p = (self.ra[:, :, None] * self.rb[None, :, :]) >> sh  # floor, Python ints
        self.want = _obj(_signed(int(v) & ((1 << w) - 1), w) for v in p.sum(axis=1).reshape(-1))
        self.want = self.want.reshape(size, size)
        self.want_frac = self.f

    def check(self, got: np.ndarray, frac: int, what: str) -> None:
        got = np.asarray(got, dtype=object)
        want = self.want
        if got.shape != want.shape:
            raise WrongResult(f"{what}: shape {got.shape}, expected {want.shape}")
        d = frac - self.want_frac
        if d > 0:
            want = want * (1 << d)
        elif d < 0:
            got = got * (1 << -d)
        bad = np.flatnonzero((got != want).reshape(-1))
        if bad.size:
            k = int(bad[0])
            raise WrongResult(f"{what}: {bad.size} of {want.size} differ; first at flat index {k}: "
                              f"got {got.reshape(-1)[k]}, expected {want.reshape(-1)[k]}")


def _round_half_away(x: float, f: int) -> int:
    num, den = x.as_integer_ratio()
    num <<= f
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return -q if num < 0 else q


def _signed(bits: int, w: int) -> int:
    return bits - (1 << w) if bits >> (w - 1) else bits


# -- peers ---------------------------------------------------------------------------------
def _ours(d: Data) -> Impl:
    fx = import_fixedpoint()
    if d.op == "accum":
        opf = fx.Fixed(d.ow, d.oi)
        acc = fx.Fixed(d.w, d.i, q="TRN", o="WRAP")
        a, b = fx.from_raw(d.ra, opf), fx.from_raw(d.rb, opf)
        return Impl(run=lambda: fx.matmul(a, b, accum=acc),
                    check=lambda out: d.check(out.raw, out.fmt.f, "fx.matmul(accum=)"))
    fmt = fx.Fixed(d.w, d.i, q="RND_INF")
    if d.op == "quantize":
        x = d.x
        return Impl(run=lambda: fx.array(x, fmt), check=lambda out: d.check(out.raw, out.fmt.f, "fx.array"))
    a, b = fx.from_raw(d.ra, fmt), fx.from_raw(d.rb, fmt)
    run = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: a @ b}[d.op]
    return Impl(run=run, check=lambda out: d.check(out.raw, out.fmt.f, d.op))


def _apytypes(d: Data) -> Impl:
    import apytypes as apy  # noqa: PLC0415

    def to_ints(out: Any) -> np.ndarray:
        bits = out.to_bits()
        flat = np.array(bits, dtype=object).reshape(-1)
        return _obj(_signed(int(v), out.bits) for v in flat).reshape(np.shape(bits))

    if d.op == "accum":
        mask = (1 << d.ow) - 1
        ab = [apy.APyFixedArray([int(v) & mask for v in r.reshape(-1)], int_bits=d.oi, frac_bits=d.ow - d.oi)
              .reshape(r.shape) for r in (d.ra, d.rb)]
        for r, x in zip((d.ra, d.rb), ab):
            if list(to_ints(x).reshape(-1)) != list(r.reshape(-1)):
                raise RuntimeError("apytypes operand does not hold the intended stored integers")

        def run() -> Any:
            with apy.APyFixedAccumulatorContext(int_bits=d.i, frac_bits=d.f, quantization=apy.QuantizationMode.TRN,
                                                overflow=apy.OverflowMode.WRAP):
                return ab[0] @ ab[1]

        return Impl(run=run, check=lambda out: d.check(to_ints(out), out.frac_bits, "@ in an accumulator context"),
                    set_threads=apy.reset_thread_pool if hasattr(apy, "reset_thread_pool") else None)
    if d.op == "quantize":
        x = d.x
        return Impl(run=lambda: apy.APyFixedArray.from_float(x, int_bits=d.i, frac_bits=d.f),
                    check=lambda out: d.check(to_ints(out), out.frac_bits, "APyFixedArray.from_float"),
                    set_threads=apy.reset_thread_pool if hasattr(apy, "reset_thread_pool") else None)
    mask = (1 << d.w) - 1

    def operand(r: np.ndarray) -> Any:
        bits = [int(v) & mask for v in r.reshape(-1)]
        a = apy.APyFixedArray(bits, int_bits=d.i, frac_bits=d.f)
        if r.ndim == 2:
            a = a.reshape(r.shape)
        if list(to_ints(a).reshape(-1)) != list(r.reshape(-1)):
            raise RuntimeError("apytypes operand does not hold the intended stored integers")
        return a

    a, b = operand(d.ra), operand(d.rb)
    run = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: a @ b}[d.op]
    return Impl(run=run, check=lambda out: d.check(to_ints(out), out.frac_bits, d.op),
                set_threads=apy.reset_thread_pool if hasattr(apy, "reset_thread_pool") else None)


def _numpy_object(d: Data) -> Impl:
    if d.op == "accum":  # fixedpoint's previous path: the sequential casts in Python ints (now the reference model's)
        fx = import_fixedpoint()
        from fixedpoint import _reference  # noqa: PLC0415

        opf = fx.Fixed(d.ow, d.oi)
        acc = fx.Fixed(d.w, d.i, q="TRN", o="WRAP")
        return Impl(run=lambda: np.array(_reference.matmul_accum(d.ra, opf, d.rb, opf, acc), dtype=object),
                    check=lambda out: d.check(out, d.f, "Python-int accumulation"),
                    note="fixedpoint's previous Python-int accumulator path (object arrays)")
    if d.op == "quantize":
        raise Skip("no NumPy quantizer for wide formats")
    a, b = d.ra, d.rb
    run = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: np.matmul(a, b)}[d.op]
    return Impl(run=run, check=lambda out: d.check(out, d.want_frac, d.op), note="Python ints in object arrays")


PEERS: dict[str, Callable[[Data], Impl]] = {"ours": _ours, "apytypes": _apytypes, "numpy_object": _numpy_object}


def cases(quick: bool = False) -> list[Case]:
    out = []
    for name, op, w, size in FULL_CASES:
        if quick:
            size = max(size // 2, 8) if op in ("matmul", "accum") else size // QUICK_SCALE
        data = functools.cache(functools.partial(Data, op, w, size))  # built on first use
        peers = {p: (lambda make=make, data=data: make(data())) for p, make in PEERS.items()}
        what = f"{size}x{size} @ {size}x{size}" if op in ("matmul", "accum") else f"{size:,} elements"
        desc = f"{op} in ap_fixed<{w},{w // 2}>: {what} (seed {SEED})"
        if op == "accum":
            desc = (f"matmul of ap_fixed<{ACCUM_OPERAND[0]},{ACCUM_OPERAND[1]}> into an ap_fixed<{w},{ACCUM[w]},"
                    f"AP_TRN,AP_WRAP> accumulator: {what} (seed {SEED})")
        out.append(Case(suite=SUITE, name=name, n=size, peers=peers, baseline=BASELINE, description=desc))
    return out


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's target, reported and never asserted: ours faster than apytypes on every
    case (ratio ours / apytypes < 1) at each thread count run."""
    out = []
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}
    for (case, peer, threads), rec in by.items():
        if peer != "ours":
            continue
        base = by.get((case, "apytypes", threads))
        ok = rec["status"] == "ok" and base is not None and base["status"] == "ok" and base["median_s"]
        ratio = rec["median_s"] / base["median_s"] if ok else None
        out.append({"suite": SUITE, "case": case, "goal": f"faster than apytypes ({threads} thread(s))",
                    "value": None if ratio is None else f"{ratio:.2f}x of apytypes time",
                    "met": None if ratio is None else ratio < 1.0})
    return out
