"""Indexing ops: ``t[...]`` and ``t[...] = v``, gather/scatter, index_select, masked_fill, where,
sort/topk, nonzero, unique."""
from __future__ import annotations

import numpy as np

from .. import return_types
from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import Function
from ._util import add_at, cpp_type_name, named, result_dtype, shape_str, type_name, unbroadcast, wrap_dim, xp_of
from .convert import cast

# --- t[key] --------------------------------------------------------------------------------------


def _convert_key(key, xp):
    """Tensors and lists in an index become arrays; returns (key, is_basic)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    basic = True
    for k in key:
        if isinstance(k, Tensor):
            a = k._data
            if a.dtype.kind not in "biu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if a.dtype.kind == "u" and a.dtype != np.bool_:
                a = a.astype(bool)  # uint8 masks, as old torch
            if a.ndim == 0 and a.dtype.kind in "iu":
                out.append(int(a))
                continue
            out.append(a)
            basic = False
        elif isinstance(k, (list, np.ndarray)) or hasattr(k, "__cuda_array_interface__"):  # a kept device key
            a = xp.asarray(k)
            if a.dtype.kind in "fV":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(a)
            basic = False
        elif isinstance(k, bool):
            out.append(k)
            basic = False
        elif isinstance(k, (int, np.integer)):
            out.append(int(k))
        elif k is None or k is Ellipsis or isinstance(k, slice):
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(_slice_ints(k))
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
                f"(got {type(k).__name__})"
            )
    return tuple(out), basic


def _slice_ints(k):
    """A slice with 0-d Tensor bounds (``x[:n]``, ``n = t.sum()``) as one with ints; anything else as is."""
    if type(k) is slice and (isinstance(k.start, Tensor) or isinstance(k.stop, Tensor) or isinstance(k.step, Tensor)):
        return slice(*(int(v) if isinstance(v, Tensor) else v for v in (k.start, k.stop, k.step)))
    return k


def _basic_index_name(key: tuple) -> str:
    """torch's grad_fn name for basic indexing: an int selects, a None unsqueezes, else a slice."""
    name = "SliceBackward0"
    for x in key:
        if type(x) is int:
            return "SelectBackward0"
        if x is None:
            name = "UnsqueezeBackward0"
    return name


def _index_error(e: IndexError) -> IndexError:
    msg = str(e).replace("axis", "dimension")
    return IndexError(msg)


class GetItem(Function):
    _array_api = True
    _twice = True
    _torch_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, key):
        ctx.shape, ctx.key, ctx.dtype = a.shape, key, a.dtype
        return a[key]

    @staticmethod
    def backward(ctx, grad):
        return _IndexAddHelper.run(grad, ctx.shape, ctx.key), None


class Slice(GetItem):
    """Basic indexing (ints, slices, None, ...): a view, and an assignment suffices in backward."""

    _is_view = True

    @staticmethod
    def backward(ctx, grad):
        return PutZeros.run(grad, ctx.shape, ctx.key), None


class PutZeros(Function):
    """``out = zeros(shape); out[key] = g`` for a key that picks each element at most once (basic
    indexing, the argmax of a reduction, a permutation): the backward of ``a[key]`` then, faster
    than accumulating.  Its own backward is ``gg[key]``, so indexing is differentiable to any order."""

    _array_api = True
    _twice = True
    _torch_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, shape, key):
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        out[key] = g
        ctx.key = key
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItem.run(gg, ctx.key), None, None


class ZeroAt(Function):
    """``g`` with zeros at ``key`` (the gradient of what ``a[key] = v`` overwrote): linear and its own
    adjoint, so its backward is itself."""

    _array_api = True
    _twice = True
    _torch_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, key):
        out = g.copy()
        out[key] = 0
        ctx.key = key
        return out

    @staticmethod
    def backward(ctx, gg):
        return ZeroAt.run(gg, ctx.key), None


def getitem(self: Tensor, key) -> Tensor:
    """``t[key]``: integers, slices, None, Ellipsis, and integer or bool tensors (as NumPy/torch)."""
    k, basic = _convert_key(key, xp_of(self._data))
    if self._data.ndim == 0 and len(k) == 1 and isinstance(k[0], int):
        raise IndexError(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
            "convert a 0-dim tensor to a number"
        )
    if self._data.ndim == 0 and not basic and not any(isinstance(x, bool) or (hasattr(x, "dtype") and x.dtype == bool) for x in k):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    try:
        if basic:
            r = Slice.apply(self, k)
            n = r.grad_fn
            if n is not None:
                n._nm = _basic_index_name(k)
            return r
        return GetItem.apply(self, k)
    except IndexError as e:
        if "too many indices" in str(e):
            raise IndexError(
                f"too many indices for tensor of dimension {self._data.ndim}"
            ) from None
        raise _index_error(e) from None


