"""Pooling (max, average, adaptive, unpool) over 1-, 2- and 3-d inputs: fused Functions.

Windows are visited tap by tap (a 2x2 kernel has 4 taps): each tap is one strided slice of the
padded input with the output's shape, so a pooling step is ``prod(kernel)`` vectorised array ops
over the whole batch and never a loop over samples.  The backward adds the (masked) output
gradient back through the same slices, which handles overlapping windows for free.

Adaptive average pooling is separable and linear: along each spatial axis it is a small
(out, in) averaging matrix, so forward and backward are a few GEMMs.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .._backend import autocast_state as _ac
from .._tensor import Tensor
from ..autograd.function import Function
from . import _pool
from ._chunks import chunked
from ._lowp import autocast_fp32
from ._util import shape_str, xp_of

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d",
    "lp_pool1d", "lp_pool2d",
]


def _taps(ksize, stride, dilation, out_size):
    """Yield (tap number, slice tuple over the spatial dims) for every kernel tap."""
    ranges = [range(k) for k in ksize]
    for t, tap in enumerate(itertools.product(*ranges)):
        yield t, tuple(slice(tap[i] * dilation[i], tap[i] * dilation[i] + stride[i] * (out_size[i] - 1) + 1,
                             stride[i]) for i in range(len(ksize)))


def _pad_spatial(x, pads, value):
    """Pad the trailing ``len(pads)`` dims with ``value``; ``pads`` = ((lo, hi), ...)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    xp = xp_of(x)
    nd = len(pads)
    lead = x.shape[:-nd]
    out = xp.full(lead + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[-nd:], pads)), value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[-nd:], pads))] = x
    return out


def _crop(a, pads, shape):
    if not any(lo or hi for lo, hi in pads):
        return a
    return a[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(shape, pads))]


def _by_batch(a, fn) -> None:
    """``fn(rows)`` for blocks of the leading axis of ``a`` on nnbox's threads when ``a`` is a large
    NumPy array with a batch axis (else one call on everything).  The per-tap passes are element-wise,
    so the blocking never changes a value."""
    if type(a) is not np.ndarray or a.ndim < 3:
        fn(slice(None))
        return
    chunked(a.shape[0], a.size, lambda lo, hi: fn(slice(lo, hi)))


def _lowest(dtype):
    return -np.inf if dtype.kind in "fV" else np.iinfo(dtype).min


# --- max pooling ------------------------------------------------------------------------------------

class MaxPoolNd(Function):
    """Max over each window; also returns the winning tap (first one on ties, NaN wins) per output."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, ksize, stride, pads, dilation, out_size):
        xp = xp_of(x)
        xpad = _pad_spatial(x, pads, _lowest(x.dtype))
        small = math.prod(ksize) < 128
        shape = x.shape[:-len(ksize)] + tuple(out_size)
        # output and taps (and backward's gradient) are recycled arrays (``_pool``): no page faults per step
        best = _pool.empty(x, "maxpool.out", shape, x.dtype)
        tap_of = _pool.empty(x, "maxpool.tap", shape, np.dtype(np.int8 if small else np.int64), zero=True)

        def rows(r):  # a block of the batch (all of it on one thread)
            xr, br, tr = xpad[r], best[r], tap_of[r]
            upd = xp.empty(br.shape, dtype=bool)
            # cheap passes per tap: compare, running max (propagates NaN), record the winner.  Taps
            # come in increasing order, so "tap_of = t where updated" is max(tap_of, t * updated):
            # plain SIMD integer ops, ~50x faster than a masked copy.
            for t, sl in _taps(ksize, stride, dilation, out_size):
                v = xr[(Ellipsis,) + sl]
                if t == 0:
                    br[...] = v
                    continue
                xp.greater(v, br, out=upd)
                xp.maximum(br, v, out=br)
                mark = upd.view(np.int8) * np.int8(t) if small else upd * t
                xp.maximum(tr, mark, out=tr)
        _by_batch(xpad, rows)
        # on the GPU always: asking whether the batch holds a NaN would read a value back every step
        if x.dtype.kind in "fV" and (type(x) is not np.ndarray or xp.isnan(best).any()):
            _nan_taps(xpad, tap_of, ksize, stride, dilation, out_size)
        ctx.save_for_backward(tap_of)
        ctx.args = (x.shape, ksize, stride, pads, dilation, out_size)
        return best

    @staticmethod
    def backward(ctx, gy):
        (tap_of,) = ctx.saved_tensors
        return MaxPoolScatter.run(gy, tap_of, ctx.args), None, None, None, None, None


class MaxPoolScatter(Function):
    """Max pooling's backward: each output gradient goes to its window's winning tap.  Linear in
    ``gy``; its adjoint (the backward of this backward) is ``MaxPoolGather``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, tap_of, args):
        x_shape, ksize, stride, pads, dilation, out_size = args
        xp = xp_of(gy)
        nd = len(ksize)
        padded = x_shape[:-nd] + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[-nd:], pads))
        gx = _pool.empty(gy, "maxpool.gx", padded, gy.dtype, zero=True)
        overlap = any(k * d > s for k, s, d in zip(ksize, stride, dilation))

        def rows(r):  # a block of the batch (all of it on one thread)
            gxr, gyr, tr = gx[r], gy[r], tap_of[r]
            hit = xp.empty(tr.shape, dtype=bool)
            for t, sl in _taps(ksize, stride, dilation, out_size):
                xp.equal(tr, t, out=hit)
                if overlap:
                    gxr[(Ellipsis,) + sl] += gyr * hit
                else:  # windows are disjoint: write each tap's share straight into its slots
                    xp.multiply(gyr, hit, out=gxr[(Ellipsis,) + sl])
        _by_batch(gx, rows)
        ctx.save_for_backward(tap_of)
        ctx.args = args
        return xp.ascontiguousarray(_crop(gx, pads, x_shape[-nd:]))

    @staticmethod
    def backward(ctx, ggx):
        (tap_of,) = ctx.saved_tensors
        return MaxPoolGather.run(ggx, tap_of, ctx.args), None, None


