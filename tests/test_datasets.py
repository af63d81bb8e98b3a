"""fx.datasets (the demo data, public since issue 21; ``fixedpoint._demo_data`` stays importable):
reproducible from the seed, the documented shapes and label range, a float MLP that learns the
task (accuracy computed here with NumPy), and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import fixedpoint as fx


def test_blobs_reproducible_shapes_and_labels():
    X, y = fx.datasets.blobs(500, seed=4, n_in=5, classes=4)
    assert X.shape == (500, 5) and X.dtype == np.float64 and y.shape == (500,) and y.dtype.kind == "i"
    assert set(np.unique(y).tolist()) == {0, 1, 2, 3}
    X2, y2 = fx.datasets.blobs(500, seed=4, n_in=5, classes=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(fx.datasets.blobs(500, seed=5, n_in=5, classes=4)[0], X)


def test_train_mlp_learns_the_task():
    X, y = fx.datasets.blobs(1200, seed=3, spread=1.2)
    (W1, b1), (W2, b2) = fx.datasets.train_mlp(X[:800], y[:800], steps=300)
    assert W1.shape == (8, 16) and b1.shape == (16,) and W2.shape == (16, 3) and b2.shape == (3,)
    logits = np.maximum(X[800:] @ W1 + b1, 0) @ W2 + b2
    assert (logits.argmax(1) == y[800:]).mean() >= 0.9
    again = fx.datasets.train_mlp(X[:800], y[:800], steps=300)
    np.testing.assert_array_equal(again[0][0], W1)


def test_old_private_name_still_imports():
    from fixedpoint import _demo_data

    assert _demo_data.blobs is fx.datasets.blobs and _demo_data.train_mlp is fx.datasets.train_mlp


def test_errors():
    with pytest.raises(ValueError, match=r"fx.datasets.blobs: n must be a positive int, got 0"):
        fx.datasets.blobs(0)
    with pytest.raises(ValueError, match=r"fx.datasets.blobs: classes must be a positive int, got 2.5"):
        fx.datasets.blobs(10, classes=2.5)
    X, y = fx.datasets.blobs(10)
    with pytest.raises(ValueError, match=r"fx.datasets.train_mlp: X must be 2-d \(samples, features\), got shape "
                                         r"\(80,\)"):
        fx.datasets.train_mlp(X.reshape(-1), y)
    with pytest.raises(ValueError, match=r"fx.datasets.train_mlp: y must be non-negative integer labels of shape "
                                         r"\(10,\), got shape \(9,\)"):
        fx.datasets.train_mlp(X, y[:9])
    with pytest.raises(ValueError, match=r"y must be non-negative integer labels .* dtype float64"):
        fx.datasets.train_mlp(X, y.astype(float))
