"""fx.scan on graph models (a PyTorch module or an hls4ml ModelGraph): the emitted config,
compiled by hls4ml, computes bit for bit what the scan emulated; unsigned types after ReLU and
softmax; lookup-table knobs; the same result from the torch module and from its ModelGraph."""

from __future__ import annotations

import numpy as np
import pytest

from _hls4ml import compile_cached, hls4ml, torch  # noqa: F401 - skips the module without hls4ml/torch/g++

import fixedpoint as fx


def _cnn(softmax_dim=1):
    torch.manual_seed(3)

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.r1, self.p1 = torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
            self.c2, self.r2 = torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU()
            self.p2, self.fl = torch.nn.MaxPool2d(3), torch.nn.Flatten()
            self.fc, self.sm = torch.nn.Linear(6, 10), torch.nn.Softmax(dim=softmax_dim)

        def forward(self, x):
            return self.sm(self.fc(self.fl(self.p2(self.r2(self.c2(self.p1(self.r1(self.c1(x)))))))))

    return CNN().eval()


def _mlp():
    torch.manual_seed(5)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 5), torch.nn.Softmax(dim=1)).eval()


def _labels(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()


@pytest.fixture(scope="module")
def cnn_case():
    model = _cnn()
    X = np.random.default_rng(11).normal(0, 1.0, (600, 1, 8, 8)).astype(np.float32)
    y = _labels(model, X)
    res = fx.scan(model, X, y, input_shape=(1, 8, 8), tolerance=0.02, progress=False)
    return model, X, y, res


@pytest.fixture(scope="module")
def mlp_case():
    model = _mlp()
    X = np.random.default_rng(12).normal(0, 1.5, (800, 16)).astype(np.float32)
    y = _labels(model, X)
    res = fx.scan(model, X, y, input_shape=(16,), tolerance=0.02, progress=False)
    return model, X, y, res


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype == np.float64 and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_array_equal(a.view(np.uint64), b.view(np.uint64))


def _channels_last(X):
    return np.ascontiguousarray(np.moveaxis(X, 1, -1)).astype(np.float64)


def test_cnn_config_compiles_to_the_scanned_bits(cnn_case, tmp_path):
    model, X, y, res = cnn_case
    cfg = res.to_hls4ml_config()
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                      backend="Vivado", io_type="io_parallel")
    hm = compile_cached(hm)
    Xc = _channels_last(X)
    want = hm.predict(Xc)
    _bits_equal(res.emulated[0], want)  # what the scan evaluated is what the firmware computes
    _bits_equal(fx.hls4ml.emulate(hm, Xc), want)
    assert len(np.unique(want)) > 20  # not a constant output
    # every type hls4ml resolved is the scan's: nothing left to 'auto'
    for layer in hm.get_layers():
        for key, fmt in res.config.get(layer.name, {}).items():
            if key.endswith("_t"):
                got = fx.hls4ml.layer_formats(hm)[layer.name][key]
                assert got == fmt, (layer.name, key, got, fmt)
    assert res.metric_fixed >= res.metric_float - 0.02
    acc = float(np.mean(np.argmax(want, axis=1) == y))
    assert acc == res.metric_fixed


def test_cnn_unsigned_after_relu_pool_and_softmax(cnn_case):
    _, _, _, res = cnn_case
    c = res.config
    for name in ("r1", "p1", "r2", "p2", "sm"):
        assert not c[name]["result_t"].signed, (name, c[name]["result_t"])
    for name in ("x", "c1", "c2", "fc"):
        assert c[name]["result_t"].signed, (name, c[name]["result_t"])
    # the softmax output holds 1.0 in ufixed<W,1>
    assert c["sm"]["result_t"].i == 1


def test_cnn_knobs_and_report(cnn_case, tmp_path):
    _, _, _, res = cnn_case
    labels = {k["knob"] for k in res.knobs}
    for want in ("x.result_t", "c1.weight_t", "c1.bias_t", "c1.result_t", "c2.weight_t", "fc.weight_t",
                 "sm.exp_table_t", "sm.inv_table_t", "sm.table_size", "sm.result_t"):
        assert want in labels, want
    assert res.config["sm"]["table_size"] <= 1024
    bops = res.bops()
    assert set(bops) == {"c1", "c2", "fc"} and all(v > 0 for v in bops.values())
    # a convolution counts its MACs per output pixel: 6x6 pixels x 4 filters x 9 products
    assert res.layers["c1"]["macs"] == 6 * 6 * 4 * 9 and res.layers["c1"]["k"] == 9
    text = res.table()
    assert "sm" in text and "ufixed" in text and "total BOPs" in text
    import json

    doc = json.loads(res.to_json())
    assert doc["formats"]["sm"]["table_size"] == res.config["sm"]["table_size"]
    assert doc["hls4ml_config"]["LayerName"]["c1"]["Precision"]["weight"] == res.config["c1"]["weight_t"].to_hls4ml()
    pytest.importorskip("matplotlib")
    res.plot(tmp_path / "scan.png")
    assert (tmp_path / "scan.png").stat().st_size > 1000


