"""Tensor factories: ``tensor``, ``zeros``/``ones``/``full``/``empty`` (+ ``_like``), ranges,
``eye``, and the random ones (``rand``, ``randn``, ``randint``, ``randperm``, ``normal`` ...)."""
from __future__ import annotations

import contextlib
import numbers

import numpy as np

from .._backend import dtype as _dt
from .._backend import random as _rnd
from .._backend.device import CPU, as_device, move
from .._tensor import Tensor
from ..autograd.function import Function
from ._util import not_implemented, sizes, xp_of


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dt.to_numpy_dtype(dtype)


def _finish(arr, device, requires_grad: bool) -> Tensor:
    # device None means the default device (cpu unless nnbox.set_default_device changed it)
    dev = as_device(device)
    if dev.type != "cpu":
        arr = move(arr, dev)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _plain(data):
    """Nested lists/tuples that may hold Tensors or NumPy scalars -> plain Python values."""
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_plain(x) for x in data]
    if isinstance(data, np.generic):
        return data.item()
    return data


def _has_tensor(data) -> bool:
    if isinstance(data, Tensor):
        return True
    if isinstance(data, (list, tuple)) and data:
        return any(_has_tensor(x) for x in data)
    return False


def _infer_array(data):
    """``data`` as an array with torch's dtype inference (floats -> default dtype)."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, as torch does
        return np.asarray(data)
    if _has_tensor(data):
        data = _plain(data)
    if isinstance(data, (bool, np.bool_)):
        return np.asarray(data, dtype=np.bool_)
    try:
        arr = np.array(data)
    except ValueError as e:
        raise ValueError(f"expected sequence of equal-length lists: {e}") from None
    if arr.dtype == np.float64:
        arr = arr.astype(_dt.get_default_dtype().np)
    elif arr.dtype == np.complex128:
        arr = arr.astype(np.complex64)
    elif arr.dtype.kind in "USV" or arr.dtype == object:
        _raise_bad_data(data)
    elif arr.dtype.kind == "i" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    return arr


_NUMBER = (bool, int, float, complex, np.bool_, np.number)


def _leaves(data):
    if isinstance(data, (list, tuple)):
        for x in data:
            yield from _leaves(x)
    else:
        yield data


def _raise_bad_data(data) -> None:
    """torch's error for data that holds something other than numbers: a string where a number's
    dimension was expected is ValueError (``tensor(['a'])``), a string or bytes among numbers is
    TypeError, anything else (None, dict, object) is RuntimeError naming its type."""
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, str) and first is not data:
        raise ValueError("too many dimensions 'str'")
    bad = next((x for x in _leaves(data) if not isinstance(x, _NUMBER)), data)
    if isinstance(bad, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(bad).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(bad).__name__}")


def _from_data(data, dtype, device) -> Tensor:
    if hasattr(data, "__cuda_array_interface__") and not isinstance(data, Tensor):
        from .._backend.device import require_cupy

        cp = require_cupy()
        arr = cp.array(data, dtype=_np_dtype(dtype, None))
        return _finish(arr, device, False)
    if isinstance(data, Tensor):
        arr = data._data.copy()
        if device is None and not data.is_cpu:
            device = data.device
    else:
        arr = _infer_array(data)
        if (arr.dtype == _dt.get_default_dtype().np != _np_dtype(dtype, arr.dtype)
                and not isinstance(data, (np.ndarray, np.generic))):
            # Python floats were rounded to the default dtype: parse them again in the one asked for
            arr = np.array(_plain(data) if _has_tensor(data) else data, dtype=_np_dtype(dtype))
        if isinstance(data, np.ndarray):
            _dt.from_numpy_dtype(arr.dtype)  # rejects unsupported dtypes with torch's message
            arr = arr.copy()
    nd = _np_dtype(dtype, None)
    if nd is not None and arr.dtype != nd:
        arr = arr.astype(nd)
    if type(arr) is np.ndarray and not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return _finish(arr, device, False)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor copied from ``data`` (nested lists, numbers, NumPy arrays, tensors).

    >>> import nnbox
    >>> nnbox.tensor([[1, 2], [3, 4]], dtype=nnbox.float32)
    tensor([[1., 2.],
            [3., 4.]])
    """
    t = _from_data(data, dtype, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array / tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype is not None or device is not None) else data
    if isinstance(data, np.ndarray) and as_device(device) == CPU:
        _dt.from_numpy_dtype(data.dtype)
        nd = _np_dtype(dtype, data.dtype)
        return Tensor._make(data if data.dtype == nd else data.astype(nd))
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray``.

    >>> import numpy as np, nnbox
    >>> a = np.zeros(2); t = nnbox.from_numpy(a); a[0] = 5; t
    tensor([5., 0.], dtype=torch.float64)
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dt.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


