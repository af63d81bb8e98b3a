"""What the two scanners share (``fx.scan`` on an ``fx.Network`` in :mod:`fixedpoint.network`, on a
graph model in :mod:`fixedpoint.scanner`, and their Dask evaluators): integer bits from ranges,
the default metric, the progress display, chunked evaluation on the thread pool, the
accumulator overflow counts and the flags built from them, and the plot."""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _backend, nn
from ._runtime import blas_one_thread, get_num_threads
from ._operands import result_format
from .array import FixedArray
from .format import Fixed
from .nn._raw import is_wide, storage as _storage
from .nn.dense import DenseOp


def _int_bits(maxabs: float, margin: int) -> int:
    """Integer bits (sign included) so that [-maxabs, maxabs] fits: 2^(I-1) > maxabs."""
    if maxabs <= 0 or not math.isfinite(maxabs):
        return 1 + margin
    return math.floor(math.log2(maxabs)) + 2 + margin


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(pred, axis=-1) == y))


class _Progress:
    """Progress of a scan: a rich bar on a terminal, the caller's callback, or nothing."""

    def __init__(self, progress, total: int):
        self.callback = progress if callable(progress) else None
        self.bar = self.task = None
        if self.callback is None and progress is not False and (progress is True or sys.stderr.isatty()):
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415
            except ImportError:  # rich is optional: fall back to one line per knob on stderr
                self.callback = lambda m: print(m, file=sys.stderr)
            else:
                self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                                    "{task.total} knobs"), TimeElapsedColumn(), transient=True)
                self.bar.start()
                self.task = self.bar.add_task("fx.scan", total=total)

    def step(self, message: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=message)
        if self.callback is not None:
            self.callback(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _abs_level(values: np.ndarray, percentile: float) -> float:
    a = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
    if not a.size:
        return 0.0
    return float(a.max() if percentile >= 100 else np.percentile(a, percentile))


def _accum_countable(x_fmt: Fixed, op: DenseOp) -> bool:
    """:func:`_accum_overflows` can count this layer exactly (products within 62 bits, the
    accumulator within 60, int64 weights)."""
    return result_format("mul", x_fmt, op.w_fmt).w <= 62 and op.acc_t.w <= 60 and not is_wide(op.w)


def _accum_overflows(x_raw, x_fmt: Fixed, op: DenseOp) -> tuple[int, int, int]:
    """On stored inputs x: (sums whose final value leaves accum_t, sums with any product or partial
    sum outside accum_t, all sums), computed exactly with a 63-bit accumulator of the same lsb.
    Partial sums are taken in the order the layer adds its products (``op.order``: hls4ml's
    Resource order; ascending k without one). Layers :func:`_accum_countable` refuses give
    (0, 0, sums): the scan's flags then say nothing about them."""
    acc, w_fmt = op.acc_t, op.w_fmt
    prod = result_format("mul", x_fmt, w_fmt)
    if not _accum_countable(x_fmt, op):
        return 0, 0, x_raw.shape[0] * op.w.shape[1]
    wide = Fixed(63, 63 - acc.f, q=acc.q, o="WRAP")
    b = op.b_acc
    final_bad = any_bad = 0
    rows = max(1, 2_000_000 // max(1, op.w.size))
    order = None if op.order is None else op.order[None, :, :]
    for k in range(0, x_raw.shape[0], rows):
        p = x_raw[k:k + rows, :, None] * op.w[None, :, :]  # exact products, (rows, K, N)
        p = _backend.cast(p, prod, wide)  # (accum_t)(x * w)
        if order is not None:  # output j receives input order[s, j] at step s
            p = np.take_along_axis(p, np.broadcast_to(order, p.shape), axis=1)
        partial = np.cumsum(p, axis=1) + b
        out = (partial < acc.raw_min) | (partial > acc.raw_max)
        final_bad += int(np.count_nonzero(out[:, -1, :]))
        terms = (p < acc.raw_min) | (p > acc.raw_max)
        any_bad += int(np.count_nonzero(out.any(axis=1) | terms.any(axis=1)))
    return final_bad, any_bad, x_raw.shape[0] * op.w.shape[1]


def _plot(trials, steps, ref, line, path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 5))
    xs_all, colors = [], {}
    for knob in dict.fromkeys(t[0] for t in trials):
        pts = sorted({(f, m) for k, f, m in trials if k == knob})
        xs_all += [p[0] for p in pts]
        (ln,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=knob)
        colors[knob] = ln.get_color()
    for st in steps:  # the choice, at the metric the scan had after settling that knob
        ax.plot([st["bits"]], [st["metric"]], marker="*", ms=12, color=colors.get(st["knob"], "k"))
    if math.isfinite(line):
        ax.axhline(line, color="k", ls="--", lw=1, label="float metric - tolerance")
    if xs_all:
        ax.set_xlim(min(xs_all) - 0.5, max(xs_all) + 0.5)
    ax.set_xlabel("fraction bits (log2 table size for table_size knobs); star: chosen")
    ax.set_ylabel("metric (bit-exact emulation)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def _accum_flags(name: str, x_in: FixedArray, op: DenseOp, counts: tuple | None = None) -> list:
    """Warnings about one layer's accumulator under the chosen types, with the fixes to offer.
    ``counts``: :func:`_accum_overflows` of ``x_in`` if already known (summed over a cluster's
    shards), else computed here."""
    acc, x_fmt, w_fmt = op.acc_t, x_in.fmt, op.w_fmt
    out = []
    final_bad, any_bad, total = counts if counts is not None else _accum_overflows(_storage(x_in), x_fmt, op)
    bad = final_bad if acc.o.value == "WRAP" else any_bad
    wraps = acc.o.value in ("WRAP", "WRAP_SM")
    if bad:
        fix = ("use accum_overflow='SAT' to clip instead of wrapping, or " if wraps else "") + \
              f"widen it (more integer bits than {acc.i})"
        out.append({"layer": name, "kind": "overflow", "count": bad, "total": total,
                    "message": f"layer {name}: accumulator {acc.to_hls4ml()} {'wraps' if wraps else 'saturates'} on "
                               f"{bad} of {total} calibration sums; {fix}"})
    else:
        w = op.w_f64 * float(w_fmt.lsb_exact) if op.w_f64 is not None else None
        if w is not None:
            xlo, xhi = x_fmt.min, x_fmt.max
            b = op.b_acc.astype(np.float64) * float(acc.lsb_exact)
            w_pos, w_neg = np.maximum(w, 0.0), np.minimum(w, 0.0)
            top = np.sum(np.maximum(w_pos * xhi + w_neg * xlo, 0.0), axis=0) + np.maximum(b, 0.0)
            bottom = np.sum(np.minimum(w_pos * xlo + w_neg * xhi, 0.0), axis=0) + np.minimum(b, 0.0)
            if float(top.max(initial=0.0)) > acc.max or float(bottom.min(initial=0.0)) < acc.min:
                out.append({"layer": name, "kind": "may_overflow", "count": 0, "total": total,
                            "message": f"layer {name}: accumulator {acc.to_hls4ml()} holds the calibration sums but "
                                       f"can {'wrap' if wraps else 'saturate'} for other inputs of {x_fmt.to_hls4ml()}"
                                       + ("; accum_overflow='SAT' would clip instead" if wraps else "")})
    dropped = x_fmt.f + w_fmt.f - acc.f
    if dropped > 0:
        out.append({"layer": name, "kind": "rounds", "count": 0, "total": total,
                    "message": f"layer {name}: accumulator {acc.to_hls4ml()} drops {dropped} fraction bits of each "
                               f"product ({acc.q.value})" + ("; accum_rounding='RND' rounds to nearest instead of "
                                                              "down" if acc.q.value == "TRN" else "")})
    return out


_POOL = None  # (threads, executor): one pool for every scan of the process


def _chunked(op, inputs: list, chunk: int = nn.graph.CHUNK):
    """``op`` on cache-sized chunks of samples, on the fixedpoint thread count (the engine's
    ops and kernels release the GIL), concatenated; BLAS on one thread, as in
    :meth:`fixedpoint.nn.Graph.run_raw`."""
    with blas_one_thread():
        return _chunked_run(op, inputs, chunk)


def _chunked_run(op, inputs: list, chunk: int):
    n = len(inputs[0][0]) if inputs else 0
    if n <= chunk:
        return op(*(p for v in inputs for p in v))
    starts = list(range(0, n, chunk))

    def part(k):
        return op(*(p for raw, fmt in inputs for p in (raw[k:k + chunk], fmt)))

    threads = min(get_num_threads(), len(starts))
    if threads > 1:
        global _POOL
        if _POOL is None or _POOL[0] != threads:
            _POOL = (threads, ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fixedpoint-scan"))
        parts = list(_POOL[1].map(part, starts))
    else:
        parts = [part(k) for k in starts]
    if isinstance(parts[0], list):
        return [(np.concatenate([p[j][0] for p in parts]), parts[0][j][1]) for j in range(len(parts[0]))]
    return np.concatenate([p[0] for p in parts]), parts[0][1]
