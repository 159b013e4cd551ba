"""Reductions: sum, mean, prod, max/min (with indices), var/std, logsumexp, all/any, cumsum ..."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import return_types
from .._backend import dtype as _dt
from .._tensor import Tensor
from ..autograd.function import _NO_KW, Function, _apply_graph, _mixed
from ..autograd.grad_mode import _enabled
from ._util import named, norm_dims, wrap_dim, xp_of
from .convert import cast


def _restore(grad, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced ``axes`` of ``shape``.  A small result is
    materialised: ``grad * ones`` (exact, -0.0 included) costs 0.8 us where NumPy's read-only
    broadcast view costs 2-3 us; a large one stays a view, which costs no memory traffic."""
    xp = xp_of(grad)
    if axes is not None and not keepdim:
        grad = xp.expand_dims(grad, axes)
    if math.prod(shape) <= _MATERIALISE:
        return grad * xp.ones(shape, dtype=grad.dtype)
    return xp.broadcast_to(grad, shape)


_MATERIALISE = 4096  # elements
_ndarray, _empty, _add_reduce = np.ndarray, np.empty, np.add.reduce
_copyto = getattr(np.copyto, "_implementation", np.copyto)  # (no __array_function__ dispatch: ndarrays only)


def _count(shape, axes) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