_MAX_BYTES = (1 << 63) - 1


def check_new_shape(shape, itemsize: int) -> None:
    """torch's RuntimeErrors for a tensor that can't exist: a negative dimension, or more bytes
    than an int64 counts (NumPy would say ValueError)."""
    if any(s < 0 for s in shape):
        bad = next(s for s in shape if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(shape)}")
    nbytes = itemsize
    for s in shape:
        nbytes *= s
    if nbytes > _MAX_BYTES:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")


@contextlib.contextmanager
def alloc_errors(shape, itemsize: int, dev=CPU):
    """NumPy's MemoryError as torch's RuntimeError from its CPU allocator; CuPy's OutOfMemoryError
    (a MemoryError too) as torch's ``OutOfMemoryError`` on a GPU."""
    try:
        yield
    except MemoryError:
        nbytes = itemsize
        for s in shape:
            nbytes *= s
        if dev.type == "cuda":
            from ..cuda.memory import out_of_memory

            raise out_of_memory(nbytes, dev.index or 0) from None
        raise RuntimeError(
            f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
            f"you tried to allocate {nbytes} bytes. Error code 12 (Cannot allocate memory)"
        ) from None


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    """A tensor of zeros (default dtype unless ``dtype`` is given).

    >>> import nnbox
    >>> nnbox.zeros(2)
    tensor([0., 0.])
    """
    return full(sizes(size), 0, dtype=dtype or _dt.get_default_dtype(), device=device, requires_grad=requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False, memory_format=None) -> Tensor:
    """A tensor of ones.

    >>> import nnbox
    >>> nnbox.ones(2, dtype=nnbox.int64)
    tensor([1, 1])
    """
    return full(sizes(size), 1, dtype=dtype or _dt.get_default_dtype(), device=device, requires_grad=requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    """An "uninitialised" tensor; nnbox zero-fills it, which costs the same and hides no bugs."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; dtype inferred from the value as torch does."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dt.bool
        elif isinstance(fill_value, numbers.Integral):
            dtype = _dt.int64
        elif isinstance(fill_value, complex):
            dtype = _dt.complex64
        else:
            dtype = _dt.get_default_dtype()
    shape = sizes((size,)) if not isinstance(size, int) else (size,)
    nd = _dt.to_numpy_dtype(dtype)
    check_new_shape(shape, nd.itemsize)
    dev = as_device(device)
    if dev.type == "cpu":
        with alloc_errors(shape, nd.itemsize):
            return _finish(np.full(shape, fill_value, dtype=nd), dev, requires_grad)
    from .._backend.device import require_cupy

    cp = require_cupy()
    with cp.cuda.Device(dev.index or 0), alloc_errors(shape, nd.itemsize, dev):
        return _finish(cp.full(shape, fill_value, dtype=nd), dev, requires_grad)


def _like(fill):
    def fn(input: Tensor, *, dtype=None, layout=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
        return full(input._data.shape, fill, dtype=dtype or input.dtype, device=device or input.device,
                    requires_grad=requires_grad)

    return fn


zeros_like = _like(0)
ones_like = _like(1)
empty_like = zeros_like


def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return full(input._data.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments.

    >>> import nnbox
    >>> nnbox.arange(3)
    tensor([0, 1, 2])
    """
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        nd = np.dtype(np.int64) if ints else _dt.get_default_dtype().np
    else:
        nd = _dt.to_numpy_dtype(dtype)
    n = int(np.ceil((end - start) / step))
    arr = (start + np.arange(n, dtype=np.float64 if nd.kind in "fV" else np.int64) * step).astype(nd)
    return _finish(arr, device, requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    n = int(np.floor((end - start) / step)) + 1
    nd = _np_dtype(dtype, _dt.get_default_dtype().np)
    return _finish((start + np.arange(n) * step).astype(nd), device, requires_grad)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    nd = _np_dtype(dtype, _dt.get_default_dtype().np)
    start, end = _num(start), _num(end)
    # torch computes in the output's float type: step = (end - start) / (steps - 1), the first half
    # as start + step * i and the second as end - step * (steps - 1 - i), each a fused multiply-add;
    # doing the same keeps the last bit equal (linspace(-1, 1, 25)[12] is -2.98e-08, not 0).
    low = nd == np.float16 or nd.kind == "V"  # float16 or bfloat16
    ct = nd if nd.kind == "f" and not low else np.dtype(np.float32 if low else np.float64)
    if nd.kind in "iub":
        start, end = int(start), int(end)
    elif low:  # the ends are rounded to half first; the arithmetic runs in float32
        start, end = np.float32(nd.type(start)), np.float32(nd.type(end))
    s, e = ct.type(start), ct.type(end)
    step = (e - s) / ct.type(steps - 1) if steps > 1 else ct.type(0)
    if nd.kind == "V":  # torch's bfloat16 kernel holds the step in bfloat16
        step = ct.type(nd.type(step))
    i = np.arange(steps, dtype=np.float64)
    half = steps // 2 if steps > 1 else 1  # a single step is ``start``
    fwd = _fma(np.float64(step), i, np.float64(s), ct)
    bwd = _fma(-np.float64(step), steps - 1 - i, np.float64(e), ct)
    arr = np.where(i < half, fwd, bwd).astype(ct)
    return _finish(arr.astype(nd), device, requires_grad)


def _fma(x, y, z, ct):
    """``x * y + z`` rounded once to ``ct``, as a fused multiply-add (vectorised over ``y``).

    float32 operands: the float64 product is exact, so one float64 sum is enough.  float64: Dekker's
    error-free product and Knuth's two-sum recover the rounding errors.
    """
    if ct == np.float32:
        return x * y + z
    p = x * y
    split = 134217729.0  # 2**27 + 1
    def halves(v):
        t = split * v
        hi = t - (t - v)
        return hi, v - hi
    xh, xl = halves(x)
    yh, yl = halves(y)
    perr = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    s_ = p + z
    bb = s_ - p
    serr = (p - (s_ - bb)) + (z - bb)
    return s_ + (serr + perr)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    nd = _np_dtype(dtype, _dt.get_default_dtype().np)
    arr = np.power(base, linspace(start, end, steps, dtype=_dt.float64, device="cpu")._data).astype(nd)
    return _finish(arr, device, requires_grad)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    nd = _np_dtype(dtype, _dt.get_default_dtype().np)
    return _finish(np.eye(n, m, dtype=nd), device, requires_grad)


# --- random ------------------------------------------------------------------------------------------

def _float_dtype(dtype, kernel: str):
    nd = _np_dtype(dtype, _dt.get_default_dtype().np)
    if nd.kind not in "fV":
        raise not_implemented(kernel, nd)
    return nd


def _dev(device, generator):
    return as_device(device) if device is not None else (generator.device if generator is not None else as_device(None))


def _shape(size) -> tuple:
    return sizes((size,)) if not isinstance(size, int) else (size,)


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1), torch's stream on the CPU.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.rand(3)
    tensor([0.4963, 0.7682, 0.0885])
    """
    nd = _float_dtype(dtype, "check_uniform_bounds")
    dev = _dev(device, generator)
    arr = _rnd.draw_uniform(dev, generator, sizes(size), nd)
    return _finish(arr, dev, requires_grad)


_REAL_OF_COMPLEX = {"complex64": "float32", "complex128": "float64"}


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal samples, torch's stream on the CPU (complex dtypes: real and imaginary parts
    each N(0, 1/2), as torch).

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.randn(3)
    tensor([ 1.5410, -0.2934, -2.1788])
    """
    if dtype is not None and _dt.to_numpy_dtype(dtype).kind == "c":
        parts = randn(*sizes(size), 2, generator=generator, dtype=_REAL_OF_COMPLEX[_dt.to_numpy_dtype(dtype).name],
                      device=device)
        arr = (parts._data * np.sqrt(0.5).astype(parts._data.dtype)).view(_dt.to_numpy_dtype(dtype))[..., 0]
        return _finish(arr, parts.device, requires_grad)
    nd = _float_dtype(dtype, "normal_kernel_cpu")
    dev = _dev(device, generator)
    arr = _rnd.draw_normal(dev, generator, sizes(size), nd)
    return _finish(arr, dev, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high); int64 by default.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.randint(10, (4,))
    tensor([4, 9, 3, 0])
    """
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    nd = _np_dtype(dtype, np.dtype(np.int64))
    dev = _dev(device, generator)
    arr = _rnd.draw_integers(dev, generator, _shape(size), int(low), int(high)).astype(nd)
    return _finish(arr, dev, requires_grad)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64), torch's on the CPU.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.randperm(5)
    tensor([4, 0, 1, 3, 2])
    """
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    nd = _np_dtype(dtype, np.dtype(np.int64))
    dev = _dev(device, generator)
    if dev.type == "cpu":
        arr = _rnd.cpu_generator(generator).permutation(int(n))
    else:
        # CuPy's Generator has no permutation(): the ranks of n uniform draws are a uniform permutation
        arr = _rnd.generator_for(dev, generator).random(int(n)).argsort()
    return _finish(arr.astype(nd), dev, requires_grad)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return rand(input._data.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return randn(input._data.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` or elementwise with tensor ``mean``/``std``.

    With tensors, torch fills the broadcast shape with ``normal_(0, std)`` and adds ``mean``
    when ``std`` is a number, else with ``normal_(0, 1)`` then ``* std + mean`` (each step
    rounded in the tensor's dtype), so the stream is that of ``randn`` of that shape.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.normal(2.0, 3.0, (2,))
    tensor([6.6230, 1.1197])
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        if bool((s < 0).any()) if isinstance(s, type(ref._data)) else s < 0:
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
        dt = ref._data.dtype
        if isinstance(std, Tensor):
            out = _rnd.draw_normal(ref.device, generator, shape, dt) * s
        else:
            out = _rnd.draw_normal(ref.device, generator, shape, dt, 0.0, s)
        return Tensor._make((out + m).astype(dt, copy=False))
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    nd = _float_dtype(dtype, "normal_kernel_cpu")
    dev = _dev(device, generator)
    arr = _rnd.draw_normal(dev, generator, _shape(size), nd, mean, std)
    return _finish(arr, dev, requires_grad)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or a constant ``p``).

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.bernoulli(nnbox.full((4,), 0.5))
    tensor([1., 0., 1., 1.])
    """
    if p is None:
        probs = input._data
        if probs.size and ((probs < 0) | (probs > 1)).any():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                               "message be improved?  If so, please report it at "
                               "https://github.com/pytorch/pytorch/issues.)")
        keep = _rnd.draw_bernoulli_probs(input.device, generator, probs)
    else:
        keep = _rnd.draw_bernoulli(input.device, generator, input._data.shape, float(p))
    return Tensor._make(keep.astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices sampled from the (unnormalised) rows of ``input``."""
    from .sampling import multinomial as _multinomial

    return _multinomial(input, num_samples, replacement, generator=generator)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rates ``input``."""
    from .sampling import poisson as _poisson

    return _poisson(input, generator=generator)


# --- diagonals -----------------------------------------------------------------------------------

class _DiagEmbed(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, v, k):
        ctx.k = k
        return xp_of(v).diag(v, k)

    @staticmethod
    def backward(ctx, grad):
        return _Diagonal.run(grad, ctx.k), None


class _Diagonal(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, k):
        xp = xp_of(a)
        out = xp.diagonal(a, k).copy()
        n = out.shape[0]
        ctx.shape, ctx.key = a.shape, (xp.arange(n) + max(-k, 0), xp.arange(n) + max(k, 0))
        return out

    @staticmethod
    def backward(ctx, grad):
        from .index import PutZeros

        return PutZeros.run(grad, ctx.shape, ctx.key), None


def diag_embed(input: Tensor, offset: int = 0) -> Tensor:
    return _DiagEmbed.apply(input, offset)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    if input._data.ndim == 2 and (dim1, dim2) in ((0, 1), (-2, -1)):
        return _Diagonal.apply(input, offset)
    raise NotImplementedError("nnbox.diagonal supports 2-d inputs (dim1=0, dim2=1) only")


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    r, c = np.tril_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_np_dtype(dtype, np.dtype(np.int64))), device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    r, c = np.triu_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_np_dtype(dtype, np.dtype(np.int64))), device, False)


def meshgrid(*tensors, indexing: str = "ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = [t._data.shape[0] if t._data.ndim else 1 for t in tensors]
    out = []
    for i, t in enumerate(tensors):
        s = [1] * len(tensors)
        s[i] = -1
        out.append(t.reshape(s).expand(shape))
    if indexing == "xy" and len(tensors) >= 2:
        out = [o.transpose(0, 1) for o in out]
    return tuple(out)


Tensor.diagonal = diagonal
Tensor.diag_embed = diag_embed
