"""softmax / log_softmax / softmin along one dim, each one fused node with a closed-form backward."""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import not_implemented, wrap_dim, xp_of


class Softmax(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis):
        xp = xp_of(a)
        e = xp.asarray(a - a.max(axis=axis, keepdims=True))  # an array even for 0-d input
        xp.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        xp = xp_of(grad)
        gy = grad * y
        return gy - y * xp.sum(gy, axis=ctx.axis, keepdims=True), None


class LogSoftmax(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis):
        xp = xp_of(a)
        shifted = a - a.max(axis=axis, keepdims=True)
        out = xp.asarray(shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True)))  # 0-d: an array, saved as the output itself
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = xp_of(grad)
        return grad - xp.exp(out) * xp.sum(grad, axis=ctx.axis, keepdims=True), None


def _prep(input: Tensor, dim, dtype, name: str):
    if dim is None:
        import warnings

        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
            stacklevel=3,
        )
        nd = input._data.ndim
        dim = 0 if nd in (0, 1, 3) else 1
    x = input
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind not in "fcV":
        raise not_implemented(f"{name}_lastdim_kernel_impl", x._data.dtype)
    return x, wrap_dim(dim, x._data.ndim) if x._data.ndim else None


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``.

    >>> import nnbox
    >>> nnbox.softmax(nnbox.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    x, axis = _prep(input, dim, dtype, "softmax")
    return Softmax.apply(x, axis)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    x, axis = _prep(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(x, axis)


def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return softmax(-input, dim, dtype=dtype)


Tensor.softmax = softmax
Tensor.log_softmax = log_softmax
