"""``nnbox.vision`` (torchvision): ``datasets``, ``transforms``, ``models`` and ``utils``.

Subpackages load on first use, so ``import nnbox.vision`` is cheap and Pillow stays optional.

>>> import nnbox.vision as vision
>>> vision.transforms.Normalize((0.5,), (0.5,))
Normalize(mean=(0.5,), std=(0.5,))
"""
import importlib as _importlib

from .._version import __version__  # noqa: F401  (torchvision.__version__: nnbox's own)

__all__ = ["datasets", "transforms", "models", "utils"]


def __getattr__(name: str):
    if name in __all__:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
