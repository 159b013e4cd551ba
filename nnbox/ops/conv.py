"""Convolutions (1-, 2- and 3-d, plain and transposed): fused Functions with hand-derived backward.

One im2col and one GEMM per call, never a Python loop over the batch:

* ``_im2col`` views the padded input through ``as_strided`` as ``(C, *kernel, N, *out)`` and copies
  it once into a contiguous ``(C*K, N*P)`` matrix (``K`` kernel taps, ``P`` output positions);
* forward is ``W (O, C*K) @ cols`` (a batched GEMM over groups), then one transpose to NC...;
* the weight gradient is ``gy (O, N*P) @ cols.T``, reusing the saved ``cols``;
* the input gradient is ``W.T @ gy`` followed by ``_col2im``: a loop over the kernel taps (9 for a
  3x3 kernel), each adding one strided slab into the padded input gradient.

Faster paths, each exact or tested against torch: 1x1 kernels without padding run as a direct
batched GEMM in NC layout (``_conv1x1``, no im2col); kernels with few rows (RGB/grey stems) run
im2col per image in NC layout (``_conv_nc``); 3x3 stride-1 float32 convolutions with at least 16
channels each side and 64 tiles * batch run by Winograd F(4x4, 3x3), and those with fewer tiles but
128+ channels and 96 2x2 tiles * batch by F(2x2, 3x3) (``_winograd.py``: forward, input and weight
gradient, within a stated tolerance; the forward saves its transformed input instead of cols;
``torch.backends.mkldnn.enabled = False`` turns it off).  The im2col/col2im/layout
copies stay on one thread: split over two (ops/_chunks.py) they measured 3-15% slower on this
2-core machine (memory-bound, and OpenBLAS's threads still spin after each GEMM).

The transposed convolution is the adjoint of the convolution, so its forward is the convolution's
input gradient and its backward is the convolution's forward (and the weight gradient with the
roles of input and output exchanged).  Both therefore share the three primitives below.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .._backend import autocast_state as _ac
from .._tensor import Tensor
from ..autograd.function import Function
from . import _pool, _transpose, _winograd
from ._lowp import autocast_entry
from ._util import shape_str, xp_of

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

_as_strided = np.lib.stride_tricks.as_strided


# --- the array primitives ---------------------------------------------------------------------------
# Internally images live "channel-major, batch-innermost": (C, *S, N).  With N innermost every
# kernel tap's slab is (C, *out, N) and its inner loop runs over W*N (or N) contiguous elements,
# instead of the W (often 2-8 in a ResNet) that NCHW gives; im2col and col2im get several times
# faster, at the price of one transpose on the way in and one on the way out.

_BLOCK = 1 << 16  # elements per chunk of a layout change: the chunk's source and target stay in L2


def _transposed_copy(src, axes, out=None, chunk_axis: int = 1, add=None):
    """``src.transpose(axes)`` copied into ``out`` (or a new C-contiguous array), chunk by chunk
    along ``chunk_axis`` of the result.  A plain copy through a transposed view strides across the
    whole array and misses cache on every read once it outgrows L2; chunks keep both ends local.
    ``add`` (broadcastable to the result, e.g. a bias) is added in the same pass.  Moving the first
    axis last or the last first between C-contiguous arrays is a 2-d transpose: BLAS's, where
    ``_transpose`` finds one."""
    xp = xp_of(src)
    view = src.transpose(axes)
    if out is None:
        out = xp.empty(view.shape, dtype=src.dtype)
    if add is None and _blas_transpose(src, axes, out):
        return out
    n = view.shape[chunk_axis]
    per = max(1, _BLOCK // max(1, view.size // max(n, 1)))
    if type(src) is not np.ndarray or per >= n:
        if add is None:
            out[...] = view
        else:
            xp.add(view, add, out=out)
        return out
    lead = (slice(None),) * chunk_axis
    for i in range(0, n, per):
        idx = lead + (slice(i, i + per),)
        if add is None:
            out[idx] = view[idx]
        else:
            np.add(view[idx], add[idx] if add.shape[chunk_axis] > 1 else add, out=out[idx])
    return out


def _blas_transpose(src, axes, out) -> bool:
    """``out[...] = src.transpose(axes)`` by ``_transpose`` where ``axes`` moves the first axis last
    or the last axis first and both arrays are C-contiguous; False where it did not run."""
    d = src.ndim
    if d < 2 or type(src) is not np.ndarray or not (src.flags.c_contiguous and out.flags.c_contiguous):
        return False
    if tuple(axes) == tuple(range(1, d)) + (0,):
        return _transpose.transpose(src.reshape(src.shape[0], -1), out.reshape(-1, src.shape[0]))
    if tuple(axes) == (d - 1,) + tuple(range(d - 1)):
        return _transpose.transpose(src.reshape(-1, src.shape[-1]), out.reshape(src.shape[-1], -1))
    return False


def _to_cm(x, pads):
    """(N, C, *S) -> zero-padded (C, *Sp, N) in one pass; ``pads`` = ((lo, hi), ...).  A negative
    ``hi`` (a transposed convolution's output_padding beyond its padding) crops instead."""
    sp = x.shape[2:]
    shape = (x.shape[1],) + tuple(s + lo + hi for s, (lo, hi) in zip(sp, pads)) + (x.shape[0],)
    keep = tuple(s + min(hi, 0) for s, (_, hi) in zip(sp, pads))
    src = x[(slice(None), slice(None)) + tuple(slice(0, k) for k in keep)]
    axes = tuple(range(1, x.ndim)) + (0,)
    if not any(lo or hi for lo, hi in pads):
        return _transposed_copy(src, axes, _pool.empty(x, "conv.cm", shape, x.dtype), chunk_axis=0)
    out = _pool.empty(x, "conv.cm", shape, x.dtype)
    # zero only the padding (the copy writes the rest): filling the whole array first wrote it twice
    for i, (k, (lo, _)) in enumerate(zip(keep, pads)):
        lead = (slice(None),) * (1 + i)
        out[lead + (slice(0, lo),)] = 0
        out[lead + (slice(lo + k, None),)] = 0
    inner = out[(slice(None),) + tuple(slice(lo, lo + k) for k, (lo, _) in zip(keep, pads))]
    if keep == sp and type(x) is np.ndarray:  # BLAS's transpose into a work array, then a copy of long runs
        tmp = _pool.take("conv.cmtmp", inner.shape, x.dtype)
        if _blas_transpose(x, axes, tmp):
            inner[...] = tmp
            return out
    _transposed_copy(src, axes, inner, 0)
    return out


def _from_cm(a, pads, sp):
    """(C, *Sp, N) -> (N, C, *S) contiguous, dropping the padding."""
    a = a[(slice(None),) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sp, pads))]
    return _nc_copy(a)


