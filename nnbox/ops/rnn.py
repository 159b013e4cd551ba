"""Recurrent layers (tanh/relu RNN, LSTM, GRU): one fused node per layer and direction.

``Recurrence`` runs a whole sequence in one ``Function``: the input projection ``x @ W_ih^T`` for all
time steps is ONE matmul, then a Python loop does only the recurrent ``h @ W_hh^T`` and the gate
math.  Its backward is hand-derived backpropagation through time: the loop carries only
``dh``/``dc`` (one ``(B, G) @ W_hh`` per step); the weight gradients are two GEMMs over all steps
at the end.  Gate order and equations are torch's:

    RNN   h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
    LSTM  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh);  c' = s(f) c + s(i) tanh(g);
          h' = s(o) tanh(c')            (with proj_size: h' = (s(o) tanh(c')) W_hr^T)
    GRU   r, z = s(x W_ir^T + b_ir + h W_hr^T + b_hr), s(... z ...);
          n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn));  h' = (1 - z) n + z h

Variable-length (packed) batches pass ``batch_sizes``: at step t only the first ``batch_sizes[t]``
rows (sequences sorted by decreasing length) advance; the others keep their state, which is what
makes ``h_n`` each sequence's last valid state, in both directions.  The cells (``RNNCell`` ...) are
the same node run for one step.  On NumPy, LSTM layers without packing or projection run the
feature-major kernel of ``_lstm_fm`` instead (same equations, contiguous per-gate blocks).
"""
from __future__ import annotations

import numpy as _np

from .._backend import autocast_state as _ac
from .._tensor import Tensor
from ..autograd.function import Function
from . import _pool
from ._lowp import autocast_low, without_autocast
from ._lstm_fm import lstm_backward, lstm_forward
from ._small_gemm import row_blocks
from ._util import xp_of

__all__: list[str] = []

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

# False: every LSTM runs the general kernel below (tests compare the two; benchmarks measure the gain)
feature_major = True
# ... and only where it measured faster: a step's (B, H) blocks of at least this many values.  One
# thread, T=35, I=64, training step, feature-major / general: H=128: B=8 1.21, B=16 0.98, B=24 1.04,
# B=32 0.83-0.94, B=64 0.91, B=128 0.88; H=256: B=4 0.99, B=16 0.68, B=32 0.87, B=64 0.85.  Small
# blocks lose: the step's GEMM with few columns, and the fixed per-call and per-row costs.  Since both
# kernels run their step GEMMs in blocks (_small_gemm) and the feature-major one hoists dx out of the
# loop, it measured faster down to small blocks too (T=35, I=64, one thread, SkylakeX kernels): H=128
# B=8 0.90, B=16 0.84, B=24 0.94, B=32 0.81; H=256 B=4 0.64, B=16 0.88.  The bound stays until the
# routing tests that pin it are revisited.
feature_major_min_block = 4096


def _new(like, zero: bool):
    """The allocator for a call's large arrays, like ``like``'s: on NumPy recycled between calls
    (``_pool``: no page faults per call), on CuPy its own pool's ``zeros``/``empty``."""
    return lambda shape, dtype, tag: _pool.empty(like, "rnn." + tag, shape, dtype, zero)


def _gate_scale(mode: str, H: int, xp, dtype):
    """Per-row factors folded into the weights so that one ``tanh`` activates every gate at once:
    sigmoid(a) = 0.5 * tanh(a / 2) + 0.5, so the sigmoid gates' rows are pre-scaled by 1/2."""
    if mode == "LSTM":  # i, f, o are sigmoids, g a tanh
        s = xp.full((4, H), 0.5, dtype=dtype)
        s[2] = 1.0
        return s.reshape(-1)
    if mode == "GRU":  # r, z sigmoids; the n gate is handled on its own
        s = xp.full((3, H), 0.5, dtype=dtype)
        s[2] = 1.0
        return s.reshape(-1)
    return None


