"""Shared test helpers: mode lists, the hypothesis strategies for formats and raws, the ISA
list and ``multi_threaded``.

Everything here is derived from the public API (``fx.QMode``, ``fx.OMode``) or the extension
(``_core.known_isas``/``_core.isa_supported``), never copied from the implementation's tables.
``tests/conftest.py`` registers the hypothesis profiles and the ``isa`` fixture.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _core

# ----------------------------------------------------------------------------------------------
# modes
# ----------------------------------------------------------------------------------------------
Q_MODES: tuple[str, ...] = tuple(m.value for m in fx.QMode)  # STOCH included
O_MODES: tuple[str, ...] = tuple(m.value for m in fx.OMode)
DETERMINISTIC_Q_MODES: tuple[str, ...] = tuple(q for q in Q_MODES if q != "STOCH")  # ap_fixed's seven
SAT_O_MODES: tuple[str, ...] = tuple(o for o in O_MODES if o.startswith("SAT"))
WRAP_O_MODES: tuple[str, ...] = tuple(o for o in O_MODES if o.startswith("WRAP"))


def o_modes_for(signed: bool) -> tuple[str, ...]:
    """The overflow modes a format of this signedness accepts (ap_ufixed rejects WRAP_SM)."""
    return O_MODES if signed else tuple(o for o in O_MODES if o != "WRAP_SM")


# ----------------------------------------------------------------------------------------------
# hypothesis profiles: the budget of the tests without explicit settings, and the scale for the
# ones that ask for it (``examples(n)``)
# ----------------------------------------------------------------------------------------------
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE_SCALE = {"ci": 1, "local": 1, "long": 20}.get(PROFILE, 1)


def examples(n: int) -> int:
    """``n`` examples in the ci/local profiles, 20x in the long one."""
    return n * PROFILE_SCALE


# ----------------------------------------------------------------------------------------------
# formats
# ----------------------------------------------------------------------------------------------
# widths where the implementation changes paths or a double stops being exact: 1, the 32-bit C
# conversion boundary, the 52/53-bit double significand, the 64-bit limb and the next ones
SPECIAL_WIDTHS = (1, 2, 3, 8, 16, 31, 32, 33, 52, 53, 54, 63, 64, 65, 127, 128, 129, 256, 1024)


@st.composite
def formats(draw, min_w: int = 1, max_w: int = 64, *, signed: bool | None = None, modes: bool = True,
            qs=Q_MODES, os_=None, i_margin: int = 8, n_max: int | None = None):
    """Valid ``fx.Fixed`` formats, aimed at the cases where rounding ties and ranges go wrong.

    ``w`` is uniform in ``[min_w, max_w]`` or one of ``SPECIAL_WIDTHS``; ``i`` is uniform in
    ``[-i_margin, w + i_margin]`` or one of the edges ``0, 1, -1, w - 1, w, w + 1`` (no integer bit,
    no fraction bit, a format entirely below or above the binary point); every signedness. With
    ``modes``: ``q`` from ``qs``, ``o`` from ``os_`` (default: every mode the signedness allows)
    and ``n`` in ``0..min(w, n_max)`` for the WRAP modes (0 for the saturating ones).
    """
    special = [w for w in SPECIAL_WIDTHS if min_w <= w <= max_w]
    w = draw(st.one_of(st.integers(min_w, max_w), st.sampled_from(special or [min_w])), label="w")
    i = draw(st.one_of(st.integers(-i_margin, w + i_margin), st.sampled_from([0, 1, -1, w - 1, w, w + 1])),
             label="i")
    s = draw(st.booleans(), label="signed") if signed is None else signed
    if not modes:
        return fx.Fixed(w, i, signed=s)
    q = draw(st.sampled_from(tuple(qs)), label="q")
    allowed = o_modes_for(s) if os_ is None else tuple(o for o in os_ if s or o != "WRAP_SM")
    o = draw(st.sampled_from(allowed), label="o")
    top = w if n_max is None else min(w, n_max)
    n = draw(st.one_of(st.integers(0, top), st.sampled_from(sorted({0, 1, top} & set(range(top + 1))))),
             label="n") if o in WRAP_O_MODES else 0
    return fx.Fixed(w, i, signed=s, q=q, o=o, n=n)


def raw_values(fmt, nonzero: bool = False):
    """Raws of ``fmt``: uniform, or one of the range ends, 0, +-1 and the midpoint."""
    lo, hi = fmt.raw_min, fmt.raw_max
    special = {lo, hi, 0, 1, lo + 1, hi - 1, -1, (lo + hi) // 2}
    special = sorted(v for v in special if lo <= v <= hi and not (nonzero and v == 0))
    s = st.one_of(st.sampled_from(special), st.integers(lo, hi))
    return s.filter(lambda v: v != 0) if nonzero else s


# ----------------------------------------------------------------------------------------------
# ISAs
# ----------------------------------------------------------------------------------------------
def known_isas() -> tuple[str, ...]:
    """Every ISA level the extension knows, best first (from the extension's registry)."""
    return tuple(_core.known_isas())


def supported_isas() -> list[str]:
    """The ISAs this machine runs, worst (scalar) first."""
    return [n for n in reversed(known_isas()) if _core.isa_supported(n)]


ISAS: list[str] = supported_isas()


# ----------------------------------------------------------------------------------------------
# threads
# ----------------------------------------------------------------------------------------------
def multi_threaded(fn: Callable[[int], object], num_threads: int = 8, timeout: float = 300.0) -> list:
    """Run ``fn(k)`` for ``k in range(num_threads)`` in as many Python threads, started together
    behind a barrier, and return the results in ``k`` order. An exception in any thread is
    re-raised here (the first one, with the thread's index); a thread still running after
    ``timeout`` seconds fails the test instead of hanging it.

    (After ml_dtypes' ``tests/multi_thread_utils.py``.)
    """
    barrier = threading.Barrier(num_threads)
    results: list = [None] * num_threads
    errors: list = [None] * num_threads

    def run(k: int) -> None:
        try:
            barrier.wait()
            results[k] = fn(k)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors[k] = e

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(num_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    alive = [k for k, t in enumerate(threads) if t.is_alive()]
    if alive:
        raise AssertionError(f"multi_threaded: threads {alive} still running after {timeout} s")
    for k, e in enumerate(errors):
        if e is not None:
            raise AssertionError(f"multi_threaded: thread {k} raised {type(e).__name__}: {e}") from e
    return results
