"""Layer 3: differentiable operations, one file per family.  Importing this package attaches the
ops to ``Tensor`` as methods."""
from . import convert, creation, elementwise, index, inplace, linalg, reduce, shape, softmax  # noqa: F401
