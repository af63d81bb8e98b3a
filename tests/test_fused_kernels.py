"""The kernels' fused activation (``relu`` / ``post`` of ``_core.dense_accum`` and
``_core.conv_accum``: hls4ml's ReLU or linear layer folded into the Dense / conv result cast),
``conv_accum``'s in-kernel zero padding, and ``_core.max_pool`` (io_parallel max pooling),
each bit for bit against the unfused path: the validated scalar ``_core.cast(matmul_accum)``
reference, NumPy's maximum and ``_core.cast``, ``np.pad`` and NumPy window maxima, under every
ISA and with 1 and 2 threads; and the graph's fusion against the unfused node sequence.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fixedpoint as fx
from fixedpoint import _core

from test_accum_kernel import ISAS, NS, O, Q, ROW_CLASSES, im2col_ref, mode_args, reference, rng_raws


pytestmark = pytest.mark.usefixtures("restore_runtime")  # tests/conftest.py


def post_ref(raw, res, relu, post):
    """hls4ml's ReLU / linear layer on the result raws: ``x > 0 ? x : 0`` (signed), then the cast
    into the activation's result_t (NumPy and the validated ``_core.cast``)."""
    if relu and res[2]:
        raw = np.maximum(raw, 0)
    if post is None:
        return raw
    return _core.cast(np.ascontiguousarray(raw).reshape(-1), res[0], res[1], res[2], *post, 0).reshape(raw.shape)


RND, TRN, SAT, WRAP = Q[fx.QMode.RND], Q[fx.QMode.TRN], O[fx.OMode.SAT], O[fx.OMode.WRAP]
# (accum, result, post): results signed and unsigned, posts narrowing, widening, identical, rounding
POSTS = [
    (mode_args(16, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0), (37, 17, True, TRN, WRAP, 0), (16, 6, True, TRN, WRAP, 0)),
    (mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0), (16, 6, True, RND, SAT, 0), (16, 6, True, TRN, WRAP, 0)),
    (mode_args(18, 8, True, fx.QMode.RND, fx.OMode.SAT, 0), (16, 6, True, RND, SAT, 0), (8, 3, False, RND, SAT, 0)),
    (mode_args(38, 18, True, fx.QMode.TRN, fx.OMode.WRAP, 0), (20, 9, True, TRN, SAT, 0), (6, 1, True, RND, WRAP, 0)),
    (mode_args(38, 18, True, fx.QMode.TRN, fx.OMode.WRAP, 0), (12, 12, False, TRN, WRAP, 0), (9, 4, True, RND, SAT, 0)),
    (mode_args(20, 8, True, fx.QMode.RND, fx.OMode.SAT, 0), (14, 5, True, Q[fx.QMode.RND_CONV], O[fx.OMode.SAT_SYM], 0),
     (24, 4, True, Q[fx.QMode.RND_INF], O[fx.OMode.WRAP], 1)),
    (mode_args(20, 8, True, fx.QMode.RND, fx.OMode.SAT, 0), (62, 30, True, TRN, WRAP, 0), (63, 20, True, RND, SAT, 0)),
]


@pytest.mark.parametrize("case", range(len(POSTS)))
@pytest.mark.parametrize("N", NS)
def test_dense_post_matches_unfused(case, N):
    acc, res, post = POSTS[case]
    rng = np.random.default_rng(case * 100 + N)
    for small in (False, True):
        x = rng_raws(rng, 16, True, (700, 9), small)
        w = rng_raws(rng, 16, True, (9, N), small)
        b = rng_raws(rng, acc[0], acc[2], (N,), small)
        base = reference(x, (16, 6, True), w, (16, 6, True), acc, b, res)
        for relu in (False, True):
            for p in (None, post, res):  # no cast, the activation's cast, a cast into the same format
                if not relu and p is None:
                    continue
                want = post_ref(base, res, relu, p)
                for isa in ISAS:
                    fx.set_isa(isa)
                    for nt in (1, 2):
                        fx.set_num_threads(nt)
                        got = _core.dense_accum(x, 16, 6, True, w, 16, 6, True, *acc, b, *res, relu=relu, post=p)
                        assert got.shape == want.shape
                        np.testing.assert_array_equal(got, want, err_msg=f"isa={isa} nt={nt} relu={relu} post={p}")


