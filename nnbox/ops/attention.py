"""Scaled dot-product attention as one fused node: softmax(q k^T * scale + mask) [dropout] @ v.

Backward (P the probabilities, D the dropout keep-mask / (1 - p), Pd = P * D):
    dV = Pd^T dO,   dPd = dO V^T (+ the gradient of the returned weights),   dP = dPd * D,
    dS = P * (dP - sum(dP * P, -1)),   dQ = dS K * scale,   dK = dS^T Q * scale,   dMask = dS.
Boolean masks mean "may attend" (SDPA's convention); they become an additive 0 / -inf mask.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._double_vjp import double_vjp
from ._util import shape_str, unbroadcast, xp_of

__all__ = ["scaled_dot_product_attention"]


class Attention(Function):
    """(q, k, v, additive mask or None) -> out, or (out, weights) when ``return_weights``.

    The backward is ``AttentionBackward``; torch differentiates its math path twice (dropout, or the
    weights returned) but not its fused CPU kernel (``FlashAttention`` below)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, dropout_p, rng, safe, return_weights):
        xp = xp_of(q)
        s = q @ xp.swapaxes(k, -1, -2)
        s *= scale
        if mask is not None:
            if np.broadcast_shapes(s.shape, mask.shape) == s.shape:
                s += mask
            else:
                s = s + mask
        m = s.max(axis=-1, keepdims=True)
        if safe:  # a row that may attend to nothing gives zeros, not nan (torch's SDPA)
            m = xp.where(xp.isneginf(m), 0, m)
        s -= m
        p = xp.exp(s, out=s)
        denom = p.sum(axis=-1, keepdims=True)
        if safe:
            denom = xp.where(denom == 0, 1, denom)
        p /= denom
        keep = None
        pd = p
        if dropout_p > 0:  # torch's dropout: a bernoulli_(1 - p) mask, rescaled in p's dtype
            keep = xp.asarray(rng(p.shape))
            pd = p * (keep.astype(p.dtype) / p.dtype.type(1.0 - dropout_p))
        out = pd @ v
        ctx.dropout_scale = 1.0 / (1.0 - dropout_p) if dropout_p > 0 else 1.0
        ctx.save_for_backward(q, k, v, p, keep, mask)
        ctx.meta = (scale, None if mask is None else mask.shape, return_weights)
        ctx.safe = safe
        return (out, pd) if return_weights else out

    @staticmethod
    def backward(ctx, dout, dweights=None):
        q, k, v, p, keep, mask = ctx.saved_tensors
        args = (ctx.meta, ctx.dropout_scale, ctx.safe, ctx.needs_input_grad[:4])
        return AttentionBackward.run(dout, dweights, q, k, v, mask, p, keep, args) + (None,) * 5


class FlashAttention(Attention):
    """``scaled_dot_product_attention`` without dropout: torch runs its fused CPU kernel, whose
    backward it cannot differentiate; a second backward raises torch's error here too."""

    _torch_name = "AttentionBackward0"
    _twice = "derivative for aten::_scaled_dot_product_flash_attention_for_cpu_backward is not implemented"


