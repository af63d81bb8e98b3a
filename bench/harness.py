"""The benchmark runner: runs every (case, thread count, peer) and assembles the results document.

The parts it builds on: :mod:`bench.model` (what a case is), :mod:`bench.timing` (timing and
thread control), :mod:`bench.machine` (what the run was measured on) and :mod:`bench.report`
(markdown, plots, comparison and the documentation page).

For every (case, thread count, peer) the runner produces one record:

1. call ``impl.run()`` once (warm-up) and hand its result to ``impl.check``; a
   :class:`~bench.model.WrongResult` there makes the record ``"wrong"`` and nothing is timed;
2. run ``impl.probe()`` if given (extra untimed verification, e.g. on tie-aimed inputs);
3. warm up further, then time repeated ``impl.run()`` calls and keep median, min and IQR.

No exception from a peer escapes: it becomes an ``"error"`` record with the message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import SCHEMA_VERSION
from bench.machine import _load_avg, machine_info
from bench.model import Case, Impl, Skip, WrongResult, describe, try_fixedpoint
from bench.report import fmt_seconds, print_report, to_markdown
from bench.timing import FULL, QUICK, Timing, measure, parse_threads, thread_limit


def _new_record(case: Case, peer: str, threads: int, status: str, note: str) -> dict[str, Any]:
    return {
        "case": case.name,
        "suite": case.suite,
        "peer": peer,
        "threads": threads,
        "n": case.n,
        "median_s": None,
        "min_s": None,
        "iqr_s": None,
        "repeats": 0,
        "status": status,
        "note": note,
        "ratio_vs_baseline": None,
        "baseline": case.baseline,
    }


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _run_one(case: Case, peer: str, impl: Impl, threads: int, timing: Timing) -> dict[str, Any]:
    rec = _new_record(case, peer, threads, "ok", impl.note)
    with thread_limit(threads):
        try:
            if impl.set_threads is not None:
                impl.set_threads(threads)
            t0 = time.perf_counter()
            out = impl.run()
            first_s = time.perf_counter() - t0
        except Exception as exc:
            rec.update(status="error", note=_join(impl.note, f"run failed: {describe(exc)}"))
            return rec
        try:
            impl.check(out)
            del out
            if impl.probe is not None:
                impl.probe()
        except WrongResult as exc:
            rec.update(status="wrong", note=_join(impl.note, str(exc)))
            return rec
        except Exception as exc:
            rec.update(status="error", note=_join(impl.note, f"check failed: {describe(exc)}"))
            return rec
        try:
            times = measure(impl.run, timing, first_s)
        except Exception as exc:
            rec.update(status="error", note=_join(impl.note, f"timed run failed: {describe(exc)}"))
            return rec
    t = np.asarray(times)
    q1, q3 = np.percentile(t, [25, 75])
    rec.update(
        median_s=float(np.median(t)),
        min_s=float(t.min()),
        iqr_s=float(q3 - q1),
        repeats=int(t.size),
    )
    return rec


def run_case(
    case: Case,
    threads: Sequence[int],
    timing: Timing,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """All records of one case: one per (thread count, peer), thread counts outermost."""
    impls: dict[str, Impl | dict[str, str]] = {}
    for peer, factory in case.peers.items():
        try:
            impls[peer] = factory()
        except ImportError as exc:
            impls[peer] = {"status": "skipped", "note": f"not installed: {exc}"}
        except Skip as exc:
            impls[peer] = {"status": "skipped", "note": str(exc)}
        except Exception as exc:
            impls[peer] = {"status": "error", "note": f"setup failed: {describe(exc)}"}
    records = []
    for n in threads:
        for peer, impl in impls.items():
            if isinstance(impl, Impl):
                rec = _run_one(case, peer, impl, n, timing)
            else:
                rec = _new_record(case, peer, n, impl["status"], impl["note"])
            records.append(rec)
            if progress is not None:
                progress(rec)
    add_ratios(records)
    return records


def add_ratios(records: list[dict[str, Any]]) -> None:
    """Fill ratio_vs_baseline = median / baseline median, per (suite, case, threads)."""
    base: dict[tuple[str, str, int], float] = {}
    for r in records:
        if r["peer"] == r["baseline"] and r["status"] == "ok" and r["median_s"]:
            base[(r["suite"], r["case"], r["threads"])] = r["median_s"]
    for r in records:
        b = base.get((r["suite"], r["case"], r["threads"]))
        if b and r["status"] == "ok" and r["median_s"] is not None:
            r["ratio_vs_baseline"] = r["median_s"] / b
        else:
            r["ratio_vs_baseline"] = None


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what peers print while they run (hls4ml prints every model it converts; the compilers
    it starts write to the same file descriptor) to stderr, so that stdout carries the report
    alone. File-descriptor level; a no-op where stdout has no descriptor (captured in tests)."""
    try:
        sys.stdout.flush()
        out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    saved = os.dup(out_fd)
    try:
        os.dup2(err_fd, out_fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, out_fd)
        os.close(saved)


