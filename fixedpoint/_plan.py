"""Kernel planners: which kernel computes an exact matrix product or an accumulator matmul.

Two pure functions decide, from bounds and formats only (no data is read here):

- :func:`plan_matmul` -> :class:`MatmulKernel`: the kernel of an *exact* integer GEMM
  (``fx.matmul`` without ``accum``, and the exact GEMM under the WRAP fast path), from the
  operands' largest magnitudes, the contraction length K, the result width and the ISA.
- :func:`plan_accum` -> :class:`AccumKernel`: the kernel of an *accumulator* matmul
  (``fx.matmul(accum=)``, ``fx.linear``, the hls4ml Dense layer, the torch layers), from the
  formats, the kernels the caller can run and the caller's range proof, if any.

Every kernel a planner may return gives the same bits (the accumulator kernels all compute
the sequential semantics of ``fx.matmul(accum=)``; the exact kernels the exact sum); the
planners choose for speed, and each choice is taken only where it is sound (float64 only
while every partial sum is an integer below 2**53, int16 only when the operands fit int16
and the pair sums fit int32, and so on).

The speed crossovers are in :data:`CROSSOVERS`, one row per ISA, with where each value was
measured; ``python -m bench plan`` measures them on the running CPU and reports the measured
value next to the table's.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Iterable

from . import _backend
from ._storage import NATIVE_MAX_W, RAW_MAX_W  # int64 storage / the int64 engine
from .format import Fixed, OMode, QMode

__all__ = [
    "MatmulKernel",
    "AccumKernel",
    "Crossovers",
    "CROSSOVERS",
    "crossovers",
    "plan_matmul",
    "plan_accum",
    "f64_split_plan",
    "exact_product_wraps",
    "accum_sound",
]

# Soundness limits (facts of the number formats and of the kernels, not speed measurements).
F64_EXACT_BITS = 53  # float64 holds every integer of magnitude <= 2**53
FUSED_MAX_W = RAW_MAX_W  # 63: the fused C++ kernel dense_accum takes formats up to this width (the int64 engine's)
PRODUCT_MAX_W = _backend.ARITH_MAX_NATURAL_WIDTH  # 126: products the 128-bit C++ kernels hold
I128_MAX_BITS = 126  # gemm_i128: exact results below 2**126


class MatmulKernel(str, enum.Enum):
    """The kernel of an exact integer GEMM (a member compares equal to its value string)."""

    I16 = "i16"
    """The int16 pair-sum kernel (AVX2 ``vpmaddwd``, AVX-512 VNNI ``vpdpwssd``; scalar code
    without SIMD): operands in int16, pairs of products summed in int32 for as many steps as
    ``_backend.gemm_i16_pairs(amax, bmax)`` allows, then widened to int64."""
    F64 = "f64"
    """float64 BLAS (``np.matmul``): exact because every partial sum is an integer of
    magnitude at most 2**53 (``K * amax * bmax <= 2**53``)."""
    F64_SPLIT = "f64split"
    """float64 BLAS on limbs: one operand split into L-bit limbs so that each limb GEMM is
    exact in float64 (:func:`f64_split_plan`), recombined with wrapping int64 shifts and adds
    (exact modulo 2**64; exact when the result fits 64 bits)."""
    I64 = "i64"
    """The blocked int64 C++ kernel (``_backend.gemm_i64``), sums wrapping modulo 2**64: exact
    when the result fits 64 bits, and the 64-bit residue otherwise."""
    I128 = "i128"
    """The 128-bit C++ kernel (``_backend.gemm_i128``): exact results below 2**126."""
    WIDE = "wide"
    """The multi-limb C++ kernel (``_backend.wide_matmul``): any width. Operands stored as limbs
    (w > 64) always take it, and results of 126 bits or more."""


class AccumKernel(str, enum.Enum):
    """The kernel of an accumulator matmul (a member compares equal to its value string).

    All compute ``acc = cast(bias)``, then for k in order
    ``acc = cast(acc + cast(x[k] * w[k]))`` with the accumulator's q/o/n; the EXACT_* members
    and WRAP_GEMM reach the same integers through an exact product, when a proof says so."""

    EXACT_F64 = "exact_f64"
    """float64 BLAS on the stored integers: the caller's range analysis proved that no cast of
    the sequence rounds or overflows and that every partial sum of any summation order is an
    integer below 2**53 (the hls4ml Dense layer's ``DenseOp``)."""
    EXACT_I64 = "exact_i64"
    """NumPy int64 matmul: as EXACT_F64, with every partial sum below 2**62."""
    EXACT_GEMM = "exact_gemm"
    """The exact ``fx.matmul`` (its kernel from :func:`plan_matmul`), the bias added and one
    cast: the caller proved from the formats that the accumulator holds every product and
    every partial sum (so no cast rounds or overflows). Any width."""
    WRAP_GEMM = "wrap_gemm"
    """The exact GEMM modulo 2**64 (:func:`plan_matmul` with no result width), shifted to the
    accumulator's point and reduced modulo 2**w: sound for WRAP (n = 0) accumulators that hold
    every product's fraction bits, native formats (:func:`exact_product_wraps`), where each
    cast is an exact shift reduced modulo 2**w and the order does not matter."""
    FUSED = "fused"
    """The vectorized C++ kernel ``_backend.dense_accum`` (the sequential semantics across output
    columns, fused with a result cast): formats of at most 63 bits, no STOCH rounding in the
    accumulator or the fused casts."""
    SEQUENTIAL = "sequential"
    """The sequential C++ kernel ``_backend.matmul_accum``: native formats (w <= 64) whose
    products fit 126 bits; supports STOCH (counter-based draws)."""
    WIDE = "wide"
    """The multi-limb sequential C++ kernel (``_backend.wide_matmul_accum``): every width, the
    same semantics and STOCH draws as SEQUENTIAL."""


EXACT_ACCUM_KERNELS = frozenset({AccumKernel.EXACT_F64, AccumKernel.EXACT_I64, AccumKernel.EXACT_GEMM})
ALL_ACCUM_KERNELS = frozenset(AccumKernel)
# the order plan_accum prefers, fastest first (the exact kernels come from the caller's proof)
_ACCUM_PREFERENCE = (AccumKernel.FUSED, AccumKernel.WRAP_GEMM, AccumKernel.SEQUENTIAL, AccumKernel.WIDE)


@dataclasses.dataclass(frozen=True)
class Crossovers:
    """The speed crossovers of one ISA's kernels (where a faster-on-paper kernel stops paying).

    i16_min_pairs:       the int16 kernel is chosen over float64 BLAS when
                         ``_backend.gemm_i16_pairs(amax, bmax)`` (products summed in int32 before
                         a widening) is at least this; below it the kernel widens so often that
                         BLAS is faster. ``None``: never while float64 BLAS is exact, at any pair
                         count (this ISA's int16 kernel is slower than BLAS at every count
                         measured, and slower than the float64 limb split too, which costs about
                         one BLAS GEMM per limb), so where BLAS is not exact the limb split goes
                         first and the int16 kernel is taken only where no split of at most
                         ``f64_split_max_limbs`` limbs exists. ``python -m bench plan`` measures it.
    f64_split_max_limbs: float64 BLAS on at most this many limbs is preferred to the blocked
                         int64 kernel (each limb costs one BLAS GEMM).
    measured:            where and how the values were measured.
    """

    i16_min_pairs: int | None
    f64_split_max_limbs: int
    measured: str


_NOT_MEASURED = ("not measured on this ISA: keeps the avx2 row's earlier values (16 pairs, 6 limbs, from a coarser "
                 "AVX2 measurement) until `python -m bench plan` runs on {isa} hardware (issue 16: none was "
                 "available; emulated speed means nothing)")
_SPLIT_MEASURED = ("float64 BLAS on L limbs beats the blocked int64 kernel at every L measured, 1..8, at 512^3 "
                   "(8 limbs 55 ms vs 72 ms, 6 limbs 42 ms vs 74 ms), so the table takes the largest count measured")

CROSSOVERS: dict[str, Crossovers] = {
    "avx2": Crossovers(
        i16_min_pairs=12, f64_split_max_limbs=8,
        measured="`python -m bench plan`, AVX2 2-core AMD EPYC, single thread (2 threads gave the same crossovers), "
                 "int16 cases at 1024^3: the int16 kernel beats float64 BLAS from 12 pairs (9459 bound, 14-bit "
                 "operands: 39.7 ms vs 52.7 ms; 16 pairs 37.4 vs 54.5; 64 pairs 22.2 vs 52.8) and loses below "
                 "(8 pairs 57.8 vs 56.5, 4 pairs 72.0 vs 52.7, 1 pair 277 vs 52.5); " + _SPLIT_MEASURED),
    "scalar": Crossovers(
        i16_min_pairs=None, f64_split_max_limbs=8,
        measured="`python -m bench plan` with the scalar ISA on the same AVX2 2-core AMD EPYC, single thread "
                 "(2 threads gave the same crossovers), 1024^3: the scalar int16 kernel never beats float64 BLAS "
                 "(4.6x its time at 64 pairs, 244 ms vs 52.8; 4.8x at 16 pairs; 12x at 1 pair), nor the 2-4 limb "
                 "splits (about 1.05x BLAS per limb) that replace BLAS where it is not exact for int16 operands; "
                 "the limb split was measured against the AVX2 int64 kernel, which the scalar one does not beat: "
                 + _SPLIT_MEASURED),
    "avx512": Crossovers(i16_min_pairs=16, f64_split_max_limbs=6, measured=_NOT_MEASURED.format(isa="AVX-512")),
    "avx512_vnni": Crossovers(i16_min_pairs=16, f64_split_max_limbs=6,
                              measured=_NOT_MEASURED.format(isa="AVX-512 VNNI")),
}
_DEFAULT_ISA = "avx2"  # the row an ISA missing from the table uses


def crossovers(isa: str | None = None) -> Crossovers:
    """The :data:`CROSSOVERS` row of ``isa`` (default: the ISA the kernels run with,
    ``fx.get_isa()``); an ISA without a row uses the avx2 row."""
    return CROSSOVERS.get(_backend.isa() if isa is None else isa, CROSSOVERS[_DEFAULT_ISA])


def f64_split_plan(amax: int, bmax: int, k: int, max_limbs: int | None = None) -> tuple[bool, int, int] | None:
    """How to split one operand into L-bit limbs so that every limb GEMM is exact in float64:
    ``|limb| <= 2**L``, ``|other| < 2**bits``, ``K <= 2**g`` and ``L + bits + g <= 53``.

    Returns ``(split_a, L, limbs)`` with the fewest limbs (``split_a``: split the left
    operand), or None when no split has at most ``max_limbs`` limbs (default: the running
    ISA's :attr:`Crossovers.f64_split_max_limbs`) or a limb would be under 4 bits."""
    if max_limbs is None:
        max_limbs = crossovers().f64_split_max_limbs
    g = (k - 1).bit_length() if k > 1 else 0
    best = None
    for split_a, mine, other in ((True, amax, bmax), (False, bmax, amax)):
        L = F64_EXACT_BITS - other.bit_length() - g
        if L < 4:
            continue
        n = max(1, -(-mine.bit_length() // L))
        if n <= max_limbs and (best is None or n < best[2]):
            best = (split_a, L, n)
    return best


def plan_matmul(amax: int | None, bmax: int | None, k: int, result_w: int | None, *, unsigned64: bool = False,
                fits16: bool = False, isa: str | None = None) -> MatmulKernel:
    """The fastest sound kernel for the exact integer GEMM of (M, K) @ (K, N) stored integers.

    The order, first sound one wins: I16 from the row's ``i16_min_pairs`` pairs; F64 (every
    partial sum within 2**53); I16 at fewer pairs (BLAS is not exact here; on a row whose
    ``i16_min_pairs`` is None only where no limb split of at most ``f64_split_max_limbs``
    limbs exists); F64_SPLIT; I64; I128; WIDE.

    Args:
        amax, bmax: the largest magnitudes of the left and right operands' stored integers
            (``|a| <= amax``, ``|b| <= bmax``); None when that operand is stored as limbs
            (w > 64, no int64 bounds): the answer is then :attr:`MatmulKernel.WIDE`.
        k: the contraction length K.
        result_w: the width of the exact result format; None asks for the result modulo
            2**64 (the WRAP fast path), which is never I128 or WIDE.
        unsigned64: an operand holds uint64 bit patterns (an unsigned 64-bit format): float64
            paths cannot read them.
        fits16: every value of both operands lies in int16, so a bound of 32768 (a -32768
            present) still admits I16.
        isa: the ISA whose :data:`CROSSOVERS` row applies (default: the running one).

    Callers: ``_matmul._matmul_exact`` (``result_w`` the exact result's width; limb-stored
    operands ask with ``amax = bmax = None``) and ``_matmul._gemm_mod64`` (``result_w`` None).
    I16 (int64 sums) is never chosen for an exact result of 64 bits or more
    (``K * amax * bmax >= 2**63`` with a result format wider than 64 bits); the planner this
    replaced (``_ops._matmul_path``) chose it there, which only K >= 2**37 can reach (int16
    operands), an operand no memory holds.
    """
    if amax is None or bmax is None:
        if result_w is None:
            raise ValueError("plan_matmul: limb-stored operands (amax/bmax None) need a result width, "
                             "the modulo-2**64 product is for int64 operands")
        return MatmulKernel.WIDE
    if amax < 0 or bmax < 0 or k < 0:
        raise ValueError(f"plan_matmul: amax, bmax and k must be >= 0, got amax={amax}, bmax={bmax}, k={k}")
    row = crossovers(isa)
    bound = k * amax * bmax  # every partial sum is at most this in magnitude
    # the 64-bit kernels (their sums wrap modulo 2**64) give the result: it fits 64 bits, or the
    # caller wants it modulo 2**64
    fits64 = result_w is None or result_w <= 64 or bound < 1 << 63
    in16 = fits16 or (amax <= 32767 and bmax <= 32767)
    pairs = _backend.gemm_i16_pairs(amax, bmax) if in16 and fits64 else 0
    if row.i16_min_pairs is not None and pairs >= row.i16_min_pairs:
        return MatmulKernel.I16
    if bound <= 1 << F64_EXACT_BITS and not unsigned64:
        return MatmulKernel.F64  # every partial sum is an integer within 2**53
    split = fits64 and not unsigned64 and f64_split_plan(amax, bmax, k, row.f64_split_max_limbs) is not None
    if pairs > 0 and (row.i16_min_pairs is not None or not split):
        # slower than BLAS at these pair counts, but BLAS is not exact here; on an ISA whose int16
        # kernel never beats BLAS (i16_min_pairs None) the limb split goes first
        return MatmulKernel.I16
    if fits64:
        if split:
            return MatmulKernel.F64_SPLIT
        return MatmulKernel.I64  # wraps modulo 2**64: exact because the result fits 64 bits
    if bound < 1 << I128_MAX_BITS:
        return MatmulKernel.I128
    return MatmulKernel.WIDE


def exact_product_wraps(fa: Fixed, fb: Fixed, accum: Fixed) -> bool:
    """WRAP (n = 0) accumulators that hold every product's fraction bits, native formats: each
    product's cast is an exact shift reduced modulo 2**w, so the sequential accumulation equals
    the exact GEMM reduced modulo 2**w, in any order (docs/arrays.md, "Accumulator fast
    paths"). The soundness condition of :attr:`AccumKernel.WRAP_GEMM`."""
    return (accum.o is OMode.WRAP and accum.n == 0 and max(fa.w, fb.w, accum.w) <= NATIVE_MAX_W
            and fa.f + fb.f <= accum.f)


def accum_sound(kernel: AccumKernel, fa: Fixed, fb: Fixed, accum: Fixed, fused_casts: Iterable[Fixed] = ()) -> bool:
    """Whether ``kernel`` can run the accumulation of ``fa`` by ``fb`` into ``accum`` from the
    formats alone (the EXACT_* kernels need the caller's range proof as well, and are sound
    here when the formats allow them at all: native int64 storage for EXACT_F64/EXACT_I64).
    ``fused_casts``: the formats FUSED casts into after the accumulation."""
    kernel = AccumKernel(kernel)
    if kernel is AccumKernel.FUSED:
        casts = tuple(fused_casts)
        return (max(f.w for f in (fa, fb, accum) + casts) <= FUSED_MAX_W
                and all(f.q is not QMode.STOCH for f in (accum,) + casts))
    if kernel is AccumKernel.WRAP_GEMM:
        return exact_product_wraps(fa, fb, accum)
    if kernel in (AccumKernel.SEQUENTIAL, AccumKernel.EXACT_F64, AccumKernel.EXACT_I64):
        return max(fa.w, fb.w, accum.w) <= NATIVE_MAX_W and fa.w + fb.w <= PRODUCT_MAX_W
    return True  # WIDE, EXACT_GEMM: every width


def plan_accum(fa: Fixed, fb: Fixed, accum: Fixed, *, kernels: Collection[AccumKernel] = ALL_ACCUM_KERNELS,
               exact: AccumKernel | None = None, fused_casts: Iterable[Fixed] = (),
               api: str = "plan_accum") -> AccumKernel:
    """The kernel of an accumulator matmul of ``fa`` by ``fb`` stored integers into ``accum``.

    Args:
        fa, fb: the operands' formats (inputs and weights).
        accum: the accumulator format (with its q/o/n).
        kernels: the kernels the caller can run (default: all). The first sound one in the
            order FUSED, WRAP_GEMM, SEQUENTIAL, WIDE is returned.
        exact: an EXACT_* kernel the caller's range analysis proved sound (no cast of the
            sequence rounds or overflows; the caller owns the proof because it reads data or
            bias values). Returned as it is: an exact product beats every sequential kernel.
        fused_casts: the formats of the casts the FUSED kernel would apply after the
            accumulation (a result format, a fused activation's format); FUSED needs all of
            them within 63 bits and without STOCH. An identity cast: ``()``.
        api: names the caller in the error.

    Raises:
        ValueError: ``exact`` is not an EXACT_* kernel, or no kernel of ``kernels`` is sound
            for these formats (WIDE always is).

    The callers:

    - ``_matmul._matmul_accum`` (fx.matmul with accum): ``plan_accum(fa, fb, accum)``.
    - ``_matmul.linear_dense`` (fx.linear): ``plan_accum(fa, fb, accum)`` (its bias is the
      accumulator's first value, which every kernel takes).
    - ``nn.dense.dense_accum``: ``plan_accum(..., kernels={SEQUENTIAL, WIDE},
      exact=EXACT_GEMM if the accumulator holds every partial sum else None)``.
    - ``nn.dense.DenseOp``: ``kernels={FUSED, SEQUENTIAL}`` (FUSED only when the fused
      activation allows it), ``exact=`` its float64 / int64 proof, ``fused_casts=(res_t,)``.
    - the torch layers: ``kernels={SEQUENTIAL, WIDE}``.
    """
    if exact is not None:
        if exact not in EXACT_ACCUM_KERNELS:
            raise ValueError(f"{api}: exact must be one of {', '.join(k.name for k in sorted(EXACT_ACCUM_KERNELS))}"
                             f" or None, got {exact!r}")
        return AccumKernel(exact)
    fused_casts = tuple(fused_casts)
    for kernel in _ACCUM_PREFERENCE:
        if kernel in kernels and accum_sound(kernel, fa, fb, accum, fused_casts):
            return kernel
    offered = ", ".join(k.name for k in _ACCUM_PREFERENCE if k in kernels) or "none"
    raise ValueError(f"{api}: no accumulator kernel of {offered} takes inputs {fa}, weights {fb} and accumulator "
                     f"{accum} (FUSED: formats <= {FUSED_MAX_W} bits, no STOCH; SEQUENTIAL: formats <= "
                     f"{NATIVE_MAX_W} bits and a product of <= {PRODUCT_MAX_W} bits; WIDE: any)")
