"""fx.Network and fx.scan: the emulation follows the firmware, the scan meets its tolerance,
and the emitted hls4ml config compiles to firmware whose outputs equal the emulation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _demo_data
from fixedpoint import _reference as ref


@pytest.fixture(scope="module")
def trained():
    X, y = _demo_data.blobs(1500, seed=3, spread=2.2)
    (W1, b1), (W2, b2) = _demo_data.train_mlp(X, y, steps=300)
    return fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)]), X, y


def test_emulate_matches_a_scalar_reference(trained):
    """Network.emulate against a per-element loop over the reference model (first rows)."""
    net, X, _ = trained
    cfg = {"input": fx.Fixed(8, 4, q="RND", o="SAT")}
    for layer, (acc, res) in zip(net.layers, [(fx.Fixed(12, 6, o="SAT"), fx.Fixed(9, 5)), (fx.Fixed(14, 7), fx.Fixed(10, 6))]):
        cfg[layer.name] = {"weight": fx.Fixed(6, 1, q="RND"), "bias": fx.Fixed(8, 3), "accum": acc, "result": res}
    got = net.emulate(X[:20], cfg).raw

    def q(v, f):  # hls4ml's literal path: decimal with f.f digits, then from_double
        return ref.from_double(float(f"{v:.{max(0, f.f)}f}"), f.w, f.i, f.signed, f.q.value, f.o.value, f.n)

    fin = cfg["input"]
    rows = []
    for x in X[:20]:
        vals = [ref.from_double(float(v), fin.w, fin.i, fin.signed, fin.q.value, fin.o.value, 0) for v in x]
        vf = fin
        for layer in net.layers:
            c = cfg[layer.name]
            acc_t, wt = c["accum"], c["weight"]
            out = []
            for j in range(layer.weight.shape[1]):
                b = q(layer.bias[j], c["bias"])
                acc = ref.cast_raw(b, c["bias"].w, c["bias"].i, True, acc_t.w, acc_t.i, True, acc_t.q.value, acc_t.o.value, 0)
                for k in range(layer.weight.shape[0]):
                    p = vals[k] * q(layer.weight[k, j], wt)
                    p = ref.cast_raw(p, vf.w + wt.w, vf.i + wt.i, True, acc_t.w, acc_t.i, True, acc_t.q.value, acc_t.o.value, 0)
                    acc = ref.cast_raw(acc + p, acc_t.w + 1, acc_t.i + 1, True, acc_t.w, acc_t.i, True, acc_t.q.value,
                                       acc_t.o.value, 0)
                r = c["result"]
                v = ref.cast_raw(acc, acc_t.w, acc_t.i, True, r.w, r.i, True, r.q.value, r.o.value, 0)
                out.append(max(v, 0) if layer.activation == "relu" else v)
            vals, vf = out, c["result"]
        rows.append(vals)
    np.testing.assert_array_equal(got, np.array(rows, dtype=np.int64))


def test_scan_meets_tolerance_and_reports(trained):
    net, X, y = trained
    messages = []
    res = fx.scan(net, X, y, tolerance=0.01, progress=messages.append)
    assert res.metric_fixed >= res.metric_float - 0.01
    # the reported metric is the emulation's, recomputed independently here
    acc = float(np.mean(np.argmax(net.emulate(X, res.config).to_float(), axis=1) == y))
    assert acc == res.metric_fixed
    assert len(messages) == 7 and res.evaluations > 7
    # integer bits hold the calibration ranges: no value overflows its format
    assert res.config["input"].max >= np.max(np.abs(X)) and res.config["input"].min <= -np.max(np.abs(X))
    for layer in net.layers:
        c = res.config[layer.name]
        assert c["weight"].max >= np.max(np.abs(layer.weight)) or c["weight"].min <= -np.max(np.abs(layer.weight))
    # a much tighter tolerance needs at least as many bits
    tight = fx.scan(net, X, y, tolerance=0.0)
    assert sum(c.w for n, cs in tight.config.items() if n != "input" for c in cs.values()) >= \
        sum(c.w for n, cs in res.config.items() if n != "input" for c in cs.values())
    assert "weight" in res.table()


def test_scan_rejects_bad_input(trained):
    net, X, y = trained
    with pytest.raises(ValueError, match=r"fx.scan: X must have shape \(n, 8\), got \(1500, 3\)"):
        fx.scan(net, X[:, :3], y)
    with pytest.raises(ValueError, match="max_frac must be in"):
        fx.scan(net, X, y, max_frac=0)
    with pytest.raises(ValueError, match="fx.Dense: activation must be 'linear' or 'relu', got 'tanh'"):
        fx.Dense(np.zeros((2, 2)), np.zeros(2), "tanh")
    with pytest.raises(ValueError, match="takes 3 inputs but the previous layer gives 2"):
        fx.Network([fx.Dense(np.zeros((2, 2)), np.zeros(2)), fx.Dense(np.zeros((3, 1)), np.zeros(1))])


def test_scanned_config_compiles_to_identical_firmware(trained, tmp_path):
    hls4ml = pytest.importorskip("hls4ml", reason="hls4ml is not installed")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if shutil.which("g++") is None:  # pragma: no cover
        pytest.skip("g++ is needed to compile hls4ml's C-simulation")
    net, X, y = trained
    res = fx.scan(net, X, y, tolerance=0.01)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()
    with torch.no_grad():
        for lin, layer in zip((model[0], model[2]), net.layers):
            lin.weight.copy_(torch.from_numpy(layer.weight.T))
            lin.bias.copy_(torch.from_numpy(layer.bias))
    model = model.float()  # what hls4ml converts; the emulation uses the same float32 weights
    again = fx.Network.from_torch(model)
    assert [layer.name for layer in again.layers] == ["_0", "_2"]
    assert [layer.name for layer in net.layers] == ["_0", "_2"]  # the same names without torch
    net_cfg = res.config
    cfg = res.to_hls4ml_config()  # used as it is: the config round trip
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                      backend="Vivado", io_type="io_parallel")
    hm.compile()
    xs = X.astype(np.float32)
    firmware = hm.predict(xs)
    emulated = again.emulate(xs.astype(np.float64), net_cfg).to_float().astype(np.float32)
    np.testing.assert_array_equal(firmware.view(np.uint32), emulated.view(np.uint32))
    np.testing.assert_array_equal(fx.hls4ml.emulate(hm, xs).view(np.uint32), firmware.view(np.uint32))


def test_demo_runs_the_scan(capsys, tmp_path):
    import json

    from fixedpoint.cli import main

    assert main(["demo", "-n", "600", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "scan" in out and "input_1" in out and "_2" in out and "accuracy" in out
    cfg = json.loads((tmp_path / "hls4ml_config.json").read_text())
    assert set(cfg) == {"Model", "LayerName", "InputShape"} and "_2" in cfg["LayerName"]
    assert json.loads((tmp_path / "scan.json").read_text())["formats"]["_0"]["accum"].startswith("ap_fixed<")
    with pytest.raises(SystemExit):
        main(["demo", "-n", "5"])


@pytest.mark.parametrize("q,o", [("TRN", "WRAP"), ("RND", "SAT"), ("RND_CONV", "SAT_SYM")])
def test_dense_accum_exact_path_equals_the_sequential_kernel(q, o):
    """When the accumulator holds every partial sum, dense_accum takes the exact matrix product;
    it must equal the sequential kernel (here called directly) bit for bit."""
    from fixedpoint import _core
    from fixedpoint.array import _mode_args
    from fixedpoint.network import dense_accum

    rng = np.random.default_rng(5)
    xf, wf, bf = fx.Fixed(8, 3), fx.Fixed(6, 1), fx.Fixed(6, 2)
    acc = fx.Fixed(8 + 6 + 6, 3 + 1 + 6, q=q, o=o)  # products plus 6 bits: 33 terms cannot overflow
    x = fx.from_raw(rng.integers(xf.raw_min, xf.raw_max + 1, (50, 33)), xf)
    w = fx.from_raw(rng.integers(wf.raw_min, wf.raw_max + 1, (33, 7)), wf)
    b = fx.from_raw(rng.integers(bf.raw_min, bf.raw_max + 1, 7), bf)
    got = dense_accum(x, w, b, acc)
    want = _core.matmul_accum(x.raw.astype(np.int64), xf.w, xf.i, xf.signed, w.raw.astype(np.int64), wf.w, wf.i,
                              wf.signed, *_mode_args(acc), b.cast(acc).raw.astype(np.int64), 0, 0)
    assert got.fmt == acc
    np.testing.assert_array_equal(got.raw, want)
    # and a too-narrow accumulator takes the sequential path (saturation differs from the exact sum)
    narrow = fx.Fixed(10, 4, q=q, o="SAT")
    seq = dense_accum(x, w, b, narrow)
    np.testing.assert_array_equal(seq.raw, _core.matmul_accum(
        x.raw.astype(np.int64), xf.w, xf.i, xf.signed, w.raw.astype(np.int64), wf.w, wf.i, wf.signed,
        *_mode_args(narrow), b.cast(narrow).raw.astype(np.int64), 0, 0))
