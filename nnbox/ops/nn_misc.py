"""Miscellaneous ``F.*`` functions: pad, one_hot, interpolate, normalize, cosine similarity, pairwise
distance, unfold/fold, pixel (un)shuffle.

``pad`` is a fused Function (any mode, any number of trailing dims, negative pads crop); its
backward folds each padded border back onto the element it copied.  ``unfold``/``fold`` reuse the
convolution's im2col/col2im, ``interpolate`` is separable (nearest: an index gather per axis;
linear modes: a small interpolation matrix per axis, so forward and backward are GEMMs).  The rest
compose existing differentiable ops, since each is a couple of array passes anyway.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import shape_str, wrap_dim, xp_of

__all__ = ["pad", "one_hot", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "normalize",
           "cosine_similarity", "pairwise_distance", "pdist", "unfold", "fold", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]


# --- pad --------------------------------------------------------------------------------------------

def _source_index(n_out: int, lo: int, hi: int, n: int, mode: str) -> np.ndarray:
    """For each output position along one axis, the input position it copies (-1: fill value)."""
    j = np.arange(n_out) - lo
    if mode == "constant":
        return np.where((j >= 0) & (j < n), j, -1)
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j >= n, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    # circular: torch crops the negative sides first, then wraps around what is left
    start = max(-lo, 0)
    kept = n - start - max(-hi, 0)
    return start + (np.arange(n_out) - max(lo, 0)) % kept


class Pad(Function):
    """Pad (or crop, for negative amounts) the trailing dims; ``pads`` = ((lo, hi), ...) first dim first."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, pads, mode, value):
        xp = xp_of(x)
        nd = len(pads)
        first = x.ndim - nd
        maps = []
        for i, (lo, hi) in enumerate(pads):
            n = x.shape[first + i]
            maps.append(_source_index(n + lo + hi, lo, hi, n, mode))
        ctx.args = (x.shape, pads, mode, maps)
        if mode == "constant":
            out_shape = x.shape[:first] + tuple(len(m) for m in maps)
            out = xp.full(out_shape, value, dtype=x.dtype)
            dst, src = [], []
            for (lo, _), m in zip(pads, maps):
                inside = np.nonzero(m >= 0)[0]
                a = int(inside[0]) if inside.size else 0
                b = int(inside[-1]) + 1 if inside.size else 0
                dst.append(slice(a, b))
                src.append(slice(a - lo, b - lo))
            out[(Ellipsis,) + tuple(dst)] = x[(Ellipsis,) + tuple(src)]
            return out
        y = x
        for i, m in enumerate(maps):
            if not (len(m) == x.shape[first + i] and (m == np.arange(len(m))).all()):
                y = xp.take(y, xp.asarray(m), axis=first + i)
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, gy):
        return PadBackward.run(gy, ctx.args), None, None, None


