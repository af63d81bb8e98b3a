"""Activations (fixedpoint/nn/activation.py) against hls4ml's compiled C-simulation, bit for bit.

Each model is one Dense layer (or two) with many activation heads on its output, so one
compile checks every head directly (several outputs, compared as ``predict`` returns them).
Activations the PyTorch converter does not produce (softplus, softsign, selu, the two-argument
elu, hard_sigmoid/hard_tanh, binary/ternary tanh, relu6) are made by editing the converter's
layer list: a torch ``Sigmoid`` head becomes the layer dictionary the Keras converter would
produce (``{"class_name": "HardActivation", "activation": "hard_sigmoid"}``, ...), and hls4ml
generates and compiles its firmware as for any model.

The lookup tables are checked entry for entry against ``init_*_table`` itself, through a tiny
C++ program compiled against the hls4ml headers (tests/oracle_tables/harness.py). Where a
setting is under test, the test also shows that the emulator with the other setting gives a
different result, so the comparison can fail.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _hls4ml import assert_bits_equal, convert, inputs, torch

import fixedpoint as fx
from fixedpoint import Fixed
from fixedpoint.nn import activation as act
from fixedpoint.nn._raw import storage

nn = torch.nn


def _load_table_harness():
    name = "_fixedpoint_table_harness"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent / "oracle_tables" / "harness.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def cpp(f: Fixed) -> str:
    base = "ap_fixed" if f.signed else "ap_ufixed"
    return f"{base}<{f.w},{f.i},AP_{f.q.value},AP_{f.o.value},{f.n}>"


# ---------------------------------------------------------------------------------------------
# shared machinery (also used by test_nn_softmax.py)
class Heads(nn.Module):
    """``h1 = fc1(x)`` read by every module of ``heads1``, ``h2 = fc2(x)`` by ``heads2``; one
    output per head."""

    def __init__(self, heads1: dict, heads2: dict | None = None, n1=10, n2=6, scale1=3.0, scale2=4.0):
        super().__init__()
        self.fc1 = nn.Linear(8, n1)
        self.fc2 = nn.Linear(8, n2) if heads2 else None
        self.names1, self.names2 = list(heads1), list(heads2 or {})
        for name, mod in {**heads1, **(heads2 or {})}.items():
            setattr(self, name, mod)
        with torch.no_grad():
            self.fc1.weight.mul_(scale1)
            if self.fc2 is not None:
                self.fc2.weight.mul_(scale2)

    def forward(self, x):
        h1 = self.fc1(x)
        outs = [getattr(self, n)(h1) for n in self.names1]
        if self.fc2 is not None:
            h2 = self.fc2(x)
            outs += [getattr(self, n)(h2) for n in self.names2]
        return tuple(outs)

    @property
    def names(self):
        return self.names1 + self.names2


@pytest.fixture
def edit_layers(monkeypatch):
    """A dict ``{layer name: {key: value}}`` applied to the PyTorch converter's layer list."""
    mod = importlib.import_module("hls4ml.converters.pytorch_to_hls")
    orig = mod.parse_pytorch_model
    edits: dict = {}

    def parse(config, verbose=True):
        layer_list, ins, outs = orig(config, verbose)
        for layer in layer_list:
            layer.update(edits.get(layer["name"], {}))
        return layer_list, ins, outs

    monkeypatch.setattr(mod, "parse_pytorch_model", parse)
    return edits


def run(hm, names, x, min_distinct):
    """predict == emulate for every head; every head's output non-trivial. Returns predict's
    outputs by head name and the number of values compared."""
    want = hm.predict(x)
    got = fx.hls4ml.emulate(hm, x)
    assert_bits_equal(got, want)
    want = want if isinstance(want, list) else [want]
    for name, w in zip(names, want):
        assert len(np.unique(w)) >= min_distinct.get(name, 8), (name, np.unique(w))
    return dict(zip(names, want)), sum(w.size for w in want)


@contextlib.contextmanager
def swapped(hm, name, op):
    """The emulator with node ``name`` computing ``op`` instead."""
    node = fx.hls4ml.to_graph(hm).node(name)
    old, node.op = node.op, op
    try:
        yield
    finally:
        node.op = old


