"""The post-training bit scanner on any model the emulation engine runs.

:func:`scan` (``fx.scan``) takes an :class:`fixedpoint.Network` (the NumPy-only MLP scanner of
:mod:`fixedpoint.network`), a converted hls4ml ``ModelGraph``, or a ``torch.nn.Module`` (converted
through hls4ml's PyTorch converter, without compiling). For graphs it finds every *knob* of
every layer by building the layer's op from a view whose types are replaced (the builder reports
which type attributes it reads), so each layer family's semantics stay in one place
(:mod:`fixedpoint.nn`) and every candidate is evaluated by the bit-exact engine:

- ``result_t`` of every layer (and of each Input layer): integer bits from the profiled range of
  the layer's output, fraction bits searched; unsigned where the value cannot be negative
  (ReLU, sigmoid, softmax and the layers that only move, pad, pool or concatenate such values);
- weight types (``weight_t``, ``bias_t``, ``scale_t``, ``param_t``, ...): integer bits from the
  values, fraction bits searched;
- lookup tables: ``table_t`` (sigmoid, tanh, ...; softmax's ``exp_table_t`` and
  ``inv_table_t``): their integer bits as configured, fraction bits searched; ``table_size``
  searched over powers of two up to the configured size;
- accumulators of Dense and convolution layers: wide enough for every product and sum (no
  rounding, no overflow) unless ``accum``/``accum_width`` say otherwise; average pooling: the
  input's format plus ``ceil(log2(pool size))`` integer bits; other internal types (softmax's
  ``accum_t``, ``inv_inp_t``) stay as configured.

The emitted hls4ml config sets every type of every layer explicitly, so hls4ml resolves nothing
to ``auto``: compiled, its C-simulation equals the scanner's emulation bit for bit (tested).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import re
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from . import nn
from .array import FixedArray
from .format import Fixed
from .network import Network
from .network import scan as network_scan
from ._sharded import _graph_step, _Sharded, _uses_stoch
from ._scanning import _Progress, _abs_level, _accum_flags, _accuracy, _chunked, _int_bits, _plot
from .nn._raw import quantize_input

__all__ = ["scan", "scan_graph", "GraphScanResult"]

_API = "fx.scan"
_WEIGHT_KEYS = {"weight_t": "weight", "bias_t": "bias", "scale_t": "scale", "param_t": "param",
                "depthwise_t": "depthwise", "pointwise_t": "pointwise"}
_TABLE_KEYS = ("table_t", "exp_table_t", "inv_table_t")
_SIZE_MEMBERS = ("table_size", "exp_table_size", "inv_table_size")
_MAC_KINDS = ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "DepthwiseConv1D",
              "DepthwiseConv2D")
_PASS_KINDS = ("Reshape", "Transpose", "Clone", "Repack", "Pooling1D", "Pooling2D", "GlobalPooling1D",
               "GlobalPooling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Resize",
               "Concatenate")


# ---------------------------------------------------------------------------------------------
# views with replaced types
class _TypedView:
    """A :class:`fixedpoint.hls4ml.LayerView` whose type attributes and table sizes are replaced
    by ``over`` (``{"result_t": Fixed, ..., "table_size": int}``); records which types the
    builder reads (``used``) and which config members it looks up (``members``)."""

    def __init__(self, base, over: dict):
        self._base, self._over = base, over
        self.used: set = set()

    def __getattr__(self, name):
        return getattr(self._base, name)

    def fmt(self, key: str) -> Fixed:
        self.used.add(key)
        got = self._over.get(key)
        return got if got is not None else self._base.fmt(key)

    def attr(self, key: str, default=None):
        v = self._base.attr(key, default)
        if key == "config_cpp" and v:
            v = str(v)
            if "table_size" in self._over:
                size = int(self._over["table_size"])
                for member in _SIZE_MEMBERS:
                    v = re.sub(rf"(\b{member}\s*=\s*)\d+(\s*;)", rf"\g<1>{size}\g<2>", v)
            in_fmt = self._over.get("_in_fmt")
            if in_fmt is not None and self._base.class_name == "Softmax":
                v = _softmax_config(v, in_fmt)
        if key == "table_size" and "table_size" in self._over:
            return int(self._over["table_size"])
        return v


def _softmax_config(cpp: str, in_fmt: Fixed) -> str:
    """What hls4ml's softmax config template derives from the input type (core_templates.py):
    the stable implementation's ``inp_norm_t = ap_ufixed<W - S, I - S>`` (S = 1 when the input
    is signed) and, for a signed input, ``exp_table_size = min(inv_table_size, 2**(W - S))``."""
    if not re.search(r"typedef\s+ap_ufixed<\s*-?\d+\s*,\s*-?\d+\s*>\s+inp_norm_t\s*;", cpp):
        return cpp  # not stable, or an explicit inp_norm_t type
    s = int(in_fmt.signed)
    width, iwidth = in_fmt.w - s, in_fmt.i - s
    cpp = re.sub(r"typedef\s+ap_ufixed<[^>]*>\s+inp_norm_t\s*;", f"typedef ap_ufixed<{width}, {iwidth}> inp_norm_t;",
                 cpp)
    if s:
        inv = re.search(r"\binv_table_size\s*=\s*(\d+)\s*;", cpp)
        if inv:
            size = min(int(inv.group(1)), 2**width)
            cpp = re.sub(r"(\bexp_table_size\s*=\s*)\d+(\s*;)", rf"\g<1>{size}\g<2>", cpp)
    return cpp


def _config_sizes(view) -> dict:
    cpp = str(view.attr("config_cpp", "") or "")
    return {m: int(v) for m in _SIZE_MEMBERS for v in re.findall(rf"\b{m}\s*=\s*(\d+)\s*;", cpp)[:1]}


# ---------------------------------------------------------------------------------------------
@dataclass
class _Knob:
    layer: str
    key: str  # the type attribute ("result_t", "weight_t", ...) or "table_size"
    role: str  # "data", "weight", "table" or "size"
    ibits: int = 0
    signed: bool = True
    q: str = "TRN"
    o: str = "WRAP"
    lo: int = 0  # the fewest fraction bits (or log2 table size) the search may take
    hi: int = 0  # where the search starts

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.key}"

    def fixed(self, f: int) -> Fixed:
        return Fixed(self.ibits + f, self.ibits, signed=self.signed, q=self.q, o=self.o)


class _Model:
    """The prepared model: the hls4ml graph's views, the wiring, the float reference."""

    def __init__(self, hls_model, api: str):
        from . import hls4ml as fxh  # noqa: PLC0415

        self.hls_model = hls_model
        self.base = fxh.to_graph(hls_model)  # raises NotImplementedError before any work
        self.views = {v.name: v for v in fxh.layer_views(hls_model)}
        self.inputs = self.base.inputs
        self.input_layer = {}
        for v in self.views.values():
            if v.class_name in ("Input", "InputLayer"):
                for t in v.outputs:
                    self.input_layer[t] = v.name
        self.ops: dict = {}  # (layer, frozen overrides) -> (op, used keys)
        self._fmts: dict = {}  # (layer, overrides, input formats) -> output formats
        self.api = api

    def over(self, node, over: dict, in_fmts: list) -> dict:
        """The overrides of a node given its input formats (what hls4ml's templates derive from
        them: softmax's ``inp_norm_t``)."""
        if node.kind == "Softmax" and in_fmts:
            return {**over, "_in_fmt": in_fmts[0]}
        return over

    def out_fmts(self, node, over: dict, in_fmts: list, in_shapes: list) -> list:
        """The formats of a node's outputs: its op run on one zero sample."""
        from .nn._raw import quantize_input as q  # noqa: PLC0415

        over = self.over(node, over, in_fmts)
        key = (node.name, tuple(sorted(over.items())), tuple(in_fmts))
        hit = self._fmts.get(key)
        if hit is None:
            op, _ = self.op(node.name, over)
            args = []
            for f, shape in zip(in_fmts, in_shapes):
                args += [q(np.zeros((1,) + tuple(shape)), f), f]
            out = op(*args)
            hit = self._fmts[key] = [o[1] for o in out] if isinstance(out, list) else [out[1]] * len(node.outputs)
        return hit

    def op(self, name: str, over: dict):
        key = (name, tuple(sorted(over.items())))
        hit = self.ops.get(key)
        if hit is None:
            view = _TypedView(self.views[name], over)
            op = nn.HLS4ML[view.class_name](view)
            hit = self.ops[key] = (op, frozenset(view.used))
            if len(self.ops) > 4096:
                self.ops.clear()
                self.ops[key] = hit
        return hit


