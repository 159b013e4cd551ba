"""torch's autocast op lists, as nnbox Function classes.

From torch's "Autocast Op Reference" (https://pytorch.org/docs/stable/amp.html), checked against
torch 2.13 on the CPU: each op there is mapped to the nnbox Function that computes it.  ``low``
ops run in the autocast dtype (bfloat16 on the CPU, float16 on CUDA by default), ``fp32`` ops in
float32, ``promote`` ops in the widest floating dtype of their arguments.  An op in no list runs
in the dtype of its inputs (relu, max_pool2d, softmax on the CPU ...).

Where one nnbox Function serves several torch ops the entry is the torch op most programs call:
``MatMul`` is ``matmul``/``mm``/``bmm`` (low), so ``mv``/``dot``, which torch's CPU list leaves out,
run in low precision too.  Ops nnbox builds from several Functions (``cdist``, the margin and
embedding losses) are not cast (their pieces run in the dtype they get).
"""
from __future__ import annotations

_TABLES: dict = {}

# (module in nnbox.ops, class name) per list
_LOW = [("linear", "Linear"), ("linalg", "MatMul"), ("linalg", "AddMM"), ("linalg", "Einsum"),
        ("conv", "ConvNd"), ("conv", "ConvTransposeNd"), ("activation", "Prelu"),
        ("attention", "Attention")]
_LOSSES = [("loss", "CrossEntropy"), ("loss", "CrossEntropyProbs"), ("loss", "NLLLoss"),
           ("loss", "PointwiseLoss"), ("loss", "BinaryCrossEntropy"), ("loss", "BinaryCrossEntropyWithLogits"),
           ("loss", "KLDiv"), ("loss", "CTCLoss")]
_CPU_FP32 = _LOSSES + [("reduce", "Prod"), ("linalg", "Inverse"), ("decomp", "Cholesky"),
                       ("grid_sample", "GridSample"), ("fft", "FftC2C"), ("fft", "FftR2C"), ("fft", "FftC2R"),
                       ("pool", "MaxUnpoolNd")]
_CPU_FP32_3D = [("pool", "MaxPoolNd"), ("pool", "AvgPoolNd"), ("pool", "AdaptiveMaxPoolNd")]  # 3-d only
_CUDA_FP32 = _LOSSES + [("reduce", "Prod"), ("reduce", "Sum"), ("reduce", "Cumsum"), ("reduce", "Cumprod"),
                        ("elementwise", "Pow"), ("elementwise", "Exp"), ("elementwise", "Expm1"),
                        ("elementwise", "Log"), ("elementwise", "Log2"), ("elementwise", "Log10"),
                        ("elementwise", "Log1p"), ("elementwise", "Acos"), ("elementwise", "Asin"),
                        ("elementwise", "Cosh"), ("elementwise", "Sinh"), ("elementwise", "Tan"),
                        ("elementwise", "Reciprocal"), ("elementwise", "Rsqrt"), ("softmax", "Softmax"),
                        ("softmax", "LogSoftmax"), ("activation", "Softplus"), ("norm", "RowNorm"),
                        ("linalg", "_Norm2")]
_CUDA_FP32 += [("special", "Erfinv")]
_PROMOTE = [("shape", "Cat")]
_CUDA_PROMOTE = _PROMOTE + [("elementwise", "Atan2"), ("index", "IndexPut"), ("linear", "Bilinear")]


def _classes(entries) -> dict:
    import importlib

    out = {}
    for mod, name in entries:
        cls = getattr(importlib.import_module(f"nnbox.ops.{mod}"), name, None)
        if cls is not None:
            out[cls] = True
    return out


def table(device_type: str) -> dict:
    """``{Function class: "low" | "fp32" | "promote" | "fp32-3d"}`` for ``device_type``."""
    t = _TABLES.get(device_type)
    if t is None:
        t = {}
        for cls in _classes(_CUDA_PROMOTE if device_type == "cuda" else _PROMOTE):
            t[cls] = "promote"
        for cls in _classes(_CUDA_FP32 if device_type == "cuda" else _CPU_FP32):
            t[cls] = "fp32"
        if device_type == "cpu":
            for cls in _classes(_CPU_FP32_3D):
                t[cls] = "fp32-3d"
        else:
            for cls in _classes([("loss", "BinaryCrossEntropy")]):
                t[cls] = "refuse"
        for cls in _classes(_LOW):
            t[cls] = "low"
        for cls in _classes([("rnn", "Recurrence")]):
            t[cls] = "lstm"
        _TABLES[device_type] = t
    return t


def policy(cls, device_type: str, args):
    """The autocast list ``cls`` is in for ``device_type`` (None: none), given its arguments."""
    p = table(device_type).get(cls)
    if p is None:
        return None
    if p == "lstm":  # the recurrence kernel: torch's list has the LSTM layer (mkldnn_rnn_layer) only
        return "low" if args[8] == "LSTM" else None
    if p == "fp32-3d":  # torch's CPU list holds the 3-d pools only (avg_pool3d, max_pool3d ...)
        x = args[0]
        return "fp32" if getattr(getattr(x, "_data", x), "ndim", 0) == 5 else None
    return p
