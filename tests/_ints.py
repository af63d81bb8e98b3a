"""Helpers shared by the array tests: exact Python-int views of raws (any width)."""

from __future__ import annotations

import numpy as np


def obj(values, shape=None) -> np.ndarray:
    """An object array of Python ints (any size) with the given shape (default: 1-d)."""
    values = [int(v) for v in values]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape if shape is not None else (len(values),))


def pyints(x) -> np.ndarray:
    """The stored integers of a FixedArray with their true values, as Python ints."""
    r = x.raw
    return obj([int(v) for v in r.reshape(-1)], r.shape)
