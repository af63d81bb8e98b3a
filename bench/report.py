"""Plots and run-to-run comparison for benchmark results (the JSON written by ``python -m bench``).

- :func:`plot_suites` draws one PNG per suite: for every case, each peer's median time as a
  ratio of the case's baseline, grouped by thread count (log scale; lower is faster).
- :func:`compare` matches the ``ok`` records of two runs by (suite, case, peer, threads) and
  reports the change of the median time; a record slower by more than ``threshold`` is a
  regression.
"""

from __future__ import annotations

import json
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
        raise ValueError(f"bench --compare: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or "records" not in data or data.get("schema") != 1:
        raise ValueError(f"bench --compare: {path} is not a schema-1 bench result (no 'records' or 'schema': 1)")
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
    from bench.harness import fmt_seconds  # noqa: PLC0415

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


def plot_suites(results: dict[str, Any], out_dir: str | Path, stem: str = "bench") -> list[Path]:
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
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(1, len(peers)) * 0.5), 4.5))
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
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
