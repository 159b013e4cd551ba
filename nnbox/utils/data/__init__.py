"""``nnbox.utils.data``: datasets, samplers, batching and the ``DataLoader`` (torch.utils.data).

>>> import nnbox
>>> from nnbox.utils.data import DataLoader, TensorDataset
>>> ds = TensorDataset(nnbox.arange(6.).reshape(3, 2), nnbox.tensor([0, 1, 0]))
>>> x, y = next(iter(DataLoader(ds, batch_size=2)))
>>> x.shape, y
(torch.Size([2, 2]), tensor([0, 1]))
"""
from ._worker import WorkerInfo, get_worker_info
from .collate import collate, default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .distributed import DistributedSampler
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "collate",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]


def __getattr__(name: str):
    from ..._missing import attribute_error

    raise attribute_error("torch.utils.data", name, list(globals()),
                          f"module 'nnbox.utils.data' has no attribute '{name}'")
