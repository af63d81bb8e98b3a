"""``fixedpoint demo --model cnn``: a small CNN trained in seconds on scikit-learn's bundled 8x8
digits (nothing is downloaded), scanned through hls4ml's PyTorch converter and the emulator."""

from __future__ import annotations

import numpy as np


def digits(seed: int = 0):
    """scikit-learn's bundled 8x8 digits, scaled to [0, 1] and shuffled: X (n, 1, 8, 8) float32, y."""
    from sklearn.datasets import load_digits  # noqa: PLC0415

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order], d.target[order].astype(np.int64)


def make_cnn(seed: int = 0):
    """conv(1->8, 3x3)-relu-maxpool(2)-conv(8->16, 3x3, pad 1)-relu-maxpool(3)-flatten-dense(16->10)-softmax."""
    import torch  # noqa: PLC0415

    torch.manual_seed(seed)

    class DigitsCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.relu1, self.pool1 = torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
            self.conv2, self.relu2 = torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU()
            self.pool2, self.flatten = torch.nn.MaxPool2d(3), torch.nn.Flatten()
            self.fc, self.softmax = torch.nn.Linear(16, 10), torch.nn.Softmax(dim=1)

        def forward(self, x):
            x = self.pool1(self.relu1(self.conv1(x)))
            x = self.flatten(self.pool2(self.relu2(self.conv2(x))))
            return self.softmax(self.fc(x))

        def logits(self, x):
            x = self.pool1(self.relu1(self.conv1(x)))
            return self.fc(self.flatten(self.pool2(self.relu2(self.conv2(x)))))

    return DigitsCNN()


def train_cnn(X, y, seed: int = 0, epochs: int = 30):
    """Adam on cross-entropy, mini-batches of 128; a few seconds on one core."""
    import torch  # noqa: PLC0415

    model = make_cnn(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for k in range(0, len(xt), 128):
            idx = perm[k:k + 128]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model.logits(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval()
