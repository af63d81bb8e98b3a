"""Bit-exact emulation of hls4ml firmware: ``fx.hls4ml.emulate(hls_model, X)``.

``emulate`` reads a converted hls4ml ``ModelGraph`` (its layers, resolved types and weights)
and computes, without compiling, exactly what ``hls_model.predict(X)`` returns from the
C-simulation:

- inputs: ``input_t(float)`` (one rounding into the input layer's ``result_t``);
- weights and biases: hls4ml writes them into the firmware headers as decimal literals with
  as many digits after the point as the type has fraction bits (``'{:.Ff}'``); the C++
  compiler reads the literal as a double, which ``weight_t`` then quantizes. The emulator
  reproduces that double rounding;
- Dense (io_parallel, Latency strategy): ``acc = (accum_t) bias``; for each input in order,
  ``acc += (accum_t)(x * w)``; ``result = (result_t) acc`` (``fx.matmul`` accumulator
  semantics). The Resource strategy adds in another order, which gives the same result
  when the accumulator wraps (WRAP with no saturation bits); other accumulators raise
  NotImplementedError;
- ReLU and linear activations: ``(result_t)(x > 0 ? x : 0)`` / ``(result_t) x``;
- BatchNormalization: ``(result_t)(x * scale + bias)`` with ``scale_t`` / ``bias_t``;
- outputs: ``float(result)``, rounded to nearest (ties to even) as ``ap_fixed::to_float``.

hls4ml itself is not imported: the model object is read through its attributes. Layers the
emulator does not know raise NotImplementedError naming them.
"""

from __future__ import annotations

import hashlib
import weakref

import numpy as np

from .array import FixedArray, array
from .format import Fixed
from .network import _DenseOp, _ReluOp, _run_raw, _ScaleOp, _storage, literal_raw

__all__ = ["emulate", "layer_formats"]

_SUPPORTED = ("Input", "Dense", "Activation", "ReLU", "BatchNormalization")


def _fmt(type_obj, what: str) -> Fixed:
    """A Fixed from an hls4ml NamedType / precision type."""
    p = getattr(type_obj, "precision", type_obj)
    name = type(p).__name__
    if "Integer" in name:
        return Fixed(int(p.width), int(p.width), signed=bool(p.signed))
    if "Fixed" not in name:
        raise NotImplementedError(f"fx.hls4ml.emulate: {what} has precision {p} ({name}); only fixed and "
                                  "integer types are emulated")
    q = str(getattr(p, "rounding_mode", "TRN") or "TRN").split(".")[-1]
    o = str(getattr(p, "saturation_mode", "WRAP") or "WRAP").split(".")[-1]
    n = int(getattr(p, "saturation_bits", 0) or 0)
    return Fixed(int(p.width), int(p.integer), signed=bool(p.signed), q=q, o=o, n=n)


def _attr(layer, key):
    return layer.get_attr(key) if hasattr(layer, "get_attr") else layer.attributes.get(key)


def layer_formats(hls_model) -> dict:
    """{layer name: {type name: Fixed}} for every resolved type of every layer.

    Raises:
        NotImplementedError: a precision that is not ap_fixed/ap_int-like (e.g. floats).
    """
    out = {}
    for layer in hls_model.get_layers():
        types = {}
        for key in ("result_t", "weight_t", "bias_t", "accum_t", "scale_t"):
            t = _attr(layer, key)
            if t is not None:
                types[key] = _fmt(t, f"layer {layer.name!r} {key}")
        out[layer.name] = types
    return out