class _Runner:
    """Runs candidate configurations with every tensor memoized by what it depends on, so a
    change of one layer's types recomputes only that layer and what follows it."""

    def __init__(self, model: _Model, xs: list[np.ndarray]):
        self.model, self.xs = model, xs
        self.memo: dict = {}

    def run(self, cfg: dict, keep: bool = False) -> dict:
        m = self.model
        values, keys = {}, {}
        for name, shape, _ in m.inputs:
            layer = m.input_layer[name]
            fmt = cfg.get(layer, {}).get("result_t") or m.views[layer].fmt("result_t")
            k = ("in", name, fmt)
            if k not in self.memo:
                x = self.xs[[t for t, _, _ in m.inputs].index(name)]
                self.memo[k] = (quantize_input(x, fmt), fmt)
            values[name], keys[name] = self.memo[k], k
        for node in m.base.nodes:
            over = m.over(node, cfg.get(node.name, {}), [values[t][1] for t in node.inputs])
            k = (node.name, tuple(sorted(over.items())), tuple(keys[t] for t in node.inputs))
            hit = self.memo.get(k)
            if hit is None:
                op, _ = m.op(node.name, over)
                hit = self.memo[k] = _chunked(op, [values[t] for t in node.inputs])
            for j, t in enumerate(node.outputs):
                values[t] = hit[j] if isinstance(hit, list) else hit
                keys[t] = (k, j)
        if len(self.memo) > 768:  # bound the memory of long scans
            self.memo.clear()
        return values if keep else {t: values[t] for t in m.base.outputs}

    def outputs(self, cfg: dict) -> list[np.ndarray]:
        vals = self.run(cfg)
        n = len(self.xs[0])
        return [FixedArray(vals[t][0].reshape(n, -1), vals[t][1], _trusted=True).to_float()
                for t in self.model.base.outputs]


class _RemoteRunner:
    """:meth:`_Runner.outputs` computed on a Dask cluster: the calibration events split across
    the workers (scattered once, :class:`fixedpoint._sharded._Sharded`), each worker running the same
    ops with the same memo keys on its shard, the outputs gathered in event order. Exact because
    the emulation of an event does not depend on the other events; configurations with STOCH
    rounding (whose counters are positions in the batch) return None and run here instead."""

    def __init__(self, model: _Model, xs: list[np.ndarray], client):
        self.model, self.n = model, len(xs[0])
        self.sharded = _Sharded(client, None, xs, _graph_step, _API)
        self.ids: dict = {}  # memo key -> the small integer the workers know it by
        self.sent: set = set()  # ids whose op the workers hold

    def _plan(self, cfg: dict, full: bool):
        m = self.model
        inputs, nodes = [], []
        fmts, keys, refs, shapes = {}, {}, {}, {}
        for index, (name, shape, _) in enumerate(m.inputs):
            layer = m.input_layer[name]
            fmt = cfg.get(layer, {}).get("result_t") or m.views[layer].fmt("result_t")
            k = ("in", name, fmt)  # the keys of _Runner.run
            i = self.ids.setdefault(k, len(self.ids))
            inputs.append((i, index, fmt))
            fmts[name], keys[name], refs[name], shapes[name] = fmt, k, (i, None), shape
        for node in m.base.nodes:
            own = cfg.get(node.name, {})
            in_fmts = [fmts[t] for t in node.inputs]
            over = m.over(node, own, in_fmts)
            k = (node.name, tuple(sorted(over.items())), tuple(keys[t] for t in node.inputs))
            i = self.ids.setdefault(k, len(self.ids))
            op = m.op(node.name, over)[0] if full or i not in self.sent else None
            nodes.append((i, op, [refs[t] for t in node.inputs]))
            outs = m.out_fmts(node, own, in_fmts, [shapes[t] for t in node.inputs])
            for j, t in enumerate(node.outputs):
                fmts[t], keys[t], refs[t], shapes[t] = outs[j], (k, j), (i, j), m.views[node.name].out_shape
        return inputs, nodes, [refs[t] for t in m.base.outputs]

    def outputs(self, cfg: dict) -> list[np.ndarray] | None:
        if _uses_stoch(cfg):
            return None
        plan = self._plan(cfg, False)
        got = self.sharded(plan, fresh=lambda: self._plan(cfg, True))
        self.sent.update(i for i, op, _ in plan[1] if op is not None)
        return [FixedArray(raw.reshape(self.n, -1), fmt, _trusted=True).to_float() for raw, fmt in got]


