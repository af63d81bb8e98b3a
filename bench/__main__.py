"""Command line entry point: ``python -m bench [suite ...] [options]``.

Argument parsing happens before NumPy (or any peer) is imported, so that when
``threadpoolctl`` is missing the BLAS/OpenMP thread variables can still be pinned through the
environment. The runner is :mod:`bench.harness`; what a case is, :mod:`bench.model`; timing and
thread control, :mod:`bench.timing`; machine information, :mod:`bench.machine`; the markdown
report, plots and comparisons, :mod:`bench.report`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="fixedpoint microbenchmarks: our kernels and peer libraries timed in one "
        "process, verified, and reported as ratios against a baseline.",
    )
    p.add_argument(
        "suites",
        nargs="*",
        metavar="suite",
        help="suites to run, or all (the default: every suite in bench/cases); see --list",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: fewer repeats, a smaller time budget, one sample of a slow call, and "
        "1 thread unless --threads is given (every suite in under 2 min on the 2-core dev machine)",
    )
    p.add_argument(
        "--out",
        default="bench-results.json",
        help="where to write the JSON results (default: ./bench-results.json)",
    )
    p.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts; 'all' means every core available to this process "
        "(default: 1,all; with --quick: 1)",
    )
    p.add_argument(
        "--format",
        choices=("auto", "markdown", "rich"),
        default="auto",
        help="stdout table: plain markdown, or rendered with rich; auto uses rich when it is "
        "installed and stdout is a terminal",
    )
    p.add_argument("--list", action="store_true", help="list suites and their cases, then exit")
    p.add_argument(
        "--plot-dir",
        default=None,
        help="where to write one PNG per suite (default: next to --out; needs matplotlib)",
    )
    p.add_argument("--no-plot", action="store_true", help="do not write PNG plots")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="compare two results files and report regressions (exit 1 if any), then exit",
    )
    p.add_argument(
        "--page",
        metavar="MD",
        help="also write the documentation page (e.g. docs/benchmarks.md) and its PNGs (img/ next to "
        "it); with --from, only write it from an existing results file",
    )
    p.add_argument(
        "--from",
        dest="from_json",
        metavar="JSON",
        help="with --page: the results file to render instead of running the suites",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=1.10,
        help="with --compare: a record whose median grew by more than this factor is a regression "
        "(default 1.10)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_json and not args.page:
        parser.error("--from needs --page (the page to write from the results file)")
    if args.page and args.from_json:
        from bench import report  # noqa: PLC0415

        try:
            written = report.write_page(report.load(args.from_json), args.page)
        except (ValueError, ImportError) as exc:
            print(f"python -m bench: {exc}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        return 0
    if args.compare:
        from bench import report  # noqa: PLC0415

        try:
            result = report.compare(report.load(args.compare[0]), report.load(args.compare[1]), args.threshold)
        except ValueError as exc:
            print(f"python -m bench: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(report.compare_markdown(result))
        return 1 if result["regressions"] else 0
    # Without threadpoolctl the only way to pin peer BLAS/OpenMP pools is the environment, and
    # it has to be set before numpy is first imported. Pin them to one thread; the machine info
    # in the JSON records that peers could not follow --threads.
    if importlib.util.find_spec("threadpoolctl") is None:
        for var in THREAD_ENV_VARS:
            os.environ.setdefault(var, "1")
    numpy_was_imported = "numpy" in sys.modules

    from bench import harness  # noqa: PLC0415  (imports numpy; must come after the env setup)

    return harness.main(args, numpy_preimported=numpy_was_imported)


if __name__ == "__main__":
    sys.exit(main())
