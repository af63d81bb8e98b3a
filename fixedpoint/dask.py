"""The same work on Dask: emulation and quantization of events held in dask arrays, reading and
writing them, and the scanner's candidate evaluations as futures on a cluster.

``import fixedpoint.dask as fxd`` (the ``dask`` extra: ``dask[array]`` and ``distributed``).
Nothing here schedules work itself: every function builds dask arrays or submits futures, and
whatever runs Dask (a ``LocalCluster``, dask-jobqueue on Slurm or HTCondor, coffea) runs them.

- :func:`emulate`: an hls4ml ``ModelGraph`` or an :class:`fixedpoint.Network` on a dask array of
  events (chunks along the first axis); lazy, equal bit for bit to the in-memory emulation. The
  model is prepared once (its :class:`fixedpoint.nn.Graph`) and enters the task graph as one
  piece of data that every block task reads, so it is shipped to each worker once.
- :func:`quantize`: ``fx.array`` on a dask array, stored integers out; stochastic rounding is
  keyed by each element's global index, so the bits do not depend on the chunking.
- :func:`read` / :func:`write`: events from ``.npy`` (memory-mapped), Zarr and ROOT (uproot),
  results to ``.npy`` or Zarr; :func:`compute` with a progress display; :func:`summary` counts
  classes and outputs at the result type's limits, summed over chunks; :func:`overflows` counts
  every Dense layer's accumulator overflows the same way.
- :func:`map_shared`: ``[func(shared, item) for item in items]`` as futures, with ``shared``
  scattered to the workers once (what ``fx.scan(..., client=)`` uses for calibration data).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import numbers
import os
import pickle
import threading
import uuid
from pathlib import Path

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("fixedpoint.dask needs dask: pip install 'fixedpoint-hls[dask]' (dask[array] and "
                      "distributed)") from exc

from . import hls4ml as _hls4ml
from ._pyint import seed_at
from .array import FixedArray
from ._storage import _as_format, _seed_for
from .quantize import _check_nan_policy, array
from .format import Fixed, QMode
from .network import Network
from .nn import Graph
from .nn._raw import is_wide, quantize_input
from ._scanning import _accum_countable, _accum_overflows
from ._sharded import _worker_threads
from .nn.dense import DenseOp

__all__ = ["emulate", "output_formats", "quantize", "read", "write", "compute", "summary", "overflows", "map_shared"]



# ---------------------------------------------------------------------------------------------
# shared checks
# ---------------------------------------------------------------------------------------------
def _require_dask_array(X, api: str):
    if not isinstance(X, da.Array):
        raise TypeError(f"{api}: X must be a dask.array (chunks along the first axis), got {type(X).__name__}; "
                        "wrap NumPy data with dask.array.from_array(X, chunks=(rows, -1)) or fxd.read(...)")


def _require_event_chunks(X, api: str, why: str):
    split = [ax for ax in range(1, X.ndim) if len(X.chunks[ax]) > 1]
    if split:
        raise ValueError(f"{api}: X must be chunked along the first (event) axis only ({why}); axis "
                         f"{split[0]} has chunks {X.chunks[split[0]]}. Rechunk with "
                         f"X.rechunk({{{', '.join(f'{a}: -1' for a in split)}}})")


# ---------------------------------------------------------------------------------------------
# emulate
# ---------------------------------------------------------------------------------------------
class _Plan:
    """A prepared model: the graph, whose inputs it reads and how its outputs are returned."""

    def __init__(self, model, config, api: str):
        if isinstance(model, Network):
            if not isinstance(config, dict):
                raise TypeError(f"{api}: an fx.Network needs config= (the dict net.emulate takes), got "
                                f"{type(config).__name__}")
            missing = [name for name in ["input"] + [layer.name for layer in model.layers] if name not in config]
            if missing:
                raise KeyError(f"{api}: config has no entry for {', '.join(map(repr, missing))}")
            self.kind = "network"
            self.graph = model.to_graph(config)
        elif hasattr(model, "get_layers"):
            if config is not None:
                raise TypeError(f"{api}: config= is for an fx.Network; an hls4ml model carries its own types")
            self.kind = "hls4ml"
            self.graph = _hls4ml.to_graph(model)
        else:
            raise TypeError(f"{api}: model must be a converted hls4ml ModelGraph or an fx.Network, got "
                            f"{type(model).__name__}")
        if len(self.graph.inputs) != 1:
            raise NotImplementedError(f"{api}: the model has {len(self.graph.inputs)} inputs; models with several "
                                      "inputs are not emulated on dask arrays (one input only)")
        name, self.shape, self.in_fmt = self.graph.inputs[0]
        self.size = int(np.prod(self.shape))
        try:
            self.payload = pickle.dumps(self.graph, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is named
            raise TypeError(f"{api}: the prepared graph does not pickle ({type(exc).__name__}: {exc}); it cannot be "
                            "shipped to workers") from exc
        self.token = hashlib.blake2b(self.payload, digest_size=12).hexdigest()


def _input_raw(x: np.ndarray, graph: Graph, kind: str) -> np.ndarray:
    """A block of float events as the stored integers of the graph's input."""
    (_, shape, fmt), = graph.inputs
    if kind == "network":
        x = np.asarray(x, dtype=np.float64)  # as Network.emulate reads X
    return quantize_input(x.reshape((x.shape[0],) + shape), fmt)


