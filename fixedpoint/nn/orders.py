"""Addition orders of the hls4ml kernels that are not the plain Dense loops of :mod:`.dense`.

Each function returns an (n_in, n_out) array for :class:`~fixedpoint.nn.dense.DenseOp`: column j
lists the input indices k in the order ``acc[j]`` receives ``(accum_t)(x[k] * w[k, j])``. An
input that the kernel never adds into ``acc[j]`` must have a zero weight there (it is listed
after the others: ``(accum_t) 0`` leaves the accumulator unchanged in every mode).

- :func:`unrolled_order`: ``resource_unrolled``. hls4ml 1.3 generates one C++ class per layer
  (``GenerateUnrolledDenseResource``, written into ``nnet_code_gen.h``) whose body is a straight
  list of ``acc[j] += static_cast<accum_t>(product(data[k], weights[w]));`` statements, zero
  weights left out. The order is read from that generated code (the layer's
  ``resource_unrolled_dense_codegen`` attribute), statement by statement.
- :func:`depthwise_resource_order`: the ``DepthwiseDenseResource_*`` kernels of
  ``nnet_depthwise_product.h`` (io_stream DepthwiseConv with the Resource strategy), replayed loop
  by loop.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["unrolled_order", "depthwise_resource_order"]

_STMT = re.compile(r"acc\[(\d+)\]\s*\+=\s*([^;]*);")
_PRODUCT = re.compile(r"static_cast<typename CONFIG_T::accum_t>\(CONFIG_T::template product<data_T, "
                      r"typename CONFIG_T::weight_t>::product\(data\[(\d+)\], weights\[(\d+)\]\)\)")
_INIT = "acc[i] = (typename CONFIG_T::accum_t) biases[i];"
_RESULT = "res[i] = cast<data_T, res_T, CONFIG_T>(acc[i]);"


def _complete(seq: list[list[int]], w: np.ndarray, what: str) -> np.ndarray:
    """The (n_in, n_out) order: each column's listed inputs, then the inputs it never adds,
    which must have zero weights."""
    n_in, n_out = w.shape
    if w.dtype.kind == "V":  # limbs (formats past 64 bits): nonzero when any byte is
        nonzero = (np.ascontiguousarray(w).view(np.uint8).reshape(w.shape + (-1,)) != 0).any(axis=-1)
    else:
        nonzero = w != 0
    cols = []
    for j, s in enumerate(seq):
        if len(set(s)) != len(s):
            raise ValueError(f"{what}: output {j} receives an input twice")
        rest = sorted(set(range(n_in)) - set(s))
        if rest and nonzero[rest, j].any():
            k = rest[int(np.flatnonzero(nonzero[rest, j])[0])]
            raise ValueError(f"{what}: output {j} never receives input {k}, whose weight is not zero")
        cols.append(s + rest)
    return np.array(cols, dtype=np.int64).T.copy()


def unrolled_order(code: str, w: np.ndarray) -> np.ndarray:
    """The addition order of a generated ``dense_resource_unrolled_N`` kernel, read from its code.

    ``w``: the layer's quantized weights as (n_in, n_out), ``w[k, j]`` multiplying input k into
    output j (the kernel indexes the transposed weights, ``weights[j * n_in + k]``).

    Raises:
        ValueError: code that is not the form hls4ml 1.3 generates (every accumulation must be
            ``acc[j] += static_cast<accum_t>(product(data[k], weights[j * n_in + k]))``, after the
            bias initialisation and before the result cast), indices out of range, an input added
            twice into one output, or a skipped input whose quantized weight is not zero.
    """
    w = np.asarray(w)
    n_in, n_out = w.shape
    what = "resource_unrolled code"
    if _INIT not in code or _RESULT not in code:
        raise ValueError(f"{what}: no bias initialisation / result cast of the generated form")
    body = code[code.index(_INIT) + len(_INIT):code.index(_RESULT)]
    if body.count("acc[") != len(_STMT.findall(body)):
        raise ValueError(f"{what}: an access to acc[] that is not an accumulation statement")
    seq: list[list[int]] = [[] for _ in range(n_out)]
    for out, rhs in _STMT.findall(body):
        m = _PRODUCT.fullmatch(rhs.strip())
        if m is None:
            raise ValueError(f"{what}: unexpected accumulation {rhs.strip()!r}")
        j, k, wi = int(out), int(m.group(1)), int(m.group(2))
        if not (j < n_out and k < n_in and wi == j * n_in + k):
            raise ValueError(f"{what}: acc[{j}] += data[{k}] * weights[{wi}] is not output x input of a "
                             f"{n_in}x{n_out} layer")
        seq[j].append(k)
    if not any(seq):
        raise ValueError(f"{what}: no accumulation statements")
    return _complete(seq, w, what)


_DEPTHWISE = ("DepthwiseDenseResource_rf_leq_nout", "DepthwiseDenseResource_rf_gt_nout_rem0",
              "DepthwiseDenseResource_rf_gt_nout")


def depthwise_resource_order(n_in: int, n_out: int, reuse_factor: int, kernel: str, w: np.ndarray) -> np.ndarray:
    """The addition order of ``nnet::depthwise_product_resource_*`` (``kernel`` names the class),
    replaying the template's loops: ``acc[out_index] += (accum_t) product(data[in_index],
    weights[in_index])``. ``w``: (n_in, n_out), block-diagonal (input k feeds channel k % n_out).

    Raises:
        ValueError: an unknown kernel, a reuse factor the template's asserts reject, or loops that
            read past the inputs (the template does not check) or do not add each input of a
            channel exactly once into it.
    """
    nin, nout, rf = int(n_in), int(n_out), int(reuse_factor)
    what = f"{kernel} (n_in={nin}, n_out={nout}, reuse factor {rf})"
    if kernel not in _DEPTHWISE:
        raise ValueError(f"depthwise resource: unknown kernel {kernel!r}")
    if rf < 1 or nin % nout:
        raise ValueError(f"{what}: invalid sizes")
    seq: list[list[int]] = [[] for _ in range(nout)]

    def add(in_index: int, out_index: int):
        if not 0 <= in_index < nin or not 0 <= out_index < nout:
            raise ValueError(f"{what}: reads input {in_index} into output {out_index}, out of range")
        seq[out_index].append(in_index)

    def div_up(a, b):
        return (a + b - 1) // b

    if kernel == _DEPTHWISE[0]:
        rufactor = rf
        if div_up(nin, min(nin, rufactor)) != div_up(nin, rufactor):
            raise ValueError(f"{what}: the template asserts RF <= N_CHAN")
        for ir in range(rufactor):
            in_index, out_index = ir, ir
            for _ in range(div_up(nin, rufactor)):
                add(in_index, out_index)
                in_index += rufactor
                out_index += rufactor
                if out_index >= nout:
                    out_index -= nout
    else:
        rufactor = min(rf, nin)
        if kernel == _DEPTHWISE[1] and not (rufactor >= nout and rufactor % nout == 0):
            raise ValueError(f"{what}: the template asserts RF >= N_CHAN and RF % N_CHAN == 0")
        if kernel == _DEPTHWISE[2] and not rufactor > nout:
            raise ValueError(f"{what}: the template asserts RF > N_CHAN")
        remainder = rf % nout  # the template uses CONFIG_T::reuse_factor here, not rufactor
        outidx = [ir % nout for ir in range(rufactor)]
        for ir in range(rufactor):
            in_index, out_index = ir, outidx[ir]
            for _ in range(div_up(nin, rufactor)):
                add(in_index, out_index)
                in_index += rufactor
                if kernel == _DEPTHWISE[2]:
                    out_index += remainder
                    if out_index >= nout:
                        out_index -= nout
    for c, s in enumerate(seq):
        if sorted(s) != list(range(c, nin, nout)):
            raise ValueError(f"{what}: the replayed loops do not add each input of channel {c} exactly once into it")
    return _complete(seq, np.asarray(w), what)
