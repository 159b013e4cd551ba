"""The LSTM layer's CPU kernel in feature-major layout: every per-step array is (features, batch).

Why: on the CPU a step of a bare LSTM layer (B=32, H=128) is one small GEMM and a dozen elementwise
passes over (B, H) blocks.  Batch-major, each gate is a strided (B, H) slice of the (B, 4H) GEMM
output, and NumPy runs a strided 2-D operand one row at a time (measured 2.0 us against 0.5 us for
a contiguous (32, 128) multiply).  Feature-major, the GEMM ``W @ [h; x; 1]`` yields (4H, B) whose
gates are contiguous (H, B) blocks, so every elementwise call is one flat pass.  The layout also
folds the input projection and both biases into the step's one GEMM (the bias rides a row of ones).
Backward's one GEMM per step is the recurrent dh = W_hh^T da alone; dx and the weight gradients are
GEMMs over all steps at once after the loop.  The layout changes at the edges only: x in, out and dout
in, and the steps' da once into (4H, T*B) for the whole-sequence GEMMs.

Measured (one thread, T=35, B=32, 64 -> 128, float32, OpenBLAS SkylakeX kernels on this machine's
AMD EPYC): the folded forward GEMM (4H, H+I+1) @ (H+I+1, B) takes 32 us a step, about 200 GFLOP/s, as
fast as hoisting the input projection out of the loop (the recurrent GEMM 22 us a step plus the
input GEMM over all steps 10.5 us a step), and hoisting costs one more add per step: the forward keeps
the folded GEMM.  Backward's per-step GEMM without the dx rows is 24 instead of 32 us and the
whole-sequence dx GEMM about 10 us a step, the step's kernel 2% faster.  With OpenBLAS's SkylakeX
kernels and one thread the per-step GEMMs run in row blocks (``_small_gemm``: 33 -> 27 us forward,
23 -> 20 us backward), the layer's step 5% faster.

Internal gate order is (o, i, f, g): the three sigmoid gates are one contiguous block, and backward's
three gates driven by dc (i, f, g) another.  The sigmoid rows of the forward weights are scaled by
1/2, so one ``tanh`` activates all gates: sigmoid(z) = (1 + tanh(z / 2)) / 2.  Scaling by powers of
two is exact, so results agree with the batch-major kernel to float rounding.

NumPy only (``type(x) is numpy.ndarray``); CuPy and the packed / projected / RNN / GRU cases run the
general kernel in ``rnn.py``.
"""
from __future__ import annotations

import numpy as np

from ._small_gemm import row_blocks

__all__ = ["lstm_forward", "lstm_backward"]

_ORDER = (3, 0, 1, 2)  # internal block k holds torch's gate block _ORDER[k] (torch: i, f, g, o)
_TO_TORCH = (1, 2, 3, 0)  # torch's block j is internal block _TO_TORCH[j]


def _gate_rows(w, H: int, out=None):
    """``w``'s (4H, ...) rows reordered from torch's (i, f, g, o) to (o, i, f, g) (into ``out``, else a copy)."""
    return np.concatenate([w[j * H:(j + 1) * H] for j in _ORDER], out=out)


