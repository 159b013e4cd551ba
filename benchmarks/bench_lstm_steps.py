"""Where a bare LSTM layer's step goes, one thread, CPU time: the GEMM layouts, then the kernel's profile.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_lstm_steps.py [--T 35 --B 32 --I 64 --H 128]

Part 1 times the per-step GEMMs of ``nnbox/ops/_lstm_fm.py`` against the alternatives, in us per time
step (a whole-sequence GEMM's time divided by T): the forward's folded GEMM W @ [h; x; 1]
(K = H + I + 1, B columns) against the recurrent GEMM alone (K = H) plus the input projection of all
steps at once (batched into (T, 4H, B), or one (4H, T*B) GEMM whose step blocks are then strided), and
the backward's [dh; dx] GEMM against dh alone plus one whole-sequence dx GEMM.

Part 2 runs the layer's training step (``nn.LSTM``, forward and backward to the input and weights) and
splits the kernel's time by NumPy function, with calls per step (each call is timed through a Python
wrapper, which adds about 0.2-1 us a call to the figures: compare them with each other, and the
unwrapped step time printed first).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nnbox  # noqa: E402
from _blas import blas_line  # noqa: E402


def per_call_us(fn, n: int, repeats: int = 7) -> float:
    """Median over ``repeats`` of the mean CPU time of ``n`` calls, in microseconds."""
    for _ in range(max(3, n // 10)):
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        runs.append((time.thread_time() - t0) / n * 1e6)
    return statistics.median(runs)


def _in_blocks(w, b, out) -> float | None:
    """us per ``w @ b`` run in ``_small_gemm``'s row blocks (forced on), or None where it keeps it whole."""
    from nnbox.ops import _small_gemm

    was, _small_gemm.enabled = _small_gemm.enabled, True
    try:
        blocks = _small_gemm.row_blocks(w.shape[0], b.shape[1], w.shape[1], w.dtype)
    finally:
        _small_gemm.enabled = was
    if blocks is None:
        return None
    parts = [(w[r], out[r]) for r in blocks]

    def run():
        for wr, outr in parts:
            np.matmul(wr, b, outr)
    return per_call_us(run, 300)


def gemm_layouts(T: int, B: int, I: int, H: int) -> None:
    rng = np.random.default_rng(0)
    G, K = 4 * H, H + I + 1

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    Wc, z, a = r(G, K), r(K, B), np.empty((G, B), np.float32)
    Wh, h = np.ascontiguousarray(Wc[:, :H]), r(H, B)
    Wi, xs, P = np.ascontiguousarray(Wc[:, H:]), r(T, I + 1, B), np.empty((T, G, B), np.float32)
    X2, P2 = r(I + 1, T * B), np.empty((G, T * B), np.float32)
    gflop = lambda m, k, n, us: 2 * m * k * n / us / 1e3  # noqa: E731
    rows = []
    t = per_call_us(lambda: np.matmul(Wc, z, a), 300)
    rows.append(("forward, folded: (4H, H+I+1) @ (H+I+1, B) per step", t, gflop(G, K, B, t)))
    t = _in_blocks(Wc, z, a)
    if t is not None:
        rows.append(("  the same in row blocks (_small_gemm, the kernel's path)", t, gflop(G, K, B, t)))
    t_rec = per_call_us(lambda: np.matmul(Wh, h, a), 300)
    rows.append(("forward, hoisted: recurrent (4H, H) @ (H, B) per step", t_rec, gflop(G, H, B, t_rec)))
    t = _in_blocks(Wh, h, a)
    if t is not None:
        rows.append(("  the same in row blocks", t, gflop(G, H, B, t)))
    t_in = per_call_us(lambda: np.matmul(Wi, xs, P), 30) / T
    rows.append(("  + input projection, batched (T, 4H, B), per step", t_in, gflop(G, I + 1, B, t_in)))
    t_add = per_call_us(lambda: np.add(a, P[1], a), 1000)
    rows.append(("  + the step's add of its projection (contiguous)", t_add, None))
    t_in2 = per_call_us(lambda: np.matmul(Wi, X2, P2), 30) / T
    rows.append(("  or input projection, one (4H, T*B) GEMM, per step", t_in2, gflop(G, I + 1, B, t_in2)))
    t_add2 = per_call_us(lambda: np.add(a, P2[:, B:2 * B], a), 1000)
    rows.append(("  + its add from a strided (4H, B) block", t_add2, None))
    Wb, da, dz = r(H + I, G), r(G, B), np.empty((H + I, B), np.float32)
    t = per_call_us(lambda: np.matmul(Wb, da, dz), 300)
    rows.append(("backward, folded: [dh; dx] (H+I, 4H) @ (4H, B) per step", t, gflop(H + I, G, B, t)))
    WhT, dh = np.ascontiguousarray(Wb[:H]), np.empty((H, B), np.float32)
    t = per_call_us(lambda: np.matmul(WhT, da, dh), 300)
    rows.append(("backward, hoisted: dh (H, 4H) @ (4H, B) per step", t, gflop(H, G, B, t)))
    t = _in_blocks(WhT, da, dh)
    if t is not None:
        rows.append(("  the same in row blocks (_small_gemm, the kernel's path)", t, gflop(H, G, B, t)))
    D, WiT, dx = r(G, T * B), r(G, I), np.empty((T * B, I), np.float32)
    t = per_call_us(lambda: np.matmul(D.T, WiT, dx), 30) / T
    rows.append(("  + dx, one (T*B, 4H) @ (4H, I) GEMM, per step", t, gflop(I, G, B, t)))
    print(f"\nGEMMs, T={T} B={B} I={I} H={H}, float32, one thread (us per time step):")
    for name, us, gf in rows:
        print(f"  {name:<58s} {us:7.1f}" + (f"   {gf:5.0f} GFLOP/s" if gf else ""))


