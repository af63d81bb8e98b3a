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
- The model zoo (random weights, seed 0; ``ours`` = ``fx.hls4ml.emulate``, ``hls4ml`` =
  ``predict``, both checked bit for bit against one ``predict`` run in set-up):
  - ``jet_softmax``: the tutorial's jet tagger 16-64-32-32-5 with ReLUs and its softmax, under
    ``config_from_pytorch_model``'s default ``ap_fixed<16,6>`` (accumulators resolve to
    ``fixed<37..39,17..19>``);
  - ``cnn``: conv(3x3, 4)-relu-maxpool-conv(3x3, 8)-relu-maxpool-flatten-dense-softmax on 1x8x8 images;
  - ``auto_wide``: Dense-Dense-BatchNorm-Dense whose ``auto`` types pass 64 bits;
  - ``first_call``: a fresh model's first ``emulate`` (graph building and weight quantization
    included) against one hls4ml ``compile()`` of the same model.
- ``accum_sat``: the accumulator kernel alone, 20000x64 @ 64x32 (x, w ``fixed<16,6>``, accumulator
  ``fixed<18,8,RND,SAT>``: every product rounded, every partial sum saturated, in order):
  ``ours`` = ``fx.matmul(x, w, accum=)`` (the vectorized kernel), ``ours_scalar`` = the scalar
  sequential kernel, baseline ``numpy_float32`` = ``x32 @ w32`` of the same shape (checked to
  be the product within float32 rounding). Ours is checked against the scalar kernel everywhere
  and against the pure-Python reference on sampled entries.

Goals (reported, never asserted): emulate >= 100x the C-simulation's samples/s (also for
``jet_softmax`` and ``cnn``; ``auto_wide`` >= 20x); the first call >= 100x faster than a compile;
``accum_sat`` at least as fast as NumPy float32 (ratio <= 1); the scan under 10 s.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, import_fixedpoint

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


ZOO_GOALS = {"jet_softmax": 100.0, "cnn": 100.0, "auto_wide": 20.0}


def _zoo_model(kind: str):
    """(torch module, input_shape, LayerName precision updates, default precision)."""
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    if kind == "jet_softmax":
        m = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 5), nn.Softmax(dim=1))
        return m, (16,), {}, "ap_fixed<16,6>"
    if kind == "cnn":
        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 5), nn.Softmax(dim=1))
        return m, (1, 8, 8), {}, "ap_fixed<16,6>"
    if kind == "auto_wide":
        m = nn.Sequential(nn.Linear(16, 32), nn.Linear(32, 16), nn.BatchNorm1d(16), nn.Linear(16, 5))
        m.train()
        with torch.no_grad():
            for _ in range(3):
                m(torch.randn(64, 16) * 2)
        auto = {"result": "auto", "accum": "auto"}
        return m, (16,), {"_0": auto, "_1": auto, "_2": {"result": "auto"}, "_3": auto}, "ap_fixed<24,10>"
    raise KeyError(kind)


def _zoo_compile(kind: str, outdir: str):
    try:
        import hls4ml
        import torch  # noqa: F401
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None
    if shutil.which("g++") is None:
        raise Skip("g++ is missing")
    model, shape, layers, default = _zoo_model(kind)
    model.eval()
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=shape, granularity="name",
                                                 default_precision=default)
    for name, prec in layers.items():
        cfg["LayerName"][name]["Precision"].update(prec)
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=outdir, backend="Vivado",
                                                      io_type="io_parallel")
    hm.compile()
    return hm, shape