def _gate_rows_t(w, H: int):
    """``_gate_rows(w, H).T`` of a (4H, n) ``w``, C-contiguous: built one (H, n) block at a time (measured
    35 against 62 us for a (512, 128) float32 w through one whole-matrix transposing copy)."""
    out = np.empty((w.shape[1], 4 * H), dtype=w.dtype)
    for k, j in enumerate(_ORDER):
        np.copyto(out[:, k * H:(k + 1) * H], w[j * H:(j + 1) * H].T)
    return out


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse: bool, need_grad: bool, new):
    """One direction of one LSTM layer over x (T, B, I) with h0, c0 (B, H).

    Returns ``(out, h_n, c_n, saved)``: out (T, B, H) and the states (B, H), batch-major as torch's;
    ``saved`` (``None`` without ``need_grad``) is what ``lstm_backward`` needs, all in processing
    order (step s is time T-1-s when ``reverse``).  ``new(shape, dtype, tag)`` gives work arrays.
    """
    T, B, I = x.shape
    G, H = w_hh.shape
    H = G // 4
    K = H + I + 1
    dt = x.dtype
    # Wc = [W_hh | W_ih | b_ih + b_hh] in internal gate order, sigmoid rows halved
    Wc = np.empty((G, K), dtype=dt)
    _gate_rows(w_hh, H, Wc[:, :H])
    _gate_rows(w_ih, H, Wc[:, H:H + I])
    if b_ih is None and b_hh is None:
        Wc[:, K - 1] = 0
    else:
        b = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        _gate_rows(b, H, Wc[:, K - 1])
    Wc[:3 * H] *= 0.5
    # Z[s] = [h before step s; x at step s; 1] (K, B): step s's GEMM operand; its output h goes to Z[s+1]
    Z = new((T + 1, K, B), dt, "fm.z")
    xs = x[::-1] if reverse else x
    np.copyto(Z[:T, H:H + I], xs.transpose(0, 2, 1))
    Z[:, K - 1] = 1
    np.copyto(Z[0, :H], h0.T)
    acts = new((T, 4, H, B), dt, "fm.acts")  # activated gates o, i, f, g
    cs = np.empty((2, H, B), dtype=dt)  # c' of even and odd steps: only the last is kept
    tcs = new((T, H, B), dt, "fm.tcs")  # tanh(c'); with grad, then d h / d c' = o (1 - tanh(c')^2)
    dE = new((T, 4, H, B), dt, "fm.de") if need_grad else None
    c = np.ascontiguousarray(c0.T)
    tmp = np.empty((H, B), dtype=dt)
    matmul, tanh, mul, add, sub = np.matmul, np.tanh, np.multiply, np.add, np.subtract
    # the steps' views come from zip over whole-sequence views (cheaper than indexing in the loop);
    # per step: gm its GEMM calls, a (4H, B) gates, sg its sigmoid rows, o i f g the gates, ct c',
    # tc tanh(c'), hn h'
    aG = acts.reshape(T, G, B)
    # each step's GEMM as (weights, operand, output) calls: whole, or in row blocks where NumPy's BLAS
    # runs those faster (see _small_gemm); a zero h0 (the layer's default) leaves step 0 only the
    # input and bias columns
    blocks = row_blocks(G, B, K, dt)
    if blocks is None:
        gemms = [[(Wc, Z[s], aG[s])] for s in range(T)]
    else:
        ws = [Wc[r] for r in blocks]
        gemms = [[(w, Z[s], aG[s, r]) for w, r in zip(ws, blocks)] for s in range(T)]
    if T and not h0.any():
        gemms[0] = [(Wc[:, H:], Z[0, H:], aG[0])]
    views = (gemms, aG, aG[:, :3 * H], acts[:, 0], acts[:, 1], acts[:, 2], acts[:, 3], (cs[s % 2] for s in range(T)),
             tcs, Z[1:, :H])
    if not need_grad:
        for gm, a, sg, o, i, f, g, ct, tc, hn in zip(*views):
            for w, z, out in gm:
                matmul(w, z, out)
            tanh(a, a)
            mul(sg, 0.5, sg)  # sigmoid = (1 + tanh(z / 2)) / 2
            add(sg, 0.5, sg)
            mul(f, c, ct)
            mul(i, g, tmp)
            add(ct, tmp, ct)
            tanh(ct, tc)
            mul(o, tc, hn)
            c = ct
    else:  # as above, plus each pre-activation's factor for backward while the step's blocks are in cache
        dG = dE.reshape(T, G, B)
        for gm, a, sg, o, i, f, g, ct, tc, hn, d, do, di, df, dg in zip(
                *views, dG, dE[:, 0], dE[:, 1], dE[:, 2], dE[:, 3]):
            for w, z, out in gm:
                matmul(w, z, out)
            tanh(a, a)
            mul(a, a, d)  # 1 - t^2: tanh' for g, 4 sigmoid' for o, i, f (backward's weights carry the 1/4)
            sub(1, d, d)
            mul(sg, 0.5, sg)
            add(sg, 0.5, sg)
            mul(f, c, ct)
            mul(i, g, tmp)
            add(ct, tmp, ct)
            tanh(ct, tc)
            mul(o, tc, hn)
            mul(do, tc, do)  # d h / d o
            mul(di, g, di)  # d c' / d i
            mul(df, c, df)  # d c' / d f
            mul(dg, i, dg)  # d c' / d g
            mul(hn, tc, tc)  # tc becomes d h / d c' = o (1 - tanh(c')^2) = o - h' tanh(c')
            sub(o, tc, tc)
            c = ct
    hs = Z[T:0:-1, :H] if reverse else Z[1:, :H]  # (T, H, B) in time order
    out = new((T, B, H), dt, "fm.out")
    np.copyto(out, hs.transpose(0, 2, 1))
    h_n = np.ascontiguousarray(Z[T, :H].T)
    c_n = np.ascontiguousarray(c.T)
    saved = (Z, acts, tcs, dE) if need_grad else None
    return out, h_n, c_n, saved


