"""Dropout layers: active in ``train()`` mode, the identity in ``eval()`` mode."""
from __future__ import annotations

from ..._tensor import Tensor
from ...ops import dropout as _F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    __constants__ = ["p", "inplace"]
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)


class Dropout(_DropoutNd):
    """Zero elements with probability ``p`` during training, scaling the rest by ``1/(1-p)``.

    >>> import nnbox, nnbox.nn as nn
    >>> drop = nn.Dropout(0.5).eval()
    >>> drop, drop(nnbox.ones(3)).tolist()
    (Dropout(p=0.5, inplace=False), [1.0, 1.0, 1.0])
    """

    _fn = staticmethod(_F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) input during training."""

    _fn = staticmethod(_F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of (N, C, H, W) input during training."""

    _fn = staticmethod(_F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) input during training."""

    _fn = staticmethod(_F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's self-normalising statistics."""

    _fn = staticmethod(_F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""

    _fn = staticmethod(_F.feature_alpha_dropout)
