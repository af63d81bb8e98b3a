"""Timing and thread control: how many calls are timed (:class:`Timing`, :data:`FULL`,
:data:`QUICK`), :func:`measure` (warm-up, then repeated timed calls with the garbage collector
off), and :func:`thread_limit` (fixedpoint's threads and the BLAS/OpenMP pools of the peers,
through threadpoolctl), with the ``--threads`` parser.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.model import try_fixedpoint


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
        fx, _ = try_fixedpoint()
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
