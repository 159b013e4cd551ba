"""(being written) ``nn`` activation modules."""
from __future__ import annotations

__all__: list[str] = []
