"""The Tensor-valued array namespace: backward formulas run on Tensors when ``create_graph=True``.

Every backward formula in ``nnbox.ops`` is written once, against an array namespace ``xp`` and
Python's operators only (``tests/test_formula_rules.py`` holds them to that).  A first-order
backward runs it with ``xp = numpy`` (or ``cupy``) on raw arrays, as fast as hand-written NumPy.
With ``create_graph=True`` the engine hands the same formula Tensors instead, ``xp_of(tensor)``
returns this module, and every call below is an nnbox differentiable op: the gradient comes out
with a graph of its own, so it can be differentiated again (the same rule interpreted on two kinds
of values, as Chainer's FunctionNode and JAX's tracers do).

Signatures are NumPy's (``axis``, ``keepdims``, ``axes``), so one formula reads the same on both.
Only the subset the formulas use is here; a formula that needs another function adds it here.
Values that are not Tensors (masks and indices kept by ``forward``, Python numbers) are accepted
where NumPy accepts them and become constants of the graph.
"""
from __future__ import annotations

import builtins
import contextlib
import math

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import register_namespace
from .._tensor import Tensor

pi, e, inf, nan, newaxis = math.pi, math.e, math.inf, math.nan, None
float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_

_nb = None
builtins_min, builtins_max = builtins.min, builtins.max  # this module defines its own min/max


def _t():
    """The ``nnbox`` package (imported on first use: this module loads while it is being built)."""
    global _nb
    if _nb is None:
        import nnbox

        _nb = nnbox
    return _nb


