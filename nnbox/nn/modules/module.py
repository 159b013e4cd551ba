"""(being written) ``nn.Module``."""
from __future__ import annotations


class Module:
    pass
