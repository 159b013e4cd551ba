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
            pad = [(0, 0)] * ax + [(0, n - have)] + [(0, 0)] * (a.ndim - ax - 1)
            a = xp.pad(a, pad)
    return a


def _pair_weights(xp, bins: int, ndim: int, axis: int, n: int, value: float, dtype):
    """``value`` for the ``bins`` half-spectrum bins along ``axis`` that stand for a conjugate pair,
    1 for DC and (even ``n``) Nyquist, shaped to broadcast against an ``ndim``-dim array (built in
    the forward: a constant of the backward formula)."""
    w = xp.full(bins, value, dtype=dtype)
    w[0] = 1.0
    if n % 2 == 0 and bins > n // 2:
        w[n // 2] = 1.0
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis % ndim))


class FftC2C(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, s, axes, norm, inverse):
        xp = xp_of(a)
        ctx.meta = (a.shape, axes, norm, inverse)
        out = (xp.fft.ifftn if inverse else xp.fft.fftn)(a, s, axes, norm=norm)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, norm, inverse = ctx.meta
        g = FftC2C.run(grad, None, axes, _DUAL[norm], not inverse)  # the adjoint: a transform again
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g, None, None, None, None


class FftR2C(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, s, axes, norm):
        xp = xp_of(a)
        out = xp.fft.rfftn(a, s, axes, norm=norm)
        n = s[-1] if s is not None else a.shape[axes[-1]]
        ctx.meta = (a.shape, a.dtype, axes, norm, n)
        ctx.w = _pair_weights(xp, out.shape[axes[-1]], out.ndim, axes[-1], n, 0.5, a.dtype)
        return out.astype(complex_dtype(a.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, dtype, axes, norm, n = ctx.meta
        xp = xp_of(grad)
        # Re(ifftn(grad zero-filled to n bins)), computed as a c2r transform (half the work): c2r
        # counts every bin but DC and Nyquist twice, so those others are halved first
        g = xp.multiply(grad, ctx.w)
        sizes = [grad.shape[ax] for ax in axes[:-1]] + [n]
        g = FftC2R.run(g, sizes, axes, _DUAL[norm])
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g, None, None, None


class FftC2R(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, s, axes, norm):
        xp = xp_of(a)
        out = xp.fft.irfftn(a, s, axes, norm=norm)
        n = out.shape[axes[-1]]
        ctx.meta = (a.shape, axes, norm, n)
        ctx.w = _pair_weights(xp, n // 2 + 1, out.ndim, axes[-1], n, 2.0, real_dtype(a.dtype))
        return out.astype(real_dtype(a.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, norm, n = ctx.meta
        xp = xp_of(grad)
        g = FftR2C.run(grad, None, axes, _DUAL[norm])
        # the output is real-linear in the half spectrum: bins that stand for a conjugate pair
        # (all but DC and, for even n, Nyquist) count twice
        g = xp.multiply(g, ctx.w)
        g = fit(g, [shape[ax] for ax in axes], axes)
        return g, None, None, None
