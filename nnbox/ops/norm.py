"""Normalization (batch, layer, group, instance, local response): fused Functions.

Each normalization is one node whose backward is the closed form of d/dx of
``xhat = (x - mean) * invstd``:  ``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))`` with
``g = dy * weight``.  Saving ``xhat`` and ``invstd`` keeps the backward to a handful of array
passes, instead of the dozen nodes a composition of elementwise ops and reductions would record.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._chunks import chunked
from ._graph import input_tensor
from ._util import shape_str, xp_of

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm"]


def _chan_sum(a3):
    """Sum of (N, C, L) over N and L -> (C,).  Reducing N first adds whole contiguous (C, L) rows
    (SIMD-friendly) and leaves a small array; reducing L first is slow when L is short (2x2 maps)."""
    return a3.sum(axis=0).sum(axis=1)


def _chan_dot(a3, b3):
    """sum over N and L of a3 * b3 -> (C,): einsum for long rows, else multiply then row sums."""
    if a3.shape[2] == 1:
        return xp_of(a3).einsum("nc,nc->c", a3[:, :, 0], b3[:, :, 0])
    if a3.shape[2] >= 16:
        return xp_of(a3).einsum("ncl,ncl->c", a3, b3)
    return (a3 * b3).sum(axis=0).sum(axis=1)


def _cols(v, l: int):
    """The per-channel vector ``v`` (C,) as a contiguous (C, L) array of repeated columns.

    Broadcasting ``v[:, None]`` against (N, C, L) runs NumPy's inner loop once per (sample, channel)
    row of L elements, with per-row iterator overhead; a full (C, L) operand lets the loop coalesce
    each sample into one contiguous run.  Same values (a copy); on ResNet18's BN shapes at batch 32,
    one thread, a broadcast multiply-add pass took 1.2-2x less time (64x32x32: 0.90 -> 0.55 ms)."""
    col = v[:, None]
    if l == 1:
        return col
    out = xp_of(v).empty((v.shape[0], l), dtype=v.dtype)
    out[...] = col  # no Python frames (broadcast_to runs several): this runs ~7 times per BN layer per step
    return out


def _by_rows(a3, fn) -> None:
    """``fn(rows)`` for blocks of the batch axis of the (N, C, L) array ``a3``, on nnbox's threads
    when it is large (NumPy arrays only; one thread: one call on all rows).  Only element-wise passes
    go through here, so the values do not depend on the blocking; reductions stay whole."""
    if type(a3) is not np.ndarray:
        fn(slice(None))
        return
    chunked(a3.shape[0], a3.size, lambda lo, hi: fn(slice(lo, hi)))


class BatchNorm(Function):
    """Batch normalization over (N, C, L): batch statistics in training, running ones in eval.

    The running buffers arrive as raw arrays and are updated in place during training, as torch does.
    """

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = xp_of(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        ctx.x_shape = x.shape
        ctx.training = training
        if training:
            m = n * x3.shape[2]
            mean = _chan_sum(x3) / m
            xhat = xp.empty(x3.shape, dtype=x3.dtype)
            l = x3.shape[2]
            mean_c = _cols(mean, l)
            _by_rows(x3, lambda r: xp.subtract(x3[r], mean_c, out=xhat[r]))
            var = _chan_dot(xhat, xhat) / m
            invstd = 1.0 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * m / max(m - 1, 1)) * var
            # y must not share memory with the saved xhat: users add into it in place (out += x)
            y = xp.empty(x3.shape, dtype=x3.dtype)
            invstd_c = _cols(invstd, l)
            weight_c = None if weight is None else _cols(weight, l)
            bias_c = None if bias is None else _cols(bias, l)

            def scale_shift(r):
                xhat[r] *= invstd_c
                if weight_c is not None:
                    xp.multiply(xhat[r], weight_c, out=y[r])
                else:
                    y[r] = xhat[r]
                if bias_c is not None:
                    y[r] += bias_c
            _by_rows(x3, scale_shift)
            ctx.save_for_backward(xhat, invstd, weight)
            ctx.eps, ctx.mean = eps, mean
            return y.reshape(x.shape)
        invstd = 1.0 / xp.sqrt(running_var + eps)
        scale = invstd if weight is None else weight * invstd
        shift = -running_mean * scale
        if bias is not None:
            shift += bias
        l = x3.shape[2]
        y = x3 * _cols(scale, l)
        y += _cols(shift, l)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, invstd, scale, running_mean, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        need = ctx.needs_input_grad[:3]
        if ctx.training:
            xhat, invstd, weight = ctx.saved_tensors
            x = input_tensor(ctx, 0, _bn_input) if ctx._in_graph else None  # only a second order needs x
            return BatchNormTrainBackward.run(gy, x, weight, xhat, invstd, ctx.eps, need) + (None,) * 5
        x, invstd, scale, rm, weight = ctx.saved_tensors
        return BatchNormEvalBackward.run(gy, x, weight, invstd, scale, rm, need) + (None,) * 5


def _bn_input(ctx):
    """Batch norm's input rebuilt from the kept xhat, invstd and mean (the input is not kept)."""
    xhat, invstd = ctx._to_save[0], ctx._to_save[1]
    return (xhat * (1 / invstd)[:, None] + ctx.mean[:, None]).reshape(ctx.x_shape)


