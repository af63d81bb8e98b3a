"""The documentation is tested: its examples run, its tables are recomputed, the site builds.

* Every ```python block with ``>>>`` prompts in docs/*.md and README.md runs as a doctest
  (all blocks of one file share a namespace, in order, like a tutorial).
* Every row of a worked-example table (a markdown table whose header has the columns
  ``type``, ``x``, ``bits``, ``raw`` and ``value``) is recomputed with the C++ engine and with
  the pure-Python reference model.
* ``mkdocs build --strict`` succeeds (skipped when mkdocs is not installed), and the API
  reference page it renders from the docstrings (docs/api.md, mkdocstrings) has an entry for
  every public name.
* The ``>>>`` examples inside the public modules' docstrings (which the API page shows) run
  as doctests too.
* Pages without python examples are listed in ``NO_EXAMPLES`` with the reason; they may not
  hold python blocks at all (nothing untested can hide there).

``doctest.testfile`` cannot be pointed at a markdown file directly: a closing fence right
after an expected output becomes part of that output. So the python blocks are extracted
first, with everything else blanked out to keep line numbers.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _reference as ref

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
PYTHON_INFO = {"python", "py", "pycon"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Pages that hold no python examples, and why.
NO_EXAMPLES = {
    "api.md": "rendered from the docstrings by mkdocstrings; their examples run in test_docstring_examples",
    "benchmarks.md": "generated from a results file by `python -m bench --page` (tests/test_bench_page.py)",
}


def _code_blocks(text: str):
    """Yield (info, first_line_index, lines) for every fenced block of a markdown text."""
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        m = FENCE.match(lines[k])
        if not m:
            k += 1
            continue
        fence, info = m.group(1), m.group(2).lower()
        end = k + 1
        while end < len(lines) and not (lines[end].startswith(fence) and not lines[end].strip(fence[0]).strip()):
            end += 1
        yield info, k + 1, lines[k + 1:end]
        k = end + 1


def _doctest_text(path: Path) -> str:
    """The file with everything but the python blocks blanked (line numbers are kept)."""
    text = path.read_text(encoding="utf-8")
    out = [""] * len(text.splitlines())
    for info, start, block in _code_blocks(text):
        if info in PYTHON_INFO:
            out[start:start + len(block)] = block
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_examples(path, restore_runtime):
    if path.name in NO_EXAMPLES and path.parent == DOCS:
        assert not any(info in PYTHON_INFO for info, _, _ in _code_blocks(path.read_text(encoding="utf-8"))), (
            f"{path.name} is listed in NO_EXAMPLES ({NO_EXAMPLES[path.name]}) but has python blocks")
        pytest.skip(f"{path.name}: {NO_EXAMPLES[path.name]}")
    test = doctest.DocTestParser().get_doctest(
        _doctest_text(path), {"__name__": "__main__"}, path.name, str(path), 0
    )
    assert test.examples, f"{path.name}: no >>> examples found"
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_python_block_is_a_doctest(path):
    """A python block without prompts would never run; docs/ examples must be doctests."""
    text = path.read_text(encoding="utf-8")
    untested = [start for info, start, block in _code_blocks(text)
                if info in PYTHON_INFO and not any(line.startswith(">>> ") for line in block)]
    assert not untested, f"{path.name}: python blocks without >>> start at lines {untested}"


# ---------------------------------------------------------------------------------------
# worked-example tables
# ---------------------------------------------------------------------------------------
TABLE_COLUMNS = ("type", "x", "bits", "raw", "value")


def _cells(line: str) -> list[str]:
    return [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]


def _table_rows():
    """(id, {column: cell}) for every row of every worked-example table in docs/."""
    rows = []
    for path in sorted(DOCS.glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        k = 0
        while k < len(lines):
            if not (lines[k].startswith("|") and k + 1 < len(lines) and re.match(r"^\|[\s|:-]+\|$", lines[k + 1])):
                k += 1
                continue
            header = [h.lower().replace(" ", "") for h in _cells(lines[k])]
            k += 2
            while k < len(lines) and lines[k].startswith("|"):
                if set(TABLE_COLUMNS) <= set(header):
                    rows.append((f"{path.name}:{k + 1}", dict(zip(header, _cells(lines[k])))))
                k += 1
    return rows


TABLE_ROWS = _table_rows()


def test_tables_found():
    assert len(TABLE_ROWS) >= 40, f"expected the worked-example tables of modes.md, found {len(TABLE_ROWS)} rows"


@pytest.mark.parametrize("row", [r for _, r in TABLE_ROWS], ids=[i for i, _ in TABLE_ROWS])
def test_worked_example_row(row):
    fmt = fx.Fixed.parse(row["type"])
    x = float(row["x"])
    raws = [int(t) for t in row["raw"].split(" or ")]
    bits = row["bits"].split(" or ")
    values = [float(t) for t in row["value"].split(" or ")]
    assert len(raws) == len(bits) == len(values)
    for r, b, v in zip(raws, bits, values):
        assert np.binary_repr(r, width=fmt.w) == b
        assert fx.from_raw([r], fmt).to_float().tolist() == [v]
    scaled = row.get("x·2^f", "")
    if scaled:
        assert Fraction(x) * Fraction(2) ** fmt.f == Fraction(scaled)
    # Several outcomes ("4 or 5") only for STOCH: every seed gives one of them, and each occurs.
    assert (len(raws) > 1) == (fmt.q is fx.QMode.STOCH)
    seen = set()
    for seed in range(64) if len(raws) > 1 else [0]:
        engine = int(fx.array(np.array([x]), fmt, seed=seed, nan="ap").raw[0])
        model = ref.from_double(x, fmt.w, fmt.i, fmt.signed, fmt.q.value, fmt.o.value, fmt.n,
                                nan="ap", seed=seed, index=0)
        assert engine == model
        assert engine in raws
        seen.add(engine)
    assert seen == set(raws)


def test_division_quirk_example():
    """docs/modes.md states these ap_fixed division results (checked by the golden vectors)."""
    assert ref.arith_raw("div", -8, (4, 4, True), -1, (4, 4, True)) == (-8, (5, 5, True))
    assert ref.arith_raw("div", -8, (4, 2, True), -1, (4, 2, True)) == (-32, (7, 5, True))


# ---------------------------------------------------------------------------------------
# the site
# ---------------------------------------------------------------------------------------
def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'); the site build is not checked")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "modes" / "index.html").is_file()
    # The API reference renders every public name (mkdocstrings anchors are the dotted paths).
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(fixedpoint[\w.]*)"', api))
    missing = [name for name in _public_names() if name not in anchors]
    assert not missing, f"docs/api.md renders no entry for {missing}"


def _public_names() -> list[str]:
    """Dotted names of the public API, as mkdocstrings anchors them."""
    import fixedpoint.binary as fxb  # noqa: PLC0415
    import fixedpoint.hls4ml as fxh  # noqa: PLC0415
    import fixedpoint.prune as fxp  # noqa: PLC0415

    import fixedpoint.datasets as fxd  # noqa: PLC0415

    skip = {"MAX_WIDTH", "binary", "hls4ml", "prune", "datasets"}  # a constant and the modules with their own sections
    names = [f"fixedpoint.{n}" for n in fx.__all__ if n not in skip and n != "array"]
    names.append("fixedpoint.quantize.array")  # fx.array shares its name with the module fixedpoint.array
    names += [f"fixedpoint.binary.{n}" for n in fxb.__all__]
    names += [f"fixedpoint.hls4ml.{n}" for n in fxh.__all__]
    names += [f"fixedpoint.prune.{n}" for n in fxp.__all__]
    names += [f"fixedpoint.datasets.{n}" for n in fxd.__all__]
    try:
        import fixedpoint.dask as fxdask  # noqa: PLC0415
    except ImportError:
        pass
    else:
        names += [f"fixedpoint.dask.{n}" for n in fxdask.__all__]
    try:
        import fixedpoint.torch as fxt  # noqa: PLC0415
    except ImportError:
        return names
    names += [f"fixedpoint.torch.{n}" for n in fxt.__all__ if n not in ("STE_MODES", "BINARY_STE_MODES")]
    return names


DOCSTRING_MODULES = ("fixedpoint", "fixedpoint.format", "fixedpoint.array", "fixedpoint._arith", "fixedpoint._reduce",
                     "fixedpoint._join", "fixedpoint._matmul", "fixedpoint._linalg",
                     "fixedpoint.binary", "fixedpoint._runtime", "fixedpoint.hls4ml", "fixedpoint.network",
                     "fixedpoint.sparse", "fixedpoint.prune", "fixedpoint.datasets", "fixedpoint.scanner") + (
                         ("fixedpoint.dask",) if importlib.util.find_spec("distributed") else ())


@pytest.mark.parametrize("name", DOCSTRING_MODULES)
def test_docstring_examples(name, restore_runtime):
    """The >>> examples in the docstrings the API page renders."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False, report=False)
    assert result.failed == 0, f"{name}: {result.failed} docstring example(s) failed; run python -m doctest"


def test_docstring_examples_exist():
    counts = [doctest.testmod(importlib.import_module(n), optionflags=FLAGS, report=False).attempted
              for n in DOCSTRING_MODULES]
    assert sum(counts) >= 5
