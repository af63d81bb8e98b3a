"""Separable and depthwise convolutions, and the resource_unrolled strategy's addition order,
against hls4ml's compiled C-simulation, every output and every traced layer bit for bit.

- SeparableConv1D/2D (Keras 3, ``KERAS_BACKEND=torch``): hls4ml 1.3's ``convert`` flow always
  splits them into a DepthwiseConv (its ``depthwise_accum`` / ``depthwise_result`` types) and a
  PointwiseConv (``pointwise_accum``, the layer's result type and bias), io_parallel and io_stream.
- DepthwiseConv1D/2D in io_stream: Latency, and Resource (the ``DepthwiseDenseResource_*``
  kernels, whose order matters for a saturating accumulator).
- ``resource_unrolled`` (Dense, Conv in io_stream and io_parallel) with saturating, rounding
  accumulators: the order of the generated kernel's statements.

Narrow SAT/RND accumulators are chosen so that the order (or the type) provably matters: the
emulation with another order gives other bits on the same inputs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (the test extra)")
if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen first
    pytest.skip(f"keras runs on {keras.backend.backend()!r}; these tests use the torch backend",
                allow_module_level=True)

from _hls4ml import (  # noqa: E402
    check, check_traced, compile_cached, config, differs, hls4ml, inputs, nontrivial, torch)

import fixedpoint as fx  # noqa: E402
from fixedpoint.nn.conv import ConvOp  # noqa: E402
from fixedpoint.nn.dense import DenseOp, resource_order  # noqa: E402
from fixedpoint.nn.orders import unrolled_order  # noqa: E402

SAT = "fixed<9,3,RND,SAT>"  # narrow accumulators: rounding the products, saturating the sums


@pytest.fixture
def separable_kernel(monkeypatch):
    """hls4ml 1.3's Keras 3 handler reads ``layer.kernel``, which Keras 3's SeparableConv layers
    name ``depthwise_kernel`` (it raises AttributeError otherwise); the handler then stores it as
    the depthwise weights. The alias lets it convert as it intends."""
    from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv

    monkeypatch.setattr(BaseSeparableConv, "kernel", property(lambda self: self.depthwise_kernel), raising=False)


def _keras(model, out_dir, io_type, layers):
    """Convert a Keras model with every layer traced; ``layers``: {name: {"Precision": {...}, ...}}."""
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision="fixed<16,6>")
    for name, entry in layers.items():
        slot = cfg["LayerName"][name]
        for k, v in entry.items():
            if k == "Precision":
                slot["Precision"].update(v)
            else:
                slot[k] = v
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado",
                                                    io_type=io_type)
    hm.config.trace_output = True
    return compile_cached(hm)


def _reordered(op: ConvOp, order=None, acc_t=None) -> ConvOp:
    """The same convolution with the accumulator fed in another order (None: ascending) or of
    another type."""
    d = op.dense
    dense = DenseOp(d.w, d.w_fmt, d.b_acc, d.acc_t, acc_t or d.acc_t, d.res_t, order=order)
    return ConvOp(dense, op.in_shape, op.kernel, op.stride, op.pad, op.out_shape)


def _kinds(hm):
    return {layer.name: layer.class_name for layer in hm.get_layers()}


def _cfg(hm, name):
    return str(hm.graph[name].get_attr("config_cpp"))


def _wide_differs(hm, name):
    """Layer ``name`` with a wide accumulator gives other bits: its narrow type matters."""
    op = fx.hls4ml.to_graph(hm).node(name).op
    return differs(hm, name, _reordered(op, op.dense.order, fx.Fixed(40, 20)))


def _order_differs(hm, name):
    """Layer ``name`` fed in the ascending (Latency) order gives other bits than the C-sim."""
    op = fx.hls4ml.to_graph(hm).node(name).op
    assert op.dense.order is not None, name
    return differs(hm, name, _reordered(op))


def _seeded(seed):
    keras.utils.set_random_seed(seed)


def test_separable_conv2d_parallel(tmp_path, separable_kernel):
    _seeded(11)
    m = keras.Sequential([keras.Input((7, 7, 3)), keras.layers.SeparableConv2D(4, 3, padding="same", name="separable_conv2d"),
                          keras.layers.SeparableConv2D(2, (2, 3), strides=(2, 1), use_bias=False, name="separable_conv2d_1")])
    layers = {"separable_conv2d": {"Precision": {"depthwise_accum": SAT, "depthwise_result": "fixed<8,3,RND,SAT>",
                                                 "pointwise_accum": "fixed<10,4,RND,SAT>",
                                                 "result": "fixed<9,4,RND,SAT>"}},
              "separable_conv2d_1": {"Precision": {"depthwise_accum": "fixed<12,5>", "depthwise_result": "fixed<10,5>",
                                                   "pointwise_accum": "fixed<10,4,RND,SAT>",
                                                   "result": "fixed<12,5>"}}}
    hm = _keras(m, tmp_path / "prj", "io_parallel", layers)
    kinds = _kinds(hm)
    assert kinds["separable_conv2d_depthwise"] == "DepthwiseConv2D"
    assert kinds["separable_conv2d_1_pointwise"] == "PointwiseConv2D"
    assert str(hm.graph["separable_conv2d_depthwise"].get_attr("accum_t").precision) == "fixed<9,3,RND,SAT,0>"
    x = inputs((7, 7, 3), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 20)
    assert counts["separable_conv2d_1_pointwise"] == 300 * 3 * 5 * 2
    for name in ("separable_conv2d_depthwise", "separable_conv2d_pointwise", "separable_conv2d_1_pointwise"):
        assert _wide_differs(hm, name), name
    print("separable conv2d io_parallel values compared:", sum(counts.values()), counts)


def test_separable_conv1d_stream_resource(tmp_path, separable_kernel):
    """io_stream: hls4ml inserts a ZeroPadding1D before the depthwise part. Resource with reuse
    factor 4 runs DepthwiseDenseResource_rf_gt_nout_rem0 (depthwise; its order matters here) and
    DenseResource_rf_gt_nin_rem0 (pointwise); the second layer is Latency with a stride. (hls4ml
    gives both parts the layer's reuse factor: it must be valid for both, or the firmware breaks.)"""
    _seeded(12)
    m = keras.Sequential([keras.Input((12, 2)), keras.layers.SeparableConv1D(4, 4, padding="same", name="separable_conv1d"),
                          keras.layers.SeparableConv1D(3, 3, strides=2, name="separable_conv1d_1")])
    layers = {"separable_conv1d": {"Precision": {"depthwise_accum": SAT, "depthwise_result": "fixed<8,3,RND,SAT>",
                                                 "pointwise_accum": SAT, "result": "fixed<9,4,RND,SAT>"},
                                   "Strategy": "Resource", "ReuseFactor": 4},
              "separable_conv1d_1": {"Precision": {"depthwise_accum": SAT, "depthwise_result": "fixed<8,3,RND,SAT>",
                                                   "pointwise_accum": "fixed<12,5>", "result": "fixed<12,5>"}}}
    hm = _keras(m, tmp_path / "prj", "io_stream", layers)
    assert "ZeroPadding1D" in _kinds(hm).values()
    assert "DepthwiseDenseResource_rf_gt_nout_rem0" in _cfg(hm, "separable_conv1d_depthwise")
    assert "DenseResource_rf_gt_nin_rem0" in _cfg(hm, "separable_conv1d_pointwise")
    assert "DepthwiseDenseLatency" in _cfg(hm, "separable_conv1d_1_depthwise")
    x = inputs((12, 2), 400).reshape(400, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 20)
    assert _order_differs(hm, "separable_conv1d_depthwise")
    for name in ("separable_conv1d_pointwise", "separable_conv1d_1_depthwise"):
        assert _wide_differs(hm, name), name
    print("separable conv1d io_stream values compared:", sum(counts.values()), counts)


def test_separable_layer_class_unreachable(tmp_path, separable_kernel):
    """The SeparableConv2D layer class itself never reaches the engine in hls4ml 1.3: the
    ``convert`` flow splits it, and without the split its config template fails
    (SkipOptimizers is not honoured, so this removes the pass from the flow for one conversion)."""
    from hls4ml.model.flow import get_flow

    _seeded(13)
    m = keras.Sequential([keras.Input((5, 5, 2)), keras.layers.SeparableConv2D(2, 3)])
    cfg = hls4ml.utils.config_from_keras_model(m, granularity="name")
    cfg["SkipOptimizers"] = ["separable_to_depthwise_and_conv"]
    hm = hls4ml.converters.convert_from_keras_model(m, hls_config=cfg, output_dir=str(tmp_path / "a"),
                                                    backend="Vivado")
    assert "SeparableConv2D" not in _kinds(hm).values()  # SkipOptimizers is ignored
    flow = get_flow("convert")
    at = flow.optimizers.index("separable_to_depthwise_and_conv")
    flow.optimizers.remove("separable_to_depthwise_and_conv")
    try:
        with pytest.raises(KeyError, match="min_height"):
            hls4ml.converters.convert_from_keras_model(m, hls_config=cfg, output_dir=str(tmp_path / "b"),
                                                       backend="Vivado")
    finally:
        flow.optimizers.insert(at, "separable_to_depthwise_and_conv")
    assert "separable_to_depthwise_and_conv" in get_flow("convert").optimizers


def test_depthwise_stream(tmp_path):
    """DepthwiseConv2D/1D in io_stream: Latency with a stride, Resource in the three kernels
    (RF <= C, RF % C == 0, RF > C otherwise), saturating accumulators."""
    _seeded(14)
    inp = keras.Input((7, 7, 3))
    a = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", name="depthwise_conv2d")(inp)  # Latency
    b = keras.layers.DepthwiseConv2D((2, 3), name="depthwise_conv2d_1")(inp)  # Resource, RF 2 <= C
    c = keras.layers.DepthwiseConv2D(2, strides=(2, 1), name="depthwise_conv2d_2")(inp)  # Resource, RF 6 (% C == 0)
    m2 = keras.Model(inp, [a, b, c])
    sat = {"accum": SAT, "result": "fixed<8,3,RND,SAT>"}
    layers = {"depthwise_conv2d": {"Precision": sat},
              "depthwise_conv2d_1": {"Precision": sat, "Strategy": "Resource", "ReuseFactor": 2},
              "depthwise_conv2d_2": {"Precision": sat, "Strategy": "Resource", "ReuseFactor": 6}}
    hm = _keras(m2, tmp_path / "prj2", "io_stream", layers)
    assert "DepthwiseDenseLatency" in _cfg(hm, "depthwise_conv2d")
    assert "DepthwiseDenseResource_rf_leq_nout" in _cfg(hm, "depthwise_conv2d_1")
    assert "DepthwiseDenseResource_rf_gt_nout_rem0" in _cfg(hm, "depthwise_conv2d_2")
    x = inputs((7, 7, 3), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 20)
    assert _wide_differs(hm, "depthwise_conv2d")
    for name in ("depthwise_conv2d_1", "depthwise_conv2d_2"):
        assert _order_differs(hm, name), name

    _seeded(15)
    m1 = keras.Sequential([keras.Input((10, 2)), keras.layers.DepthwiseConv1D(3, padding="same", name="depthwise_conv1d")])
    layers = {"depthwise_conv1d": {"Precision": sat, "Strategy": "Resource", "ReuseFactor": 3}}
    hm1 = _keras(m1, tmp_path / "prj1", "io_stream", layers)
    assert "DepthwiseDenseResource_rf_gt_nout<" in _cfg(hm1, "depthwise_conv1d")
    x1 = inputs((10, 2), 400).reshape(400, -1)
    out1, counts1 = check_traced(hm1, x1)
    nontrivial(out1, 20)
    assert _order_differs(hm1, "depthwise_conv1d")
    print("depthwise io_stream values compared:", sum(counts.values()) + sum(counts1.values()))


class _Chain(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.fcs = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        for fc in self.fcs:
            x = fc(x)
        return x


def _torch(model, shape, out_dir, io_type, layers):
    model = model.eval()
    cfg = config(model, shape, layers=layers)
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado",
                                                      io_type=io_type)
    hm.config.trace_output = True
    return compile_cached(hm)


def _unrolled_checks(hm, name):
    """The layer reads its order from the generated code; the ascending order, the reversed one
    and (where they differ from the code's) gives other bits."""
    op = fx.hls4ml.to_graph(hm).node(name).op
    dense = op.dense if isinstance(op, ConvOp) else op
    k, n = dense.w.shape
    assert dense.order is not None, name

    def replay(order):
        d = DenseOp(dense.w, dense.w_fmt, dense.b_acc, dense.acc_t, dense.acc_t, dense.res_t, order=order)
        return ConvOp(d, op.in_shape, op.kernel, op.stride, op.pad, op.out_shape) if isinstance(op, ConvOp) else d

    assert differs(hm, name, replay(None)), name
    assert differs(hm, name, replay(np.repeat(np.arange(k)[::-1, None], n, axis=1))), name


def test_dense_resource_unrolled_sat(tmp_path):
    """Dense resource_unrolled with saturating, rounding accumulators: RF <= n_in and RF > n_in
    (the two generated forms), a pruned weight (its statement left out of the code), io_parallel."""
    torch.manual_seed(21)
    model = _Chain([8, 6, 4, 3])
    with torch.no_grad():
        model.fcs[0].weight[2, 5] = 0.0  # a pruned weight: no statement for it
    layers = {"fcs_0": {"Strategy": "resource_unrolled", "ReuseFactor": 4,
                        "Precision": {"accum": SAT, "result": "fixed<10,4,RND,SAT>"}},
              "fcs_1": {"Strategy": "resource_unrolled", "ReuseFactor": 12,
                        "Precision": {"accum": SAT, "result": "fixed<10,4,RND,SAT>"}},
              "fcs_2": {"Precision": {"accum": "fixed<12,5>", "result": "fixed<12,5>"}}}
    hm = _torch(model, (8,), tmp_path / "prj", "io_parallel", layers)
    for name, rf in (("fcs_0", 4), ("fcs_1", 12)):
        assert hm.graph[name].get_attr("strategy") == "resource_unrolled"
        assert hm.graph[name].get_attr("reuse_factor") == rf
    code = str(hm.graph["fcs_0"].get_attr("resource_unrolled_dense_codegen"))
    assert "weights[" + str(2 * 8 + 5) + "]" not in code and "weights[" + str(2 * 8 + 4) + "]" in code
    x = inputs((8,), n=600, scale=3.0)
    out, counts = check_traced(hm, x)
    nontrivial(out, 50)
    _unrolled_checks(hm, "fcs_0")
    # the generated code's order is the Resource loops' order, the pruned weight's statement aside;
    # for RF > n_in (fcs_1) that order is ascending in every output
    g = fx.hls4ml.to_graph(hm)
    order0 = g.node("fcs_0").op.order
    np.testing.assert_array_equal(np.delete(order0, 2, axis=1), np.delete(resource_order(8, 6, 4), 2, axis=1))
    assert order0[-1, 2] == 5 and list(order0[:, 2]) != list(resource_order(8, 6, 4)[:, 2])
    w1 = g.node("fcs_1").op.w
    code1 = str(hm.graph["fcs_1"].get_attr("resource_unrolled_dense_codegen"))
    np.testing.assert_array_equal(unrolled_order(code1, w1), resource_order(6, 4, 12))
    assert g.node("fcs_1").op.order is None and (resource_order(6, 4, 12) == np.arange(6)[:, None]).all()
    print("dense resource_unrolled values compared:", sum(counts.values()))


class _ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 3, 3)
        self.c2 = torch.nn.Conv2d(3, 2, 2, stride=2)

    def forward(self, x):
        return self.c2(self.c1(x))


