"""All benchmarks in one command: nnbox / torch time ratios per workload, as JSON, and a check
against the committed baseline that flags any workload more than 15% slower (relative to torch).

    python benchmarks/run_all.py --quick                    # about 20 s: writes bench.json
    python benchmarks/run_all.py --out bench.json           # the full set (a few minutes)
    python benchmarks/run_all.py --quick --compare benchmarks/baseline.json
    python benchmarks/run_all.py --compare benchmarks/baseline.json --current bench.json  # no new run

Every workload (an op's forward + backward, a model's training step, an optimizer step, a
DataLoader epoch, a save or a load) is written once against ``m`` = torch or nnbox from the
per-area scripts next to this file (``bench_ops``, ``bench_models``, ``bench_nn_sequence``,
``bench_optim``, ``bench_dataloader``, ``bench_serialization``), on the same data.
(``bench_distributed`` needs MPI ranks, ``bench_goals`` compares thread settings,
``bench_nn_linear`` and ``bench_training`` repeat the model workloads in more detail: run those on
their own.) Both libraries get one BLAS/OpenMP thread and are timed in CPU time, alternating torch
and nnbox inside every round, so load from other jobs on a shared machine hits both alike; each
side's median is kept. The ratio nnbox/torch is what is compared: absolute times drift by 20%
between runs on shared machines, the ratio measured in one run is far steadier. A compare exits
with status 1 when a workload's ratio grew by more than ``--tolerance`` (15%) over the baseline's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline.json")


def _clock() -> float:
    return time.process_time()


def measure(make, libs, number: int, repeats: int) -> dict:
    """Median CPU seconds per call of each library's step, rounds alternating between libraries."""
    steps = {name: make(lib) for name, lib in libs.items()}
    for step in steps.values():
        step()  # warm up: caches, optimizer state, lazy imports
    runs = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = _clock()
            for _ in range(number):
                step()
            runs[name].append((_clock() - t0) / number)
    return {name: statistics.median(r) for name, r in runs.items()}


# --- workloads: name -> (make(m) -> step closure, calls per timing, in the quick set) ---------------
def _op_case(fn, arrays):
    def make(m):
        xs = [m.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        g = m.ones_like(fn(m, *xs))

        def step():
            for x in xs:
                x.grad = None
            fn(m, *xs).backward(g)

        return step

    return make


def _model_case(build, batch, shape):
    import numpy as np

    import bench_models

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    y = rng.integers(0, 10, batch)

    def make(m):
        m.manual_seed(0)
        return bench_models.train_step(m, build(m), x, y)

    return make


def _optim_case(name, **kw):
    import numpy as np

    import bench_optim

    rng = np.random.default_rng(0)
    shapes = bench_optim.resnet18_shapes()
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]

    def make(m):
        params = [m.tensor(v, requires_grad=True) for v in values]
        for p, g in zip(params, grads):
            p.grad = m.tensor(g)
        return getattr(m.optim, name)(params, **kw).step

    return make


def _serialization_case(what: str):
    import io

    import numpy as np

    import bench_serialization

    rng = np.random.default_rng(0)
    arrays = {f"p{i}": rng.normal(size=s).astype(np.float32) for i, s in enumerate(bench_serialization.SHAPES)}

    def make(m):
        # in memory: the format's work, not the disk's (a path save also fsyncs, which is noise here)
        state = {k: m.tensor(v) for k, v in arrays.items()}
        buf = io.BytesIO()
        m.save(state, buf)
        data = buf.getvalue()
        return (lambda: m.save(state, io.BytesIO())) if what == "save" else (lambda: m.load(io.BytesIO(data)))

    return make


def _loader_case(samples: int = 2000):
    import numpy as np

    import bench_dataloader

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (samples, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, samples)

    def make(m):
        kind = bench_dataloader.TorchDigits if m.__name__ == "torch" else bench_dataloader.NnboxDigits
        loader = m.utils.data.DataLoader(kind(images, labels), batch_size=64, shuffle=True)

        def epoch():
            for _ in loader:
                pass

        return epoch

    return make


