"""(being written) ``nn`` sparse modules."""
from __future__ import annotations

__all__: list[str] = []
