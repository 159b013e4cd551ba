"""torch's CPU random stream in nnbox: 10^7 float32 normals (the vectorised Box-Muller path) and
10^7 float32 uniforms, against NumPy's ``Generator.standard_normal``/``random`` (the goal: within
2x of NumPy) and torch itself.  Interleaved repeats, medians; the ratios from one run hold.

    python benchmarks/bench_random.py [--repeats 7] [--n 10000000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnbox  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--n", type=int, default=10**7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n = args.n
    rng = np.random.default_rng(0)
    cases = {
        "normal": {
            "numpy": lambda: rng.standard_normal(n, dtype=np.float32),
            "nnbox": lambda: nnbox.randn(n),
            "torch": lambda: torch.randn(n),
        },
        "uniform": {
            "numpy": lambda: rng.random(n, dtype=np.float32),
            "nnbox": lambda: nnbox.rand(n),
            "torch": lambda: torch.rand(n),
        },
    }
    for name, fns in cases.items():
        times = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, fn in fns.items():  # interleaved: drift on a shared machine hits all three alike
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name:8s} n={n}: numpy {med['numpy'] * 1e3:7.1f} ms  nnbox {med['nnbox'] * 1e3:7.1f} ms  "
              f"torch {med['torch'] * 1e3:7.1f} ms   nnbox/numpy {med['nnbox'] / med['numpy']:.2f}x  "
              f"nnbox/torch {med['nnbox'] / med['torch']:.2f}x")


if __name__ == "__main__":
    main()
