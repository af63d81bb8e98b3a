"""The benchmark harness: case model, timing, verification, thread control, machine info,
JSON and markdown output.

A *suite* is a module in :mod:`bench.cases` with a ``cases(quick)`` function returning
:class:`Case` objects (and optionally ``goals(records)``). A case names a baseline peer and
maps every peer name to a factory. The factory does the untimed set-up (imports, format
construction, input conversion) and returns an :class:`Impl`; it raises ``ImportError`` when
the peer is not installed and :class:`Skip` when the peer cannot do what the case asks.

For every (case, thread count, peer) the harness produces one record:

1. call ``impl.run()`` once (warm-up) and hand its result to ``impl.check``; a
   :class:`WrongResult` there makes the record ``"wrong"`` and nothing is timed;
2. run ``impl.probe()`` if given (extra untimed verification, e.g. on tie-aimed inputs);
3. warm up further, then time repeated ``impl.run()`` calls and keep median, min and IQR.

No exception from a peer escapes: it becomes an ``"error"`` record with the message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import SCHEMA_VERSION

STATUSES = ("ok", "wrong", "skipped", "error")
RECORD_FIELDS = (
    "case",
    "suite",
    "peer",
    "threads",
    "n",
    "median_s",
    "min_s",
    "iqr_s",
    "repeats",
    "status",
    "note",
    "ratio_vs_baseline",
    "baseline",
)

# ISA features worth logging (x86 /proc/cpuinfo "flags" and arm64 "Features" spellings).
ISA_OF_INTEREST = (
    "sse2", "ssse3", "sse4_1", "sse4_2", "popcnt", "avx", "avx2", "fma", "bmi1", "bmi2",
    "f16c", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512ifma",
    "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimddp", "sve", "sve2",
)  # fmt: skip

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "FIXEDPOINT_NUM_THREADS",
    "APYTYPES_THREAD_COUNT",
)

PEER_VERSIONS = ("numpy", "apytypes", "fxpmath", "torch", "scipy", "hls4ml", "threadpoolctl", "rich", "matplotlib")


# --------------------------------------------------------------------------------------------
# Case model


class Skip(Exception):
    """The peer cannot run this case (for example it lacks the rounding mode).

    Recorded as status ``"skipped"`` with the message as the note."""


class WrongResult(Exception):
    """Raised by a check: the peer's output is not the right answer. Recorded as ``"wrong"``."""


@dataclasses.dataclass
class Impl:
    """One peer, set up for one case.

    run:         the timed call; takes no arguments (inputs are bound in the closure).
    check:       verifies one output of ``run``; raises :class:`WrongResult` on a mismatch.
    probe:       optional extra verification run once per thread count, untimed.
    note:        free text copied into every record of this peer (e.g. "mode differs: ...").
    set_threads: optional hook for a peer's own thread pool (numpy/BLAS and fixedpoint are
                 handled by the harness).
    """

    run: Callable[[], Any]
    check: Callable[[Any], None]
    probe: Callable[[], None] | None = None
    note: str = ""
    set_threads: Callable[[int], None] | None = None


@dataclasses.dataclass
class Case:
    """A benchmark case: the same work done by several peers.

    peers maps peer name -> factory returning :class:`Impl` (insertion order is report order).
    baseline is the peer whose median all ratios of this case are taken against.
    """

    suite: str
    name: str
    n: int
    peers: dict[str, Callable[[], Impl]]
    baseline: str
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Timing:
    warmup: int  # calls before timing, including the checked first call
    min_repeats: int
    max_repeats: int
    budget_s: float  # target total timed seconds per record
    # Quick runs only: a peer whose checked first call already took longer than the whole
    # budget is not called again; that call is its one timed sample (repeats = 1). This keeps
    # `--quick` of every suite under 2 minutes although some peers take seconds per call.
    slow_first_is_sample: bool = False

    def repeats_for(self, estimate_s: float) -> int:
        if estimate_s <= 0:
            return self.max_repeats
        want = math.ceil(self.budget_s / estimate_s)
        return max(self.min_repeats, min(self.max_repeats, want))


FULL = Timing(warmup=2, min_repeats=7, max_repeats=200, budget_s=2.0)
QUICK = Timing(warmup=1, min_repeats=3, max_repeats=15, budget_s=0.25, slow_first_is_sample=True)


