"""``torch.backends.cuda``: ``matmul.allow_tf32`` is honoured by CuPy's float32 GEMMs.

>>> import nnbox as torch
>>> torch.backends.cuda.matmul.allow_tf32
False
>>> torch.backends.cuda.is_built() == torch.cuda.is_available()  # both: CuPy sees a GPU
True
"""
from __future__ import annotations

from .._backend import flags as _flags


def is_built() -> bool:
    """True when CuPy is installed and sees a GPU: nnbox's "built with CUDA"."""
    from .._backend.device import cupy_or_none

    return cupy_or_none() is not None


class _Matmul:
    """``torch.backends.cuda.matmul``: TF32 for float32 matmuls (and nnbox's im2col convs) on CuPy."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return _flags.tf32["matmul"]

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _flags.tf32["matmul"] = bool(value)
        _flags.apply_tf32()

    def __setattr__(self, name: str, value) -> None:
        if not hasattr(type(self), name):
            raise AttributeError(f"Unknown attribute {name}")
        object.__setattr__(self, name, value)


matmul = _Matmul()

# scaled_dot_product_attention backends: nnbox has one (the math one); the switches read back.
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def enable_math_sdp(enabled: bool) -> None:
    _sdp["math"] = bool(enabled)
