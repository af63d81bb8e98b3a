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

from .._runtime import blas_one_thread, get_num_threads
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


class _Fused:
    """A Dense / conv op with the activation that follows it fused in (see ``Graph._fuse``)."""

    __slots__ = ("op", "post")

    def __init__(self, op, post):
        self.op, self.post = op, post

    def __call__(self, x, x_fmt):
        return self.op(x, x_fmt, post=self.post)


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
        self._free = self._free_lists(order)
        self._plan = self._fuse(order)  # what run_raw executes when intermediate tensors are not kept
        self._plan_free = self._free_lists(self._plan)

    def _free_lists(self, order: list[Node]) -> list[list[str]]:
        """When each tensor can be dropped: after its last reader (outputs are kept)."""
        last: dict[str, int] = {}
        for k, node in enumerate(order):
            for t in node.inputs:
                last[t] = k
        return [[t for t in set(node.inputs) if last[t] == k and t not in self.outputs]
                for k, node in enumerate(order)]

    def _fuse(self, order: list[Node]) -> list[Node]:
        """The execution plan: ``order`` with each ReLU / linear activation node (``ReluOp``) whose
        one input is the one output of a Dense or conv node (an op with ``accepts_post``), read
        by nothing else and not a graph output, folded into that node as its ``post``: the op
        applies the activation's ``(res_t)(x > 0 ? x : 0)`` / ``(res_t) x`` to its result itself
        (inside the C++ kernel where it runs), the same integers as the two nodes in sequence."""
        from .activation import ReluOp  # noqa: PLC0415 (activation imports nothing from here)

        readers: dict[str, int] = {}
        for node in order:
            for t in node.inputs:
                readers[t] = readers.get(t, 0) + 1
        by_input = {node.inputs[0]: node for node in order if len(node.inputs) == 1}
        plan, folded = [], set()
        for node in order:
            if id(node) in folded:
                continue
            nxt = by_input.get(node.outputs[0]) if len(node.outputs) == 1 else None
            t = node.outputs[0]
            if (nxt is not None and getattr(node.op, "accepts_post", False) and type(nxt.op) is ReluOp
                    and readers.get(t) == 1 and t not in self.outputs):
                post = (bool(nxt.op.relu), nxt.op.res_t)
                plan.append(Node(f"{node.name}+{nxt.name}", _Fused(node.op, post), list(node.inputs),
                                 list(nxt.outputs), kind=node.kind, attrs={"fused": [node.name, nxt.name]}))
                folded.add(id(nxt))
            else:
                plan.append(node)
        return plan

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"{self.api}: no node named {name!r}")

    def run_raw(self, xs: list[np.ndarray], *, keep: bool = False, chunk: int = CHUNK) -> dict[str, Value]:
        """Run on stored integers: ``xs[k]`` holds input k's stored integers (samples first,
        then its per-sample shape). Returns ``{tensor: (raw, fmt)}`` for the outputs (for every
        tensor with ``keep``). Samples are independent, so they run in cache-sized chunks, on
        the kernels' threads when there are several chunks, with BLAS on one thread
        (:func:`fixedpoint._runtime.blas_one_thread`)."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"{self.api}: {len(self.inputs)} inputs expected, got {len(xs)}")
        with blas_one_thread():
            return self._run(xs, keep, chunk)

    def _run(self, xs: list[np.ndarray], keep: bool, chunk: int) -> dict[str, Value]:
        n = len(xs[0]) if xs else 0
        if n > chunk:
            starts = range(0, n, chunk)

            def part(k):
                return self._run([x[k:k + chunk] for x in xs], keep, chunk)

            threads = min(get_num_threads(), len(starts))
            if threads > 1:  # chunks on several threads: NumPy and the kernels release the GIL
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    parts = list(pool.map(part, starts))
            else:
                parts = [part(k) for k in starts]
            return {t: (np.concatenate([p[t][0] for p in parts]), parts[0][t][1]) for t in parts[0]}
        values: dict[str, Value] = {name: (x, fmt) for (name, _, fmt), x in zip(self.inputs, xs)}
        nodes, free = (self.nodes, self._free) if keep else (self._plan, self._plan_free)
        for k, node in enumerate(nodes):
            out = node.op(*(part for t in node.inputs for part in values[t]))
            if isinstance(out, list):
                values.update(zip(node.outputs, out))
            else:
                for t in node.outputs:
                    values[t] = out
            if not keep:
                for t in free[k]:
                    values.pop(t, None)
        if keep:
            return values
        return {t: values[t] for t in self.outputs}

    def summary(self) -> list[dict[str, Any]]:
        """One entry per node in execution order: name, kind, inputs, outputs."""
        return [{"name": n.name, "kind": n.kind, "inputs": list(n.inputs), "outputs": list(n.outputs)}
                for n in self.nodes]
