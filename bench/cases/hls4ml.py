"""hls4ml: bit-exact emulation against hls4ml's compiled C-simulation, and the bit scan.

Cases (the demo's MLP: 8-16-3 with ReLU, trained with NumPy on built-in blobs, seed 0):

- ``emulate_vs_predict``: 20,000 float32 samples through the scanned model.
  - ``ours``: ``fx.hls4ml.emulate(hls_model, X)``.
  - ``hls4ml`` (baseline): ``hls_model.predict(X)`` (the compiled C-simulation; the compile,
    about 10 s, is set-up and not timed here).
  Check: float32 bits identical to the C-simulation's output (computed once in set-up).
- ``scan``: the whole ``fx.scan`` of the demo model on 3,000 calibration samples (tolerance
  0.01): ``ours`` (baseline) is the greedy layer-wise mode, ``ours_global`` the global mode.
  Check: the scan meets its tolerance, recomputed from a fresh emulation of the returned
  formats. hls4ml has no scanner (each candidate would be a compile).
- ``hls4ml_compile``: converting and compiling the scanned configuration with hls4ml, timed once
  per repeat (reported, no goal).

Goals (reported, never asserted): emulate >= 100x the C-simulation's samples/s; the scan under
10 s.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np

from bench.harness import Case, Impl, Skip, WrongResult, import_fixedpoint

SUITE = "hls4ml"
N_EMULATE = 20_000
N_CALIB = 3_000
EMULATE_GOAL = 100.0
SCAN_GOAL_S = 10.0


def _model(fx):
    from fixedpoint import _demo_data

    X, y = _demo_data.blobs(N_CALIB, seed=0, spread=2.2)
    (W1, b1), (W2, b2) = _demo_data.train_mlp(X, y, seed=0)
    return fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)]), X, y


def _compile(net, res, outdir):
    try:
        import hls4ml
        import torch
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None
    if shutil.which("g++") is None:
        raise Skip("g++ is missing")
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for lin, layer in zip((model[0], model[2]), net.layers):
            lin.weight.copy_(torch.from_numpy(layer.weight.T.astype(np.float32)))
            lin.bias.copy_(torch.from_numpy(layer.bias.astype(np.float32)))
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=res.to_hls4ml_config(), output_dir=outdir,
                                                      backend="Vivado", io_type="io_parallel")
    hm.compile()
    return hm


def cases(quick: bool) -> list[Case]:
    n = 4_000 if quick else N_EMULATE
    state: dict[str, Any] = {}

    def setup():
        if "hm" not in state:
            fx = import_fixedpoint()
            net, X, y = _model(fx)
            res = fx.scan(net, X, y, tolerance=0.01)
            hm = _compile(net, res, tempfile.mkdtemp(prefix="fxbench-hls4ml-"))
            xs = np.random.default_rng(1).normal(0, 2.5, (n, 8)).astype(np.float32)
            state.update(fx=fx, net=net, res=res, hm=hm, xs=xs, want=hm.predict(xs))
        return state

    def check_bits(out):
        want = state["want"]
        if out.shape != want.shape or not np.array_equal(out.view(np.uint32), want.view(np.uint32)):
            bad = int(np.count_nonzero(out.view(np.uint32) != want.view(np.uint32))) if out.shape == want.shape else -1
            raise WrongResult(f"{bad} of {want.size} outputs differ from the C-simulation")

    def ours_emulate():
        s = setup()
        return Impl(run=lambda: s["fx"].hls4ml.emulate(s["hm"], s["xs"]), check=check_bits)

    def hls4ml_predict():
        s = setup()
        return Impl(run=lambda: s["hm"].predict(s["xs"]), check=check_bits)

    def ours_scan(mode="layer"):
        fx = import_fixedpoint()
        net, X, y = _model(fx)

        def check(res):
            acc = float(np.mean(np.argmax(net.emulate(X, res.config).to_float(), axis=1) == y))
            if not (acc == res.metric_fixed and acc >= res.metric_float - 0.01):
                raise WrongResult(f"scan missed its tolerance: {acc} (reported {res.metric_fixed}) vs float "
                                  f"{res.metric_float}")

        return Impl(run=lambda: fx.scan(net, X, y, tolerance=0.01, mode=mode, progress=False), check=check)

    def hls4ml_compile():
        s = setup()
        return Impl(run=lambda: _compile(s["net"], s["res"], tempfile.mkdtemp(prefix="fxbench-hls4ml-")),
                    check=lambda hm: check_bits(hm.predict(s["xs"])))

    return [
        Case(SUITE, "emulate_vs_predict", n, {"ours": ours_emulate, "hls4ml": hls4ml_predict}, baseline="hls4ml"),
        Case(SUITE, "scan", N_CALIB, {"ours": ours_scan, "ours_global": lambda: ours_scan("global")},
             baseline="ours"),
        Case(SUITE, "hls4ml_compile", 1, {"hls4ml": hls4ml_compile}, baseline="hls4ml"),
    ]


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not records:
        return []
    t_low = min(r["threads"] for r in records)
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}
    out = []
    ours = by.get(("emulate_vs_predict", "ours", t_low))
    ratio = ours.get("ratio_vs_baseline") if ours else None
    out.append({"suite": SUITE, "case": "emulate_vs_predict", "threads": t_low,
                "goal": f"emulate >= {EMULATE_GOAL:g}x hls4ml predict samples/s",
                "value": "-" if not ratio else f"{1 / ratio:.3g}x", "met": None if not ratio else 1 / ratio >= EMULATE_GOAL})
    scan = by.get(("scan", "ours", t_low))
    med = scan["median_s"] if scan and scan["status"] == "ok" else None
    out.append({"suite": SUITE, "case": "scan", "threads": t_low, "goal": f"whole scan < {SCAN_GOAL_S:g} s",
                "value": "-" if med is None else f"{med:.3g} s", "met": None if med is None else med < SCAN_GOAL_S})
    return out
