"""The benchmark harness's command line and the documentation page it writes.

Covers: ``python -m bench`` / ``fixedpoint bench`` entry points, suite selection (``all``),
the quick-run defaults, machine information, and ``--page`` (docs/benchmarks.md and its plots
from a results file). No timing is asserted.
"""

from __future__ import annotations

import json
import os
import re
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
    sys.path.append(str(REPO))

import fixedpoint as fx  # noqa: E402
from bench import __main__ as bench_main  # noqa: E402
from bench import harness, machine, model, report, timing  # noqa: E402
from bench.model import Case, Impl  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _impl(value=3):
    return Impl(run=lambda: np.full(4, value),
                check=lambda out: model.expect_equal(out, np.full(4, 3)))


def _missing():
    import bench_no_such_peer_library  # noqa: F401, PLC0415


def _doc(quick=False, note="") -> dict:
    case = Case(suite="fake", name="c", n=4, baseline="base",
                peers={"base": _impl, "ours": lambda: Impl(run=_impl().run, check=_impl().check, note=note),
                       "absent": _missing})
    suite = types.SimpleNamespace(cases=lambda q: [case], goals=lambda recs: [
        {"suite": "fake", "case": "c", "threads": 1, "goal": "ours <= base", "value": "1x", "met": True}])
    return harness.run(cases_by_suite={"fake": suite}, quick=quick, threads=(1, 2))


# ---- entry points and suite selection ----

def test_resolve_suites():
    avail = ["quantize", "arith", "matmul"]
    assert harness.resolve_suites([], avail) == avail
    assert harness.resolve_suites(["all"], avail) == avail
    assert harness.resolve_suites(["matmul", "quantize", "matmul"], avail) == ["matmul", "quantize"]
    with pytest.raises(ValueError, match=r"unknown suite\(s\) nope; available: quantize, arith, matmul \(or all\)"):
        harness.resolve_suites(["nope", "all"], avail)


def test_python_m_bench_and_fixedpoint_bench_list_the_suites():
    from bench import cases as registry  # noqa: PLC0415

    for cmd in ([sys.executable, "-m", "bench", "--list"],
                [sys.executable, "-m", "fixedpoint.cli", "bench", "--list"]):
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=ENV)
        assert proc.returncode == 0, proc.stderr
        listed = [line.split(":")[0] for line in proc.stdout.splitlines() if line.strip()]
        assert listed == registry.available_suites()


def test_unknown_suite_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "bench", "no_such_suite", "--out", os.devnull], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 2
    assert "unknown suite(s) no_such_suite" in proc.stderr


@pytest.mark.parametrize("argv,threads", [
    (["--quick"], [1]),
    ([], [1, timing.available_threads()]),
    (["--quick", "--threads", "1,all"], [1, timing.available_threads()]),
])
def test_thread_defaults(monkeypatch, tmp_path, argv, threads):
    """The full run measures 1 thread and all cores; --quick measures 1 unless told otherwise."""
    seen = {}
    doc = _doc(quick="--quick" in argv)

    def fake_run(suites, *, quick, threads, progress, numpy_preimported):
        seen.update(quick=quick, threads=threads, suites=suites)
        return doc

    monkeypatch.setattr(harness, "run", fake_run)
    args = bench_main.build_parser().parse_args(["quantize", "--out", str(tmp_path / "r.json"), "--no-plot",
                                                 "--format", "markdown", *argv])
    assert harness.main(args) == 0
    assert seen["threads"] == sorted(set(threads), key=threads.index)
    assert seen["suites"] == ["quantize"]


def test_quick_takes_one_sample_of_a_slow_first_call():
    calls = []
    assert timing.measure(lambda: calls.append(1), timing.QUICK, first_s=1.0) == [1.0]
    assert calls == []  # not called again
    assert timing.QUICK.slow_first_is_sample and not timing.FULL.slow_first_is_sample
    full_like = timing.Timing(warmup=1, min_repeats=3, max_repeats=5, budget_s=0.01)
    assert len(timing.measure(lambda: calls.append(1), full_like, first_s=1.0)) == 3
    assert len(calls) == 3


