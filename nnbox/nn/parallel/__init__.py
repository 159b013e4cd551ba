"""``nnbox.nn.parallel``: ``DataParallel`` (one process, several devices),
``DistributedDataParallel`` (one process per rank, over ``nnbox.distributed``).

>>> import nnbox.nn as nn
>>> nn.DataParallel(nn.Linear(2, 2))
DataParallel(
  (module): Linear(in_features=2, out_features=2, bias=True)
)
"""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel


__all__ = ["DataParallel", "DistributedDataParallel"]
