"""Loss functions (``F.cross_entropy``, ``F.mse_loss`` ...), torch's signatures, checks and messages.

The hot ones are single fused ``Function``s with a hand-derived backward:
- ``CrossEntropy``: log-softmax + NLL (+ class weights, ignore_index, label smoothing) in one node;
  the gradient is ``g * (softmax * sum(a) - a)`` with ``a`` the per-class coefficients of -log p.
- ``NLLLoss``, ``PointwiseLoss`` (mse/l1/smooth_l1/huber), ``BinaryCrossEntropy(WithLogits)``,
  ``KLDiv``.
The rarer margin/embedding losses are compositions of differentiable ops.
Inputs ``(N, C, d1, ...)`` are handled by moving the class axis last and flattening to ``(M, C)``.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import CPU, move
from .._tensor import Tensor
from ..autograd.function import Function
from ._util import add_at, shape_str, unbroadcast, xp_of
from .activation import softplus_array

__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
    "hinge_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss",
]

_LEGACY = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
           "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}


def _type_name(arr) -> str:
    return _LEGACY.get(str(arr.dtype), str(arr.dtype))


# --- reduction handling ---------------------------------------------------------------------------


def legacy_reduction(size_average, reduce, emit_warning: bool = True) -> str:
    """Map the deprecated ``size_average``/``reduce`` pair to a ``reduction`` string, as torch."""
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean' instead.",
                      stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _reduction(size_average, reduce, reduction: str, allowed=("none", "mean", "sum")) -> str:
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` to an elementwise loss built from differentiable ops."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce_array(loss, reduction: str):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _grad_scale(grad, reduction: str, n: int, shape):
    """Upstream gradient of a reduced loss, as an array broadcastable to the elementwise loss."""
    if reduction == "mean":
        return grad / n if n else grad
    if reduction == "sum":
        return grad
    xp = xp_of(grad)
    return xp.reshape(grad, shape)


# --- class-index losses: shapes ---------------------------------------------------------------------


def _to_rows(x):
    """(C,) -> (1, C); (N, C) as is; (N, C, d1, ...) -> (N*d1*..., C) with the class axis last."""
    if x.ndim == 1:
        return x[None]
    if x.ndim == 2:
        return x
    c = x.shape[1]
    return xp_of(x).moveaxis(x, 1, -1).reshape(-1, c)


def _from_rows(g, shape):
    if len(shape) == 1:
        return g.reshape(shape)
    if len(shape) == 2:
        return g
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp_of(g).ascontiguousarray(xp_of(g).moveaxis(g.reshape(moved), -1, 1))


def _rows_xp(x):
    """``_to_rows`` in the formula rules (arrays or Tensors): (N, C, d...) -> (N*d..., C)."""
    xp = xp_of(x)
    if len(x.shape) == 1:
        return xp.reshape(x, (1, -1))
    if len(x.shape) == 2:
        return x
    return xp.reshape(xp.moveaxis(x, 1, -1), (-1, x.shape[1]))


def _from_rows_xp(g, shape):
    """``_from_rows`` in the formula rules."""
    xp = xp_of(g)
    if len(shape) <= 2:
        return xp.reshape(g, shape)
    return xp.moveaxis(xp.reshape(g, (shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)


def _per_row(v):
    """A per-row coefficient (m,) as a column (m, 1); scalars stay scalars."""
    xp = xp_of(v)
    return xp.reshape(v, (-1, 1)) if len(getattr(v, "shape", ())) else v


def _check_class_target(input: Tensor, target: Tensor, weight, ignore_index: int) -> None:
    """torch's validation of (input, class-index target, weight) for nll_loss / cross_entropy."""
    x, t = input._data, target._data
    if x.ndim == 0:
        raise RuntimeError("input tensor should be 1D or more, but got 0D")
    if t.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_type_name(t)}")
    if x.ndim >= 2 and t.ndim >= 1 and t.shape[0] != x.shape[0]:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size ({t.shape[0]}).")
    if x.ndim == 2 and t.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.ndim == 1 and t.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.ndim > 2:
        expected = (x.shape[0],) + x.shape[2:]
        if t.shape != expected:
            raise RuntimeError(f"Expected target size {shape_str(expected)}, got {shape_str(t.shape)}")
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    if weight is not None:
        w = weight._data
        if w.size != c or w.ndim != 1:
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but got weight "
                f"tensor of shape: {shape_str(w.shape)}"
            )
        if w.dtype != x.dtype:
            raise RuntimeError(f"expected scalar type {_type_name(x)} but found {_type_name(w)}")
    flat = t.reshape(-1)
    # Only host targets are checked here: on the GPU torch checks inside the kernel (a device-side
    # assert), and a check from the host would read the batch's targets back on every step.
    if type(flat) is np.ndarray and flat.size and (int(flat.min()) < 0 or int(flat.max()) >= c):
        bad = ((flat < 0) | (flat >= c)) & (flat != ignore_index)
        if bad.any():
            raise IndexError(f"Target {int(flat[bad.argmax()])} is out of bounds.")


def _or_one(d, xp):
    """``d``, or 1 where it is 0, without reading a device value back to the host."""
    if type(d) is np.ndarray or not hasattr(d, "dtype") or isinstance(d, np.generic):  # on the host
        return d if d else 1
    return xp.where(d == 0, d.dtype.type(1), d)


