"""Quantized MLPs without hls4ml, and the post-training bit scanner.

A :class:`Network` is a chain of Dense layers (float weights, optional ReLU), emulated with
exactly the semantics of hls4ml io_parallel firmware (see :mod:`fixedpoint.hls4ml`): the
input cast, weights read from decimal literals with as many digits as fraction bits,
``acc = (accum_t) bias; acc += (accum_t)(x * w)`` in order, ``(result_t) acc``, ReLU.
:func:`scan` picks per-layer formats from calibration data and emits the hls4ml config.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import _core
from .array import FixedArray, _mode_args, array
from .format import Fixed

__all__ = ["Dense", "Network", "ScanResult", "scan"]


@dataclass
class Dense:
    """A dense layer ``y = act(x @ weight + bias)``; weight has shape (n_in, n_out)."""

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


def _literal(values: np.ndarray, fmt: Fixed) -> FixedArray:
    """hls4ml's weight path: a decimal literal with f digits, read as a double, quantized."""
    digits = max(0, fmt.f)
    printed = np.array([float(f"{v:.{digits}f}") for v in values.reshape(-1)], dtype=np.float64)
    return array(printed.reshape(values.shape), fmt)


def dense_accum(x: FixedArray, w: FixedArray, bias: FixedArray, acc_t: Fixed) -> FixedArray:
    """hls4ml Dense accumulation: ``acc = (accum_t) bias``, then for k in order
    ``acc = (accum_t)(acc + (accum_t)(x[:, k] * w[k, :]))``; x (M, K), w (K, N), bias (N,).

    When ``acc_t`` holds every product exactly and no partial sum can leave its range (by the
    formats' bounds: ``max|bias| + K * max|product|``), no cast ever rounds or overflows, so
    the result is the exact sum whatever the order and modes; it is then computed with the
    exact matrix product (``fx.matmul``). Otherwise the sequential kernel runs.
    """
    from fractions import Fraction  # noqa: PLC0415

    from .array import _holds  # noqa: PLC0415
    from ._ops import result_format  # noqa: PLC0415

    bias_acc = bias.cast(acc_t)
    prod = result_format("mul", x.fmt, w.fmt)
    k = x.shape[-1]
    lsb = acc_t.lsb_exact
    p_max = max(abs(prod.raw_min), prod.raw_max) * prod.lsb_exact
    b_max = max((abs(int(v)) for v in bias_acc.raw.reshape(-1)), default=0) * lsb
    fits = _holds(acc_t, prod) and b_max + k * p_max <= min(acc_t.raw_max * lsb, -Fraction(acc_t.raw_min) * lsb)
    if fits:
        exact = x @ w  # exact, in the product format plus ceil(log2 K) bits
        return (exact + bias_acc).cast(acc_t)  # every value is representable: no rounding, no overflow
    if max(x.fmt.w, w.fmt.w, acc_t.w) > 64 or x.fmt.w + w.fmt.w > 126:
        raise NotImplementedError(f"dense accumulation beyond the native kernels ({x.fmt}, {w.fmt}, {acc_t})")
    raw = _core.matmul_accum(np.ascontiguousarray(x.raw.view(np.int64).reshape(-1, k)), x.fmt.w, x.fmt.i,
                             x.fmt.signed, np.ascontiguousarray(w.raw.view(np.int64)), w.fmt.w, w.fmt.i,
                             w.fmt.signed, *_mode_args(acc_t), np.ascontiguousarray(bias_acc.raw.view(np.int64)), 0, 0)
    return FixedArray(raw.reshape(x.shape[:-1] + (w.shape[1],)), acc_t, _trusted=True)


