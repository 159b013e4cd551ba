"""Whole-model training steps, nnbox vs torch side by side (forward + backward + SGD update):

* the seeds' MLP (Flatten, 784-300-100-10 Linear + BatchNorm1d + ReLU), batch 64 and 512;
* a small CNN: two conv(5x5)-relu-maxpool(2) blocks on 1x28x28 input + Linear, batch 64;
* the seeds' ResNet18 ("RestNet18": 7x7/2 stem + maxpool, four stages of basic blocks) on
  CIFAR-sized 3x32x32 images, batch 32 (``--cifar-stem`` swaps in the 3x3/1 stem, no maxpool,
  that CIFAR ResNets use; about 16x the work).

Both libraries run the same model code (written once against ``m.nn``), start from the same
weights (copied from torch) and see the same batch.  Runs are interleaved (torch, nnbox, torch,
...) so machine-load drift hits both; the medians and the nnbox/torch ratio are printed.

    python benchmarks/bench_models.py [--only mlp,cnn,resnet] [--repeats 7] [--cifar-stem]
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_models.py --cpu-time

On a shared, overloaded machine wall-clock times of multi-threaded BLAS/OpenMP code swing by 10x
(threads spin waiting for descheduled partners).  ``--cpu-time`` compares the work instead: one
thread each (torch.set_num_threads(1); NumPy's BLAS via OPENBLAS_NUM_THREADS=1) and process CPU
time, best of the repeats.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import nnbox
from _blas import blas_line

# --- models, written once against either library ----------------------------------------------------

def make_mlp(m):
    nn, F = m.nn, m.nn.functional

    class Model_Seq(nn.Module):  # the seeds' MLP; logits out (cross-entropy applies the softmax)
        def __init__(self, in_dim=784, n_hidden_1=300, n_hidden_2=100, out_dim=10):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear1 = nn.Linear(in_dim, n_hidden_1)
            self.bn1 = nn.BatchNorm1d(n_hidden_1)
            self.linear2 = nn.Linear(n_hidden_1, n_hidden_2)
            self.bn2 = nn.BatchNorm1d(n_hidden_2)
            self.out = nn.Linear(n_hidden_2, out_dim)

        def forward(self, x):
            x = self.flatten(x)
            x = F.relu(self.bn1(self.linear1(x)))
            x = F.relu(self.bn2(self.linear2(x)))
            return self.out(x)

    return Model_Seq()


def make_cnn(m):
    nn = m.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def make_resnet18(m, cifar_stem: bool = False):
    nn, F = m.nn, m.nn.functional

    class RestNetBasicBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=stride, padding=1)
            self.bn2 = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += x
            return F.relu(out)

    class RestNetDownBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride[0], padding=1)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=stride[1], padding=1)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.extra = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride[0], padding=0),
                                       nn.BatchNorm2d(out_channels))

        def forward(self, x):
            extra_x = self.extra(x)
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += extra_x
            return F.relu(out)

    class RestNet18(nn.Module):
        def __init__(self):
            super().__init__()
            if cifar_stem:
                self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1)
                self.maxpool = nn.Identity()
            else:
                self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
                self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.bn1 = nn.BatchNorm2d(64)
            self.layer1 = nn.Sequential(RestNetBasicBlock(64, 64, 1), RestNetBasicBlock(64, 64, 1))
            self.layer2 = nn.Sequential(RestNetDownBlock(64, 128, [2, 1]), RestNetBasicBlock(128, 128, 1))
            self.layer3 = nn.Sequential(RestNetDownBlock(128, 256, [2, 1]), RestNetBasicBlock(256, 256, 1))
            self.layer4 = nn.Sequential(RestNetDownBlock(256, 512, [2, 1]), RestNetBasicBlock(512, 512, 1))
            self.avgpool = nn.AdaptiveAvgPool2d(output_size=(1, 1))
            self.fc = nn.Linear(512, 10)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.maxpool(x)
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            x = self.layer4(x)
            x = self.avgpool(x)
            x = x.reshape(x.shape[0], -1)
            return self.fc(x)

    return RestNet18()


# --- the training step -----------------------------------------------------------------------------

def train_step(m, model, x_np, y_np, device: str = "cpu"):
    """A closure running one SGD step of ``model`` on the fixed batch (on ``device``)."""
    F = m.nn.functional
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = m.tensor(x_np).to(device), m.tensor(y_np).to(device)
    model.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def copy_weights(tmodel, nmodel) -> None:
    sd = {k: nnbox.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    nmodel.load_state_dict(sd)


def bench(name, build, x_np, y_np, repeats: int, steps: int, cpu_time: bool = False) -> tuple[float, float]:
    torch.manual_seed(0)
    tmodel = build(torch)
    nmodel = build(nnbox)
    copy_weights(tmodel, nmodel)
    tstep = train_step(torch, tmodel, x_np, y_np)
    nstep = train_step(nnbox, nmodel, x_np, y_np)
    lt, ln = float(tstep().detach()), float(nstep().detach())  # warm up; the first losses must agree
    assert abs(lt - ln) < 1e-3 * max(1.0, abs(lt)), f"{name}: first loss differs: torch {lt} nnbox {ln}"
    clock = time.process_time if cpu_time else time.perf_counter
    t_runs, n_runs = [], []
    for _ in range(repeats):
        for fn, runs in ((tstep, t_runs), (nstep, n_runs)):
            t0 = clock()
            for _ in range(steps):
                fn()
            runs.append((clock() - t0) / steps * 1e3)
    pick = min if cpu_time else statistics.median
    t_ms, n_ms = pick(t_runs), pick(n_runs)
    print(f"{name:<34s} torch {t_ms:9.2f} ms   nnbox {n_ms:9.2f} ms   ratio {n_ms / t_ms:5.2f}x", flush=True)
    return t_ms, n_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="mlp,cnn,resnet", help="comma-separated subset of mlp,cnn,resnet")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cifar-stem", action="store_true", help="ResNet18 with the 3x3/1 CIFAR stem (heavier)")
    ap.add_argument("--cpu-time", action="store_true", help="one thread each, CPU time (see the module doc)")
    args = ap.parse_args()
    if args.cpu_time:
        import os

        torch.set_num_threads(1)
        if hasattr(nnbox, "set_num_threads"):  # nnbox's element-wise threads too: one thread each
            nnbox.set_num_threads(1)
        if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
            print("warning: --cpu-time expects OPENBLAS_NUM_THREADS=1 so NumPy's BLAS runs one thread too")
    only = set(args.only.split(","))
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}, numpy {np.__version__}")
    print(blas_line())
    what = "best CPU ms (1 thread each)" if args.cpu_time else "median wall ms"
    print(f"{what} per training step (forward + backward + SGD momentum update); ratio = nnbox / torch")
    if "mlp" in only:
        for batch in (64, 512):
            x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
            y = rng.integers(0, 10, batch)
            bench(f"MLP 784-300-100-10 + BN, batch {batch}", make_mlp, x, y, args.repeats, 50 if batch == 64 else 20,
                  args.cpu_time)
    if "cnn" in only:
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        bench("CNN 2x(conv-relu-pool), batch 64", make_cnn, x, y, args.repeats, 5, args.cpu_time)
    if "resnet" in only:
        x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, 32)
        label = "ResNet18 (CIFAR stem)" if args.cifar_stem else "ResNet18 (seeds')"
        bench(f"{label} 3x32x32, batch 32", lambda m: make_resnet18(m, args.cifar_stem), x, y, args.repeats,
              1 if args.cifar_stem else 2, args.cpu_time)


if __name__ == "__main__":
    main()