def _nc_copy(a, bias=None):
    """(C, *S, N) -> (N, C, *S) contiguous, into a recycled array: a layer's output or input gradient,
    so it is handed out again only after the graph and the caller have let go of it (``_pool``).
    ``bias`` (C,) is added on the way (one pass over the output instead of two)."""
    axes = (a.ndim - 1,) + tuple(range(a.ndim - 1))
    out = _pool.empty(a, "conv.nc", tuple(a.shape[i] for i in axes), a.dtype)
    if bias is None and type(a) is np.ndarray and not a.flags.c_contiguous and a.size >= _transpose.MIN_ELEMENTS:
        # a cropped view (padding, partial tiles): a copy of long runs, then BLAS's transpose
        tmp = _pool.take("conv.nctmp", a.shape, a.dtype)
        tmp[...] = a
        if _blas_transpose(tmp, axes, out):
            return out
    add = None if bias is None else bias.reshape((1, -1) + (1,) * (a.ndim - 2))
    return _transposed_copy(a, axes, out, chunk_axis=1, add=add)


def _im2col(xc, ksize, stride, dilation, out_size):
    """Padded (C, *Sp, N) -> contiguous cols (C*K, P*N): row (c, tap), column (out position, n)."""
    xp = xp_of(xc)
    st = xc.strides
    nd = len(ksize)
    shape = (xc.shape[0],) + tuple(ksize) + tuple(out_size) + (xc.shape[-1],)
    strides = ((st[0],) + tuple(st[1 + i] * dilation[i] for i in range(nd))
               + tuple(st[1 + i] * stride[i] for i in range(nd)) + (st[-1],))
    if type(xc) is np.ndarray:
        v = _as_strided(xc, shape, strides, writeable=False)
    else:
        v = xp.lib.stride_tricks.as_strided(xc, shape, strides)
    cols = _pool.empty(xc, "conv.cols", shape, xc.dtype)
    cols[...] = v
    return cols.reshape(xc.shape[0] * math.prod(ksize), -1)


def _col2im(dcols, cm_shape, ksize, stride, dilation, out_size):
    """Adjoint of ``_im2col``: cols (C*K, P*N) summed into zeros of ``cm_shape`` (C, *Sp, N), one
    strided slab add per kernel tap."""
    nd = len(ksize)
    d = dcols.reshape((cm_shape[0],) + tuple(ksize) + tuple(out_size) + (cm_shape[-1],))
    acc = _pool.empty(dcols, "conv.acc", cm_shape, dcols.dtype, zero=True)
    for tap in itertools.product(*(range(k) for k in ksize)):
        idx = (slice(None),) + tuple(
            slice(tap[i] * dilation[i], tap[i] * dilation[i] + stride[i] * (out_size[i] - 1) + 1, stride[i])
            for i in range(nd))
        acc[idx] += d[(slice(None),) + tap]
    return acc


