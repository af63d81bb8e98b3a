"""Pruning helpers: masks for magnitude, structured and block pruning, a sparsity schedule and a
per-layer sparsity report.

Every helper takes NumPy arrays (or array-likes of real numbers), ``FixedArray`` s (scored by
their stored integers, exactly) or torch tensors, and returns masks of the same kind: a bool
``np.ndarray``, or a ``torch.bool`` tensor on the input's device. ``True`` means *keep*. torch
is never imported by this module; a tensor is recognised only when torch is already imported.

Collections: a dict (``{name: w}``) or a list/tuple of weights gives masks in the same
container, in the same order.

Exact sparsity: a request for sparsity ``s`` over ``n`` units (elements, slices or blocks)
prunes exactly ``round(s * n)`` units: Python's ``round`` (halves to even) of the exact
product of the float ``s`` and ``n`` (``torch.nn.utils.prune`` rounds the float product, which
can differ by one at a half, e.g. ``0.35 * 10``). The units with the smallest score are
pruned. **Ties** are broken by position: among equal scores the unit that comes first (C
order of the flat index; for a global pruning, the layer order of the collection, then the
flat index) is pruned first. So the result is deterministic and the kept units are always
the ones with the largest scores.

Errors: a sparsity outside [0, 1] or not a real number, NaN weights, a bad axis, norm or
block shape, and shapes that a block does not divide all raise ``ValueError`` or
``TypeError`` naming the helper and the values.
"""

from __future__ import annotations

import numbers
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "SparsityReport",
    "block",
    "magnitude",
    "polynomial_sparsity",
    "report",
    "Schedule",
    "structured",
]


# ---------------------------------------------------------------------------------------
# inputs and outputs
# ---------------------------------------------------------------------------------------
def _torch_tensor(w) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(w, torch.Tensor)


def _scores_source(w, api: str, name) -> np.ndarray:
    """The weights as a NumPy array whose |values| are exact: float64 for floats, int64/uint64
    or object (Python ints) for integers and FixedArray stored integers."""
    from .array import FixedArray
    from .sparse import SparseFixed

    where = "" if name is None else f" (layer {name!r})"
    if isinstance(w, SparseFixed):
        w = w.to_dense()
    if isinstance(w, FixedArray):
        return w.raw  # scaling by the format's lsb does not change the order of |values|
    if _torch_tensor(w):
        if w.is_complex():
            raise TypeError(f"{api}: weights must be real, got a complex tensor{where}")
        t = w.detach()
        t = t.to("cpu", dtype=sys.modules["torch"].float64) if t.is_floating_point() else t.to("cpu")
        a = t.numpy()
    else:
        a = np.asarray(w)
    if a.dtype == bool:
        a = a.astype(np.int64)
    if a.dtype.kind == "f":
        a = a.astype(np.float64, copy=False)
        bad = np.isnan(a)
        if bad.any():
            k = int(np.flatnonzero(bad.reshape(-1))[0])
            idx = tuple(int(v) for v in np.unravel_index(k, a.shape))
            raise ValueError(f"{api}: NaN weight at index {idx}{where}")
        return a
    if a.dtype.kind in "iu":
        return a
    if a.dtype == object and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in a.flat):
        return a  # Python ints of any size
    raise TypeError(f"{api}: weights must be real numbers, got dtype {a.dtype}{where}")


def _abs(a: np.ndarray) -> np.ndarray:
    """|a| exactly (int64 -2**63 becomes uint64 2**63)."""
    if a.dtype.kind == "i":
        return np.abs(a.astype(np.int64, copy=False)).view(np.uint64)
    return np.abs(a)  # floats, unsigned integers, Python ints


def _like(mask: np.ndarray, w):
    """The mask in w's kind: a torch.bool tensor on w's device, else a NumPy bool array."""
    if _torch_tensor(w):
        return sys.modules["torch"].from_numpy(np.ascontiguousarray(mask)).to(w.device)
    return mask


