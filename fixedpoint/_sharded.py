"""The scanners' evaluations, data-parallel on a Dask cluster (``fx.scan(..., client=)``): the
calibration events split one shard per worker and scattered once, every evaluation the serial
search asks for run on all shards, per-event outputs gathered in order.

It needs nothing from Dask but a ``distributed.Client`` passed in, so the scanners
(:mod:`fixedpoint.network`, :mod:`fixedpoint.scanner`) and :mod:`fixedpoint.dask` all import it
and it imports none of them.
"""

from __future__ import annotations

import os
import uuid

import numpy as np

from ._scanning import _accum_overflows, _chunked
from .array import FixedArray
from .format import Fixed, QMode
from .nn._raw import quantize_input
from .nn._raw import storage as _storage


def _worker_threads() -> None:
    """Inside a Dask worker, run the kernels on the worker's own thread count (unless
    FIXEDPOINT_NUM_THREADS says otherwise), so that workers do not oversubscribe the cores."""
    if os.environ.get("FIXEDPOINT_NUM_THREADS"):
        return
    try:
        from distributed import get_worker  # noqa: PLC0415

        worker = get_worker()
    except (ImportError, ValueError):
        return
    n = int(getattr(getattr(worker, "state", worker), "nthreads", 0) or 0)
    if n >= 1:
        from ._runtime import get_num_threads, set_num_threads  # noqa: PLC0415

        if get_num_threads() != n:
            set_num_threads(n)


_STATE: dict = {}  # on a worker: shard token -> {"memo": {...}, "ops": {...}}; the most recent few
_STATE_KEEP = 4
_MEMO_MAX = 512  # memoized tensors per shard before the memo is cleared (as the serial scans bound theirs)


class _MissingOp(KeyError):
    """A worker lacks an op the client sent earlier (the worker was restarted): send them all."""


def _shard_state(token: str) -> dict:
    st = _STATE.get(token)
    if st is None:
        st = _STATE[token] = {"memo": {}, "ops": {}}
        while len(_STATE) > _STATE_KEEP:
            _STATE.pop(next(iter(_STATE)))
    return st


def _pack(raw: np.ndarray, fmt: Fixed) -> np.ndarray:
    """Stored integers in the narrowest of int32/int64 that holds the format (half the transfer)."""
    if raw.dtype == np.int64 and fmt.w <= 31:
        return raw.astype(np.int32)
    return raw


def _shard_call(step, shard, item):
    """On a worker: ``step(shared, events, state, item)`` on this worker's shard of the events."""
    _worker_threads()
    shared, xs, token = shard
    outs = step(shared, xs, _shard_state(token), item)
    return [(_pack(raw, fmt), fmt) for raw, fmt in outs]