def _nonneg_tensors(model: _Model) -> set:
    """Tensors that cannot be negative whatever the input: outputs of ReLU, sigmoid, softmax, hard
    sigmoid, and of layers that only move, pad, pool or join such tensors."""
    from .nn.activation import HardOp, LutOp, ReluMaxOp, ReluOp  # noqa: PLC0415
    from .nn.softmax import SoftmaxOp  # noqa: PLC0415

    nonneg: set = set()
    for node in model.base.nodes:
        op = node.op
        pos = (isinstance(op, ReluOp) and op.relu) or isinstance(op, (ReluMaxOp, SoftmaxOp)) \
            or (isinstance(op, LutOp) and op.kind in ("sigmoid", "softplus")) \
            or (isinstance(op, HardOp) and not op.tanh) \
            or (node.kind in _PASS_KINDS and all(t in nonneg for t in node.inputs)) \
            or (node.kind == "Merge" and getattr(op, "op", "") in ("add", "multiply", "average", "maximum", "minimum")
                and all(t in nonneg for t in node.inputs))
        if pos:
            nonneg.update(node.outputs)
    return nonneg


def _mac_k(view) -> int:
    """Products summed per output of a Dense/convolution layer."""
    if view.class_name == "Dense":
        return int(view.attr("n_in"))
    w = view.weight("weight")
    out_ch = int(view.out_shape[-1]) if view.out_shape else 1
    if view.class_name.startswith("Depthwise"):
        return max(1, w.size // max(1, int(view.attr("n_chan", out_ch))))
    return max(1, w.size // max(1, out_ch))


# ---------------------------------------------------------------------------------------------
@dataclass
class GraphScanResult:
    """What :func:`scan` chose and measured on a graph model.

    ``config``: ``{layer: {type key: Fixed, "table_size": int}}`` for every type of every layer
    (scanned or derived); ``hls4ml``: the ``LayerName`` entries; ``knobs``: the scanned knobs
    with their role, integer bits and chosen fraction bits; ``steps``/``trials``: the metric
    after each knob and every evaluation as ``(knob, bits, metric)``; ``layers``: per layer its
    kind and, for Dense/convolutions, MACs and products per output; ``flags``: warnings (table
    inputs out of range, tables larger than their input can index, softmax argmax differences
    from float, accumulators that overflow); ``emulated``: the outputs of the final configuration
    (float64, from a graph built afresh); ``hls_model``: the converted model the scan read.

    Raises:
        ImportError: ``plot`` without matplotlib (the ``plot`` extra).
    """

    config: dict
    hls4ml: dict
    metric_float: float
    metric_fixed: float
    evaluations: int
    seconds: float
    base_config: dict = field(default_factory=dict)
    knobs: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    trials: list = field(default_factory=list)
    layers: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)
    mode: str = "layer"
    input_layers: list = field(default_factory=list)

    def bops(self) -> dict:
        """Bit operations per Dense/convolution layer, as in arXiv:1804.10969:
        ``MACs * (b_a * b_w + b_a + b_w + log2(K))`` with ``K`` the products per output and
        ``b_a``/``b_w`` the input and weight widths (a convolution counts its MACs per output pixel)."""
        out = {}
        for name, info in self.layers.items():
            if "macs" not in info:
                continue
            b_a, b_w, k = info["input_width"], self.config[name]["weight_t"].w, info["k"]
            out[name] = info["macs"] * (b_a * b_w + b_a + b_w + math.log2(max(k, 1)))
        return out

    def table(self) -> str:
        """Per-layer types and BOPs, then the metric after each step and the flags."""
        bops = self.bops()
        rows = [("layer", "kind", "result", "weight", "bias", "accum", "tables", "BOPs")]
        for name, info in self.layers.items():
            c = self.config.get(name, {})

            def sp(k):
                return c[k].to_hls4ml() if k in c else ""

            tables = " ".join(f"{k[:-2]}={c[k].to_hls4ml()}" for k in _TABLE_KEYS if k in c)
            if "table_size" in c:
                tables += f" size={c['table_size']}"
            rows.append((name, info["kind"], sp("result_t"), sp("weight_t") or sp("scale_t"), sp("bias_t"),
                         sp("accum_t"), tables.strip(), f"{bops[name]:,.0f}" if name in bops else ""))
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        lines = [" ".join(v.rjust(wd) if k == 7 else v.ljust(wd) for k, (v, wd) in enumerate(zip(r, widths))).rstrip()
                 for r in rows]
        lines.append(f"total BOPs {sum(bops.values()):,.0f}; metric float {self.metric_float:.4f}, "
                     f"fixed {self.metric_fixed:.4f}; {self.evaluations} evaluations in {self.seconds:.2f} s")
        lines += [f"  after {st['knob']}: {st['bits']} {st['unit']}, metric {st['metric']:.4f}" for st in self.steps]
        lines += [f"  flag: {fl['message']}" for fl in self.flags]
        return "\n".join(lines)

    def to_hls4ml_config(self) -> dict:
        """The hls4ml config the model was converted with, every layer's types replaced by the
        scan's: usable as ``hls_config`` of hls4ml's converter for the same model."""
        cfg = copy.deepcopy(self.base_config)
        cfg.setdefault("LayerName", {})
        for name, entry in self.hls4ml.items():
            slot = cfg["LayerName"].setdefault(name, {})
            for k, v in entry.items():
                if isinstance(v, dict):
                    slot.setdefault(k, {})
                    if not isinstance(slot[k], dict):
                        slot[k] = {}
                    slot[k].update(v)
                else:
                    slot[k] = v
        return cfg

    def to_json(self, **kwargs) -> str:
        """Types, metrics, BOPs, knobs, steps, flags and the hls4ml config as JSON."""
        import json  # noqa: PLC0415

        def enc(v):
            return str(v) if isinstance(v, Fixed) else v

        doc = {"formats": {n: {k: enc(v) for k, v in c.items()} for n, c in self.config.items()},
               "metric_float": self.metric_float, "metric_fixed": self.metric_fixed,
               "evaluations": self.evaluations, "seconds": self.seconds, "bops": self.bops(),
               "layers": self.layers, "knobs": self.knobs, "steps": self.steps, "flags": self.flags,
               "mode": self.mode, "hls4ml_config": self.to_hls4ml_config()}
        return json.dumps(doc, **({"indent": 2, "default": str} | kwargs))

    def plot(self, path) -> None:
        """Metric against bits for every knob searched, the tolerance line and each knob's choice
        marked (needs matplotlib)."""
        _plot(self.trials, self.steps, self.metric_float, self.tolerance_line, path)

    tolerance_line: float = float("nan")


def _from_torch(module, input_shape, io_type: str, default_precision: str, api: str):
    try:
        import hls4ml  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(f"{api}: scanning a torch.nn.Module converts it with hls4ml's PyTorch converter; "
                          "install the hls4ml extra (pip install 'fixedpoint-hls[hls4ml]')") from exc
    if input_shape is None:
        raise ValueError(f"{api}: a torch.nn.Module needs input_shape= (the per-sample shape, as "
                         "hls4ml's config_from_pytorch_model takes it, e.g. (1, 8, 8))")
    module = module.eval()
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = hls4ml.utils.config_from_pytorch_model(module, input_shape=tuple(input_shape), granularity="name",
                                                     default_precision=default_precision, backend="Vivado")
    # hls4ml fuses a BatchNorm into the Dense/conv before it while that layer's result type is
    # 'auto'; the scan sets every type, which would stop the fusion in the emitted config and give
    # another graph. Explicit results keep every layer where the scan sees it.
    for entry in cfg.get("LayerName", {}).values():
        prec = entry.get("Precision") if isinstance(entry, dict) else None
        if isinstance(prec, dict) and prec.get("result") == "auto":
            prec["result"] = default_precision
    out_dir = tempfile.mkdtemp(prefix="fixedpoint-scan-")
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints the topology it reads
        return hls4ml.converters.convert_from_pytorch_model(module, hls_config=cfg, output_dir=out_dir,
                                                            backend="Vivado", io_type=io_type)


def _check_no_fused_layers(hls_model, m: "_Model", api: str) -> None:
    """A BatchNorm that hls4ml fused into the layer before it (that layer's result type was
    'auto') would be a separate layer once the scan's config sets that type: refuse."""
    tm, _ = _float_model(hls_model)
    layer_cfg = ((getattr(getattr(hls_model, "config", None), "config", None) or {}).get("HLSConfig", {}) or {}).get(
        "LayerName", {}) or {}
    if tm is None or not hasattr(tm, "named_modules"):
        return
    fused = [name for name, mod in tm.named_modules() if name and "BatchNorm" in type(mod).__name__
             and name in layer_cfg and name not in m.views]
    if fused:
        raise NotImplementedError(
            f"{api}: hls4ml fused the BatchNorm layer(s) {fused} into the layer before (its result type is 'auto'); a "
            "scanned config sets every type, so hls4ml would keep them separate and build another graph. Convert "
            "with explicit result types (or pass the torch module to fx.scan, which does)")


def _float_model(hls_model):
    cfg = getattr(getattr(hls_model, "config", None), "config", {}) or {}
    return cfg.get("PytorchModel"), cfg.get("KerasModel")


def _torch_shape(hls_model, input_shape) -> tuple | None:
    """The per-sample shape the PyTorch model takes: ``input_shape``, or the one hls4ml kept."""
    if input_shape is not None:
        return tuple(int(d) for d in input_shape)
    shapes = (getattr(getattr(hls_model, "config", None), "config", None) or {}).get("InputShape")
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple)):
        shapes = shapes[0]
    return tuple(int(d) for d in shapes) if shapes else None


