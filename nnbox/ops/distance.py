"""Pairwise distances: ``cdist``."""
from __future__ import annotations

from .._backend import autocast_state as _ac
from .._tensor import Tensor
from ..autograd.function import Function
from ._lowp import autocast_fp32
from ._util import type_name
from .linalg import vector_norm


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between every row of ``x1`` (..., P, M) and of ``x2`` (..., R, M):
    a (..., P, R) tensor.  Computed from the differences (exact; torch may switch to a
    matrix-product formula for large Euclidean inputs, which differs in the last bits).

    >>> import nnbox
    >>> nnbox.cdist(nnbox.tensor([[0.0, 0.0], [1.0, 1.0]]), nnbox.tensor([[3.0, 4.0]]))
    tensor([[5.0000],
            [3.6056]])
    """
    if _ac.any_on[0]:  # autocast: torch's float32 list
        x1, x2 = autocast_fp32(x1, x2)
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, t in (("X1", x1), ("X2", x2)):
        if t.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.dim()}D")
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {type_name(t._data.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    out = _cdist(x1, x2, p)
    mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    return out if mm or not out.requires_grad else _CdistGate.apply(out)


class _CdistGate(Function):
    """The identity, marking where torch's fused cdist kernel stands: its gradient cannot be
    differentiated again, in torch (only its matrix-product form for p = 2 can), so nor here."""

    _array_api = True
    _twice = "the derivative for '_cdist_backward' is not implemented."  # torch's NotImplementedError
    _torch_name = "CdistBackward0"

    @staticmethod
    def forward(ctx, a):
        return a.copy()  # its own storage: an in-place change of the result leaves cdist's intact

    @staticmethod
    def backward(ctx, grad):
        return grad


def _cdist(x1: Tensor, x2: Tensor, p: float) -> Tensor:
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    if p == 0:  # a count: torch still gives it a graph, with zero gradients
        return vector_norm(diff, 0, dim=-1) + (diff * 0).sum(-1)
    if p in (1, 2, float("inf")):
        return vector_norm(diff, p, dim=-1)
    # s ** (1/p) has an infinite slope at 0: torch's gradient at a zero distance is 0
    from .index import where

    s = (diff.abs() ** p).sum(-1)
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / p))


__all__ = ["cdist"]
