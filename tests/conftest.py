"""pytest configuration shared by the test files: hypothesis profiles and the ``isa`` fixture.

Hypothesis profiles (``HYPOTHESIS_PROFILE=<name>``, default ``ci``):

- ``ci``: the budget the CI runs; no example database, so runs do not depend on earlier ones;
- ``local``: the same budget, with the example database (failures replay first);
- ``long``: 20x the examples of ``ci`` (``tests/strategies.examples`` scales the tests that set
  their own budget, such as ``tests/test_fuzz_api.py``).

Tests that set ``max_examples`` in their own ``settings`` keep it in every profile unless they
use ``strategies.examples``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import strategies` from any rootdir

import strategies  # noqa: E402

import fixedpoint as fx  # noqa: E402

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", database=None, **_COMMON)
settings.register_profile("local", **_COMMON)
settings.register_profile("long", max_examples=100 * 20, database=None, **_COMMON)
settings.load_profile(strategies.PROFILE if strategies.PROFILE in ("ci", "local", "long") else "ci")


@pytest.fixture(params=strategies.ISAS)
def isa(request):
    """Each ISA this machine supports (``strategies.ISAS``), set for the test and restored after."""
    before = fx.get_isa()
    fx.set_isa(request.param)
    yield request.param
    fx.set_isa(before)


@pytest.fixture(params=[1, 2])
def threads(request):
    """1 and 2 kernel threads, set for the test and restored after."""
    before = fx.get_num_threads()
    fx.set_num_threads(request.param)
    yield request.param
    fx.set_num_threads(before)


@pytest.fixture
def restore_runtime():
    """The ISA and thread count as they were before the test, whatever it set."""
    isa, nt = fx.get_isa(), fx.get_num_threads()
    yield
    fx.set_isa(isa)
    fx.set_num_threads(nt)
