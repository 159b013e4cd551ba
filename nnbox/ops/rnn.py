"""Recurrent layers (tanh/relu RNN, LSTM, GRU): one fused node per layer and direction.

``Recurrence`` runs a whole sequence in one ``Function``: the input projection ``x @ W_ih^T`` for all
time steps is ONE matmul, then a Python loop does only the recurrent ``h @ W_hh^T`` and the gate
math.  Its backward is hand-derived backpropagation through time: the loop carries only
``dh``/``dc`` (one ``(B, G) @ W_hh`` per step); the weight gradients are two GEMMs over all steps
at the end.  Gate order and equations are torch's:

    RNN   h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
    LSTM  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh);  c' = s(f) c + s(i) tanh(g);
          h' = s(o) tanh(c')
    GRU   r, z = s(x W_ir^T + b_ir + h W_hr^T + b_hr), s(... z ...);
          n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn));  h' = (1 - z) n + z h

Variable-length (packed) batches pass ``batch_sizes``: at step t only the first ``batch_sizes[t]``
rows (sequences sorted by decreasing length) advance; the others keep their state, which is what
makes ``h_n`` each sequence's last valid state, in both directions.  The cells (``RNNCell`` ...) are
the same node run for one step.
"""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import xp_of

__all__: list[str] = []

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _sigmoid_(a):
    """In-place logistic function via tanh (never overflows)."""
    xp = xp_of(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class Recurrence(Function):
    """One layer, one direction, whole sequence: (x, h0[, c0], weights) -> (out, h_n[, c_n])."""

    _array_api = True

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse, batch_sizes):
        xp = xp_of(x)
        T, B, I = x.shape
        H = w_hh.shape[1]
        G = w_hh.shape[0]
        gi = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, G)  # the input GEMM for every step at once
        if b_ih is not None:
            gi += b_ih
        packed = batch_sizes is not None
        out = (xp.zeros if packed else xp.empty)((T, B, H), dtype=x.dtype)
        hprev = (xp.zeros if packed else xp.empty)((T, B, H), dtype=x.dtype)
        h = h0.copy()
        lstm, gru = mode == "LSTM", mode == "GRU"
        if lstm:
            c = c0.copy()
            cprev = xp.zeros_like(out) if packed else xp.empty_like(out)
            cs = xp.zeros_like(out) if packed else xp.empty_like(out)
        if gru:
            ghn = xp.zeros_like(out) if packed else xp.empty_like(out)
        acts = gi  # overwritten in place with the activated gates
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            n = B if not packed else int(batch_sizes[t])
            hp = h[:n]
            hprev[t, :n] = hp
            gh = hp @ w_hh.T
            if b_hh is not None:
                gh += b_hh
            a = acts[t, :n]
            if lstm:
                a += gh
                _sigmoid_(a[:, :2 * H])
                xp.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
                _sigmoid_(a[:, 3 * H:])
                cp = c[:n]
                cprev[t, :n] = cp
                cn = a[:, H:2 * H] * cp
                cn += a[:, :H] * a[:, 2 * H:3 * H]
                c[:n] = cn
                cs[t, :n] = cn
                hn = a[:, 3 * H:] * xp.tanh(cn)
            elif gru:
                rz = a[:, :2 * H]
                rz += gh[:, :2 * H]
                _sigmoid_(rz)
                ghn[t, :n] = gh[:, 2 * H:]
                nn_ = a[:, 2 * H:]
                nn_ += a[:, :H] * gh[:, 2 * H:]
                xp.tanh(nn_, out=nn_)
                z = a[:, H:2 * H]
                hn = nn_ + z * (hp - nn_)
            else:
                a += gh
                hn = xp.tanh(a) if mode == "RNN_TANH" else xp.maximum(a, 0)
            h[:n] = hn
            out[t, :n] = hn
        saved = [x, w_ih, w_hh, hprev, out, acts]
        if lstm:
            saved += [cprev, cs]
        if gru:
            saved += [ghn]
        ctx.save_for_backward(*saved)
        ctx.meta = (mode, reverse, batch_sizes, b_ih is not None, b_hh is not None)
        return (out, h, c) if lstm else (out, h)

    @staticmethod
    def backward(ctx, dout, dhn, dcn=None):
        saved = ctx.saved_tensors
        x, w_ih, w_hh, hprev, out, acts = saved[:6]
        mode, reverse, batch_sizes, has_bih, has_bhh = ctx.meta
        xp = xp_of(x)
        T, B, I = x.shape
        H = w_hh.shape[1]
        G = w_hh.shape[0]
        lstm, gru = mode == "LSTM", mode == "GRU"
        packed = batch_sizes is not None
        dgi = (xp.zeros if packed else xp.empty)((T, B, G), dtype=x.dtype)
        dgh = (xp.zeros if packed else xp.empty)((T, B, G), dtype=x.dtype) if gru else dgi
        dh = dhn.copy()
        if lstm:
            cprev, cs = saved[6:8]
            dc = dcn.copy()
        if gru:
            ghn = saved[6]
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
            n = B if not packed else int(batch_sizes[t])
            dht = dh[:n] + dout[t, :n]
            a = acts[t, :n]
            if lstm:
                i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
                tc = xp.tanh(cs[t, :n])
                dct = dc[:n] + dht * o * (1 - tc * tc)
                da = dgi[t, :n]
                da[:, :H] = dct * g * i * (1 - i)
                da[:, H:2 * H] = dct * cprev[t, :n] * f * (1 - f)
                da[:, 2 * H:3 * H] = dct * i * (1 - g * g)
                da[:, 3 * H:] = dht * tc * o * (1 - o)
                dc[:n] = dct * f
                dh[:n] = da @ w_hh
            elif gru:
                r, z, nn_ = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
                hp = hprev[t, :n]
                dan = dht * (1 - z) * (1 - nn_ * nn_)
                dgi_t, dgh_t = dgi[t, :n], dgh[t, :n]
                dgi_t[:, :H] = dan * ghn[t, :n] * r * (1 - r)
                dgi_t[:, H:2 * H] = dht * (hp - nn_) * z * (1 - z)
                dgi_t[:, 2 * H:] = dan
                dgh_t[:, :2 * H] = dgi_t[:, :2 * H]
                dgh_t[:, 2 * H:] = dan * r
                dh[:n] = dht * z + dgh_t @ w_hh
            else:
                ht = out[t, :n]
                da = dht * (1 - ht * ht) if mode == "RNN_TANH" else dht * (ht > 0)
                dgi[t, :n] = da
                dh[:n] = da @ w_hh
        need = ctx.needs_input_grad
        gi_flat = dgi.reshape(T * B, G)
        gh_flat = dgh.reshape(T * B, G)
        dx = (gi_flat @ w_ih).reshape(T, B, I) if need[0] else None
        dw_ih = gi_flat.T @ x.reshape(T * B, I) if need[3] else None
        dw_hh = gh_flat.T @ hprev.reshape(T * B, H) if need[4] else None
        db_ih = gi_flat.sum(axis=0) if has_bih and need[5] else None
        db_hh = gh_flat.sum(axis=0) if has_bhh and need[6] else None
        return (dx, dh if need[1] else None, (dc if lstm and need[2] else None), dw_ih, dw_hh, db_ih, db_hh,
                None, None, None)


def recurrence(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool = False, batch_sizes=None):
    """Run one recurrent layer over ``x`` (T, B, I); returns ``(out, h_n)`` or ``(out, h_n, c_n)`` for LSTM."""
    return Recurrence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse, batch_sizes)


def cell_step(mode: str, x: Tensor, h: Tensor, c: Tensor | None, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None, b_hh: Tensor | None):
    """One step of a cell on (B, I) input: the one-step case of ``Recurrence``."""
    res = Recurrence.apply(x.unsqueeze(0), h, c, w_ih, w_hh, b_ih, b_hh, mode, False, None)
    return res[1:] if mode == "LSTM" else res[1]
