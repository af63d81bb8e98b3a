"""The one boundary to the C++ extension ``fixedpoint._core``: no other module imports it.

Functions here take :class:`~fixedpoint.format.Fixed` formats (never ``(w, i, signed)`` triples
or mode-code tuples) and pass the extension C-contiguous buffers. The extension's own constants
are re-exported as they are: the operation codes (``ARITH_OPS``, ``WIDE_OPS``), the widest
natural result its 128-bit kernels hold (``ARITH_MAX_NATURAL_WIDTH``) and the rounding and
overflow mode codes (``Q_CODES``/``O_CODES``, built from the names the extension lists in code
order, so a mode added on one side and not the other fails at import instead of computing
wrongly). The extension checks dtypes, shapes and values itself, before releasing the GIL.

Format-free kernels (the integer GEMMs, the binary and sparse kernels, the runtime controls) are
re-exported unchanged.
"""

from __future__ import annotations

import numpy as np

from .format import Fixed, OMode, QMode

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "fixedpoint: the C++ extension fixedpoint._core could not be imported "
        f"({exc}). Was the extension built? Run `pip install .` (or the editable install "
        "from the README) in the source tree."
    ) from exc

# -- constants of the extension ---------------------------------------------------------------
ARITH_OPS: dict = _core.ARITH_OPS  # elementwise() / natural_format() operation codes
WIDE_OPS: dict = _core.WIDE_OPS  # wide_elementwise() operation codes
ARITH_MAX_NATURAL_WIDTH: int = _core.ARITH_MAX_NATURAL_WIDTH  # natural widths held in 128-bit integers
Q_CODES = {QMode(name): code for code, name in enumerate(_core.Q_MODES)}
O_CODES = {OMode(name): code for code, name in enumerate(_core.O_MODES)}
if set(Q_CODES) != set(QMode) or set(O_CODES) != set(OMode):  # pragma: no cover - a build mismatch
    raise ImportError(f"fixedpoint: the extension's modes {_core.Q_MODES} / {_core.O_MODES} differ from "
                      f"fixedpoint.QMode / OMode; rebuild the extension")

# -- format-free kernels and runtime controls, as the extension has them ----------------------
gemm_i16_pairs = _core.gemm_i16_pairs
gemm_i16 = _core.gemm_i16
gemm_i64 = _core.gemm_i64
gemm_i128 = _core.gemm_i128
gemm_csr_i64 = _core.gemm_csr_i64
gemm_bsr_i64 = _core.gemm_bsr_i64
xnor_gemm = _core.xnor_gemm
ternary_binary_gemm = _core.ternary_binary_gemm
binary_weight_gemm = _core.binary_weight_gemm
set_num_threads = _core.set_num_threads
get_num_threads = _core.get_num_threads
isa = _core.isa
best_isa = _core.best_isa
set_isa = _core.set_isa
known_isas = _core.known_isas
isa_features = _core.isa_features
ISA_EMULATED: bool = bool(getattr(_core, "isa_emulated", False))
COMPILER: str = getattr(_core, "compiler", "unknown")


def modes(fmt: Fixed) -> tuple:
    """``(w, i, signed, q, o, n)``: a format as the extension's kernels take a cast target."""
    return fmt.w, fmt.i, fmt.signed, Q_CODES[fmt.q], O_CODES[fmt.o], fmt.n


def _c(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, order="C")  # C-contiguous; keeps 0-d arrays 0-d (ascontiguousarray would not)


def _opt(x):
    return None if x is None else np.asarray(x, order="C")


# -- formats -----------------------------------------------------------------------------------
def natural_format(op: str, a: Fixed, b: Fixed) -> tuple[int, int, bool, int]:
    """``(w, i, signed, div_w)`` of ``a op b``'s natural result (``div_w``: the width of the
    header's division intermediate)."""
    return _core.natural_format(ARITH_OPS[op], a.w, a.i, a.signed, b.w, b.i, b.signed)


# -- quantization and casts -----------------------------------------------------------------
def quantize(x: np.ndarray, fmt: Fixed, seed: int, nan_ap: bool):
    """float32/float64 (or integer) ``x`` -> ``(stored int64, index of the first NaN or -1)``."""
    return _core.quantize(x, *modes(fmt), seed, nan_ap)


def cast(raw: np.ndarray, src: Fixed, dst: Fixed, seed: int = 0) -> np.ndarray:
    """Stored int64 of ``src`` -> stored int64 of ``dst`` (native formats)."""
    return _core.cast(_c(raw), src.w, src.i, src.signed, *modes(dst), seed)


def to_double(raw: np.ndarray, fmt: Fixed) -> np.ndarray:
    return _core.to_double(_c(raw), fmt.w, fmt.i, fmt.signed)


def wide_cast(limbs: np.ndarray, n: int, src: Fixed, dst: Fixed, seed: int) -> np.ndarray:
    """``n`` elements of ``src`` as uint64 limbs -> ``dst``'s limbs (any widths)."""
    return _core.wide_cast(_c(limbs), n, src.w, src.i, src.signed, modes(dst), seed)


def wide_from_double(x: np.ndarray, fmt: Fixed, seed: int) -> np.ndarray:
    return _core.wide_from_double(_c(x), modes(fmt), seed)


