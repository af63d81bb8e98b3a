"""The ``fixedpoint`` command: ``demo``, ``info TYPE`` and ``bench``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def _demo(args) -> int:
    import numpy as np

    import fixedpoint as fx

    rng = np.random.default_rng(args.seed)
    x = rng.normal(0.0, 4.0, args.n)
    fmt = fx.Fixed.parse(args.type)
    print(f"fixedpoint {fx.__version__} demo: quantize {args.n} normal(0, 4) samples (seed {args.seed})")
    print(f"format   {fmt}   (hls4ml: {fmt.to_hls4ml()}; lsb {fmt.lsb!r}, range [{fmt.min!r}, {fmt.max!r}])")
    a = fx.array(x, fmt, seed=args.seed)
    shown = min(args.n, 8)
    print(f"input    {np.array2string(x[:shown], precision=6, separator=', ')}")
    print(f"raw      {np.array2string(a.raw[:shown], separator=', ')}")
    print(f"values   {np.array2string(a.to_float()[:shown], separator=', ')}")
    err = a.to_float() - x
    clipped = int(np.count_nonzero((x > fmt.max) | (x < fmt.min)))
    print(f"max |error| of in-range values: {np.max(np.abs(err[(x <= fmt.max) & (x >= fmt.min)]), initial=0.0):.6g}"
          f" (lsb {fmt.lsb:.6g}); {clipped} value(s) outside the range handled by {fmt.o.value}")
    modes = ["TRN", "RND", "RND_CONV", "STOCH"]
    print("rounding modes on the first value "
          f"{float(x[0])!r}: " + ", ".join(f"{q}={float(fx.array(x[:1], fmt.replace(q=q), seed=args.seed).to_float()[0])!r}"
                                  for q in modes))
    print(f"kernels: {fx.get_isa()}, {fx.get_num_threads()} thread(s)")
    return 0


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
        ("storage", "int64 (native kernels)" if fmt.w <= 64 else "Python ints (exact reference path)"),
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
    demo = sub.add_parser("demo", help="quantize built-in data and show the result and its format")
    demo.add_argument("--type", default="ap_fixed<16,6,AP_RND,AP_SAT>", help="target type (ap_fixed or hls4ml spelling)")
    demo.add_argument("-n", type=int, default=100_000, help="number of samples")
    demo.add_argument("--seed", type=int, default=0)
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
        if args.n < 1:
            parser.error(f"demo: -n must be >= 1, got {args.n}")
        return _demo(args)
    return _info(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