class IndexPut(Function):
    """Out-of-place ``a[key] = v``; ``self[key] = v`` is this op run in place."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, v, key):
        out = a.copy()
        out[key] = v
        ctx.key, ctx.vshape = key, getattr(v, "shape", ())
        return out

    @staticmethod
    def backward(ctx, grad):
        ga = gv = None
        if ctx.needs_input_grad[0]:
            ga = ZeroAt.run(grad, ctx.key)
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(GetItem.run(grad, ctx.key), ctx.vshape)
        return ga, gv, None


def setitem(self: Tensor, key, value) -> None:
    """``t[key] = value`` in place (differentiable w.r.t. both)."""
    from .inplace import apply_inplace

    xp = xp_of(self._data)
    k, _ = _convert_key(key, xp)
    if isinstance(value, Tensor):
        if value._data.dtype != self._data.dtype:
            value = cast(value, self._data.dtype)
        if grad_mode._enabled[0] and (value._rg or self._rg):
            apply_inplace(self, lambda s, v: IndexPut.apply(s, v, k), value)
            return
        v = value._data
    else:
        v = value
        if grad_mode._enabled[0] and self._rg:
            apply_inplace(self, lambda s: IndexPut.apply(s, v, k))
            return
    try:
        self._data[k] = v
    except IndexError as e:
        raise _index_error(e) from None
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    self._vc[0] += 1


class IndexPutAccumulate(Function):
    """Out-of-place ``a[key] += v`` where repeated indices add up (``index_put(accumulate=True)``)."""

    _array_api = True
    _twice = True
    _torch_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, a, v, key):
        out = a.copy()
        xp = xp_of(a)
        add_at(out, key, xp.broadcast_to(v, out[key].shape))
        ctx.key, ctx.vshape = key, getattr(v, "shape", ())
        return out

    @staticmethod
    def backward(ctx, grad):
        gv = unbroadcast(grad[ctx.key], ctx.vshape) if ctx.needs_input_grad[1] else None
        return grad, gv, None


def _index_put_args(self: Tensor, indices, values, name: str):
    """torch's checks for ``index_put``: a tuple/list of index tensors and a Tensor of self's dtype."""
    if not isinstance(values, Tensor):
        raise TypeError(f"{name}(): argument 'values' (position 2) must be Tensor, not {type(values).__name__}")
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{name}(): argument 'indices' (position 1) must be tuple of Tensors, not {type(indices).__name__}")
    for k, i in enumerate(indices):
        if not isinstance(i, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got {type(i).__name__}")
    if values._data.dtype != self._data.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{type_name(self._data.dtype)} for the destination and {type_name(values._data.dtype)} for the source."
        )
    key, _ = _convert_key(tuple(indices), xp_of(self._data))
    try:
        target = np.empty(self._data.shape, dtype=np.bool_)[tuple(_cpu(k) for k in key)].shape
    except IndexError as e:
        raise _index_out_of_bounds(e, self._data.shape) from None
    try:
        np.broadcast_to(np.empty(values._data.shape, dtype=np.bool_), target)
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {shape_str(values._data.shape)} cannot be broadcast to "
            f"indexing result of shape {shape_str(target)}"
        ) from None
    return key


def _cpu(k):
    return k.get() if hasattr(k, "get") else k


def _index_out_of_bounds(e: IndexError, shape) -> IndexError:
    import re

    m = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", str(e))
    if m:
        return IndexError(f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size {m.group(3)}")
    return _index_error(e)


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """Out-of-place ``input[indices] = values`` (``+=`` with repeats adding up when ``accumulate``).

    >>> import nnbox
    >>> nnbox.zeros(3).index_put((nnbox.tensor([0, 0, 2]),), nnbox.tensor(1.0), accumulate=True)
    tensor([2., 0., 1.])
    """
    key = _index_put_args(input, indices, values, "index_put")
    return (IndexPutAccumulate if accumulate else IndexPut).apply(input, values, key)


def index_put_(self: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """In-place ``index_put``: ``self[indices] = values`` (or ``+=``, repeats adding up).

    >>> import nnbox
    >>> t = nnbox.zeros(2, 2)
    >>> t.index_put_((nnbox.tensor([1]), nnbox.tensor([0])), nnbox.tensor(5.0))
    tensor([[0., 0.],
            [5., 0.]])
    """
    from .inplace import _check_leaf, apply_inplace

    _check_leaf(self)
    key = _index_put_args(self, indices, values, "index_put_")
    cls = IndexPutAccumulate if accumulate else IndexPut
    return apply_inplace(self, lambda s, v: cls.apply(s, v, key), values)


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
Tensor.index_put = index_put
Tensor.index_put_ = index_put_


# --- gather / scatter -----------------------------------------------------------------------------

def _full_index(index, axis):
    """Index arrays selecting ``index`` along ``axis`` and the identity along other dims."""
    xp = xp_of(index)
    grids = list(xp.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


def _same_device(*tensors) -> None:
    """Index tensors reach the op bodies as raw arrays (no Tensor device check): check here."""
    from ..autograd.function import _check_same_device

    if len({type(t._data) for t in tensors}) > 1:
        _check_same_device(tensors)


def _check_gather(name, a, axis, index):
    if index.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != a.ndim and not (index.ndim <= 1 and a.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for d in range(index.ndim):
        if d != axis and index.shape[d] > a.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {shape_str(index.shape)} to be "
                f"smaller than self {shape_str(a.shape)} apart from dimension {axis}"
            )
    n = a.shape[axis] if a.ndim else 1
    bad = _first_out_of_range(index, n)
    if bad is not None:  # torch doesn't wrap negative indices here: -1 is an error, not the last row
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {n}")


def _first_out_of_range(index, n: int):
    """The first entry of an index array outside ``[0, n)`` (as a Python int), or None."""
    if not index.size:
        return None
    if index.min() >= 0 and index.max() < n:
        return None
    flat = index.reshape(-1)
    return int(flat[((flat < 0) | (flat >= n)).argmax()])


def _first_out_of_range_wrapped(index, n: int):
    """Like ``_first_out_of_range`` for ops that wrap negative indices once (``-n <= i < 0``)."""
    if not index.size or (index.min() >= -n and index.max() < n):
        return None
    flat = index.reshape(-1)
    return int(flat[((flat < -n) | (flat >= n)).argmax()])


class Gather(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, index):
        idx = _full_index(index, axis)
        ctx.shape, ctx.idx = a.shape, idx
        return a[idx]

    @staticmethod
    def backward(ctx, grad):
        return _IndexAddHelper.run(grad, ctx.shape, ctx.idx), None, None


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (and likewise for other dims)."""
    axis = wrap_dim(dim, input._data.ndim)
    _same_device(input, index)
    _check_gather("gather", input._data, axis, index._data)
    return Gather.apply(input, axis, index._data)


