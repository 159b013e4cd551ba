"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``, ``clip_grads_with_norm_``.

They work on the raw gradient arrays (no graph, in place), so clipping costs one reduction and one
multiply per parameter.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from ..._tensor import Tensor
from ...ops._util import xp_of

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(arr, p: float):
    """The ``p``-norm of an array (any shape), in its own dtype, as a 0-d array."""
    xp = xp_of(arr)
    a = xp.abs(arr.ravel())
    if p == math.inf:
        return a.max() if a.size else xp.zeros((), arr.dtype)
    if p == -math.inf:
        return a.min() if a.size else xp.asarray(math.inf, arr.dtype)
    if p == 0:
        return xp.asarray((a != 0).sum(), dtype=arr.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt(xp.dot(a, a))
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (the norm of their norms).

    >>> import nnbox
    >>> float(nnbox.nn.utils.get_total_norm([nnbox.tensor([3.0]), nnbox.tensor([4.0])]))
    5.0
    """
    tensors = [t for t in _as_list(tensors) if t is not None]
    p = float(norm_type)
    if not tensors:
        return Tensor._make(_zero())
    norms = [_norm(t._data, p) for t in tensors]
    xp = xp_of(tensors[0]._data)
    stacked = xp.stack([xp.asarray(n, dtype=norms[0].dtype) for n in norms])
    total = _norm(stacked, p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return Tensor._make(xp.asarray(total))


def _zero():
    import numpy as np

    from ..._backend.dtype import get_default_dtype

    return np.zeros((), get_default_dtype().np)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = [p._grad for p in _as_list(parameters) if p._grad is not None]
    if not grads:
        return
    xp = xp_of(total_norm._data)
    coef = xp.minimum(float(max_norm) / (total_norm._data + 1e-6), 1.0)
    for g in grads:
        # the multiply happens even when coef is 1 (torch does the same; a NaN norm spreads NaN)
        g._data *= coef.astype(g._data.dtype)
        g._vc[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Rescale gradients in place so that their total norm is at most ``max_norm``; returns the
    total norm before clipping.  ``foreach`` is accepted and has no effect (one loop serves all).

    >>> import nnbox, nnbox.nn as nn
    >>> lin = nn.Linear(3, 2); lin(nnbox.ones(4, 3)).sum().backward()
    >>> before = nn.utils.clip_grad_norm_(lin.parameters(), max_norm=1.0)
    >>> round(float(nn.utils.get_total_norm([p.grad for p in lin.parameters()])), 4) <= 1.0
    True
    """
    params = _as_list(parameters)
    grads = [p._grad for p in params if p._grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """Deprecated alias of ``clip_grad_norm_``."""
    import warnings

    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach=None) -> None:
    """Clamp every gradient to ``[-clip_value, clip_value]`` in place."""
    c = float(clip_value)
    for p in _as_list(parameters):
        g = p._grad
        if g is not None:
            xp_of(g._data).clip(g._data, -c, c, out=g._data)
            g._vc[0] += 1
