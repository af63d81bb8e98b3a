"""Spatial layers without multiplications: pooling (``nnet_pooling.h``, ``nnet_pooling_stream.h``),
zero padding (``nnet_padding*.h``), cropping (``nnet_cropping*.h``) and nearest-neighbour resizing
(``nnet_image*.h``, hls4ml's ``Resize`` from ``torch.nn.Upsample``).

Pooling, io_parallel (``pooling1d_cl`` / ``pooling2d_cl``): windows of ``pool`` pixels every
``stride`` pixels over the padded input, ``(full - pool) / stride + 1`` per axis, each read in
(kh, kw) order.

- Max: padded positions hold ``pad_val``, the data type with only its top bit set (the most
  negative value of a signed type, ``2^(w-1)`` LSBs of an unsigned one); ``res = (result_t)
  (accum_t) max(window)``, the maximum taken in the data type.
- Average: ``accum_t y = 0; y += x[k]`` for k in order (padded positions add 0), each sum cast
  into ``accum_t``; then ``y /= length`` with ``length`` the pool size (``count_pad``) or the
  number of window positions inside the image: ap_fixed's division by an unsigned int, the
  stored integer divided and truncated toward zero, in ``accum_t``'s format; ``res = (result_t) y``.

Pooling, io_stream (``pooling*d_cl`` on streams, line buffer or encoded): no padding; each window
value is first cast into ``accum_t``; max takes the maximum of the cast values; average adds them
in ``nnet::reduce``'s balanced tree (``Op_add``, each sum cast into ``accum_t``), then
``sum / N`` (truncated toward zero); ``res = (result_t)`` of that.

Global pooling (``global_pooling*d_cl``): io_parallel as above over all pixels (``pool_op(x)``
with ``length = N``). io_stream keeps one ``accum_t`` per channel, starting from 0 (average) or
``hls::numeric_limits<accum_t>::min()`` (max), and folds in each pixel cast into ``accum_t``:
``acc = (accum_t)(acc + (accum_t) x)`` or ``acc = x > acc ? x : acc``; then ``res = (result_t)
(acc / N)`` (average) or ``(result_t) acc``.

ZeroPadding: ``res = (result_t) x`` inside, 0 outside. Cropping: ``res = (result_t) x`` of the
kept region. Resize (nearest): io_parallel reads ``x[(i * y_ratio) >> 16, (j * x_ratio) >> 16]``
with ``ratio = (size << 16) / new_size + 1``; io_stream repeats each pixel ``new / size`` times
(integer ratios only).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import _backend
from ._raw import cast_raw, raw_ok, storage, wrap
from .registry import hls4ml_layer
from .._operands import result_format

__all__ = ["PoolOp", "GlobalPoolOp", "PadOp", "CropOp", "ResizeOp"]

_API = "fx.hls4ml.emulate"


def _pad_val(fmt) -> int:
    """``T x = 0; x[x.width - 1] = 1;``: the stored integer with only the top bit set."""
    return -(1 << (fmt.w - 1)) if fmt.signed else 1 << (fmt.w - 1)


def _check_native_compare(fmt):
    if fmt.w == 64 and not fmt.signed:
        raise NotImplementedError(f"{_API}: max pooling of 64-bit unsigned data ({fmt}) is not emulated")


def _add_cast(a, a_fmt, b, b_fmt, acc_t):
    """``(acc_t)(a + b)`` with the sum in full precision."""
    plus = result_format("add", a_fmt, b_fmt)
    if a.dtype == object or b.dtype == object or not raw_ok(plus, acc_t):
        return storage((wrap(a, a_fmt) + wrap(b, b_fmt)).cast(acc_t))
    s = (a << (plus.f - a_fmt.f)) + (b << (plus.f - b_fmt.f))
    return cast_raw(s, plus, acc_t)


def _trunc_div(raw, n):
    """ap_fixed ``y / (unsigned or int) n``: the stored integer divided, truncated toward zero
    (``sdiv`` / ``udiv`` of ``ap_private``), in y's format."""
    n = np.asarray(n)
    if raw.dtype == object:
        q = np.abs(raw) // n
        return np.where(raw < 0, -q, q).astype(object)
    q = np.abs(raw) // n
    return np.where(raw < 0, -q, q)


