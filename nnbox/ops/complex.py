"""Complex tensors: ``real``, ``imag``, ``view_as_real``, ``view_as_complex``, ``conj``, ``angle``,
``complex``, ``polar``.

Gradients follow torch's convention for complex numbers: for a real loss ``L`` of ``z = x + iy``,
``z.grad`` is ``dL/dx + i dL/dy`` (the conjugate Wirtinger derivative, doubled), so a step
``z -= lr * z.grad`` descends.  Hence a holomorphic ``f`` backpropagates ``grad * conj(f'(z))``, a
linear map ``A`` backpropagates ``A^H grad``, and a real input of a complex op receives the real
part of its gradient.

>>> import nnbox
>>> z = nnbox.tensor([3 + 4j], requires_grad=True)
>>> z.abs().sum().backward(); z.grad
tensor([0.6000+0.8000j])
"""
from __future__ import annotations

import numpy as np

from .._backend import dtype as _dt
from .._tensor import Tensor
from ..autograd.function import Function
from ._util import type_name, xp_of

__all__ = ["real", "imag", "view_as_real", "view_as_complex", "conj", "conj_physical", "resolve_conj", "angle",
           "complex", "polar"]

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {v: k for k, v in _REAL_OF.items()}


def real_dtype(dt) -> np.dtype:
    """complex64 -> float32, complex128 -> float64; a real dtype is returned as is."""
    return _REAL_OF.get(np.dtype(dt), np.dtype(dt))


def complex_dtype(dt) -> np.dtype:
    """float32 (and float16, ints: the default dtype) -> complex64, float64 -> complex128."""
    dt = np.dtype(dt)
    if dt.kind == "c":
        return dt
    if dt == np.float64:
        return np.dtype(np.complex128)
    if dt == np.float32 or dt == np.float16:
        return np.dtype(np.complex64)
    return _COMPLEX_OF[_dt.get_default_dtype().np]


class Real(Function):
    _array_api = True
    _is_view = True
    _torch_name = "SelectBackward0"

    @staticmethod
    def forward(ctx, a):
        return a.real

    @staticmethod
    def backward(ctx, grad):
        return grad + 0j


class Imag(Function):
    _array_api = True
    _is_view = True
    _torch_name = "SelectBackward0"

    @staticmethod
    def forward(ctx, a):
        return a.imag

    @staticmethod
    def backward(ctx, grad):
        return grad * 1j  # d(imag)/dy = 1: the gradient is 0 + 1i per unit of grad