class Network:
    """A sequential MLP of :class:`Dense` layers, evaluated in float or emulated bit-exactly.

    Layer names follow hls4ml's PyTorch converter: modules are named by their index in the
    ``nn.Sequential`` (``_0`` for the first Linear, ``_1`` for the ReLU after it, ``_2`` for the
    next Linear), the input is ``input_1``; so configs can be handed to hls4ml as they are.
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
        """The exact fixed-point forward pass for ``config`` = ``{"input": Fixed, name: {"weight",
        "bias", "accum", "result": Fixed}}`` (what the firmware computes)."""
        x = array(np.asarray(X, dtype=np.float64), config["input"])
        for layer in self.layers:
            c = config[layer.name]
            w, b = _literal(layer.weight, c["weight"]), _literal(layer.bias, c["bias"])
            x = dense_accum(x, w, b, c["accum"]).cast(c["result"])
            if layer.activation == "relu":
                x = np.where(np.asarray(x.raw > 0, dtype=bool), x, FixedArray(np.zeros(x.shape, np.int64), x.fmt,
                                                                                _trusted=True))
        return x

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
    settled; ``trials``: every evaluation as ``(knob, fraction bits, metric)``.
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
        lines = [f"{'layer':<8} {'weight':<14} {'bias':<14} {'accum':<16} {'result':<16} {'BOPs':>10} {'zeros':>6}",
                 f"{'input':<8} {'':<14} {'':<14} {'':<16} {self.config['input'].to_hls4ml():<16}"]
        for name, info in self.layers.items():
            c = self.config[name]
            lines.append(f"{name:<8} {c['weight'].to_hls4ml():<14} {c['bias'].to_hls4ml():<14} "
                         f"{c['accum'].to_hls4ml():<16} {c['result'].to_hls4ml():<16} {bops[name]:>10.4g} "
                         f"{info['sparsity']:>6.1%}")
        lines.append(f"total BOPs {sum(bops.values()):.4g}; metric float {self.metric_float:.4f}, "
                     f"fixed {self.metric_fixed:.4f}")
        lines += [f"  after {st['knob']}: {st['frac_bits']} fraction bits, metric {st['metric']:.4f}"
                  for st in self.steps]
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
               "layers": self.layers, "steps": self.steps,
               "hls4ml_config": {k: (list(v) if isinstance(v, tuple) else v)
                                 for k, v in self.to_hls4ml_config().items()}}
        return json.dumps(doc, **({"indent": 2} | kwargs))

    def plot(self, path) -> None:
        """Metric against fraction bits for every knob the scan searched (needs matplotlib)."""
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for knob in dict.fromkeys(t[0] for t in self.trials):
            pts = sorted({(f, m) for k, f, m in self.trials if k == knob})
            # matplotlib hides legend labels that start with "_" (hls4ml's layer names do)
            name = f"all knobs at {pts[0][0]}" if knob == "start" else ("layer " + knob if knob[0] == "_" else knob)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.axhline(self.metric_float, color="black", linewidth=0.8, label="float")
        ax.set_xlabel("fraction bits of the knob (others at their current setting)")
        ax.set_ylabel("metric (bit-exact emulation)")
        ax.set_title("fixedpoint scan: metric against precision")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def _int_bits(maxabs: float, margin: int) -> int:
    """Integer bits (sign included) so that [-maxabs, maxabs] fits: 2^(I-1) > maxabs."""
    if maxabs <= 0 or not math.isfinite(maxabs):
        return 1 + margin
    return math.floor(math.log2(maxabs)) + 2 + margin


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(pred, axis=-1) == y))


def scan(network: Network, X, y, *, metric=None, tolerance: float = 0.01, max_frac: int = 18,
         int_margin: int = 0, rounding: str = "TRN", overflow: str = "WRAP", progress=None) -> ScanResult:
    """Post-training bit scan: integer bits from ranges, then fraction bits until the metric
    holds.

    1. Profiles max |value| of the input, every weight, bias and layer output on ``X``.
    2. Integer bits: the smallest that hold those ranges (plus ``int_margin``).
    3. Fraction bits: every knob (input, and each layer's weight, bias and result) starts at
       ``max_frac``; then, knob by knob, a binary search finds the fewest fraction bits for
       which ``metric(emulated output, y) >= metric(float output, y) - tolerance``.
    4. Accumulators are exact for the chosen operand formats (products plus
       ``ceil(log2(n_in + 1))`` bits), so they never wrap.
    Every evaluation is the bit-exact emulation (:meth:`Network.emulate`), so the final metric
    is what the firmware scores. ``metric(pred, y)`` defaults to classification accuracy
    (argmax). ``progress(message)`` is called after each knob.
    """
    t0 = time.perf_counter()
    metric = metric or _accuracy
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != network.n_in:
        raise ValueError(f"fx.scan: X must have shape (n, {network.n_in}), got {X.shape}")
    if not 0 < max_frac <= 40:
        raise ValueError(f"fx.scan: max_frac must be in [1, 40], got {max_frac}")
    ref = metric(network.predict(X), y)
    # 1. profile
    ranges = {"input": float(np.max(np.abs(X)))}
    x = X
    for layer in network.layers:
        pre = x @ layer.weight + layer.bias
        ranges[layer.name] = {"weight": float(np.max(np.abs(layer.weight))), "bias": float(np.max(np.abs(layer.bias))),
                              "result": float(np.max(np.abs(pre)))}
        x = np.maximum(pre, 0.0) if layer.activation == "relu" else pre
    # 2. integer bits; fraction bits start at max_frac
    ibits = {"input": _int_bits(ranges["input"], int_margin)}
    fbits: dict = {"input": max_frac}
    for layer in network.layers:
        for k in ("weight", "bias", "result"):
            ibits[(layer.name, k)] = _int_bits(ranges[layer.name][k], int_margin)
            fbits[(layer.name, k)] = max_frac

    def make(fb) -> dict:
        cfg = {"input": Fixed(ibits["input"] + fb["input"], ibits["input"], q=rounding, o=overflow)}
        xi, xf = ibits["input"], fb["input"]
        for layer in network.layers:
            c = {}
            for k in ("weight", "bias", "result"):
                i_, f_ = ibits[(layer.name, k)], fb[(layer.name, k)]
                c[k] = Fixed(i_ + f_, i_, q=rounding, o=overflow)
            wi, wf = c["weight"].i, c["weight"].f
            n_in = layer.weight.shape[0]
            ai = max(xi + wi + (n_in).bit_length(), c["bias"].i + 1)  # products + ceil(log2(n_in + 1)) bits
            af = max(xf + wf, c["bias"].f)
            c["accum"] = Fixed(ai + af, ai)
            cfg[layer.name] = c
            xi, xf = c["result"].i, c["result"].f
        return cfg

    evals = 0
    steps: list = []
    trials: list = []

    def label(knob) -> str:
        return knob if isinstance(knob, str) else f"{knob[0]}.{knob[1]}"

    def ok(fb, knob="start") -> tuple[bool, float]:
        nonlocal evals
        evals += 1
        got = metric(network.emulate(X, make(fb)).to_float(), y)
        trials.append((label(knob), int(fb[knob]) if knob in fb else max_frac, float(got)))
        return got >= ref - tolerance, got

    good, score = ok(fbits)
    if not good:
        raise ValueError(f"fx.scan: even {max_frac} fraction bits miss the tolerance (float metric {ref:.4g}, fixed "
                         f"{score:.4g}); raise max_frac or tolerance")
    # 3. per-knob binary search for the fewest fraction bits, coarse to fine
    for knob in list(fbits):
        lo, hi = 1 - ibits[knob], fbits[knob]  # width >= 1; hi always passes
        best = score
        while lo < hi:
            mid = (lo + hi) // 2
            passed, got = ok({**fbits, knob: mid}, knob)
            if passed:
                hi, best = mid, got
            else:
                lo = mid + 1
        fbits[knob] = hi
        score = best
        steps.append({"knob": label(knob), "frac_bits": hi, "metric": float(score)})
        if progress:
            progress(f"scan {label(knob)}: {hi} fraction bits, metric {score:.4f} ({evals} evaluations)")
    config = make(fbits)
    final = metric(network.emulate(X, config).to_float(), y)
    layers = {}
    for layer in network.layers:
        wq = _literal(layer.weight, config[layer.name]["weight"])
        layers[layer.name] = {"n_in": int(layer.weight.shape[0]), "n_out": int(layer.weight.shape[1]),
                              "sparsity": float(np.mean(wq.raw == 0))}
    return ScanResult(config, network.hls4ml_config(config), ref, final, evals, time.perf_counter() - t0,
                      steps, trials, layers)
