"""Which kernels NumPy's BLAS runs, for the benchmarks' headers.

GEMM is most of a conv net's or an RNN's time, and OpenBLAS picks its kernel table per CPU when it
loads: on an AVX-512 CPU its AVX2 (Haswell) table runs float32 GEMM at about 0.6x the speed of its
AVX-512 (SkylakeX) one.  Some machines force the older table through ``OPENBLAS_CORETYPE`` (for
old OpenBLAS builds that fail on their CPU); a ratio against torch measured there is not what a
current NumPy gives.  Unset ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for that command alone:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_goals.py
"""
from __future__ import annotations

import os


def blas_line() -> str:
    import numpy  # noqa: F401  (threadpoolctl lists the libraries already loaded)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "NumPy's BLAS: unknown (install threadpoolctl to see its kernels)"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "NumPy's BLAS: none found"
    b = blas[0]
    line = f"NumPy's BLAS: {b.get('internal_api')} {b.get('version')}, {b.get('architecture')} kernels"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced:
        line += (f" (forced by OPENBLAS_CORETYPE={forced}; run with `env -u OPENBLAS_CORETYPE "
                 "-u OPENBLAS_L2_SIZE` to measure the kernels a current NumPy picks)")
    return line