class PadBackward(Function):
    """The gradient of ``Pad``: each padded position's gradient folded back onto the element it
    copied.  Linear, and ``Pad`` (with zeros) is its adjoint, hence its backward."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, gy, args):
        x_shape, pads, mode, maps = ctx.args = args
        xp = xp_of(gy)
        nd = len(pads)
        first = len(x_shape) - nd
        g = gy
        for i, m in enumerate(maps):  # fold one axis at a time
            ax = first + i
            n = x_shape[ax]
            shape = list(g.shape)
            shape[ax] = n
            out = xp.zeros(shape, dtype=g.dtype)
            lead = (slice(None),) * ax
            ident = np.nonzero(m == np.arange(len(m)) - pads[i][0])[0]
            ident = ident[(m[ident] >= 0)] if ident.size else ident
            if ident.size:  # the copied interior: one slice
                a, b = int(ident[0]), int(ident[-1]) + 1
                out[lead + (slice(a - pads[i][0], b - pads[i][0]),)] = g[lead + (slice(a, b),)]
            else:
                a = b = 0
            if mode != "constant":  # each border position adds onto the element it copied
                for o in list(range(0, a)) + list(range(b, len(m))):
                    out[lead + (int(m[o]),)] += g[lead + (o,)]
            g = out
        return g

    @staticmethod
    def backward(ctx, gg):
        _, pads, mode, _ = ctx.args
        return Pad.run(gg, pads, mode, 0), None


_NONCONST_HELP = (
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad)//2`` dims: ``pad = (left, right, top, bottom, ...)``, last dim first.

    ``mode``: ``'constant'`` (``value``, default 0), ``'reflect'``, ``'replicate'`` or ``'circular'``.
    Negative amounts crop.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.pad(nnbox.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    p = [int(v) for v in pad]
    if len(p) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = len(p) // 2
    if nd > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(p)} and input of dimension {input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    pads = tuple((p[2 * (nd - 1 - i)], p[2 * (nd - 1 - i) + 1]) for i in range(nd))  # first padded dim first
    shape = input.shape
    if mode == "constant":
        for i, (lo, hi) in enumerate(pads):
            if shape[input.ndim - nd + i] + lo + hi < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        if value is None:
            value = 0
        return Pad.apply(input, pads, "constant", value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if nd == 0 or nd > 3 or input.ndim not in (nd + 1, nd + 2):
        raise NotImplementedError(f"Padding size {len(p)} is not supported for {input.ndim}D input tensor.\n"
                                  + _NONCONST_HELP)
    spatial = shape[input.ndim - nd:]
    if any(s == 0 for s in shape[1 if input.ndim == nd + 2 else 0:]):
        raise RuntimeError(f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {shape_str(shape)}")
    for i, ((lo, hi), n) in enumerate(zip(pads, spatial)):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #{2 * nd + 2}: Padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({lo}, {hi}) at dimension {input.ndim - nd + i} of input "
                               f"{shape_str(shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + lo + hi <= 0:
            raise RuntimeError(f"input tensor of size {shape_str(shape)} is too small for the padding {tuple(p)}")
    return Pad.apply(input, pads, mode, 0)


# --- one_hot ----------------------------------------------------------------------------------------

def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices -> one-hot int64 vectors along a new last dim.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.one_hot(nnbox.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    a = tensor._data
    xp = xp_of(a)
    if a.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if int(a.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(a.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (a[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out)


# --- interpolate ------------------------------------------------------------------------------------

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _interp_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, scale, dtype=np.float64) -> np.ndarray:
    """The (n_out, n_in) matrix of one axis of ``interpolate``.  ``scale``: torch's input/output
    ratio (from ``scale_factor`` when given), ``None`` for ``n_in / n_out``."""
    dst = np.arange(n_out, dtype=np.float64)
    ratio = (n_in / n_out) if scale is None else scale
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        off = 0.5 if mode == "nearest-exact" else 0.0
        src = np.minimum(np.floor((dst + off) * ratio).astype(np.int64), n_in - 1)
        m[rows, src] = 1.0
        return m.astype(dtype)
    if mode == "bicubic":
        return _cubic_matrix(n_in, n_out, align_corners, ratio).astype(dtype)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m.astype(dtype)


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel (torch uses a=-0.75, and PIL's a=-0.5 with antialias)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _cubic_matrix(n_in: int, n_out: int, align_corners: bool, ratio: float) -> np.ndarray:
    """Bicubic, one axis: four taps around the source point, reads past an edge clamped to it."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = (dst + 0.5) * ratio - 0.5  # not clamped at 0, unlike linear
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    for k in range(-1, 3):
        np.add.at(m, (rows, np.clip(i0 + k, 0, n_in - 1)), _cubic(t - k, -0.75))
    return m