class Scatter(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, src, axis, index, reduce):
        idx = _full_index(index, axis)
        out = a.copy()
        vals = src[tuple(slice(0, s) for s in index.shape)] if hasattr(src, "shape") and src.ndim else src
        if reduce == "add":
            add_at(out, idx, vals)
        elif reduce == "multiply":
            np.multiply.at(out, idx, vals) if type(out) is np.ndarray else _multiply_at_device(out, idx, vals)
        else:
            out[idx] = vals
        ctx.idx, ctx.reduce, ctx.index_shape = idx, reduce, index.shape
        ctx.src_shape = getattr(src, "shape", None)
        return out

    @staticmethod
    def backward(ctx, grad):
        ga = gs = None
        if ctx.needs_input_grad[0]:
            ga = grad if ctx.reduce is not None else ZeroAt.run(grad, ctx.idx)
        if ctx.needs_input_grad[1]:
            g = GetItem.run(grad, ctx.idx)
            gs = PutZeros.run(g, ctx.src_shape, tuple(slice(0, s) for s in ctx.index_shape))
        return ga, gs, None, None, None


def _multiply_at_device(out, idx, vals) -> None:
    """``out[idx] *= vals`` with repeated indices on CuPy (which has no ``multiply.at``): the product
    of each target's values as exp(sum log|v|), its sign from the count of negatives, zeros apart."""
    xp = xp_of(out)
    v = xp.broadcast_to(xp.asarray(vals, dtype=out.dtype) if not hasattr(vals, "shape") else vals,
                        idx[0].shape).astype(np.float64)
    logs, negs, zeros = (xp.zeros(out.shape, np.float64) for _ in range(3))
    nz = v != 0
    add_at(logs, idx, xp.log(xp.where(nz, xp.abs(v), 1.0)))
    add_at(negs, idx, (v < 0).astype(np.float64))
    add_at(zeros, idx, (~nz).astype(np.float64))
    factor = xp.exp(logs) * (1 - 2 * (negs % 2))
    factor = xp.where(zeros > 0, 0.0, factor)
    res = out * factor
    out[...] = xp.rint(res) if out.dtype.kind in "iub" else res


