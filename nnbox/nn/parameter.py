"""(being written) ``nn.Parameter``."""
from __future__ import annotations

from .._tensor import Tensor


class Parameter(Tensor):
    pass
