"""``nnbox.nn``: layers (``Module`` subclasses), containers, losses, ``functional``, ``init``, ``utils``.

>>> import nnbox.nn as nn
>>> nn.Linear(4, 2)
Linear(in_features=4, out_features=2, bias=True)
"""
from . import functional, init, utils  # noqa: F401,E402
from .modules import *  # noqa: F401,F403
from .parameter import *  # noqa: F401,F403
from .parameter import Parameter  # noqa: F401


def __getattr__(name: str):
    # parallel wrappers pull in nnbox.distributed lazily
    if name in ("DataParallel", "parallel", "SyncBatchNorm"):
        import importlib

        mod = importlib.import_module("nnbox.nn.parallel")
        return mod if name == "parallel" else getattr(mod, name)
    from .._missing import attribute_error

    raise attribute_error("torch.nn", name, list(globals()) + ["DataParallel", "parallel", "SyncBatchNorm"],
                          f"module 'nnbox.nn' has no attribute '{name}'")
