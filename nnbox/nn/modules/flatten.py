"""``Flatten`` and ``Unflatten``: reshape layers for ``Sequential`` models."""
from __future__ import annotations

from ..._tensor import Tensor
from ...ops.shape import flatten, unflatten
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (by default all but the batch dim).

    >>> import nnbox, nnbox.nn as nn
    >>> nn.Flatten()(nnbox.ones(32, 1, 5, 5)).shape
    torch.Size([32, 25])
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (a tuple/list of ints or a ``torch.Size``).

    >>> import nnbox, nnbox.nn as nn
    >>> nn.Unflatten(1, (2, 5))(nnbox.ones(2, 10)).shape
    torch.Size([2, 2, 5])
    """

    __constants__ = ["dim", "unflattened_size"]

    def __init__(self, dim: int | str, unflattened_size) -> None:
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("nnbox has no named tensors: Unflatten needs an integer dim")
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument type for dim parameter: {type(dim).__name__}")
        self._check_size(unflattened_size)
        self.dim = dim
        self.unflattened_size = unflattened_size

    @staticmethod
    def _check_size(size) -> None:
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type {type(size).__name__}")
        for i, s in enumerate(size):
            if not isinstance(s, int) or isinstance(s, bool):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type {type(s).__name__} at pos {i}")

    def forward(self, input: Tensor) -> Tensor:
        return unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