def _sum_exact(x_fmt, acc_t, count: int) -> bool:
    """Adding ``count`` values of x_fmt into acc_t (from 0, any order, with or without casting
    each value into acc_t first) never rounds nor overflows: one exact sum gives the result."""
    if acc_t.f < x_fmt.f or not raw_ok(acc_t, x_fmt):
        return False
    shift = acc_t.f - x_fmt.f
    hi = count * max(x_fmt.raw_max, 0) << shift
    lo = count * min(x_fmt.raw_min, 0) << shift
    return hi <= acc_t.raw_max and lo >= acc_t.raw_min and acc_t.w <= 62


def _seq_sum(vals, x_fmt, acc_t, bound_fmt=None):
    """``acc = 0; acc = (acc_t)(acc + v)`` for v along the last axis, in order (``bound_fmt``:
    the format the values came from, when they were cast into x_fmt exactly)."""
    k = vals.shape[-1]
    if _sum_exact(bound_fmt or x_fmt, acc_t, k) and vals.dtype != object:
        return vals.sum(axis=-1) << (acc_t.f - x_fmt.f)
    acc = np.zeros(vals.shape[:-1], dtype=vals.dtype)
    for j in range(k):
        acc = _add_cast(acc, acc_t, np.ascontiguousarray(vals[..., j]), x_fmt, acc_t)
    return acc


def _tree_sum(vals, acc_t, x_fmt):
    """``nnet::reduce<accum_t, N, Op_add>``: the balanced tree, each sum cast into acc_t (the
    values already in acc_t, cast from x_fmt)."""

    def rec(lo, n):
        if n == 1:
            return np.ascontiguousarray(vals[..., lo])
        if n == 2:
            return _add_cast(vals[..., lo], acc_t, vals[..., lo + 1], acc_t, acc_t)
        left = 1 << ((n - 1).bit_length() - 1)  # pow2(floorlog2(N - 1))
        return _add_cast(rec(lo, left), acc_t, rec(lo + left, n - left), acc_t, acc_t)

    k = vals.shape[-1]
    if vals.dtype != object and _sum_exact(x_fmt, acc_t, k):
        return vals.sum(axis=-1)
    return rec(0, k)


def _windows(x, pool, stride, pad, out_hw, fill):
    """(n, OH, OW, C, PH * PW): the pooling windows of x (n, H, W, C), (kh, kw) order."""
    (ph, pw), (sh, sw), (pt, pb, pl, pr), (oh, ow) = pool, stride, pad, out_hw
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    win = sliding_window_view(x, (ph, pw), axis=(1, 2))[:, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]
    return win.reshape(win.shape[:4] + (ph * pw,))


def _window_max(x, pool, stride, pad, out_hw, fill, fmt=None):
    """(n, OH, OW, C): the maximum of each pooling window of x (n, H, W, C) of format ``fmt``: the
    C++ kernel ``max_pool`` for int64 raws, else one elementwise maximum per window offset (a
    reduction over the small window axes is several times slower)."""
    (ph, pw), (sh, sw), (pt, pb, pl, pr), (oh, ow) = pool, stride, pad, out_hw
    if fmt is not None and x.dtype == np.int64 and raw_ok(fmt):
        out = _backend.max_pool(x, ph, pw, sh, sw, (pt, pb, pl, pr), fill, fmt)
        if out.shape[1:3] != (oh, ow):
            raise ValueError(f"{_API}: max pooling gives {out.shape[1:3]} pixels, expected {(oh, ow)}")
        return out
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    m = None
    for dh in range(ph):
        for dw in range(pw):
            part = x[:, dh:dh + (oh - 1) * sh + 1:sh, dw:dw + (ow - 1) * sw + 1:sw, :]
            m = part.copy() if m is None else np.maximum(m, part, out=m)
    return m