def _unsupported(what):
    raise RuntimeError(f"scatter reduce='{what}' is not supported on this device")


def _scatter(input, dim, index, src=None, value=None, reduce=None):
    axis = wrap_dim(dim, input._data.ndim)
    _same_device(input, index)
    _check_gather("scatter", input._data, axis, index._data)
    if src is None:
        src = value
    if isinstance(src, Tensor) and src._data.dtype != input._data.dtype:
        src = cast(src, input._data.dtype)
    return Scatter.apply(input, src, axis, index._data, reduce)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """Out-of-place scatter: ``out[i][index[i][j]] = src[i][j]`` for dim=1."""
    return _scatter(input, dim, index, src, value, reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Like ``scatter`` but adds, accumulating repeated indices."""
    return _scatter(input, dim, index, src, None, "add")


class IndexSelect(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axis, index):
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        return xp_of(a).take(a, index, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        key = (slice(None),) * ctx.axis + (ctx.index,)
        return _IndexAddHelper.run(grad, ctx.shape, key), None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Rows (or entries along ``dim``) picked by a 1-d integer ``index``."""
    _same_device(input, index)
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index._data.dtype not in (np.int64, np.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    axis = wrap_dim(dim, input._data.ndim)
    idx = index._data.reshape(-1)
    n = input._data.shape[axis] if input._data.ndim else 1
    bad = _first_out_of_range(idx, n)
    if bad is not None:  # -1 included: torch doesn't wrap here
        if axis == 1 and input._data.ndim >= 2:  # torch's dim-1 kernel words it differently
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")
        raise IndexError("index out of range in self")
    if input._data.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
        return input.clone()
    return IndexSelect.apply(input, axis, idx)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    _same_device(input, index, source)
    axis = wrap_dim(dim, input._data.ndim)
    if _first_out_of_range(index._data, input._data.shape[axis] if input._data.ndim else 1) is not None:
        raise IndexError("index out of range in self")  # -1 included: torch doesn't wrap here
    key = [slice(None)] * input._data.ndim
    key[axis] = index._data
    src = source if alpha == 1 else source * alpha
    return input + _IndexAddHelper.apply(src, input._data.shape, tuple(key))


class _IndexAddHelper(Function):
    """``out = zeros(shape); out[key] += src``, repeated indices accumulating: index_add, and the
    backward of ``a[key]``/gather/index_select; its backward is ``grad[key]`` again."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, src, shape, key):
        out = xp_of(src).zeros(shape, dtype=src.dtype)
        add_at(out, key, src)
        ctx.key = key
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.run(grad, ctx.key), None, None


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    axis = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[axis] if input._data.ndim else 1
    bad = _first_out_of_range_wrapped(index._data, n)  # index_fill does wrap -n..-1
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {axis} with size {n}")
    mask = xp_of(input._data).zeros(input._data.shape[axis], dtype=bool)
    mask[index._data] = True
    shape = [1] * input._data.ndim
    shape[axis] = -1
    return masked_fill(input, Tensor._make(mask.reshape(shape)), value)


# --- masks and where ------------------------------------------------------------------------------

class Where(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.cond = cond
        ctx.sx, ctx.sy = getattr(x, "shape", ()), getattr(y, "shape", ())
        return xp_of(cond).where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        c = ctx.cond
        _, nx, ny = ctx.needs_input_grad
        return (
            None,
            unbroadcast(grad * c, ctx.sx) if nx else None,
            unbroadcast(grad * ~c, ctx.sy) if ny else None,
        )


def where(condition: Tensor, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``; with one argument, ``nonzero(as_tuple=True)``.

    >>> import nnbox
    >>> x = nnbox.tensor([-1.0, 2.0])
    >>> nnbox.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    cond = condition._data
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {condition.dtype.name.capitalize()}")
    x = input if isinstance(input, Tensor) else input
    y = other if isinstance(other, Tensor) else other
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        dt = result_dtype(x, y) if (isinstance(x, Tensor) or isinstance(y, Tensor)) else None
        if isinstance(x, Tensor) and x._data.dtype != dt:
            x = cast(x, dt)
        if isinstance(y, Tensor) and y._data.dtype != dt:
            y = cast(y, dt)
        from .elementwise import _scalar_for

        if not isinstance(x, Tensor):
            x = xp_of(cond).asarray(_scalar_for(x, dt), dtype=dt)
        if not isinstance(y, Tensor):
            y = xp_of(cond).asarray(_scalar_for(y, dt), dtype=dt)
    else:
        from .._backend import dtype as _dt

        dt = _dt.get_default_dtype().np if isinstance(x, float) or isinstance(y, float) else np.dtype(np.int64)
        x, y = xp_of(cond).asarray(x, dtype=dt), xp_of(cond).asarray(y, dtype=dt)
    try:
        return Where.apply(condition, x, y)
    except ValueError:
        from .elementwise import _broadcast_error

        shape = cond.shape  # find the operand that does not fit the others, as torch names it
        for o in (x, y):
            s = getattr(getattr(o, "_data", o), "shape", ())
            try:
                shape = np.broadcast_shapes(shape, s)
            except ValueError:
                raise _broadcast_error(np.empty(shape, bool), np.empty(s, bool)) from None
        raise


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True (mask broadcasts to input)."""
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {cpp_type_name(mask._data.dtype)}")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value._data.ndim} dimension(s)."
            )
        v = value if value._data.dtype == input._data.dtype else cast(value, input._data.dtype)
    else:
        v = xp_of(input._data).asarray(value, dtype=input._data.dtype)
    try:
        np.broadcast_shapes(mask._data.shape, input._data.shape)
    except ValueError:
        from .elementwise import _broadcast_error

        raise _broadcast_error(mask._data, input._data) from None
    return named(Where.apply(mask, v, input), "MaskedFillBackward0")


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    shape = np.broadcast_shapes(mask._data.shape, input._data.shape)
    x = input.expand(shape) if input._data.shape != shape else input
    m = xp_of(mask._data).broadcast_to(mask._data, shape)
    return GetItem.apply(x, (m,))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of non-zero elements: an (n, ndim) int64 tensor, or a tuple of 1-d index tensors."""
    a = input._data
    xp = xp_of(a)
    idx = xp.nonzero(a) if a.ndim else xp.nonzero(a.reshape(1))
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    return Tensor._make(xp.stack(idx, axis=1).astype(np.int64) if a.ndim else xp.zeros((int(bool(a)), 0), dtype=np.int64))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:
    n = input._data.size
    bad = _first_out_of_range_wrapped(index._data, n)  # take wraps -n..-1
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return GetItem.apply(input.reshape(-1), (index._data,))


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    if dim is None:
        return take(input, indices.reshape(-1))
    shape = list(np.broadcast_shapes(input._data.shape[:dim] + (1,) + input._data.shape[dim + 1:] if dim != -1 else input._data.shape[:-1] + (1,),
                                      indices._data.shape))
    n = input._data.shape[dim]
    if indices._data.size and indices._data.min() < 0:  # unlike gather, take_along_dim wraps -n..-1
        indices = Tensor._make(indices._data + n * ((indices._data < 0) & (indices._data >= -n)))
    return gather(input, dim, indices.expand(shape) if list(indices._data.shape) != shape else indices)


# --- sorting ----------------------------------------------------------------------------------------

def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``; values are differentiable."""
    a = input._data
    xp = xp_of(a)
    if a.ndim == 0:
        return return_types.sort(input.clone(), Tensor._make(xp.zeros((), dtype=np.int64)))
    axis = wrap_dim(dim, a.ndim)
    if descending:
        # a stable sort of a negated key keeps equal elements in their original order
        key = ~a if a.dtype == np.bool_ else (a.max() - a if a.dtype.kind == "u" and a.size else -a)
        idx = xp.argsort(key, axis=axis, kind="stable")
    else:
        idx = xp.argsort(a, axis=axis, kind="stable")
    idx = idx.astype(np.int64)
    return return_types.sort(gather(input, axis, Tensor._make(idx)), Tensor._make(idx))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable)[1]


def msort(input: Tensor) -> Tensor:
    return sort(input, 0)[0]


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    a = input._data
    if a.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    axis = wrap_dim(dim, a.ndim) if a.ndim else 0
    n = a.shape[axis] if a.ndim else 1
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    vals, idx = sort(input, axis, descending=largest)
    return return_types.topk(vals.narrow(axis, 0, k), idx.narrow(axis, 0, k))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    if input._data.dtype == np.bool_:
        from ._util import not_implemented

        raise not_implemented("kthvalue_cpu", input._data.dtype)
    axis = wrap_dim(dim, input._data.ndim)
    vals, idx = sort(input, axis)
    v, i = vals.narrow(axis, k - 1, 1), idx.narrow(axis, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return return_types.kthvalue(v, i)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):  # noqa: A002
    """Distinct values (sorted), optionally with inverse indices and counts."""
    a = input._data
    xp = xp_of(a)
    res = xp.unique(a if dim is None else a, return_inverse=return_inverse, return_counts=return_counts,
                    axis=None if dim is None else wrap_dim(dim, a.ndim))
    if not isinstance(res, tuple):
        return Tensor._make(res)
    out = [Tensor._make(res[0])]
    i = 1
    if return_inverse:
        out.append(Tensor._make(res[i].reshape(a.shape if dim is None else -1).astype(np.int64)))
        i += 1
    if return_counts:
        out.append(Tensor._make(res[i].astype(np.int64)))
    return tuple(out)


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    a = input._data
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None if weights is None else weights._data
    return Tensor._make(xp_of(a).bincount(a, weights=w, minlength=minlength))


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False, right: bool = False, side=None, sorter=None) -> Tensor:
    seq = sorted_sequence._data
    v = values._data if isinstance(values, Tensor) else values
    sd = side or ("right" if right else "left")
    xp = xp_of(seq)
    if seq.ndim == 1:
        r = xp.searchsorted(seq, v, side=sd)
    else:
        r = xp.stack([xp.searchsorted(s, x, side=sd) for s, x in zip(seq.reshape(-1, seq.shape[-1]), xp.asarray(v).reshape(-1, xp.asarray(v).shape[-1]))]).reshape(xp.asarray(v).shape)
    return Tensor._make(xp.asarray(r, dtype=np.int32 if out_int32 else np.int64))


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Copy of ``input`` with the entries along ``dim`` at ``index`` replaced by ``source``'s
    (no wrap of negative indices, as torch).

    >>> import nnbox
    >>> nnbox.arange(3.0).index_copy(0, nnbox.tensor([2, 0]), nnbox.tensor([9.0, 8.0]))
    tensor([8., 1., 9.])
    """
    axis = wrap_dim(dim, input._data.ndim)
    idx = index._data.reshape(-1)
    if index._data.dtype not in (np.int64, np.int32):
        raise RuntimeError("index_copy_(): Expected a long tensor for index, but got " + str(index.dtype).split(".")[-1])
    src_n = source._data.shape[axis] if source._data.ndim else 1
    if idx.size != src_n:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) ({src_n})")
    n = input._data.shape[axis] if input._data.ndim else 1
    bad = _first_out_of_range(idx, n)
    if bad is not None:
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {axis} with size {n}")
    out = input.clone()
    out[(slice(None),) * axis + (Tensor._make(idx),)] = source
    return out


_METHODS = dict(
    index_copy=index_copy, index_put=index_put,
    gather=gather, scatter=scatter, scatter_add=scatter_add, index_select=index_select,
    index_add=index_add, index_fill=index_fill, masked_fill=masked_fill, masked_select=masked_select,
    where=lambda self, condition, other: where(condition, self, other), nonzero=nonzero,
    argwhere=argwhere, take=take, take_along_dim=take_along_dim, sort=sort, argsort=argsort,
    msort=msort, topk=topk, kthvalue=kthvalue, unique=unique, bincount=bincount,
)
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)


def _inplace_of(fn):
    from .inplace import apply_inplace

    def method(self, *args, **kwargs):
        return apply_inplace(self, fn, *args, **kwargs)

    return method


Tensor.masked_fill_ = _inplace_of(masked_fill)
Tensor.scatter_ = _inplace_of(scatter)
Tensor.scatter_add_ = _inplace_of(scatter_add)
Tensor.index_add_ = _inplace_of(index_add)
Tensor.index_fill_ = _inplace_of(index_fill)
Tensor.index_copy_ = _inplace_of(index_copy)
Tensor.index_put_ = _inplace_of(index_put)
