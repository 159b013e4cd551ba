"""Standard-gamma draws with an implicit reparameterisation gradient.

A draw x ~ Gamma(α, 1) has no closed-form reparameterisation, but its CDF P(α, x) = u is held
fixed along the path, so dx/dα = -(∂P/∂α) / p(x; α) (implicit differentiation; Figurnov et al.,
"Implicit Reparameterization Gradients", 2018). P is the regularised lower incomplete gamma
function, evaluated by its power series below x = α + 1 and by its continued fraction (for Q =
1 - P) above; ∂P/∂α is a central difference of it (relative error ~1e-9), and p is the density.
"""
from __future__ import annotations

import numpy as np

from .._backend import random_gamma
from .._backend.device import device_of
from .._backend.random import cpu_generator, generator_for
from ..autograd.function import Function
from ..ops._util import xp_of
from ..ops.special import _lgamma_arr


def _log_p_series(xp, a, x, iters: int):
    """log P(a, x) by the series x^a e^-x / Γ(a+1) Σ x^n / ((a+1)...(a+n))."""
    term = xp.ones_like(x)
    total = xp.ones_like(x)
    for n in range(1, iters):
        term = term * x / (a + n)
        total = total + term
    return a * xp.log(x) - x - _lgamma_arr(a + 1) + xp.log(total)


def _log_q_cf(xp, a, x, iters: int):
    """log Q(a, x) by the Legendre continued fraction (modified Lentz)."""
    tiny = 1e-300
    b = x + 1 - a
    c = xp.full_like(x, 1 / tiny)
    d = 1 / b
    h = d
    for i in range(1, iters):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        d = 1 / d
        h = h * d * c
    return a * xp.log(x) - x - _lgamma_arr(a) + xp.log(h)


def _p_or_minus_q(xp, a, x, use_series, iters):
    """P(a, x) where the series is used, else -Q(a, x): both have derivative ∂P/∂α."""
    s = xp.exp(_log_p_series(xp, a, xp.where(use_series, x, 1.0), iters))
    q = xp.exp(_log_q_cf(xp, a, xp.where(use_series, a + 2, x), iters))
    return xp.where(use_series, s, -q)


def standard_gamma_grad(alpha, x):
    """dx/dα for x ~ Gamma(α, 1) held at a fixed CDF level, elementwise (NumPy or CuPy arrays)."""
    xp = xp_of(alpha)
    a = alpha.astype(np.float64)
    x = x.astype(np.float64)
    use_series = x < a + 1
    iters = int(min(2000, 40 + 4 * float(xp.sqrt(xp.max(a) + 1)) * 10)) if a.size else 1
    h = 1e-5 * xp.maximum(a, 1.0)
    h = xp.minimum(h, a / 2)  # stay inside α > 0
    dp = (_p_or_minus_q(xp, a + h, x, use_series, iters) - _p_or_minus_q(xp, a - h, x, use_series, iters)) / (2 * h)
    log_pdf = (a - 1) * xp.log(x) - x - _lgamma_arr(a)
    return (-dp / xp.exp(log_pdf)).astype(alpha.dtype, copy=False)


class StandardGamma(Function):
    """x ~ Gamma(α, 1) elementwise; backward is the implicit reparameterisation gradient."""

    _array_api = True
    _twice = True
    _torch_name = "StandardGammaBackward0"

    @staticmethod
    def forward(ctx, alpha, generator=None):
        dev = device_of(alpha)
        if dev.type == "cpu":  # torch's sampler on torch's stream
            x = random_gamma.to_dtype(random_gamma.standard_gamma(cpu_generator(generator), alpha), alpha.dtype)
        else:
            x = generator_for(dev, generator).standard_gamma(alpha).astype(alpha.dtype, copy=False)
            tiny = np.finfo(alpha.dtype).tiny
            x = xp_of(alpha).maximum(x, tiny)  # a draw that underflowed to 0 (tiny α) stays positive
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        return grad * StandardGammaGrad.run(alpha, x), None  # a node on Tensors: d/d(grad) exists


class StandardGammaGrad(Function):
    """dx/dα of a Gamma draw (``_standard_gamma_grad``): torch has no derivative for it, so a
    second backward that reaches it raises torch's error (the upstream gradient's path works)."""

    _array_api = True
    _twice = True  # its backward raises (below): no gradient is formed that could go further

    @staticmethod
    def forward(ctx, alpha, x):
        return standard_gamma_grad(alpha, x)

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("the derivative for '_standard_gamma_grad' is not implemented.")


def _check_floating(input, op: str) -> None:
    if not input.dtype.is_floating_point:
        names = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        raise NotImplementedError(f'"{op}" not implemented for \'{names.get(input.dtype.name, input.dtype.name)}\'')


def _standard_gamma(input, generator=None):
    """Gamma(input, 1) draws, torch's values on its CPU stream (``torch._standard_gamma``);
    differentiable in ``input`` by implicit reparameterisation.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox._standard_gamma(nnbox.tensor([0.5, 2.0]))
    tensor([0.0008, 0.6315])
    """
    _check_floating(input, "gamma_cpu")
    return StandardGamma.apply(input, generator)


def _sample_dirichlet(input, generator=None):
    """Dirichlet draws over the last dimension of ``input`` (``torch._sample_dirichlet``):
    gammas drawn and normalised in double, then kept inside (0, 1) as torch does.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox._sample_dirichlet(nnbox.tensor([1.0, 2.0]))
    tensor([0.6866, 0.3134])
    """
    from .._tensor import Tensor
    from ..autograd.grad_mode import no_grad

    _check_floating(input, "dirichlet")
    with no_grad():
        g = StandardGamma.apply(input.double() if input.device.type == "cpu" else input, generator)
        x = (g / g.sum(-1, keepdim=True)).to(input.dtype)
        tiny, eps = np.finfo(x._data.dtype).tiny, np.finfo(x._data.dtype).eps
        return Tensor._make(xp_of(x._data).clip(x._data, tiny, 1 - eps / 2))
