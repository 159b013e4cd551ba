"""Per-op overhead and a large matmul: nnbox vs torch in one run, medians of several repeats.

    python benchmarks/bench_ops.py [--repeats 7] [--threads 1] [--quick]

Each case runs the same code with ``m = torch`` and ``m = nnbox`` on the same NumPy data.  Small
cases measure framework overhead (tensors of 16-64 elements, ``requires_grad=True``): the forward
op alone, then forward + backward with an explicit upstream gradient.  The large case is a
1024x1024 float32 matmul, forward + backward.  Printed: median time per call and nnbox/torch (lower
is better for nnbox; absolute times drift on shared machines, the ratio from one run holds).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _threads_from_argv(default: int = 1) -> int:
    """``--threads N`` must act before NumPy/torch load their BLAS, so it is read here, early."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return default


THREADS = _threads_from_argv()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnbox  # noqa: E402
from _import_cost import import_time  # noqa: E402

torch.set_num_threads(THREADS)


TIMER = [time.process_time]  # set from --timer in main()


def _bench(fn, number: int, repeats: int) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` timings of ``number`` calls each."""
    clock = TIMER[0]
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(number):
            fn()
        times.append((clock() - t0) / number)
    return statistics.median(times)


def _inputs(m, arrays, grad=True):
    return [m.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]


def small_cases():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 8)).astype(np.float32)
    b = rng.standard_normal((8, 8)).astype(np.float32)
    v = rng.standard_normal((8,)).astype(np.float32)
    idx = np.array([0, 3, 5])
    return {
        "add": (lambda m, x, y: x + y, [a, b]),
        "add (broadcast)": (lambda m, x, y: x + y, [a, v]),
        "mul": (lambda m, x, y: x * y, [a, b]),
        "mul scalar": (lambda m, x: x * 2.0, [a]),
        "matmul": (lambda m, x, y: x @ y, [a, b]),
        "sum": (lambda m, x: x.sum(), [a]),
        "sum(dim)": (lambda m, x: x.sum(1), [a]),
        "relu": (lambda m, x: m.relu(x), [a]),
        "x[1:5, ::2]": (lambda m, x: x[1:5, ::2], [a]),
        "x[idx]": (lambda m, x: x[m.tensor(idx)], [a]),
        "view": (lambda m, x: x.view(64), [a]),
        "softmax": (lambda m, x: m.softmax(x, 1), [a]),
    }


def run_case(fn, arrays, lib, number, repeats):
    xs = _inputs(lib, arrays)
    out = fn(lib, *xs)
    g = lib.ones_like(out)

    def fwd():
        fn(lib, *xs)

    def fwd_bwd():
        fn(lib, *xs).backward(g)

    def fwd_nograd():
        with lib.no_grad():
            fn(lib, *xs)

    return _bench(fwd_nograd, number, repeats), _bench(fwd, number, repeats), _bench(fwd_bwd, number, repeats)


def mlp_step(lib, number, repeats):
    """One training step of a small MLP (784-128-10, batch 64) without an optimizer: a realistic mix."""
    return _bench(mlp_step_fn(lib), number, repeats)


def mlp_step_fn(lib):
    """The closure ``mlp_step`` times (also used by run_all.py)."""
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))
    w1 = lib.tensor((rng.standard_normal((128, 784)) * 0.03).astype(np.float32), requires_grad=True)
    b1 = lib.zeros(128, requires_grad=True)
    w2 = lib.tensor((rng.standard_normal((10, 128)) * 0.1).astype(np.float32), requires_grad=True)
    b2 = lib.zeros(10, requires_grad=True)

    def step():
        h = lib.relu(lib.addmm(b1, x, w1.t()))
        logits = lib.addmm(b2, h, w2.t())
        loss = -lib.log_softmax(logits, 1)[lib.arange(64), y].mean()
        for p in (w1, b1, w2, b2):
            p.grad = None
        loss.backward()

    return step


def big_matmul(lib, n, repeats):
    rng = np.random.default_rng(2)
    a = lib.tensor(rng.standard_normal((n, n)).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal((n, n)).astype(np.float32), requires_grad=True)
    g = lib.ones(n, n)

    def fwd_bwd():
        a.grad = b.grad = None
        (a @ b).backward(g)

    def fwd():
        with lib.no_grad():
            a @ b

    return _bench(fwd, 1, repeats), _bench(fwd_bwd, 1, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--number", type=int, default=300, help="calls per timing for the small cases")
    ap.add_argument("--size", type=int, default=1024, help="side of the large matmul")
    ap.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    ap.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                    help="cpu: process CPU time (default; robust when other jobs share the cores, and "
                    "fair with --threads 1); wall: elapsed time")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP threads for both libraries (default 1: stable on shared machines)")
    args = ap.parse_args()
    TIMER[0] = time.process_time if args.timer == "cpu" else time.perf_counter
    number = 30 if args.quick else args.number
    repeats = 3 if args.quick else args.repeats
    print(f"nnbox {nnbox.__version__} (numpy {np.__version__}) vs torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); {args.timer} time, medians of {repeats} x {number} calls\n")
    head = f"{'op (8x8 float32, grad on)':<26}{'no_grad fwd':>24}{'fwd (graph)':>24}{'fwd+bwd':>24}"
    print(head)
    print(f"{'':<26}" + f"{'nnbox  torch  ratio':>24}" * 3)
    ratios = []
    for name, (fn, arrays) in small_cases().items():
        n = run_case(fn, arrays, nnbox, number, repeats)
        t = run_case(fn, arrays, torch, number, repeats)
        cells = "".join(f"{a * 1e6:>9.1f}us{b * 1e6:>6.1f}us{a / b:>6.2f}x" for a, b in zip(n, t))
        ratios.append(n[2] / t[2])
        print(f"{name:<26}{cells}")
    print(f"\ngeometric mean ratio, fwd+bwd: {np.exp(np.mean(np.log(ratios))):.2f}x")
    n, t = mlp_step(nnbox, max(number // 10, 10), repeats), mlp_step(torch, max(number // 10, 10), repeats)
    print(f"\nMLP 784-128-10 step (batch 64, fwd+bwd): nnbox {n * 1e3:.3f} ms  torch {t * 1e3:.3f} ms  ratio {n / t:.2f}x")
    nf, nb = big_matmul(nnbox, args.size, repeats)
    tf, tb = big_matmul(torch, args.size, repeats)
    print(f"matmul {args.size}x{args.size} float32 fwd:      nnbox {nf * 1e3:8.2f} ms  torch {tf * 1e3:8.2f} ms  ratio {nf / tf:.2f}x")
    print(f"matmul {args.size}x{args.size} float32 fwd+bwd:  nnbox {nb * 1e3:8.2f} ms  torch {tb * 1e3:8.2f} ms  ratio {nb / tb:.2f}x")
    ni, npi, ti = (import_time(mod, repeats) for mod in ("nnbox", "numpy", "torch"))
    print(f"\nimport (CPU time in a fresh interpreter): nnbox {ni * 1e3:.0f} ms (numpy alone {npi * 1e3:.0f} ms), "
          f"torch {ti * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