class Recurrence(Function):
    """One layer, one direction, whole sequence: (x, h0[, c0], weights) -> (out, h_n[, c_n]).

    Forward keeps the activated gates (``acts``, (T, B, G)); LSTM instead of its cell states keeps
    each pre-activation's whole factor (``dacts``: gate derivative times the value it multiplies) and
    d h / d c (``tcs``), computed while the step's block is in cache; backward walks the steps in
    reverse carrying only dh (and dc).  The backward is ``RecurrenceBackward``.
    """

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, reverse, batch_sizes):
        if (mode == "LSTM" and feature_major and batch_sizes is None and w_hr is None and type(x) is _np.ndarray
                and 0 not in x.shape and x.shape[1] * w_hh.shape[1] >= feature_major_min_block):
            # the common LSTM on NumPy: the feature-major kernel (_lstm_fm; a bare LSTM(64, 128) layer's
            # training step measured 5.4 -> 4.5 ms, one thread)
            out, h_n, c_n, saved = lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse,
                                                any(ctx.needs_input_grad), _new(x, False))
            z, acts, tcs, dacts = saved or (None,) * 4
            ctx.save_for_backward(x, w_ih, w_hh, z, out, acts, None, None, None, h0, tcs, dacts, c0, b_ih, b_hh)
            ctx.meta = (mode, reverse, None, b_ih is not None, b_hh is not None, True)
            return out, h_n, c_n
        xp = xp_of(x)
        T, B, I = x.shape
        G = w_hh.shape[0]
        H = G // GATES[mode]  # cell size; the recurrent state has P = w_hh.shape[1] (P < H: LSTM projection)
        P = w_hh.shape[1]
        lstm, gru = mode == "LSTM", mode == "GRU"
        packed = batch_sizes is not None
        # the gate scale and both biases fold into small (G,)-sized operands, so the input GEMM for
        # every step at once plus one bias add produce the pre-activations
        scale = _gate_scale(mode, H, xp, x.dtype)
        bias = None
        if b_ih is not None:
            bias = b_ih.copy()
        if b_hh is not None:  # all of b_hh adds outside the recurrence, except GRU's n gate (inside r * (...))
            bias = xp.zeros(G, dtype=x.dtype) if bias is None else bias
            if gru:
                bias[:2 * H] += b_hh[:2 * H]
            else:
                bias += b_hh
        whh_t = w_hh.T
        wih_t = w_ih.T
        if scale is not None:
            wih_t = wih_t * scale
            whh_t = whh_t * scale
            bias = bias * scale if bias is not None else None
        new = _new(x, packed)
        acts = xp.matmul(x.reshape(T * B, I), wih_t, out=_new(x, False)((T * B, G), x.dtype, "acts")).reshape(T, B, G)
        if bias is not None:
            acts += bias
        whh_t = xp.ascontiguousarray(whh_t)
        # the step's GEMM in column blocks where NumPy's BLAS runs those faster (_small_gemm: a GRU(64, 128)
        # step at B=32, (32, 128) @ (128, 384), 21 -> 14 us)
        col_parts = None
        if type(x) is _np.ndarray and not packed:
            blocks = row_blocks(G, B, P, x.dtype)
            if blocks is not None:
                col_parts = [(_np.ascontiguousarray(whh_t[:, cols]), cols) for cols in blocks]
                gh_buf = _np.empty((B, G), dtype=x.dtype)
        if gru:
            b_hn = b_hh[2 * H:] if b_hh is not None else None
        out = new((T, B, P), x.dtype, "out")
        hprev = new((T, B, P), x.dtype, "hprev") if packed else None
        hrs = new((T, B, H), x.dtype, "hrs") if w_hr is not None else None  # o * tanh(c) before projection
        # LSTM keeps tanh(c) and each gate's local derivative, computed while the step's block is in cache
        tcs = new((T, B, H), x.dtype, "tcs") if lstm else None
        dacts = new((T, B, G), x.dtype, "dacts") if lstm and any(ctx.needs_input_grad) else None
        cs = new((T, B, H), x.dtype, "cs") if lstm else None
        ghn = new((T, B, H), x.dtype, "ghn") if gru else None
        h = h0.copy() if packed else h0
        c = (c0.copy() if packed else c0) if lstm else None
        if lstm:  # per-gate factors as (G,) rows broadcast over the step's (n, G) block; tmp: i * g
            sig_mul = xp.full((4, H), 0.5, dtype=x.dtype)
            sig_mul[2] = 1.0
            sig_add = xp.full((4, H), 0.5, dtype=x.dtype)
            sig_add[2] = 0.0
            dscale = xp.full((4, H), 0.25, dtype=x.dtype)
            dscale[2] = 1.0
            sig_mul, sig_add, dscale = sig_mul.reshape(-1), sig_add.reshape(-1), dscale.reshape(-1)
            tmp = xp.empty((B, H), dtype=x.dtype)
        # unpacked, the gate derivatives are computed after the loop, for all steps in a dozen
        # whole-sequence passes instead of ten small ones per step (packed: per step, below)
        step_dacts = dacts is not None and packed
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            n = B if not packed else int(batch_sizes[t])
            hp = h[:n]
            if packed:
                hprev[t, :n] = hp
            if col_parts is None:
                gh = hp @ whh_t
            else:
                gh = gh_buf
                for w_cols, cols in col_parts:  # (not ``c``: the LSTM's cell state)
                    _np.matmul(hp, w_cols, out=gh[:, cols])
            a = acts[t, :n]
            ht = out[t, :n]
            if lstm:
                a += gh
                xp.tanh(a, out=a)  # every gate's tanh t (the sigmoid rows were pre-scaled by 1/2)
                a4 = a.reshape(n, 4, H)
                if step_dacts:  # from t: sigmoid' = s (1 - s) = (1 - t^2) / 4, tanh' = 1 - t^2
                    d = dacts[t, :n]
                    xp.multiply(a, a, out=d)
                    xp.subtract(1, d, out=d)
                    d *= dscale
                # i, f, o: sigmoid = 0.5 t + 0.5; g stays t (factors 1 and 0): two whole-block passes
                a *= sig_mul
                a += sig_add
                cp = c[:n]
                ct = cs[t, :n]
                xp.multiply(a4[:, 1], cp, out=ct)
                ig = tmp[:n]
                xp.multiply(a4[:, 0], a4[:, 2], out=ig)
                ct += ig
                tc = tcs[t, :n]
                xp.tanh(ct, out=tc)
                if w_hr is None:
                    xp.multiply(tc, a4[:, 3], out=ht)
                else:
                    hr = hrs[t, :n]
                    xp.multiply(tc, a4[:, 3], out=hr)
                    xp.matmul(hr, w_hr.T, out=ht)
                if step_dacts:
                    # finish each pre-activation's factor while the block is in cache, so backward
                    # needs two multiplies per step: d c'/d(i, f, g) = (g, c, i) * gate', d h/d o =
                    # tanh(c') o'; and d h/d c' = o (1 - tanh(c')^2) replaces tanh(c') in tcs
                    d4 = d.reshape(n, 4, H)
                    d4[:, 0] *= a4[:, 2]
                    d4[:, 1] *= cp
                    d4[:, 2] *= a4[:, 0]
                    d4[:, 3] *= tc
                    tc *= tc
                    xp.subtract(1, tc, out=tc)
                    tc *= a4[:, 3]
            elif gru:
                rz = a[:, :2 * H]
                rz += gh[:, :2 * H]
                xp.tanh(rz, out=rz)
                rz *= 0.5
                rz += 0.5
                g_n = ghn[t, :n]
                if b_hn is not None:
                    xp.add(gh[:, 2 * H:], b_hn, out=g_n)
                else:
                    g_n[...] = gh[:, 2 * H:]
                nn_ = a[:, 2 * H:]
                nn_ += rz[:, :H] * g_n
                xp.tanh(nn_, out=nn_)
                xp.subtract(hp, nn_, out=ht)  # h' = n + z * (h - n)
                ht *= rz[:, H:]
                ht += nn_
            else:
                a += gh
                if mode == "RNN_TANH":
                    xp.tanh(a, out=ht)
                else:
                    xp.maximum(a, 0, out=ht)
            if packed:
                h[:n] = ht
                if lstm:
                    c[:n] = cs[t, :n]
            else:
                h = out[t]
                if lstm:
                    c = cs[t]
        if dacts is not None and not packed:
            _lstm_factors(xp, acts, dacts, cs, tcs, c0, reverse)
        # unpacked, the state a step started from is h0 / c0 or the neighbouring step's output (no copy kept)
        saved = [x, w_ih, w_hh, hprev, out, acts, ghn, w_hr, hrs, h0, tcs, dacts, c0, b_ih, b_hh]
        ctx.save_for_backward(*saved)
        ctx.meta = (mode, reverse, batch_sizes, b_ih is not None, b_hh is not None, False)
        h_n = h.copy() if not packed else h
        if lstm:
            return out, h_n, (c.copy() if not packed else c)
        return out, h_n

    @staticmethod
    def backward(ctx, dout, dhn, dcn=None):
        x, w_ih, w_hh, hprev, out, acts, ghn, w_hr, hrs, h0, tcs, dacts, c0, b_ih, b_hh = ctx.saved_tensors
        return RecurrenceBackward.run(dout, dhn, dcn, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, hprev, out, acts, ghn,
                                      hrs, tcs, dacts, ctx.meta, ctx.needs_input_grad) + (None,) * 3


