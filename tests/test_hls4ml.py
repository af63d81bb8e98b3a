"""fx.hls4ml.emulate equals hls4ml's own C-simulation (hls_model.predict) bit for bit.

Each test converts a PyTorch MLP with hls4ml, compiles its C-simulation (g++, a few seconds)
and compares every output's float32 bits. Skipped with a reason when hls4ml, torch or g++
is missing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

hls4ml = pytest.importorskip("hls4ml", reason="hls4ml is not installed (pip install -e '.[hls4ml]')")
torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[torch]' -c .ci/constraints.txt)")
if shutil.which("g++") is None:  # pragma: no cover - g++ is on every machine kind here
    pytest.skip("g++ is needed to compile hls4ml's C-simulation", allow_module_level=True)

import fixedpoint as fx  # noqa: E402


def _convert(model, tmp_path, default="fixed<16,6>", layers=None, strategy=None):
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(model_in(model),), granularity="name",
                                                 default_precision=default)
    for name, prec in (layers or {}).items():
        cfg["LayerName"][name]["Precision"].update(prec)
    if strategy:
        cfg["Model"]["Strategy"] = strategy
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                      backend="Vivado", io_type="io_parallel")
    hm.compile()
    return hm


def model_in(model):
    first = next(m for m in model if hasattr(m, "in_features") or hasattr(m, "num_features"))
    return getattr(first, "in_features", getattr(first, "num_features", None))


def _inputs(n_in, n=1500, scale=2.0):
    rng = np.random.default_rng(7)
    x = rng.normal(0, scale, (n, n_in)).astype(np.float32)
    x[:8] = np.float32(0.0)
    x[8:16] = rng.integers(-40, 40, (8, n_in)).astype(np.float32)  # beyond the input range: wraps
    return x


def _assert_bits_equal(got, want):
    assert got.dtype == want.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_emulate_default_precision(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    hm = _convert(model, tmp_path)
    x = _inputs(8)
    _assert_bits_equal(fx.hls4ml.emulate(hm, x), hm.predict(x))
    _assert_bits_equal(fx.hls4ml.emulate(hm, x[:1]), hm.predict(x[:1]))  # one sample: a 1-d result
    x64 = x[:200].astype(np.float64)
    got, want = fx.hls4ml.emulate(hm, x64), hm.predict(x64)  # the double bridge
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def test_emulate_narrow_saturating_and_wrapping_accumulators(tmp_path):
    """Narrow accumulators: SAT/RND (order matters) in the first layer, a wrapping one in the
    last, rounding weights and a saturating RND_CONV result."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    layers = {
        "_0": {"accum": "fixed<10,4,RND,SAT>", "result": "fixed<8,3,RND_CONV,SAT>", "weight": "fixed<6,1,RND>"},
        "_2": {"accum": "fixed<12,3>"},
    }
    hm = _convert(model, tmp_path, layers=layers)
    x = _inputs(8)
    got = fx.hls4ml.emulate(hm, x)
    _assert_bits_equal(got, hm.predict(x))
    # The accumulators really matter here: exact sums cast once at the end differ.
    formats = fx.hls4ml.layer_formats(hm)
    assert formats["_0"]["accum_t"] == fx.Fixed(10, 4, q="RND", o="SAT")
    w0 = fx.array(np.asarray(hm.graph["_0"].weights["weight"].data, dtype=np.float64), formats["_0"]["weight_t"])
    xin = fx.array(x, formats["input_1"]["result_t"])
    exact_first = (xin @ w0).cast(formats["_0"]["accum_t"])
    accurate_first = fx.matmul(xin, w0, accum=formats["_0"]["accum_t"])
    assert (exact_first.raw != accurate_first.raw).any()


