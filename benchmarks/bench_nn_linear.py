"""Linear-layer hot path, nnbox vs torch side by side: a bare Linear forward+backward, and the
seeds' MLP (784-300-100-10, ReLU, cross-entropy, SGD) training step at batch 64 and 512.

    python benchmarks/bench_nn_linear.py

Prints the median ms per step of several runs and the nnbox/torch ratio (< 1: nnbox is faster).
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

import nnbox
from _blas import blas_line


def median_ms(fn, steps: int = 30, repeats: int = 7) -> float:
    fn()  # warm up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        runs.append((time.perf_counter() - t0) / steps * 1e3)
    return statistics.median(runs)


def linear_step(m, batch: int):
    lin = m.nn.Linear(784, 300)
    x = m.randn(batch, 784, requires_grad=True)

    def step():
        lin.zero_grad()
        lin(x).sum().backward()

    return step


def mlp_step(m, batch: int):
    nn, F = m.nn, m.nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.out = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

        def forward(self, x):
            return self.out(F.relu(self.l2(F.relu(self.l1(x)))))

    model = MLP()
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = m.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    print(blas_line())
    print(f"{'case':34s} {'nnbox ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, make in [("Linear(784,300) fwd+bwd", linear_step), ("MLP 784-300-100-10 SGD step", mlp_step)]:
        for batch in (64, 512):
            n = median_ms(make(nnbox, batch))
            t = median_ms(make(torch, batch))
            print(f"{name + f' b={batch}':34s} {n:9.3f} {t:9.3f} {n / t:6.2f}")


if __name__ == "__main__":
    main()
