"""Seeded end-to-end runs print torch's numbers: from ``manual_seed(0)`` on, the default weight
initialisation, the shuffled DataLoader's batches, the Dropout masks and therefore every loss
are torch's (float64: equal to rounding; float32: within 1e-6 relative over one epoch)."""
import numpy as np
import pytest
import torch

import nnbox

pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")

sklearn = pytest.importorskip("sklearn.datasets")


def _digits():
    d = sklearn.load_digits()
    X = (d.images / 16.0)[:, None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(X))
    return X[perm[:1400]], y[perm[:1400]]


def _seed_loop(L, dtype, epochs=1):
    """Seed 001's training loop (MLP with BatchNorm and Dropout, Adam, shuffled DataLoader)."""
    nn = L.nn
    L.manual_seed(0)
    X, y = _digits()
    ds = L.utils.data.TensorDataset(L.from_numpy(X.astype(dtype)), L.from_numpy(y))
    loader = L.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(128, 10)).to(getattr(L, dtype))
    criterion = nn.CrossEntropyLoss()
    optimizer = L.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(epochs):
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def _train_ch5(L, dtype, epochs=1):
    """Seed 004's d2l ``train_ch5`` (per-step losses instead of the epoch line)."""
    nn = L.nn
    L.manual_seed(0)
    X, y = _digits()
    ds = L.utils.data.TensorDataset(L.from_numpy(X.astype(dtype)), L.from_numpy(y))
    train_iter = L.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    net = net.to(getattr(L, dtype))
    optimizer = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss = L.nn.CrossEntropyLoss()
    losses, acc = [], 0.0
    for _ in range(epochs):
        for X_, y_ in train_iter:
            y_hat = net(X_)
            l = loss(y_hat, y_)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            losses.append(l.cpu().item())
            acc += (y_hat.argmax(dim=1) == y_).sum().cpu().item()
    return losses, acc


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-6)])
def test_seed_mlp_with_dropout_and_shuffled_loader_matches_torch(dtype, rtol):
    ours, theirs = _seed_loop(nnbox, dtype), _seed_loop(torch, dtype)
    assert len(ours) == 44
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-6)])
def test_seed_train_ch5_matches_torch(dtype, rtol):
    (ours, acc_n), (theirs, acc_t) = _train_ch5(nnbox, dtype), _train_ch5(torch, dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)
    assert acc_n == acc_t
