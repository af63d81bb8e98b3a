"""fixedpoint.torch modules: quantizers and quantized layers, exact accumulator emulation in
eval mode, quantize_model / model_formats / state_dict / export, torch.compile, a short QAT
demo, the docs' doctests and pinned error messages."""

from __future__ import annotations

import doctest
import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fixedpoint.torch needs PyTorch (pip install '.[torch]')")

from torch import nn  # noqa: E402

import fixedpoint as fx  # noqa: E402
import fixedpoint.torch as fxt  # noqa: E402

Fixed = fx.Fixed
DOCS = Path(__file__).resolve().parent.parent / "docs" / "torch.md"


def same(a, b) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert torch.equal(a, b), f"max difference {(a - b).abs().max().item()}"


def fq(t, fmt, seed=None):
    """fx.array(t, fmt).to_float() as a tensor of t's dtype: the reference fake quantizer."""
    return torch.from_numpy(fx.array(t.detach().numpy(), fmt, seed=seed).to_float()).to(t.dtype)


# ------------------------------------------------------------------------------------------
# quantizers and layers in training (float) mode
def test_fixed_quantizer():
    x = torch.randn(10, 7) * 5
    q = fxt.FixedQuantizer("ap_fixed<8,3,AP_RND,AP_SAT>")
    same(q(x), fq(x, Fixed(8, 3, q="RND", o="SAT")))
    assert "ap_fixed<8,3,AP_RND,AP_SAT,0>" in repr(q)
    lsq = fxt.FixedQuantizer("ap_fixed<8,3,AP_RND,AP_SAT>", ste="lsq")
    assert [n for n, _ in lsq.named_parameters()] == ["frac_bits"]
    same(lsq(x), fq(x, Fixed(8, 3, q="RND", o="SAT")))
    with torch.no_grad():
        lsq.frac_bits.fill_(2.2)
    assert lsq.effective_format() == Fixed(8, 6, q="RND", o="SAT")
    same(lsq(x), fq(x, Fixed(8, 6, q="RND", o="SAT")))
    lsq(x).sum().backward()
    assert lsq.frac_bits.grad is not None
    sc = fxt.FixedQuantizer("ap_int<4>", ste="lsq", learn="scale", shape=(10, 1))
    assert sc.scale.shape == (10, 1)
    sc(x).square().sum().backward()
    assert sc.scale.grad.shape == (10, 1)


def test_quant_linear_training_forward_is_the_composition_of_quantizers():
    torch.manual_seed(0)
    fw, fb, fi, fo = (Fixed(6, 1, q="RND", o="SAT"), Fixed(10, 3), Fixed(8, 3, q="RND_CONV", o="SAT"),
                      Fixed(12, 5, q="RND", o="SAT"))
    lin = fxt.QuantLinear(5, 4, weight_fmt=fw, bias_fmt=fb, input_fmt=fi, output_fmt=fo)
    x = torch.randn(3, 5) * 3
    want = fq(nn.functional.linear(fq(x, fi), fq(lin.weight, fw), fq(lin.bias, fb)), fo)
    same(lin(x), want)
    lin(x).sum().backward()
    assert lin.weight.grad.shape == (4, 5)


def test_quant_conv_training_forward():
    torch.manual_seed(1)
    fw, fi = Fixed(6, 1, q="RND", o="SAT"), Fixed(8, 3, q="RND", o="SAT")
    c2 = fxt.QuantConv2d(2, 3, 3, padding=1, weight_fmt=fw, input_fmt=fi, output_fmt="ap_fixed<16,6,AP_RND,AP_SAT>")
    x = torch.randn(2, 2, 5, 5)
    want = fq(nn.functional.conv2d(fq(x, fi), fq(c2.weight, fw), c2.bias, padding=1),
              Fixed(16, 6, q="RND", o="SAT"))
    same(c2(x), want)
    c1 = fxt.QuantConv1d(2, 3, 3, weight_fmt=fw)
    x1 = torch.randn(2, 2, 9)
    same(c1(x1), nn.functional.conv1d(x1, fq(c1.weight, fw), c1.bias))


