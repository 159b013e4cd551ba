"""Dropout family: one fused node per call.  The forward draws a keep-mask (per element, or per
channel for the ``dropout{1,2,3}d`` "feature" variants), and saves the scaled mask so the backward
is a single multiply.  The mask is drawn as torch draws it (``bernoulli_(1 - p)``, one float64
uniform per mask element from the CPU stream), so a seeded run drops the same units as torch."""
from __future__ import annotations

import warnings

from .._backend.random import draw_bernoulli
from .._tensor import Tensor
from ..autograd.function import Function
from .inplace import apply_inplace

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_ALPHA_PRIME = -1.7580993408473766  # -scale * alpha of SELU: where a dropped SELU unit saturates


class Dropout(Function):
    """y = x * noise + fill; ``noise`` broadcasts against x (per channel for feature dropout).

    torch builds the noise as a bernoulli_(1 - p) mask in x's dtype and then rescales it in
    that dtype (``mask / (1 - p)``; alpha dropout: ``mask * a`` and ``fill = (mask - 1) * (alpha
    a) + alpha a p``), so we round at the same steps to get its bits."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, p, keep, alpha):
        mask = keep.astype(x.dtype)
        if alpha:
            a = 1.0 / ((_SELU_ALPHA_PRIME ** 2 * p + 1) * (1 - p)) ** 0.5
            fill = (mask - x.dtype.type(1)) * x.dtype.type(-_SELU_ALPHA_PRIME * a) + x.dtype.type(-_SELU_ALPHA_PRIME * a * p)
            gain = mask * x.dtype.type(a)  # d y / d x
            y = x * gain
            y += fill
        else:
            gain = mask / x.dtype.type(1.0 - p)
            y = x * gain
        ctx.save_for_backward(gain)
        return y

    @staticmethod
    def backward(ctx, gy):
        (gain,) = ctx.saved_tensors
        return gy * gain, None, None, None


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _run(input: Tensor, p: float, training: bool, inplace: bool, mask_shape, alpha: bool, ctor_name: str) -> Tensor:
    _check_p(p)
    if not isinstance(input, Tensor):
        raise TypeError(f"{ctor_name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if p == 1.0:  # everything dropped: zeros for every variant (as torch), keeping the graph
        return input.mul_(0) if inplace else input * 0
    keep = draw_bernoulli(input.device, None, mask_shape, 1.0 - p)
    if inplace:
        return apply_inplace(input, lambda t: Dropout.apply(t, p, keep, alpha))
    return Dropout.apply(input, p, keep, alpha)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.dropout(nnbox.ones(4), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return _run(input, p, training, inplace, tuple(input.shape), False, "dropout")


def _feature_shape(input: Tensor, nd: int, name: str) -> tuple:
    """Mask shape for channel-wise dropout over ``nd`` spatial dims: (N, C, 1, ...) or (C, 1, ...)."""
    dim = input.ndim
    if dim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but received a {dim}D input. Note "
                               f"that {name} exists to provide channel-wise dropout on inputs with {nd} spatial "
                           f"dimension{'s' if nd > 1 else ''}, a channel dimension, and an optional batch "
                           f"dimension (i.e. {nd + 1}D or {nd + 2}D inputs).")
    lead = 2 if dim == nd + 2 else 1
    return tuple(input.shape[:lead]) + (1,) * (dim - lead)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    _check_p(p)
    return _run(input, p, training, inplace, _feature_shape(input, 1, "dropout1d"), False, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) of (N, C, H, W) or (C, H, W) input with probability ``p``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.dropout2d(nnbox.ones(2, 3, 4, 4), 0.5, training=False).shape
    torch.Size([2, 3, 4, 4])
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result "
                      f"in an error in a future release. To retain the behavior and silence this warning, please use "
                      f"dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      f"inputs).", stacklevel=2)
        shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if input.ndim >= 2 else tuple(input.shape)
    else:
        if input.ndim == 3:  # torch reads 3-d input as (N, C, L), for now
            warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                          "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                          "dim. This behavior will change in a future release to interpret the input as one without "
                          "a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                          "please switch to using dropout1d instead.", stacklevel=2)
        shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if input.ndim == 3 else \
            _feature_shape(input, 2, "dropout2d")
    return _run(input, p, training, inplace, shape, False, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    _check_p(p)
    return _run(input, p, training, inplace, _feature_shape(input, 3, "dropout3d"), False, "dropout3d")


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's saturation value and an affine
    correction keeps mean 0 and variance 1 (training only)."""
    return _run(input, p, training, inplace, tuple(input.shape), True, "alpha_dropout")


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels."""
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _run(input, p, training, inplace, shape, True, "feature_alpha_dropout")
