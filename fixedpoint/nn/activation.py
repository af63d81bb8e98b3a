"""Activations: what ``nnet_activation.h`` (io_parallel) and ``nnet_activation_stream.h``
(io_stream, the same arithmetic per element of each pack) compute.

The firmware function is read from the layer's ``function_cpp`` (``nnet::sigmoid<...>``); its
constants from the call (the literal ``alpha``/``theta`` of ``leaky_relu``/``elu``/
``thresholded_relu``, ``param_t(literal)``), from the weights (PReLU's ``alpha[i]``, one per
flat element) and from ``config_cpp`` (``table_size``, ``table_t``, HardActivation's
``slope``/``shift``, each ``type(literal)``).

- ``relu``: ``x > 0 ? x : 0``; ``linear``: ``x``; ``relu6``/``relu1``: clip to [0, MAX];
  ``leaky_relu``: ``x > 0 ? x : alpha * x``; ``thresholded_relu``: ``x > theta ? x : 0``;
  ``prelu``: ``x > 0 ? x : alpha[i] * x``. Products in full precision, one cast to result_t.
- ``hard_sigmoid``: ``s = slope * x + shift`` (full precision), clipped to [0, 1], cast;
  ``hard_tanh``: the same ``s``, then ``2 * s - 1``.
- Lookup tables (``sigmoid``, ``tanh``, ``softplus``, ``softsign``; ``elu``, ``selu`` on the
  negative side): the table is built as ``init_*_table`` does (float32 arguments from the
  index, glibc's float/double functions called through ctypes, each entry ``table_t(float)``);
  the index is ``int(x * table_size / 16) + 8 * table_size / 16`` (``/ 8`` and ``4 *`` for
  tanh), with ap_fixed's truncation toward zero, the 32-bit ``int``, the unsigned addition and
  the clamping to [0, table_size - 1]; ELU/SELU use ``int(x * table_size / -8)`` (x < 0) and
  clamp as their templates do. ``elu``: ``x >= 0 ? x : alpha * table[i]``; ``selu``:
  ``x >= 0 ? lambda * x : table[i]`` with ``lambda = ap_ufixed<16,1>(1.0507...)`` in
  io_parallel and ``data_T(1.0507...)`` in io_stream.
- ``binary_tanh``/``ternary_tanh`` as their templates (they differ between the io types).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re

import numpy as np

from ..format import Fixed
from ._raw import cast_raw, is_wide, raw_ok, relu_raw, storage, wrap
from .registry import hls4ml_layer
from ..quantize import array, from_raw
from .._operands import result_format

__all__ = ["ReluOp", "LeakyReluOp", "ThresholdedReluOp", "PReluOp", "HardOp", "LutOp", "EluOp", "SeluOp",
           "ReluMaxOp", "BinaryTanhOp", "TernaryTanhOp", "lut_table", "lut_index"]

INT32 = Fixed(32, 32)  # the ap_fixed<32,32> an int literal becomes in ap_fixed arithmetic


# ---------------------------------------------------------------------------------------------
# integer helpers
def _ints(raw: np.ndarray, fmt: Fixed) -> np.ndarray:
    """The stored integers as their values: int64 when w <= RAW_MAX_W, Python ints (object) above."""
    if not is_wide(raw) and raw_ok(fmt):
        return raw
    vals = wrap(raw, fmt).raw
    return np.asarray(vals).astype(object)


def _from_ints(vals: np.ndarray, fmt: Fixed) -> np.ndarray:
    """Values (int64 or Python ints) that lie in ``fmt``'s raw range, as the engine stores them."""
    if vals.dtype != object and raw_ok(fmt):
        return vals
    return storage(from_raw(np.asarray(vals, dtype=object), fmt))


def _const_raw(value, fmt: Fixed) -> int:
    """``fmt(value)`` for a double or int literal, as a Python int (the value, not the pattern)."""
    a = array(np.array([value], dtype=np.float64 if isinstance(value, float) else np.int64), fmt)
    return int(np.asarray(a.raw).reshape(-1)[0])