def test_dense_post_every_row_class():
    """The row path (small N) and every lane class of the kernel, with a ReLU and a narrowing cast."""
    rng = np.random.default_rng(3)
    res, post = (16, 6, True, RND, SAT, 0), (10, 2, True, TRN, SAT, 0)
    for cls, (xf, wf, acc) in ROW_CLASSES.items():
        for N in (1, 3, 7, 8, 9):
            x = rng_raws(rng, xf[0], xf[2], (77, 13))
            w = rng_raws(rng, wf[0], wf[2], (13, N))
            b = rng_raws(rng, acc[0], acc[2], (N,))
            want = post_ref(reference(x, xf, w, wf, acc, b, res), res, True, post)
            for isa in ISAS:
                fx.set_isa(isa)
                got = _core.dense_accum(x, *xf, w, *wf, *acc, b, *res, relu=True, post=post)
                np.testing.assert_array_equal(got, want, err_msg=f"{cls} N={N} isa={isa}")


PAD_GEOMS = [  # (S, H, W, C, kh, kw, sh, sw, (top, bottom, left, right))
    (40, 8, 8, 1, 3, 3, 1, 1, (1, 1, 1, 1)),  # conv1 of the small CNN
    (30, 4, 4, 4, 3, 3, 1, 1, (1, 1, 1, 1)),  # conv2
    (9, 7, 9, 3, 3, 2, 2, 3, (0, 2, 1, 0)),  # asymmetric padding, strides: some padded rows never read
    (5, 1, 30, 2, 1, 5, 1, 2, (0, 0, 2, 2)),  # 1-D
    (3, 5, 5, 1, 5, 5, 1, 1, (2, 2, 2, 2)),  # windows mostly padding
    (0, 6, 6, 4, 3, 3, 1, 1, (1, 1, 1, 1)),  # no samples
]


@pytest.mark.parametrize("geom", PAD_GEOMS, ids=[str(g) for g in PAD_GEOMS])
@pytest.mark.parametrize("N", [1, 4, 8, 9, 16])
def test_conv_pad_and_post_match_unfused(geom, N):
    S, H, W, C, kh, kw, sh, sw, (pt, pb, pl, pr) = geom
    OH, OW = (H + pt + pb - kh) // sh + 1, (W + pl + pr - kw) // sw + 1
    rng = np.random.default_rng(hash((geom, N)) % 2**32)
    for cls in ("i16-madd-rnd-sat", "i16-wrap-trn", "i64-small-sat", "scalar-sat-sym"):
        xf, wf, acc = ROW_CLASSES[cls]
        res, post = (16, 6, True, RND, SAT, 0), (8, 2, True, TRN, WRAP, 0)
        x = rng_raws(rng, xf[0], xf[2], (S, H, W, C))
        w = rng_raws(rng, wf[0], wf[2], (kh * kw * C, N))
        b = rng_raws(rng, acc[0], acc[2], (N,))
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        cols = im2col_ref(xp, kh, kw, sh, sw, OH, OW)
        base = reference(cols, xf, w, wf, acc, b, res).reshape(S, OH, OW, N)
        for relu, p in ((False, None), (True, None), (True, post), (False, post)):
            want = post_ref(base, res, relu, p)
            for isa in ISAS:
                fx.set_isa(isa)
                for nt in (1, 2):
                    fx.set_num_threads(nt)
                    got = _core.conv_accum(x, kh, kw, sh, sw, OH, OW, *xf, w, *wf, *acc, b, *res, pad=(pt, pb, pl, pr),
                                           relu=relu, post=p)
                    assert got.shape == want.shape
                    np.testing.assert_array_equal(got, want, err_msg=f"{cls} isa={isa} nt={nt} relu={relu} post={p}")
            # the pre-padded input without pad: the same integers
            got = _core.conv_accum(xp, kh, kw, sh, sw, OH, OW, *xf, w, *wf, *acc, b, *res, relu=relu, post=p)
            np.testing.assert_array_equal(got, want)


