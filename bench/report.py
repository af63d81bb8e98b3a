"""Reports of benchmark results (the JSON written by ``python -m bench``): the markdown table,
plots, run-to-run comparison and the documentation page.

- :func:`to_markdown` renders a results document as the markdown report (one table per suite,
  then the goals); :func:`print_report` prints it (with rich on a terminal).
- :func:`plot_suites` draws one PNG per suite: for every case, each peer's median time as a
  ratio of the case's baseline, grouped by thread count (log scale; lower is faster).
- :func:`compare` matches the ``ok`` records of two runs by (suite, case, peer, threads) and
  reports the change of the median time; a record slower by more than ``threshold`` is a
  regression.
- :func:`write_page` writes the documentation page ``docs/benchmarks.md`` and its plots from a
  results file (``python -m bench --page docs/benchmarks.md --from bench-results.json``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

Key = tuple[str, str, str, int]


def _key(r: dict[str, Any]) -> Key:
    return (r["suite"], r["case"], r["peer"], int(r["threads"]))


def load(path: str | Path) -> dict[str, Any]:
    """A results file; ValueError naming the file when it is not a bench result."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"bench: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or "records" not in data or data.get("schema") != 1:
        raise ValueError(f"bench: {path} is not a schema-1 bench result (no 'records' or 'schema': 1)")
    return data


def compare(old: dict[str, Any], new: dict[str, Any], threshold: float = 1.10) -> dict[str, Any]:
    """Match records of two runs and classify each change of the median time.

    Returns ``{"rows": [...], "regressions": [...], "improvements": [...], "missing": [...],
    "new": [...]}``. A row is ``{"suite", "case", "peer", "threads", "old_s", "new_s",
    "ratio", "verdict"}`` with ratio = new / old and verdict ``regression`` (ratio >
    threshold), ``improvement`` (ratio < 1 / threshold), ``same``, or ``status`` when the record
    is not ``ok`` in one of the runs (a wrong or failing record in the new run is a regression).
    """
    if not threshold > 1.0:
        raise ValueError(f"bench --compare: threshold must be > 1.0, got {threshold}")
    old_recs = {_key(r): r for r in old["records"]}
    new_recs = {_key(r): r for r in new["records"]}
    rows = []
    for key, nr in new_recs.items():
        orr = old_recs.get(key)
        if orr is None:
            continue
        row = {"suite": key[0], "case": key[1], "peer": key[2], "threads": key[3],
               "old_s": orr.get("median_s"), "new_s": nr.get("median_s"), "ratio": None}
        if orr["status"] == "ok" and nr["status"] == "ok":
            row["ratio"] = nr["median_s"] / orr["median_s"]
            if row["ratio"] > threshold:
                row["verdict"] = "regression"
            elif row["ratio"] < 1.0 / threshold:
                row["verdict"] = "improvement"
            else:
                row["verdict"] = "same"
        elif nr["status"] in ("wrong", "error"):
            row["verdict"] = "regression"
            row["note"] = f"new run: {nr['status']}: {nr.get('note', '')}"
        else:
            row["verdict"] = "status"
            row["note"] = f"old {orr['status']}, new {nr['status']}"
        rows.append(row)
    return {
        "threshold": threshold,
        "rows": rows,
        "regressions": [r for r in rows if r["verdict"] == "regression"],
        "improvements": [r for r in rows if r["verdict"] == "improvement"],
        "missing": sorted(set(old_recs) - set(new_recs)),
        "new": sorted(set(new_recs) - set(old_recs)),
    }


