"""``nn.init``: fill a tensor in place from a distribution chosen for training stability.

Every function works under ``no_grad``, modifies ``tensor`` in place, returns it, and accepts
``generator=`` (an ``nnbox.Generator``) for reproducible draws, as in torch.

>>> import nnbox, nnbox.nn as nn
>>> w = nnbox.empty(3, 5)
>>> _ = nn.init.kaiming_uniform_(w, a=5 ** 0.5)   # what nn.Linear does
>>> bool(w.abs().max() <= 1 / 5 ** 0.5)
True
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..ops._util import xp_of

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
    "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``'relu'`` -> sqrt(2), ``'tanh'`` -> 5/3 ...).

    >>> import nnbox.nn as nn
    >>> round(nn.init.calculate_gain("leaky_relu", 0.2), 4)
    1.3868
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = in-features x receptive field, fan_out = out-features x receptive field."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b], by rejection sampling (as torch 2.13).

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.nn.init.trunc_normal_(nnbox.empty(3))
    tensor([ 1.5410, -0.2934, -1.3986])
    >>> nnbox.nn.init.trunc_normal_(nnbox.empty(3), a=2.0, b=3.0)  # a tail: uniform proposals
    tensor([2.0223, 2.1689, 2.1759])
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may be incorrect.",
            stacklevel=2,
        )
    za, zb = (a - mean) / std, (b - mean) / std
    with no_grad():
        if _std_normal_cdf(zb) - _std_normal_cdf(za) >= _NORMAL_PROPOSAL_MIN_MASS:
            _trunc_normal_by_normals(tensor, mean, std, a, b, generator)
        else:
            _trunc_normal_by_uniforms(tensor, mean, std, a, b, za, zb, generator)
        tensor._vc[0] += 1
    return tensor


# torch 2.13 proposes normals when [a, b] holds at least this share of N(mean, std^2), else
# uniforms on [a, b] (found by bisecting the switch point on three families of intervals: it
# sits at a mass of 0.3 in each)
_NORMAL_PROPOSAL_MIN_MASS = 0.3


def _std_normal_cdf(z: float) -> float:
    return (1.0 + math.erf(z / math.sqrt(2.0))) / 2.0


def _trunc_normal_by_normals(tensor: Tensor, mean, std, a, b, generator) -> None:
    """Fill with N(mean, std^2) and, while any value lies outside [a, b], draw a whole fresh
    tensor and take its values at the bad positions (each round moves the stream by one full
    ``normal_``, as torch's does)."""
    from ..ops.creation import empty

    tensor.normal_(mean, std, generator=generator)
    arr = tensor._data
    bad = (arr < a) | (arr > b)
    while bad.any():
        fresh = empty(tuple(arr.shape), dtype=tensor.dtype, device=tensor.device).normal_(mean, std, generator=generator)._data
        arr[bad] = fresh[bad]
        bad = (arr < a) | (arr > b)


def _trunc_normal_by_uniforms(tensor: Tensor, mean, std, a, b, za, zb, generator) -> None:
    """Narrow or tail intervals: each round draws a whole tensor of proposals ``uniform_(a, b)``
    and then a whole tensor of acceptance uniforms v; a pending position takes its proposal x
    when log v <= (r - z^2) / 2, z = (x - mean) / std, r the squared standardised bound
    nearest the mean (0 when [a, b] holds it), so the accepted values follow the normal density
    on [a, b].  Out-of-range bounds raise ``uniform_``'s errors, as in torch."""
    from ..ops.creation import empty

    r = za * za if za > 0 else zb * zb if zb < 0 else 0.0
    ct = np.float64 if tensor._data.dtype == np.float64 else np.float32  # the arithmetic's type
    arr = tensor._data
    xp = xp_of(arr)
    shape = tuple(arr.shape)
    pending = xp.ones(shape, dtype=bool)
    while bool(pending.any()):
        x = empty(shape, dtype=tensor.dtype, device=tensor.device).uniform_(a, b, generator=generator)._data
        v = empty(shape, dtype=tensor.dtype, device=tensor.device).uniform_(generator=generator)._data
        # log v <= (r - z^2) / 2, each step rounded to the tensor's dtype (16-bit floats compute
        # in float32 and round after every op, as torch's half kernels do)
        dt = x.dtype.type
        z = ((x.astype(ct) - ct(mean)) / ct(std)).astype(dt).astype(ct)
        zz = (z * z).astype(dt).astype(ct)
        e = ((ct(r) - zz).astype(dt).astype(ct) / ct(2)).astype(dt)
        take = xp.log(v.astype(ct)).astype(dt) <= e
        take &= pending
        arr[take] = x[take]
        pending &= ~take


def _assign(tensor: Tensor, values) -> Tensor:
    """Write ``values`` into ``tensor`` in place (any dtype), bumping its version."""
    return tensor.copy_(Tensor._make(values))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    with no_grad():
        return tensor.zero_()


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    arr = tensor._data
    xp = xp_of(arr)
    with no_grad():
        return _assign(tensor, xp.eye(*arr.shape, dtype=arr.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-D conv weight so the convolution is the identity (per group)."""
    ndim = tensor.ndim
    if ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tuple(tensor.shape)
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = shape[0] // groups
    arr = tensor._data
    xp = xp_of(arr)
    out = xp.zeros(shape, dtype=arr.dtype)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            out[(g * per_group + d, d) + centre] = 1
    with no_grad():
        return _assign(tensor, out)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is leaky_relu's negative slope."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix (the tensor viewed as rows x rest), scaled by ``gain``."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    from ..ops.creation import empty

    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        # torch's draw order: a (rows x cols) normal matrix in the tensor's dtype, then QR
        flat = empty(rows, cols, dtype=tensor.dtype, device=tensor.device).normal_(0, 1, generator=generator)
        arr = flat._data
        xp = xp_of(arr)
        if rows < cols:
            arr = arr.T
        q, r = xp.linalg.qr(arr)
        # sign fix makes Q uniformly distributed (Haar measure), not biased by the QR convention
        q = q * xp.sign(xp.diagonal(r))
        if rows < cols:
            q = q.T
        return _assign(tensor, (q.reshape(tensor._data.shape) * tensor._data.dtype.type(gain)))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """N(0, std^2) with a fraction ``sparsity`` of each column set to zero."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from ..ops.creation import randperm

    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with no_grad():
        # torch's draw order: the normal fill, then one randperm of the rows per column
        tensor.normal_(0, std, generator=generator)
        arr = tensor._data
        for col in range(cols):
            arr[randperm(rows, generator=generator)._data[:num_zeros], col] = 0
        tensor._vc[0] += 1
    return tensor


def _deprecated(new):
    def old(*args, **kwargs):
        warnings.warn(f"`nn.init.{new.__name__[:-1]}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)

    old.__name__ = new.__name__[:-1]
    old.__doc__ = f"Deprecated alias of ``{new.__name__}``."
    return old


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