def _dense(layer) -> _DenseOp:
    name = layer.name
    strategy = str(_attr(layer, "strategy") or "latency").lower()
    w_t = _fmt(_attr(layer, "weight_t"), f"layer {name!r} weight_t")
    b_t = _fmt(_attr(layer, "bias_t"), f"layer {name!r} bias_t")
    acc_t = _fmt(_attr(layer, "accum_t"), f"layer {name!r} accum_t")
    res_t = _fmt(_attr(layer, "result_t"), f"layer {name!r} result_t")
    if strategy != "latency" and not (acc_t.o.value == "WRAP" and acc_t.n == 0 and acc_t.q.value != "STOCH"):
        raise NotImplementedError(
            f"fx.hls4ml.emulate: layer {name!r} uses the {strategy} strategy with accumulator {acc_t}; its "
            "addition order differs from Latency, so only wrapping accumulators (WRAP, n=0) are emulated exactly"
        )
    # The firmware reads the header's flat C-order list: weights[i * n_out + j] for Latency, and
    # the transposed layout for Resource. Whatever shape the graph holds, that order decides.
    w = literal_raw(np.asarray(layer.weights["weight"].data), w_t)
    n_in = int(_attr(layer, "n_in") or w.shape[0])
    n_out = int(_attr(layer, "n_out") or w.shape[-1])
    if w.size != n_in * n_out:
        raise ValueError(f"fx.hls4ml.emulate: layer {name!r} has {w.size} weights for n_in={n_in}, n_out={n_out}")
    w = w.reshape(n_out, n_in).T if strategy in ("resource", "resource_unrolled") else w.reshape(n_in, n_out)
    if "bias" in layer.weights:
        b = literal_raw(np.asarray(layer.weights["bias"].data), b_t).reshape(-1)
    else:
        b = np.zeros(n_out, np.int64)
    return _DenseOp(w, w_t, b, b_t, acc_t, res_t)


def _activation(layer) -> _ReluOp:
    res_t = _fmt(_attr(layer, "result_t"), f"layer {layer.name!r} result_t")
    act = str(_attr(layer, "activation") or layer.class_name).lower()
    if act in ("relu", "linear"):
        return _ReluOp(res_t, relu=act == "relu")
    raise NotImplementedError(f"fx.hls4ml.emulate: layer {layer.name!r}: activation {act!r} is not emulated "
                              "(supported: relu, linear)")


def _batchnorm(layer) -> _ScaleOp:
    name = layer.name
    s_t = _fmt(_attr(layer, "scale_t"), f"layer {name!r} scale_t")
    b_t = _fmt(_attr(layer, "bias_t"), f"layer {name!r} bias_t")
    res_t = _fmt(_attr(layer, "result_t"), f"layer {name!r} result_t")
    scale = literal_raw(np.asarray(layer.weights["scale"].data), s_t).reshape(-1)
    bias = literal_raw(np.asarray(layer.weights["bias"].data), b_t).reshape(-1)
    return _ScaleOp(scale, s_t, bias, b_t, res_t)


def _signature(layers) -> tuple:
    """What the emulation depends on: names, kinds, every attribute the ops read, and the weight
    contents (hashed). A cached plan is reused only while this is unchanged."""
    sig = []
    for layer in layers:
        attrs = tuple(repr(_attr(layer, k)) for k in ("result_t", "weight_t", "bias_t", "accum_t", "scale_t",
                                                       "strategy", "activation", "n_in", "n_out"))
        data = []
        weights = getattr(layer, "weights", {})
        for key in ("weight", "bias", "scale"):  # the only weights the ops read
            try:
                var = weights[key]
            except KeyError:
                continue
            arr = np.ascontiguousarray(np.asarray(var.data))
            data.append((key, arr.dtype.str, arr.shape, hashlib.blake2b(arr.tobytes(), digest_size=16).digest()))
        sig.append((layer.name, layer.class_name, attrs, tuple(data)))
    return tuple(sig)


_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _plan(hls_model, layers) -> tuple[Fixed, list]:
    """The input format and the prepared ops (weights quantized once; cached per model)."""
    sig = _signature(layers)
    try:
        cached = _PLANS.get(hls_model)
    except TypeError:  # not weak-referenceable: no cache
        cached = None
    if cached is not None and cached[0] == sig:
        return cached[1], cached[2]
    in_fmt, ops = None, []
    for layer in layers:
        if layer.class_name == "Input":
            in_fmt = _fmt(_attr(layer, "result_t"), f"layer {layer.name!r} result_t")
        elif layer.class_name == "Dense":
            ops.append(_dense(layer))
        elif layer.class_name in ("Activation", "ReLU"):
            ops.append(_activation(layer))
        else:
            ops.append(_batchnorm(layer))
    if in_fmt is None:
        raise NotImplementedError("fx.hls4ml.emulate: the model has no Input layer")
    try:
        _PLANS[hls_model] = (sig, in_fmt, ops)
    except TypeError:
        pass
    return in_fmt, ops