def _dense_args():
    return (np.zeros((2, 3), np.int64), 16, 6, True, np.zeros((3, 4), np.int64), 16, 6, True, 18, 8, True, RND, SAT, 0,
            None, 16, 6, True, RND, SAT, 0)


@pytest.mark.parametrize("post,match", [
    ((16, 6, True), r"dense_accum: post must be a \(w, i, signed, q, o, n\) tuple, got 3 values"),
    ("no", r"dense_accum: post must be"),
    ((65, 6, True, 0, 0, 0), r"dense_accum: post format: w must be <= 64, got w=65"),
    ((16, 6, True, Q[fx.QMode.STOCH], 0, 0), r"dense_accum: STOCH rounding is not supported \(post q=STOCH\)"),
])
def test_post_validation(post, match):
    with pytest.raises(ValueError, match=match):
        _core.dense_accum(*_dense_args(), post=post)


def test_conv_pad_validation():
    x, w = np.zeros((2, 4, 4, 1), np.int64), np.zeros((9, 2), np.int64)
    args = (3, 3, 1, 1, 4, 4, 16, 6, True, w, 16, 6, True, 18, 8, True, RND, SAT, 0, None, 16, 6, True, RND, SAT, 0)
    with pytest.raises(ValueError, match=r"conv_accum: pad \(top, bottom, left, right\) = \(1, 1, -1, 3\) must be >= 0"):
        _core.conv_accum(x, *args, pad=(1, 1, -1, 3))
    with pytest.raises(ValueError, match=r"conv_accum: pad must be \(top, bottom, left, right\), got 2 values"):
        _core.conv_accum(x, *args, pad=(1, 1))
    with pytest.raises(ValueError, match=r"conv_accum: OH, OW = 5, 5 but the padded input 6x6 with kernel 3x3"):
        _core.conv_accum(x, *args[:4], 5, 5, *args[6:], pad=(1, 1, 1, 1))


# --- max_pool ----------------------------------------------------------------------------------
def pool_ref(x, ph, pw, sh, sw, pad, fill):
    pt, pb, pl, pr = pad
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    win = sliding_window_view(xp, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
    return win.max(axis=(-2, -1))


POOL_GEOMS = [  # (S, H, W, C, ph, pw, sh, sw, pad)
    (60, 8, 8, 4, 2, 2, 2, 2, (0, 0, 0, 0)),  # the small CNN's pools
    (60, 4, 4, 8, 2, 2, 2, 2, (0, 0, 0, 0)),
    (13, 7, 9, 3, 3, 2, 2, 3, (1, 0, 0, 1)),  # ragged, padded, overlapping rows
    (9, 5, 6, 1, 3, 3, 1, 1, (1, 1, 1, 1)),  # 'same' pooling
    (4, 3, 3, 5, 2, 2, 1, 1, (2, 2, 2, 2)),  # windows entirely in the padding
    (7, 1, 17, 6, 1, 3, 1, 2, (0, 0, 1, 2)),  # 1-D
    (0, 4, 4, 2, 2, 2, 2, 2, (0, 0, 0, 0)),  # no samples
]
POOL_FMTS = [(16, True), (8, False), (1, True), (63, True), (64, True)]


@pytest.mark.parametrize("geom", POOL_GEOMS, ids=[str(g) for g in POOL_GEOMS])
@pytest.mark.parametrize("fmt", POOL_FMTS, ids=[f"{w}{'s' if s else 'u'}" for w, s in POOL_FMTS])
def test_max_pool_matches_numpy(geom, fmt):
    S, H, W, C, ph, pw, sh, sw, pad = geom
    w, s = fmt
    rng = np.random.default_rng(hash((geom, fmt)) % 2**32)
    x = rng_raws(rng, w, s, (S, H, W, C)) if w < 64 else rng.integers(-2**63, 2**63 - 1, (S, H, W, C), np.int64,
                                                                       endpoint=True)
    fill = -(1 << (w - 1)) if s else 1 << (w - 1)  # hls4ml's pad_val: only the top bit set
    want = pool_ref(x, ph, pw, sh, sw, pad, fill)
    for isa in ISAS:
        fx.set_isa(isa)
        for nt in (1, 2):
            fx.set_num_threads(nt)
            got = _core.max_pool(x, ph, pw, sh, sw, pad, fill, w, s)
            assert got.dtype == np.int64 and got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg=f"isa={isa} nt={nt}")
    if S:  # a fill above every value wins wherever a window reaches the padding
        big = (1 << (w - 1)) - 1 if s else (1 << w) - 1
        np.testing.assert_array_equal(_core.max_pool(x, ph, pw, sh, sw, pad, big, w, s),
                                      pool_ref(x, ph, pw, sh, sw, pad, big))


