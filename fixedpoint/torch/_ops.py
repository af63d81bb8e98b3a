"""Every torch op of fixedpoint: one namespace (``fixedpoint``), one file.

Ops (``torch.ops.fixedpoint.*``):

``quantize_fixed(Tensor x, str fmt, int? seed, str ste, str nan) -> Tensor``
    Fake-quantize ``x`` into the ap_fixed format ``fmt`` (a type string). Equal to
    ``fx.array(x, fmt, seed=seed).to_float()`` rounded to ``x.dtype``. ``ste`` picks the
    backward: ``"identity"`` or ``"clipped"``.
``quantize_scaled(Tensor x, Tensor scale, str fmt, int? seed, str nan) -> Tensor``
    ``scale * Q(x / scale)`` with a learnable (per-tensor or broadcast per-channel) scale:
    the LSQ-style straight-through estimator (see ``docs/torch.md``).
``quantize_affine(Tensor x, Tensor scale, Tensor zero_point, int axis, int qmin, int qmax,
str q, int? seed, str nan) -> Tensor``
    Affine integer fake quantization ``r = S (q - Z)``, ``q = clamp(round_q(x / S) + Z,
    qmin, qmax)``, per tensor or per channel (along ``axis``).

On CPU tensors the forward calls the C++ core through zero-copy NumPy views. On other
devices (or after ``set_backend("torch")``) it runs :mod:`fixedpoint.torch._kernels`, pure
torch tensor code with the same semantics. Seeds are 64-bit: ops take them as int64 (two's
complement); ``None`` draws fresh entropy on every call.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Iterator
from typing import Optional

import torch
from torch import Tensor

from .. import _backend as _cpp  # the C++ core's boundary (this module's _backend is the torch setting)
from .._storage import _as_format, _seed_for
from ..quantize import _nan_error
from ..format import Fixed, QMode
from . import _kernels

__all__ = [
    "quantize",
    "quantize_scaled",
    "quantize_affine",
    "set_backend",
    "get_backend",
    "use_backend",
    "STE_MODES",
]

NAMESPACE = "fixedpoint"
STE_MODES = ("identity", "clipped", "lsq")
_BACKENDS = ("auto", "torch")
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_backend = "auto"


# ------------------------------------------------------------------------------------------
# backend selection
def set_backend(name: str) -> None:
    """``"auto"`` (default): the C++ core for CPU tensors, torch tensor ops elsewhere.
    ``"torch"``: torch tensor ops everywhere (the non-CPU path, testable on CPU).

    Both backends give the same bits wherever both can compute the format.

    Raises:
        ValueError: ``name`` is not ``"auto"`` or ``"torch"``.
    """
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"fxt.set_backend: backend must be one of {', '.join(_BACKENDS)}, got {name!r}")
    _backend = name


def get_backend() -> str:
    """The backend in use, ``"auto"`` or ``"torch"`` (see :func:`set_backend`). Never raises."""
    return _backend


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """``with fxt.use_backend("torch"): ...`` runs the block with that backend, then restores
    the previous one (also when the block raises).

    Raises:
        ValueError: ``name`` is not ``"auto"`` or ``"torch"``.
    """
    old = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(old)


def _use_core(x: Tensor) -> bool:
    return _backend == "auto" and x.device.type == "cpu"


# ------------------------------------------------------------------------------------------
# validation and helpers
_PARSED: dict = {}  # type string -> Fixed; a plain dict, not functools.lru_cache, which Dynamo warns about


def _parse(fmt: str) -> Fixed:
    fixed = _PARSED.get(fmt)
    if fixed is None:
        fixed = Fixed.parse(fmt)
        if len(_PARSED) < 512:
            _PARSED[fmt] = fixed
    return fixed


def _format_arg(fmt, api: str) -> Fixed:
    fmt = _parse(fmt) if isinstance(fmt, str) else _as_format(fmt, api)
    if fmt.w > 64:
        raise ValueError(f"{api}: torch ops support formats with w <= 64, got {fmt}")
    return fmt


def _check_float(x, api: str, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{api}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{api}: {name} must be a floating-point tensor (float16, bfloat16, float32 or float64), "
            f"got {x.dtype}"
        )


def _check_same_device(api: str, x: Tensor, **others: Tensor) -> None:
    for name, t in others.items():
        if t.device != x.device:
            raise ValueError(f"{api}: {name} is on {t.device} but x is on {x.device}; move them to one device")


def _check_nan(nan: str, api: str) -> None:
    if nan not in ("raise", "ap"):
        raise ValueError(f"{api}: nan must be 'raise' or 'ap', got {nan!r}")


def _seed_to_op(fmt_q_stoch: bool, seed, api: str) -> Optional[int]:
    """Python seed (None or [0, 2**64)) -> the int64 the op schema carries."""
    if seed is None:
        return None
    seed = _seed_for(Fixed(1, 1, q="STOCH") if fmt_q_stoch else Fixed(1, 1), seed, api)
    return seed - (1 << 64) if seed >= 1 << 63 else seed


def _seed_from_op(seed: Optional[int], stoch: bool) -> int:
    if seed is None:
        return secrets.randbits(64) if stoch else 0
    return seed + (1 << 64) if seed < 0 else seed


def _compute_dtype(x: Tensor) -> Tensor:
    """float16/bfloat16 are quantized through float32 (exact)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _first_nan(x: Tensor) -> int:
    flat = torch.isnan(x.reshape(-1))
    if not bool(flat.any()):
        return -1
    return int(flat.nonzero()[0, 0])