class MaxPoolGather(Function):
    """Pick, per output position, the input value at the window's winning tap (``tap_of`` fixed):
    the adjoint of ``MaxPoolScatter``, i.e. max pooling's double backward w.r.t. ``gy``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, tap_of, args):
        x_shape, ksize, stride, pads, dilation, out_size = args
        xp = xp_of(x)
        xpad = _pad_spatial(x, pads, 0)
        out = xp.zeros(tap_of.shape, dtype=x.dtype)
        for t, sl in _taps(ksize, stride, dilation, out_size):
            out += xp.where(tap_of == t, xpad[(Ellipsis,) + sl], 0)
        ctx.save_for_backward(tap_of)
        ctx.args = args
        return out

    @staticmethod
    def backward(ctx, gy):
        (tap_of,) = ctx.saved_tensors
        return MaxPoolScatter.run(gy, tap_of, ctx.args), None, None


def _nan_taps(xpad, tap_of, ksize, stride, dilation, out_size) -> None:
    """Where a window holds NaN, torch reports its first NaN: redo those windows' winning taps."""
    xp = xp_of(xpad)
    found = xp.zeros(tap_of.shape, dtype=bool)
    for t, sl in _taps(ksize, stride, dilation, out_size):
        isn = xp.isnan(xpad[(Ellipsis,) + sl]) & ~found
        xp.copyto(tap_of, t, where=isn)  # a masked write without the sync that a[mask] = t needs on CuPy
        found |= isn


def _max_indices(tap_of, in_shape, ksize, stride, pads, dilation):
    """Turn per-output tap numbers into torch's flat index into each input plane."""
    xp = xp_of(tap_of)
    nd = len(ksize)
    out_size = tap_of.shape[-nd:]
    taps = np.array(list(itertools.product(*(range(k) for k in ksize))), dtype=np.int64).reshape(-1, nd)
    flat = xp.zeros(tap_of.shape, dtype=np.int64)
    t = tap_of.astype(np.int64)
    for i in range(nd):
        starts = xp.arange(out_size[i], dtype=np.int64) * stride[i] - pads[i][0]
        starts = starts.reshape((-1,) + (1,) * (nd - 1 - i))
        pos = starts + xp.asarray(taps[:, i] * dilation[i])[t]
        flat = flat * in_shape[i] + pos
    return flat


def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or the left padding
    return out


def _tup(v, nd, name, fname):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * nd
        if len(v) != nd:
            what = "a single int" if nd == 1 else f"a tuple of {['', '', 'two', 'three'][nd]} ints"
            raise RuntimeError(f"{fname}: {name} must either be a single int, or {what}")
        return tuple(int(a) for a in v)
    return (int(v),) * nd