def expect_equal(got: Any, want: np.ndarray, inputs: np.ndarray | None = None, what: str = "raw") -> None:
    """Exact array comparison for checks; raises :class:`WrongResult` naming the first mismatch."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise WrongResult(f"{what}: shape {got.shape}, expected {want.shape}")
    bad = got != want
    if bad.any():
        idx = np.flatnonzero(bad.ravel())
        i = int(idx[0])
        at = f" (input {_scalar(inputs.ravel()[i])!r})" if inputs is not None else ""
        raise WrongResult(
            f"{what}: {idx.size} of {want.size} differ; first at index {i}{at}: "
            f"got {_scalar(got.ravel()[i])!r}, expected {_scalar(want.ravel()[i])!r}"
        )


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------------------------
# fixedpoint import and thread control

_FX_CACHE: list[Any] = []  # [module] or [ImportError]
FX_REQUIRED = ("array", "Fixed", "set_num_threads", "get_num_threads", "build_info")


def import_fixedpoint() -> Any:
    """Import ``fixedpoint`` once; raise ImportError (with the reason) if it is missing or
    incomplete (e.g. the source tree is importable but the extension was not built)."""
    if not _FX_CACHE:
        try:
            fx = importlib.import_module("fixedpoint")
            missing = [name for name in FX_REQUIRED if not hasattr(fx, name)]
            if missing:
                raise ImportError(
                    f"fixedpoint at {getattr(fx, '__path__', '?')} lacks {', '.join(missing)}; "
                    "was the extension built? run pip install ."
                )
            _FX_CACHE.append(fx)
        except Exception as exc:  # an extension failing to load can raise more than ImportError
            err = exc if isinstance(exc, ImportError) else ImportError(f"{type(exc).__name__}: {exc}")
            _FX_CACHE.append(err)
    got = _FX_CACHE[0]
    if isinstance(got, ImportError):
        raise got
    return got


def _try_fixedpoint() -> tuple[Any, str | None]:
    try:
        return import_fixedpoint(), None
    except ImportError as exc:
        return None, str(exc)


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl  # noqa: PLC0415

        return threadpoolctl
    except ImportError:
        return None


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Run everything inside with ``n`` threads: fixedpoint via ``fx.set_num_threads`` and
    BLAS/OpenMP pools via threadpoolctl (if installed; otherwise they stay as the environment
    variables set in ``__main__`` left them)."""
    with contextlib.ExitStack() as stack:
        tpc = _threadpoolctl()
        if tpc is not None:
            stack.enter_context(tpc.threadpool_limits(limits=n))
        fx, _ = _try_fixedpoint()
        if fx is not None:
            prev = fx.get_num_threads()
            fx.set_num_threads(n)
            stack.callback(fx.set_num_threads, prev)
        yield


def available_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_threads(spec: str) -> list[int]:
    """'1,all' -> [1, <cores>] (deduplicated, order kept)."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "all":
            n = available_threads()
        else:
            try:
                n = int(part)
            except ValueError:
                raise ValueError(f"--threads: expected integers or 'all', got {part!r}") from None
            if n < 1:
                raise ValueError(f"--threads: thread counts must be >= 1, got {n}")
        if n not in out:
            out.append(n)
    if not out:
        raise ValueError(f"--threads: no thread counts in {spec!r}")
    return out


# --------------------------------------------------------------------------------------------
# Running


def measure(run: Callable[[], Any], timing: Timing, first_s: float) -> list[float]:
    """Warm up (the checked first call counts as one) and time repeated calls.

    With ``timing.slow_first_is_sample`` (quick runs), a first call slower than the whole
    budget is returned as the only sample and ``run`` is not called again."""
    if timing.slow_first_is_sample and first_s >= timing.budget_s:
        return [first_s]
    estimate = first_s
    for _ in range(timing.warmup - 1):
        t0 = time.perf_counter()
        run()
        estimate = min(estimate, time.perf_counter() - t0)
    repeats = timing.repeats_for(estimate)
    times = []
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


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


def _describe(exc: BaseException) -> str:
    msg = str(exc)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


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
            rec.update(status="error", note=_join(impl.note, f"run failed: {_describe(exc)}"))
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
            rec.update(status="error", note=_join(impl.note, f"check failed: {_describe(exc)}"))
            return rec
        try:
            times = measure(impl.run, timing, first_s)
        except Exception as exc:
            rec.update(status="error", note=_join(impl.note, f"timed run failed: {_describe(exc)}"))
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
            impls[peer] = {"status": "error", "note": f"setup failed: {_describe(exc)}"}
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
    fx, fx_err = _try_fixedpoint()
    fx_default_threads = fx.get_num_threads() if fx is not None else None

    records: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    suite_seconds: dict[str, float] = {}
    for suite, module in cases_by_suite.items():
        t_suite = time.perf_counter()
        suite_records: list[dict[str, Any]] = []
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


# --------------------------------------------------------------------------------------------
# Machine info


def cpu_info() -> dict[str, Any]:
    model = None
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    phys_id = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key in ("model name", "Hardware") and model is None:
            model = val
        elif key in ("flags", "Features") and not flags:
            flags = set(val.split())
        elif key == "physical id":
            phys_id = val
        elif key == "core id":
            cores.add((phys_id, val))
    return {
        "model": model or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "available_cores": available_threads(),
        "physical_cores": len(cores) or None,
        "isa": [f for f in ISA_OF_INTEREST if f in flags],
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine_info(
    *,
    threads: Sequence[int],
    fx: Any = None,
    fx_error: str | None = None,
    fx_default_threads: int | None = None,
    numpy_preimported: bool = False,
) -> dict[str, Any]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in PEER_VERSIONS[1:]:
        versions[dist] = _version(dist)
    fx_version = getattr(fx, "__version__", None) if fx is not None else None
    versions["fixedpoint"] = fx_version or _version("fixedpoint-hls")

    build_info: Any = None
    if fx is not None:
        try:
            build_info = _jsonable(fx.build_info())
        except Exception as exc:
            build_info = {"error": _describe(exc)}

    tpc = _threadpoolctl()
    if tpc is not None:
        control = "threadpoolctl"
        try:
            pools = [
                {k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "prefix")}
                for p in tpc.threadpool_info()
            ]
        except Exception as exc:
            pools = [{"error": _describe(exc)}]
    else:
        control = (
            "environment variables (numpy was imported before they could be set)"
            if numpy_preimported
            else "environment variables, pinned before numpy import (peers run 1 BLAS thread)"
        )
        pools = None

    return {
        "cpu": cpu_info(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "fixedpoint": {
            "available": fx is not None,
            "error": fx_error,
            "build_info": build_info,
            "default_threads": fx_default_threads,
            "simd_target": simd_target(build_info),
        },
        "threads": {
            "requested": list(threads),
            "available": available_threads(),
            "peer_thread_control": control,
            "threadpools": pools,
            "env": {var: os.environ.get(var) for var in THREAD_ENV_VARS},
        },
        "load_avg": _load_avg(),
        "git_commit": _git_commit(),
    }


def _load_avg() -> list[float] | None:
    """1/5/15-minute load averages (other work on the machine skews times); taken at the start
    of the run (``load_avg_start``) and at its end (``load_avg``, which includes the run's own
    threads)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def simd_target(build_info: Any) -> str | None:
    """Best-effort pick of the SIMD target from fx.build_info() (whatever key carries it)."""
    if not isinstance(build_info, dict):
        return None
    for key in ("simd_target", "simd", "isa", "dispatch", "target", "kernel_isa"):
        val = build_info.get(key)
        if isinstance(val, str) and val:
            return val
    for key, val in build_info.items():
        if isinstance(val, str) and any(s in key.lower() for s in ("simd", "isa")):
            return val
    return None


