"""Code compiled with ISA flags (-mavx2, -mavx512*) must not share symbol names with generic code
(issue 21). The linker keeps one copy of an inline function or template instantiation (a weak
symbol), chosen by link order: had `Target::Target` from kernels_avx2 been kept, the scalar
kernels would execute AVX2 instructions, an illegal instruction on a CPU without AVX2. Shared
headers put such code in a per-ISA inline namespace (csrc/core/isa_ns.hpp).

These checks read the object files of a source build (build/<wheel tag>/CMakeFiles, left by
`pip install -e .`); the installed extension is stripped, so they skip without them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixedpoint import _core

ROOT = Path(__file__).resolve().parents[1]
# Objects of the ISA files (<family>_<isa>.cpp, e.g. gemm_avx2.cpp, accum_avx512.cpp), the ISAs read
# from the extension's registry (csrc/core/isa.hpp)
_LEVELS = sorted((n for n in _core.known_isas() if n != "scalar"), key=len, reverse=True)
ISA_OBJECT = re.compile(r"_(%s)\.cpp\.o$" % "|".join(map(re.escape, _LEVELS)))


def _objects():
    found = sorted(ROOT.glob("build/*/CMakeFiles/*.dir/csrc/**/*.cpp.o"))
    if not found:
        pytest.skip("no object files of a source build under build/<wheel tag>/CMakeFiles "
                    "(the installed extension is stripped; build with pip install -e . to run this check)")
    for tool in ("readelf", "objdump", "c++filt"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (binutils) is not installed")
    # one build tree: the newest
    tree = max({p.parts[len(ROOT.parts) + 1] for p in found}, key=lambda t: max(
        q.stat().st_mtime for q in found if q.parts[len(ROOT.parts) + 1] == t))
    return [p for p in found if p.parts[len(ROOT.parts) + 1] == tree]


def _shared_functions(obj: Path) -> set[str]:
    """Defined FUNC symbols that the linker may merge with another object's (WEAK or GLOBAL)."""
    out = subprocess.run(["readelf", "-sW", str(obj)], check=True, capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[3] == "FUNC" and f[4] in ("WEAK", "GLOBAL") and f[6] != "UND":
            names.append(f[7])
    return set(names)


def _demangle(names):
    if not names:
        return []
    out = subprocess.run(["c++filt"], input="\n".join(sorted(names)), check=True, capture_output=True,
                         text=True).stdout
    return out.splitlines()


def test_isa_objects_share_no_weak_function_with_generic_objects():
    objs = _objects()
    isa = [p for p in objs if ISA_OBJECT.search(p.name)]
    generic = [p for p in objs if not ISA_OBJECT.search(p.name)]
    assert isa and generic, [p.name for p in objs]
    generic_names = set().union(*(_shared_functions(p) for p in generic))
    clashes = {}
    for p in isa:
        both = _shared_functions(p) & generic_names
        if both:
            clashes[p.name] = _demangle(both)
    assert not clashes, ("functions defined both in an ISA object and a generic one (the linker may keep "
                         f"the ISA copy for generic code): {clashes}")


_AVX = re.compile(r"%[yz]mm\d|%k[0-7]\b|\{%k|\bv[a-z0-9]+\s")


def test_generic_objects_hold_no_avx_instructions():
    """The objects compiled without ISA flags (the scalar kernels, the dispatch, the bindings)
    contain no VEX/EVEX instruction: their code runs on any x86-64."""
    objs = [p for p in _objects() if not ISA_OBJECT.search(p.name)]
    bad = {}
    for p in objs:
        dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(p)], check=True, capture_output=True,
                             text=True).stdout
        hits = [ln.strip() for ln in dis.splitlines() if "\t" in ln and _AVX.search(ln.split("\t", 1)[1])]
        if hits:
            bad[p.name] = hits[:3]
    assert not bad, f"AVX instructions in generic objects: {bad}"
