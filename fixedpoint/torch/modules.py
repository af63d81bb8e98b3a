"""Quantized torch modules built on the ``fixedpoint`` ops, and model-level helpers.

* :class:`FixedQuantizer`: a module around :func:`fixedpoint.torch.quantize` (optionally
  with a learnable step, ``ste="lsq"``).
* :class:`QuantLinear`, :class:`QuantConv1d`, :class:`QuantConv2d`: weight, bias, input and
  output formats; an optional accumulator format is emulated exactly in eval mode.
* :class:`QuantReLU`, :class:`QuantAct`: an activation followed by a quantizer.
* :func:`quantize_model`, :func:`model_formats`, :func:`export_integer_weights`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _backend
from .._matmul import _matmul_accum_wide
from .._plan import AccumKernel, plan_accum
from .._storage import _as_format, _seed_for
from ..array import FixedArray
from ..quantize import array
from ..format import Fixed
from ._ops import STE_MODES, _check_float, _format_arg, quantize

__all__ = [
    "FixedQuantizer",
    "QuantLinear",
    "QuantConv1d",
    "QuantConv2d",
    "QuantReLU",
    "QuantAct",
    "quantize_model",
    "model_formats",
    "export_integer_weights",
]

_ROLES = ("weight", "bias", "input", "output", "accum")
_LAYER_STE = ("identity", "clipped")


def _opt_format(fmt, api: str) -> Fixed | None:
    return None if fmt is None else _format_arg(fmt, api)


def _opt_accum_format(fmt, api: str) -> Fixed | None:
    """An accumulator format: any width (wider than 64 bits, the multi-limb kernel runs)."""
    return None if fmt is None else _as_format(fmt, api)


_ACCUM_KERNELS = frozenset({AccumKernel.SEQUENTIAL, AccumKernel.WIDE})


def _check_ste(ste: str, api: str, allowed=_LAYER_STE) -> str:
    if ste not in allowed:
        raise ValueError(f"{api}: ste must be one of {', '.join(allowed)}, got {ste!r}")
    return ste


class FixedQuantizer(nn.Module):
    """Fake-quantize into ``fmt``: ``fxt.quantize(x, fmt, seed, ste)``.

    ``ste="lsq"`` makes the step learnable: ``learn="frac_bits"`` (default) adds a parameter
    ``frac_bits`` (initialised to ``fmt.f``; the forward rounds it, so the result is exactly
    an ap_fixed format of width ``fmt.w``), ``learn="scale"`` a positive ``scale``
    (initialised to 1). ``shape`` gives the parameter's shape, broadcastable to the input
    (``()`` per tensor, e.g. ``(C, 1)`` per output channel of a Linear weight).

    The forward equals ``fx.array(x, fmt).to_float()`` rounded to ``x.dtype`` (exact when
    the format fits the dtype), as :func:`fixedpoint.torch.quantize`.

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``seed`` is not an int; the
            forward's input is not a floating-point tensor.
        ValueError: ``fmt`` does not parse or is wider than 64 bits; ``ste`` is not one of
            ``STE_MODES``; ``learn`` is not ``"frac_bits"``/``"scale"``; ``seed`` outside
            [0, 2**64); the forward's input holds a NaN with ``nan="raise"``.
    """

    def __init__(self, fmt, ste: str = "identity", seed=None, *, nan: str = "raise", learn: str = "frac_bits",
                 shape=()) -> None:
        super().__init__()
        api = "fxt.FixedQuantizer"
        self.fmt = _format_arg(fmt, api)
        self.ste = _check_ste(ste, api, STE_MODES)
        self.seed = None if seed is None else _seed_for(self.fmt, seed, api)
        self.nan = nan
        self.learn = None
        if ste == "lsq":
            if learn == "frac_bits":
                self.frac_bits = nn.Parameter(torch.full(tuple(shape), float(self.fmt.f)))
            elif learn == "scale":
                self.scale = nn.Parameter(torch.ones(tuple(shape)))
            else:
                raise ValueError(f"{api}: learn must be 'frac_bits' or 'scale', got {learn!r}")
            self.learn = learn

    def forward(self, x: Tensor) -> Tensor:
        if self.learn == "frac_bits":
            return quantize(x, self.fmt, self.seed, "lsq", nan=self.nan, frac_bits=self.frac_bits)
        if self.learn == "scale":
            return quantize(x, self.fmt, self.seed, "lsq", nan=self.nan, scale=self.scale)
        return quantize(x, self.fmt, self.seed, self.ste, nan=self.nan)

    def effective_format(self) -> Fixed:
        """The ap_fixed format the forward uses (``frac_bits`` learned per tensor).

        Raises:
            ValueError: ``frac_bits`` is per channel (one format per entry), or the step is a
                learned ``scale`` (not a power of two in general).
        """
        if self.learn == "frac_bits":
            if self.frac_bits.numel() != 1:
                raise ValueError("FixedQuantizer.effective_format: frac_bits is per channel; one format per entry")
            f = int(torch.round(self.frac_bits.detach()).item())
            return self.fmt.replace(i=self.fmt.w - f)
        if self.learn == "scale":
            raise ValueError("FixedQuantizer.effective_format: a learned scale is not a power of two in general")
        return self.fmt

    def extra_repr(self) -> str:
        s = f"fmt={self.fmt}, ste={self.ste!r}"
        if self.learn:
            s += f", learn={self.learn!r}"
        return s


class _QuantLayer:
    """Shared by QuantLinear/QuantConv*: formats, quantizers, state, export."""

    formats: dict
    ste: str
    seed: int | None

    def _init_quant(self, api: str, weight_fmt, bias_fmt, input_fmt, output_fmt, accum_fmt, ste, seed) -> None:
        self.formats = {
            "weight": _opt_format(weight_fmt, api),
            "bias": _opt_format(bias_fmt, api),
            "input": _opt_format(input_fmt, api),
            "output": _opt_format(output_fmt, api),
            "accum": _opt_accum_format(accum_fmt, api),
        }
        self.ste = _check_ste(ste, api)
        self.seed = None if seed is None else _seed_for(Fixed(1, 1, q="STOCH"), seed, api)
        self._check_accum_config(api)

    def _check_accum_config(self, api: str) -> None:
        """An ``accum_fmt`` is used in eval mode only; refuse a configuration eval cannot run
        when the layer is built, not after training."""
        if self.formats["accum"] is None:
            return
        missing = [k + "_fmt" for k in ("input", "weight") if self.formats[k] is None]
        if missing:
            raise ValueError(f"{api}: accum_fmt needs input_fmt and weight_fmt (the accumulator adds products of "
                             f"quantized inputs and weights in eval mode); missing {', '.join(missing)}")
        if isinstance(self, _QuantConvNd):
            if self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str):
                raise NotImplementedError(
                    f"{api}: accumulator emulation supports groups=1, padding_mode='zeros' and numeric padding; got "
                    f"groups={self.groups}, padding_mode={self.padding_mode!r}, padding={self.padding!r}"
                )
            if self.formats["input"].w > 53:
                raise NotImplementedError(
                    f"{api}: accumulator emulation needs input_fmt.w <= 53, got {self.formats['input']}")

    def _q(self, t: Tensor | None, role: str) -> Tensor | None:
        fmt = self.formats[role]
        if t is None or fmt is None:
            return t
        return quantize(t, fmt, self.seed, self.ste)

    def _quant_extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.formats.items() if v is not None)

    # formats travel with the state dict
    def get_extra_state(self):
        return {"formats": {k: (None if v is None else str(v)) for k, v in self.formats.items()}, "ste": self.ste}

    def set_extra_state(self, state) -> None:
        fm = state["formats"]
        self.formats = {k: (None if fm.get(k) is None else Fixed.parse(fm[k])) for k in _ROLES}
        self.ste = state.get("ste", "identity")
        self._check_accum_config(f"fxt.{type(self).__name__}.load_state_dict")

    def _need_accum_formats(self, api: str) -> tuple[Fixed, Fixed, Fixed]:
        fin, fw, facc = self.formats["input"], self.formats["weight"], self.formats["accum"]
        if fin is None or fw is None:
            raise ValueError(f"{api}: accumulator emulation (eval mode with accum_fmt) needs input_fmt and weight_fmt")
        return fin, fw, facc

    def _accum_matmul(self, xa: FixedArray, weight2d: Tensor, bias: Tensor | None, api: str) -> FixedArray:
        """(M, K) inputs @ (N, K) weights^T into the accumulator, bias first (hls4ml order), by
        the kernel :func:`fixedpoint._plan.plan_accum` picks: the sequential C++ kernel, or the
        multi-limb one for accumulators wider than 64 bits and products wider than 126 bits."""
        fin, fw, facc = self._need_accum_formats(api)
        kernel = plan_accum(fin, fw, facc, kernels=_ACCUM_KERNELS, api=api)
        wa = array(_np(weight2d), fw, seed=self.seed)
        bacc = None
        if bias is not None:
            fb = self.formats["bias"]
            b = array(_np(bias), fb, seed=self.seed) if fb is not None else array(_np(bias), facc.replace(q="TRN"))
            bacc = b.cast(facc, seed=self.seed)
        seed = _seed_for(facc, self.seed, api)
        if kernel is AccumKernel.WIDE:
            raw = _matmul_accum_wide(xa._raw, fin, wa._raw.T, fw, facc, seed, 0, None if bacc is None else bacc._raw)
            return FixedArray(np.ascontiguousarray(raw), facc, _trusted=True)
        braw = None if bacc is None else np.ascontiguousarray(bacc.raw, dtype=np.int64)
        raw = _backend.matmul_accum(xa.raw, fin, wa.raw.T, fw, facc, braw, seed, 0)
        return FixedArray(raw, facc, _trusted=True)

    def _finish_accum(self, acc: FixedArray, like: Tensor) -> Tensor:
        out = self.formats["output"]
        if out is not None:
            acc = acc.cast(out, seed=self.seed)
        return torch.from_numpy(acc.to_float()).to(dtype=like.dtype, device=like.device)

    def integer_weights(self, prefix: str = "") -> dict:
        out = {}
        for role in ("weight", "bias"):
            t = getattr(self, role, None)
            fmt = self.formats[role]
            if t is not None and fmt is not None:
                out[prefix + role] = array(_np(t), fmt, seed=self.seed)
        return out


def _np(t: Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.cpu().contiguous().numpy()


class QuantLinear(_QuantLayer, nn.Linear):
    """``nn.Linear`` with fake-quantized input, weight, bias and output.

    ``y = Q_out(Q_in(x) @ Q_w(W).T + Q_b(b))``; a format of ``None`` leaves that tensor
    in float. With ``accum_fmt`` and in eval mode the layer computes what an hls4ml Dense
    layer (latency strategy) computes: the accumulator starts at the bias cast into
    ``accum_fmt``, every product is cast into it and every partial sum is cast into it in
    index order (exact, ``fx.matmul``'s accumulator semantics), then the result is cast into
    ``output_fmt``. Training mode always uses the float matmul (gradients need it).

    The eval-mode accumulator path equals hls4ml's Dense C-simulation bit for bit; the
    float path is exact wherever float32 holds the products and sums.

    Raises:
        TypeError: a format is neither a ``Fixed`` nor a string; ``seed`` is not an int.
        ValueError: a format does not parse or is wider than 64 bits (``accum_fmt`` may be wider: the
            multi-limb kernel accumulates); ``ste`` is not
            ``"identity"`` or ``"clipped"``; ``seed`` is outside [0, 2**64); ``accum_fmt``
            without ``input_fmt`` or ``weight_fmt`` (checked when the layer is built); the
            forward's input holds a NaN (the message names its index).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, weight_fmt=None, bias_fmt=None,
                 input_fmt=None, output_fmt=None, accum_fmt=None, ste: str = "identity", seed=None, device=None,
                 dtype=None) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._init_quant("fxt.QuantLinear", weight_fmt, bias_fmt, input_fmt, output_fmt, accum_fmt, ste, seed)

    def forward(self, x: Tensor) -> Tensor:
        if self.formats["accum"] is not None and not self.training:
            return self._forward_accum(x)
        y = F.linear(self._q(x, "input"), self._q(self.weight, "weight"), self._q(self.bias, "bias"))
        return self._q(y, "output")

    def _forward_accum(self, x: Tensor) -> Tensor:
        api = "fxt.QuantLinear"
        _check_float(x, api)
        fin = self._need_accum_formats(api)[0]
        lead = x.shape[:-1]
        xa = array(_np(x).reshape(-1, x.shape[-1]), fin, seed=self.seed)
        acc = self._accum_matmul(xa, self.weight, self.bias, api)
        return self._finish_accum(acc, x).reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._quant_extra_repr()


