"""``nnbox.optim``: optimizers (one file per algorithm) and ``lr_scheduler``, with torch's API.

>>> import nnbox
>>> w = nnbox.zeros(3, requires_grad=True)
>>> opt = nnbox.optim.Adam([w], lr=0.1)
>>> ((w - 1) ** 2).sum().backward(); opt.step()
>>> w
tensor([0.1000, 0.1000, 0.1000], requires_grad=True)
"""
from . import lr_scheduler  # noqa: F401
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam


def __getattr__(name: str):
    # swa_utils builds on nn (AveragedModel is a Module): load it on first use
    if name == "swa_utils":
        import importlib

        return importlib.import_module("nnbox.optim.swa_utils")
    from .._missing import attribute_error

    raise attribute_error("torch.optim", name, list(globals()), f"module 'nnbox.optim' has no attribute '{name}'")


__all__ = [
    "Adadelta", "Adafactor", "Adagrad", "Adam", "Adamax", "AdamW", "ASGD", "LBFGS", "NAdam", "Optimizer", "RAdam",
    "RMSprop", "Rprop", "SGD", "SparseAdam", "lr_scheduler",
]
