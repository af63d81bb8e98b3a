"""Merge layers (nnet_merge.h, nnet_merge_stream.h, broadcast_stream) against hls4ml's C-simulation.

PyTorch converts ``x + y`` / torch.add, torch.sub, torch.mul, torch.maximum, torch.minimum
(class Merge, attribute op) and torch.cat (class Concatenate). Average and Dot come only from
Keras/ONNX models (TensorFlow and ONNX are not installed here): those are built from the layer
list the Keras converter produces, through hls4ml's own ModelGraph.from_layer_list, and
compiled like any other model.
"""

from __future__ import annotations

import numpy as np
import pytest

from _hls4ml import check, compile_cached, config, hls4ml, inputs, nontrivial, torch

import fixedpoint as fx
from fixedpoint.nn._raw import storage, wrap
from fixedpoint.nn.merge import ConcatOp, DotOp, MergeOp


def convert(model, input_shape, out_dir, *, io_type="io_parallel", layers=None):
    """Convert and compile (cached). The weights are compiled in from the headers
    (WriteWeightsTxt off): a C-simulation that reads them from text files at run time holds the
    absolute path of the project it was built in, which a cached library must not depend on."""
    cfg = config(model.eval(), input_shape, layers=layers)
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(out_dir),
                                                      backend="Vivado", io_type=io_type, write_weights_txt=False)
    return compile_cached(hm)