def _mul_cast(a, fa: Fixed, b, fb: Fixed, dst: Fixed) -> np.ndarray:
    """``(dst)(a * b)`` with the product in full precision; a, b stored integers (broadcast)."""
    prod = result_format("mul", fa, fb)
    a, b = np.asarray(a), np.asarray(b)
    if not is_wide(a) and not is_wide(b) and raw_ok(prod, fa, fb):
        return cast_raw(a * b, prod, dst)
    a, b = np.broadcast_arrays(a, b)
    return storage((wrap(np.ascontiguousarray(a), fa) * wrap(np.ascontiguousarray(b), fb)).cast(dst))


def _trunc_div(num: np.ndarray, den: int) -> np.ndarray:
    """``num / den`` truncated toward zero (C division), den > 0."""
    q = np.abs(num) // den
    return np.where(num < 0, -q, q)


def _wrap32(v: np.ndarray) -> np.ndarray:
    """The low 32 bits as a signed ``int`` (int64 result)."""
    if v.dtype == object:
        v = np.array([((int(e) + 2**31) & 0xFFFFFFFF) - 2**31 for e in v.reshape(-1)], dtype=np.int64).reshape(v.shape)
        return v
    return ((v + 2**31) & 0xFFFFFFFF) - 2**31


def _to_int(num: np.ndarray, den: int, f: int) -> np.ndarray:
    """``int((ap_fixed)(num * 2^-f) / den)``: ap_fixed's division by an int literal keeps the
    dividend's fraction bits and truncates toward zero; ``operator int`` truncates toward zero
    and keeps the low 32 bits."""
    if f >= 0:
        return _wrap32(_trunc_div(num, den << f))
    q = _trunc_div(num, den)
    if -f >= 32:
        return np.zeros(np.shape(q), np.int64)
    if q.dtype != object:
        q = q & 0xFFFFFFFF  # keep the low bits before the shift (int64 shift wraps modulo 2^64)
    return _wrap32(q << (-f))


def _scaled(x: np.ndarray, x_fmt: Fixed, t: int) -> np.ndarray:
    """x * t exactly (int64 when it fits, Python ints otherwise)."""
    v = _ints(x, x_fmt)
    if v.dtype != object and x_fmt.w + int(t).bit_length() <= 62:
        return v * t
    return v.astype(object) * t


