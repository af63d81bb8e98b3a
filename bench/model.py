"""What a benchmark case is: :class:`Case` (the same work done by several peers), each peer's
:class:`Impl` (a timed call and the check of its output), the exceptions a peer raises
(:class:`Skip`, :class:`WrongResult`), the fields of the record every (case, peer, thread count)
produces, and the helpers cases use (:func:`expect_equal`, :func:`import_fixedpoint`).

A *suite* is a module in :mod:`bench.cases` with a ``cases(quick)`` function returning
:class:`Case` objects (and optionally ``goals(records)``). A case names a baseline peer and
maps every peer name to a factory. The factory does the untimed set-up (imports, format
construction, input conversion) and returns an :class:`Impl`; it raises ``ImportError`` when
the peer is not installed and :class:`Skip` when the peer cannot do what the case asks.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

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


def describe(exc: BaseException) -> str:
    msg = str(exc)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


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


def try_fixedpoint() -> tuple[Any, str | None]:
    """``(fixedpoint, None)``, or ``(None, reason)`` when it cannot be imported."""
    try:
        return import_fixedpoint(), None
    except ImportError as exc:
        return None, str(exc)


def median_lookup(records: list[dict[str, Any]]) -> Callable[[str, str, int], float | None]:
    """``med(case, peer, threads)``: the median seconds of that record when it ran ("ok"), else
    None (the lookup every suite's ``goals`` makes)."""
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}

    def med(case: str, peer: str, t: int) -> float | None:
        r = by.get((case, peer, t))
        return r["median_s"] if r is not None and r["status"] == "ok" and r["median_s"] else None

    return med