def _check_sparsity(s, api: str, name=None) -> Fraction:
    where = "" if name is None else f" for layer {name!r}"
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"{api}: sparsity must be a real number in [0, 1], got {s!r}{where}")
    if not (0 <= float(s) <= 1):  # also rejects NaN
        raise ValueError(f"{api}: sparsity must lie in [0, 1], got {s!r}{where}")
    return Fraction(s)


def _count(s: Fraction, n: int) -> int:
    """The number of units to prune: round(s * n), halves to even (torch.nn.utils.prune)."""
    return round(s * n)


def _items(weights, api: str):
    """(keys, values, rebuild) for a dict, list or tuple of weights; None for one array."""
    if isinstance(weights, dict):
        keys = list(weights)
        return keys, [weights[k] for k in keys], lambda vals: dict(zip(keys, vals))
    if isinstance(weights, (list, tuple)):
        if len(weights) == 0:
            raise ValueError(f"{api}: empty collection of weights")
        kind = type(weights)
        return list(range(len(weights))), list(weights), lambda vals: kind(vals)
    return None


def _per_layer(weights, sparsity, api: str, one):
    """Apply ``one(w, s, name)`` to one array or to each layer of a collection; ``sparsity`` is a
    number, or per layer a dict/list matching the collection."""
    items = _items(weights, api)
    if items is None:
        if isinstance(sparsity, (dict, list, tuple)):
            raise TypeError(f"{api}: a per-layer sparsity needs a dict or list of weights")
        return one(weights, sparsity, None)
    keys, vals, rebuild = items
    if isinstance(sparsity, dict):
        missing = [k for k in keys if k not in sparsity]
        if missing or len(sparsity) != len(keys):
            raise ValueError(f"{api}: per-layer sparsity keys {sorted(map(str, sparsity))} do not match the "
                             f"layers {sorted(map(str, keys))}")
        per = [sparsity[k] for k in keys]
    elif isinstance(sparsity, (list, tuple)):
        if len(sparsity) != len(keys):
            raise ValueError(f"{api}: {len(sparsity)} sparsities for {len(keys)} layers")
        per = list(sparsity)
    else:
        per = [sparsity] * len(keys)
    return rebuild([one(v, s, k) for k, v, s in zip(keys, vals, per)])


def _prune_lowest(scores: np.ndarray, n_prune: int, first=None) -> np.ndarray:
    """keep[u] = False for the n_prune units with the smallest scores; ties: lower index first.
    ``first`` (bool per unit, optional): units pruned before every other unit (an earlier
    step's pruned units, so that masks only shrink along a schedule)."""
    keep = np.ones(scores.shape[0], dtype=bool)
    if n_prune:
        order = np.argsort(scores, kind="stable")
        if first is not None:
            order = order[np.argsort(~first[order], kind="stable")]
        keep[order[:n_prune]] = False
    return keep


def _previous(previous, w_shape, api: str, name) -> np.ndarray | None:
    if previous is None:
        return None
    p = previous.detach().cpu().numpy() if _torch_tensor(previous) else np.asarray(previous)
    if p.shape != tuple(w_shape):
        where = "" if name is None else f" (layer {name!r})"
        raise ValueError(f"{api}: previous mask shape {p.shape} != weight shape {tuple(w_shape)}{where}")
    return p.astype(bool)