def lut_index(x: np.ndarray, x_fmt: Fixed, table_size: int, span: int) -> np.ndarray:
    """The table index of ``sigmoid``/``softplus``/``softsign`` (``span`` 16) and ``tanh``
    (``span`` 8): ``index = int(x * table_size / span) + (span/2) * table_size / span`` (the
    addition in unsigned arithmetic, read back as int), clamped to [0, table_size - 1]."""
    data_round = _to_int(_scaled(x, x_fmt, table_size), span, x_fmt.f)
    offset = ((span // 2) * table_size) // span
    index = _wrap32(data_round + offset)
    return np.clip(index, 0, table_size - 1)


def _neg_index(x: np.ndarray, x_fmt: Fixed, table_size: int, clamp_negative: bool) -> np.ndarray:
    """ELU/SELU: ``index = int(x * table_size / -8)``; ``index > table_size - 1`` compares an
    int with an unsigned (a negative index counts as huge) unless ``clamp_negative`` (SELU in
    io_parallel checks ``index < 0`` first)."""
    num = _scaled(x, x_fmt, table_size)
    index = _to_int(-num, 8, x_fmt.f)  # trunc(a / -8) == trunc(-a / 8)
    if clamp_negative:
        return np.clip(index, 0, table_size - 1)
    return np.where((index < 0) | (index > table_size - 1), table_size - 1, index)


# ---------------------------------------------------------------------------------------------
# tables
@functools.lru_cache(maxsize=None)
def _libm():
    name = ctypes.util.find_library("m") or "libm.so.6"
    lib = ctypes.CDLL(name)
    fns = {}
    for fname, ctype in (("expf", ctypes.c_float), ("tanhf", ctypes.c_float), ("log", ctypes.c_double),
                         ("tanh", ctypes.c_double)):
        fn = getattr(lib, fname)
        fn.restype, fn.argtypes = ctype, [ctype]
        fns[fname] = fn
    return fns


def _vec(fname: str, x: np.ndarray) -> np.ndarray:
    """The C library's ``fname`` on each value (float32 in, float32 out for the f-suffixed ones)."""
    fn = _libm()[fname]
    dtype = np.float32 if fname.endswith("f") else np.float64
    return np.array([fn(float(v)) for v in np.asarray(x).reshape(-1)], dtype=dtype).reshape(np.shape(x))


def _quantize(values: np.ndarray, fmt: Fixed) -> np.ndarray:
    """``table_t v = (double) value`` for each entry: stored integers (read-only)."""
    out = storage(array(np.asarray(values, dtype=np.float64), fmt, nan="ap"))
    out.flags.writeable = False
    return out


def _sym_arg(n: int, span: float) -> np.ndarray:
    """``float in_val = 2 * (span/2) * (ii - float(N) / 2.0) / float(N)`` (double arithmetic,
    one rounding to float)."""
    ii = np.arange(n, dtype=np.float64)
    nf = float(np.float32(n))
    return ((2 * (span / 2)) * (ii - nf / 2.0) / nf).astype(np.float32)


def _neg_arg(n: int) -> np.ndarray:
    """``float in_val = -8.0 * ii / float(N)``."""
    ii = np.arange(n, dtype=np.float64)
    return ((-8.0 * ii) / float(np.float32(n))).astype(np.float32)


def lut_values(kind: str, n: int) -> np.ndarray:
    """The float32 values ``init_<kind>_table`` converts into ``table_t`` (before quantization)."""
    with np.errstate(all="ignore"):
        if kind == "sigmoid":  # 1.0 / (1 + std::exp(-input)): float add, double divide
            s = np.float32(1) + _vec("expf", -_sym_arg(n, 16.0))
            return (1.0 / s.astype(np.float64)).astype(np.float32)
        if kind == "tanh":  # tanh(float) from <math.h>'s std overloads: tanhf
            return _vec("tanhf", _sym_arg(n, 8.0))
        if kind == "softplus":  # std::log(std::exp(input) + 1.)
            e = _vec("expf", _sym_arg(n, 16.0)).astype(np.float64)
            return _vec("log", e + 1.0).astype(np.float32)
        if kind == "softsign":  # input / (std::abs(input) + 1.)
            x = _sym_arg(n, 16.0).astype(np.float64)
            return (x / (np.abs(x) + 1.0)).astype(np.float32)
        if kind == "elu":  # std::exp(input) - 1.
            return (_vec("expf", _neg_arg(n)).astype(np.float64) - 1.0).astype(np.float32)
        if kind == "selu":
            e = _vec("expf", _neg_arg(n)).astype(np.float64) - 1.0
            return (1.0507009873554804934193349852946 * (1.6732632423543772848170429916717 * e)).astype(np.float32)
    raise ValueError(f"no lookup table for {kind!r}")


@functools.lru_cache(maxsize=256)
def lut_table(kind: str, n: int, table_t: Fixed) -> np.ndarray:
    """The stored integers of ``init_<kind>_table<CONFIG_T, n>`` in ``table_t``."""
    return _quantize(lut_values(kind, n), table_t)


# ---------------------------------------------------------------------------------------------
# ops
class ReluOp:
    """``(result_t)(x > 0 ? x : 0)`` (a linear activation when ``relu`` is False)."""

    __slots__ = ("res_t", "relu")

    def __init__(self, res_t, relu=True):
        self.res_t, self.relu = res_t, relu

    def __call__(self, x, x_fmt):
        if self.relu:
            x = relu_raw(x, x_fmt)
        return cast_raw(x, x_fmt, self.res_t), self.res_t


class ReluMaxOp:
    """``relu_max<MAX>``: ``x < 0 ? 0 : x > MAX ? MAX : x``, each branch cast to result_t."""

    __slots__ = ("res_t", "top")

    def __init__(self, res_t, top):
        self.res_t, self.top = res_t, int(top)

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        res = cast_raw(x, x_fmt, self.res_t)
        top = cast_raw(np.array([self.top], np.int64), INT32, self.res_t)[0]
        f = x_fmt.f  # x > MAX  <=>  v > floor(MAX * 2^f)
        thr = self.top << f if f >= 0 else self.top >> (-f)
        out = np.where(v < 0, np.zeros((), res.dtype), np.where(v > thr, top, res))
        return out, self.res_t


class LeakyReluOp:
    """``x > 0 ? (result_t) x : (result_t)(alpha * x)`` (alpha a ``param_t``)."""

    __slots__ = ("alpha", "a_fmt", "res_t")

    def __init__(self, alpha_raw, a_fmt, res_t):
        self.alpha, self.a_fmt, self.res_t = np.asarray(alpha_raw), a_fmt, res_t

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        shape = x.shape
        alpha = self.alpha
        if alpha.ndim:  # PReLU: one alpha per flat element
            x = x.reshape(shape[0], -1)
            v = v.reshape(x.shape)
            alpha = alpha.reshape(1, -1)
        pos = cast_raw(x, x_fmt, self.res_t)
        neg = _mul_cast(x, x_fmt, alpha, self.a_fmt, self.res_t)
        return np.where(v > 0, pos, neg).reshape(shape), self.res_t


class PReluOp(LeakyReluOp):
    """``x > 0 ? x : alpha[i] * x`` with one ``param_t`` alpha per flat element."""

    __slots__ = ()


class ThresholdedReluOp:
    """``x > theta ? (result_t) x : 0`` (theta a ``param_t``, compared exactly)."""

    __slots__ = ("theta", "t_fmt", "res_t")

    def __init__(self, theta_raw, t_fmt, res_t):
        self.theta, self.t_fmt, self.res_t = int(theta_raw), t_fmt, res_t

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        d = x_fmt.f - self.t_fmt.f  # x > theta  <=>  v > floor(theta * 2^d)
        thr = self.theta << d if d >= 0 else self.theta >> (-d)
        if v.dtype != object:
            thr = min(max(thr, -(2**63)), 2**63 - 1)
        res = cast_raw(x, x_fmt, self.res_t)
        return np.where(v > thr, res, np.zeros_like(res)), self.res_t


class HardOp:
    """``s = slope * x + shift`` (full precision), ``s > 1 ? 1 : s < 0 ? 0 : s``; result
    ``(result_t) s`` (hard_sigmoid) or ``(result_t)(2 * s - 1)`` (hard_tanh)."""

    __slots__ = ("slope", "slope_t", "shift", "shift_t", "res_t", "tanh")

    def __init__(self, slope_raw, slope_t, shift_raw, shift_t, res_t, tanh=False):
        self.slope, self.slope_t, self.shift, self.shift_t = int(slope_raw), slope_t, int(shift_raw), shift_t
        self.res_t, self.tanh = res_t, tanh

    def __call__(self, x, x_fmt):
        prod = result_format("mul", self.slope_t, x_fmt)
        s_fmt = result_format("add", prod, self.shift_t)
        v = _ints(x, x_fmt)
        if v.dtype != object and not raw_ok(s_fmt):
            v = v.astype(object)
        s = (v * self.slope << (s_fmt.f - prod.f)) + (self.shift << (s_fmt.f - self.shift_t.f))
        one = _const_raw(1, s_fmt)  # datareg = 1 (an int into the natural format)
        s = np.where(s > (1 << s_fmt.f), one, np.where(s < 0, 0, s))
        if not self.tanh:
            return cast_raw(_from_ints(s, s_fmt), s_fmt, self.res_t), self.res_t
        t = 2 * s - (1 << s_fmt.f)  # 2 * sigmoid - 1, exact
        t_fmt = Fixed(s_fmt.w + 2, s_fmt.i + 2, signed=True)
        if t.dtype != object and not raw_ok(t_fmt):
            t = t.astype(object)
        return cast_raw(_from_ints(t, t_fmt), t_fmt, self.res_t), self.res_t


class LutOp:
    """``res = (result_t) table[index(x)]`` for sigmoid/softplus/softsign (span 16) and tanh
    (span 8)."""

    __slots__ = ("kind", "size", "table", "table_t", "res_t", "span", "_out")

    def __init__(self, kind, size, table_t, res_t):
        self.kind, self.size, self.table_t, self.res_t = kind, int(size), table_t, res_t
        self.span = 8 if kind == "tanh" else 16
        self.table = lut_table(kind, self.size, table_t)
        self._out = cast_raw(self.table, table_t, res_t)

    def __call__(self, x, x_fmt):
        idx = lut_index(x, x_fmt, self.size, self.span)
        return np.take(self._out, idx), self.res_t


class EluOp:
    """``x >= 0 ? (result_t) x : (result_t)(alpha * table[index(x)])``."""

    __slots__ = ("size", "table_t", "res_t", "_neg")

    def __init__(self, size, table_t, alpha_raw, a_fmt, res_t):
        self.size, self.table_t, self.res_t = int(size), table_t, res_t
        table = lut_table("elu", self.size, table_t)
        self._neg = _mul_cast(table, table_t, np.array(alpha_raw, np.int64), a_fmt, res_t)

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        idx = _neg_index(x, x_fmt, self.size, clamp_negative=False)
        return np.where(v >= 0, cast_raw(x, x_fmt, self.res_t), np.take(self._neg, idx)), self.res_t


SELU_LAMBDA = 1.0507009873554805
SELU_LAMBDA_STREAM = 1.0507009873554804934193349852946


class SeluOp:
    """``x >= 0 ? (result_t)(lambda * x) : (result_t) table[index(x)]``; lambda is
    ``ap_ufixed<16,1>(1.0507009873554805)`` in io_parallel, ``data_T(1.0507...)`` in io_stream
    (where a negative index also clamps to the top, as the template has no ``index < 0``)."""

    __slots__ = ("size", "table_t", "res_t", "stream", "_neg")

    def __init__(self, size, table_t, res_t, stream=False):
        self.size, self.table_t, self.res_t, self.stream = int(size), table_t, res_t, stream
        self._neg = cast_raw(lut_table("selu", self.size, table_t), table_t, res_t)

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        if self.stream:
            lam_t = x_fmt
            lam = _const_raw(SELU_LAMBDA_STREAM, lam_t)
        else:
            lam_t = Fixed(16, 1, signed=False)
            lam = _const_raw(SELU_LAMBDA, lam_t)
        lam_store = _from_ints(np.array([lam], dtype=object), lam_t) if lam_t.w > 63 else np.array(lam, np.int64)
        pos = _mul_cast(x, x_fmt, lam_store, lam_t, self.res_t)
        idx = _neg_index(x, x_fmt, self.size, clamp_negative=not self.stream)
        return np.where(v >= 0, pos, np.take(self._neg, idx)), self.res_t


class BinaryTanhOp:
    """``cache = x >= 0 ? 1 : -1`` (an ``ap_int<2>``), then ``binary_cast``: for an
    ``ap_uint<1>`` result ``cache > 0 ? cache : 0``, else ``(result_t) cache``."""

    __slots__ = ("res_t", "uint1")

    def __init__(self, res_t, uint1=False):
        self.res_t, self.uint1 = res_t, uint1

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        two = Fixed(2, 2)
        c = np.where(v >= 0, 1, -1).astype(np.int64)
        r = self.res_t
        if self.uint1:
            c = np.maximum(c, 0)
        return cast_raw(c, two, r), r


class TernaryTanhOp:
    """io_parallel: ``d = (data_T)(2 * x)``, ``d > 1 ? 1 : d > -1 ? 0 : -1``; io_stream:
    ``x > 1 ? 1 : x <= -1 ? -1 : 0``; each a ``(result_t)`` of the int."""

    __slots__ = ("res_t", "stream")

    def __init__(self, res_t, stream=False):
        self.res_t, self.stream = res_t, stream

    def __call__(self, x, x_fmt):
        v = _ints(x, x_fmt)
        if x_fmt.f < 0:
            raise NotImplementedError("ternary_tanh: an input format with negative fraction bits is not emulated")
        one = 1 << x_fmt.f
        if self.stream:
            c = np.where(v > one, 1, np.where(v <= -one, -1, 0))
        else:  # datareg = 2 * data[ii]: the exact 2x, assigned to data_T (its overflow mode)
            d_fmt = Fixed(x_fmt.w + 1, x_fmt.i + 1, signed=x_fmt.signed)
            two_x = (v if v.dtype == object or raw_ok(d_fmt) else v.astype(object)) * 2
            d = _ints(cast_raw(_from_ints(two_x, d_fmt), d_fmt, x_fmt), x_fmt)
            c = np.where(d > one, 1, np.where(d > -one, 0, -1))
        c = np.asarray(c, dtype=np.int64)
        return cast_raw(c, Fixed(2, 2), self.res_t), self.res_t


# ---------------------------------------------------------------------------------------------
# builder
_CALL = re.compile(r"nnet::\w+\s*<(?P<targs>[^>]*(?:<[^<>]*>[^>]*)*)>\s*\((?P<args>.*)\)\s*;?\s*$", re.S)


def call_args(view) -> list[str]:
    """The arguments of the generated call ``nnet::f<...>(a, b, c);``."""
    m = _CALL.search(str(view.attr("function_cpp", "") or ""))
    if m is None:
        view.unsupported(f"function call {view.attr('function_cpp')!r}")
    return [a.strip() for a in m.group("args").split(",")]


def config_int(view, member: str, default=None) -> int:
    """``static const unsigned member = N;`` of the layer's config struct."""
    m = re.search(rf"\b{member}\s*=\s*(-?\d+)\s*;", str(view.attr("config_cpp", "") or ""))
    if m is None:
        if default is None:
            view.unsupported(f"config member {member} (not found in config_cpp)")
        return default
    return int(m.group(1))


def config_literal(view, member: str) -> str:
    """The literal of ``... ::member = LITERAL;`` (a static member definition) in config_cpp."""
    m = re.search(rf"::{member}\s*=\s*([^;]+);", str(view.attr("config_cpp", "") or ""))
    if m is None:
        view.unsupported(f"config constant {member} (not found in config_cpp)")
    return m.group(1).strip()


def config_type(view, member: str, default: Fixed | None = None) -> Fixed:
    """The format of ``typedef X member;`` in config_cpp: X an ``ap_[u]fixed<...>`` spelling or
    the name of one of the layer's types (``default`` when the struct has no such typedef)."""
    m = re.search(rf"typedef\s+([^;]+?)\s+{member}\s*;", str(view.attr("config_cpp", "") or ""))
    if m is None:
        if default is None:
            view.unsupported(f"config type {member} (not found in config_cpp)")
        return default
    name = m.group(1).strip()
    if name.startswith("ap_"):
        try:
            return Fixed.parse(name)
        except ValueError:
            view.unsupported(f"{member} type {name!r}")
    keys = [member] + [k for k in _type_keys(view) if k != member]
    for key in keys:
        t = view.attr(key)
        if t is not None and getattr(t, "name", None) == name:
            return view.fmt(key)
    view.unsupported(f"{member} type {name!r} (no layer type of that name)")


def _type_keys(view) -> list[str]:
    attrs = getattr(getattr(view, "layer", None), "attributes", {}) or {}
    try:
        return [str(k) for k in attrs.keys() if str(k).endswith("_t")]
    except AttributeError:
        return []


def literal_value(view, text: str) -> float | int:
    """A C++ numeric literal of the generated code as the value the compiler reads."""
    t = text.strip()
    try:
        return int(t) if re.fullmatch(r"[+-]?\d+", t) else float(t)
    except ValueError:
        view.unsupported(f"constant {text!r}")


def param_raw(view, text: str, fmt: Fixed) -> int:
    """``param_t(literal)``: the literal as the compiler reads it, converted into ``fmt``."""
    return _const_raw(literal_value(view, text), fmt)


def _table_size(view) -> int:
    size = config_int(view, "table_size", 1024)
    if not 1 <= size < 2**28:
        view.unsupported(f"table_size {size}")
    return size


_LUT = ("sigmoid", "tanh", "softplus", "softsign")


@hls4ml_layer("Activation", "ReLU", "ParametrizedActivation", "PReLU", "HardActivation", "TernaryTanh",
              "LeakyReLU", "ThresholdedReLU", "ELU")
def _from_hls4ml(view):
    res_t = view.fmt("result_t")
    fn = view.function()
    act = str(view.attr("activation", view.class_name)).lower()
    stream = view.io_type == "io_stream"
    if fn is None:  # no call in the firmware: only a linear activation can be dropped
        if act == "linear":
            return ReluOp(res_t, relu=False)
        view.unsupported(f"activation {act!r} without a function call")
    if fn in ("relu", "linear"):
        return ReluOp(res_t, relu=fn == "relu")
    if fn in ("relu6", "relu1"):
        if stream:
            view.unsupported(f"{fn} in io_stream (nnet_activation_stream.h has no {fn}; hls4ml cannot build it)")
        return ReluMaxOp(res_t, 6 if fn == "relu6" else 1)
    if fn in _LUT:
        return LutOp(fn, _table_size(view), config_type(view, "table_t", Fixed(18, 8)), res_t)
    if fn in ("leaky_relu", "thresholded_relu", "elu", "prelu"):
        args = call_args(view)
        if fn == "elu" and len(args) == 2:  # elu(data, res): alpha = ap_uint<1>(1.0)
            return EluOp(_table_size(view), config_type(view, "table_t", Fixed(18, 8)), 1, Fixed(1, 1, signed=False),
                         res_t)
        if len(args) != 3:
            view.unsupported(f"{fn} call with {len(args)} arguments")
        p_t = view.fmt("param_t")
        if fn == "prelu":
            n = int(np.prod(view.out_shape)) if view.out_shape else int(view.attr("n_in"))
            alpha = view.literal("param", p_t).reshape(-1)
            if alpha.size != n:
                view.unsupported(f"PReLU with {alpha.size} alphas for {n} values (the template reads alpha[i] for "
                                 "every flat element)")
            return PReluOp(alpha, p_t, res_t)
        p = param_raw(view, args[1], p_t)
        if fn == "leaky_relu":
            return LeakyReluOp(_from_ints(np.array(p, dtype=object if p_t.w > 63 else np.int64), p_t), p_t, res_t)
        if fn == "thresholded_relu":
            return ThresholdedReluOp(p, p_t, res_t)
        return EluOp(_table_size(view), config_type(view, "table_t", Fixed(18, 8)), p, p_t, res_t)
    if fn == "selu":
        return SeluOp(_table_size(view), config_type(view, "table_t", Fixed(18, 8)), res_t, stream=stream)
    if fn in ("hard_sigmoid", "hard_tanh"):
        slope_t, shift_t = view.fmt("slope_t"), view.fmt("shift_t")
        slope = param_raw(view, config_literal(view, "slope"), slope_t)
        shift = param_raw(view, config_literal(view, "shift"), shift_t)
        return HardOp(slope, slope_t, shift, shift_t, res_t, tanh=fn == "hard_tanh")
    if fn == "binary_tanh":
        prec = getattr(view.attr("result_t"), "precision", None)
        uint1 = "Integer" in type(prec).__name__ and (res_t.w, res_t.signed) == (1, False)
        return BinaryTanhOp(res_t, uint1=uint1)
    if fn == "ternary_tanh":
        return TernaryTanhOp(res_t, stream=stream)
    view.unsupported(f"activation function {fn!r}")
