"""Layer 3: differentiable operations, one file per family.  Importing this package attaches the
ops to ``Tensor`` as methods."""
from . import _lowp, _tensor_xp, convert, creation, elementwise, index, inplace, linalg, reduce, shape, softmax  # noqa: F401

_lowp._register()  # bfloat16 and autocast at dispatch (off, at no cost, until first used)