class CrossEntropy(Function):
    """log_softmax + NLL over the class axis in one node, for class-index targets."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, smoothing):
        xp = xp_of(x)
        rows = _to_rows(x)
        m, c = rows.shape
        t = target.reshape(-1).astype(np.int64, copy=False)
        shift = rows.max(axis=1, keepdims=True)
        logp = rows - shift
        logp -= xp.log(xp.exp(logp).sum(axis=1, keepdims=True))
        valid = t != ignore_index
        one = x.dtype.type(1)
        ar = xp.arange(m)
        if weight is None and type(x) is np.ndarray and valid.all():  # common case: every row counts with weight 1
            # (on the GPU the general branch below: knowing that no target is ignored needs a sync)
            tc, wt, valid = t, one, True
            nll = -logp[ar, t]
            d1 = x.dtype.type(m) if reduction == "mean" else one
        else:
            tc = xp.where(valid, t, 0)
            wt = (weight[tc] * valid) if weight is not None else valid.astype(x.dtype)
            nll = -(wt * logp[ar, tc])
            d1 = wt.sum() if reduction == "mean" else one
        with np.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: nan, as torch
            loss = nll if reduction == "none" else nll.sum() / d1
        d2 = one
        if smoothing:
            smooth = -((logp * weight).sum(axis=1) if weight is not None else logp.sum(axis=1)) * valid
            if reduction == "mean":
                d2 = d1 if weight is not None else xp.asarray(valid).sum(dtype=x.dtype) * (m if valid is True else 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                red = smooth if reduction == "none" else smooth.sum() / d2
            loss = (1 - smoothing) * loss + red * (smoothing / c)
        ctx.save_for_backward(logp, x)
        ctx.meta = (tc, wt, valid, d1, d2, x.shape, target.shape, shift)
        ctx.weight, ctx.reduction, ctx.smoothing = weight, reduction, smoothing
        return loss.reshape(target.shape) if reduction == "none" else xp.asarray(loss, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        logp, x = ctx.saved_tensors
        return CrossEntropyBackward.run(grad, x, logp, ctx.meta, ctx.weight, ctx.reduction, ctx.smoothing), \
            None, None, None, None, None


class CrossEntropyBackward(Function):
    """Cross entropy's input gradient, ``g * (softmax(x) * K - onehot(t) * a1 - a2 * w)`` per row
    (``a1``, ``a2``, ``K`` constants of the targets, weights, smoothing and reduction): ``forward``
    is the fast array kernel on the saved log-probabilities, ``backward`` its derivative w.r.t. ``g``
    (linear) and ``x`` (through the softmax), as an xp formula."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x, logp, meta, weight, reduction, eps):
        tc, wt, valid, d1, d2, xshape, tshape, shift = meta
        xp = xp_of(logp)
        m, c = logp.shape
        g = grad.reshape(-1) if reduction == "none" else grad
        d1 = _or_one(d1, xp)  # every target ignored: torch's gradient is 0, not nan
        d2 = _or_one(d2, xp)
        c1 = g * ((1 - eps) / d1) * wt  # coefficient of -log p[target] per row
        total = c1
        if eps:
            c2 = g * (eps / c / d2) * valid  # coefficient of -sum_c w_c log p_c per row
            total = c1 + c2 * (weight.sum() if weight is not None else c)
        dx = xp.exp(logp)
        dx *= total[:, None] if total.ndim else total
        dx[xp.arange(m), tc] -= c1
        if eps:
            c2 = c2[:, None] if c2.ndim else c2
            dx -= c2 * weight if weight is not None else c2
        ctx.save_for_backward(grad, x)
        ctx.meta, ctx.weight, ctx.reduction, ctx.eps = meta, weight, reduction, eps
        return _from_rows(dx, xshape)

    @staticmethod
    def backward(ctx, ggx):
        grad, x = ctx.saved_tensors
        tc, wt, valid, d1, d2, xshape, tshape, shift = ctx.meta
        weight, eps = ctx.weight, ctx.eps
        xp = xp_of(ggx)
        r = _rows_xp(ggx)
        rows = _rows_xp(x)
        c = rows.shape[1]
        a1 = ((1 - eps) / (d1 if d1 else 1)) * wt
        a2 = (eps / c / (d2 if d2 else 1)) * valid
        k = a1 + a2 * (xp.sum(weight) if weight is not None else c) if eps else a1
        e = xp.exp(xp.subtract(rows, shift))  # softmax(x), differentiable in x
        p = e / xp.sum(e, axis=1, keepdims=True)
        # d/d grad: per row <r, p K - onehot a1 - a2 w>
        at_t = xp.reshape(xp.take_along_axis(r, xp.reshape(tc, (-1, 1)), axis=1), (-1,))
        dg = xp.sum(r * p, axis=1) * k - at_t * a1
        if eps:
            dg = dg - a2 * (xp.sum(r * weight, axis=1) if weight is not None else xp.sum(r, axis=1))
        dg = xp.reshape(dg, tshape) if ctx.reduction == "none" else xp.sum(dg)
        # d/dx: through p only; v = r * g K, and the softmax's vector-Jacobian product
        g = xp.reshape(grad, (-1,)) if ctx.reduction == "none" else grad
        v = r * _per_row(g * k)
        dz = p * (v - xp.sum(v * p, axis=1, keepdims=True))
        return dg, _from_rows_xp(dz, xshape), None, None, None, None, None


