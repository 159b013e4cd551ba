"""``nn.Parameter``, ``nn.Buffer`` and ``nn.UninitializedParameter``.

A ``Parameter`` is a Tensor that a ``Module`` registers as a learnable weight when it is assigned
as an attribute.  It shares its array (and version counter) with the tensor it was made from, as
torch's does, so ``Parameter(t)`` is not a copy.
"""
from __future__ import annotations

import weakref

import numpy as np

from .._backend import dtype as _dt
from .._tensor import Tensor, _init, _new

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A Tensor that is a module parameter; ``requires_grad=True`` by default.

    >>> import nnbox
    >>> nnbox.nn.Parameter(nnbox.tensor([1.0, 2.0]))
    Parameter containing:
    tensor([1., 2.], requires_grad=True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            arr = np.empty((0,), dtype=_dt.get_default_dtype().np)
            vc = [0]
        elif isinstance(data, Tensor):
            arr, vc = data._data, data._vc
        else:
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        if requires_grad and arr.dtype.kind not in "fcV":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        p = _new(cls)
        _init(p, arr, bool(requires_grad))
        p._vc = vc  # same storage as ``data``: same version counter
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ would rebuild the array)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (``LazyLinear``'s weight before the first call).

    ``materialize(shape)`` turns it into an ordinary ``Parameter`` in place.
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        p = _new(cls)
        dt = (_dt.get_default_dtype() if dtype is None else dtype).np
        _init(p, np.empty((0,), dtype=dt), bool(requires_grad))
        p.__dict__["_lazy_device"] = device
        return p

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the parameter its shape (values are uninitialised: the owner's init fills them)."""
        from .._backend.device import as_device, xp_for

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dev = as_device(device if device is not None else self.__dict__.get("_lazy_device"))
        dt = self._data.dtype if dtype is None else _dt.to_numpy_dtype(dtype)
        self._data = xp_for(dev).zeros(shape, dtype=dt)
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _uninit_error(self, *args, **kwargs):
        raise ValueError(
            "Attempted to use an uninitialized parameter in <method>. This error happens when you "
            "are using a `LazyModule` or explicitly manipulating `torch.nn.parameter.Uninitialized"
            "Parameter` objects. When using LazyModules Call `forward` with a dummy batch to "
            "initialize the parameters before calling torch functions"
        )

    shape = property(_uninit_error)
    numel = size = _uninit_error


class _MaterializedBuffer(Tensor):
    """What an ``UninitializedBuffer`` becomes: a Tensor (Python can only switch ``__class__``
    between classes with the same layout, and plain ``Tensor`` has no ``__dict__``)."""


class UninitializedBuffer(UninitializedParameter):
    """A buffer whose shape is not known yet (lazy modules' running statistics)."""

    cls_to_become = _MaterializedBuffer

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        return super().__new__(cls, requires_grad, device, dtype)


# --- Buffer ---------------------------------------------------------------------------------------
# torch's ``nn.Buffer(t)`` *is* a plain Tensor flagged as a buffer, so ``type(b) is Tensor``.  Plain
# Tensors have no __dict__ here (slots), so the flag lives in a weak table keyed by identity.
_buffer_flags: weakref.WeakValueDictionary[int, Tensor] = weakref.WeakValueDictionary()
_buffer_persistent: dict[int, bool] = {}


class _BufferMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and _buffer_flags.get(id(obj)) is obj


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor as a buffer: assigning it to a module attribute registers it.

    >>> import nnbox
    >>> m = nnbox.nn.Module()
    >>> m.running = nnbox.nn.Buffer(nnbox.zeros(2), persistent=False)
    >>> list(m.named_buffers()), list(m.state_dict())
    ([('running', tensor([0., 0.]))], [])
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            data = Tensor._make(np.empty((0,), dtype=_dt.get_default_dtype().np))
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): argument 'data' must be Tensor, not {type(data).__name__}")
        t = Tensor._make(data._data, data._rg)
        t._vc = data._vc
        _buffer_flags[id(t)] = t
        _buffer_persistent[id(t)] = bool(persistent)
        weakref.finalize(t, _buffer_persistent.pop, id(t), None)
        return t


def buffer_persistent(t: Tensor) -> bool:
    """The ``persistent`` flag a tensor got from ``nn.Buffer`` (True for any other tensor)."""
    return _buffer_persistent.get(id(t), True)


def is_lazy(param) -> bool:
    return isinstance(param, UninitializedParameter)
