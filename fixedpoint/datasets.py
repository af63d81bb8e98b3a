"""Built-in demo data: a seeded Gaussian-blob classification task and a small ReLU MLP trained
on it with NumPy alone (nothing is downloaded, no other dependency). ``fixedpoint demo``, the
docs' scanner examples and the benchmarks use them.

>>> import fixedpoint as fx
>>> X, y = fx.datasets.blobs(200, seed=1)
>>> X.shape, y.shape, sorted(set(y.tolist()))
((200, 8), (200,), [0, 1, 2])
>>> (W1, b1), (W2, b2) = fx.datasets.train_mlp(X, y, steps=50)
>>> W1.shape, b1.shape, W2.shape, b2.shape
((8, 16), (16,), (16, 3), (3,))
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["blobs", "train_mlp"]


def _positive_int(api: str, name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{api}: {name} must be a positive int, got {v!r}")
    return int(v)


def blobs(n: int, seed: int = 0, n_in: int = 8, classes: int = 3, spread: float = 1.6):
    """``n`` samples of ``classes`` Gaussian blobs in ``n_in`` dimensions, reproducible from
    ``seed``: centres drawn from normal(0, 2), samples normal(centre, ``spread``).

    Returns:
        ``(X, y)``: float64 ``(n, n_in)`` features and int64 ``(n,)`` labels in
        ``[0, classes)``.

    Raises:
        ValueError: ``n``, ``n_in`` or ``classes`` is not a positive int.
    """
    api = "fx.datasets.blobs"
    n = _positive_int(api, "n", n)
    n_in = _positive_int(api, "n_in", n_in)
    classes = _positive_int(api, "classes", classes)
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 2.0, (classes, n_in))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(0.0, spread, (n, n_in)), y


def train_mlp(X, y, hidden: int = 16, steps: int = 400, lr: float = 0.5, seed: int = 0):
    """Train an ``n_in -> hidden -> classes`` ReLU MLP by full-batch gradient descent on
    softmax cross-entropy (float64, NumPy only, reproducible from ``seed``).

    Returns:
        ``[(W1, b1), (W2, b2)]`` with ``W`` of shape ``(n_in, n_out)``, ready for
        ``fx.Dense(W1, b1, "relu")``, ``fx.Dense(W2, b2)``.

    Raises:
        ValueError: ``X`` is not 2-d, ``y`` is not 1-d integer labels of ``len(X)``, or
            ``hidden``/``steps`` is not a positive int.
    """
    api = "fx.datasets.train_mlp"
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{api}: X must be 2-d (samples, features), got shape {X.shape}")
    if y.shape != (len(X),) or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError(f"{api}: y must be non-negative integer labels of shape ({len(X)},), got shape {y.shape} "
                         f"dtype {y.dtype}")
    hidden = _positive_int(api, "hidden", hidden)
    steps = _positive_int(api, "steps", steps)
    rng = np.random.default_rng(seed + 1)
    classes = int(y.max()) + 1
    W1 = rng.normal(0.0, 0.3, (X.shape[1], hidden))
    b1 = np.zeros(hidden)
    W2 = rng.normal(0.0, 0.3, (hidden, classes))
    b2 = np.zeros(classes)
    n = len(X)
    for _ in range(steps):
        h = np.maximum(X @ W1 + b1, 0.0)
        z = h @ W2 + b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(n), y] -= 1.0
        g = p / n
        gh = g @ W2.T
        gh[h <= 0] = 0.0
        for param, grad in ((W2, h.T @ g), (b2, g.sum(0)), (W1, X.T @ gh), (b1, gh.sum(0))):
            param -= lr * grad
    return [(W1, b1), (W2, b2)]