def kernel_profile(T: int, B: int, I: int, H: int, steps: int = 40) -> None:
    from nnbox.ops import _lstm_fm

    mod = nnbox.nn.LSTM(I, H)
    x = nnbox.tensor(np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32), requires_grad=True)

    def step():
        mod.zero_grad()
        x.grad = None
        mod(x)[0].sum().backward()

    plain = per_call_us(step, 20) / 1e3
    clock, real_np = time.thread_time_ns, _lstm_fm.np
    phase, spent, calls = ["forward"], {}, {}

    class Timed:  # the kernel module's ``np``, each function call timed
        def __getattr__(self, name):
            f = getattr(real_np, name)
            if not callable(f) or isinstance(f, type):
                return f

            def timed(*args, **kw):
                t0 = clock()
                out = f(*args, **kw)
                key = (phase[0], name)
                spent[key] = spent.get(key, 0) + clock() - t0
                calls[key] = calls.get(key, 0) + 1
                return out
            return timed

    fwd, bwd = _lstm_fm.lstm_forward, _lstm_fm.lstm_backward
    from nnbox.ops import rnn
    totals = {"forward": 0, "backward": 0}

    def run(name, f):
        def g(*args, **kw):
            phase[0] = name
            t0 = clock()
            out = f(*args, **kw)
            totals[name] += clock() - t0
            return out
        return g

    rnn.lstm_forward, rnn.lstm_backward = run("forward", fwd), run("backward", bwd)
    _lstm_fm.np = Timed()
    try:
        for _ in range(3):
            step()
        spent.clear(), calls.clear()
        totals.update(forward=0, backward=0)
        t0 = clock()
        for _ in range(steps):
            step()
        wrapped = (clock() - t0) / steps / 1e6
    finally:
        _lstm_fm.np = real_np
        rnn.lstm_forward, rnn.lstm_backward = fwd, bwd
    print(f"\nnn.LSTM({I}, {H}) training step, T={T} B={B}: {plain:.3f} ms unwrapped, {wrapped:.3f} ms with every "
          "NumPy call in the kernel timed")
    for ph in ("forward", "backward"):
        print(f"  {ph}: {totals[ph] / steps / 1e6:.3f} ms")
        for (p, name), ns in sorted(spent.items(), key=lambda kv: -kv[1]):
            if p == ph:
                n = calls[(p, name)] / steps
                print(f"    {name:<18s} {ns / steps / 1e3:8.1f} us   {n:5.0f} calls ({n / T:.1f} per time step)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k, v in (("T", 35), ("B", 32), ("I", 64), ("H", 128)):
        ap.add_argument(f"--{k}", type=int, default=v)
    args = ap.parse_args()
    nnbox.set_num_threads(1)  # NumPy's BLAS too
    print(blas_line())
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    gemm_layouts(args.T, args.B, args.I, args.H)
    kernel_profile(args.T, args.B, args.I, args.H)


if __name__ == "__main__":
    main()
