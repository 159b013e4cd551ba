"""Flat gradient buckets for ``DistributedDataParallel``: a few large all-reduces per step.

Parameters are grouped (in reverse registration order, roughly the order backward produces
their gradients) into flat arrays of at most ``cap`` bytes, one dtype and device per bucket.
Each parameter's ``.grad`` becomes a view into its bucket once the bucket is complete, so the
averaged gradients need no copy out, and gradients accumulated in place (``zero_grad(
set_to_none=False)``, ``no_sync``) land in the buffer directly (torch's
``gradient_as_bucket_view=True`` layout; its default copies in and out).
"""
from __future__ import annotations

from ..._backend.device import array_module
from ..._tensor import Tensor


class Bucket:
    """One flat buffer and the parameters whose gradients live in it."""

    __slots__ = ("index", "flat", "params", "views", "pending", "work", "zero")

    def __init__(self, index: int, params: list, xp):
        self.index = index
        dtype = params[0][1]._data.dtype
        total = sum(int(p._data.size) for _, p in params)
        self.flat = xp.zeros(total, dtype)
        self.params = [i for i, _ in params]  # indices into DDP's parameter list
        self.views = {}  # param index -> Tensor viewing its slice of ``flat``
        off = 0
        for i, p in params:
            n = int(p._data.size)
            self.views[i] = Tensor._make(self.flat[off:off + n].reshape(p._data.shape))
            off += n
        self.pending = len(self.params)
        self.work = None
        self.zero = Tensor._make(xp.zeros((), dtype))  # what the grad hook hands the engine to add


def assign_buckets(params: list, cap_bytes: int, first_cap_bytes: int) -> list:
    """Split ``params`` (a list of Parameters) into ``Bucket``\\ s, last parameter first."""
    buckets: list = []
    open_: dict = {}  # (dtype, array type) -> (list of (index, param), bytes)
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p._data.dtype, type(p._data))
        group, size = open_.get(key, ([], 0))
        group.append((i, p))
        size += p._data.nbytes
        cap = first_cap_bytes if not buckets else cap_bytes
        if size >= cap:
            buckets.append(Bucket(len(buckets), group, array_module(p._data)))
            group, size = [], 0
        open_[key] = (group, size)
    for group, _ in open_.values():
        if group:
            buckets.append(Bucket(len(buckets), group, array_module(group[0][1]._data)))
    return buckets