def _ten(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor: arrays and numbers become constants (on ``like``'s dtype for numbers)."""
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        return Tensor._make(x)
    if like is not None:
        return Tensor._make(np.asarray(x, dtype=like._data.dtype)).to(like.device)
    return Tensor._make(np.asarray(x))


def _nnbox_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, _dt.dtype):
        return dtype
    return _dt.from_numpy_dtype(np.dtype(dtype))


def _dims(axis):
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


# --- creation --------------------------------------------------------------------------------------

def asarray(x, dtype=None) -> Tensor:
    t = _ten(x)
    return t if dtype is None else astype(t, dtype)


def astype(x, dtype, copy: bool = True) -> Tensor:
    return _ten(x).to(_nnbox_dtype(dtype))


def zeros_like(x, dtype=None) -> Tensor:
    return _t().zeros_like(_ten(x), dtype=_nnbox_dtype(dtype))


def ones_like(x, dtype=None) -> Tensor:
    return _t().ones_like(_ten(x), dtype=_nnbox_dtype(dtype))


def full_like(x, fill_value, dtype=None) -> Tensor:
    return _t().full_like(_ten(x), fill_value, dtype=_nnbox_dtype(dtype))


empty_like = zeros_like


def zeros(shape, dtype=float64) -> Tensor:
    return _t().zeros(shape, dtype=_nnbox_dtype(dtype))


def ones(shape, dtype=float64) -> Tensor:
    return _t().ones(shape, dtype=_nnbox_dtype(dtype))


def full(shape, fill_value, dtype=None) -> Tensor:
    return _t().full(shape if isinstance(shape, (tuple, list)) else (shape,), fill_value, dtype=_nnbox_dtype(dtype))


def errstate(**kwargs):
    """NumPy's floating-point warning control has nothing to control on Tensors."""
    return contextlib.nullcontext()


# --- elementwise -----------------------------------------------------------------------------------

def _unary(name: str):
    def fn(x):
        return getattr(_t(), name)(_ten(x))

    fn.__name__ = name
    return fn


exp, log, log1p, expm1, sqrt = (_unary(n) for n in ("exp", "log", "log1p", "expm1", "sqrt"))
sin, cos, tan, tanh, sinh, cosh = (_unary(n) for n in ("sin", "cos", "tan", "tanh", "sinh", "cosh"))
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = (
    _unary(n) for n in ("asin", "acos", "atan", "asinh", "acosh", "atanh"))
sign, abs, negative, reciprocal, square = (_unary(n) for n in ("sign", "abs", "neg", "reciprocal", "square"))
floor, ceil, trunc, log2, log10 = (_unary(n) for n in ("floor", "ceil", "trunc", "log2", "log10"))
isnan, isinf, isfinite, logical_not = (_unary(n) for n in ("isnan", "isinf", "isfinite", "logical_not"))
round = rint = _unary("round")  # noqa: A001 - NumPy's name


_real_sign = sign


def sign(x):  # noqa: F811 - NumPy's sign, which on complex numbers is z / |z|
    """NumPy's ``sign``: on a complex Tensor z / |z| (0 at 0), built from differentiable ops so a
    formula using it (abs's derivative) has the right derivative itself; real Tensors as before."""
    x = _ten(x)
    if not x.is_complex():
        return _real_sign(x)
    r = _t().abs(x)
    zero = r == 0
    return _t().where(zero, _t().zeros_like(x), x / _t().where(zero, _t().ones_like(r), r))


def iscomplexobj(x) -> bool:
    return x.is_complex() if isinstance(x, Tensor) else bool(np.iscomplexobj(x))


def conj(x):
    return _t().conj(x) if isinstance(x, Tensor) else np.conj(x)


def real(x):
    return _t().real(x) if isinstance(x, Tensor) else np.real(x)


conjugate = conj


def _binary(fn):
    def op(a, b):
        if not isinstance(a, Tensor):
            a = _ten(a) if hasattr(a, "shape") else a
        if not isinstance(b, Tensor):
            b = _ten(b) if hasattr(b, "shape") else b
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            return _ten(fn(np.asarray(a), b))
        return fn(a, b)

    return op


add = _binary(lambda a, b: a + b)
subtract = _binary(lambda a, b: a - b)
multiply = _binary(lambda a, b: a * b)
divide = true_divide = _binary(lambda a, b: a / b)
power = _binary(lambda a, b: a ** b)
arctan2 = _binary(lambda a, b: _t().atan2(_ten(a), _ten(b, a if isinstance(a, Tensor) else None)))
logical_and = _binary(lambda a, b: _t().logical_and(_ten(a), _ten(b)))
logical_or = _binary(lambda a, b: _t().logical_or(_ten(a), _ten(b)))
floor_divide = _binary(lambda a, b: _t().div(_ten(a), b, rounding_mode="floor"))  # zero gradients, as torch
greater = _binary(lambda a, b: a > b)
less = _binary(lambda a, b: a < b)
equal = _binary(lambda a, b: a == b)


def maximum(a, b) -> Tensor:
    like = a if isinstance(a, Tensor) else b
    return _t().maximum(_ten(a, like), _ten(b, like))


def minimum(a, b) -> Tensor:
    like = a if isinstance(a, Tensor) else b
    return _t().minimum(_ten(a, like), _ten(b, like))


def where(cond, a, b) -> Tensor:
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    c = _ten(cond)
    if c._data.dtype != np.bool_:
        c = c != 0
    if like is None:
        return _t().where(c, _ten(a), _ten(b))
    a = a if isinstance(a, (Tensor, int, float, bool)) else _ten(a)
    b = b if isinstance(b, (Tensor, int, float, bool)) else _ten(b)
    return _t().where(c, a, b)


def clip(x, lo, hi) -> Tensor:
    return _t().clamp(_ten(x), lo, hi)


# --- reductions ------------------------------------------------------------------------------------

def sum(x, axis=None, keepdims: bool = False, dtype=None) -> Tensor:  # noqa: A001
    x = _ten(x)
    dims = _dims(axis)
    if dims == ():
        return x
    return _t().sum(x, dim=dims, keepdim=keepdims, dtype=_nnbox_dtype(dtype))


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    dims = _dims(axis)
    return _t().mean(_ten(x), dim=dims, keepdim=keepdims)


def prod(x, axis=None, keepdims: bool = False) -> Tensor:
    x = _ten(x)
    if axis is None:
        return _t().prod(x)
    return _t().prod(x, dim=axis, keepdim=keepdims)


def amax(x, axis=None, keepdims: bool = False) -> Tensor:
    return _t().amax(_ten(x), dim=() if axis is None else _dims(axis), keepdim=keepdims)


def amin(x, axis=None, keepdims: bool = False) -> Tensor:
    return _t().amin(_ten(x), dim=() if axis is None else _dims(axis), keepdim=keepdims)


max, min = amax, amin  # noqa: A001


def cumsum(x, axis=None) -> Tensor:
    x = _ten(x)
    if axis is None:
        return _t().cumsum(x.reshape(-1), 0)
    return _t().cumsum(x, axis)


def cumprod(x, axis=None) -> Tensor:
    x = _ten(x)
    if axis is None:
        return _t().cumprod(x.reshape(-1), 0)
    return _t().cumprod(x, axis)


def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Indices (no graph), as NumPy's ``argmax``; bool inputs count True as the maximum."""
    x = _ten(x)
    if x._data.dtype == np.bool_:
        x = x.to(_dt.uint8)
    return _t().argmax(x, dim=axis, keepdim=keepdims)


def any(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _t().any(_ten(x), dim=axis, keepdim=keepdims) if axis is not None else _t().any(_ten(x))


def all(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _t().all(_ten(x), dim=axis, keepdim=keepdims) if axis is not None else _t().all(_ten(x))


# --- shape -----------------------------------------------------------------------------------------

def reshape(x, shape) -> Tensor:
    return _ten(x).reshape(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))


def transpose(x, axes=None) -> Tensor:
    x = _ten(x)
    if axes is None:
        axes = tuple(range(x.ndim - 1, -1, -1))
    return x.permute(*axes)


def swapaxes(x, a: int, b: int) -> Tensor:
    return _ten(x).transpose(a, b)


def moveaxis(x, source, destination) -> Tensor:
    return _t().movedim(_ten(x), source, destination)


def expand_dims(x, axis) -> Tensor:
    x = _ten(x)
    for a in sorted(axis if isinstance(axis, (tuple, list)) else (axis,)):
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None) -> Tensor:
    x = _ten(x)
    if axis is None:
        return x.squeeze()
    for a in sorted(axis if isinstance(axis, (tuple, list)) else (axis,), reverse=True):
        x = x.squeeze(a)
    return x


def broadcast_to(x, shape) -> Tensor:
    return _ten(x).expand(*shape)


def concatenate(xs, axis: int = 0) -> Tensor:
    return _t().cat([_ten(x) for x in xs], dim=axis)


def stack(xs, axis: int = 0) -> Tensor:
    return _t().stack([_ten(x) for x in xs], dim=axis)


def flip(x, axis=None) -> Tensor:
    x = _ten(x)
    dims = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    return _t().flip(x, dims)


def split(x, indices, axis: int = 0) -> list:
    """NumPy's split at the given indices (a list of boundaries), as views of ``x``."""
    x = _ten(x)
    n = x.shape[axis]
    bounds = [0, *(builtins_min(int(i), n) for i in indices), n]
    return [_t().narrow(x, axis, a, builtins_max(b - a, 0)) for a, b in zip(bounds, bounds[1:])]


def roll(x, shift, axis=None) -> Tensor:
    return _t().roll(_ten(x), shift, axis)


def take_along_axis(x, indices, axis: int) -> Tensor:
    idx = _ten(indices)
    return _t().gather(_ten(x), axis, idx.long() if idx._data.dtype != np.int64 else idx)


def tril(x, k: int = 0) -> Tensor:
    return _t().tril(_ten(x), k)


def triu(x, k: int = 0) -> Tensor:
    return _t().triu(_ten(x), k)


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return _t().diagonal(_ten(x), offset, axis1, axis2)


def pad(x, pad_width, mode: str = "constant", constant_values=0) -> Tensor:
    """Constant padding only (``pad_width`` as NumPy's per-axis ``(before, after)`` pairs)."""
    if mode != "constant":
        raise NotImplementedError(f"the Tensor namespace pads with mode='constant' only, not {mode!r}")
    x = _ten(x)
    flat = []
    for before, after in reversed([tuple(p) for p in pad_width]):
        flat += [before, after]
    return _t().nn.functional.pad(x, flat, value=constant_values)


# --- linear algebra --------------------------------------------------------------------------------

def matmul(a, b) -> Tensor:
    return _t().matmul(_ten(a), _ten(b))


def einsum(eq: str, *operands, optimize=False) -> Tensor:  # optimize: nnbox's einsum picks its own order
    return _t().einsum(eq, *[_ten(o) for o in operands])


def tensordot(a, b, axes=2) -> Tensor:
    return _t().tensordot(_ten(a), _ten(b), dims=axes)


def outer(a, b) -> Tensor:
    return _t().outer(_ten(a).reshape(-1), _ten(b).reshape(-1))


def dot(a, b) -> Tensor:
    a, b = _ten(a), _ten(b)
    if a.ndim == 1 and b.ndim == 1:
        return _t().dot(a, b)
    return _t().matmul(a, b)


_self = __import__(__name__, fromlist=["_"])
register_namespace(Tensor, _self)
register_namespace("tensor", _self)  # Tensor subclasses (Parameter)
