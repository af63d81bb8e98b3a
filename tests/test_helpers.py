"""The shared test helpers (tests/strategies.py, tests/conftest.py) do what the tests rely on."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings

import fixedpoint as fx
import strategies
from fixedpoint import _core


def test_mode_lists_are_the_enums():
    assert set(strategies.Q_MODES) == {m.value for m in fx.QMode}
    assert set(strategies.O_MODES) == {m.value for m in fx.OMode}
    assert "STOCH" not in strategies.DETERMINISTIC_Q_MODES and len(strategies.DETERMINISTIC_Q_MODES) == 7


def test_isa_list_reads_the_extension():
    assert strategies.ISAS[0] == "scalar"
    assert all(_core.isa_supported(n) for n in strategies.ISAS)
    assert [n for n in strategies.known_isas() if _core.isa_supported(n)] == strategies.ISAS[::-1]


def test_isa_fixture_sets_and_restores(isa):
    assert fx.get_isa() == isa


@settings(max_examples=200, deadline=None)
@given(fmt=strategies.formats(1, 130))
def test_formats_are_valid(fmt):
    assert 1 <= fmt.w <= 130
    assert fmt.signed or fmt.o.value != "WRAP_SM"
    assert fmt.n == 0 or fmt.o.value in strategies.WRAP_O_MODES
    assert fx.Fixed.parse(str(fmt)) == fmt


def test_multi_threaded_runs_together_and_reraises():
    seen = set()
    lock = threading.Lock()

    def fn(k):
        with lock:
            seen.add(threading.get_ident())
        return k * k

    assert strategies.multi_threaded(fn, 6) == [k * k for k in range(6)]
    assert len(seen) == 6

    def bad(k):
        if k == 3:
            raise ValueError("boom")
        return k

    with pytest.raises(AssertionError, match="thread 3 raised ValueError: boom"):
        strategies.multi_threaded(bad, 5)
