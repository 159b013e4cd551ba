"""``Tensor``: one array (NumPy or CuPy) plus what autograd needs to know about it.

Operations are attached as methods by the ``nnbox.ops`` modules that define them, so each op's
code lives in one place next to its backward.  This file holds state, conversion and autograd entry
points (``backward``, hooks, ``retain_grad``).
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from ._backend import dtype as _dt
from ._backend.device import CPU, device_of
from .autograd import grad_mode

_ndarray = np.ndarray
_new = object.__new__
_tuple_new = tuple.__new__


class Size(tuple):
    """A tensor's shape: a tuple of ints printed as ``torch.Size([2, 3])``.

    >>> import nnbox
    >>> nnbox.zeros(2, 3).shape
    torch.Size([2, 3])
    """

    __slots__ = ()

    def __new__(cls, seq=()):
        return tuple.__new__(cls, (int(s) for s in seq))

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(map(str, self))}])"

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))


class _TensorType(type):
    def __dir__(cls) -> list:  # the torch names nnbox lacks are class attributes too, but not "there"
        return [n for n in super().__dir__() if type(cls.__dict__.get(n)) is not _Unimplemented]


class _Unimplemented:
    """A ``torch.Tensor`` name nnbox lacks, as a class attribute of ``Tensor``: reading it raises
    "nnbox does not implement torch.Tensor.<name> yet" (with the nearest names nnbox has).

    Not ``Tensor.__getattr__``: on a class with ``__getattr__`` CPython cannot specialise attribute
    reads, and every ``t._data`` in every op would take twice as long."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj, cls=None):
        from ._missing import attribute_error

        ordinary = (f"type object 'Tensor' has no attribute '{self.name}'" if obj is None
                    else f"'Tensor' object has no attribute '{self.name}'")
        raise attribute_error("torch.Tensor", self.name, dir(Tensor), ordinary)


def _mark_unimplemented() -> None:
    """Give every public ``torch.Tensor`` name that ``Tensor`` still lacks an ``_Unimplemented``
    (called once every op module has attached its methods)."""
    from ._torch_tensor_names import TENSOR

    for name in TENSOR.split():
        if not name.startswith("_") and not hasattr(Tensor, name):
            setattr(Tensor, name, _Unimplemented(name))