def compare_markdown(result: dict[str, Any]) -> str:
    
    lines = [
        "# Benchmark comparison",
        "",
        f"- regression threshold: new/old median > {result['threshold']:.3g}",
        f"- regressions: {len(result['regressions'])}, improvements: {len(result['improvements'])}, "
        f"records only in the old run: {len(result['missing'])}, only in the new run: {len(result['new'])}",
        "",
        "| suite | case | peer | threads | old median | new median | new/old | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}x"
        verdict = r["verdict"].upper() if r["verdict"] == "regression" else r["verdict"]
        if r.get("note"):
            verdict += f" ({r['note']})"
        lines.append(f"| {r['suite']} | {r['case']} | {r['peer']} | {r['threads']} | {fmt_seconds(r['old_s'])} | "
                     f"{fmt_seconds(r['new_s'])} | {ratio} | {verdict.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def plot_suites(results: dict[str, Any], out_dir: str | Path, stem: str = "bench", dpi: int = 110) -> list[Path]:
    """One PNG per suite (``<out_dir>/<stem>-<suite>.png``); returns the files written.

    Raises ImportError when matplotlib is missing (the caller reports it as a note)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suites: dict[str, list[dict[str, Any]]] = {}
    for r in results["records"]:
        if r["status"] == "ok" and r.get("ratio_vs_baseline"):
            suites.setdefault(r["suite"], []).append(r)
    written = []
    for suite, recs in suites.items():
        groups = sorted({(r["case"], r["threads"]) for r in recs}, key=lambda g: (g[0], g[1]))
        peers = sorted({r["peer"] for r in recs}, key=lambda p: (p != "ours", p))
        width = 0.8 / max(1, len(peers))
        fig, ax = plt.subplots(figsize=(min(12.0, max(6.0, 0.6 * len(groups) * max(1, len(peers)))), 4.5))
        for k, peer in enumerate(peers):
            xs, ys = [], []
            for g_index, (case, threads) in enumerate(groups):
                match = [r for r in recs if r["peer"] == peer and r["case"] == case and r["threads"] == threads]
                if match:
                    xs.append(g_index + (k - (len(peers) - 1) / 2) * width)
                    ys.append(match[0]["ratio_vs_baseline"])
            ax.bar(xs, ys, width=width, label=peer)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{c}\n{t} thr" for c, t in groups], fontsize=8)
        ax.set_ylabel("time / baseline time (log; lower is faster)")
        ax.set_title(f"fixedpoint bench: {suite}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{stem}-{suite}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# The documentation page

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[\w.+-]+){2,}/?")
PAGE_NOTE_LIMIT = 110


def _scrub(text: Any, limit: int = PAGE_NOTE_LIMIT) -> str:
    """A table cell for the page: no machine paths, no newlines or pipes, at most ``limit`` chars."""
    text = _PATH.sub("<path>", str(text)).replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def page_markdown(results: dict[str, Any], img_prefix: str = "img/bench") -> str:
    """The benchmarks page for one results document (the plots are ``<img_prefix>-<suite>.png``).

    Raises ValueError when the document is a quick run (the page shows full runs only)."""
    
    if results["run"].get("quick"):
        raise ValueError("bench --page: the results are from a --quick run; the page shows a full run")
    m, run = results["machine"], results["run"]
    cpu, fxm, thr = m["cpu"], m["fixedpoint"], m["threads"]
    build = fxm.get("build_info") or {}
    load = m.get("load_avg")
    load_start = m.get("load_avg_start")
    cores = cpu.get("available_cores") or 1
    # the 1-minute load before the run: the end value also counts the run's own threads (a
    # two-thread case alone keeps it near 2), so it says little about other jobs
    before = load_start[0] if load_start else (max(load) if load is not None else None)
    loaded = before is not None and before > 0.5 * cores
    durations = run.get("suite_duration_s") or {}
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m bench --page docs/benchmarks.md --from <results.json>` "
        "(bench/report.py); do not edit by hand. -->",
        "",
        "The latest full run of every suite in `bench/`. Each case runs our kernel and its peers in one "
        "process on the same inputs, checks every output exactly, and reports the median time per call "
        "as a ratio against the case's baseline measured in the same run (below 1 is faster than the "
        "baseline). Nothing here is asserted by the tests; `bench/README.md` describes every case, its "
        "check and its goals.",
        "",
        "## The machine and the run",
        "",
        f"- **CPU:** {_scrub(cpu.get('model'))}; {cpu.get('available_cores')} cores available "
        f"({cpu.get('logical_cores')} logical, {cpu.get('physical_cores') or '?'} physical).",
        f"- **ISA features:** {' '.join(cpu.get('isa') or []) or '?'}.",
        f"- **fixedpoint kernels:** instruction set `{fxm.get('simd_target') or '?'}` "
        f"(best available `{build.get('best_isa', '?')}`), compiler {build.get('compiler', '?')}, "
        f"default threads {fxm.get('default_threads')}.",
        f"- **Thread counts measured:** {', '.join(str(t) for t in thr['requested'])}. Peers' BLAS and "
        f"OpenMP pools follow the same count ({_scrub(thr.get('peer_thread_control'))}).",
        "- **Versions:** " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".",
        f"- **Run:** {str(run.get('started_utc', '?')).replace('+00:00', '')} UTC, {float(run.get('duration_s', 0)) / 60:.1f} min"
        + (f", commit `{str(m['git_commit'])[:10]}`" if m.get("git_commit") else "") + ".",
    ]
    if run.get("note"):
        lines.append(f"- **Note:** {_scrub(run['note'], limit=600)}")
    if durations:
        lines.append("- **Time per suite (set-up and checks included):** "
                     + ", ".join(f"{k} {v / 60:.1f} min" for k, v in durations.items()) + ".")
    if load_start is not None:
        lines.append(f"- **Load average before the run (1/5/15 min):** {', '.join(f'{v:g}' for v in load_start)} "
                     f"on {cores} cores.")
    if load is not None:
        lines.append(f"- **Load average at the end (1/5/15 min, the run's own threads included):** "
                     f"{', '.join(f'{v:g}' for v in load)} on {cores} cores.")
    if loaded:
        lines += [
            "",
            "**The machine was shared with other jobs during this run** (the load average before it "
            "exceeded half the core count), so absolute times are noisy and the all-core figures understate scaling. "
            "The peers of one case were measured back to back in one process, so ratios are less "
            "affected than times, but treat differences under about 1.5x as noise.",
        ]
    lines += [
        "",
        "## Reproducing",
        "",
        "```sh",
        "python -m bench --out bench-results.json          # the full run (or: fixedpoint bench ...)",
        "python -m bench --page docs/benchmarks.md --from bench-results.json",
        "```",
        "",
        "The second command writes this page and its plots (`docs/img/bench-<suite>.png`).",
    ]
    suites: dict[str, list[dict[str, Any]]] = {}
    for r in results["records"]:
        suites.setdefault(r["suite"], []).append(r)
    plotted = {r["suite"] for r in results["records"] if r["status"] == "ok" and r.get("ratio_vs_baseline")}
    for suite, recs in suites.items():
        lines += ["", f"## {suite}", ""]
        if suite in plotted:
            lines += [f"![{suite}: time relative to the baseline]({img_prefix}-{suite}.png)", ""]
        lines += [
            "| case | threads | peer | median | IQR | vs baseline | status |",
            "|---|---:|---|---:|---:|---:|---|",
        ]
        for r in recs:
            peer = f"**{r['peer']}** (baseline)" if r["peer"] == r["baseline"] else r["peer"]
            status = r["status"] if not r["note"] else f"{r['status']}: {_scrub(r['note'])}"
            lines.append("| " + " | ".join([
                r["case"], str(r["threads"]), peer, fmt_seconds(r["median_s"]), fmt_seconds(r["iqr_s"]),
                fmt_ratio(r["ratio_vs_baseline"]), status.replace("|", "/"),
            ]) + " |")
    if results.get("goals"):
        lines += ["", "## Goals (reported, not asserted)", "", "| suite | case | goal | value | met |",
                  "|---|---|---|---|---|"]
        for g in results["goals"]:
            met = {True: "yes", False: "**no**", None: "n/a"}[g["met"]]
            lines.append("| " + " | ".join(_scrub(c) for c in (g["suite"], g["case"], g["goal"], g["value"])) +
                         f" | {met} |")
    return "\n".join(lines) + "\n"


def write_page(results: dict[str, Any], page: str | Path, img_dir: str | Path | None = None,
               dpi: int = 72) -> list[Path]:
    """Write the benchmarks page and one PNG per suite; returns the files written.

    The PNGs go to ``img_dir`` (default: ``img/`` next to the page) as ``bench-<suite>.png`` and
    the page links them relatively. Raises ImportError without matplotlib, ValueError for a quick
    run."""
    page = Path(page)
    img_dir = Path(img_dir) if img_dir is not None else page.parent / "img"
    try:
        rel = img_dir.resolve().relative_to(page.parent.resolve()).as_posix()
    except ValueError:
        rel = img_dir.as_posix()
    text = page_markdown(results, img_prefix=f"{rel}/bench")
    pngs = plot_suites(results, img_dir, stem="bench", dpi=dpi)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return [page, *pngs]


# Markdown report


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3g}x"


def _md_cell(text: Any, limit: int = 200) -> str:
    text = str(text).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def to_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    cpu = m["cpu"]
    fxm = m["fixedpoint"]
    lines = [
        "# fixedpoint benchmarks",
        "",
        f"- CPU: {cpu['model']} ({cpu['available_cores']} cores available, "
        f"{cpu['logical_cores']} logical); ISA: {' '.join(cpu['isa']) or '?'}",
        f"- fixedpoint: {m['versions'].get('fixedpoint') or '-'}, SIMD target: "
        f"{fxm.get('simd_target') or '-'}"
        + ("" if fxm["available"] else f" (not available: {fxm['error']})"),
        f"- threads: {', '.join(map(str, m['threads']['requested']))}; peer BLAS/OpenMP threads "
        f"via {m['threads']['peer_thread_control']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        f"- load average (1/5/15 min): start {m.get('load_avg_start') or '-'}, end {m.get('load_avg') or '-'}",
        f"- mode: {'quick' if results['run']['quick'] else 'full'}; times are per call; "
        "ratio = median / baseline median at the same thread count (lower is faster)",
    ]
    suites: dict[str, list[dict[str, Any]]] = {}
    for r in results["records"]:
        suites.setdefault(r["suite"], []).append(r)
    for suite, recs in suites.items():
        lines += [
            "",
            f"## {suite}",
            "",
            "| case | threads | peer | n | median | min | IQR | vs baseline | status | note |",
            "|---|---:|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in recs:
            peer = f"**{r['peer']}** (baseline)" if r["peer"] == r["baseline"] else r["peer"]
            lines.append(
                "| "
                + " | ".join(
                    _md_cell(c)
                    for c in (
                        r["case"],
                        r["threads"],
                        peer,
                        f"{r['n']:,}",
                        fmt_seconds(r["median_s"]),
                        fmt_seconds(r["min_s"]),
                        fmt_seconds(r["iqr_s"]),
                        fmt_ratio(r["ratio_vs_baseline"]),
                        r["status"],
                        r["note"],
                    )
                )
                + " |"
            )
    if results.get("goals"):
        lines += ["", "## Goals (reported, not asserted)", "", "| suite | case | goal | value | met |", "|---|---|---|---|---|"]
        for g in results["goals"]:
            met = {True: "yes", False: "NO", None: "n/a"}[g["met"]]
            lines.append(
                "| " + " | ".join(_md_cell(c) for c in (g["suite"], g["case"], g["goal"], g["value"], met)) + " |"
            )
    return "\n".join(lines) + "\n"


def print_report(markdown: str, fmt: str = "auto", stream: Any = None) -> None:
    stream = stream or sys.stdout
    use_rich = fmt == "rich" or (fmt == "auto" and hasattr(stream, "isatty") and stream.isatty())
    if use_rich:
        try:
            from rich.console import Console  # noqa: PLC0415
            from rich.markdown import Markdown  # noqa: PLC0415
        except ImportError:
            use_rich = False
        else:
            Console(file=stream).print(Markdown(markdown))
            return
    stream.write(markdown)


