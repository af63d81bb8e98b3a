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


def test_emulate_reprints_weights_changed_in_place(trained):
    """Network.emulate remembers each weight matrix's literals by its bytes: weights edited in place
    after a call are printed again (the result equals a fresh network's with copies of the edited
    weights), and changing them back gives the first result again."""
    net0, X, _ = trained
    net = fx.Network([fx.Dense(lay.weight.copy(), lay.bias.copy(), lay.activation) for lay in net0.layers])
    t = fx.Fixed(10, 4, q="RND", o="SAT")
    cfg = {"input": t, **{lay.name: dict(weight=t, bias=t, accum=fx.Fixed(24, 10), result=t) for lay in net.layers}}
    first = net.emulate(X[:200], cfg).raw
    saved = net.layers[1].weight.copy()
    net.layers[1].weight *= -1.5
    edited = net.emulate(X[:200], cfg).raw
    fresh = fx.Network([fx.Dense(lay.weight.copy(), lay.bias.copy(), lay.activation) for lay in net.layers])
    np.testing.assert_array_equal(edited, fresh.emulate(X[:200], cfg).raw)
    assert not np.array_equal(edited, first)
    net.layers[1].weight[...] = saved
    np.testing.assert_array_equal(net.emulate(X[:200], cfg).raw, first)


def test_emulate_runs_large_inputs_in_blocks(trained, monkeypatch):
    """Network.emulate quantizes and runs a large X block by block: the same integers as one
    block, and a NaN is named by its index in the whole X, in the first block or a later one."""
    from fixedpoint import network

    net, X, _ = trained
    t = fx.Fixed(10, 4, q="RND", o="SAT")
    cfg = {"input": t, **{lay.name: dict(weight=t, bias=t, accum=fx.Fixed(24, 10), result=t) for lay in net.layers}}
    x = np.concatenate([X] * 7).astype(np.float32)  # 10,500 events
    whole = net.emulate(x, cfg).raw
    monkeypatch.setattr(network, "_EMULATE_BLOCK", 1_000)
    np.testing.assert_array_equal(net.emulate(x, cfg).raw, whole)
    for at in [(3, 1), (9_876, 0)]:
        bad = x.copy()
        bad[at] = np.nan
        with pytest.raises(ValueError, match=rf"fx.Network.emulate: NaN at index \({at[0]}, {at[1]}\) of X"):
            net.emulate(bad, cfg)


def test_scan_meets_tolerance_and_reports(trained):
    net, X, y = trained
    messages = []
    res = fx.scan(net, X, y, tolerance=0.01, progress=messages.append)
    assert res.metric_fixed >= res.metric_float - 0.01
    # the reported metric is the emulation's, recomputed independently here
    acc = float(np.mean(np.argmax(net.emulate(X, res.config).to_float(), axis=1) == y))
    assert acc == res.metric_fixed
    assert len(messages) == 8 and res.evaluations > 8  # the default global mode: all knobs, then each of 7
    assert res.mode == "global" and messages[0].startswith("scan all knobs:")
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


def _total_bits(res):
    return sum(c.w for n, cs in res.config.items() if n != "input" for c in cs.values()) + res.config["input"].w


def test_scan_global_mode_meets_tolerance_and_tightening_never_lowers_bits(trained):
    net, X, y = trained
    loose = fx.scan(net, X, y, tolerance=0.02, mode="global", progress=False)
    assert loose.mode == "global" and loose.steps[0]["knob"] == "all knobs"
    # recomputed here from an independent emulation of the returned formats
    acc = float(np.mean(np.argmax(net.emulate(X, loose.config).to_float(), axis=1) == y))
    assert acc == loose.metric_fixed >= loose.metric_float - 0.02
    tight = fx.scan(net, X, y, tolerance=0.0, mode="global", progress=False)
    assert tight.metric_fixed >= tight.metric_float
    assert _total_bits(tight) >= _total_bits(loose)


def _heavy_tailed(trained):
    net, X, y = trained
    rng = np.random.default_rng(11)
    Xh = X.copy()
    rows = rng.choice(len(X), 30, replace=False)  # 2% of the rows get one huge feature
    Xh[rows, rng.integers(0, X.shape[1], 30)] *= 40.0
    return net, Xh, y


