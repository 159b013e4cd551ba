"""Special functions: ``lgamma``, ``digamma``, ``polygamma`` (n = 1), ``erfc``, ``erfinv``, ``xlogy``,
``logit`` -- what probability distributions need (``erf`` is a row of the elementwise table). NumPy has none of them, so each
is computed here with the array module's elementwise operations (one body for NumPy and CuPy):

- ``lgamma``/``digamma``/``trigamma``: shift the argument up to >= 10 with the recurrences
  ``Γ(x+1) = xΓ(x)``, ``ψ(x+1) = ψ(x) + 1/x``, ``ψ'(x+1) = ψ'(x) - 1/x²``, then the asymptotic
  (Stirling) series, whose truncation error there is below 1e-17; reflection for x < 0.5.
- ``erfinv``: Winitzki's closed-form estimate, polished by Halley steps on ``erf`` (which is
  accurate to ~1e-16, see ``_erf.py``).

>>> import nnbox
>>> nnbox.lgamma(nnbox.tensor([0.5, 1.0, 5.0], dtype=nnbox.float64))
tensor([0.5724, 0.0000, 3.1781], dtype=torch.float64)
"""
from __future__ import annotations

import math

from .._backend import dtype as _dt
from .._tensor import Tensor
from ..autograd.function import Function
from . import _erf
from ._util import unbroadcast, xp_of
from .convert import cast

__all__ = ["lgamma", "digamma", "polygamma", "erfc", "erfinv", "xlogy", "logit"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _shift_up(x, xp, step):
    """Add 1 to the entries below 10 until none is, calling ``step(where, x)`` before each add."""
    for _ in range(10):
        low = x < 10
        if not bool(low.any()):
            break
        step(low, x)
        x = xp.where(low, x + 1, x)
    return x


def _lgamma_arr(x):
    xp = xp_of(x)
    x = xp.asarray(x)
    refl = x < 0.5
    y = xp.where(refl, 1 - x, x)  # y >= 0.5
    acc = xp.zeros_like(y)

    def step(low, z):
        acc[...] = acc + xp.where(low, xp.log(xp.where(low, z, 1)), 0)

    z = _shift_up(y, xp, step)
    r = 1 / (z * z)
    series = (1 / z) * (1 / 12 + r * (-1 / 360 + r * (1 / 1260 + r * (-1 / 1680 + r * (1 / 1188 + r * (-691 / 360360))))))
    big = (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + series - acc
    with_refl = math.log(math.pi) - xp.log(xp.abs(xp.sin(math.pi * x))) - big
    out = xp.where(refl, with_refl, big)
    pole = (x <= 0) & (x == xp.floor(x))
    out = xp.where(pole, xp.inf, out)
    return xp.where(xp.isinf(x), xp.inf, out).astype(x.dtype, copy=False)


def _digamma_arr(x):
    xp = xp_of(x)
    x = xp.asarray(x)
    refl = x < 0.5
    y = xp.where(refl, 1 - x, x)
    acc = xp.zeros_like(y)

    def step(low, z):
        acc[...] = acc - xp.where(low, 1 / xp.where(low, z, 1), 0)

    z = _shift_up(y, xp, step)
    r = 1 / (z * z)
    series = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132 - r * (691 / 32760 - r / 12))))))
    big = xp.log(z) - 0.5 / z - series + acc
    with_refl = big - math.pi / xp.tan(math.pi * x)
    out = xp.where(refl, with_refl, big)
    out = xp.where(x == 0, -xp.inf, out)  # torch: digamma(0) = -inf, negative integers give nan
    out = xp.where((x < 0) & (x == xp.floor(x)), xp.nan, out)
    return xp.where(xp.isposinf(x), xp.inf, out).astype(x.dtype, copy=False)


