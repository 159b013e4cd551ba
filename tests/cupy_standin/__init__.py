"""A strict CuPy stand-in for running nnbox's tests on ``cuda`` without a GPU (never shipped).

``install()`` puts a ``cupy`` (and ``cupyx``) module over NumPy into ``sys.modules`` before nnbox
looks for CuPy. Its arrays are not NumPy arrays and refuse implicit conversion as CuPy's do; every
device<->host copy is counted in ``counters`` (``dtoh``, ``htod``, and ``sync`` for CuPy calls
whose output size depends on the data, which read a count back from the device).

    >>> import cupy_standin; cp = cupy_standin.install()
    >>> x = cp.arange(3.0); float(x.sum()), cupy_standin.counters["dtoh"] > 0
    (3.0, True)
"""
from __future__ import annotations

import sys
import types

import numpy as np

from . import _array, _cuda, _memory, _namespace  # noqa: F401  (_cuda: registers cupy.cuda)
from ._array import counters, ndarray


def _build_cupyx(cp) -> types.ModuleType:
    x = types.ModuleType("cupyx")

    def _scatter(ufunc):
        def f(a, slices, value):
            if type(a) is not ndarray:
                raise TypeError(f"Unsupported type {type(a)}")
            getattr(np, ufunc).at(a._a, _array._index(slices, a.shape), _array.unwrap(value))

        return f

    x.scatter_add, x.scatter_max, x.scatter_min = _scatter("add"), _scatter("maximum"), _scatter("minimum")

    def empty_pinned(shape, dtype=float, order="C"):
        dtype = np.dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        mem = _memory.alloc_pinned_memory(n)
        return np.ndarray(shape, dtype=dtype, buffer=mem, order=order)

    def zeros_pinned(shape, dtype=float, order="C"):
        a = empty_pinned(shape, dtype, order)
        a[...] = 0
        return a

    x.empty_pinned, x.zeros_pinned = empty_pinned, zeros_pinned
    return x


def install():
    """Register the stand-in as ``cupy``/``cupyx`` (idempotent) and return the ``cupy`` module."""
    cp = sys.modules.get("cupy")
    if cp is not None and getattr(cp, "__cupy_standin__", False):
        return cp
    if cp is not None:
        raise RuntimeError("a real cupy is already imported; the stand-in cannot replace it")
    cp = _namespace.build()
    sys.modules["cupy"] = cp
    sys.modules["cupy.cuda"] = cp.cuda
    sys.modules["cupy.cuda.runtime"] = cp.cuda.runtime
    sys.modules["cupy.cuda.memory"] = cp.cuda.memory
    sys.modules["cupy.random"] = cp.random
    sys.modules["cupy.linalg"] = cp.linalg
    sys.modules["cupy.fft"] = cp.fft
    sys.modules["cupy.lib"] = cp.lib
    sys.modules["cupy.lib.stride_tricks"] = cp.lib.stride_tricks
    sys.modules["cupyx"] = _build_cupyx(cp)
    return cp


def reset_counters() -> None:
    for k in counters:
        counters[k] = 0


def copies() -> int:
    """Device<->host transfers (both ways) plus data-dependent syncs since the last reset."""
    return counters["dtoh"] + counters["htod"] + counters["sync"]

