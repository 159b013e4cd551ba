"""``nnbox.finfo`` / ``nnbox.iinfo``: the numerical limits of a dtype, as torch reports them."""
from __future__ import annotations

import numpy as np

from . import dtype as _dt


def _g(x: float) -> str:
    return f"{x:g}"


class finfo:
    """Limits of a floating point dtype (default: the default dtype); complex dtypes report their
    real part's.

    >>> import nnbox
    >>> nnbox.finfo(nnbox.float32).eps
    1.1920928955078125e-07
    >>> nnbox.finfo(nnbox.float16)
    finfo(resolution=0.001, min=-65504, max=65504, eps=0.000976562, smallest_normal=6.10352e-05, tiny=6.10352e-05, dtype=float16)
    """

    __slots__ = ("bits", "dtype", "eps", "max", "min", "resolution", "smallest_normal", "tiny")

    def __init__(self, type: _dt.dtype | None = None) -> None:
        d = _dt.get_default_dtype() if type is None else type
        if not isinstance(d, _dt.dtype) or not (d.is_floating_point or d.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'")
        real = np.finfo(d.np)  # complex64 -> float32's limits, as torch
        self.bits = real.bits
        self.eps = float(real.eps)
        self.max = float(real.max)
        self.min = float(real.min)
        self.tiny = self.smallest_normal = float(real.smallest_normal)
        self.resolution = 10.0 ** -real.precision  # torch's: a power of ten, not NumPy's float32 value
        self.dtype = str(real.dtype)

    def __repr__(self) -> str:
        return (f"finfo(resolution={_g(self.resolution)}, min={_g(self.min)}, max={_g(self.max)}, eps={_g(self.eps)}, "
                f"smallest_normal={_g(self.smallest_normal)}, tiny={_g(self.tiny)}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype.

    >>> import nnbox
    >>> nnbox.iinfo(nnbox.uint8).max
    255
    >>> nnbox.iinfo(nnbox.int32)
    iinfo(min=-2.14748e+09, max=2.14748e+09, dtype=int32)
    """

    __slots__ = ("bits", "dtype", "max", "min")

    def __init__(self, type: _dt.dtype) -> None:
        if not isinstance(type, _dt.dtype) or type.np.kind not in "iub":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        if type.np.kind == "b":
            raise TypeError(f"{type!r} is not supported by torch.iinfo")
        info = np.iinfo(type.np)
        self.bits, self.min, self.max, self.dtype = info.bits, int(info.min), int(info.max), str(info.dtype)

    def __repr__(self) -> str:
        return f"iinfo(min={_g(self.min)}, max={_g(self.max)}, dtype={self.dtype})"


__all__ = ["finfo", "iinfo"]
