"""Distance layers over ``F.pairwise_distance`` and ``F.cosine_similarity``."""
from __future__ import annotations

from ..._tensor import Tensor
from ...ops import nn_misc as _F
from .module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` along the last dim.

    >>> import nnbox, nnbox.nn as nn
    >>> nn.PairwiseDistance()(nnbox.zeros(2, 3), nnbox.ones(2, 3)).shape
    torch.Size([2])
    """

    __constants__ = ["norm", "eps", "keepdim"]

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return _F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine similarity along ``dim``.

    >>> import nnbox, nnbox.nn as nn
    >>> nn.CosineSimilarity()(nnbox.tensor([[1.0, 0.0]]), nnbox.tensor([[0.0, 2.0]])).tolist()
    [0.0]
    """

    __constants__ = ["dim", "eps"]

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return _F.cosine_similarity(x1, x2, self.dim, self.eps)
