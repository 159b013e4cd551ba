"""(being written) ``nn`` upsampling modules."""
from __future__ import annotations

__all__: list[str] = []