def _run_block(x: np.ndarray, graph: Graph, kind: str, raw: bool, dtype) -> np.ndarray:
    """One block of events through the prepared graph: (n, outputs' flat sizes, concatenated)."""
    _worker_threads()
    n = x.shape[0]
    if kind == "hls4ml" and not raw:
        outs = _hls4ml.run_graph(graph, x)  # fx.hls4ml.emulate's own path
        outs = outs if isinstance(outs, list) else [outs]
        outs = [np.asarray(o).reshape(n, -1) for o in outs]
    else:
        values = graph.run_raw([_input_raw(x, graph, kind)])
        outs = []
        for t in graph.outputs:
            r, f = values[t]
            r = r.reshape(n, -1)
            outs.append(r if raw else FixedArray(r, f, _trusted=True).to_float().astype(dtype))
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)


def _prepare(model, X, config, api: str) -> tuple:
    """Checks shared by the APIs that run a model on a dask array of events, before any task:
    ``(the prepared plan, X as (events, features))``."""
    _require_dask_array(X, api)
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"{api}: X must be float32 or float64 (predict's two bridges), got dtype {X.dtype}")
    if X.ndim < 2:
        raise ValueError(f"{api}: X must hold events on its first axis and their features after it, got shape "
                         f"{X.shape}")
    _require_event_chunks(X, api, "a block must hold whole events")
    plan = _Plan(model, config, api)
    feat = int(np.prod(X.shape[1:]))
    if X.shape[1:] != plan.shape and feat != plan.size:
        raise ValueError(f"{api}: each event of X has shape {X.shape[1:]} ({feat} values); the model's input "
                         f"has shape {plan.shape} ({plan.size} values)")
    return plan, (X.reshape((X.shape[0], feat)) if X.ndim != 2 else X)  # trailing axes are one chunk


def _graph_key(plan: _Plan):
    """The prepared graph as one key of the task graph (each worker receives it once)."""
    return dask.delayed(plan.graph, name=f"fixedpoint-plan-{plan.token}", pure=True, traverse=False)


def _probe(plan: _Plan, dtype, api: str):
    """One event of zeros through the graph, here, before anything is submitted: the output
    formats and sizes, and any error the engine raises only when it runs."""
    values = plan.graph.run_raw([quantize_input(np.zeros((1,) + plan.shape, dtype=dtype), plan.in_fmt)])
    return [(values[t][1], int(values[t][0].size)) for t in plan.graph.outputs]


