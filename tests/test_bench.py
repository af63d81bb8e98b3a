"""Tests of the benchmark harness logic (bench/): schema, skipping, failure marking, checks.

No timing is asserted anywhere. test_bench_quick_smoke runs the real quantize suite in a
subprocess; deselect it with ``-k "not quick_smoke"``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if not (REPO / "bench" / "__init__.py").exists():  # pragma: no cover
    pytest.skip("bench/ is not next to tests/", allow_module_level=True)
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended, so an installed fixedpoint still wins

from bench import harness, model, report, timing  # noqa: E402
from bench.cases import quantize as qz  # noqa: E402
from bench.model import Case, Impl, Skip, WrongResult  # noqa: E402

TINY = timing.Timing(warmup=1, min_repeats=2, max_repeats=3, budget_s=0.0)


def _case(peers: dict, baseline: str = "base", name: str = "c") -> Case:
    return Case(suite="fake", name=name, n=4, peers=peers, baseline=baseline)


def _ok(value: int = 3) -> Impl:
    def check(out):
        model.expect_equal(out, np.full(4, 3))

    return Impl(run=lambda: np.full(4, value), check=check)


def _missing() -> Impl:
    import bench_no_such_peer_library  # noqa: F401, PLC0415

    raise AssertionError("unreachable")


def _suite(*cases: Case) -> types.SimpleNamespace:
    return types.SimpleNamespace(cases=lambda quick: list(cases))


def _run(*cases: Case, threads=(1,)) -> dict:
    doc = harness.run(cases_by_suite={"fake": _suite(*cases)}, quick=True, threads=threads)
    json.dumps(doc, allow_nan=False)  # the document must serialize as strict JSON
    return doc


def _by_peer(doc: dict) -> dict:
    return {r["peer"]: r for r in doc["records"]}


def test_results_schema():
    doc = _run(_case({"base": _ok, "fast": _ok}), threads=(1, 2))
    assert doc["schema"] == 1
    assert set(doc) >= {"schema", "machine", "records", "run", "goals"}
    m = doc["machine"]
    assert {"cpu", "versions", "fixedpoint", "threads", "python"} <= set(m)
    assert {"model", "logical_cores", "available_cores", "isa"} <= set(m["cpu"])
    assert {"numpy", "apytypes", "fxpmath", "torch", "python"} <= set(m["versions"])
    assert {"available", "build_info", "simd_target"} <= set(m["fixedpoint"])
    assert m["threads"]["requested"] == [1, 2]
    assert len(doc["records"]) == 4  # one per (case, peer, threads)
    for r in doc["records"]:
        assert tuple(r) == model.RECORD_FIELDS
        assert r["status"] == "ok"
        assert r["repeats"] >= 2
        assert 0 <= r["min_s"] <= r["median_s"]
        assert r["iqr_s"] >= 0
        assert r["ratio_vs_baseline"] is not None and r["ratio_vs_baseline"] > 0
    assert {(r["peer"], r["threads"]) for r in doc["records"]} == {
        ("base", 1), ("fast", 1), ("base", 2), ("fast", 2)
    }  # fmt: skip
    assert all(r["ratio_vs_baseline"] == 1.0 for r in doc["records"] if r["peer"] == "base")


def test_missing_peer_is_skipped_with_note():
    doc = _run(_case({"base": _ok, "absent": _missing}))
    rec = _by_peer(doc)["absent"]
    assert rec["status"] == "skipped"
    assert "not installed" in rec["note"] and "bench_no_such_peer_library" in rec["note"]
    assert rec["median_s"] is None and rec["ratio_vs_baseline"] is None
    assert _by_peer(doc)["base"]["status"] == "ok"
    assert harness.failed_records(doc["records"]) == []


def test_peer_without_mode_is_skipped():
    def no_mode():
        raise Skip("mode differs: no STOCH")

    rec = _by_peer(_run(_case({"base": _ok, "p": no_mode})))["p"]
    assert (rec["status"], rec["note"]) == ("skipped", "mode differs: no STOCH")


def test_wrong_result_marks_case_failed():
    doc = _run(_case({"base": _ok, "liar": lambda: _ok(value=4)}))
    rec = _by_peer(doc)["liar"]
    assert rec["status"] == "wrong"
    assert "4 of 4 differ" in rec["note"] and "got 4, expected 3" in rec["note"]
    assert rec["median_s"] is None and rec["ratio_vs_baseline"] is None
    assert harness.failed_records(doc["records"]) == [rec]


def test_wrong_probe_marks_case_failed():
    def probe():
        raise WrongResult("edge inputs: bad tie")

    doc = _run(_case({"base": _ok, "p": lambda: Impl(run=_ok().run, check=_ok().check, probe=probe)}))
    assert _by_peer(doc)["p"]["status"] == "wrong"
    assert "bad tie" in _by_peer(doc)["p"]["note"]


def test_crashing_peer_is_an_error_not_a_crash():
    def boom():
        raise RuntimeError("kaput")

    def bad_setup():
        raise ValueError("no format")

    doc = _run(_case({"base": _ok, "crash": lambda: Impl(run=boom, check=lambda o: None), "setup": bad_setup}))
    recs = _by_peer(doc)
    assert recs["crash"]["status"] == "error" and "RuntimeError: kaput" in recs["crash"]["note"]
    assert recs["setup"]["status"] == "error" and "ValueError: no format" in recs["setup"]["note"]
    assert recs["base"]["status"] == "ok"


def test_missing_baseline_leaves_ratios_empty():
    doc = _run(_case({"base": _missing, "p": _ok}))
    assert all(r["ratio_vs_baseline"] is None for r in doc["records"])


def test_peer_thread_hook_and_progress():
    seen = []
    impl = _ok()
    impl.set_threads = seen.append
    recs = harness.run_case(_case({"base": lambda: impl}), [1, 3], TINY, progress=lambda r: seen.append(r["threads"]))
    assert seen == [1, 1, 3, 3]
    assert [r["threads"] for r in recs] == [1, 3]


def test_markdown_report_lists_every_record():
    doc = _run(_case({"base": _ok, "absent": _missing, "liar": lambda: _ok(value=4)}))
    md = report.to_markdown(doc)
    assert "| case | threads | peer |" in md
    assert "**base** (baseline)" in md
    assert "| skipped |" in md and "| wrong |" in md
    assert md.count("\n| c |") == 3


def test_parse_threads():
    n = timing.available_threads()
    assert timing.parse_threads("1,all") == ([1] if n == 1 else [1, n])
    assert timing.parse_threads("2, 2,1") == [2, 1]
    with pytest.raises(ValueError, match="thread counts must be >= 1"):
        timing.parse_threads("0")
    with pytest.raises(ValueError, match="expected integers or 'all'"):
        timing.parse_threads("many")


def test_suite_registry():
    from bench import cases as registry  # noqa: PLC0415

    assert "quantize" in registry.available_suites()
    assert callable(registry.load_suite("quantize").cases)
    with pytest.raises(KeyError, match="unknown benchmark suite"):
        registry.load_suite("nope")


# ---- the quantize suite's verifiers (a fast wrong answer must be caught) ----


def _exact_model(v: float, q: str, o: str) -> int:
    from fractions import Fraction  # noqa: PLC0415

    t = Fraction(v) * 2**qz.F
    fl = math.floor(t)
    fr = t - fl
    half = Fraction(1, 2)
    up = {
        "RND": fr >= half,
        "RND_CONV": fr > half or (fr == half and fl % 2 == 1),
        "RND_INF": fr > half or (fr == half and t > 0),
    }[q]
    r = fl + up
    if o == "SAT":
        return max(qz.RAW_MIN, min(qz.RAW_MAX, r))
    return (r - qz.RAW_MIN) % 2**qz.W + qz.RAW_MIN


@pytest.mark.parametrize("q", ["RND", "RND_CONV", "RND_INF"])
@pytest.mark.parametrize("o", ["SAT", "WRAP"])
def test_quantize_reference_is_exact_on_edges(q, o):
    x = qz.edge_inputs()
    want = np.array([_exact_model(v, q, o) for v in x])
    np.testing.assert_array_equal(qz.reference(x, q, o), want)


def test_quantize_check_catches_floor_plus_half():
    x = qz.edge_inputs()
    naive = np.clip(np.floor(x * 2**qz.F + 0.5), qz.RAW_MIN, qz.RAW_MAX).astype(np.int64)
    with pytest.raises(WrongResult, match="differ"):
        qz._Data(x).verify(naive, "RND", "SAT", what="edge inputs")


def _stoch_like(x: np.ndarray, seed: int) -> np.ndarray:
    t = x * 2**qz.F
    fl = np.floor(t)
    up = np.random.default_rng(seed).random(t.shape) < (t - fl)
    return np.clip(fl + up, qz.RAW_MIN, qz.RAW_MAX).astype(np.int64)


def test_quantize_stoch_check():
    x = qz.make_input(200_000, seed=1)
    qz.check_stoch(_stoch_like(x, seed=2), x)  # an unbiased rounder passes
    qz.check_stoch(_stoch_like(qz.edge_inputs(), seed=3), qz.edge_inputs())
    with pytest.raises(WrongResult, match="biased"):
        qz.check_stoch(qz.reference(x, "RND"), x)  # round-to-nearest is not stochastic
    floor = np.clip(np.floor(x * 2**qz.F), qz.RAW_MIN, qz.RAW_MAX).astype(np.int64)
    with pytest.raises(WrongResult, match="biased"):
        qz.check_stoch(floor, x)
    off = _stoch_like(x, seed=2)
    off[7] += 2
    with pytest.raises(WrongResult, match="neither floor nor floor\\+1"):
        qz.check_stoch(off, x)


def test_quantize_goals_reported_not_asserted():
    def rec(peer, median, ratio):
        return {"case": "rnd_sat", "peer": peer, "threads": 1, "status": "ok",
                "median_s": median, "ratio_vs_baseline": ratio}  # fmt: skip

    goals = qz.goals([rec("numpy", 1.0, 1.0), rec("ours", 0.5, 0.5), rec("apytypes", 4.0, 4.0)])
    assert [(g["goal"].split(" (")[0], g["met"]) for g in goals] == [
        ("ours <= numpy baseline", True),
        ("ours >= 10x faster than apytypes", False),
    ]


# ---- end to end ----


def test_bench_quick_smoke(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "quantize", "--quick", "--out", str(out), "--format", "markdown"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(out.read_text())
    assert doc["schema"] == 1 and doc["run"]["suites"] == ["quantize"]
    threads = doc["machine"]["threads"]["requested"]
    assert threads[0] == 1
    recs = doc["records"]
    for r in recs:
        assert tuple(r) == model.RECORD_FIELDS
        assert r["status"] in ("ok", "skipped"), r
    cases = {r["case"] for r in recs}
    assert cases == {"rnd_sat", "rnd_conv_sat", "stoch_sat"}
    for case in cases:
        for t in threads:
            peers = {r["peer"]: r for r in recs if r["case"] == case and r["threads"] == t}
            assert {"ours", "numpy", "apytypes", "fxpmath"} <= set(peers)
            assert peers["numpy"]["status"] == "ok" and peers["numpy"]["ratio_vs_baseline"] == 1.0
    assert "| quantize |" in proc.stdout or "## quantize" in proc.stdout


def test_peer_output_goes_to_stderr_not_into_the_report():
    """What a peer prints while it runs (hls4ml prints every model it converts, the compilers it
    starts write to the same descriptor) must not end up in stdout, which carries the report."""
    script = """
import os, sys, types
import numpy as np
from bench import harness
from bench.model import Case, Impl

def peer():
    print("chatter from python")
    os.system("echo chatter from a subprocess")
    return Impl(run=lambda: np.full(4, 3), check=lambda out: None)

suite = types.SimpleNamespace(cases=lambda quick: [Case("fake", "c", 4, {"base": peer}, baseline="base")])
doc = harness.run(cases_by_suite={"fake": suite}, quick=True)
print(harness.to_markdown(doc))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                          os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "chatter" not in proc.stdout and "# fixedpoint benchmarks" in proc.stdout
    assert "chatter from python" in proc.stderr and "chatter from a subprocess" in proc.stderr