@pytest.mark.parametrize("over,match", [
    (dict(x=np.zeros((2, 4, 4), np.int64)), r"max_pool: x must be \(S, H, W, C\)"),
    (dict(pad=(0, 0, 0)), r"max_pool: pad must be \(top, bottom, left, right\), got 3 values"),
    (dict(pad=(0, -1, 0, 0)), r"max_pool: pad values must be >= 0"),
    (dict(ph=5), r"max_pool: pool 5x2 does not fit the padded input 4x4"),
    (dict(sw=0), r"max_pool: pool 2x2 and strides 2, 0 must be >= 1"),
    (dict(xw=64, xsigned=False), r"max_pool: x's format must have 1 <= w <= 64 and not be 64-bit unsigned"),
    (dict(fill=1 << 20), r"max_pool: fill = 1048576 is outside the raw range \[-32768, 32767\]"),
    (dict(x=np.full((2, 4, 4, 3), 1 << 15, np.int64)), r"max_pool: x\[0, 0, 0, 0\] = 32768 is outside the raw range"),
])
def test_max_pool_validation(over, match):
    a = dict(x=np.zeros((2, 4, 4, 3), np.int64), ph=2, pw=2, sh=2, sw=2, pad=(0, 0, 0, 0), fill=-32768, xw=16,
             xsigned=True)
    a.update(over)
    with pytest.raises(ValueError, match=match):
        _core.max_pool(**a)


# --- the graph's fusion ---------------------------------------------------------------------
def test_graph_fuses_relu_into_dense_and_keeps_the_unfused_path():
    """A Network chain: the fused plan (run_raw without keep) gives the integers of the node
    sequence (keep=True runs the unfused nodes), and the fused nodes are the Dense+ReLU pairs."""
    rng = np.random.default_rng(0)
    net = fx.Network([fx.Dense(rng.normal(0, 0.5, (8, 16)), rng.normal(0, 0.1, 16), "relu"),
                      fx.Dense(rng.normal(0, 0.5, (16, 9)), rng.normal(0, 0.1, 9), "relu"),
                      fx.Dense(rng.normal(0, 0.5, (9, 3)), rng.normal(0, 0.1, 3))])
    f = fx.Fixed(16, 6)
    config = {"input": f}
    for layer, (acc, res) in zip(net.layers, [(fx.Fixed(18, 8, q="RND", o="SAT"), fx.Fixed(12, 4, q="RND", o="SAT")),
                                              (fx.Fixed(14, 6), fx.Fixed(10, 3, o="SAT")),
                                              (fx.Fixed(20, 10), fx.Fixed(16, 8))]):
        config[layer.name] = {"weight": f, "bias": f, "accum": acc, "result": res}
    graph = net.to_graph(config)
    assert [n.attrs.get("fused") is not None for n in graph._plan] == [True, True, False]
    x = fx.array(rng.normal(0, 3, (3000, 8)), f)
    raw = np.ascontiguousarray(x.raw.view(np.int64))
    fused = graph.run_raw([raw])[graph.outputs[0]]
    unfused = graph.run_raw([raw], keep=True)[graph.outputs[0]]
    assert fused[1] == unfused[1]
    np.testing.assert_array_equal(fused[0], unfused[0])
    # and stage by stage: each fused node equals its two nodes in sequence
    stages = net.emulate_layers(x.to_float(), config)
    np.testing.assert_array_equal(stages[-1].raw, fused[0])