class CrossEntropyProbs(Function):
    """Cross entropy against class probabilities (``target`` shaped like ``input``)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, y, weight, reduction, smoothing):
        xp = xp_of(x)
        rows, yr = _to_rows(x), _to_rows(y)
        m, c = rows.shape
        shift = rows.max(axis=1, keepdims=True)
        logp = rows - shift
        logp -= xp.log(xp.exp(logp).sum(axis=1, keepdims=True))
        if smoothing:
            yr = yr * (1 - smoothing) + smoothing / c
        wl = logp * weight if weight is not None else logp
        loss = -(wl * yr).sum(axis=1)
        ctx.save_for_backward(logp, yr, x, y)
        ctx.meta = (weight, reduction, smoothing, m, x.shape, shift)
        if reduction == "none":
            return loss.reshape((x.shape[0],) + x.shape[2:] if x.ndim > 1 else ())
        return xp.asarray(_reduce_array(loss, reduction), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        logp, yr, x, y = ctx.saved_tensors
        return CrossEntropyProbsBackward.run(grad, x, y, logp, yr, ctx.meta, ctx.needs_input_grad[:2]) + (None,) * 3


class CrossEntropyProbsBackward(Function):
    """Cross entropy's gradients for probability targets (fast kernel on the saved log-probabilities);
    its backward is an xp formula (the softmax recomputed from x with the forward's shift)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x, y, logp, yr, meta, need):
        weight, reduction, smoothing, m, shape, shift = meta
        xp = xp_of(logp)
        g = _grad_scale(grad, reduction, m, (-1,))
        g = g[:, None] if g.ndim else g
        a = yr * weight if weight is not None else yr
        dx = dy = None
        if need[0]:
            dx = xp.exp(logp) * a.sum(axis=1, keepdims=True)
            dx -= a
            dx *= g
            dx = _from_rows(dx, shape)
        if need[1]:
            wl = logp * weight if weight is not None else logp
            dy = _from_rows(-(wl * g) * (1 - smoothing), shape)
        ctx.save_for_backward(grad, x, y)
        ctx.meta, ctx.need = meta, need
        ctx.set_materialize_grads(False)
        return dx, dy

    @staticmethod
    def backward(ctx, ggx, ggy):
        grad, x, y = ctx.saved_tensors
        weight, reduction, s, m, shape, shift = ctx.meta
        xp = xp_of(grad)
        rows, yr = _rows_xp(x), _rows_xp(y)
        c = rows.shape[1]
        z = xp.subtract(rows, shift)
        e = xp.exp(z)
        se = xp.sum(e, axis=1, keepdims=True)
        p = e / se
        logp = z - xp.log(se)
        if s:
            yr = yr * (1 - s) + s / c
        w = 1 if weight is None else weight
        a = yr * w
        g = _per_row(_grad_scale(grad, reduction, m, (-1,)))
        dg, dz, dy = 0, 0, None
        if ggx is not None:
            r = _rows_xp(ggx)
            dg = xp.sum(r * (p * xp.sum(a, axis=1, keepdims=True) - a), axis=1)
            v = g * xp.sum(a, axis=1, keepdims=True) * r  # through p = softmax(x)
            dz = p * (v - xp.sum(v * p, axis=1, keepdims=True))
            dy = _from_rows_xp((1 - s) * w * g * (xp.sum(r * p, axis=1, keepdims=True) - r), shape)
        if ggy is not None:
            q = _rows_xp(ggy)
            dg = dg - (1 - s) * xp.sum(q * logp * w, axis=1)
            u = -(1 - s) * g * q * w  # through logp = log_softmax(x)
            dz = dz + u - p * xp.sum(u, axis=1, keepdims=True)
        dg = xp.reshape(dg, grad.shape) if reduction == "none" else (
            xp.sum(dg) / m if reduction == "mean" and m else xp.sum(dg))
        return dg, _from_rows_xp(dz, shape), dy, None, None, None, None


class NLLLoss(Function):
    """-w[t] * input[t] per sample; 'mean' divides by the summed weights of non-ignored targets."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = xp_of(x)
        rows = _to_rows(x)
        m = rows.shape[0]
        t = target.reshape(-1).astype(np.int64, copy=False)
        valid = t != ignore_index
        tc = xp.where(valid, t, 0)
        wt = (weight[tc] * valid) if weight is not None else valid.astype(x.dtype)
        loss = -(wt * rows[xp.arange(m), tc])
        d = wt.sum() if reduction == "mean" else x.dtype.type(1)
        ctx.meta = (tc, wt, d, x.shape, reduction)
        if reduction == "none":
            return loss.reshape(target.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.asarray(loss.sum() / d, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return NLLLossBackward.run(grad, ctx.meta), None, None, None, None


class NLLLossBackward(Function):
    """NLL's input gradient, ``-g w[t] / d`` at each row's target (zeros elsewhere): linear in ``g``,
    so its own backward reads the incoming gradient at the targets."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, meta):
        tc, wt, d, shape, reduction = meta
        xp = xp_of(wt)
        m = tc.shape[0]
        c = shape[1] if len(shape) >= 2 else shape[0]
        g = grad.reshape(-1) if reduction == "none" else grad
        dx = xp.zeros((m, c), dtype=wt.dtype)
        dx[xp.arange(m), tc] = -(g * wt) / (d if d else 1)  # all ignored: zero gradient, as torch
        ctx.meta, ctx.g_shape = meta, grad.shape
        return _from_rows(dx, shape)

    @staticmethod
    def backward(ctx, ggx):
        tc, wt, d, shape, reduction = ctx.meta
        xp = xp_of(ggx)
        at_t = xp.reshape(xp.take_along_axis(_rows_xp(ggx), xp.reshape(tc, (-1, 1)), axis=1), (-1,))
        dg = -(at_t * wt) / (d if d else 1)
        return (xp.reshape(dg, ctx.g_shape) if reduction == "none" else xp.sum(dg)), None


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` (N, C, ...) and class indices or class probabilities.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.cross_entropy(nnbox.tensor([[2.0, 0.0]]), nnbox.tensor([0]))
    tensor(0.1269)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    x, t = input._data, target._data
    if x.dtype.kind != "f":
        raise RuntimeError(f'"log_softmax_lastdim_kernel_impl" not implemented for \'{_type_name(x)}\'')
    w = weight
    if x.shape == t.shape:  # torch's rule: same shape means class probabilities, whatever the dtype
        if t.dtype.kind != "f":
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got {_type_name(t)}")
        if w is not None and (w._data.ndim != 1 or w._data.size != (x.shape[1] if x.ndim > 1 else x.shape[0])):
            c = x.shape[1] if x.ndim > 1 else x.shape[0]
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but got weight "
                f"tensor of shape: {shape_str(w._data.shape)}"
            )
        if w is not None and x.ndim > 2:
            w = w.reshape(-1)
        return CrossEntropyProbs.apply(input, target, w, reduction, float(label_smoothing))
    _check_class_target(input, target, w, ignore_index)
    return CrossEntropy.apply(input, target, w, ignore_index, reduction, float(label_smoothing))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood: ``-weight[t] * input[n, t]``, input holding log-probabilities.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.nll_loss(nnbox.tensor([[-0.1, -2.0]]), nnbox.tensor([0]))
    tensor(0.1000)
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_class_target(input, target, weight, ignore_index)
    return NLLLoss.apply(input, target, weight, ignore_index, reduction)


# --- regression losses --------------------------------------------------------------------------------


class PointwiseLoss(Function):
    """mse / l1 / smooth_l1 / huber of ``x - y`` (broadcast), reduced; derivative kept from forward."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, y, kind, param, reduction):
        xp = xp_of(x)
        d = x - y
        if kind == "mse":
            loss = d * d
            deriv = 2 * d
        elif kind == "l1" or (kind == "smooth_l1" and param == 0):
            loss = xp.abs(d)
            deriv = xp.sign(d)
        else:
            ad = xp.abs(d)
            small = ad < param
            big = ~small  # the pieces are blended by 0/1 masks: np.where is ~10x slower
            if kind == "smooth_l1":  # 0.5 d^2 / beta inside, |d| - beta / 2 outside
                loss = (0.5 * d * d / param) * small + (ad - 0.5 * param) * big
                deriv = (d / param) * small + xp.sign(d) * big
            else:  # huber: 0.5 d^2 inside, delta (|d| - delta / 2) outside
                loss = (0.5 * d * d) * small + (param * (ad - 0.5 * param)) * big
                deriv = d * small + (param * xp.sign(d)) * big
        ctx.save_for_backward(deriv, x, y)
        ctx.meta = (reduction, loss.size, _shape(x), _shape(y), kind, param)
        return _reduce_array(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        deriv, x, y = ctx.saved_tensors
        return PointwiseLossBackward.run(grad, x, y, deriv, ctx.meta, ctx.needs_input_grad[:2]) + (None, None, None)


class PointwiseLossBackward(Function):
    """``(gx, gy) = (+-) deriv(x - y) * scale(g)`` of a pointwise loss, from the derivative the
    forward kept.  Its backward: linear in ``g``; in ``x - y`` through ``deriv'`` = 2 (mse), 0 (l1),
    1/beta or 1 inside the quadratic zone (smooth_l1, huber)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x, y, deriv, meta, need):
        reduction, n, sx, sy = meta[:4]
        g = deriv * _grad_scale(grad, reduction, n, deriv.shape)
        ctx.save_for_backward(grad, x, y)
        ctx.meta, ctx.need, ctx.d_shape = meta, need, deriv.shape
        ctx.set_materialize_grads(False)
        return (unbroadcast(g, sx) if need[0] else None), (unbroadcast(-g, sy) if need[1] else None)

    @staticmethod
    def backward(ctx, ggx, ggy):
        grad, x, y = ctx.saved_tensors
        reduction, n, sx, sy, kind, param = ctx.meta
        xp = xp_of(grad)
        shape = ctx.d_shape
        h = 0
        if ggx is not None:
            h = xp.broadcast_to(ggx, shape)
        if ggy is not None:
            h = h - xp.broadcast_to(ggy, shape)
        d = x - y
        deriv = _pointwise_deriv(d, kind, param)
        hd = h * deriv
        if reduction == "none":
            dg = xp.reshape(hd, grad.shape)
        else:
            dg = xp.sum(hd) / n if reduction == "mean" and n else xp.sum(hd)
        t = h * _grad_scale(grad, reduction, n, shape) * _pointwise_second(d, kind, param)
        return dg, unbroadcast(t, sx), unbroadcast(-t, sy), None, None, None


def _pointwise_deriv(d, kind, param):
    """d loss / d d, in the formula rules (the forward's ``deriv``, recomputed on Tensors)."""
    xp = xp_of(d)
    if kind == "mse":
        return 2 * d
    if kind == "l1" or (kind == "smooth_l1" and param == 0):
        return xp.sign(d)
    small = xp.astype(xp.abs(d) < param, d.dtype)
    if kind == "smooth_l1":
        return (d / param) * small + xp.sign(d) * (1 - small)
    return d * small + (param * xp.sign(d)) * (1 - small)


def _pointwise_second(d, kind, param):
    xp = xp_of(d)
    if kind == "mse":
        return 2
    if kind == "l1" or (kind == "smooth_l1" and param == 0):
        return 0  # sign(d): zero almost everywhere (torch still reports a zero gradient)
    small = xp.astype(xp.abs(d) < param, d.dtype)
    return small / param if kind == "smooth_l1" else small


def _shape(a):
    return a.shape if hasattr(a, "shape") else ()


def _pointwise(input: Tensor, target: Tensor, kind: str, param, reduction: str) -> Tensor:
    if not isinstance(target, Tensor):
        raise TypeError(f"{kind}_loss(): argument 'target' (position 2) must be Tensor, not {type(target).__name__}")
    if input._data.shape != target._data.shape:
        warnings.warn(
            f"Using a target size ({_size(target)}) that is different to the input size ({_size(input)}). This will "
            "likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )
        try:
            np.broadcast_shapes(input._data.shape, target._data.shape)
        except ValueError:
            a, b = input._data.shape, target._data.shape
            n = max(len(a), len(b))
            pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
            i = max(k for k in range(n) if pa[k] != pb[k] and 1 not in (pa[k], pb[k]))
            raise RuntimeError(
                f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at non-singleton dimension {i}"
            ) from None
    x, y = input, target
    if x._data.dtype != y._data.dtype:
        dt = np.result_type(x._data.dtype, y._data.dtype)
        x, y = x.to(_dt.from_numpy_dtype(dt)), y.to(_dt.from_numpy_dtype(dt))
    return PointwiseLoss.apply(x, y, kind, param, reduction)


def _size(t: Tensor) -> str:
    return "torch.Size([" + ", ".join(map(str, t._data.shape)) + "])"


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """Mean squared error.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.mse_loss(nnbox.tensor([1.0, 2.0]), nnbox.tensor([0.0, 0.0]))
    tensor(2.5000)
    """
    if weight is not None:
        raise NotImplementedError("nnbox: mse_loss(weight=...) is not supported")
    return _pointwise(input, target, "mse", None, _reduction(size_average, reduce, reduction))


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight=None) -> Tensor:
    """Mean absolute error."""
    if weight is not None:
        raise NotImplementedError("nnbox: l1_loss(weight=...) is not supported")
    return _pointwise(input, target, "l1", None, _reduction(size_average, reduce, reduction))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _pointwise(input, target, "smooth_l1", float(beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """0.5 d^2 where |d| < delta, delta * (|d| - delta / 2) elsewhere."""
    if weight is not None:
        raise NotImplementedError("nnbox: huber_loss(weight=...) is not supported")
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise(input, target, "huber", float(delta), reduction)


# --- binary cross entropy -------------------------------------------------------------------------------


class BinaryCrossEntropy(Function):
    """-w (y log x + (1 - y) log(1 - x)), each log clamped at -100 (torch's choice, so x in {0, 1} is finite)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        xp = xp_of(x)
        with np.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log1p(-x), -100)
        raw = -(y * lx + (1 - y) * l1x)
        loss = raw * w if w is not None else raw
        ctx.save_for_backward(x, y, w)
        ctx.meta = (raw.shape, reduction, loss.size)
        return _reduce_array(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w = ctx.saved_tensors
        shape, reduction, n = ctx.meta
        xp = xp_of(x)
        g = _grad_scale(grad, reduction, n, shape)
        gw = g * w if w is not None else g
        gx = gy = gwt = None
        if ctx.needs_input_grad[0]:
            gx = gw * (x - y) / xp.maximum((1 - x) * x, 1e-12)
        if ctx.needs_input_grad[1] or (w is not None and ctx.needs_input_grad[2]):
            # the clamped logs, recomputed (differentiable in x; rare paths: first order unchanged)
            with np.errstate(divide="ignore"):
                lx = xp.maximum(xp.log(x), -100)
                l1x = xp.maximum(xp.log1p(-x), -100)
            if ctx.needs_input_grad[1]:
                gy = gw * (l1x - lx)
            if w is not None and ctx.needs_input_grad[2]:
                gwt = unbroadcast(-g * (y * lx + (1 - y) * l1x), w.shape)
        return gx, gy, gwt, None


class BinaryCrossEntropyWithLogits(Function):
    """-w [pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed without overflow."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, y, w, pw, reduction):
        sp_neg = softplus_array(-x)  # softplus(-x) = -log sigmoid(x)
        if pw is None:
            raw = (1 - y) * x + sp_neg
        else:
            raw = (1 - y) * x + (1 + (pw - 1) * y) * sp_neg
        loss = raw * w if w is not None else raw
        ctx.save_for_backward(x, y, w, pw)
        ctx.meta = (raw.shape, reduction, loss.size)
        return _reduce_array(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w, pw = ctx.saved_tensors
        shape, reduction, n = ctx.meta
        xp = xp_of(x)
        g = _grad_scale(grad, reduction, n, shape)
        gw = g * w if w is not None else g
        need = ctx.needs_input_grad
        gx = gy = gwt = gpw = None
        if need[0]:
            s = xp.tanh(x * 0.5) * 0.5 + 0.5
            gx = gw * (s - y) if pw is None else gw * (s * (pw * y + 1 - y) - pw * y)
            gx = unbroadcast(gx, x.shape)
        if need[1] or (w is not None and need[2]) or (pw is not None and need[3]):
            # softplus(-x), recomputed (differentiable in x; rare paths: first order unchanged)
            sp_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
            if need[1]:
                sp_pos = sp_neg + x  # softplus(x) = softplus(-x) + x
                gy = unbroadcast(gw * ((sp_neg if pw is None else pw * sp_neg) - sp_pos), y.shape)
            if w is not None and need[2]:
                raw = (1 - y) * x + (sp_neg if pw is None else (1 + (pw - 1) * y) * sp_neg)
                gwt = unbroadcast(g * raw, w.shape)
            if pw is not None and need[3]:
                gpw = unbroadcast(gw * y * sp_neg, pw.shape)
        return gx, gy, gwt, gpw, None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target``.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.binary_cross_entropy(nnbox.tensor([0.5]), nnbox.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target._data.shape != input._data.shape:
        raise ValueError(
            f"Using a target size ({_size(target)}) that is different to the input size ({_size(input)}) is "
            "deprecated. Please ensure they have the same size."
        )
    x = input._data
    if x.size and ((x < 0) | (x > 1) | (x != x)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    if target._data.dtype != x.dtype:
        raise RuntimeError(f"Found dtype {_type_name(target._data)} but expected {_type_name(x)}")
    if weight is not None:
        try:
            np.broadcast_shapes(weight._data.shape, x.shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({weight._data.shape[-1]}) must match the size of tensor b "
                               f"({x.shape[-1]}) at non-singleton dimension {x.ndim - 1}") from None
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable step; ``pos_weight`` weighs the positives."""
    reduction = _reduction(size_average, reduce, reduction)
    if target._data.shape != input._data.shape:
        raise ValueError(f"Target size ({_size(target)}) must be the same as input size ({_size(input)})")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


# --- KL divergence ------------------------------------------------------------------------------------


class KLDiv(Function):
    """y (log y - x) with 0 log 0 = 0, or exp(y) (y - x) when the target is given as a log."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, y, log_target, reduction):
        xp = xp_of(x)
        if log_target:
            ey = xp.exp(y)
            loss = ey * (y - x)
            ctx.meta = (ey, None)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                logy = xp.where(y > 0, xp.log(xp.where(y > 0, y, 1)), 0)
            loss = y * logy - y * x
            ctx.meta = (None, logy)
        ctx.save_for_backward(x, y)
        ctx.log_target, ctx.reduction, ctx.n = log_target, reduction, loss.size
        n0 = x.shape[0] if x.ndim else 1
        if reduction == "batchmean":
            return loss.sum() / n0
        return _reduce_array(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        ey, logy = ctx.meta
        return KLDivBackward.run(grad, x, y, ey, logy, (ctx.log_target, ctx.reduction, ctx.n),
                                 ctx.needs_input_grad[:2]) + (None, None)


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return tuple(i if j == 1 else j for i, j in zip(a, b))


class KLDivBackward(Function):
    """kl_div's gradients (fast kernel on the forward's exp(y) / log(y)); backward: an xp formula."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x, y, ey, logy, args, need):
        log_target, red, n = args
        xp = xp_of(x)
        n = (x.shape[0] if x.ndim else 1) if red == "batchmean" else n
        g = _grad_scale(grad, "mean" if red == "batchmean" else red, n, x.shape)
        gx = gy = None
        if need[0]:
            gx = unbroadcast(-(ey if log_target else y) * g, x.shape)
        if need[1]:
            if log_target:
                gy = ey * (y - x + 1) * g
            else:
                # at y == 0 the derivative of y log y is unbounded; torch reports nan there
                gy = xp.where(y == 0, xp.nan, logy + 1 - x) * g
            gy = unbroadcast(gy, y.shape)
        ctx.save_for_backward(grad, x, y)
        ctx.args, ctx.n_red = args, n
        ctx.set_materialize_grads(False)
        return gx, gy

    @staticmethod
    def backward(ctx, ggx, ggy):
        grad, x, y = ctx.saved_tensors
        log_target, red, _ = ctx.args
        n = ctx.n_red
        xp = xp_of(grad)
        red = "mean" if red == "batchmean" else red
        shape = _broadcast_shape(tuple(x.shape), tuple(y.shape))
        g = _grad_scale(grad, red, n, shape)
        ey = xp.exp(y) if log_target else None
        hx = 0 if ggx is None else xp.broadcast_to(ggx, shape)
        hy = 0 if ggy is None else xp.broadcast_to(ggy, shape)
        # gx = -A g, gy = B g with A = exp(y) or y, B = exp(y) (y - x + 1) or log(y) + 1 - x
        if log_target:
            dgv = -hx * ey + hy * ey * (y - x + 1)
            d_x = -hy * g * ey
            d_y = -hx * g * ey + hy * g * ey * (y - x + 2)
        else:
            dgv = -hx * y + hy * (xp.log(y) + 1 - x)
            d_x = -hy * g
            d_y = -hx * g + hy * g / y
        dg = xp.reshape(dgv, grad.shape) if red == "none" else (xp.sum(dgv) / n if red == "mean" and n else xp.sum(dgv))
        return dg, unbroadcast(d_x, tuple(x.shape)), unbroadcast(d_y, tuple(y.shape)), None, None, None, None


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target || exp(input)): ``input`` holds log-probabilities (use reduction='batchmean')."""
    reduction = _reduction(size_average, reduce, reduction, ("none", "mean", "sum", "batchmean"))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    return KLDiv.apply(input, target, bool(log_target), reduction)


# --- margin and embedding losses (compositions of differentiable ops) ------------------------------------


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    reduction = _reduction(size_average, reduce, reduction)
    nd = input1._data.ndim
    if nd not in (1, 2):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{shape_str(input1._data.shape)} and {shape_str(input2._data.shape)}.")
    if input1._data.shape != input2._data.shape:
        raise RuntimeError(f"The size of tensor a ({input1._data.shape[-1]}) must match the size of tensor b "
                           f"({input2._data.shape[-1]}) at non-singleton dimension {nd - 1}")
    eps = 1e-12  # torch's EPSILON inside the norms
    prod = (input1 * input2).sum(-1)
    mag1 = (input1 * input1).sum(-1) + eps
    mag2 = (input2 * input2).sum(-1) + eps
    cos = prod / (mag1 * mag2).sqrt()
    zeros = cos * 0
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    from .index import where

    out = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _reduce(out, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1._data.ndim != input2._data.ndim or input1._data.ndim != target._data.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: "
            f"{_size(input1)}, input2: {_size(input2)}, target: {_size(target)} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def _pairwise_distance(a: Tensor, b: Tensor, p: float, eps: float) -> Tensor:
    diff = a - b + eps
    if p == 2:
        return (diff * diff).sum(-1).sqrt()
    if p == 1:
        return diff.abs().sum(-1)
    return (diff.abs() ** p).sum(-1) ** (1.0 / p)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance."""
    reduction = _reduction(size_average, reduce, reduction)
    nds = (anchor._data.ndim, positive._data.ndim, negative._data.ndim)
    if len(set(nds)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {nds[0]}D, positive {nds[1]}D, and negative {nds[2]}D inputs"
        )
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        from .elementwise import minimum

        d_neg = minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp_min(0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x))."""
    from .activation import softplus

    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input, 1.0, float("inf")), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """-mean_c [y log sigmoid(x) + (1 - y) log sigmoid(-x)], one value per sample."""
    from .activation import logsigmoid

    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(dim=input.dim() - 1) / input.shape[-1]
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """x where target is 1, max(0, margin - x) where target is -1."""
    from .index import where

    reduction = _reduction(size_average, reduce, reduction)
    zeros = input * 0
    out = where(target != 1, (margin - input).clamp_min(0), zeros) + where(target != -1, input, zeros)
    return _reduce(out, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood: exp(x) - y x (log_input) or x - y log(x + eps)."""
    import math

    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        from .index import where

        # Stirling's term, only where target > 1 (as torch, including its nan gradient at target == 0)
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + where(target > 1, stirling, target * 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log var + (x - y)^2 / var), var clamped below at ``eps`` (without gradient through the clamp)."""
    import math

    from ..autograd import grad_mode

    reduction = _reduction(None, None, reduction)
    if not isinstance(var, Tensor):
        var = input.new_full((), float(var)) if hasattr(input, "new_full") else Tensor._make(
            xp_of(input._data).asarray(float(var), dtype=input._data.dtype))
    xs, vs = input._data.shape, var._data.shape
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif xs[:-1] == vs[:-1] and vs[-1] == 1:
            pass
        elif var._data.ndim == 0 or var._data.size == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    var = var.clone()
    with grad_mode.no_grad():
        var._data[...] = xp_of(var._data).maximum(var._data, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# --- CTC ------------------------------------------------------------------------------------------------


def _lse(*terms):
    """Elementwise log(sum(exp(t))) of a few arrays, -inf safe."""
    xp = xp_of(terms[0])
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    ms = xp.where(xp.isneginf(m), 0, m)
    acc = xp.exp(terms[0] - ms)
    for t in terms[1:]:
        acc += xp.exp(t - ms)
    with np.errstate(divide="ignore"):
        return xp.log(acc) + ms


def _shift(a, k, fill):
    """``a`` shifted right by ``k`` along the last axis (``k`` < 0: left), padded with ``fill``."""
    xp = xp_of(a)
    out = xp.full_like(a, fill)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


class CTCLoss(Function):
    """Connectionist temporal classification: -log of the summed probability of every alignment.

    Forward-backward in log space over the blank-extended targets l' (length 2S + 1), vectorised
    over batch and label positions (one Python step per time step).  The gradient is torch's:
    ``exp(log_probs) - exp(log(sum_{s: l'_s = c} alpha_t(s) beta_t(s)) + nll - log_probs)``, i.e. the
    gradient with respect to the logits when ``log_probs`` is a log_softmax (torch's convention).
    """

    _array_api = True
    _twice = "derivative for aten::_ctc_loss_backward is not implemented"  # torch's, at a second backward

    @staticmethod
    def forward(ctx, lp, targets, in_lens, tgt_lens, blank, reduction, zero_infinity):
        xp = xp_of(lp)
        T, N, C = lp.shape
        S = targets.shape[1]
        L = 2 * S + 1
        neg_inf = -xp.inf
        ext = xp.full((N, L), blank, dtype=np.int64)
        ext[:, 1::2] = targets
        pos = xp.arange(L)[None, :]
        valid = pos < (2 * tgt_lens + 1)[:, None]
        # a label may be reached from two positions back unless it repeats the label there
        skip = (pos % 2 == 1) & (pos >= 2) & (ext != _shift(ext, 2, -1))
        emit = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (T, N, L)), axis=2)  # (T, N, L)
        emit = xp.where(valid[None], emit, neg_inf)
        alpha = xp.full((T, N, L), neg_inf, dtype=lp.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        if L > 1:
            alpha[0, :, 1] = xp.where(tgt_lens > 0, emit[0, :, 1], neg_inf)
        for t in range(1, T):
            prev = alpha[t - 1]
            alpha[t] = _lse(prev, _shift(prev, 1, neg_inf), xp.where(skip, _shift(prev, 2, neg_inf), neg_inf)) + emit[t]
        last = in_lens - 1
        n_idx = xp.arange(N)
        end = alpha[last, n_idx]  # (N, L): the alphas at each sample's last frame
        a_end = xp.take_along_axis(end, (2 * tgt_lens)[:, None], 1)[:, 0]
        a_end2 = xp.where(tgt_lens > 0, xp.take_along_axis(end, xp.maximum(2 * tgt_lens - 1, 0)[:, None], 1)[:, 0],
                          neg_inf)
        nll = -_lse(a_end, a_end2)
        ctx.save_for_backward(lp)
        ctx.meta = (emit, alpha, ext, valid, skip, in_lens, tgt_lens, nll, reduction, zero_infinity)
        loss = nll
        if zero_infinity:
            loss = xp.where(xp.isinf(loss), 0, loss)
        if reduction == "mean":
            return xp.asarray((loss / xp.maximum(tgt_lens, 1)).mean(), dtype=lp.dtype)
        if reduction == "sum":
            return xp.asarray(loss.sum(), dtype=lp.dtype)
        return loss.astype(lp.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (lp,) = ctx.saved_tensors
        emit, alpha, ext, valid, skip, in_lens, tgt_lens, nll, reduction, zero_infinity = ctx.meta
        xp = xp_of(lp)
        T, N, C = lp.shape
        L = ext.shape[1]
        neg_inf = -xp.inf
        # beta_t(s): log-probability of finishing from (t, s), emission at t included
        beta = xp.full((T, N, L), neg_inf, dtype=lp.dtype)
        pos = xp.arange(L)[None, :]
        finals = valid & ((pos == (2 * tgt_lens)[:, None]) | (pos == (2 * tgt_lens - 1)[:, None]))
        skip_next = _shift(skip, -2, False)  # from s one may jump to s + 2 when s + 2 allows a skip
        nxt = xp.full((N, L), neg_inf, dtype=lp.dtype)
        for t in range(T - 1, -1, -1):
            rec = _lse(nxt, _shift(nxt, -1, neg_inf), xp.where(skip_next, _shift(nxt, -2, neg_inf), neg_inf)) + emit[t]
            init = xp.where(finals, emit[t], neg_inf)
            t_last = (in_lens - 1)[:, None]
            cur = xp.where(t == t_last, init, xp.where(t < t_last, rec, neg_inf))
            beta[t] = cur
            nxt = cur
        ab = alpha + beta  # (T, N, L)
        m = ab.max(axis=2, keepdims=True)
        m = xp.where(xp.isneginf(m), 0, m)
        acc = xp.zeros((T, N, C), dtype=lp.dtype)
        add_at(acc, (xp.arange(T)[:, None, None], xp.arange(N)[None, :, None], ext[None]), xp.exp(ab - m))
        with np.errstate(divide="ignore", invalid="ignore"):
            lcab = xp.log(acc) + m
            g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        g = xp.where((xp.arange(T)[:, None] < in_lens[None, :])[:, :, None], g, 0)
        scale = grad.reshape(-1) if reduction == "none" else xp.broadcast_to(grad, (N,))
        if reduction == "mean":
            scale = scale / xp.maximum(tgt_lens, 1) / N
        if zero_infinity:
            scale = xp.where(xp.isinf(nll), 0, scale)
            g = xp.where(xp.isinf(nll)[None, :, None], 0, g)
        return g * scale[None, :, None], None, None, None, None, None, None


def _lengths(v, name: str) -> np.ndarray:
    if isinstance(v, Tensor):
        return np.asarray(move(v._data, CPU), dtype=np.int64).reshape(-1)
    if isinstance(v, int):
        return np.asarray([v], dtype=np.int64)
    return np.asarray(list(v), dtype=np.int64).reshape(-1)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """CTC loss of ``log_probs`` (T, N, C) (log_softmax outputs) against ``targets`` (N, S) padded or
    1-D concatenated; ``reduction='mean'`` divides each loss by its target length, then averages.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> lp = nnbox.zeros(3, 1, 2).log_softmax(2)
    >>> F.ctc_loss(lp, nnbox.tensor([[1]]), [3], [1], reduction='sum')
    tensor(0.2877)
    """
    reduction = _reduction(None, None, reduction)
    lp = log_probs
    unbatched = lp.dim() == 2
    if unbatched:
        lp = lp.unsqueeze(1)
    T, N, C = lp.shape
    in_lens, tgt_lens = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths, "target_lengths")
    if in_lens.shape[0] != N or tgt_lens.shape[0] != N:
        raise RuntimeError(f"input_lengths and target_lengths must have size {N} (the batch size)")
    if in_lens.size and in_lens.max() > T:
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {int(in_lens.max())} "
                           "(while checking arguments for ctc_loss_allocate_outputs)")
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    t = np.asarray(move(targets._data, CPU), dtype=np.int64)
    if unbatched:
        t = t.reshape(1, -1)
    if t.ndim == 2 and not (unbatched and targets.dim() == 1):
        if tgt_lens.size and tgt_lens.max() > t.shape[1]:
            raise RuntimeError(f"Expected tensor to have size at least {int(tgt_lens.max())} at dimension 1, but got "
                               f"size {t.shape[1]} for argument #2 'targets' (while checking arguments for "
                               "ctc_loss_allocate_outputs)")
        padded = t
    else:  # 1-D: the targets of all samples back to back
        flat = t.reshape(-1)
        if tgt_lens.sum() > flat.shape[0]:
            raise RuntimeError("Expected the sum of target_lengths to be at most the number of targets")
        offsets = np.concatenate([[0], np.cumsum(tgt_lens)[:-1]])
        width = int(tgt_lens.max()) if tgt_lens.size else 0
        padded = np.full((N, max(width, 1)), blank, dtype=np.int64)
        for n in range(N):
            padded[n, : tgt_lens[n]] = flat[offsets[n]: offsets[n] + tgt_lens[n]]
    xp = xp_of(lp._data)
    out = CTCLoss.apply(lp, xp.asarray(padded), xp.asarray(in_lens), xp.asarray(tgt_lens), blank, reduction,
                        bool(zero_infinity))
    if unbatched and reduction == "none":
        out = out.squeeze(0)
    return out


__all__.append("ctc_loss")


# --- multi-class margin losses and triplet with a custom distance --------------------------------------


class _OnceOnly(Function):
    """The identity on the input of a loss composed of differentiable ops whose torch counterpart is
    one kernel without a double backward: the input's gradient comes out of this node, so a second
    backward through it raises torch's error (before any other node of the composition runs)."""

    _array_api = True
    _twice = "nnbox cannot differentiate this loss's gradient again"  # each subclass gives torch's error

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def _named(loss: Tensor, name: str) -> Tensor:
    """Give the composed loss's last node torch's name for the fused op (``grad_fn`` repr)."""
    if loss.grad_fn is not None:
        loss.grad_fn._nm = name
    return loss


class _MultiMarginOnce(_OnceOnly):
    _twice = "derivative for aten::multi_margin_loss_backward is not implemented"


class _MultilabelMarginOnce(_OnceOnly):
    _twice = "derivative for aten::multilabel_margin_loss_backward is not implemented"


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """sum_{i != y} max(0, margin - x[y] + x[i])^p / C per sample (times weight[y])."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = _MultiMarginOnce.apply(input if input.dim() == 2 else input.reshape(1, -1))
    c = x.shape[1]
    t = np.asarray(move(target._data, CPU), dtype=np.int64).reshape(-1)
    if t.shape[0] != x.shape[0]:
        raise RuntimeError(f"inconsistent target size: {shape_str(target._data.shape)} for input of size: "
                           f"{shape_str(input._data.shape)}")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    xp = xp_of(x._data)
    idx = Tensor._make(xp.asarray(t[:, None]))
    m = (x - x.gather(1, idx) + margin).clamp_min(0)
    if p == 2:
        m = m * m
    not_target = Tensor._make(xp.asarray(np.arange(c)[None, :] != t[:, None]).astype(x._data.dtype))
    m = m * not_target
    if weight is not None:
        m = m * weight[Tensor._make(xp.asarray(t))].reshape(-1, 1)
    loss = m.sum(1) / c
    if input.dim() < 2 and reduction == "none":
        loss = loss.reshape(())
    return _named(_reduce(loss, reduction), "MultiMarginLossBackward0")


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over listed targets j and unlisted classes i of max(0, 1 - (x[j] - x[i])) / C per sample;
    ``target`` lists class indices, ended by the first -1."""
    reduction = _reduction(size_average, reduce, reduction)
    x = _MultilabelMarginOnce.apply(input if input.dim() == 2 else input.reshape(1, -1))
    n, c = x.shape
    t = np.asarray(move(target._data, CPU), dtype=np.int64).reshape(n, -1)
    if t.shape[1] != c:
        raise RuntimeError(f"inconsistent target size: {shape_str(target._data.shape)} for input of size: "
                           f"{shape_str(input._data.shape)}")
    listed = np.zeros((n, c))  # how often each class is listed (a repeated entry counts again, as torch)
    for row in range(n):
        for j in t[row]:
            if j < 0:
                break
            if j >= c:
                raise RuntimeError("target out of range")
            listed[row, j] += 1
    xp = xp_of(x._data)
    pairs = Tensor._make(xp.asarray(listed[:, :, None] * (listed[:, None, :] == 0)).astype(x._data.dtype))
    diff = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)  # [n, j, i] = 1 - x[j] + x[i]
    loss = (diff * pairs).sum((1, 2)) / c
    if input.dim() < 2 and reduction == "none":
        loss = loss.reshape(())
    return _named(_reduce(loss, reduction), "MultilabelMarginLossBackward0")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with any ``distance_function`` (pairwise L2 by default)."""
    reduction = _reduction(None, None, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
    if distance_function is None:
        from .nn_misc import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        from .elementwise import minimum

        d_neg = minimum(d_neg, distance_function(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp_min(0), reduction)


__all__ += ["multi_margin_loss", "multilabel_margin_loss", "triplet_margin_with_distance_loss"]



_NO_IGNORE = -(2 ** 63)  # an ignore_index no class index can equal


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *, linear_bias: Tensor | None = None,
                         weight: Tensor | None = None, reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options=None) -> Tensor:
    """cross_entropy(linear(input, W), target): ``linear_weight`` is (C, *out_features, in_features) and the
    logits are (N, C, *out_features).  ``ignore_index=None`` ignores nothing.  ``options`` (torch's chunking
    of the computation) only changes speed and memory there; nnbox computes the reference way."""
    from .linear import linear

    w = linear_weight
    if w.dim() < 2:
        raise RuntimeError(f"expected linear_weight to have at least 2 dimensions, got {w.dim()}")
    if input.shape[-1] != w.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions (in_features), got "
                           f"{input.shape[-1]} and {w.shape[-1]}, respectively")
    logit_shape = tuple(w.shape[:-1])
    flat_w = w.reshape(-1, w.shape[-1])
    flat_b = linear_bias.reshape(-1) if linear_bias is not None else None
    logits = linear(input, flat_w, flat_b)
    logits = logits.reshape(tuple(input.shape[:-1]) + logit_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=_NO_IGNORE if ignore_index is None else ignore_index,
                         label_smoothing=label_smoothing)


__all__.append("linear_cross_entropy")