# ---------------------------------------------------------------------------------------
# magnitude (unstructured)
# ---------------------------------------------------------------------------------------
def magnitude(weights, sparsity, *, scope: str = "layer", previous=None):
    """Unstructured magnitude pruning: keep the largest ``|w|``.

    ``weights``: one array (NumPy, FixedArray or torch tensor) or a dict/list of them.
    ``scope="layer"`` prunes exactly ``round(sparsity * w.size)`` entries of each layer
    (``sparsity`` may be one number or a dict/list with one per layer); ``scope="global"``
    prunes exactly ``round(sparsity * total)`` entries over all layers together, by one
    ranking of every ``|w|`` (so layers end with different sparsities). ``previous``: masks
    from an earlier step (same structure); their pruned entries are pruned first, so masks
    only shrink along a schedule.

    Exactness: the count is exact and every kept ``|w|`` is ``>=`` every pruned one; ties are
    broken by position (first pruned: earlier layer, then lower C-order flat index). Scores
    are exact (float64 widening of floats, stored integers of FixedArrays).

    Returns a bool mask (``True`` = keep) of each weight's kind and shape.

    Raises:
        ValueError: a sparsity outside [0, 1], NaN weights, an unknown scope or mismatched
            ``previous`` masks.
        TypeError: non-real weights or sparsity.
    """
    api = "fx.prune.magnitude"
    if scope not in ("layer", "global"):
        raise ValueError(f"{api}: scope must be 'layer' or 'global', got {scope!r}")
    if scope == "global":
        return _global_magnitude(weights, sparsity, previous, api)

    def one(w, s, name, prev=None):
        s = _check_sparsity(s, api, name)
        a = _scores_source(w, api, name)
        scores = _abs(a).reshape(-1)
        p = _previous(prev, a.shape, api, name)
        keep = _prune_lowest(scores, _count(s, scores.size), None if p is None else ~p.reshape(-1))
        return _like(keep.reshape(a.shape), w)

    if previous is None:
        return _per_layer(weights, sparsity, api, one)
    items = _items(weights, api)
    if items is None:
        return one(weights, sparsity, None, previous)
    keys = items[0]
    prev_of = dict(zip(keys, _collection_values(previous, keys, api)))
    return _per_layer(weights, sparsity, api, lambda w, s, name: one(w, s, name, prev_of[name]))


def _collection_values(coll, keys, api: str) -> list:
    if isinstance(coll, dict):
        if list(coll) != list(keys) and set(coll) != set(keys):
            raise ValueError(f"{api}: previous masks for {sorted(map(str, coll))} do not match the layers "
                             f"{sorted(map(str, keys))}")
        return [coll[k] for k in keys]
    if isinstance(coll, (list, tuple)) and len(coll) == len(keys):
        return list(coll)
    raise ValueError(f"{api}: previous masks must match the weights' collection ({len(keys)} layers)")


def _global_magnitude(weights, sparsity, previous, api: str):
    items = _items(weights, api)
    if items is None:
        raise TypeError(f"{api}: scope='global' needs a dict or list of weights, got {type(weights).__name__}")
    keys, vals, rebuild = items
    if isinstance(sparsity, (dict, list, tuple)):
        raise TypeError(f"{api}: scope='global' takes one sparsity, got {type(sparsity).__name__}")
    s = _check_sparsity(sparsity, api)
    arrays = [_scores_source(v, api, k) for k, v in zip(keys, vals)]
    prevs = ([None] * len(keys) if previous is None
             else [_previous(p, a.shape, api, k)
                   for k, p, a in zip(keys, _collection_values(previous, keys, api), arrays)])
    parts = [_abs(a).reshape(-1) for a in arrays]
    kinds = {p.dtype.kind for p in parts}
    if "f" in kinds:  # float magnitudes: compare in float64 (integers are exact below 2**53)
        if any(p.dtype.kind in "uO" and p.size and int(p.max()) > 1 << 53 for p in parts):
            raise ValueError(f"{api}: scope='global' cannot rank integer weights beyond 2**53 together with "
                             "float weights exactly")
        parts = [p.astype(np.float64) for p in parts]
    elif "O" in kinds or len({p.dtype for p in parts}) > 1:
        parts = [p.astype(object) for p in parts]
    scores = np.concatenate(parts) if parts else np.zeros(0)
    pruned_before = None
    if previous is not None:
        pruned_before = np.concatenate([~p.reshape(-1) for p in prevs])
    keep = _prune_lowest(scores, _count(s, scores.size), pruned_before)
    out, start = [], 0
    for a, v in zip(arrays, vals):
        out.append(_like(keep[start:start + a.size].reshape(a.shape), v))
        start += a.size
    return rebuild(out)


