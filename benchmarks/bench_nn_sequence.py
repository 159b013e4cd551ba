"""Activations, losses, recurrent and attention layers: nnbox vs torch side by side.

    python benchmarks/bench_nn_sequence.py [--quick] [--only SUBSTRING]

Each case is forward + backward (training steps also run SGD).  Prints the median CPU ms per step of
several runs and the nnbox/torch ratio (< 1: nnbox is faster).  Both libraries use the same
shapes, dtypes (float32) and ``--threads`` BLAS/OpenMP threads (default 1: on these shared 2-core
machines, 2 spinning threads per library made torch's timings 10-100x noisier).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__":  # thread counts must be fixed before numpy / torch load their BLAS
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnbox  # noqa: E402
from _blas import blas_line  # noqa: E402


def median_ms(fn, steps: int, repeats: int, clock=time.process_time) -> float:
    """Median ms per call.  CPU time by default: with one thread it is the work done, and on the shared
    machines it is far steadier than wall time (other tenants' load inflates the latter)."""
    fn()  # warm up
    runs = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(steps):
            fn()
        runs.append((clock() - t0) / steps * 1e3)
    return statistics.median(runs)


def _x(m, *shape, grad=True):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return m.tensor(a, requires_grad=grad)


def activation(name):
    def make(m):
        x = _x(m, 256, 1024)
        f = getattr(m.nn.functional, name)

        def step():
            x.grad = None
            f(x).sum().backward()
        return step
    return make


def cross_entropy(batch, classes, smoothing=0.0):
    def make(m):
        x = _x(m, batch, classes)
        y = m.tensor(np.random.default_rng(1).integers(0, classes, batch))

        def step():
            x.grad = None
            m.nn.functional.cross_entropy(x, y, label_smoothing=smoothing).backward()
        return step
    return make


def lstm_classifier(kind):
    """Embedding(1000, 64) -> 2-layer {kind}(64, 128) -> Linear(128, 10) on the last step; batch 32, T 35."""
    def make(m):
        nn = m.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(1000, 64)
                self.rnn = getattr(nn, kind)(64, 128, num_layers=2, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, x):
                out = self.rnn(self.emb(x))[0]
                return self.fc(out[:, -1])

        net = Net()
        opt = m.optim.SGD(net.parameters(), lr=0.1)
        rng = np.random.default_rng(0)
        x = m.tensor(rng.integers(0, 1000, (32, 35)))
        y = m.tensor(rng.integers(0, 10, 32))

        def step():
            opt.zero_grad()
            m.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        return step
    return make


def rnn_layer(kind):
    """A bare {kind}(64, 128) on (T=35, B=32, 64): forward + backward to the input and weights."""
    def make(m):
        mod = getattr(m.nn, kind)(64, 128)
        x = _x(m, 35, 32, 64)

        def step():
            mod.zero_grad()
            x.grad = None
            mod(x)[0].sum().backward()
        return step
    return make


def mha(m):
    mod = m.nn.MultiheadAttention(128, 4, batch_first=True)
    x = _x(m, 32, 64, 128)

    def step():
        mod.zero_grad()
        x.grad = None
        mod(x, x, x, need_weights=False)[0].sum().backward()
    return step


def encoder_layer(m):
    mod = m.nn.TransformerEncoderLayer(128, 4, 256, dropout=0.1, batch_first=True)
    x = _x(m, 32, 64, 128)

    def step():
        mod.zero_grad()
        x.grad = None
        mod(x).sum().backward()
    return step


CASES = [
    ("relu 256x1024", activation("relu")),
    ("gelu 256x1024", activation("gelu")),
    ("silu 256x1024", activation("silu")),
    ("cross_entropy 64x10", cross_entropy(64, 10)),
    ("cross_entropy 512x1000 ls=0.1", cross_entropy(512, 1000, 0.1)),
    ("LSTM layer 35x32x64->128", rnn_layer("LSTM")),
    ("GRU layer 35x32x64->128", rnn_layer("GRU")),
    ("LSTM classifier SGD step", lstm_classifier("LSTM")),
    ("GRU classifier SGD step", lstm_classifier("GRU")),
    ("MultiheadAttention 32x64x128", mha),
    ("TransformerEncoderLayer 32x64x128", encoder_layer),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads for both libraries")
    ap.add_argument("--only", default="", help="run only the cases whose name contains this (case-insensitive)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    steps, repeats = (3, 3) if args.quick else (10, 5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    print(blas_line())
    print(f"{'case':36s} {'nnbox ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, make in CASES:
        if args.only.lower() not in name.lower():
            continue
        n = median_ms(make(nnbox), steps, repeats)
        t = median_ms(make(torch), steps, repeats)
        print(f"{name:36s} {n:9.3f} {t:9.3f} {n / t:6.2f}", flush=True)


if __name__ == "__main__":
    main()