class PoolOp:
    """Max or average pooling on channels-last samples (see the module docstring); ``stream``
    selects the io_stream arithmetic."""

    __slots__ = ("op", "in_hw", "pool", "stride", "pad", "out_shape", "out_hw", "acc_t", "res_t", "stream", "length")

    def __init__(self, op, in_shape, pool, stride, pad, count_pad, out_shape, acc_t, res_t, stream=False):
        self.op, self.pool, self.stride, self.pad = op, tuple(pool), tuple(stride), tuple(pad)
        self.in_hw = (1,) + tuple(in_shape) if len(in_shape) == 2 else tuple(in_shape)
        self.out_shape = tuple(out_shape)
        self.out_hw = (1,) + self.out_shape[:1] if len(self.out_shape) == 2 else self.out_shape[:2]
        self.acc_t, self.res_t, self.stream = acc_t, res_t, stream
        # the divisor of each output pixel: the pool size, or the window positions inside the image
        (ph, pw), (sh, sw), (pt, _, pl, _), (oh, ow) = self.pool, self.stride, self.pad, self.out_hw
        h, w = self.in_hw[:2]
        if count_pad:
            self.length = np.int64(ph * pw)
        else:
            rows = np.array([sum(0 <= i * sh + k - pt < h for k in range(ph)) for i in range(oh)], np.int64)
            cols = np.array([sum(0 <= j * sw + k - pl < w for k in range(pw)) for j in range(ow)], np.int64)
            self.length = (rows[:, None] * cols[None, :])[None, :, :, None]

    def __call__(self, x, x_fmt):
        n = x.shape[0]
        x = x.reshape((n,) + self.in_hw)
        acc_t, res_t = self.acc_t, self.res_t
        if self.op == "max":
            _check_native_compare(x_fmt if not self.stream else acc_t)
            if self.stream:  # pool_window is accum_t: cast (every value a window reads; no padding), then compare
                m = _window_max(cast_raw(x, x_fmt, acc_t), self.pool, self.stride, self.pad, self.out_hw, 0, acc_t)
            else:  # max() compares data_T values and returns accum_t
                m = cast_raw(_window_max(x, self.pool, self.stride, self.pad, self.out_hw, _pad_val(x_fmt), x_fmt),
                             x_fmt, acc_t)
            out = cast_raw(m, acc_t, res_t)
        else:
            win = _windows(x, self.pool, self.stride, self.pad, self.out_hw, 0)
            if self.stream:
                vals = cast_raw(np.ascontiguousarray(win), x_fmt, acc_t)
                total = _tree_sum(vals, acc_t, x_fmt)
            else:
                total = _seq_sum(win, x_fmt, acc_t)
            out = cast_raw(_trunc_div(total, self.length), acc_t, res_t)
        return out.reshape((n,) + self.out_shape), res_t


class GlobalPoolOp:
    """Global max or average pooling: one value per channel (see the module docstring)."""

    __slots__ = ("op", "acc_t", "res_t", "stream")

    def __init__(self, op, acc_t, res_t, stream=False):
        self.op, self.acc_t, self.res_t, self.stream = op, acc_t, res_t, stream

    def __call__(self, x, x_fmt):
        n = x.shape[0]
        c = x.shape[-1]
        x = x.reshape(n, -1, c).transpose(0, 2, 1)  # (n, C, pixels): the pixels of each channel in order
        acc_t, res_t = self.acc_t, self.res_t
        count = x.shape[-1]
        if self.op == "max":
            if self.stream:
                _check_native_compare(acc_t)
                init = acc_t.raw_min if acc_t.signed else 0  # hls::numeric_limits<accum_t>::min()
                m = np.maximum(cast_raw(np.ascontiguousarray(x), x_fmt, acc_t).max(axis=-1), init)
            else:
                _check_native_compare(x_fmt)
                m = cast_raw(np.ascontiguousarray(x.max(axis=-1)), x_fmt, acc_t)
            return cast_raw(m, acc_t, res_t), res_t
        if self.stream:  # acc = (accum_t)(acc + (accum_t) x), pixel by pixel
            vals = cast_raw(np.ascontiguousarray(x), x_fmt, acc_t)
            total = _seq_sum(vals, acc_t, acc_t, bound_fmt=x_fmt)
        else:  # y += x[i]: data_T added into accum_t
            total = _seq_sum(x, x_fmt, acc_t)
        return cast_raw(_trunc_div(total, count), acc_t, res_t), res_t