def lstm_backward(dout, dhn, dcn, x, h0, out, w_ih, w_hh, saved, reverse: bool, need, new):
    """Backpropagation through time for ``lstm_forward``; ``need`` flags (dx, dh0, dc0, dw_ih, dw_hh,
    db_ih, db_hh); ``h0`` and ``out`` are the forward's, for the recurrent weights' gradient.
    Returns (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh), unneeded ones ``None``.

    Per step only the recurrent GEMM dh = W_hh^T da runs; the input's and the weights' gradients are
    large GEMMs over all steps after the loop (the steps' da copied once into (4H, T*B), time order).
    """
    _, acts, tcs, dE = saved
    T, B, I = x.shape
    G, H = w_hh.shape
    H = G // 4
    dt = x.dtype
    # backward weights in internal gate order, sigmoid rows times 1/4 (see dE): W_hh^T for the loop
    WhT = _gate_rows_t(w_hh, H)
    WhT[:, :3 * H] *= 0.25
    doutP = new((T, H, B), dt, "fm.dout")  # dout feature-major, in processing order
    np.copyto(doutP, (dout[::-1] if reverse else dout).transpose(0, 2, 1))
    dA = new((T, 4, H, B), dt, "fm.da")  # in time order: processing step s writes time T-1-s when reverse
    dh = np.array(dhn.T, dtype=dt, order="C")
    dc = np.array(dcn.T, dtype=dt, order="C")
    dh2 = np.empty((H, B), dtype=dt)  # dh's other buffer: the step's GEMM writes the earlier step's dh
    dct = np.empty((H, B), dtype=dt)
    matmul, mul, add = np.matmul, np.multiply, np.add
    dAt = dA[::-1] if reverse else dA  # processing order
    dAG = dAt.reshape(T, G, B)
    views = (doutP, tcs, dAt[:, 0], dAt[:, 1:], dAG, dE[:, 0], dE[:, 1:], acts[:, 2])
    last = T - 1 if need[1] else T - 2  # the last processed step's GEMM gives only dh0
    blocks = row_blocks(H, B, G, dt)  # the GEMM whole or in row blocks, as forward's
    parts = [(WhT, slice(None))] if blocks is None else [(WhT[r], r) for r in blocks]
    for s, (dos, dhc, dao, daifg, da, deo, deifg, f) in enumerate(zip(*(v[::-1] for v in views))):
        add(dh, dos, dh)
        mul(dh, dhc, dct)  # d c' = dh * d h / d c' + dc
        add(dct, dc, dct)
        mul(dh, deo, dao)  # o
        mul(dct, deifg, daifg)  # i, f, g
        mul(dct, f, dc)  # through c' = f c + i g
        if s <= last:
            for w, r in parts:
                matmul(w, da, dh2[r])
            dh, dh2 = dh2, dh
    dh0 = np.ascontiguousarray(dh.T) if need[1] else None
    dc0 = np.ascontiguousarray(dc.T) if need[2] else None
    if not (need[0] or any(need[3:7])):
        return None, dh0, dc0, None, None, None, None
    # D (4H, T*B), time order: the whole-sequence GEMMs' operand (row blocks in internal order)
    D3 = new((G, T, B), dt, "fm.d2")
    np.copyto(D3, dA.reshape(T, G, B).transpose(1, 0, 2))
    D = D3.reshape(G, T * B)
    # the gradients handed back come from the pool too: a fresh array per call faults its pages in
    # (about 260 faults a step of the benchmark's layer); the pool hands an array out again only once
    # nothing refers to it (its .grad was dropped or accumulated elsewhere)
    dx = dw_ih = dw_hh = db_ih = db_hh = None
    if need[0]:  # dx = D^T W_ih (rows scaled as WhT's columns), straight into (T, B, I)
        Wi = _gate_rows(w_ih, H)
        Wi[:3 * H] *= 0.25
        dx = new((T, B, I), dt, "fm.dx")
        matmul(D.T, Wi, dx.reshape(T * B, I))
    if need[3]:
        dw = matmul(D, x.reshape(T * B, I), new((G, I), dt, "fm.dw_ih_d"))
        dw_ih = _to_torch(dw, H, new((G, I), dt, "fm.dw_ih"))
    if need[4]:  # sum over steps of da h_prev^T: h_prev is h0 at the first step, else a neighbour in out
        first, rest, prevs = (T - 1, slice(0, T - 1), out[1:]) if reverse else (0, slice(1, T), out[:-1])
        dw = matmul(D3[:, rest].reshape(G, (T - 1) * B), prevs.reshape((T - 1) * B, H), new((G, H), dt, "fm.dw_hh_d"))
        if h0.any():  # (the layer's default h0 is zero)
            dw += matmul(D3[:, first], h0)
        dw_hh = _to_torch(dw, H, new((G, H), dt, "fm.dw_hh"))
    if need[5] or need[6]:
        db = _to_torch(matmul(D, np.ones(T * B, dtype=dt)), H, np.empty(G, dtype=dt))
        db_ih = db if need[5] else None
        db_hh = (db.copy() if need[5] else db) if need[6] else None
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh


def _to_torch(dw, H: int, out):
    """A weight gradient from D's (4H, ...) rows: sigmoid rows times 1/4 (D carries 4 sigmoid'), rows
    back in torch's gate order, into ``out``."""
    dw[:3 * H] *= 0.25
    return np.concatenate([dw[j * H:(j + 1) * H] for j in _TO_TORCH], out=out)