class _QuantConvNd(_QuantLayer):
    _spatial: int

    def forward(self, x: Tensor) -> Tensor:
        if self.formats["accum"] is not None and not self.training:
            return self._forward_accum(x)
        y = self._conv_forward(self._q(x, "input"), self._q(self.weight, "weight"), self._q(self.bias, "bias"))
        return self._q(y, "output")

    def _forward_accum(self, x: Tensor) -> Tensor:
        api = f"fxt.{type(self).__name__}"
        _check_float(x, api)
        fin = self._need_accum_formats(api)[0]
        if self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise NotImplementedError(
                f"{api}: accumulator emulation supports groups=1, padding_mode='zeros' and numeric padding; got "
                f"groups={self.groups}, padding_mode={self.padding_mode!r}, padding={self.padding!r}"
            )
        if fin.w > 53:
            raise NotImplementedError(f"{api}: accumulator emulation needs input_fmt.w <= 53, got {fin}")
        one_d = self._spatial == 1
        xs = x.unsqueeze(-2) if one_d else x
        k = (1,) + tuple(self.kernel_size) if one_d else tuple(self.kernel_size)
        st = (1,) + tuple(self.stride) if one_d else tuple(self.stride)
        pd = (0,) + tuple(self.padding) if one_d else tuple(self.padding)
        dl = (1,) + tuple(self.dilation) if one_d else tuple(self.dilation)
        batch = xs.shape[0]
        # quantize once, then gather patches of raw integers (exact in float64 for w <= 53)
        xa = array(_np(xs), fin, seed=self.seed)
        raw = torch.from_numpy(np.array(xa.raw, dtype=np.float64))
        cols = F.unfold(raw, k, dilation=dl, padding=pd, stride=st)  # (B, C*kh*kw, L), zeros padded
        L = cols.shape[-1]
        h_out = (xs.shape[-2] + 2 * pd[0] - dl[0] * (k[0] - 1) - 1) // st[0] + 1
        w_out = (xs.shape[-1] + 2 * pd[1] - dl[1] * (k[1] - 1) - 1) // st[1] + 1
        assert h_out * w_out == L
        patches = cols.transpose(1, 2).reshape(batch * L, -1).to(torch.int64).numpy()
        pa = FixedArray(np.ascontiguousarray(patches), fin, _trusted=True)
        acc = self._accum_matmul(pa, self.weight.reshape(self.out_channels, -1), self.bias, api)
        y = self._finish_accum(acc, x).reshape(batch, L, self.out_channels).transpose(1, 2)
        return y.reshape(batch, self.out_channels, w_out) if one_d else y.reshape(batch, self.out_channels, h_out, w_out)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", " + self._quant_extra_repr()  # type: ignore[misc]