def _gemm_w(w, cols, groups):
    """W (O, C/g*K) @ cols (C*K, M), per group -> (O, M)."""
    o = w.shape[0]
    if groups == 1:
        if type(cols) is np.ndarray:  # the product into a recycled array (``_pool``: no page faults)
            return np.matmul(w.reshape(o, -1), cols, out=_pool.take("conv.y2", (o, cols.shape[1]), cols.dtype))
        return w.reshape(o, -1) @ cols
    y = w.reshape(groups, o // groups, -1) @ cols.reshape(groups, -1, cols.shape[1])
    return y.reshape(o, -1)


def _out_to_nc(y2, n, out_size, bias=None):
    """(O, P*N) -> (N, O, *out) contiguous, plus ``bias`` (O,) if given.  ``y2`` is a work array (the
    GEMM's product): on NumPy the bias goes into it in place, so the layout change is a plain
    transpose (BLAS's: a (128, 8192) product with its bias 0.71 -> 0.17 ms, one thread)."""
    if bias is not None and type(y2) is np.ndarray and y2.flags.c_contiguous:
        y2 += bias.reshape(-1, 1)
        bias = None
    return _nc_copy(y2.reshape((y2.shape[0],) + tuple(out_size) + (n,)), bias)


def _grad_to_cm(gy):
    """(N, O, *out) -> (O, P*N) contiguous."""
    axes = tuple(range(1, gy.ndim)) + (0,)
    out = _pool.empty(gy, "conv.g2", tuple(gy.shape[a] for a in axes), gy.dtype)
    return _transposed_copy(gy, axes, out, chunk_axis=0).reshape(gy.shape[1], -1)


def _conv_forward(x, w, stride, pads, dilation, groups, taps=None, keep=False, bias=None):
    """y = conv(x, w); returns (y contiguous (N, O, *out), cols (C*K, P*N), wino): cols None where a
    3x3 convolution ran by Winograd (``_winograd.usable``), which instead returns its (V, U)
    transforms in ``wino`` when ``keep`` (the backward reuses them).  ``bias`` is added in the
    output's layout change."""
    ksize = w.shape[2:]
    out_size = _nc_out_size(x.shape[2:], ksize, stride, pads, dilation)
    sc = _winograd.usable(x, w.shape, stride, dilation, groups, taps, out_size)
    if sc:
        xc = _to_cm(x, _winograd_pads(x.shape[2:], pads, out_size, sc))
        y, v, u = _winograd.conv3x3(xc, w, out_size, keep, bias, sc)
        return y, None, (v, u)
    xc = _to_cm(x, pads)
    cols = _im2col(xc, ksize, stride, dilation, out_size)
    return _out_to_nc(_gemm_w(w, cols, groups), x.shape[0], out_size, bias), cols, None


def _winograd_pads(sp, pads, out_size, sc=_winograd.F4):
    """The padding that makes a 3x3 convolution's input whole (m+2)x(m+2) Winograd tiles every m
    (``sc``'s m): the same low padding, and zeros up to m * tiles + 2 rows / columns on the high side."""
    th, tw = _winograd.tiles(out_size, sc)
    return tuple((lo, sc.m * t + 2 - s - lo) for s, (lo, _), t in zip(sp, pads, (th, tw)))


def _pointwise(w_shape, pads, groups, taps) -> bool:
    """A 1x1 (1x1x1, ...) kernel without padding or groups: a plain GEMM per image, no im2col."""
    return groups == 1 and taps is None and all(k == 1 for k in w_shape[2:]) and not any(lo or hi for lo, hi in pads)


def _subsample(x, stride):
    """x[..., ::s, ::s] as a contiguous (N, C, P) array (no copy for stride 1)."""
    xp = xp_of(x)
    xs = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    return xp.ascontiguousarray(xs).reshape(x.shape[0], x.shape[1], -1), xs.shape[2:]


def _conv1x1(x, w, stride):
    """y (N, O, *out) = W (O, C) @ x_n (C, P) for every image n: one batched GEMM in NC layout, no
    layout change on the way in or out (the im2col path transposes twice)."""
    xs, out = _subsample(x, stride)
    y = xp_of(x).matmul(w.reshape(w.shape[0], -1), xs)
    return y.reshape((x.shape[0], w.shape[0]) + tuple(out))


def _conv1x1_grads(gy, x, w, x_shape, stride, need_x, need_w):
    """(gx, gw) of ``_conv1x1``: gx_n = W^T gy_n (zeros between the strided samples), gw = sum_n gy_n xs_n^T."""
    xp = xp_of(gy)
    n, o = gy.shape[0], gy.shape[1]
    g3 = gy.reshape(n, o, -1)
    gx = gw = None
    if need_x:
        w2 = w.reshape(o, -1)
        gs = xp.matmul(w2.T, g3)
        if all(s == 1 for s in stride):
            gx = gs.reshape(x_shape)
        else:
            gx = xp.zeros(x_shape, dtype=gy.dtype)
            gx[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = \
                gs.reshape((n, x_shape[1]) + tuple(gy.shape[2:]))
    if need_w:
        xs, _ = _subsample(x, stride)
        # one GEMM over all images: (O, N*P) @ (N*P, C), each side brought to channel-major once
        gw = xp.tensordot(g3, xs, axes=([0, 2], [0, 2]))  # (O, C)
    return gx, gw


# --- im2col in NC layout, for kernels with few rows (C*K) ------------------------------------------
# cols (N, C*K, P) come straight from the padded (N, C, *S) input and one batched GEMM writes
# (N, O, P), the output's own layout: the channel-major path's layout changes (the input in, the
# output out, the output gradient in for the backward) cost more than its GEMMs when C*K is small.
# Measured, one thread: a 3-channel 3x3 stem (batch 32, 32x32, 64 out) forward 2.7 -> 1.4 ms and
# weight gradient 3.2 -> 1.3 ms; one channel (batch 64, 28x28, 32 out) 1.9 -> 0.5 and 2.2 -> 0.2 ms.
_NC_ROWS = 32


def _few_rows(w_shape, groups, taps) -> bool:
    """One group, untrimmed taps, and at most ``_NC_ROWS`` input channels times kernel taps."""
    return groups == 1 and taps is None and w_shape[1] * math.prod(w_shape[2:]) <= _NC_ROWS


# A forward pass without gradients (inference) saves the layout changes for any C*K once each image
# has this many output positions (one thread, batch 32: ResNet18's 64->128 stride-2 3x3 conv, 256
# positions, 11.9 -> 9.0 ms; 128->256, 64 positions, 8.7 -> 8.3 ms; 256->512, 16 positions, 6.8 ->
# 9.3 ms, so not there).  In training the channel-major path's backward measured faster.
_NC_POSITIONS = 64


def _nc_inference(x, w_shape, stride, pads, dilation, groups, taps) -> bool:
    """The NC path for a gradient-free forward pass that Winograd does not take."""
    if groups != 1 or taps is not None:
        return False
    out_size = _nc_out_size(x.shape[2:], w_shape[2:], stride, pads, dilation)
    return (math.prod(out_size) >= _NC_POSITIONS
            and not _winograd.usable(x, w_shape, stride, dilation, groups, taps, out_size))


def _nc_out_size(sp, ksize, stride, pads, dilation) -> tuple:
    return tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                 for s, k, st, (lo, hi), d in zip(sp, ksize, stride, pads, dilation))


def _im2col_nc(x, ksize, stride, pads, dilation, out_size):
    """(N, C, *S) -> cols (N, C*K, P) of the zero-padded input: row (c, tap), column out position."""
    n, c, sp = x.shape[0], x.shape[1], x.shape[2:]
    nd = len(ksize)
    if any(lo or hi for lo, hi in pads):
        xp_ = _pool.take("conv.padnc", (n, c) + tuple(s + lo + hi for s, (lo, hi) in zip(sp, pads)), x.dtype,
                         zero=True)
        xp_[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sp, pads))] = x
    else:
        xp_ = x
    st = xp_.strides
    shape = (n, c) + tuple(ksize) + tuple(out_size)
    strides = (st[:2] + tuple(st[2 + i] * dilation[i] for i in range(nd))
               + tuple(st[2 + i] * stride[i] for i in range(nd)))
    cols = _pool.take("conv.colsnc", (n, c * math.prod(ksize), math.prod(out_size)), x.dtype)
    cols.reshape(shape)[...] = _as_strided(xp_, shape, strides, writeable=False)
    return cols