def _zoo_cases(n: int) -> list[Case]:
    out = []
    for kind in ZOO_GOALS:
        state: dict[str, Any] = {}

        def setup(kind=kind, state=state):
            if "err" in state:
                raise Skip(state["err"])
            if "hm" not in state:
                fx = import_fixedpoint()
                hm, shape = _zoo_compile(kind, tempfile.mkdtemp(prefix=f"fxbench-{kind}-"))
                xs = np.random.default_rng(1).normal(0, 2.0, (n, *shape)).astype(np.float32)
                try:
                    fx.hls4ml.emulate(hm, xs[:2])
                except NotImplementedError as exc:
                    state["err"] = f"not emulated: {exc}"
                    raise Skip(state["err"]) from None
                state.update(fx=fx, hm=hm, xs=xs, want=hm.predict(xs))
            return state

        def check(out, state=state):
            want = state["want"]
            if out.shape != want.shape or not np.array_equal(out.view(np.uint32), want.view(np.uint32)):
                bad = int(np.count_nonzero(out.view(np.uint32) != want.view(np.uint32))) if out.shape == want.shape else -1
                raise WrongResult(f"{bad} of {want.size} outputs differ from the C-simulation")

        def ours(setup=setup, check=check):
            s = setup()
            return Impl(run=lambda: s["fx"].hls4ml.emulate(s["hm"], s["xs"]), check=check)

        def theirs(setup=setup, check=check):
            s = setup()
            return Impl(run=lambda: s["hm"].predict(s["xs"]), check=check)

        out.append(Case(SUITE, kind, n, {"ours": ours, "hls4ml": theirs}, baseline="hls4ml"))

    first: dict[str, Any] = {}

    def first_setup():
        if "hm" not in first:
            fx = import_fixedpoint()
            hm, shape = _zoo_compile("jet_softmax", tempfile.mkdtemp(prefix="fxbench-first-"))
            first.update(fx=fx, hm=hm, xs=np.random.default_rng(2).normal(0, 2.0, (100, *shape)).astype(np.float32))
            first["want"] = hm.predict(first["xs"])
        if "err" not in first:
            try:
                first["fx"].hls4ml.emulate(first["hm"], first["xs"][:1])
            except NotImplementedError as exc:
                first["err"] = f"not emulated: {exc}"
        if "err" in first:
            raise Skip(first["err"])
        return first

    def first_check(out):
        want = first["want"]
        if not np.array_equal(out.view(np.uint32), want.view(np.uint32)):
            raise WrongResult("the first call differs from the C-simulation")

    def ours_first():
        s = first_setup()
        import copy

        def run():  # a fresh copy of the model: no cached graph
            return s["fx"].hls4ml.emulate(copy.copy(s["hm"]), s["xs"])

        return Impl(run=run, check=first_check)

    def hls4ml_first():
        s = first_setup()

        def run():
            hm, _ = _zoo_compile("jet_softmax", tempfile.mkdtemp(prefix="fxbench-first-"))
            return hm.predict(s["xs"])

        return Impl(run=run, check=first_check)

    out.append(Case(SUITE, "first_call", 100, {"ours": ours_first, "hls4ml": hls4ml_first}, baseline="hls4ml",
                    description="a fresh model's first emulate (plan building included) vs one convert + compile"))
    return out