def test_mlp_softmax_apply_compiles_to_the_scanned_bits(mlp_case):
    model, X, y, res = mlp_case
    base = hls4ml.converters.convert_from_pytorch_model(
        model, hls_config=hls4ml.utils.config_from_pytorch_model(model, input_shape=(16,), granularity="name",
                                                                 default_precision="fixed<16,6>", backend="Vivado"),
        output_dir=str(__import__("tempfile").mkdtemp()), backend="Vivado", io_type="io_parallel")
    hm = compile_cached(fx.hls4ml.apply(base, res))
    want = hm.predict(X.astype(np.float64))
    _bits_equal(res.emulated[0], want)
    assert len(np.unique(want)) > 20
    assert res.metric_fixed >= res.metric_float - 0.02
    sm = next(name for name, info in res.layers.items() if info["kind"] == "Softmax")
    assert not res.config[sm]["result_t"].signed


def test_modelgraph_scan_equals_torch_scan(mlp_case, cnn_case):
    for model, X, y, res, shape in ((*mlp_case, (16,)), (*cnn_case, (1, 8, 8))):
        cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=shape, granularity="name",
                                                     default_precision="fixed<16,6>", backend="Vivado")
        hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(
            __import__("tempfile").mkdtemp()), backend="Vivado", io_type="io_parallel")
        Xh = _channels_last(X) if X.ndim == 4 else X
        res2 = fx.scan(hm, Xh, y, tolerance=0.02, progress=False)
        assert res2.config == res.config
        _bits_equal(res2.emulated[0], res.emulated[0])


def test_tighter_tolerance_never_gives_a_cheaper_design(mlp_case):
    model, X, y, _ = mlp_case
    bops = []
    for tol in (0.1, 0.05, 0.03, 0.02, 0.01):
        r = fx.scan(model, X, y, input_shape=(16,), tolerance=tol, progress=False)
        bops.append(sum(r.bops().values()))
        assert r.metric_fixed >= r.metric_float - tol
    assert bops == sorted(bops), bops


def test_global_mode_and_keywords(mlp_case):
    model, X, y, res = mlp_case
    assert res.mode == "global" and res.steps[0]["knob"] == "all knobs"  # the default
    g = fx.scan(model, X, y, input_shape=(16,), tolerance=0.02, mode="layer", progress=False)
    assert g.mode == "layer" and g.steps[0]["knob"] != "all knobs"
    assert g.metric_fixed >= g.metric_float - 0.02
    sat = fx.scan(model, X, y, input_shape=(16,), tolerance=0.02, result_overflow="SAT", accum_width=20,
                  unsigned=False, tables=False, progress=False)
    assert all(c["result_t"].o.value == "SAT" for name, c in sat.config.items()
               if name not in sat.input_layers and "result_t" in c)
    assert all(c["accum_t"].w <= 20 for c in sat.config.values() if "accum_t" in c and "weight_t" in c)
    assert all(c["result_t"].signed for c in sat.config.values() if "result_t" in c)
    assert not any(k["role"] in ("table", "size") for k in sat.knobs)


def test_bad_input_errors(mlp_case):
    model, X, y, _ = mlp_case
    with pytest.raises(ValueError, match="input_shape"):
        fx.scan(model, X, y, progress=False)
    with pytest.raises(ValueError, match="one entry per sample"):
        fx.scan(model, X, y[:-1], input_shape=(16,), progress=False)
    with pytest.raises(ValueError, match="shape"):
        fx.scan(model, X[:, :8], y, input_shape=(16,), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy()
        Xn[3, 2] = np.nan
        fx.scan(model, Xn, y, input_shape=(16,), progress=False)
    with pytest.raises(TypeError, match="fx.Network, an hls4ml ModelGraph or a torch.nn.Module"):
        fx.scan(object(), X, y)
    with pytest.raises(ValueError, match="mode"):
        fx.scan(model, X, y, input_shape=(16,), mode="fast", progress=False)


def test_unsupported_layer_raises_before_any_work(mlp_case):
    model, X, y, _ = mlp_case
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(16,), granularity="name",
                                                 default_precision="fixed<16,6>", backend="Vivado")
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(
        __import__("tempfile").mkdtemp()), backend="Vivado", io_type="io_parallel")
    layer = next(lay for lay in hm.get_layers() if lay.class_name == "Dense")
    layer.set_attr("strategy", "distributed_arithmetic")  # a strategy the engine does not reproduce
    calls = []

    def metric(pred, yy):
        calls.append(1)
        return 1.0

    with pytest.raises(NotImplementedError, match=rf"{layer.name}.*distributed_arithmetic"):
        fx.scan(hm, X, y, metric=metric, progress=False)
    assert not calls