def output_formats(model, config=None) -> list:
    """The :class:`fixedpoint.Fixed` of each model output, in output order (what the stored
    integers of ``emulate(..., raw=True)`` mean).

    Raises:
        TypeError: a model that is neither an hls4ml ModelGraph nor an fx.Network, or config=
            missing (Network) or given (hls4ml).
        KeyError: a config without an entry for a Network layer.
        NotImplementedError: layers or settings the engine does not emulate (each named).
    """
    plan = _Plan(model, config, "fxd.output_formats")
    return [fmt for fmt, _ in _probe(plan, np.float64, "fxd.output_formats")]


def emulate(model, X, config=None, *, raw: bool = False):
    """The emulation of ``model`` on the events of ``X``, as a lazy dask array.

    ``model``: a converted hls4ml ``ModelGraph`` (``config=None``) or an :class:`fixedpoint.Network`
    with the ``config`` that :meth:`~fixedpoint.Network.emulate` takes. ``X``: a float32 or float64
    dask array of events, chunked along the first axis only, each event of the model input's shape
    (or flattened to its size).

    Returns:
        A dask array ``(n_events, outputs)`` whose rows equal, bit for bit,
        ``fx.hls4ml.emulate(model, X.compute())`` (X's dtype) for an hls4ml model, or
        ``net.emulate(X.compute(), config).to_float()`` (float64) for a Network. With
        ``raw=True``: the outputs' stored integers (int64; their formats from
        :func:`output_formats`). Several model outputs are concatenated along the second axis,
        in output order. A one-event chunk gives a one-row block (not predict's 1-d row).

    The model is prepared here, once: its graph is built (every layer checked), pickled (to check
    that it ships) and run on one event of zeros, so errors come before any task is submitted.
    The graph then enters the task graph as one key that every block task reads: each worker
    receives it once, not once per chunk. Inside a Dask worker the kernels use the worker's
    thread count (``threads_per_worker``) unless ``FIXEDPOINT_NUM_THREADS`` is set.

    Raises:
        TypeError: X is not a dask array or not float32/float64; a model that is neither an hls4ml
            ModelGraph nor an fx.Network; config= missing (Network) or given (hls4ml); a graph that
            does not pickle.
        ValueError: X chunked along a feature axis, or events whose size is not the model input's
            (NaN in X raises ValueError when the block holding it is computed).
        KeyError: a config without an entry for a Network layer.
        NotImplementedError: layers or settings the engine does not emulate (each named), models
            with several inputs, raw=True on outputs wider than 64 bits.
    """
    api = "fxd.emulate"
    plan, x2 = _prepare(model, X, config, api)
    outs = _probe(plan, X.dtype, api)
    if raw and any(fmt.w > 64 for fmt, _ in outs):
        wide = [str(fmt) for fmt, _ in outs if fmt.w > 64]
        raise NotImplementedError(f"{api}: raw=True needs outputs of at most 64 bits (int64 stored integers); "
                                  f"the model outputs {', '.join(wide)}")
    m = sum(size for _, size in outs)
    dtype = np.dtype(np.int64 if raw else (X.dtype if plan.kind == "hls4ml" else np.float64))
    return da.map_blocks(_run_block, x2, _graph_key(plan), plan.kind, bool(raw), dtype, dtype=dtype,
                         chunks=(x2.chunks[0], (m,)), meta=np.empty((0, m), dtype=dtype),
                         name=f"fixedpoint-emulate-{plan.token}-{dask.base.tokenize(x2, raw)}")


# ---------------------------------------------------------------------------------------------
# quantize
# ---------------------------------------------------------------------------------------------
def _quantize_block(x, fmt: Fixed, seed: int, nan: str, shape: tuple, block_info=None):
    _worker_threads()
    loc = block_info[0]["array-location"] if block_info else [(0, d) for d in x.shape]
    starts = [lo for lo, _ in loc]
    if nan == "raise" and x.dtype.kind == "f":
        bad = np.isnan(x)
        if bad.any():
            local = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), x.shape)
            where = tuple(int(a + b) for a, b in zip(local, starts))
            raise ValueError(f"fxd.quantize: X holds NaN at index {where} (nan='raise'; nan='ap' reads it as "
                             f"ap_fixed does) while quantizing into {fmt}")
    if fmt.q is QMode.STOCH:  # the block is whole rows: its first element's C-order index in X
        offset = starts[0] * int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else starts[0]
        seed = seed_at(seed, int(offset))
    return array(np.asarray(x), fmt, seed=seed, nan="ap" if nan == "ap" else "raise").raw


