"""``torch.version``: what nnbox was built with. ``cuda`` is the CUDA runtime CuPy uses, or None.

>>> import nnbox as torch
>>> torch.version.debug, torch.version.hip
(False, None)
>>> torch.__version__ >= "0.1"
True
"""
from __future__ import annotations

from ._version import __version__  # noqa: F401

debug = False
hip = None
rocm = None
xpu = None
git_version = "Unknown"


def __getattr__(name: str):
    # torch.version.cuda is the CUDA version torch was built for; nnbox's is CuPy's runtime.
    # Computed on first use so ``import nnbox.version`` does not import CuPy.
    if name == "cuda":
        from ._backend.device import cupy_or_none

        cp = cupy_or_none()
        if cp is None:
            return None
        v = cp.cuda.runtime.runtimeGetVersion()
        return f"{v // 1000}.{v % 1000 // 10}"
    raise AttributeError(f"module 'nnbox.version' has no attribute '{name}'")
