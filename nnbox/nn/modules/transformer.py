"""(being written) ``nn`` transformer modules."""
from __future__ import annotations

__all__: list[str] = []