class Tensor(metaclass=_TensorType):
    """A multi-dimensional array with autograd, as ``torch.Tensor``.

    >>> import nnbox
    >>> x = nnbox.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.]])
    """

    # _vv (views only, may be unset): the shared version when the view's grad_fn was made; an
    # in-place change of the base since then makes Function.apply re-derive the view's grad_fn
    __slots__ = ("_data", "_rg", "_grad", "grad_fn", "_out_nr", "_vc", "_base", "_hooks", "_vv", "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray op Tensor` to us

    def __dir__(self) -> list:
        return dir(type(self))

    def __init__(self, *args, device=None, dtype=None):
        # torch.Tensor(2, 3) -> uninitialised float tensor; torch.Tensor([1, 2]) -> float tensor
        from .ops.creation import _from_data

        dt = _dt.get_default_dtype() if dtype is None else dtype
        if len(args) == 1 and not isinstance(args[0], (int, Size)):
            src = _from_data(args[0], dt, device)
        else:  # sizes: Tensor(2, 3), Tensor(torch.Size([2, 3])); Tensor() is empty, shape (0,)
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else (args or (0,))
            src = _from_data(np.zeros(tuple(shape), dt.np), dt, device)
        _init(self, src._data)

    @staticmethod
    def _make(arr, requires_grad: bool = False) -> Tensor:
        t = _new(Tensor)
        t._data = arr
        t._rg = requires_grad
        t._grad = None
        t.grad_fn = None
        t._out_nr = 0
        t._vc = [0]
        t._base = None
        t._hooks = None
        return t

    # --- basic properties ---------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return _tuple_new(Size, self._data.shape)  # an array's shape is already a tuple of ints

    def size(self, dim: int | None = None):
        if dim is None:
            return _tuple_new(Size, self._data.shape)
        shape = self._data.shape
        if type(dim) is int and -len(shape) <= dim < len(shape):
            return shape[dim]
        from .ops._util import wrap_dim

        return shape[wrap_dim(dim, len(shape))]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        if type(self._data) is _ndarray:
            return CPU
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return type(self._data) is not _ndarray

    @property
    def is_cpu(self) -> bool:
        return type(self._data) is _ndarray

    def get_device(self) -> int:
        return -1 if type(self._data) is _ndarray else self.device.index

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind in "fV"  # V: bfloat16 (ml_dtypes)

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        if type(self._data) is _ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    @property
    def _version(self) -> int:
        return self._vc[0]

    # --- autograd state -----------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return
        if value and self._data.dtype.kind not in "fcV":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        if self._grad is None and self.grad_fn is not None and self._rg and not self.retains_grad:
            import warnings

            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the "
                ".grad field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
                "Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError("assigned grad has data of a different size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if value.device != self.device:
                raise RuntimeError("assigned grad has data located on a different device")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        n = self.grad_fn
        return n is not None and self._out_nr in n.__dict__.get("_retains", {})

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        n = self.grad_fn
        if n is None:
            return
        n.__dict__.setdefault("_retains", {})[self._out_nr] = weakref.ref(self)
        n._hooked = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new grad.

        >>> import nnbox
        >>> x = nnbox.ones(2, requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> x.sum().backward(); x.grad
        tensor([10., 10.])
        """
        from .utils.hooks import RemovableHandle

        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            hooks = self.grad_fn.__dict__.setdefault("_tensor_hooks", {}).setdefault(self._out_nr, {})
            self.grad_fn._hooked = True
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        # The common case (a scalar loss on the CPU, no options) goes straight to the engine's
        # plain walk; everything else (and every error message) goes through autograd.backward.
        if (gradient is None and inputs is None and not create_graph and self.grad_fn is not None
                and self._rg and type(self._data) is _ndarray and self._data.size == 1 and not _anomaly[0]):
            _engine.run_plain(self, bool(retain_graph))
            return
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        t = Tensor._make(self._data)
        t._vc = self._vc  # shares storage, so it shares the version counter
        t._base = self if self._base is None else self._base
        return t

    def detach_(self) -> Tensor:
        if self._base is not None and self._base._rg:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def data(self) -> Tensor:
        # torch's .data: same storage, no graph, and (unlike detach) its own version counter
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._data = value._data

    # --- conversion to Python / NumPy ---------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if type(self._data) is not _ndarray:
            if force:
                return self._data.get()
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                "tensor to host memory first."
            )
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self._data.dtype.kind == "V":  # bfloat16: NumPy has no such type (torch refuses too)
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        a = self._data if type(self._data) is _ndarray else self._data.get()
        return a.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def _scalar(self, kind: str):
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous" if kind == "bool"
                else "only one element tensors can be converted to Python scalars"
            )
        return self._data.item()

    def __bool__(self) -> bool:
        return bool(self._scalar("bool"))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    __hash__ = object.__hash__

    def __repr__(self, *, tensor_contents=None) -> str:
        from ._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self._data.item().__format__(spec)
        return object.__format__(self, spec)

    # --- copying and pickling -----------------------------------------------------------------
    def __reduce_ex__(self, proto):
        arr = self._data if type(self._data) is _ndarray else self._data.get()
        return (_rebuild, (type(self), arr, self._rg, str(self.device)))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the moment."
            )
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild_like(self, self._data.copy())
        if self._grad is not None:
            new._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = new
        return new

    # --- small helpers shared by methods ------------------------------------------------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        from .ops.creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def _new_filled(self, fill, size, dtype, device, requires_grad):
        from .ops.creation import full

        if len(size) == 1 and not isinstance(size[0], int):
            size = tuple(size[0])
        return full(size, fill, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_filled(0, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_filled(1, size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_filled(0, size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_filled(fill_value, (size,), dtype, device, requires_grad)


def _init(t: Tensor, arr, requires_grad: bool = False) -> None:
    t._data = arr
    t._rg = requires_grad
    t._grad = None
    t.grad_fn = None
    t._out_nr = 0
    t._vc = [0]
    t._base = None
    t._hooks = None


def _rebuild(cls, arr, requires_grad, device="cpu"):
    from ._backend.device import as_device, move

    t = _new(cls)
    _init(t, move(np.array(arr), as_device(device)) if device != "cpu" else arr, requires_grad)
    return t


def _rebuild_like(src: Tensor, arr) -> Tensor:
    t = _new(type(src))
    _init(t, arr, src._rg)
    if hasattr(src, "__dict__"):
        t.__dict__.update(src.__dict__)
    return t


def is_tensor(obj) -> bool:
    """True if ``obj`` is an nnbox Tensor (or Parameter)."""
    return isinstance(obj, Tensor)


_ = grad_mode

# Function.apply (every op's hot path) reads Tensor from a module global instead of importing it per
# call; autograd is imported before this module exists, so the binding is made here.
from . import autograd as _autograd  # noqa: E402
from .autograd import engine as _engine  # noqa: E402
from .autograd import function as _function  # noqa: E402
from .autograd.anomaly_mode import _anomaly  # noqa: E402

_function.Tensor = _engine.Tensor = Tensor
