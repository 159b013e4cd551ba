"""``y += a * x`` and ``y = a * x + b * y`` in one pass each, through BLAS's axpy and axpby.

The optimizers' updates are chains of these.  torch's ``y.add_(x, alpha=a)`` rounds once (a fused
multiply-add) and ``y.mul_(b).add_(x)`` rounds twice; OpenBLAS's axpy and axpby (with ``a = 1``)
round the same way, so they give torch's bits where NumPy's two calls (``tmp = a * x; y += tmp``)
round ``a * x`` first.  They also stream each array once instead of twice: an SGD step over
ResNet18's 11.7M parameters, one thread, took 5.2 ms against the ufunc chain's 6.0.

Arrays BLAS cannot take (CuPy arrays, other dtypes, non-contiguous views, read-only outputs, a NumPy
built on another BLAS) go through NumPy's calls, which need the scratch array ``tmp``.

>>> import numpy as np
>>> y, x = np.ones(3, np.float32), np.arange(3, dtype=np.float32)
>>> axpy(0.5, x, y, np.empty_like(y))
>>> y
array([1. , 1.5, 2. ], dtype=float32)
>>> axpby(1.0, x, 0.5, y, np.empty_like(y))
>>> y
array([0.5 , 1.75, 3.  ], dtype=float32)
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..ops._util import xp_of

_ndarray = np.ndarray
_char = ctypes.c_char
_addressof = ctypes.addressof
_kernels: dict = {}  # (name, dtype) -> the BLAS function set up for ctypes, or None where missing


def _kernel(name: str, dtype):
    """BLAS's ``cblas_{s,d}{name}`` for ``dtype`` (float32 / float64), or None (looked up once)."""
    key = (name, dtype)
    if key not in _kernels:
        from .._backend import openblas

        f = None
        if dtype in (np.float32, np.float64):
            real, ptr = (ctypes.c_float if dtype == np.float32 else ctypes.c_double), ctypes.c_void_p
            # axpy(n, a, x, incx, y, incy); axpby(n, a, x, incx, b, y, incy)
            sig = ((lambda i: [i, real, ptr, i, ptr, i]) if name == "axpy"
                   else (lambda i: [i, real, ptr, i, real, ptr, i]))
            f = openblas.typed(f"cblas_{'s' if dtype == np.float32 else 'd'}{name}", None, sig)
        _kernels[key] = f
    return _kernels[key]


def blas_runs(arr) -> bool:
    """Whether ``axpy`` and ``axpby`` run on BLAS for contiguous arrays like ``arr``."""
    return type(arr) is _ndarray and all(_kernel(name, arr.dtype.type) is not None for name in ("axpy", "axpby"))


# Both functions check inline whether BLAS can take the arrays (they run per parameter slice, and a
# helper's call would cost as much as the check).  ``c_char.from_buffer`` gives an address without
# the wrapper ``.ctypes`` builds (5x faster), but only from a writable buffer.


def axpy(a, x, y, tmp=None) -> None:
    """``y += a * x`` in place, rounding ``a * x + y`` once where BLAS runs it (torch's
    ``y.add_(x, alpha=a)``); ``tmp``: scratch shaped like ``y`` for the NumPy fallback (without
    it the fallback allocates ``a * x``)."""
    f = _kernels.get(("axpy", y.dtype.type), False)
    if f is False:
        f = _kernel("axpy", y.dtype.type)
    if (f is None or type(x) is not _ndarray or type(y) is not _ndarray or x.dtype != y.dtype or x.size != y.size
            or not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable) or not y.size):
        y += xp_of(x).multiply(x, a, out=tmp)
        return
    xa = _addressof(_char.from_buffer(x)) if x.flags.writeable else x.ctypes.data
    f(y.size, a, xa, 1, _addressof(_char.from_buffer(y)), 1)  # ctypes takes any number (its __float__)


def axpby(a, x, b, y, tmp) -> None:
    """``y = a * x + b * y`` in place; with ``a = 1`` this rounds as torch's ``y.mul_(b).add_(x)``.
    ``tmp``: scratch shaped like ``y`` for the NumPy fallback."""
    f = _kernels.get(("axpby", y.dtype.type), False)
    if f is False:
        f = _kernel("axpby", y.dtype.type)
    if (f is None or type(x) is not _ndarray or type(y) is not _ndarray or x.dtype != y.dtype or x.size != y.size
            or not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable) or not y.size):
        y *= b
        if a == 1:
            y += x
        else:
            xp_of(x).multiply(x, a, out=tmp)
            y += tmp
        return
    xa = _addressof(_char.from_buffer(x)) if x.flags.writeable else x.ctypes.data
    f(y.size, a, xa, 1, b, _addressof(_char.from_buffer(y)), 1)