class QuantConv1d(_QuantConvNd, nn.Conv1d):
    """``nn.Conv1d`` with fake-quantized input, weight, bias and output (see
    :class:`QuantLinear`). Accumulator emulation (eval mode, ``accum_fmt``) gathers the
    patches with ``unfold`` and accumulates in (channel, kernel position) order; it supports
    ``groups=1`` and zero padding given as numbers, and raises NotImplementedError otherwise.

    Raises:
        TypeError: a format is neither a ``Fixed`` nor a string; ``seed`` is not an int.
        ValueError: a format does not parse or is wider than 64 bits (``accum_fmt`` may be wider: the
            multi-limb kernel accumulates); ``ste`` is not
            ``"identity"`` or ``"clipped"``; ``seed`` is outside [0, 2**64); ``accum_fmt``
            without ``input_fmt`` or ``weight_fmt`` (checked when the layer is built); the
            forward's input holds a NaN (the message names its index).
        NotImplementedError: ``accum_fmt`` with ``groups != 1``, non-zero padding modes,
            string padding, or ``input_fmt.w > 53`` (checked when the layer is built).
    """

    _spatial = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias: bool = True, padding_mode: str = "zeros", *, weight_fmt=None, bias_fmt=None, input_fmt=None,
                 output_fmt=None, accum_fmt=None, ste: str = "identity", seed=None, device=None, dtype=None) -> None:
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                           padding_mode, device=device, dtype=dtype)
        self._init_quant("fxt.QuantConv1d", weight_fmt, bias_fmt, input_fmt, output_fmt, accum_fmt, ste, seed)


