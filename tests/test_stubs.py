"""The hand-written stub fixedpoint/_core.pyi matches the compiled extension."""

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install mypy)")
def test_core_stub_matches_extension(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fixedpoint._core"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
