"""Quantized MLPs without hls4ml, and the post-training bit scanner.

A :class:`Network` is a chain of Dense layers (float weights, optional ReLU), emulated with
exactly the semantics of hls4ml io_parallel firmware (see :mod:`fixedpoint.hls4ml`): the
input cast, weights read from decimal literals with as many digits as fraction bits,
``acc = (accum_t) bias; acc += (accum_t)(x * w)`` in order, ``(result_t) acc``, ReLU.
:func:`scan` picks per-layer formats from calibration data and emits the hls4ml config.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .array import FixedArray
from .quantize import array
from .format import Fixed
from .nn import Graph, Node
from .nn._raw import literal_raw, storage, wrap
from .nn.activation import ReluOp
from .nn.dense import DenseOp, dense_accum  # noqa: F401 - dense_accum: re-exported
from ._sharded import _network_evaluator
from ._scanning import _Progress, _abs_level, _accum_flags, _accuracy, _int_bits, _plot

__all__ = ["Dense", "Network", "ScanResult", "scan"]


@dataclass
class Dense:
    """A dense layer ``y = act(x @ weight + bias)``; weight has shape (n_in, n_out).

    Raises:
        ValueError: weight not (n_in, n_out) or bias not (n_out,), or an activation other
            than 'linear' or 'relu'.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "linear"
    name: str = ""
    relu_name: str = ""  # hls4ml's name for the ReLU layer that follows (when activation is relu)

    def __post_init__(self):
        self.weight = np.asarray(self.weight, dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64)
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[1],):
            raise ValueError(f"fx.Dense: weight must be (n_in, n_out) and bias (n_out,), got {self.weight.shape} "
                             f"and {self.bias.shape}")
        if self.activation not in ("linear", "relu"):
            raise ValueError(f"fx.Dense: activation must be 'linear' or 'relu', got {self.activation!r}")


_ReluOp, _DenseOp, _storage, _wrap = ReluOp, DenseOp, storage, wrap  # the scanner's names
_MEMO_MAX = 512  # memoized stage outputs of a scan before the memo is cleared
_EMULATE_BLOCK = 65_536  # events quantized and run at a time by Network.emulate
_LITERALS: OrderedDict = OrderedDict()  # (format, shape, digest of the float bytes) -> stored integers
_LITERALS_MAX = 256  # the most recently used entries kept
_LITERALS_LOCK = threading.Lock()