@pytest.mark.parametrize("overflow", ["SAT", "WRAP"])
def test_scan_percentile_gives_fewer_integer_bits_and_overflows_as_the_mode_says(trained, overflow):
    net, X, y = _heavy_tailed(trained)
    full = fx.scan(net, X, y, tolerance=0.05, progress=False, overflow=overflow)
    p99 = fx.scan(net, X, y, tolerance=0.05, progress=False, overflow=overflow, percentile=99)
    assert p99.config["input"].i < full.config["input"].i
    assert full.config["input"].max >= np.max(np.abs(X))  # max-abs: nothing overflows
    fin = p99.config["input"]
    assert fin.o.value == overflow and p99.hls4ml["input_1"]["Precision"]["result"] == fin.to_hls4ml()
    # the quantized input, from NumPy alone: floor (TRN) on the grid, then clip (SAT) or wrap
    t = np.floor(X * 2.0**fin.f).astype(np.int64)
    if overflow == "SAT":
        want = np.clip(t, fin.raw_min, fin.raw_max)
    else:
        want = (t - fin.raw_min) % (1 << fin.w) + fin.raw_min
    assert (want != t).any()  # some values really overflow
    stages = net.emulate_layers(X, p99.config)
    np.testing.assert_array_equal(stages[0].raw, want)
    # a layer result overflows the same way: compare with the same config but a result format
    # with the same fraction bits and room for everything
    name = net.layers[0].name
    res_t = p99.config[name]["result"]
    roomy = {**p99.config, name: {**p99.config[name], "result": fx.Fixed(res_t.f + 30, 30, q=res_t.q)}}
    wide = net.emulate_layers(X, roomy)[1].raw
    want1 = np.clip(wide, res_t.raw_min, res_t.raw_max) if overflow == "SAT" else \
        (wide - res_t.raw_min) % (1 << res_t.w) + res_t.raw_min
    np.testing.assert_array_equal(stages[1].raw, np.maximum(want1, 0))  # ReLU after the cast


def test_scan_flags_an_accumulator_that_wraps(trained):
    net, X, y = trained
    narrow = fx.Fixed(9, 3)  # 3 integer bits: sums beyond [-4, 4) wrap
    res = fx.scan(net, X, y, tolerance=1.0, accum={"_0": narrow}, max_frac=8, progress=False)
    assert res.config["_0"]["accum"] == narrow and res.hls4ml["_0"]["Precision"]["accum"] == "fixed<9,3>"
    flag = next(f for f in res.flags if f["layer"] == "_0" and f["kind"] == "overflow")
    # the count from an independent float model: bias + x @ w in float64 (exact here) is out of range
    xq = net.emulate_layers(X, res.config)[0].to_float()
    c = res.config["_0"]
    w = fx.array(np.array([float(f"{v:.{c['weight'].f}f}") for v in net.layers[0].weight.ravel()]).reshape(
        net.layers[0].weight.shape), c["weight"]).to_float()
    b = fx.array(np.array([float(f"{v:.{c['bias'].f}f}") for v in net.layers[0].bias]), c["bias"]).to_float()
    exact = xq @ w + b  # the accumulator holds every product's fraction bits: only the range matters
    assert c["accum"].f >= res.config["input"].f + c["weight"].f
    assert flag["count"] == int(np.count_nonzero((exact < narrow.min) | (exact > narrow.max))) > 0
    assert "wraps on" in flag["message"] and "accum_overflow='SAT'" in flag["message"]
    assert "flag: layer _0" in res.table()
    # capping the width: integer bits from the profiled partial sums, modes as asked
    capped = fx.scan(net, X, y, tolerance=0.01, accum_width=10, accum_rounding="RND", accum_overflow="SAT",
                     progress=False)
    for layer in net.layers:
        acc = capped.config[layer.name]["accum"]
        assert acc.w <= 10 and (acc.q.value, acc.o.value) == ("RND", "SAT")
        assert capped.hls4ml[layer.name]["Precision"]["accum"] == acc.to_hls4ml()
    assert capped.metric_fixed >= capped.metric_float - 0.01


