"""Dense layers: what ``nnet_dense_latency.h`` and ``nnet_dense_resource.h`` compute.

``acc[j] = (accum_t) bias[j]``; then for each input k, in the firmware's order,
``acc[j] += (accum_t)(x[k] * w[k, j])`` (the product in full precision, cast into ``accum_t``,
the sum cast back into ``accum_t``); ``res[j] = (result_t) acc[j]``.

- Latency (and io_stream, which calls the same function per vector): k in ascending order.
- Resource: the addition order of ``dense_resource_rf_leq_nin`` / ``_rf_gt_nin_rem0`` /
  ``_rf_gt_nin``, derived by replaying the template's index loops (:func:`resource_order`). With
  a wrapping accumulator (WRAP, n = 0) every order gives the same integers; with SAT or rounding
  the replayed order is used.
- Resource-unrolled: the order of the statements in the kernel hls4ml generates for the layer,
  read from that code (:func:`fixedpoint.nn.orders.unrolled_order`).

Zero weights contribute ``(accum_t) 0``, which leaves ``acc`` unchanged: pruned weights need no
special case.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np

from .. import _backend
from .._plan import AccumKernel, accum_sound, plan_accum
from ..array import FixedArray, _holds
from ..format import Fixed
from ._raw import F64_EXACT, RAW_MAX_W, apply_post, cast_raw, is_wide, raw_ok, storage, wrap
from .orders import unrolled_order
from .registry import hls4ml_layer
from .._operands import result_format
from .._matmul import _matmul_accum_wide

__all__ = ["DenseOp", "dense_accum", "resource_order"]


def _order_free(acc_t: Fixed) -> bool:
    """Every addition order gives the same integers: each cast is a rounding of the product
    followed by reduction modulo 2^w, and reduction is a ring homomorphism."""
    return acc_t.o.value == "WRAP" and acc_t.n == 0 and acc_t.q.value != "STOCH"


_GENERIC_KERNELS = frozenset({AccumKernel.SEQUENTIAL, AccumKernel.WIDE})  # dense_accum's, besides its exact proof
_OP_KERNELS = frozenset({AccumKernel.FUSED, AccumKernel.SEQUENTIAL})  # DenseOp's int64 engine, besides its proofs


def dense_accum(x: FixedArray, w: FixedArray, bias: FixedArray, acc_t: Fixed) -> FixedArray:
    """hls4ml Dense accumulation on FixedArrays of any width: ``acc = (accum_t) bias``, then for
    k in order ``acc = (accum_t)(acc + (accum_t)(x[:, k] * w[k, :]))``; x (M, K), w (K, N).

    When ``acc_t`` holds every product exactly and no partial sum can leave its range (by the
    formats' bounds), no cast rounds or overflows, and the exact matrix product gives the same
    result. Otherwise the sequential kernel runs (the multi-limb one beyond 64-bit accumulators
    or operands, or 126-bit products). The choice is :func:`fixedpoint._plan.plan_accum`'s.
    """
    bias_acc = bias.cast(acc_t)
    prod = result_format("mul", x.fmt, w.fmt)
    k = x.shape[-1]
    lsb = acc_t.lsb_exact
    p_max = max(abs(prod.raw_min), prod.raw_max) * prod.lsb_exact
    b_max = max((abs(int(v)) for v in bias_acc.raw.reshape(-1)), default=0) * lsb
    fits = _holds(acc_t, prod) and b_max + k * p_max <= min(acc_t.raw_max * lsb, -Fraction(acc_t.raw_min) * lsb)
    kernel = plan_accum(x.fmt, w.fmt, acc_t, kernels=_GENERIC_KERNELS, exact=AccumKernel.EXACT_GEMM if fits else None,
                        api="dense_accum")
    if kernel is AccumKernel.EXACT_GEMM:
        exact = x @ w  # exact, in the product format plus ceil(log2 K) bits
        return (exact + bias_acc).cast(acc_t)  # every value is representable: no rounding, no overflow
    if kernel is AccumKernel.WIDE:  # the multi-limb kernel
        raw = _matmul_accum_wide(x._raw.reshape(-1, k), x.fmt, w._raw, w.fmt, acc_t, 0, 0, bias_acc._raw)
        return FixedArray(np.ascontiguousarray(raw).reshape(x.shape[:-1] + (w.shape[1],)), acc_t, _trusted=True)
    raw = _backend.matmul_accum(x.raw.view(np.int64).reshape(-1, k), x.fmt, w.raw.view(np.int64), w.fmt, acc_t,
                                bias_acc.raw.view(np.int64), 0, 0)
    return FixedArray(raw.reshape(x.shape[:-1] + (w.shape[1],)), acc_t, _trusted=True)


def resource_order(n_in: int, n_out: int, reuse_factor: int) -> np.ndarray:
    """The order in which ``nnet::dense_resource`` adds the products into each output: an
    (n_in, n_out) array whose column j lists the input indices k in the order acc[j] receives
    them. Replays the template's loops (weights transposed: ``w_index = j * n_in + k``).

    Raises:
        ValueError: a reuse factor the template's asserts reject, or loops that do not visit
            every (k, j) pair exactly once.
    """
    nin, nout, rf = int(n_in), int(n_out), int(reuse_factor)
    total = nin * nout
    if rf < 1:
        raise ValueError(f"dense resource: reuse factor must be >= 1, got {rf}")
    seq: list[list[int]] = [[] for _ in range(nout)]

    def div_up(a, b):
        return (a + b - 1) // b

    if rf <= nin:
        multfactor = min(nin, rf)
        multiplier_limit = div_up(total, multfactor)
        block_factor = div_up(total, rf)
        multscale = multiplier_limit // nout
        if not (multiplier_limit % nout == 0 or rf >= nin) or multiplier_limit != block_factor:
            raise ValueError(f"dense resource: reuse factor {rf} is not allowed for n_in={nin}, n_out={nout}")
        for ir in range(rf):
            w_index, in_index, out_index, acc_step = ir, ir, 0, 0
            for _ in range(block_factor):
                if w_index >= total:
                    raise ValueError(f"dense resource: reuse factor {rf} reads past the weights (n_in={nin})")
                seq[out_index].append(in_index)
                _check(w_index, in_index, out_index, nin)
                w_index += rf
                in_index += rf
                if in_index >= nin:
                    in_index = ir
                if acc_step + 1 >= multscale:
                    acc_step, out_index = 0, out_index + 1
                else:
                    acc_step += 1
    elif rf % nin == 0:
        rufactor = min(rf, total)
        block_factor = div_up(total, rf)
        outscale = rufactor // nin
        outidx, outstep = [], 0
        for ir in range(rufactor):
            outidx.append(outstep)
            if (ir + 1) % nin == 0:
                outstep += 1
        in_index = 0
        for ir in range(rufactor):
            w_index, out_index = ir, outidx[ir]
            for _ in range(block_factor):
                seq[out_index].append(in_index)
                _check(w_index, in_index, out_index, nin)
                w_index += rufactor
                if w_index >= total:
                    break
                out_index += outscale
            in_index = in_index + 1 if in_index + 1 < nin else 0
    else:  # dense_resource_rf_gt_nin: step ir adds, into each output, the product of w_index = ir + rf * im
        block_factor = div_up(total, rf)
        for ir in range(rf):
            for im in range(block_factor):
                w_index = ir + rf * im
                if w_index >= total:
                    continue
                seq[w_index // nin].append(w_index % nin)
    if any(sorted(s) != list(range(nin)) for s in seq):
        raise ValueError(f"dense resource: the replayed loops for n_in={nin}, n_out={nout}, reuse factor {rf} do not "
                         "add every input exactly once into every output")
    return np.array(seq, dtype=np.int64).T.copy()


def _check(w_index: int, in_index: int, out_index: int, nin: int) -> None:
    if w_index != out_index * nin + in_index:
        raise ValueError(f"dense resource: weight index {w_index} is not output {out_index} x input {in_index}")


_PROOF_KERNELS = {"f64": AccumKernel.EXACT_F64, "i64": AccumKernel.EXACT_I64, None: None}


class DenseOp:
    """A Dense layer prepared for the raw engine: quantized weights (K, N) and the bias already
    cast into the accumulator (``acc = (accum_t) bias``); ``order`` (K, N): the input index
    each output's accumulator receives at each step (None: ascending, the Latency order)."""

    accepts_post = True  # the graph may fuse a following ReLU / linear layer (``post``)
    __slots__ = ("w", "w_fmt", "b_acc", "acc_t", "res_t", "w_f64", "_paths", "relu_next", "order", "_groups")

    def __init__(self, w_raw, w_fmt, b_raw, b_fmt, acc_t, res_t, order=None):
        self.w, self.w_fmt, self.acc_t, self.res_t = np.ascontiguousarray(w_raw), w_fmt, acc_t, res_t
        self.b_acc = cast_raw(np.asarray(b_raw), b_fmt, acc_t)
        self.w_f64 = None if is_wide(self.w) else self.w.astype(np.float64)
        self._paths: dict = {}
        self.relu_next = False  # Network: a ReLU follows (emulate_layers reports the stage after it)
        k = self.w.shape[0]
        if order is not None:
            order = np.asarray(order, dtype=np.int64)
            if order.shape != self.w.shape:
                raise ValueError(f"DenseOp: order has shape {order.shape}, expected {self.w.shape}")
            if _order_free(acc_t) or bool((order == np.arange(k)[:, None]).all()):
                order = None
        self.order = order
        self._groups = None
        if order is not None:  # columns that share one order run together, x and w permuted
            groups: dict = {}
            for j in range(order.shape[1]):
                groups.setdefault(order[:, j].tobytes(), []).append(j)
            self._groups = [(order[:, cols[0]], np.array(cols)) for cols in groups.values()]

    def _path(self, xlo: int, xhi: int, shift: int):
        """Which exact kernel gives the sequential result for x in [xlo, xhi]: "f64" (BLAS),
        "i64" (NumPy int64) or None (the sequential kernel).

        Every product lies in [t_lo, t_hi] and every partial sum, bias included or not, in
        [b + sum min(t_lo, 0), b + sum max(t_hi, 0)] (times 2^shift, the accumulator's extra
        fraction bits). When these bounds sit inside the accumulator's range, no cast in the
        sequence rounds (shift >= 0) or overflows, so the sum is exact in any order."""
        w = self.w_f64
        if w is None or not 0 <= shift < 62:
            return None
        scale, acc = float(2**shift), self.acc_t
        w_pos, w_neg = np.maximum(w, 0.0), np.minimum(w, 0.0)
        hi = scale * np.sum(np.maximum(w_pos * xhi + w_neg * xlo, 0.0), axis=0)
        lo = scale * np.sum(np.minimum(w_pos * xlo + w_neg * xhi, 0.0), axis=0)
        b = self.b_acc.astype(np.float64)
        top = float(max(hi.max(initial=0.0), (hi + b).max(initial=0.0)))
        bottom = float(min(lo.min(initial=0.0), (lo + b).min(initial=0.0)))
        # every partial sum of any summation order (BLAS) is bounded by sum |terms| + |bias|
        total = float((scale * np.sum(np.abs(w), axis=0) * max(abs(xlo), abs(xhi)) + np.abs(b)).max(initial=0.0))
        margin = 1.0 + 1e-9  # the bounds are computed in float64: stay on the safe side
        if not (top * margin + 1 <= acc.raw_max and bottom * margin - 1 >= acc.raw_min):
            return None
        if total * margin + 1 < F64_EXACT:
            return "f64"
        return "i64" if total * margin + 1 < 2.0**62 else None

    def _sequential(self, x: np.ndarray, x_fmt: Fixed, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        w_fmt = self.w_fmt
        return _backend.matmul_accum(x, x_fmt, w, w_fmt, self.acc_t, b, 0, 0)

    def _exact_path(self, x: np.ndarray, x_fmt: Fixed):
        """:meth:`_path` from x's format (cached), else from x's actual range, as the exact
        :class:`~fixedpoint._plan.AccumKernel` it proves sound (EXACT_F64, EXACT_I64) or None."""
        shift = self.acc_t.f - (x_fmt.f + self.w_fmt.f)
        if self.w_f64 is None or not 0 <= shift < 62:  # products lose bits: never exact (no data scan)
            return None
        path = self._paths.get(x_fmt, False)
        if path is False:
            path = self._paths[x_fmt] = self._path(x_fmt.raw_min, x_fmt.raw_max, shift)
        if path is None and x.size and not is_wide(x):
            path = self._path(int(x.min()), int(x.max()), shift)
        return _PROOF_KERNELS[path]

    def plan(self, x: np.ndarray, x_fmt: Fixed, post=None) -> AccumKernel:
        """The kernel for x (M, K) int64 stored integers of a format within the int64 engine
        (:func:`fixedpoint._plan.plan_accum`): EXACT_F64 / EXACT_I64 when :meth:`_path` proves
        that no cast can round or overflow (from x's format, else from x's actual range), else
        FUSED when the formats (and the fused activation ``post``) allow it, else SEQUENTIAL."""
        return plan_accum(x_fmt, self.w_fmt, self.acc_t, kernels=_OP_KERNELS, exact=self._exact_path(x, x_fmt),
                          fused_casts=self._fused_casts(post), api="dense")

    def accumulate(self, x: np.ndarray, x_fmt: Fixed, kernel: AccumKernel | None = None) -> np.ndarray:
        """The accumulator's stored integers after the last addition, x (M, K) -> (M, N), by
        ``kernel`` (default: :meth:`plan`'s choice; FUSED runs as SEQUENTIAL here, the
        accumulator is wanted before any result cast). The exact kernels give the same integers
        as the sequential one (float64 BLAS, which beats the sequential kernel on these shapes,
        or NumPy int64)."""
        shift = self.acc_t.f - (x_fmt.f + self.w_fmt.f)
        if kernel is None:
            kernel = self.plan(x, x_fmt)
        if kernel is AccumKernel.EXACT_F64:  # integers below 2^53 throughout: BLAS is exact
            out = x.astype(np.float64) @ (self.w_f64 * float(2**shift))
            out += self.b_acc
            return out.astype(np.int64)
        if kernel is AccumKernel.EXACT_I64:
            out = x @ self.w
            if shift:
                out <<= shift
            out += self.b_acc
            return out
        return self._in_order(self._sequential, x, x_fmt)

    def _in_order(self, kernel, x: np.ndarray, x_fmt: Fixed) -> np.ndarray:
        """``kernel(x, x_fmt, w, bias)`` in the layer's addition order: at once for the ascending
        order, else per group of columns that share one order, with x's columns and w's rows
        permuted into it."""
        if self._groups is None:
            return kernel(x, x_fmt, self.w, self.b_acc)
        out = np.empty((x.shape[0], self.w.shape[1]), np.int64)
        for perm, cols in self._groups:
            out[:, cols] = kernel(x[:, perm], x_fmt, self.w[perm][:, cols], self.b_acc[cols])
        return out

    def _fused_casts(self, post) -> tuple:
        return (self.res_t,) if post is None else (self.res_t, post[1])

    def _fusable(self, x: np.ndarray, x_fmt: Fixed, post=None) -> bool:
        """The C++ kernel ``dense_accum`` (the sequential semantics, vectorized across output
        columns, fused with the result cast and the activation ``post``) takes these formats:
        :attr:`AccumKernel.FUSED <fixedpoint._plan.AccumKernel.FUSED>` is sound for them."""
        return not is_wide(x) and accum_sound(AccumKernel.FUSED, x_fmt, self.w_fmt, self.acc_t,
                                              self._fused_casts(post))

    def _fused(self, x: np.ndarray, x_fmt: Fixed, w: np.ndarray, b: np.ndarray, post=None) -> np.ndarray:
        wf = self.w_fmt
        return _backend.dense_accum(x, x_fmt, w, wf, self.acc_t, b, self.res_t, post)

    def result(self, x: np.ndarray, x_fmt: Fixed, post=None) -> np.ndarray:
        """``(result_t) acc`` for x (M, K) -> (M, N) stored integers, through the fused kernel
        (then the fused activation ``post``, see :func:`~fixedpoint.nn._raw.apply_post`)."""
        if post is None:
            return self._in_order(self._fused, x, x_fmt)
        return self._in_order(lambda *a: self._fused(*a, post=post), x, x_fmt)

    def __call__(self, x, x_fmt, post=None):
        """``(result_t)`` of the accumulation of x (..., K), then the fused activation ``post``
        ((relu, res_t) or None; the graph's fusion of a ReLU / linear layer that follows)."""
        if (x_fmt.w, x_fmt.i, x_fmt.signed) == (1, 1, False) == (self.w_fmt.w, self.w_fmt.i, self.w_fmt.signed):
            # nnet::cast has a special case for ap_uint<1> inputs and weights (XNOR popcount)
            raise NotImplementedError("dense: ap_uint<1> inputs with ap_uint<1> weights (the binary cast)")
        shape = x.shape
        x = x.reshape(-1, self.w.shape[0])
        if is_wide(x) or not raw_ok(x_fmt, self.w_fmt, self.acc_t, self.res_t):  # wide formats: the generic path
            if self._groups is not None:
                raise NotImplementedError(f"dense: a {self.acc_t} accumulator in the Resource order beyond "
                                          f"{RAW_MAX_W} bits")
            acc = dense_accum(wrap(x, x_fmt), wrap(self.w, self.w_fmt), wrap(self.b_acc, self.acc_t), self.acc_t)
            out = storage(acc.cast(self.res_t))
            return apply_post(out.reshape(shape[:-1] + (self.w.shape[1],)), self.res_t, post)
        kernel = self.plan(x, x_fmt, post)
        if kernel is AccumKernel.FUSED:
            # the sequential semantics (some cast may round or overflow): the fused kernel
            out = self.result(x, x_fmt, post).reshape(shape[:-1] + (self.w.shape[1],))
            return out, (self.res_t if post is None else post[1])
        out = cast_raw(self.accumulate(x, x_fmt, kernel), self.acc_t, self.res_t)
        return apply_post(out.reshape(shape[:-1] + (self.w.shape[1],)), self.res_t, post)


def unrolled(view, w: np.ndarray) -> np.ndarray:
    """The addition order of a ``resource_unrolled`` layer's generated kernel (read from the
    code hls4ml writes into ``nnet_code_gen.h``; see :func:`fixedpoint.nn.orders.unrolled_order`).
    ``w``: quantized weights (n_in, n_out)."""
    code = view.attr("resource_unrolled_dense_codegen", None)
    if code is None:
        view.unsupported("strategy resource_unrolled without its generated kernel (resource_unrolled_dense_codegen)")
    try:
        return unrolled_order(str(code), w)
    except ValueError as e:
        view.unsupported(f"strategy resource_unrolled: {e}")


@hls4ml_layer("Dense")
def _from_hls4ml(view) -> DenseOp:
    strategy = str(view.attr("strategy", "latency")).lower()
    if strategy not in ("latency", "resource", "resource_unrolled"):
        view.unsupported(f"strategy {strategy!r}")
    fn = view.function()
    if fn not in (None, "dense"):
        view.unsupported(f"function {fn!r}")
    product = re.search(r"using product = nnet::product::(\w+)", str(view.attr("config_cpp", "")))
    if product and product.group(1) != "mult":  # binary, ternary or power-of-two weight products
        view.unsupported(f"product {product.group(1)!r}")
    w_t, b_t = view.fmt("weight_t"), view.fmt("bias_t")
    acc_t, res_t = view.fmt("accum_t"), view.fmt("result_t")
    n_in, n_out = int(view.attr("n_in")), int(view.attr("n_out"))
    rf = int(view.attr("reuse_factor", 1) or 1)
    kernel = None
    cpp = view.attr("config_cpp", None)
    if cpp:  # what the firmware was generated with: it must agree with the attributes read here
        cfg = {k: int(v) for k, v in re.findall(r"static const unsigned (\w+) = (\d+);", str(cpp))}
        for key, have in (("n_in", n_in), ("n_out", n_out), ("reuse_factor", rf)):
            if key in cfg and cfg[key] != have:
                view.unsupported(f"{key}={have} in the layer's attributes but {cfg[key]} in its generated config "
                                 "(changed after conversion?)")
        m = re.search(r"using kernel = nnet::(\w+)<", str(cpp))
        kernel = m.group(1) if m else None
    in_shape = view.in_shapes[0]
    if int(np.prod(in_shape)) % n_in or in_shape[-1] != n_in:
        view.unsupported(f"input shape {in_shape} for n_in={n_in}")
    # The firmware reads the header's flat C-order list: weights[i * n_out + j] for Latency, and
    # the transposed layout for Resource. Whatever shape the graph holds, that order decides.
    w = view.literal("weight", w_t)
    if w.size != n_in * n_out:
        raise ValueError(f"{view.api}: layer {view.name!r} has {w.size} weights for n_in={n_in}, n_out={n_out}")
    expected = {"latency": ("DenseLatency",),
                "resource": ("DenseResource_rf_leq_nin", "DenseResource_rf_gt_nin_rem0", "DenseResource_rf_gt_nin")}
    if kernel is not None and strategy in expected and kernel not in expected[strategy]:
        view.unsupported(f"kernel {kernel!r} under strategy {strategy!r}")
    order = None
    if strategy == "latency":
        w = w.reshape(n_in, n_out)
    else:
        w = w.reshape(n_out, n_in).T
        if not _order_free(acc_t):
            order = unrolled(view, w) if strategy == "resource_unrolled" else resource_order(n_in, n_out, rf)
    b = view.literal("bias", b_t).reshape(-1) if view.has_weight("bias") else np.zeros(n_out, np.int64)
    return DenseOp(w, w_t, b, b_t, acc_t, res_t, order=order)
