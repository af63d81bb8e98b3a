"""Threads, instruction-set dispatch and build information."""

from __future__ import annotations

import numbers
import platform

from . import _core

__all__ = ["set_num_threads", "get_num_threads", "build_info", "set_isa", "get_isa"]


def set_num_threads(n: int) -> None:
    """Set the number of threads the kernels use (default: FIXEDPOINT_NUM_THREADS, else all cores)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"fx.set_num_threads: n must be an int >= 1, got {n!r}")
    if not 1 <= int(n) <= 4096:
        raise ValueError(f"fx.set_num_threads: n must be in [1, 4096], got {n}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the kernels use."""
    return _core.get_num_threads()


def get_isa() -> str:
    """The instruction set the kernels run with: 'avx512', 'avx2' or 'scalar'."""
    return _core.isa()


def set_isa(name: str) -> None:
    """Force the kernels' instruction set ('scalar', 'avx2', 'avx512'); for tests and benchmarks.
    The FIXEDPOINT_ISA environment variable sets the initial choice."""
    _core.set_isa(name)


def build_info() -> dict:
    """What the extension was built with and runs on."""
    from . import __version__

    return {
        "version": __version__,
        "isa": _core.isa(),
        "best_isa": _core.best_isa(),
        "num_threads": _core.get_num_threads(),
        "compiler": getattr(_core, "compiler", "unknown"),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
