"""(being written) ``nn`` pooling modules."""
from __future__ import annotations

__all__: list[str] = []