def _check_input(input, nd, fname):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in input.shape[-nd - 1:]):
        if nd == 1:
            raise RuntimeError(f"{fname}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                               f"input, but got:{shape_str(input.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for input")


def _pool_geometry(input, kernel_size, stride, padding, dilation, ceil_mode, nd, fname):
    _check_input(input, nd, fname)
    k = _tup(kernel_size, nd, "kernel_size", fname)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _tup(stride, nd, "stride", fname)
    p = _tup(padding, nd, "padding", fname)
    d = _tup(dilation, nd, "dilation", fname)
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got {' '.join(f'k{i}: {v}' for i, v in enumerate(k))}")
    if any(v <= 0 for v in d):
        dims = ["H", "W"] if nd == 2 else (["T", "H", "W"] if nd == 3 else ["W"])
        raise RuntimeError("dilation should be greater than zero, but got "
                           + " ".join(f"dilation{n}: {v}" for n, v in zip(dims, d)))
    if any(v < 0 for v in p):
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(p)}")
    for kk, pp, dd in zip(k, p, d):
        if pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    sp = input.shape[-nd:]
    out = tuple(_pool_out(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in zip(sp, k, s, p, d))
    if any(o <= 0 for o in out):
        c = input.shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (c,) + tuple(sp)))}). Calculated output size: "
                           f"({'x'.join(map(str, (c,) + out))}). Output size is too small")
    # right padding grows so ceil-mode windows that run past the input stay in bounds
    pads = tuple((pp, max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - n - pp))
                 for n, o, kk, ss, pp, dd in zip(sp, out, k, s, p, d))
    return k, s, p, d, out, pads


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, fname):
    k, s, p, d, out, pads = _pool_geometry(input, kernel_size, stride, padding, dilation, ceil_mode, nd, fname)
    y = MaxPoolNd.apply(input, k, s, pads, d, out)
    if not return_indices:
        return y
    tap_of = y.grad_fn._to_save[0] if y.grad_fn is not None else None
    if tap_of is None:  # no graph was recorded: recompute the winning taps
        ctx = MaxPoolNd.__new__(MaxPoolNd)
        ctx.needs_input_grad = (False,)
        MaxPoolNd.forward(ctx, input._data, k, s, pads, d, out)
        tap_of = ctx._to_save[0]
    idx = _max_indices(tap_of, input.shape[-nd:], k, s, pads, d)
    return y, Tensor._make(idx)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, L) input."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W) input, PyTorch's ``F.max_pool2d``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.max_pool2d(nnbox.arange(16.).view(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, D, H, W) input."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3, "max_pool3d")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# --- average pooling --------------------------------------------------------------------------------

class AvgPoolNd(Function):
    """Sum of each window divided by a per-output divisor (a separable (out,) x (out,) grid)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, ksize, stride, pads, divisor):
        xp = xp_of(x)
        nd = len(ksize)
        out_size = divisor.shape
        xpad = _pad_spatial(x, pads, 0)
        acc = None
        wide = x.dtype.kind in "iub"
        for _, sl in _taps(ksize, stride, (1,) * nd, out_size):
            v = xpad[(Ellipsis,) + sl]
            if acc is None:
                acc = v.astype(np.int64 if wide else x.dtype, copy=True)
            else:
                acc += v
        ctx.args = (x.shape, ksize, stride, pads, divisor)
        if wide:  # torch divides integer sums with truncation
            q = xp.abs(acc) // divisor
            return xp.where(acc < 0, -q, q).astype(x.dtype)
        acc /= divisor
        return acc

    @staticmethod
    def backward(ctx, gy):
        return AvgPoolNdBackward.run(gy, ctx.args), None, None, None, None


class AvgPoolNdBackward(Function):
    """Average pooling's backward (linear in ``gy``); its own backward is average pooling again."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, args):
        x_shape, ksize, stride, pads, divisor = args
        xp = xp_of(gy)
        nd = len(ksize)
        g = gy / divisor
        padded = x_shape[:-nd] + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[-nd:], pads))
        gx = xp.zeros(padded, dtype=gy.dtype)
        overlap = any(k > s for k, s in zip(ksize, stride))
        for _, sl in _taps(ksize, stride, (1,) * nd, divisor.shape):
            if overlap:
                gx[(Ellipsis,) + sl] += g
            else:
                gx[(Ellipsis,) + sl] = g
        ctx.args = args
        return xp.ascontiguousarray(_crop(gx, pads, x_shape[-nd:]))

    @staticmethod
    def backward(ctx, ggx):
        x_shape, ksize, stride, pads, divisor = ctx.args
        return AvgPoolNd.run(ggx, ksize, stride, pads, divisor), None


