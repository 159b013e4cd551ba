"""Recycled work arrays for fused kernels that run once per training step (recurrent layers).

A kernel that allocates several megabytes of fresh arrays per call pays for page faults on every
call: glibc returns large freed blocks to the OS, so the next call's ``np.empty`` faults its pages in
again (measured on a bare LSTM layer step, T=35, B=32, H=128: about 1,300 faults and 1.6 ms of
10 ms).  ``take`` hands out an array of the asked shape and dtype and keeps a reference to it; a
later ``take`` of the same shape returns that array again only once nothing else refers to it
(its reference count is the pool's own), so an array still saved for backward, returned to the
caller or viewed anywhere is never overwritten.  NumPy only: CuPy has its own memory pool.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from ._util import xp_of

__all__ = ["take"]

# Beyond either cap take() allocates without keeping.  A CIFAR ResNet18 training step at batch 32
# keeps about 720 MiB of arrays alive at once (im2col matrices saved for backward, up to 5 outputs of
# one shape): with 4 per key and 256 MiB it still faulted 20,000 pages per step (1.29 s, 183 ms of it
# in the kernel); with 8 and 1 GiB 2,400 (1.10 s, 7 ms).  The kept arrays stay allocated after the
# work ends (``clear()`` gives them back), as a GPU caching allocator's do.
_PER_KEY = 8  # arrays kept per (tag, shape, dtype)
_MAX_BYTES = 1 << 30  # all kept arrays together
_MIN_BYTES = 1 << 17  # smaller arrays come from malloc's free lists without faults: not kept

enabled = True  # False: take() allocates afresh every time (to measure what the pool saves)
_lock = threading.Lock()
_kept: dict[tuple, list[np.ndarray]] = {}
_bytes = 0


def _free_refcount() -> int:
    """sys.getrefcount of a kept array, seen in take()'s loop, when nothing else refers to it."""
    kept = [np.empty(1)]
    for a in kept:
        return sys.getrefcount(a)
    raise AssertionError


_FREE = _free_refcount()


def take(tag: str, shape: tuple, dtype, zero: bool = False) -> np.ndarray:
    """An uninitialised C-contiguous array (zeroed with ``zero=True``), recycled when the pool's
    previous array of this ``tag``, shape and dtype is no longer referenced elsewhere.  ``tag`` keeps
    apart arrays of one kernel that share a shape but must not be the same buffer in one call.

    >>> a = take("doc", (64, 1024), np.float32)
    >>> b = take("doc", (64, 1024), np.float32)   # ``a`` is still alive: a different array
    >>> b is a
    False
    >>> del a
    >>> take("doc", (64, 1024), np.float32).shape
    (64, 1024)
    """
    global _bytes
    dtype = np.dtype(dtype)
    if not enabled:
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    key = (tag, shape, dtype)
    with _lock:
        kept = _kept.get(key)
        if kept is not None:
            for a in kept:
                if sys.getrefcount(a) == _FREE:
                    if zero:
                        a.fill(0)
                    return a
        a = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        if _MIN_BYTES <= a.nbytes and _bytes + a.nbytes <= _MAX_BYTES and (kept is None or len(kept) < _PER_KEY):
            _kept.setdefault(key, []).append(a)
            _bytes += a.nbytes
        return a


def clear() -> None:
    """Drop every kept array (tests; or to give the memory back)."""
    global _bytes
    with _lock:
        _kept.clear()
        _bytes = 0


def empty(like, tag: str, shape: tuple, dtype, zero: bool = False):
    """``take`` where ``like`` is a NumPy array; else a plain ``empty`` / ``zeros`` of ``like``'s
    array module (CuPy has its own memory pool).

    >>> empty(np.ones(2), "doc", (2, 3), np.float32, zero=True).sum()
    np.float32(0.0)
    """
    if type(like) is np.ndarray:
        return take(tag, tuple(shape), dtype, zero)
    xp = xp_of(like)
    return xp.zeros(shape, dtype=dtype) if zero else xp.empty(shape, dtype=dtype)
