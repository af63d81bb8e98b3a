"""Suite registry: every module in this package is a suite named after the module.

A suite module provides

- ``cases(quick: bool) -> list[bench.model.Case]`` (build inputs here, import peers only
  inside the peer factories so that a missing peer is a skipped record, not a crash), and
- optionally ``goals(records: list[dict]) -> list[dict]``: targets to *report* (never assert),
  each ``{"suite", "case", "goal", "value", "met"}`` with ``met`` True/False/None.

Adding a suite (``arith``, ``matmul``, ``plan``, ``sparse``, ``binary``, ``torch``, ``hls4ml``, ``wide``, ``dask``)
means adding ``bench/cases/<name>.py``; nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def available_suites() -> list[str]:
    """Suite names in a stable order: those listed in ORDER first, then the rest sorted."""
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    ordered = [name for name in ORDER if name in found]
    return ordered + sorted(found - set(ordered))


def load_suite(name: str) -> ModuleType:
    if name not in available_suites():
        raise KeyError(f"unknown benchmark suite {name!r}; available: {', '.join(available_suites())}")
    module = importlib.import_module(f"{__name__}.{name}")
    if not callable(getattr(module, "cases", None)):
        raise TypeError(f"bench suite {name!r} has no cases(quick) function")
    return module


ORDER = ("quantize", "arith", "matmul", "plan", "sparse", "binary", "torch", "hls4ml", "wide", "dask")
