"""Large element-wise passes split into cache-sized chunks run on ``torch.set_num_threads`` threads.

NumPy's ufuncs release the GIL, so chunks of one pass run on several cores at once (torch's
OpenMP loops do the same).  Element-wise results do not depend on how the array is split, so
every result here is bit-identical to the single call; with one thread (or a small array, a GPU
array, or operands that are not plain same-shape C-contiguous arrays) the helpers return None and
the caller runs its usual single call: one thread is exactly the path without threads.
"""
from __future__ import annotations

import numpy as np

from .._backend.threads import get_num_threads, parallel_for

CHUNK = 1 << 16  # elements per task of a multi-pass map: 256 KiB of float32, stays in L2
MIN_SIZE = 1 << 18  # below this a pass takes ~20 us and handing work to a thread does not pay

_ndarray = np.ndarray


def _flat_operands(args) -> tuple | None:
    """The operands as flat arrays (Python numbers as they are), or None when not splittable."""
    shape = None
    flat = []
    for a in args:
        if type(a) is _ndarray:
            if shape is None:
                shape = a.shape
            elif a.shape != shape:
                return None  # broadcasting: leave it to NumPy
            if not a.flags.c_contiguous:
                return None
            flat.append(a.reshape(-1))
        elif isinstance(a, (int, float, bool)):
            flat.append(a)
        else:
            return None
    if shape is None:
        return None
    return shape, flat


def par_ufunc(f, *args):
    """``f(*args)`` for a NumPy ufunc ``f`` computed in chunks on all threads, or None when that
    does not apply (the caller then computes ``f(*args)`` as usual).

    >>> import numpy as np
    >>> a = np.ones(1 << 18, np.float32)
    >>> r = par_ufunc(np.add, a, a)
    >>> r is None or bool((r == 2).all())
    True
    """
    threads = get_num_threads()
    if threads < 2:
        return None
    ops = _flat_operands(args)
    if ops is None:
        return None
    shape, flat = ops
    size = next(a.size for a in flat if type(a) is _ndarray)
    if size < MIN_SIZE:
        return None
    # one ufunc pass is cheap per element (~0.1 ns): one contiguous piece per thread, so the
    # handing-over (a few microseconds per task) is paid only once per thread
    probe = f(*[a[:1] if type(a) is _ndarray else a for a in flat])  # the single call's dtype
    out = np.empty(size, probe.dtype)
    step = -(-size // threads)

    def task(i: int, worker: int) -> None:
        lo, hi = i * step, (i + 1) * step
        f(*[a[lo:hi] if type(a) is _ndarray else a for a in flat], out=out[lo:hi])

    parallel_for(threads, task)
    return out.reshape(shape)


def par_map(fn, a):
    """``fn(a)`` for an element-wise function of one array (any NumPy expression, not only a
    ufunc) computed chunk by chunk on all threads, or None when that does not apply."""
    if get_num_threads() < 2 or type(a) is not _ndarray or a.size < MIN_SIZE or not a.flags.c_contiguous:
        return None
    flat = a.reshape(-1)
    first = np.asarray(fn(flat[:CHUNK]))
    if first.shape != (min(CHUNK, flat.size),):
        return None  # not element-wise after all: the caller computes it whole
    out = np.empty(flat.size, first.dtype)
    out[:CHUNK] = first

    def task(i: int, worker: int) -> None:
        lo, hi = (i + 1) * CHUNK, (i + 2) * CHUNK
        out[lo:hi] = fn(flat[lo:hi])

    parallel_for(-(-flat.size // CHUNK) - 1, task)
    return out.reshape(a.shape)
