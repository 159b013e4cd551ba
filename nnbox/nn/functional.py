"""``nn.functional``: PyTorch's functional API.  Each function lives in ``nnbox/ops/<family>.py``
beside the ``Function`` that computes it; this module gathers them under torch's names."""
from ..ops.activation import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.dropout import *  # noqa: F401,F403
from ..ops.embedding import *  # noqa: F401,F403
from ..ops.grid_sample import *  # noqa: F401,F403
from ..ops.linear import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.nn_misc import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403


def __getattr__(name: str):
    from .._missing import attribute_error

    raise attribute_error("torch.nn.functional", name, list(globals()),
                          f"module 'nnbox.nn.functional' has no attribute '{name}'")
