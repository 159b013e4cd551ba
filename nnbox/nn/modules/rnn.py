"""(being written) ``nn`` rnn modules."""
from __future__ import annotations

__all__: list[str] = []
