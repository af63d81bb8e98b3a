"""The emulation engine: a graph IR run on stored integers, one module per layer family.

- :mod:`.graph`: :class:`Graph` and :class:`Node` (DAG order, several inputs and outputs);
- :mod:`.registry`: which builder makes the op of which hls4ml layer class;
- layer families, each holding what its hls4ml template computes: :mod:`.dense`, :mod:`.conv`,
  :mod:`.pool` (pooling, padding, cropping, resizing), :mod:`.activation` (including the lookup
  tables), :mod:`.softmax`, :mod:`.merge`, :mod:`.batchnorm`, :mod:`.reshape`. A new family is
  one module with ``@hls4ml_layer`` builders plus its name in the import line below;
- :mod:`.orders`: the addition orders of the generated ``resource_unrolled`` kernels and of the
  depthwise Resource kernels (used by :mod:`.dense` and :mod:`.conv`).

Frontends build graphs: :mod:`fixedpoint.hls4ml` (a converted ``ModelGraph``) and
:class:`fixedpoint.Network`.
"""

from __future__ import annotations

from . import activation, batchnorm, conv, dense, merge, pool, reshape, softmax  # noqa: F401 - registers builders
from .graph import Graph, Node
from .registry import HLS4ML, hls4ml_layer

__all__ = ["Graph", "Node", "HLS4ML", "hls4ml_layer"]