# --- the int16 lanes (16-bit WRAP or SAT accumulators, weights that scale into int16) ---------
I16_ACCS = [mode_args(16, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0), mode_args(16, 6, True, fx.QMode.RND, fx.OMode.WRAP, 0),
            mode_args(16, 6, True, fx.QMode.TRN, fx.OMode.SAT, 0), mode_args(16, 6, True, fx.QMode.RND, fx.OMode.SAT, 0),
            mode_args(11, 3, True, fx.QMode.TRN, fx.OMode.WRAP, 0), mode_args(13, 5, False, fx.QMode.RND, fx.OMode.WRAP, 0)]


def i16_weights(rng, shape, rnd):
    """Raws of fixed<16,6> weights that scale into int16 for a 10-bit product shift (|w| < 512,
    and for RND > -512), with both extremes."""
    w = rng.integers(-511, 512, shape).astype(np.int64)
    if w.size > 2:
        w.flat[0], w.flat[-1] = (-511 if rnd else -512), 511
    return w


@pytest.mark.parametrize("acc", I16_ACCS, ids=[f"w{a[0]}{'s' if a[2] else 'u'}-q{a[3]}-o{a[4]}" for a in I16_ACCS])
def test_int16_lanes_conv_and_rows(acc):
    """Convolutions over samples in int16 lanes (and the dense row path's int16 lanes): every
    output against the scalar reference, with full-range x (the product's magnitude reaches 2^14,
    the SAT sums hit both limits), ragged sample counts, every ISA, 1 and 2 threads."""
    rng = np.random.default_rng(acc[0] * 10 + acc[3] + acc[4])
    rnd = acc[3] == RND
    res, post = (37, 17, True, TRN, WRAP, 0), (16, 6, True, TRN, WRAP, 0)
    for S, H, W, C, kh, kw, sh, sw, pad, N in [(37, 8, 8, 1, 3, 3, 1, 1, (1, 1, 1, 1), 4),
                                               (50, 4, 4, 4, 3, 3, 1, 1, (1, 1, 1, 1), 8),
                                               (17, 7, 9, 3, 3, 2, 2, 3, (0, 2, 1, 0), 5),
                                               (16, 1, 12, 2, 1, 3, 1, 1, (0, 0, 1, 1), 12),
                                               (3, 5, 5, 2, 1, 1, 1, 1, (0, 0, 0, 0), 3)]:
        x = rng_raws(rng, 16, True, (S, H, W, C))
        x[S // 2] = -32768 if S % 2 else 32767  # a whole sample at an extreme: the sums saturate
        w = i16_weights(rng, (kh * kw * C, N), rnd)
        b = rng_raws(rng, acc[0], acc[2], (N,))
        xp = np.pad(x, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3]), (0, 0)))
        OH, OW = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
        cols = im2col_ref(xp, kh, kw, sh, sw, OH, OW)
        want = reference(cols, (16, 6, True), w, (16, 6, True), acc, b, res)
        for isa in ISAS:
            fx.set_isa(isa)
            for nt in (1, 2):
                fx.set_num_threads(nt)
                got = _core.conv_accum(x, kh, kw, sh, sw, OH, OW, 16, 6, True, w, 16, 6, True, *acc, b, *res, pad=pad)
                np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"conv isa={isa} nt={nt}")
                got = _core.conv_accum(x, kh, kw, sh, sw, OH, OW, 16, 6, True, w, 16, 6, True, *acc, b, *res, pad=pad,
                                       relu=True, post=post)
                np.testing.assert_array_equal(got.reshape(want.shape), post_ref(want, res, True, post))
                got = _core.dense_accum(cols, 16, 6, True, w, 16, 6, True, *acc, b, *res)
                np.testing.assert_array_equal(got, want, err_msg=f"dense isa={isa} nt={nt}")