# ---------------------------------------------------------------------------------------
# structured (slices) and block pruning
# ---------------------------------------------------------------------------------------
def _norm_order(norm, api: str) -> int:
    if norm in ("l1", "L1", 1):
        return 1
    if norm in ("l2", "L2", 2):
        return 2
    raise ValueError(f"{api}: norm must be 'l1' or 'l2', got {norm!r}")


def _unit_scores(units: np.ndarray, order: int) -> np.ndarray:
    """Per-unit norm scores for units laid out as (n_units, unit_size). Floats: the float64 L1
    norm or L2 norm (np.linalg.norm). Integers: the exact L1 norm or squared L2 norm (same
    order as the L2 norm) in int64 when it cannot overflow, else in Python ints."""
    if units.dtype.kind == "f":
        return np.abs(units).sum(axis=1) if order == 1 else np.linalg.norm(units, axis=1)
    mags = _abs(units)
    size = units.shape[1]
    top = int(mags.max()) if mags.size else 0
    bound = size * (top if order == 1 else top * top)
    if mags.dtype != object and bound < 1 << 63:
        m = mags.astype(np.int64)
        return m.sum(axis=1) if order == 1 else (m * m).sum(axis=1)
    m = mags.astype(object)
    return (m if order == 1 else m * m).sum(axis=1)


def structured(weights, sparsity, *, axis: int = 0, norm: str = "l2", previous=None):
    """Structured pruning: remove whole slices along ``axis`` with the smallest L1/L2 norm.

    For a ``(N, K)`` dense weight, ``axis=0`` prunes rows (output neurons) and ``axis=1``
    columns (inputs); for a conv weight ``(out, in, kh, kw)``, ``axis=0`` prunes output
    channels and ``axis=1`` input channels. The norm of a slice is taken over all its other
    axes (``norm="l1"`` or ``"l2"``, as ``torch.nn.utils.prune.ln_structured`` with n=1/2).
    Exactly ``round(sparsity * w.shape[axis])`` slices are pruned per layer; ties go to the
    lower index first. ``weights``, ``sparsity`` and ``previous`` as in :func:`magnitude`
    (per layer only).

    Exactness: float norms are computed in float64 (``np.abs(...).sum`` / ``np.linalg.norm``);
    integer and FixedArray norms are exact integers (the squared L2 norm ranks as the L2 norm).

    Returns a bool mask of each weight's full shape and kind.

    Raises:
        ValueError: a bad sparsity, axis or norm, 0-d weights or NaN.
        TypeError: non-real inputs.
    """
    api = "fx.prune.structured"
    order = _norm_order(norm, api)

    def one(w, s, name, prev=None):
        s = _check_sparsity(s, api, name)
        a = _scores_source(w, api, name)
        if a.ndim == 0:
            raise ValueError(f"{api}: weights must have at least 1 dimension, got a 0-d array")
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -a.ndim <= axis < a.ndim:
            raise ValueError(f"{api}: axis {axis!r} is out of bounds for weights of shape {a.shape}")
        ax = int(axis) % a.ndim
        units = np.moveaxis(a, ax, 0).reshape(a.shape[ax], -1)
        scores = _unit_scores(units, order)
        p = _previous(prev, a.shape, api, name)
        first = None if p is None else ~np.moveaxis(p, ax, 0).reshape(a.shape[ax], -1).any(axis=1)
        keep = _prune_lowest(scores, _count(s, a.shape[ax]), first)
        shape = [1] * a.ndim
        shape[ax] = a.shape[ax]
        return _like(np.broadcast_to(keep.reshape(shape), a.shape).copy(), w)

    return _with_prev(weights, sparsity, previous, api, one)


def _with_prev(weights, sparsity, previous, api, one):
    if previous is None:
        return _per_layer(weights, sparsity, api, one)
    items = _items(weights, api)
    if items is None:
        return one(weights, sparsity, None, previous)
    prev_of = dict(zip(items[0], _collection_values(previous, items[0], api)))
    return _per_layer(weights, sparsity, api, lambda w, s, name: one(w, s, name, prev_of[name]))


