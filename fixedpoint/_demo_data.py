"""Built-in data for ``fixedpoint demo``: a seeded 3-class Gaussian-blob task and a small MLP
trained on it with NumPy (no other dependency)."""

from __future__ import annotations

import numpy as np


def blobs(n: int, seed: int = 0, n_in: int = 8, classes: int = 3, spread: float = 1.6):
    """n samples of ``classes`` Gaussian blobs in ``n_in`` dimensions: (X float64, y int)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 2.0, (classes, n_in))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(0.0, spread, (n, n_in)), y


def train_mlp(X, y, hidden: int = 16, steps: int = 400, lr: float = 0.5, seed: int = 0):
    """Full-batch gradient descent on softmax cross-entropy for an n_in-hidden-classes ReLU MLP.
    Returns [(W1, b1), (W2, b2)] with W of shape (n_in, n_out)."""
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
