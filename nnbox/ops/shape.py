"""Shape ops: view/reshape, squeeze/unsqueeze, permute/transpose, expand/repeat, cat/stack/split,
flip/roll, narrow, tril/triu.  View ops share storage and the version counter with their input."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .._backend import dtype as _dt
from .._tensor import Size, Tensor  # noqa: F401  (Size re-exported for old imports)
from ..autograd.function import Function
from ._util import named, norm_dims, shape_str, sizes, unbroadcast, wrap_dim, xp_of
from .index import PutZeros, _IndexAddHelper


def _dim(d, ndim):
    return wrap_dim(d, ndim)


# --- views ------------------------------------------------------------------------------------------

def _infer_shape(shape, numel: int, src_shape) -> tuple:
    shape = tuple(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{shape_str(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise RuntimeError(f"shape '{shape_str(shape)}' is invalid for input of size {numel}")
    return shape


class View(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        out = a.view()
        out.shape = shape  # raises if the memory layout can't be viewed as ``shape``
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.reshape(grad, ctx.shape), None


class ReshapeCopy(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.reshape(grad, ctx.shape), None


def view(self: Tensor, *shape) -> Tensor:
    """The same data with another shape; fails when the memory layout can't allow it.

    >>> import nnbox
    >>> nnbox.arange(6).view(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    if len(shape) == 1 and isinstance(shape[0], _dt.dtype):
        return Tensor._make(self._data.view(shape[0].np))
    shape = _infer_shape(sizes(shape), self._data.size, self._data.shape)
    if shape == self._data.shape:
        return View.apply(self, shape)
    try:
        return View.apply(self, shape)
    except AttributeError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None


def reshape(input: Tensor, *shape) -> Tensor:
    """Like ``view``, copying only when the layout requires it."""
    shape = _infer_shape(sizes(shape), input._data.size, input._data.shape)
    try:
        return View.apply(input, shape)
    except AttributeError:
        return ReshapeCopy.apply(input, shape)


def view_as(self: Tensor, other: Tensor) -> Tensor:
    return view(self, other._data.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return reshape(self, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, (1,))
    s, e = _dim(start_dim, nd), _dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    sh = input._data.shape
    return reshape(input, sh[:s] + (math.prod(sh[s:e + 1]),) + sh[e + 1:])


def unflatten(input: Tensor, dim: int, sizes_) -> Tensor:
    """Split dim ``dim`` into ``sizes_`` (one entry may be -1)."""
    nd = input._data.ndim
    d = _dim(dim, nd)
    sh = input._data.shape
    inner = _infer_shape(tuple(sizes_), sh[d], (sh[d],))
    return reshape(input, sh[:d] + inner + sh[d + 1:])


def ravel(input: Tensor) -> Tensor:
    return reshape(input, (-1,))


class Squeeze(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.shape = a.shape
        return a.squeeze(axes) if axes != () else a.view()

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.reshape(grad, ctx.shape), None


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims (all, or those in ``dim`` that have size 1)."""
    sh = input._data.shape
    if dim is None:
        axes = tuple(i for i, s in enumerate(sh) if s == 1)
    else:
        axes = tuple(a for a in (norm_dims(dim, len(sh)) or ()) if len(sh) and sh[a] == 1)
    return named(Squeeze.apply(input, axes), "SqueezeBackward0" if dim is None else
                 "SqueezeBackward1" if not isinstance(dim, (tuple, list)) else "SqueezeBackward2")


class Unsqueeze(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, axis):
        ctx.shape = a.shape
        return xp_of(a).expand_dims(a, axis)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.reshape(grad, ctx.shape), None


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    return Unsqueeze.apply(input, _dim(dim, input._data.ndim + 1))


class Permute(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.inverse = tuple(int(i) for i in np.argsort(axes))
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.transpose(grad, ctx.inverse), None


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder dims.

    >>> import nnbox
    >>> nnbox.zeros(2, 3, 4).permute(2, 0, 1).shape
    torch.Size([4, 2, 3])
    """
    nd = input._data.ndim
    axes = tuple(_dim(d, nd) for d in sizes_or_dims(dims))
    if len(axes) != nd:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of "
            f"the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to len(dims) = {len(axes)}"
        )
    if len(set(axes)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, axes)


def sizes_or_dims(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return dims


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    nd = input._data.ndim
    if nd == 0:
        return View.apply(input, ())
    axes = list(range(nd))
    a, b = _dim(dim0, nd), _dim(dim1, nd)
    axes[a], axes[b] = axes[b], axes[a]
    return named(Permute.apply(input, tuple(axes)), "TransposeBackward0")


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return named(transpose(input, 0, 1), "TBackward0") if nd == 2 else View.apply(input, input._data.shape)


def movedim(input: Tensor, source, destination) -> Tensor:
    nd = input._data.ndim
    src = [_dim(d, nd) for d in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [_dim(d, nd) for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, tuple(order))


moveaxis = movedim


class Expand(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape), None


def expand(self: Tensor, *size) -> Tensor:
    """Broadcast size-1 dims to ``size`` without copying (-1 keeps a dim).

    >>> import nnbox
    >>> nnbox.tensor([[1], [2]]).expand(2, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]])
    """
    size = sizes(size)
    sh = self._data.shape
    if len(size) < len(sh):
        raise RuntimeError(
            f"expand({self.type()}{{{shape_str(sh)}}}, size={shape_str(size)}): the number of sizes provided "
            f"({len(size)}) must be greater or equal to the number of dimensions in the tensor ({len(sh)})"
        )
    lead = len(size) - len(sh)
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}")
            out.append(s)
            continue
        cur = sh[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at non-singleton "
                f"dimension {i}.  Target sizes: {shape_str(size)}.  Tensor sizes: {shape_str(sh)}"
            )
        out.append(s)
    return Expand.apply(self, tuple(out))


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    return expand(self, other._data.shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    return expand(input, tuple(size))


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    return Size(np.broadcast_shapes(*shapes))


class Repeat(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, reps):
        lead = len(reps) - a.ndim
        ctx.shape = (1,) * lead + a.shape
        ctx.reps = reps
        ctx.orig = a.shape
        return xp_of(a).tile(a, reps)

    @staticmethod
    def backward(ctx, grad):
        # view each dim as (rep, size) and sum the repeats away
        xp = xp_of(grad)
        split = [n for r, s in zip(ctx.reps, ctx.shape) for n in (r, s)]
        g = xp.sum(xp.reshape(grad, split), axis=tuple(range(0, len(split), 2)))
        return xp.reshape(g, ctx.orig), None


def repeat(self: Tensor, *reps) -> Tensor:
    """Tile the tensor ``reps`` times along each dim (torch's repeat = NumPy's tile)."""
    reps = sizes(reps)
    if len(reps) < self._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    from .creation import check_new_shape

    src = (1,) * (len(reps) - self._data.ndim) + tuple(self._data.shape)
    check_new_shape(tuple(r * n for r, n in zip(reps, src)), self._data.itemsize)  # repeat(-1): torch's error
    return Repeat.apply(self, reps)


def tile(input: Tensor, dims) -> Tensor:
    dims = tuple(dims)
    if len(dims) < input._data.ndim:
        dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


class RepeatInterleave(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, repeats, axis):
        ctx.shape, ctx.repeats, ctx.axis = a.shape, repeats, axis
        xp = xp_of(a)
        if not isinstance(repeats, int):  # where each output element came from, for backward
            src = xp.repeat(xp.arange(math.prod(a.shape) if axis is None else a.shape[axis]), repeats)
            ctx.key = (src,) if axis is None else (slice(None),) * axis + (src,)
        return xp.repeat(a, repeats, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        r, ax = ctx.repeats, ctx.axis
        n = math.prod(ctx.shape)
        if isinstance(r, int):
            if ax is None:
                return xp.reshape(xp.sum(xp.reshape(grad, (n, r)), axis=1), ctx.shape), None, None
            sh = tuple(grad.shape[:ax]) + (ctx.shape[ax], r) + tuple(grad.shape[ax + 1:])
            return xp.sum(xp.reshape(grad, sh), axis=ax + 1), None, None
        if ax is None:
            return xp.reshape(_IndexAddHelper.run(grad, (n,), ctx.key), ctx.shape), None, None
        return _IndexAddHelper.run(grad, ctx.shape, ctx.key), None, None


def repeat_interleave(input: Tensor, repeats, dim=None, *, output_size=None) -> Tensor:
    if isinstance(repeats, Tensor):
        repeats = repeats.tolist()
    axis = None if dim is None else _dim(dim, input._data.ndim)
    return RepeatInterleave.apply(input, repeats, axis)


class Contiguous(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        return xp_of(a).ascontiguousarray(a)

    @staticmethod
    def backward(ctx, grad):
        return grad


def contiguous(self: Tensor, memory_format=None) -> Tensor:
    """``self`` if already C-contiguous, else a contiguous copy."""
    if self._data.flags.c_contiguous:
        return self
    return Contiguous.apply(self)


class Clone(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy with its own storage; differentiable."""
    return Clone.apply(input)


# --- joining and splitting ---------------------------------------------------------------------------

class Cat(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, axis, *arrays):
        # torch skips legacy empty 1-d tensors (shape (0,)) when joining n-d tensors
        nd = builtins.max(a.ndim for a in arrays)
        skip = [nd > 1 and a.shape == (0,) for a in arrays]
        kept = [a for a, s in zip(arrays, skip) if not s]
        ctx.axis, ctx.skip = axis, skip
        ctx.bounds = np.cumsum([a.shape[axis] for a in kept])[:-1]
        return xp_of(arrays[0]).concatenate(kept, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        parts = iter(xp.split(grad, ctx.bounds, axis=ctx.axis))
        grads = [xp.zeros((0,), dtype=grad.dtype) if s else next(parts) for s in ctx.skip]
        return (None, *[g if n else None for g, n in zip(grads, ctx.needs_input_grad[1:])])


def _same_dtype(tensors):
    from ._util import result_dtype
    from .convert import cast

    dt = tensors[0]._data.dtype
    if builtins.all(t._data.dtype == dt for t in tensors):
        return tensors
    for t in tensors[1:]:
        dt = result_dtype(Tensor._make(np.empty((1,), dt)), t) if t._data.ndim else dt
    return [cast(t, dt) for t in tensors]


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim.

    >>> import nnbox
    >>> nnbox.cat([nnbox.zeros(1, 2), nnbox.ones(1, 2)]).shape
    torch.Size([2, 2])
    """
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = [t for t in tensors]
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    # torch skips legacy empty 1-d tensors
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    nd = ref._data.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = _dim(dim, nd)
    for i, t in enumerate(kept):
        if t._data.ndim != nd:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {nd} and {t._data.ndim}"
            )
        for d in range(nd):
            if d != axis and t._data.shape[d] != ref._data.shape[d]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis}. Expected size "
                    f"{ref._data.shape[d]} but got size {t._data.shape[d]} for tensor number {i} in the list."
                )
    r = Cat.apply(axis, *_same_dtype(tensors))
    if out is not None:
        from .inplace import copy_out

        return copy_out(out, r)
    return r


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join along a new dim; every tensor must have the same shape."""
    if isinstance(tensors, Tensor):
        raise TypeError("stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    sh = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != sh:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {shape_str(sh)} at entry 0 and "
                f"{shape_str(t._data.shape)} at entry {i}"
            )
    d = _dim(dim, len(sh) + 1)
    return named(cat([unsqueeze(t, d) for t in tensors], d, out=out), "StackBackward0")


def hstack(tensors) -> Tensor:
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors) -> Tensor:
    return hstack([t.reshape(-1, 1) if t._data.ndim <= 1 else t for t in tensors])


def atleast_1d(t: Tensor) -> Tensor:
    return reshape(t, (1,)) if t._data.ndim == 0 else t


def atleast_2d(t: Tensor) -> Tensor:
    return reshape(t, (1,) * (2 - t._data.ndim) + t._data.shape) if t._data.ndim < 2 else t


def atleast_3d(t: Tensor) -> Tensor:
    nd = t._data.ndim
    if nd == 0:
        return reshape(t, (1, 1, 1))
    if nd == 1:
        return reshape(t, (1, t._data.shape[0], 1))
    if nd == 2:
        return unsqueeze(t, 2)
    return t


class Split(Function):
    """Split into pieces along one axis; every piece is a view."""

    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, bounds, axis):
        ctx.axis, ctx.shape = axis, a.shape
        return tuple(xp_of(a).split(a, bounds, axis=axis))

    @staticmethod
    def backward(ctx, *grads):
        xp = xp_of(grads[0])
        return xp.concatenate(grads, axis=ctx.axis), None, None


def split(tensor: Tensor, split_size_or_sections, dim: int = 0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    nd = tensor._data.ndim
    if nd == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = _dim(dim, nd)
    n = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
        if s == 0:
            if n != 0:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
            return (tensor,)
        sections = [s] * (n // s) + ([n % s] if n % s else [])
        if not sections:
            sections = [0]
    else:
        sections = list(split_size_or_sections)
        if builtins.sum(sections) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                f"dimension {axis}), but got split_sizes={sections}"
            )
    bounds = list(np.cumsum(sections)[:-1])
    return Split.apply(tensor, bounds, axis) if len(sections) > 1 else (View.apply(tensor, tensor._data.shape),)


def chunk(input: Tensor, chunks: int, dim: int = 0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if the size runs out)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input._data.shape[_dim(dim, input._data.ndim)]
    size = max(1, -(-n // chunks))
    return split(input, size, dim)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0):
    axis = _dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        sizes_ = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:
        idx = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
        sizes_ = [builtins.max(b - a, 0) for a, b in zip(idx[:-1], idx[1:])]
    return split(input, sizes_, dim)


class Unbind(Function):
    _array_api = True
    _twice = True
    _is_view = True

    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return tuple(xp_of(a).moveaxis(a, axis, 0))

    @staticmethod
    def backward(ctx, *grads):
        xp = xp_of(grads[0])
        return xp.stack(grads, axis=ctx.axis), None


def unbind(input: Tensor, dim: int = 0):
    """Remove a dim, returning a tuple of slices along it."""
    axis = _dim(dim, input._data.ndim)
    if input._data.shape[axis] == 0:
        return ()
    if input._data.shape[axis] == 1:
        return (squeeze(input, axis),)
    return Unbind.apply(input, axis)


# --- reordering ---------------------------------------------------------------------------------------

class Flip(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return xp_of(a).flip(a, axes).copy()

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return xp.flip(grad, ctx.axes), None


def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order along ``dims`` (a copy, as torch)."""
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    return Flip.apply(input, tuple(_dim(d, input._data.ndim) for d in dims))


def fliplr(input: Tensor) -> Tensor:
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    return flip(input, (0,))


class Roll(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return xp_of(a).roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, grad):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        xp = xp_of(grad)
        return xp.roll(grad, neg, ctx.axes), None, None


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements cyclically along ``dims`` (flattened when None)."""
    if dims is None:
        return Roll.apply(input, shifts if isinstance(shifts, int) else tuple(shifts), None)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, tuple(_dim(d, input._data.ndim) for d in dims))


class Narrow(Function):
    _array_api = True
    _twice = True
    _torch_name = "SliceBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, a, axis, start, length):
        idx = [slice(None)] * a.ndim
        idx[axis] = slice(start, start + length)
        ctx.shape, ctx.key = a.shape, tuple(idx)
        return a[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        return PutZeros.run(grad, ctx.shape, ctx.key), None, None, None


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` starting at ``start`` (a view)."""
    axis = _dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    start = int(start)
    if start < 0:
        start += n
    if start < 0 or start > n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return Narrow.apply(input, axis, start, length)


class Tri(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, k, upper):
        ctx.k, ctx.upper = k, upper
        xp = xp_of(a)
        return xp.triu(a, k) if upper else xp.tril(a, k)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        return (xp.triu(grad, ctx.k) if ctx.upper else xp.tril(grad, ctx.k)), None, None


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle (elements above ``diagonal`` zeroed)."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return named(Tri.apply(input, diagonal, False), "TrilBackward0")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle (elements below ``diagonal`` zeroed)."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return named(Tri.apply(input, diagonal, True), "TriuBackward0")


_METHODS = dict(
    view=view, reshape=reshape, view_as=view_as, reshape_as=reshape_as, flatten=flatten,
    unflatten=unflatten, ravel=ravel, squeeze=squeeze, unsqueeze=unsqueeze, permute=permute,
    transpose=transpose, swapaxes=transpose, swapdims=transpose, t=t, movedim=movedim,
    moveaxis=movedim, expand=expand, expand_as=expand_as, broadcast_to=broadcast_to, repeat=repeat,
    tile=tile, repeat_interleave=repeat_interleave, contiguous=contiguous, clone=clone, split=split,
    chunk=chunk, tensor_split=tensor_split, unbind=unbind, flip=flip, fliplr=fliplr, flipud=flipud,
    roll=roll, narrow=narrow, tril=tril, triu=triu,
)
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

def _T(self: Tensor) -> Tensor:
    """``x.T``: reversed dims; torch deprecates it (with a warning) unless ``x`` is 1-d or 2-d."""
    nd = self._data.ndim
    if nd > 2:
        import warnings

        warnings.warn(
            "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it "
            "will throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
            "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
            UserWarning, stacklevel=2,
        )
    elif nd == 0:
        import warnings

        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
                      UserWarning, stacklevel=2)
    return permute(self, tuple(range(nd - 1, -1, -1)))


Tensor.T = property(_T)
Tensor.mT = property(lambda self: transpose(self, -2, -1))
Tensor.H = property(lambda self: t(self))


def _unsqueeze_(self: Tensor, dim: int) -> Tensor:
    self._data = xp_of(self._data).expand_dims(self._data, _dim(dim, self._data.ndim + 1))
    return self


def _squeeze_(self: Tensor, dim=None) -> Tensor:
    self._data = squeeze(self.detach(), dim)._data
    return self


def _t_(self: Tensor) -> Tensor:
    self._data = t(self.detach())._data
    return self


def _transpose_(self: Tensor, d0: int, d1: int) -> Tensor:
    self._data = transpose(self.detach(), d0, d1)._data
    return self


Tensor.unsqueeze_ = _unsqueeze_
Tensor.squeeze_ = _squeeze_
Tensor.t_ = _t_
Tensor.transpose_ = _transpose_
