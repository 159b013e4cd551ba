"""Special functions: ``xlogy`` (``torch.xlogy`` = ``torch.special.xlogy``)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import unbroadcast
from .elementwise import _binary, _out, _shape, _xp


class Xlogy(Function):
    """x * log(y), defined as 0 where x == 0 (even for y == 0), NaN where y is NaN."""

    _array_api = True

    @staticmethod
    def forward(ctx, x, y):
        xp = _xp(x, y)
        ctx.save_for_backward(x, y)
        ctx.sx, ctx.sy = _shape(x), _shape(y)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, 0 * -inf: no warnings
            out = xp.where(x == 0, 0, x * xp.log(y))
        return xp.where(xp.isnan(y), y, out)  # NaN in y stays NaN even where x == 0

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        xp = _xp(x, y)
        gx = gy = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:  # log(y), but 0 at x == y == 0 (torch's choice there)
                gx = unbroadcast(grad * xp.where((x == 0) & (y == 0), 0, xp.log(y)), ctx.sx)
            if ctx.needs_input_grad[1]:
                gy = unbroadcast(grad * x / y, ctx.sy)
        return gx, gy


def xlogy(input, other, *, out=None) -> Tensor:
    """``input * log(other)``, with 0 wherever ``input`` is 0 (``0 * log(0)`` is 0, not NaN).

    >>> import nnbox
    >>> nnbox.xlogy(nnbox.tensor([0.0, 1.0, 2.0]), nnbox.tensor([0.0, 1.0, 4.0]))
    tensor([0.0000, 0.0000, 2.7726])
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): argument 'input' (position 1) must be Tensor, not " + type(input).__name__)
    return _out(_binary(Xlogy, input, other, float_result=True), out)


Tensor.xlogy = xlogy
Tensor.xlogy_ = lambda self, other: self.copy_(xlogy(self, other))

__all__ = ["xlogy"]