# --------------------------------------------------------------------------------------------
# Reporting


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3g}x"


def _md_cell(text: Any, limit: int = 200) -> str:
    text = str(text).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def to_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    cpu = m["cpu"]
    fxm = m["fixedpoint"]
    lines = [
        "# fixedpoint benchmarks",
        "",
        f"- CPU: {cpu['model']} ({cpu['available_cores']} cores available, "
        f"{cpu['logical_cores']} logical); ISA: {' '.join(cpu['isa']) or '?'}",
        f"- fixedpoint: {m['versions'].get('fixedpoint') or '-'}, SIMD target: "
        f"{fxm.get('simd_target') or '-'}"
        + ("" if fxm["available"] else f" (not available: {fxm['error']})"),
        f"- threads: {', '.join(map(str, m['threads']['requested']))}; peer BLAS/OpenMP threads "
        f"via {m['threads']['peer_thread_control']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        f"- load average (1/5/15 min): start {m.get('load_avg_start') or '-'}, end {m.get('load_avg') or '-'}",
        f"- mode: {'quick' if results['run']['quick'] else 'full'}; times are per call; "
        "ratio = median / baseline median at the same thread count (lower is faster)",
    ]
    suites: dict[str, list[dict[str, Any]]] = {}
    for r in results["records"]:
        suites.setdefault(r["suite"], []).append(r)
    for suite, recs in suites.items():
        lines += [
            "",
            f"## {suite}",
            "",
            "| case | threads | peer | n | median | min | IQR | vs baseline | status | note |",
            "|---|---:|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in recs:
            peer = f"**{r['peer']}** (baseline)" if r["peer"] == r["baseline"] else r["peer"]
            lines.append(
                "| "
                + " | ".join(
                    _md_cell(c)
                    for c in (
                        r["case"],
                        r["threads"],
                        peer,
                        f"{r['n']:,}",
                        fmt_seconds(r["median_s"]),
                        fmt_seconds(r["min_s"]),
                        fmt_seconds(r["iqr_s"]),
                        fmt_ratio(r["ratio_vs_baseline"]),
                        r["status"],
                        r["note"],
                    )
                )
                + " |"
            )
    if results.get("goals"):
        lines += ["", "## Goals (reported, not asserted)", "", "| suite | case | goal | value | met |", "|---|---|---|---|---|"]
        for g in results["goals"]:
            met = {True: "yes", False: "NO", None: "n/a"}[g["met"]]
            lines.append(
                "| " + " | ".join(_md_cell(c) for c in (g["suite"], g["case"], g["goal"], g["value"], met)) + " |"
            )
    return "\n".join(lines) + "\n"


def print_report(markdown: str, fmt: str = "auto", stream: Any = None) -> None:
    stream = stream or sys.stdout
    use_rich = fmt == "rich" or (fmt == "auto" and hasattr(stream, "isatty") and stream.isatty())
    if use_rich:
        try:
            from rich.console import Console  # noqa: PLC0415
            from rich.markdown import Markdown  # noqa: PLC0415
        except ImportError:
            use_rich = False
        else:
            Console(file=stream).print(Markdown(markdown))
            return
    stream.write(markdown)


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
