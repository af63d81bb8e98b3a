"""The emulation engine: a graph IR run on stored integers, one module per layer family.

- :mod:`.graph`: :class:`Graph` and :class:`Node` (DAG order, several inputs and outputs);
- :mod:`.registry`: which builder makes the op of which hls4ml layer class;
- layer families, each holding what its hls4ml template computes: :mod:`.dense`,
  :mod:`.activation`, :mod:`.batchnorm`, :mod:`.reshape`, and the rest as they land.

Frontends build graphs: :mod:`fixedpoint.hls4ml` (a converted ``ModelGraph``) and
:class:`fixedpoint.Network`.
"""

from __future__ import annotations

import importlib

from .graph import Graph, Node
from .registry import HLS4ML, hls4ml_layer

# every layer family registers its builders on import
FAMILIES = ("dense", "activation", "batchnorm", "reshape", "conv", "pool", "merge", "softmax")
for _family in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as _exc:  # a family not written yet
        if _exc.name != f"{__name__}.{_family}":
            raise

__all__ = ["Graph", "Node", "HLS4ML", "hls4ml_layer", "FAMILIES"]