def test_quant_relu_and_act():
    x = torch.linspace(-4, 4, 33)
    same(fxt.QuantReLU("ap_ufixed<6,2,AP_RND,AP_SAT>")(x), fq(torch.relu(x), Fixed(6, 2, signed=False, q="RND",
                                                                                 o="SAT")))
    same(fxt.QuantAct("ap_fixed<8,1,AP_RND,AP_SAT>", torch.tanh)(x), fq(torch.tanh(x), Fixed(8, 1, q="RND", o="SAT")))


# ------------------------------------------------------------------------------------------
# accumulator emulation (eval mode)
def test_quant_linear_accumulator_equals_fx_matmul():
    torch.manual_seed(2)
    fw, fi = Fixed(8, 2, q="RND", o="SAT"), Fixed(8, 4, q="RND", o="SAT")
    acc = Fixed(12, 5, q="TRN", o="SAT")  # narrow and saturating: order matters, exactly emulated
    lin = fxt.QuantLinear(16, 5, bias=False, weight_fmt=fw, input_fmt=fi, accum_fmt=acc,
                          output_fmt="ap_fixed<10,5,AP_RND,AP_SAT>").eval()
    x = torch.randn(2, 3, 16) * 4
    xa = fx.array(x.reshape(-1, 16).numpy(), fi)
    wa = fx.array(lin.weight.detach().numpy(), fw)
    want = fx.matmul(xa, wa.T, accum=acc).cast(Fixed(10, 5, q="RND", o="SAT")).to_float()
    same(lin(x), torch.from_numpy(want).float().reshape(2, 3, 5))
    lin.train()  # training mode: the float path (no accumulator)
    assert not torch.equal(lin(x), torch.from_numpy(want).float().reshape(2, 3, 5))


def test_quant_linear_accumulator_starts_from_the_bias():
    """With a wrapping accumulator the order does not matter: acc = wrap(bias + sum of
    products cast into accum)."""
    torch.manual_seed(3)
    fw, fi, fb = Fixed(6, 1, q="RND", o="SAT"), Fixed(6, 3, q="RND", o="SAT"), Fixed(8, 3)
    acc = Fixed(9, 4)  # TRN/WRAP, narrow: overflows wrap
    lin = fxt.QuantLinear(12, 4, weight_fmt=fw, input_fmt=fi, bias_fmt=fb, accum_fmt=acc).eval()
    x = torch.randn(6, 12) * 3
    xa, wa = fx.array(x.numpy(), fi), fx.array(lin.weight.detach().numpy(), fw)
    ba = fx.array(lin.bias.detach().numpy(), fb).cast(acc)
    want = (fx.matmul(xa, wa.T, accum=acc) + ba).cast(acc).to_float()
    same(lin(x), torch.from_numpy(want).float())