class _Sharded:
    """``step(shared, events, state, item)`` on every shard of ``events`` (one shard per worker, the
    events split along the first axis and scattered once), per-event outputs concatenated in order.

    ``step`` returns a list of ``(raw, fmt)``: stored integers with one row per event of its shard.
    Each worker keeps a state per shard (``state["memo"]``, ``state["ops"]``) across calls, so a
    step can memoize what a candidate shares with the previous ones, as the serial scan does.
    Exact when the emulation of an event does not depend on the other events of the batch: not so
    for STOCH rounding, whose counters are positions in the batch (see :func:`_uses_stoch`).
    """

    def __init__(self, client, shared, xs: list, step, api: str):
        if not (hasattr(client, "scatter") and hasattr(client, "submit") and hasattr(client, "id")):
            raise TypeError(f"{api}: client must be a distributed.Client, got {type(client).__name__}")
        self.client, self.shared, self.xs, self.step, self.api = client, shared, xs, step, api
        self.n = len(xs[0])
        self.shards: list = []  # (worker address, future of (shared, events, token), rows)
        self.calls = self.resent = 0

    def _scatter(self) -> None:
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.client.wait_for_workers(1)
            workers = sorted(self.client.scheduler_info()["workers"])
        k = max(1, min(len(workers), self.n))
        bounds = [self.n * j // k for j in range(k + 1)]
        self.shards = []
        for w, lo, hi in zip(workers, bounds, bounds[1:]):
            data = (self.shared, [x[lo:hi] for x in self.xs], uuid.uuid4().hex)
            [fut] = self.client.scatter([data], workers=[w], hash=False)
            self.shards.append((w, fut))

    def __call__(self, item, fresh=None, step=None) -> list:
        """The per-event outputs of ``item`` over all events: ``[(raw, fmt), ...]``. ``fresh``:
        a callable giving the item to send when the workers' state is new or was lost (the
        cluster was restarted). ``step``: another step function on the same shards (default:
        the one given at construction)."""
        if not self.shards or any(f.status != "finished" for _, f in self.shards):
            self._scatter()
            item = item if fresh is None else fresh()
        self.calls += 1
        key = f"fixedpoint-shard-{self.calls}-{uuid.uuid4().hex[:8]}"
        step = self.step if step is None else step
        try:
            return self._gather(step, item, key)
        except _MissingOp:
            if fresh is None:
                raise
            self.resent += 1
            return self._gather(step, fresh(), key + "-again")

    def _gather(self, step, item, key: str) -> list:
        futures = [self.client.submit(_shard_call, step, fut, item, key=f"{key}-{j}", workers=[w],
                                      allow_other_workers=True, pure=False)
                   for j, (w, fut) in enumerate(self.shards)]
        try:
            parts = self.client.gather(futures, errors="raise")
        finally:
            for f in futures:
                f.release()
        out = []
        for j, (_, fmt) in enumerate(parts[0]):
            raws = [p[j][0] for p in parts]
            if any(p[j][1] != fmt for p in parts):  # a format is decided by the types, never by the data
                raise AssertionError(f"{self.api}: shards disagree on an output format")
            raw = raws[0] if len(raws) == 1 else np.concatenate(raws)
            out.append((raw.astype(np.int64) if raw.dtype == np.int32 else raw, fmt))
        return out


def _uses_stoch(cfg) -> bool:
    """Whether any format in a (nested) configuration rounds stochastically."""
    if isinstance(cfg, Fixed):
        return cfg.q is QMode.STOCH
    if isinstance(cfg, dict):
        return any(_uses_stoch(v) for v in cfg.values())
    if isinstance(cfg, (list, tuple)):
        return any(_uses_stoch(v) for v in cfg)
    return False


def _network_step(network, xs, state, cfg):
    """One candidate of fx.Network's scan on a shard: what ``fixedpoint.network.scan``'s
    ``emulate`` computes (``Network._emulate_memo``: the same ops, memoized the same way)."""
    return [network._emulate_memo(xs[0], cfg, state["memo"])]


_COUNTS = Fixed(64, 64)  # the "format" of a shard's count rows (plain int64, never a fixed-point value)


def _network_counts_step(network, xs, state, cfg):
    """On a shard: per layer, the accumulator overflow counts of the scan's flags,
    ``(final_bad, any_bad, sums)`` (:func:`fixedpoint._scanning._accum_overflows`), as one int64
    row; the client sums the rows of the shards (counts over events add up exactly)."""
    (X,) = xs
    stages = network.emulate_layers(X, cfg)
    return [(np.array([_accum_overflows(_storage(x), x.fmt, network._dense_op(layer, cfg[layer.name], None))],
                      dtype=np.int64), _COUNTS) for layer, x in zip(network.layers, stages)]


def _network_evaluator(client, network, X):
    """``cfg -> float outputs`` of ``network`` on ``X`` (what ``fx.scan`` scores), the events
    split across ``client``'s workers; ``None`` for a configuration with STOCH rounding (the
    caller emulates it whole: STOCH counters are positions in the batch).

    ``evaluate.accum_counts(cfg)``: per layer, ``(final_bad, any_bad, sums)`` of the accumulator
    on the same shards (the scan's overflow flags), summed over the shards; None for STOCH."""
    sharded = _Sharded(client, network, [np.asarray(X, dtype=np.float64)], _network_step, "fx.scan")

    def evaluate(cfg):
        if _uses_stoch(cfg):
            return None
        (raw, fmt), = sharded(cfg)
        return FixedArray(raw, fmt, _trusted=True).to_float()

    def accum_counts(cfg):
        if _uses_stoch(cfg):
            return None
        return [tuple(int(v) for v in rows.sum(axis=0)) for rows, _ in sharded(cfg, step=_network_counts_step)]

    evaluate.sharded = sharded
    evaluate.accum_counts = accum_counts
    return evaluate


def _value(memo: dict, ref: tuple):
    key, j = ref
    v = memo[key]
    return v if j is None else (v[j] if isinstance(v, list) else v)


def _graph_step(shared, xs, state, plan):
    """One candidate of the graph scan on a shard: the scanner's ``_Runner.run`` with the ops the
    client built (each sent once) and the client's memo keys (small integers)."""
    inputs, nodes, outputs = plan
    memo, ops = state["memo"], state["ops"]
    n = len(xs[0])
    for k, index, fmt in inputs:
        if k not in memo:
            memo[k] = (quantize_input(xs[index], fmt), fmt)
    for k, op, in_refs in nodes:
        if op is not None:
            ops[k] = op
        if k in memo:
            continue
        op = ops.get(k)
        if op is None:
            raise _MissingOp(k)
        memo[k] = _chunked(op, [_value(memo, r) for r in in_refs])
    outs = []
    for ref in outputs:
        raw, fmt = _value(memo, ref)
        outs.append((raw.reshape(n, -1), fmt))
    if len(memo) > _MEMO_MAX:
        memo.clear()
    return outs
