"""Tests of the matmul and sparse benchmark suites on small stand-in sizes: every peer's
output passes its exact check, a wrong answer is caught, and goals are reported (never
asserted). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if not (REPO / "bench" / "__init__.py").exists():  # pragma: no cover
    pytest.skip("bench/ is not next to tests/", allow_module_level=True)
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

from bench.cases import matmul as mm  # noqa: E402
from bench.cases import sparse as spc  # noqa: E402
from bench.model import WrongResult  # noqa: E402


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(mm, "CASES", {"i8_1024": (8, 48), "i16_1024": (16, 40), "i32_256": (24, 33)})
    monkeypatch.setattr(spc, "M", 40)
    monkeypatch.setattr(spc, "K", 50)
    monkeypatch.setattr(spc, "N", 7)
    mm.data.cache_clear()
    spc.data.cache_clear()
    yield
    mm.data.cache_clear()
    spc.data.cache_clear()


def test_matmul_suite_peers_pass_and_wrong_is_caught(small):
    for case in mm.cases(quick=True):
        for name, factory in case.peers.items():
            impl = factory()
            out = impl.run()
            impl.check(out)
        ours = case.peers["ours"]()
        bad = ours.run()
        raw = np.array(bad.raw, copy=True)
        raw[3, 2] += 1
        with pytest.raises(WrongResult, match=case.name):
            ours.check(type(bad)(raw, bad.fmt, _trusted=True))


def test_sparse_suite_peers_pass_and_wrong_is_caught(small):
    pytest.importorskip("scipy")
    for case in spc.cases(quick=True):
        for name, factory in case.peers.items():
            impl = factory()
            impl.check(impl.run())
        f32 = case.peers["numpy_float32_dense"]()
        out = f32.run()
        out[0, 0] += 1
        with pytest.raises(WrongResult, match="differ"):
            f32.check(out)


def test_goals_reported_not_asserted():
    def rec(case, peer, med):
        return {"case": case, "peer": peer, "threads": 1, "status": "ok", "median_s": med}

    recs = [rec("i8_1024", "ours", 1.0), rec("i8_1024", "numpy_float32", 2.0), rec("i8_1024", "numpy_int64", 40.0),
            rec("i16_1024", "ours", 3.0), rec("i32_256", "ours", 1.0), rec("i32_256", "numpy_int64", 10.0)]
    goals = {(g["case"], g["goal"].split(" (")[0]): g["met"] for g in mm.goals(recs)}
    assert goals[("i8_1024", "ours >= 3x numpy float32 GOP/s")] is False
    assert goals[("i8_1024", "ours >= 30x numpy int64")] is True
    assert goals[("i16_1024", "ours >= 30x numpy int64")] is None
    assert goals[("i32_256", "ours >= 30x numpy int64")] is False
    srecs = [rec("s90", "ours", 1.0), rec("s90", "scipy_int64", 4.0), rec("s90", "numpy_float32_dense", 2.0)]
    assert [g["met"] for g in spc.goals(srecs)] == [False, True]
    assert mm.goals([]) == [] and spc.goals([]) == []
