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

import numpy as np

from .array import FixedArray, array, from_raw
from .format import Fixed
from .network import dense_accum

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


def _weights(layer, name: str, fmt: Fixed) -> FixedArray:
    """The weight as the firmware holds it: decimal literal with f digits -> double -> fmt."""
    data = np.asarray(layer.weights[name].data)
    digits = max(0, fmt.f)
    printed = np.array([float(f"{v:.{digits}f}") for v in data.reshape(-1)], dtype=np.float64)
    return array(printed.reshape(data.shape), fmt)


def _attr(layer, key):
    return layer.get_attr(key) if hasattr(layer, "get_attr") else layer.attributes.get(key)


def layer_formats(hls_model) -> dict:
    """{layer name: {type name: Fixed}} for every resolved type of every layer."""
    out = {}
    for layer in hls_model.get_layers():
        types = {}
        for key in ("result_t", "weight_t", "bias_t", "accum_t", "scale_t"):
            t = _attr(layer, key)
            if t is not None:
                types[key] = _fmt(t, f"layer {layer.name!r} {key}")
        out[layer.name] = types
    return out


def _dense(layer, x: FixedArray) -> FixedArray:
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
    w = _weights(layer, "weight", w_t)
    n_in = int(_attr(layer, "n_in") or w.shape[0])
    n_out = int(_attr(layer, "n_out") or w.shape[-1])
    if w.size != n_in * n_out:
        raise ValueError(f"fx.hls4ml.emulate: layer {name!r} has {w.size} weights for n_in={n_in}, n_out={n_out}")
    w = w.reshape(n_out, n_in).T if strategy in ("resource", "resource_unrolled") else w.reshape(n_in, n_out)
    b = _weights(layer, "bias", b_t) if "bias" in layer.weights else from_raw(np.zeros(w.shape[1], np.int64), b_t)
    if w.ndim != 2 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"fx.hls4ml.emulate: layer {name!r} expects {w.shape[0]} inputs, got shape {x.shape}")
    acc = dense_accum(x, w, b, acc_t)
    return acc.cast(res_t)


def _activation(layer, x: FixedArray) -> FixedArray:
    res_t = _fmt(_attr(layer, "result_t"), f"layer {layer.name!r} result_t")
    act = str(_attr(layer, "activation") or layer.class_name).lower()
    if act == "relu":
        zero = from_raw(np.zeros(x.shape, np.int64), x.fmt)
        return np.where(np.asarray(x.raw > 0, dtype=bool), x, zero).cast(res_t)
    if act == "linear":
        return x.cast(res_t)
    raise NotImplementedError(f"fx.hls4ml.emulate: layer {layer.name!r}: activation {act!r} is not emulated "
                              "(supported: relu, linear)")


def _batchnorm(layer, x: FixedArray) -> FixedArray:
    name = layer.name
    s_t = _fmt(_attr(layer, "scale_t"), f"layer {name!r} scale_t")
    b_t = _fmt(_attr(layer, "bias_t"), f"layer {name!r} bias_t")
    res_t = _fmt(_attr(layer, "result_t"), f"layer {name!r} result_t")
    scale = _weights(layer, "scale", s_t)
    bias = _weights(layer, "bias", b_t)
    return (x * scale + bias).cast(res_t)


def emulate(hls_model, X) -> np.ndarray:
    """What ``hls_model.predict(X)`` returns, bit for bit, computed without compiling.

    ``hls_model`` is a converted hls4ml ``ModelGraph`` (io_parallel; a sequential chain of
    Input, Dense, ReLU/linear Activation and BatchNormalization layers). ``X`` is float32 or
    float64 holding whole samples. As ``predict`` does, the result has X's dtype, one row per
    sample, and a single sample gives a 1-d array. Unsupported layers or settings raise
    NotImplementedError naming them.
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
    x = np.asarray(X)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{api}: X must be float32 or float64 (predict's two bridges), got dtype {x.dtype}")
    inputs = hls_model.get_input_variables() if hasattr(hls_model, "get_input_variables") else None
    n_in = int(inputs[0].size()) if inputs else int(x.shape[-1])
    if x.size % n_in:
        raise ValueError(f"{api}: X has {x.size} values, not a multiple of the model's {n_in} inputs")
    n_samples = x.size // n_in
    x = x.reshape(n_samples, n_in)
    values = None
    for layer in layers:
        if layer.class_name == "Input":
            values = array(x, _fmt(_attr(layer, "result_t"), f"layer {layer.name!r} result_t"))
        elif layer.class_name == "Dense":
            values = _dense(layer, values)
        elif layer.class_name in ("Activation", "ReLU"):
            values = _activation(layer, values)
        else:
            values = _batchnorm(layer, values)
    # predict converts with float(result) for float32 input and double(result) for float64;
    # both are correctly rounded (for w <= 53, to_float() is exact and the float32 cast rounds once).
    out = values.to_float().astype(x.dtype)
    return out[0] if n_samples == 1 else out  # predict returns one row for a single sample
