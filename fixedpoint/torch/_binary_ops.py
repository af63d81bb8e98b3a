"""Binary and ternary quantizers as torch.library custom ops (namespace ``fixedpoint``).

``torch.ops.fixedpoint.binarize(x, zero, ste)`` and ``torch.ops.fixedpoint.ternarize(x,
threshold, ste)`` return +-1 (resp. -1/0/+1) in x's dtype. Straight-through gradients:

- ``identity``: the incoming gradient unchanged;
- ``clipped``: zeroed where ``|x| > 1`` (BinaryNet's hard-tanh STE);
- ``tanh``: multiplied by ``1 - tanh(x)**2`` (the tanh surrogate's derivative).

The scaled variants (XNOR-Net's ``alpha = mean|w|``, TWN's threshold ``0.7 mean|w|``) are
composed in :func:`binarize` / :func:`ternarize` from ordinary torch ops, so alpha gets its own
gradient through autograd.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

NAMESPACE = "fixedpoint"
BINARY_STE_MODES = ("identity", "clipped", "tanh")
ZERO_MODES = ("pos", "neg")


def _check(x: Tensor, ste: str, api: str) -> None:
    if not x.dtype.is_floating_point:
        raise TypeError(f"{api}: x must be a floating-point tensor, got {x.dtype}")
    if ste not in BINARY_STE_MODES:
        raise ValueError(f"{api}: ste must be one of {BINARY_STE_MODES}, got {ste!r}")


def _ste_backward(ctx, grad: Tensor):
    (x,) = ctx.saved_tensors
    if ctx.ste == "clipped":
        grad = grad * (x.abs() <= 1).to(grad.dtype)
    elif ctx.ste == "tanh":
        grad = grad * (1 - torch.tanh(x) ** 2)
    return grad


@torch.library.custom_op(f"{NAMESPACE}::binarize", mutates_args=())
def binarize_op(x: Tensor, zero: str, ste: str) -> Tensor:
    api = "fxt.binarize"
    _check(x, ste, api)
    if zero not in ZERO_MODES:
        raise ValueError(f"{api}: zero must be one of {ZERO_MODES}, got {zero!r}")
    pos = x >= 0 if zero == "pos" else x > 0
    return torch.where(pos, 1.0, -1.0).to(x.dtype)


@binarize_op.register_fake
def _(x, zero, ste):
    _check(x, ste, "fxt.binarize")
    return torch.empty_like(x)


def _binarize_setup(ctx, inputs, output):
    x, _zero, ste = inputs
    ctx.ste = ste
    ctx.save_for_backward(x)


def _binarize_backward(ctx, grad):
    return _ste_backward(ctx, grad), None, None


binarize_op.register_autograd(_binarize_backward, setup_context=_binarize_setup)


@torch.library.custom_op(f"{NAMESPACE}::ternarize", mutates_args=())
def ternarize_op(x: Tensor, threshold: Tensor, ste: str) -> Tensor:
    api = "fxt.ternarize"
    _check(x, ste, api)
    keep = x.abs() > threshold.to(x.dtype)
    return (torch.sign(x) * keep.to(x.dtype)).to(x.dtype)


@ternarize_op.register_fake
def _(x, threshold, ste):
    _check(x, ste, "fxt.ternarize")
    return torch.empty_like(x)


def _ternarize_setup(ctx, inputs, output):
    x, _threshold, ste = inputs
    ctx.ste = ste
    ctx.save_for_backward(x)


def _ternarize_backward(ctx, grad):
    return _ste_backward(ctx, grad), None, None


ternarize_op.register_autograd(_ternarize_backward, setup_context=_ternarize_setup)


def _channel_mean_abs(x: Tensor, axis: Optional[int]) -> Tensor:
    a = x.abs()
    if axis is None:
        return a.mean()
    dims = [d for d in range(x.dim()) if d != axis % x.dim()]
    return a.mean(dim=dims, keepdim=True) if dims else a


def binarize(x: Tensor, ste: str = "identity", scaled: bool = False, axis: Optional[int] = None,
             zero: str = "pos") -> Tensor:
    """+-1 signs of x (``zero="pos"``: x >= 0 is +1) with a straight-through gradient;
    ``scaled=True`` multiplies by ``mean|x|`` (XNOR-Net; per channel along ``axis``).

    The signs are exact (``torch.ops.fixedpoint.binarize``, the same bits as
    ``fx.binary.binary_quantize``); the scale is a float mean.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``ste`` is not one of ``BINARY_STE_MODES``; ``zero`` is not ``"pos"`` or
            ``"neg"``.
    """
    s = torch.ops.fixedpoint.binarize(x, zero, ste)
    return s * _channel_mean_abs(x, axis) if scaled else s


def ternarize(x: Tensor, threshold=None, ste: str = "identity", scaled: bool = False,
              axis: Optional[int] = None) -> Tensor:
    """-1/0/+1: sign(x) where ``|x| > threshold`` (default TWN's ``0.7 mean|x|``, per channel
    along ``axis``), else 0, with a straight-through gradient; ``scaled=True`` multiplies by the
    mean |x| of the kept weights.

    The -1/0/+1 pattern is exact (``|x| > threshold`` compared in ``x``'s dtype).

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``ste`` is not one of ``BINARY_STE_MODES``.
    """
    if threshold is None:
        thr = 0.7 * _channel_mean_abs(x.detach(), axis)
    else:
        thr = torch.as_tensor(threshold, dtype=x.dtype)
    t = torch.ops.fixedpoint.ternarize(x, thr, ste)
    if not scaled:
        return t
    keep = (t != 0).to(x.dtype)
    if axis is None:
        alpha = (x.abs() * keep).sum() / keep.sum().clamp(min=1)
    else:
        dims = [d for d in range(x.dim()) if d != axis % x.dim()]
        alpha = (x.abs() * keep).sum(dim=dims, keepdim=True) / keep.sum(dim=dims, keepdim=True).clamp(min=1)
    return t * alpha


class _BinaryLayer:
    """What BinaryLinear and BinaryConv2d share: option checks and the XNOR-Net scale."""

    weight: Tensor

    def _set_binary_options(self, api: str, ste: str, scaled: bool, binarize_input: bool, zero: str) -> None:
        if ste not in BINARY_STE_MODES:
            raise ValueError(f"{api}: ste must be one of {BINARY_STE_MODES}, got {ste!r}")
        if zero not in ZERO_MODES:
            raise ValueError(f"{api}: zero must be one of {ZERO_MODES}, got {zero!r}")
        self.ste, self.scaled, self.binarize_input, self.zero = ste, scaled, binarize_input, zero

    def _alpha(self) -> Optional[Tensor]:
        """mean|W| per output channel when ``scaled``, else None."""
        return _channel_mean_abs(self.weight, 0).reshape(-1) if self.scaled else None


class BinaryLinear(_BinaryLayer, torch.nn.Linear):
    """A linear layer with +-1 weights (and, with ``binarize_input=True``, +-1 inputs).

    Training: ``y = binarize(x) @ binarize(W).T * alpha + b`` with the ``ste`` straight-through
    gradient (``alpha = mean|W|`` per output channel when ``scaled=True``, else 1). Inference
    (eval mode, no grad, CPU, binarized inputs): the same values through the packed XNOR
    kernel (``fx.binary.xnor_matmul``); the int32 products are exact, so both paths agree
    bit for bit whenever float32 holds ``K`` exactly (K < 2**24).

    Raises:
        ValueError: ``ste`` is not one of ``BINARY_STE_MODES``; ``zero`` is not ``"pos"`` or
            ``"neg"``.
        TypeError: the forward's input is not a floating-point tensor (training path).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, ste: str = "clipped",
                 scaled: bool = False, binarize_input: bool = True, zero: str = "pos", device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._set_binary_options("BinaryLinear", ste, scaled, binarize_input, zero)

    def _packed_ok(self, x: Tensor) -> bool:
        return (not self.training and self.binarize_input and not torch.is_grad_enabled()
                and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and x.dim() >= 1)

    def forward(self, x: Tensor) -> Tensor:
        if self._packed_ok(x):
            return self._forward_packed(x)
        w = torch.ops.fixedpoint.binarize(self.weight, self.zero, self.ste)
        xb = torch.ops.fixedpoint.binarize(x, self.zero, self.ste) if self.binarize_input else x
        y = torch.nn.functional.linear(xb, w)
        alpha = self._alpha()
        if alpha is not None:
            y = y * alpha.to(y.dtype)
        return y + self.bias if self.bias is not None else y

    def _forward_packed(self, x: Tensor) -> Tensor:
        from .. import binary as fxb  # noqa: PLC0415

        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        pa = fxb.pack(x2, axis=1, zero=self.zero)
        pw = fxb.pack(self.weight, axis=1, zero=self.zero)  # (N, K) along K == (K, N) along axis 0
        pb = fxb.PackedBits(pw.words, pw.length, 0, (pw.shape[1], pw.shape[0]))
        acc = torch.from_numpy(fxb.xnor_matmul(pa, pb)).to(x.dtype)
        alpha = self._alpha()
        if alpha is not None:
            acc = acc * alpha.to(x.dtype)
        y = acc + self.bias.to(x.dtype) if self.bias is not None else acc
        return y.reshape(*lead, self.out_features)


class BinaryConv2d(_BinaryLayer, torch.nn.Conv2d):
    """A 2-d convolution with +-1 weights (and, with ``binarize_input=True``, +-1 inputs).

    Training: ``y = conv2d(binarize(x), binarize(W)) * alpha + b`` with the ``ste``
    straight-through gradient (``alpha = mean|W|`` per output channel when ``scaled=True``,
    else 1). Padding adds zeros *after* binarization, as ``torch.nn.functional.conv2d`` on the
    binarized input does (a zero contributes nothing). Inference (eval mode, no grad, CPU,
    binarized inputs, ``groups=1``, numeric padding): the same values through the packed XNOR
    kernel on the unfolded input (``fx.binary.xnor_matmul``), with the padded positions'
    contributions removed exactly; both paths agree bit for bit whenever float32 holds the
    receptive-field size ``C*kh*kw`` exactly (< 2**24). Other settings run the float path,
    which is also exact for those sizes.

    Raises:
        ValueError: ``ste`` is not one of ``BINARY_STE_MODES``; ``zero`` is not ``"pos"`` or
            ``"neg"``; ``padding_mode`` other than ``"zeros"``.
        TypeError: the forward's input is not a floating-point tensor (training path).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", ste: str = "clipped",
                 scaled: bool = False, binarize_input: bool = True, zero: str = "pos", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"BinaryConv2d: padding_mode must be 'zeros' (binary inputs are padded with 0), "
                             f"got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode, device=device,
                         dtype=dtype)
        self._set_binary_options("BinaryConv2d", ste, scaled, binarize_input, zero)

    def _packed_ok(self, x: Tensor) -> bool:
        return (not self.training and self.binarize_input and not torch.is_grad_enabled() and self.groups == 1
                and not isinstance(self.padding, str) and x.device.type == "cpu"
                and x.dtype in (torch.float32, torch.float64) and x.dim() == 4)

    def _finish(self, y: Tensor) -> Tensor:
        alpha = self._alpha()
        if alpha is not None:
            y = y * alpha.to(y.dtype).reshape(1, -1, 1, 1)
        return y + self.bias.to(y.dtype).reshape(1, -1, 1, 1) if self.bias is not None else y

    def forward(self, x: Tensor) -> Tensor:
        if self._packed_ok(x):
            return self._forward_packed(x)
        w = torch.ops.fixedpoint.binarize(self.weight, self.zero, self.ste)
        xb = torch.ops.fixedpoint.binarize(x, self.zero, self.ste) if self.binarize_input else x
        y = torch.nn.functional.conv2d(xb, w, None, self.stride, self.padding, self.dilation, self.groups)
        return self._finish(y)

    def _forward_packed(self, x: Tensor) -> Tensor:
        from .. import binary as fxb  # noqa: PLC0415

        F = torch.nn.functional
        n, c, h, wd = x.shape
        kh, kw = self.kernel_size
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        unfold = dict(kernel_size=self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        cols = F.unfold(x, **unfold)  # (n, c*kh*kw, L); padded positions hold 0
        L = cols.shape[-1]
        kk = cols.shape[1]
        pa = fxb.pack(cols.transpose(1, 2).reshape(n * L, kk), axis=1, zero=self.zero)
        w2 = self.weight.detach().reshape(self.out_channels, kk)
        pwk = fxb.pack(w2, axis=1, zero=self.zero)
        pb = fxb.PackedBits(pwk.words, pwk.length, 0, (pwk.shape[1], pwk.shape[0]))
        acc = torch.from_numpy(fxb.xnor_matmul(pa, pb)).to(torch.float64)  # (n*L, out), exact integers
        y = acc.reshape(n, L, self.out_channels).transpose(1, 2)  # (n, out, L)
        if ph or pw:
            # The kernel read each padded 0 as +1 (zero="pos") or -1 ("neg"); remove exactly that.
            pad = F.unfold(torch.ones(1, c, h, wd, dtype=torch.float64), **unfold)[0] == 0  # (kk, L)
            ws = torch.where(w2 > 0, 1.0, -1.0) if self.zero == "neg" else torch.where(w2 >= 0, 1.0, -1.0)
            corr = ws.to(torch.float64) @ pad.to(torch.float64)  # (out, L), integers
            y = y - corr if self.zero == "pos" else y + corr
        return self._finish(y.to(x.dtype).reshape(n, self.out_channels, ho, wo))