class ViewAsReal(Function):
    _array_api = True
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        return a[..., None].view(real_dtype(a.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad[..., 0] + 1j * grad[..., 1]


class ViewAsComplex(Function):
    _array_api = True
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        return a.view(complex_dtype(a.dtype))[..., 0]

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.stack([grad.real, grad.imag], axis=-1)


class Conj(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a):
        return xp_of(a).conj(a)

    @staticmethod
    def backward(ctx, grad):
        return xp_of(grad).conj(grad)


class Angle(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = xp_of(a)
        if a.dtype.kind != "c":  # torch: pi for negative reals, 0 otherwise, nan kept
            return xp.where(a < 0, np.pi, xp.where(xp.isnan(a), a, 0)).astype(a.dtype)
        return xp.angle(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = xp_of(grad)
        if a.dtype.kind != "c":
            return xp.zeros_like(grad)
        # angle = atan2(y, x): (dx, dy) = (-y, x) / |z|^2, i.e. grad * i z / |z|^2
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = (a * xp.conj(a)).real
            return xp.where(r2 == 0, 0, grad * (1j * a) / xp.where(r2 == 0, 1, r2))


class Complex(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, re, im):
        out = re + 1j * im
        return out.astype(complex_dtype(re.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad.real, grad.imag


class Polar(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, r, theta):
        xp = xp_of(r)
        e = xp.cos(theta) + 1j * xp.sin(theta)
        ctx.save_for_backward(r, e)
        return (r * e).astype(complex_dtype(r.dtype))

    @staticmethod
    def backward(ctx, grad):
        r, e = ctx.saved_tensors
        xp = xp_of(grad)
        # z = r e^{i t}: dz/dr = e (real input: Re(grad conj(e))), dz/dt = i z
        g = grad * xp.conj(e)
        return g.real, (g * -1j).real * r


def _need_complex(x: Tensor, name: str) -> None:
    if x._data.dtype.kind != "c":
        raise RuntimeError(f"{name} is not implemented for tensors with non-complex dtypes.")


def real(input: Tensor) -> Tensor:
    """The real part (a view); a real tensor is returned as is.

    >>> import nnbox
    >>> nnbox.real(nnbox.tensor([1 + 2j]))
    tensor([1.])
    """
    if input._data.dtype.kind != "c":
        return input
    return Real.apply(input)


def imag(input: Tensor) -> Tensor:
    """The imaginary part (a view) of a complex tensor.

    >>> import nnbox
    >>> nnbox.imag(nnbox.tensor([1 + 2j]))
    tensor([2.])
    """
    _need_complex(input, "imag")
    return Imag.apply(input)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor as a real one with a last dim of 2 (real, imag), sharing storage.

    >>> import nnbox
    >>> nnbox.view_as_real(nnbox.tensor([1 + 2j]))
    tensor([[1., 2.]])
    """
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A real tensor whose last dim is 2 (real, imag) as a complex one, sharing storage.

    >>> import nnbox
    >>> nnbox.view_as_complex(nnbox.tensor([[1.0, 2.0]]))
    tensor([1.+2.j])
    """
    a = input._data
    if a.dtype not in (np.float32, np.float64):
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a "
                           f"tensor of scalar type: {type_name(a.dtype)}")
    if a.ndim == 0 or a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if a.strides[-1] != a.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * a.itemsize) for s in a.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return ViewAsComplex.apply(input)


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (the tensor itself for real ones, as torch).

    >>> import nnbox
    >>> nnbox.conj(nnbox.tensor([1 + 2j]))
    tensor([1.-2.j])
    """
    if input._data.dtype.kind != "c":
        return input
    return Conj.apply(input)


def conj_physical(input: Tensor) -> Tensor:
    """``conj`` that always computes (nnbox has no lazy conjugate bit)."""
    if input._data.dtype.kind != "c":
        return input.clone()
    return Conj.apply(input)


def resolve_conj(input: Tensor) -> Tensor:
    """nnbox conjugates eagerly, so there is never a conjugate bit to resolve."""
    return input


def angle(input: Tensor) -> Tensor:
    """The argument (phase) of each element, in radians; pi for negative reals.

    >>> import nnbox
    >>> nnbox.angle(nnbox.tensor([1j, -1.0]))
    tensor([1.5708, 3.1416])
    """
    x = input
    if x._data.dtype.kind in "biu":
        from .convert import cast

        x = cast(x, _dt.get_default_dtype().np)
    return Angle.apply(x)


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch's name
    """A complex tensor from real and imaginary parts of one floating dtype.

    >>> import nnbox
    >>> nnbox.complex(nnbox.tensor([1.0]), nnbox.tensor([2.0]))
    tensor([1.+2.j])
    """
    _same_float("complex", real, imag)
    return Complex.apply(real, imag)


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - torch's names
    """``abs * (cos(angle) + i sin(angle))``.

    >>> import nnbox
    >>> nnbox.polar(nnbox.tensor([2.0]), nnbox.tensor([0.0]))
    tensor([2.+0.j])
    """
    _same_float("polar", abs, angle)
    return Polar.apply(abs, angle)


def _same_float(name: str, a: Tensor, b: Tensor) -> None:
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        raise RuntimeError(f"Expected object of scalar type {type_name(da)} but got scalar type {type_name(db)} "
                           "for second argument")
    if da not in (np.float32, np.float64, np.float16):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got {type_name(da)} and "
                           f"{type_name(db)}")


Tensor.real = property(real)
Tensor.imag = property(imag)
Tensor.conj = conj
Tensor.conj_physical = conj_physical
Tensor.resolve_conj = resolve_conj
Tensor.angle = angle
Tensor.is_conj = lambda self: False
