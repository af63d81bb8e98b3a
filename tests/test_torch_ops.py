"""fixedpoint.torch ops: registration (opcheck), exactness against fx.array for every
(q, o, n), the pure-torch backend against the C++ core, straight-through gradients,
STOCH, the affine op, and pinned error messages.

Expectations come from ``fx.array`` (the core, itself checked against the reference model
and golden vectors), ``fractions.Fraction`` or PyTorch's own fake-quant ops.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fixedpoint.torch needs PyTorch (pip install '.[torch]')")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fixedpoint as fx  # noqa: E402
import fixedpoint.torch as fxt  # noqa: E402
from fixedpoint import _reference as ref  # noqa: E402
from fixedpoint.torch import _kernels  # noqa: E402

Fixed = fx.Fixed
from strategies import O_MODES, Q_MODES  # noqa: E402  (the lists of fx.QMode / fx.OMode)
import strategies  # noqa: E402
DETERMINISTIC = Q_MODES[:-1]
HYPO = settings(max_examples=150, deadline=None)


# ------------------------------------------------------------------------------------------
# strategies and helpers
def formats(max_w: int = 64, i_pad: int = 4):
    """The shared strategy (i within i_pad of the range, or the default margin if wider)."""
    return strategies.formats(1, max_w, i_margin=max(i_pad, 8))


SPECIALS = [0.0, -0.0, math.inf, -math.inf, 5e-324, -5e-324, 2.0**-1022, -(2.0**-1030), 1e300, -1e300,
            2.0**52 + 1, -(2.0**53) - 2, 0.49999999999999994, -0.49999999999999994]


def aimed(fmt: Fixed, ks) -> np.ndarray:
    """Ties (k + 1/2) lsb, quarter points and representable values for every k in ks plus
    the range edges, each with its +-1 ulp neighbours, and special values (float64)."""
    lsb = Fraction(2) ** -fmt.f
    base = [0, 1, -1, 2, -2, fmt.raw_max, fmt.raw_max - 1, fmt.raw_min, fmt.raw_min + 1, fmt.raw_max + 1,
            fmt.raw_min - 1, 1 << fmt.w, -(1 << fmt.w)]
    vals = []
    for k in list(base) + list(ks):
        for d in (Fraction(0), Fraction(1, 2), Fraction(1, 4), Fraction(3, 4), Fraction(-1, 2)):
            vals.append(float((k + d) * lsb))
    v = np.array(vals + SPECIALS, dtype=np.float64)
    return np.concatenate([v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)])


def ref_values(x: torch.Tensor, fmt: Fixed, seed, nan: str = "ap") -> torch.Tensor:
    """fx.array(x, fmt).to_float() rounded to x's dtype (half types through float32)."""
    xn = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    vals = fx.array(xn.numpy(), fmt, seed=seed, nan=nan).to_float()
    return torch.from_numpy(vals).to(x.dtype)