def test_scan_progress_callback_bar_and_silence(trained, capsys):
    from fixedpoint._scanning import _Progress

    net, X, y = trained
    messages = []
    fx.scan(net, X, y, progress=messages.append, mode="global")
    assert len(messages) == 8 and messages[0].startswith("scan all knobs:")
    fx.scan(net, X, y, progress=False)
    fx.scan(net, X, y)  # None: a bar only on a terminal; pytest captures stderr, so nothing
    assert capsys.readouterr().err == ""
    pytest.importorskip("rich")
    bar = _Progress(True, 3)  # forced: a rich bar even without a terminal
    try:
        assert bar.bar is not None
        bar.step("knob 1")
    finally:
        bar.close()


def test_scan_rejects_bad_input(trained):
    net, X, y = trained
    with pytest.raises(ValueError, match=r"fx.scan: X must have shape \(n, 8\), got \(1500, 3\)"):
        fx.scan(net, X[:, :3], y)
    with pytest.raises(ValueError, match="max_frac must be in"):
        fx.scan(net, X, y, max_frac=0)
    with pytest.raises(ValueError, match=r"fx.scan: mode must be 'layer' or 'global', got 'fast'"):
        fx.scan(net, X, y, mode="fast")
    with pytest.raises(ValueError, match=r"fx.scan: percentile must be in \(0, 100\], got 0"):
        fx.scan(net, X, y, percentile=0)
    with pytest.raises(ValueError, match="fx.scan: accum_width must be >= 2"):
        fx.scan(net, X, y, accum_width=1)
    with pytest.raises(ValueError, match=r"fx.scan: accum names layers \['_9'\]"):
        fx.scan(net, X, y, accum={"_9": "fixed<8,3>"})
    with pytest.raises(ValueError, match="fx.scan: accum_overflow='SATT' is not a mode"):
        fx.scan(net, X, y, accum_overflow="SATT")
    with pytest.raises(ValueError, match="fx.scan: int_margin must be >= 0, got -1"):
        fx.scan(net, X, y, int_margin=-1)
    with pytest.raises(ValueError, match="fx.Dense: activation must be 'linear' or 'relu', got 'tanh'"):
        fx.Dense(np.zeros((2, 2)), np.zeros(2), "tanh")
    with pytest.raises(ValueError, match="takes 3 inputs but the previous layer gives 2"):
        fx.Network([fx.Dense(np.zeros((2, 2)), np.zeros(2)), fx.Dense(np.zeros((3, 1)), np.zeros(1))])
    with pytest.raises(ValueError, match=r"fx.scan: y must have one entry per sample \(1500\), got shape \(1499,\)"):
        fx.scan(net, X, y[:-1])


def test_from_torch_refuses_qat_modules_instead_of_dropping_their_formats():
    fxt = pytest.importorskip("fixedpoint.torch", reason="torch is not installed")
    import torch

    qat = torch.nn.Sequential(fxt.QuantLinear(4, 3, weight_fmt="ap_fixed<6,2>"), torch.nn.ReLU())
    with pytest.raises(NotImplementedError, match="module 0 is a fixedpoint.torch QuantLinear; its formats"):
        fx.Network.from_torch(qat)
    plain = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    assert fx.Network.from_torch(plain).layers[0].activation == "relu"


