"""nnbox.save / nnbox.load vs torch.save / torch.load on a ResNet18-sized state_dict (46 MB).

    python benchmarks/bench_serialization.py

Prints the median of several runs for each and the nnbox/torch ratio (lower is better for nnbox).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
import torch

import nnbox

# the parameter shapes of torchvision's resnet18 (11.7M float32 values)
SHAPES = [(64, 3, 7, 7)] + [(64, 64, 3, 3)] * 4 + [(128, 64, 3, 3), (128, 128, 3, 3) * 1, (128, 64, 1, 1)] + \
    [(128, 128, 3, 3)] * 2 + [(256, 128, 3, 3), (256, 256, 3, 3), (256, 128, 1, 1)] + [(256, 256, 3, 3)] * 2 + \
    [(512, 256, 3, 3), (512, 512, 3, 3), (512, 256, 1, 1)] + [(512, 512, 3, 3)] * 2 + [(1000, 512), (1000,)]


def _pair(fn_nnbox, fn_torch, runs=9):
    """Medians of alternating runs (so drifting machine load hits both sides alike)."""
    times = ([], [])
    for _ in range(runs):
        for fn, out in ((fn_nnbox, times[0]), (fn_torch, times[1])):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    rng = np.random.default_rng(0)
    arrays = {f"p{i}": rng.normal(size=s).astype(np.float32) for i, s in enumerate(SHAPES)}
    n_sd = {k: nnbox.tensor(v) for k, v in arrays.items()}
    t_sd = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    mb = sum(v.nbytes for v in arrays.values()) / 1e6
    with tempfile.TemporaryDirectory() as d:
        pn, pt = os.path.join(d, "n.pt"), os.path.join(d, "t.pt")
        rows = [
            # nnbox.save to a path also fsyncs (atomic, durable checkpoint); torch.save does not
            ("save", *_pair(lambda: nnbox.save(n_sd, pn), lambda: torch.save(t_sd, pt))),
            ("load", *_pair(lambda: nnbox.load(pn), lambda: torch.load(pt))),
            ("load mmap", *_pair(lambda: nnbox.load(pn, mmap=True), lambda: torch.load(pt, mmap=True))),
        ]
    print(f"state_dict of {len(arrays)} tensors, {mb:.1f} MB (medians of 9 alternating runs)")
    print(f"{'':10}{'nnbox':>10}{'torch':>10}{'ratio':>8}")
    for name, n, t in rows:
        print(f"{name:10}{n * 1e3:>8.1f}ms{t * 1e3:>8.1f}ms{n / t:>8.2f}")


if __name__ == "__main__":
    main()