def workloads():
    import bench_models
    import bench_nn_sequence
    import bench_ops

    cases = {}
    quick_ops = {"add", "matmul", "sum(dim)", "x[idx]", "softmax"}
    for name, (fn, arrays) in bench_ops.small_cases().items():
        cases[f"op {name} fwd+bwd"] = (_op_case(fn, arrays), 1000, name in quick_ops)
    cases["MLP 784-128-10 step (functional)"] = (bench_ops.mlp_step_fn, 20, True)
    cases["seeds' MLP + BN SGD step, batch 64"] = (_model_case(bench_models.make_mlp, 64, (1, 28, 28)), 10, True)
    cases["CNN SGD step, batch 64"] = (_model_case(bench_models.make_cnn, 64, (1, 28, 28)), 4, True)
    cases["ResNet18 (seeds') SGD step, batch 32"] = (_model_case(bench_models.make_resnet18, 32, (3, 32, 32)), 1, False)
    quick_seq = {"cross_entropy 64x10", "LSTM classifier SGD step", "MultiheadAttention 32x64x128"}
    for name, make in bench_nn_sequence.CASES:
        cases[name] = (make, 3, name in quick_seq)
    cases["SGD momentum step, resnet18 params"] = (_optim_case("SGD", lr=0.1, momentum=0.9), 3, True)
    cases["Adam step, resnet18 params"] = (_optim_case("Adam", lr=1e-3), 3, True)
    cases["DataLoader epoch, 2000 MNIST-shaped samples, 0 workers"] = (_loader_case(), 1, True)
    cases["save resnet18 state_dict (46 MB)"] = (_serialization_case("save"), 1, False)
    cases["load resnet18 state_dict (46 MB)"] = (_serialization_case("load"), 1, False)
    return cases


def run(quick: bool, only: str = "") -> dict:
    import numpy as np
    import torch

    import nnbox

    torch.set_num_threads(1)
    repeats = 5 if quick else 9
    results = {}
    for name, (make, number, in_quick) in workloads().items():
        if (quick and not in_quick) or only.lower() not in name.lower():
            continue
        sec = measure(make, {"torch": torch, "nnbox": nnbox}, max(1, number // (2 if quick else 1)), repeats)
        results[name] = {"ratio": sec["nnbox"] / sec["torch"], "nnbox_ms": sec["nnbox"] * 1e3,
                         "torch_ms": sec["torch"] * 1e3}
        print(f"{name:42s} nnbox {sec['nnbox'] * 1e3:9.3f} ms  torch {sec['torch'] * 1e3:9.3f} ms  "
              f"ratio {results[name]['ratio']:5.2f}x", flush=True)
    return {
        "meta": {"mode": "quick" if quick else "full", "repeats": repeats, "timer": "process CPU time, 1 thread",
                 "nnbox": nnbox.__version__, "torch": torch.__version__, "numpy": np.__version__,
                 "python": platform.python_version(), "machine": platform.machine(),
                 "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
        "workloads": results,
    }


def compare(current: dict, baseline: dict, tolerance: float = 0.15) -> list[str]:
    """Lines for the workloads whose nnbox/torch ratio grew by more than ``tolerance``."""
    slower = []
    for name, now in current["workloads"].items():
        before = baseline["workloads"].get(name)
        if before is None:
            continue
        change = now["ratio"] / before["ratio"] - 1
        if change > tolerance:
            slower.append(f"SLOWER {name}: ratio {before['ratio']:.2f}x -> {now['ratio']:.2f}x ({change:+.0%})")
    return slower


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the quick subset with fewer repeats (about 20 s)")
    ap.add_argument("--only", default="", help="run only the workloads whose name contains this")
    ap.add_argument("--out", default="bench.json", help="where the JSON of ratios goes")
    ap.add_argument("--compare", metavar="BASELINE", nargs="?", const=BASELINE, default=None,
                    help=f"flag workloads slower than in BASELINE (default {os.path.relpath(BASELINE)})")
    ap.add_argument("--current", metavar="JSON", help="compare this earlier run instead of running now")
    ap.add_argument("--tolerance", type=float, default=0.15, help="allowed growth of a ratio before it is flagged")
    args = ap.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
        os.environ[var] = "1"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the bench_* modules beside this file
    if args.current:
        with open(args.current) as f:
            current = json.load(f)
    else:
        current = run(args.quick, args.only)
        with open(args.out, "w") as f:
            json.dump(current, f, indent=1, sort_keys=True)
        print(f"wrote {args.out}")
    if args.compare is None:
        return 0
    with open(args.compare) as f:
        baseline = json.load(f)
    slower = compare(current, baseline, args.tolerance)
    shared = len(set(current["workloads"]) & set(baseline["workloads"]))
    for line in slower:
        print(line)
    print(f"{len(slower)} of {shared} workloads more than {args.tolerance:.0%} slower than {args.compare}")
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