def run(
    suite_names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    threads: Sequence[int] = (1,),
    cases_by_suite: dict[str, Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    numpy_preimported: bool = False,
) -> dict[str, Any]:
    """Run suites and return the results document (see README for the schema).

    ``cases_by_suite`` maps suite name -> module-like object with ``cases(quick)`` and optional
    ``goals(records)``; by default the suites in :mod:`bench.cases` are loaded.
    """
    from bench import cases as registry  # noqa: PLC0415

    started = _dt.datetime.now(_dt.timezone.utc)
    t_start = time.perf_counter()
    load_start = _load_avg()  # before our own threads add to it
    if cases_by_suite is None:
        names = list(suite_names) if suite_names else registry.available_suites()
        cases_by_suite = {name: registry.load_suite(name) for name in names}
    timing = QUICK if quick else FULL
    threads = list(threads)
    fx, fx_err = try_fixedpoint()
    fx_default_threads = fx.get_num_threads() if fx is not None else None

    records: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    suite_seconds: dict[str, float] = {}
    for suite, module in cases_by_suite.items():
        t_suite = time.perf_counter()
        suite_records: list[dict[str, Any]] = []
        with _stdout_to_stderr():
            for case in module.cases(quick):
                suite_records.extend(run_case(case, threads, timing, progress))
        records.extend(suite_records)
        goal_fn = getattr(module, "goals", None)
        if goal_fn is not None:
            goals.extend(goal_fn(suite_records))
        suite_seconds[suite] = round(time.perf_counter() - t_suite, 3)

    machine = machine_info(
        threads=threads,
        fx=fx,
        fx_error=fx_err,
        fx_default_threads=fx_default_threads,
        numpy_preimported=numpy_preimported,
    )
    machine["load_avg_start"] = load_start
    return {
        "schema": SCHEMA_VERSION,
        "machine": machine,
        "run": {
            "suites": list(cases_by_suite),
            "quick": quick,
            "threads": threads,
            "timing": dataclasses.asdict(timing),
            "argv": list(sys.argv),
            "started_utc": started.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - t_start, 3),
            "suite_duration_s": suite_seconds,  # wall time per suite, set-up and checks included
        },
        "records": records,
        "goals": goals,
    }


def _progress_line(rec: dict[str, Any]) -> None:
    if rec["status"] == "ok":
        what = f"{fmt_seconds(rec['median_s'])} (median of {rec['repeats']})"
    else:
        what = f"{rec['status'].upper()}: {rec['note']}"
    print(f"[{rec['suite']}/{rec['case']}] threads={rec['threads']} {rec['peer']}: {what}", file=sys.stderr, flush=True)


def failed_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["status"] in ("wrong", "error")]


def resolve_suites(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """Suite names to run: ``all`` (or nothing) means every available suite, in registry
    order; duplicates are dropped. ValueError names the unknown suites and the available ones."""
    unknown = [s for s in requested if s != "all" and s not in available]
    if unknown:
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}; available: {', '.join(available)} (or all)")
    if not requested or "all" in requested:
        return list(available)
    return list(dict.fromkeys(requested))


def main(args: Any, numpy_preimported: bool = False) -> int:
    """CLI body (args from bench.__main__.build_parser). Exit status 1 if any record is
    "wrong" or "error", 2 on usage errors, else 0."""
    from bench import cases as registry  # noqa: PLC0415

    available = registry.available_suites()
    if args.list:
        for name in available:
            mod = registry.load_suite(name)
            doc = (mod.__doc__ or "").strip().splitlines()
            print(f"{name}: {doc[0] if doc else ''}")
        return 0
    try:
        suites = resolve_suites(args.suites, available)
    except ValueError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    spec = args.threads if args.threads is not None else ("1" if args.quick else "1,all")
    try:
        threads = parse_threads(spec)
    except ValueError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    results = run(
        suites,
        quick=args.quick,
        threads=threads,
        progress=_progress_line,
        numpy_preimported=numpy_preimported,
    )
    out = Path(args.out)
    out.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    print_report(to_markdown(results), args.format)
    print(f"wrote {out}", file=sys.stderr)
    if not getattr(args, "no_plot", False):
        from bench import report  # noqa: PLC0415

        plot_dir = Path(args.plot_dir) if getattr(args, "plot_dir", None) else out.parent
        try:
            for path in report.plot_suites(results, plot_dir, stem=out.stem):
                print(f"wrote {path}", file=sys.stderr)
        except ImportError as exc:
            print(f"no plots: matplotlib is not installed ({exc}); pip install matplotlib", file=sys.stderr)
    if getattr(args, "page", None):
        from bench import report  # noqa: PLC0415

        try:
            for path in report.write_page(results, args.page):
                print(f"wrote {path}", file=sys.stderr)
        except (ValueError, ImportError) as exc:
            print(f"no page: {exc}", file=sys.stderr)
    bad = failed_records(results["records"])
    for r in bad:
        print(f"FAILED {r['suite']}/{r['case']} {r['peer']} threads={r['threads']}: {r['status']}: {r['note']}", file=sys.stderr)
    return 1 if bad else 0
