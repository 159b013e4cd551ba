"""One epoch of ``nnbox demo`` vs the same epoch in PyTorch, side by side.

The seeds' Model_Seq (784-300-100-10, BatchNorm1d, ReLU) on the 4,000 MNIST5k training images,
batch 64, SGD momentum 0.9, then evaluation on the 1,000 test images: ``nnbox.training.fit`` (with
its progress, checkpoint-free) against the seeds' ``train_ch5`` loop written in torch with torch's
DataLoader.  One BLAS/OpenMP thread each (stable on a shared machine; the demo's default);
epochs alternate between the libraries; medians of wall and process CPU time are printed.

    python benchmarks/bench_training.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import numpy as np
import torch

import nnbox
from nnbox.cli import model_seq
from nnbox.training import fit
from nnbox.vision.datasets import MNIST5k


def _data():
    out = []
    for train in (True, False):
        ds = MNIST5k(train=train)
        x = (ds.data.numpy().astype(np.float32)[:, None] / 255.0 - 0.5) / 0.5
        out.append((x, ds.targets.numpy()))
    return out


def _torch_model():
    tnn = torch.nn
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 300), tnn.BatchNorm1d(300), tnn.ReLU(),
                          tnn.Linear(300, 100), tnn.BatchNorm1d(100), tnn.ReLU(), tnn.Linear(100, 10))


def torch_epoch(model, opt, train, test) -> None:
    """The seeds' train_ch5 body for one epoch, then evaluate_accuracy."""
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for X, y in train:
        y_hat = model(X)
        loss = loss_fn(y_hat, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        (y_hat.argmax(dim=1) == y).sum().item()
    model.eval()
    with torch.no_grad():
        for X, y in test:
            (model(X).argmax(dim=1) == y).sum().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    (xtr, ytr), (xte, yte) = _data()
    n_model = model_seq(784, 300, 100, 10)
    n_opt = nnbox.optim.SGD(n_model.parameters(), lr=0.02, momentum=0.9)
    from nnbox.utils.data import DataLoader, TensorDataset

    n_train = DataLoader(TensorDataset(nnbox.tensor(xtr), nnbox.tensor(ytr)), batch_size=64, shuffle=True)
    n_test = DataLoader(TensorDataset(nnbox.tensor(xte), nnbox.tensor(yte)), batch_size=1000)
    t_model = _torch_model()
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.02, momentum=0.9)
    t_train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(xtr), torch.tensor(ytr)), batch_size=64, shuffle=True)
    t_test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(xte), torch.tensor(yte)), batch_size=1000)
    runs = {"nnbox": ([], []), "torch": ([], [])}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(args.repeats):
            for name, step in (
                ("nnbox", lambda: fit(n_model, n_train, n_opt, nnbox.nn.CrossEntropyLoss(), 1, n_test, progress=False)),
                ("torch", lambda: torch_epoch(t_model, t_opt, t_train, t_test)),
            ):
                w, c = time.perf_counter(), time.process_time()
                with contextlib.redirect_stdout(io.StringIO()):
                    step()
                runs[name][0].append(time.perf_counter() - w)
                runs[name][1].append(time.process_time() - c)
    med = {k: (statistics.median(v[0]), statistics.median(v[1])) for k, v in runs.items()}
    print(f"one demo epoch (4000 train + 1000 test images), 1 thread, medians of {args.repeats}")
    print(f"{'':8}{'wall':>10}{'cpu':>10}")
    for k, (w, c) in med.items():
        print(f"{k:8}{w:>9.3f}s{c:>9.3f}s")
    print(f"{'ratio':8}{med['nnbox'][0] / med['torch'][0]:>10.2f}{med['nnbox'][1] / med['torch'][1]:>10.2f}  (nnbox / torch)")


if __name__ == "__main__":
    main()
