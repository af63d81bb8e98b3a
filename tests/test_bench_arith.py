"""Tests of the arith benchmark suite (bench/cases/arith.py): exact references, result
formats, the checks (a fast wrong answer must be caught), peers on small inputs, goals.

No timing is asserted. test_bench_arith_quick_smoke runs ``python -m bench arith --quick``
in a subprocess; deselect it with ``-k "not quick_smoke"``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if not (REPO / "bench" / "__init__.py").exists():  # pragma: no cover
    pytest.skip("bench/ is not next to tests/", allow_module_level=True)
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended, so an installed fixedpoint still wins

from bench import harness, model, timing  # noqa: E402
from bench.cases import arith  # noqa: E402
from bench.model import Case, WrongResult  # noqa: E402

TINY = timing.Timing(warmup=1, min_repeats=2, max_repeats=3, budget_s=0.0)
SMALL_N, SMALL_M = 4096, 16


def _have(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _small(op: str, seed: int = 7) -> arith.Operands:
    shape = (SMALL_M, SMALL_M) if op == "matmul" else SMALL_N
    rb = None if op == "sum" else arith.make_raws(shape, seed + 1)
    return arith.Operands(op, arith.make_raws(shape, seed), rb)


def _small_probes(op: str):
    return lambda: arith.probe_operands(op, n=SMALL_N, m=SMALL_M)


# ---- formats and exact references ----


def test_result_formats():
    assert arith.result_format("add") == (17, 7, True)
    assert arith.result_format("mul") == (32, 12, True)
    assert arith.result_format("sum", 1_000_000) == (36, 26, True)  # ceil(log2 1e6) = 20
    assert arith.result_format("matmul", 256) == (40, 20, True)
    assert [arith.growth(k) for k in (1, 2, 3, 4, 5, 256, 257)] == [0, 1, 2, 2, 3, 8, 9]
    assert arith.fmt_name((17, 7, True)) == "ap_fixed<17,7>"


def test_case_inputs_and_formats():
    cs = {c.name: c for c in arith.cases(quick=True)}
    assert list(cs) == ["add", "mul", "sum", "matmul"]
    for c in cs.values():
        assert c.suite == "arith" and c.baseline == "numpy_int64"
        assert list(c.peers) == ["ours", "numpy_int64", "numpy_float64", "apytypes", "fxpmath"]
    assert cs["add"].n == cs["mul"].n == cs["sum"].n == 1_000_000 and cs["matmul"].n == 256
    assert "ap_fixed<17,7>" in cs["add"].description and "ap_fixed<32,12>" in cs["mul"].description
    assert "ap_fixed<36,26>" in cs["sum"].description and "ap_fixed<40,20>" in cs["matmul"].description
    # The data are fixed: same stored integers on every call.
    np.testing.assert_array_equal(arith.make_raws(10, arith.SEED_A), arith.make_raws(10, arith.SEED_A))


def test_quantize_trn_is_floor():
    x = np.array([0.0, -0.0, 2.0**-10, -(2.0**-11), 1.5 * 2.0**-10, -32.0, 31.9990234375, 31.99999, -31.99999])
    want = [int(np.floor(Fraction(v) * 2**10)) for v in x]
    assert arith.quantize_trn(x).tolist() == want
    with pytest.raises(ValueError, match="outside"):
        arith.quantize_trn(np.array([32.0]))


@pytest.mark.skipif(not _have("fixedpoint"), reason="fixedpoint not installed")
def test_inputs_are_what_fx_array_stores():
    import fixedpoint as fx  # noqa: PLC0415

    x = np.random.default_rng(arith.SEED_A).normal(0.0, 4.0, 100_000)
    np.testing.assert_array_equal(np.asarray(fx.array(x, fx.Fixed(16, 6)).raw), arith.quantize_trn(x))


@pytest.mark.parametrize("op", arith.OPS)
def test_expected_matches_python_ints(op):
    for ops in [_small(op)] + arith.probe_operands(op, n=64, m=4):
        a = [int(v) for v in ops.ra.ravel()]
        if op == "add":
            want = [p + q for p, q in zip(a, map(int, ops.rb.ravel()))]
        elif op == "mul":
            want = [p * q for p, q in zip(a, map(int, ops.rb.ravel()))]
        elif op == "sum":
            want = [sum(a)]
        else:
            ra, rb = ops.ra.tolist(), ops.rb.tolist()
            want = [sum(ra[i][k] * rb[k][j] for k in range(len(rb))) for i in range(len(ra)) for j in range(len(rb[0]))]
        assert [int(v) for v in np.ravel(ops.want)] == want, ops.label
        lo, hi = -(1 << (ops.fmt[0] - 1)), (1 << (ops.fmt[0] - 1)) - 1
        assert all(lo <= v <= hi for v in want), "the result must fit the natural format"


def test_probes_reach_format_edges():
    (s_min, s_max, _) = arith.probe_operands("sum")
    assert int(s_min.want) == arith.RAW_MIN * arith.N and s_min.fmt == (36, 26, True)
    assert int(s_min.want) < -(2**34)  # beyond a 35-bit (or 32-bit) accumulator
    assert int(s_max.want) == arith.RAW_MAX * arith.N
    mm = arith.probe_operands("matmul", m=arith.M)[0]
    assert int(mm.want.max()) == 2**38 and mm.fmt == (40, 20, True)


# ---- the checks ----


def test_verify_accepts_exact_results_at_any_binary_point():
    ops = _small("add")
    arith.verify(ops.want, 10, ops, "r")
    arith.verify(ops.want * 4, 12, ops, "r")  # two more fraction bits, same values
    coarse = arith.Operands("add", ops.ra & ~1, ops.rb & ~1)  # all even: exact at 9 fraction bits
    arith.verify(coarse.want // 2, 9, coarse, "r")


def test_verify_catches_wrong_results():
    ops = _small("add")
    bad = ops.want.copy()
    bad[5] += 1
    with pytest.raises(WrongResult, match=r"1 of 4096 differ; first at index 5 \(a="):
        arith.verify(bad, 10, ops, "result")
    with pytest.raises(WrongResult, match="differ"):
        arith.verify(ops.want, 11, ops, "result")  # right integers, wrong binary point
    with pytest.raises(WrongResult, match="shape"):
        arith.verify(ops.want[:-1], 10, ops, "result")
    mm = _small("matmul")
    bad = mm.want.copy()
    bad[3, 4] -= 1
    with pytest.raises(WrongResult, match="row 3 of a times column 4 of b"):
        arith.verify(bad, 20, mm, "result")


def test_verify_catches_narrow_accumulators():
    lo = arith.probe_operands("sum")[0]
    wrapped32 = np.asarray(((int(lo.want) + 2**31) % 2**32) - 2**31)
    with pytest.raises(WrongResult, match="all-minimum inputs: 1 of 1 differ"):
        arith.verify(wrapped32, 10, lo, lo.label)
    edge = arith.probe_operands("add")[0]
    wrapped16 = ((edge.want + 2**15) % 2**16) - 2**15  # a peer adding in int16
    with pytest.raises(WrongResult, match="edge inputs"):
        arith.verify(wrapped16, 10, edge, edge.label)


def test_float_to_ints():
    np.testing.assert_array_equal(arith.float_to_ints(np.array([1.5, -2.0**-10, 0.0]), 10, "r"), [1536, -1, 0])
    with pytest.raises(WrongResult, match="not multiples of 2\\*\\*-10"):
        arith.float_to_ints(np.array([0.0, 2.0**-11]), 10, "r")
    with pytest.raises(WrongResult, match="not multiples"):
        arith.float_to_ints(np.array([np.nan]), 10, "r")
    with pytest.raises(WrongResult, match="not multiples"):
        arith.float_to_ints(np.array([np.inf]), 10, "r")


def test_float_peer_that_rounds_is_wrong():
    ops = _small("mul")
    rounded = (ops.x.astype(np.float32) * ops.y.astype(np.float32)).astype(np.float64)  # float32 products round
    with pytest.raises(WrongResult):
        arith.verify(arith.float_to_ints(rounded, 20, "r"), 20, ops, "r")


def test_signed_from_bits():
    np.testing.assert_array_equal(arith.signed_from_bits(np.array([0, 1, 0x7FFF, 0x8000, 0xFFFF], dtype=np.uint32), 16),
                                  [0, 1, 32767, -32768, -1])
    assert int(arith.signed_from_bits((1 << 36) - 5, 36)) == -5
    assert int(arith.signed_from_bits(5, 36)) == 5
    np.testing.assert_array_equal(arith.signed_from_bits(np.array([2**63], dtype=np.uint64), 64).tolist(), [-(2**63)])


# ---- peers on small inputs (check and probe) ----

PEER_MODULES = {"ours": "fixedpoint", "numpy_int64": "numpy", "numpy_float64": "numpy",
                "apytypes": "apytypes", "fxpmath": "fxpmath"}  # fmt: skip


@pytest.mark.parametrize("op", arith.OPS)
@pytest.mark.parametrize("peer", list(arith.PEERS))
def test_peer_is_exact_on_small_inputs(peer, op):
    if not _have(PEER_MODULES[peer]):
        pytest.skip(f"{PEER_MODULES[peer]} not installed")
    impl = arith._make_impl(arith.PEERS[peer], op, _small(op), _small_probes(op))
    impl.check(impl.run())
    impl.probe()
    impl.probe()  # the probe's set-up is cached; a second call re-checks


@pytest.mark.skipif(not _have("fixedpoint"), reason="fixedpoint not installed")
def test_ours_must_return_the_natural_format():
    import fixedpoint as fx  # noqa: PLC0415

    ops = _small("add")
    peer = arith.peer_ours("add")
    out = peer.bind(ops)()
    assert peer.to_ints(out, ops, "r")[1] == 10
    wider = out.cast(fx.Fixed(20, 8))  # same values, not the natural format
    with pytest.raises(WrongResult, match=r"result format ap_fixed<20,8.*expected the natural ap_fixed<17,7>"):
        peer.to_ints(wider, ops, "result")
    with pytest.raises(WrongResult, match="expected a FixedArray"):
        peer.to_ints(np.asarray(out.raw), ops, "result")


def _broken(op: str) -> arith._Peer:
    """A fast wrong peer: int16 arithmetic (wraps), right on most benchmark inputs."""

    def bind(ops):
        a = ops.ra.astype(np.int16)
        b = None if ops.rb is None else ops.rb.astype(np.int16)
        return arith._call(op, a, b)

    return arith._Peer(bind, lambda out, ops, what: (np.asarray(out).astype(np.int64), ops.want_frac))


def test_wrong_peer_is_marked_wrong_by_the_harness():
    ops = _small("add")
    case = Case(
        suite="arith", name="add", n=ops.ra.size, baseline="numpy_int64",
        peers={
            "numpy_int64": lambda: arith._make_impl(arith.peer_numpy_int64, "add", ops, _small_probes("add")),
            "int16": lambda: arith._make_impl(_broken, "add", ops, _small_probes("add")),
        },
    )  # fmt: skip
    recs = {r["peer"]: r for r in harness.run_case(case, [1], TINY)}
    assert recs["numpy_int64"]["status"] == "ok"
    assert recs["int16"]["status"] == "wrong" and "edge inputs" in recs["int16"]["note"]
    assert recs["int16"]["median_s"] is None


def test_missing_peer_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "fxpmath", None)  # import fxpmath raises ImportError
    case = next(c for c in arith.cases(quick=True) if c.name == "add")
    case.peers = {"numpy_int64": case.peers["numpy_int64"], "fxpmath": case.peers["fxpmath"]}
    recs = {r["peer"]: r for r in harness.run_case(case, [1], TINY)}
    assert recs["fxpmath"]["status"] == "skipped" and "not installed" in recs["fxpmath"]["note"]
    assert recs["numpy_int64"]["status"] == "ok"


# ---- goals ----


def _rec(case, peer, threads, median, ratio, status="ok"):
    return {"case": case, "peer": peer, "threads": threads, "status": status,
            "median_s": median, "ratio_vs_baseline": ratio}  # fmt: skip


def test_goals_reported_not_asserted():
    recs = [
        _rec("add", "numpy_int64", 1, 1.0, 1.0), _rec("add", "ours", 1, 1.4, 1.4),
        _rec("add", "ours", 2, 9.0, 9.0),  # only the lowest thread count counts
        _rec("mul", "numpy_int64", 1, 1.0, 1.0), _rec("mul", "ours", 1, 1.6, 1.6),
        _rec("sum", "ours", 1, 1.0, 1.0),  # no goal for sum
        _rec("matmul", "ours", 1, 2.0, 0.1), _rec("matmul", "apytypes", 1, 1.0, 0.05),
        _rec("matmul", "ours", 2, 0.1, 0.01), _rec("matmul", "apytypes", 2, 1.0, 0.05),
    ]  # fmt: skip
    goals = arith.goals(recs)
    assert [(g["case"], g["threads"], g["met"]) for g in goals] == [
        ("add", 1, True), ("mul", 1, False), ("matmul", 1, False)
    ]  # fmt: skip
    assert goals[0]["goal"] == "ours <= 1.5x numpy_int64 (1 thread)" and goals[0]["value"] == "1.4x"
    assert goals[2]["goal"] == "ours faster than apytypes (1 thread)" and goals[2]["value"] == "0.5x faster"
    for g in goals:
        assert set(g) == {"suite", "case", "threads", "goal", "value", "met"} and g["suite"] == "arith"


def test_goals_without_inputs_are_not_met_or_failed():
    recs = [
        _rec("add", "ours", 2, None, None, status="wrong"),
        _rec("matmul", "ours", 2, 1.0, 1.0), _rec("matmul", "apytypes", 2, 2.0, 2.0),  # no 1-thread run
        _rec("mul", "ours", 2, 1.0, 1.2),
    ]  # fmt: skip
    goals = {g["case"]: g for g in arith.goals(recs)}
    assert goals["add"]["met"] is None and goals["add"]["value"] == "-"
    assert goals["matmul"]["met"] is None
    assert goals["mul"]["met"] is True and goals["mul"]["threads"] == 2
    assert arith.goals([]) == []


# ---- end to end ----


def test_bench_arith_quick_smoke(tmp_path):
    out = tmp_path / "arith.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "arith", "--quick", "--threads", "1", "--out", str(out),
         "--format", "markdown"],  # fmt: skip
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(out.read_text())
    assert doc["schema"] == 1 and doc["run"]["suites"] == ["arith"]
    recs = doc["records"]
    for r in recs:
        assert tuple(r) == model.RECORD_FIELDS
        assert r["status"] in ("ok", "skipped"), r
    assert {r["case"] for r in recs} == {"add", "mul", "sum", "matmul"}
    for case in ("add", "mul", "sum", "matmul"):
        peers = {r["peer"]: r for r in recs if r["case"] == case}
        assert set(peers) == set(arith.PEERS)
        assert peers["numpy_int64"]["status"] == "ok" and peers["numpy_int64"]["ratio_vs_baseline"] == 1.0
        assert peers["numpy_float64"]["status"] == "ok"
    assert [(g["case"], g["threads"]) for g in doc["goals"]] == [("add", 1), ("mul", 1), ("matmul", 1)]
    assert "## arith" in proc.stdout and "## Goals" in proc.stdout