def _accum_case(n: int) -> Case:
    K, N = 64, 32
    state: dict[str, Any] = {}

    def setup():
        if "x" not in state:
            fx = import_fixedpoint()
            rng = np.random.default_rng(20261203)
            fmt, acc = fx.Fixed(16, 6), fx.Fixed(18, 8, q="RND", o="SAT")
            x = fx.array(rng.normal(0, 1.0, (n, K)), fmt)
            w = fx.array(rng.normal(0, 0.3, (K, N)), fmt)
            from fixedpoint import _core
            from fixedpoint._backend import modes as _mode_args

            want = _core.matmul_accum(np.ascontiguousarray(x.raw), 16, 6, True, np.ascontiguousarray(w.raw), 16, 6,
                                      True, *_mode_args(acc), None, 0, 0)
            state.update(fx=fx, core=_core, mode_args=_mode_args, x=x, w=w, acc=acc, want=want,
                         exact=x.raw.astype(np.int64) @ w.raw.astype(np.int64))
        return state

    def check_ours(out):
        s = state
        got = np.asarray(out.raw if hasattr(out, "raw") else out)
        if got.shape != s["want"].shape or not np.array_equal(got, s["want"]):
            raise WrongResult("differs from the scalar sequential kernel")
        from fixedpoint import _reference

        rows = np.random.default_rng(1).integers(0, n, 4)
        for i in rows:  # the pure-Python reference on sampled rows
            ref = _reference.matmul_accum(s["x"].raw[i:i + 1], s["x"].fmt, s["w"].raw, s["w"].fmt, s["acc"])
            if not np.array_equal(ref[0], got[i]):
                raise WrongResult(f"row {i} differs from the Python reference")

    def ours():
        s = setup()
        return Impl(run=lambda: s["fx"].matmul(s["x"], s["w"], accum=s["acc"]), check=check_ours)

    def ours_scalar():
        s = setup()
        xr, wr = np.ascontiguousarray(s["x"].raw), np.ascontiguousarray(s["w"].raw)
        args = s["mode_args"](s["acc"])
        return Impl(run=lambda: s["core"].matmul_accum(xr, 16, 6, True, wr, 16, 6, True, *args, None, 0, 0),
                    check=check_ours)

    def numpy_f32():
        s = setup()
        x32, w32 = s["x"].raw.astype(np.float32), s["w"].raw.astype(np.float32)

        def check(out):
            exact = s["exact"]
            bound = K * 2.0**-23 * (np.abs(s["x"].raw).astype(np.float64) @ np.abs(s["w"].raw).astype(np.float64))
            if out.shape != exact.shape or (np.abs(out.astype(np.float64) - exact) > bound + 1).any():
                raise WrongResult("float32 matmul is not the product within float32 rounding")

        return Impl(run=lambda: x32 @ w32, check=check)

    return Case(SUITE, "accum_sat", n, {"ours": ours, "ours_scalar": ours_scalar, "numpy_float32": numpy_f32},
                baseline="numpy_float32", description="SAT/RND accumulator kernel vs float32 BLAS, 20000x64 @ 64x32")


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
        *_zoo_cases(n),
        _accum_case(N_EMULATE),
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
    for kind, goal in ZOO_GOALS.items():
        rec = by.get((kind, "ours", t_low))
        ratio = rec.get("ratio_vs_baseline") if rec and rec["status"] == "ok" else None
        out.append({"suite": SUITE, "case": kind, "threads": t_low, "goal": f"emulate >= {goal:g}x hls4ml predict",
                    "value": "-" if not ratio else f"{1 / ratio:.3g}x", "met": None if not ratio else 1 / ratio >= goal})
    for t in sorted({r["threads"] for r in records}):
        rec = by.get(("accum_sat", "ours", t))
        ratio = rec.get("ratio_vs_baseline") if rec and rec["status"] == "ok" else None
        out.append({"suite": SUITE, "case": "accum_sat", "threads": t, "goal": "SAT accumulator kernel at least as "
                    "fast as numpy float32 matmul", "value": "-" if not ratio else f"{1 / ratio:.3g}x",
                    "met": None if not ratio else ratio <= 1})
    rec = by.get(("first_call", "ours", t_low))
    ratio = rec.get("ratio_vs_baseline") if rec and rec["status"] == "ok" else None
    out.append({"suite": SUITE, "case": "first_call", "threads": t_low, "goal": "first emulate >= 100x faster than "
                "a compile", "value": "-" if not ratio else f"{1 / ratio:.3g}x",
                "met": None if not ratio else 1 / ratio >= 100})
    scan = by.get(("scan", "ours", t_low))
    med = scan["median_s"] if scan and scan["status"] == "ok" else None
    out.append({"suite": SUITE, "case": "scan", "threads": t_low, "goal": f"whole scan < {SCAN_GOAL_S:g} s",
                "value": "-" if med is None else f"{med:.3g} s", "met": None if med is None else med < SCAN_GOAL_S})
    return out