def wide_to_double(limbs: np.ndarray, n: int, fmt: Fixed) -> np.ndarray:
    return _core.wide_to_double(_c(limbs), n, fmt.w, fmt.i, fmt.signed)


# -- elementwise arithmetic and reductions ----------------------------------------------------
def elementwise(op: str, ra: np.ndarray, fa: Fixed, rb: np.ndarray, fb: Fixed, out: Fixed | None, seed: int,
                want_hi: bool):
    """``a op b`` on int64 raws of one shape: ``(lo, hi or None, flags)`` of the natural result
    (128-bit as lo/hi when ``want_hi``), or of its cast into ``out``. The raws may be strided
    views (stride 0 broadcasts an operand): they are passed as they are, not copied."""
    return _core.elementwise(ARITH_OPS[op], ra, fa.w, fa.i, fa.signed, rb, fb.w, fb.i, fb.signed,
                             None if out is None else modes(out), seed, want_hi)


def wide_elementwise(op: str, la: np.ndarray, step_a: int, fa: Fixed, lb: np.ndarray, step_b: int, fb: Fixed,
                     n: int, nat: Fixed, out: Fixed | None, seed: int) -> np.ndarray:
    """``a op b`` on limbs (``step``: 0 broadcasts one element) -> ``nat``'s limbs, or ``out``'s
    after the cast (``cmp``: int8 signs)."""
    return _core.wide_elementwise(WIDE_OPS[op], _c(la), step_a, fa.w, fa.i, fa.signed, _c(lb), step_b, fb.w, fb.i,
                                  fb.signed, n, nat.w, nat.i, nat.signed, None if out is None else modes(out), seed)


def wide_sum_rows(limbs: np.ndarray, fmt: Fixed, rows: int, k: int, out_w: int) -> np.ndarray:
    return _core.wide_sum_rows(_c(limbs), fmt.w, fmt.i, fmt.signed, rows, k, out_w)


# -- matrix products and layers ---------------------------------------------------------------
def wide_matmul(la: np.ndarray, fa: Fixed, lb: np.ndarray, fb: Fixed, m: int, k: int, n: int, out: Fixed):
    """The exact (M, K) @ (K, N) product on limbs, into ``out``'s width and signedness."""
    return _core.wide_matmul(_c(la), fa.w, fa.i, fa.signed, _c(lb), fb.w, fb.i, fb.signed, m, k, n, out.w,
                             out.signed)


def matmul_accum(x: np.ndarray, fx: Fixed, w: np.ndarray, fw: Fixed, accum: Fixed, bias, seed: int,
                 base: int) -> np.ndarray:
    """The sequential accumulation of (M, K) @ (K, N) int64 raws into ``accum`` (bias: accum
    raws or None; ``base``: the STOCH counter of the first product)."""
    return _core.matmul_accum(_c(x), fx.w, fx.i, fx.signed, _c(w), fw.w, fw.i, fw.signed, *modes(accum), _opt(bias),
                              seed, base)


def wide_matmul_accum(la: np.ndarray, fa: Fixed, lb: np.ndarray, fb: Fixed, m: int, k: int, n: int, accum: Fixed,
                      bias, seed: int, base: int) -> np.ndarray:
    """:func:`matmul_accum` on limbs, any width (the multi-limb kernel)."""
    return _core.wide_matmul_accum(_c(la), fa.w, fa.i, fa.signed, _c(lb), fb.w, fb.i, fb.signed, m, k, n,
                                   modes(accum), _opt(bias), seed, base)


def _post(post) -> dict:
    """The ``relu`` / ``post`` keywords for a fused activation ``(relu, res_t)`` (None: none)."""
    if post is None:
        return {}
    relu, res_t = post
    return {"relu": bool(relu), "post": modes(res_t)}


def dense_accum(x: np.ndarray, fx: Fixed, w: np.ndarray, fw: Fixed, accum: Fixed, bias, res: Fixed | None = None,
                post=None) -> np.ndarray:
    """The fused Dense kernel: the sequential accumulation into ``accum``, cast into ``res``
    (None: no cast, the accumulator's stored integers), then the fused activation ``post``
    ((relu, res_t) or None)."""
    res_modes = modes(res) if res is not None else (accum.w, accum.i, accum.signed, Q_CODES[QMode.TRN],
                                                    O_CODES[OMode.WRAP], 0)
    return _core.dense_accum(_c(x), fx.w, fx.i, fx.signed, _c(w), fw.w, fw.i, fw.signed, *modes(accum), _opt(bias),
                             *res_modes, **_post(post))


def conv_accum(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int, fx: Fixed, w: np.ndarray,
               fw: Fixed, accum: Fixed, bias, res: Fixed, pad: tuple, post=None) -> np.ndarray:
    """The fused Conv2D kernel (im2col-free), as :func:`dense_accum` per output pixel."""
    return _core.conv_accum(_c(x), kh, kw, sh, sw, oh, ow, fx.w, fx.i, fx.signed, _c(w), fw.w, fw.i, fw.signed,
                            *modes(accum), _opt(bias), *modes(res), pad=tuple(pad), **_post(post))


def max_pool(x: np.ndarray, ph: int, pw: int, sh: int, sw: int, pad: tuple, fill: int, fmt: Fixed) -> np.ndarray:
    return _core.max_pool(_c(x), ph, pw, sh, sw, tuple(pad), int(fill), fmt.w, fmt.signed)
