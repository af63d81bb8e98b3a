"""fx.prune: exact target sparsity, the largest weights kept, global vs per-layer, structured and
block norms checked against NumPy (and torch.nn.utils.prune when torch is present), the
Zhu & Gupta schedule, the sparsity report, torch tensors in and out, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx

prune = fx.prune


def n_pruned(s, n):
    """The documented count: the integer nearest s * n (exact product), halves to even."""
    return round(Fraction(s) * n)


def distinct_normal(shape, seed):
    """Random floats without ties (so every ranking is unique)."""
    w = np.random.default_rng(seed).normal(size=shape)
    assert np.unique(np.abs(w)).size == w.size
    return w


sparsities = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.95, 1.0, 1 / 3]), st.floats(0, 1))


# ---------------------------------------------------------------------------------------
# magnitude
# ---------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(0, 7), min_size=1, max_size=3), s=sparsities, seed=st.integers(0, 2**32 - 1),
       levels=st.sampled_from([None, 3]))
def test_magnitude_exact_count_keeps_largest(shape, s, seed, levels):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape) if levels is None else rng.integers(-levels, levels + 1, size=shape).astype(float)
    m = prune.magnitude(w, s)
    assert m.dtype == bool and m.shape == w.shape
    assert int((~m).sum()) == n_pruned(s, w.size)
    mag = np.abs(w)
    if m.any() and (~m).any():
        assert mag[m].min() >= mag[~m].max()


def test_magnitude_ties_prune_lower_flat_index_first():
    w = np.array([[2.0, -1.0, 1.0], [1.0, -1.0, 3.0]])
    # |w| = 1 at flat indices 1, 2, 3, 4: three of them go, the lowest indices first
    m = prune.magnitude(w, 0.5)
    np.testing.assert_array_equal(m, [[True, False, False], [False, True, True]])
    np.testing.assert_array_equal(prune.magnitude(np.ones(5), 0.4), [False, False, True, True, True])


@pytest.mark.parametrize("s,n,expected", [(0.5, 5, 2), (0.5, 7, 4), (0.25, 10, 2), (0.35, 10, 3), (1.0, 3, 3),
                                          (0.0, 3, 0), (0.3, 10, 3)])
def test_magnitude_count_rule(s, n, expected):
    # round half to even of the exact product. 0.35 is 0.34999999999999997779... in binary, so
    # 0.35 * 10 is just below 3.5 and rounds to 3 (torch's float product 0.35 * 10 == 3.5 gives 4);
    # 0.3 is 0.29999999999999998889..., and 0.3 * 10 rounds to 3
    m = prune.magnitude(np.arange(1.0, n + 1), s)
    assert int((~m).sum()) == expected
    np.testing.assert_array_equal(m, np.arange(n) >= expected)  # the smallest are first


def test_magnitude_matches_torch_l1_unstructured():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as tprune

    for seed, shape, s in [(0, (16, 9), 0.7), (1, (5, 4, 3), 0.25), (2, (64,), 0.9)]:
        w = distinct_normal(shape, seed)
        t = torch.tensor(w)
        mod = torch.nn.Module()
        mod.weight = torch.nn.Parameter(t.clone())
        tprune.l1_unstructured(mod, "weight", amount=s)
        want = mod.weight_mask.bool()
        got = prune.magnitude(t, s)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.bool and got.device == t.device
        assert torch.equal(got, want)
        np.testing.assert_array_equal(prune.magnitude(w, s), want.numpy())


def test_global_matches_torch_global_unstructured():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as tprune

    ws = {"fc1": distinct_normal((20, 30), 3), "fc2": distinct_normal((10, 20), 4) * 0.1,
          "fc3": distinct_normal((4, 10), 5) * 3}
    mods = {k: torch.nn.Module() for k in ws}
    for k, m in mods.items():
        m.weight = torch.nn.Parameter(torch.tensor(ws[k]))
    tprune.global_unstructured([(mods[k], "weight") for k in ws], pruning_method=tprune.L1Unstructured, amount=0.8)
    got = prune.magnitude(ws, 0.8, scope="global")
    assert list(got) == list(ws)
    total = sum(w.size for w in ws.values())
    assert sum(int((~m).sum()) for m in got.values()) == n_pruned(0.8, total)
    for k in ws:
        np.testing.assert_array_equal(got[k], mods[k].weight_mask.bool().numpy())
    # global differs from per layer: the small-scale layer loses more than 80 %
    assert (~got["fc2"]).mean() > 0.8 > (~got["fc3"]).mean()
    per = prune.magnitude(ws, 0.8)
    for k, w in ws.items():
        assert int((~per[k]).sum()) == n_pruned(0.8, w.size)


def test_global_ranking_against_numpy_sort_with_ties_across_layers():
    a = np.array([1.0, 5.0, 2.0, 2.0])
    b = [np.array([[2.0, 0.5], [7.0, 2.0]])]
    got = prune.magnitude([a, b[0]], 0.5, scope="global")
    # all |w| in layer order: 1 5 2 2 | 2 .5 7 2 -> prune 4: .5, 1, then the first two 2s
    np.testing.assert_array_equal(got[0], [False, True, False, False])
    np.testing.assert_array_equal(got[1], [[True, False], [True, True]])
    assert isinstance(got, list)


def test_per_layer_sparsity_dict_and_list():
    ws = {"a": np.arange(10.0), "b": np.arange(4.0)}
    m = prune.magnitude(ws, {"a": 0.3, "b": 0.5})
    assert int((~m["a"]).sum()) == 3 and int((~m["b"]).sum()) == 2
    m2 = prune.magnitude([ws["a"], ws["b"]], [0.3, 0.5])
    np.testing.assert_array_equal(m2[0], m["a"])
    assert isinstance(prune.magnitude((ws["a"],), 0.1), tuple)


def test_fixed_array_and_integer_weights_scored_exactly():
    fmt = fx.Fixed(64, 10)
    raws = np.array([2**62 + 1, -(2**62), 2**62 + 2, -(2**63), 5, -(2**62 + 1)], dtype=np.int64)
    # float64 cannot tell 2**62, 2**62+1 and 2**62+2 apart; the stored integers can
    m = prune.magnitude(fx.from_raw(raws, fmt), 0.5)
    np.testing.assert_array_equal(m, [False, False, True, True, False, True])
    np.testing.assert_array_equal(prune.magnitude(raws, 0.5), m)
    wide = fx.from_raw(np.array([2**100, -(2**100) - 1, 3], dtype=object), fx.Fixed(120, 120))
    np.testing.assert_array_equal(prune.magnitude(wide, 1 / 3), [True, True, False])
    f = fx.array([0.5, -0.25, 0.125, -1.0], fx.Fixed(8, 2))
    np.testing.assert_array_equal(prune.magnitude(f, 0.5), prune.magnitude(f.to_float(), 0.5))


def test_magnitude_previous_masks_only_shrink():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(30, 30))
    prev = prune.magnitude(w, 0.5)
    w2 = w + rng.normal(size=w.shape)  # the weights moved: some pruned ones became large
    fresh = prune.magnitude(w2, 0.7)
    assert (fresh & ~prev).any()  # without `previous` some pruned weights would come back
    kept = prune.magnitude(w2, 0.7, previous=prev)
    assert not (kept & ~prev).any() and int((~kept).sum()) == n_pruned(0.7, w.size)
    rest = np.abs(w2)[prev]
    assert np.abs(w2)[kept].min() >= rest[~kept[prev]].max()  # among the survivors: the largest
    g = prune.magnitude({"a": w2}, 0.7, scope="global", previous={"a": prev})
    np.testing.assert_array_equal(g["a"], kept)


# ---------------------------------------------------------------------------------------
# structured
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["l1", "l2"])
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_structured_against_numpy_norms(norm, axis):
    w = distinct_normal((6, 10, 4), 11)
    s = 0.5
    m = prune.structured(w, s, axis=axis, norm=norm)
    ax = axis % 3
    other = tuple(d for d in range(3) if d != ax)
    norms = np.abs(w).sum(axis=other) if norm == "l1" else np.sqrt((w**2).sum(axis=other))
    k = n_pruned(s, w.shape[ax])
    keep_units = np.ones(w.shape[ax], dtype=bool)
    keep_units[np.argsort(norms)[:k]] = False
    shape = [1, 1, 1]
    shape[ax] = -1
    np.testing.assert_array_equal(m, np.broadcast_to(keep_units.reshape(shape), w.shape))


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("dim", [0, 1])
def test_structured_matches_torch_ln_structured(n, dim):
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as tprune

    w = distinct_normal((12, 8, 3, 3), 20 + n + dim)
    mod = torch.nn.Module()
    mod.weight = torch.nn.Parameter(torch.tensor(w))
    tprune.ln_structured(mod, "weight", amount=0.4, n=n, dim=dim)
    got = prune.structured(torch.tensor(w), 0.4, axis=dim, norm=f"l{n}")
    assert got.dtype == torch.bool
    assert torch.equal(got, mod.weight_mask.bool())


def test_structured_integer_norms_exact_and_ties():
    # rows with L2^2 = 2**64 + 1 and 2**64: int64 would overflow, float64 would tie them
    w = np.array([[2**32, 1], [2**32, 0], [2**33, 0]], dtype=object)
    np.testing.assert_array_equal(prune.structured(w, 1 / 3, norm="l2")[:, 0], [True, False, True])
    f = fx.from_raw(np.array([[1, 1], [2, 0], [0, 2]]), fx.Fixed(4, 4))
    # L1 norms tie at 2: the lowest row index goes first
    np.testing.assert_array_equal(prune.structured(f, 0.34, norm="l1")[:, 0], [False, True, True])
    np.testing.assert_array_equal(prune.structured(f, 0.34, norm="l2")[:, 0], [False, True, True])
    np.testing.assert_array_equal(prune.structured(f, 2 / 3, norm="l2", axis=1)[0], [False, True])


# ---------------------------------------------------------------------------------------
# block
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("blk", [(4, 4), (1, 16), (2, 8), (16, 1), (1, 1)])
@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_block_against_numpy_loops(blk, norm):
    w = distinct_normal((32, 48), 30)
    s = 0.8
    m = prune.block(w, s, block=blk, norm=norm)
    R, C = blk
    scores, index = [], []
    for bi in range(32 // R):
        for bj in range(48 // C):
            tile = w[bi * R:(bi + 1) * R, bj * C:(bj + 1) * C]
            scores.append(np.abs(tile).sum() if norm == "l1" else np.linalg.norm(tile))
            index.append((bi, bj))
    k = n_pruned(s, len(scores))
    want = np.ones_like(w, dtype=bool)
    for u in np.argsort(scores, kind="stable")[:k]:
        bi, bj = index[u]
        want[bi * R:(bi + 1) * R, bj * C:(bj + 1) * C] = False
    np.testing.assert_array_equal(m, want)
    # and the mask makes a BSR matrix with exactly the kept blocks
    a = fx.array(w, fx.Fixed(16, 4))
    sp = fx.SparseFixed.from_dense(a, mask=m, blocksize=blk)
    assert sp.nnzb <= len(scores) - k
    np.testing.assert_array_equal(sp.to_dense().raw, np.where(m, a.raw, 0))


def test_block_torch_and_previous():
    torch = pytest.importorskip("torch")
    w = torch.tensor(distinct_normal((8, 8), 40))
    m1 = prune.block(w, 0.5, block=(2, 4))
    assert m1.dtype == torch.bool and m1.shape == w.shape
    m2 = prune.block(w * torch.randn(8, 8, dtype=torch.float64), 0.75, block=(2, 4), previous=m1)
    assert not (m2 & ~m1).any()
    assert int((~m2).sum()) == 8 * 6


# ---------------------------------------------------------------------------------------
# schedule
# ---------------------------------------------------------------------------------------
def test_polynomial_schedule_formula_endpoints_and_monotone():
    T = 1000
    vals = [prune.polynomial_sparsity(t, final=0.9, end=T) for t in range(-5, T + 20)]
    assert vals[0] == 0.0 and prune.polynomial_sparsity(0, final=0.9, end=T) == 0.0
    assert prune.polynomial_sparsity(T, final=0.9, end=T) == 0.9
    assert prune.polynomial_sparsity(T + 50, final=0.9, end=T) == 0.9
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    for t in (1, 250, 500, 999):  # Zhu & Gupta eq. (1) with s_i = 0, s_f = 0.9, t0 = 0, n*dt = T
        assert prune.polynomial_sparsity(t, final=0.9, end=T) == pytest.approx(0.9 * (1 - (1 - t / T) ** 3))
    s = prune.Schedule(final=0.8, initial=0.2, begin=100, end=300, frequency=50, power=2)
    assert s(0) == 0.2 and s(100) == 0.2 and s(149) == 0.2 and s(300) == 0.8
    assert s(150) == s(199) == pytest.approx(0.8 - 0.6 * 0.75**2)


def test_schedule_masks_hit_each_target_and_only_shrink():
    rng = np.random.default_rng(9)
    ws = {"a": rng.normal(size=(16, 16)), "b": rng.normal(size=(8, 32))}
    sched = prune.Schedule(final=0.75, end=8, frequency=2)
    prev = None
    for step in range(0, 11):
        ws = {k: v + 0.3 * rng.normal(size=v.shape) for k, v in ws.items()}  # training moves weights
        masks = sched.masks(ws, step, previous=prev)
        for k, w in ws.items():
            assert int((~masks[k]).sum()) == n_pruned(sched(step), w.size)
            if prev is not None:
                assert not (masks[k] & ~prev[k]).any()
        prev = masks
    blk = sched.masks(ws, 8, method="block", block=(4, 4))
    assert all(int((~m).sum()) == 16 * n_pruned(0.75, m.size // 16) for m in blk.values())
    with pytest.raises(ValueError, match=r"fx.prune.Schedule.masks: method must be one of"):
        sched.masks(ws, 3, method="random")


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
def test_report_counts_against_numpy():
    rng = np.random.default_rng(12)
    ws = {"conv": rng.normal(size=(6, 3, 3, 3)), "fc": rng.normal(size=(10, 7)), "bias": np.array([0.0, 1.0, 0.0])}
    masks = prune.magnitude(ws, 0.6)
    rep = prune.report(ws, masks, block=(2, 4))
    for k, w in ws.items():
        kept = (w != 0) & masks[k]
        d = rep.layers[k]
        assert d["size"] == w.size and d["nnz"] == int(kept.sum())
        assert d["density"] == kept.sum() / w.size and d["sparsity"] == 1 - kept.sum() / w.size
        g = kept.reshape(1, -1) if w.ndim == 1 else kept.reshape(w.shape[0], -1)
        blocks = [g[i:i + 2, j:j + 4].any() for i in range(0, g.shape[0], 2) for j in range(0, g.shape[1], 4)]
        assert d["blocks"] == len(blocks) and d["nonzero_blocks"] == sum(blocks)
    assert rep.total["nnz"] == sum(d["nnz"] for d in rep.layers.values())
    assert rep.total["size"] == sum(w.size for w in ws.values())
    lines = str(rep).splitlines()
    assert lines[0].startswith("| layer") and len(lines) == 2 + len(ws) + 1
    assert lines[-1].startswith("| total") and "conv" in rep.table
    assert rep.as_dict()["total"] is rep.total


def test_report_of_sparse_and_fixed():
    a = fx.from_raw(np.array([[1, 0, 0, 0], [0, 0, 0, 2]]), fx.Fixed(4, 4))
    rep = prune.report({"w": a, "sp": fx.SparseFixed.from_dense(a, blocksize=(1, 2))}, block=(1, 2))
    for d in rep.layers.values():
        assert (d["nnz"], d["blocks"], d["nonzero_blocks"]) == (2, 4, 2)


# ---------------------------------------------------------------------------------------
# torch, imports and errors
# ---------------------------------------------------------------------------------------
def test_no_torch_import():
    code = ("import sys, numpy as np, fixedpoint as fx; fx.prune.magnitude(np.ones(4), 0.5); "
            "fx.prune.report(np.ones((2, 2))); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_dtypes_and_grad():
    torch = pytest.importorskip("torch")
    w = torch.randn(10, 10, dtype=torch.bfloat16, requires_grad=True)
    m = prune.magnitude(w, 0.3)
    assert m.dtype == torch.bool and int((~m).sum()) == 30
    assert torch.abs(w[m].float()).min() >= torch.abs(w[~m].float()).max()
    mi = prune.structured(torch.arange(12).reshape(3, 4), 1 / 3, axis=0)
    assert mi[0].sum() == 0 and mi[1:].all()


@pytest.mark.parametrize("bad,exc,msg", [
    (-0.1, ValueError, r"fx.prune.magnitude: sparsity must lie in \[0, 1\], got -0.1"),
    (1.5, ValueError, r"sparsity must lie in \[0, 1\], got 1.5"),
    (float("nan"), ValueError, r"sparsity must lie in \[0, 1\], got nan"),
    ("0.5", TypeError, r"sparsity must be a real number in \[0, 1\], got '0.5'"),
    (True, TypeError, r"sparsity must be a real number"),
])
def test_bad_sparsity(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        prune.magnitude(np.ones(4), bad)


def test_errors():
    w = np.ones((6, 8))
    with pytest.raises(ValueError, match=r"fx.prune.block: weight shape \(6, 8\) is not divisible by the block \(4, 4\)"):
        prune.block(w, 0.5)
    with pytest.raises(ValueError, match=r"layer 'x'"):
        prune.block({"x": w}, 0.5)
    with pytest.raises(ValueError, match=r"block must be a pair of positive integers such as \(4, 4\), got \(0, 4\)"):
        prune.block(w, 0.5, block=(0, 4))
    with pytest.raises(ValueError, match=r"block pruning needs 2-d weights \(N, K\), got shape \(2, 2, 2\)"):
        prune.block(np.ones((2, 2, 2)), 0.5, block=(1, 1))
    with pytest.raises(ValueError, match=r"fx.prune.structured: norm must be 'l1' or 'l2', got 'l3'"):
        prune.structured(w, 0.5, norm="l3")
    with pytest.raises(ValueError, match=r"axis 2 is out of bounds for weights of shape \(6, 8\)"):
        prune.structured(w, 0.5, axis=2)
    with pytest.raises(ValueError, match=r"NaN weight at index \(1, 2\) \(layer 'b'\)"):
        prune.magnitude({"a": w, "b": np.where(np.arange(48).reshape(6, 8) == 10, np.nan, w)}, 0.5)
    with pytest.raises(TypeError, match=r"weights must be real numbers, got dtype complex128"):
        prune.magnitude(np.ones(3, dtype=complex), 0.5)
    with pytest.raises(ValueError, match=r"scope must be 'layer' or 'global', got 'net'"):
        prune.magnitude(w, 0.5, scope="net")
    with pytest.raises(TypeError, match=r"scope='global' needs a dict or list of weights"):
        prune.magnitude(w, 0.5, scope="global")
    with pytest.raises(ValueError, match=r"2 sparsities for 1 layers"):
        prune.magnitude([w], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"previous mask shape \(2,\) != weight shape \(6, 8\)"):
        prune.magnitude(w, 0.5, previous=np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match=r"end must be greater than begin, got begin=5, end=5"):
        prune.Schedule(final=0.5, begin=5, end=5)
    with pytest.raises(ValueError, match=r"frequency must be >= 1, got 0"):
        prune.polynomial_sparsity(3, final=0.5, end=10, frequency=0)
    with pytest.raises(TypeError, match=r"step must be an integer, got 1.5"):
        prune.polynomial_sparsity(1.5, final=0.5, end=10)
    with pytest.raises(ValueError, match=r"fx.prune.polynomial_sparsity: sparsity must lie in \[0, 1\], got 2"):
        prune.polynomial_sparsity(1, final=2, end=10)
    with pytest.raises(ValueError, match=r"fx.prune.magnitude: empty collection of weights"):
        prune.magnitude([], 0.5)
