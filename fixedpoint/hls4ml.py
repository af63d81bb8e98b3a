"""Bit-exact emulation of hls4ml firmware: ``fx.hls4ml.emulate(hls_model, X)``.

``emulate`` reads a converted hls4ml ``ModelGraph`` (its layers, their wiring, resolved types
and weights), builds a :class:`fixedpoint.nn.Graph` and computes, without compiling, exactly
what ``hls_model.predict(X)`` returns from the C-simulation:

- inputs: ``input_t(float)`` (one rounding into each input layer's ``result_t``);
- weights and biases: hls4ml writes them into the firmware headers as decimal literals with
  as many digits after the point as the type has fraction bits (``'{:.Ff}'``); the C++
  compiler reads the literal as a double, which ``weight_t`` then quantizes. The emulator
  reproduces that double rounding;
- every layer: the arithmetic of its hls4ml template, in stored integers, in the layer family
  modules of :mod:`fixedpoint.nn` (each documents what it reproduces);
- outputs: ``float(result)``, rounded to nearest (ties to even) as ``ap_fixed::to_float``,
  returned as ``predict`` returns them (one array per output for several outputs).

hls4ml itself is not imported: the model object is read through its attributes. A layer or a
setting the engine does not reproduce raises NotImplementedError naming the layer and the
setting; it never computes something else.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import warnings
import weakref

import numpy as np

from . import nn
from .array import FixedArray
from .format import Fixed
from .nn._raw import literal_raw, quantize_input

__all__ = ["apply", "emulate", "layer_formats", "run_graph", "to_graph"]

_API = "fx.hls4ml.emulate"


def _fmt(type_obj, what: str) -> Fixed:
    """A Fixed from an hls4ml NamedType / precision type."""
    p = getattr(type_obj, "precision", type_obj)
    name = type(p).__name__
    if "Integer" in name:
        return Fixed(int(p.width), int(p.width), signed=bool(p.signed))
    if "Fixed" not in name:
        raise NotImplementedError(f"{_API}: {what} has precision {p} ({name}); only fixed and integer types are "
                                  "emulated")
    q = str(getattr(p, "rounding_mode", "TRN") or "TRN").split(".")[-1]
    o = str(getattr(p, "saturation_mode", "WRAP") or "WRAP").split(".")[-1]
    n = int(getattr(p, "saturation_bits", 0) or 0)
    return Fixed(int(p.width), int(p.integer), signed=bool(p.signed), q=q, o=o, n=n)


def _attr(layer, key, default=None):
    if hasattr(layer, "get_attr"):
        try:
            return layer.get_attr(key, default)
        except TypeError:  # a get_attr without a default
            v = layer.get_attr(key)
            return default if v is None else v
    return getattr(layer, "attributes", {}).get(key, default)


_FUNC = re.compile(r"nnet::([A-Za-z_0-9]+)\s*<")


class LayerView:
    """One hls4ml layer as the layer-family builders read it (see :mod:`fixedpoint.nn.registry`).

    ``in_shapes``: the per-sample shape of each input, ``out_shape`` the output's, as the
    firmware's flat arrays hold them (channels last after hls4ml's conversion).
    """

    def __init__(self, layer, model, io_type: str, shapes: dict):
        self.layer, self.model, self.io_type = layer, model, io_type
        self.name, self.class_name = layer.name, layer.class_name
        self.api = _API
        self.inputs = list(getattr(layer, "inputs", None) or [])
        self.outputs = list(getattr(layer, "outputs", None) or [layer.name])
        self.in_shapes = [shapes[t] for t in self.inputs if t in shapes]
        self.out_shape = _var_shape(layer)

    def attr(self, key: str, default=None):
        """The layer attribute ``key`` (``default`` when absent)."""
        v = _attr(self.layer, key, None)
        return default if v is None else v

    def has(self, key: str) -> bool:
        return _attr(self.layer, key, None) is not None

    def fmt(self, key: str) -> Fixed:
        """The Fixed of the type attribute ``key`` (``result_t``, ``accum_t``, ...)."""
        t = _attr(self.layer, key, None)
        if t is None:
            raise NotImplementedError(f"{self.api}: layer {self.name!r} ({self.class_name}) has no {key}")
        return _fmt(t, f"layer {self.name!r} {key}")

    def has_weight(self, key: str) -> bool:
        return key in (getattr(self.layer, "weights", None) or {})

    def weight(self, key: str) -> np.ndarray:
        """The float values of weight variable ``key``."""
        try:
            return np.asarray(self.layer.weights[key].data)
        except KeyError:
            raise NotImplementedError(f"{self.api}: layer {self.name!r} ({self.class_name}) has no {key!r} "
                                      "weights") from None

    def literal(self, key: str, fmt: Fixed) -> np.ndarray:
        """Stored integers of weight variable ``key`` as the firmware header holds them in ``fmt``."""
        return literal_raw(self.weight(key), fmt)

    def function(self) -> str | None:
        """The nnet function the generated firmware calls for this layer (``'dense'``,
        ``'conv_2d_cl'``, ...), or None when it generates no call (an in-place layer)."""
        cpp = _attr(self.layer, "function_cpp", None)
        if not cpp:
            return None
        m = _FUNC.search(str(cpp))
        return m.group(1) if m else str(cpp)

    def unsupported(self, setting: str):
        """Raise NotImplementedError naming this layer and the setting."""
        raise NotImplementedError(f"{self.api}: layer {self.name!r} ({self.class_name}): {setting} is not emulated")


def _var_shape(layer) -> tuple:
    try:
        var = layer.get_output_variable()
    except Exception:  # noqa: BLE001 - fakes and layers without variables
        var = None
    shape = getattr(var, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else ()


def _io_type(hls_model) -> str:
    cfg = getattr(hls_model, "config", None)
    get = getattr(cfg, "get_config_value", None)
    return str(get("IOType", "io_parallel") if get else "io_parallel")


def layer_formats(hls_model) -> dict:
    """{layer name: {type name: Fixed}} for every resolved type of every layer.

    Raises:
        NotImplementedError: a precision that is not ap_fixed/ap_int-like (e.g. floats).
    """
    out = {}
    for layer in hls_model.get_layers():
        types = {}
        attrs = getattr(layer, "attributes", {})
        keys = [k for k in (attrs.keys() if hasattr(attrs, "keys") else []) if str(k).endswith("_t")]
        for key in keys or ("result_t", "weight_t", "bias_t", "accum_t", "scale_t"):
            t = _attr(layer, key)
            if t is not None and hasattr(getattr(t, "precision", t), "width"):
                types[key] = _fmt(t, f"layer {layer.name!r} {key}")
        out[layer.name] = types
    return out


def _scalar(v):
    p = getattr(v, "precision", v)
    if hasattr(p, "width"):  # a type: everything _fmt reads
        return (type(p).__name__, str(p), *(str(getattr(p, k, None)) for k in (
            "width", "integer", "signed", "rounding_mode", "saturation_mode", "saturation_bits")))
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(e, (str, int, float, bool)) for e in v):
        return tuple(v)
    return None


def _signature(layers, io_type) -> tuple:
    """What the emulation depends on: names, kinds, wiring, every scalar or type attribute, and
    the weight contents (hashed). A cached graph is reused only while this is unchanged."""
    sig = [io_type]
    for layer in layers:
        attrs = getattr(layer, "attributes", {})
        attrs = getattr(attrs, "attributes", attrs)  # hls4ml's AttributeDict wraps a plain dict
        items = attrs.items() if hasattr(attrs, "items") else []
        data = []
        for key, var in sorted((getattr(layer, "weights", None) or {}).items()):
            arr = np.ascontiguousarray(np.asarray(var.data))
            data.append((key, arr.dtype.str, arr.shape, hashlib.blake2b(arr.tobytes(), digest_size=16).digest()))
        sig.append((layer.name, layer.class_name, tuple(getattr(layer, "inputs", None) or ()),
                    tuple(getattr(layer, "outputs", None) or ()),
                    tuple(sorted((str(k), repr(_scalar(v))) for k, v in items)), tuple(data)))
    return tuple(sig)


_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def to_graph(hls_model) -> nn.Graph:
    """The :class:`fixedpoint.nn.Graph` of a converted hls4ml model (cached per model while its
    layers, types and weights are unchanged).

    Raises:
        NotImplementedError: a layer class, setting or precision the engine does not reproduce
            (every one is named).
    """
    layers = list(hls_model.get_layers())
    io_type = _io_type(hls_model)
    if io_type not in ("io_parallel", "io_stream"):
        raise NotImplementedError(f"{_API}: io_type {io_type!r} is not emulated (io_parallel, io_stream)")
    unknown = [f"{lay.name} ({lay.class_name})" for lay in layers
               if lay.class_name not in nn.HLS4ML and lay.class_name not in ("Input", "InputLayer")]
    if unknown:
        raise NotImplementedError(f"{_API}: layers not emulated: {', '.join(unknown)}; supported: "
                                  f"{', '.join(sorted(nn.HLS4ML))}")
    sig = _signature(layers, io_type)
    try:
        cached = _PLANS.get(hls_model)
    except TypeError:  # not weak-referenceable: no cache
        cached = None
    if cached is not None and cached[0] == sig:
        return cached[1]
    graph = build_graph(hls_model, layer_views(hls_model, layers, io_type))
    try:
        _PLANS[hls_model] = (sig, graph)
    except TypeError:
        pass
    return graph


def layer_views(hls_model, layers=None, io_type=None) -> list:
    """One :class:`LayerView` per layer, in the model's order (Input layers included), with
    the per-sample shapes of every tensor resolved."""
    layers = list(hls_model.get_layers()) if layers is None else layers
    io_type = _io_type(hls_model) if io_type is None else io_type
    views, shapes = [], {}
    for layer in layers:
        view = LayerView(layer, hls_model, io_type, shapes)
        if layer.class_name not in ("Input", "InputLayer") and len(view.in_shapes) != len(view.inputs):
            raise NotImplementedError(f"{_API}: layer {layer.name!r} reads {view.inputs}, not all produced by "
                                      "earlier layers")
        for t in view.outputs:
            shapes[t] = view.out_shape
        views.append(view)
    return views


def build_graph(hls_model, views, op_for=None) -> nn.Graph:
    """The graph of ``views`` (from :func:`layer_views`); ``op_for(view)`` builds each op
    (default: the registered builder), so that a caller can build ops from modified views."""
    inputs, nodes = [], []
    for view in views:
        if view.class_name in ("Input", "InputLayer"):
            fmt = view.fmt("result_t")
            inputs.extend((t, view.out_shape, fmt) for t in view.outputs)
            continue
        op = op_for(view) if op_for is not None else nn.HLS4ML[view.class_name](view)
        nodes.append(nn.Node(view.name, op, view.inputs, view.outputs, kind=view.class_name))
    if not inputs:
        raise NotImplementedError(f"{_API}: the model has no Input layer")
    order = list(getattr(hls_model, "inputs", None) or [t for t, _, _ in inputs])
    by_name = {t: (t, s, f) for t, s, f in inputs}
    missing = [t for t in order if t not in by_name]
    if missing:
        raise NotImplementedError(f"{_API}: model inputs {missing} have no Input layer")
    outputs = list(getattr(hls_model, "outputs", None) or [nodes[-1].outputs[0] if nodes else inputs[-1][0]])
    return nn.Graph([by_name[t] for t in order], nodes, outputs, api=_API)


def emulate(hls_model, X):
    """What ``hls_model.predict(X)`` returns, bit for bit, computed without compiling.

    ``hls_model`` is a converted hls4ml ``ModelGraph`` (io_parallel or io_stream). ``X`` is
    float32 or float64 holding whole samples, one array per model input (a list or tuple for
    several inputs, as ``predict`` takes them). As ``predict`` does, each result has X's dtype,
    one row of the output's flat size per sample; a single sample gives 1-d rows; several
    outputs give a list with one array per output, in the model's output order.

    Raises:
        NotImplementedError: layers, settings, io types or precisions that are not emulated,
            each named.
        TypeError: X not float32/float64, or inputs of different dtypes.
        ValueError: the wrong number of inputs, an input whose size is not a multiple of the
            model's input size, or inputs with different sample counts.
    """
    return run_graph(to_graph(hls_model), X)


def run_graph(graph: nn.Graph, X):
    """:func:`emulate` on a graph already built by :func:`to_graph`: the same checks, the same
    input rounding and the same outputs. Build the graph once and run it on many batches (this
    is what :mod:`fixedpoint.dask` ships to its workers).

    Raises:
        TypeError: X not float32/float64, or inputs of different dtypes.
        ValueError: the wrong number of inputs, an input whose size is not a multiple of the
            model's input size, inputs with different sample counts, or NaN in X.
    """
    n_inputs = len(graph.inputs)
    xs = list(X) if n_inputs > 1 else [X]
    if n_inputs > 1 and (not isinstance(X, (list, tuple)) or len(xs) != n_inputs):
        raise ValueError(f"{_API}: the model has {n_inputs} inputs; pass a list of {n_inputs} arrays, got "
                         f"{type(X).__name__}" + (f" of {len(xs)}" if isinstance(X, (list, tuple)) else ""))
    xs = [np.asarray(x) for x in xs]
    dtype = xs[0].dtype
    for k, x in enumerate(xs):
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{_API}: X must be float32 or float64 (predict's two bridges), got dtype {x.dtype}"
                            + (f" for input {k}" if n_inputs > 1 else ""))
        if x.dtype != dtype:
            raise TypeError(f"{_API}: every input must have the same dtype (predict's bridge is chosen by the "
                            f"first), got {dtype} and {x.dtype} for input {k}")
    counts, raws = [], []
    for k, ((name, shape, fmt), x) in enumerate(zip(graph.inputs, xs)):
        size = int(np.prod(shape))
        if size == 0 or x.size % size:
            raise ValueError(f"{_API}: input {name!r} has {x.size} values, not a multiple of the model's {size} "
                             f"(shape {shape})")
        counts.append(x.size // size)
    if len(set(counts)) > 1:
        raise ValueError(f"{_API}: the inputs hold different numbers of samples: {counts}")
    n = counts[0]
    for (name, shape, fmt), x in zip(graph.inputs, xs):
        raws.append(quantize_input(x.reshape((n,) + shape), fmt))
    values = graph.run_raw(raws)
    outs = []
    for t in graph.outputs:
        raw, fmt = values[t]
        # predict converts with float(result) for float32 input and double(result) for float64;
        # both are correctly rounded (for w <= 53, to_float() is exact and the float32 cast rounds once).
        outs.append(FixedArray(raw.reshape(n, -1), fmt, _trusted=True).to_float().astype(dtype))
    if n == 1:
        outs = [o[0] for o in outs]  # predict returns one row for a single sample
    return outs[0] if len(outs) == 1 else outs


def _check_applied(old, new, result) -> None:
    """The converted model has the scanned graph (the same layers) and every type the scan chose;
    otherwise its firmware would compute something else than the scan emulated."""
    before = [(lay.name, lay.class_name) for lay in old.get_layers()]
    after = [(lay.name, lay.class_name) for lay in new.get_layers()]
    if before != after:
        raise RuntimeError(f"fx.hls4ml.apply: hls4ml built another graph from the scanned config ({after}; the scan "
                           f"ran on {before}); its firmware would not compute what the scan emulated")
    have = layer_formats(new)
    for layer, types in result.config.items():
        for key, fmt in types.items():
            if key.endswith("_t") and have.get(layer, {}).get(key) not in (None, fmt):
                raise RuntimeError(f"fx.hls4ml.apply: layer {layer!r} {key} is {have[layer][key]} in the converted "
                                   f"model, but the scan chose {fmt}")


def apply(hls_model, result, *, output_dir=None):
    """A new hls4ml ``ModelGraph`` of the same model with the types ``result`` chose.

    ``result`` is what :func:`fixedpoint.scan` returned for ``hls_model`` (or for the PyTorch
    or Keras model it was converted from). The model is converted again, from the float model
    hls4ml keeps in ``hls_model.config`` and with ``result.to_hls4ml_config()`` as its config,
    with the same backend and io type; ``write()``/``compile()`` of the returned model build
    firmware whose C-simulation equals ``fx.hls4ml.emulate`` (and the scan's own emulation) bit
    for bit. ``output_dir`` defaults to a new temporary folder (hls4ml writes nothing until
    ``write()``).

    Raises:
        TypeError: ``result`` is not a scan result of a graph model.
        ValueError: ``hls_model`` keeps neither a PyTorch nor a Keras model to convert again.
        RuntimeError: hls4ml built another graph than the scanned one, or resolved a type to
            something else than the scan chose (its firmware would compute something else).
    """
    import tempfile  # noqa: PLC0415

    import hls4ml as _h  # noqa: PLC0415

    if not hasattr(result, "to_hls4ml_config") or not hasattr(result, "knobs"):
        raise TypeError(f"fx.hls4ml.apply: result must be what fx.scan returned for an hls4ml or PyTorch model, got "
                        f"{type(result).__name__}")
    full = getattr(getattr(hls_model, "config", None), "config", None) or {}
    cfg = result.to_hls4ml_config()
    kw = {"hls_config": cfg, "output_dir": str(output_dir or tempfile.mkdtemp(prefix="fixedpoint-hls4ml-")),
          "backend": str(full.get("Backend", "Vivado")), "io_type": _io_type(hls_model)}
    if full.get("Part"):
        kw["part"] = full["Part"]
    convert = None
    if full.get("PytorchModel") is not None:
        convert, model = _h.converters.convert_from_pytorch_model, full["PytorchModel"]
    elif full.get("KerasModel") is not None:
        convert, model = _h.converters.convert_from_keras_model, full["KerasModel"]
    if convert is not None:
        # hls4ml prints the topology it reads, and warns for every type the config sets explicitly
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Overriding attribute", category=UserWarning)
            new = convert(model, **kw)
        _check_applied(hls_model, new, result)
        return new
    raise ValueError("fx.hls4ml.apply: the model keeps no PyTorch or Keras model in its config to convert again; "
                     "pass result.to_hls4ml_config() as hls_config to the converter you used")