def _layouts(x: np.ndarray, shape: tuple, api: str):
    """X in the firmware's layout (channels last) from X as given: the same per-sample shape (or
    its flat size), or the channels-first layout of a PyTorch model."""
    n = x.shape[0]
    if tuple(x.shape[1:]) == shape or (x.ndim == 2 and x.shape[1] == int(np.prod(shape))):
        return x.reshape((n,) + shape), False
    if x.ndim >= 3 and tuple(np.moveaxis(x, 1, -1).shape[1:]) == shape:
        return np.ascontiguousarray(np.moveaxis(x, 1, -1)), True
    raise ValueError(f"{api}: X must hold samples of shape {shape} (the firmware's layout) or its channels-first "
                     f"PyTorch layout, got {x.shape}")


def scan_graph(model, X, y, *, metric=None, tolerance: float = 0.01, mode: str = "global", max_frac: int = 18,
               percentile: float = 100.0, int_margin: int = 0, rounding: str = "TRN", overflow: str = "WRAP",
               result_rounding: str | None = None, result_overflow: str | None = None, accum=None,
               accum_width: int | None = None, accum_rounding: str = "TRN", accum_overflow: str = "WRAP",
               unsigned: bool = True, tables: bool = True, min_table_size: int = 64, input_shape=None,
               io_type: str = "io_parallel", default_precision: str = "fixed<16,6>", progress=None,
               client=None) -> GraphScanResult:
    """The scan of :func:`fixedpoint.scan` on an hls4ml ``ModelGraph`` or a ``torch.nn.Module``."""

    t0 = time.perf_counter()
    api = _API
    metric = metric or _accuracy
    if mode not in ("layer", "global"):
        raise ValueError(f"{api}: mode must be 'layer' or 'global', got {mode!r}")
    if not 0 < max_frac <= 40:
        raise ValueError(f"{api}: max_frac must be in [1, 40], got {max_frac}")
    if not 0 < percentile <= 100:
        raise ValueError(f"{api}: percentile must be in (0, 100], got {percentile}")
    if int_margin < 0:
        raise ValueError(f"{api}: int_margin must be >= 0, got {int_margin}")
    if accum_width is not None and accum_width < 2:
        raise ValueError(f"{api}: accum_width must be >= 2 (or None), got {accum_width}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"{api}: tolerance must be in [0, 1), got {tolerance}")
    if min_table_size < 2 or min_table_size & (min_table_size - 1):
        raise ValueError(f"{api}: min_table_size must be a power of two >= 2, got {min_table_size}")
    result_rounding = result_rounding or rounding
    result_overflow = result_overflow or overflow
    modes = {"rounding": rounding, "result_rounding": result_rounding, "accum_rounding": accum_rounding,
             "overflow": overflow, "result_overflow": result_overflow, "accum_overflow": accum_overflow}
    for key, value in modes.items():
        try:
            Fixed(8, 4, **({"q": value} if "rounding" in key else {"o": value}))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{api}: {key}={value!r} is not a mode ({exc})") from None

    torch_module = None
    if hasattr(model, "get_layers"):
        hls_model = model
    else:
        try:
            import torch  # noqa: PLC0415
        except ImportError:
            torch = None
        if torch is None or not isinstance(model, torch.nn.Module):
            raise TypeError(f"{api}: model must be an fx.Network, an hls4ml ModelGraph or a torch.nn.Module, "
                            f"got {type(model).__name__}")
        torch_module = model
        hls_model = _from_torch(model, input_shape, io_type, default_precision, api)
    m = _Model(hls_model, api)  # NotImplementedError for a layer the engine cannot emulate: before any work
    _check_no_fused_layers(hls_model, m, api)
    if len(m.inputs) != 1:
        raise NotImplementedError(f"{api}: models with {len(m.inputs)} inputs are not scanned yet (one input)")
    (in_name, in_shape, _), = m.inputs
    X = np.asarray(X)
    if X.dtype.kind not in "fiu" or X.ndim < 2:
        raise ValueError(f"{api}: X must be a numeric array of samples (n, ...), got dtype {X.dtype}, shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = int(np.flatnonzero(~np.isfinite(X.reshape(-1)))[0])
        raise ValueError(f"{api}: X holds NaN or inf (first at flat index {bad})")
    xh, channels_first = _layouts(X, in_shape, api)
    y = np.asarray(y)
    if y.shape[:1] != (len(X),):
        raise ValueError(f"{api}: y must have one entry per sample ({len(X)}), got shape {y.shape}")

    # the float reference
    tm, km = _float_model(hls_model)
    tm = torch_module if torch_module is not None else tm
    ref_out = None
    if tm is not None:
        import torch  # noqa: PLC0415

        tshape = _torch_shape(hls_model, input_shape)
        xt = X
        if tshape is not None and tuple(X.shape[1:]) != tshape:
            if X.ndim >= 3 and tuple(np.moveaxis(X, -1, 1).shape[1:]) == tshape:  # channels last given
                xt = np.moveaxis(X, -1, 1)
            elif X.ndim == 2 and X.shape[1] == int(np.prod(tshape)):  # flat samples in the firmware's order
                xt = xh if tuple(xh.shape[1:]) == tshape or xh.ndim < 3 else np.moveaxis(xh, -1, 1)
            else:
                raise ValueError(f"{api}: X has samples of shape {X.shape[1:]}; the PyTorch model takes {tshape}")
        with torch.no_grad():
            ref_out = tm.eval()(torch.as_tensor(np.ascontiguousarray(xt), dtype=torch.float32)).double().numpy()
        ref_out = ref_out.reshape(len(X), -1)
    elif km is not None:
        ref_out = np.asarray(km.predict(xh, verbose=0), dtype=np.float64).reshape(len(X), -1)
    runner = _Runner(m, [xh])
    nonneg = _nonneg_tensors(m) if unsigned else set()

    # 1. profile: a wide emulation (every result and accumulator far from overflow, 12+ fraction bits)
    weights_i: dict = {}
    knobs: list[_Knob] = []
    data_layers = []  # (layer, tensor) for each result_t knob
    for name, shape, _ in m.inputs:
        data_layers.append((m.input_layer[name], name))
    for node in m.base.nodes:
        _, used = m.op(node.name, {})
        view = m.views[node.name]
        if "result_t" in used:
            data_layers.append((node.name, node.outputs[0]))
        for key in sorted(used):
            if key in _WEIGHT_KEYS and view.has_weight(_WEIGHT_KEYS[key]):
                weights_i[(node.name, key)] = _int_bits(_abs_level(view.weight(_WEIGHT_KEYS[key]), 100), int_margin)
    wide_i = 24

    def wide_cfg(extra_i: dict) -> dict:
        cfg: dict = {}
        for layer, _t in data_layers:
            i = extra_i.get(layer, wide_i)
            cfg.setdefault(layer, {})["result_t"] = Fixed(i + 12, i, q="RND", o="SAT")
        for (layer, key), i in weights_i.items():
            cfg.setdefault(layer, {})[key] = Fixed(i + 14, i, q="RND", o="SAT")
        _derive(cfg, profile=True)
        return cfg

    shapes = {name: shape for name, shape, _ in m.inputs}
    for node in m.base.nodes:
        for t in node.outputs:
            shapes[t] = m.views[node.name].out_shape

    def _derive(cfg: dict, profile: bool = False) -> None:
        """Accumulators of Dense/convolution and average pooling layers from their input and
        weight types (written into cfg), the layers' output formats from a dry run."""
        fmt_of = {}
        for name, _, _ in m.inputs:
            fmt_of[name] = cfg.get(m.input_layer[name], {}).get("result_t") or m.views[m.input_layer[name]].fmt(
                "result_t")
        for node in m.base.nodes:
            c = cfg.setdefault(node.name, {})
            view = m.views[node.name]
            x = fmt_of[node.inputs[0]] if node.inputs else None
            if node.kind in _MAC_KINDS and x is not None:
                if node.name in accum and not profile:
                    c["accum_t"] = accum[node.name]
                else:
                    w = c.get("weight_t") or view.fmt("weight_t")
                    b = c.get("bias_t") or (view.fmt("bias_t") if view.has_weight("bias") else None)
                    k = _mac_k(view)
                    ai = x.i + w.i + (k).bit_length()
                    af = x.f + w.f
                    if b is not None:
                        ai, af = max(ai, b.i + 1), max(af, b.f)
                    if accum_width is not None and ai + af > accum_width and not profile:
                        ai = min(ai, acc_i.get(node.name, ai))
                        af = accum_width - ai
                    c["accum_t"] = Fixed(ai + af, ai, q=accum_rounding, o=accum_overflow)
            elif node.kind.startswith("Pooling") and x is not None and "accum_t" in m.op(node.name, {})[1]:
                area = int(view.attr("pool_height", 1) or 1) * int(view.attr("pool_width", 1) or 1)
                extra = (area - 1).bit_length()
                c["accum_t"] = Fixed(x.w + extra, x.i + extra, signed=x.signed)
            outs = m.out_fmts(node, c, [fmt_of[t] for t in node.inputs], [shapes[t] for t in node.inputs])
            for t, f in zip(node.outputs, outs):
                fmt_of[t] = f

    names = {v.name for v in m.views.values()}
    if accum is not None and not isinstance(accum, dict):
        accum = {n.name: accum for n in m.base.nodes if n.kind in _MAC_KINDS}
    accum = {k: Fixed.parse(v) if isinstance(v, str) else v for k, v in (accum or {}).items()}
    unknown = sorted(set(accum) - names)
    if unknown:
        raise ValueError(f"{api}: accum names layers {unknown} that the model does not have")
    acc_i: dict = {}
    extra_i: dict = {}
    for _attempt in range(4):
        vals = runner.run(wide_cfg(extra_i), keep=True)
        grown = False
        for layer, t in data_layers:
            raw, fmt = vals[t]
            i = extra_i.get(layer, wide_i)
            if raw.dtype.kind in "OV" or raw.size == 0:
                continue
            if int(np.abs(raw).max(initial=0)) >= fmt.raw_max:  # saturated: the range is wider
                extra_i[layer] = i + 16
                grown = True
        if not grown:
            break
    levels, minima = {}, {}
    for layer, t in data_layers:
        raw, fmt = vals[t]
        v = FixedArray(raw, fmt, _trusted=True).to_float()
        levels[layer] = _abs_level(v, percentile)
        minima[layer] = float(v.min(initial=0.0))
    if accum_width is not None:  # partial sums of Dense layers are bounded by |bias| + sum |x w| of the float run
        for node in m.base.nodes:
            if node.kind in _MAC_KINDS:
                x_raw, x_fmt = vals[node.inputs[0]]
                xa = np.abs(FixedArray(x_raw, x_fmt, _trusted=True).to_float()).reshape(len(X), -1)
                view = m.views[node.name]
                wv = np.abs(np.asarray(view.weight("weight"), dtype=np.float64))
                if node.kind == "Dense":
                    tot = xa @ wv.reshape(int(view.attr("n_in")), -1)
                    acc_i[node.name] = _int_bits(_abs_level(tot, percentile), int_margin)

    # 2. knobs
    from .nn.activation import LutOp  # noqa: PLC0415
    from .nn.softmax import SoftmaxOp  # noqa: PLC0415

    bounded = {n.name for n in m.base.nodes
               if isinstance(n.op, SoftmaxOp) or (isinstance(n.op, LutOp) and n.op.kind in ("sigmoid", "tanh"))}
    for layer, t in data_layers:
        signed = t not in nonneg or minima[layer] < 0
        level = 1.0 if layer in bounded else levels[layer]  # the function's range, whatever the profile run gave
        i = _int_bits(level, int_margin) - (0 if signed else 1)
        is_input = m.views[layer].class_name in ("Input", "InputLayer")
        knobs.append(_Knob(layer, "result_t", "data", i, signed, rounding if is_input else result_rounding,
                           overflow if is_input else result_overflow, lo=max(0, 1 - i), hi=max_frac))
    order = {n.name: k for k, n in enumerate(m.base.nodes)}
    for (layer, key), i in weights_i.items():
        knobs.append(_Knob(layer, key, "weight", i, True, rounding, overflow, lo=max(0, 1 - i), hi=max_frac))
    if tables:
        for node in m.base.nodes:
            _, used = m.op(node.name, {})
            view = m.views[node.name]
            for key in _TABLE_KEYS:
                if key in used:
                    base_t = view.fmt(key)
                    knobs.append(_Knob(node.name, key, "table", base_t.i, base_t.signed, base_t.q.value,
                                       base_t.o.value, lo=max(0, 1 - base_t.i), hi=max(base_t.f, 1)))
            sizes = _config_sizes(view)
            if sizes and any(k in used for k in _TABLE_KEYS):
                size = max(sizes.values())
                if size & (size - 1) == 0 and size > min_table_size:
                    knobs.append(_Knob(node.name, "table_size", "size", lo=min_table_size.bit_length() - 1,
                                       hi=size.bit_length() - 1))
    rank = {"data": 0, "weight": 0, "table": 1, "size": 2}
    knobs.sort(key=lambda kb: (order.get(kb.layer, -1), rank[kb.role],
                               ("weight_t", "bias_t", "scale_t", "param_t").index(kb.key)
                               if kb.key in ("weight_t", "bias_t", "scale_t", "param_t") else 9))
    bits = {kb.label: kb.hi for kb in knobs}

    def make(b: dict) -> dict:
        cfg: dict = {}
        for kb in knobs:
            v = 1 << b[kb.label] if kb.role == "size" else kb.fixed(b[kb.label])
            cfg.setdefault(kb.layer, {})[kb.key] = v
        _derive(cfg)
        return {k: v for k, v in cfg.items() if v}

    ref = metric(ref_out, y) if ref_out is not None else None
    evals = 0
    trials: list = []
    steps: list = []
    last: dict = {}

    ref_arg = np.argmax(ref_out, axis=1) if ref_out is not None and ref_out.ndim == 2 else None  # once per scan

    def agreement(outs):
        """The fraction of samples whose argmax equals the float model's (None without one)."""
        if ref_out is None or len(outs) != 1 or outs[0].shape != ref_out.shape or ref_out.shape[1] < 2:
            return None
        return float(np.mean(np.argmax(outs[0], axis=1) == ref_arg))

    remote = _RemoteRunner(m, [xh], client) if client is not None else None

    def outputs(cfg: dict) -> list[np.ndarray]:
        """The float outputs of one configuration: on the cluster with ``client`` (the events
        sharded across the workers, the same ops and memo keys as here), else here."""
        if remote is not None:
            got = remote.outputs(cfg)
            if got is not None:
                return got
        return runner.outputs(cfg)

    def evaluate(b: dict):
        nonlocal evals
        evals += 1
        outs = outputs(make(b))
        got = metric(outs[0] if len(outs) == 1 else outs, y)
        last["agree"] = agreement(outs)
        return float(got)

    if ref is None:  # no float model: the widest configuration is the reference
        ref = evaluate(bits)
    ref = float(ref)

    def ok(b, knob="start", value=None, floor=None):
        got = evaluate(b)
        trials.append((knob, int(value if value is not None else 0), got))
        passed = got >= ref - tolerance
        if floor is not None and last["agree"] is not None:
            passed = passed and last["agree"] >= floor
        return passed, got

    def lowest(label, lo, hi, best, floor=None):
        while lo < hi:
            mid = (lo + hi) // 2
            passed, got = ok({**bits, label: mid}, label, mid, floor)
            if passed:
                hi, best = mid, got
            else:
                lo = mid + 1
        return hi, best

    bar = _Progress(progress, len(knobs) + (1 if mode == "global" else 0))
    try:
        good, score = ok(bits, "start", max_frac)
        if not good:
            raise ValueError(f"{api}: even {max_frac} fraction bits (tables as configured) miss the tolerance "
                             f"(float metric {ref:.4g}, fixed {score:.4g}); raise max_frac or tolerance")
        if mode == "global":
            fr = [kb for kb in knobs if kb.role in ("data", "weight")]
            lo, hi = min((kb.lo for kb in fr), default=0), max_frac
            while lo < hi:
                mid = (lo + hi) // 2
                trial = {**bits, **{kb.label: max(mid, kb.lo) for kb in fr}}
                passed, got = ok(trial, "all knobs", mid)
                if passed:
                    hi, score = mid, got
                else:
                    lo = mid + 1
            bits.update({kb.label: max(hi, kb.lo) for kb in fr})
            steps.append({"knob": "all knobs", "bits": hi, "unit": "fraction bits", "metric": float(score)})
            bar.step(f"scan all knobs: {hi} fraction bits, metric {score:.4f} ({evals} evaluations)")
        for kb in knobs:
            floor = None
            if kb.role in ("table", "size"):  # a coarser table must not flip more argmaxes away from float
                floor = agreement(outputs(make(bits)))
            bits[kb.label], score = lowest(kb.label, kb.lo, bits[kb.label], score, floor)
            unit = "log2 table size" if kb.role == "size" else "fraction bits"
            steps.append({"knob": kb.label, "bits": bits[kb.label], "unit": unit, "metric": float(score)}
                         | ({"argmax_agreement_floor": floor} if floor is not None else {}))
            bar.step(f"scan {kb.label}: {bits[kb.label]} {unit}, metric {score:.4f} ({evals} evaluations)")
    finally:
        bar.close()
    config = make(bits)
    # verify: a fresh graph built from the chosen types, run by the plain executor
    graph = _graph_for(m, config)
    vals = graph.run_raw([quantize_input(xh, config[m.input_layer[in_name]]["result_t"])], keep=True)
    outs = [FixedArray(vals[t][0].reshape(len(X), -1), vals[t][1], _trusted=True).to_float() for t in graph.outputs]
    final = float(metric(outs[0] if len(outs) == 1 else outs, y))

    # per-layer facts and flags
    layers, flags = {}, []
    fmt_of = {t: v[1] for t, v in vals.items()}
    for name, _, _ in m.inputs:
        layers[m.input_layer[name]] = {"kind": "Input"}
    for node in graph.nodes:
        view = m.views[node.name]
        info = {"kind": node.kind}
        if node.kind in _MAC_KINDS:
            k = _mac_k(view)
            info.update(k=k, macs=int(np.prod(view.out_shape)) * k, input_width=fmt_of[node.inputs[0]].w)
        layers[node.name] = info
        flags += _table_flags(node, vals, ref_out, len(X))
    # accumulators the scan derived hold every product and sum exactly: only constrained ones can overflow
    constrained = set(accum) if accum_width is None else {n.name for n in m.base.nodes if n.kind in _MAC_KINDS}
    flags += _overflow_flags(graph, vals, config, constrained)
    hls = {}
    for layer, c in config.items():
        entry: dict = {"Precision": {}}
        for key, v in c.items():
            if key == "table_size":
                entry["TableSize"] = int(v)
                continue
            entry["Precision"][key[:-2]] = v.to_hls4ml()
            if key in _TABLE_KEYS or key in ("accum_t", "inv_inp_t"):
                entry[key] = v.to_hls4ml()  # hls4ml 1.3 reads softmax table types from layer-level keys
        hls[layer] = entry
    full = getattr(getattr(hls_model, "config", None), "config", None) or {}
    base_cfg = copy.deepcopy(full.get("HLSConfig", {}))
    if full.get("InputShape") is not None:  # config_from_pytorch_model keeps it next to Model and LayerName
        base_cfg["InputShape"] = copy.deepcopy(full["InputShape"])
    res = GraphScanResult(config, hls, ref, final, evals, time.perf_counter() - t0, base_cfg,
                          [{"knob": kb.label, "role": kb.role, "integer_bits": kb.ibits, "signed": kb.signed,
                            "bits": bits[kb.label]} for kb in knobs], steps, trials, layers, flags, mode,
                          [m.input_layer[n] for n, _, _ in m.inputs])
    res.tolerance_line = ref - tolerance
    res.hls_model = hls_model
    res.emulated = outs
    return res


def _graph_for(m: _Model, config: dict) -> nn.Graph:
    """A graph built afresh (new views, new ops) from the chosen types."""
    from . import hls4ml as fxh  # noqa: PLC0415

    fmt_of, shapes = {}, {}
    for name, shape, _ in m.inputs:
        layer = m.input_layer[name]
        fmt_of[name] = config.get(layer, {}).get("result_t") or m.views[layer].fmt("result_t")
        shapes[name] = shape
    over_of = {}
    for node in m.base.nodes:
        ins = [fmt_of[t] for t in node.inputs]
        over_of[node.name] = m.over(node, config.get(node.name, {}), ins)
        for t, f in zip(node.outputs, m.out_fmts(node, config.get(node.name, {}), ins, [shapes[t] for t in node.inputs])):
            fmt_of[t], shapes[t] = f, m.views[node.name].out_shape
    views = [_TypedView(v, over_of.get(v.name, config.get(v.name, {}))) for v in m.views.values()]
    return fxh.build_graph(m.hls_model, views)


def _table_flags(node, vals, ref_out, n) -> list:
    from .nn.activation import LutOp  # noqa: PLC0415
    from .nn.softmax import SoftmaxOp  # noqa: PLC0415

    out = []
    op = node.op
    if isinstance(op, LutOp) and node.inputs[0] in vals:
        raw, fmt = vals[node.inputs[0]]
        if raw.dtype.kind not in "OV":
            x = FixedArray(raw, fmt, _trusted=True).to_float()
            half = op.span / 2
            outside = int(np.count_nonzero((x < -half) | (x >= half)))
            if outside:
                out.append({"layer": node.name, "kind": "table_range", "count": outside, "total": int(x.size),
                            "message": f"layer {node.name}: {outside} of {x.size} inputs lie outside the {op.kind} "
                                       f"table's range [-{half:g}, {half:g}) and take its end entries"})
            reachable = int(op.span * 2 ** max(fmt.f, 0))
            if op.size > reachable:
                out.append({"layer": node.name, "kind": "table_size", "count": 0, "total": int(op.size),
                            "message": f"layer {node.name}: table_size {op.size} is larger than its input "
                                       f"{fmt.to_hls4ml()} can index ({reachable} distinct entries)"})
    if isinstance(op, SoftmaxOp) and ref_out is not None and node.outputs[0] in vals:
        raw, fmt = vals[node.outputs[0]]
        if raw.dtype.kind not in "OV" and ref_out.shape[1] == int(np.prod(raw.shape[1:])):
            got = FixedArray(raw.reshape(n, -1), fmt, _trusted=True).to_float()
            flips = int(np.count_nonzero(np.argmax(got, axis=1) != np.argmax(ref_out, axis=1)))
            ties = int(np.count_nonzero((got == got.max(axis=1, keepdims=True)).sum(axis=1) > 1))
            if flips:
                out.append({"layer": node.name, "kind": "argmax", "count": flips, "total": n,
                            "message": f"layer {node.name}: softmax argmax differs from float on {flips} of {n} "
                                       f"calibration samples ({ties} with tied maxima); finer exp/inv tables or "
                                       "a wider result type reduce it"})
    return out


def _overflow_flags(graph, vals, config, names) -> list:
    """Accumulators of the Dense layers ``names`` that overflow on the calibration data (exact
    count), can overflow for other inputs, or drop product bits."""
    from .nn.dense import DenseOp  # noqa: PLC0415

    out = []
    for node in graph.nodes:
        if isinstance(node.op, DenseOp) and node.kind == "Dense" and node.name in names:
            raw, fmt = vals[node.inputs[0]]
            if raw.dtype.kind in "OV":
                continue
            x = FixedArray(raw.reshape(raw.shape[0], -1), fmt, _trusted=True)
            out += _accum_flags(node.name, x, node.op)
    return out


def scan(model, X, y, **kwargs):
    """Post-training bit scan: integer bits from profiled ranges, then the fewest fraction bits
    for which the bit-exact emulation stays within ``tolerance`` of float.

    ``model`` is one of:

    - an :class:`fixedpoint.Network` (the NumPy-only MLP): see :func:`fixedpoint.network.scan`
      for its keywords; returns a :class:`fixedpoint.ScanResult`;
    - a converted hls4ml ``ModelGraph`` (any model :func:`fixedpoint.hls4ml.emulate` runs): its
      types are the starting point; ``X`` as ``predict`` takes it;
    - a ``torch.nn.Module`` with ``input_shape=`` (the per-sample shape, as hls4ml's
      ``config_from_pytorch_model`` takes it): converted with hls4ml's PyTorch converter (no
      compile; ``io_type=``, ``default_precision=``); ``X`` in the module's layout. Without
      hls4ml installed, an ``nn.Sequential`` of ``Linear`` and ``ReLU`` is read by
      :meth:`fixedpoint.Network.from_torch` and scanned as an fx.Network (other modules raise
      ImportError naming the extra).

    For graph models it returns a :class:`GraphScanResult`. Keywords shared with the Network
    scan: ``metric``, ``tolerance``, ``mode`` ("global", the default: every data and weight
    knob lowered together to the fewest common fraction bits that pass, then each knob refined
    downward from there; "layer": greedy, knob by knob from ``max_frac``, which can leave later
    knobs wider and is not monotone in the tolerance), ``max_frac``,
    ``percentile``, ``int_margin``, ``rounding``/``overflow`` (input, weights),
    ``result_rounding``/``result_overflow``, ``accum`` (a format or ``{layer: format}``),
    ``accum_width``, ``accum_rounding``/``accum_overflow``, ``progress``. Graph-only:
    ``unsigned`` (default True: ``ufixed`` results where the value cannot be negative),
    ``tables`` (default True: scan lookup-table types and sizes), ``min_table_size`` (64).
    ``client``: a ``distributed.Client``. For graph models every evaluation the serial search
    asks for runs on its cluster, data-parallel: the calibration events are split across the
    workers (scattered once), each worker runs the same ops on its shard and memoizes layer
    outputs as the serial scan does, and the metric is computed here on the outputs gathered in
    event order. The search path, trials and choices are the serial scan's exactly; candidates
    with STOCH rounding (whose counters are positions in the batch) are evaluated here. For an
    fx.Network see :func:`fixedpoint.network.scan`.

    The knobs, what each is derived from, and the flags are described in
    :mod:`fixedpoint.scanner` and ``docs/scan.md``. Every metric is computed on the bit-exact
    emulation; the final configuration is emulated once more from freshly built layers
    (``metric_fixed``).

    Raises:
        NotImplementedError: a layer the engine cannot emulate (before any work).
        ImportError: a torch.nn.Module other than Linear/ReLU without hls4ml installed.
        TypeError: a model of another kind.
        ValueError: bad keywords, X or y of the wrong shape, or when even ``max_frac`` fraction
            bits miss the tolerance.
    """
    if isinstance(model, Network):
        return network_scan(model, X, y, **kwargs)
    if not hasattr(model, "get_layers") and _hls4ml_missing():
        # without hls4ml: our own reader for the layers it knows (an nn.Sequential of Linear and ReLU)
        try:
            net = Network.from_torch(model)
        except (NotImplementedError, TypeError) as exc:
            raise ImportError(f"{_API}: this torch.nn.Module needs hls4ml's PyTorch converter (pip install "
                              f"'fixedpoint-hls[hls4ml]'); without it fx.scan reads only nn.Sequential(Linear, ReLU, "
                              f"...) ({exc})") from None
        rest = {k: v for k, v in kwargs.items() if k not in _GRAPH_ONLY}
        return network_scan(net, X, y, **rest)
    return scan_graph(model, X, y, **kwargs)


_GRAPH_ONLY = ("unsigned", "tables", "min_table_size", "input_shape", "io_type", "default_precision")


def _hls4ml_missing() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("hls4ml") is None