def _literal(values: np.ndarray, fmt: Fixed) -> np.ndarray:
    """``literal_raw(values, fmt)``, remembered by the values' bytes (not the array's identity, so
    weights changed in place are printed again): printing every weight as a decimal literal is
    most of a small batch's emulation (4.6 of 6.8 ms for the jet MLP on 1,024 events)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    key = (fmt, values.shape, hashlib.blake2b(values.tobytes(), digest_size=16).digest())
    with _LITERALS_LOCK:
        hit = _LITERALS.get(key)
        if hit is not None:
            _LITERALS.move_to_end(key)
            return hit
    raw = literal_raw(values, fmt)
    raw.setflags(write=False)  # shared by every emulation that reads these weights
    with _LITERALS_LOCK:
        _LITERALS[key] = raw
        while len(_LITERALS) > _LITERALS_MAX:
            _LITERALS.popitem(last=False)
    return raw


class Network:
    """A sequential MLP of :class:`Dense` layers, evaluated in float or emulated bit-exactly.

    Layer names follow hls4ml's PyTorch converter: modules are named by their index in the
    ``nn.Sequential`` (``_0`` for the first Linear, ``_1`` for the ReLU after it, ``_2`` for the
    next Linear), the input is ``input_1``; so configs can be handed to hls4ml as they are.

    Raises:
        ValueError: no layers, or consecutive layers whose sizes do not chain; ``emulate``
            with X of the wrong shape.
        TypeError: a layer that is not a :class:`Dense`.
        KeyError: ``emulate`` with a config that lacks a layer's formats.
        NotImplementedError: ``from_torch`` meets a module other than Linear/ReLU/Identity.
    """

    def __init__(self, layers):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("fx.Network: needs at least one Dense layer")
        idx = 0  # hls4ml's PyTorch converter names modules by their index in the nn.Sequential
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"fx.Network: layer {k} is a {type(layer).__name__}, expected fx.Dense")
            layer.name = layer.name or f"_{idx}"
            idx += 1
            if layer.activation == "relu":
                layer.relu_name = layer.relu_name or f"_{idx}"
                idx += 1
            if k and layer.weight.shape[0] != self.layers[k - 1].weight.shape[1]:
                raise ValueError(f"fx.Network: layer {layer.name!r} takes {layer.weight.shape[0]} inputs but the "
                                 f"previous layer gives {self.layers[k - 1].weight.shape[1]}")

    @classmethod
    def from_torch(cls, model) -> "Network":
        """From an ``nn.Sequential`` of ``nn.Linear`` layers, each optionally followed by ``nn.ReLU``."""
        import torch  # noqa: PLC0415

        layers: list[Dense] = []
        for idx, mod in enumerate(model):
            qat = [c.__name__ for c in type(mod).__mro__ if c.__module__.startswith("fixedpoint.torch")]
            if qat:  # a QuantLinear's float weights without its formats would be a silently different model
                raise NotImplementedError(
                    f"fx.Network.from_torch: module {idx} is a fixedpoint.torch {type(mod).__name__}; its formats "
                    "(input/weight/bias/accumulator/output) are not carried into an fx.Network, and its float "
                    "weights alone would emulate a different model. Use plain nn.Linear/nn.ReLU and give the "
                    "formats as the emulate/scan config")
            if isinstance(mod, torch.nn.Linear):
                bias = mod.bias.detach().numpy() if mod.bias is not None else np.zeros(mod.out_features)
                layers.append(Dense(mod.weight.detach().numpy().T, bias, "linear", f"_{idx}"))
            elif isinstance(mod, torch.nn.ReLU) and layers and layers[-1].activation == "linear":
                layers[-1].activation = "relu"
                layers[-1].relu_name = f"_{idx}"
            else:
                raise NotImplementedError(f"fx.Network.from_torch: module {idx} ({type(mod).__name__}) is not "
                                          "supported (Linear, ReLU after Linear)")
        return cls(layers)

    @property
    def n_in(self) -> int:
        """The number of inputs of the first layer."""
        return self.layers[0].weight.shape[0]

    def predict(self, X) -> np.ndarray:
        """The float64 forward pass (the reference the scanner compares against)."""
        x = np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            x = x @ layer.weight + layer.bias
            if layer.activation == "relu":
                x = np.maximum(x, 0.0)
        return x

    def emulate(self, X, config: dict) -> FixedArray:
        """The exact fixed-point forward pass: what the hls4ml io_parallel firmware computes.

        ``config`` = ``{"input": Fixed, name: {"weight", "bias", "accum", "result": Fixed}}``
        (names as in ``layer.name``). Returns the last layer's result as a FixedArray in its
        ``result`` format; the stored integers equal the firmware's bit for bit (checked against
        hls4ml's compiled C-simulation in tests/test_scan.py). Raises KeyError naming a layer
        missing from ``config`` and ValueError for X of the wrong shape or holding NaN.
        """
        X = self._checked(X, config)
        graph = self.to_graph(config)
        parts = []  # block by block: no temporaries of the whole X (float64 copy, quantized input)
        for lo in range(0, max(len(X), 1), _EMULATE_BLOCK):
            x = self._quantized(X[lo:lo + _EMULATE_BLOCK], config, lo)
            raw, fmt = graph.run_raw([_storage(x)])[graph.outputs[0]]
            parts.append(raw)
        return _wrap(parts[0] if len(parts) == 1 else np.concatenate(parts), fmt)

    def to_graph(self, config: dict) -> Graph:
        """The emulation graph of this network under ``config`` (a chain: Dense, then ReLU)."""
        nodes, prev = [], "input_1"
        for op, layer in zip(self._ops(config, None), [lay for lay in self.layers for _ in range(
                2 if lay.activation == "relu" else 1)]):
            relu = isinstance(op, ReluOp)
            name = layer.relu_name if relu else layer.name
            nodes.append(Node(name, op, [prev], [name], kind="Activation" if relu else "Dense"))
            prev = name
        return Graph([("input_1", (self.n_in,), config["input"])], nodes, [prev], api="fx.Network.emulate")

    def emulate_layers(self, X, config: dict) -> list[FixedArray]:
        """Like :meth:`emulate`, but returns every stage, all exact: the quantized input, then
        each layer's result (after its ReLU when it has one)."""
        x = self._input(X, config)
        stages = [x]
        raw, fmt = _storage(x), x.fmt
        for op in self._ops(config, None):
            raw, fmt = op(raw, fmt)
            if isinstance(op, _ReluOp) or not op.relu_next:
                stages.append(_wrap(raw, fmt))
        return stages

    def _emulate_memo(self, X, cfg: dict, cache: dict) -> tuple:
        """The last stage's ``(stored integers, format)`` of ``X`` (float events) under ``cfg``,
        memoized in ``cache`` by the formats each stage depends on (the quantized input by its
        type, each layer's output by the types of every layer up to it), so a scan candidate that
        changes one layer recomputes only that layer and what follows. The memo is cleared past
        512 entries (the bound of a long scan's memory). The serial scan and the cluster's shards
        (:mod:`fixedpoint._sharded`) both evaluate through it."""
        key: tuple = (cfg["input"],)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = (_storage(array(X, cfg["input"])), cfg["input"])
        raw, fmt = hit
        for layer in self.layers:
            c = cfg[layer.name]
            key += ((c["weight"], c["bias"], c["accum"], c["result"]),)
            hit = cache.get(key)
            if hit is None:
                raw, fmt = self._dense_op(layer, c, cache)(raw, fmt)
                if layer.activation == "relu":
                    raw = np.maximum(raw, 0)
                hit = cache[key] = (raw, fmt)
            raw, fmt = hit
        if len(cache) > _MEMO_MAX:
            cache.clear()
        return raw, fmt

    def _input(self, X, config: dict) -> FixedArray:
        return self._quantized(self._checked(X, config), config, 0)

    def _checked(self, X, config: dict) -> np.ndarray:
        """X as an array (not yet converted) after the shape and config checks."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"fx.Network.emulate: X must have shape (n, {self.n_in}), got {X.shape}")
        missing = [name for name in ["input"] + [layer.name for layer in self.layers] if name not in config]
        if missing:
            raise KeyError(f"fx.Network.emulate: config has no entry for {', '.join(map(repr, missing))}")
        return X

    @staticmethod
    def _quantized(X: np.ndarray, config: dict, first: int) -> FixedArray:
        """``(input_t)`` of rows ``first, first + 1, ...`` of X (read as float64); a NaN is named
        by its index in the whole X."""
        X = np.asarray(X, dtype=np.float64)
        try:
            return array(X, config["input"])
        except ValueError:
            if not np.isnan(X).any():
                raise
        row, col = np.argwhere(np.isnan(X))[0]  # fx.array names the index in this block only
        raise ValueError(f"fx.Network.emulate: NaN at index {(int(row) + first, int(col))} of X cannot be quantized "
                         f"into {config['input']}")

    def _ops(self, config: dict, cache: dict | None) -> list:
        ops = []
        for layer in self.layers:
            c = config[layer.name]
            op = self._dense_op(layer, c, cache)
            op.relu_next = layer.activation == "relu"
            ops.append(op)
            if op.relu_next:
                ops.append(_ReluOp(c["result"]))
        return ops

    def _dense_op(self, layer: "Dense", c: dict, cache: dict | None) -> _DenseOp:
        key = (id(layer), c["weight"], c["bias"], c["accum"], c["result"])
        if cache is not None and key in cache:
            return cache[key]
        lit = {}
        for what, fmt in (("weight", c["weight"]), ("bias", c["bias"])):
            lkey = (id(layer), what, fmt)
            if cache is not None and lkey in cache:
                lit[what] = cache[lkey]
            else:
                lit[what] = _literal(getattr(layer, what), fmt)
                if cache is not None:
                    cache[lkey] = lit[what]
        op = _DenseOp(lit["weight"], c["weight"], lit["bias"], c["bias"], c["accum"], c["result"])
        if cache is not None:
            cache[key] = op
        return op

    def hls4ml_config(self, config: dict) -> dict:
        """The ``LayerName`` precision entries for hls4ml's config dict (hls4ml spellings)."""
        out = {"input_1": {"Precision": {"result": config["input"].to_hls4ml()}}}
        for layer in self.layers:
            c = config[layer.name]
            out[layer.name] = {"Precision": {k: c[k].to_hls4ml() for k in ("weight", "bias", "accum", "result")}}
            if layer.activation == "relu":
                out[layer.relu_name] = {"Precision": {"result": c["result"].to_hls4ml()}}
        return out