def test_plot_marks_the_chosen_bits_and_the_tolerance(trained, tmp_path):
    pytest.importorskip("matplotlib")
    net, X, y = trained
    res = fx.scan(net, X, y, tolerance=0.02, progress=False)
    assert res.tolerance == 0.02
    import matplotlib.pyplot as plt

    captured = {}
    real = plt.Figure.savefig

    def spy(fig, path, **kw):
        ax = fig.axes[0]
        captured["stars"] = sum(1 for ln in ax.get_lines() if ln.get_marker() == "*")
        captured["hlines"] = [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        return real(fig, path, **kw)

    plt.Figure.savefig = spy
    try:
        res.plot(tmp_path / "scan.png")
    finally:
        plt.Figure.savefig = real
    assert captured["stars"] == len(res.steps)  # every knob's choice is marked
    assert captured["hlines"] == [pytest.approx(res.metric_float - 0.02)]  # a float line, not a fixed-point value


def test_scanned_config_compiles_to_identical_firmware(trained, tmp_path):
    hls4ml = pytest.importorskip("hls4ml", reason="hls4ml is not installed")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if shutil.which("g++") is None:  # pragma: no cover
        pytest.skip("g++ is needed to compile hls4ml's C-simulation")
    net, X, y = trained
    # SAT/RND results from a percentile range (some saturate), and capped RND/SAT accumulators
    # that drop product bits: the emitted config must carry every mode into the firmware
    res = fx.scan(net, X, y, tolerance=0.01, mode="global", percentile=99.5, result_rounding="RND",
                  result_overflow="SAT", accum_width=9, accum_rounding="RND", accum_overflow="SAT", progress=False)
    assert res.config["_0"]["accum"].w <= 9 and res.config["_0"]["result"].o.value == "SAT"
    assert res.to_hls4ml_config()["LayerName"]["_0"]["Precision"]["accum"].endswith(",RND,SAT,0>")
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
    with pytest.raises(SystemExit):
        main(["demo", "--percentile", "0"])
    assert main(["demo", "-n", "600", "--mode", "global", "--percentile", "99.9", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "global mode" in out and "after all knobs" in out
    assert out.count("after _0.weight") == 1  # each knob is reported once (no progress lines besides the table)
    assert json.loads((tmp_path / "scan.json").read_text())["mode"] == "global"


@pytest.mark.parametrize("q,o", [("TRN", "WRAP"), ("RND", "SAT"), ("RND_CONV", "SAT_SYM")])
def test_dense_accum_exact_path_equals_the_sequential_kernel(q, o):
    """When the accumulator holds every partial sum, dense_accum takes the exact matrix product;
    it must equal the sequential kernel (here called directly) bit for bit."""
    from fixedpoint import _core
    from fixedpoint._backend import modes as _mode_args
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


def test_emulate_wide_formats_take_the_exact_generic_path(trained):
    """Formats wider than the int64 engine (here 130-bit accumulators, 90-bit results) go through
    FixedArray arithmetic; every sum is exact in both, so the values equal the narrow engine's."""
    net, X, _ = trained
    base = {"input": fx.Fixed(10, 4, q="RND", o="SAT")}
    for layer in net.layers:
        base[layer.name] = {"weight": fx.Fixed(8, 2), "bias": fx.Fixed(8, 3), "accum": fx.Fixed(62, 22),
                            "result": fx.Fixed(50, 20)}
    wide = {k: (v if k == "input" else {**v, "accum": fx.Fixed(130, 70), "result": fx.Fixed(90, 60)})
            for k, v in base.items()}
    got = net.emulate(X[:40], wide)
    want = net.emulate(X[:40], base)
    assert got.fmt == fx.Fixed(90, 60) and got.raw.dtype == object and want.raw.dtype == np.int64
    assert got.fmt.f == want.fmt.f  # same lsb: the stored integers must be equal
    np.testing.assert_array_equal(np.array([int(v) for v in got.raw.ravel()]), want.raw.ravel())


def test_accumulator_overflow_counts_follow_the_layers_addition_order():
    """The scan's overflow counts take the partial sums in the order the layer adds its products
    (hls4ml's Resource order), not ascending k. Weights (3, -4, 2) into a SAT accumulator
    fixed<4,4> ([-8, 7]) with x = 2: ascending, the partial sums are 6, -2, 2 (inside); in the
    order (2, 0, 1) they are 4, 10 (outside), 2. The exact final sum 2 is inside either way."""
    from fixedpoint._scanning import _accum_overflows
    from fixedpoint.nn.dense import DenseOp

    f = fx.Fixed(8, 8)
    w = np.array([[3], [-4], [2]], dtype=np.int64)
    b = np.zeros(1, dtype=np.int64)
    acc = fx.Fixed(4, 4, o="SAT")
    x = np.full((5, 3), 2, dtype=np.int64)
    ascending = DenseOp(w, f, b, f, acc, acc)
    assert _accum_overflows(x, f, ascending) == (0, 0, 5)
    reordered = DenseOp(w, f, b, f, acc, acc, order=np.array([[2], [0], [1]]))
    assert reordered.order is not None
    assert _accum_overflows(x, f, reordered) == (0, 5, 5)
    # the emulation adds in that order too: 4, 10 saturates to 7, then 7 - 8 = -1 (ascending: 2)
    np.testing.assert_array_equal(reordered(x, f)[0], np.full((5, 1), -1))
    np.testing.assert_array_equal(ascending(x, f)[0], np.full((5, 1), 2))
