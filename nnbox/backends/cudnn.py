"""``torch.backends.cudnn``: nnbox does not use cuDNN, so these flags change nothing.

nnbox's convolutions on CuPy are im2col + one cuBLAS GEMM: there is no algorithm search for
``benchmark`` to turn on, and its results are already deterministic, so ``deterministic`` holds
whatever it is set to. The flags keep torch's defaults and read back what a program set, so
``torch.backends.cudnn.benchmark = True`` at the top of a script runs unchanged.

>>> import nnbox as torch
>>> torch.backends.cudnn.enabled, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32
(True, False, True)
>>> torch.backends.cudnn.is_available()
False
"""
from __future__ import annotations

import sys
import types

from .._backend import flags as _flags


def is_available() -> bool:
    """False: nnbox never calls cuDNN (torch's answer on a machine without it)."""
    return False


def version() -> None:
    """None, as torch answers where cuDNN is not available."""
    return None


class _CudnnModule(types.ModuleType):
    # A module subclass so assignments type-check like torch's (bools) and allow_tf32 lands in
    # the shared flag table, while ``import nnbox.backends.cudnn as cudnn`` keeps working.
    enabled = True
    benchmark = False
    deterministic = False
    benchmark_limit = 10

    @property
    def allow_tf32(self) -> bool:
        return _flags.tf32["cudnn"]

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _flags.tf32["cudnn"] = bool(value)


sys.modules[__name__].__class__ = _CudnnModule