def _patches(x: np.ndarray, kh: int, kw: int, pad: int, stride: int) -> np.ndarray:
    """Conv patches by plain indexing: rows (n, oh, ow), columns (c, i, j)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    rows = []
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                rows.append(xp[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(-1))
    return np.array(rows), oh, ow


def test_quant_conv2d_accumulator_equals_fx_matmul_on_patches():
    torch.manual_seed(4)
    fw, fi, acc = Fixed(6, 1, q="RND", o="SAT"), Fixed(7, 3, q="RND", o="SAT"), Fixed(10, 4, q="RND", o="SAT")
    conv = fxt.QuantConv2d(3, 4, (3, 2), stride=2, padding=1, weight_fmt=fw, input_fmt=fi, bias_fmt="ap_fixed<8,3>",
                           accum_fmt=acc).eval()
    x = torch.randn(2, 3, 7, 6) * 3
    xq = fx.array(x.numpy(), fi).to_float()
    rows, oh, ow = _patches(xq, 3, 2, 1, 2)
    wa = fx.array(conv.weight.detach().reshape(4, -1).numpy(), fw)
    # the bias enters first; with SAT the order matters, so build the reference step by step
    ba = fx.array(conv.bias.detach().numpy(), Fixed(8, 3)).cast(acc).raw
    pa = fx.array(rows, fi)
    prods = [fx.matmul(pa[:, k:k + 1], wa[:, k:k + 1].T) for k in range(rows.shape[1])]
    total = fx.from_raw(np.broadcast_to(ba, (rows.shape[0], 4)).copy(), acc)
    for p in prods:
        total = (total + p.cast(acc)).cast(acc)
    want = total.to_float().reshape(2, oh, ow, 4).transpose(0, 3, 1, 2)
    same(conv(x), torch.from_numpy(np.ascontiguousarray(want)).float())


def test_quant_conv1d_accumulator_wide_is_exact_conv():
    torch.manual_seed(5)
    fw, fi = Fixed(6, 1, q="RND", o="SAT"), Fixed(7, 3, q="RND", o="SAT")
    conv = fxt.QuantConv1d(2, 3, 3, padding=2, dilation=2, weight_fmt=fw, input_fmt=fi, accum_fmt="ap_fixed<30,12>",
                           bias=False).eval()
    x = torch.randn(2, 2, 11, dtype=torch.float64) * 3
    want = nn.functional.conv1d(fq(x, fi), fq(conv.weight.double(), fw), padding=2, dilation=2)
    same(conv(x), want)  # a wide exact accumulator: the float64 conv of the quantized values


def _ind_accum(xr, wr, br, fin: Fixed, fw: Fixed, acc: Fixed):
    """An independent in-order accumulation (written here; TRN/RND, WRAP/SAT, n = 0): acc =
    bias, then acc = cast(acc + cast(x[k] * w[n, k])) for k in order; xr (M, K), wr (N, K)
    and br (N,) as Python ints. Returns (M, N) accumulator raws."""
    lo, hi = acc.raw_min, acc.raw_max

    def cast(m: int, fs: int) -> int:
        sh = fs - acc.f
        r = m << -sh if sh <= 0 else (m >> sh) + ((m >> (sh - 1)) & 1 if acc.q.value == "RND" else 0)
        return min(max(r, lo), hi) if acc.o.value == "SAT" else (r - lo) % (1 << acc.w) + lo

    out = []
    for row in xr:
        res = []
        for n, wrow in enumerate(wr):
            a = br[n]
            for xv, wv in zip(row, wrow):
                a = cast(a + cast(xv * wv, fin.f + fw.f), acc.f)
            res.append(a)
        out.append(res)
    return out


@pytest.mark.parametrize("fin, fw, facc", [
    ("ap_fixed<16,6,AP_RND,AP_SAT>", "ap_fixed<12,2>", "ap_fixed<80,7,AP_RND,AP_SAT>"),  # partial sums saturate
    ("ap_fixed<16,6,AP_RND,AP_SAT>", "ap_fixed<12,2>", "ap_fixed<72,60,AP_RND,AP_WRAP>"),  # products round
    ("ap_fixed<64,20>", "ap_fixed<64,3>", "ap_fixed<64,18,AP_RND,AP_SAT>"),  # 128-bit products
])
def test_quant_linear_wide_accumulator(fin, fw, facc):
    """Accumulators wider than 64 bits and products wider than 126 bits run the multi-limb kernel
    (plan_accum's WIDE; they raised before): the same raws as fx.linear, the reference model's
    accumulation and an independent one."""
    from fixedpoint import _plan, _reference

    fin, fw, facc = Fixed.parse(fin), Fixed.parse(fw), Fixed.parse(facc)
    fb = Fixed(10, 4)
    assert _plan.plan_accum(fin, fw, facc, kernels={_plan.AccumKernel.SEQUENTIAL, _plan.AccumKernel.WIDE}) \
        is _plan.AccumKernel.WIDE
    torch.manual_seed(11)
    lin = fxt.QuantLinear(7, 3, weight_fmt=fw, bias_fmt=fb, input_fmt=fin, accum_fmt=facc).eval()
    with torch.no_grad():
        lin.weight.mul_(4.0)
    x = torch.randn(5, 7, dtype=torch.float64) * 20
    got = lin(x)
    xa, wa = fx.array(x.numpy(), fin), fx.array(lin.weight.detach().numpy(), fw)
    ba = fx.array(lin.bias.detach().numpy(), fb)
    ref = fx.linear(xa, wa, ba, accum=facc)
    same(got, torch.from_numpy(ref.to_float()))
    xr = [[int(v) for v in r] for r in xa.raw]
    wr = [[int(v) for v in r] for r in wa.raw]
    br = [int(v) for v in ba.cast(facc).raw]  # Python ints for any width
    want = _ind_accum(xr, wr, br, fin, fw, facc)
    np.testing.assert_array_equal(np.asarray([[int(v) for v in r] for r in ref.raw], dtype=object),
                                  np.asarray(want, dtype=object))
    seq = _reference.matmul_accum(np.asarray(xr, dtype=object), fin, np.asarray(wr, dtype=object).T, fw, facc, 0, 0,
                                  br)
    np.testing.assert_array_equal(np.asarray(seq, dtype=object), np.asarray(want, dtype=object))
    if facc.q.value == "RND" and facc.o.value == "SAT" and facc.w > 64:  # the case's point: some sum saturated
        assert any(v in (facc.raw_min, facc.raw_max) for r in want for v in r)


def test_accumulator_errors_at_construction():
    """A configuration eval mode cannot run is refused when the layer is built, not after training
    (issue 21: QuantLinear(accum_fmt=...) without input_fmt trained, then failed at eval)."""
    with pytest.raises(NotImplementedError, match=r"fxt.QuantConv2d: accumulator emulation supports groups=1, "
                                                  r"padding_mode='zeros' and numeric padding; got groups=2"):
        fxt.QuantConv2d(4, 4, 3, groups=2, weight_fmt="ap_fixed<8,2>", input_fmt="ap_fixed<8,3>",
                        accum_fmt="ap_fixed<16,6>")
    with pytest.raises(NotImplementedError, match=r"fxt.QuantConv1d: accumulator emulation needs input_fmt.w <= 53"):
        fxt.QuantConv1d(2, 2, 3, weight_fmt="ap_fixed<8,2>", input_fmt="ap_fixed<60,3>", accum_fmt="ap_fixed<16,6>")
    with pytest.raises(ValueError, match=r"fxt.QuantLinear: accum_fmt needs input_fmt and weight_fmt .*; "
                                         r"missing input_fmt$"):
        fxt.QuantLinear(3, 2, weight_fmt="ap_fixed<8,2>", accum_fmt="ap_fixed<16,6>")
    with pytest.raises(ValueError, match=r"fxt.QuantConv2d: accum_fmt needs .*; missing input_fmt, weight_fmt$"):
        fxt.QuantConv2d(2, 2, 3, accum_fmt="ap_fixed<16,6>")
    with pytest.raises(ValueError, match=r"fxt.quantize_model|fxt.QuantLinear: accum_fmt needs"):
        fxt.quantize_model(nn.Sequential(nn.Linear(3, 2)), {"0": {"weight": "ap_fixed<8,2>", "accum": "ap_fixed<16,6>"}})
    # a state dict cannot smuggle the configuration in either
    lin = fxt.QuantLinear(3, 2, weight_fmt="ap_fixed<8,2>", input_fmt="ap_fixed<8,3>", accum_fmt="ap_fixed<16,6>")
    state = lin.state_dict()
    state["_extra_state"]["formats"]["input"] = None
    with pytest.raises(ValueError, match=r"fxt.QuantLinear.load_state_dict: accum_fmt needs .*; missing input_fmt$"):
        fxt.QuantLinear(3, 2).load_state_dict(state)
    with pytest.raises(ValueError, match=r"fxt.QuantLinear: ste must be one of identity, clipped, got 'lsq'"):
        fxt.QuantLinear(3, 2, ste="lsq")


def test_torch_backend_modules_equal_core():
    torch.manual_seed(6)
    lin = fxt.QuantLinear(6, 3, weight_fmt="ap_fixed<8,2,AP_STOCH,AP_SAT>", input_fmt="ap_fixed<8,3,AP_RND,AP_SAT>",
                          output_fmt="ap_fixed<10,4,AP_RND_CONV,AP_WRAP,1>", seed=17)
    x = torch.randn(5, 6, dtype=torch.float64) * 3
    y = lin(x.float())
    with fxt.use_backend("torch"):
        same(lin(x.float()), y)


# ------------------------------------------------------------------------------------------
# quantize_model, model_formats, state_dict, export
def _mlp():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 3), nn.Tanh()))


CONFIG = {
    "0": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<12,4>", "input": "ap_fixed<10,4,AP_RND,AP_SAT>",
          "accum": "ap_fixed<20,8>", "output": "ap_fixed<16,6>"},
    "1": "ap_ufixed<8,3,AP_RND,AP_SAT>",
    "2.0": {"weight": "ap_fixed<6,1,AP_RND_CONV,AP_SAT>", "ste": "clipped"},
    "2.1": "ap_fixed<8,1,AP_RND,AP_SAT>",
}


def test_quantize_model_and_model_formats_round_trip():
    float_model = _mlp()
    q = fxt.quantize_model(_mlp(), CONFIG)
    assert isinstance(q[0], fxt.QuantLinear) and isinstance(q[1], fxt.QuantReLU)
    assert isinstance(q[2][0], fxt.QuantLinear) and isinstance(q[2][1], fxt.QuantAct)
    same(q[0].weight, float_model[0].weight)
    formats = fxt.model_formats(q)
    assert formats == {
        "0": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT,0>", "bias": "ap_fixed<12,4>",
              "input": "ap_fixed<10,4,AP_RND,AP_SAT,0>", "output": "ap_fixed<16,6>", "accum": "ap_fixed<20,8>"},
        "1": {"output": "ap_ufixed<8,3,AP_RND,AP_SAT,0>"},
        "2.0": {"weight": "ap_fixed<6,1,AP_RND_CONV,AP_SAT,0>", "ste": "clipped"},
        "2.1": {"output": "ap_fixed<8,1,AP_RND,AP_SAT,0>"},
    }
    again = fxt.quantize_model(_mlp(), formats)
    assert fxt.model_formats(again) == formats
    x = torch.randn(5, 4)
    same(again(x), q(x))
    q.eval()
    again.eval()
    same(again(x), q(x))


def test_state_dict_round_trips_weights_and_formats():
    q = fxt.quantize_model(_mlp(), CONFIG)
    buf = io.BytesIO()
    torch.save(q.state_dict(), buf)
    buf.seek(0)
    other = fxt.quantize_model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 3), nn.Tanh())),
                               {"0": "ap_fixed<4,1>", "1": "ap_ufixed<4,1>", "2.0": "ap_fixed<4,1>",
                                "2.1": "ap_fixed<4,1>"})
    other.load_state_dict(torch.load(buf, weights_only=True))
    assert fxt.model_formats(other) == fxt.model_formats(q)
    x = torch.randn(6, 4)
    same(other(x), q(x))


def test_export_integer_weights():
    q = fxt.quantize_model(_mlp(), CONFIG)
    ints = fxt.export_integer_weights(q)
    assert sorted(ints) == ["0.bias", "0.weight", "2.0.weight"]
    w = ints["0.weight"]
    assert isinstance(w, fx.FixedArray) and w.fmt == Fixed(8, 2, q="RND", o="SAT")
    np.testing.assert_array_equal(w.raw, fx.array(q[0].weight.detach().numpy(), w.fmt).raw)
    # the layer computes with exactly these values
    same(torch.from_numpy(w.to_float()).float(), fxt.quantize(q[0].weight.detach(), w.fmt))


def test_quantize_model_errors():
    with pytest.raises(KeyError, match=r"fxt.quantize_model: no layer named 'fc9'; layers: '0', '1', '2', '2.0', "
                                       r"'2.1'"):
        fxt.quantize_model(_mlp(), {"fc9": "ap_fixed<8,2>"})
    with pytest.raises(TypeError, match=r"fxt.quantize_model: layer '2' is a Sequential; supported: Linear, Conv1d, "
                                        r"Conv2d and activations"):
        fxt.quantize_model(_mlp(), {"2": "ap_fixed<8,2>"})
    with pytest.raises(ValueError, match=r"fxt.quantize_model: layer '0': unknown keys \['weights'\]"):
        fxt.quantize_model(_mlp(), {"0": {"weights": "ap_fixed<8,2>"}})
    with pytest.raises(ValueError, match=r"fxt.quantize_model: activation '1' takes only an output format"):
        fxt.quantize_model(_mlp(), {"1": {"weight": "ap_fixed<8,2>"}})
    with pytest.raises(ValueError, match=r"fxt.QuantLinear: torch ops support formats with w <= 64, got "
                                         r"ap_fixed<100,2>"):
        fxt.quantize_model(_mlp(), {"0": "ap_fixed<100,2>"})
    q = fxt.quantize_model(_mlp(), {"0": "ap_fixed<8,2>"})
    with pytest.raises(TypeError, match=r"fxt.quantize_model: layer '0' is already quantized \(QuantLinear\)"):
        fxt.quantize_model(q, {"0": "ap_fixed<8,2>"})


# ------------------------------------------------------------------------------------------
# torch.compile and a QAT demo
def test_torch_compile_fullgraph_qat_step_equals_eager():
    """One compile (tens of seconds on 2 cores): no graph breaks, the quantized output equals
    eager exactly, the loss too; parameter gradients agree to float rounding (inductor may
    reorder the float reductions of the backward)."""
    torch._dynamo.reset()
    torch.manual_seed(8)
    model = fxt.quantize_model(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        {"0": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "input": "ap_fixed<10,4,AP_RND,AP_SAT>", "ste": "clipped"},
         "1": "ap_ufixed<8,3,AP_RND,AP_SAT>",
         "2": {"weight": "ap_fixed<8,2,AP_STOCH,AP_SAT>", "seed": 3, "output": "ap_fixed<12,4,AP_RND,AP_SAT>"}},
    )
    pre = fxt.FixedQuantizer("ap_fixed<8,3,AP_RND,AP_SAT>", ste="lsq")
    params = list(model.parameters()) + list(pre.parameters())

    def step(x):
        y = model(pre(x))
        return y, y.square().sum()

    x = torch.randn(16, 4)
    y1, l1 = step(x)
    l1.backward()
    g1 = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    torch._dynamo.utils.counters.clear()
    y2, l2 = torch.compile(step, fullgraph=True)(x)
    l2.backward()
    assert not torch._dynamo.utils.counters["graph_break"]
    same(y2, y1)
    same(l2, l1)
    for a, p in zip(g1, params):
        torch.testing.assert_close(p.grad, a, rtol=1e-5, atol=1e-6)


def test_torch_compile_prints_no_dynamo_warning():
    """A format given as a string is parsed through a cache Dynamo traces without warning
    (functools.lru_cache made Dynamo warn on every compile, issue 21)."""
    import warnings

    torch._dynamo.reset()

    def f(x):
        return fxt.quantize(x, "ap_fixed<7,3,AP_RND_CONV,AP_SAT>") * 2

    x = torch.linspace(-9, 9, 37)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = torch.compile(f, fullgraph=True, backend="eager")(x)
    msgs = [str(w.message) for w in caught]
    assert not [m for m in msgs if "Dynamo" in m or "lru_cache" in m], msgs
    same(y, fq(x, "ap_fixed<7,3,AP_RND_CONV,AP_SAT>") * 2)


def test_qat_demo_two_layer_mlp_learns_a_synthetic_task():
    """A 2-layer MLP with 6-bit weights and 8-bit activations, trained with the clipped STE
    on a generated 3-class task (points around three centres), reaches >= 90% test accuracy
    in 200 steps (about a second), and its eval mode with an accumulator agrees with it."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = torch.randint(0, 3, (1200,), generator=g)
    pts = centres[labels] + 0.6 * torch.randn(1200, 2, generator=g)
    xtr, ytr, xte, yte = pts[:900], labels[:900], pts[900:], labels[900:]
    torch.manual_seed(0)
    model = fxt.quantize_model(
        nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3)),
        {"0": {"weight": "ap_fixed<6,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3,AP_RND,AP_SAT>",
               "input": "ap_fixed<8,3,AP_RND,AP_SAT>", "ste": "clipped"},
         "1": "ap_ufixed<8,3,AP_RND,AP_SAT>",
         "2": {"weight": "ap_fixed<6,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3,AP_RND,AP_SAT>",
               "input": "ap_ufixed<8,3,AP_RND,AP_SAT>", "accum": "ap_fixed<18,8,AP_TRN,AP_SAT>", "ste": "clipped"}},
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids OpenMP barriers on a busy machine
    try:
        for _ in range(200):
            idx = torch.randint(0, 900, (64,), generator=g)
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    acc = (model(xte).argmax(1) == yte).float().mean().item()
    assert acc >= 0.90, acc
    # the accumulator here is wide enough for every partial sum: eval equals the float path
    # on the quantized values up to float32 rounding of the matmul
    model[2].train()
    float_logits = model(xte)
    model[2].eval()
    torch.testing.assert_close(model(xte), float_logits, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------
# the documentation's examples
def test_docs_torch_md_doctests():
    if not DOCS.exists():
        pytest.fail(f"{DOCS} is missing")
    result = doctest.testfile(str(DOCS), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
