"""The engine reads the ModelGraph, so the frontend that built it must not matter: Keras 3
models (``KERAS_BACKEND=torch``, no TensorFlow) converted by hls4ml emulate bit for bit too."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (the test extra)")
if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen first
    pytest.skip(f"keras runs on {keras.backend.backend()!r}; these tests use the torch backend",
                allow_module_level=True)

from _hls4ml import check, compile_cached, hls4ml, inputs, nontrivial  # noqa: E402


def _convert(model, out_dir, *, default="fixed<16,6>", layers=None, io_type="io_parallel"):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision=default)
    for name, prec in (layers or {}).items():
        cfg["LayerName"][name]["Precision"].update(prec)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado",
                                                    io_type=io_type)
    return compile_cached(hm)


def _seeded(seed):
    keras.utils.set_random_seed(seed)


def test_keras_mlp_with_softmax(tmp_path):
    _seeded(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(5, activation="softmax")])
    # dense_1's result left 'auto' resolves to fixed<37,17>, and the stable softmax then gives 0.2 for
    # every class and sample (hls4ml 1.3's C-sim): a fixed<16,6> result keeps the outputs meaningful
    hm = _convert(m, tmp_path / "prj", layers={"dense": {"accum": "fixed<12,5,RND,SAT>"},
                                               "dense_1": {"result": "fixed<16,6>"}})
    x = inputs((8,), n=300)
    nontrivial(check(hm, x))


def test_keras_cnn(tmp_path):
    _seeded(1)
    m = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                          keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(3)])
    hm = _convert(m, tmp_path / "prj")
    x = inputs((8, 8, 2), n=200)
    nontrivial(check(hm, x))


def test_keras_functional_residual_add_two_outputs(tmp_path):
    _seeded(2)
    inp = keras.Input((8,))
    h = keras.layers.Dense(8, activation="relu")(inp)
    s = keras.layers.Add()([inp, h])
    out1 = keras.layers.Dense(3)(s)
    out2 = keras.layers.Dense(2, activation="sigmoid")(h)
    m = keras.Model(inp, [out1, out2])
    hm = _convert(m, tmp_path / "prj")
    x = inputs((8,), n=300)
    got = check(hm, x)
    assert isinstance(got, list) and len(got) == 2
    nontrivial(got)


def test_keras_depthwise_cropping_average_dot(tmp_path):
    """Layers the PyTorch converter does not produce: DepthwiseConv2D (with a narrow saturating
    accumulator, so the per-channel addition order matters), Cropping2D, and the Average and Dot
    merges, in one model with three outputs."""
    _seeded(3)
    inp = keras.Input((6, 6, 3))
    dw = keras.layers.DepthwiseConv2D(3, padding="same")(inp)
    crop = keras.layers.Cropping2D(((1, 0), (0, 2)))(inp)
    flat_a = keras.layers.Flatten()(keras.layers.Cropping2D(((0, 0), (0, 3)))(dw))  # (6, 3, 3) -> 54
    flat_b = keras.layers.Flatten()(keras.layers.Cropping2D(((0, 0), (3, 0)))(dw))
    avg = keras.layers.Average()([flat_a, flat_b])
    dot = keras.layers.Dot(axes=1)([flat_a, flat_b])
    m = keras.Model(inp, [crop, avg, dot])
    layers = {"depthwise_conv2d": {"accum": "fixed<10,4,RND,SAT>", "result": "fixed<12,5>"},
              "average": {"result": "fixed<10,4,RND,SAT>"}, "dot": {"result": "fixed<14,8,RND,SAT>"}}
    hm = _convert(m, tmp_path / "prj", layers=layers)
    kinds = {layer.class_name for layer in hm.get_layers()}
    assert {"DepthwiseConv2D", "Cropping2D", "Merge", "Dot"} <= kinds
    x = inputs((6, 6, 3), n=300)
    nontrivial(check(hm, x))
    # the narrow saturating accumulator matters: with a wide one the outputs differ
    import fixedpoint as fx
    from fixedpoint.nn._raw import quantize_input
    from fixedpoint.nn.dense import DenseOp

    graph = fx.hls4ml.to_graph(hm)
    node = graph.node("depthwise_conv2d")
    d = node.op.dense
    wide = fx.Fixed(40, 20)
    node.op.dense = DenseOp(d.w, d.w_fmt, d.b_acc, d.acc_t, wide, d.res_t)
    (name, shape, fmt), = graph.inputs
    raw, out_fmt = graph.run_raw([quantize_input(x.reshape((len(x),) + shape), fmt)])[graph.outputs[1]]
    assert (fx.FixedArray(raw, out_fmt, _trusted=True).to_float().astype(np.float32) != hm.predict(x)[1]).any()
    fx.hls4ml._PLANS.pop(hm, None)  # the edited graph is not the model's
