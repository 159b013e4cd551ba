"""``nn.utils``: gradient clipping, parameter/vector conversion, ``rnn`` (sequence packing).

>>> import nnbox, nnbox.nn as nn
>>> net = nn.Linear(4, 2); net(nnbox.ones(3, 4)).sum().backward()
>>> total = nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.5)
"""
from . import clip_grad, convert_parameters, parametrizations, parametrize  # noqa: F401  # noqa: F401,E402
from .clip_grad import (  # noqa: F401
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401,E402
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401,E402


def __getattr__(name: str):
    # submodules written elsewhere (``rnn``) load on first use
    if name == "rnn":
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