@dataclass
class ScanResult:
    """What :func:`scan` chose and measured.

    ``config``: the formats (``{"input": Fixed, layer: {"weight", "bias", "accum", "result"}}``);
    ``hls4ml``: the ``LayerName`` precision entries; ``steps``: the metric after each knob was
    settled; ``trials``: every evaluation as ``(knob, fraction bits, metric)``; ``flags``:
    accumulator warnings (``kind`` "overflow" on the calibration data, "may_overflow" for other
    inputs, "rounds" when product bits are dropped), each with a message offering the fix;
    ``mode``: the scan mode.

    Raises:
        ImportError: ``plot`` without matplotlib (the ``plot`` extra).
    """

    config: dict
    hls4ml: dict
    metric_float: float
    metric_fixed: float
    evaluations: int
    seconds: float
    steps: list = field(default_factory=list)
    trials: list = field(default_factory=list)
    layers: dict = field(default_factory=dict)  # per layer: n_in, n_out, sparsity of the quantized weights
    flags: list = field(default_factory=list)  # accumulator warnings: {"layer", "kind", "count", "total", "message"}
    mode: str = "layer"

    def bops(self) -> dict:
        """Bit operations per layer, as in arXiv:1804.10969 (UNIQ):
        ``n_out * n_in * (b_a * b_w + b_a + b_w + log2(n_in))`` with b_a / b_w the input and
        weight widths; a layer's input is the previous layer's result (or the input)."""
        out = {}
        b_a = self.config["input"].w
        for name, info in self.layers.items():
            c = self.config[name]
            n_in, n_out, b_w = info["n_in"], info["n_out"], c["weight"].w
            out[name] = n_out * n_in * (b_a * b_w + b_a + b_w + math.log2(n_in))
            b_a = c["result"].w
        return out

    def table(self) -> str:
        """Per-layer formats, BOPs and weight sparsity, then the metric after each step."""
        bops = self.bops()
        rows = [("layer", "weight", "bias", "accum", "result", "BOPs", "zeros"),
                ("input", "", "", "", self.config["input"].to_hls4ml(), "", "")]
        for name, info in self.layers.items():
            c = self.config[name]
            rows.append((name, *(c[k].to_hls4ml() for k in ("weight", "bias", "accum", "result")),
                         f"{bops[name]:,.0f}", f"{info['sparsity']:.1%}"))
        widths = [max(len(r[k]) for r in rows) for k in range(7)]
        lines = [" ".join(v.rjust(wd) if k >= 5 else v.ljust(wd) for k, (v, wd) in enumerate(zip(r, widths))).rstrip()
                 for r in rows]
        lines.append(f"total BOPs {sum(bops.values()):,.0f}; metric float {self.metric_float:.4f}, "
                     f"fixed {self.metric_fixed:.4f}")
        lines += [f"  after {st['knob']}: {st['frac_bits']} fraction bits, metric {st['metric']:.4f}"
                  for st in self.steps]
        lines += [f"  flag: {fl['message']}" for fl in self.flags]
        return "\n".join(lines)

    def to_hls4ml_config(self, *, default_precision: str = "fixed<16,6>", reuse_factor: int = 1,
                         strategy: str = "Latency") -> dict:
        """A complete hls4ml config, usable as ``hls_config`` of hls4ml's PyTorch converter for
        the matching ``nn.Sequential``: ``{"Model": {...}, "LayerName": {...}}``."""
        n_in = next(iter(self.layers.values()))["n_in"] if self.layers else None
        return {
            "Model": {"Precision": default_precision, "ReuseFactor": int(reuse_factor), "Strategy": strategy,
                      # as hls4ml.utils.config_from_pytorch_model sets them: without the channels-last
                      # pass hls4ml keeps PyTorch's (out, in) weight layout, which its Dense reads as (in, out)
                      "ChannelsLastConversion": "full", "TransposeOutputs": False},
            "LayerName": {name: {"Precision": dict(entry["Precision"])} for name, entry in self.hls4ml.items()},
            "InputShape": (n_in,),
        }

    def to_json(self, **kwargs) -> str:
        """The formats, metrics, BOPs, steps and hls4ml config as JSON (``json.dumps`` kwargs)."""
        import json  # noqa: PLC0415

        cfg = {"input": str(self.config["input"])}
        cfg.update({name: {k: str(f) for k, f in c.items()} for name, c in self.config.items() if name != "input"})
        doc = {"formats": cfg, "metric_float": self.metric_float, "metric_fixed": self.metric_fixed,
               "evaluations": self.evaluations, "seconds": self.seconds, "bops": self.bops(),
               "layers": self.layers, "steps": self.steps, "flags": self.flags, "mode": self.mode,
               "hls4ml_config": {k: (list(v) if isinstance(v, tuple) else v)
                                 for k, v in self.to_hls4ml_config().items()}}
        return json.dumps(doc, **({"indent": 2} | kwargs))

    def plot(self, path) -> None:
        """Metric against fraction bits for every knob the scan searched, each knob's chosen bits
        starred and the tolerance line drawn (needs matplotlib)."""
        steps = [{"knob": st["knob"], "bits": st["frac_bits"], "metric": st["metric"]} for st in self.steps]
        _plot(self.trials, steps, self.metric_float, self.metric_float - self.tolerance, path)

    tolerance: float = float("nan")