def test_emulate_unsigned_relu_and_auto_types(tmp_path):
    """An unsigned (ufixed) ReLU result that rounds and saturates, and 'auto' accumulator and
    result types that hls4ml infers from the operand types."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    layers = {
        "_0": {"accum": "auto", "result": "auto", "weight": "fixed<8,2,RND>"},
        "_1": {"result": "ufixed<7,2,RND,SAT>"},
        "_2": {"accum": "auto", "result": "auto"},
    }
    hm = _convert(model, tmp_path, default="fixed<12,4>", layers=layers)
    formats = fx.hls4ml.layer_formats(hm)
    relu_t = formats["_1"]["result_t"]
    assert relu_t == fx.Fixed(7, 2, signed=False, q="RND", o="SAT")
    # 'auto' was resolved to something wider than the default: the full-precision sum
    assert formats["_0"]["accum_t"].w > 12 and formats["_0"]["result_t"].w > 12
    x = _inputs(8)
    got = fx.hls4ml.emulate(hm, x)
    _assert_bits_equal(got, hm.predict(x))
    # the inputs exercise both ends of the unsigned ReLU type: negatives (-> 0) and values above
    # its top, 4 - 2^-5, which saturate (the float model's pre-activations, from torch)
    with torch.no_grad():
        pre = model[0](torch.from_numpy(x)).numpy()
    assert relu_t.max == 4 - 2**-5 and (pre > 4).any() and (pre < 0).any()


def test_emulate_batchnorm_standalone_and_merged(tmp_path):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model.train()
    for _ in range(5):
        model(torch.randn(64, 8) * 3)
    model.eval()
    hm = _convert(model, tmp_path, default="fixed<14,5,RND,SAT>")
    kinds = [layer.class_name for layer in hm.get_layers()]
    assert "BatchNormalization" in kinds  # the first BN stays a layer; the second merges into Dense
    x = _inputs(8)
    _assert_bits_equal(fx.hls4ml.emulate(hm, x), hm.predict(x))


def test_emulate_resource_strategy_with_wrapping_accumulator(tmp_path):
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    hm = _convert(model, tmp_path, strategy="Resource")
    x = _inputs(8)
    _assert_bits_equal(fx.hls4ml.emulate(hm, x), hm.predict(x))


class _FakeLayer:
    def __init__(self, name, class_name, inputs=(), shape=()):
        self.name, self.class_name, self.attributes, self.weights = name, class_name, {}, {}
        self.inputs, self.outputs, self.shape = list(inputs), [name], shape

    def get_attr(self, key, default=None):
        return self.attributes.get(key, default)

    def get_output_variable(self):
        return self


class _FakeModel:
    def __init__(self, layers):
        self._layers = layers

    def get_layers(self):
        return self._layers


def test_emulate_names_unsupported_layers():
    model = _FakeModel([_FakeLayer("input_1", "Input"), _FakeLayer("rnn", "LSTM"), _FakeLayer("g", "GarNet")])
    with pytest.raises(NotImplementedError, match=r"layers not emulated: rnn \(LSTM\), g \(GarNet\)"):
        fx.hls4ml.emulate(model, np.zeros((1, 4), np.float32))


class FixedPrecisionType:  # the name is what the emulator reads, as for hls4ml's own type
    def __init__(self, width, integer, signed=True):
        self.width, self.integer, self.signed = width, integer, signed
        self.rounding_mode, self.saturation_mode, self.saturation_bits = "TRN", "WRAP", 0

    def __repr__(self):
        return f"fixed<{self.width},{self.integer}>"


class _Var:
    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float32)


def test_emulate_cached_plan_follows_changed_weights_and_types():
    """The prepared plan (quantized weights) is reused per model only while its weights and
    types are unchanged: edit them and the next call sees the edit."""
    inp = _FakeLayer("input_1", "Input", shape=(2,))
    inp.attributes["result_t"] = FixedPrecisionType(16, 6)
    dense = _FakeLayer("fc", "Dense", ["input_1"], shape=(1,))
    for key in ("weight_t", "bias_t", "accum_t", "result_t"):
        dense.attributes[key] = FixedPrecisionType(16, 6)
    dense.attributes.update(n_in=2, n_out=1, strategy="latency")
    dense.weights = {"weight": _Var([[1.0], [2.0]]), "bias": _Var([0.5])}
    model = _FakeModel([inp, dense])
    x = np.array([[1.0, 1.0], [2.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(fx.hls4ml.emulate(model, x), np.array([[3.5], [0.5]], np.float32))
    dense.weights["weight"].data[:] = [[3.0], [4.0]]  # in place: same array object, new contents
    np.testing.assert_array_equal(fx.hls4ml.emulate(model, x), np.array([[7.5], [2.5]], np.float32))
    dense.attributes["result_t"] = FixedPrecisionType(4, 3)  # range [-4, 3.5]: 7.5 wraps to -0.5
    np.testing.assert_array_equal(fx.hls4ml.emulate(model, x), np.array([[-0.5], [2.5]], np.float32))



class _TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.act = torch.nn.Linear(8, 6), torch.nn.ReLU()
        self.a, self.b = torch.nn.Linear(6, 6), torch.nn.Linear(6, 2)

    def forward(self, x):
        h = self.act(self.fc(x))
        return self.a(h), self.b(h)


def test_emulate_two_output_model_returns_both_outputs(tmp_path):
    """Regression: a model with two heads on one hidden layer was run as a chain (head b applied
    to head a's output), returning one array of the wrong shape without an error. Now both
    outputs come back, as predict returns them, bit for bit."""
    from _hls4ml import check, convert, inputs, nontrivial

    torch.manual_seed(4)
    hm = convert(_TwoHeads(), (8,), tmp_path / "prj")
    x = inputs((8,), n=400)
    got = check(hm, x)
    assert [g.shape for g in got] == [(400, 6), (400, 2)]
    nontrivial(got)
    check(hm, x[:1])  # one sample: a list of two 1-d rows
