"""(being written) dropout ops: fused Functions with hand-written backward and their ``F.*`` forms."""
from __future__ import annotations

__all__: list[str] = []
