"""Tests of the binary benchmark suite (bench/cases/binary.py): its references and checks
(a fast wrong answer must be caught) and its goals (reported, never asserted). No timing."""

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

from bench.cases import binary as bn  # noqa: E402
from bench.model import Skip, WrongResult  # noqa: E402


@pytest.fixture(scope="module")
def cases():
    return {c.name: c for c in bn.cases(quick=True)}


def test_reference_is_exact(cases):
    d = bn._data()
    # the float64 BLAS reference of +-1 products equals NumPy int64 matmul on a corner
    a, b = d["a"][:7].astype(np.int64), d["b"][:, :5].astype(np.int64)
    np.testing.assert_array_equal(d["acc"][:7, :5], a @ b)


@pytest.mark.parametrize("case", ["xnor_matmul", "layer"])
@pytest.mark.parametrize("peer", ["numpy_float32", "ours", "ours_avx2", "ours_scalar"])
def test_peers_pass_their_checks_and_wrong_answers_fail(cases, case, peer):
    try:
        impl = cases[case].peers[peer]()
    except Skip as exc:
        pytest.skip(str(exc))
    out = impl.run()
    impl.check(out)
    if case == "xnor_matmul":
        bad = np.array(out, copy=True)
        bad[3, 5] += 2
        with pytest.raises(WrongResult):
            impl.check(bad)


def test_goals_reported_not_asserted():
    recs = [
        {"case": "xnor_matmul", "peer": "numpy_float32", "threads": 1, "status": "ok", "median_s": 0.02},
        {"case": "xnor_matmul", "peer": "ours", "threads": 1, "status": "ok", "median_s": 0.001},
        {"case": "xnor_matmul", "peer": "ours_avx2", "threads": 1, "status": "ok", "median_s": 0.01},
    ]
    goals = {(g["case"], g["goal"].split()[0]): g for g in bn.goals(recs)}
    assert goals[("xnor_matmul", "ours")]["met"] is True
    assert goals[("xnor_matmul", "ours_avx2")]["met"] is False
    assert goals[("layer", "ours")]["met"] is None and goals[("layer", "ours")]["value"] == "-"