def _check_block(blk, shape, api: str, name=None) -> tuple[int, int]:
    where = "" if name is None else f" (layer {name!r})"
    if (not isinstance(blk, (tuple, list)) or len(blk) != 2
            or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1 for b in blk)):
        raise ValueError(f"{api}: block must be a pair of positive integers such as (4, 4), got {blk!r}")
    r, c = int(blk[0]), int(blk[1])
    if shape is not None:
        if len(shape) != 2:
            raise ValueError(f"{api}: block pruning needs 2-d weights (N, K), got shape {tuple(shape)}{where}")
        if shape[0] % r or shape[1] % c:
            raise ValueError(f"{api}: weight shape {tuple(shape)} is not divisible by the block ({r}, {c}){where}; "
                             "choose a block that divides both dimensions (edges are not padded)")
    return r, c


def block(weights, sparsity, *, block=(4, 4), norm: str = "l2", previous=None):
    """Block pruning: remove whole ``block``-shaped tiles of 2-d weights with the smallest norm.

    ``block=(R, C)``, e.g. ``(4, 4)`` or ``(1, 16)``, tiles the ``(N, K)`` weight (the BSR
    block shape of :meth:`fx.SparseFixed.from_dense`). Both dimensions must be divisible by
    the block: edges are never padded (a partial tile could not become a BSR block). Exactly
    ``round(sparsity * (N/R) * (K/C))`` tiles are pruned per layer, those with the smallest
    L1/L2 norm; ties go to the lower tile index first (row-major over the tile grid).
    ``weights``, ``sparsity`` and ``previous`` as in :func:`magnitude` (per layer only).

    Exactness: as :func:`structured` (float64 norms for floats, exact integer norms for
    integers and FixedArrays).

    Returns a bool mask of each weight's shape and kind, constant on every tile.

    Raises:
        ValueError: a bad sparsity, norm or block, non-2-d weights or a shape the block does
            not divide.
        TypeError: non-real inputs.
    """
    api = "fx.prune.block"
    order = _norm_order(norm, api)
    _check_block(block, None, api)
    blk = block

    def one(w, s, name, prev=None):
        s = _check_sparsity(s, api, name)
        a = _scores_source(w, api, name)
        r, c = _check_block(blk, a.shape, api, name)
        nb, kb = a.shape[0] // r, a.shape[1] // c
        tiles = a.reshape(nb, r, kb, c).transpose(0, 2, 1, 3).reshape(nb * kb, r * c)
        scores = _unit_scores(tiles, order)
        p = _previous(prev, a.shape, api, name)
        first = None if p is None else ~p.reshape(nb, r, kb, c).any(axis=(1, 3)).reshape(-1)
        keep = _prune_lowest(scores, _count(s, nb * kb), first).reshape(nb, kb)
        return _like(np.repeat(np.repeat(keep, r, axis=0), c, axis=1), w)

    return _with_prev(weights, sparsity, previous, api, one)