def test_machine_info_names_cpu_isa_threads_and_versions():
    m = _doc()["machine"]
    assert m["cpu"]["model"] and m["cpu"]["available_cores"] >= 1
    assert set(m["cpu"]["isa"]) <= set(machine.ISA_OF_INTEREST)
    assert m["fixedpoint"]["simd_target"] == fx.get_isa()
    assert m["fixedpoint"]["build_info"]["best_isa"] in ("scalar", "avx2", "avx512")
    assert m["threads"]["requested"] == [1, 2]
    assert m["versions"]["fixedpoint"] == fx.__version__
    assert m["versions"]["numpy"] == np.__version__
    assert {"apytypes", "fxpmath", "torch", "scipy", "hls4ml", "threadpoolctl"} <= set(m["versions"])


# ---- the documentation page ----

def test_page_describes_machine_and_every_record(tmp_path):
    doc = _doc(note="failed at /home/someone/build/lib/x.so line 3")
    written = report.write_page(doc, tmp_path / "docs" / "benchmarks.md")
    page = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert written[0] == tmp_path / "docs" / "benchmarks.md"
    assert (tmp_path / "docs" / "img" / "bench-fake.png").stat().st_size > 1000
    assert "![fake: time relative to the baseline](img/bench-fake.png)" in page
    cpu = doc["machine"]["cpu"]
    assert f"**CPU:** {cpu['model']}" in page
    assert f"instruction set `{fx.get_isa()}`" in page
    assert "**Thread counts measured:** 1, 2" in page
    assert f"numpy {np.__version__}" in page
    # one row per record, skipped peers with their note
    rows = [line for line in page.splitlines() if line.startswith("| c |")]
    assert len(rows) == len(doc["records"]) == 6
    assert any("skipped: not installed" in r for r in rows)
    assert "| fake | c | ours <= base | 1x | yes |" in page
    # no path of the machine that ran it
    assert "/home/someone" not in page and "<path>" in page
    assert "python -m bench --page docs/benchmarks.md --from bench-results.json" in page


def test_page_warns_when_the_machine_was_loaded(tmp_path):
    doc = _doc()
    doc["machine"].pop("load_avg_start", None)  # results files from before it was recorded
    doc["machine"]["load_avg"] = [0.1, 0.1, 0.1]
    assert "shared with other jobs" not in report.page_markdown(doc)
    doc["machine"]["load_avg"] = [3.5, 3.0, 2.0]
    assert "**The machine was shared with other jobs during this run**" in report.page_markdown(doc)
    # with the load before the run recorded, the end value (our own threads) no longer decides
    doc["machine"]["load_avg_start"] = [0.2, 0.3, 0.3]
    page = report.page_markdown(doc)
    assert "shared with other jobs" not in page
    assert "- **Load average before the run (1/5/15 min):** 0.2, 0.3, 0.3 on" in page
    doc["machine"]["load_avg_start"] = [1.5, 0.3, 0.3]
    assert "**The machine was shared with other jobs during this run**" in report.page_markdown(doc)


def test_page_refuses_a_quick_run():
    with pytest.raises(ValueError, match="--quick run; the page shows a full run"):
        report.page_markdown(_doc(quick=True))


def test_page_cli_from_results(tmp_path):
    res = tmp_path / "r.json"
    res.write_text(json.dumps(_doc()))
    page = tmp_path / "site" / "benchmarks.md"
    assert bench_main.main(["--page", str(page), "--from", str(res)]) == 0
    assert page.is_file() and (tmp_path / "site" / "img" / "bench-fake.png").is_file()
    quick = tmp_path / "q.json"
    quick.write_text(json.dumps(_doc(quick=True)))
    assert bench_main.main(["--page", str(page), "--from", str(quick)]) == 2
    with pytest.raises(SystemExit):
        bench_main.main(["--from", str(res)])  # --from without --page


def test_committed_page_is_a_full_run_with_its_plots():
    """docs/benchmarks.md is generated, links only plots that exist, and names no local path."""
    page = (REPO / "docs" / "benchmarks.md").read_text()
    assert "Generated by `python -m bench --page" in page
    for img in re.findall(r"\]\((img/[\w.-]+\.png)\)", page):
        png = REPO / "docs" / img
        assert png.is_file(), img
        assert png.stat().st_size < 150_000, f"{img} is large; keep the plots small"
    absolute = re.findall(r"(?<![\w.<])/(?:[\w.+-]+/)+[\w.+-]*", page)
    assert not absolute, f"the page names local paths: {absolute[:3]}"