def _check_chain(api: str, hls_model, layers) -> None:
    """The engine runs the layers in order, each on the previous one's output: refuse any other
    topology (several outputs, branches, merges) rather than compute something else."""
    outputs = list(getattr(hls_model, "outputs", None) or [])
    if len(outputs) > 1:
        raise NotImplementedError(f"{api}: the model has {len(outputs)} outputs ({', '.join(outputs)}); only "
                                  "single-output chains are emulated")
    prev = None
    for layer in layers:
        ins = list(getattr(layer, "inputs", None) or [])
        if prev is not None and ins and ins != prev:
            raise NotImplementedError(f"{api}: layer {layer.name!r} reads {ins}, not the previous layer's output "
                                      f"{prev}; only sequential chains are emulated")
        prev = list(getattr(layer, "outputs", None) or []) or prev
    if outputs and prev is not None and outputs != prev:
        raise NotImplementedError(f"{api}: the model's output {outputs} is not the last layer's {prev}; only "
                                  "sequential chains are emulated")


def emulate(hls_model, X) -> np.ndarray:
    """What ``hls_model.predict(X)`` returns, bit for bit, computed without compiling.

    ``hls_model`` is a converted hls4ml ``ModelGraph`` (io_parallel; a sequential chain of
    Input, Dense, ReLU/linear Activation and BatchNormalization layers). ``X`` is float32 or
    float64 holding whole samples. As ``predict`` does, the result has X's dtype, one row per
    sample, and a single sample gives a 1-d array. Unsupported layers or settings raise
    NotImplementedError naming them.

    Raises:
        NotImplementedError: io_stream, unsupported layers, activations or precisions.
        TypeError: X not float32/float64.
        ValueError: X whose size is not a multiple of the model's inputs, or weights that do
            not match a layer's shape.
    """
    api = "fx.hls4ml.emulate"
    io_type = str(getattr(getattr(hls_model, "config", None), "get_config_value", lambda k, d=None: d)(
        "IOType", "io_parallel"))
    if io_type != "io_parallel":
        raise NotImplementedError(f"{api}: io_type {io_type!r} is not emulated (only io_parallel)")
    layers = list(hls_model.get_layers())
    unknown = [f"{lay.name} ({lay.class_name})" for lay in layers if lay.class_name not in _SUPPORTED]
    if unknown:
        raise NotImplementedError(f"{api}: layers not emulated: {', '.join(unknown)}; supported: "
                                  f"{', '.join(_SUPPORTED)}")
    _check_chain(api, hls_model, layers)
    x = np.asarray(X)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{api}: X must be float32 or float64 (predict's two bridges), got dtype {x.dtype}")
    inputs = hls_model.get_input_variables() if hasattr(hls_model, "get_input_variables") else None
    n_in = int(inputs[0].size()) if inputs else int(x.shape[-1])
    if x.size % n_in:
        raise ValueError(f"{api}: X has {x.size} values, not a multiple of the model's {n_in} inputs")
    n_samples = x.size // n_in
    x = x.reshape(n_samples, n_in)
    in_fmt, ops = _plan(hls_model, layers)
    raw, fmt = _run_raw(_storage(array(x, in_fmt)), in_fmt, ops)
    # predict converts with float(result) for float32 input and double(result) for float64;
    # both are correctly rounded (for w <= 53, to_float() is exact and the float32 cast rounds once).
    out = FixedArray(raw, fmt, _trusted=True).to_float().astype(x.dtype)
    return out[0] if n_samples == 1 else out  # predict returns one row for a single sample