def test_conv_resource_unrolled_sat_stream(tmp_path):
    """Conv2D resource_unrolled with saturating accumulators in io_stream: the line buffer calls
    the generated kernel on each window. (In io_parallel hls4ml 1.3 turns resource_unrolled into
    resource for convolutions.)"""
    torch.manual_seed(22)
    model = _ConvNet()
    for p in model.parameters():
        torch.nn.init.uniform_(p, -1.0, 1.0)
    layers = {"c1": {"Strategy": "resource_unrolled", "ReuseFactor": 6,
                     "Precision": {"accum": SAT, "result": "fixed<8,3,RND,SAT>"}},
              "c2": {"Strategy": "resource_unrolled", "ReuseFactor": 4,
                     "Precision": {"accum": SAT, "result": "fixed<9,3,RND,SAT>"}}}
    hm = _torch(model, (2, 8, 8), tmp_path / "prj", "io_stream", layers)
    for name in ("c1", "c2"):
        assert hm.graph[name].get_attr("strategy") == "resource_unrolled"
        assert "dense_resource_unrolled_" in _cfg(hm, name)
    x = inputs((2, 8, 8), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 30)
    for name in ("c1", "c2"):
        _unrolled_checks(hm, name)
    print("conv resource_unrolled io_stream values compared:", sum(counts.values()))