# Without a backward to keep the cols for, the NC path builds them a few images at a time, about this
# many bytes, so each group's cols stay in cache for its GEMMs instead of going through memory.
# Measured, one thread, batch 32, three runs at load 3: the stride-2 3x3 conv 64->128 at 32x32 (cols
# 19 MB in all) 8.16-8.20 -> 7.48-7.82 ms; 128->256 at 16x16 and the RGB stem unchanged (smaller
# groups, 1-2 MB, were slower on the stem).
_NC_GROUP_BYTES = 1 << 22


def _conv_nc(x, w, b, stride, pads, dilation, keep: bool = True):
    """y (N, O, *out) = W (O, C*K) @ cols_n for every image n (+ b), and the cols for the backward
    (None unless ``keep``: then they are built a group of images at a time)."""
    n, o = x.shape[0], w.shape[0]
    out_size = _nc_out_size(x.shape[2:], w.shape[2:], stride, pads, dilation)
    p = math.prod(out_size)
    y = _pool.take("conv.nc", (n, o, p), x.dtype)
    w2 = w.reshape(o, -1)
    group = n if keep else max(1, _NC_GROUP_BYTES // (w2.shape[1] * p * x.itemsize))
    for n0 in range(0, n, group):
        cols = _im2col_nc(x[n0:n0 + group], w.shape[2:], stride, pads, dilation, out_size)
        np.matmul(w2, cols, out=y[n0:n0 + group])
    if b is not None:
        y += b.reshape(1, -1, 1)
    return y.reshape((n, o) + out_size), cols if keep else None


def _conv_nc_grads(gy, cols, w, w_shape, x_shape, stride, pads, dilation, need_x, need_w):
    """(gx, gw) of ``_conv_nc``: gw = sum_n gy_n cols_n^T; gx the per-tap adjoint of ``_im2col_nc``."""
    n, o = gy.shape[0], gy.shape[1]
    g3 = gy.reshape(n, o, -1)
    gx = gw = None
    if need_w:
        gw = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)
    if need_x:
        ksize, out_size, nd = w_shape[2:], gy.shape[2:], len(w_shape) - 2
        d = np.matmul(w.reshape(o, -1).T, g3).reshape((n, x_shape[1]) + tuple(ksize) + tuple(out_size))
        sp = x_shape[2:]
        acc = np.zeros(tuple(x_shape[:2]) + tuple(s + lo + hi for s, (lo, hi) in zip(sp, pads)), gy.dtype)
        for tap in itertools.product(*(range(k) for k in ksize)):
            idx = (slice(None), slice(None)) + tuple(
                slice(tap[i] * dilation[i], tap[i] * dilation[i] + stride[i] * (out_size[i] - 1) + 1, stride[i])
                for i in range(nd))
            acc[idx] += d[(slice(None), slice(None)) + tap]
        gx = np.ascontiguousarray(acc[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sp, pads))])
    return gx, gw


