"""(being written) ``nn`` batchnorm modules."""
from __future__ import annotations

__all__: list[str] = []