def differs(hm, x, names, name, op, want):
    """With ``op`` in place of the layer's own op, head ``name`` comes out different."""
    with swapped(hm, name, op):
        alt = fx.hls4ml.emulate(hm, x)
    alt = alt[names.index(name)]
    assert not np.array_equal(alt, want[name]), f"{name}: the alternative setting gives the same outputs"


def node_op(hm, name):
    return fx.hls4ml.to_graph(hm).node(name).op


def config_cpp(hm, name):
    return next(layer for layer in hm.get_layers() if layer.name == name).get_attr("config_cpp")


# ---------------------------------------------------------------------------------------------
def test_lut_tables_equal_the_header_tables():
    """Every entry of every table equals what ``init_<kind>_table`` stores, for several sizes
    (one not a power of 2) and table types (rounding, saturation, 32-bit)."""
    h = _load_table_harness()
    shapes = [(1024, Fixed(18, 8)), (256, Fixed(10, 4)), (2048, Fixed(16, 2, q="RND", o="SAT")),
              (1000, Fixed(24, 1, q="RND_CONV")), (4096, Fixed(32, 4, q="RND")), (512, Fixed(12, 0, signed=False))]
    kinds = ["sigmoid", "tanh", "softplus", "softsign", "elu", "selu"]
    specs = [("lut", k, n, cpp(t)) for k in kinds for n, t in shapes]
    tables = h.tables(specs)
    compared = 0
    for (_, kind, n, _), (size, t), want in zip(specs, [s for _ in kinds for s in shapes], tables):
        got = act.lut_table(kind, size, t)
        assert len(want) == n
        np.testing.assert_array_equal(got, np.array(want, dtype=np.int64), err_msg=f"{kind} {n} {t}")
        compared += n
    assert compared == sum(n for n, _ in shapes) * len(kinds)
    # the test tells float from double arithmetic: tanh(double) gives other entries here
    x = act._sym_arg(4096, 8.0).astype(np.float64)
    assert (act._quantize(act._vec("tanh", x), Fixed(32, 4, q="RND")) != act.lut_table("tanh", 4096,
                                                                                          Fixed(32, 4, q="RND"))).any()