class QuantConv2d(_QuantConvNd, nn.Conv2d):
    """``nn.Conv2d`` with fake-quantized input, weight, bias and output; see
    :class:`QuantConv1d` for the accumulator emulation.

    Raises:
        TypeError: a format is neither a ``Fixed`` nor a string; ``seed`` is not an int.
        ValueError: a format does not parse or is wider than 64 bits (``accum_fmt`` may be wider: the
            multi-limb kernel accumulates); ``ste`` is not
            ``"identity"`` or ``"clipped"``; ``seed`` is outside [0, 2**64); ``accum_fmt``
            without ``input_fmt`` or ``weight_fmt`` (checked when the layer is built); the
            forward's input holds a NaN (the message names its index).
        NotImplementedError: ``accum_fmt`` with ``groups != 1``, non-zero padding modes,
            string padding, or ``input_fmt.w > 53`` (checked when the layer is built).
    """

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias: bool = True, padding_mode: str = "zeros", *, weight_fmt=None, bias_fmt=None, input_fmt=None,
                 output_fmt=None, accum_fmt=None, ste: str = "identity", seed=None, device=None, dtype=None) -> None:
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                           padding_mode, device=device, dtype=dtype)
        self._init_quant("fxt.QuantConv2d", weight_fmt, bias_fmt, input_fmt, output_fmt, accum_fmt, ste, seed)


