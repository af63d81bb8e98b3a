"""scan: the whole post-training bit scan of graph models (fx.scan on a PyTorch module).

Cases (``ours`` = ``fx.scan(module, X, y, input_shape=..., tolerance=0.01)``: hls4ml's PyTorch
conversion, profiling, every knob searched by bit-exact emulation, the final verification):

- ``demo_cnn``: the ``fixedpoint demo --model cnn`` network (conv-relu-pool-conv-relu-pool-
  dense-softmax) trained on scikit-learn's 8x8 digits, 898 calibration images.
- ``jet_softmax``: the jet tagger 16-64-32-32-5 with ReLUs and softmax (random weights, seed 0;
  labels from the float model), 20,000 calibration samples (``--quick``: 4,000).

The peer ``hls4ml_compile`` converts and compiles the scanned configuration once (the work an
hls4ml user repeats for every candidate without an emulator); the goals page reports how long
the scan's candidate count would take at that cost. Check: the scan meets its tolerance, and
``fx.hls4ml.emulate`` of the model converted again with the chosen types (``fx.hls4ml.apply``)
reproduces the scan's own emulation bit for bit.

Goals (reported, never asserted): each whole scan < 10 s.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, import_fixedpoint

SUITE = "scan"
SCAN_GOAL_S = 10.0
TOLERANCE = 0.01
_EVALS: dict = {}  # case -> evaluations of the last scan (for the goals page)


def _need():
    try:
        import hls4ml  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None


def _demo_cnn():
    _need()
    try:
        from fixedpoint import _demo_cnn
        X, y = _demo_cnn.digits(0)
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None
    n = len(X) // 2
    model = _demo_cnn.train_cnn(X[:n], y[:n], seed=0)
    return model, X[:n], y[:n], (1, 8, 8)


def _jet(n: int):
    _need()
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    m = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                      nn.Linear(32, 5), nn.Softmax(dim=1)).eval()
    X = np.random.default_rng(0).normal(0, 1, (n, 16)).astype(np.float32)
    with torch.no_grad():
        y = m(torch.as_tensor(X)).argmax(1).numpy()
    return m, X, y, (16,)


def _case(name: str, make, n: int, quick: bool) -> Case:
    state: dict[str, Any] = {}

    def setup():
        if "model" not in state:
            model, X, y, shape = make()
            state.update(model=model, X=X, y=y, shape=shape, fx=import_fixedpoint())
        return state

    def run_scan():
        s = setup()
        res = s["fx"].scan(s["model"], s["X"], s["y"], input_shape=s["shape"], tolerance=TOLERANCE, progress=False)
        _EVALS[name] = res.evaluations
        return res

    def check(res):
        s = setup()
        fx = s["fx"]
        if not res.metric_fixed >= res.metric_float - TOLERANCE:
            raise WrongResult(f"scan missed its tolerance: {res.metric_fixed} vs float {res.metric_float}")
        hm = fx.hls4ml.apply(res.hls_model, res)
        X = s["X"]
        Xh = np.ascontiguousarray(np.moveaxis(X, 1, -1)) if X.ndim == 4 else X
        again = fx.hls4ml.emulate(hm, Xh.astype(np.float64))
        if not np.array_equal(again.view(np.uint64), res.emulated[0].view(np.uint64)):
            raise WrongResult("the model converted with the chosen types emulates to other bits than the scan")
        state["res"] = res

    def ours():
        return Impl(run=run_scan, check=check)

    def hls4ml_compile():
        if quick:
            raise Skip("--quick: the compile (15-30 s) is measured in full runs; tests compare the C-sim")
        s = setup()
        if shutil.which("g++") is None:
            raise Skip("g++ is missing")
        if "res" not in state:
            res = run_scan()
            check(res)
        fx = s["fx"]

        def run():
            hm = fx.hls4ml.apply(state["res"].hls_model, state["res"],
                                 output_dir=tempfile.mkdtemp(prefix="fxbench-scan-"))
            hm.compile()
            return hm

        def check_hm(hm):
            X = s["X"][:256]
            Xh = np.ascontiguousarray(np.moveaxis(X, 1, -1)) if X.ndim == 4 else X
            want = hm.predict(Xh.astype(np.float32))
            got = fx.hls4ml.emulate(hm, Xh.astype(np.float32))
            if not np.array_equal(want.view(np.uint32), got.view(np.uint32)):
                raise WrongResult("the compiled C-simulation differs from the emulation")

        return Impl(run=run, check=check_hm, note="one convert + compile of the scanned config")

    return Case(SUITE, name, n, {"ours": ours, "hls4ml_compile": hls4ml_compile}, baseline="ours")


def cases(quick: bool) -> list[Case]:
    n_jet = 4_000 if quick else 20_000
    return [_case("demo_cnn", _demo_cnn, 898, quick), _case("jet_softmax", lambda: _jet(n_jet), n_jet, quick)]


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not records:
        return []
    t_low = min(r["threads"] for r in records)
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}
    out = []
    for case in ("demo_cnn", "jet_softmax"):
        rec = by.get((case, "ours", t_low))
        med = rec["median_s"] if rec and rec["status"] == "ok" else None
        comp = by.get((case, "hls4ml_compile", t_low))
        c_med = comp["median_s"] if comp and comp["status"] == "ok" else None
        evals = _EVALS.get(case)
        extra = ""
        if evals and c_med:
            extra = f"; {evals} candidates, as hls4ml compiles ~{evals * c_med / 60:.1f} min"
        out.append({"suite": SUITE, "case": case, "threads": t_low, "goal": f"whole scan < {SCAN_GOAL_S:g} s",
                     "value": "-" if med is None else f"{med:.3g} s{extra}",
                     "met": None if med is None else med < SCAN_GOAL_S})
    return out
