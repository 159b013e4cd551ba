"""The discrete Fourier transforms behind ``nnbox.fft``: three Functions, each with its adjoint as
backward.

* ``FftC2C``: complex to complex (``fft``/``ifft``/``fftn``/``ifftn``).
* ``FftR2C``: real to the one-sided spectrum (``rfft``/``rfftn``).
* ``FftC2R``: one-sided spectrum to real (``irfft``/``irfftn``).

Every transform is linear, so with torch's complex-gradient convention its backward is the adjoint
map: ``A^H grad``.  The adjoint of a DFT scaled by ``norm`` is the inverse DFT with the *dual*
scaling (``backward`` <-> ``forward``, ``ortho`` stays), zero-padding and cropping (``n``/``s``)
are each other's adjoints, and a real input receives the real part.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ._util import xp_of
from .complex import complex_dtype, real_dtype

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def fit(a, shape, axes):
    """Crop or zero-pad ``a`` along ``axes`` to ``shape`` there (the adjoint of the other way)."""
    xp = xp_of(a)
    for ax, n in zip(axes, shape):
        have = a.shape[ax]
        if have > n:
            a = a[(slice(None),) * ax + (slice(0, n),)]
        elif have < n:
            pad = [(0, 0)] * a.ndim
            pad[ax] = (0, n - have)
            a = xp.pad(a, pad)
    return a


def _pair_weights(a, axis: int, n: int, value: float):
    """``value`` for the half-spectrum bins along ``axis`` that stand for a conjugate pair, 1 for DC
    and (even ``n``) Nyquist, shaped to broadcast against ``a``."""
    xp = xp_of(a)
    w = xp.full(a.shape[axis], value, dtype=a.real.dtype)
    w[0] = 1.0
    if n % 2 == 0 and a.shape[axis] > n // 2:
        w[n // 2] = 1.0
    return w.reshape((-1,) + (1,) * (a.ndim - 1 - axis))


class FftC2C(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a, s, axes, norm, inverse):
        xp = xp_of(a)
        ctx.meta = (a.shape, axes, norm, inverse)
        out = (xp.fft.ifftn if inverse else xp.fft.fftn)(a, s, axes, norm=norm)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, norm, inverse = ctx.meta
        xp = xp_of(grad)
        g = (xp.fft.fftn if inverse else xp.fft.ifftn)(grad, None, axes, norm=_DUAL[norm])
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g.astype(grad.dtype, copy=False), None, None, None, None


class FftR2C(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a, s, axes, norm):
        xp = xp_of(a)
        out = xp.fft.rfftn(a, s, axes, norm=norm)
        n = s[-1] if s is not None else a.shape[axes[-1]]
        ctx.meta = (a.shape, a.dtype, axes, norm, n)
        return out.astype(complex_dtype(a.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, dtype, axes, norm, n = ctx.meta
        xp = xp_of(grad)
        # Re(ifftn(grad zero-filled to n bins)), computed as a c2r transform (half the work): c2r
        # counts every bin but DC and Nyquist twice, so those others are halved first
        g = grad * _pair_weights(grad, axes[-1], n, 0.5)
        sizes = [grad.shape[ax] for ax in axes[:-1]] + [n]
        g = xp.fft.irfftn(g, sizes, axes, norm=_DUAL[norm])
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g.astype(dtype, copy=False), None, None, None


class FftC2R(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a, s, axes, norm):
        xp = xp_of(a)
        out = xp.fft.irfftn(a, s, axes, norm=norm)
        ctx.meta = (a.shape, axes, norm, out.shape[axes[-1]])
        return out.astype(real_dtype(a.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, norm, n = ctx.meta
        xp = xp_of(grad)
        g = xp.fft.rfftn(grad, None, axes, norm=_DUAL[norm])
        # the output is real-linear in the half spectrum: bins that stand for a conjugate pair
        # (all but DC and, for even n, Nyquist) count twice
        g = g * _pair_weights(g, axes[-1], n, 2.0)
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g.astype(complex_dtype(grad.dtype), copy=False), None, None, None