def _avg_divisor(xp, sp, out, k, s, p, count_include_pad, divisor_override, dtype):
    if divisor_override is not None:
        return xp.full(out, divisor_override, dtype=dtype)
    div = None
    for i, (n, o, kk, ss, pp) in enumerate(zip(sp, out, k, s, p)):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, n + pp)
        if count_include_pad:
            c = end - start
        else:
            c = np.minimum(end, n) - np.maximum(start, 0)
        c = c.reshape((-1,) + (1,) * (len(sp) - 1 - i))
        div = c if div is None else div * c
    return xp.asarray(div.astype(dtype if np.dtype(dtype).kind in "fV" else np.int64))


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, fname):
    k, s, p, _, out, pads = _pool_geometry(input, kernel_size, stride, padding, 1, ceil_mode, nd, fname)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    div = _avg_divisor(xp_of(input._data), input.shape[-nd:], out, k, s, p, count_include_pad, divisor_override,
                       input._data.dtype)
    return AvgPoolNd.apply(input, k, s, pads, div)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L) input."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W) input, PyTorch's ``F.avg_pool2d``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.avg_pool2d(nnbox.arange(16.).view(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over sliding windows of (N, C, D, H, W) input."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3,
                     "avg_pool3d")


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: (sum over window of x**p) ** (1/p)."""
    k = _tup(kernel_size, 1, "kernel_size", "lp_pool1d")
    y = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return (y.sign() * y.abs().relu()).mul(k[0]).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over 2-d windows."""
    k = _tup(kernel_size, 2, "kernel_size", "lp_pool2d")
    y = avg_pool2d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return (y.sign() * y.abs().relu()).mul(k[0] * k[1]).pow(1.0 / norm_type)


# --- adaptive pooling -------------------------------------------------------------------------------

def _adaptive_bounds(n: int, o: int):
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)  # floor(i*n/o), ceil((i+1)*n/o)


def _avg_matrix(xp, n, o, dtype):
    start, end = _adaptive_bounds(n, o)
    cols = np.arange(n)
    m = ((cols >= start[:, None]) & (cols < end[:, None])) / (end - start)[:, None]
    return xp.asarray(m.astype(dtype))


class SeparableLinear(Function):
    """Apply one (out, in) matrix along each trailing axis: y = contract(x, mats).  Linear, so the
    backward applies the transposed matrices.  Adaptive average pooling and ``interpolate``'s
    linear modes are both of this form."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, mats, transpose=False):
        ctx.mats, ctx.transpose = mats, transpose
        return _apply_mats(x, mats, transpose)

    @staticmethod
    def backward(ctx, gy):
        return SeparableLinear.run(gy, ctx.mats, not ctx.transpose), None, None


def _apply_mats(x, mats, transpose):
    xp = xp_of(x)
    nd = len(mats)
    y = x
    for i, m in enumerate(mats):  # contract spatial axis i (counted from the end) with m
        ax = x.ndim - nd + i
        y = xp.moveaxis(xp.moveaxis(y, ax, -1) @ (m if transpose else m.T), -1, ax)
    return xp.ascontiguousarray(y)


def _adaptive_out(input, output_size, nd, fname):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        if nd == 1:
            raise RuntimeError(f"{fname}(): Expected 2D or 3D tensor, but got {shape_str(input.shape)}")
        raise RuntimeError(f"{fname}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {shape_str(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise RuntimeError(f"{fname}: output_size must be {nd}")
        out = tuple(input.shape[-nd + i] if o is None else int(o) for i, o in enumerate(output_size))
    else:
        out = (int(output_size),) * nd
    for i in range(1 if input.ndim == nd + 2 else 0, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError(f"{fname}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {shape_str(input.shape)} with dimension {i} being empty")
    if any(o < 0 for o in out):
        raise RuntimeError(f"{fname}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{', '.join(map(str, out))}}}")
    return out


def _adaptive_avg(input, output_size, nd, fname):
    out = _adaptive_out(input, output_size, nd, fname)
    if nd == 3 and _ac.any_on[0]:  # autocast: adaptive_avg_pool3d is in torch's CPU float32 list
        (input,) = autocast_fp32(input)
    sp = input.shape[-nd:]
    if input._data.dtype.kind not in "fcV":
        raise NotImplementedError(f"{fname}: integer inputs are not supported by nnbox")
    if all(o > 0 and n % o == 0 for n, o in zip(sp, out)):  # regular windows: plain average pooling
        k = tuple(n // o for n, o in zip(sp, out))
        if all(kk == n for kk, n in zip(k, sp)):  # global pooling: a mean (one reduction)
            return input.mean(dim=tuple(range(-nd, 0)), keepdim=True)
        div = _avg_divisor(xp_of(input._data), sp, out, k, k, (0,) * nd, True, None, input._data.dtype)
        return AvgPoolNd.apply(input, k, k, ((0, 0),) * nd, div)
    xp = xp_of(input._data)
    mats = [_avg_matrix(xp, n, o, input._data.dtype) for n, o in zip(sp, out)]
    return SeparableLinear.apply(input, mats)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output length."""
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed (H, W) output, PyTorch's ``F.adaptive_avg_pool2d``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.adaptive_avg_pool2d(nnbox.ones(2, 3, 5, 7), (2, 3)).shape
    torch.Size([2, 3, 2, 3])
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(input, output_size, 3, "adaptive_avg_pool3d")


