"""Golden-vector loader shared by the tests (vectors produced by running the real ap_fixed.h).

The vectors live outside the repository: ``$FIXEDPOINT_GOLDEN_DIR`` if set, else
``<repo root>/../shared/golden``. Their format is described in that directory's README.md.
Parsed records are cached per file for the whole test session.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

FILES = ("from_double", "cast", "arith")


class Fmt(NamedTuple):
    """A golden type: ``(w, i, signed)`` plus ``q, o, n`` when the record gives modes."""

    w: int
    i: int
    signed: bool
    q: str | None = None
    o: str | None = None
    n: int | None = None

    @property
    def base(self) -> tuple[int, int, bool]:
        return (self.w, self.i, self.signed)

    def __str__(self) -> str:
        name = "ap_fixed" if self.signed else "ap_ufixed"
        if self.q is None:
            return f"{name}<{self.w},{self.i}>"
        return f"{name}<{self.w},{self.i},AP_{self.q},AP_{self.o},{self.n}>"


def golden_dir() -> Path:
    env = os.environ.get("FIXEDPOINT_GOLDEN_DIR")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "golden").resolve()


def golden_path(name: str) -> Path:
    return golden_dir() / f"{name}.jsonl.gz"


def require(name: str) -> Path:
    """Path of ``<name>.jsonl.gz``; skips the calling test when it is absent."""
    path = golden_path(name)
    if not path.is_file():
        pytest.skip(
            f"golden vectors not found at {path}; they ship in the workspace's shared/golden "
            "(set FIXEDPOINT_GOLDEN_DIR to point elsewhere)"
        )
    return path


_FMT_CACHE: dict[tuple, Fmt] = {}


def _fmt(d: dict) -> Fmt:
    key = (d["w"], d["i"], d["signed"], d.get("q"), d.get("o"), d.get("n"))
    f = _FMT_CACHE.get(key)
    if f is None:
        f = _FMT_CACHE[key] = Fmt(*key)
    return f


_INT_FIELDS = ("raw", "src_raw", "a_raw", "b_raw", "to_raw")
_HEX_FIELDS = ("x", "to_double")
_FMT_FIELDS = ("dst", "src", "a", "b", "res", "to")


def parse_record(line: str | bytes) -> dict:
    """One JSON line -> dict with raw values as ints, doubles as floats, types as ``Fmt``."""
    rec = json.loads(line)
    for k in _INT_FIELDS:
        if k in rec:
            rec[k] = int(rec[k])
    for k in _HEX_FIELDS:
        if k in rec:
            rec[k] = float.fromhex(rec[k])
    for k in _FMT_FIELDS:
        if k in rec:
            rec[k] = _fmt(rec[k])
    rec.setdefault("ref_assert", False)
    return rec


_CACHE: dict[str, list[dict]] = {}


def records(name: str) -> list[dict]:
    """All parsed records of ``<name>.jsonl.gz`` (cached; skips the test when absent)."""
    if name not in _CACHE:
        path = require(name)
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            _CACHE[name] = [parse_record(line) for line in fh if line.strip()]
    return _CACHE[name]


def reference():
    """The reference model module ``fixedpoint._reference``.

    It is pure Python; when the package itself cannot be imported (extension not built
    yet) the file is loaded directly so the reference tests still run.
    """
    try:
        return importlib.import_module("fixedpoint._reference")
    except ImportError:
        name = "_fixedpoint_reference_standalone"
        if name in sys.modules:
            return sys.modules[name]
        path = REPO_ROOT / "fixedpoint" / "_reference.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod


def describe(rec: dict) -> str:
    """Short human-readable form of a record for assertion messages."""
    parts = [rec["op"]]
    for k, v in rec.items():
        if k == "op":
            continue
        if isinstance(v, float):
            parts.append(f"{k}={v.hex()}")
        elif isinstance(v, Fmt):
            parts.append(f"{k}={v}")
        elif k == "ref_assert" and not v:
            continue
        else:
            parts.append(f"{k}={v}")
    return " ".join(parts)


class Mismatches:
    """Collects mismatches; ``check()`` fails with the count and the first few examples."""

    def __init__(self, what: str, limit: int = 8):
        self.what = what
        self.limit = limit
        self.count = 0
        self.total = 0
        self.examples: list[str] = []

    def add(self, msg: str, count: int = 1) -> None:
        self.count += count
        if len(self.examples) < self.limit:
            self.examples.append(msg)

    def check(self) -> None:
        if self.count:
            lines = "\n  ".join(self.examples)
            pytest.fail(
                f"{self.what}: {self.count} of {self.total} golden values mismatch; "
                f"first examples:\n  {lines}",
                pytrace=False,
            )