def same(a: torch.Tensor, b: torch.Tensor) -> None:
    """Bitwise equality (also tells -0.0 from 0.0)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    if not torch.equal(a, b) or not torch.equal(torch.signbit(a), torch.signbit(b)):
        bad = ((a != b) | (torch.signbit(a) != torch.signbit(b))).reshape(-1).nonzero()[0, 0].item()
        raise AssertionError(f"first difference at {bad}: got {a.reshape(-1)[bad].item()!r}, "
                             f"want {b.reshape(-1)[bad].item()!r}")


def torch_backend_ok(fmt: Fixed) -> bool:
    return _kernels.torch_supports(fmt) is None


# ------------------------------------------------------------------------------------------
# registration: opcheck every op (schema, fake tensor, autograd registration, AOT dispatch)
def _x(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(3, 5, generator=g, dtype=dtype) * 4).requires_grad_()


OPCHECK_CASES = [
    ("quantize_fixed", lambda: (_x(), "ap_fixed<8,3,AP_RND,AP_SAT,0>", None, "identity", "raise")),
    ("quantize_fixed", lambda: (_x(torch.float32), "ap_fixed<8,3,AP_RND_CONV,AP_WRAP,2>", None, "clipped", "raise")),
    ("quantize_fixed", lambda: (_x(torch.bfloat16), "ap_ufixed<6,2,AP_TRN_ZERO,AP_SAT_SYM,0>", None, "clipped",
                                "ap")),
    ("quantize_fixed", lambda: (_x(), "ap_fixed<12,4,AP_STOCH,AP_SAT,0>", -5, "identity", "raise")),
    ("quantize_scaled", lambda: (_x(), torch.tensor(0.75, dtype=torch.float64, requires_grad=True),
                                 "ap_fixed<6,2,AP_RND,AP_SAT,0>", None, "raise")),
    ("quantize_scaled", lambda: (_x(torch.float32), torch.tensor([[0.5], [1.0], [3.0]], requires_grad=True),
                                 "ap_fixed<6,2,AP_STOCH,AP_SAT_SYM,0>", 11, "raise")),
    ("quantize_affine", lambda: (_x(), torch.tensor(0.25, dtype=torch.float64, requires_grad=True),
                                 torch.tensor(3), 0, -8, 7, "RND_CONV", None, "raise")),
    ("quantize_affine", lambda: (_x(torch.float32), torch.tensor([0.5, 0.3, 2.0, 1.0, 0.1], requires_grad=True),
                                 torch.tensor([0.0, 1.0, -2.0, 0.0, 4.0], requires_grad=True), 1, 0, 15, "STOCH", 3,
                                 "raise")),
]


@pytest.mark.parametrize("name,make", OPCHECK_CASES, ids=[f"{n}-{k}" for k, (n, _) in enumerate(OPCHECK_CASES)])
def test_opcheck(name, make):
    op = getattr(torch.ops.fixedpoint, name)
    result = torch.library.opcheck(op, make())
    assert set(result.values()) == {"SUCCESS"}, result


def test_ops_live_in_one_namespace():
    assert torch.ops.fixedpoint.quantize_fixed.default.name() == "fixedpoint::quantize_fixed"
    assert torch.ops.fixedpoint.quantize_scaled.default.name() == "fixedpoint::quantize_scaled"
    assert torch.ops.fixedpoint.quantize_affine.default.name() == "fixedpoint::quantize_affine"


# ------------------------------------------------------------------------------------------
# exactness: fxt.quantize == fx.array(x, fmt).to_float(), and the torch backend == the core
@settings(max_examples=400, deadline=None)
@given(fmt=formats(), ks=st.lists(st.integers(-(1 << 66), 1 << 66), max_size=6), seed=st.integers(0, 2**64 - 1))
def test_quantize_equals_fx_array_float64(fmt, ks, seed):
    x = torch.from_numpy(aimed(fmt, ks))
    same(fxt.quantize(x, fmt, seed=seed, nan="ap"), ref_values(x, fmt, seed))
    if torch_backend_ok(fmt):
        want = fx.array(x.numpy(), fmt, seed=seed, nan="ap").raw
        np.testing.assert_array_equal(_kernels.quantize_raw(x, fmt, seed).numpy(), want)
        if fmt.w <= 53 or -900 <= fmt.f <= 960:
            with fxt.use_backend("torch"):
                same(fxt.quantize(x, fmt, seed=seed, nan="ap"), ref_values(x, fmt, seed))


@HYPO
@given(fmt=formats(max_w=40), ks=st.lists(st.integers(-(1 << 42), 1 << 42), max_size=6),
       seed=st.integers(0, 2**64 - 1), dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_quantize_equals_fx_array_narrow_dtypes(fmt, ks, seed, dtype):
    with np.errstate(over="ignore"):
        x = torch.from_numpy(aimed(fmt, ks)).to(dtype)
    want = ref_values(x, fmt, seed)
    same(fxt.quantize(x, fmt, seed=seed, nan="ap"), want)
    if torch_backend_ok(fmt):
        with fxt.use_backend("torch"):
            same(fxt.quantize(x, fmt, seed=seed, nan="ap"), want)


@pytest.mark.parametrize("w", [1, 2, 3, 4])
def test_small_widths_every_mode_both_backends(w):
    """Every (q, o, n), signedness and a spread of i for w <= 4 on a dense grid of
    quarter-LSB points, ties and their neighbours, against fx.array (raw integers)."""
    for signed in (True, False):
        for i in (-1, 0, 1, w, w + 2):
            f = w - i
            k = np.arange(-(4 << w), (4 << w) + 1, dtype=np.float64)
            grid = np.ldexp(k / 4, -f)
            x = np.concatenate([grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf)])
            xt = torch.from_numpy(x)
            for q in Q_MODES:
                for o in O_MODES if signed else O_MODES[:4]:
                    for n in range(w + 1) if o in ("WRAP", "WRAP_SM") else (0,):
                        fmt = Fixed(w, i, signed=signed, q=q, o=o, n=n)
                        want = fx.array(x, fmt, seed=99).raw
                        got = _kernels.quantize_raw(xt, fmt, 99).numpy()
                        np.testing.assert_array_equal(got, want, err_msg=str(fmt))
                        same(fxt.quantize(xt, fmt, seed=99), torch.from_numpy(fx.array(x, fmt, seed=99).to_float()))


def test_w64_and_wide_fraction_formats_torch_backend():
    x = torch.from_numpy(aimed(Fixed(64, 10), [12345, -(1 << 60)]))
    for fmt in (Fixed(64, 10, q="RND_CONV", o="SAT"), Fixed(64, 70, q="STOCH", o="WRAP", n=3),
                Fixed(63, 1, signed=False, q="RND_INF", o="WRAP", n=2), Fixed(64, -1000, q="RND", o="SAT_SYM"),
                Fixed(20, 1080, q="TRN_ZERO", o="WRAP_SM")):
        want = fx.array(x.numpy(), fmt, seed=1, nan="ap").raw
        np.testing.assert_array_equal(_kernels.quantize_raw(x, fmt, 1).numpy(), want, err_msg=str(fmt))


def test_stoch_words_match_the_reference_generator():
    for seed in (0, 1, 2**63, 2**64 - 1, 0x1234_5678_9ABC_DEF0):
        u = _kernels.stoch_words(seed, 40, "cpu").numpy().view(np.uint64)
        assert [int(v) for v in u] == [ref.stoch_bits(seed, k) for k in range(40)]


def test_float32_nan_payloads_and_signalling_nan_are_read_like_the_core():
    bits = np.array([0x7FC00000, 0x7F800001, 0xFFA00000, 0x7F800000, 0xFF800000, 0x00000001, 0x80000003,
                     0x007FFFFF], dtype=np.uint32)
    x = torch.from_numpy(bits.view(np.float32).copy())
    for fmt in (Fixed(8, -200, q="RND", o="WRAP"), Fixed(12, 140, q="STOCH", o="WRAP_SM"),
                Fixed(16, 6, o="SAT"), Fixed(40, 170, q="RND_CONV", o="WRAP", n=3)):
        want = fx.array(x.numpy(), fmt, seed=4, nan="ap").raw
        np.testing.assert_array_equal(_kernels.quantize_raw(x, fmt, 4).numpy(), want, err_msg=str(fmt))


def test_result_dtype_and_shape_follow_x():
    x = torch.linspace(-3, 3, 24).reshape(2, 3, 4)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        y = fxt.quantize(x.to(dtype), "ap_fixed<8,3,AP_RND,AP_SAT>")
        assert y.dtype == dtype and y.shape == x.shape
    # a non-contiguous input
    xt = x.transpose(0, 2)
    same(fxt.quantize(xt, "ap_fixed<6,2>"), ref_values(xt.contiguous(), Fixed(6, 2), None))


def test_float32_result_is_the_float64_value_rounded():
    """ap_fixed<30,2> values need 30 bits: float32 output is the float64 value rounded."""
    x = torch.tensor([1 + 2.0**-27, -(1 + 3 * 2.0**-28)], dtype=torch.float64)
    fmt = Fixed(30, 2, q="RND")
    exact = fxt.quantize(x, fmt)
    assert exact.tolist() == [1 + 2.0**-27, -(1 + 3 * 2.0**-28)]
    same(fxt.quantize(x.float(), fmt), exact.float())


# ------------------------------------------------------------------------------------------
# gradients
def test_identity_ste_passes_the_gradient_through():
    x = (torch.randn(50, dtype=torch.float64) * 20).requires_grad_()
    g = torch.randn(50, dtype=torch.float64)
    fxt.quantize(x, "ap_fixed<6,2,AP_RND,AP_SAT>").backward(g)
    same(x.grad, g)


def _clip_mask_reference(x: np.ndarray, fmt: Fixed) -> np.ndarray:
    """Whether the rounded value of x lies in fmt's range (SAT_SYM: [-max, max]): the
    rounding comes from fx.array into a wide saturating format with the same f."""
    lo, hi = fmt.raw_min, fmt.raw_max
    if fmt.o.value == "SAT_SYM" and fmt.signed and fmt.w > 1:
        lo = -hi
    if fmt.q.value == "STOCH":  # the values that always land in range: lo <= x 2**f <= hi
        lsb = Fraction(2) ** -fmt.f
        return np.array([lo * lsb <= Fraction(float(v)) <= hi * lsb if np.isfinite(v) else False for v in x])
    wide = Fixed(fmt.w + 12, fmt.i + 12, signed=True, q=fmt.q, o="SAT")
    r = fx.array(x, wide).raw
    return (r >= lo) & (r <= hi) & np.isfinite(x)


@HYPO
@given(fmt=formats(max_w=40), ks=st.lists(st.integers(-(1 << 42), 1 << 42), max_size=4),
       dtype=st.sampled_from([torch.float64, torch.float32]))
def test_clipped_ste_zeroes_the_gradient_where_the_value_overflowed(fmt, ks, dtype):
    with np.errstate(over="ignore"):
        x64 = aimed(fmt, ks)
        x64 = x64[np.isfinite(x64) & (np.abs(x64) < 2.0 ** (fmt.i + 8))]
        x = torch.from_numpy(x64).to(dtype).requires_grad_()
    fxt.quantize(x, fmt, seed=3, ste="clipped").backward(torch.ones_like(x))
    want = _clip_mask_reference(x.detach().double().numpy(), fmt)
    np.testing.assert_array_equal(x.grad.numpy(), want.astype(np.float64).astype(x.grad.numpy().dtype))


def test_clipped_ste_equals_torch_fake_quantize():
    """RND_CONV/SAT with scale 2**-f is torch's fake_quantize_per_tensor_affine exactly,
    forward and backward (its mask is "rounded value within [qmin, qmax]")."""
    g = torch.Generator().manual_seed(1)
    for w, i in ((8, 3), (4, 0), (12, 10)):
        f = w - i
        lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        k = torch.arange(lo - 6, hi + 7, dtype=torch.float32)
        x = torch.cat([(k + 0.5) * 2.0**-f, k * 2.0**-f, torch.randn(300, generator=g) * 2.0**i])
        a = x.clone().requires_grad_()
        b = x.clone().requires_grad_()
        ya = fxt.quantize(a, Fixed(w, i, q="RND_CONV", o="SAT"), ste="clipped")
        yb = torch.fake_quantize_per_tensor_affine(b, 2.0**-f, 0, lo, hi)
        same(ya, yb)
        up = torch.randn(x.shape, generator=g)
        ya.backward(up)
        yb.backward(up)
        same(a.grad, b.grad)


def _lsq_reference(x, s, fmt):
    """LSQ with autograd: out = s * (v [in] + (Q(v) - v [in]).detach()), v = x / s."""
    v = x / s
    inside = torch.from_numpy(_clip_mask_reference(v.detach().numpy(), fmt))
    qv = torch.from_numpy(fx.array(v.detach().numpy(), fmt).to_float())
    vin = torch.where(inside, v, torch.zeros_like(v))
    return s * (vin + (qv - vin).detach())


def test_lsq_scale_forward_and_gradients():
    g = torch.Generator().manual_seed(2)
    fmt = Fixed(6, 2, q="RND", o="SAT")
    x = torch.randn(4, 30, generator=g, dtype=torch.float64) * 3
    for shape in ((), (4, 1)):
        s = (torch.rand(shape, generator=g, dtype=torch.float64) + 0.4).requires_grad_()
        xa = x.clone().requires_grad_()
        xb = x.clone().requires_grad_()
        sb = s.detach().clone().requires_grad_()
        ya = fxt.quantize(xa, fmt, ste="lsq", scale=s)
        yb = _lsq_reference(xb, sb, fmt)
        same(ya, (torch.from_numpy(fx.array((x / s.detach()).numpy(), fmt).to_float()) * s.detach()))
        up = torch.randn(x.shape, generator=g, dtype=torch.float64)
        ya.backward(up)
        yb.backward(up)
        inside = torch.from_numpy(_clip_mask_reference((x / s.detach()).numpy(), fmt))
        same(xa.grad, up * inside)
        # float gradients (the reference's s * (1/s) is not exactly 1), not bit-exact results
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(s.grad, sb.grad, rtol=1e-12, atol=1e-12)


def test_lsq_scale_gradcheck_where_the_estimator_is_the_true_derivative():
    """With every element saturated, out = s * max (or s * min): linear in s, and the LSQ
    gradient (out - [in range] x) / s is its true derivative, so gradcheck applies."""
    fmt = Fixed(5, 1, q="RND", o="SAT")
    x = torch.tensor([[10.0, -7.0, 30.0], [-9.0, 8.0, 100.0]], dtype=torch.float64)
    for s0 in (torch.tensor(0.7, dtype=torch.float64), torch.tensor([[0.3], [1.1]], dtype=torch.float64)):
        s = s0.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda s: fxt.quantize_scaled(x, s, fmt), (s,))
    # the affine op: saturated inputs, gradients w.r.t. scale and a float zero point
    sc = torch.tensor([0.2, 0.5], dtype=torch.float64, requires_grad=True)
    zp = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    xs = torch.tensor([[50.0, -40.0], [60.0, 70.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: fxt.quantize_affine(xs, s, zp.detach(), -8, 7, axis=1), (sc,))
    # zero_point is rounded in the forward; its STE gradient is -S where clamped
    fxt.quantize_affine(xs, sc.detach(), zp, -8, 7, axis=1).sum().backward()
    same(zp.grad, -2 * sc.detach())


def test_lsq_frac_bits_forward_is_exact_and_gradient_is_hgq_like():
    g = torch.Generator().manual_seed(3)
    fmt = Fixed(8, 3, q="RND_CONV", o="SAT")
    x = (torch.randn(200, generator=g) * 6).requires_grad_()
    fb = torch.tensor(4.3, requires_grad=True)  # rounds to 4 fraction bits: ap_fixed<8,4>
    y = fxt.quantize(x, fmt, ste="lsq", frac_bits=fb)
    same(y, ref_values(x.detach(), fmt.replace(i=4), None))
    up = torch.randn(200, generator=g)
    y.backward(up)
    inside = torch.from_numpy(_clip_mask_reference(x.detach().double().numpy(), fmt.replace(i=4)))
    # dL/df = -ln2 * sum(g * (y - [in range] x))  (HGQ's -ln2 * delta inside, -ln2 * y saturated)
    want = -math.log(2) * (up.double() * (y.detach().double() - torch.where(inside, x.detach().double(), 0))).sum()
    torch.testing.assert_close(fb.grad.double(), want, rtol=1e-5, atol=1e-5)
    same(x.grad, up * inside.float())


# ------------------------------------------------------------------------------------------
# stochastic rounding
STOCH_FMT = Fixed(16, 6, q="STOCH", o="SAT")


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_stoch_is_reproducible_and_seed_dependent(backend):
    x = torch.randn(5000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with fxt.use_backend(backend):
        a = fxt.quantize(x, STOCH_FMT, seed=123)
        same(a, fxt.quantize(x, STOCH_FMT, seed=123))
        same(a, ref_values(x, STOCH_FMT, 123))
        assert not torch.equal(a, fxt.quantize(x, STOCH_FMT, seed=124))
        assert not torch.equal(fxt.quantize(x, STOCH_FMT), fxt.quantize(x, STOCH_FMT))  # seed=None: fresh


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_stoch_is_unbiased(backend):
    """Per bin of the discarded fraction r (8 bins of >= 1000 values), the summed rounding
    error sum(up - r) stays within 6 sigma, sigma = sqrt(sum r (1 - r)). For an unbiased
    rounder a false alarm has probability < 2e-9 per bin; round-to-nearest and truncation
    are off by > 60 sigma in every bin at this size."""
    x = torch.rand(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 20 - 10
    with fxt.use_backend(backend):
        y = fxt.quantize(x, STOCH_FMT, seed=2024)
    t = x * 2.0**10
    fl = torch.floor(t)
    r = t - fl  # exact here: |t| >= 1/2 apart from a negligible few, and only used for statistics
    up = (y * 2.0**10 - fl).to(torch.float64)
    assert bool(((up == 0) | (up == 1)).all())
    edges = torch.linspace(0, 1, 9, dtype=torch.float64)
    for b in range(8):
        sel = (r >= edges[b]) & (r < edges[b + 1])
        assert int(sel.sum()) >= 1000
        err = float((up[sel] - r[sel]).sum())
        sigma = math.sqrt(float((r[sel] * (1 - r[sel])).sum()))
        assert abs(err) <= 6 * sigma, (b, err, sigma)


# ------------------------------------------------------------------------------------------
# affine integer quantization
@pytest.mark.parametrize("per_channel", [False, True])
def test_affine_equals_torch_fake_quantize(per_channel):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(6, 40, generator=g) * 3
    x[0, :8] = torch.tensor([0.5, 1.5, -0.5, -2.5, 0.25, 3.75, 100.0, -100.0])  # ties and clamps
    if per_channel:
        scale = torch.tensor([0.5, 0.25, 1.0, 0.125, 2.0, 0.0625])
        zp = torch.tensor([0, 3, -5, 10, 0, -1], dtype=torch.int32)
        a = x.clone().requires_grad_()
        ya = fxt.quantize_affine(a, scale, zp, -16, 15, "RND_CONV", axis=0)
        b = x.clone().requires_grad_()
        yb = torch.fake_quantize_per_channel_affine(b, scale, zp, 0, -16, 15)
    else:
        a = x.clone().requires_grad_()
        ya = fxt.quantize_affine(a, 0.25, 3, 0, 255, "RND_CONV")
        b = x.clone().requires_grad_()
        yb = torch.fake_quantize_per_tensor_affine(b, 0.25, 3, 0, 255)
    same(ya, yb)
    up = torch.randn(x.shape, generator=g)
    ya.backward(up)
    yb.backward(up)
    same(a.grad, b.grad)


@pytest.mark.parametrize("q", Q_MODES)
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_affine_every_rounding_mode(q, backend):
    """q = clamp(round_q(x/S) + Z, qmin, qmax): the rounding is fx.array into an integer
    format (STOCH keyed by the flat index), the clamp is applied after adding Z."""
    lsb = 0.125
    k = np.arange(-80, 81, dtype=np.float64)
    x = np.concatenate([(k + 0.5) * lsb, (k + 0.25) * lsb, k * lsb])
    z = 5
    want_q = np.clip(fx.array(x / lsb, Fixed(64, 64, q=q, o="SAT"), seed=8).raw + z, -20, 37)
    with fxt.use_backend(backend):
        got = fxt.quantize_affine(torch.from_numpy(x), lsb, z, -20, 37, q, seed=8)
    same(got, torch.from_numpy((want_q - z) * lsb))


# ------------------------------------------------------------------------------------------
# errors (messages pinned)
def test_error_messages():
    x = torch.randn(4)
    with pytest.raises(TypeError, match=r"fxt.quantize: x must be a floating-point tensor .* got torch.int64"):
        fxt.quantize(torch.arange(4), "ap_fixed<8,3>")
    with pytest.raises(TypeError, match=r"fxt.quantize: x must be a floating-point tensor .* got torch.complex64"):
        fxt.quantize(torch.randn(4, dtype=torch.complex64), "ap_fixed<8,3>")
    with pytest.raises(TypeError, match=r"fxt.quantize: x must be a torch.Tensor, got ndarray"):
        fxt.quantize(np.zeros(3), "ap_fixed<8,3>")
    with pytest.raises(ValueError, match=r"fxt.quantize: torch ops support formats with w <= 64, got ap_fixed<65,3>"):
        fxt.quantize(x, "ap_fixed<65,3>")
    with pytest.raises(ValueError, match=r"Fixed.parse: cannot parse 'ap_fixd<8,3>'"):
        fxt.quantize(x, "ap_fixd<8,3>")
    with pytest.raises(TypeError, match=r"fxt.quantize: fmt must be a fx.Fixed or a type string"):
        fxt.quantize(x, 8)
    with pytest.raises(ValueError, match=r"fxt.quantize: ste must be one of identity, clipped, lsq, got 'fancy'"):
        fxt.quantize(x, "ap_fixed<8,3>", ste="fancy")
    with pytest.raises(ValueError, match=r"fxt.quantize: nan must be 'raise' or 'ap', got 'skip'"):
        fxt.quantize(x, "ap_fixed<8,3>", nan="skip")
    with pytest.raises(ValueError, match=r"fxt.quantize: seed must be in \[0, 2\*\*64\), got -1"):
        fxt.quantize(x, "ap_fixed<8,3,AP_STOCH>", seed=-1)
    with pytest.raises(ValueError, match=r"fxt.quantize: ste='lsq' needs exactly one of scale= or frac_bits="):
        fxt.quantize(x, "ap_fixed<8,3>", ste="lsq")
    with pytest.raises(ValueError, match=r"fxt.quantize: scale= and frac_bits= need ste='lsq', got ste='identity'"):
        fxt.quantize(x, "ap_fixed<8,3>", scale=torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"fxt.set_backend: backend must be one of auto, torch, got 'cuda'"):
        fxt.set_backend("cuda")


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_nan_raises_naming_the_index_unless_nan_ap(backend):
    x = torch.tensor([[0.5, 1.0], [float("nan"), 2.0]])
    with fxt.use_backend(backend):
        with pytest.raises(ValueError, match=r"fxt.quantize: NaN at index \(1, 0\) cannot be quantized into "
                                             r"ap_fixed<8,3,AP_RND,AP_SAT,0>; pass nan='ap'"):
            fxt.quantize(x, "ap_fixed<8,3,AP_RND,AP_SAT>")
        y = fxt.quantize(x, "ap_fixed<8,3,AP_RND,AP_SAT>", nan="ap")
    assert y[1, 0].item() == 3.96875  # ap_fixed reads NaN as a huge positive value: SAT gives max


def test_torch_backend_format_limits_and_device_errors():
    with fxt.use_backend("torch"):
        with pytest.raises(NotImplementedError, match=r"fxt.quantize: the torch backend cannot compute this format: "
                                                      r"64-bit unsigned formats do not fit int64 tensors"):
            fxt.quantize(torch.randn(3), "ap_ufixed<64,10>")
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"fxt.quantize_scaled: scale is on meta but x is on cpu"):
        fxt.quantize_scaled(x, torch.ones((), device="meta"), "ap_fixed<8,3>")
    with pytest.raises(ValueError, match=r"fxt.quantize_affine: zero_point is on meta but x is on cpu"):
        fxt.quantize_affine(x, torch.tensor(1.0), torch.tensor(0, device="meta"))
    with pytest.raises(ValueError, match=r"fxt.quantize_scaled: scale of shape \(4,\) must broadcast to x's shape "
                                         r"\(3, 4\)|fxt.quantize_scaled: scale of shape \(5,\)"):
        fxt.quantize_scaled(x, torch.ones(5), "ap_fixed<8,3>")
    with pytest.raises(ValueError, match=r"fxt.quantize_scaled: scale must be positive and finite, got min -1.0"):
        fxt.quantize_scaled(x, torch.tensor(-1.0), "ap_fixed<8,3>")
    with pytest.raises(TypeError, match=r"fxt.quantize_scaled: scale must be a floating-point tensor"):
        fxt.quantize_scaled(x, torch.tensor(2), "ap_fixed<8,3>")
    with pytest.raises(ValueError, match=r"fxt.quantize_affine: need qmin < qmax, got qmin=5 qmax=5"):
        fxt.quantize_affine(x, 0.5, 0, 5, 5)
    with pytest.raises(ValueError, match=r"fxt.quantize_affine: per-channel scale has 2 entries but x has 3 "
                                         r"channels along axis 0"):
        fxt.quantize_affine(x, torch.ones(2), torch.zeros(2), axis=0)
    with pytest.raises(ValueError, match=r"fxt.quantize_affine: unknown rounding mode 'ROUND'"):
        fxt.quantize_affine(x, 0.5, 0, q="ROUND")
    with pytest.raises(TypeError, match=r"fxt.quantize_affine: x must be a floating-point tensor"):
        fxt.quantize_affine(torch.arange(3), 0.5, 0)


def test_meta_tensors_go_through_the_fake_kernel():
    x = torch.empty(2, 3, device="meta")
    y = torch.ops.fixedpoint.quantize_fixed(x, "ap_fixed<8,3,AP_RND,AP_SAT,0>", None, "identity", "raise")
    assert y.device.type == "meta" and y.shape == (2, 3)
