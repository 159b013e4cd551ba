"""``DistributedSampler``: each of ``num_replicas`` processes reads its own slice of the data."""
from __future__ import annotations

import math
from collections.abc import Iterator

from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _process_group_setting(what: str) -> int:
    """World size or rank from ``nnbox.distributed`` when a process group is running."""
    try:
        import importlib

        dist = importlib.import_module("nnbox.distributed")
    except ImportError:
        dist = None
    is_initialized = getattr(dist, "is_initialized", None)
    if is_initialized is None or not is_initialized():
        raise ValueError("Default process group has not been initialized, please make sure to call init_process_group.")
    return dist.get_world_size() if what == "world_size" else dist.get_rank()


class DistributedSampler(Sampler):
    """Split the indices of ``dataset`` across ``num_replicas`` processes; call ``set_epoch``
    every epoch so each epoch shuffles differently (the order depends on ``seed + epoch`` only,
    so every replica draws the same permutation and takes a disjoint stride of it).

    >>> list(DistributedSampler(range(10), num_replicas=3, rank=2, shuffle=False))
    [2, 5, 8, 1]
    >>> s = DistributedSampler(range(8), num_replicas=2, rank=0); s.set_epoch(1); len(list(s))
    4
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _process_group_setting("world_size")
        if rank is None:
            rank = _process_group_setting("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # drop the tail so every replica gets the same number of samples
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            from ... import randperm
            from ..._backend.random import Generator

            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(len(self.dataset), generator=g, device="cpu").tolist()
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            # pad by repeating from the start so the total divides evenly
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Change the shuffle of the next iteration (all replicas must use the same epoch)."""
        self.epoch = epoch
