"""Convolutions: what ``nnet_conv1d*.h``, ``nnet_conv2d*.h``, ``nnet_sepconv*_latency.h``
(io_parallel) and ``nnet_conv_stream.h`` / ``nnet_conv2d_stream.h`` / ``nnet_sepconv*_stream.h``,
``nnet_depthwise_product.h`` (io_stream) compute.

Every variant is the Dense accumulation of :mod:`.dense` on one window ("im2col row") per output
pixel: ``acc[f] = (accum_t) bias[f]``; then ``acc[f] += (accum_t)(x[k] * w[k, f])`` for the
window's values k in the firmware's order; ``res[f] = (result_t) acc[f]``.

- The window of output pixel (oh, ow) lists ``x[oh*sh - pad_top + kh, ow*sw - pad_left + kw, c]``
  in (kh, kw, c) order: the generated ``fill_buffer_N`` of io_parallel (``_compute_conv2d_im2col``
  of hls4ml's FPGA backend) and the io_stream line buffer / kernel window both hold it so. Padded
  positions hold 0: their product adds ``(accum_t) 0``, which leaves the accumulator unchanged in
  every mode, so zeros in the window are exact.
- Weights: hls4ml transposes the PyTorch kernel to (kh, kw, c, f) (``ChannelsLastConverter``);
  the header holds it flat, ``w[k * n_filt + f]`` (Latency), or transposed to (f, kh, kw, c)
  for Resource (``ApplyResourceStrategy``), ``w[f * n_in + k]``.
- Addition order: Latency adds k in ascending order (``conv_*d_latency_cl``, ``dense_latency``,
  ``pointwise_conv_1d_latency_cl``); io_parallel Resource (``conv_*d_resource_cl``) runs the loops
  of ``dense_resource_rf_leq_nin`` (it asserts RF <= n_in); io_stream calls the layer's dense
  kernel (``DenseLatency`` / ``DenseResource_*``) on each window. The order is replayed by
  :func:`fixedpoint.nn.dense.resource_order`; it matters only for SAT / rounding accumulators.
- io_stream convolutions have no padding (hls4ml inserts a ZeroPadding layer before them);
  the line buffer emits the windows of a valid strided convolution, the pointwise stream every
  ``stride``-th pixel: the same windows.

- ``resource_unrolled`` (io_stream): the line buffer calls the kernel hls4ml generates for the
  layer; its order is read from that code (:func:`fixedpoint.nn.orders.unrolled_order`).
- DepthwiseConv1D/2D: see :func:`_depthwise`. Keras SeparableConv1D/2D reach the engine as the
  DepthwiseConv + PointwiseConv pair hls4ml 1.3's ``convert`` flow always splits them into.

Not emulated (NotImplementedError): dilation != 1 (hls4ml 1.3 generates undilated windows),
channels-first data, the encoded io_stream implementation, distributed arithmetic,
``resource_unrolled`` in io_parallel (hls4ml 1.3 turns it into Resource), products other than
``nnet::product::mult`` (binary, ternary, exponential weights), the ``ap_uint<1>`` x
``ap_uint<1>`` cast, the unsplit SeparableConv layer classes (hls4ml 1.3 cannot write their
firmware), depth multipliers other than 1, and grouped convolutions from PyTorch (hls4ml's
PyTorch converter has no grouped path).
"""

from __future__ import annotations

import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import _backend
from ._raw import apply_post
from .dense import DenseOp, _order_free, resource_order, unrolled
from .orders import depthwise_resource_order
from .registry import hls4ml_layer

__all__ = ["ConvOp", "im2col"]


