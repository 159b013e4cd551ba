"""The ``cupy`` namespace of the stand-in: the functions nnbox calls, each running NumPy on the
hidden buffers, with CuPy's argument rules (device arrays and scalars; NumPy arrays only where
CuPy takes host data: ``asarray``/``array``/``asnumpy``)."""
from __future__ import annotations

import types

import numpy as np

from . import _array, _cuda, _memory
from ._array import counters, htod, ndarray, unwrap, wrap


def _from_pickle(a: np.ndarray) -> ndarray:
    htod()
    return ndarray._wrap(np.array(a))


_SHAPE_FUNCS = {"split", "array_split", "transpose", "reshape", "moveaxis", "tile", "broadcast_to", "expand_dims",
                "squeeze", "swapaxes", "unravel_index", "repeat", "zeros", "ones", "empty", "full"}


def _func(name: str, sync: bool = False):
    fn = getattr(np, name)

    def f(*args, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            if type(out) is not ndarray:
                raise TypeError(f"out must be a cupy.ndarray, not {type(out).__name__}")
            kwargs["out"] = out._a
        if name in _SHAPE_FUNCS:
            args = tuple(_array._host_ints(a) for a in args)
        try:
            r = fn(*unwrap(args), **{k: (unwrap(v) if k != "out" else v) for k, v in kwargs.items()})
        except MemoryError as e:  # more than the device holds: CuPy's OutOfMemoryError
            pool = _memory._default_pool
            raise _memory.OutOfMemoryError(getattr(e, "_total_size", 0), pool.used_bytes()) from None
        if sync:  # the result's size depends on the data: CuPy reads a count back from the device
            counters["sync"] += 1
            _array._note("sync")
        return out if out is not None else wrap(r)

    f.__name__ = f.__qualname__ = name
    return f


class ufunc:
    """``cupy.ufunc``: callable, with ``reduce``/``accumulate``/``reduceat``/``outer``/``at``."""

    def __init__(self, u: np.ufunc):
        self._u = u
        self.__name__ = u.__name__
        self.nin, self.nout, self.nargs = u.nin, u.nout, u.nargs

    def __call__(self, *args, **kwargs):
        for a in args:
            if isinstance(a, (list, tuple)):
                raise TypeError(f"Unsupported type {type(a)}")
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = out._a if type(out) is ndarray else tuple(o._a for o in out)
        r = self._u(*unwrap(args), **{k: (unwrap(v) if k != "out" else v) for k, v in kwargs.items()})
        return out if out is not None else wrap(r)

    def _method(name):
        def m(self, *args, **kwargs):
            out = kwargs.get("out")
            if out is not None:
                kwargs["out"] = out._a
            r = getattr(self._u, name)(*unwrap(args), **{k: (unwrap(v) if k != "out" else v) for k, v in kwargs.items()})
            return out if out is not None else wrap(r)

        m.__name__ = name
        return m

    reduce = _method("reduce")
    accumulate = _method("accumulate")
    reduceat = _method("reduceat")
    outer = _method("outer")
    at = _method("at")

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


_UFUNCS = """add subtract multiply divide true_divide floor_divide power remainder mod fmod negative positive
absolute abs sign exp exp2 expm1 log log2 log10 log1p sqrt square cbrt reciprocal sin cos tan arcsin arccos
arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh floor ceil trunc rint maximum minimum fmax fmin
greater greater_equal less less_equal equal not_equal logical_and logical_or logical_xor logical_not
bitwise_and bitwise_or bitwise_xor invert left_shift right_shift isnan isinf isfinite signbit copysign
nextafter hypot logaddexp logaddexp2 heaviside deg2rad rad2deg conj conjugate frexp ldexp modf""".split()

_FUNCS = """zeros ones empty full arange eye identity linspace logspace indices tri zeros_like ones_like empty_like
full_like concatenate stack hstack vstack split array_split moveaxis swapaxes transpose reshape ravel expand_dims
squeeze broadcast_to broadcast_arrays flip fliplr flipud roll rot90 tile repeat take take_along_axis
put_along_axis where clip sum prod mean var std max min amax amin argmax argmin cumsum cumprod any all
einsum matmul dot tensordot vdot inner outer diagonal diag diagflat triu tril trace sort argsort searchsorted
bincount isclose allclose array_equal nan_to_num copyto pad atleast_1d atleast_2d atleast_3d around round
real imag count_nonzero histogram interp meshgrid unravel_index ravel_multi_index isneginf isposinf
result_type can_cast promote_types may_share_memory shares_memory asfortranarray angle iscomplexobj isrealobj
astype""".split()

_SYNC_FUNCS = "nonzero flatnonzero unique argwhere".split()  # data-dependent output sizes


def asarray(a, dtype=None, order=None, *, blocking=False):
    if type(a) is ndarray:
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    htod()
    return ndarray._wrap(np.array(unwrap(a) if isinstance(a, (list, tuple)) and _has_device(a) else a,
                                  dtype=dtype, order=order if order in ("C", "F") else "C", copy=True))


def _has_device(seq) -> bool:
    return any(type(i) is ndarray or (isinstance(i, (list, tuple)) and _has_device(i)) for i in seq)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if type(obj) is ndarray:
        r = np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return ndarray._wrap(r, obj._dev) if r is not obj._a else obj
    if isinstance(obj, (list, tuple)) and _has_device(obj):
        return ndarray._wrap(np.array(unwrap(obj), dtype=dtype, ndmin=ndmin))  # a device-side stack
    htod()
    return ndarray._wrap(np.array(obj, dtype=dtype, copy=True, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    r = np.ascontiguousarray(a._a, dtype=dtype)
    return a if r is a._a else ndarray._wrap(r, a._dev)


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if type(a) is ndarray:
        return a.get(out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return _module if any(type(a) is ndarray for a in args) else np


def get_default_memory_pool():
    return _memory._default_pool


def get_default_pinned_memory_pool():
    return _memory._pinned_pool


def fuse(*args, **kwargs):
    """``cupy.fuse``: one kernel for an elementwise function; here the function itself runs."""
    def deco(f):
        return f

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return deco(args[0])
    return deco


class ElementwiseKernel:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("the cupy stand-in does not compile CUDA kernels (ElementwiseKernel)")


# --- random ------------------------------------------------------------------------------------

class BitGenerator:
    def __init__(self, seed=None, *, size=-1):
        self._np = np.random.PCG64(np.random.SeedSequence(seed))


class XORWOW(BitGenerator):
    pass


class Philox4x3210(BitGenerator):
    pass


class MRG32k3a(BitGenerator):
    pass


class Generator:
    """``cupy.random.Generator``: CuPy's methods only (no ``permutation``/``shuffle``/``normal``)."""

    def __init__(self, bit_generator):
        self.bit_generator = bit_generator
        self._g = np.random.Generator(bit_generator._np)

    def _out(self, r, out):
        if out is not None:
            out._a[...] = r
            return out
        return ndarray._wrap(np.asarray(r))

    def random(self, size=None, dtype=np.float64, out=None):
        return self._out(self._g.random(size, dtype=dtype), out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._out(self._g.standard_normal(size, dtype=dtype), out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return self._out(self._g.uniform(low, high, size).astype(dtype), None)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._out(self._g.integers(low, high, size, dtype=dtype, endpoint=endpoint), None)

    def exponential(self, scale=1.0, size=None, dtype=np.float64):
        return self._out(self._g.exponential(scale, size).astype(dtype), None)

    def standard_exponential(self, size=None, dtype=np.float64, method="inv", out=None):
        return self._out(self._g.standard_exponential(size, dtype=dtype), out)

    def poisson(self, lam=1.0, size=None):
        return self._out(self._g.poisson(unwrap(lam), size), None)

    def binomial(self, n, p, size=None):
        return self._out(self._g.binomial(unwrap(n), unwrap(p), size), None)

    def gamma(self, shape, scale=1.0, size=None, dtype=np.float64):
        return self._out(self._g.gamma(unwrap(shape), scale, size).astype(dtype), None)

    def standard_gamma(self, shape, size=None, dtype=np.float64, out=None):
        return self._out(self._g.standard_gamma(unwrap(shape), size, dtype=dtype), out)


def default_rng(seed=None):
    return Generator(XORWOW(seed))


def _build_random():
    r = types.ModuleType("cupy.random")
    r.Generator, r.BitGenerator, r.XORWOW, r.Philox4x3210, r.MRG32k3a = (
        Generator, BitGenerator, XORWOW, Philox4x3210, MRG32k3a)
    r.default_rng = default_rng
    return r


def _build_linalg():
    lin = types.ModuleType("cupy.linalg")
    for n in "qr norm svd inv det slogdet solve eigh eigvalsh cholesky pinv lstsq matrix_power".split():
        g = getattr(np.linalg, n)

        def f(*args, _g=g, **kwargs):
            return wrap(_g(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))

        f.__name__ = n
        setattr(lin, n, f)
    lin.LinAlgError = np.linalg.LinAlgError
    return lin


def _build_fft():
    f = types.ModuleType("cupy.fft")
    for n in "fft ifft rfft irfft fft2 ifft2 rfft2 irfft2 fftn ifftn rfftn irfftn hfft ihfft fftfreq rfftfreq fftshift ifftshift".split():
        g = getattr(np.fft, n)

        def fn(*args, _g=g, **kwargs):
            return wrap(_g(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))

        fn.__name__ = n
        setattr(f, n, fn)
    return f


def _build_lib():
    lib = types.ModuleType("cupy.lib")
    st = types.ModuleType("cupy.lib.stride_tricks")

    def as_strided(x, shape=None, strides=None):
        if type(x) is not ndarray:
            raise TypeError(f"Unsupported type {type(x)}")
        return ndarray._wrap(np.lib.stride_tricks.as_strided(x._a, shape, strides), x._dev)

    def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
        if type(x) is not ndarray:
            raise TypeError(f"Unsupported type {type(x)}")
        return ndarray._wrap(np.lib.stride_tricks.sliding_window_view(x._a, window_shape, axis,
                                                                      writeable=writeable), x._dev)

    st.as_strided, st.sliding_window_view = as_strided, sliding_window_view
    lib.stride_tricks = st
    return lib, st


def build() -> types.ModuleType:
    global _module
    m = types.ModuleType("cupy")
    m.__file__ = __file__
    m.__version__ = "13.99.0+standin"
    m.__cupy_standin__ = True
    m.ndarray = ndarray
    m.ufunc = ufunc
    for n in _UFUNCS:
        if hasattr(np, n):
            setattr(m, n, ufunc(getattr(np, n)))
    for n in _FUNCS:
        if hasattr(np, n):
            setattr(m, n, _func(n))
    for n in _SYNC_FUNCS:
        setattr(m, n, _func(n, sync=True))
    for n in ("float16 float32 float64 complex64 complex128 int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
              "bool_ intp dtype finfo iinfo integer floating complexfloating signedinteger unsignedinteger "
              "number generic inf nan pi e newaxis ndim shape size issubdtype isscalar").split():
        setattr(m, n, getattr(np, n))
    m.asarray, m.array, m.ascontiguousarray, m.asnumpy = asarray, array, ascontiguousarray, asnumpy
    m.get_array_module = get_array_module
    m.get_default_memory_pool = get_default_memory_pool
    m.get_default_pinned_memory_pool = get_default_pinned_memory_pool
    m.fuse, m.ElementwiseKernel = fuse, ElementwiseKernel
    m.cuda = _cuda.build()
    m.random = _build_random()
    m.linalg = _build_linalg()
    m.fft = _build_fft()
    m.lib, _st = _build_lib()
    m.counters = counters
    _module = m
    return m


_module = None
counters.setdefault("sync", 0)
