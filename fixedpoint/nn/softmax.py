"""Softmax: what ``nnet::softmax`` of ``nnet_activation.h`` (io_parallel) and
``nnet_activation_stream.h`` (io_stream) computes, for each implementation.

The constants come from the layer's ``config_cpp`` (``exp_table_size``, ``inv_table_size``,
``exp_scale``, the typedefs ``exp_table_t``, ``inv_table_t``, ``accum_t``, ``inv_inp_t``,
``inp_norm_t``; what the struct does not define it inherits from ``nnet::activ_config``:
``table_size = 1024``, ``table_t = ap_fixed<18,8>``).

- latency: ``exp_res[i] = (accum_t) exp_table[top N bits of x[i]]`` (N = log2 of the table
  size; the table entry of index i is ``exp_table_t(expf(float(x with top bits i) *
  exp_scale)))``; ``exp_sum = (inv_inp_t) reduce(exp_res)`` (the template's balanced adder tree,
  each addition cast to ``accum_t``); ``inv = invert_table[top bits of exp_sum]`` (entries
  ``inv_table_t(1.0f / float(v))``); ``res[i] = (result_t)(exp_res[i] * inv)``.
- stable: the same on ``d[i] = (inp_norm_t)(max(x) - x[i])`` with the table of ``exp(-d)``.
- legacy: ``exp_res[i] = sum_j (i == j ? 1 : exp_table[index(x[j] - x[i])])`` in ``table_t``
  (index as the sigmoid table's, span 16), ``res[i] = (result_t) invert_table[int(exp_res[i] *
  size / 64)]`` (clamped). io_stream uses ``table_size`` for both tables (the config struct does
  not set it: 1024).
- argmax: ``res = (result_t) 0`` everywhere but ``(result_t) 1`` at the first maximum.

io_parallel applies it to the whole flat vector (``softmax``) or to each of the
``n_outer * n_inner`` slices (``softmax_multidim``); io_stream to each pack (the last axis).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from ..format import Fixed
from ._raw import cast_raw, is_wide, raw_ok
from .activation import _from_ints, _ints, _mul_cast, _quantize, _sym_arg, _to_int, _vec, config_int, config_type
from .registry import hls4ml_layer

__all__ = ["SoftmaxOp", "exp_table", "invert_table", "exp_table_legacy", "invert_table_legacy", "ceillog2"]

ACTIV_TABLE_T = Fixed(18, 8)  # nnet::activ_config::table_t
ACTIV_TABLE_SIZE = 1024  # nnet::activ_config::table_size


def ceillog2(x: int) -> int:
    """nnet_helpers.h's ``ceillog2``."""
    return 1 if x <= 2 else 1 + ceillog2((x + 1) // 2)


def _floorlog2(x: int) -> int:
    return 0 if x < 2 else 1 + _floorlog2(x // 2)


def _real_from_idx(fmt: Fixed, n: int) -> np.ndarray:
    """``softmax_real_val_from_idx<fmt, n>(i)`` for every i: the value whose top ceillog2(n)
    bits are i (the rest 0), as a float32."""
    nb = ceillog2(n)
    i = np.arange(n, dtype=object)
    raw = [(int(v) & ((1 << nb) - 1)) << (fmt.w - nb) for v in i]
    if fmt.signed:
        raw = [r - (1 << fmt.w) if r >> (fmt.w - 1) else r for r in raw]
    return np.array([np.float32(float(r) * 2.0 ** (-fmt.f)) for r in raw], dtype=np.float32)


@functools.lru_cache(maxsize=128)
def exp_table(data_t: Fixed, n: int, exp_t: Fixed, scale: float = 1.0, negative: bool = False) -> np.ndarray:
    """``init_exp_table<data_t, CONFIG_T>(table, negative)``: ``exp_table_t(expf(±x * exp_scale))``."""
    x = _real_from_idx(data_t, n) * np.float32(scale)
    if negative:
        x = -x
    with np.errstate(all="ignore"):
        return _quantize(_vec("expf", x), exp_t)


@functools.lru_cache(maxsize=128)
def invert_table(inp_t: Fixed, n: int, inv_t: Fixed) -> np.ndarray:
    """``init_invert_table<inv_inp_t, CONFIG_T>``: ``inv_table_t(1 / x)`` in float."""
    x = _real_from_idx(inp_t, n)
    with np.errstate(all="ignore"):
        return _quantize(np.float32(1) / x, inv_t)


@functools.lru_cache(maxsize=128)
def exp_table_legacy(n: int, table_t: Fixed) -> np.ndarray:
    """``init_exp_table_legacy``: ``table_t(expf(in_val))`` over [-8, 8)."""
    with np.errstate(all="ignore"):
        return _quantize(_vec("expf", _sym_arg(n, 16.0)), table_t)


@functools.lru_cache(maxsize=128)
def invert_table_legacy(n: int, table_t: Fixed) -> np.ndarray:
    """``init_invert_table_legacy``: ``in_val = float(64.0 * ii / N)``, ``table_t(1.0 / in_val)``
    (a double division), 0 at ii = 0."""
    ii = np.arange(n, dtype=np.float64)
    x = ((64.0 * ii) / float(np.float32(n))).astype(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        v = np.where(x > 0.0, 1.0 / np.where(x > 0.0, x, 1.0), 0.0)
    return _quantize(v, table_t)


def _top_bits(v: np.ndarray, fmt: Fixed, nb: int) -> np.ndarray:
    """``softmax_idx_from_real_val``: the top ``nb`` bits of the stored pattern, unsigned."""
    if v.dtype == object:
        return np.array([(int(e) & ((1 << fmt.w) - 1)) >> (fmt.w - nb) for e in v.reshape(-1)],
                        dtype=np.int64).reshape(v.shape)
    return ((v & ((1 << fmt.w) - 1)) >> (fmt.w - nb)) & ((1 << nb) - 1)


class SoftmaxOp:
    """One softmax implementation on slices of the input (see the module docstring).

    ``layout``: ``("flat", n_outer, n_slice, n_inner)`` for io_parallel (``softmax`` is
    ``(1, n_in, 1)``), ``("last",)`` for io_stream (each pack, the last axis)."""

    def __init__(self, impl, res_t, *, layout, exp_t=None, inv_t=None, accum_t=None, inv_inp_t=None,
                 inp_norm_t=None, exp_size=1024, inv_size=1024, exp_scale=1.0, table_t=ACTIV_TABLE_T,
                 legacy_sizes=None, where="softmax"):
        self.impl, self.res_t, self.layout, self.where = impl, res_t, layout, where
        self.exp_t, self.inv_t, self.accum_t, self.inv_inp_t = exp_t, inv_t, accum_t, inv_inp_t
        self.inp_norm_t, self.exp_size, self.inv_size = inp_norm_t, int(exp_size), int(inv_size)
        self.exp_scale, self.table_t = float(np.float32(exp_scale)), table_t
        self.legacy_sizes = legacy_sizes or (self.exp_size, self.inv_size)
        self._tables = {}

    # -- per-row implementations: x (m, s) stored integers --------------------------------------
    def _tree_sum(self, cols: list):
        n = len(cols)
        if n == 1:
            return cols[0]
        if n == 2:
            return self._add(cols[0], cols[1])
        left = 2 ** _floorlog2(n - 1)
        return self._add(self._tree_sum(cols[:left]), self._tree_sum(cols[left:]))

    def _add(self, a, b):
        acc = self.accum_t
        plus = Fixed(acc.w + 1, acc.i + 1, signed=acc.signed)
        return cast_raw(a + b, plus, acc)

    def _exp_sum_and_res(self, exp_res: np.ndarray) -> np.ndarray:
        acc = self.accum_t
        total = self._tree_sum([exp_res[:, k] for k in range(exp_res.shape[1])])
        exp_sum = cast_raw(total, acc, self.inv_inp_t)
        inv = self._table("inv")[_top_bits(_ints(exp_sum, self.inv_inp_t), self.inv_inp_t, ceillog2(self.inv_size))]
        return _mul_cast(exp_res, acc, inv[:, None], self.inv_t, self.res_t)

    def _table(self, which, data_t=None):
        key = (which, data_t)
        t = self._tables.get(key)
        if t is None:
            if which == "exp":
                t = exp_table(data_t, self.exp_size, self.exp_t, self.exp_scale, self.impl == "stable")
                t = cast_raw(t, self.exp_t, self.accum_t)  # exp_res[i] = (accum_t) exp_table[...]
            elif which == "inv":
                t = invert_table(self.inv_inp_t, self.inv_size, self.inv_t)
            elif which == "exp_legacy":
                t = exp_table_legacy(self.legacy_sizes[0], self.table_t)
            else:
                t = cast_raw(invert_table_legacy(self.legacy_sizes[1], self.table_t), self.table_t, self.res_t)
            self._tables[key] = t
        return t

    def _latency(self, x, x_fmt):
        idx = _top_bits(_ints(x, x_fmt), x_fmt, ceillog2(self.exp_size))
        return self._exp_sum_and_res(np.take(self._table("exp", x_fmt), idx))

    def _stable(self, x, x_fmt):
        v = _ints(x, x_fmt)
        diff = v.max(axis=1, keepdims=True) - v  # x_max - x[i], exact in (w + 1, i + 1)
        d_fmt = Fixed(x_fmt.w + 1, x_fmt.i + 1, signed=True)
        d = _ints(cast_raw(_from_ints(diff, d_fmt), d_fmt, self.inp_norm_t), self.inp_norm_t)
        idx = _top_bits(d, self.inp_norm_t, ceillog2(self.exp_size))
        return self._exp_sum_and_res(np.take(self._table("exp", self.inp_norm_t), idx))

    def _legacy(self, x, x_fmt):
        from .activation import lut_index  # noqa: PLC0415

        t_t = self.table_t
        exp_size, inv_size = self.legacy_sizes
        table = self._table("exp_legacy")
        v = _ints(x, x_fmt)
        m, s = v.shape
        d_fmt = Fixed(x_fmt.w + 1, x_fmt.i + 1, signed=True)
        one = cast_raw(np.array([1], np.int64), Fixed(32, 32), t_t)[0]
        plus = Fixed(t_t.w + 1, t_t.i + 1, signed=t_t.signed)
        d = v[:, None, :] - v[:, :, None]  # d[:, i, j] = x[j] - x[i], exact in (w + 1, i + 1)
        terms = np.take(table, lut_index(_from_ints(d, d_fmt), d_fmt, exp_size, 16))
        terms[:, np.arange(s), np.arange(s)] = one  # i == j: exp_diff_res = 1
        acc = np.zeros((m, s), np.int64)
        for j in range(s):  # exp_res[i] += exp_diff_res, in table_t, j in order
            acc = cast_raw(acc + terms[:, :, j], plus, t_t)
        idx = _to_int(acc * inv_size if t_t.w + int(inv_size).bit_length() <= 62 else acc.astype(object) * inv_size,
                      64, t_t.f)
        idx = np.clip(idx, 0, inv_size - 1)
        return np.take(self._table("inv_legacy"), idx)

    def _argmax(self, x, x_fmt):
        v = _ints(x, x_fmt)
        idx = np.argmax(v, axis=1)  # the first maximum (the template's strict '>')
        one = cast_raw(np.array([1], np.int64), Fixed(32, 32), self.res_t)
        out = np.zeros(v.shape, one.dtype)
        out[np.arange(v.shape[0]), idx] = one[0]
        return out

    def __call__(self, x, x_fmt):
        shape = x.shape
        n = shape[0]
        if self.layout[0] == "last":
            rows = x.reshape(-1, shape[-1])
            back = lambda r: r.reshape(shape)  # noqa: E731
        else:
            _, outer, sl, inner = self.layout
            y = x.reshape(n, outer, sl, inner)
            rows = np.ascontiguousarray(y.transpose(0, 1, 3, 2)).reshape(-1, sl)
            back = lambda r: np.ascontiguousarray(  # noqa: E731
                r.reshape(n, outer, inner, sl).transpose(0, 1, 3, 2)).reshape(shape)
        if is_wide(rows) or not raw_ok(x_fmt):
            raise NotImplementedError(f"{self.where}: a {x_fmt} input (wider than 63 bits) is not emulated")
        if self.impl == "latency":
            nb = ceillog2(self.exp_size)
            if self.exp_size != 2**nb or nb > x_fmt.w:
                raise NotImplementedError(f"{self.where}: exp_table_size {self.exp_size} for a {x_fmt} input is "
                                          "not emulated (the index reads beyond the table or the input)")
        out = getattr(self, "_" + self.impl)(rows, x_fmt)
        return back(out), self.res_t


def _check_table(view, what: str, size: int, fmt: Fixed):
    nb = ceillog2(size)
    if size != 2**nb:
        view.unsupported(f"{what} {size} (not a power of 2: the index reads beyond the table)")
    if nb > fmt.w:
        view.unsupported(f"{what} {size} for a {fmt.w}-bit index type")


@hls4ml_layer("Softmax")
def _from_hls4ml(view):
    res_t = view.fmt("result_t")
    fn = view.function()
    cfg = str(view.attr("config_cpp", "") or "")

    m = re.search(r"softmax_implementation::(\w+)", cfg)
    impl = m.group(1) if m else str(view.attr("implementation", "stable")).lower()
    if impl not in ("latency", "stable", "legacy", "argmax"):
        view.unsupported(f"implementation {impl!r}")
    if fn not in ("softmax", "softmax_multidim"):
        view.unsupported(f"function {fn!r}")
    in_shape = view.in_shapes[0] if view.in_shapes else view.out_shape
    n_in = config_int(view, "n_in")
    if int(np.prod(in_shape)) != n_in:
        view.unsupported(f"n_in={n_in} for input shape {in_shape}")
    stream = view.io_type == "io_stream"
    if stream:
        axis = config_int(view, "axis", -1)
        if axis not in (-1, 2**32 - 1):
            view.unsupported(f"axis {axis} in io_stream (the template asserts axis == -1)")
        layout = ("last",)
    else:
        outer, inner = config_int(view, "n_outer", 1), config_int(view, "n_inner", 1)
        sl = config_int(view, "n_slice", n_in // max(outer * inner, 1))
        if fn == "softmax":
            layout = ("flat", 1, sl, 1)
            if sl != n_in:
                view.unsupported(f"softmax over the first {sl} of {n_in} values")
        else:
            layout = ("flat", outer, sl, inner)
            if outer * sl * inner != n_in:
                view.unsupported(f"n_outer={outer}, n_slice={sl}, n_inner={inner} for n_in={n_in}")
    kw = {}
    if impl in ("latency", "stable"):
        exp_size, inv_size = config_int(view, "exp_table_size"), config_int(view, "inv_table_size")
        scale_m = re.search(r"exp_scale\s*=\s*([^;]+);", cfg)
        scale = float(scale_m.group(1)) if scale_m else 1.0
        kw = dict(exp_t=config_type(view, "exp_table_t"), inv_t=config_type(view, "inv_table_t"),
                  accum_t=config_type(view, "accum_t"), inv_inp_t=config_type(view, "inv_inp_t"),
                  exp_size=exp_size, inv_size=inv_size, exp_scale=scale)
        _check_table(view, "inv_table_size", inv_size, kw["inv_inp_t"])
        if impl == "stable":
            kw["inp_norm_t"] = config_type(view, "inp_norm_t")
            _check_table(view, "exp_table_size", exp_size, kw["inp_norm_t"])
        for key in ("exp_t", "inv_t", "accum_t", "inv_inp_t", "inp_norm_t"):
            if kw.get(key) is not None and not raw_ok(kw[key]):
                view.unsupported(f"{key} {kw[key]} wider than 63 bits")
    elif impl == "legacy":
        table_t = config_type(view, "table_t", ACTIV_TABLE_T)
        if stream:
            size = config_int(view, "table_size", ACTIV_TABLE_SIZE)
            sizes = (size, size)
        else:
            sizes = (config_int(view, "exp_table_size"), config_int(view, "inv_table_size"))
        if not raw_ok(table_t) or table_t.w > 48:
            view.unsupported(f"legacy table_t {table_t}")
        kw = dict(table_t=table_t, legacy_sizes=sizes)
    return SoftmaxOp(impl, res_t, layout=layout, where=f"{view.api}: layer {view.name!r} ({view.class_name})", **kw)
