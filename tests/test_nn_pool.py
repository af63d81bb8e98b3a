"""Pooling, global pooling, zero padding and nearest resize against hls4ml's compiled C-simulation
(fixedpoint/nn/pool.py), io_parallel and io_stream, with narrow SAT/RND accumulators so that the
average's additions and its truncating division matter."""

from __future__ import annotations

import sys

import pytest
from _hls4ml import check_traced, differs, inputs, nontrivial, torch, traced

import fixedpoint as fx
from fixedpoint.nn.pool import PoolOp

nn = torch.nn

ACC = "fixed<9,4,RND,SAT>"  # fewer fraction bits than the data: every addition rounds, sums saturate


def _global(names: dict):
    """Make the PyTorch parser turn the named AvgPool/MaxPool layers into hls4ml's global pooling
    classes (the PyTorch converter produces none itself)."""
    p2h = sys.modules["hls4ml.converters.pytorch_to_hls"]
    orig = p2h.parse_pytorch_model

    def parse(config, verbose=True):
        layers, ins, outs = orig(config, verbose)
        for layer in layers:
            if layer["name"] in names:
                layer["class_name"] = names[layer["name"]]
        return layers, ins, outs

    return parse


class Pool2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.r = nn.ReLU()
        self.mp = nn.MaxPool2d(3, stride=2, padding=1)  # unsigned data: the padded value 2^(w-1) LSBs wins
        self.ap1 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.ap2 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
        self.up = nn.Upsample(scale_factor=2)
        self.zp = nn.ConstantPad2d((1, 0, 0, 2), 0.0)
        self.ap3 = nn.AvgPool2d(2)
        self.g = nn.AvgPool2d((5, 4))

    def forward(self, x):
        y = self.ap3(self.zp(self.up(self.ap2(self.ap1(self.mp(self.r(x)))))))
        return self.g(y)


class Pool1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.mp = nn.MaxPool1d(2)
        self.ap1 = nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False)
        self.zp = nn.ConstantPad1d((2, 1), 0.0)
        self.ap2 = nn.AvgPool1d(2)
        self.up = nn.Upsample(scale_factor=2)
        self.mp2 = nn.MaxPool1d(2, stride=1, padding=1)
        self.g = nn.MaxPool1d(11)

    def forward(self, x):
        return self.g(self.mp2(self.up(self.ap2(self.zp(self.ap1(self.mp(x)))))))


def _layers2d(stream):
    layers = {"r": {"result": "ufixed<6,2>"}, "mp": {"result": "ufixed<6,2>"},
              "ap1": {"result": "fixed<8,3,RND,SAT>", "accum": ACC},
              "ap2": {"result": "fixed<7,2,TRN,SAT>", "accum": "fixed<9,5,RND,SAT>"},
              "up": {"result": "fixed<7,2,TRN,SAT>"}, "zp": {"result": "fixed<7,2,TRN,SAT>"},
              "ap3": {"result": "fixed<8,2,RND,WRAP>", "accum": "fixed<8,3,RND,SAT>"},
              "g": {"result": "fixed<9,2,RND,SAT>", "accum": "fixed<10,5,RND,SAT>"}}
    if stream:  # io_stream pooling has no padding and pool == stride (2D)
        layers.pop("ap1"), layers.pop("ap2")
        layers["up"] = {"result": "ufixed<6,2>"}  # resize_nearest reads and writes one type
    return layers


class Pool2dStream(nn.Module):
    def __init__(self):
        super().__init__()
        self.r = nn.ReLU()
        self.mp = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2)
        self.zp = nn.ConstantPad2d((1, 0, 0, 2), 0.0)
        self.ap3 = nn.AvgPool2d(2)
        self.g = nn.AvgPool2d((5, 4))

    def forward(self, x):
        return self.g(self.ap3(self.zp(self.up(self.mp(self.r(x))))))


