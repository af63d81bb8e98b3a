"""Packaging: the LICENSE file matches the license pyproject declares, the release wheel build
(cibuildwheel in pyproject) targets the glibc floor the docs state, and .ci/glibc_floor.py reads
the floor of a real shared object from ``objdump -T``."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


def _pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python >= 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_the_apache_2_text_pyproject_declares():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 150  # the full text, not a stub
    assert _pyproject()["project"]["license"] == {"text": "Apache-2.0"}


def test_release_wheels_target_the_documented_glibc_floor():
    cfg = _pyproject()["tool"]["cibuildwheel"]
    image = cfg["linux"]["manylinux-x86_64-image"]
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)", image)
    assert m, image
    floor = f"{m.group(1)}.{m.group(2)}"
    assert f"--plat {image}_x86_64" in cfg["linux"]["repair-wheel-command"]
    assert f"glibc_floor.py --max {floor}" in cfg["test-command"]
    docs = (ROOT / "docs" / "index.md").read_text()
    assert f"**glibc >= {floor}**" in docs and f"`manylinux_{m.group(1)}_{m.group(2)}` image" in docs
    for path in re.findall(r"\{project\}/(\S+\.py)", cfg["test-command"]):
        assert (ROOT / path).is_file(), path


def _glibc_floor():
    spec = importlib.util.spec_from_file_location("_glibc_floor", ROOT / ".ci" / "glibc_floor.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_glibc_floor_reads_objdump(capsys):
    if shutil.which("objdump") is None or not sys.platform.startswith("linux"):
        pytest.skip("needs objdump (binutils) on Linux")
    import fixedpoint._core as core

    gf = _glibc_floor()
    needs = gf.required(core.__file__)
    # every extension imports memcpy/malloc-era symbols from glibc; the floor is the highest
    assert needs and (2, 2, 5) in needs
    top, syms = gf.floor(core.__file__)
    assert top == max(needs) and syms
    ver = ".".join(map(str, top))
    assert gf.main(["--max", ver, core.__file__]) == 0
    below = top[:-1] + (top[-1] - 1,)
    assert gf.main(["--max", ".".join(map(str, below)), core.__file__]) == 1
    out = capsys.readouterr()
    assert f"needs glibc >= {ver}" in out.out and f"needs glibc {ver}, above the allowed" in out.err