def quantize(X, fmt, seed=None, nan: str = "raise"):
    """``fx.array(X, fmt, seed=, nan=).raw`` on a dask array: the stored integers, lazily.

    ``X``: a dask array of floats, integers or booleans. ``fmt``: a :class:`fixedpoint.Fixed` or a
    type string, at most 64 bits wide. For ``q="STOCH"`` every element draws the
    counter-based word of its global C-order index in ``X``, so the bits equal
    ``fx.array(X.compute(), fmt, seed=seed)`` whatever the chunking; ``seed=None`` draws one seed
    here (the lazy array then gives the same bits every time it is computed).

    Returns:
        A dask array of X's shape and chunks: int64 stored integers (uint64 for a 64-bit unsigned
        format, as ``FixedArray.raw``).

    Raises:
        TypeError: X not a dask array or of an unsupported dtype; fmt neither Fixed nor string;
            seed not an int.
        ValueError: fmt does not parse; nan not 'raise'/'ap'; seed outside [0, 2**64); STOCH on X
            chunked along an axis other than the first (the message says how to rechunk); NaN
            with nan='raise' (at compute time, naming the element's global index).
        NotImplementedError: a format wider than 64 bits.
    """
    api = "fxd.quantize"
    _require_dask_array(X, api)
    fmt = _as_format(fmt, api)
    _check_nan_policy(nan, api)
    if X.dtype.kind not in "fiub" or X.dtype == np.longdouble:
        raise TypeError(f"{api}: X must hold floats, integers or booleans, got dtype {X.dtype}")
    if fmt.w > 64:
        raise NotImplementedError(f"{api}: {fmt} is wider than 64 bits; its stored integers do not fit int64 "
                                  "(use fx.array on NumPy blocks)")
    seed = _seed_for(fmt, seed, api)
    if fmt.q is QMode.STOCH:
        _require_event_chunks(X, api, "STOCH keys each element by its global index, which needs whole rows per "
                              "block")
    dtype = np.dtype(np.uint64 if fmt.w == 64 and not fmt.signed else np.int64)
    return da.map_blocks(_quantize_block, X, fmt, seed, nan, tuple(X.shape), dtype=dtype,
                         meta=np.empty((0,) * X.ndim, dtype=dtype))


# ---------------------------------------------------------------------------------------------
# read, write, compute, summary
# ---------------------------------------------------------------------------------------------
class _NpyFile:
    """A .npy file as dask.array.from_array reads it: opened memory-mapped where each block is
    read (only the path travels with the task graph)."""

    def __init__(self, path: str):
        self.path = str(path)
        mm = np.load(self.path, mmap_mode="r")  # reads the header only
        shape, dtype, fortran = mm.shape, mm.dtype, mm.ndim > 1 and not mm.flags.c_contiguous
        del mm
        if fortran:
            raise ValueError(f"fxd.read: {self.path} holds a Fortran-ordered array; save it in C order")
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)

    def __getitem__(self, key):
        return np.array(np.load(self.path, mmap_mode="r")[key])


_MIN_BLOCK_BYTES = 1 << 20  # the default blocks are not split below about 1 MiB to fill threads


