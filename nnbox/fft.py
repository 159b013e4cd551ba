"""``nnbox.fft``: torch.fft's discrete Fourier transforms, differentiable (see ``nnbox.ops.fft``).

``fft, ifft, rfft, irfft, hfft, ihfft`` (one dim, ``n``), ``fft2, ifft2, rfft2, irfft2`` (two dims,
``s``), ``fftn, ifftn, rfftn, irfftn`` (any dims), ``fftfreq, rfftfreq, fftshift, ifftshift``.
``norm`` is ``"backward"`` (default: no scaling forward, 1/n inverse), ``"ortho"`` (1/sqrt(n) both
ways) or ``"forward"`` (1/n forward).  float32 input gives complex64, float64 gives complex128,
integers are transformed in the default dtype.

>>> import nnbox
>>> nnbox.fft.fft(nnbox.tensor([1.0, 2.0, 3.0, 4.0]))
tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
>>> nnbox.fft.irfft(nnbox.fft.rfft(nnbox.tensor([1.0, 2.0, 3.0])), n=3)
tensor([1., 2., 3.])
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._backend import autocast_state as _ac
from ._backend import dtype as _dt
from ._tensor import Tensor
from .ops._lowp import autocast_fp32
from .ops._util import type_name, wrap_dim
from .ops.complex import complex_dtype, conj
from .ops.convert import cast
from .ops.fft import FftC2C, FftC2R, FftR2C

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


def _norm(norm) -> str:
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm or "backward"


def _floating(x: Tensor, complex_out: bool) -> Tensor:
    """Integers/bools in the default dtype; real input made complex where the transform needs it."""
    dt = x._data.dtype
    if dt.kind == "V" and _ac.any_on[0]:  # autocast: the ffts are in torch's float32 list
        (x,) = autocast_fp32(x)
        dt = x._data.dtype
    if dt == np.float16:
        raise RuntimeError("Unsupported dtype Half")
    if dt.kind == "V":  # bfloat16
        raise RuntimeError("Unsupported dtype BFloat16")
    if dt.kind in "biu":
        x = cast(x, _dt.get_default_dtype().np)
    if complex_out and x._data.dtype.kind != "c":
        x = cast(x, complex_dtype(x._data.dtype))
    return x


def _dims_and_sizes(x: Tensor, s, dim, default_all: bool):
    """torch's rules: ``dim`` and ``s`` of equal length; ``s`` alone means its last len(s) dims;
    neither means all dims (n-d transforms) or the given default."""
    nd = x._data.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None:
        s = (s,) if isinstance(s, int) else tuple(int(v) for v in s)
    if dim is not None:
        dims = tuple(wrap_dim(d, nd) for d in dim)
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > nd:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {nd} dimensions.")
        dims = tuple(range(nd - len(s), nd))
    else:
        dims = tuple(range(nd)) if default_all else ()
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    if not dims and nd == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if s is not None:
        s = tuple(x._data.shape[d] if n == -1 else n for d, n in zip(dims, s))
        for n in s:
            if n < 1:
                raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return s, dims


def _one_dim(x: Tensor, n, dim: int):
    if x._data.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    d = wrap_dim(dim, x._data.ndim)
    if n is not None and n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return (None if n is None else (int(n),)), (d,)


def _c2c(x: Tensor, s, dims, norm, inverse: bool) -> Tensor:
    x = _floating(x, complex_out=True)
    out = FftC2C.apply(x, s, dims, _norm(norm), inverse)
    return out


def _r2c(name: str, x: Tensor, s, dims, norm) -> Tensor:
    if x._data.dtype.kind == "c":
        raise RuntimeError(f"{name} expects a real input tensor, but got {type_name(x._data.dtype)}")
    x = _floating(x, complex_out=False)
    return FftR2C.apply(x, s, dims, _norm(norm))


def _c2r(x: Tensor, s, dims, norm) -> Tensor:
    x = _floating(x, complex_out=True)
    if s is None:
        m = x._data.shape[dims[-1]]
        n = 2 * (m - 1)
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
        s = tuple(x._data.shape[d] for d in dims[:-1]) + (n,)
    return FftC2R.apply(x, s, dims, _norm(norm))


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """One-dimensional DFT along ``dim`` (input cropped or zero-padded to ``n``)."""
    s, dims = _one_dim(input, n, dim)
    return _c2c(input, s, dims, norm, False)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """One-dimensional inverse DFT along ``dim``."""
    s, dims = _one_dim(input, n, dim)
    return _c2c(input, s, dims, norm, True)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """DFT of a real signal: the ``n // 2 + 1`` non-negative frequencies."""
    s, dims = _one_dim(input, n, dim)
    return _r2c("rfft", input, s, dims, norm)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Inverse of ``rfft``: a real signal of length ``n`` (default ``2 * (size - 1)``)."""
    s, dims = _one_dim(input, n, dim)
    return _c2r(input, s, dims, norm)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """DFT of a Hermitian-symmetric signal given by its first half: a real spectrum of length ``n``."""
    s, dims = _one_dim(input, n, dim)
    return _c2r(conj(_floating(input, complex_out=True)), s, dims, _DUAL_NAME[_norm(norm)])


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Inverse of ``hfft``: the one-sided inverse DFT of a real signal."""
    s, dims = _one_dim(input, n, dim)
    return conj(_r2c("ihfft", input, s, dims, _DUAL_NAME[_norm(norm)]))


