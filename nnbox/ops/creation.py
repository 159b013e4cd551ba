"""Tensor factories: ``tensor``, ``zeros``/``ones``/``full``/``empty`` (+ ``_like``), ranges,
``eye``, and the random ones (``rand``, ``randn``, ``randint``, ``randperm``, ``normal`` ...)."""
from __future__ import annotations

import numbers

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import CPU, array_module, as_device, move
from .._backend.random import generator_for
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
    elif arr.dtype.kind in "US" or arr.dtype == object:
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'" if arr.dtype.kind in "US" else
                        "Could not infer dtype of " + type(data).__name__)
    elif arr.dtype.kind == "i" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    return arr


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
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    nd = _dt.to_numpy_dtype(dtype)
    dev = as_device(device)
    if dev.type == "cpu":
        return _finish(np.full(shape, fill_value, dtype=nd), dev, requires_grad)
    from .._backend.device import require_cupy

    cp = require_cupy()
    with cp.cuda.Device(dev.index or 0):
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
    arr = (start + np.arange(n, dtype=np.float64 if nd.kind == "f" else np.int64) * step).astype(nd)
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
    ct = nd if nd.kind == "f" and nd != np.float16 else np.dtype(np.float32 if nd == np.float16 else np.float64)
    if nd.kind in "iub":
        start, end = int(start), int(end)
    elif nd == np.float16:  # the ends are rounded to half first; the arithmetic runs in float32
        start, end = np.float16(start), np.float16(end)
    s, e = ct.type(start), ct.type(end)
    step = (e - s) / ct.type(steps - 1) if steps > 1 else ct.type(0)
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
    if nd.kind != "f":
        raise not_implemented(kernel, nd)
    return nd


def _gen(device, generator):
    dev = as_device(device) if device is not None else (generator.device if generator is not None else as_device(None))
    return dev, generator_for(dev, generator)


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    nd = _float_dtype(dtype, "check_uniform_bounds")
    dev, rng = _gen(device, generator)
    gen_dt = nd if nd in (np.float32, np.float64) else np.float32
    arr = rng.random(sizes(size), dtype=gen_dt).astype(nd, copy=False)
    return _finish(arr, dev, requires_grad)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal samples."""
    nd = _float_dtype(dtype, "normal_kernel_cpu")
    dev, rng = _gen(device, generator)
    gen_dt = nd if nd in (np.float32, np.float64) else np.float32
    arr = rng.standard_normal(sizes(size), dtype=gen_dt).astype(nd, copy=False)
    return _finish(arr, dev, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high); int64 by default."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    nd = _np_dtype(dtype, np.dtype(np.int64))
    dev, rng = _gen(device, generator)
    return _finish(rng.integers(low, high, size=sizes((size,)) if not isinstance(size, int) else (size,)).astype(nd), dev, requires_grad)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    nd = _np_dtype(dtype, np.dtype(np.int64))
    dev, rng = _gen(device, generator)
    if dev.type == "cpu":
        return _finish(rng.permutation(n).astype(nd), dev, requires_grad)
    # CuPy's Generator has no permutation(): the ranks of n uniform draws are a uniform permutation
    return _finish(array_module(rng.random(1)).argsort(rng.random(n)).astype(nd), dev, requires_grad)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return rand(input._data.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return randn(input._data.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` or elementwise with tensor ``mean``/``std``."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        if bool((s < 0).any()) if isinstance(s, type(ref._data)) else s < 0:
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
        rng = generator_for(ref.device, generator)
        z = rng.standard_normal(shape)
        return Tensor._make((m + s * z).astype(ref._data.dtype))
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    t = randn(sizes((size,)) if not isinstance(size, int) else (size,), generator=generator, dtype=dtype, device=device)
    t._data *= std
    t._data += mean
    if requires_grad:
        t.requires_grad_(True)
    return t


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or a constant ``p``)."""
    rng = generator_for(input.device, generator)
    prob = input._data if p is None else p
    return Tensor._make((rng.random(input._data.shape) < prob).astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices sampled from the (unnormalised) rows of ``input``.

    >>> import nnbox
    >>> nnbox.multinomial(nnbox.tensor([0.0, 1.0]), 3, replacement=True)
    tensor([1, 1, 1])
    """
    p = input._data.astype(np.float64)
    xp = array_module(p)  # written once for NumPy and CuPy: no per-row Python loop, no host copy
    if bool((p < 0).any()) or not bool(xp.isfinite(p).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rng = generator_for(input.device, generator)
    rows = p.reshape(-1, p.shape[-1])
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    s = rows.sum(axis=1, keepdims=True)
    if bool((s <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:
        # inverse CDF: a draw u picks the first category whose cumulative probability exceeds it
        cdf = xp.cumsum(rows / s, axis=1)
        u = rng.random((rows.shape[0], num_samples))
        res = (u[:, :, None] >= cdf[:, None, :]).sum(axis=2)
        res = xp.minimum(res, rows.shape[1] - 1)
    else:
        # sampling without replacement, weighted: exponential race (Gumbel top-k)
        keys = rng.exponential(size=rows.shape) / xp.where(rows > 0, rows, xp.nan)
        keys = xp.where(xp.isnan(keys), xp.inf, keys)
        res = xp.argsort(keys, axis=1)[:, :num_samples]
    return Tensor._make(res.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)))


def poisson(input: Tensor, generator=None) -> Tensor:
    rng = generator_for(input.device, generator)
    return Tensor._make(rng.poisson(input._data).astype(input._data.dtype))


# --- diagonals -----------------------------------------------------------------------------------

class _DiagEmbed(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, v, k):
        ctx.k = k
        return xp_of(v).diag(v, k)

    @staticmethod
    def backward(ctx, grad):
        return xp_of(grad).diagonal(grad, ctx.k).copy(), None


class _Diagonal(Function):
    _array_api = True

    @staticmethod
    def forward(ctx, a, k):
        ctx.k, ctx.shape = k, a.shape
        return xp_of(a).diagonal(a, k).copy()

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        n = grad.shape[0]
        rows = xp.arange(n) + max(-ctx.k, 0)
        cols = xp.arange(n) + max(ctx.k, 0)
        out[rows, cols] = grad
        return out, None


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