class AttentionBackward(Function):
    """Attention's gradients (dq, dk, dv, dmask) from the saved probabilities: ``forward`` is the fast
    kernel; ``backward`` (second order, on arrays) differentiates a composition of attention's
    forward twice (``_double_vjp``)."""

    _array_api = True
    _twice = "nnbox cannot differentiate attention's second-order gradients again (third order)"

    @staticmethod
    def forward(ctx, dout, dweights, q, k, v, mask, p, keep, args):
        (scale, mask_shape, return_weights), sc, safe, need = args
        ctx.save_for_backward(dout, dweights, q, k, v, mask, keep)
        ctx.args = args
        ctx.set_materialize_grads(False)
        xp = xp_of(q)
        if keep is None:
            pd = p
        else:
            pd = p * keep
            pd *= sc
        dv = pd.swapaxes(-1, -2) @ dout if need[2] else None
        dp = dout @ xp.swapaxes(v, -1, -2)
        if dweights is not None:
            dp = dp + dweights
        if keep is not None:
            dp *= keep
            dp *= sc
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        dmask = unbroadcast(ds, mask_shape) if mask_shape is not None and need[3] else None
        if dmask is ds:  # a full-shape mask's gradient is ds itself: scale a copy for dq, dk
            ds = ds * scale
        else:
            ds *= scale
        dq = ds @ k if need[0] else None
        dk = xp.swapaxes(ds, -1, -2) @ q if need[1] else None
        return (_unbroadcast_batch(dq, q.shape), _unbroadcast_batch(dk, k.shape), _unbroadcast_batch(dv, v.shape),
                dmask)

    @staticmethod
    def backward(ctx, ggq, ggk, ggv, ggmask):
        dout, dweights, q, k, v, mask, keep = ctx.saved_tensors
        (scale, mask_shape, return_weights), sc, safe, need = ctx.args

        xp = xp_of(q)

        def forward(q, kt, v, mask):
            return _attention_composed(q, kt, v, mask, scale, keep, sc, safe, return_weights)

        def t(a):  # k enters as k^T, a leaf of its own (no transpose node in the composition)
            return None if a is None else xp.swapaxes(a, -1, -2)

        gp, gc = double_vjp(forward, [q, t(k), v, mask], [dout, dweights], [ggq, t(ggk), ggv, ggmask])
        return (gc[0], gc[1], gp[0], t(gp[1]), gp[2], gp[3], None, None, None)


def _attention_composed(q, kt, v, mask, scale, keep, sc, safe, return_weights):
    """Attention's forward as nnbox ops (each differentiable twice), for ``double_vjp``; the softmax
    is shifted by its rows' maxima as constants (the shift cancels in value and derivative)."""
    from .._tensor import Tensor as T

    xp = xp_of(q._data)
    s = (q @ kt) * scale
    if mask is not None:
        s = s + mask
    m = s._data.max(axis=-1, keepdims=True)
    if safe:
        m = xp.where(xp.isneginf(m), 0, m)
    e = (s - T._make(m)).exp()
    denom = e.sum(-1, keepdim=True)
    if safe:
        denom = denom + T._make((denom._data == 0).astype(denom._data.dtype))
    p = e / denom
    if keep is not None:
        p = p * T._make(keep.astype(p._data.dtype) * sc)
    out = p @ v
    return (out, p) if return_weights else (out,)


def _unbroadcast_batch(g, shape):
    return None if g is None else unbroadcast(g, shape)


