"""bench/report.py: plots and run-to-run comparison (logic only; no timing assertions)."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest

from bench import report
from bench.__main__ import main as bench_main


def _rec(case, peer, threads, median, status="ok", ratio=None, baseline="numpy", suite="s"):
    return {"suite": suite, "case": case, "peer": peer, "threads": threads, "n": 10,
            "median_s": median if status == "ok" else None, "min_s": median if status == "ok" else None,
            "iqr_s": 0.0 if status == "ok" else None, "repeats": 3, "status": status, "note": "",
            "ratio_vs_baseline": ratio, "baseline": baseline}


def _results(records):
    return {"schema": 1, "machine": {}, "run": {}, "records": records, "goals": []}


OLD = _results([
    _rec("add", "ours", 1, 1.0e-3, ratio=1.0),
    _rec("add", "numpy", 1, 1.0e-3, ratio=1.0),
    _rec("mul", "ours", 1, 2.0e-3, ratio=2.0),
    _rec("gone", "ours", 1, 1.0e-3),
])


def test_compare_classifies_changes():
    new = copy.deepcopy(OLD)
    new["records"][0]["median_s"] = 1.5e-3     # ours/add: 1.5x slower -> regression
    new["records"][1]["median_s"] = 0.5e-3     # numpy/add: 2x faster -> improvement
    new["records"][2]["median_s"] = 2.1e-3     # ours/mul: 1.05x -> same at threshold 1.10
    del new["records"][3]
    new["records"].append(_rec("fresh", "ours", 1, 1e-3))
    res = report.compare(OLD, new, threshold=1.10)
    verdicts = {(r["case"], r["peer"]): r["verdict"] for r in res["rows"]}
    assert verdicts == {("add", "ours"): "regression", ("add", "numpy"): "improvement", ("mul", "ours"): "same"}
    assert res["missing"] == [("s", "gone", "ours", 1)]
    assert res["new"] == [("s", "fresh", "ours", 1)]
    assert [r["ratio"] for r in res["regressions"]] == [1.5]


def test_compare_wrong_result_is_a_regression():
    new = copy.deepcopy(OLD)
    new["records"][2] = _rec("mul", "ours", 1, None, status="wrong")
    res = report.compare(OLD, new)
    assert [(r["case"], r["verdict"]) for r in res["regressions"]] == [("mul", "regression")]
    assert "wrong" in res["regressions"][0]["note"]


def test_compare_rejects_bad_threshold_and_files(tmp_path):
    with pytest.raises(ValueError, match="threshold must be > 1.0, got 0.9"):
        report.compare(OLD, OLD, threshold=0.9)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"records": []}))
    with pytest.raises(ValueError, match="is not a schema-1 bench result"):
        report.load(bad)
    with pytest.raises(ValueError, match="cannot read"):
        report.load(tmp_path / "missing.json")


def test_compare_cli_exit_status(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(OLD))
    assert bench_main(["--compare", str(old), str(new)]) == 0
    assert "regressions: 0" in capsys.readouterr().out
    slower = copy.deepcopy(OLD)
    slower["records"][0]["median_s"] = 5e-3
    new.write_text(json.dumps(slower))
    assert bench_main(["--compare", str(old), str(new)]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert bench_main(["--compare", str(old), str(tmp_path / "nope.json")]) == 2


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_plot_one_png_per_suite(tmp_path):
    res = _results([
        _rec("add", "ours", 1, 1e-3, ratio=0.5, suite="arith"),
        _rec("add", "numpy", 1, 2e-3, ratio=1.0, suite="arith"),
        _rec("q", "ours", 2, 1e-3, ratio=0.9, suite="quantize"),
        _rec("q", "apytypes", 2, None, status="skipped", suite="quantize"),
    ])
    files = report.plot_suites(res, tmp_path, stem="run")
    assert sorted(p.name for p in files) == ["run-arith.png", "run-quantize.png"]
    for p in files:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
