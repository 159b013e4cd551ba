"""Training steps on one GPU, nnbox (CuPy) vs torch (CUDA) side by side: the seeds' ResNet18 on
CIFAR-sized batches (3x3/1 CIFAR stem: the ``ResNet18-CIFAR`` throughput, images/s), the seeds' MLP
and a 2-layer LSTM. Same weights (copied from torch), same batch, SGD with momentum; runs are
interleaved (torch, nnbox, torch, ...) and timed between ``synchronize()`` calls; medians and the
nnbox/torch ratio of images (sequences) per second are printed.

    python benchmarks/bench_gpu.py [--device cuda] [--only resnet,mlp,lstm] [--repeats 5]

``--device cpu`` runs the same comparison on the CPU (a smoke test of this script).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

import nnbox

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_models import make_mlp, make_resnet18, train_step  # noqa: E402


def make_lstm(m):
    nn = m.nn

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(64, 256, num_layers=2, batch_first=True)
            self.fc = nn.Linear(256, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    return Tagger()


def _sync(m, device):
    if device == "cuda":
        m.cuda.synchronize()


def bench(name, build, x_np, y_np, device, repeats, steps):
    torch.manual_seed(0)
    tmodel = build(torch).to(device)
    nmodel = build(nnbox)
    nmodel.load_state_dict({k: nnbox.tensor(v.detach().cpu().numpy()) for k, v in tmodel.state_dict().items()})
    nmodel.to(device)
    tstep, nstep = train_step(torch, tmodel, x_np, y_np, device), train_step(nnbox, nmodel, x_np, y_np, device)
    lt, ln = tstep().item(), nstep().item()  # warm-up (CuPy compiles its kernels here); same first loss
    assert abs(lt - ln) < 1e-2 * max(1.0, abs(lt)), f"{name}: first loss differs: torch {lt} nnbox {ln}"
    for _ in range(2):
        tstep(), nstep()
    t_runs, n_runs = [], []
    for _ in range(repeats):
        for m, fn, runs in ((torch, tstep, t_runs), (nnbox, nstep, n_runs)):
            _sync(m, device)
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            _sync(m, device)
            runs.append((time.perf_counter() - t0) / steps)
    t_s, n_s = statistics.median(t_runs), statistics.median(n_runs)
    b = x_np.shape[0]
    print(f"{name:<30s} torch {b / t_s:9.1f}/s  nnbox {b / n_s:9.1f}/s  nnbox/torch throughput {t_s / n_s:5.2f}x",
          flush=True)
    return t_s / n_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--only", default="resnet,mlp,lstm")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    if a.device == "cuda" and not (torch.cuda.is_available() and nnbox.cuda.is_available()):
        sys.exit("bench_gpu: torch and nnbox (CuPy) must both see a GPU")
    if a.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()}  torch {torch.__version__}  nnbox's CuPy "
              f"{__import__('cupy').__version__}", flush=True)
    rng = np.random.default_rng(0)
    only = set(a.only.split(","))
    ratios = {}
    if "resnet" in only:
        x, y = rng.standard_normal((128, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 128)
        ratios["resnet"] = bench("ResNet18-CIFAR train, batch 128", lambda m: make_resnet18(m, cifar_stem=True),
                                 x, y, a.device, a.repeats, a.steps)
    if "mlp" in only:
        x, y = rng.standard_normal((512, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 512)
        ratios["mlp"] = bench("seeds' MLP train, batch 512", make_mlp, x, y, a.device, a.repeats, a.steps * 5)
    if "lstm" in only:
        x, y = rng.standard_normal((64, 35, 64)).astype(np.float32), rng.integers(0, 10, 64)
        ratios["lstm"] = bench("LSTM 2x256 train, batch 64x35", make_lstm, x, y, a.device, a.repeats, a.steps)
    if "resnet" in ratios:
        ok = ratios["resnet"] >= 0.8
        print(f"ResNet18-CIFAR throughput {ratios['resnet']:.2f}x torch eager: "
              f"{'meets' if ok else 'BELOW'} the 0.8x target", flush=True)


if __name__ == "__main__":
    main()