class PadOp:
    """``res = (result_t) x`` inside, zeros outside; ``pad`` (top, bottom, left, right)."""

    __slots__ = ("in_hw", "pad", "out_shape", "res_t")

    def __init__(self, in_shape, pad, out_shape, res_t):
        self.in_hw = (1,) + tuple(in_shape) if len(in_shape) == 2 else tuple(in_shape)
        self.pad, self.out_shape, self.res_t = tuple(pad), tuple(out_shape), res_t

    def __call__(self, x, x_fmt):
        n = x.shape[0]
        pt, pb, pl, pr = self.pad
        y = cast_raw(x.reshape((n,) + self.in_hw), x_fmt, self.res_t)
        y = np.pad(y, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        return y.reshape((n,) + self.out_shape), self.res_t


class CropOp:
    """``res = (result_t) x`` of the region kept; ``crop`` (top, bottom, left, right)."""

    __slots__ = ("in_hw", "crop", "out_shape", "res_t")

    def __init__(self, in_shape, crop, out_shape, res_t):
        self.in_hw = (1,) + tuple(in_shape) if len(in_shape) == 2 else tuple(in_shape)
        self.crop, self.out_shape, self.res_t = tuple(crop), tuple(out_shape), res_t

    def __call__(self, x, x_fmt):
        n = x.shape[0]
        ct, cb, cl, cr = self.crop
        h, w = self.in_hw[:2]
        y = x.reshape((n,) + self.in_hw)[:, ct:h - cb, cl:w - cr]
        y = cast_raw(np.ascontiguousarray(y), x_fmt, self.res_t)
        return y.reshape((n,) + self.out_shape), self.res_t


class ResizeOp:
    """Nearest-neighbour resize: ``res[i, j] = x[rows[i], cols[j]]`` (cast into ``res_t``)."""

    __slots__ = ("in_hw", "rows", "cols", "out_shape", "res_t")

    def __init__(self, in_shape, rows, cols, out_shape, res_t):
        self.in_hw = (1,) + tuple(in_shape) if len(in_shape) == 2 else tuple(in_shape)
        self.rows, self.cols = np.asarray(rows, np.intp), np.asarray(cols, np.intp)
        self.out_shape, self.res_t = tuple(out_shape), res_t

    def __call__(self, x, x_fmt):
        n = x.shape[0]
        y = x.reshape((n,) + self.in_hw)[:, self.rows][:, :, self.cols]
        return cast_raw(y, x_fmt, self.res_t).reshape((n,) + self.out_shape), self.res_t


def _int(view, key, default=None):
    v = view.attr(key, default)
    if v is None:
        view.unsupported(f"a missing {key!r} attribute")
    return int(v)


def _channels_last(view):
    if str(view.attr("data_format", "channels_last")) != "channels_last":
        view.unsupported(f"data_format {view.attr('data_format')!r}")


def _check_shapes(view, in_shape, out_shape):
    if tuple(view.in_shapes[0]) != tuple(in_shape):
        view.unsupported(f"input shape {view.in_shapes[0]} for the configured {tuple(in_shape)}")
    if tuple(view.out_shape) != tuple(out_shape):
        view.unsupported(f"output shape {view.out_shape} (the layer's parameters give {tuple(out_shape)})")


def _pool_kind(view):
    op = str(view.attr("pool_op", "")).lower()
    if op not in ("max", "average"):
        view.unsupported(f"pool_op {view.attr('pool_op')!r}")
    return "max" if op == "max" else "avg"


@hls4ml_layer("Pooling1D", "Pooling2D")
def _pooling(view):
    two_d = view.class_name.endswith("2D")
    fn = view.function()
    want = "pooling2d_cl" if two_d else "pooling1d_cl"
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r})")
    _channels_last(view)
    op = _pool_kind(view)
    c = _int(view, "n_filt")
    pw, sw = _int(view, "pool_width"), _int(view, "stride_width")
    pl, pr = _int(view, "pad_left", 0), _int(view, "pad_right", 0)
    if two_d:
        h, w = _int(view, "in_height"), _int(view, "in_width")
        ph, sh = _int(view, "pool_height"), _int(view, "stride_height")
        pt, pb = _int(view, "pad_top", 0), _int(view, "pad_bottom", 0)
        in_shape = (h, w, c)
    else:
        h, w = 1, _int(view, "n_in")
        ph, sh, pt, pb = 1, 1, 0, 0
        in_shape = (w, c)
    oh = (h + pt + pb - ph) // sh + 1
    ow = (w + pl + pr - pw) // sw + 1
    out_shape = (oh, ow, c) if two_d else (ow, c)
    _check_shapes(view, in_shape, out_shape)
    stream = view.io_type == "io_stream"
    if stream:
        impl = str(view.attr("implementation", "linebuffer")).lower()
        if impl not in ("linebuffer", "encoded"):
            view.unsupported(f"io_stream implementation {impl!r}")
        if pt or pb or pl or pr:
            view.unsupported("padding in io_stream pooling (the template asserts none)")
        if (two_d or impl == "encoded") and (ph, pw) != (sh, sw):
            view.unsupported(f"io_stream pooling with pool {(ph, pw)} != stride {(sh, sw)} (the template asserts "
                             "them equal)")
    count_pad = str(view.attr("count_pad", False)).lower() == "true"
    return PoolOp(op, in_shape, (ph, pw), (sh, sw), (pt, pb, pl, pr), count_pad, out_shape, view.fmt("accum_t"),
                  view.fmt("result_t"), stream=stream)


