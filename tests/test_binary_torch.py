"""fixedpoint.torch binary/ternary quantizer ops: registration (opcheck), forward values,
straight-through gradients (identity, clipped, tanh), scaled variants, torch inputs to
fx.binary.pack, pinned errors. Expectations are written out or computed with plain torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fixedpoint as fx  # noqa: E402
import fixedpoint.torch as fxt  # noqa: E402


def _x(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g, dtype=dtype) * 1.5
    x[0, 0] = 0.0
    x[0, 1] = 1.0
    x[0, 2] = -1.0
    return x.requires_grad_()


OPCHECK_CASES = [
    ("binarize", lambda: (_x(), "pos", "identity")),
    ("binarize", lambda: (_x(torch.float32), "neg", "clipped")),
    ("binarize", lambda: (_x(), "pos", "tanh")),
    ("ternarize", lambda: (_x(), torch.tensor(0.5, dtype=torch.float64), "identity")),
    ("ternarize", lambda: (_x(torch.float32), torch.tensor(0.7), "clipped")),
    ("ternarize", lambda: (_x(), torch.tensor(0.3, dtype=torch.float64), "tanh")),
]


@pytest.mark.parametrize("name,make", OPCHECK_CASES, ids=[f"{n}-{k}" for k, (n, _) in enumerate(OPCHECK_CASES)])
def test_opcheck(name, make):
    op = getattr(torch.ops.fixedpoint, name)
    result = torch.library.opcheck(op, make())
    assert set(result.values()) == {"SUCCESS"}, result


def test_ops_namespace():
    assert torch.ops.fixedpoint.binarize.default.name() == "fixedpoint::binarize"
    assert torch.ops.fixedpoint.ternarize.default.name() == "fixedpoint::ternarize"


def test_binarize_forward_and_zero():
    x = torch.tensor([-2.0, -0.0, 0.0, 0.5])
    assert fxt.binarize(x).tolist() == [-1.0, 1.0, 1.0, 1.0]
    assert fxt.binarize(x, zero="neg").tolist() == [-1.0, -1.0, -1.0, 1.0]
    np.testing.assert_array_equal(fxt.binarize(x).numpy(), fx.binary.binary_quantize(x.numpy()))


@pytest.mark.parametrize("ste", ["identity", "clipped", "tanh"])
def test_binarize_gradients(ste):
    x = _x()
    g = torch.arange(24, dtype=torch.float64).reshape(4, 6) - 11
    fxt.binarize(x, ste=ste).backward(g)
    xd = x.detach()
    if ste == "identity":
        want = g
    elif ste == "clipped":
        want = g * (xd.abs() <= 1).to(g.dtype)
    else:
        want = g * (1 - torch.tanh(xd) ** 2)
    assert torch.equal(x.grad, want)
    if ste == "clipped":  # the |x| == 1 edges pass the gradient
        assert x.grad[0, 1] == g[0, 1] and x.grad[0, 2] == g[0, 2]


@pytest.mark.parametrize("ste", ["identity", "clipped", "tanh"])
def test_ternarize_forward_and_gradients(ste):
    x = _x()
    xd = x.detach()
    delta = 0.7 * xd.abs().mean()
    t = fxt.ternarize(x, ste=ste)
    assert torch.equal(t.detach(), torch.sign(xd) * (xd.abs() > delta).to(xd.dtype))
    np.testing.assert_array_equal(t.detach().numpy(), fx.binary.ternary_quantize(xd.numpy()))
    g = torch.ones_like(xd)
    t.backward(g)
    want = {"identity": g, "clipped": g * (xd.abs() <= 1).to(g.dtype), "tanh": g * (1 - torch.tanh(xd) ** 2)}[ste]
    assert torch.equal(x.grad, want)


def test_scaled_variants_match_numpy_and_get_alpha_gradient():
    x = _x()
    xd = x.detach()
    y = fxt.binarize(x, scaled=True, axis=0)
    np.testing.assert_array_equal(y.detach().numpy(), fx.binary.binary_quantize(xd.numpy(), scaled=True, axis=0))
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    t = fxt.ternarize(xd, scaled=True)
    np.testing.assert_allclose(t.numpy(), fx.binary.ternary_quantize(xd.numpy(), scaled=True), rtol=0, atol=1e-15)


def test_pack_accepts_torch():
    x = torch.tensor([[0.5, -1.0, 0.0], [-0.0, 2.0, -3.0]])
    np.testing.assert_array_equal(fx.binary.unpack(fx.binary.pack(x)), [[1, -1, 1], [1, 1, -1]])
    np.testing.assert_array_equal(fx.binary.unpack(fx.binary.pack(x.to(torch.int32), axis=0)), [[1, -1, 1], [1, 1, -1]])


def test_errors():
    with pytest.raises(ValueError, match=r"fxt\.binarize: ste must be one of \('identity', 'clipped', 'tanh'\), got 'lsq'"):
        fxt.binarize(torch.ones(3), ste="lsq")
    with pytest.raises(TypeError, match=r"fxt\.binarize: x must be a floating-point tensor, got torch\.int64"):
        fxt.binarize(torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"fxt\.binarize: zero must be one of \('pos', 'neg'\), got 'x'"):
        fxt.binarize(torch.ones(3), zero="x")
    with pytest.raises(TypeError, match=r"fx\.binary\.pack: unsupported dtype torch\.complex64"):
        fx.binary.pack(torch.ones(3, dtype=torch.complex64))


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("k", [1, 63, 64, 130])
def test_binary_linear_packed_inference_matches_training_path(scaled, k):
    torch.manual_seed(k)
    layer = fxt.BinaryLinear(k, 7, scaled=scaled)
    x = torch.randn(2, 5, k)
    x[0, 0, 0] = 0.0
    train_y = layer(x)  # grad enabled: the straight-through float path
    layer.eval()
    with torch.no_grad():
        packed_y = layer(x)
    assert torch.equal(packed_y, train_y.detach())
    # the packed path agrees with an independent float64 computation of the +-1 products
    xs = torch.where(x >= 0, 1.0, -1.0).double()
    ws = torch.where(layer.weight >= 0, 1.0, -1.0).double()
    acc = (xs @ ws.T).to(torch.float32)  # integers of magnitude <= k: exact in float64 and float32
    if not scaled:
        assert torch.equal(packed_y, acc + layer.bias.detach())


def test_binary_linear_trains():
    torch.manual_seed(0)
    layer = fxt.BinaryLinear(16, 3, ste="clipped")
    x = torch.randn(8, 16) * 0.5
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"BinaryLinear: ste must be one of \('identity', 'clipped', 'tanh'\), got 'x'"):
        fxt.BinaryLinear(4, 2, ste="x")


@pytest.mark.parametrize("zero", ["pos", "neg"])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("cfg", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, padding=0, stride=2),
    dict(kernel_size=(3, 5), padding=(2, 1), dilation=(1, 2), stride=(2, 1)),
    dict(kernel_size=1),
    dict(kernel_size=5, padding=2, stride=3),
])
def test_binary_conv2d_packed_matches_training_path_and_float64(zero, scaled, cfg):
    torch.manual_seed(3)
    layer = fxt.BinaryConv2d(5, 7, zero=zero, scaled=scaled, **cfg)
    x = torch.randn(2, 5, 9, 11)
    x[0, 0, 0, :3] = 0.0  # exact zeros follow the zero convention in both paths
    train_y = layer(x)
    layer.eval()
    with torch.no_grad():
        packed_y = layer(x)
    assert packed_y.shape == train_y.shape
    assert torch.equal(packed_y, train_y.detach())
    # independent: float64 conv of the +-1 tensors (padding adds zeros after binarization)
    pos = (lambda t: t >= 0) if zero == "pos" else (lambda t: t > 0)
    xs = torch.where(pos(x), 1.0, -1.0).double()
    ws = torch.where(pos(layer.weight), 1.0, -1.0).double()
    ref = torch.nn.functional.conv2d(xs, ws, None, layer.stride, layer.padding, layer.dilation)
    ref = ref.to(torch.float32)  # integers of magnitude <= 5*5*5: exact
    if scaled:  # XNOR-Net scaling: the exact integer sums times mean|W| per output channel
        ref = ref * layer.weight.detach().abs().mean(dim=(1, 2, 3)).reshape(1, -1, 1, 1)
    assert torch.equal(packed_y, ref + layer.bias.detach().reshape(1, -1, 1, 1))


def test_binary_conv2d_groups_and_same_padding_use_the_float_path():
    torch.manual_seed(4)
    for layer in (fxt.BinaryConv2d(4, 6, 3, groups=2, padding=1), fxt.BinaryConv2d(4, 6, 3, padding="same")):
        x = torch.randn(1, 4, 6, 6)
        train_y = layer(x)
        layer.eval()
        with torch.no_grad():
            assert not layer._packed_ok(x) and torch.equal(layer(x), train_y.detach())


def test_binary_conv2d_trains_and_validates():
    torch.manual_seed(0)
    layer = fxt.BinaryConv2d(3, 4, 3, padding=1, ste="clipped")
    x = (torch.randn(2, 3, 8, 8) * 0.5).requires_grad_()
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"BinaryConv2d: ste must be one of \('identity', 'clipped', 'tanh'\), got 'x'"):
        fxt.BinaryConv2d(3, 4, 3, ste="x")
    with pytest.raises(ValueError, match=r"BinaryConv2d: padding_mode must be 'zeros'.*got 'reflect'"):
        fxt.BinaryConv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"BinaryConv2d: zero must be one of"):
        fxt.BinaryConv2d(3, 4, 3, zero="mid")
