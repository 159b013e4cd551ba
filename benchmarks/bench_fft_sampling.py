"""FFT, grid_sample and bicubic/antialiased interpolate, forward + backward: nnbox vs torch in one
run, interleaved, medians of several repeats.

    python benchmarks/bench_fft_sampling.py [--repeats 7]

Each case runs the same code with ``m = torch`` and ``m = nnbox`` on the same NumPy data (float32,
one thread).  Printed: median time per call and nnbox/torch (lower is better for nnbox).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnbox  # noqa: E402

torch.set_num_threads(1)
RNG = np.random.default_rng(0)


def _spectral(m, x):
    y = m.fft.irfft(m.fft.rfft(x, dim=-1) * 0.5, n=x.shape[-1], dim=-1)
    (y * y).sum().backward()


def _fft2(m, x):
    m.fft.fft2(x).abs().sum().backward()


def _grid(m, x, g):
    m.nn.functional.grid_sample(x, g, mode="bilinear", padding_mode="border", align_corners=False).sum().backward()


def _bicubic(m, x):
    m.nn.functional.interpolate(x, size=(48, 48), mode="bicubic", align_corners=False).sum().backward()


def _antialias(m, x):
    m.nn.functional.interpolate(x, size=(24, 24), mode="bilinear", antialias=True).sum().backward()


CASES = [
    ("rfft -> irfft (64, 1024)", _spectral, [(64, 1024)]),
    ("fft2 |.| (16, 64, 64)", _fft2, [(16, 64, 64)]),
    ("grid_sample (8,3,64,64)", _grid, [(8, 3, 64, 64), "grid"]),
    ("bicubic 64->48 (8,3,64,64)", _bicubic, [(8, 3, 64, 64)]),
    ("antialias 64->24 (8,3,64,64)", _antialias, [(8, 3, 64, 64)]),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"{'case':32s} {'torch ms':>9s} {'nnbox ms':>9s} {'ratio':>6s}")
    for name, fn, specs in CASES:
        arrays = []
        for s in specs:
            if s == "grid":
                arrays.append(RNG.uniform(-1.1, 1.1, (8, 64, 64, 2)).astype(np.float32))
            else:
                arrays.append(RNG.standard_normal(s).astype(np.float32))
        times = {"torch": [], "nnbox": []}
        for _ in range(args.repeats):  # interleaved: both libraries see the same machine state
            for lib, m in (("torch", torch), ("nnbox", nnbox)):
                ts = [m.tensor(a, requires_grad=True) for a in arrays]
                t0 = time.perf_counter()
                fn(m, *ts)
                times[lib].append(time.perf_counter() - t0)
        t, n = statistics.median(times["torch"]), statistics.median(times["nnbox"])
        print(f"{name:32s} {t * 1e3:9.2f} {n * 1e3:9.2f} {n / t:6.2f}")


if __name__ == "__main__":
    main()