class QuantAct(nn.Module):
    """An activation followed by fake quantization into ``fmt``: ``Q(act(x))``
    (``activation=None``: the identity, a plain quantizer).

    The forward equals ``fx.array(act(x), fmt).to_float()`` rounded to ``x.dtype``.

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``seed`` is not an int; the
            forward's input is not a floating-point tensor.
        ValueError: ``fmt`` does not parse or is wider than 64 bits; ``ste`` is not
            ``"identity"`` or ``"clipped"``; ``seed`` is outside [0, 2**64); the input holds a NaN.
    """

    def __init__(self, fmt, activation=None, ste: str = "identity", seed=None) -> None:
        super().__init__()
        api = f"fxt.{type(self).__name__}"
        self.formats = {"output": _format_arg(fmt, api)}
        self.ste = _check_ste(ste, api)
        self.seed = None if seed is None else _seed_for(self.formats["output"], seed, api)
        self.activation = activation

    @property
    def fmt(self) -> Fixed:
        """The output format."""
        return self.formats["output"]

    def forward(self, x: Tensor) -> Tensor:
        if self.activation is not None:
            x = self.activation(x)
        return quantize(x, self.formats["output"], self.seed, self.ste)

    def get_extra_state(self):
        return {"formats": {"output": str(self.formats["output"])}, "ste": self.ste}

    def set_extra_state(self, state) -> None:
        self.formats = {"output": Fixed.parse(state["formats"]["output"])}
        self.ste = state.get("ste", "identity")

    def extra_repr(self) -> str:
        return f"fmt={self.formats['output']}, ste={self.ste!r}"


class QuantReLU(QuantAct):
    """``Q(relu(x))``: for an unsigned format such as ``ap_ufixed<8,3,AP_RND,AP_SAT>`` this
    is the hls4ml ReLU layer with its result type.

    The forward equals ``fx.array(relu(x), fmt).to_float()`` rounded to ``x.dtype``.

    Raises:
        TypeError: ``fmt`` is neither a ``Fixed`` nor a string; ``seed`` is not an int; the
            forward's input is not a floating-point tensor.
        ValueError: ``fmt`` does not parse or is wider than 64 bits; ``ste`` is not
            ``"identity"`` or ``"clipped"``; ``seed`` is outside [0, 2**64); the input holds a NaN.
    """

    def __init__(self, fmt, ste: str = "identity", seed=None) -> None:
        super().__init__(fmt, nn.ReLU(), ste=ste, seed=seed)


# ------------------------------------------------------------------------------------------
# model-level helpers
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.Hardtanh, nn.Identity,
                nn.ELU, nn.Softplus)


def _layer_spec(name: str, spec, api: str) -> dict:
    if isinstance(spec, (str, Fixed)):
        return {"weight": spec, "bias": spec}
    if isinstance(spec, dict):
        bad = set(spec) - set(_ROLES) - {"ste", "seed"}
        if bad:
            raise ValueError(f"{api}: layer {name!r}: unknown keys {sorted(bad)}; allowed: "
                             f"{', '.join(_ROLES)}, ste, seed")
        return dict(spec)
    raise TypeError(f"{api}: layer {name!r}: expected a format string or a dict of formats, got {type(spec).__name__}")


