"""The stand-in's device memory: CuPy's memory pool (blocks rounded to 512 bytes, freed blocks
kept for reuse), the allocator hook, and pinned host memory.

Every stand-in array owns a ``MemoryPointer`` taken from the current allocator when its NumPy
buffer is created; views share their base's pointer. So ``MemoryPool.used_bytes()``,
``total_bytes()`` and the count of fresh blocks (``n_device_mallocs``) behave like CuPy's pool:
a training step that reuses the previous step's shapes takes no fresh block.
"""
from __future__ import annotations

import weakref

import numpy as np

_ROUND = 512  # CuPy's pool rounds every request up to a multiple of 512 bytes


class MemoryPointer:
    """A block of "device" memory: ``ptr`` (an address), ``size``, ``mem`` (the block)."""

    __slots__ = ("ptr", "size", "mem", "device_id", "__weakref__")

    def __init__(self, ptr: int, size: int, mem=None, device_id: int = 0):
        self.ptr, self.size, self.mem, self.device_id = ptr, size, mem, device_id

    def __int__(self) -> int:
        return self.ptr


class MemoryPool:
    """``cupy.cuda.MemoryPool``: caches freed blocks by (rounded) size and hands them out again."""

    _next_ptr = 1 << 32

    def __init__(self, allocator=None):
        self._free: dict[int, list[int]] = {}   # rounded size -> free block addresses
        self._used = 0
        self._cached = 0
        self.n_device_mallocs = 0                 # fresh blocks taken from the "driver" (stand-in counter)
        self._limit = 0

    def malloc(self, size: int) -> MemoryPointer:
        size = max(_ROUND, -(-int(size) // _ROUND) * _ROUND)
        bin_ = self._free.get(size)
        if bin_:
            ptr = bin_.pop()
            self._cached -= size
        else:
            if self._limit and self._used + self._cached + size > self._limit:
                raise OutOfMemoryError(size, self._used + self._cached, self._limit)
            ptr = MemoryPool._next_ptr
            MemoryPool._next_ptr += size
            self.n_device_mallocs += 1
        self._used += size
        mp = MemoryPointer(ptr, size, self)
        return mp

    def _release(self, ptr: int, size: int) -> None:
        self._used -= size
        self._cached += size
        self._free.setdefault(size, []).append(ptr)

    def used_bytes(self) -> int:
        return self._used

    def free_bytes(self) -> int:
        return self._cached

    def total_bytes(self) -> int:
        return self._used + self._cached

    def n_free_blocks(self) -> int:
        return sum(len(v) for v in self._free.values())

    def free_all_blocks(self, stream=None) -> None:
        self._free.clear()
        self._cached = 0

    def set_limit(self, size=None, fraction=None) -> None:
        self._limit = int(size or 0)

    def get_limit(self) -> int:
        return self._limit


class PinnedMemoryPool:
    """``cupy.cuda.PinnedMemoryPool``: only the bookkeeping nnbox asks about."""

    def __init__(self):
        self._n = 0

    def n_free_blocks(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


class OutOfMemoryError(MemoryError):
    """CuPy's ``cupy.cuda.memory.OutOfMemoryError`` (a ``MemoryError``), worded as CuPy's."""

    def __init__(self, size, total, limit=0):
        limit = f", limit set to: {limit:,} bytes" if limit else ""
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes{limit}).")


class PinnedMemoryPointer(bytearray):
    """Page-locked host memory: a host buffer NumPy arrays are built on (``numpy.ndarray(shape,
    dtype, buffer=ptr)``, as ``cupyx.empty_pinned`` does), so their ``.base`` is this pointer."""

    def __init__(self, size: int):
        super().__init__(max(int(size), 1))
        self.size = int(size)
        self.ptr = np.frombuffer(self, dtype=np.uint8).ctypes.data


_default_pool = MemoryPool()
_pinned_pool = PinnedMemoryPool()
_allocator = [_default_pool.malloc]


def get_allocator():
    return _allocator[0]


def set_allocator(allocator=None) -> None:
    _allocator[0] = allocator if allocator is not None else _default_pool.malloc


def alloc_pinned_memory(size: int) -> PinnedMemoryPointer:
    return PinnedMemoryPointer(size)


# --- ownership: which NumPy buffer holds which block ----------------------------------------

_owners: dict[int, MemoryPointer] = {}


def _free_block(key: int) -> None:
    mp = _owners.pop(key, None)
    if mp is not None and isinstance(mp.mem, MemoryPool):
        mp.mem._release(mp.ptr, mp.size)


def root_of(a: np.ndarray) -> np.ndarray:
    r = a
    while isinstance(r.base, np.ndarray):
        r = r.base
    return r


def adopt(a: np.ndarray) -> MemoryPointer:
    """The block behind NumPy buffer ``a`` (taken from the allocator the first time it is seen)."""
    r = root_of(a)
    key = id(r)
    mp = _owners.get(key)
    if mp is None:
        mp = _allocator[0](max(r.nbytes, 1))
        _owners[key] = mp
        weakref.finalize(r, _free_block, key)
    return mp