class Pool1dStream(nn.Module):
    def __init__(self):
        super().__init__()
        self.mp = nn.MaxPool1d(2)
        self.ap1 = nn.AvgPool1d(3, stride=2)  # the 1D line buffer allows stride != pool
        self.up = nn.Upsample(scale_factor=3)
        self.zp = nn.ConstantPad1d((2, 1), 0.0)
        self.ap2 = nn.AvgPool1d(2)
        self.g = nn.MaxPool1d(5)

    def forward(self, x):
        return self.g(self.ap2(self.zp(self.up(self.ap1(self.mp(x))))))


LAYERS1D = {"x": {"result": "fixed<8,3>"}, "mp": {"result": "fixed<8,3>"},
            "ap1": {"result": "fixed<7,2,RND,SAT>", "accum": "fixed<8,3,RND,SAT>"},
            "zp": {"result": "fixed<7,2,RND,SAT>"}, "up": {"result": "fixed<7,2,RND,SAT>"},
            "ap2": {"result": "fixed<6,2,TRN,WRAP>", "accum": "fixed<6,2,RND,SAT>"},
            "mp2": {"result": "fixed<6,2>"}, "g": {"result": "fixed<6,1,TRN,SAT>", "accum": "fixed<5,1,TRN,WRAP>"}}


def _convert(monkeypatch, model, shape, path, io_type, layers, names):
    p2h = sys.modules["hls4ml.converters.pytorch_to_hls"]
    monkeypatch.setattr(p2h, "parse_pytorch_model", _global(names))
    return traced(model, shape, path, io_type, {k: {"Precision": v} for k, v in layers.items()})


def _kinds(hm):
    return {layer.name: layer.class_name for layer in hm.get_layers()}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_pool2d(tmp_path, monkeypatch, io_type):
    stream = io_type == "io_stream"
    model = (Pool2dStream() if stream else Pool2d()).eval()
    hm = _convert(monkeypatch, model, (2, 8, 8), tmp_path / "prj", io_type, _layers2d(stream),
                  {"g": "GlobalAveragePooling2D"})
    kinds = _kinds(hm)
    assert kinds["g"] == "GlobalPooling2D" and kinds["up"] == "Resize" and kinds["zp"] == "ZeroPadding2D"
    x = inputs((2, 8, 8), 400, scale=1.5).reshape(400, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 3)
    assert {"mp", "ap3", "up", "zp", "g"} <= set(counts), counts
    g = fx.hls4ml.to_graph(hm)
    wide = fx.Fixed(40, 20)
    for name in ("ap3",) + (() if stream else ("ap1", "ap2")):  # the narrow SAT/RND accumulator matters
        op = g.node(name).op
        alt = PoolOp(op.op, op.in_hw, op.pool, op.stride, op.pad, True, op.out_shape, wide, op.res_t, op.stream)
        alt.length = op.length
        assert differs(hm, name, alt), name
    if not stream:  # count_pad=False divides by the window positions inside the image
        op = g.node("ap1").op
        alt = PoolOp(op.op, op.in_hw, op.pool, op.stride, op.pad, True, op.out_shape, op.acc_t, op.res_t)
        assert differs(hm, "ap1", alt)
    print("pool2d", io_type, "values compared:", sum(counts.values()), counts)


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_pool1d(tmp_path, monkeypatch, io_type):
    stream = io_type == "io_stream"
    model = (Pool1dStream() if stream else Pool1d()).eval()
    layers = dict(LAYERS1D)
    if not stream:  # resize_nearest reads and writes one type: the type of ap2
        layers["up"] = layers["ap2"]
    hm = _convert(monkeypatch, model, (3, 16), tmp_path / "prj", io_type, layers, {"g": "GlobalMaxPooling1D"})
    kinds = _kinds(hm)
    assert kinds["g"] == "GlobalPooling1D" and kinds["zp"] == "ZeroPadding1D"
    x = inputs((3, 16), 400, scale=1.5).reshape(400, -1)
    out, counts = check_traced(hm, x)
    nontrivial(out, 6)
    assert {"mp", "ap2", "up", "zp", "g"} <= set(counts), counts
    print("pool1d", io_type, "values compared:", sum(counts.values()), counts)
