"""Softmax (fixedpoint/nn/softmax.py) against hls4ml's compiled C-simulation, bit for bit.

One model per io type: two Dense layers, each read by several Softmax heads with their own
implementation (latency, stable, legacy, argmax), table sizes, table types, accumulator and
result types; one compile checks them all. The layer keys that set the types are
``exp_table_t``/``inv_table_t``/``inv_inp_t``/``table_t`` (hls4ml 1.3 ignores them inside
``Precision``; ``Precision: {"accum": ..}`` works). ``exp_scale`` and ``n_outer``/``n_inner``
(multi-dimensional softmax) are set by editing the converter's layer dictionaries, as a Keras
or ONNX converter would set them.

Quirks of the templates that the tests pin (each with a check that the other reading gives
other outputs): legacy softmax reads ``table_t`` from ``nnet::activ_config`` (ap_fixed<18,8>,
whatever the layer's table_t), and in io_stream also ``table_size`` (1024, whatever TableSize);
io_stream ignores n_outer/n_inner (one softmax per pack); hls4ml shrinks the table size to the
input width (FixSoftmaxTableSize) and the stable exp table to ``2^(w-1)``.

The exp and invert tables are checked entry for entry against ``init_exp_table``,
``init_invert_table`` and the legacy ones, compiled from the hls4ml headers.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _hls4ml import convert, inputs, torch
from test_nn_activation import edit_layers  # noqa: F401 - the fixture, for this module's tests
from test_nn_activation import Heads, _load_table_harness, config_cpp, cpp, differs, node_op, run

from fixedpoint import Fixed
from fixedpoint.nn import softmax as sm

nn = torch.nn


def test_softmax_tables_equal_the_header_tables():
    """exp tables (signed and unsigned index types, exp_scale, the stable ``exp(-x)``), invert
    tables (division by zero at index 0, negative halves) and the legacy tables."""
    h = _load_table_harness()
    cases = []
    for d, n, e, scale, neg in [
            (Fixed(16, 6), 1024, Fixed(18, 8, q="RND", o="SAT"), 1.0, False),
            (Fixed(15, 5, signed=False), 1024, Fixed(18, 8, q="RND", o="SAT"), 1.0, True),
            (Fixed(12, 4), 256, Fixed(18, 0, signed=False, q="RND", o="SAT"), 1.0, False),
            (Fixed(10, 3, signed=False), 512, Fixed(18, 0, signed=False, q="RND", o="SAT"), 0.75, True),
            (Fixed(20, 8), 2048, Fixed(24, 10), 1.0, False), (Fixed(8, 3), 256, Fixed(16, 6, q="RND"), 0.5, False)]:
        cases.append((("exp", cpp(d), n, cpp(e), scale, neg), sm.exp_table(d, n, e, scale, neg)))
    for it, n, vt in [(Fixed(18, 8, q="RND", o="SAT"), 1024, Fixed(18, 8, q="RND", o="SAT")),
                      (Fixed(18, 0, signed=False), 256, Fixed(18, 8)),
                      (Fixed(12, 4, signed=False), 2048, Fixed(16, 6, q="RND", o="SAT")),
                      (Fixed(16, 6), 512, Fixed(24, 10, o="SAT")), (Fixed(14, 6, signed=False), 64, Fixed(18, 0))]:
        cases.append((("inv", cpp(it), n, cpp(vt)), sm.invert_table(it, n, vt)))
    for n, t in [(1024, Fixed(18, 8)), (256, Fixed(12, 6, q="RND", o="SAT")), (512, Fixed(16, 4))]:
        cases.append((("exp_legacy", n, cpp(t)), sm.exp_table_legacy(n, t)))
        cases.append((("inv_legacy", n, cpp(t)), sm.invert_table_legacy(n, t)))
    tables = h.tables([c[0] for c in cases])
    for (spec, got), want in zip(cases, tables):
        np.testing.assert_array_equal(got, np.array(want, dtype=np.int64), err_msg=str(spec))
    assert sum(len(t) for t in tables) == sum(c[0][2] if c[0][0] in ("exp", "inv") else c[0][1] for c in cases)


def test_unsupported_table_size_raises():
    """A table size that is not a power of 2 makes the firmware read past its tables."""

    class View:
        api, name, class_name, io_type = "fx.hls4ml.emulate", "s", "Softmax", "io_parallel"
        in_shapes, out_shape = [(6,)], (6,)

        def __init__(self, cfg):
            self.cfg = cfg

        def fmt(self, key):
            return Fixed(16, 6)

        def function(self):
            return "softmax"

        def attr(self, key, default=None):
            return {"config_cpp": self.cfg}.get(key, default)

        def unsupported(self, setting):
            raise NotImplementedError(f"{self.api}: layer {self.name!r}: {setting} is not emulated")

    cfg = ("static const unsigned n_in = 6; static const unsigned n_slice = 6; static const unsigned "
           "exp_table_size = 1000; static const unsigned inv_table_size = 1000; "
           "nnet::softmax_implementation::latency; typedef ap_fixed<18,8> exp_table_t; "
           "typedef ap_fixed<18,8> inv_table_t; typedef ap_fixed<18,8> accum_t; typedef ap_fixed<18,8> inv_inp_t;")
    with pytest.raises(NotImplementedError, match="1000"):
        sm._from_hls4ml(View(cfg))
    with pytest.raises(NotImplementedError, match="implementation"):
        sm._from_hls4ml(View(cfg.replace("::latency", "::fancy")))


RND_SAT = "RND,SAT"
HEADS1 = {  # on fc1: 6 values in fixed<12,4,RND,SAT>
    "lat": {"Implementation": "latency"},
    "st": {"Implementation": "stable"},
    "leg": {"Implementation": "legacy"},
    "arg": {"Implementation": "argmax", "Precision": {"result": "ufixed<2,1>"}},
    "lat2": {"Implementation": "latency", "TableSize": 256, "Precision": {"result": f"fixed<10,1,{RND_SAT}>",
                                                                        "accum": "ufixed<16,6>"},
             "exp_table_t": f"fixed<16,6,{RND_SAT}>", "inv_table_t": f"ufixed<18,0,{RND_SAT}>",
             "inv_inp_t": f"ufixed<14,6,{RND_SAT}>"},
    "st2": {"Implementation": "stable", "TableSize": 2048, "Precision": {"result": f"ufixed<10,0,{RND_SAT}>"},
            "exp_table_t": f"ufixed<18,0,{RND_SAT}>", "inv_table_t": f"fixed<18,4,{RND_SAT}>"},
    "leg2": {"Implementation": "legacy", "TableSize": 512, "Precision": {"result": f"fixed<8,1,{RND_SAT}>"},
             "table_t": "fixed<12,4>"},
}
# on fc2: 6 values in fixed<8,3,RND,SAT>; the table size is 256 (2^8): with more, latency would slice
# bits below the input's LSB (undefined; io_parallel's FixSoftmaxTableSize would shrink it, but in
# io_stream it does not look through the Clone in front of each head)
HEADS2 = {
    "st3": {"TableSize": 256, "Implementation": "stable",
            "Precision": {"result": "ufixed<8,0>", "accum": f"ufixed<12,3,{RND_SAT}>"},
            "exp_table_t": f"ufixed<10,0,{RND_SAT}>", "inv_table_t": f"ufixed<12,4,{RND_SAT}>"},
    "lat3": {"TableSize": 256, "Implementation": "latency", "Precision": {"result": f"fixed<9,0,{RND_SAT}>"}},
    "sc": {"TableSize": 256, "Implementation": "stable", "Precision": {"result": f"ufixed<9,0,{RND_SAT}>"}},
    "md1": {"TableSize": 256, "Implementation": "latency"},
    "md2": {"TableSize": 256, "Implementation": "stable", "Precision": {"result": f"ufixed<9,0,{RND_SAT}>"}},
}
EDITS = {"sc": {"exp_scale": 0.5}, "md1": {"n_outer": 2}, "md2": {"n_inner": 2}}


def _alt(hm, name, **changes):
    op = copy.copy(node_op(hm, name))
    for k, v in changes.items():
        setattr(op, k, v)
    op._tables = {}
    return op


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_softmax_implementations(tmp_path, edit_layers, io_type):
    """Every implementation with default and custom tables, table sizes 256/512/1024/2048,
    RND/SAT, unsigned and narrow results, an accumulator of its own, exp_scale 0.5, and the
    multi-dimensional layouts (io_parallel: softmax_multidim over n_outer/n_inner slices)."""
    edit_layers.update(EDITS)
    torch.manual_seed(2)
    model = Heads({k: nn.Softmax(dim=-1) for k in HEADS1}, {k: nn.Softmax(dim=-1) for k in HEADS2}, n1=6, n2=6,
                  scale1=4.0, scale2=3.0)
    layers = {"fc1": {"Precision": {"result": f"fixed<12,4,{RND_SAT}>"}},
              "fc2": {"Precision": {"result": f"fixed<8,3,{RND_SAT}>"}}, **HEADS1, **HEADS2}
    hm = convert(model, (8,), tmp_path / "prj", io_type=io_type, layers=layers)
    stream = io_type == "io_stream"
    x = inputs((8,), n=400, scale=1.5)
    want, n = run(hm, model.names, x, {"arg": 2})
    assert n == 400 * 6 * len(model.names)

    # the configuration reached the firmware as the emulator reads it
    assert node_op(hm, "lat2").exp_t == Fixed(16, 6, q="RND", o="SAT")
    assert node_op(hm, "st3").accum_t == Fixed(12, 3, signed=False, q="RND", o="SAT")
    assert node_op(hm, "lat3").exp_size == 256 and node_op(hm, "st3").exp_size == 128  # 2^(8-1)
    assert "exp_scale = 0.5" in config_cpp(hm, "sc")
    assert node_op(hm, "md1").layout == (("last",) if stream else ("flat", 2, 3, 1))
    assert node_op(hm, "md2").layout == (("last",) if stream else ("flat", 1, 3, 2))

    names = model.names
    # legacy: the layer's table_t (fixed<12,4>) is not what the firmware uses
    differs(hm, x, names, "leg2", _alt(hm, "leg2", table_t=Fixed(12, 4)), want)
    if stream:  # ... and io_stream uses activ_config's table_size 1024, not the configured 512
        assert node_op(hm, "leg2").legacy_sizes == (1024, 1024)
        differs(hm, x, names, "leg2", _alt(hm, "leg2", legacy_sizes=(512, 512)), want)
    else:
        assert node_op(hm, "leg2").legacy_sizes == (512, 512)
        differs(hm, x, names, "leg2", _alt(hm, "leg2", legacy_sizes=(1024, 1024)), want)
        differs(hm, x, names, "md1", _alt(hm, "md1", layout=("flat", 1, 6, 1)), want)
        differs(hm, x, names, "md2", _alt(hm, "md2", layout=("flat", 2, 3, 1)), want)
    differs(hm, x, names, "lat2", _alt(hm, "lat2", exp_size=1024, inv_size=1024), want)
    differs(hm, x, names, "st2", _alt(hm, "st2", exp_t=Fixed(18, 8, q="RND", o="SAT")), want)
    differs(hm, x, names, "sc", _alt(hm, "sc", exp_scale=1.0), want)
    differs(hm, x, names, "st3", _alt(hm, "st3", accum_t=Fixed(16, 6)), want)


def test_softmax_after_activations_io_stream(tmp_path):
    """A chain Linear -> Sigmoid -> Linear -> LeakyReLU -> Linear -> Softmax (stable) in
    io_stream: each stage feeds the next, and the output is compared."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(8, 10), nn.Sigmoid(), nn.Linear(10, 10), nn.LeakyReLU(0.2), nn.Linear(10, 6),
                          nn.Softmax(dim=-1))
    with torch.no_grad():
        model[2].weight.mul_(3)
        model[4].weight.mul_(4)
    layers = {"_0": {"Precision": {"result": f"fixed<12,4,{RND_SAT}>"}},
              "_1": {"Precision": {"result": f"ufixed<9,0,{RND_SAT}>"}, "TableSize": 512},
              "_2": {"Precision": {"result": f"fixed<12,4,{RND_SAT}>"}},
              "_3": {"Precision": {"result": f"fixed<10,3,{RND_SAT}>"}},
              "_4": {"Precision": {"result": f"fixed<12,4,{RND_SAT}>"}},
              "_5": {"Implementation": "stable", "Precision": {"result": f"ufixed<10,0,{RND_SAT}>"}}}
    hm = convert(model, (8,), tmp_path / "prj", io_type="io_stream", layers=layers)
    want, n = run(hm, ["_5"], inputs((8,), n=400, scale=1.5), {"_5": 50})
    assert n == 400 * 6