class AdaptiveMaxPoolNd(Function):
    """Max over variable windows: one vectorised max per output position (the outputs are few)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, out_size):
        xp = xp_of(x)
        nd = len(out_size)
        sp = x.shape[-nd:]
        bounds = [_adaptive_bounds(n, o) for n, o in zip(sp, out_size)]
        lead = x.shape[:-nd]
        y = xp.empty(lead + tuple(out_size), dtype=x.dtype)
        idx = xp.empty(lead + tuple(out_size), dtype=np.int64)
        for pos in itertools.product(*(range(o) for o in out_size)):
            sl = tuple(slice(b[0][p], b[1][p]) for b, p in zip(bounds, pos))
            win = x[(Ellipsis,) + sl].reshape(lead + (-1,))
            if x.dtype.kind in "fV":  # NaN wins, as in torch
                nanwin = xp.isnan(win)
                a = xp.where(nanwin.any(axis=-1), nanwin.argmax(axis=-1), win.argmax(axis=-1))
            else:
                a = win.argmax(axis=-1)
            y[(Ellipsis,) + pos] = xp.take_along_axis(win, a[..., None], axis=-1)[..., 0]
            # flat index within the window -> flat index within the input plane
            wshape = tuple(s.stop - s.start for s in sl)
            coords = xp.unravel_index(a, wshape)
            flat = xp.zeros(a.shape, dtype=np.int64)
            for c, s, n in zip(coords, sl, sp):
                flat = flat * n + (c + s.start)
            idx[(Ellipsis,) + pos] = flat
        ctx.save_for_backward(idx)
        ctx.x_shape, ctx.out_size = x.shape, out_size
        ctx.mark_non_differentiable(idx)
        return y, idx

    @staticmethod
    def backward(ctx, gy, gidx):
        (idx,) = ctx.saved_tensors
        return PlaneScatter.run(gy, idx, ctx.x_shape, len(ctx.x_shape) - len(ctx.out_size)), None


class PlaneScatter(Function):
    """Zeros of ``out_shape`` with each ``g`` value summed in at its plane's flat index ``idx``:
    adaptive max pooling's backward.  Linear in ``g``; its adjoint is ``PlaneGather``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, g, idx, out_shape, n_lead):
        ctx.save_for_backward(idx)
        ctx.args = (g.shape, n_lead)
        return _scatter_add(g, idx, out_shape, n_lead)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        g_shape, n_lead = ctx.args
        return PlaneGather.run(gg, idx, g_shape, n_lead), None, None, None