class BatchNormTrainBackward(Function):
    """Batch norm's gradients in training (batch statistics): ``forward`` is the fast kernel on the
    saved ``xhat`` and ``invstd``; ``backward`` the second derivatives, an xp formula on ``gy``, ``x``
    and ``weight`` (the statistics recomputed from ``x``, see ``_norm_double``)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, x, weight, xhat, invstd, eps, need):
        n, c = gy.shape[0], gy.shape[1]
        g3 = gy.reshape(n, c, -1)
        gx = gw = gb = None
        m = g3.shape[0] * g3.shape[2]
        sg = _chan_sum(g3)
        sgx = _chan_dot(g3, xhat)
        if need[0]:
            k = invstd if weight is None else weight * invstd
            l = g3.shape[2]
            a, b, kc = _cols(-(sgx / m) * k, l), _cols(sg / m * k, l), _cols(k, l)
            gx = xp_of(g3).empty(g3.shape, dtype=g3.dtype)

            def rows(r):
                xp_of(g3).multiply(xhat[r], a, out=gx[r])
                gx[r] += g3[r] * kc
                gx[r] -= b
            _by_rows(g3, rows)
            gx = gx.reshape(gy.shape)
        gw = sgx if need[1] else None
        gb = sg if need[2] else None
        ctx.save_for_backward(gy, x, weight)
        ctx.eps = eps
        ctx.set_materialize_grads(False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        gy, x, weight = ctx.saved_tensors
        n, c = gy.shape[0], gy.shape[1]
        layout = (n, c, -1)
        return _norm_double(ggx, ggw, ggb, gy, x, weight, layout, (0, 2), layout, (1, c, 1), ctx.eps, False) \
            + (None, None, None, None)


class BatchNormEvalBackward(Function):
    """Batch norm's gradients with the running statistics (a per-channel affine map of ``x``):
    ``gx = gy * w * invstd``, ``gw = sum(gy * (x - rm)) * invstd``, ``gb = sum(gy)``; bilinear, so
    the backward is a few products."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, x, weight, invstd, scale, rm, need):
        n, c = gy.shape[0], gy.shape[1]
        g3 = gy.reshape(n, c, -1)
        gx = gw = gb = None
        if need[0]:
            gx = (g3 * scale[:, None]).reshape(gy.shape)
        if need[1]:
            x3 = x.reshape(n, c, -1)
            gw = (_chan_dot(g3, x3) - _chan_sum(g3) * rm) * invstd
        if need[2]:
            gb = _chan_sum(g3)
        ctx.save_for_backward(gy, x, weight)
        ctx.invstd, ctx.rm = invstd, rm
        ctx.set_materialize_grads(False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        gy, x, weight = ctx.saved_tensors
        xp = xp_of(gy)
        n, c = gy.shape[0], gy.shape[1]
        col = (1, c, 1)
        invstd, rm = xp.reshape(ctx.invstd, col), xp.reshape(ctx.rm, col)
        g3 = xp.reshape(gy, (n, c, -1))
        g_gy = 0
        g_x = g_w = None
        if ggx is not None:
            gg3 = xp.reshape(ggx, (n, c, -1))
            g_gy = gg3 * (invstd if weight is None else xp.reshape(weight, col) * invstd)
            if weight is not None:
                g_w = xp.reshape(xp.sum(gg3 * g3, axis=(0, 2), keepdims=True) * invstd, (c,))
        if ggw is not None:
            gw3 = xp.reshape(ggw, col)
            g_gy = g_gy + gw3 * (xp.reshape(x, (n, c, -1)) - rm) * invstd
            g_x = xp.reshape(g3 * gw3 * invstd, gy.shape)
        if ggb is not None:
            g_gy = g_gy + xp.broadcast_to(xp.reshape(ggb, col), g3.shape)
        return xp.reshape(g_gy, gy.shape), g_x, g_w, None, None, None, None


# --- double backward of the normalizations, one formula for batch/layer/group/instance/RMS norm -------
# In the normalization layout (reductions over ``axes``, m elements each): xhat = (x - mean) * s,
# s = (var + eps)^-1/2, P(v) = v - mean(v) - xhat * mean(v * xhat) (RMS: no mean(v) term and no
# centring).  First order: gx = s * P(g) with g = gy * W (W the affine weight, broadcast),
# gW = sum(gy * xhat), gb = sum(gy).  P is self-adjoint and d<a, xhat>/dx = s * P(a), so
#   d/dgy = W * s * P(ggx) + ggW * xhat + ggb;   d/dW = sum(gy * s * P(ggx));
#   d/dx  = s * P(ggW * gy) - (s^2 / m) [xhat (A - B) + S_g P(ggx) + S_gg P(g)]
# with S_g = sum(g xhat), S_gg = sum(ggx xhat), A = sum(ggx g) - sum(ggx) sum(g) / m (RMS: no second
# term), B = S_gg S_g / m (from ds/dx = -s^2 xhat / m).

def _norm_stats(x, axes, eps, rms):
    """xhat and s = 1/sqrt(var + eps) of ``x`` over ``axes`` (keepdims), differentiable in ``x``."""
    xp = xp_of(x)
    d = x if rms else x - xp.mean(x, axis=axes, keepdims=True)
    s = 1 / xp.sqrt(xp.mean(d * d, axis=axes, keepdims=True) + eps)
    return d * s, s


def _proj(v, xhat, axes, rms):
    xp = xp_of(v)
    out = v - xhat * xp.mean(v * xhat, axis=axes, keepdims=True)
    return out if rms else out - xp.mean(v, axis=axes, keepdims=True)


def _norm_double(ggx, ggw, ggb, gy, x, weight, norm_shape, axes, aff_shape, w_shape, eps, rms):
    """(d/dgy, d/dx, d/dweight, d/dbias) of <ggx, gx> + <ggw, gw> + <ggb, gb> (see above)."""
    xp = xp_of(gy)
    xn = xp.reshape(x, norm_shape)
    m = math.prod(xn.shape[a] for a in axes)
    xhat, s = _norm_stats(xn, axes, eps, rms)
    ga = xp.reshape(gy, aff_shape)
    wb = 1 if weight is None else xp.reshape(weight, w_shape)
    red = tuple(i for i, k in enumerate(w_shape) if k == 1)
    g_gy, g_x, g_w = 0, 0, None
    if ggx is not None:
        ggn = xp.reshape(ggx, norm_shape)
        gn = xp.reshape(ga * wb, norm_shape)
        pg = xp.reshape(s * _proj(ggn, xhat, axes, rms), aff_shape)
        g_gy = pg * wb
        if weight is not None:
            g_w = xp.reshape(xp.sum(ga * pg, axis=red, keepdims=True), weight.shape)
        s_g = xp.sum(gn * xhat, axis=axes, keepdims=True)
        s_gg = xp.sum(ggn * xhat, axis=axes, keepdims=True)
        a = xp.sum(ggn * gn, axis=axes, keepdims=True)
        if not rms:
            a = a - xp.sum(ggn, axis=axes, keepdims=True) * xp.sum(gn, axis=axes, keepdims=True) / m
        g_x = -(s * s / m) * (xhat * (a - s_gg * s_g / m) + s_g * _proj(ggn, xhat, axes, rms)
                              + s_gg * _proj(gn, xhat, axes, rms))
    if ggw is not None:
        gwb = xp.reshape(ggw, w_shape)
        g_gy = g_gy + gwb * xp.reshape(xhat, aff_shape)
        g_x = g_x + s * _proj(xp.reshape(gwb * ga, norm_shape), xhat, axes, rms)
    if ggb is not None:
        g_gy = g_gy + xp.broadcast_to(xp.reshape(ggb, w_shape), ga.shape)
    g_gy = xp.reshape(g_gy, gy.shape)
    g_x = None if ggx is None and ggw is None else xp.reshape(g_x, x.shape)
    return g_gy, g_x, g_w


def _check_vec(t, name, c):
    if t is not None and t._data.size != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")


def _check_dtypes(input, *params):
    dt = input._data.dtype
    for p in params:
        if p is not None and p._data.dtype != dt:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over dim 1 of (N, C, *) input, PyTorch's ``F.batch_norm``.

    In training the batch statistics normalize and the running buffers are updated in place
    (unbiased variance); in evaluation the running buffers normalize.

    >>> import nnbox, nnbox.nn.functional as F
    >>> y = F.batch_norm(nnbox.tensor([[1.0], [3.0]]), None, None, training=True)
    >>> [round(v, 3) for v in y.flatten().tolist()]
    [-1.0, 1.0]
    """
    shape = input._data.shape  # raw shapes: this runs once per BatchNorm layer per step
    if len(shape) < 2:
        raise ValueError(f"Expected 2D or higher input (got {len(shape)}D input)")
    c = shape[1]
    if training:
        if input._data.size == c:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape!r}")
    elif running_mean is None or running_var is None:
        raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be defined in evaluation mode")
    _check_vec(running_mean, "running_mean", c)
    _check_vec(running_var, "running_var", c)
    _check_vec(weight, "weight", c)
    _check_vec(bias, "bias", c)
    _check_dtypes(input, weight, bias, running_mean, running_var)
    rm = None if running_mean is None else running_mean._data
    rv = None if running_var is None else running_var._data
    if training and rm is not None:  # the buffers change in place: bump their version counters
        running_mean._vc[0] += 1
        if running_var is not None:
            running_var._vc[0] += 1
    return BatchNorm.apply(input, weight, bias, rm, rv, bool(training), momentum, eps)


class RowNorm(Function):
    """Normalize each row of ``x`` viewed as (R, D), then apply a broadcast affine in ``aff_shape``.

    Layer norm: rows are the leading dims, affine over the normalized dims.  Group/instance norm:
    rows are (sample, group), affine per channel of the (N, C, L) view."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, weight, bias, rows, aff_shape, w_shape, eps, rms):
        xp = xp_of(x)
        x2 = x.reshape(rows, -1)
        if rms:  # RMSNorm: no centring
            xhat = x2.copy()
            var = xp.einsum("rd,rd->r", x2, x2) / x2.shape[1]
        else:
            mean = x2.mean(axis=1, keepdims=True)
            xhat = x2 - mean
            var = xp.einsum("rd,rd->r", xhat, xhat) / x2.shape[1]
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat *= invstd[:, None]
        y = xhat.reshape(aff_shape)
        # y never aliases the saved xhat: users add into normalized outputs in place
        y = y * weight.reshape(w_shape) if weight is not None else y.copy()
        if bias is not None:
            y += bias.reshape(w_shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.args = (x.shape, rows, aff_shape, w_shape, rms, None if bias is None else bias.shape, eps)
        ctx.mean = None if rms else mean
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xhat, invstd, weight = ctx.saved_tensors
        x = input_tensor(ctx, 0, _row_input) if ctx._in_graph else None  # only a second order needs x
        return RowNormBackward.run(gy, x, weight, xhat, invstd, ctx.args, ctx.needs_input_grad[:3]) + (None,) * 5


def _row_input(ctx):
    """The row normalization's input rebuilt from the kept xhat, invstd (and mean)."""
    xhat, invstd = ctx._to_save[0], ctx._to_save[1]
    x2 = xhat * (1 / invstd)[:, None]
    if ctx.mean is not None:
        x2 = x2 + ctx.mean
    return x2.reshape(ctx.args[0])


class RowNormBackward(Function):
    """Layer/group/instance/RMS norm's gradients: ``forward`` is the fast kernel on the saved ``xhat``
    and ``invstd``, ``backward`` the second derivatives (``_norm_double``, statistics recomputed)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, x, weight, xhat, invstd, args, need):
        x_shape, rows, aff_shape, w_shape, rms, b_shape, eps = args
        ga = gy.reshape(aff_shape)
        red = tuple(i for i, s in enumerate(w_shape) if s == 1)  # axes the affine broadcasts over
        gw = gb = gx = None
        if need[1]:
            gw = (ga * xhat.reshape(aff_shape)).sum(axis=red).reshape(weight.shape)
        if need[2]:
            gb = ga.sum(axis=red).reshape(b_shape)
        if need[0]:
            g = ga * weight.reshape(w_shape) if weight is not None else ga
            g2 = g.reshape(rows, -1)
            d = g2.shape[1]
            xp = xp_of(g2)
            proj = xp.einsum("rd,rd->r", g2, xhat) / d
            gx = xhat * -proj[:, None]
            gx += g2
            if not rms:
                gx -= g2.mean(axis=1, keepdims=True)
            gx *= invstd[:, None]
            gx = gx.reshape(x_shape)
        ctx.save_for_backward(gy, x, weight)
        ctx.args = args
        ctx.set_materialize_grads(False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        gy, x, weight = ctx.saved_tensors
        x_shape, rows, aff_shape, w_shape, rms, b_shape, eps = ctx.args
        g_gy, g_x, g_w = _norm_double(ggx, ggw, ggb, gy, x, weight, (rows, -1), (1,), aff_shape, w_shape, eps, rms)
        return g_gy, g_x, g_w, None, None, None, None


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, PyTorch's ``F.layer_norm``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.layer_norm(nnbox.tensor([[1.0, 3.0]]), (2,)).tolist()
    [[-0.9999949932098389, 0.9999949932098389]]
    """
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={shape_str(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size{shape_str(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{shape_str(p.shape)} and normalized_shape = {shape_str(ns)}")
    _check_dtypes(input, weight, bias)
    d = math.prod(ns)
    rows = input.numel() // d if d else 0
    return RowNorm.apply(input, weight, bias, rows, (rows, d), (1, d), eps, False)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x**2) + eps) over the trailing dims, times ``weight``."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={shape_str(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size{shape_str(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    d = math.prod(ns)
    rows = input.numel() // d if d else 0
    return RowNorm.apply(input, weight, None, rows, (rows, d), (1, d), eps, True)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize each group of channels of each sample, PyTorch's ``F.group_norm``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.group_norm(nnbox.randn(2, 4, 3), 2).shape
    torch.Size([2, 4, 3])
    """
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {shape_str(input.shape)} and num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {shape_str(p.shape)} and input of shape "
                               f"{shape_str(input.shape)}")
    _check_dtypes(input, weight, bias)
    spatial = math.prod(input.shape[2:])
    return RowNorm.apply(input, weight, bias, n * num_groups, (n, c, spatial), (1, c, 1), eps, False)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample over its spatial dims, PyTorch's ``F.instance_norm``."""
    if input.ndim < 3:
        raise ValueError(f"expected 3D or higher input (got {input.ndim}D input)")
    n, c = input.shape[0], input.shape[1]
    spatial = math.prod(input.shape[2:])
    if use_input_stats and spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape!r}")
    _check_vec(weight, "weight", c)
    _check_vec(bias, "bias", c)
    _check_dtypes(input, weight, bias, running_mean, running_var)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None or running_var is not None:
        # the running buffers track the batch average of the per-instance statistics
        x3 = input._data.reshape(n, c, -1)
        mean = x3.mean(axis=2)
        if running_mean is not None:
            running_mean._data *= 1 - momentum
            running_mean._data += momentum * mean.mean(axis=0)
            running_mean._vc[0] += 1
        if running_var is not None:
            var = x3.var(axis=2, ddof=1) if spatial > 1 else x3.var(axis=2)
            running_var._data *= 1 - momentum
            running_var._data += momentum * var.mean(axis=0)
            running_var._vc[0] += 1
    return RowNorm.apply(input, weight, bias, n * c, (n, c, spatial), (1, c, 1), eps, False)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Normalize each element by the energy of its ``size`` neighbouring channels (AlexNet's LRN):
    ``x / (k + alpha/size * sum(x**2 over the window)) ** beta``."""
    from .nn_misc import pad
    from .pool import avg_pool2d, avg_pool3d

    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = (input * input).unsqueeze(1)
    if dim == 3:
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div