_DUAL_NAME = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def fft2(input: Tensor, s: Sequence[int] | None = None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Two-dimensional DFT (over the last two dims by default)."""
    return fftn(input, s, dim, norm)


def ifft2(input: Tensor, s: Sequence[int] | None = None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Two-dimensional inverse DFT."""
    return ifftn(input, s, dim, norm)


def rfft2(input: Tensor, s: Sequence[int] | None = None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Two-dimensional DFT of a real input, one-sided in the last of ``dim``."""
    return rfftn(input, s, dim, norm)


def irfft2(input: Tensor, s: Sequence[int] | None = None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Inverse of ``rfft2``."""
    return irfftn(input, s, dim, norm)


def fftn(input: Tensor, s: Sequence[int] | None = None, dim=None, norm: str | None = None) -> Tensor:
    """N-dimensional DFT over ``dim`` (all dims by default).

    >>> import nnbox
    >>> nnbox.fft.fftn(nnbox.ones(2, 2))
    tensor([[4.+0.j, 0.+0.j],
            [0.+0.j, 0.+0.j]])
    """
    s, dims = _dims_and_sizes(input, s, dim, True)
    return _c2c(input, s, dims, norm, False)


def ifftn(input: Tensor, s: Sequence[int] | None = None, dim=None, norm: str | None = None) -> Tensor:
    """N-dimensional inverse DFT over ``dim`` (all dims by default)."""
    s, dims = _dims_and_sizes(input, s, dim, True)
    return _c2c(input, s, dims, norm, True)


def rfftn(input: Tensor, s: Sequence[int] | None = None, dim=None, norm: str | None = None) -> Tensor:
    """N-dimensional DFT of a real input, one-sided in the last of ``dim``."""
    s, dims = _dims_and_sizes(input, s, dim, True)
    return _r2c("rfftn", input, s, dims, norm)


def irfftn(input: Tensor, s: Sequence[int] | None = None, dim=None, norm: str | None = None) -> Tensor:
    """Inverse of ``rfftn``: real output, ``s[-1]`` (default ``2 * (size - 1)``) along the last dim."""
    s, dims = _dims_and_sizes(input, s, dim, True)
    return _c2r(input, s, dims, norm)


def fftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point ``fft`` with spacing ``d``: ``[0, 1, ..., -1] / (d n)``.

    >>> import nnbox
    >>> nnbox.fft.fftfreq(4)
    tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    return _freq(np.fft.fftfreq(n, d), dtype, device, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point ``rfft``: ``[0, 1, ..., n // 2] / (d n)``."""
    return _freq(np.fft.rfftfreq(n, d), dtype, device, requires_grad)


def _freq(values: np.ndarray, dtype, device, requires_grad: bool) -> Tensor:
    from .ops.creation import tensor

    dt = _dt.get_default_dtype() if dtype is None else dtype
    return tensor(values, dtype=dt, device=device, requires_grad=requires_grad)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero frequency to the centre: roll each of ``dim`` (all by default) by ``size // 2``.

    >>> import nnbox
    >>> nnbox.fft.fftshift(nnbox.fft.fftfreq(4))
    tensor([-0.5000, -0.2500,  0.0000,  0.2500])
    """
    return _shift(input, dim, 1)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of ``fftshift``: roll by ``-(size // 2)``."""
    return _shift(input, dim, -1)


def _shift(x: Tensor, dim, sign: int) -> Tensor:
    from .ops.shape import roll

    nd = x._data.ndim
    dims = tuple(range(nd)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if not dims:
        return x
    return roll(x, tuple(sign * (x._data.shape[d] // 2) for d in dims), dims)
