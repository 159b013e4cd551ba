"""``nnbox.vision.transforms`` (torchvision.transforms): image transforms for PIL images and tensors.

>>> import numpy as np
>>> from nnbox.vision import transforms
>>> t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
>>> t(np.zeros((28, 28), np.uint8)).shape
torch.Size([1, 28, 28])
"""
from . import functional
from .functional import InterpolationMode as InterpolationMode
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _all

__all__ = list(_all) + ["functional"]


def __getattr__(name: str):
    from ..._missing import attribute_error

    raise attribute_error("torchvision.transforms", name, list(globals()), f"module '{__name__}' has no attribute '{name}'")
