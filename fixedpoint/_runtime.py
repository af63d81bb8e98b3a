"""Threads, instruction-set dispatch and build information."""

from __future__ import annotations

import contextlib
import numbers
import os
import platform
import threading
import warnings

from . import _backend

__all__ = ["set_num_threads", "get_num_threads", "build_info", "set_isa", "get_isa", "known_isas"]


def set_num_threads(n: int) -> None:
    """Set the number of threads the kernels use (default: FIXEDPOINT_NUM_THREADS, else all cores).

    Results never depend on the thread count: every kernel, STOCH included, gives the same
    bits with 1 thread or many.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is outside [1, 4096].
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"fx.set_num_threads: n must be an int >= 1, got {n!r}")
    if not 1 <= int(n) <= 4096:
        raise ValueError(f"fx.set_num_threads: n must be in [1, 4096], got {n}")
    _backend.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the kernels use. Never raises."""
    return _backend.get_num_threads()


def known_isas() -> list[str]:
    """The instruction sets the kernels are built for, best first (``['avx512_vnni', 'avx512',
    'avx2', 'scalar']`` on x86-64); ``fx.set_isa`` accepts those this CPU supports. Never raises."""
    return list(_backend.known_isas())


def _known() -> str:
    return ", ".join(repr(n) for n in _backend.known_isas())


def get_isa() -> str:
    """The instruction set the kernels run with, one of ``known_isas()``. Never raises."""
    return _backend.isa()


def set_isa(name: str) -> None:
    """Force the kernels' instruction set (one of ``known_isas()``); for tests and benchmarks.
    The FIXEDPOINT_ISA environment variable sets the initial choice. A kernel without code for
    that level runs its best code for a lower one (e.g. the GEMM's AVX2 code at 'avx512').

    Every instruction set computes the same bits; only the speed differs.

    Raises:
        ValueError: ``name`` is not one of ``known_isas()``, or this CPU does not support it
            (the message names the best one available).
        TypeError: ``name`` is not a string (``None`` included: there is no "automatic"
            choice to go back to; pass ``build_info()["best_isa"]``).
    """
    if not isinstance(name, str):
        raise TypeError(f"fx.set_isa: name must be a string, one of {_known()}, got {name!r}")
    _backend.set_isa(name)


def build_info() -> dict:
    """What the extension was built with and runs on.

    Returns:
        A dict with ``version``, ``isa`` (in use), ``best_isa`` (the CPU's best),
        ``isa_emulated`` (True in the test-only build whose AVX-512 kernels run on SIMDe),
        ``num_threads``, ``compiler``, ``machine`` and ``python``. Never raises.
    """
    from . import __version__

    return {
        "version": __version__,
        "isa": _backend.isa(),
        "best_isa": _backend.best_isa(),
        # True only in the test-only SIMDe build: the AVX-512 kernels run on emulated intrinsics
        "isa_emulated": _backend.ISA_EMULATED,
        "num_threads": _backend.get_num_threads(),
        "compiler": _backend.COMPILER,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


_BLAS = {"depth": 0, "limiter": None, "controller": None}


@contextlib.contextmanager
def blas_one_thread():
    """Inside, when entered from the main thread: BLAS (NumPy's ``np.matmul`` on floats) runs on
    one thread, process-wide, through threadpoolctl; leaving restores its thread count. The
    emulation engine calls BLAS on cache-sized chunks (2048 samples), where BLAS's own threads
    cost more than they give and, with the engine's chunk threads, oversubscribe the cores (the
    jet MLP on 1M events, 2 cores: 0.65 s against 0.90 s with BLAS on 2 threads, and 0.81 s
    against 0.88 s with one engine thread). Entered from another thread it does nothing:
    OpenBLAS does not take a larger thread count from a thread other than the main one, so a
    limit set there could not be undone (Dask workers already run BLAS on one thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _BLAS["depth"] == 0:
        if _BLAS["controller"] is None:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - found once, after NumPy loaded BLAS

            _BLAS["controller"] = ThreadpoolController()
        _BLAS["limiter"] = _BLAS["controller"].limit(limits=1, user_api="blas")
    _BLAS["depth"] += 1
    try:
        yield
    finally:
        _BLAS["depth"] -= 1
        if _BLAS["depth"] == 0:
            _BLAS["limiter"].restore_original_limits()
            _BLAS["limiter"] = None


def _check_environment() -> None:
    """Warn (once, at import) about environment settings the core ignores."""
    threads = os.environ.get("FIXEDPOINT_NUM_THREADS")
    if threads is not None and not (threads.isdigit() and 1 <= int(threads) <= 4096):
        warnings.warn(
            f"FIXEDPOINT_NUM_THREADS={threads!r} is not an integer in [1, 4096] and is ignored; "
            f"using {_backend.get_num_threads()} threads",
            RuntimeWarning,
            stacklevel=3,
        )
    isa = os.environ.get("FIXEDPOINT_ISA")
    if isa is not None and isa != _backend.isa():
        why = "is not supported by this CPU" if isa in _backend.known_isas() else f"is not one of {_known()}"
        warnings.warn(
            f"FIXEDPOINT_ISA={isa!r} {why} and is ignored; the kernels use {_backend.isa()!r}",
            RuntimeWarning,
            stacklevel=3,
        )


_check_environment()
