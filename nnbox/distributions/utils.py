"""Helpers shared by the distributions: parameter broadcasting, probs <-> logits, lazy properties."""
from __future__ import annotations

import numbers

import numpy as np

import nnbox

from .._tensor import Tensor


def broadcast_all(*values):
    """Tensors and numbers to tensors of one broadcast shape; numbers take the tensors' dtype
    (the default dtype when there are none), as torch's ``broadcast_all``."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects implementing __torch_function__.")
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    if ref is None:
        dt = nnbox.get_default_dtype()
        return tuple(nnbox.tensor(float(v), dtype=dt) for v in values)
    dt = ref.dtype if ref.is_floating_point() else nnbox.get_default_dtype()
    vals = [v if isinstance(v, Tensor) else nnbox.tensor(float(v), dtype=dt, device=ref.device) for v in values]
    return tuple(nnbox.broadcast_tensors(*vals))


def finfo_eps(t: Tensor) -> float:
    return float(np.finfo(t._data.dtype).eps)


def finfo_tiny(t: Tensor) -> float:
    return float(np.finfo(t._data.dtype).tiny)


def clamp_probs(probs: Tensor) -> Tensor:
    eps = finfo_eps(probs)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    return logits.sigmoid() if is_binary else nnbox.softmax(logits, dim=-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    ps = clamp_probs(probs)
    return ps.log() - (-ps).log1p() if is_binary else ps.log()


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum the rightmost ``dim`` dimensions (none when ``dim`` is 0)."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[: value.dim() - dim]) + (-1,)).sum(-1)


class lazy_property:
    """A property computed on first access and then stored on the instance (torch's name)."""

    def __init__(self, fn):
        self.wrapped = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with nnbox.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def batch_diagonal(m: Tensor) -> Tensor:
    """The diagonals of a batch of square matrices (``m.diagonal(dim1=-2, dim2=-1)``)."""
    n = m.shape[-1]
    return (m * nnbox.eye(n, dtype=m.dtype, device=m.device)).sum(-1)
