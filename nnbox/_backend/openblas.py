"""The OpenBLAS that NumPy's wheel bundles, for the few kernels that call it directly (ctypes).

NumPy's wheels ship OpenBLAS in ``numpy.libs`` (NumPy 2: ``libscipy_openblas64_*.so``, whose
symbols carry a ``scipy_`` prefix and a ``64_`` suffix for 64-bit integers).  Kernels use
functions NumPy does not expose: an out-of-place transpose (``ops/_transpose.py``), and the kernel
table and thread count, which decide how some GEMMs are shaped (``ops/_small_gemm.py``,
``ops/linear.py``).
Where the library or a function is missing (NumPy on Accelerate or MKL, other platforms) the
lookups give None and the callers keep their NumPy paths.

>>> f = function("openblas_get_num_threads")
>>> f is None or f[0]() >= 1
True
"""
from __future__ import annotations

import ctypes

_lib: list = []  # [CDLL or None], looked up once

# (prefix, suffix, integer type) of the symbol name variants, NumPy 2's first
_VARIANTS = (("scipy_", "64_", ctypes.c_int64), ("", "64_", ctypes.c_int64), ("", "", ctypes.c_int))


def library():
    """NumPy's bundled OpenBLAS as a ``ctypes.CDLL``, or None."""
    if not _lib:
        import glob
        import os

        import numpy as np

        lib = None
        for path in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")):
            try:
                lib = ctypes.CDLL(path)  # already loaded by NumPy: this only opens a handle to it
                break
            except OSError:
                continue
        _lib.append(lib)
    return _lib[0]


def function(name: str):
    """``(function, integer type)`` for the OpenBLAS function ``name`` (e.g. ``"cblas_somatcopy"``)
    under whichever of its symbol names the library has, or None."""
    lib = library()
    if lib is None:
        return None
    for prefix, suffix, int_t in _VARIANTS:
        f = getattr(lib, f"{prefix}{name}{suffix}", None)
        if f is not None:
            return f, int_t
    return None


_typed: dict = {}  # name -> the function with its ctypes signature set, or None where missing


def typed(name: str, restype, argtypes):
    """The OpenBLAS function ``name`` with its ctypes signature set (looked up once), or None.
    ``argtypes(int_t)`` lists the argument types given the library's integer type.

    >>> f = typed("openblas_get_num_threads", ctypes.c_int, lambda int_t: [])
    >>> f is None or f() >= 1
    True
    """
    if name not in _typed:
        found = function(name)
        if found is not None:
            f, int_t = found
            f.restype, f.argtypes = restype, argtypes(int_t)
            found = f
        _typed[name] = found
    return _typed[name]


def _no_args(int_t) -> list:
    return []


def _one_int(int_t) -> list:
    return [ctypes.c_int]


def _ask(name: str, restype):
    """The result of OpenBLAS's argument-less query function ``name``, or None where it is missing."""
    f = typed(name, restype, _no_args)
    return None if f is None else f()


def corename() -> str | None:
    """The kernel table OpenBLAS runs (``"skylakex"``, ``"haswell"``, ...), lower case, or None."""
    name = _ask("openblas_get_corename", ctypes.c_char_p)
    return name.decode().strip().lower() if name else None


_AVX512 = ("skylakex", "cooperlake", "sapphirerapids")  # kernel tables with AVX-512 sgemm kernels
_avx512: list = []


def avx512_kernels() -> bool:
    """Whether NumPy's OpenBLAS runs a SkylakeX-family (AVX-512) kernel table (asked once): the
    GEMM shapes that run faster differ between kernel tables (``ops/_small_gemm.py``,
    ``ops/linear.py``)."""
    if not _avx512:
        try:
            _avx512.append(corename() in _AVX512)
        except Exception:  # a library that cannot be asked
            _avx512.append(False)
    return _avx512[0]


def num_threads() -> int | None:
    """The number of threads OpenBLAS runs a call on, or None."""
    return _ask("openblas_get_num_threads", ctypes.c_int)



def set_num_threads(n: int) -> int | None:
    """Run later BLAS calls on ``n`` threads; returns the count before, or None where the library or
    function is missing.  The count is process-wide: this build's ``openblas_set_num_threads_local``
    sets it for every thread too."""
    setter = typed("openblas_set_num_threads", None, _one_int)
    before = num_threads()
    if setter is None or before is None:
        return None
    if n != before:
        setter(n)
    return before
