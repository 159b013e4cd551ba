"""``torch.backends``: the switches programs set at the top (``cudnn.benchmark``, TF32, ...).

Each keeps torch's default and meaning where nnbox has one; flags for libraries nnbox does not
use (cuDNN, MPS) are stored and read back so programs run, and say so.

>>> import nnbox as torch
>>> torch.backends.cudnn.benchmark = True
>>> torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32
(True, False)
>>> torch.backends.cudnn.benchmark = False
"""
from . import cpu, cuda, cudnn, mkldnn, mps  # noqa: F401