def _exact_fast(fmt: Fixed, dtype: torch.dtype) -> bool:
    """raw.to(dtype) * 2**-f is exact for every value of fmt (no float64 round trip needed)."""
    if dtype == torch.float32:
        return fmt.w <= 24 and -127 + fmt.w <= fmt.f <= 126
    if dtype == torch.float64:
        return fmt.w <= 53 and -1023 + fmt.w <= fmt.f <= 1022
    return False


def _quantize_values(x: Tensor, fmt: Fixed, seed: int, nan: str, api: str) -> Tensor:
    """The forward of every op: values of fx.array(x, fmt, seed) in x's (compute) dtype.
    x is float32 or float64."""
    if _use_core(x):
        a = x.detach().contiguous().numpy()
        raw, first = _cpp.quantize(a, fmt, seed, nan == "ap")
        if first >= 0:
            raise _nan_error(api, first, tuple(x.shape), fmt)
        r = torch.from_numpy(raw)
        if _exact_fast(fmt, x.dtype):
            return r.to(x.dtype).mul_(math.ldexp(1.0, -fmt.f))
        return torch.from_numpy(_cpp.to_double(raw, fmt)).to(x.dtype)
    why = _kernels.torch_supports(fmt)
    if why is not None:
        raise NotImplementedError(f"{api}: the torch backend cannot compute this format: {why}")
    if nan == "raise":
        k = _first_nan(x)
        if k >= 0:
            raise _nan_error(api, k, tuple(x.shape), fmt)
    raw = _kernels.quantize_raw(x.detach(), fmt, seed)
    return _kernels.raw_to_float(raw, fmt, x.dtype)