def _trigamma_arr(x):
    xp = xp_of(x)
    x = xp.asarray(x)
    refl = x < 0.5
    y = xp.where(refl, 1 - x, x)
    acc = xp.zeros_like(y)

    def step(low, z):
        acc[...] = acc + xp.where(low, 1 / xp.where(low, z * z, 1), 0)

    z = _shift_up(y, xp, step)
    r = 1 / (z * z)
    series = (1 / z) * (1 + r * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * (5 / 66 - r * (691 / 2730 - r * 7 / 6)))))))
    big = series + 0.5 * r + acc
    s = xp.sin(math.pi * x)
    with_refl = math.pi**2 / (s * s) - big
    out = xp.where(refl, with_refl, big)
    return xp.where((x <= 0) & (x == xp.floor(x)), xp.inf, out).astype(x.dtype, copy=False)


def _erfinv_arr(x):
    xp = xp_of(x)
    x = xp.asarray(x)
    a = 0.147
    ln = xp.log(xp.maximum(1 - x * x, 1e-300))
    t = 2 / (math.pi * a) + ln / 2
    y = xp.sign(x) * xp.sqrt(xp.maximum(xp.sqrt(t * t - ln / a) - t, 0))
    inside = xp.abs(x) < 1
    y = xp.where(inside, y, 0)
    c = 2 / math.sqrt(math.pi)
    for _ in range(3):  # Halley: f = erf(y) - x, f' = c e^{-y²}, f'' = -2y f'
        f = _erf.erf(y) - x
        d = c * xp.exp(-y * y)
        y = y - f / (d + y * f)
        y = xp.where(inside, y, 0)
    y = xp.where(x == 1, xp.inf, xp.where(x == -1, -xp.inf, y))
    return xp.where(xp.abs(x) > 1, xp.nan, y).astype(x.dtype, copy=False)


