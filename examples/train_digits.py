"""A small real training run with nothing but nnbox tensors and autograd.

A two-layer perceptron learns scikit-learn's 1,797 8x8 handwritten digits with plain minibatch SGD
written out by hand: forward, ``loss.backward()``, update under ``no_grad``, ``grad`` reset.
Run:  python examples/train_digits.py
"""
from __future__ import annotations

import time

import numpy as np

import nnbox as torch


def load_digits():
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_test = 360
    return (torch.from_numpy(x[n_test:]), torch.from_numpy(y[n_test:]),
            torch.from_numpy(x[:n_test]), torch.from_numpy(y[:n_test]))


def main(epochs: int = 30, batch_size: int = 64, lr: float = 0.1) -> float:
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    w1 = (torch.randn(64, 128) * (2 / 64) ** 0.5).requires_grad_()
    b1 = torch.zeros(128, requires_grad=True)
    w2 = (torch.randn(128, 10) * (1 / 128) ** 0.5).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]

    def model(x):
        return torch.relu(x @ w1 + b1) @ w2 + b2

    def cross_entropy(logits, y):
        return -logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).mean()

    n = x_train.shape[0]
    for epoch in range(epochs):
        start, total, correct = time.time(), 0.0, 0
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            x, y = x_train[idx], y_train[idx]
            logits = model(x)
            loss = cross_entropy(logits, y)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
            total += loss.item() * len(idx)
            correct += (logits.argmax(dim=1) == y).sum().item()
        with torch.no_grad():
            test_acc = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"epoch {epoch + 1}, loss {total / n:.4f}, train acc {correct / n:.3f}, "
                  f"test acc {test_acc:.3f}, time {time.time() - start:.1f} sec")
    return test_acc


if __name__ == "__main__":
    acc = main()
    print(f"final test accuracy: {acc:.3f}")