# weights of at least this many elements get dW = gy @ cols.T directly: the transposed copy of the
# other orientation cost more than its faster GEMM saves (512x4608: 16.7 -> 10.6 ms, one thread)
_GW_DIRECT = 1 << 20


def _conv_grad_weight(g2, cols, w_shape, groups):
    """dW = gy (O, P*N) @ cols.T, per group.  Small weights compute it as (cols @ gy.T).T: OpenBLAS
    ran that orientation of this long-inner-dimension GEMM 20-40% faster, and the final transpose is
    weight-sized; large ones directly (a transposed copy of millions of elements is slow)."""
    xp = xp_of(g2)
    o = g2.shape[0]
    if groups == 1:
        if o * cols.shape[0] >= _GW_DIRECT:
            return (g2 @ cols.T).reshape(w_shape)
        return xp.ascontiguousarray((cols @ g2.T).T).reshape(w_shape)
    gw = cols.reshape(groups, -1, cols.shape[1]) @ g2.reshape(groups, o // groups, -1).swapaxes(1, 2)
    return xp.ascontiguousarray(gw.swapaxes(1, 2)).reshape(w_shape)


def _conv_grad_input(g2, w, x_shape, out_size, stride, pads, dilation, groups):
    """dx (N, C, *S) for y = conv(x, w) from gy as (O, P*N)."""
    o = w.shape[0]
    ksize = w.shape[2:]
    if groups == 1:
        if type(g2) is np.ndarray:
            dcols = np.matmul(w.reshape(o, -1).T, g2, out=_pool.take("conv.dcols", (w[0].size, g2.shape[1]), g2.dtype))
        else:
            dcols = w.reshape(o, -1).T @ g2
    else:
        dcols = (w.reshape(groups, o // groups, -1).swapaxes(1, 2) @ g2.reshape(groups, o // groups, -1))
        dcols = dcols.reshape(-1, g2.shape[1])
    # a negative hi (transposed conv's output_padding) means rows no tap reaches: keep them zero
    cm_shape = (x_shape[1],) + tuple(s + lo + max(hi, 0) for s, (lo, hi) in zip(x_shape[2:], pads)) + (x_shape[0],)
    acc = _col2im(dcols, cm_shape, ksize, stride, dilation, out_size)
    return _from_cm(acc, pads, x_shape[2:])


# --- Functions ------------------------------------------------------------------------------------

class ConvNd(Function):
    """y = conv(x, w) + b, one node; saves the im2col matrix for the weight gradient.

    ``taps`` (slices over the kernel dims, or None) restricts the kernel to the taps that can see
    data (see ``_trim_padding_taps``); the weight gradient is zero on the others.  The backward is
    ``ConvNdBackward`` (a Function of its own, so the gradient can be differentiated again)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups, taps=None):
        w_full = w
        if taps is not None:
            w = w[(slice(None), slice(None)) + taps]
        if _pointwise(w.shape, pads, groups, taps) and type(x) is np.ndarray:
            y, cols, wino = _conv1x1(x, w, stride), None, None
            if b is not None:
                y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        elif type(x) is np.ndarray and (_few_rows(w.shape, groups, taps) or (
                not any(ctx.needs_input_grad[:2]) and _nc_inference(x, w.shape, stride, pads, dilation, groups, taps))):
            (y, cols), wino = _conv_nc(x, w, b, stride, pads, dilation, ctx.needs_input_grad[1]), None
        else:
            y, cols, wino = _conv_forward(x, w, stride, pads, dilation, groups, taps,
                                          keep=any(ctx.needs_input_grad[:2]), bias=b)
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # x and the full weight are kept too (no copies): a create_graph backward differentiates them
        v, u = wino if wino is not None else (None, None)
        ctx.save_for_backward(x if need_w else None, w_full if need_x else None, cols if need_w else None,
                              v if need_w else None, u if need_x else None)
        ctx.args = (x.shape, w.shape, w_full.shape, stride, pads, dilation, groups, taps)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w, cols, v, u = ctx.saved_tensors
        gx, gw, gb = ConvNdBackward.run(gy, x, w, cols, ctx.args, ctx.needs_input_grad[:3], v, u)
        return gx, gw, gb, None, None, None, None, None


class ConvNdBackward(Function):
    """The gradients of ``ConvNd`` as a Function: ``forward`` is the fast array kernel (input
    gradient by col2im, weight gradient by one GEMM with the saved im2col matrix, or both by
    Winograd from the saved transforms ``v``/``u``; bias gradient a sum); ``backward``
    differentiates it again.  All three gradients are linear in ``gy``, the input
    gradient in ``w`` and the weight gradient in ``x``, so the second-order terms are convolutions
    and convolution gradients again: a graph of fused nodes, to any order."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, x, w, cols, args, need, v=None, u=None):
        x_shape, w_shape, w_full, stride, pads, dilation, groups, taps = args
        wt = w if taps is None or w is None else w[(slice(None), slice(None)) + taps]
        if _pointwise(w_shape, pads, groups, taps) and type(gy) is np.ndarray:
            gx, gw = _conv1x1_grads(gy, x, wt, x_shape, stride, need[0], need[1])
            if gw is not None:
                gw = gw.reshape(w_shape)
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim))) if need[2] else None
            ctx.save_for_backward(gy, x if need[0] or need[1] else None, w if need[0] else None)
            ctx.args, ctx.need = args, need
            ctx.set_materialize_grads(False)
            return gx, gw, gb
        if _few_rows(w_shape, groups, taps) and type(gy) is np.ndarray:
            if need[1] and cols is None:  # a second-order call: the "input" is a new tensor
                cols = _im2col_nc(x, w_shape[2:], stride, pads, dilation, gy.shape[2:])
            gx, gw = _conv_nc_grads(gy, cols, wt, w_shape, x_shape, stride, pads, dilation, need[0], need[1])
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim))) if need[2] else None
            ctx.save_for_backward(gy, x if need[0] or need[1] else None, w if need[0] else None)
            ctx.args, ctx.need = args, need
            ctx.set_materialize_grads(False)
            return gx, gw, gb
        gx = gw = gb = None
        sc = _winograd.usable(gy, w_shape, stride, dilation, groups, taps, gy.shape[2:])
        if sc:
            # the forward ran the same algorithm (decided on the same output size) and saved its
            # transforms, unless this is a second-order call or it ran im2col (the NC path)
            if need[1] and (v is None or v.shape[0] != sc.a ** 2):
                v = _winograd.input_transform(_to_cm(x, _winograd_pads(x_shape[2:], pads, gy.shape[2:], sc)),
                                              *_winograd.tiles(gy.shape[2:], sc), sc)
            if need[0] and (u is None or u.shape[0] != sc.a ** 2):
                u = _winograd.filter_transform(wt, sc)
            gx, gw = _winograd.conv3x3_backward(gy, v, u, x_shape, pads, need[0], need[1], sc)
        elif need[0] or need[1]:
            g2 = _grad_to_cm(gy)
            if need[0]:
                gx = _conv_grad_input(g2, wt, x_shape, gy.shape[2:], stride, pads, dilation, groups)
        if need[1] and gw is None:
            if cols is None:  # a second-order call: the "input" is a new tensor
                xc = _to_cm(x, pads)
                cols = _im2col(xc, w_shape[2:], stride, dilation, gy.shape[2:])
            gw = _conv_grad_weight(g2, cols, w_shape, groups)
            if taps is not None:
                full = xp_of(gw).zeros(w_full, dtype=gw.dtype)
                full[(slice(None), slice(None)) + taps] = gw
                gw = full
        if need[2]:
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
        ctx.save_for_backward(gy, x if need[0] or need[1] else None, w if need[0] else None)
        ctx.args, ctx.need = args, need
        ctx.set_materialize_grads(False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        gy, x, w = ctx.saved_tensors
        args = ctx.args
        x_shape, w_shape, w_full, stride, pads, dilation, groups, taps = args
        xp = xp_of(gy)
        g_gy = g_x = g_w = None
        # d/d gy: gx = conv_input_grad(gy, w), gw = conv_weight_grad(gy, x), gb = sum(gy)
        if ggx is not None:
            g_gy = ConvNd.run(ggx, w, None, stride, pads, dilation, groups, taps)
            g_w = ConvNdBackward.run(gy, ggx, None, None, args, (False, True, False))[1]
        if ggw is not None:
            t = ConvNd.run(x, ggw, None, stride, pads, dilation, groups, taps)
            g_gy = t if g_gy is None else g_gy + t
            g_x = ConvNdBackward.run(gy, None, ggw, None, args, (True, False, False))[0]
        if ggb is not None:
            t = xp.broadcast_to(xp.reshape(ggb, (1, -1) + (1,) * (len(gy.shape) - 2)), gy.shape)
            g_gy = t if g_gy is None else g_gy + t
        return g_gy, g_x, g_w, None, None, None, None, None


class ConvTransposeNd(Function):
    """y = conv_transpose(x, w) + b: the adjoint of ``ConvNd`` w.r.t. its input."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups, out_shape):
        # w is (C_in, C_out/groups, *k): read as a convolution weight it maps C_out -> C_in, so
        # this is that convolution's input gradient with x in the role of the output gradient.
        y = _conv_grad_input(_grad_to_cm(x), w, out_shape, x.shape[2:], stride, pads, dilation, groups)
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w if ctx.needs_input_grad[0] else None)
        ctx.args = (w.shape, stride, pads, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        gx, gw, gb = ConvTransposeNdBackward.run(gy, x, w, ctx.args, ctx.needs_input_grad[:3])
        return gx, gw, gb, None, None, None, None, None


class ConvTransposeNdBackward(Function):
    """The gradients of ``ConvTransposeNd``: ``gx = conv(gy, w)``, ``gw`` the convolution weight
    gradient with ``x`` as output gradient and ``gy`` as input (one im2col of ``gy`` serves both),
    ``gb = sum(gy)``.  Its ``backward`` is again transposed convolutions and convolutions."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, x, w, args, need):
        w_shape, stride, pads, dilation, groups = args
        gx = gw = gb = None
        if need[0] or need[1]:
            if need[0]:
                gx, cols, _ = _conv_forward(gy, w, stride, pads, dilation, groups)
            if not need[0] or (cols is None and need[1]):
                cols = _im2col(_to_cm(gy, pads), w_shape[2:], stride, dilation, x.shape[2:])
            if need[1]:
                # w as conv weight maps gy(C_out) -> x(C_in): dW = x (C_in, P*N) @ cols(gy).T
                gw = _conv_grad_weight(_grad_to_cm(x), cols, w_shape, groups)
        if need[2]:
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
        ctx.save_for_backward(gy, x if need[1] else None, w if need[0] else None)
        ctx.args = args
        ctx.set_materialize_grads(False)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        gy, x, w = ctx.saved_tensors
        w_shape, stride, pads, dilation, groups = ctx.args
        xp = xp_of(gy)
        out_shape = tuple(gy.shape)
        g_gy = g_x = g_w = None
        if ggx is not None:  # gx = conv(gy, w): linear in gy and in w
            g_gy = ConvTransposeNd.run(ggx, w, None, stride, pads, dilation, groups, out_shape)
            g_w = ConvTransposeNdBackward.run(gy, ggx, None, ctx.args, (False, True, False))[1]
        if ggw is not None:  # gw = wgrad(x; gy): linear in x and in gy
            t = ConvTransposeNd.run(x, ggw, None, stride, pads, dilation, groups, out_shape)
            g_gy = t if g_gy is None else g_gy + t
            g_x = ConvTransposeNdBackward.run(gy, None, ggw, ctx.args, (True, False, False))[0]
        if ggb is not None:
            t = xp.broadcast_to(xp.reshape(ggb, (1, -1) + (1,) * (len(out_shape) - 2)), out_shape)
            g_gy = t if g_gy is None else g_gy + t
        return g_gy, g_x, g_w, None, None


# --- argument handling (torch's checks and messages) ------------------------------------------------

def _tuple(v, nd: int, name: str) -> tuple:
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        if len(v) == 1:
            v = v * nd
        if len(v) != nd:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {nd} values to match the "
                f"convolution dimensions, but got {name}={shape_str(v)}")
        return v
    return (int(v),) * nd