class _Merges(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.act = torch.nn.Linear(6, 6), torch.nn.ReLU()

    def forward(self, x, y):
        h = self.act(self.fc(x))
        s = x + h  # a residual join
        m = torch.mul(s, y)
        d = torch.sub(s, y)
        c = torch.cat((m, d), dim=-1)
        return c, torch.maximum(h, y), torch.minimum(s, y), torch.add(h, y)


# narrow result types with every rounding/overflow family, so the merge's own cast matters
_NARROW = {
    "x": {"result": "fixed<10,4>"},
    "y": {"result": "fixed<9,3,RND,SAT>"},
    "fc": {"result": "fixed<12,4>"},
    "act": {"result": "ufixed<8,3,RND,SAT>"},
    "add": {"result": "fixed<8,3,RND,SAT>"},
    "mul": {"result": "fixed<9,3,RND_CONV,SAT_SYM>"},
    "sub": {"result": "fixed<7,3,TRN,WRAP>"},
    "cat": {"result": "fixed<8,2,RND_ZERO,SAT>"},
    "maximum": {"result": "fixed<6,2,RND,WRAP>"},
    "minimum": {"result": "fixed<7,3,RND_INF,SAT>"},
    "add_1": {"result": "auto"},  # hls4ml's inferred type (one more integer bit)
}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_torch_merges(tmp_path, io_type):
    torch.manual_seed(3)
    hm = convert(_Merges(), [(6,), (6,)], tmp_path / "prj", io_type=io_type, layers=_NARROW)
    kinds = {lay.name: lay.class_name for lay in hm.get_layers()}
    assert kinds["cat"] == "Concatenate" and kinds["mul"] == kinds["maximum"] == "Merge"
    if io_type == "io_stream":  # the tensors read twice go through Clone layers
        assert "Clone" in kinds.values()
    x, y = inputs((6,), n=400, seed=1), inputs((6,), n=400, scale=1.5, seed=2)
    got = check(hm, [x, y])
    assert len(got) == 4 and got[0].shape == (400, 12)
    nontrivial(got)
    # the saturating result types saturate somewhere (the cast is exercised, not idle)
    assert (np.abs(got[0]) == np.float32(2 - 2**-5)).any()
    check(hm, [x[9:10], y[9:10]])  # one sample: a list of 1-d rows
    check(hm, [x[:50].astype(np.float64), y[:50].astype(np.float64)])  # the double bridge


def _layer_list_model(layers, in_names, out_names, out_dir, io_type="io_parallel", precision=None,
                      default="fixed<16,6>"):
    """A ModelGraph from a converter's layer list (what the Keras converter hands hls4ml), compiled."""
    cfg = hls4ml.utils.config.create_config(output_dir=str(out_dir), project_name="myproject", backend="Vivado",
                                            io_type=io_type, write_weights_txt=False)
    cfg["HLSConfig"] = {
        "Model": {"Precision": {"default": default}, "ReuseFactor": 1, "Strategy": "Latency",
                  "BramFactor": 1_000_000_000, "TraceOutput": False},
        "LayerName": {name: {"Precision": dict(p)} for name, p in (precision or {}).items()},
    }
    hm = hls4ml.model.ModelGraph.from_layer_list(cfg, layers, inputs=in_names, outputs=out_names)
    return compile_cached(hm)


def _inp(name, shape):
    return {"class_name": "InputLayer", "name": name, "input_shape": list(shape)}


def _merge(name, op, a, b, cls="Merge", **kw):
    return {"class_name": cls, "name": name, "op": op, "inputs": [a, b], **kw}


def test_keras_style_merges_parallel(tmp_path):
    """Average, Dot (narrow SAT/RND accumulator), io_parallel's flat-index broadcast
    (``data[i % n_elem]``: also where it is not numpy's broadcast), Concatenate 1d/2d/3d on
    every axis the template distinguishes."""
    shapes = {"x": (6,), "y": (6,), "z": (2,), "p": (2, 3), "q": (2, 3), "u": (2, 2, 3), "v": (2, 2, 3)}
    layers = [_inp(n, s) for n, s in shapes.items()] + [
        _merge("avg", "average", "x", "y"),
        _merge("dot", "dot1d", "x", "y", cls="Dot"),
        _merge("bsub", "subtract", "x", "z"),  # n_elem1 = 6, n_elem2 = 2
        _merge("bmul", "multiply", "z", "x"),  # n_elem1 = 2, n_elem2 = 6
        _merge("bmax", "maximum", "p", "z"),  # a (2, 3) tensor with z[i % 2]
        _merge("min3", "minimum", "u", "v"),
        _merge("cat1", "concatenate1d", "x", "z", cls="Concatenate", axis=-1),
        _merge("cat2a", "concatenate2d", "p", "q", cls="Concatenate", axis=1),
        _merge("cat2b", "concatenate2d", "p", "q", cls="Concatenate", axis=-1),
        _merge("cat3a", "concatenate3d", "u", "v", cls="Concatenate", axis=1),
        _merge("cat3b", "concatenate3d", "u", "v", cls="Concatenate", axis=2),
        _merge("cat3c", "concatenate3d", "u", "v", cls="Concatenate", axis=-1),
    ]
    outs = [lay["name"] for lay in layers[len(shapes):]]
    precision = {
        "x": {"result": "fixed<10,4>"}, "y": {"result": "fixed<9,3,RND,SAT>"}, "z": {"result": "ufixed<6,2>"},
        "p": {"result": "fixed<8,3>"}, "q": {"result": "fixed<11,5,RND>"},
        "u": {"result": "fixed<8,3>"}, "v": {"result": "ufixed<7,2>"},
        "avg": {"result": "fixed<8,3,RND,SAT>"},
        "dot": {"accum": "fixed<10,4,RND,SAT>", "result": "fixed<9,4,RND_CONV,SAT>"},
        "bsub": {"result": "fixed<8,3,RND,SAT>"}, "bmul": {"result": "fixed<10,3,RND_CONV,WRAP>"},
        "bmax": {"result": "fixed<6,2,RND,SAT>"}, "min3": {"result": "fixed<6,2,TRN_ZERO,SAT_ZERO>"},
        "cat1": {"result": "fixed<7,2,RND,SAT>"}, "cat2a": {"result": "fixed<7,3,RND>"},
        "cat2b": {"result": "fixed<9,3>"}, "cat3a": {"result": "fixed<7,2,RND,SAT>"},
        "cat3b": {"result": "fixed<8,3>"}, "cat3c": {"result": "ufixed<6,2,RND,SAT>"},
    }
    hm = _layer_list_model(layers, list(shapes), outs, tmp_path / "prj", precision=precision)
    xs = [inputs(s, n=400, seed=k, scale=1.5) for k, s in enumerate(shapes.values())]
    got = check(hm, xs)
    assert [g.shape[1] for g in got] == [6, 1, 6, 6, 6, 12, 8, 12, 12, 24, 24, 24]
    nontrivial(got)
    check(hm, [x[9:10] for x in xs])
    # the Dot accumulator saturates: the sequential SAT order is exercised
    assert (got[1] == np.float32(2**4 - 2**-5)).any() or (got[1] == np.float32(2**3 - 2**-5)).any()


def test_keras_style_merges_stream(tmp_path):
    """io_stream: Average, Add with a (1, 1, C) and an (H, W, 1) operand (hls4ml inserts
    Broadcast layers), Concatenate 1d/2d/3d on every axis."""
    shapes = {"x": (6,), "y": (6,), "p": (2, 3), "q": (2, 3), "u": (2, 2, 3), "v": (2, 2, 3), "c": (1, 1, 3),
              "w": (2, 2, 1)}
    layers = [_inp(n, s) for n, s in shapes.items()] + [
        _merge("avg", "average", "x", "y"),
        _merge("badd", "add", "c", "u"),  # (1, 1, 3) -> (2, 2, 3)
        _merge("bmul", "multiply", "v", "w"),  # (2, 2, 1) -> (2, 2, 3)
        _merge("cat1", "concatenate1d", "x", "y", cls="Concatenate", axis=-1),
        _merge("cat2a", "concatenate2d", "p", "q", cls="Concatenate", axis=1),
        _merge("cat2b", "concatenate2d", "p", "q", cls="Concatenate", axis=-1),
        _merge("cat3a", "concatenate3d", "u", "v", cls="Concatenate", axis=1),
        _merge("cat3b", "concatenate3d", "u", "v", cls="Concatenate", axis=2),
        _merge("cat3c", "concatenate3d", "u", "v", cls="Concatenate", axis=3),
    ]
    outs = [lay["name"] for lay in layers[len(shapes):]]
    precision = {
        "x": {"result": "fixed<10,4>"}, "y": {"result": "fixed<9,3,RND,SAT>"},
        "p": {"result": "fixed<8,3>"}, "q": {"result": "fixed<11,5,RND>"},
        "u": {"result": "fixed<8,3>"}, "v": {"result": "ufixed<7,2>"},
        "c": {"result": "fixed<7,3,RND>"}, "w": {"result": "fixed<6,2>"},
        "avg": {"result": "fixed<7,2,RND,SAT>"}, "badd": {"result": "fixed<7,3,RND,SAT>"},
        "bmul": {"result": "fixed<8,2,RND_CONV,WRAP>"},
        "cat1": {"result": "fixed<7,2,RND,SAT>"}, "cat2a": {"result": "fixed<7,3,RND>"},
        "cat2b": {"result": "fixed<9,3>"}, "cat3a": {"result": "fixed<7,2,RND,SAT>"},
        "cat3b": {"result": "fixed<8,3>"}, "cat3c": {"result": "ufixed<6,2,RND,SAT>"},
    }
    hm = _layer_list_model(layers, list(shapes), outs, tmp_path / "prj", io_type="io_stream", precision=precision)
    assert sum(lay.class_name == "Broadcast" for lay in hm.get_layers()) == 2
    xs = [inputs(s, n=300, seed=10 + k, scale=1.5) for k, s in enumerate(shapes.values())]
    got = check(hm, xs)
    nontrivial(got)
    check(hm, [x[9:10] for x in xs])


# ---- the ops on their own: the wide (FixedArray) paths equal the int64 paths and exact references

def _raw(rng, fmt, n, shape):
    lo, hi = fmt.raw_min, fmt.raw_max
    vals = [int(v) for v in rng.integers(-(2**62), 2**62, n * int(np.prod(shape)))]
    vals = [lo + v % (hi - lo + 1) for v in vals]
    arr = np.array(vals, dtype=object if fmt.w > 64 else np.int64).reshape((n,) + shape)
    return storage(wrap(arr, fmt)) if fmt.w <= 64 else arr


def _exact(raw, fmt):
    """The values as Fractions (for the references)."""
    from fractions import Fraction

    return [[Fraction(int(v)) * fmt.lsb_exact for v in row] for row in wrap(raw, fmt).raw.reshape(raw.shape[0], -1)]


@pytest.mark.parametrize("wide", [False, True])
def test_merge_ops_match_exact_references(wide):
    """Each op equals an exact-rational reference (value computed exactly, then one
    fx.array cast into res_t), on int64 formats and on formats beyond 64 bits."""
    rng = np.random.default_rng(5)
    f1 = fx.Fixed(70, 20) if wide else fx.Fixed(12, 5)
    f2 = fx.Fixed(40, 3, signed=False) if wide else fx.Fixed(9, 2, signed=False)
    res = fx.Fixed(9, 4, q="RND", o="SAT")
    a, b = _raw(rng, f1, 64, (4,)), _raw(rng, f2, 64, (4,))
    ea, eb = _exact(a, f1), _exact(b, f2)

    def ref(fn):
        vals = [[fn(p, q) for p, q in zip(ra, rb)] for ra, rb in zip(ea, eb)]
        exact_fmt = fx.Fixed(200, 100)  # holds every reference value exactly
        ints = np.array([[int(v / exact_fmt.lsb_exact) for v in row] for row in vals], dtype=object)
        return storage(wrap(ints, exact_fmt).cast(res))

    cases = {
        "add": lambda p, q: p + q, "subtract": lambda p, q: p - q, "multiply": lambda p, q: p * q,
        "average": lambda p, q: (p + q) / 2, "maximum": max, "minimum": min,
    }
    for op, fn in cases.items():
        got, fmt = MergeOp(op, res, 4, 4, (4,))(a, f1, b, f2)
        assert fmt == res
        np.testing.assert_array_equal(np.asarray(got, dtype=object), np.asarray(ref(fn), dtype=object), err_msg=op)
    # Dot: (accum_t) products, a saturating sequential sum
    acc = fx.Fixed(11, 5, q="RND", o="SAT")
    got, _ = DotOp(acc, res)(a, f1, b, f2)
    for s in range(a.shape[0]):
        total = wrap(np.array([0], np.int64), acc)
        for p, q in zip(ea[s], eb[s]):
            exact_fmt = fx.Fixed(200, 100)
            prod = wrap(np.array([int(p * q / exact_fmt.lsb_exact)], dtype=object), exact_fmt).cast(acc)
            total = (total + prod).cast(acc)
        want = storage(total.cast(res))
        assert int(got[s, 0]) == int(want[0])
    # Concatenate: both halves cast into res_t
    cat, _ = ConcatOp(0, (4,), (4,), res)(a, f1, b, f2)
    np.testing.assert_array_equal(np.asarray(cat[:, 4:], dtype=object),
                                  np.asarray(storage(wrap(b, f2).cast(res)), dtype=object))


def test_merge_builders_refuse_what_they_do_not_reproduce():
    with pytest.raises(ValueError, match="unknown op"):
        MergeOp("divide", fx.Fixed(8, 3), 4, 4, (4,))
