"""Row blocks for the per-step GEMMs of recurrent kernels, where OpenBLAS runs them faster in pieces.

OpenBLAS's SkylakeX kernel table (the one NumPy's OpenBLAS picks on AVX-512 CPUs: Intel Skylake-X and
later, AMD Zen 4 and 5) runs a float32 GEMM of at most 1e6 multiply-adds (M * N * K) through a "small
matrix" kernel that works on the operands in place, without packing them into buffers first
(``kernel/x86_64/sgemm_small_kernel_permit_skylakex.c`` in OpenBLAS).  A recurrent layer's step GEMM
a little above that size, (4H, K) @ (K, B), runs faster as a few row blocks below it.  Measured on this
project's AMD EPYC, one thread, B = 32, us per GEMM:

    ================================  =====  ===========================
    (512, 193) @ (193, 32)            33.0   27.1 as 4 blocks of 128 rows
    (512, 257) @ (257, 32)            42.7   39.6 as 8 blocks of 64
    (512, 129) @ (129, 32)            21.5   18.9 as 4 blocks of 128
    (128, 512) @ (512, 32)            22.9   20.2 as 4 blocks of 32
    ================================  =====  ===========================

With other kernel tables (Haswell's, forced on this machine by ``OPENBLAS_CORETYPE``) the blocks are
slower (56 -> 60 us for the first row), and with more than one BLAS thread OpenBLAS splits the whole
GEMM over its threads (the small kernel runs on one): there the GEMM stays whole.  Rows are split,
never the inner dimension, so every output is the same dot product as in the whole GEMM.
"""
from __future__ import annotations

import numpy as np

from .._backend import openblas
from .._backend.threads import get_num_threads

__all__ = ["row_blocks"]

SMALL_MNK = 1_000_000  # OpenBLAS's bound for its SkylakeX small-matrix sgemm
MAX_BLOCKS = 8  # beyond this the calls' own overhead ate the gain (16 blocks of 32 rows: 38.6 us above)

enabled: bool | None = None  # None: decide from NumPy's BLAS; True / False: force (tests, benchmarks)
_detected: list = []  # the cached decision of _small_kernel_blas()


def _small_kernel_blas() -> bool:
    """Whether NumPy's BLAS is OpenBLAS running a SkylakeX-family kernel table (asked once)."""
    if not _detected:
        _detected.append(openblas.avx512_kernels())
    return _detected[0]


def row_blocks(rows: int, cols: int, inner: int, dtype) -> list[slice] | None:
    """Row slices of a (rows, inner) @ (inner, cols) GEMM to run one at a time, or ``None``: run it whole.

    >>> import numpy as np
    >>> from nnbox.ops import _small_gemm
    >>> _small_gemm.enabled = True
    >>> _small_gemm.row_blocks(512, 32, 193, np.float32)
    [slice(0, 128, None), slice(128, 256, None), slice(256, 384, None), slice(384, 512, None)]
    >>> _small_gemm.row_blocks(512, 32, 193, np.float64) is None   # float32 only
    True
    >>> _small_gemm.enabled = None
    """
    if np.dtype(dtype) != np.float32:
        return None
    on = enabled
    if on is None:
        on = get_num_threads() == 1 and _small_kernel_blas() and openblas.num_threads() == 1
    if not on or rows * cols * inner <= SMALL_MNK:
        return None
    n = 2
    while n <= MAX_BLOCKS:
        m = -(-rows // n)
        m = -(-m // 16) * 16  # whole AVX-512 registers of float32 rows
        if m * cols * inner <= SMALL_MNK and m < rows:
            return [slice(r, min(r + m, rows)) for r in range(0, rows, m)]
        n *= 2
    return None
