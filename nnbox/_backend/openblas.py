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


_queries: dict = {}  # name -> the function set up to take no arguments, or None where missing


def _ask(name: str, restype):
    """The result of OpenBLAS's argument-less query function ``name``, or None where it is missing."""
    if name not in _queries:
        found = function(name)
        if found is not None:
            found[0].restype, found[0].argtypes = restype, []
        _queries[name] = None if found is None else found[0]
    f = _queries[name]
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



_setter: list = []  # [openblas_set_num_threads set up for ctypes, or None]


def set_num_threads(n: int) -> int | None:
    """Run later BLAS calls on ``n`` threads; returns the count before, or None where the library or
    function is missing.  The count is process-wide: this build's ``openblas_set_num_threads_local``
    sets it for every thread too."""
    if not _setter:
        found = function("openblas_set_num_threads")
        if found is not None:
            found[0].argtypes, found[0].restype = [ctypes.c_int], None
        _setter.append(None if found is None else found[0])
    before = num_threads()
    if _setter[0] is None or before is None:
        return None
    if n != before:
        _setter[0](n)
    return before