class Lgamma(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _lgamma_arr(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * Digamma.run(a)  # a node when a is a Tensor: differentiable again


class Digamma(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _digamma_arr(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * Trigamma.run(a)


class Trigamma(Function):
    _array_api = True
    _twice = True
    _torch_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _trigamma_arr(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * Polygamma.run(a, 2)


# Bernoulli numbers B_2, B_4, ..., B_20 for the Euler-Maclaurin tail of the Hurwitz zeta function
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)


def _polygamma_arr(n: int, x):
    """ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹ n! ζ(n+1, x) for n >= 1: the Hurwitz zeta by Euler-Maclaurin, summing the
    terms 1/(x+k)ˢ directly until x + k >= 20.  As torch: ±inf (the sign of (-1)ⁿ⁺¹) at the poles
    x = 0, -1, ... and at -inf, nan at +inf."""
    xp = xp_of(x)
    x = xp.asarray(x)
    s = n + 1
    acc = xp.zeros_like(x)
    z = xp.where(xp.isfinite(x), x, 20.0)  # infinities are set at the end
    for _ in range(100000):
        low = z < 20
        if not bool(low.any()):
            break
        acc = acc + xp.where(low, 1 / xp.where(low, z, 1) ** s, 0)
        z = xp.where(low, z + 1, z)
    tail = z ** (1 - s) / (s - 1) + 0.5 * z ** (-s)
    rising = float(s)  # s (s+1) ... (s+2j-2)
    fact = 2.0  # (2j)!
    for j, b in enumerate(_BERNOULLI, start=1):
        tail = tail + b / fact * rising * z ** (-s - 2 * j + 1)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        fact *= (2 * j + 1) * (2 * j + 2)
    out = (-1) ** (n + 1) * math.factorial(n) * (acc + tail)
    pole = ((x <= 0) & (x == xp.floor(x))) | xp.isneginf(x)
    out = xp.where(pole, xp.inf if n % 2 else -xp.inf, out)
    out = xp.where(xp.isposinf(x) | xp.isnan(x), xp.nan, out)
    return out.astype(x.dtype, copy=False)


class Polygamma(Function):
    """ψ⁽ⁿ⁾ for n >= 2 (trigamma, n = 1, has its own series); its derivative is ψ⁽ⁿ⁺¹⁾."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, n):
        ctx.save_for_backward(a)
        ctx.n = n
        return _polygamma_arr(n, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * Polygamma.run(a, ctx.n + 1), None


class Erfc(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return 1 - _erf.erf(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return grad * (-2 / math.sqrt(math.pi)) * xp.exp(-a * a)


class Erfinv(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        out = _erfinv_arr(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = xp_of(out)
        return grad * (math.sqrt(math.pi) / 2) * xp.exp(out * out)


class Xlogy(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a if hasattr(a, "shape") else b)
        ctx.save_for_backward(a, b)
        out = xp.where(a == 0, 0, a * xp.log(b))
        return xp.where(xp.isnan(b), xp.nan, out).astype(xp.result_type(a, b), copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        xp = xp_of(a)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(grad * xp.where((a == 0) & (b == 0), 0, xp.log(b)), a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(grad * a / b, b.shape)
        return ga, gb


def _float(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return cast(x, _dt.get_default_dtype().np) if x._data.dtype.kind in "biu" else x


def _run(cls, x):
    return cls.apply(_float(x))


def lgamma(input: Tensor) -> Tensor:
    """Elementwise log|Γ(x)| (``inf`` at the poles 0, -1, -2, ...).

    >>> import nnbox
    >>> nnbox.lgamma(nnbox.tensor([3.0]))
    tensor([0.6931])
    """
    return _run(Lgamma, input)


def digamma(input: Tensor) -> Tensor:
    """Elementwise ψ(x) = d/dx log Γ(x) (``-inf`` at 0 and ``nan`` at negative integers, as torch).

    >>> import nnbox
    >>> nnbox.digamma(nnbox.tensor([1.0]))
    tensor([-0.5772])
    """
    return _run(Digamma, input)


def polygamma(n: int, input: Tensor) -> Tensor:
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma.

    >>> import nnbox
    >>> nnbox.polygamma(1, nnbox.tensor([1.0]))
    tensor([1.6449])
    """
    if n == 0:
        return digamma(input)
    if n == 1:
        return _run(Trigamma, input)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_float(input), int(n))


def erfc(input: Tensor) -> Tensor:
    """Elementwise 1 - erf(x).

    >>> import nnbox
    >>> nnbox.erfc(nnbox.tensor([0.0]))
    tensor([1.])
    """
    return _run(Erfc, input)


def erfinv(input: Tensor) -> Tensor:
    """Elementwise inverse of ``erf`` on [-1, 1] (±inf at ±1, nan outside).

    >>> import nnbox
    >>> nnbox.erfinv(nnbox.tensor([0.0, 0.5]))
    tensor([0.0000, 0.4769])
    """
    return _run(Erfinv, input)


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is nan), as torch.

    >>> import nnbox
    >>> nnbox.xlogy(nnbox.tensor([0.0, 2.0]), nnbox.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    a = input if isinstance(input, Tensor) else None
    b = other if isinstance(other, Tensor) else None
    ref = a if a is not None else b
    if ref is None:
        raise TypeError("xlogy(): at least one of 'input' and 'other' must be a Tensor")
    from ..ops.creation import tensor as _tensor

    if a is None:
        a = _tensor(float(input), dtype=ref.dtype if ref.is_floating_point() else None, device=ref.device)
    if b is None:
        b = _tensor(float(other), dtype=ref.dtype if ref.is_floating_point() else None, device=ref.device)
    return Xlogy.apply(_float(a), _float(b))


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given.

    >>> import nnbox
    >>> nnbox.logit(nnbox.tensor([0.5]))
    tensor([0.])
    """
    x = _float(input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return (x / (1 - x)).log()


for _name in ("lgamma", "digamma", "erfc", "erfinv", "xlogy", "logit"):
    setattr(Tensor, _name, globals()[_name])
Tensor.polygamma = lambda self, n: polygamma(n, self)
