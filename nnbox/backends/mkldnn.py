"""``torch.backends.mkldnn``: ``enabled`` chooses nnbox's fast CPU convolution kernel.

torch runs CPU convolutions through oneDNN (MKL-DNN) unless ``torch.backends.mkldnn.enabled`` is
False, which falls back to its slower native kernels.  nnbox has no oneDNN; the flag chooses
between its fast kernel and its exact one.  With it True (torch's default), float32 3x3 stride-1
convolutions with 16 or more channels on each side run by Winograd F(4x4, 3x3)
(``nnbox/ops/_winograd.py``): 4x fewer multiplies, and results within about 4e-6 of the output's
largest magnitude of a direct convolution (a direct float32 convolution: about 4e-7); those with
128+ channels on too few 4x4 tiles by F(2x2, 3x3) (2.25x fewer, about 6e-7).  With it False they
run as im2col + GEMM.

>>> import nnbox as torch
>>> torch.backends.mkldnn.enabled, torch.backends.mkldnn.is_available()
(True, True)
>>> with torch.backends.mkldnn.flags(enabled=False):
...     torch.backends.mkldnn.enabled
False
"""
from __future__ import annotations

import sys
import types
from contextlib import contextmanager

from ..ops import _winograd


def is_available() -> bool:
    """True: the flag is honoured (it selects nnbox's own kernels, not oneDNN's)."""
    return True


def _bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise RuntimeError(f"set_{name}_mkldnn expects a bool, but got {type(value).__name__}")
    return value


class _MkldnnModule(types.ModuleType):
    # A module subclass so that assigning ``enabled`` switches the kernel and type-checks as torch's.
    deterministic = False  # nnbox's CPU kernels are deterministic either way

    @property
    def enabled(self) -> bool:
        return _winograd.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        _winograd.enabled = _bool("enabled", value)

    @contextmanager
    def flags(self, enabled: bool = False, deterministic: bool = False):
        """Set ``enabled`` and ``deterministic`` for a block, as torch's ``mkldnn.flags``."""
        saved = self.enabled, self.deterministic
        self.enabled, self.deterministic = _bool("enabled", enabled), _bool("deterministic", deterministic)
        try:
            yield
        finally:
            self.enabled, self.deterministic = saved


sys.modules[__name__].__class__ = _MkldnnModule
