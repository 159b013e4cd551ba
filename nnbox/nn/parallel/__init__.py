"""``nnbox.nn.parallel``: ``DataParallel`` (one process, several devices),
``DistributedDataParallel`` (one process per rank, over ``nnbox.distributed``) and
``SyncBatchNorm`` (batch statistics over all ranks).

>>> import nnbox.nn as nn
>>> nn.DataParallel(nn.Linear(2, 2))
DataParallel(
  (module): Linear(in_features=2, out_features=2, bias=True)
)
"""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel


def __getattr__(name: str):
    # SyncBatchNorm subclasses BatchNorm: resolved on first use
    if name == "SyncBatchNorm":
        from .sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'nnbox.nn.parallel' has no attribute '{name}'")


__all__ = ["DataParallel", "DistributedDataParallel", "SyncBatchNorm"]