class PlaneGather(Function):
    """``x`` (lead..., *plane) read at each plane's flat indices ``idx`` (lead..., *any) -> the shape
    of ``idx``: the adjoint of ``PlaneScatter`` (and max unpooling's backward)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, idx, out_shape, n_lead):
        xp = xp_of(x)
        rows = math.prod(x.shape[:n_lead])
        ctx.save_for_backward(idx)
        ctx.args = (x.shape, n_lead)
        return xp.take_along_axis(x.reshape(rows, -1), idx.reshape(rows, -1), axis=1).reshape(out_shape)

    @staticmethod
    def backward(ctx, gy):
        (idx,) = ctx.saved_tensors
        x_shape, n_lead = ctx.args
        return PlaneScatter.run(gy, idx, x_shape, n_lead), None, None, None


def _scatter_add(g, idx, out_shape, n_lead: int):
    """Zeros of ``out_shape`` = (lead..., *plane) with each ``g`` value summed in at its plane's flat
    index ``idx`` (``g`` and ``idx`` share the shape (lead..., *anything)).

    ``bincount`` over plane-offset indices is the fast scatter-add (``np.add.at`` is ~10x slower)."""
    xp = xp_of(g)
    lead = math.prod(out_shape[:n_lead])
    plane = math.prod(out_shape[n_lead:])
    flat = (idx.reshape(lead, -1) + xp.arange(lead, dtype=np.int64)[:, None] * plane).reshape(-1)
    out = xp.bincount(flat, weights=g.reshape(-1), minlength=lead * plane)
    return out.astype(g.dtype, copy=False).reshape(out_shape)


def _adaptive_max(input, output_size, return_indices, nd, fname):
    out = _adaptive_out(input, output_size, nd, fname)
    y, idx = AdaptiveMaxPoolNd.apply(input, out)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed (H, W) output.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.adaptive_max_pool2d(nnbox.arange(16.).view(1, 1, 4, 4), 1).item()
    15.0
    """
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


# --- max unpooling ----------------------------------------------------------------------------------

class MaxUnpoolNd(Function):
    """Place each input value at its recorded flat index in a zero plane; backward gathers."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, idx, out_sp):
        xp = xp_of(x)
        nd = len(out_sp)
        lead = x.shape[:-nd]
        rows = math.prod(lead)
        plane = math.prod(out_sp)
        i2 = idx.reshape(rows, -1)
        if i2.size and (int(i2.min()) < 0 or int(i2.max()) >= plane):
            bad = int(i2.max()) if int(i2.max()) >= plane else int(i2.min())
            raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                               f"{'x'.join(map(str, out_sp))})")
        out = xp.zeros((rows, plane), dtype=x.dtype)
        out[xp.arange(rows)[:, None], i2] = x.reshape(rows, -1)  # fancy indexing: NumPy and CuPy alike
        ctx.save_for_backward(i2)
        ctx.x_shape, ctx.out_sp = x.shape, tuple(out_sp)
        return out.reshape(lead + tuple(out_sp))

    @staticmethod
    def backward(ctx, gy):
        (i2,) = ctx.saved_tensors
        n_lead = len(gy.shape) - len(ctx.out_sp)
        return PlaneGather.run(gy, i2, ctx.x_shape, n_lead), None, None


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd, fname):
    k = _tup(kernel_size, nd, "kernel_size", fname)
    s = k if stride is None else _tup(stride, nd, "stride", fname)
    p = _tup(padding, nd, "padding", fname)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fname}: Expected {nd + 1}D or {nd + 2}D tensor, but got {shape_str(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({shape_str(input.shape)}) but got indices tensor with shape: {shape_str(indices.shape)}")
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype}")
    default = tuple((n - 1) * ss - 2 * pp + kk for n, ss, pp, kk in zip(input.shape[-nd:], s, p, k))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in output_size)
        if len(out) == nd + 2 or len(out) == nd + 1 and input.ndim == nd + 1:
            out = out[-nd:]
        if len(out) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                             f"length of '{len(out)}'")
        for o, d, ss in zip(out, default, s):
            if not d - ss < o < d + ss:
                raise ValueError(f"invalid output_size \"{list(out)}\" (dim {out.index(o)} must be between "
                                 f"{d - ss} and {d + ss})")
    return MaxUnpoolNd.apply(input, indices, out)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Partial inverse of ``max_pool1d``: scatter values back to their argmax positions."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Partial inverse of ``max_pool2d``: values go back to their argmax positions, zeros elsewhere.

    >>> import nnbox, nnbox.nn.functional as F
    >>> y, i = F.max_pool2d(nnbox.arange(4.).view(1, 1, 2, 2), 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2).tolist()
    [[[[0.0, 0.0], [0.0, 3.0]]]]
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")
