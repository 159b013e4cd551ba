"""Global switches that change how ops compute: TF32 for float32 GEMMs on CuPy, determinism.

They live in the backend layer because the array code reads them; ``nnbox.backends`` and the
top-level ``set_float32_matmul_precision`` / ``use_deterministic_algorithms`` write them.
"""
from __future__ import annotations

import sys

# torch's defaults: cuBLAS float32 matmuls in full precision, cuDNN convolutions allowed TF32.
tf32 = {"matmul": False, "cudnn": True}
deterministic = {"enabled": False, "warn_only": False}
matmul_precision = ["highest"]


def apply_tf32(cp=None) -> None:
    """Tell CuPy's GEMMs to use (or stop using) TF32 tensor cores for float32.

    Only ``backends.cuda.matmul.allow_tf32`` counts: nnbox has no cuDNN (its convolutions are
    cuBLAS GEMMs over im2col), and cuDNN's flag defaults to True, which would turn TF32 on for
    every float32 GEMM by default where torch's matmuls stay full precision.
    Called when a flag changes (if CuPy is already loaded) and when nnbox first loads CuPy.
    """
    cp = cp if cp is not None else sys.modules.get("cupy")
    if cp is None:
        return
    try:
        import numpy as np

        lin = cp._core._routines_linalg
        on = tf32["matmul"]
        cp._core.set_compute_type(np.float32, lin.COMPUTE_TYPE_TF32 if on else lin.COMPUTE_TYPE_DEFAULT)
    except (AttributeError, ImportError):  # a CuPy without the switch: nothing to honour
        pass