def _lanczos3(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


# antialias filters: (filter, taps at scale 1), PIL's choices as torch uses them
_AA_FILTERS = {
    "bilinear": (lambda x: np.maximum(0.0, 1.0 - np.abs(x)), 2),
    "bicubic": (lambda x: _cubic(x, -0.5), 4),
    "lanczos": (_lanczos3, 6),
}


def _antialias_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    """One axis of an antialiased resize: when shrinking, the filter is stretched by the scale so
    every input pixel contributes (PIL's resampling); each row's weights are normalised to sum 1."""
    filt, taps = _AA_FILTERS[mode]
    if align_corners:
        ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        ratio = (n_in / n_out) if scale is None else scale
    stretch = ratio if ratio >= 1.0 else 1.0
    support = taps / 2 * stretch
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = ratio * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        j = np.arange(lo, hi)
        w = filt((j - center + 0.5) / stretch)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0 else w
    return m


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, *S) input, PyTorch's ``F.interpolate``.

    Modes: ``nearest``, ``nearest-exact``, ``linear`` (3-d), ``bilinear`` (4-d), ``bicubic`` (4-d),
    ``trilinear`` (5-d), ``area``, and ``lanczos`` (4-d, with ``antialias=True``).  ``antialias=True``
    (bilinear, bicubic, lanczos) low-pass filters when shrinking, as PIL and torch do.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.interpolate(nnbox.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    from .pool import SeparableLinear, adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

    nd = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    modes_error = NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the modes: nearest | "
        f"linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})")
    if mode not in ("nearest", "nearest-exact", "area", "linear", "bilinear", "trilinear", "bicubic", "lanczos"):
        raise modes_error
    if antialias and not (mode in _AA_FILTERS and nd == 2):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if mode == "lanczos":
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
    if nd < 1 or nd > 3 or (mode == "bicubic" and nd != 2):
        raise modes_error
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != nd:
        need = _LINEAR_MODES[mode] + 2
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need}D input")
    if align_corners is None:
        align_corners = False
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    sp = tuple(input.shape[2:])
    scales = None
    if size is not None:
        out = tuple(int(s) for s in size) if isinstance(size, (tuple, list)) else (int(size),) * nd
        if len(out) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(sp)} and output size of {list(out)}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             f"format.")
    elif scale_factor is not None:
        sf = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (tuple, list)) else (float(scale_factor),) * nd
        if len(sf) != nd:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(sp)} and scale_factor of shape {list(sf)}. Please "
                             f"provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in "
                             f"(s1, s2, ...,sK) format.")
        out = tuple(int(math.floor(n * f)) for n, f in zip(sp, sf))
        if not recompute_scale_factor:
            scales = tuple(1.0 / f for f in sf)
    else:
        raise ValueError("either size or scale_factor should be defined")
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({', '.join(map(str, sp))}) "
                           f"and output ({', '.join(map(str, out))})")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](input, out)
    xp = xp_of(input._data)
    dtype = input._data.dtype
    axis = _antialias_matrix if antialias else _interp_matrix
    mats = [xp.asarray(axis(n, o, mode, align_corners, None if scales is None else scales[i]).astype(dtype))
            for i, (n, o) in enumerate(zip(sp, out))]
    return SeparableLinear.apply(input, mats)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --- normalize and distances ------------------------------------------------------------------------

def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.normalize(nnbox.tensor([[3.0, 4.0]], dtype=nnbox.float64)).tolist()
    [[0.6, 0.8]]
    """
    if out is not None:
        raise NotImplementedError("nnbox's normalize does not support out=")
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcasting).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.cosine_similarity(nnbox.tensor([[1.0, 0.0]]), nnbox.tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    import nnbox

    a, b = nnbox.broadcast_tensors(x1, x2)
    d = wrap_dim(dim, a.ndim)
    n1 = a.norm(2, d, keepdim=True).clamp_min(eps)
    n2 = b.norm(2, d, keepdim=True).clamp_min(eps)
    return ((a / n1) * (b / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` along the last dim.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.pairwise_distance(nnbox.tensor([[0.0, 0.0]]), nnbox.tensor([[3.0, 4.0]]), eps=0).tolist()
    [5.0]
    """
    nd = max(x1.ndim, x2.ndim)
    return (x1 - x2 + eps).norm(p, dim=nd - 1 if nd else 0, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """Distances between every pair of rows of an (N, M) matrix, upper triangle flattened."""
    import nnbox

    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    diff = input[nnbox.tensor(i)] - input[nnbox.tensor(j)]
    return diff.norm(p, dim=1)


# --- unfold / fold ----------------------------------------------------------------------------------

class Unfold(Function):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L); backward is col2im."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, ksize, dilation, pads, stride, out_size):
        from .conv import _im2col, _to_cm

        xp = xp_of(x)
        cols = _im2col(_to_cm(x, pads), ksize, stride, dilation, out_size)  # (C*K, L*N)
        ctx.args = (x.shape, ksize, dilation, pads, stride, out_size)
        return xp.ascontiguousarray(xp.moveaxis(cols.reshape(cols.shape[0], -1, x.shape[0]), -1, 0))

    @staticmethod
    def backward(ctx, gy):
        x_shape, ksize, dilation, pads, stride, out_size = ctx.args
        return Fold.run(gy, x_shape, ksize, dilation, pads, stride, out_size), None, None, None, None, None


