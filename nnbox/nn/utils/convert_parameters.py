"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector and back."""
from __future__ import annotations

from collections.abc import Iterable

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_device(param: Tensor, device):
    if device is None:
        return param.device
    if param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate every parameter, flattened, into one 1-D tensor (differentiable).

    >>> import nnbox, nnbox.nn as nn
    >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    torch.Size([8])
    """
    from ...ops.shape import cat

    device = None
    flat = []
    for p in parameters:
        device = _check_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters (each then shares ``vec``'s storage,
    as torch's ``param.data = ...`` does)."""
    if not isinstance(vec, Tensor):
        from ..modules.module import typename

        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    device = None
    offset = 0
    for p in parameters:
        device = _check_device(p, device)
        n = p.numel()
        p._data = vec._data[offset:offset + n].reshape(p._data.shape)
        offset += n
