"""The LSTM layer's CPU kernel in feature-major layout: every per-step array is (features, batch).

Why: on the CPU a step of a bare LSTM layer (B=32, H=128) is one small GEMM and a dozen elementwise
passes over (B, H) blocks.  Batch-major, each gate is a strided (B, H) slice of the (B, 4H) GEMM
output, and NumPy runs a strided 2-D operand one row at a time (measured 2.0 us against 0.5 us for
a contiguous (32, 128) multiply).  Feature-major, the GEMM ``W @ [h; x; 1]`` yields (4H, B) whose
gates are contiguous (H, B) blocks, so every elementwise call is one flat pass.  The layout also
folds the input projection and both biases into the step's one GEMM (the bias rides a row of ones),
and backward's one GEMM per step yields dh and dx together.  The layout changes at the edges only:
x in, out and dx out, and the whole-sequence weight-gradient GEMM.

Internal gate order is (o, i, f, g): the three sigmoid gates are one contiguous block, and backward's
three gates driven by dc (i, f, g) another.  The sigmoid rows of the forward weights are scaled by
1/2, so one ``tanh`` activates all gates: sigmoid(z) = (1 + tanh(z / 2)) / 2.  Scaling by powers of
two is exact, so results agree with the batch-major kernel to float rounding.

NumPy only (``type(x) is numpy.ndarray``); CuPy and the packed / projected / RNN / GRU cases run the
general kernel in ``rnn.py``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["lstm_forward", "lstm_backward"]

_ORDER = (3, 0, 1, 2)  # internal block k holds torch's gate block _ORDER[k] (torch: i, f, g, o)
_TO_TORCH = (1, 2, 3, 0)  # torch's block j is internal block _TO_TORCH[j]


def _gate_rows(w, H: int):
    """``w``'s (4H, ...) rows reordered from torch's (i, f, g, o) to (o, i, f, g) (a copy)."""
    return np.concatenate([w[j * H:(j + 1) * H] for j in _ORDER])


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
    Wc[:, :H] = _gate_rows(w_hh, H)
    Wc[:, H:H + I] = _gate_rows(w_ih, H)
    if b_ih is None and b_hh is None:
        Wc[:, K - 1] = 0
    else:
        b = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        Wc[:, K - 1] = _gate_rows(b, H)
    Wc[:3 * H] *= 0.5
    # Z[s] = [h before step s; x at step s; 1] (K, B): step s's GEMM operand; its output h goes to Z[s+1]
    Z = new((T + 1, K, B), dt, "fm.z")
    xs = x[::-1] if reverse else x
    np.copyto(Z[:T, H:H + I], xs.transpose(0, 2, 1))
    Z[:, K - 1] = 1
    np.copyto(Z[0, :H], h0.T)
    acts = new((T, 4, H, B), dt, "fm.acts")  # activated gates o, i, f, g
    cs = new((T, H, B), dt, "fm.cs")
    tcs = new((T, H, B), dt, "fm.tcs")  # tanh(c'); with grad, then d h / d c' = o (1 - tanh(c')^2)
    dE = new((T, 4, H, B), dt, "fm.de") if need_grad else None
    c = np.ascontiguousarray(c0.T)
    tmp = np.empty((H, B), dtype=dt)
    matmul, tanh, mul, add, sub = np.matmul, np.tanh, np.multiply, np.add, np.subtract
    for s in range(T):
        a4 = acts[s]
        a = a4.reshape(G, B)
        matmul(Wc, Z[s], out=a)
        tanh(a, out=a)
        if need_grad:  # 1 - t^2: tanh' for g, 4 sigmoid' for o, i, f (backward's weights carry the 1/4)
            d4 = dE[s]
            d = d4.reshape(G, B)
            mul(a, a, out=d)
            sub(1, d, out=d)
        sg = a[:3 * H]
        mul(sg, 0.5, out=sg)
        add(sg, 0.5, out=sg)
        o, i, f, g = a4
        ct = cs[s]
        mul(f, c, out=ct)
        mul(i, g, out=tmp)
        add(ct, tmp, out=ct)
        tc = tcs[s]
        tanh(ct, out=tc)
        mul(o, tc, out=Z[s + 1, :H])
        if need_grad:  # each pre-activation's factor, while the step's blocks are in cache
            do, di, df, dg = d4
            mul(do, tc, out=do)
            mul(di, g, out=di)
            mul(df, c, out=df)
            mul(dg, i, out=dg)
            mul(tc, tc, out=tc)
            sub(1, tc, out=tc)
            mul(tc, o, out=tc)
        c = ct
    hs = Z[T:0:-1, :H] if reverse else Z[1:, :H]  # (T, H, B) in time order
    out = new((T, B, H), dt, "fm.out")
    np.copyto(out, hs.transpose(0, 2, 1))
    h_n = np.ascontiguousarray(Z[T, :H].T)
    c_n = np.ascontiguousarray(c.T)
    saved = (Z, acts, tcs, dE) if need_grad else None
    return out, h_n, c_n, saved


def lstm_backward(dout, dhn, dcn, x, w_ih, w_hh, saved, reverse: bool, need, new):
    """Backpropagation through time for ``lstm_forward``; ``need`` flags (dx, dh0, dc0, dw_ih, dw_hh,
    db_ih, db_hh).  Returns (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh), unneeded ones ``None``."""
    Z, acts, tcs, dE = saved
    T, B, I = x.shape
    G, H = w_hh.shape
    H = G // 4
    K = H + I + 1
    dt = x.dtype
    nx = H + I if need[0] else H  # rows of the step's [dh; dx] GEMM
    # backward weights [W_hh | W_ih]^T in internal gate order, sigmoid columns times 1/4 (see dE)
    WbT = np.empty((nx, G), dtype=dt)
    WbT[:H] = _gate_rows(w_hh, H).T
    if need[0]:
        WbT[H:] = _gate_rows(w_ih, H).T
    WbT[:, :3 * H] *= 0.25
    doutP = new((T, H, B), dt, "fm.dout")
    np.copyto(doutP, (dout[::-1] if reverse else dout).transpose(0, 2, 1))
    dZ = new((T, nx, B), dt, "fm.dz")  # step s: [dh before step s; dx at step s]
    dA = new((T, 4, H, B), dt, "fm.da")
    dh = np.array(dhn.T, dtype=dt, order="C")
    dc = np.array(dcn.T, dtype=dt, order="C")
    dct = np.empty((H, B), dtype=dt)
    matmul, mul, add = np.matmul, np.multiply, np.add
    for s in range(T - 1, -1, -1):
        add(dh, doutP[s], out=dh)
        mul(dh, tcs[s], out=dct)
        add(dct, dc, out=dct)
        da4, d4 = dA[s], dE[s]
        mul(dh, d4[0], out=da4[0])  # o
        mul(dct, d4[1:], out=da4[1:])  # i, f, g
        mul(dct, acts[s, 2], out=dc)  # through c' = f c + i g
        dzs = dZ[s]
        matmul(WbT, da4.reshape(G, B), out=dzs)
        dh = dzs[:H]
    dh0 = np.ascontiguousarray(dh.T) if need[1] else None
    dc0 = np.ascontiguousarray(dc.T) if need[2] else None
    dx = None
    if need[0]:
        dx = np.empty((T, B, I), dtype=dt)
        dxs = dZ[::-1, H:] if reverse else dZ[:, H:]
        np.copyto(dx, dxs.transpose(0, 2, 1))
    dw_ih = dw_hh = db_ih = db_hh = None
    if any(need[3:7]):
        # sum over steps of da_s [h; x; 1]^T: one GEMM over (G, T*B) and (K, T*B) copies of the blocks
        D2 = new((G, T, B), dt, "fm.d2")
        np.copyto(D2, dA.reshape(T, G, B).transpose(1, 0, 2))
        Z2 = new((K, T, B), dt, "fm.z2")
        np.copyto(Z2, Z[:T].transpose(1, 0, 2))
        dW = np.matmul(D2.reshape(G, T * B), Z2.reshape(K, T * B).T)
        dW[:3 * H] *= 0.25
        dW = dW.reshape(4, H, K)[list(_TO_TORCH)].reshape(G, K)
        dw_hh = dW[:, :H].copy() if need[4] else None
        dw_ih = dW[:, H:H + I].copy() if need[3] else None
        db_ih = dW[:, K - 1].copy() if need[5] else None
        db_hh = dW[:, K - 1].copy() if need[6] else None
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh
