"""The stand-in's ``cupy.ndarray``: a NumPy buffer behind a wall.

It is *not* a NumPy array and refuses every implicit conversion as CuPy does: ``np.asarray(x)``,
``np.array(x)`` and any NumPy function that converts its argument raise CuPy's ``TypeError``
(``__array__``); a NumPy ufunc or function called on it raises too. (Real CuPy forwards
``np.exp(x)`` to ``cupy.exp`` through ``__array_ufunc__``; the stand-in refuses it on purpose,
because nnbox's contract is that op bodies use ``xp``: a ``np.`` call on a device array is a
bug there even where CuPy happens to rescue it, and nowhere else will catch it.)

Explicit transfers (``get``, ``cupy.asnumpy``, ``item``, ``tolist``, ``float()`` …) work and are
counted in ``counters`` (device->host and host->device copies), so a test can assert that a
training step makes none. Results follow CuPy's documented differences from NumPy: reductions
and scalar indexing give 0-d arrays (never NumPy scalars); integer-array indices wrap around
instead of raising; ufuncs take device arrays and scalars, not NumPy arrays.
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np

from . import _memory

counters = {"dtoh": 0, "htod": 0}
_bases: weakref.WeakValueDictionary[int, ndarray] = weakref.WeakValueDictionary()

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
             "a NumPy array explicitly.")


trace: list | None = None  # set to [] to record where each copy happened (a debugging aid)


def _note(kind: str) -> None:
    if trace is not None:
        import traceback

        trace.append((kind, "".join(traceback.format_stack(limit=9)[:-2])))


def dtoh(n: int = 1) -> None:
    counters["dtoh"] += n
    _note("dtoh")


def htod(n: int = 1) -> None:
    counters["htod"] += n
    _note("htod")


class Device:
    """``cupy.cuda.Device``: the current device while used as a context manager."""

    _current = [0]

    def __init__(self, device=None):
        if isinstance(device, Device):
            device = device.id
        self.id = Device._current[0] if device is None else int(device)
        self._prev = []

    def __enter__(self):
        from . import _cuda

        if not 0 <= self.id < _cuda.device_count[0]:
            raise _cuda.CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
        self._prev.append(Device._current[0])
        Device._current[0] = self.id
        return self

    def __exit__(self, *exc):
        Device._current[0] = self._prev.pop()

    def use(self) -> None:
        Device._current[0] = self.id

    def synchronize(self) -> None:
        pass

    @property
    def compute_capability(self) -> str:
        return "90"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        f = a.flags
        self.c_contiguous, self.f_contiguous, self.owndata = f.c_contiguous, f.f_contiguous, f.owndata

    def __getitem__(self, key):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous, "OWNDATA": self.owndata}[key]


def _is_host_array(x) -> bool:
    return isinstance(x, np.ndarray)


def unwrap(x, what: str = "argument"):
    """A device array's buffer; scalars pass; NumPy arrays are refused as CuPy refuses them."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(i, what) for i in x)
    return x


def wrap(r, dev: int | None = None):
    """NumPy results -> device arrays (NumPy scalars become 0-d arrays, as CuPy returns)."""
    if isinstance(r, np.ndarray):
        return ndarray._wrap(r, dev)
    if isinstance(r, np.generic):
        return ndarray._wrap(np.asarray(r), dev)
    if isinstance(r, tuple):
        return tuple(wrap(i, dev) for i in r)
    if isinstance(r, list):
        return [wrap(i, dev) for i in r]
    return r


def _operand(x):
    if type(x) is ndarray:
        return x._a
    if isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    return NotImplemented


def _consumed(k) -> int:
    if k is None or k is Ellipsis:
        return 0
    if isinstance(k, (np.ndarray, ndarray)) and k.dtype == np.bool_:
        return k.ndim
    return 1


