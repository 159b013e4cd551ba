"""(being written) ``nn`` pixelshuffle modules."""
from __future__ import annotations

__all__: list[str] = []