def _fold_array(g, x_shape, ksize, dilation, pads, stride, out_size):
    """col2im of (N, C*K, L) into (N, C, H, W) (``x_shape``), dropping the padding."""
    from .conv import _col2im, _from_cm

    xp = xp_of(g)
    cols = xp.ascontiguousarray(xp.moveaxis(g, 0, -1)).reshape(g.shape[1], -1)  # (C*K, L*N)
    cm_shape = (x_shape[1],) + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads)) + (x_shape[0],)
    acc = _col2im(cols, cm_shape, ksize, stride, dilation, out_size)
    return _from_cm(acc, pads, x_shape[2:])


class Fold(Function):
    """col2im: (N, C*kh*kw, L) -> (N, C, H, W), summing overlaps; backward is im2col."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, out_shape, ksize, dilation, pads, stride, blocks):
        ctx.args = (out_shape, ksize, dilation, pads, stride, blocks)
        return _fold_array(x, out_shape, ksize, dilation, pads, stride, blocks)

    @staticmethod
    def backward(ctx, gy):
        out_shape, ksize, dilation, pads, stride, blocks = ctx.args
        return Unfold.run(gy, ksize, dilation, pads, stride, blocks), None, None, None, None, None, None


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
        return tuple(int(a) for a in v)
    return (int(v), int(v))


def _blocks(sp, k, d, p, s):
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, pp, ss in zip(sp, k, d, p, s))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks: (N, C, H, W) -> (N, C*kh*kw, L), PyTorch's ``F.unfold``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.unfold(nnbox.ones(1, 2, 3, 3), 2).shape
    torch.Size([1, 8, 4])
    """
    k, d, p, s = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"), _pair(padding, "padding"), \
        _pair(stride, "stride")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    blocks = _blocks(x.shape[2:], k, d, p, s)
    if any(b <= 0 for b in blocks):
        raise RuntimeError(f"Given input with spatial size ({x.shape[2]}, {x.shape[3]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of "
                           f"sliding blocks as ({blocks[0]}, {blocks[1]}), but its components must be at least one.")
    y = Unfold.apply(x, k, d, tuple((v, v) for v in p), s, blocks)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks back into an image: (N, C*kh*kw, L) -> (N, C, H, W), PyTorch's ``F.fold``.

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.fold(nnbox.ones(1, 4, 4), (3, 3), 2)[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    o = _pair(output_size, "output_size")
    k, d, p, s = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"), _pair(padding, "padding"), \
        _pair(stride, "stride")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                           f"(got {input.ndim}D)")
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={x.shape[1]} and kernel_size=({k[0]}, {k[1]})")
    blocks = _blocks(o, k, d, p, s)
    if math.prod(blocks) != x.shape[2]:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{math.prod(blocks)}, but got input.size(2)={x.shape[2]}.")
    out_shape = (x.shape[0], x.shape[1] // kk) + o
    y = Fold.apply(x, out_shape, k, d, tuple((v, v) for v in p), s, blocks)
    return y.squeeze(0) if unbatched else y


# --- pixel shuffle ----------------------------------------------------------------------------------

def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.pixel_shuffle(nnbox.arange(4.).view(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    nl = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of ``pixel_shuffle``."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h}"
                           f" is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w}"
                           f" is not divisible by {r}")
    nl = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave channels: (N, g*k, *) viewed (N, g, k, *) -> (N, k, g, *)."""
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = input.shape[2:]
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)