def test_unrolled_order_rejects_other_code():
    from fixedpoint.nn.orders import depthwise_resource_order

    w = np.ones((2, 2), np.int64)
    head = "acc[i] = (typename CONFIG_T::accum_t) biases[i];\n"
    tail = "res[i] = cast<data_T, res_T, CONFIG_T>(acc[i]);\n"
    stmt = ("acc[{j}] += static_cast<typename CONFIG_T::accum_t>(CONFIG_T::template product<data_T, typename "
            "CONFIG_T::weight_t>::product(data[{k}], weights[{w}]));\n")
    full = "".join(stmt.format(j=j, k=k, w=j * 2 + k) for k in (1, 0) for j in (0, 1))
    np.testing.assert_array_equal(unrolled_order(head + full + tail, w), [[1, 1], [0, 0]])
    with pytest.raises(ValueError, match="never receives input 0"):  # a skipped nonzero weight
        unrolled_order(head + stmt.format(j=0, k=1, w=1) + stmt.format(j=1, k=0, w=2) + stmt.format(j=1, k=1, w=3)
                       + tail, w)
    with pytest.raises(ValueError, match="not output x input"):
        unrolled_order(head + stmt.format(j=0, k=1, w=3) + tail, w)
    with pytest.raises(ValueError, match="unexpected accumulation"):
        unrolled_order(head + "acc[0] += data[1];\n" + tail, w)
    with pytest.raises(ValueError, match="receives an input twice"):
        unrolled_order(head + full + stmt.format(j=0, k=1, w=1) + tail, w)
    with pytest.raises(ValueError, match="bias initialisation"):
        unrolled_order(full, w)
    with pytest.raises(ValueError, match="out of range"):  # RF 4 does not divide n_in 6: reads past data
        depthwise_resource_order(6, 2, 4, "DepthwiseDenseResource_rf_gt_nout_rem0", np.zeros((6, 2), np.int64))