@hls4ml_layer("GlobalPooling1D", "GlobalPooling2D")
def _global_pooling(view):
    two_d = view.class_name.endswith("2D")
    fn = view.function()
    want = "global_pooling2d_cl" if two_d else "global_pooling1d_cl"
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r})")
    _channels_last(view)
    op = _pool_kind(view)
    c = _int(view, "n_filt")
    in_shape = (_int(view, "in_height"), _int(view, "in_width"), c) if two_d else (_int(view, "n_in"), c)
    _check_shapes(view, in_shape, (c,))
    stream = view.io_type == "io_stream"
    acc_t = view.fmt("accum_t")
    if stream and op == "max" and acc_t.signed and acc_t.n != 0:
        view.unsupported(f"io_stream global max pooling with accumulator {acc_t} (hls::numeric_limits has no "
                         "specialization for saturation bits)")
    return GlobalPoolOp(op, acc_t, view.fmt("result_t"), stream=stream)


@hls4ml_layer("ZeroPadding1D", "ZeroPadding2D")
def _zero_padding(view):
    two_d = view.class_name.endswith("2D")
    fn = view.function()
    want = "zeropad2d_cl" if two_d else "zeropad1d_cl"
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r})")
    c = _int(view, "n_chan")
    pl, pr = _int(view, "pad_left"), _int(view, "pad_right")
    w = _int(view, "in_width")
    if two_d:
        h, pt, pb = _int(view, "in_height"), _int(view, "pad_top"), _int(view, "pad_bottom")
        in_shape, out_shape = (h, w, c), (h + pt + pb, w + pl + pr, c)
    else:
        pt = pb = 0
        in_shape, out_shape = (w, c), (w + pl + pr, c)
    _check_shapes(view, in_shape, out_shape)
    return PadOp(in_shape, (pt, pb, pl, pr), out_shape, view.fmt("result_t"))


@hls4ml_layer("Cropping1D", "Cropping2D")
def _cropping(view):
    two_d = view.class_name.endswith("2D")
    fn = view.function()
    want = "cropping2d_cl" if two_d else "cropping1d_cl"
    if fn != want:
        view.unsupported(f"function {fn!r} (expected {want!r})")
    c = _int(view, "n_chan")
    cl, cr = _int(view, "crop_left"), _int(view, "crop_right")
    w = _int(view, "in_width")
    if two_d:
        h, ct, cb = _int(view, "in_height"), _int(view, "crop_top"), _int(view, "crop_bottom")
        in_shape, out_shape = (h, w, c), (h - ct - cb, w - cl - cr, c)
    else:
        ct = cb = 0
        in_shape, out_shape = (w, c), (w - cl - cr, c)
    _check_shapes(view, in_shape, out_shape)
    return CropOp(in_shape, (ct, cb, cl, cr), out_shape, view.fmt("result_t"))


@hls4ml_layer("Resize")
def _resize(view):
    algo = str(view.attr("algorithm", "nearest")).lower()
    fn = view.function()
    if algo != "nearest" or fn != "resize_nearest":
        view.unsupported(f"algorithm {algo!r} (function {fn!r}; only resize_nearest)")
    c = _int(view, "n_chan")
    h, w = _int(view, "in_height", 1), _int(view, "in_width")
    nh, nw = _int(view, "out_height", 1), _int(view, "out_width")
    one_d = len(view.in_shapes[0]) == 2
    in_shape, out_shape = ((w, c), (nw, c)) if one_d else ((h, w, c), (nh, nw, c))
    if one_d and (h, nh) != (1, 1):
        view.unsupported(f"a 1D resize with heights {h} -> {nh}")
    _check_shapes(view, in_shape, out_shape)
    if view.io_type == "io_stream":
        if nh % h or nw % w:
            view.unsupported(f"io_stream resize by a non-integer ratio ({h}x{w} -> {nh}x{nw}; the template asserts "
                             "integer ratios)")
        rows, cols = np.arange(nh) // (nh // h), np.arange(nw) // (nw // w)
    else:
        y_ratio, x_ratio = (h << 16) // nh + 1, (w << 16) // nw + 1
        rows, cols = (np.arange(nh) * y_ratio) >> 16, (np.arange(nw) * x_ratio) >> 16
    return ResizeOp(in_shape, rows, cols, out_shape, view.fmt("result_t"))