class Sum(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if a.dtype.char == "e":  # half sums overflow to inf easily; silently, as torch
            with np.errstate(over="ignore"):
                return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        if type(a) is _ndarray:  # what ndarray.sum calls, without its Python frame
            return _add_reduce(a, axes, dtype, None, keepdim)
        return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        shape = ctx.shape
        if ctx.axes is None and type(grad) is _ndarray and grad.dtype.kind == "f" and math.prod(shape) <= _MATERIALISE:
            # a full sum's gradient: its one value filled in (exact, as ``grad * ones``, and cheaper)
            out = _empty(shape, grad.dtype)
            _copyto(out, grad)
            return out, None, None, None
        return _restore(grad, shape, ctx.axes, ctx.keepdim), None, None, None


class Mean(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if a.size == 0:  # nan, as torch, without NumPy's "Mean of empty slice" warning
            with np.errstate(invalid="ignore", divide="ignore"):
                return a.sum(axis=axes, keepdims=keepdim) / _count(a.shape, axes)
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        n = _count(ctx.shape, ctx.axes)
        return _restore(grad / n if n else grad * math.nan, ctx.shape, ctx.axes, ctx.keepdim), None, None


class Prod(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.save_for_backward(a)
        ctx.axis, ctx.keepdim = axis, keepdim
        return a.prod(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = xp_of(grad)
        axis = ctx.axis
        if math.prod(a.shape) == 0:
            return xp.zeros_like(a), None, None
        x = xp.reshape(a, (-1,)) if axis is None else xp.moveaxis(a, axis, -1)
        # product of all the other elements: exclusive cumprods from both ends (exact with zeros)
        ones = xp.ones_like(x[..., :1])  # (like x: on its device, also when x is a Tensor)
        left = xp.concatenate([ones, xp.cumprod(x[..., :-1], axis=-1)], axis=-1)
        right = xp.flip(xp.concatenate([ones, xp.cumprod(xp.flip(x[..., 1:], -1), axis=-1)], axis=-1), -1)
        others = left * right
        if axis is None:
            return xp.reshape(grad * others, a.shape), None, None
        g = grad if ctx.keepdim else xp.expand_dims(grad, axis)
        return xp.moveaxis(xp.moveaxis(g, axis, -1) * others, -1, axis), None, None


class MaxMinDim(Function):
    """max/min along one dim: values and (non-differentiable) indices."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, keepdim, is_max):
        xp = xp_of(a)
        if a.ndim == 0:
            idx = xp.zeros((), dtype=np.int64)
            ctx.shape, ctx.axis, ctx.keepdim = a.shape, None, keepdim
            ctx.mark_non_differentiable(idx)
            return a.copy(), idx
        idx = (xp.argmax if is_max else xp.argmin)(a, axis=axis, keepdims=True)
        if a.dtype.kind in "fV":  # torch propagates NaN: a NaN is the max and the min
            nan = xp.isnan(a)
            if type(a) is not np.ndarray or nan.any():  # (on the GPU without asking: that would be a sync)
                idx = xp.where(nan.any(axis=axis, keepdims=True), xp.argmax(nan, axis=axis, keepdims=True), idx)
        vals = xp.take_along_axis(a, idx, axis=axis)
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        ctx.idx = idx  # a constant of the graph (the argmax): the gradient goes where it points
        idx = idx.astype(np.int64)
        if not keepdim:
            vals, idx = vals.squeeze(axis), idx.squeeze(axis)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, grad, _gidx):
        from .index import PutZeros, _full_index

        xp = xp_of(grad)
        if ctx.axis is None:
            return grad, None, None, None
        g = grad if ctx.keepdim else xp.expand_dims(grad, ctx.axis)
        return PutZeros.run(g, ctx.shape, _full_index(ctx.idx, ctx.axis)), None, None, None


class Amax(Function):
    """max/min over dims; ties share the gradient evenly (torch's amax/amin rule)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axes, keepdim, is_max):
        out = (a.max if is_max else a.min)(axis=axes, keepdims=keepdim)
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = xp_of(grad)
        o = _restore(out, a.shape, ctx.axes, ctx.keepdim)
        mask = a == o
        count = xp.sum(mask, axis=ctx.axes, keepdims=True)
        g = _restore(grad, a.shape, ctx.axes, ctx.keepdim)
        return g * mask / count, None, None, None


class Var(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim, take_sqrt):
        xp = xp_of(a)
        mean = a.mean(axis=axes, keepdims=True)
        d = a - mean
        n = _count(a.shape, axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (d * d).sum(axis=axes, keepdims=keepdim) / builtins.max(n - correction, 0)
            if take_sqrt:
                out = xp.sqrt(out)
        out = xp.asarray(out)  # 0-d: save the array the node outputs, not a NumPy scalar
        ctx.save_for_backward(a, out)  # not d: a second derivative needs d's dependence on a
        ctx.n, ctx.axes, ctx.keepdim, ctx.correction, ctx.take_sqrt = n, axes, keepdim, correction, take_sqrt
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = xp_of(grad)
        denom = builtins.max(ctx.n - ctx.correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = a - xp.mean(a, axis=ctx.axes, keepdims=True)
            if ctx.take_sqrt:
                # torch defines the gradient of std as 0 where std is 0 (not d/0)
                scale = xp.where(out == 0, 0, grad / (out * denom))
                g = _restore(scale, d.shape, ctx.axes, ctx.keepdim) * d
            else:
                g = _restore(grad * (2.0 / denom), d.shape, ctx.axes, ctx.keepdim) * d
        return g, None, None, None, None


class LogSumExp(Function):
    _array_api = True
    _twice = True
    _torch_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = xp_of(a)
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        out = out if keepdim else out.squeeze(axes) if axes is not None else out.reshape(())
        ctx.save_for_backward(a, out)  # the output itself, so a second backward sees it in the graph
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = xp_of(grad)
        if not ctx.keepdim and ctx.axes is not None:
            grad, out = xp.expand_dims(grad, ctx.axes), xp.expand_dims(out, ctx.axes)
        return grad * xp.exp(a - out), None, None


class Cumsum(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, dtype):
        ctx.axis = axis
        if axis is None:  # 0-d input (NumPy would flatten it to shape (1,))
            return a.astype(dtype or a.dtype, copy=True)
        return xp_of(a).cumsum(a, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        if ctx.axis is None:
            return grad, None, None
        return xp.flip(xp.cumsum(xp.flip(grad, ctx.axis), axis=ctx.axis), ctx.axis), None, None


class Cumprod(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, dtype):
        out = a.astype(dtype or a.dtype, copy=True) if axis is None else xp_of(a).cumprod(a, axis=axis, dtype=dtype)
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = xp_of(grad)
        ax = ctx.axis
        if ax is None:  # 0-d input
            return grad, None, None
        x, g, o = (xp.moveaxis(v, ax, -1) for v in (a, grad, out))
        return xp.moveaxis(_cumprod_grad(xp, x, g, o, 3), -1, ax), None, None


def _cumprod_grad(xp, x, g, o, depth: int):
    """The gradient of ``sum(g * o)`` for ``o = cumprod(x, -1)``: exact where ``x`` has zeros, and
    differentiable again (to ``depth`` more orders through the zeros)."""
    # d o_j / d x_i = o_j / x_i for j >= i, exact while no earlier element is zero
    rev = xp.flip(xp.cumsum(xp.flip(g * o, -1), axis=-1), -1)
    zero = x == 0
    if not xp.any(zero):
        return rev / x
    # With a zero at z (the first in its row): positions before z keep rev / x (o_j = 0 past z),
    # position z gets sum_{j>=z} g_j * prod_{k<=j, k!=z} x_k, and a later position gets x_z times
    # the same gradient of the row with x_z replaced by 1: zero in value, not in its derivative.
    n = x.shape[-1]
    idx = xp.cumsum(xp.ones_like(x), axis=-1) - 1  # 0 .. n-1 along the row, on x's device
    z = xp.expand_dims(xp.where(xp.any(zero, axis=-1), xp.argmax(zero, axis=-1), n), -1)
    before, at_z = idx < z, idx == z
    with np.errstate(divide="ignore", invalid="ignore"):
        res = rev / xp.where(before, x, 1)
    x1 = xp.where(at_z, 1, x)
    skip_z = xp.cumprod(x1, axis=-1)
    gz = xp.sum(xp.where(idx >= z, g * skip_z, 0), axis=-1, keepdims=True)
    if depth:
        after = _cumprod_grad(xp, x1, g, skip_z, depth - 1) * xp.sum(xp.where(at_z, x, 0), axis=-1, keepdims=True)
    else:
        after = xp.zeros_like(res)
    return xp.where(before, res, xp.where(at_z, gz, after))


# --- public functions -------------------------------------------------------------------------------

def _float_input(x: Tensor, fn: str) -> Tensor:
    if x._data.dtype.kind not in "fcV":
        raise RuntimeError(
            f"{fn}(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_dt.from_numpy_dtype(x._data.dtype).name.capitalize().replace('Int64', 'Long').replace('Int32', 'Int')}"
        )
    return x


def _sum_dtype(x: Tensor, dtype):
    if dtype is not None:
        return _dt.to_numpy_dtype(dtype)
    return np.dtype(np.int64) if x._data.dtype.kind in "biu" else None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all).

    >>> import nnbox
    >>> nnbox.sum(nnbox.tensor([[1, 2], [3, 4]]), dim=0)
    tensor([4, 6])
    """
    if dim is None and dtype is None and input._data.dtype.kind not in "biu":  # x.sum() of a float
        if _enabled[0] and not _mixed[0] and input._rg:
            return _apply_graph(Sum, (input, None, keepdim, None), _NO_KW)  # Sum.apply's graph path
        return Sum.apply(input, None, keepdim, None)
    axes = norm_dims(dim, input._data.ndim)
    x = input
    dt = _sum_dtype(x, dtype)
    if dt is not None and dt.kind in "fcV" and x._data.dtype != dt:
        x, dt = cast(x, dt), None
    r = Sum.apply(x, axes, keepdim, dt)
    if axes is not None and r.grad_fn is not None:
        r.grad_fn._nm = "SumBackward1"
    return r


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    from .index import where

    return sum(where(input.isnan(), 0.0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim``; floating-point inputs only (as torch)."""
    x = input if dtype is None else cast(input, _dt.to_numpy_dtype(dtype))
    _float_input(x, "mean")
    axes = norm_dims(dim, x._data.ndim)
    r = Mean.apply(x, axes, keepdim)
    if axes is not None and r.grad_fn is not None:
        r.grad_fn._nm = "MeanBackward1"
    return r


def nanmean(input, dim=None, keepdim: bool = False) -> Tensor:
    notnan = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim) / notnan


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = input
    if dtype is not None:
        x = cast(x, _dt.to_numpy_dtype(dtype))
    elif x._data.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))
    axis = None if dim is None else wrap_dim(dim, x._data.ndim)
    if x._data.ndim == 0:
        axis = None
    return named(Prod.apply(x, axis, keepdim), "ProdBackward0" if dim is None else "ProdBackward1")


def _maxmin(input, dim, keepdim, other, is_max: bool):
    from .elementwise import maximum, minimum

    if isinstance(dim, Tensor):  # torch.max(a, b): elementwise
        return (maximum if is_max else minimum)(input, dim)
    if other is not None:
        return (maximum if is_max else minimum)(input, other)
    name = "max" if is_max else "min"
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                "reduction dim with the 'dim' argument."
            )
        return named(Amax.apply(input, None, False, is_max), "MaxBackward1" if is_max else "MinBackward1")
    axis = wrap_dim(dim, input._data.ndim)
    if input._data.ndim and input._data.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    v, i = MaxMinDim.apply(input, axis, keepdim, is_max)
    named(v, "MaxBackward0" if is_max else "MinBackward0")
    return (return_types.max if is_max else return_types.min)(v, i)


def max(input, dim=None, keepdim: bool = False, *, other=None, out=None):  # noqa: A001
    """The largest element, or ``(values, indices)`` along ``dim``, or the elementwise max of two tensors.

    >>> import nnbox
    >>> nnbox.max(nnbox.tensor([[1, 5], [7, 2]]), 1)
    torch.return_types.max(
    values=tensor([5, 7]),
    indices=tensor([1, 0]))
    """
    return _maxmin(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim: bool = False, *, other=None, out=None):  # noqa: A001
    """The smallest element, or ``(values, indices)`` along ``dim``; see ``max``."""
    return _maxmin(input, dim, keepdim, other, False)


def amax(input, dim=(), keepdim: bool = False) -> Tensor:
    return Amax.apply(input, norm_dims(dim, input._data.ndim), keepdim, True)


def amin(input, dim=(), keepdim: bool = False) -> Tensor:
    return named(Amax.apply(input, norm_dims(dim, input._data.ndim), keepdim, False), "AminBackward0")


def aminmax(input, *, dim=None, keepdim: bool = False):
    d = () if dim is None else dim
    return return_types.aminmax(amin(input, d, keepdim), amax(input, d, keepdim))


def _arg(input, dim, keepdim, is_max):
    a = input._data
    xp = xp_of(a)
    f = xp.argmax if is_max else xp.argmin
    if a.dtype == np.bool_:
        raise RuntimeError(f"{'argmax' if is_max else 'argmin'}(): does not support bool input")
    if a.size == 0 and (dim is None or a.ndim == 0 or a.shape[wrap_dim(dim, a.ndim)] == 0):
        raise IndexError(f"{'argmax' if is_max else 'argmin'}(): Expected reduction dim to be specified for input.numel() == 0.")
    if dim is None:
        r = f(a.reshape(-1))
        if keepdim:
            r = xp.asarray(r).reshape((1,) * a.ndim)
    else:
        r = f(a, axis=wrap_dim(dim, a.ndim), keepdims=keepdim) if a.ndim else xp.asarray(0)
    return Tensor._make(xp.asarray(r, dtype=np.int64))


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (flattened when ``dim`` is None)."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (flattened when ``dim`` is None)."""
    return _arg(input, dim, keepdim, False)


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _var_args(dim, unbiased, keepdim):
    # var(x, True) means unbiased=True in torch's old overload
    if isinstance(dim, bool):
        return None, dim, keepdim
    return dim, unbiased, keepdim


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``)."""
    dim, unbiased, keepdim = _var_args(dim, unbiased, keepdim)
    _float_input(input, "var")
    return Var.apply(input, norm_dims(dim, input._data.ndim), _correction(unbiased, correction), keepdim, False)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation with Bessel's correction by default."""
    dim, unbiased, keepdim = _var_args(dim, unbiased, keepdim)
    _float_input(input, "std")
    return named(Var.apply(input, norm_dims(dim, input._data.ndim), _correction(unbiased, correction), keepdim, True),
                 "StdBackward0")


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably."""
    x = input if input._data.dtype.kind in "fcV" else cast(input, _dt.get_default_dtype().np)
    return LogSumExp.apply(x, norm_dims(dim, x._data.ndim), keepdim)


def all(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (along ``dim``) is non-zero."""
    a = input._data
    r = xp_of(a).asarray(a.astype(bool).all(axis=norm_dims(dim, a.ndim), keepdims=keepdim))
    return Tensor._make(r.astype(np.uint8) if a.dtype == np.uint8 else r)  # torch keeps uint8


def any(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (along ``dim``) is non-zero."""
    a = input._data
    r = xp_of(a).asarray(a.astype(bool).any(axis=norm_dims(dim, a.ndim), keepdims=keepdim))
    return Tensor._make(r.astype(np.uint8) if a.dtype == np.uint8 else r)


def count_nonzero(input, dim=None) -> Tensor:
    a = input._data
    return Tensor._make(xp_of(a).asarray((a != 0).sum(axis=norm_dims(dim, a.ndim)), dtype=np.int64))


def cumsum(input, dim, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``."""
    x = input
    dt = _sum_dtype(x, dtype)
    if dt is not None and dt.kind in "fcV":
        x, dt = cast(x, dt), None
    if x._data.ndim == 0:
        wrap_dim(dim, 0)
        return Cumsum.apply(x, None, dt)
    return Cumsum.apply(x, wrap_dim(dim, x._data.ndim), dt)


def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``."""
    x = input
    dt = _sum_dtype(x, dtype)
    if dt is not None and dt.kind in "fcV":
        x, dt = cast(x, dt), None
    if x._data.ndim == 0:
        wrap_dim(dim, 0)
        return Cumprod.apply(x, None, dt)
    return Cumprod.apply(x, wrap_dim(dim, x._data.ndim), dt)


def median(input, dim=None, keepdim: bool = False):
    """The lower median (as torch), or ``(values, indices)`` along ``dim``."""
    from ._util import not_implemented
    from .index import sort

    if input._data.dtype == np.bool_:
        raise not_implemented("median_cpu", input._data.dtype)

    if dim is None:
        flat = input.reshape(-1)
        s, _ = sort(flat)
        return s[(flat.shape[0] - 1) // 2]
    axis = wrap_dim(dim, input._data.ndim)
    s, idx = sort(input, axis)
    k = (input._data.shape[axis] - 1) // 2
    v, i = s.narrow(axis, k, 1), idx.narrow(axis, k, 1)
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return return_types.median(v, i)


_METHODS = dict(
    sum=sum, nansum=nansum, mean=mean, nanmean=nanmean, prod=prod, max=max, min=min, amax=amax,
    amin=amin, aminmax=aminmax, argmax=argmax, argmin=argmin, var=var, std=std, logsumexp=logsumexp,
    all=all, any=any, count_nonzero=count_nonzero, cumsum=cumsum, cumprod=cumprod, median=median,
)
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
