"""Mixed precision on the CPU: nnbox vs torch, bfloat16 ops and a CNN step under autocast.

    python benchmarks/bench_amp.py [--repeats 9]

Workloads: a small CNN's training step (conv-relu-pool-conv-relu-linear, batch 32 of 1x16x16)
in float32 and under ``autocast("cpu", dtype=bfloat16)``; bfloat16 elementwise ops and a GEMM
(computed in float32 and rounded once, in both libraries); and the cost of nnbox's mixed-precision
dispatcher on a float32 op once bfloat16 or autocast has been used in the process.  Each figure is
the median over ``--repeats`` rounds in which nnbox and torch alternate; the ratio is nnbox time /
torch time (below 1: nnbox is faster).  Both run on one thread.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def _step_fn(lib, model, autocast: bool):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((32, 1, 16, 16)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 32))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=autocast):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def _time(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def _compare(fn_n, fn_t, number: int, repeats: int) -> tuple[float, float, float]:
    fn_n(), fn_t()  # warm up
    tn, tt = [], []
    for _ in range(repeats):
        tn.append(_time(fn_n, number))
        tt.append(_time(fn_t, number))
    return statistics.median(tn), statistics.median(tt), statistics.median(a / b for a, b in zip(tn, tt))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    import torch

    import nnbox
    from nnbox.autograd import function

    torch.set_num_threads(1)
    nnbox.set_num_threads(1)
    cases = {}
    for ac in (False, True):
        torch.manual_seed(0)
        tm = _cnn(torch)
        nm = _cnn(nnbox)
        nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
        cases[f"cnn_step_{'autocast_bf16' if ac else 'float32'}"] = (_step_fn(nnbox, nm, ac), _step_fn(torch, tm, ac), 20)
    r = np.random.default_rng(1)
    for n in (8, 256):
        a, b = r.standard_normal((n, n)).astype(np.float32), r.standard_normal((n, n)).astype(np.float32)
        na, nb = nnbox.tensor(a).bfloat16(), nnbox.tensor(b).bfloat16()
        ta, tb = torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()
        cases[f"bf16_mul_add_{n}x{n}"] = (lambda na=na, nb=nb: na * nb + nb, lambda ta=ta, tb=tb: ta * tb + tb,
                                          2000 if n == 8 else 200)
    a, b = r.standard_normal((256, 256)).astype(np.float32), r.standard_normal((256, 256)).astype(np.float32)
    na, nb, ta, tb = nnbox.tensor(a).bfloat16(), nnbox.tensor(b).bfloat16(), torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()
    cases["bf16_matmul_256"] = (lambda: na @ nb, lambda: ta @ tb, 50)
    f, g = nnbox.ones(8, 8), torch.ones(8, 8)
    cases["float32_add_8x8_dispatcher_on"] = (lambda: f + f, lambda: g + g, 5000)

    print(f"{'workload':34s} {'nnbox ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, (fn_n, fn_t, number) in cases.items():
        tn, tt, ratio = _compare(fn_n, fn_t, number, args.repeats)
        print(f"{name:34s} {tn * 1e3:10.4f} {tt * 1e3:10.4f} {ratio:7.2f}")
    # the dispatcher's own cost: the same float32 op with it switched off and on, alternating
    on, off = [], []
    for _ in range(args.repeats):
        function._mixed[0] = False
        off.append(_time(lambda: f + f, 5000))
        function._mixed[0] = True
        on.append(_time(lambda: f + f, 5000))
    print(f"dispatcher cost on a float32 8x8 add: {(statistics.median(on) - statistics.median(off)) * 1e6:.2f} us "
          f"({statistics.median(off) * 1e6:.2f} -> {statistics.median(on) * 1e6:.2f} us)")


if __name__ == "__main__":
    main()