def _index(key, shape):
    """Index with device arrays unwrapped; integer-array indices wrap around (CuPy's rule)."""
    if not isinstance(key, tuple):
        key = (key,)
    out, dim = [], 0
    for i, k in enumerate(key):
        if k is Ellipsis:
            out.append(k)
            dim = len(shape) - sum(_consumed(kk) for kk in key[i + 1:])
            continue
        n = _consumed(k)
        if isinstance(k, (np.ndarray, list)):
            htod()  # a host index array is copied to the device first
            k = np.asarray(unwrap(k) if isinstance(k, list) else k)
        elif type(k) is ndarray:
            k = k._a
        if isinstance(k, np.ndarray) and k.dtype.kind in "iu" and dim < len(shape) and shape[dim] > 0:
            k = np.mod(k, shape[dim])
        out.append(k)
        dim += n
    return tuple(out)


_SHAPE_METHODS = {"reshape", "transpose", "swapaxes", "squeeze", "repeat"}


def _host_ints(v):
    """Shape/axes arguments: CuPy reads a host sequence of ints (a NumPy int array is one)."""
    if isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.ndim <= 1:
        return tuple(int(i) for i in v) if v.ndim else int(v)
    return v


class ndarray:
    """``cupy.ndarray`` over a private NumPy buffer (see the module docstring)."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        a = np.empty(shape, dtype=dtype, order=order)
        self._a = a
        self._dev = Device._current[0]
        _memory.adopt(a)

    @classmethod
    def _wrap(cls, a: np.ndarray, dev: int | None = None) -> ndarray:
        self = object.__new__(cls)
        self._a = a
        self._dev = Device._current[0] if dev is None else dev
        _memory.adopt(a)
        return self

    # --- refusals: the whole point ---------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # numpy scalar (op) device array reaches here through the scalar's operator: CuPy computes it
        if method == "__call__" and not kwargs and any(isinstance(i, np.generic) for i in inputs):
            from . import _namespace

            return getattr(_namespace._module, ufunc.__name__)(*inputs)
        raise TypeError(f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} called on a "
                        f"device array (cupy stand-in): use the array module of the input (xp) instead")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} called on a device array (cupy stand-in): use the array module "
                        f"of the input (xp) instead. " + _IMPLICIT)

    # --- attributes ---------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):  # CuPy reshapes in place, or raises when it would need a copy
        self._a.shape = _host_ints(value)

    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: ndarray._wrap(self._a.T, self._dev))
    mT = property(lambda self: ndarray._wrap(np.swapaxes(self._a, -1, -2), self._dev))

    @property
    def real(self):
        return ndarray._wrap(self._a.real, self._dev)

    @property
    def imag(self):
        return ndarray._wrap(self._a.imag, self._dev)

    @property
    def device(self) -> Device:
        return Device(self._dev)

    @property
    def base(self):
        # CuPy's .base is one object (the array that owns the memory): the same each time it is read
        if not isinstance(self._a.base, np.ndarray):
            return None
        r = _memory.root_of(self._a)
        w = _bases.get(id(r))
        if w is None or w._a is not r:
            w = _bases[id(r)] = ndarray._wrap(r, self._dev)
        return w

    @property
    def data(self) -> _memory.MemoryPointer:
        mp = _memory.adopt(self._a)
        r = _memory.root_of(self._a)
        off = (self._a.__array_interface__["data"][0] - r.__array_interface__["data"][0]) if self._a.size else 0
        return _memory.MemoryPointer(mp.ptr + off, mp.size, mp, self._dev)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.data.ptr, False),
                "version": 3, "strides": None if self._a.flags.c_contiguous else self.strides}

    # --- explicit transfers (counted) ---------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        dtoh()
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order="C" if order == "K" else order, copy=True)

    def set(self, arr, stream=None):
        htod()
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        self._a[...] = arr

    def item(self):
        dtoh()
        return self._a.item()

    def tolist(self):
        dtoh()
        return self._a.tolist()

    def tobytes(self, order="C"):
        dtoh()
        return self._a.tobytes(order)

    def _scalar(self, kind):
        if self._a.size != 1:
            raise TypeError("only size-1 arrays can be converted to Python scalars")
        dtoh()
        return kind(self._a.reshape(()).item())

    def __float__(self):
        return self._scalar(float)

    def __int__(self):
        return self._scalar(int)

    def __complex__(self):
        return self._scalar(complex)

    def __index__(self):
        if self._a.ndim != 0 or self.dtype.kind not in "iub":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return self._scalar(int)

    def __bool__(self):
        if self._a.size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()")
        return self._scalar(bool)

    def __repr__(self):
        dtoh()
        return repr(self._a)

    def __str__(self):
        dtoh()
        return str(self._a)

    def __format__(self, spec):
        dtoh()
        return self._a.__format__(spec)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __reduce__(self):  # pickling a cupy array goes through the host, as CuPy's does
        dtoh()
        from . import _namespace

        return (_namespace._from_pickle, (np.array(self._a),))

    def __dlpack__(self, stream=None):
        raise TypeError("dlpack export is not supported by the cupy stand-in")

    # --- indexing -----------------------------------------------------------------------------
    def __getitem__(self, key):
        return wrap(self._a[_index(key, self._a.shape)], self._dev)

    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray):
            htod()
            v = value
        elif isinstance(value, (list, tuple)):
            htod()
            v = np.asarray(unwrap(value))
        else:
            v = unwrap(value)
        self._a[_index(key, self._a.shape)] = v

    # --- methods delegated to the buffer --------------------------------------------------------
    def _m(name):
        def method(self, *args, **kwargs):
            if "out" in kwargs and kwargs["out"] is not None:
                out = kwargs["out"]
                kwargs["out"] = unwrap(out)
                getattr(self._a, name)(*unwrap(args), **kwargs)
                return out
            if name in _SHAPE_METHODS:
                args = tuple(_host_ints(a) for a in args)
            return wrap(getattr(self._a, name)(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}), self._dev)

        method.__name__ = name
        return method

    for _n in ("astype", "reshape", "transpose", "swapaxes", "ravel", "flatten", "squeeze", "sum", "mean",
               "max", "min", "argmax", "argmin", "prod", "cumsum", "cumprod", "all", "any", "clip", "view",
               "var", "std", "round", "conj", "conjugate", "nonzero", "repeat", "take", "dot", "diagonal",
               "argsort", "trace", "ptp", "put", "choose", "compress", "searchsorted", "partition", "argpartition"):
        locals()[_n] = _m(_n)
    del _n

    def copy(self, order="C"):
        return ndarray._wrap(self._a.copy(order=order), self._dev)

    def fill(self, value):
        self._a.fill(unwrap(value))

    def sort(self, axis=-1):
        self._a.sort(axis=axis)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # --- operators ----------------------------------------------------------------------------
    def _binop(op, reflected=False, inplace=False):
        fn = getattr(np, op)

        def method(self, other):
            o = _operand(other)
            if o is NotImplemented:
                return NotImplemented
            if inplace:
                fn(self._a, o, out=self._a)
                return self
            return wrap(fn(o, self._a) if reflected else fn(self._a, o), self._dev)

        return method

    for _name, _op in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                       ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("matmul", "matmul"),
                       ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                       ("lshift", "left_shift"), ("rshift", "right_shift")):
        locals()[f"__{_name}__"] = _binop(_op)
        locals()[f"__r{_name}__"] = _binop(_op, reflected=True)
        locals()[f"__i{_name}__"] = _binop(_op, inplace=True)
    for _name, _op in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                       ("eq", "equal"), ("ne", "not_equal")):
        locals()[f"__{_name}__"] = _binop(_op)
    del _name, _op
    __hash__ = None

    def __neg__(self):
        return wrap(np.negative(self._a), self._dev)

    def __pos__(self):
        return wrap(np.positive(self._a), self._dev)

    def __abs__(self):
        return wrap(np.abs(self._a), self._dev)

    def __invert__(self):
        return wrap(np.invert(self._a), self._dev)

    def __divmod__(self, other):
        return self.__floordiv__(other), self.__mod__(other)
