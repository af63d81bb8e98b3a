"""torch: fake quantization forward + backward, and a quantized-layer training step.

Cases (ratios are against PyTorch's own float / fake-quant ops in the same process):

- ``quantize_fwd_bwd``: 1,000,000 normal(0,4) float32 values (seed 20240607) fake-quantized
  into ``ap_fixed<16,6,AP_RND_CONV,AP_SAT>`` and back-propagated with a fixed random upstream
  gradient.

  - ``ours``: ``fxt.quantize(x, fmt, ste="clipped")`` then ``y.backward(g)``.
  - ``ours_identity``: the same with ``ste="identity"`` (no mask in the backward).
  - ``torch`` (baseline): ``torch.fake_quantize_per_tensor_affine(x, 2**-10, 0, -2**15,
    2**15 - 1)`` then ``y.backward(g)``. Round-half-even with scale 2**-10 is exactly
    RND_CONV/SAT, and its backward is the same masked straight-through estimator.

  Checks (exact): the forward against ``clip(np.round(x * 2**10)) * 2**-10`` (exact in
  float64); the gradient against ``g`` masked where ``round(x * 2**10)`` is in
  [-2**15, 2**15 - 1] (``ours_identity``: ``g`` itself).

- ``quantlinear_step``: one training step (forward, backward of ``(y * g).sum()``, SGD
  update) of a 512 -> 256 layer on a batch of 256 float32 rows.

  - ``ours``: ``fxt.QuantLinear`` with ``weight_fmt=ap_fixed<8,2,AP_RND,AP_SAT>``,
    ``input_fmt=ap_fixed<10,4,AP_RND,AP_SAT>``, ``output_fmt=ap_fixed<16,6,AP_RND,AP_SAT>``.
  - ``torch`` (baseline): ``nn.Linear`` with the same initial weights.

  Checks (exact, first call): the output against the quantizers composed with ``F.linear``
  (the quantizers computed by ``fx.array``), and the weight gradient against
  ``g.T @ Q_in(x)`` (``g.T @ x`` for nn.Linear) computed by the same torch matmul.

Goals (reported, never asserted): ``ours`` fwd+bwd within 2x of fake_quantize; the
QuantLinear step within 3x of nn.Linear.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.model import Case, Impl, WrongResult, expect_equal, import_fixedpoint

SUITE = "torch"
N = 1_000_000
DATA_SEED = 20240607
W, I = 16, 6
F = W - I
RAW_MIN, RAW_MAX = -(2 ** (W - 1)), 2 ** (W - 1) - 1
BATCH, IN, OUT = 256, 512, 256
LR = 1e-6


def _torch() -> Any:
    import torch  # noqa: PLC0415

    return torch


def _fxt() -> Any:
    import_fixedpoint()
    import fixedpoint.torch as fxt  # noqa: PLC0415

    return fxt


def _set_torch_threads(n: int) -> None:
    _torch().set_num_threads(n)


# --------------------------------------------------------------------------------------------
# quantize_fwd_bwd
class _QuantData:
    def __init__(self) -> None:
        rng = np.random.default_rng(DATA_SEED)
        self.x = rng.normal(0.0, 4.0, N).astype(np.float32)
        self.g = rng.normal(0.0, 1.0, N).astype(np.float32)
        t = self.x.astype(np.float64) * 2.0**F  # exact
        r = np.round(t)  # half to even, exact
        self.inside = (r >= RAW_MIN) & (r <= RAW_MAX)
        self.want_y = (np.clip(r, RAW_MIN, RAW_MAX) * 2.0**-F).astype(np.float32)
        self.want_g_clipped = np.where(self.inside, self.g, np.float32(0)).astype(np.float32)

    def check(self, out: Any, clipped: bool) -> None:
        y, grad = out
        expect_equal(y.detach().numpy(), self.want_y, self.x, what="forward")
        want = self.want_g_clipped if clipped else self.g
        got = grad.numpy()
        if not np.array_equal(np.abs(got), np.abs(want)) or not np.array_equal(got == 0, want == 0):
            expect_equal(got, want, self.x, what="gradient")


def _quantize_impl(data: _QuantData, peer: str) -> Impl:
    torch = _torch()
    x = torch.from_numpy(data.x).requires_grad_()
    g = torch.from_numpy(data.g)
    if peer == "torch":

        def fwd(t):
            return torch.fake_quantize_per_tensor_affine(t, 2.0**-F, 0, RAW_MIN, RAW_MAX)

        clipped = True
    else:
        fxt = _fxt()
        fmt = f"ap_fixed<{W},{I},AP_RND_CONV,AP_SAT>"
        ste = "clipped" if peer == "ours" else "identity"

        def fwd(t):
            return fxt.quantize(t, fmt, ste=ste)

        clipped = ste == "clipped"

    def run():
        x.grad = None
        y = fwd(x)
        y.backward(g)
        return y, x.grad

    return Impl(run=run, check=lambda out: data.check(out, clipped), set_threads=_set_torch_threads,
                note="" if clipped else "identity STE: the gradient is not masked")


# --------------------------------------------------------------------------------------------
# quantlinear_step
FMT_W = "ap_fixed<8,2,AP_RND,AP_SAT>"
FMT_IN = "ap_fixed<10,4,AP_RND,AP_SAT>"
FMT_OUT = "ap_fixed<16,6,AP_RND,AP_SAT>"


def _linear_impl(peer: str) -> Impl:
    torch = _torch()
    rng = np.random.default_rng(DATA_SEED + 1)
    x = torch.from_numpy((rng.normal(0.0, 2.0, (BATCH, IN))).astype(np.float32))
    g = torch.from_numpy(rng.normal(0.0, 1.0, (BATCH, OUT)).astype(np.float32))
    w0 = torch.from_numpy((rng.normal(0.0, 0.05, (OUT, IN))).astype(np.float32))
    b0 = torch.from_numpy((rng.normal(0.0, 0.05, OUT)).astype(np.float32))
    fx = import_fixedpoint()
    if peer == "torch":
        layer = torch.nn.Linear(IN, OUT)
        xin = x
        want_y = torch.nn.functional.linear(x, w0, b0)
    else:
        fxt = _fxt()
        layer = fxt.QuantLinear(IN, OUT, weight_fmt=FMT_W, input_fmt=FMT_IN, output_fmt=FMT_OUT)

        def fq(t, fmt):
            return torch.from_numpy(fx.array(t.numpy(), fmt).to_float()).float()

        xin = fq(x, FMT_IN)
        want_y = fq(torch.nn.functional.linear(xin, fq(w0, FMT_W), b0), FMT_OUT)
    with torch.no_grad():
        layer.weight.copy_(w0)
        layer.bias.copy_(b0)
    want_gw = g.t().mm(xin)
    params = [layer.weight, layer.bias]

    def run():
        for p in params:
            p.grad = None
        y = layer(x)
        (y * g).sum().backward()
        gw = layer.weight.grad
        with torch.no_grad():
            for p in params:
                p.sub_(LR * p.grad)
        return y, gw

    checked = []

    def check(out: Any) -> None:
        if checked:  # later calls see updated weights; the first call is the verified one
            return
        checked.append(True)
        y, gw = out
        expect_equal(y.detach().numpy(), want_y.numpy(), what="output")
        if not torch.equal(gw, want_gw):
            raise WrongResult(f"weight gradient differs from g.T @ input: max |diff| "
                              f"{(gw - want_gw).abs().max().item()}")

    return Impl(run=run, check=check, set_threads=_set_torch_threads)


# --------------------------------------------------------------------------------------------
def cases(quick: bool = False) -> list[Case]:
    data: list[_QuantData] = []

    def quant_data() -> _QuantData:
        if not data:
            data.append(_QuantData())
        return data[0]

    quant = Case(
        suite=SUITE,
        name="quantize_fwd_bwd",
        n=N,
        baseline="torch",
        peers={p: (lambda p=p: _quantize_impl(quant_data(), p)) for p in ("ours", "ours_identity", "torch")},
        description=f"{N:,} normal(0,4) float32 (seed {DATA_SEED}) -> ap_fixed<{W},{I},AP_RND_CONV,AP_SAT>, "
        "forward + backward",
    )
    linear = Case(
        suite=SUITE,
        name="quantlinear_step",
        n=BATCH * IN * OUT,
        baseline="torch",
        peers={p: (lambda p=p: _linear_impl(p)) for p in ("ours", "torch")},
        description=f"training step of a {IN}->{OUT} layer, batch {BATCH}, float32 (QuantLinear: "
        f"w {FMT_W}, in {FMT_IN}, out {FMT_OUT})",
    )
    return [quant, linear]


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """fxt.quantize fwd+bwd within 2x of fake_quantize_per_tensor_affine; the QuantLinear
    training step within 3x of nn.Linear; at the lowest thread count run. Reported only."""
    if not records:
        return []
    t = min(r["threads"] for r in records)
    by = {(r["case"], r["peer"]): r for r in records if r["threads"] == t}
    out = []
    for case, bound, what in (
        ("quantize_fwd_bwd", 2.0, "fxt.quantize fwd+bwd <= 2x fake_quantize_per_tensor_affine"),
        ("quantlinear_step", 3.0, "QuantLinear step <= 3x nn.Linear"),
    ):
        rec = by.get((case, "ours"))
        ratio = rec["ratio_vs_baseline"] if rec is not None and rec["status"] == "ok" else None
        out.append({
            "suite": SUITE,
            "case": case,
            "threads": t,
            "goal": f"{what} ({t} thread{'s' * (t > 1)})",
            "value": "-" if ratio is None else f"{ratio:.3g}x",
            "met": None if ratio is None else bool(ratio <= bound),
        })
    return out