def _cluster_threads() -> int:
    """Worker threads of the current distributed client's cluster; 0 without one."""
    client = _client()
    if client is None:
        return 0
    try:
        return int(sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a client that cannot answer leaves the blocks as they are
        return 0


def _rows(shape, itemsize: int, rows) -> int:
    if rows is None:  # equal blocks of at most about 16 MiB: no small last block, so N workers
        per_row = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)  # share the work evenly
        cap = max(1, (16 << 20) // per_row)
        n = int(shape[0]) if len(shape) else 0
        blocks = max(1, -(-n // cap))
        threads = _cluster_threads()
        if threads > 1 and blocks % threads:  # a whole number of blocks per thread: 39 blocks on
            more = -(-blocks // threads) * threads  # 2 threads leave one running the 39th alone
            if n * per_row // more >= _MIN_BLOCK_BYTES:
                blocks = more
        return max(1, -(-n // blocks))
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1:
        raise ValueError(f"fxd.read: rows must be a positive int, got {rows!r}")
    return int(rows)


def read(source, *, rows=None, key=None, branches=None):
    """Events as a dask array chunked along the first axis (``rows`` events per block; default:
    equal blocks of at most about 16 MiB of data, so that workers get equal shares; with a current
    distributed client, their number is rounded up to a multiple of the cluster's worker threads
    where the blocks stay above about 1 MiB, so that no thread runs a last block alone).

    ``source``:
    - a ``.npy`` path: memory-mapped where each block is read (workers need the same file
      system);
    - a Zarr array or store, or a ``.zarr`` path (``key``: the array inside a group);
    - a ``.root`` path (needs uproot): ``key`` the TTree name, ``branches`` the branch names
      stacked as feature columns (through ``uproot.dask(..., library="np")``).

    Raises:
        TypeError: an unsupported source.
        ValueError: rows not a positive int; a Fortran-ordered .npy; ROOT without key/branches.
        ImportError: zarr or uproot missing for such a source.
        FileNotFoundError: a path that does not exist.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        suffix = path.suffix.lower()
        if suffix == ".root":
            return _read_root(str(path), key, branches, rows)
        if not path.exists():
            raise FileNotFoundError(f"fxd.read: {path} does not exist")
        if suffix == ".npy":
            f = _NpyFile(str(path))
            r = _rows(f.shape, f.dtype.itemsize, rows)
            st = path.stat()
            name = "fixedpoint-read-" + dask.base.tokenize(str(path.resolve()), st.st_size, st.st_mtime_ns, r)
            return da.from_array(f, chunks=(r,) + tuple(-1 for _ in f.shape[1:]), name=name, asarray=False,
                                 meta=np.empty((0,) * f.ndim, dtype=f.dtype))
        if suffix != ".zarr" and not (path.is_dir() and any((path / m).exists() for m in
                                                            ("zarr.json", ".zarray", ".zgroup"))):
            raise TypeError(f"fxd.read: {path} is neither .npy, .zarr nor .root")
    else:
        mod = type(source).__module__ or ""
        if not mod.startswith("zarr"):
            raise TypeError(f"fxd.read: source must be a path (.npy, .zarr, .root) or a Zarr array/store, got "
                            f"{type(source).__name__}")
    try:
        import zarr  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ImportError("fxd.read: reading Zarr needs zarr (pip install zarr)") from exc
    arr = da.from_zarr(source, component=key)
    r = _rows(arr.shape, arr.dtype.itemsize, rows)
    return arr.rechunk((r,) + tuple(-1 for _ in arr.shape[1:]))


def _read_root(path: str, tree, branches, rows):
    try:
        import uproot  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("fxd.read: reading ROOT files needs uproot (pip install uproot)") from exc
    if not tree or not branches:
        raise ValueError("fxd.read: a .root source needs key= (the TTree name) and branches= (the feature branches)")
    cols = uproot.dask({path: tree}, library="np", filter_name=list(branches),
                       step_size=rows if rows else "100 MB")
    missing = [b for b in branches if b not in cols]
    if missing:
        raise ValueError(f"fxd.read: {path}:{tree} has no branches {missing}")
    return da.stack([cols[b] for b in branches], axis=1)


@contextlib.contextmanager
def _no_progress():
    yield


def _client():
    try:
        from distributed import default_client  # noqa: PLC0415

        return default_client()
    except (ImportError, ValueError):
        return None


def compute(*collections, progress: bool = True):
    """``dask.compute(*collections)`` with a progress display: ``distributed.progress`` when a
    distributed Client is active, else dask's diagnostics ProgressBar. Returns a tuple, one
    result per collection.

    Raises:
        Exception: whatever a task raised (never a partial result).
    """
    client = _client()
    if client is None:
        ctx = _no_progress()
        if progress:
            from dask.diagnostics import ProgressBar  # noqa: PLC0415

            ctx = ProgressBar()
        with ctx:
            return dask.compute(*collections)
    futures = client.compute(list(collections))
    if progress:
        from distributed import progress as show  # noqa: PLC0415

        show(futures)
    return tuple(client.gather(futures, errors="raise"))


class _NpyTarget:
    """A .npy file da.store writes into, region by region (opened where each block is written)."""

    def __init__(self, path: str):
        self.path = path

    def __setitem__(self, key, value):
        mm = np.load(self.path, mmap_mode="r+")
        mm[key] = value
        mm.flush()
        del mm


def write(result, target, *, progress: bool = True, overwrite: bool = False, key=None):
    """Compute ``result`` (a dask array) into ``target``, block by block, without gathering it:
    a ``.npy`` path (workers need the same file system) or a ``.zarr`` path / Zarr store
    (``key``: the array's name inside it). Returns the target path or store.

    Raises:
        TypeError: result not a dask array, or a target that is neither .npy nor Zarr.
        FileExistsError: the target exists and overwrite is False.
        Exception: whatever a task raised.
    """
    _require_dask_array(result, "fxd.write")
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
        if path.exists() and not overwrite and not key:
            raise FileExistsError(f"fxd.write: {path} exists (overwrite=True replaces it)")
        if path.suffix.lower() == ".npy":
            np.lib.format.open_memmap(str(path), mode="w+", dtype=result.dtype, shape=result.shape)
            stored = da.store(result, _NpyTarget(str(path)), lock=False, compute=False)
            compute(stored, progress=progress)
            return str(path)
        if path.suffix.lower() != ".zarr":
            raise TypeError(f"fxd.write: target must end in .npy or .zarr, got {path.name}")
        target = str(path)
    elif not (type(target).__module__ or "").startswith("zarr"):
        raise TypeError(f"fxd.write: target must be a .npy/.zarr path or a Zarr store, got {type(target).__name__}")
    chunks0 = result.chunks[0]
    if len(set(chunks0[:-1])) > 1 or (len(chunks0) > 1 and chunks0[-1] > chunks0[0]):
        result = result.rechunk({0: max(chunks0)})  # Zarr needs regular chunks
    stored = result.to_zarr(target, component=key, overwrite=overwrite, compute=False)
    compute(stored, progress=progress)
    return target


def _summary_block(raw, lo: int, hi: int):
    m = raw.shape[1]
    out = np.zeros((1, 3 * m + 1), dtype=np.int64)
    if raw.shape[0]:
        out[0, :m] = np.bincount(np.argmax(raw, axis=1), minlength=m)
        out[0, m:2 * m] = (raw == hi).sum(axis=0)
        out[0, 2 * m:3 * m] = (raw == lo).sum(axis=0)
    out[0, -1] = raw.shape[0]
    return out


def summary(raw, fmt, *, progress: bool = False) -> dict:
    """Counts over all events, one block at a time, summed (nothing else is gathered).

    ``raw``: stored integers ``(n_events, m)`` (``emulate(..., raw=True)``), ``fmt`` their format
    (``output_formats(...)[0]``). Returns NumPy int64 arrays of length m (and the event count):

    - ``class_counts[k]``: events whose largest output is output k (``np.argmax``, ties to the
      first), the histogram of the predicted class;
    - ``at_max[k]`` / ``at_min[k]``: events whose output k equals fmt's largest / smallest
      value. Under SAT these are the saturated outputs (plus any that land exactly on the limit);
      under WRAP an overflow wraps inside the range and is not seen here. Overflows inside the
      network (accumulators, hidden layers) are not counted.

    Raises:
        TypeError: raw not an integer dask array of 2 dimensions, or fmt not a Fixed/string.
        ValueError: fmt wider than 63 bits (its int64 bit patterns are not ordered like its values).
        Exception: whatever a task raised.
    """
    _require_dask_array(raw, "fxd.summary")
    fmt = _as_format(fmt, "fxd.summary")
    if raw.ndim != 2 or raw.dtype.kind not in "iu":
        raise TypeError(f"fxd.summary: raw must be 2-d stored integers (emulate(..., raw=True)), got dtype "
                        f"{raw.dtype} and shape {raw.shape}")
    if fmt.w > 63:
        raise ValueError(f"fxd.summary: {fmt} is wider than 63 bits; its int64 bit patterns are not ordered")
    m = raw.shape[1]
    if len(raw.chunks[1]) > 1:
        raw = raw.rechunk({1: -1})
    counts = da.map_blocks(_summary_block, raw, fmt.raw_min, fmt.raw_max, dtype=np.int64,
                           chunks=((1,) * raw.numblocks[0], (3 * m + 1,))).sum(axis=0)
    (total,) = compute(counts, progress=progress)
    return {"events": int(total[-1]), "class_counts": total[:m], "at_max": total[m:2 * m],
            "at_min": total[2 * m:3 * m]}


_OVERFLOW_ROWS = 16_384  # events per pass of a block: every tensor of the graph is kept


def _dense_nodes(graph: Graph) -> list:
    return [node for node in graph.nodes if isinstance(node.op, DenseOp) and node.kind == "Dense"]


def _overflow_block(x, graph: Graph, kind: str):
    """One block: per Dense layer ``(final, any, sums)`` (:func:`_accum_overflows`), flattened."""
    _worker_threads()
    nodes = _dense_nodes(graph)
    out = np.zeros((1, 3 * len(nodes)), dtype=np.int64)
    for lo in range(0, x.shape[0], _OVERFLOW_ROWS):
        part = x[lo:lo + _OVERFLOW_ROWS]
        values = graph.run_raw([_input_raw(part, graph, kind)], keep=True)
        for j, node in enumerate(nodes):
            raw, fmt = values[node.inputs[0]]
            out[0, 3 * j:3 * j + 3] += _accum_overflows(raw.reshape(part.shape[0], -1), fmt, node.op)
    return out


def overflows(model, X, config=None, *, progress: bool = False) -> dict:
    """Accumulator overflows of every Dense layer over all events of ``X``, counted exactly on
    each block and summed (only the counts are gathered).

    ``model``, ``X``, ``config``: as :func:`emulate` takes them. Returns, per Dense layer name,
    ``{"accum": its accum_t in hls4ml's spelling, "final": n, "any": n, "sums": n}``:

    - ``sums``: the layer's accumulations, events times outputs;
    - ``final``: sums whose exact value (bias and every product cast into accum_t, added without
      a bound) lies outside accum_t's range. Under WRAP these are the outputs that wrapped;
    - ``any``: sums where a product or a partial sum, in the order the layer adds them (hls4ml's
      Resource order where it has one), lies outside accum_t's range. Under SAT these are the
      sums that saturated along the way (from the first saturation on, the firmware's partial sums
      differ from the exact ones).

    These are the counts behind ``fx.scan``'s overflow flags. Other layers' accumulators
    (convolutions) are not counted; the emulation itself does not depend on this function.

    Raises:
        TypeError: as :func:`emulate` (X not a float32/float64 dask array, a model or config it
            does not take).
        ValueError: as :func:`emulate` (a chunking along a feature axis, a wrong event shape).
        KeyError: a config without an entry for a Network layer.
        NotImplementedError: layers the engine does not emulate, and a Dense layer whose
            products are wider than 62 bits or whose accumulator is wider than 60 (it cannot be
            counted exactly in int64), named, before any task is submitted.
    """
    api = "fxd.overflows"
    plan, x2 = _prepare(model, X, config, api)
    # one event of zeros through the graph, every tensor kept (as _probe, which it replaces here)
    values = plan.graph.run_raw([_input_raw(np.zeros((1, plan.size), dtype=X.dtype), plan.graph, plan.kind)],
                                keep=True)
    nodes = _dense_nodes(plan.graph)
    for node in nodes:
        raw, fmt = values[node.inputs[0]]
        if is_wide(raw) or not _accum_countable(fmt, node.op):
            raise NotImplementedError(f"{api}: layer {node.name!r} (input {fmt}, weights {node.op.w_fmt}, accum_t "
                                      f"{node.op.acc_t}) has products wider than 62 bits or an accumulator wider "
                                      "than 60; its overflows cannot be counted exactly in int64")
    if not nodes:
        return {}
    counts = da.map_blocks(_overflow_block, x2, _graph_key(plan), plan.kind, dtype=np.int64,
                           chunks=((1,) * x2.numblocks[0], (3 * len(nodes),)),
                           name=f"fixedpoint-overflows-{plan.token}-{dask.base.tokenize(x2)}").sum(axis=0)
    (total,) = compute(counts, progress=progress)
    return {node.name: {"accum": node.op.acc_t.to_hls4ml(), "final": int(total[3 * j]),
                        "any": int(total[3 * j + 1]), "sums": int(total[3 * j + 2])} for j, node in enumerate(nodes)}


# ---------------------------------------------------------------------------------------------
# map_shared
# ---------------------------------------------------------------------------------------------
_SHARED: dict = {}  # client id -> {id(shared): (shared, future)}; the entry keeps shared alive
_SHARED_LOCK = threading.Lock()
_SHARED_KEEP = 4  # scattered objects kept per client (the most recent)
_CALLS = itertools.count()


def _shared_future(client, shared):
    with _SHARED_LOCK:
        per = _SHARED.setdefault(client.id, {})
        hit = per.get(id(shared))
        if hit is not None and hit[0] is shared and hit[1].status == "finished":
            per[id(shared)] = per.pop(id(shared))  # most recent last
            return hit[1]
        per.pop(id(shared), None)
        [fut] = client.scatter([shared], broadcast=True, hash=False)
        per[id(shared)] = (shared, fut)
        while len(per) > _SHARED_KEEP:
            per.pop(next(iter(per)))
        return fut


def _apply(func, shared, item):
    _worker_threads()
    return func(shared, item)


def map_shared(client, func, shared, items) -> list:
    """``[func(shared, item) for item in items]``, each call a future on ``client``'s cluster.

    ``shared`` (calibration data, a model) is scattered to every worker once (broadcast) and
    reused by later calls with the same object on the same client, as long as the cluster
    still holds it (after ``client.restart()`` it is scattered again). Do not mutate ``shared``
    between calls: pass a new object instead. ``func`` must be importable by the workers (a
    module-level function) or shippable by cloudpickle. Inside the workers the kernels use the
    worker's thread count, as in :func:`emulate`.

    Returns:
        The results in the order of ``items``.

    Raises:
        TypeError: client is not a distributed Client, or func is not callable.
        Exception: the first exception a call raised, or the cancellation of a call (a restart
            while computing); nothing is dropped.
    """
    if not (hasattr(client, "scatter") and hasattr(client, "submit") and hasattr(client, "id")):
        raise TypeError(f"fxd.map_shared: client must be a distributed.Client, got {type(client).__name__}")
    if not callable(func):
        raise TypeError(f"fxd.map_shared: func must be callable, got {type(func).__name__}")
    items = list(items)
    if not items:
        return []
    fut = _shared_future(client, shared)
    name = getattr(func, "__name__", "call")
    call = f"fixedpoint-map-{name}-{next(_CALLS)}-{uuid.uuid4().hex[:8]}"
    futures = [client.submit(_apply, func, fut, item, key=f"{call}-{k}", pure=False) for k, item in enumerate(items)]
    try:
        return client.gather(futures, errors="raise")
    finally:
        for f in futures:
            f.release()
