"""The emulation graph: nodes with named inputs and outputs, run in DAG order on stored integers.

A :class:`Graph` is what every frontend builds (the hls4ml ``ModelGraph`` reader,
:class:`fixedpoint.Network`) and what the executor runs. Each node holds an *op*: a callable
``op(raw_1, fmt_1, raw_2, fmt_2, ...)`` taking each input's stored integers (the samples on
the first axis, then the per-sample shape; see :mod:`fixedpoint.nn._raw`) and format, and
returning one ``(raw, fmt)`` pair (or a list of pairs, one per output). The ops
hold the arithmetic of their layer family; the graph only wires them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._runtime import get_num_threads
from ..format import Fixed

__all__ = ["Node", "Graph", "Value"]

Value = tuple  # (raw: np.ndarray with the samples first, fmt: Fixed)

CHUNK = 2048  # samples per pass: keeps each layer's intermediates in the CPU caches (2048 measured best of 256-4096)


@dataclass
class Node:
    """One layer: ``op(raw_1, fmt_1, ...) -> (raw, fmt)`` written to every name in ``outputs`` (or a
    list of values, one per output). ``kind`` names the layer family (for messages and for the
    scanner), ``attrs`` what the frontend wants to keep about it."""

    name: str
    op: Callable[..., Value]
    inputs: list[str]
    outputs: list[str]
    kind: str = ""
    attrs: dict = field(default_factory=dict)


class Graph:
    """A DAG of :class:`Node` objects with several inputs and outputs.

    ``inputs``: (tensor name, per-sample shape, format) of each model input, in the order the
    caller passes the data; ``outputs``: tensor names, in the order results are returned.
    Nodes are sorted topologically at construction; a cycle, a tensor written twice or read
    before anything writes it raises ValueError naming it.
    """

    def __init__(self, inputs: list[tuple[str, tuple, Fixed]], nodes: list[Node], outputs: list[str], *,
                 api: str = "fx.nn.Graph"):
        self.api = api
        self.inputs = [(str(n), tuple(int(d) for d in s), f) for n, s, f in inputs]
        self.outputs = list(outputs)
        producers: dict[str, Node] = {}
        known = {n for n, _, _ in self.inputs}
        for node in nodes:
            node.outputs = [node.outputs] if isinstance(node.outputs, str) else list(node.outputs)
            for t in node.outputs:
                if t in producers or t in known:
                    raise ValueError(f"{api}: tensor {t!r} is written twice (node {node.name!r})")
                producers[t] = node
        order, state = [], {}

        def visit(node: Node, path: tuple):
            st = state.get(node.name)
            if st == 2:
                return
            if st == 1:
                raise ValueError(f"{api}: the graph has a cycle through {' -> '.join(path + (node.name,))}")
            state[node.name] = 1
            for t in node.inputs:
                if t in known:
                    continue
                if t not in producers:
                    raise ValueError(f"{api}: node {node.name!r} reads {t!r}, which no input or node produces")
                visit(producers[t], path + (node.name,))
            state[node.name] = 2
            order.append(node)

        for node in nodes:  # stable: a valid input order is kept as it is
            visit(node, ())
        for t in self.outputs:
            if t not in producers and t not in known:
                raise ValueError(f"{api}: output {t!r} is produced by no node")
        self.nodes = order
        # when each tensor can be dropped: after its last reader (outputs are kept)
        last: dict[str, int] = {}
        for k, node in enumerate(order):
            for t in node.inputs:
                last[t] = k
        self._free = [[t for t in set(node.inputs) if last[t] == k and t not in self.outputs]
                      for k, node in enumerate(order)]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"{self.api}: no node named {name!r}")

    def run_raw(self, xs: list[np.ndarray], *, keep: bool = False, chunk: int = CHUNK) -> dict[str, Value]:
        """Run on stored integers: ``xs[k]`` holds input k's stored integers (samples first,
        then its per-sample shape). Returns ``{tensor: (raw, fmt)}`` for the outputs (for every
        tensor with ``keep``). Samples are independent, so they run in cache-sized chunks."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"{self.api}: {len(self.inputs)} inputs expected, got {len(xs)}")
        n = len(xs[0]) if xs else 0
        if n > chunk:
            starts = range(0, n, chunk)

            def part(k):
                return self.run_raw([x[k:k + chunk] for x in xs], keep=keep, chunk=chunk)

            threads = min(get_num_threads(), len(starts))
            if threads > 1:  # chunks on several threads: NumPy and the kernels release the GIL
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    parts = list(pool.map(part, starts))
            else:
                parts = [part(k) for k in starts]
            return {t: (np.concatenate([p[t][0] for p in parts]), parts[0][t][1]) for t in parts[0]}
        values: dict[str, Value] = {name: (x, fmt) for (name, _, fmt), x in zip(self.inputs, xs)}
        for k, node in enumerate(self.nodes):
            out = node.op(*(part for t in node.inputs for part in values[t]))
            if isinstance(out, list):
                values.update(zip(node.outputs, out))
            else:
                for t in node.outputs:
                    values[t] = out
            if not keep:
                for t in self._free[k]:
                    values.pop(t, None)
        if keep:
            return values
        return {t: values[t] for t in self.outputs}

    def summary(self) -> list[dict[str, Any]]:
        """One entry per node in execution order: name, kind, inputs, outputs."""
        return [{"name": n.name, "kind": n.kind, "inputs": list(n.inputs), "outputs": list(n.outputs)}
                for n in self.nodes]
