"""NumPy as the ``xp`` of op bodies and backward formulas, without the Python wrappers on its hot
functions.

A formula is written once against an array namespace (``xp.reshape(g, shape)``,
``xp.sum(g, axis=0)``) so that it runs on NumPy, CuPy and nnbox Tensors alike.  Many of NumPy's
module-level functions are Python wrappers around an ``ndarray`` method: ``np.reshape`` costs 0.6 us
against 0.1 us for ``a.reshape``, ``np.moveaxis`` 4 us, ``np.zeros_like``
1.5 us against 0.3 us for ``np.zeros``.  On the small tensors of a training step that is more than
the arithmetic, so ``xp_of(numpy_array)`` returns this module: everything NumPy has, with those
functions replaced by versions that call the method directly.  Each one takes the same arguments as
NumPy's (the subset the Tensor namespace ``nnbox.ops._tensor_xp`` also accepts), returns what NumPy
returns, and hands anything but a plain ``ndarray`` (a NumPy scalar, a list) to NumPy itself.

>>> import numpy as np
>>> from nnbox._backend import npx
>>> npx.sum(npx.reshape(np.arange(6.0), (2, 3)), axis=0)
array([3., 5., 7.])
"""
from __future__ import annotations

import numpy as np

globals().update({k: v for k, v in vars(np).items() if not k.startswith("__")})


_nd = np.ndarray


def __getattr__(name: str):  # NumPy's lazily loaded submodules and attributes
    return getattr(np, name)


def reshape(a, shape):
    return a.reshape(shape) if type(a) is _nd else np.reshape(a, shape)


def sum(a, axis=None, dtype=None, out=None, keepdims=False):  # noqa: A001
    if type(a) is _nd:
        return a.sum(axis, dtype, out, keepdims)
    return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    if type(a) is _nd:
        return a.mean(axis, dtype, out, keepdims)
    return np.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)


def cumsum(a, axis=None, dtype=None, out=None):
    return a.cumsum(axis, dtype, out) if type(a) is _nd else np.cumsum(a, axis, dtype, out)


def transpose(a, axes=None):
    return a.transpose(axes) if type(a) is _nd else np.transpose(a, axes)


def swapaxes(a, axis1: int, axis2: int):
    return a.swapaxes(axis1, axis2) if type(a) is _nd else np.swapaxes(a, axis1, axis2)


def squeeze(a, axis=None):
    return a.squeeze(axis) if type(a) is _nd else np.squeeze(a, axis)


def repeat(a, repeats, axis=None):
    return a.repeat(repeats, axis) if type(a) is _nd else np.repeat(a, repeats, axis)


def moveaxis(a, source, destination):
    if type(a) is _nd and type(source) is int and type(destination) is int:
        n = a.ndim
        if -n <= source < n and -n <= destination < n:
            order = list(range(n))
            order.insert(destination % n, order.pop(source % n))
            return a.transpose(order)
    return np.moveaxis(a, source, destination)  # sequences of axes, and NumPy's errors


def expand_dims(a, axis):
    if type(a) is _nd:
        axes = (axis,) if type(axis) is int else tuple(axis)
        n = a.ndim + len(axes)
        put = {x % n for x in axes if -n <= x < n}
        if len(put) == len(axes):
            dims = iter(a.shape)
            return a.reshape([1 if i in put else next(dims) for i in range(n)])
    return np.expand_dims(a, axis)  # NumPy's errors for repeated or out-of-range axes


def zeros_like(a, dtype=None, order="K", subok=True, shape=None):
    if type(a) is _nd and shape is None and order == "K":
        return np.zeros(a.shape, a.dtype if dtype is None else dtype)
    return np.zeros_like(a, dtype, order, subok, shape)


def ones_like(a, dtype=None, order="K", subok=True, shape=None):
    if type(a) is _nd and shape is None and order == "K":
        return np.ones(a.shape, a.dtype if dtype is None else dtype)
    return np.ones_like(a, dtype, order, subok, shape)


def empty_like(a, dtype=None, order="K", subok=True, shape=None):
    if type(a) is _nd and shape is None and order == "K":
        return np.empty(a.shape, a.dtype if dtype is None else dtype)
    return np.empty_like(a, dtype, order, subok, shape)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    if type(a) is _nd and shape is None and order == "K":
        return np.full(a.shape, fill_value, a.dtype if dtype is None else dtype)
    return np.full_like(a, fill_value, dtype, order, subok, shape)
