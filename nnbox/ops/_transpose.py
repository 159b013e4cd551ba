"""Large 2-d transposes through the BLAS that NumPy already loaded (OpenBLAS's ``cblas_?omatcopy``).

Convolutions change layout between NCHW and their channel-major, batch-innermost layout (conv.py):
a transpose of an (N, C*H*W) matrix.  NumPy copies through a transposed view one element at a time
with a large source stride (about 0.8 ns per element, one thread); OpenBLAS's out-of-place transpose
works in SIMD register blocks: (32, 65536) float32, one thread, 1.69 -> 0.44 ms.  It computes
``1.0 * a`` element by element, which is every value exactly (NaN, infinities and -0.0 included).

The function is looked up once, in the OpenBLAS library that NumPy's wheel bundles
(``_backend/openblas.py``); where there is none (NumPy on Accelerate or MKL, other platforms), ``transpose``
returns False and callers copy with NumPy as before.
"""
from __future__ import annotations

import numpy as np

# smallest array worth a foreign call (a few microseconds) instead of NumPy's copy
MIN_ELEMENTS = 1 << 15

_ROW_MAJOR, _TRANS = 101, 112  # CBLAS enum values
_funcs: dict | None = None


def _load() -> dict:
    """{dtype: ctypes function} for float32 / float64, empty where no omatcopy was found."""
    import ctypes

    from .._backend import openblas

    found: dict = {}
    for dt, name, real_t in ((np.dtype(np.float32), "cblas_somatcopy", ctypes.c_float),
                             (np.dtype(np.float64), "cblas_domatcopy", ctypes.c_double)):
        f = openblas.typed(name, None, lambda int_t, real_t=real_t: [
            ctypes.c_int, ctypes.c_int, int_t, int_t, real_t, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t])
        if f is not None:
            found[dt] = f
    return found


def transpose(a: np.ndarray, out: np.ndarray) -> bool:
    """``out[...] = a.T`` for a C-contiguous 2-d ``a`` (R, K) and C-contiguous ``out`` (K, R) of the
    same float32/float64 dtype, by BLAS; False (nothing written) where that does not apply.

    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> out = np.empty((3, 2), np.float32)
    >>> if not transpose(a, out):   # no BLAS omatcopy here: NumPy's copy
    ...     out[...] = a.T
    >>> out.tolist()
    [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    """
    global _funcs
    if (type(a) is not np.ndarray or type(out) is not np.ndarray or a.ndim != 2 or a.size < MIN_ELEMENTS
            or a.dtype != out.dtype or out.shape != a.shape[::-1]
            or not (a.flags.c_contiguous and out.flags.c_contiguous and out.flags.writeable)):
        return False
    if _funcs is None:
        try:
            _funcs = _load()
        except Exception:  # any failure to find or describe the function: NumPy's copy
            _funcs = {}
    f = _funcs.get(a.dtype)
    if f is None:
        return False
    r, k = a.shape
    f(_ROW_MAJOR, _TRANS, r, k, 1.0, a.ctypes.data, k, out.ctypes.data, r)
    return True
