"""Graph structure against hls4ml's C-simulation: several inputs and outputs, branches that
re-join, Concatenate of two branches, Flatten/Reshape, the Transpose layers of hls4ml's
channels-last conversion, io_stream's Clone and Repack layers, Dense in io_stream, and the
Dense Resource strategy's addition orders with a saturating accumulator.
"""

from __future__ import annotations

import numpy as np
import pytest

from _hls4ml import check, compile_cached, config, hls4ml, inputs, nontrivial, torch

import fixedpoint as fx
from fixedpoint.nn._raw import quantize_input
from fixedpoint.nn.dense import DenseOp


def _write_convert(model, input_shape, out_dir, layers, io_type="io_parallel"):
    """Convert without compiling. The weights are compiled in from the headers
    (WriteWeightsTxt off): a C-simulation that reads them from text files at run time holds the
    absolute path of the project it was built in, which a cached library must not depend on."""
    cfg = config(model.eval(), input_shape, layers=layers)
    return hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(out_dir),
                                                        backend="Vivado", io_type=io_type,
                                                        write_weights_txt=False)


def convert(model, input_shape, out_dir, *, io_type="io_parallel", layers=None):
    return compile_cached(_write_convert(model, input_shape, out_dir, layers or {}, io_type=io_type))


class _Graph(torch.nn.Module):
    """Three inputs, three outputs: a residual block, a Concatenate of two branches, a 2-d
    input (channels-last Transposes) flattened into a Dense, and a Reshape as an output."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8)
        self.head_a, self.head_b = torch.nn.Linear(8, 4), torch.nn.Linear(12, 3)
        self.act_p, self.flat, self.fc_p = torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 4)

    def forward(self, x, y, p):
        h = self.act(self.fc1(x))
        r = h + self.fc2(h)  # a branch that re-joins its input
        z = torch.cat((r, y), dim=-1)
        w = self.fc_p(self.flat(self.act_p(p)))  # a (2, 4) input: transposed to channels last and back
        return self.head_a(r), self.head_b(z), w.view(-1, 2, 2)


_GRAPH_TYPES = {
    "fc1": {"accum": "fixed<12,5,RND,SAT>", "result": "fixed<10,4,RND,SAT>"},
    "add": {"result": "fixed<9,4,RND,SAT>"},
    "cat": {"result": "fixed<9,4,RND_CONV,SAT>"},
    "act_p": {"result": "ufixed<8,3,RND,SAT>"},
    "head_b": {"result": "fixed<10,3,RND,SAT>"},
}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_graph_several_inputs_and_outputs(tmp_path, io_type):
    torch.manual_seed(11)
    hm = convert(_Graph(), [(8,), (4,), (2, 4)], tmp_path / "prj", io_type=io_type, layers=_GRAPH_TYPES)
    kinds = [lay.class_name for lay in hm.get_layers()]
    # p's channels-last Transpose, and in io_stream the one hls4ml keeps before the flatten
    assert kinds.count("Transpose") == (2 if io_type == "io_stream" else 1)
    if io_type == "io_stream":
        assert "Clone" in kinds and "Repack" in kinds  # h and r are read twice; the reshaped output
    n = 400
    xs = [inputs(s, n=n, seed=20 + k) for k, s in enumerate([(8,), (4,), (2, 4)])]
    got = check(hm, xs)
    assert [g.shape for g in got] == [(n, 4), (n, 3), (n, 4)]
    nontrivial(got)
    one = check(hm, [x[9:10] for x in xs])  # one sample: a list of 1-d rows
    assert [o.shape for o in one] == [(4,), (3,), (4,)]
    check(hm, [x[:40].astype(np.float64) for x in xs])


class _Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_dense_mlp_io_stream(tmp_path):
    """Dense + ReLU in io_stream; the second Dense with the Resource strategy (reuse 4) and a
    saturating accumulator."""
    torch.manual_seed(5)
    layers = {
        "fc1": {"Precision": {"accum": "fixed<14,6,RND,SAT>", "result": "fixed<10,5,RND,SAT>",
                              "weight": "fixed<8,2,RND>"}},
        "act": {"Precision": {"result": "ufixed<8,4,RND,SAT>"}},
        "fc2": {"Precision": {"accum": "fixed<10,4,RND,SAT>", "result": "fixed<9,3,RND_CONV,SAT>"},
                "Strategy": "Resource", "ReuseFactor": 4},
    }
    hm = convert(_Mlp(), (10,), tmp_path / "prj", io_type="io_stream", layers=layers)
    assert hm.graph["fc2"].get_attr("strategy") == "resource"
    x = inputs((10,), n=500)
    got = check(hm, x)
    nontrivial(got)
    check(hm, x[9:10])


class _Chain(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.fcs = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.act = torch.nn.ReLU()

    def forward(self, x):
        for k, fc in enumerate(self.fcs):
            x = fc(x)
            if k < len(self.fcs) - 1:
                x = self.act(x)
        return x




def test_dense_resource_orders_with_saturating_accumulator(tmp_path):
    """The Resource kernels with an accum fixed<10,4,RND,SAT>: DenseResource_rf_leq_nin (reuse
    4 on n_in 8, reuse 2 on n_in 4) and DenseResource_rf_gt_nin_rem0 (reuse 12 on n_in 6),
    bit-exact; the order matters for the first kind (the Latency order on the same weights and
    inputs gives different outputs); the second adds each output's inputs in ascending order,
    the Latency order (the op keeps no order for it). hls4ml 1.3 never instantiates the third
    loop (dense_resource_rf_gt_nin): it accepts no reuse factor above n_in that n_in does not
    divide (a reuse factor of 6 on n_in 4 becomes 4), and its config picks one of the two
    kernels by rf <= n_in."""
    torch.manual_seed(8)
    model = _Chain([8, 6, 4, 3])
    with torch.no_grad():
        for fc in model.fcs:
            fc.weight.mul_(3.0)  # partial sums leave the accumulator's range and come back
        model.fcs[1].bias.fill_(2.0)  # its ReLU outputs are rarely zero
        # reuse 2 on n_in 4: output 0 receives inputs 0, 2, 1, 3; signs that saturate both ways
        model.fcs[2].weight[0] = torch.tensor([3.0, 2.5, -3.0, -2.5])
    acc = "fixed<10,4,RND,SAT>"
    rfs = {"fcs_0": 4, "fcs_1": 12, "fcs_2": 2}
    layers = {name: {"Precision": {"accum": acc, "result": "fixed<12,5,RND,SAT>"}, "Strategy": "Resource",
                     "ReuseFactor": rf} for name, rf in rfs.items()}
    hm = convert(model, (8,), tmp_path / "prj", layers=layers)
    dense = [lay for lay in hm.get_layers() if lay.class_name == "Dense"]
    assert [(d.get_attr("n_in"), d.get_attr("reuse_factor"), d.get_attr("strategy")) for d in dense] == [
        (8, 4, "resource"), (6, 12, "resource"), (4, 2, "resource")]
    kernels = ["DenseResource_rf_leq_nin", "DenseResource_rf_gt_nin_rem0", "DenseResource_rf_leq_nin"]
    assert all(f"nnet::{k}<" in str(d.get_attr("config_cpp")) for d, k in zip(dense, kernels))
    hm6 = _write_convert(_Chain([4, 3]), (4,), tmp_path / "prj6",
                         {"fcs_0": {"Strategy": "Resource", "ReuseFactor": 6}})
    assert hm6.graph["fcs_0"].get_attr("reuse_factor") == 4
    x = inputs((8,), n=500, scale=3.0)
    got = check(hm, x)
    nontrivial(got)
    # the order matters: each layer, replayed in the Latency order on its own inputs, differs
    graph = fx.hls4ml.to_graph(hm)
    (name, shape, fmt), = graph.inputs
    values = graph.run_raw([quantize_input(x.reshape((-1,) + shape), fmt)], keep=True)
    assert graph.node("fcs_1").op.order is None
    for d in (dense[0], dense[2]):
        node = graph.node(d.name)
        op = node.op
        assert op.order is not None, d.name
        x_raw, x_fmt = values[node.inputs[0]]
        latency = DenseOp(op.w, op.w_fmt, op.b_acc, op.acc_t, op.acc_t, op.res_t)
        ordered = values[node.outputs[0]][0]
        assert (latency(x_raw, x_fmt)[0] != ordered).any(), f"{d.name}: the order changes nothing here"


def test_dense_resource_unrolled(tmp_path):
    """Strategy resource_unrolled (hls4ml 1.3 generates a dense_resource_unrolled function):
    bit-exact with a wrapping accumulator; a saturating one (order-dependent) takes the order of
    the generated code (compiled and compared in test_nn_sepconv.py); a layer whose generated
    code is missing is refused by name."""
    torch.manual_seed(9)
    model = _Chain([8, 6, 3])
    layers = {"fcs_0": {"Strategy": "resource_unrolled", "ReuseFactor": 4,
                        "Precision": {"accum": "fixed<12,5>", "result": "fixed<10,4,RND,SAT>"}}}
    hm = compile_cached(_write_convert(model, (8,), tmp_path / "prj", layers))
    assert hm.graph["fcs_0"].get_attr("strategy") == "resource_unrolled"
    x = inputs((8,), n=400)
    nontrivial(check(hm, x))
    layers["fcs_0"]["Precision"]["accum"] = "fixed<10,4,RND,SAT>"
    hm_sat = _write_convert(model, (8,), tmp_path / "prj_sat", layers)
    assert fx.hls4ml.to_graph(hm_sat).node("fcs_0").op.order is not None
    hm_sat.graph["fcs_0"].attributes.pop("resource_unrolled_dense_codegen")
    with pytest.raises(NotImplementedError, match=r"fcs_0.*resource_unrolled.*generated kernel"):
        fx.hls4ml.emulate(hm_sat, x)


class _Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 3, batch_first=True)

    def forward(self, x):
        out, _ = self.lstm(x)
        return out


def test_unsupported_layer_is_named(tmp_path):
    hm = _write_convert(_Lstm(), (5, 4), tmp_path / "prj", {})
    assert "LSTM" in [lay.class_name for lay in hm.get_layers()]
    with pytest.raises(NotImplementedError, match=r"layers not emulated: lstm \(LSTM\)"):
        fx.hls4ml.emulate(hm, np.zeros((2, 5, 4), np.float32))
