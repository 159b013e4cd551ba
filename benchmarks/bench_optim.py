"""One optimizer step over ResNet18's parameters (11.7M floats in 62 tensors): nnbox vs torch.

    python benchmarks/bench_optim.py [--repeats 7] [--device cpu|cuda] [--torch-threads N]

Both libraries update identical float32 parameters with identical gradients; each timing is the
median of ``--repeats`` runs of one ``step()`` (after a warm-up step that creates the state).
The ratio is nnbox time / torch time (below 1: nnbox is faster), the median over rounds in which
the two alternate.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def resnet18_shapes() -> list[tuple[int, ...]]:
    """Parameter shapes of torchvision's resnet18 (conv weights, BatchNorm weight/bias, fc)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            first_in = cin if block == 0 else cout
            shapes += [(cout, first_in, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    shapes += [(1000, 512), (1000,)]
    return shapes


def _timed_step(opt, sync) -> float:
    t0 = time.perf_counter()
    opt.step()
    sync()
    return time.perf_counter() - t0


def _compare(opt_n, opt_t, repeats: int, n_sync, t_sync) -> tuple[float, float, float]:
    """Median nnbox and torch step times, and the median of the per-round ratios.

    The two libraries alternate within each round, so both see the same machine load (these
    machines are shared); a warm-up step first creates each optimizer's state.
    """
    _timed_step(opt_n, n_sync)
    _timed_step(opt_t, t_sync)
    tn, tt = [], []
    for _ in range(repeats):
        tn.append(_timed_step(opt_n, n_sync))
        tt.append(_timed_step(opt_t, t_sync))
    ratio = statistics.median(a / b for a, b in zip(tn, tt))
    return statistics.median(tn), statistics.median(tt), ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch intra-op threads (0: its default)")
    args = ap.parse_args()

    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    import nnbox

    shapes = resnet18_shapes()
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]
    print(f"resnet18 parameters: {len(shapes)} tensors, {sum(v.size for v in values):,} floats (float32), "
          f"device {args.device}; torch {torch.__version__} with {torch.get_num_threads()} threads")

    def params(m):
        ps = [m.tensor(v, device=args.device, requires_grad=True) for v in values]
        for p, g in zip(ps, grads):
            p.grad = m.tensor(g, device=args.device)
        return ps

    t_sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def n_sync():
        if args.device.startswith("cuda"):
            import cupy

            cupy.cuda.Device().synchronize()

    configs = [
        ("SGD momentum=0.9", "SGD", dict(lr=0.1, momentum=0.9)),
        ("SGD momentum=0.9 nesterov wd=5e-4", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
        ("Adam", "Adam", dict(lr=1e-3)),
        ("AdamW amsgrad", "AdamW", dict(lr=1e-3, amsgrad=True)),
    ]
    print(f"{'optimizer':36s} {'nnbox ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for label, name, kw in configs:
        opt_n = getattr(nnbox.optim, name)(params(nnbox), **kw)
        opt_t = getattr(torch.optim, name)(params(torch), **kw)
        tn, tt, ratio = _compare(opt_n, opt_t, args.repeats, n_sync, t_sync)
        print(f"{label:36s} {tn * 1e3:9.2f} {tt * 1e3:9.2f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