def _reduce_to(g: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient back to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.dim() - len(shape)
    dims = list(range(lead)) + [lead + k for k, s in enumerate(shape) if s == 1 and g.shape[lead + k] != 1]
    out = g.sum(dim=dims, keepdim=True) if dims else g
    return out.reshape(shape)


def _clip_mask(x: Tensor, fmt: Fixed) -> Tensor:
    xc = _compute_dtype(x)
    a, a_inc, b, b_inc = _kernels.in_range_mask_bounds(fmt, xc.dtype)
    return _kernels.mask_between(xc, a, a_inc, b, b_inc)


# ------------------------------------------------------------------------------------------
# quantize_fixed
@torch.library.custom_op(f"{NAMESPACE}::quantize_fixed", mutates_args=())
def quantize_fixed(x: Tensor, fmt: str, seed: Optional[int], ste: str, nan: str) -> Tensor:
    api = "fxt.quantize"
    f = _parse(fmt)
    _check_float(x, api)
    _check_nan(nan, api)
    xc = _compute_dtype(x)
    return _quantize_values(xc, f, _seed_from_op(seed, f.q is QMode.STOCH), nan, api).to(x.dtype)


@quantize_fixed.register_fake
def _(x, fmt, seed, ste, nan):
    _check_float(x, "fxt.quantize")
    return torch.empty_like(x)


def _quantize_fixed_setup(ctx, inputs, output):
    x, fmt, _seed, ste, _nan = inputs
    ctx.fmt = fmt
    ctx.ste = ste
    ctx.save_for_backward(x if ste == "clipped" else None)


def _quantize_fixed_backward(ctx, grad):
    if ctx.ste == "clipped":
        (x,) = ctx.saved_tensors
        # a multiply (not a select), as torch's fake_quantize: masked negative gradients are -0.0
        grad = grad * _clip_mask(x, _parse(ctx.fmt)).to(grad.dtype)
    return grad, None, None, None, None


quantize_fixed.register_autograd(_quantize_fixed_backward, setup_context=_quantize_fixed_setup)


# ------------------------------------------------------------------------------------------
# quantize_scaled (LSQ)
@torch.library.custom_op(f"{NAMESPACE}::quantize_scaled", mutates_args=())
def quantize_scaled_op(x: Tensor, scale: Tensor, fmt: str, seed: Optional[int], nan: str) -> Tensor:
    api = "fxt.quantize_scaled"
    f = _parse(fmt)
    _check_scaled_args(x, scale, api)
    _check_nan(nan, api)
    xc = _compute_dtype(x)
    s = scale.detach().to(xc.dtype)
    if not bool((s > 0).all()):
        raise ValueError(f"{api}: scale must be positive and finite, got min {float(s.min())}")
    v = torch.broadcast_to(xc / s, xc.shape).contiguous()
    qv = _quantize_values(v, f, _seed_from_op(seed, f.q is QMode.STOCH), nan, api)
    return (qv * s).to(x.dtype)


def _check_scaled_args(x, scale, api: str) -> None:
    _check_float(x, api)
    _check_float(scale, api, "scale")
    _check_same_device(api, x, scale=scale)
    try:
        shape = torch.broadcast_shapes(x.shape, scale.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"{api}: scale of shape {tuple(scale.shape)} must broadcast to x's shape {tuple(x.shape)}"
        )


@quantize_scaled_op.register_fake
def _(x, scale, fmt, seed, nan):
    _check_scaled_args(x, scale, "fxt.quantize_scaled")
    return torch.empty_like(x)


def _quantize_scaled_setup(ctx, inputs, output):
    x, scale, fmt, _seed, _nan = inputs
    ctx.fmt = fmt
    ctx.save_for_backward(x, scale, output)


def _quantize_scaled_backward(ctx, grad):
    x, scale, out = ctx.saved_tensors
    f = _parse(ctx.fmt)
    xc = _compute_dtype(x)
    s = scale.to(xc.dtype)
    inside = _clip_mask(xc / s, f)
    gx = gs = None
    if ctx.needs_input_grad[0]:
        gx = (grad * inside.to(grad.dtype)).to(x.dtype)
    if ctx.needs_input_grad[1]:
        # d out / d s = Q(x/s) - [in range] x/s = (out - [in range] x) / s
        d = (_compute_dtype(out) - torch.where(inside, xc, torch.zeros_like(xc))) / s
        gs = _reduce_to(_compute_dtype(grad) * d, scale.shape).to(scale.dtype)
    return gx, gs, None, None, None


quantize_scaled_op.register_autograd(_quantize_scaled_backward, setup_context=_quantize_scaled_setup)


# ------------------------------------------------------------------------------------------
# quantize_affine (Jacob et al.: r = S (q - Z))
def _affine_views(x: Tensor, scale: Tensor, zero_point: Tensor, axis: int):
    """scale and zero_point shaped to broadcast against x (per tensor or along axis)."""
    if scale.dim() == 0:
        return scale, zero_point
    shape = [1] * x.dim()
    shape[axis] = -1
    return scale.reshape(shape), zero_point.reshape(shape)


def _check_affine_args(x, scale, zero_point, axis: int, qmin: int, qmax: int, q: str, api: str) -> None:
    _check_float(x, api)
    _check_float(scale, api, "scale")
    if not isinstance(zero_point, Tensor) or zero_point.dtype.is_complex or zero_point.dtype == torch.bool:
        raise TypeError(f"{api}: zero_point must be an integer or float tensor, got "
                        f"{getattr(zero_point, 'dtype', type(zero_point).__name__)}")
    _check_same_device(api, x, scale=scale, zero_point=zero_point)
    if scale.shape != zero_point.shape:
        raise ValueError(f"{api}: scale and zero_point must have one shape, got {tuple(scale.shape)} "
                         f"and {tuple(zero_point.shape)}")
    if scale.dim() > 1:
        raise ValueError(f"{api}: scale must be 0-d (per tensor) or 1-d (per channel), got shape {tuple(scale.shape)}")
    if scale.dim() == 1:
        if not -x.dim() <= axis < x.dim():
            raise ValueError(f"{api}: axis {axis} is out of range for x with {x.dim()} dimensions")
        if x.shape[axis] != scale.shape[0]:
            raise ValueError(f"{api}: per-channel scale has {scale.shape[0]} entries but x has "
                             f"{x.shape[axis]} channels along axis {axis}")
    if not qmin < qmax:
        raise ValueError(f"{api}: need qmin < qmax, got qmin={qmin} qmax={qmax}")
    _q_mode(q, api)


def _q_mode(q, api: str) -> QMode:
    try:
        return Fixed(1, 1, q=q).q
    except ValueError:
        allowed = ", ".join(m.value for m in QMode)
        raise ValueError(f"{api}: unknown rounding mode {q!r}; allowed: {allowed}") from None


@torch.library.custom_op(f"{NAMESPACE}::quantize_affine", mutates_args=())
def quantize_affine_op(x: Tensor, scale: Tensor, zero_point: Tensor, axis: int, qmin: int, qmax: int, q: str,
                       seed: Optional[int], nan: str) -> Tensor:
    api = "fxt.quantize_affine"
    _check_affine_args(x, scale, zero_point, axis, qmin, qmax, q, api)
    _check_nan(nan, api)
    fmt = Fixed(64, 64, q=q, o="SAT")
    wide = torch.float32 if _kernels._no_float64(x.device) else torch.float64
    s, z = _affine_views(x, scale.detach().to(wide), _zero_point_int(zero_point.detach()), axis)
    if not bool((s > 0).all()):
        raise ValueError(f"{api}: scale must be positive and finite, got min {float(s.min())}")
    v = torch.broadcast_to(x.detach().to(wide) / s, x.shape).contiguous()
    if _use_core(v):
        raw, first = _cpp.quantize(v.numpy(), fmt, _seed_from_op(seed, fmt.q is QMode.STOCH), nan == "ap")
        if first >= 0:
            raise _nan_error(api, first, tuple(x.shape), fmt)
        r = torch.from_numpy(raw)
    else:
        if nan == "raise":
            k = _first_nan(v)
            if k >= 0:
                raise _nan_error(api, k, tuple(x.shape), fmt)
        r = _kernels.quantize_raw(v, fmt, _seed_from_op(seed, fmt.q is QMode.STOCH))
    r = torch.clamp(r, qmin - z, qmax - z)  # q - Z, with q = clamp(R + Z, qmin, qmax)
    return (r.to(wide) * s).to(x.dtype)


def _zero_point_int(z: Tensor) -> Tensor:
    """Integer zero points (float zero points are rounded half to even, as torch does)."""
    if z.dtype.is_floating_point:
        z = torch.round(z)
    return z.to(torch.int64)


@quantize_affine_op.register_fake
def _(x, scale, zero_point, axis, qmin, qmax, q, seed, nan):
    _check_affine_args(x, scale, zero_point, axis, qmin, qmax, q, "fxt.quantize_affine")
    return torch.empty_like(x)


def _affine_mask(v: Tensor, q: QMode, lo: Tensor, hi: Tensor) -> Tensor:
    """Whether round_q(v) lands in [lo, hi] (per element; bounds exact below 2**52)."""
    if q is QMode.TRN:
        return (v >= lo) & (v < hi + 1)
    if q is QMode.TRN_ZERO:
        return (v > lo - 1) & (v < hi + 1)
    if q is QMode.STOCH:
        return (v >= lo) & (v <= hi)
    a, b = lo - 0.5, hi + 0.5
    if q is QMode.RND:
        return (v >= a) & (v < b)
    if q is QMode.RND_ZERO:
        return (v >= a) & (v <= b)
    if q is QMode.RND_MIN_INF:
        return (v > a) & (v <= b)
    if q is QMode.RND_INF:
        return (v > a) & (v < b)
    # RND_CONV: a tie rounds into range iff the bound next to it is even
    lo_even = torch.remainder(lo, 2) == 0
    hi_even = torch.remainder(hi, 2) == 0
    return torch.where(lo_even, v >= a, v > a) & torch.where(hi_even, v <= b, v < b)


def _quantize_affine_setup(ctx, inputs, output):
    x, scale, zero_point, axis, qmin, qmax, q, _seed, _nan = inputs
    ctx.axis, ctx.qmin, ctx.qmax, ctx.q = axis, qmin, qmax, q
    ctx.save_for_backward(x, scale, zero_point, output)


def _quantize_affine_backward(ctx, grad):
    x, scale, zero_point, out = ctx.saved_tensors
    wide = torch.float32 if _kernels._no_float64(x.device) else torch.float64
    s, z = _affine_views(x, scale.to(wide), _zero_point_int(zero_point), ctx.axis)
    v = x.to(wide) / s
    zf = z.to(wide)
    inside = _affine_mask(v, QMode(ctx.q), ctx.qmin - zf, ctx.qmax - zf)
    g = grad.to(wide)
    gx = gs = gz = None
    if ctx.needs_input_grad[0]:
        gx = (g * inside).to(x.dtype)
    if ctx.needs_input_grad[1]:
        d = (out.to(wide) - torch.where(inside, x.to(wide), torch.zeros_like(v))) / s
        gs = _reduce_to(g * d, s.shape).reshape(scale.shape).to(scale.dtype)
    if ctx.needs_input_grad[2] and zero_point.dtype.is_floating_point:
        dz = torch.where(inside, torch.zeros_like(v), -s.expand_as(v))
        gz = _reduce_to(g * dz, s.shape).reshape(zero_point.shape).to(zero_point.dtype)
    return gx, gs, gz, None, None, None, None, None, None


quantize_affine_op.register_autograd(_quantize_affine_backward, setup_context=_quantize_affine_setup)


# ------------------------------------------------------------------------------------------
# public Python API
def quantize(x: Tensor, fmt, seed=None, ste: str = "identity", *, nan: str = "raise", scale: Tensor | None = None,
             frac_bits: Tensor | None = None) -> Tensor:
    """Fake-quantize ``x`` into the ap_fixed format ``fmt`` (``w <= 64``).

    The result equals ``fx.array(x, fmt, seed=seed).to_float()`` (the exact float64 value)
    rounded to ``x.dtype``; it is exact whenever the format's values fit the dtype
    (``w <= 24`` for float32, ``w <= 53`` for float64). float16/bfloat16 go through float32.

    ste: the backward pass.
      ``"identity"``: ``dL/dx = dL/dy``.
      ``"clipped"``: ``dL/dx = dL/dy`` where the rounded value did not overflow ``fmt``,
      0 elsewhere (PyTorch's masked straight-through estimator).
      ``"lsq"``: learnable step. Give ``scale`` (a positive tensor broadcastable to ``x``):
      ``y = scale * Q(x / scale)``; or ``frac_bits`` (a float tensor): the fraction bits,
      rounded in the forward, ``y = 2**-k Q(2**k x)`` with ``k = round(frac_bits) - fmt.f``
      -- exactly ``fx.array(x, fmt.replace(i=fmt.w - round(frac_bits)))``. See docs/torch.md
      for the gradients.
    seed: for ``q="STOCH"``: an int in [0, 2**64) (element k draws the counter-based word
      for (seed, k)); ``None`` draws fresh entropy on every call.
    nan: ``"raise"`` (default; ValueError naming the first NaN's index) or ``"ap"``
      (ap_fixed's reading of NaN as a huge value).

    Raises:
        TypeError: ``x`` (or ``frac_bits``) is not a floating-point tensor; ``fmt`` is not a
            format; ``seed`` is not an int.
        ValueError: ``fmt`` does not parse or is wider than 64 bits; ``ste`` or ``nan`` is
            not one of the allowed values; ``ste="lsq"`` without exactly one of ``scale`` and
            ``frac_bits``, or either of them without ``ste="lsq"``; a NaN with
            ``nan="raise"``; ``seed`` outside [0, 2**64); a non-positive or non-finite
            ``scale``; tensors on different devices.
        NotImplementedError: the ``"torch"`` backend cannot compute this format exactly
            (the message says why; the CPU core can).
    """
    api = "fxt.quantize"
    fmt = _format_arg(fmt, api)
    if ste not in STE_MODES:
        raise ValueError(f"{api}: ste must be one of {', '.join(STE_MODES)}, got {ste!r}")
    _check_float(x, api)
    _check_nan(nan, api)
    op_seed = _seed_to_op(fmt.q is QMode.STOCH, seed, api)
    if ste == "lsq":
        if (scale is None) == (frac_bits is None):
            raise ValueError(f"{api}: ste='lsq' needs exactly one of scale= or frac_bits=")
        if frac_bits is not None:
            _check_float(frac_bits, api, "frac_bits")
            rounded = frac_bits + (torch.round(frac_bits) - frac_bits).detach()  # straight-through round
            scale = torch.exp2(fmt.f - rounded)
        return torch.ops.fixedpoint.quantize_scaled(x, scale.to(x.dtype) if scale.dtype != x.dtype else scale,
                                                    str(fmt), op_seed, nan)
    if scale is not None or frac_bits is not None:
        raise ValueError(f"{api}: scale= and frac_bits= need ste='lsq', got ste={ste!r}")
    return torch.ops.fixedpoint.quantize_fixed(x, str(fmt), op_seed, ste, nan)


def quantize_scaled(x: Tensor, scale: Tensor, fmt, seed=None, *, nan: str = "raise") -> Tensor:
    """``scale * Q_fmt(x / scale)`` with the LSQ gradients (``fxt.quantize(..., ste="lsq")``).

    ``x / scale`` is computed in float64 and quantized once; exact as :func:`quantize` when
    ``scale`` is a power of two.

    Raises:
        TypeError: ``x`` is not a floating-point tensor; ``fmt`` is not a format; ``seed`` is
            not an int.
        ValueError: ``fmt`` does not parse or is wider than 64 bits; ``scale`` is not positive
            and finite, does not broadcast to ``x`` or is on another device; ``nan`` is not
            ``"raise"``/``"ap"``; a NaN with ``nan="raise"``; ``seed`` outside [0, 2**64).
    """
    api = "fxt.quantize_scaled"
    fmt = _format_arg(fmt, api)
    _check_nan(nan, api)
    return torch.ops.fixedpoint.quantize_scaled(x, scale, str(fmt), _seed_to_op(fmt.q is QMode.STOCH, seed, api),
                                                nan)


def quantize_affine(x: Tensor, scale, zero_point=0, qmin: int = -128, qmax: int = 127, q="RND_CONV", *,
                    axis: int = 0, seed=None, nan: str = "raise") -> Tensor:
    """Affine integer fake quantization (Jacob et al. 2018): ``S * (q - Z)`` with
    ``q = clamp(round_q(x / S) + Z, qmin, qmax)``.

    ``scale``/``zero_point``: numbers or 0-d tensors (per tensor), or 1-d tensors of
    length ``x.shape[axis]`` (per channel). ``x / S`` and ``(q - Z) * S`` are computed in
    float64 and the result is rounded to ``x.dtype``. ``q`` is any rounding mode, STOCH
    included (``seed`` as in :func:`quantize`). Gradients: ``x`` gets the clipped STE;
    a floating ``scale`` gets LSQ's ``q - Z - [in range] x/S``; a floating
    ``zero_point`` gets ``-S`` where clamped (the learnable fake-quant of PyTorch).

    With ``q="RND_CONV"`` the forward equals ``torch.fake_quantize_per_tensor_affine`` /
    ``_per_channel_affine`` wherever ``x / S`` is exact in float32.

    Raises:
        TypeError: ``x`` is not a floating-point tensor; ``qmin``, ``qmax`` or ``axis`` is not
            an int; ``zero_point`` is not an integer or float tensor; ``seed`` is not an int.
        ValueError: ``scale`` is not positive and finite; ``scale`` and ``zero_point`` differ
            in shape or are neither 0-d nor 1-d of length ``x.shape[axis]``; ``axis`` is out
            of range; ``qmin >= qmax``; ``q`` is not a rounding mode; ``nan`` is not allowed
            or a NaN meets ``nan="raise"``.
    """
    api = "fxt.quantize_affine"
    _check_float(x, api)
    if not isinstance(scale, Tensor):
        scale = torch.tensor(float(scale), dtype=torch.float64, device=x.device)
    if not isinstance(zero_point, Tensor):
        zero_point = torch.tensor(int(zero_point), dtype=torch.int64, device=x.device)
    for name, v in (("qmin", qmin), ("qmax", qmax), ("axis", axis)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{api}: {name} must be an int, got {v!r}")
    q = _q_mode(q, api).value
    _check_nan(nan, api)
    op_seed = _seed_to_op(q == "STOCH", seed, api)
    return torch.ops.fixedpoint.quantize_affine(x, scale, zero_point, axis, qmin, qmax, q, op_seed, nan)