# ---------------------------------------------------------------------------------------
# schedule
# ---------------------------------------------------------------------------------------
def polynomial_sparsity(step: int, *, final: float, end: int, begin: int = 0, initial: float = 0.0,
                        power: float = 3, frequency: int = 1) -> float:
    """The gradual-pruning target of Zhu & Gupta (2017), "To prune, or not to prune":

    ``s(t) = final + (initial - final) * (1 - (t - begin) / (end - begin)) ** power``

    (evaluated as ``initial + (final - initial) * (1 - frac ** power)``, so ``s(begin)`` is
    ``initial`` exactly)

    for ``begin <= t <= end``, with ``t`` held at the last multiple of ``frequency`` steps
    after ``begin``; ``initial`` before ``begin`` and ``final`` from ``end`` on. With
    ``power=3`` (the paper's cubic) it rises fast early and flattens towards ``final``. It is
    non-decreasing in ``step`` when ``initial <= final``, and hits both endpoints exactly (``end`` and ``begin`` are
    integers; ``Schedule`` fixes the parameters).

    Raises:
        ValueError: sparsities outside [0, 1], ``end <= begin``, ``power <= 0`` or
            ``frequency < 1``.
        TypeError: a non-integer step.
    """
    api = "fx.prune.polynomial_sparsity"
    for nm, v in (("step", step), ("begin", begin), ("end", end), ("frequency", frequency)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{api}: {nm} must be an integer, got {v!r}")
    _check_sparsity(initial, api)
    _check_sparsity(final, api)
    if end <= begin:
        raise ValueError(f"{api}: end must be greater than begin, got begin={begin}, end={end}")
    if not (isinstance(power, numbers.Real) and power > 0):
        raise ValueError(f"{api}: power must be positive, got {power!r}")
    if frequency < 1:
        raise ValueError(f"{api}: frequency must be >= 1, got {frequency}")
    if step < begin:
        return float(initial)
    if step >= end:
        return float(final)
    t = begin + (step - begin) // frequency * frequency
    frac = 1.0 - (t - begin) / (end - begin)
    s = float(initial) + (float(final) - float(initial)) * (1.0 - frac ** float(power))
    lo, hi = sorted((float(initial), float(final)))
    return min(max(s, lo), hi)  # float rounding never steps past an endpoint


@dataclass(frozen=True)
class Schedule:
    """An iterative (gradual) pruning schedule: :func:`polynomial_sparsity` with fixed
    parameters, and :meth:`masks` to prune to the target of a step.

    >>> s = Schedule(final=0.9, end=100)
    >>> s(0), s(100), round(s(50), 4)
    (0.0, 0.9, 0.7875)

    Raises:
        ValueError: as :func:`polynomial_sparsity`, when called (bad parameters or method).
        TypeError: as :func:`polynomial_sparsity` (a non-integer step).
    """

    final: float
    end: int
    begin: int = 0
    initial: float = 0.0
    power: float = 3
    frequency: int = 1

    def __post_init__(self):
        polynomial_sparsity(self.begin, final=self.final, end=self.end, begin=self.begin, initial=self.initial,
                            power=self.power, frequency=self.frequency)  # validates the parameters

    def __call__(self, step: int) -> float:
        """The target sparsity at ``step`` (see :func:`polynomial_sparsity`)."""
        return polynomial_sparsity(step, final=self.final, end=self.end, begin=self.begin, initial=self.initial,
                                   power=self.power, frequency=self.frequency)

    def masks(self, weights, step: int, *, method: str = "magnitude", previous=None, **kwargs):
        """Masks for ``weights`` at the target sparsity of ``step``, by ``method``
        (``"magnitude"``, ``"structured"`` or ``"block"``; ``kwargs`` go to that helper, e.g.
        ``scope="global"``, ``axis=0``, ``block=(4, 4)``). Pass the previous step's masks as
        ``previous`` to keep every pruned unit pruned (masks then only shrink). Exactness and
        errors: those of the helper; an unknown method raises ``ValueError``."""
        fns = {"magnitude": magnitude, "structured": structured, "block": block}
        if method not in fns:
            raise ValueError(f"fx.prune.Schedule.masks: method must be one of {sorted(fns)}, got {method!r}")
        return fns[method](weights, self(step), previous=previous, **kwargs)


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
@dataclass
class SparsityReport:
    """Per-layer sparsity statistics: ``layers`` maps each layer name to a dict with
    ``shape``, ``size``, ``nnz``, ``density``, ``sparsity``, ``blocks``, ``nonzero_blocks`` and
    ``block_density``; ``total`` holds the same sums over all layers; ``table`` is a text
    (markdown) table of them, also ``str(report)``. Built by :func:`report`.

    Never raises.
    """

    layers: dict[Any, dict[str, Any]]
    total: dict[str, Any]
    block: tuple[int, int]
    table: str = field(repr=False, default="")

    def __str__(self) -> str:
        return self.table

    def as_dict(self) -> dict[Any, dict[str, Any]]:
        """The per-layer dicts plus ``"total"``."""
        return {**self.layers, "total": self.total}


def report(weights, masks=None, *, block=(4, 4)) -> SparsityReport:
    """A per-layer sparsity report of ``weights`` (one array, or a dict/list), after applying
    ``masks`` (same structure, optional).

    ``nnz`` counts the nonzero weights that are kept; ``density = nnz / size`` and
    ``sparsity = 1 - density``. Block statistics view each layer as the 2-d GEMM operand
    ``w.reshape(w.shape[0], -1)`` (a 1-d layer as one row) tiled by ``block``; a tile is
    nonzero when any of its kept weights is nonzero, and tiles at ragged edges are counted as
    partial tiles. ``block_density = nonzero_blocks / blocks``.

    Exact counts (integers); densities are the float quotients.

    Raises:
        ValueError: a bad block, or mask shapes that differ from their weights'.
        TypeError: non-real weights.
    """
    api = "fx.prune.report"
    r, c = _check_block(block, None, api)
    items = _items(weights, api)
    if items is None:
        keys, vals = ["w"], [weights]
        mvals = [masks]
    else:
        keys, vals, _ = items
        mvals = [None] * len(keys) if masks is None else _collection_values(masks, keys, api)
    layers: dict[Any, dict[str, Any]] = {}
    tot = {"size": 0, "nnz": 0, "blocks": 0, "nonzero_blocks": 0}
    for k, v, m in zip(keys, vals, mvals):
        a = _scores_source(v, api, k)
        nz = _abs(a) != 0
        mk = _previous(m, a.shape, api, k)
        if mk is not None:
            nz = nz & mk
        nz = np.asarray(nz, dtype=bool)
        g = nz.reshape(1, -1) if nz.ndim <= 1 else nz.reshape(nz.shape[0], -1)
        nr, nc = g.shape
        nb, kb = -(-nr // r), -(-nc // c)
        padded = np.zeros((nb * r, kb * c), dtype=bool)
        padded[:nr, :nc] = g
        nzb = int(padded.reshape(nb, r, kb, c).any(axis=(1, 3)).sum())
        size, nnz = int(a.size), int(nz.sum())
        layers[k] = {"shape": tuple(int(d) for d in a.shape), "size": size, "nnz": nnz,
                     "density": nnz / size if size else 0.0, "sparsity": 1 - nnz / size if size else 0.0,
                     "blocks": nb * kb, "nonzero_blocks": nzb,
                     "block_density": nzb / (nb * kb) if nb * kb else 0.0}
        for key in tot:
            tot[key] += layers[k][key]
    total = {"shape": None, **tot,
             "density": tot["nnz"] / tot["size"] if tot["size"] else 0.0,
             "sparsity": 1 - tot["nnz"] / tot["size"] if tot["size"] else 0.0,
             "block_density": tot["nonzero_blocks"] / tot["blocks"] if tot["blocks"] else 0.0}
    rep = SparsityReport(layers, total, (r, c))
    rep.table = _table(rep)
    return rep


def _table(rep: SparsityReport) -> str:
    head = ["layer", "shape", "size", "nnz", "density", "sparsity", f"blocks {rep.block[0]}x{rep.block[1]}",
            "block density"]
    rows = []
    for name, d in list(rep.layers.items()) + [("total", rep.total)]:
        shape = "" if d["shape"] is None else "x".join(map(str, d["shape"])) or "()"
        rows.append([str(name), shape, f"{d['size']:,}", f"{d['nnz']:,}", f"{d['density']:.2%}",
                     f"{d['sparsity']:.2%}", f"{d['nonzero_blocks']:,}/{d['blocks']:,}",
                     f"{d['block_density']:.2%}"])
    widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]
    right = [False, False, True, True, True, True, True, True]

    def line(cells):
        return "| " + " | ".join(x.rjust(w) if rt else x.ljust(w) for x, w, rt in zip(cells, widths, right)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if rt else ("-" * (w + 2)) for w, rt in zip(widths, right)) + "|"
    return "\n".join([line(head), sep] + [line(row) for row in rows])

