"""The ``fixedpoint`` command: ``demo``, ``info TYPE`` and ``bench``."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path


def _demo(args) -> int:
    """The main job: train a small MLP on built-in data, scan its bits, verify bit-exactly."""
    import time

    import numpy as np

    import fixedpoint as fx
    from fixedpoint import _demo_data

    t_start = time.perf_counter()
    print(f"fixedpoint {fx.__version__} demo: post-training bit scan of an MLP for hls4ml firmware")
    X, y = _demo_data.blobs(args.n, seed=args.seed, spread=2.2)
    n_train = args.n // 2
    (W1, b1), (W2, b2) = _demo_data.train_mlp(X[:n_train], y[:n_train], seed=args.seed)
    net = fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)])
    Xc, yc, Xt, yt = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    acc = lambda pred, labels: float(np.mean(np.argmax(pred, axis=1) == labels))  # noqa: E731
    print(f"data     {args.n} samples of 3 Gaussian blobs in 8-D (seed {args.seed}); MLP 8-16-3 (ReLU) "
          f"trained with NumPy on {n_train}")
    print(f"float    accuracy {acc(net.predict(Xt), yt):.4f} on the {len(Xt)} held-out samples")
    base = {"input": fx.Fixed(16, 6)}
    for layer in net.layers:
        base[layer.name] = {"weight": fx.Fixed(16, 6), "bias": fx.Fixed(16, 6), "accum": fx.Fixed(16, 6),
                            "result": fx.Fixed(16, 6)}
    print(f"ap_fixed<16,6> everywhere (hls4ml's default): accuracy "
          f"{acc(net.emulate(Xt, base).to_float(), yt):.4f} (bit-exact emulation)")
    res = fx.scan(net, Xc, yc, tolerance=args.tolerance, mode=args.mode, percentile=args.percentile)
    print(f"scan     {args.mode} mode, {res.evaluations} bit-exact evaluations in {res.seconds:.2f} s; tolerance "
          f"{args.tolerance} of the float accuracy on the calibration half")
    for line in res.table().splitlines():
        print(f"  {line}")
    held_out = acc(net.emulate(Xt, res.config).to_float(), yt)
    print(f"fixed    accuracy {res.metric_fixed:.4f} (calibration), {held_out:.4f} (held out), "
          f"float {res.metric_float:.4f} (calibration)")
    print("hls4ml   config['LayerName'] precisions for nn.Sequential(Linear, ReLU, Linear) "
          "(the ReLU takes its Dense's result type):")
    for name, entry in res.hls4ml.items():
        print(f"  {name}: {entry['Precision']}")
    out = Path(args.out)
    written = _write_results(res, out)
    print("wrote    " + ", ".join(str(p) for p in written))
    status = 0
    if args.verify_hls4ml:
        status = _verify_hls4ml(net, res, Xt, out)
    print(f"kernels: {fx.get_isa()}, {fx.get_num_threads()} thread(s); total {time.perf_counter() - t_start:.2f} s")
    return status


def _demo_cnn(args) -> int:
    """``demo --model cnn``: a CNN on the 8x8 digits, converted by hls4ml, scanned by emulation."""
    import time

    import numpy as np

    import fixedpoint as fx

    missing = []
    for mod in ("torch", "hls4ml", "sklearn"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        print(f"fixedpoint demo --model cnn needs {', '.join(missing)}: pip install 'fixedpoint-hls[demo]' "
              "-c .ci/constraints.txt (the constraints pin the CPU build of torch)", file=sys.stderr)
        return 2
    import torch

    from fixedpoint import _demo_cnn

    t_start = time.perf_counter()
    print(f"fixedpoint {fx.__version__} demo: post-training bit scan of a CNN for hls4ml firmware")
    X, y = _demo_cnn.digits(args.seed)
    n_train = len(X) // 2
    Xc, yc, Xt, yt = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    t0 = time.perf_counter()
    model = _demo_cnn.train_cnn(Xc, yc, seed=args.seed)
    with torch.no_grad():
        acc_float = float((model(torch.as_tensor(Xt)).argmax(1).numpy() == yt).mean())
    print(f"data     scikit-learn's 8x8 digits ({len(X)} images, bundled); CNN conv-relu-pool-conv-relu-pool-"
          f"dense-softmax trained with PyTorch on {n_train} in {time.perf_counter() - t0:.1f} s")
    print(f"float    accuracy {acc_float:.4f} on the {len(Xt)} held-out images")
    res = fx.scan(model, Xc, yc, input_shape=(1, 8, 8), tolerance=args.tolerance, mode=args.mode,
                  percentile=args.percentile)
    print(f"scan     {res.mode} mode, {len(res.knobs)} knobs, {res.evaluations} bit-exact evaluations in "
          f"{res.seconds:.2f} s; tolerance {args.tolerance} of the float accuracy on the calibration half")
    for line in res.table().splitlines():
        print(f"  {line}")
    hm = fx.hls4ml.apply(res.hls_model, res, output_dir=Path(args.out) / "hls4ml_prj")
    Xt_cl = np.ascontiguousarray(np.moveaxis(Xt, 1, -1))
    held_out = float((np.argmax(fx.hls4ml.emulate(hm, Xt_cl), axis=1) == yt).mean())
    print(f"fixed    accuracy {res.metric_fixed:.4f} (calibration), {held_out:.4f} (held out), "
          f"float {res.metric_float:.4f} (calibration)")
    written = _write_results(res, Path(args.out))
    print("wrote    " + ", ".join(str(p) for p in written))
    status = 0
    if args.verify_hls4ml:
        status = _verify_graph(hm, res, Xt_cl)
    print(f"kernels: {fx.get_isa()}, {fx.get_num_threads()} thread(s); total {time.perf_counter() - t_start:.2f} s")
    return status


def _write_results(res, out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    (out / "hls4ml_config.json").write_text(json.dumps(
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in res.to_hls4ml_config().items()}, indent=2,
        default=str) + "\n")
    (out / "scan.json").write_text(res.to_json() + "\n")
    written = [out / "hls4ml_config.json", out / "scan.json"]
    try:
        res.plot(out / "scan.png")
        written.append(out / "scan.png")
    except ImportError:
        print("  (no plot: matplotlib is not installed; pip install 'fixedpoint-hls[plot]')")
    return written


def _verify_graph(hm, res, X, also=None) -> int:
    """Compile the converted model and compare its C-simulation with ``fx.hls4ml.emulate`` (and
    with ``also(xs)``, another emulation of the same firmware, when given)."""
    import time

    import numpy as np

    import fixedpoint as fx

    print("verify   compiling the hls4ml C-simulation (5-30 s) ...", flush=True)
    t0 = time.perf_counter()
    hm.compile()
    t_compile = time.perf_counter() - t0
    xs = X.astype(np.float32)
    t0 = time.perf_counter()
    firmware = hm.predict(xs)
    t_predict = time.perf_counter() - t0
    t0 = time.perf_counter()
    emulated = fx.hls4ml.emulate(hm, xs)
    t_emulate = time.perf_counter() - t0
    same = bool(np.array_equal(firmware.view(np.uint32), emulated.view(np.uint32)))
    if also is not None:
        same = same and bool(np.array_equal(firmware.view(np.uint32), also(xs).view(np.uint32)))
    print(f"verify   hls4ml compile {t_compile:.1f} s; predict {len(xs) / t_predict:,.0f} samples/s, "
          f"fx.hls4ml.emulate {len(xs) / t_emulate:,.0f} samples/s; outputs "
          + ("identical bit for bit" if same else "DIFFER"))
    return 0 if same else 1


def _verify_hls4ml(net, res, X, out) -> int:
    """Convert the scanned MLP with hls4ml, compile its C-simulation, compare with the emulation."""
    import numpy as np

    import fixedpoint as fx

    try:
        import hls4ml
        import torch
    except ImportError as exc:
        print(f"verify   skipped: {exc.name} is not installed (pip install 'fixedpoint-hls[hls4ml,torch]' "
              "-c .ci/constraints.txt)")
        return 1
    model = torch.nn.Sequential(torch.nn.Linear(net.n_in, net.layers[0].weight.shape[1]), torch.nn.ReLU(),
                                torch.nn.Linear(net.layers[1].weight.shape[0], net.layers[1].weight.shape[1]))
    with torch.no_grad():
        for lin, layer in zip((model[0], model[2]), net.layers):
            lin.weight.copy_(torch.from_numpy(layer.weight.T.astype(np.float32)))
            lin.bias.copy_(torch.from_numpy(layer.bias.astype(np.float32)))
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints the topology it reads
        hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=res.to_hls4ml_config(),
                                                          output_dir=str(out / "hls4ml_prj"), backend="Vivado",
                                                          io_type="io_parallel")
    net32 = fx.Network.from_torch(model)  # the float32 weights hls4ml converts
    return _verify_graph(hm, res, X, also=lambda xs: net32.emulate(xs.astype(np.float64), res.config).to_float()
                         .astype(np.float32))


def _info(args) -> int:
    import fixedpoint as fx

    try:
        fmt = fx.Fixed.parse(args.type)
    except ValueError as exc:
        print(f"fixedpoint info: {exc}", file=sys.stderr)
        return 2
    rows = [
        ("type", str(fmt)),
        ("hls4ml", fmt.to_hls4ml()),
        ("width w", fmt.w),
        ("integer bits i", fmt.i),
        ("fraction bits f", fmt.f),
        ("signed", fmt.signed),
        ("rounding q", fmt.q.value),
        ("overflow o", fmt.o.value),
        ("saturation bits n", fmt.n),
        ("lsb", f"2^{-fmt.f} = {fmt.lsb!r}"),
        ("raw range", f"[{fmt.raw_min}, {fmt.raw_max}]"),
        ("value range", f"[{fmt.min!r}, {fmt.max!r}]"),
        ("storage", "int64 (native C++ kernels)" if fmt.w <= 64 else f"{-(-fmt.w // 64)} 64-bit limbs (multi-limb C++ kernels)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _bench(args, rest) -> int:
    # The harness lives in the source tree's bench/ package (it is not shipped in the wheel).
    root = os.getcwd()
    if not os.path.isfile(os.path.join(root, "bench", "__main__.py")):
        print("fixedpoint bench: run this from a fixedpoint source checkout (the bench/ package "
              "is not part of the installed wheel); there `python -m bench --help` lists the suites.",
              file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "bench", *rest], cwd=root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fixedpoint", description="Bit-accurate ap_fixed numerics.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="scan the bits of an MLP (or --model cnn) trained on built-in data "
                          "(the main job)")
    demo.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                      help="mlp (default: NumPy only, 3 Gaussian blobs) or cnn (scikit-learn's 8x8 digits; needs "
                      "torch, hls4ml and scikit-learn: the 'demo' extra)")
    demo.add_argument("-n", type=int, default=6000, help="mlp: number of samples (half calibrate, half test)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--tolerance", type=float, default=0.01, help="allowed accuracy loss (default 0.01)")
    demo.add_argument("--mode", choices=("layer", "global"), default="global",
                      help="fraction-bit search: all knobs together then each refined (default), or greedy layer "
                      "by layer")
    demo.add_argument("--percentile", type=float, default=100.0,
                      help="integer bits hold this percentile of |value| on the calibration data (default 100: max)")
    demo.add_argument("--out", default=".", help="where to write hls4ml_config.json, scan.json and scan.png "
                      "(default: the current directory)")
    demo.add_argument("--verify-hls4ml", action="store_true",
                      help="compile the scanned model with hls4ml and confirm emulate == predict bit for bit")
    info = sub.add_parser("info", help="describe a type, e.g. 'ap_fixed<16,6,AP_RND,AP_SAT>'")
    info.add_argument("type")
    sub.add_parser("bench", help="run the benchmark harness (source checkout); extra args go to it",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return _bench(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        if args.n < 20:
            parser.error(f"demo: -n must be >= 20, got {args.n}")
        if not 0.0 <= args.tolerance < 1.0:
            parser.error(f"demo: --tolerance must be in [0, 1), got {args.tolerance}")
        if not 0.0 < args.percentile <= 100.0:
            parser.error(f"demo: --percentile must be in (0, 100], got {args.percentile}")
        return _demo_cnn(args) if args.model == "cnn" else _demo(args)
    return _info(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