def im2col(x: np.ndarray, kernel, stride, pad, out_hw) -> np.ndarray:
    """The windows of a channels-last batch x (n, H, W, C): (n * OH * OW, KH * KW * C), each row
    in (kh, kw, c) order, padded positions 0, output pixels in row-major order."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (oh, ow) = kernel, stride, pad, out_hw
    n, _, _, c = x.shape
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))  # zeros of x's dtype (0 for object ints)
    if kh == kw == 1:
        win = x[:, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw, :]
        return np.ascontiguousarray(win).reshape(n * oh * ow, c)
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (n, H', W', C, kh, kw): a view
    win = win[:, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, kh * kw * c)


class ConvOp:
    """A convolution on channels-last samples: ``dense`` (a :class:`~fixedpoint.nn.dense.DenseOp`)
    on every window of every sample, in the (kh, kw, c) order. The C++ kernel ``conv_accum``
    builds the windows itself where the fused dense kernel applies; otherwise :func:`im2col`
    windows go through ``dense``.

    ``in_shape``: per-sample (H, W, C) or (L, C); ``kernel``, ``stride``: (h, w); ``pad``:
    (top, bottom, left, right); ``out_shape``: per-sample (OH, OW, F) or (OL, F)."""

    accepts_post = True  # the graph may fuse a following ReLU / linear layer (``post``)
    __slots__ = ("dense", "in_shape", "kernel", "stride", "pad", "out_shape", "_hw", "_binary_cast")

    def __init__(self, dense: DenseOp, in_shape, kernel, stride, pad, out_shape, binary_cast_check=False):
        self.dense, self.kernel, self.stride, self.pad = dense, tuple(kernel), tuple(stride), tuple(pad)
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self._hw = (1,) + self.in_shape if len(self.in_shape) == 2 else self.in_shape
        self._binary_cast = binary_cast_check

    def __call__(self, x, x_fmt, post=None):
        """``(result_t)`` of every window's accumulation, then the fused activation ``post``
        ((relu, res_t) or None; see :meth:`DenseOp.__call__ <fixedpoint.nn.dense.DenseOp.__call__>`)."""
        if self._binary_cast and (x_fmt.w, x_fmt.i, x_fmt.signed) == (1, 1, False):
            raise NotImplementedError("fx.hls4ml.emulate: a convolution of 1-bit unsigned data with 1-bit unsigned "
                                      "weights (the template's ap_uint<1> cast) is not emulated")
        n = x.shape[0]
        out_hw = (1,) + self.out_shape[:1] if len(self.out_shape) == 2 else self.out_shape[:2]
        d = self.dense
        if d._groups is None and d._fusable(x, x_fmt, post):
            # the fused kernel builds the (zero-padded) windows itself
            out = self._fused(x.reshape((n,) + self._hw), x_fmt, out_hw, post).reshape((n,) + self.out_shape)
            return out, (d.res_t if post is None else post[1])
        cols = im2col(x.reshape((n,) + self._hw), self.kernel, self.stride, self.pad, out_hw)
        raw, fmt = self.dense(cols, x_fmt)
        return apply_post(raw.reshape((n,) + self.out_shape), fmt, post)

    def _fused(self, x: np.ndarray, x_fmt, out_hw, post=None) -> np.ndarray:
        """``conv_accum``: the same windows in the same (kh, kw, c) order and the same
        accumulator semantics as im2col + ``dense_accum``, without materializing the windows
        (the kernel pads x with zeros itself)."""
        (kh, kw), (sh, sw), pad, (oh, ow) = self.kernel, self.stride, self.pad, out_hw
        d, wf = self.dense, self.dense.w_fmt
        return _backend.conv_accum(x, kh, kw, sh, sw, oh, ow, x_fmt, d.w, wf, d.acc_t, d.b_acc, d.res_t, pad, post)


_KERNEL = re.compile(r"using\s+kernel\s*=\s*nnet::([A-Za-z_0-9]+)\s*<")
_PRODUCT = re.compile(r"using\s+product\s*=\s*nnet::product::([A-Za-z_0-9]+)\s*<")


def _int(view, key, default=None):
    v = view.attr(key, default)
    if v is None:
        view.unsupported(f"a missing {key!r} attribute")
    return int(v)


def _config_cpp(view) -> str:
    """The generated config, after checking that its product is the plain ``mult``."""
    cfg = str(view.attr("config_cpp", "") or "")
    prod = _PRODUCT.search(cfg)
    if prod is None or prod.group(1) != "mult":
        view.unsupported(f"product {prod.group(1) if prod else 'unknown'!r} (only nnet::product::mult)")
    return cfg


def _geometry(view, two_d: bool):
    """(n_chan, n_filt, kernel, stride, pad (top, bottom, left, right), in_shape, out_shape) of a
    convolution, checked against the layer's input and output shapes: the windows fill_buffer
    generates (dilation 1), output pixels in row-major order."""
    c, f = _int(view, "n_chan"), _int(view, "n_filt")
    kw, sw = _int(view, "filt_width"), _int(view, "stride_width")
    pl, pr = _int(view, "pad_left", 0), _int(view, "pad_right", 0)
    w_in = _int(view, "in_width")
    if two_d:
        kh, sh = _int(view, "filt_height"), _int(view, "stride_height")
        pt, pb = _int(view, "pad_top", 0), _int(view, "pad_bottom", 0)
        h_in = _int(view, "in_height")
        in_shape = (h_in, w_in, c)
    else:
        kh, sh, pt, pb, h_in = 1, 1, 0, 0, 1
        in_shape = (w_in, c)
    if tuple(view.in_shapes[0]) != in_shape:
        view.unsupported(f"input shape {view.in_shapes[0]} for the configured {in_shape}")
    oh = (h_in + pt + pb - kh) // sh + 1
    ow = (w_in + pl + pr - kw) // sw + 1
    out_shape = (oh, ow, f) if two_d else (ow, f)
    if tuple(view.out_shape) != out_shape:
        view.unsupported(f"output shape {view.out_shape} (the windows give {out_shape})")
    return c, f, (kh, kw), (sh, sw), (pt, pb, pl, pr), in_shape, out_shape


@hls4ml_layer("Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D")
def _from_hls4ml(view) -> ConvOp:
    two_d = view.class_name.endswith("2D")
    pointwise = view.class_name.startswith("Pointwise")
    fn = view.function()
    want = ("pointwise_" if pointwise else "") + ("conv_2d_cl" if two_d else "conv_1d_cl")
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r}; channels-first data is not emulated)")
    if str(view.attr("data_format", "channels_last")) != "channels_last":
        view.unsupported(f"data_format {view.attr('data_format')!r}")
    strategy = str(view.attr("strategy", "latency")).lower()
    if strategy not in ("latency", "resource", "resource_unrolled"):
        view.unsupported(f"strategy {strategy!r}")
    cfg = _config_cpp(view)
    if int(view.attr("dilation", 1) or 1) != 1 or int(view.attr("dilation_width", 1) or 1) != 1 \
            or int(view.attr("dilation_height", 1) or 1) != 1:
        view.unsupported("dilation != 1")

    c, f, (kh, kw), (sh, sw), (pt, pb, pl, pr), in_shape, out_shape = _geometry(view, two_d)
    if pointwise and kh * kw != 1:
        view.unsupported(f"a pointwise layer with a {kh}x{kw} kernel")

    stream = view.io_type == "io_stream"
    if stream and (pt or pb or pl or pr):
        view.unsupported("padding in an io_stream convolution (the template asserts none)")
    if stream and not pointwise:
        impl = str(view.attr("implementation", "linebuffer")).lower()
        if impl != "linebuffer":
            view.unsupported(f"io_stream implementation {impl!r}")
        if two_d and kh == 1 and sh != 1:
            # compute_output_buffer_1d ignores stride_height: every row emits outputs
            view.unsupported("an io_stream 2D convolution with filt_height 1 and stride_height != 1")

    w_t, b_t = view.fmt("weight_t"), view.fmt("bias_t")
    acc_t, res_t = view.fmt("accum_t"), view.fmt("result_t")
    n_in = kh * kw * c
    w = view.literal("weight", w_t)
    if w.size != n_in * f:
        view.unsupported(f"{w.size} weights for a {kh}x{kw}x{c}x{f} kernel (grouped convolutions are not emulated)")
    transposed = bool(view.attr("_weights_transposed", False))
    resource = strategy in ("resource", "resource_unrolled")
    if transposed != resource:
        view.unsupported(f"strategy {strategy!r} with {'transposed' if transposed else 'untransposed'} weights")
    w = w.reshape(f, n_in).T if resource else w.reshape(n_in, f)
    rf = int(view.attr("reuse_factor", 1) or 1)
    order = None
    if stream:
        m = _KERNEL.search(cfg)
        kernel = m.group(1) if m else None
        if kernel == "DenseLatency":
            if resource:
                view.unsupported(f"kernel {kernel} with strategy {strategy!r}")
        elif kernel in ("DenseResource_rf_leq_nin", "DenseResource_rf_gt_nin_rem0", "DenseResource_rf_gt_nin"):
            if not resource:
                view.unsupported(f"kernel {kernel} with strategy {strategy!r}")
            if not _order_free(acc_t):
                order = resource_order(n_in, f, rf)
        elif resource and _order_free(acc_t) and strategy == "resource_unrolled":
            pass  # generated unrolled kernel: the order does not matter for this accumulator
        elif strategy == "resource_unrolled" and re.fullmatch(r"dense_resource_unrolled_\w+", kernel or ""):
            order = unrolled(view, w)  # the order of the generated kernel's statements
        else:
            view.unsupported(f"dense kernel {kernel!r}" + (f" with accumulator {acc_t} (its addition order)"
                                                          if strategy == "resource_unrolled" else ""))
    elif resource:
        if strategy == "resource_unrolled":  # hls4ml 1.3 turns it into 'resource' in io_parallel
            view.unsupported("strategy 'resource_unrolled' in io_parallel")
        if rf > n_in:
            view.unsupported(f"reuse factor {rf} > n_in={n_in} (conv_{'2' if two_d else '1'}d_resource_cl asserts "
                             "RF <= filt_height * filt_width * n_chan)")
        if not _order_free(acc_t):
            order = resource_order(n_in, f, rf)
    b = view.literal("bias", b_t).reshape(-1) if view.has_weight("bias") else np.zeros(f, np.int64)
    if b.size != f:
        view.unsupported(f"{b.size} biases for {f} filters")
    dense = DenseOp(w, w_t, b, b_t, acc_t, res_t, order=order)
    binary = (w_t.w, w_t.i, w_t.signed) == (1, 1, False)
    return ConvOp(dense, in_shape, (kh, kw), (sh, sw), (pt, pb, pl, pr), out_shape, binary_cast_check=binary)


@hls4ml_layer("DepthwiseConv1D", "DepthwiseConv2D")
def _depthwise(view) -> ConvOp:
    """Per output pixel, over the window in (kh, kw, c) order: ``acc[c] = (accum_t) bias[c]``, then
    ``acc[c] += (accum_t)(x[k] * w[k])`` for the window's values k = p * C + c of channel c;
    ``(result_t) acc[c]``. That is the Dense sequence on the window with a block-diagonal weight
    matrix: the zero weights add ``(accum_t) 0``, which leaves every accumulator unchanged, so
    channel c sees exactly its own products, in the kernel's order:

    - io_parallel (``depthwise_conv_{1,2}d_latency_cl``; the template asserts Latency) and io_stream
      with ``DepthwiseDenseLatency`` (``depthwise_product_latency``): window positions p ascending;
    - io_stream with the Resource strategy: ``DepthwiseDenseResource_*``, replayed by
      :func:`fixedpoint.nn.orders.depthwise_resource_order`.

    io_stream runs the line buffer of the io_stream convolutions (``compute_depthwise_output_buffer_*``
    hold the window in the same order; no padding: hls4ml inserts a ZeroPadding layer)."""
    two_d = view.class_name.endswith("2D")
    fn = view.function()
    want = "depthwise_conv_2d_cl" if two_d else "depthwise_conv_1d_cl"
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r})")
    stream = view.io_type == "io_stream"
    if view.io_type not in ("io_parallel", "io_stream"):
        view.unsupported(f"io_type {view.io_type!r}")
    if str(view.attr("data_format", "channels_last")) != "channels_last":
        view.unsupported(f"data_format {view.attr('data_format')!r}")
    strategy = str(view.attr("strategy", "latency")).lower()
    if strategy not in (("latency", "resource") if stream else ("latency",)):
        view.unsupported(f"strategy {strategy!r} in {view.io_type} (" + (
            "hls4ml generates no depthwise kernel for it)" if stream else "the template supports Latency only)"))
    cfg = _config_cpp(view)  # the product must be the plain mult
    if int(view.attr("dilation", 1) or 1) != 1 or int(view.attr("dilation_width", 1) or 1) != 1 \
            or int(view.attr("dilation_height", 1) or 1) != 1:
        view.unsupported("dilation != 1")
    c, f = _int(view, "n_chan"), _int(view, "n_filt")
    if c != f:
        view.unsupported(f"a depth multiplier other than 1 (n_chan={c}, n_filt={f})")
    c, f, (kh, kw), (sh, sw), (pt, pb, pl, pr), in_shape, out_shape = _geometry(view, two_d)
    if stream:
        if pt or pb or pl or pr:
            view.unsupported("padding in an io_stream convolution (the template asserts none)")
        impl = str(view.attr("implementation", "linebuffer")).lower()
        if impl != "linebuffer":
            view.unsupported(f"io_stream implementation {impl!r}")
        if two_d and kh == 1 and sh != 1:
            # compute_depthwise_output_buffer_1d ignores stride_height: every row emits outputs
            view.unsupported("an io_stream 2D convolution with filt_height 1 and stride_height != 1")
    w_t, b_t = view.fmt("weight_t"), view.fmt("bias_t")
    acc_t, res_t = view.fmt("accum_t"), view.fmt("result_t")
    taps = kh * kw
    w = view.literal("weight", w_t)
    if w.size != taps * c:
        view.unsupported(f"{w.size} weights for a {kh}x{kw} depthwise kernel over {c} channels")
    # one output channel: the Resource transpose (H, W, C, 1) -> (1, H, W, C) keeps the flat order
    full = np.zeros((taps * c, c), np.int64)
    rows = np.arange(taps * c)
    full[rows, rows % c] = w.reshape(-1)
    m = _KERNEL.search(cfg)
    kernel = m.group(1) if m else None
    want_kernel = "DepthwiseDenseLatency"
    rf = int(view.attr("reuse_factor", 1) or 1)
    if strategy == "resource":
        n_in = taps * c
        want_kernel = ("DepthwiseDenseResource_rf_leq_nout" if rf <= c else "DepthwiseDenseResource_rf_gt_nout_rem0"
                       if rf % c == 0 else "DepthwiseDenseResource_rf_gt_nout")
    if stream and kernel != want_kernel:
        view.unsupported(f"dense kernel {kernel!r} (expected {want_kernel} for strategy {strategy!r}, "
                         f"reuse factor {rf})")
    order = None
    if strategy == "resource" and not _order_free(acc_t):
        try:
            order = depthwise_resource_order(n_in, c, rf, kernel, full)
        except ValueError as e:
            view.unsupported(str(e))
    b = view.literal("bias", b_t).reshape(-1) if view.has_weight("bias") else np.zeros(c, np.int64)
    if b.size != c:
        view.unsupported(f"{b.size} biases for {c} channels")
    dense = DenseOp(full, w_t, b, b_t, acc_t, res_t, order=order)
    binary = (w_t.w, w_t.i, w_t.signed) == (1, 1, False)
    return ConvOp(dense, in_shape, (kh, kw), (sh, sw), (pt, pb, pl, pr), out_shape, binary_cast_check=binary)