def _lstm_factors(xp, acts, dacts, cs, tcs, c0, reverse: bool) -> None:
    """The LSTM forward's per-gate factors for backward, for all steps at once: ``dacts`` = (g, c_prev,
    i, tanh c') times each gate's derivative (sigmoid' = s - s^2 for i, f, o; tanh' = 1 - g^2), and
    ``tcs`` turned from tanh(c') into d h / d c' = o (1 - tanh(c')^2).  ``acts`` holds the activated
    gates (T, B, 4H) in torch's order i, f, g, o."""
    T, B, G = acts.shape
    a4, d4 = acts.reshape(T, B, 4, G // 4), dacts.reshape(T, B, 4, G // 4)
    xp.multiply(acts, acts, out=dacts)
    xp.subtract(a4[:, :, :2], d4[:, :, :2], out=d4[:, :, :2])
    xp.subtract(a4[:, :, 3], d4[:, :, 3], out=d4[:, :, 3])
    xp.subtract(1, d4[:, :, 2], out=d4[:, :, 2])
    d4[:, :, 0] *= a4[:, :, 2]
    first, rest, prevs = (T - 1, slice(0, T - 1), cs[1:]) if reverse else (0, slice(1, T), cs[:-1])
    d4[first, :, 1] *= c0  # the step's starting cell state: c0, or the neighbouring step's
    d4[rest, :, 1] *= prevs
    d4[:, :, 2] *= a4[:, :, 0]
    d4[:, :, 3] *= tcs
    tcs *= tcs
    xp.subtract(1, tcs, out=tcs)
    tcs *= a4[:, :, 3]


class RecurrenceBackward(Function):
    """Backpropagation through time for ``Recurrence`` (the fast kernel on the forward's saved gates),
    as a Function whose own backward gives the second derivatives: a composition of the layer's
    forward is differentiated twice (``_double_vjp``; a third order raises a clear error)."""

    _array_api = True
    _twice = "nnbox cannot differentiate a recurrent layer's second-order gradients again (third order)"

    @staticmethod
    def forward(ctx, dout, dhn, dcn, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, hprev, out, acts, ghn, hrs, tcs, dacts,
                meta, need):
        mode, reverse, batch_sizes, has_bih, has_bhh, fm = meta
        ctx.save_for_backward(dout, dhn, dcn, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        ctx.meta = meta
        ctx.set_materialize_grads(False)
        if fm:  # Recurrence ran _lstm_fm's kernel: hprev holds its Z, tcs d h / d c, dacts its dE
            need = (need[0], need[1], need[2], need[3], need[4], need[5] and has_bih, need[6] and has_bhh)
            return lstm_backward(dout, dhn, dcn, x, h0, out, w_ih, w_hh, (hprev, acts, tcs, dacts), reverse, need,
                                 _new(x, False)) + (None,)
        xp = xp_of(x)
        T, B, I = x.shape
        G = w_hh.shape[0]
        k = GATES[mode]
        H = G // k
        P = w_hh.shape[1]
        dhts = xp.zeros((T, B, P), dtype=x.dtype) if w_hr is not None else None
        lstm, gru = mode == "LSTM", mode == "GRU"
        packed = batch_sizes is not None
        new = _new(x, packed)
        dgi = new((T, B, k, H), x.dtype, "dgi")
        dgh = new((T, B, k, H), x.dtype, "dgh") if gru else dgi
        dh = dhn.copy()
        dc = dcn.copy() if lstm else None
        # the step's dh GEMM in row blocks where NumPy's BLAS runs those faster (_small_gemm)
        row_parts = row_blocks(B, P, G, x.dtype) if type(x) is _np.ndarray and not packed else None
        if row_parts is not None and gru:
            gtmp = _np.empty((B, P), dtype=x.dtype)
        # per-step derivatives on small, cache-resident (B, H) blocks: measured faster than
        # precomputing them for the whole sequence as large arrays
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
            n = B if not packed else int(batch_sizes[t])
            dht = dh[:n]  # dh is backward's own buffer: the step's total dh accumulates in place
            dht += dout[t, :n]
            a = acts[t, :n].reshape(n, k, H)
            da = dgi[t, :n]
            if lstm:  # forward left the per-step factors: dacts (n, 4, H) and tcs = d h / d c
                dact = dacts[t, :n].reshape(n, 4, H)
                if w_hr is not None:  # back through the projection h = (o * tanh(c)) W_hr^T
                    dhts[t, :n] = dht
                    dht = dht @ w_hr
                dct = dht * tcs[t, :n]
                dct += dc[:n]
                xp.multiply(dct[:, None, :], dact[:, :3], out=da[:, :3])  # i, f, g
                xp.multiply(dht, dact[:, 3], out=da[:, 3])  # o
                xp.multiply(dct, a[:, 1], out=dc[:n])  # through c' = f c + ...
            elif gru:
                r, z, nn_ = a[:, 0], a[:, 1], a[:, 2]
                dan = dht * (1 - z) * (1 - nn_ * nn_)
                da[:, 0] = dan * ghn[t, :n] * r * (1 - r)
                hp = hprev[t, :n] if packed else _prev(out, h0, t, reverse)
                da[:, 1] = dht * (hp - nn_) * z * (1 - z)
                da[:, 2] = dan
                dg = dgh[t, :n]
                dg[:, :2] = da[:, :2]
                xp.multiply(dan, r, out=dg[:, 2])
                dht *= z
                if row_parts is None:
                    dht += dg.reshape(n, G) @ w_hh
                else:
                    dgf = dg.reshape(n, G)
                    for rows in row_parts:  # (not ``r``: the reset gate)
                        _np.matmul(dgf[rows], w_hh, out=gtmp[rows])
                    dht += gtmp
                continue
            else:
                ht = out[t, :n]
                if mode == "RNN_TANH":
                    xp.multiply(dht, 1 - ht * ht, out=da[:, 0])
                else:
                    xp.multiply(dht, ht > 0, out=da[:, 0])
            if row_parts is None:
                xp.matmul(da.reshape(n, G), w_hh, out=dh[:n])  # dht is spent (dhts kept a copy)
            else:
                daf = da.reshape(n, G)
                for rows in row_parts:
                    _np.matmul(daf[rows], w_hh, out=dh[rows])
        gi_flat = dgi.reshape(T * B, G)
        gh_flat = dgh.reshape(T * B, G)
        dx = xp.matmul(gi_flat, w_ih, out=_new(x, False)((T * B, I), x.dtype, "dx")).reshape(T, B, I) if need[0] else None
        dw_ih = gi_flat.T @ x.reshape(T * B, I) if need[3] else None
        dw_hh = None
        if need[4]:
            if packed:
                dw_hh = gh_flat.T @ hprev.reshape(T * B, P)
            else:  # sum_t dgh_t^T h_{t-1}: the first step pairs with h0, the others with shifted outputs
                first, rest, prevs = (T - 1, slice(0, T - 1), out[1:]) if reverse else (0, slice(1, T), out[:-1])
                dw_hh = dgh[first].reshape(B, G).T @ h0
                if T > 1:
                    dw_hh += dgh[rest].reshape(-1, G).T @ prevs.reshape(-1, P)
        dw_hr = None
        if w_hr is not None and need[7]:
            dw_hr = dhts.reshape(T * B, P).T @ hrs.reshape(T * B, H)
        db_ih = gi_flat.sum(axis=0) if has_bih and need[5] else None
        db_hh = gh_flat.sum(axis=0) if has_bhh and need[6] else None
        return (dx, dh if need[1] else None, (dc if lstm and need[2] else None), dw_ih, dw_hh, db_ih, db_hh,
                dw_hr)

    @staticmethod
    def backward(ctx, *ggs):
        dout, dhn, dcn, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = ctx.saved_tensors
        gc, gp = _recurrence_double(ctx.meta, [dout, dhn, dcn], [x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr], ggs)
        return tuple(gc) + tuple(gp) + (None,) * 9


def _recurrence_double(meta, cots, primals, ggs):
    """Second-order terms of ``Recurrence`` by ``double_vjp`` of ``_composed_layer``.  Every time step
    of ``x``/``out`` and every gate block of the weights is a leaf of its own, so the composition
    needs no indexing: only matmuls (``Linear``) and elementwise ops, all differentiable twice."""
    from ._double_vjp import double_vjp

    mode, reverse, batch_sizes, has_bih, has_bhh = meta[:5]
    dout, dhn, dcn = cots
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = primals
    xp = xp_of(x)
    T = x.shape[0]
    k = GATES[mode]

    def split(a, n):  # (n*H, ...) -> n blocks (None stays None)
        return [None] * n if a is None else [a[i * (a.shape[0] // n):(i + 1) * (a.shape[0] // n)] for i in range(n)]

    def steps(a):
        return [None] * T if a is None else [a[t] for t in range(T)]

    p_flat = (steps(x) + [h0, c0] + split(w_ih, k) + split(w_hh, k) + split(b_ih, k) + split(b_hh, k) + [w_hr])
    gg_x, gg_h0, gg_c0, gg_wih, gg_whh, gg_bih, gg_bhh, gg_whr = ggs
    gg_flat = (steps(gg_x) + [gg_h0, gg_c0] + split(gg_wih, k) + split(gg_whh, k) + split(gg_bih, k)
               + split(gg_bhh, k) + [gg_whr])
    c_flat = steps(dout) + [dhn, dcn]
    rows = None
    if batch_sizes is not None:  # which rows advance at step t: constant (B, 1) masks
        B = x.shape[1]
        rows = [(xp.arange(B) < int(n)).astype(x.dtype)[:, None] for n in batch_sizes]

    def forward(*leaves):
        xs, rest = leaves[:T], leaves[T:]
        h, c = rest[0], rest[1]
        wi, wh, bi, bh = (rest[2 + j * k:2 + (j + 1) * k] for j in range(4))
        return _composed_layer(mode, xs, h, c, wi, wh, bi, bh, rest[2 + 4 * k], reverse, rows)

    gp, gc = double_vjp(forward, p_flat, c_flat, gg_flat)

    def join(parts, like, axis_stack):
        if like is None or all(g is None for g in parts):
            return None
        full = [xp.zeros_like(p) if g is None else g for g, p in zip(parts, split(like, len(parts)) if not axis_stack
                                                                    else steps(like))]
        return xp.stack(full) if axis_stack else xp.concatenate(full)

    g_x = join(gp[:T], x, True)
    r = gp[T:]
    g_params = [r[0], r[1]] + [join(r[2 + j * k:2 + (j + 1) * k], p, False)
                               for j, p in enumerate((w_ih, w_hh, b_ih, b_hh))] + [r[2 + 4 * k]]
    g_dout = join(gc[:T], dout, True)
    return [g_dout, gc[T], gc[T + 1]], [g_x] + g_params


def _sigmoid_t(a):
    return 1 / ((-a).exp() + 1)


def _composed_layer(mode, xs, h, c, wi, wh, bi, bh, w_hr, reverse, rows):
    """The recurrent layer's forward from twice-differentiable ops: per-step inputs ``xs`` and per-gate
    weight blocks (torch's gate order); returns (out_0, ..., out_{T-1}, h_n[, c_n])."""
    from .linear import Linear

    def gate(j, xt, hp):
        a = Linear.apply(xt, wi[j], bi[j])
        if mode == "GRU" and j == 2:
            return a
        return a + Linear.apply(hp, wh[j], bh[j])

    T = len(xs)
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        xt = xs[t]
        if mode == "LSTM":
            i_, f_, o_ = (_sigmoid_t(gate(j, xt, h)) for j in (0, 1, 3))
            g_ = _sigmoid_t(gate(2, xt, h) * 2) * 2 - 1
            cn = f_ * c + i_ * g_
            hn = o_ * (_sigmoid_t(cn * 2) * 2 - 1)
            if w_hr is not None:
                hn = Linear.apply(hn, w_hr, None)
        elif mode == "GRU":
            r_, z_ = _sigmoid_t(gate(0, xt, h)), _sigmoid_t(gate(1, xt, h))
            n_ = _sigmoid_t((gate(2, xt, h) + r_ * Linear.apply(h, wh[2], bh[2])) * 2) * 2 - 1
            hn = (1 - z_) * n_ + z_ * h
            cn = None
        else:
            a = gate(0, xt, h)
            if mode == "RNN_TANH":
                hn = _sigmoid_t(a * 2) * 2 - 1
            else:  # relu: the mask is a constant (its derivative is zero almost everywhere)
                hn = a * type(a)._make((a._data > 0).astype(a._data.dtype))
            cn = None
        if rows is not None:
            m = type(hn)._make(rows[t])
            hn = hn * m + h * (1 - m)
            if cn is not None:
                cn = cn * m + c * (1 - m)
            outs[t] = hn * m
        else:
            outs[t] = hn
        h = hn
        if cn is not None:
            c = cn
    return tuple(outs) + ((h, c) if mode == "LSTM" else (h, None))




def _prev(seq, first, t: int, reverse: bool):
    """The state step ``t`` started from: ``first`` at the sequence start, else the neighbouring step's."""
    if reverse:
        return first if t == seq.shape[0] - 1 else seq[t + 1]
    return first if t == 0 else seq[t - 1]


def recurrence(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool = False, batch_sizes=None,
               w_hr: Tensor | None = None):
    """Run one recurrent layer over ``x`` (T, B, I); returns ``(out, h_n)`` or ``(out, h_n, c_n)`` for LSTM
    (``w_hr``: LSTM output projection, torch's ``proj_size``)."""
    return Recurrence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, reverse, batch_sizes)


def cell_step(mode: str, x: Tensor, h: Tensor, c: Tensor | None, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None, b_hh: Tensor | None):
    """One step of a cell on (B, I) input: the one-step case of ``Recurrence``."""
    if _ac.any_on[0]:  # autocast: the cells are in torch's CUDA list; on the CPU only RNNCell (its linears)
        if x.is_cuda or mode in ("RNN_TANH", "RNN_RELU"):
            x, h, c, w_ih, w_hh, b_ih, b_hh = autocast_low(x, h, c, w_ih, w_hh, b_ih, b_hh)
        elif _ac.STATE["cpu"].enabled:
            return without_autocast(("cpu",), cell_step, mode, x, h, c, w_ih, w_hh, b_ih, b_hh)
    res = Recurrence.apply(x.unsqueeze(0), h, c, w_ih, w_hh, b_ih, b_hh, None, mode, False, None)
    return res[1:] if mode == "LSTM" else res[1]
