"""Convolutions (fixedpoint/nn/conv.py) against hls4ml's compiled C-simulation: Conv1D/Conv2D with
padding, strides, no bias, 1x1 (PointwiseConv1D/2D, also the BatchedDenseForConv1D path), Latency
and Resource (RF > 1), narrow SAT/RND accumulators whose addition order matters, io_parallel and
io_stream; and a small CNN, timed against predict."""

from __future__ import annotations

import time

import numpy as np
from _hls4ml import assert_bits_equal, check_traced, differs, inputs, nontrivial, torch, traced

import fixedpoint as fx
from fixedpoint.nn.conv import ConvOp
from fixedpoint.nn.dense import DenseOp

nn = torch.nn

SAT = "fixed<10,3,RND,SAT>"  # accumulators: narrow, rounding the products, saturating the sums


def _reordered(op: ConvOp, order) -> ConvOp:
    """The same convolution with the accumulator fed in another order."""
    d = op.dense
    dense = DenseOp(d.w, d.w_fmt, d.b_acc, d.acc_t, d.acc_t, d.res_t, order=order)
    return ConvOp(dense, op.in_shape, op.kernel, op.stride, op.pad, op.out_shape)


def _order_matters(hm, name):
    """Layer ``name``'s replayed order is right where another order would be wrong: the reversed
    Latency order and (for Resource) the ascending one both differ from the C-simulation."""
    op = fx.hls4ml.to_graph(hm).node(name).op
    k, f = op.dense.w.shape
    rev = np.repeat(np.arange(k)[::-1, None], f, axis=1)
    assert differs(hm, name, _reordered(op, rev)), name
    if op.dense.order is not None:
        asc = np.repeat(np.arange(k)[:, None], f, axis=1)
        assert differs(hm, name, _reordered(op, asc)), name


def _seed(model, s=1):
    torch.manual_seed(s)
    for p in model.parameters():
        torch.nn.init.uniform_(p, -1.0, 1.0)
    return model.eval()


def _layers(spec):
    out = {}
    for name, (prec, extra) in spec.items():
        out[name] = {"Precision": prec, **extra}
    return out


class Conv2dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, padding=1, stride=2, bias=False)
        self.c2 = nn.Conv2d(3, 4, 1)
        self.c3 = nn.Conv2d(4, 3, (2, 3), stride=(1, 2), padding=(1, 0))

    def forward(self, x):
        return self.c3(self.c2(self.c1(x)))


def test_conv2d_parallel(tmp_path):
    layers = _layers({
        "c1": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {}),
        "c2": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 3}),
        "c3": ({"accum": SAT, "result": "fixed<9,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 4}),
    })
    hm = traced(_seed(Conv2dNet()), (2, 8, 8), tmp_path / "prj", "io_parallel", layers)
    kinds = {layer.name: layer.class_name for layer in hm.get_layers()}
    assert kinds["c1"] == "Conv2D" and kinds["c2"] == "PointwiseConv2D"
    assert {layer.name: layer.get_attr("strategy") for layer in hm.get_layers()}["c3"] == "resource"
    x = inputs((2, 8, 8), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 50)
    for name in ("c1", "c3"):
        _order_matters(hm, name)
    print("conv2d io_parallel values compared:", sum(counts.values()), counts)


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.d1 = nn.Conv1d(3, 4, 5, padding=2)
        self.d2 = nn.Conv1d(4, 4, 1, stride=2, padding=1)
        self.d3 = nn.Conv1d(4, 2, 3, stride=2, bias=False)

    def forward(self, x):
        return self.d3(self.d2(self.d1(x)))


def test_conv1d_parallel(tmp_path):
    layers = _layers({
        "d1": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {}),
        # ParallelizationFactor = out_width: n_partitions 1, the BatchedDenseForConv1D kernel
        "d2": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {"ParallelizationFactor": 9}),
        "d3": ({"accum": SAT, "result": "fixed<9,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 2}),
    })
    hm = traced(_seed(Conv1dNet(), 2), (3, 16), tmp_path / "prj", "io_parallel", layers)
    cfgs = {layer.name: layer.get_attr("config_cpp") for layer in hm.get_layers()}
    assert "BatchedDenseForConv1D" in cfgs["d2"] and "Conv1DResource" in cfgs["d3"]
    x = inputs((3, 16), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 50)
    for name in ("d1", "d3"):
        _order_matters(hm, name)
    print("conv1d io_parallel values compared:", sum(counts.values()), counts)


class StreamNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, padding=1)  # hls4ml inserts a ZeroPadding2D before it
        self.c2 = nn.Conv2d(3, 4, 1, stride=2)
        self.c3 = nn.Conv2d(4, 3, 3, stride=2)

    def forward(self, x):
        return self.c3(self.c2(self.c1(x)))


def test_conv2d_stream(tmp_path):
    layers = _layers({
        "c1": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {}),
        "c2": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 6}),
        "c3": ({"accum": SAT, "result": "fixed<9,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 4}),
    })
    hm = traced(_seed(StreamNet(), 3), (2, 8, 8), tmp_path / "prj", "io_stream", layers)
    kinds = {layer.name: layer.class_name for layer in hm.get_layers()}
    assert "ZeroPadding2D" in kinds.values() and kinds["c2"] == "PointwiseConv2D"
    cfgs = {layer.name: layer.get_attr("config_cpp") for layer in hm.get_layers()}
    assert "DenseResource_rf_gt_nin_rem0" in cfgs["c2"] and "DenseResource_rf_leq_nin" in cfgs["c3"]
    x = inputs((2, 8, 8), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 30)
    for name in ("c1", "c2", "c3"):
        _order_matters(hm, name)
    print("conv2d io_stream values compared:", sum(counts.values()), counts)


class Stream1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.d1 = nn.Conv1d(3, 4, 3, padding=1)
        self.d2 = nn.Conv1d(4, 2, 3, stride=2)

    def forward(self, x):
        return self.d2(self.d1(x))


def test_conv1d_stream(tmp_path):
    layers = _layers({
        "d1": ({"accum": SAT, "result": "fixed<8,3,RND,SAT>"}, {}),
        "d2": ({"accum": SAT, "result": "fixed<9,3,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 4}),
    })
    hm = traced(_seed(Stream1dNet(), 4), (3, 16), tmp_path / "prj", "io_stream", layers)
    x = inputs((3, 16), 300).reshape(300, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 30)
    print("conv1d io_stream values compared:", sum(counts.values()), counts)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.r1 = nn.ReLU()
        self.p1 = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(4, 8, 3, padding=1)
        self.r2 = nn.ReLU()
        self.p2 = nn.AvgPool2d(2)
        self.fl = nn.Flatten()
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.fl(self.p2(self.r2(self.c2(self.p1(self.r1(self.c1(x))))))))


def test_small_cnn(tmp_path):
    model = _seed(SmallCNN(), 5)
    with torch.no_grad():  # keep the activations in range: scale the weights by the fan-in
        for m in (model.c1, model.c2, model.fc):
            m.weight.mul_(1.0 / np.sqrt(m.weight[0].numel()))
    layers = _layers({"c2": ({"accum": "fixed<14,5,RND,SAT>"}, {"Strategy": "Resource", "ReuseFactor": 4}),
                      "p2": ({"accum": "fixed<12,5,RND,SAT>"}, {})})
    hm = traced(model, (1, 16, 16), tmp_path / "prj", "io_parallel", layers)
    x = inputs((1, 16, 16), 2000, scale=1.0).reshape(2000, -1)
    t0 = time.perf_counter()
    want = hm.predict(x)
    t1 = time.perf_counter()
    got = fx.hls4ml.emulate(hm, x)
    t2 = time.perf_counter()
    assert_bits_equal(got, want)
    nontrivial(got, 200)
    _, counts = check_traced(hm, x[:200])
    print(f"small CNN, 2000 samples: predict {t1 - t0:.3f} s, emulate {t2 - t1:.4f} s "
          f"({(t1 - t0) / (t2 - t1):.0f}x); {got.size} outputs + {sum(counts.values())} traced values compared")