def _float_name(dt) -> str:
    from .._backend.dtype import from_numpy_dtype

    return repr(from_numpy_dtype(dt)).replace("torch.", "")


def _check_common(input: Tensor, weight: Tensor, bias, nd: int, name: str, stride, dilation, groups):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name}(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input of size: "
            f"{shape_str(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(
            "weight should have at least three dimensions" if weight.ndim < 3 else
            f"expected stride to be a single integer value or a list of {weight.ndim - 2} values to match the "
            f"convolution dimensions, but got stride={shape_str(stride)}")
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input._data.dtype)} but found "
                           f"{_scalar_name(weight._data.dtype)}")
    if bias is not None and bias._data.dtype != input._data.dtype:
        raise RuntimeError(f"Input type ({_float_name(input._data.dtype)}) and bias type "
                           f"({_float_name(bias._data.dtype)}) should be the same")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _scalar_name(dt) -> str:
    from .._backend.dtype import from_numpy_dtype

    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(repr(from_numpy_dtype(dt)).replace("torch.", ""), str(dt))


def _pads(padding, nd: int, ksize, dilation, stride):
    """-> ((lo, hi), ...) from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            out = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    p = _tuple(padding, nd, "padding")
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    return tuple((v, v) for v in p)


def _conv(input, weight, bias, stride, padding, dilation, groups, nd: int, name: str) -> Tensor:
    if _ac.any_on[0]:  # autocast: cast before the dtype checks
        input, weight, bias = autocast_entry(ConvNd, input, weight, bias)
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    _check_common(input, weight, bias, nd, name, stride, dilation, groups)
    w = weight.shape
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if w[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size [{shape_str(w)}] instead")
    if x.shape[1] != w[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {shape_str(w)}, expected input"
                           f"{shape_str(x.shape)} to have {w[1] * groups} channels, but got {x.shape[1]} "
                           "channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != w[0]):
        raise RuntimeError(f"Given weight of size {shape_str(w)}, expected bias to be 1-dimensional with {w[0]} "
                           f"elements, but got bias of size {shape_str(bias.shape)} instead")
    pads = _pads(padding, nd, w[2:], dilation, stride)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(w[2:], dilation))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                           f"size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input size")
    taps, pads = _trim_padding_taps(w, x.shape[2:], pads, stride, dilation)
    y = ConvNd.apply(x, weight, bias, stride, pads, dilation, groups, taps)
    return y.squeeze(0) if unbatched else y


def _trim_padding_taps(w, sp, pads, stride, dilation):
    """Find kernel taps that only ever read zero padding (a 3x3 kernel on a 1x1 map with padding 1
    has one useful tap of nine, as in a ResNet's last stage on small images).  Skipping them is
    exact and shrinks the GEMMs by the same factor.  ``w`` is the weight shape; returns (slices of
    the kept taps or None, the matching pads)."""
    keep, new_pads = [], []
    for n, k, (lo, hi), s, d in zip(sp, w[2:], pads, stride, dilation):
        out = (n + lo + hi - d * (k - 1) - 1) // s + 1
        # tap t reads t*d + o*s - lo for o in [0, out): useful if some o lands in [0, n)
        useful = [t for t in range(k)
                  if max(0, -((t * d - lo) // s)) <= min(out - 1, (n - 1 + lo - t * d) // s)]
        if not useful or len(useful) == k:
            keep.append(slice(None))
            new_pads.append((lo, hi))
            continue
        t0, t1 = useful[0], useful[-1] + 1
        lo2 = lo - t0 * d
        hi2 = (out - 1) * s + d * (t1 - t0 - 1) + 1 - n - lo2
        if lo2 < 0 or hi2 < 0 or useful != list(range(t0, t1)):
            keep.append(slice(None))
            new_pads.append((lo, hi))
            continue
        keep.append(slice(t0, t1))
        new_pads.append((lo2, hi2))
    if all(k == slice(None) for k in keep):
        return None, pads
    return tuple(keep), tuple(new_pads)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-d cross-correlation over (N, C, L) input.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.conv1d(nnbox.ones(1, 1, 4), nnbox.ones(1, 1, 2)).tolist()
    [[[2.0, 2.0, 2.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-d cross-correlation over (N, C, H, W) input, PyTorch's ``F.conv2d``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.conv2d(nnbox.ones(1, 1, 3, 3), nnbox.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """3-d cross-correlation over (N, C, D, H, W) input."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd: int,
                    name: str) -> Tensor:
    if _ac.any_on[0]:  # autocast: cast before the dtype checks
        input, weight, bias = autocast_entry(ConvTransposeNd, input, weight, bias)
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    _check_common(input, weight, bias, nd, name, stride, dilation, groups)
    if isinstance(padding, str):
        raise RuntimeError(f"{name} does not support string padding ('{padding}'); pass an int or a tuple")
    pad = _tuple(padding, nd, "padding")
    if any(v < 0 for v in pad):
        raise RuntimeError("negative padding is not supported")
    opad = _tuple(output_padding, nd, "output_padding")
    w = weight.shape
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if x.shape[1] != w[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(w)}, expected input{shape_str(x.shape)} "
                           f"to have {w[0]} channels, but got {x.shape[1]} channels instead")
    if w[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size [{shape_str(w)}] instead")
    cout = w[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(w)}, expected bias to be 1-dimensional "
                           f"with {cout} elements, but got bias of size {shape_str(bias.shape)} instead")
    if any(op >= s and op >= d for op, s, d in zip(opad, stride, dilation)):
        dims = ["height", "width"] if nd == 2 else (["depth", "height", "width"] if nd == 3 else ["width"])
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(f"output_padding_{n}: {v}" for n, v in zip(dims, opad)) + " "
            + " ".join(f"stride_{n}: {v}" for n, v in zip(dims, stride)) + " "
            + " ".join(f"dilation_{n}: {v}" for n, v in zip(dims, dilation)))
    out_sp = tuple((s - 1) * st - 2 * p + d * (k - 1) + op + 1
                   for s, st, p, d, k, op in zip(x.shape[2:], stride, pad, dilation, w[2:], opad))
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, out_sp))}). Output size is too small")
    # output_padding adds rows at the high end that no input reaches: pad them as "hi" padding
    pads = tuple((p, p - op) for p, op in zip(pad, opad))
    y = ConvTransposeNd.apply(x, weight, bias, stride, pads, dilation, groups, (x.shape[0], cout) + out_sp)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-d convolution (the gradient of ``conv1d`` w.r.t. its input)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-d convolution ("deconvolution"), PyTorch's ``F.conv_transpose2d``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.conv_transpose2d(nnbox.ones(1, 1, 2, 2), nnbox.ones(1, 1, 2, 2), stride=2).shape
    torch.Size([1, 1, 4, 4])
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 3-d convolution."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                           "conv_transpose3d")