def test_io_stream_cnn_scan_compiles_to_the_scanned_bits(tmp_path):
    model = _cnn(softmax_dim=-1)  # hls4ml's io_stream softmax takes the last axis only
    X = np.random.default_rng(21).normal(0, 1.0, (300, 1, 8, 8)).astype(np.float32)
    y = _labels(model, X)
    res = fx.scan(model, X, y, input_shape=(1, 8, 8), io_type="io_stream", tolerance=0.03, progress=False)
    hm = fx.hls4ml.apply(res.hls_model, res, output_dir=tmp_path / "prj")
    assert hm.config.get_config_value("IOType") == "io_stream"
    hm = compile_cached(hm)
    want = hm.predict(_channels_last(X))
    _bits_equal(res.emulated[0], want)
    assert len(np.unique(want)) > 20
    assert res.metric_fixed >= res.metric_float - 0.03


def _residual_bn():
    torch.manual_seed(1)

    class Res(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.bn, self.r = torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU()
            self.fc2, self.t = torch.nn.Linear(16, 16), torch.nn.Tanh()
            self.fc3, self.sg = torch.nn.Linear(16, 4), torch.nn.Sigmoid()

        def forward(self, x):
            h = self.r(self.bn(self.fc1(x)))
            return self.sg(self.fc3(h + self.t(self.fc2(h))))

    m = Res().train()
    with torch.no_grad():
        for _ in range(5):  # running statistics that are not the identity
            m(torch.randn(64, 8) * 2)
    return m.eval()


def test_batchnorm_merge_and_lut_activations_scan_compiles_to_the_scanned_bits(tmp_path):
    model = _residual_bn()
    X = np.random.default_rng(0).normal(0, 1.5, (600, 8)).astype(np.float32)
    y = _labels(model, X)
    res = fx.scan(model, X, y, input_shape=(8,), tolerance=0.02, progress=False)
    labels = {k["knob"] for k in res.knobs}
    assert {"bn.scale_t", "bn.bias_t", "bn.result_t", "add.result_t", "t.table_t", "sg.table_t"} <= labels
    assert not res.config["sg"]["result_t"].signed and res.config["t"]["result_t"].signed
    hm = compile_cached(fx.hls4ml.apply(res.hls_model, res, output_dir=tmp_path / "prj"))
    assert [lay.name for lay in hm.get_layers()] == ["x", "fc1", "bn", "r", "fc2", "t", "add", "fc3", "sg"]
    want = hm.predict(X.astype(np.float64))
    _bits_equal(res.emulated[0], want)
    assert len(np.unique(want)) > 20


def test_a_batchnorm_fused_by_hls4ml_is_refused(tmp_path):
    """hls4ml fuses BatchNorm into the Dense before it while that Dense's result type is 'auto'; a
    scanned config sets it, so the emitted firmware would have another graph: refuse it."""
    model = _residual_bn()
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(8,), granularity="name",
                                                 default_precision="fixed<16,6>", backend="Vivado")
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                      backend="Vivado", io_type="io_parallel")
    assert "bn" not in [lay.name for lay in hm.get_layers()]  # fused
    X = np.zeros((10, 8), np.float32)
    with pytest.raises(NotImplementedError, match=r"fused the BatchNorm layer\(s\) \['bn'\]"):
        fx.scan(hm, X, np.zeros(10, int), progress=False)


def test_apply_refuses_a_conversion_that_differs_from_the_scan(mlp_case):
    import copy

    _, _, _, res = mlp_case
    bad = copy.copy(res)
    bad.config = copy.deepcopy(res.config)
    first = next(name for name, c in res.config.items() if "weight_t" in c)
    bad.config[first]["weight_t"] = fx.Fixed(31, 3)  # a type the emitted config does not carry
    with pytest.raises(RuntimeError, match=rf"layer '{first}' weight_t is .* but the scan chose ap_fixed<31,3>"):
        fx.hls4ml.apply(res.hls_model, bad)
    with pytest.raises(TypeError, match="fx.hls4ml.apply: result must be"):
        fx.hls4ml.apply(res.hls_model, object())


def test_without_hls4ml_a_linear_relu_module_is_read_by_fx_network(mlp_case, monkeypatch):
    import fixedpoint.scanner as sc

    monkeypatch.setattr(sc, "_hls4ml_missing", lambda: True)
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5))
    _, X, y, _ = mlp_case
    res = fx.scan(seq, X, y, input_shape=(16,), tolerance=0.05, progress=False)
    assert isinstance(res, fx.ScanResult)
    assert res.config["_0"]["weight"] == fx.scan(fx.Network.from_torch(seq), X, y, tolerance=0.05,
                                                progress=False).config["_0"]["weight"]
    with pytest.raises(ImportError, match="needs hls4ml's PyTorch converter"):
        fx.scan(_mlp(), X, y, input_shape=(16,), progress=False)  # its Softmax needs the converter
