"""The performance issue's table in one run: every workload, nnbox time / torch time, both columns.

    python benchmarks/bench_goals.py [--repeats 5] [--only mlp64,cnn,...] [--json out.json]

Column 1: each library with its default threads (torch: its intra-op default; nnbox: the same
count via ``nnbox.set_num_threads``).  Column 2: one thread each (``set_num_threads(1)`` in both,
NumPy's BLAS through threadpoolctl).  Each ratio is the median over ``--repeats`` rounds in which
the two libraries alternate; after every switch each side first runs untimed warm-up steps, since
OpenMP/BLAS threads sleep while the other library runs and the first milliseconds after a switch
run slow.  Below 1: nnbox is faster.  Same weights (copied from torch) and same batches.

Rows: the seeds' MLP + BN at batch 64 and 512, a small CNN (3x3 conv-relu-pool x2, 32/64 channels,
1x28x28, batch 64), CIFAR ResNet18 (3x3 stem) train step and inference at batch 32, an LSTM
classifier step, bare LSTM and GRU layers, a TransformerEncoderLayer step, exact GELU, Adam and
SGD steps over ResNet18's 11.7M parameters, small-tensor ops with autograd, and (in subprocesses)
peak RSS of the seeds' MLP training run and ``import nnbox`` against ``import numpy``.

The header says which kernels NumPy's BLAS runs: where ``OPENBLAS_CORETYPE`` forces older ones,
run ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_goals.py`` (see
``_blas.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# the nnbox of the checkout this file is in, ahead of an installed one (another worktree's, say)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import nnbox  # noqa: E402
from _blas import blas_line  # noqa: E402
from _import_cost import import_time  # noqa: E402
from bench_models import copy_weights, make_mlp, make_resnet18, train_step  # noqa: E402
from bench_nn_sequence import lstm_classifier, rnn_layer  # noqa: E402
from bench_optim import resnet18_shapes  # noqa: E402


def small_cnn(m):
    nn = m.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def model_case(build, shape, classes=10, train=True):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0])
    models = {}

    def make(m):
        if m is torch:
            torch.manual_seed(0)
        model = build(m)
        if m is torch:
            models["torch"] = model
        else:
            copy_weights(models["torch"], model)
        if train:
            return train_step(m, model, x, y)
        model.eval()
        xt = m.tensor(x)

        def infer():
            with m.no_grad():
                return model(xt)
        return infer

    return make


def gelu_case(m):
    x = m.tensor(np.random.default_rng(0).standard_normal((256, 1024)).astype(np.float32), requires_grad=True)

    def step():
        x.grad = None
        m.nn.functional.gelu(x).sum().backward()
    return step


def encoder_case(m):
    if m is torch:
        torch.manual_seed(0)
    mod = m.nn.TransformerEncoderLayer(128, 4, 256, dropout=0.1, batch_first=True)
    opt = m.optim.SGD(mod.parameters(), lr=0.01)
    x = m.tensor(np.random.default_rng(0).standard_normal((32, 64, 128)).astype(np.float32))

    def step():
        opt.zero_grad()
        mod(x).pow(2).mean().backward()
        opt.step()
    return step


def optim_case(name):
    def make(m):
        rng = np.random.default_rng(0)
        ps = [m.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in resnet18_shapes()]
        for p in ps:
            p.grad = m.tensor(rng.standard_normal(p.shape).astype(np.float32) * 1e-2)
        opt = m.optim.Adam(ps, lr=1e-3) if name == "adam" else m.optim.SGD(ps, lr=0.01, momentum=0.9)
        return opt.step
    return make


def small_ops_case(m):
    rng = np.random.default_rng(0)
    a = m.tensor(rng.standard_normal((8, 8)), requires_grad=True)
    b = m.tensor(rng.standard_normal((8, 8)), requires_grad=True)

    def step():
        a.grad = b.grad = None
        y = (a + b) * a
        z = y @ b
        _ = z.shape, z.size()
        z.sum().backward()
    return step


CASES = {
    "mlp64": ("seeds' MLP + BN, batch 64", model_case(make_mlp, (64, 1, 28, 28)), 20),
    "mlp512": ("seeds' MLP + BN, batch 512", model_case(make_mlp, (512, 1, 28, 28)), 5),
    "cnn": ("small CNN 3x3 32/64, batch 64", model_case(small_cnn, (64, 1, 28, 28)), 2),
    "resnet_train": ("CIFAR ResNet18 train step, batch 32",
                     model_case(lambda m: make_resnet18(m, cifar_stem=True), (32, 3, 32, 32)), 1),
    "resnet_infer": ("CIFAR ResNet18 inference, batch 32",
                     model_case(lambda m: make_resnet18(m, cifar_stem=True), (32, 3, 32, 32), train=False), 1),
    "lstm_clf": ("LSTM classifier step", lstm_classifier("LSTM"), 2),
    "lstm": ("bare LSTM layer", rnn_layer("LSTM"), 3),
    "gru": ("bare GRU layer", rnn_layer("GRU"), 3),
    "encoder": ("TransformerEncoderLayer step", encoder_case, 3),
    "gelu": ("exact GELU fwd+bwd 256x1024", gelu_case, 10),
    "adam": ("Adam step, 11.7M params", optim_case("adam"), 2),
    "sgd": ("SGD step, 11.7M params", optim_case("sgd"), 2),
    "small_ops": ("small ops with autograd (8x8)", small_ops_case, 200),
}


def set_threads(n: int | None, torch_default: int) -> None:
    n_t = torch_default if n is None else n
    torch.set_num_threads(n_t)
    nnbox.set_num_threads(n_t)  # also limits NumPy's BLAS through threadpoolctl


def timed(fn, steps: int, warmup: int, clock=time.perf_counter) -> float:
    for _ in range(warmup):
        fn()
    t0 = clock()
    for _ in range(steps):
        fn()
    return (clock() - t0) / steps


def ratio(make, steps: int, repeats: int, clock=time.perf_counter) -> tuple[float, float, float]:
    t_step, n_step = make(torch), make(nnbox)
    t_step(), n_step()
    tt, tn = [], []
    for _ in range(repeats):
        tt.append(timed(t_step, steps, warmup=max(1, steps // 4), clock=clock))
        tn.append(timed(n_step, steps, warmup=max(1, steps // 4), clock=clock))
    return statistics.median(tn) * 1e3, statistics.median(tt) * 1e3, statistics.median(n / t for n, t in zip(tn, tt))


def peak_rss_ratio() -> float:
    """Peak RSS of a 200-step seeds' MLP training run, nnbox / torch, each in its own process
    (VmHWM: ``ru_maxrss`` would carry this parent's peak across fork and exec)."""
    code = """
import sys, numpy as np
lib = __import__(sys.argv[1]); nn = lib.nn
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.BatchNorm1d(300), nn.ReLU(),
                      nn.Linear(300, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Linear(100, 10))
opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
rng = np.random.default_rng(0); x = lib.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
y = lib.tensor(rng.integers(0, 10, 64))
for _ in range(200):
    opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""
    rss = {}
    for lib in ("torch", "nnbox"):
        out = subprocess.run([sys.executable, "-c", code, lib], capture_output=True, text=True, check=True)
        rss[lib] = int(out.stdout.split()[-1])
    return rss["nnbox"] / rss["torch"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    ap.add_argument("--json", default=None, help="write the ratios here")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time the one-thread column by this thread's CPU time (time.thread_time), which "
                         "other processes' load does not inflate; the default-threads column stays wall time")
    args = ap.parse_args()
    default = torch.get_num_threads()
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, default threads {default}; load average {load:.2f} on {os.cpu_count()} cores")
    print(blas_line())
    print(f"{'workload':<38s} {'default threads':>16s} {'1 thread each':>15s}")
    results = {}
    for key in args.only.split(","):
        name, make, steps = CASES[key]
        row = []
        for threads in (None, 1):
            set_threads(threads, default)
            clock = time.thread_time if threads == 1 and args.cpu_time else time.perf_counter
            row.append(ratio(make, steps, args.repeats, clock)[2])
        results[key] = row
        print(f"{name:<38s} {row[0]:16.2f} {row[1]:15.2f}", flush=True)
    set_threads(None, default)
    results["peak_rss"] = [peak_rss_ratio(), None]
    print(f"{'peak RSS, seeds MLP training run':<38s} {results['peak_rss'][0]:16.2f} {'-':>15s}")
    n_imp, np_imp = import_time("nnbox", args.repeats), import_time("numpy", args.repeats)
    results["import"] = [n_imp - np_imp, None]
    print(f"{'import nnbox - import numpy (s)':<38s} {n_imp - np_imp:16.3f} {'-':>15s}   (nnbox {n_imp:.3f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": load, "threads": default, "ratios": results}, f, indent=1)


if __name__ == "__main__":
    main()
