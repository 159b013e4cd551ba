"""``torch.cuda`` memory statistics over CuPy's memory pool (the device cache).

CuPy keeps freed blocks in its pool and hands them out again, so a training step that repeats
the previous step's shapes allocates nothing new from the driver; ``empty_cache`` returns the
cached blocks. The peak (``max_memory_allocated``) is followed by an allocator hook that nnbox
installs the first time any statistic is asked for: until then the peak is the current use.
"""
from __future__ import annotations

from .._backend.device import cupy_or_none

_tracker = [None]


class OutOfMemoryError(RuntimeError):
    """``torch.OutOfMemoryError`` (also ``torch.cuda.OutOfMemoryError``): the device has no room for
    a tensor. A ``RuntimeError``, as torch's, so code that catches either keeps working.

    >>> import nnbox
    >>> issubclass(nnbox.cuda.OutOfMemoryError, RuntimeError) and nnbox.OutOfMemoryError is nnbox.cuda.OutOfMemoryError
    True
    """


def _fmt(n: int) -> str:
    """A byte count as torch's caching allocator words it (bytes, KiB, MiB, then GiB)."""
    for unit, scale in (("bytes", 1), ("KiB", 1 << 10), ("MiB", 1 << 20)):
        if n <= scale << 10:
            return f"{n} bytes" if scale == 1 else f"{n / scale:.2f} {unit}"
    return f"{n / (1 << 30):.2f} GiB"


def out_of_memory(nbytes: int, index: int) -> OutOfMemoryError:
    """torch's error for a device allocation of ``nbytes`` that CuPy could not make."""
    cp = cupy_or_none()
    free, total = cp.cuda.runtime.memGetInfo()
    pool = cp.get_default_memory_pool()
    used, held = pool.used_bytes(), pool.total_bytes()
    return OutOfMemoryError(
        f"CUDA out of memory. Tried to allocate {_fmt(nbytes)}. GPU {index} has a total capacity of {_fmt(total)} "
        f"of which {_fmt(free)} is free. Of the allocated memory {_fmt(used)} is allocated by nnbox, and "
        f"{_fmt(held - used)} is reserved by nnbox but unallocated.")


class _PeakTracker:
    """CuPy allocator wrapping the default pool: notes the pool's highest ``used_bytes``."""

    def __init__(self, pool):
        self.pool = pool
        self.peak = pool.used_bytes()

    def __call__(self, size: int):
        mem = self.pool.malloc(size)
        used = self.pool.used_bytes()
        if used > self.peak:
            self.peak = used
        return mem


def _pool_and_tracker():
    cp = cupy_or_none()
    if cp is None:
        return None, None
    if _tracker[0] is None:
        pool = cp.get_default_memory_pool()
        _tracker[0] = _PeakTracker(pool)
        cp.cuda.set_allocator(_tracker[0])
    return _tracker[0].pool, _tracker[0]


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on the device (CuPy pool blocks in use); 0 without a GPU.

    >>> import nnbox
    >>> nnbox.cuda.memory_allocated() >= 0
    True
    """
    pool, _ = _pool_and_tracker()
    return 0 if pool is None else pool.used_bytes()


def max_memory_allocated(device=None) -> int:
    """The highest ``memory_allocated`` since the last ``reset_peak_memory_stats``."""
    pool, tracker = _pool_and_tracker()
    return 0 if pool is None else max(tracker.peak, pool.used_bytes())


def reset_peak_memory_stats(device=None) -> None:
    """Start the peak over from the current use."""
    pool, tracker = _pool_and_tracker()
    if pool is not None:
        tracker.peak = pool.used_bytes()


def memory_reserved(device=None) -> int:
    """Bytes the cache holds from the driver (in use plus cached free blocks)."""
    pool, _ = _pool_and_tracker()
    return 0 if pool is None else pool.total_bytes()


def empty_cache() -> None:
    """Give the cache's free blocks back to the driver (tensors in use keep theirs)."""
    cp = cupy_or_none()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()