def _quantized_layer(name: str, mod: nn.Module, spec, api: str) -> nn.Module:
    if isinstance(mod, (QuantLinear, QuantConv1d, QuantConv2d, QuantAct)):
        raise TypeError(f"{api}: layer {name!r} is already quantized ({type(mod).__name__})")
    if isinstance(mod, _ACTIVATIONS):
        if isinstance(spec, (str, Fixed)):
            spec = {"output": spec}
        spec = _layer_spec(name, spec, api)
        extra = set(spec) - {"output", "ste", "seed"}
        if extra or "output" not in spec:
            raise ValueError(f"{api}: activation {name!r} takes only an output format (and ste, seed), got "
                             f"{sorted(spec)}")
        kw = {"ste": spec.get("ste", "identity"), "seed": spec.get("seed")}
        if isinstance(mod, nn.ReLU):
            return QuantReLU(spec["output"], **kw)
        return QuantAct(spec["output"], activation=mod, **kw)
    spec = _layer_spec(name, spec, api)
    kw = {f"{r}_fmt": spec.get(r) for r in _ROLES}
    kw.update(ste=spec.get("ste", "identity"), seed=spec.get("seed"))
    has_bias = getattr(mod, "bias", None) is not None
    dd = {"device": mod.weight.device, "dtype": mod.weight.dtype} if hasattr(mod, "weight") else {}
    if type(mod) is nn.Linear:
        new = QuantLinear(mod.in_features, mod.out_features, has_bias, **kw, **dd)
    elif type(mod) in (nn.Conv1d, nn.Conv2d):
        cls = QuantConv1d if type(mod) is nn.Conv1d else QuantConv2d
        new = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                  mod.groups, has_bias, mod.padding_mode, **kw, **dd)
    else:
        raise TypeError(f"{api}: layer {name!r} is a {type(mod).__name__}; supported: Linear, Conv1d, Conv2d and "
                        f"activations ({', '.join(a.__name__ for a in _ACTIVATIONS)})")
    with torch.no_grad():
        new.weight.copy_(mod.weight)
        if has_bias:
            new.bias.copy_(mod.bias)
    new.train(mod.training)
    return new


def quantize_model(model: nn.Module, config: dict) -> nn.Module:
    """Replace the layers named in ``config`` (``model.named_modules()`` names) by quantized
    ones, in place, and return ``model``.

    A value is a format (string or Fixed) -- for Linear/Conv layers the weight and bias
    format, for activations the output format -- or a dict with any of the keys ``weight``,
    ``bias``, ``input``, ``output``, ``accum`` (formats), ``ste`` and ``seed``. nn.ReLU
    becomes :class:`QuantReLU`, other activations :class:`QuantAct`. Weights are copied.
    ``quantize_model(fresh, model_formats(q))`` rebuilds the same quantization.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``; ``config`` is not a dict; a value is
            neither a format nor a dict; a named layer is already quantized or of an
            unsupported type (the message lists the supported ones).
        KeyError: a name is not a layer of ``model`` (the message lists the layers).
        ValueError: a dict has unknown keys, an activation is given more than an output
            format, or a format/``ste``/``seed`` is invalid (as in :class:`QuantLinear`).
    """
    api = "fxt.quantize_model"
    if not isinstance(model, nn.Module):
        raise TypeError(f"{api}: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, dict):
        raise TypeError(f"{api}: config must be a dict keyed by layer name, got {type(config).__name__}")
    modules = dict(model.named_modules())
    for name, spec in config.items():
        if name not in modules or name == "":
            known = ", ".join(repr(n) for n in modules if n) or "none"
            raise KeyError(f"{api}: no layer named {name!r}; layers: {known}")
        new = _quantized_layer(name, modules[name], spec, api)
        parent_name, _, attr = name.rpartition(".")
        setattr(modules[parent_name] if parent_name else model, attr, new)
    return model


def model_formats(model: nn.Module) -> dict:
    """The quantization config of every quantized layer: ``{name: {role: format string}}``
    (plus ``ste`` when not ``"identity"``), accepted back by :func:`quantize_model`.

    Raises:
        AttributeError: ``model`` is not an ``nn.Module`` (it has no ``named_modules``).
    """
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, (_QuantLayer, QuantAct)):
            spec = {k: str(v) for k, v in mod.formats.items() if v is not None}
            if mod.ste != "identity":
                spec["ste"] = mod.ste
            out[name] = spec
    return out


def export_integer_weights(model: nn.Module) -> dict:
    """``{"<layer>.weight": FixedArray, "<layer>.bias": FixedArray}`` for every quantized
    layer with a weight/bias format: the stored integers (``.raw``) and formats the layer
    computes with, for the hls4ml and emulation paths.

    The stored integers are exactly those the layer's fake quantizer produces
    (``fx.array(W, weight_fmt)``).

    Raises:
        AttributeError: ``model`` is not an ``nn.Module``.
        ValueError: a weight or bias holds a NaN.
    """
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, _QuantLayer):
            out.update(mod.integer_weights(f"{name}." if name else ""))
    return out