def _ref_index(raw: int, f: int, size: int, span: int) -> int:
    """The C++ index of the sigmoid-style tables, from the exact value."""
    v = Fraction(raw) / Fraction(2) ** f
    q = v * size / span
    r = int(q)  # toward zero
    r = ((r + 2**31) & 0xFFFFFFFF) - 2**31
    idx = ((r + ((span // 2) * size) // span) + 2**31) % 2**32 - 2**31
    return min(max(idx, 0), size - 1)


@pytest.mark.parametrize("fmt,size", [(Fixed(16, 6), 1024), (Fixed(40, 20), 4096), (Fixed(63, 40), 1 << 20),
                                      (Fixed(60, 62), 512), (Fixed(20, -3), 1000), (Fixed(90, 50), 1024),
                                      (Fixed(12, 4, signed=False), 2048), (Fixed(64, 40), 4096)])
@pytest.mark.parametrize("span", [16, 8])
def test_lut_index_matches_the_c_arithmetic(fmt, size, span):
    """The index (ap_fixed product and division, operator int, the unsigned offset, the
    clamps) for narrow, wide (Python-int and limb-stored) and negative-fraction formats,
    including values whose int wraps past 32 bits."""
    rng = np.random.default_rng(size + fmt.w)
    lo, hi = fmt.raw_min, fmt.raw_max
    vals = [lo, hi, 0, 1, -1 if fmt.signed else 2] + [int(v) for v in rng.integers(0, 2**62, 300)]
    vals = [lo + (v % (hi - lo + 1)) for v in vals]
    small = [v >> max(0, fmt.w - 16) for v in vals]  # also values near the table's range
    vals = vals + [min(max(v, lo), hi) for v in small]
    raw = storage(fx.from_raw(np.array(vals, dtype=object), fmt))
    got = act.lut_index(raw, fmt, size, span)
    want = [_ref_index(v, fmt.f, size, span) for v in vals]
    np.testing.assert_array_equal(got, want)


def test_unsupported_activation_raises():
    """A TernaryTanh layer has no Vivado template (no call is generated); an unknown function
    is refused; both name the layer."""

    class View:
        api, name, class_name, io_type = "fx.hls4ml.emulate", "t", "TernaryTanh", "io_parallel"

        def __init__(self, fn, act_name):
            self.fn, self.act_name = fn, act_name

        def fmt(self, key):
            return Fixed(8, 3)

        def function(self):
            return self.fn

        def attr(self, key, default=None):
            return {"activation": self.act_name}.get(key, default)

        def unsupported(self, setting):
            raise NotImplementedError(f"{self.api}: layer {self.name!r}: {setting} is not emulated")

    with pytest.raises(NotImplementedError, match="ternary_tanh"):
        act._from_hls4ml(View(None, "ternary_tanh"))
    with pytest.raises(NotImplementedError, match="'t'.*swish"):
        act._from_hls4ml(View("swish", "swish"))


# ---------------------------------------------------------------------------------------------
TORCH_HEADS = ["sig", "tnh", "lrelu", "elu", "prelu", "thr", "relu"]


def _torch_heads(seed):
    torch.manual_seed(seed)
    prelu = nn.PReLU(10)
    with torch.no_grad():
        prelu.weight.uniform_(-0.5, 0.8)
    return Heads({"sig": nn.Sigmoid(), "tnh": nn.Tanh(), "lrelu": nn.LeakyReLU(0.1), "elu": nn.ELU(0.7),
                  "prelu": prelu, "thr": nn.Threshold(0.3, 0.0), "relu": nn.ReLU()}, scale1=1.5)


TORCH_LAYERS = {
    "fc1": {"Precision": {"result": "fixed<14,5,RND,SAT>"}},
    "sig": {"Precision": {"result": "ufixed<8,0,RND,SAT>"}, "table_t": "fixed<10,4>", "TableSize": 256},
    "tnh": {"Precision": {"result": "fixed<9,1,RND_CONV,SAT>"}, "table_t": "fixed<12,1,RND_CONV,SAT>",
            "TableSize": 2048},
    "lrelu": {"Precision": {"result": "fixed<10,3,RND,SAT>"}},
    "elu": {"Precision": {"result": "fixed<10,2>"}, "table_t": "fixed<12,2,RND>", "TableSize": 512},
    "prelu": {"Precision": {"result": "fixed<12,4,RND,SAT>", "param": "fixed<8,1,RND>"}},
    "thr": {"Precision": {"result": "fixed<8,3>"}},
    "relu": {"Precision": {"result": "ufixed<6,2,RND,SAT>"}},
}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_pytorch_activations(tmp_path, io_type):
    """Sigmoid (table_size 256, table_t fixed<10,4>), Tanh (2048, fixed<12,1,RND_CONV,SAT>), LeakyReLU (alpha 0.1 in its
    inferred param_t ufixed<8,-3>), ELU (alpha 0.7, table 512 in fixed<12,2,RND>), PReLU (one
    fixed<8,1,RND> alpha per element), Threshold (theta in the input type) and ReLU, with
    narrow RND/SAT and unsigned results.

    (The table type is the layer key ``table_t``: hls4ml 1.3 ignores ``Precision: {"table": ..}``.)"""
    model = _torch_heads(1)
    hm = convert(model, (8,), tmp_path / "prj", io_type=io_type, layers=TORCH_LAYERS)
    assert "table_size = 256" in config_cpp(hm, "sig")
    assert node_op(hm, "sig").table_t == Fixed(10, 4) and node_op(hm, "elu").table_t == Fixed(12, 2, q="RND")
    x = inputs((8,), n=400, scale=1.5)
    want, n = run(hm, model.names, x, {})
    assert n == 400 * 10 * len(TORCH_HEADS)
    # the settings under test change the result
    sig = node_op(hm, "sig")
    differs(hm, x, model.names, "sig", act.LutOp("sigmoid", 1024, Fixed(18, 8), sig.res_t), want)
    differs(hm, x, model.names, "sig", act.LutOp("sigmoid", 256, Fixed(18, 8), sig.res_t), want)
    tnh = node_op(hm, "tnh")
    differs(hm, x, model.names, "tnh", act.LutOp("tanh", 1024, tnh.table_t, tnh.res_t), want)
    lrelu = node_op(hm, "lrelu")
    assert lrelu.a_fmt == Fixed(8, -3, signed=False)  # hls4ml's constant type for 0.1
    exact = Fixed(40, 0)
    differs(hm, x, model.names, "lrelu", act.LeakyReluOp(np.array(act._const_raw(0.1, exact)), exact,
                                                         lrelu.res_t), want)
    elu = node_op(hm, "elu")
    differs(hm, x, model.names, "elu", act.EluOp(1024, elu.table_t, act._const_raw(0.7, Fixed(8, 0, signed=False)),
                                                 Fixed(8, 0, signed=False), elu.res_t), want)


NON_TORCH = {  # layer dictionaries as the Keras converter writes them
    "sp": {"activation": "softplus"}, "ss": {"activation": "softsign"}, "se": {"activation": "selu"},
    "el": {"class_name": "Activation", "activation": "elu"},
    "hs": {"class_name": "HardActivation", "activation": "hard_sigmoid"},
    "ht": {"class_name": "HardActivation", "activation": "hard_tanh", "slope": 0.5, "shift": 0.5},
    "tt": {"activation": "ternary_tanh"},
    "bt": {"activation": "binary_tanh"}, "r6": {"activation": "relu6"},
}
NON_TORCH_LAYERS = {
    "fc1": {"Precision": {"result": "fixed<14,5,RND,SAT>"}},
    "fc2": {"Precision": {"result": "fixed<12,4,RND,SAT>"}},
    "sp": {"Precision": {"result": "ufixed<10,4,RND,SAT>"}, "table_t": "ufixed<12,4,RND>", "TableSize": 512},
    "ss": {"Precision": {"result": "fixed<8,1,RND,SAT>"}},
    "se": {"Precision": {"result": "fixed<12,4,RND,SAT>"}, "table_t": "fixed<14,2,RND>", "TableSize": 2048},
    "el": {"Precision": {"result": "fixed<10,3>"}},
    "hs": {"Precision": {"result": "ufixed<8,1,RND,SAT>"}},
    "ht": {"Precision": {"result": "fixed<8,1,RND,SAT>"}},
    "tt": {"Precision": {"result": "fixed<4,2>"}},
    "bt": {"Precision": {"result": "fixed<4,2>"}},
    "r6": {"Precision": {"result": "ufixed<7,3,RND,SAT>"}},
}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_keras_style_activations(tmp_path, edit_layers, io_type):
    """softplus (table 512, ufixed<12,4,RND>), softsign, selu (2048, fixed<14,2,RND>; lambda
    ap_ufixed<16,1> in io_parallel, data_T in io_stream), elu without alpha, hard_sigmoid
    (slope 0.2, shift 0.5), hard_tanh (slope 0.5), ternary_tanh (2x then data_T in io_parallel,
    x itself in io_stream), binary_tanh and relu6 (io_parallel only)."""
    edit_layers.update(NON_TORCH)
    torch.manual_seed(3)
    first = ["sp", "ss", "se", "el", "ht", "tt", "bt"]  # io_stream clones a stream to at most 7 readers
    stream = io_type == "io_stream"
    second = ("hs",) if stream else ("hs", "r6")  # relu6 has no io_stream template (hls4ml cannot build it)
    model = Heads({k: nn.Sigmoid() for k in first}, {k: nn.Sigmoid() for k in second})
    hm = convert(model, (8,), tmp_path / "prj", io_type=io_type, layers=NON_TORCH_LAYERS)
    x = inputs((8,), n=400, scale=1.5)
    want, n = run(hm, model.names, x, {"tt": 3, "bt": 2})
    assert n == 400 * (10 * len(first) + 6 * len(second))
    se, tt = node_op(hm, "se"), node_op(hm, "tt")
    assert se.stream is stream and tt.stream is stream
    # the io types really differ here: the other variant gives other outputs
    differs(hm, x, model.names, "se", act.SeluOp(se.size, se.table_t, se.res_t, stream=not stream), want)
    differs(hm, x, model.names, "tt", act.TernaryTanhOp(tt.res_t, stream=not stream), want)
    sp = node_op(hm, "sp")
    differs(hm, x, model.names, "sp", act.LutOp("softplus", 1024, sp.table_t, sp.res_t), want)