def additive_mask(mask: Tensor, dtype, allow_is_true: bool = True) -> Tensor:
    """A boolean mask (True = may attend, or = masked when ``allow_is_true`` is False) as 0 / -inf floats."""
    xp = xp_of(mask._data)
    keep = mask._data if allow_is_true else ~mask._data
    return Tensor._make(xp.where(keep, 0.0, -np.inf).astype(dtype))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T / sqrt(E) + mask) @ v over the last two dims (any leading batch dims).

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> q = k = v = nnbox.ones(1, 2, 4)
    >>> F.scaled_dot_product_attention(q, k, v).shape
    torch.Size([1, 2, 4])
    """
    qd, kd, vd = query._data, key._data, value._data
    if qd.ndim < 2 or kd.ndim < 2 or vd.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least 2-D")
    if qd.dtype != kd.dtype or qd.dtype != vd.dtype:
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead."
        )
    if qd.shape[-1] != kd.shape[-1]:
        raise RuntimeError(f"Expected query and key to have the same embedding dim, got {shape_str(qd.shape)} "
                           f"and {shape_str(kd.shape)}")
    if kd.shape[-2] != vd.shape[-2]:
        raise RuntimeError(f"Expected key and value to have the same sequence length, got {shape_str(kd.shape)} "
                           f"and {shape_str(vd.shape)}")
    if enable_gqa and qd.ndim >= 3 and qd.shape[-3] != kd.shape[-3]:
        raise NotImplementedError("nnbox: scaled_dot_product_attention(enable_gqa=True) with grouped heads is not "
                                  "supported")
    L, S = qd.shape[-2], kd.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        xp = xp_of(qd)
        mask = Tensor._make(xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(qd.dtype))
    elif attn_mask is not None:
        mask = additive_mask(attn_mask, qd.dtype) if attn_mask._data.dtype == np.bool_ else attn_mask
    sc = 1.0 / math.sqrt(qd.shape[-1]) if scale is None else float(scale)
    rng = None
    if dropout_p > 0:
        from .._backend.random import draw_bernoulli

        rng = lambda shape: draw_bernoulli(query.device, None, shape, 1.0 - dropout_p)  # noqa: E731
    return (FlashAttention if _torch_uses_flash(qd, kd, vd, dropout_p) else Attention).apply(query, key, value, mask, sc, float(dropout_p), rng, True, False)


def _torch_uses_flash(q, k, v, dropout_p: float) -> bool:
    """Would torch (CPU) run its fused flash kernel, whose backward it cannot differentiate?  For
    4-d inputs with the same batch and head sizes and head dims, without dropout; else its math
    path, made of differentiable ops (measured on torch 2.13)."""
    return (dropout_p == 0 and q.ndim == k.ndim == v.ndim == 4 and q.shape[:2] == k.shape[:2] == v.shape[:2]
            and q.shape[-1] == k.shape[-1] == v.shape[-1] and min(q.shape[-2], k.shape[-2]) > 0)


def _float_mask(mask: Tensor | None, dtype, name: str) -> Tensor | None:
    """torch's MHA masks: a bool mask marks positions NOT allowed (-inf); a float mask is added as is."""
    if mask is None:
        return None
    if mask._data.dtype == np.bool_:
        return additive_mask(mask, dtype, allow_is_true=False)
    if mask._data.dtype.kind not in "fV":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                                 bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
                                 static_v: Tensor | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False):
    """Multi-head attention on (L, N, E) inputs (or unbatched (L, E)), as ``torch.nn.functional``'s."""
    from .linear import linear
    from .shape import cat

    if static_k is not None or static_v is not None:
        raise NotImplementedError("nnbox: multi_head_attention_forward(static_k/static_v) is not supported")
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    dtype = query._data.dtype

    # input projections: one GEMM for self-attention, three otherwise
    if not use_separate_proj_weight:
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            wq, wk, wv = in_proj_weight.chunk(3)
            bq, bk, bv = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
            q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    else:
        bq, bk, bv = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
        q, k, v = linear(query, q_proj_weight, bq), linear(key, k_proj_weight, bk), linear(value, v_proj_weight, bv)

    attn_mask = _float_mask(attn_mask, dtype, "attn_mask")
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is torch.Size({list(attn_mask.shape)}), but should "
                                   f"be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is torch.Size({list(attn_mask.shape)}), but should "
                                   f"be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    key_padding_mask = _float_mask(key_padding_mask, dtype, "key_padding_mask")

    def pad_last(m):  # one more key position that everyone may attend to
        if m is None:
            return None
        from .creation import zeros

        return cat([m, zeros(tuple(m.shape[:-1]) + (1,), dtype=m.dtype, device=m.device)], -1)

    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask, key_padding_mask = pad_last(attn_mask), pad_last(key_padding_mask)

    # (L, N, E) -> (N * heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        from .creation import zeros

        z = zeros((bsz * num_heads, 1, head_dim), dtype=q.dtype, device=q.device)
        k, v = cat([k, z], 1), cat([v, z], 1)
        attn_mask, key_padding_mask = pad_last(attn_mask), pad_last(key_padding_mask)
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"torch.Size({list(key_padding_mask.shape)})")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    rng = None
    if dropout_p > 0:
        from .._backend.random import draw_bernoulli

        rng = lambda shape: draw_bernoulli(query.device, None, shape, 1.0 - dropout_p)  # noqa: E731
    scale = 1.0 / math.sqrt(head_dim)
    # torch computes the weighted path with a plain softmax (nan for a fully masked row) and the
    # need_weights=False path with SDPA (zeros there); both are kept
    fn = Attention if dropout_p > 0 or need_weights else FlashAttention  # as torch (SDPA without weights)
    res = fn.apply(q, k, v, attn_mask, scale, float(dropout_p), rng, not need_weights, need_weights)
    out, weights = res if need_weights else (res, None)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if weights is not None:
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = weights.squeeze(0)
    if not batched:
        out = out.squeeze(1)
    return out, weights


__all__.append("multi_head_attention_forward")