def scan(network: Network, X, y, *, metric=None, tolerance: float = 0.01, mode: str = "global", max_frac: int = 18,
         percentile: float = 100.0, int_margin: int = 0, rounding: str = "TRN", overflow: str = "WRAP",
         result_rounding: str | None = None, result_overflow: str | None = None, accum=None,
         accum_width: int | None = None, accum_rounding: str = "TRN", accum_overflow: str = "WRAP",
         progress=None, client=None) -> ScanResult:
    """Post-training bit scan: integer bits from profiled ranges, then the fewest fraction
    bits for which the bit-exact emulation stays within ``tolerance`` of float.

    1. **Profile** on ``X``: |value| of the input and of every layer's output (before its
       ReLU) and of the accumulators' partial sums, at ``percentile`` (100 = the maximum);
       weights and biases always use their maximum |value|.
    2. **Integer bits**: the fewest that hold those levels (sign bit included), plus
       ``int_margin``. With ``percentile < 100`` the rarer larger values overflow, as the
       formats' modes say: ``overflow`` for the input, ``result_overflow`` for the results
       (SAT clips, WRAP wraps).
    3. **Fraction bits** of every knob (the input, each layer's weight, bias and result):
       ``mode="global"`` (the default) first lowers all knobs together to the fewest common
       fraction bits that pass, then refines each knob downward from there;
       ``mode="layer"`` starts all at ``max_frac`` and binary-searches the knobs one by one
       (greedy: it can leave later knobs wider than the global search does). A setting
       passes when ``metric(emulated output, y) >= metric(float output, y) - tolerance``.
    4. **Accumulators**: by default as wide as the chosen types imply (products plus
       ``ceil(log2(n_in + 1))`` bits), so they never wrap. ``accum_width`` caps the width: the
       integer bits then come from the profiled partial sums and fraction bits are dropped;
       ``accum`` (a format, or ``{layer name: format}``) fixes them. ``accum_rounding`` /
       ``accum_overflow`` set the modes. Layers whose accumulator overflows on the calibration
       data, can overflow for other inputs of the input format, or drops product bits are
       listed in ``ScanResult.flags`` with the SAT/RND choices that fix or soften it.
    5. **Verify**: the final configuration is emulated once more, bit-exactly; that metric is
       ``metric_fixed``.

    ``rounding``/``overflow`` are the modes of the input, weights and biases; the results use
    ``result_rounding``/``result_overflow`` (default: the same). All of them appear in the
    emitted hls4ml config. ``metric(pred, y)`` defaults to classification accuracy (argmax).
    ``progress``: None shows a rich progress bar when stderr is a terminal (and rich is
    installed); False shows nothing; True always reports; a callable receives one message
    per knob. ``client``: a ``distributed.Client``: every evaluation the search asks for runs
    data-parallel on its cluster (the calibration events split across the workers and scattered
    once, the outputs gathered in event order, the metric computed here), so every choice equals
    the serial scan's; configurations with STOCH types are emulated here (their counters are
    positions in the whole batch).

    Exactness: every metric is computed on the bit-exact emulation (:meth:`Network.emulate`),
    so it is what the firmware scores. Errors: ValueError for X of the wrong shape, unknown
    ``mode``, ``max_frac`` outside [1, 40], ``percentile`` outside (0, 100], a negative
    ``int_margin``, ``accum_width`` below 2, ``accum`` naming no layer, or when even
    ``max_frac`` fraction bits miss the tolerance.

    Raises:
        ValueError: as listed above.
    """
    t0 = time.perf_counter()
    api = "fx.scan"
    metric = metric or _accuracy
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != network.n_in:
        raise ValueError(f"{api}: X must have shape (n, {network.n_in}), got {X.shape}")
    if np.shape(y)[:1] != (len(X),):
        raise ValueError(f"{api}: y must have one entry per sample ({len(X)}), got shape {np.shape(y)}")
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
    names = [layer.name for layer in network.layers]
    if accum is not None and not isinstance(accum, dict):
        accum = dict.fromkeys(names, accum)
    accum = {k: Fixed.parse(v) if isinstance(v, str) else v for k, v in (accum or {}).items()}
    unknown = sorted(set(accum) - set(names))
    if unknown:
        raise ValueError(f"{api}: accum names layers {unknown} that the network does not have (layers: {names})")
    result_rounding = result_rounding or rounding
    result_overflow = result_overflow or overflow
    modes = {"rounding": rounding, "result_rounding": result_rounding, "accum_rounding": accum_rounding,
             "overflow": overflow, "result_overflow": result_overflow, "accum_overflow": accum_overflow}
    for key, value in modes.items():  # validate the modes up front, naming the keyword
        try:
            Fixed(8, 4, **({"q": value} if "rounding" in key else {"o": value}))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{api}: {key}={value!r} is not a mode ({exc})") from None
    ref = metric(network.predict(X), y)
    # 1. profile (float forward pass)
    levels = {"input": _abs_level(X, percentile)}
    acc_levels = {}
    x = X
    for layer in network.layers:
        pre = x @ layer.weight + layer.bias
        levels[(layer.name, "weight")] = _abs_level(layer.weight, 100)
        levels[(layer.name, "bias")] = _abs_level(layer.bias, 100)
        levels[(layer.name, "result")] = _abs_level(pre, percentile)
        if accum_width is not None:
            rows = max(1, 2_000_000 // max(1, layer.weight.size))
            acc_levels[layer.name] = max(_abs_level(
                np.cumsum(x[k:k + rows, :, None] * layer.weight[None], axis=1) + layer.bias, percentile)
                for k in range(0, len(x), rows))
        x = np.maximum(pre, 0.0) if layer.activation == "relu" else pre
    # 2. integer bits; fraction bits start at max_frac
    ibits = {knob: _int_bits(level, int_margin) for knob, level in levels.items()}
    fbits: dict = dict.fromkeys(ibits, max_frac)

    def make(fb) -> dict:
        cfg = {"input": Fixed(ibits["input"] + fb["input"], ibits["input"], q=rounding, o=overflow)}
        xi, xf = ibits["input"], fb["input"]
        for layer in network.layers:
            c = {}
            for k in ("weight", "bias", "result"):
                i_, f_ = ibits[(layer.name, k)], fb[(layer.name, k)]
                q, o = (result_rounding, result_overflow) if k == "result" else (rounding, overflow)
                c[k] = Fixed(i_ + f_, i_, q=q, o=o)
            if layer.name in accum:
                c["accum"] = accum[layer.name]
            else:
                wi, wf = c["weight"].i, c["weight"].f
                n_in = layer.weight.shape[0]
                ai = max(xi + wi + (n_in).bit_length(), c["bias"].i + 1)  # products + ceil(log2(n_in + 1)) bits
                af = max(xf + wf, c["bias"].f)
                if accum_width is not None and ai + af > accum_width:
                    ai = min(ai, _int_bits(acc_levels[layer.name], int_margin))
                    af = accum_width - ai
                c["accum"] = Fixed(ai + af, ai, q=accum_rounding, o=accum_overflow)
            cfg[layer.name] = c
            xi, xf = c["result"].i, c["result"].f
        return cfg

    evals = 0
    steps: list = []
    trials: list = []
    cache: dict = {}  # prepared layers (quantized weights) and stage outputs, keyed by their formats

    def emulate(cfg) -> np.ndarray:
        return _wrap(*network._emulate_memo(X, cfg, cache)).to_float()

    def label(knob) -> str:
        return knob if isinstance(knob, str) else f"{knob[0]}.{knob[1]}"

    remote = None
    if client is not None:  # the events split across the workers: each evaluation data-parallel
        remote = _network_evaluator(client, network, X)

    def ok(fb, knob="start", frac=None) -> tuple[bool, float]:
        nonlocal evals
        evals += 1
        cfg = make(fb)
        out = remote(cfg) if remote is not None else None  # None: STOCH, emulated here
        got = metric(emulate(cfg) if out is None else out, y)
        trials.append((label(knob), int(frac if frac is not None else fb.get(knob, max_frac)), float(got)))
        return got >= ref - tolerance, got

    def lowest(knob, lo, hi, best):
        """Binary search over the fewest fraction bits in [lo, hi] (hi passes) for one knob."""
        while lo < hi:
            mid = (lo + hi) // 2
            passed, got = ok({**fbits, knob: mid}, knob)
            if passed:
                hi, best = mid, got
            else:
                lo = mid + 1
        return hi, best

    bar = _Progress(progress, len(fbits) + (1 if mode == "global" else 0))
    try:
        good, score = ok(fbits)
        if not good:
            raise ValueError(f"{api}: even {max_frac} fraction bits miss the tolerance (float metric {ref:.4g}, "
                             f"fixed {score:.4g}); raise max_frac or tolerance")
        if mode == "global":  # all knobs together: fraction bits max(F, 1 - I) (width >= 1)
            lo, hi = min(1 - i for i in ibits.values()), max_frac
            while lo < hi:
                mid = (lo + hi) // 2
                trial = {k: max(mid, 1 - ibits[k]) for k in fbits}
                passed, got = ok(trial, "all knobs", mid)
                if passed:
                    hi, score = mid, got
                else:
                    lo = mid + 1
            fbits = {k: max(hi, 1 - ibits[k]) for k in fbits}
            steps.append({"knob": "all knobs", "frac_bits": hi, "metric": float(score)})
            bar.step(f"scan all knobs: {hi} fraction bits, metric {score:.4f} ({evals} evaluations)")
        # per-knob binary search for the fewest fraction bits, coarse to fine
        for knob in list(fbits):
            fbits[knob], score = lowest(knob, 1 - ibits[knob], fbits[knob], score)
            steps.append({"knob": label(knob), "frac_bits": fbits[knob], "metric": float(score)})
            bar.step(f"scan {label(knob)}: {fbits[knob]} fraction bits, metric {score:.4f} ({evals} evaluations)")
    finally:
        bar.close()
    config = make(fbits)
    final = metric(network.emulate(X, config).to_float(), y)  # verify: a fresh emulation, no caches
    layers, flags = {}, []
    # the accumulators' overflow counts on the calibration data: on the cluster's shards when
    # there is one (they add up over events), else here from every stage; with the counts known,
    # one event gives the stages' formats (they depend on the types, not on the data)
    counts = remote.accum_counts(config) if remote is not None else None
    stages = network.emulate_layers(X if counts is None else X[:1], config)
    for j, (layer, x_in) in enumerate(zip(network.layers, stages)):
        c = config[layer.name]
        op = network._dense_op(layer, c, None)
        layers[layer.name] = {"n_in": int(layer.weight.shape[0]), "n_out": int(layer.weight.shape[1]),
                              "sparsity": float(np.mean(op.w == 0))}
        flags += _accum_flags(layer.name, x_in, op, None if counts is None else counts[j])
    res = ScanResult(config, network.hls4ml_config(config), ref, final, evals, time.perf_counter() - t0,
                     steps, trials, layers, flags, mode)
    res.tolerance = tolerance
    return res
