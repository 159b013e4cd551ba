"""Sampling grids: ``F.affine_grid`` and ``F.grid_sample`` (bilinear / nearest / bicubic, zeros /
border / reflection padding, ``align_corners``), with gradients for the input and the grid.

``grid_sample`` reads ``input`` (N, C, *S) at the points of ``grid`` (N, *O, k): normalised
coordinates in [-1, 1], ``x`` (the last spatial dim) first.  Each output point is a weighted sum of
a few input pixels ("taps"): a separable product of per-axis weights, so forward and backward are
one loop over the 2**k (linear), 1 (nearest) or 16 (bicubic) taps, each a gather / scatter-add.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import add_at, xp_of

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")
_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = ("zeros", "border", "reflection")


def _unnormalize(g, size: int, align: bool):
    """[-1, 1] -> pixel coordinates, and d(pixel)/d(g)."""
    if align:
        return (g + 1) / 2 * (size - 1), (size - 1) / 2
    return ((g + 1) * size - 1) / 2, size / 2


def _reflect(x, lo2: float, hi2: float):
    """Fold ``x`` into [lo2/2, hi2/2] by mirror reflections; returns the value and the +-1 slope."""
    xp = xp_of(x)
    if lo2 == hi2:
        return xp.zeros_like(x), xp.zeros_like(x)
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    d = x - lo
    sign = xp.where(d < 0, -1.0, 1.0)
    d = xp.abs(d)
    flips = xp.floor(d / span)
    extra = xp.fmod(d, span)
    even = (flips % 2) == 0
    return xp.where(even, extra + lo, span - extra + lo), xp.where(even, sign, -sign)


def _pad_coords(x, size: int, padding: str, align: bool):
    """Apply border / reflection padding to pixel coordinates; returns (x, dx_out/dx_in)."""
    xp = xp_of(x)
    if padding == "zeros":
        return x, xp.ones_like(x)
    slope = xp.ones_like(x)
    if padding == "reflection":
        x, slope = _reflect(x, 0.0, 2.0 * (size - 1)) if align else _reflect(x, -1.0, 2.0 * size - 1)
    inside = (x > 0) & (x < size - 1)
    return xp.clip(x, 0, size - 1), slope * inside


def _cubic_weights(t):
    """Keys' cubic convolution (a = -0.75) at the four taps -1, 0, 1, 2 around ``t`` in [0, 1),
    and their derivatives in ``t``."""
    a = -0.75
    out = []
    for k in (-1, 0, 1, 2):
        s = t - k  # distance to the tap; |s| <= 1 uses the near branch, 1 < |s| < 2 the far one
        u = abs(k - 0.5) > 1  # taps -1 and 2 are the far ones
        sg = -1.0 if k > 0 else 1.0  # |s| = sg * s on [0, 1)
        x = sg * s
        if u:
            w = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
            dw = (3 * a * x * x - 10 * a * x + 8 * a) * sg
        else:
            w = ((a + 2) * x - (a + 3)) * x * x + 1
            dw = (3 * (a + 2) * x * x - 2 * (a + 3) * x) * sg
        out.append((k, w, dw))
    return out


def _axis_taps(g, size: int, mode: int, padding: str, align: bool):
    """Per axis: the taps as (integer index, weight, d weight / d grid)."""
    xp = xp_of(g)
    x, scale = _unnormalize(g, size, align)
    if mode == 2:  # bicubic: the point is not padded, each tap index is
        x0 = xp.floor(x)
        taps = []
        for k, w, dw in _cubic_weights(x - x0):
            idx, _ = _pad_coords(x0 + k, size, padding, align)
            taps.append((idx.astype(np.int64), w, dw * scale))
        return taps
    x, slope = _pad_coords(x, size, padding, align)
    if mode == 1:  # nearest (half to even, as torch's nearbyint): no gradient for the grid
        return [(xp.rint(x).astype(np.int64), xp.ones_like(x), xp.zeros_like(x))]
    x0 = xp.floor(x)
    t = x - x0
    i0 = x0.astype(np.int64)
    d = slope * scale
    return [(i0, 1 - t, -d), (i0 + 1, t, d)]


class GridSample(Function):
    _array_api = True
    _twice = True
    _torch_name = "GridSampler2DBackward0"

    @staticmethod
    def forward(ctx, a, grid, mode, padding, align):
        xp = xp_of(a)
        n, c = a.shape[:2]
        spatial = a.shape[2:]
        k = len(spatial)
        # per axis, the grid's coordinate for it: x is grid[..., 0] and reads the last dim
        taps = [_axis_taps(grid[..., k - 1 - ax], spatial[ax], mode, padding, align) for ax in range(k)]
        batch = xp.arange(n).reshape((n,) + (1,) * (grid.ndim - 2))
        plan = []
        out = xp.zeros(grid.shape[:-1] + (c,), dtype=a.dtype)
        a_last = xp.ascontiguousarray(xp.moveaxis(a, 1, -1))  # channels last: each tap is one gather
        for combo in itertools.product(*taps):
            idx = [t[0] for t in combo]
            ok = None  # inside the input on every axis (an array of this device, never a NumPy scalar)
            for i, s in zip(idx, spatial):
                inside = (i >= 0) & (i < s)
                ok = inside if ok is None else ok & inside
            safe = tuple(xp.clip(i, 0, s - 1) for i, s in zip(idx, spatial))
            w = combo[0][1]
            for t in combo[1:]:
                w = w * t[1]
            w = (w * ok).astype(a.dtype)
            vals = a_last[(batch,) + safe]  # (N, *O, C)
            out += w[..., None] * vals
            plan.append((combo, safe, ok, vals if ctx.needs_input_grad[1] else None))
        ctx.plan, ctx.batch, ctx.shape = plan, batch, a.shape
        ctx.save_for_backward(a, grid)
        ctx.opts = (mode, padding, align)
        return xp.ascontiguousarray(xp.moveaxis(out, -1, 1))

    @staticmethod
    def backward(ctx, grad):
        a, grid = ctx.saved_tensors
        plan = (ctx.plan, ctx.batch, ctx.shape, ctx.opts, ctx.needs_input_grad[:2])
        return GridSampleBackward.run(grad, a, grid, plan) + (None, None, None)


class GridSampleBackward(Function):
    """grid_sample's gradients for the input and the grid: ``forward`` is the fast kernel (one
    gather / scatter per tap); ``backward`` (second order, on arrays) differentiates grid_sample
    written as nnbox ops twice (``_double_vjp``)."""

    _array_api = True
    _twice = "nnbox cannot differentiate grid_sample's second-order gradients again (third order)"

    @staticmethod
    def forward(ctx, grad, a, grid, plan):
        ctx.save_for_backward(grad, a, grid)
        ctx.opts = plan[3]
        ctx.set_materialize_grads(False)
        return _grid_sample_grads(grad, plan)

    @staticmethod
    def backward(ctx, gga, ggg):
        from ._double_vjp import double_vjp

        grad, a, grid = ctx.saved_tensors
        mode, padding, align = ctx.opts
        gp, gc = double_vjp(lambda A, G: (_grid_sample_composed(A, G, mode, padding, align),),
                            [a, grid], [grad], [gga, ggg])
        gg = gp[1]
        if gg is None:  # nearest: the grid's second derivative is zero (torch: a zero tensor)
            gg = xp_of(grid).zeros_like(grid)
        return gc[0], gp[0], gg, None


def _grid_sample_composed(a, grid, mode: int, padding: str, align: bool):
    """grid_sample as nnbox ops (gathers and weight polynomials, each differentiable twice), for
    ``double_vjp``.  Tap indices and inside masks are constants; each axis's fractional position
    is its value plus d(position)/d(grid) * (grid - grid.detach()): padding is piecewise linear, so
    that carries the exact first derivative and a zero second one."""
    from .._tensor import Tensor as T

    xp = xp_of(a._data)
    g = grid._data
    n, c = a.shape[:2]
    spatial = tuple(a.shape[2:])
    k = len(spatial)
    batch = T._make(xp.arange(n).reshape((n,) + (1,) * (g.ndim - 2)))
    a_last = a.movedim(1, -1)
    out = None
    axes = []
    for ax in range(k):
        gt = grid[..., k - 1 - ax]
        delta = gt - gt.detach()  # zero, with derivative one
        x, scale = _unnormalize(g[..., k - 1 - ax], spatial[ax], align)
        if mode == 2:
            x0 = xp.floor(x)
            t = T._make(x - x0) + delta * scale
            taps = []
            for kk, w, _ in _cubic_weights(t):
                idx, _ = _pad_coords(x0 + kk, spatial[ax], padding, align)
                taps.append((idx.astype(np.int64), w))
        else:
            xpad, slope = _pad_coords(x, spatial[ax], padding, align)
            if mode == 1:
                taps = [(xp.rint(xpad).astype(np.int64), None)]
            else:
                x0 = xp.floor(xpad)
                t = T._make(xpad - x0) + delta * T._make(slope * scale)
                taps = [(x0.astype(np.int64), 1 - t), (x0.astype(np.int64) + 1, t)]
        axes.append(taps)
    for combo in itertools.product(*axes):
        ok = None
        for (i, _), sz in zip(combo, spatial):
            inside = (i >= 0) & (i < sz)
            ok = inside if ok is None else ok & inside
        safe = tuple(T._make(xp.clip(i, 0, sz - 1)) for (i, _), sz in zip(combo, spatial))
        w = T._make(ok.astype(a._data.dtype))
        for _, wt in combo:
            if wt is not None:
                w = w * wt
        term = w.unsqueeze(-1) * a_last[(batch,) + safe]
        out = term if out is None else out + term
    return out.movedim(-1, 1)


def _grid_sample_grads(grad, plan):
    """The first-order kernel: gradients for grid_sample's input and grid from the forward's taps."""
    plan, batch, shape, _, needs = plan
    xp = xp_of(grad)
    go = xp.ascontiguousarray(xp.moveaxis(grad, 1, -1))  # (N, *O, C)
    k = len(shape) - 2
    ga = xp.zeros(shape, dtype=grad.dtype) if needs[0] else None
    gg = xp.zeros(go.shape[:-1] + (k,), dtype=grad.dtype) if needs[1] else None
    flat_idx, flat_val = [], []  # NumPy: every tap's scatter in one bincount (add.at is ~10x slower)
    for combo, safe, ok, vals_in in plan:
        ws = [t[1] for t in combo]
        if ga is not None:
            w = ok
            for x in ws:
                w = w * x
            vals = go * w[..., None].astype(grad.dtype)
            if type(ga) is np.ndarray:
                flat_idx.append(_linear_index(shape, batch, safe).reshape(-1))
                flat_val.append(vals.reshape(-1))
            else:
                add_at(ga, (batch, slice(None)) + safe, vals)
        if gg is not None:
            vg = xp.einsum("...c,...c->...", vals_in, go) * ok
            for ax in range(k):
                d = combo[ax][2]
                for j, x in enumerate(ws):
                    if j != ax:
                        d = d * x
                gg[..., k - 1 - ax] += d * vg
    if flat_idx:
        ga = np.bincount(np.concatenate(flat_idx), np.concatenate(flat_val), minlength=ga.size)
        ga = ga.reshape(shape).astype(grad.dtype, copy=False)
    return ga, gg


def _linear_index(shape, batch, safe):
    """Flat positions in an array of ``shape`` (N, C, *S) of the taps ``safe``, every channel: (N, *O, C)."""
    c = shape[1]
    spatial = safe[0]
    for i, s in zip(safe[1:], shape[3:]):
        spatial = spatial * s + i
    n_sp = int(np.prod(shape[2:]))
    return ((batch * c)[..., None] + np.arange(c)) * n_sp + spatial[..., None]


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) or (N, C, D, H, W) at the normalised points of ``grid``
    (N, Ho, Wo, 2) or (N, Do, Ho, Wo, 3); (-1, -1) is the top-left pixel (its centre with
    ``align_corners=True``, its corner otherwise).

    >>> import nnbox, nnbox.nn.functional as F
    >>> img = nnbox.arange(4.0).reshape(1, 1, 2, 2)
    >>> F.grid_sample(img, nnbox.zeros(1, 1, 1, 2), align_corners=False)  # the centre: the mean
    tensor([[[[1.5000]]]])
    """
    if mode not in _MODES:
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    a, g = input._data, grid._data
    sizes = f"input with sizes {list(a.shape)} and grid with sizes {list(g.shape)}"
    if g.shape[-1] != a.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {a.ndim - 2} in last dimension, but got "
                           f"grid with sizes {list(g.shape)}")
    if a.ndim not in (4, 5) or g.ndim != a.ndim:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
                           f"but got {sizes}")
    if a.shape[0] != g.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
    if a.dtype != g.dtype:
        from ._util import type_name

        raise RuntimeError(f"expected scalar type {type_name(a.dtype)} but found {type_name(g.dtype)}")
    if mode == "bicubic" and a.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if any(s == 0 for s in a.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                           f"sizes {list(a.shape)} with dimension {2 + [s == 0 for s in a.shape[2:]].index(True)} "
                           f"being empty")
    out = GridSample.apply(input, grid, _MODES[mode], padding_mode, bool(align_corners))
    if a.ndim == 5 and out.grad_fn is not None:
        out.grad_fn._nm = "GridSampler3DBackward0"
    return out


def _base_grid(size, align: bool, dtype):
    """Homogeneous pixel-centre coordinates, (prod(S), k + 1), x varying fastest."""
    spatial = size[2:]
    axes = []
    for s in spatial:
        v = np.linspace(-1.0, 1.0, s) if s > 1 else np.zeros(1)
        axes.append(v if align else v * (s - 1) / s)
    mesh = np.meshgrid(*axes, indexing="ij")  # (D,) H, W order
    cols = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(int(np.prod(spatial)))]
    return np.stack(cols, axis=1).astype(dtype)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of the affine maps ``theta`` (N, 2, 3) or (N, 3, 4) for an output of ``size``
    (N, C, H, W) or (N, C, D, H, W): feed it to ``grid_sample`` (differentiable in ``theta``).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.affine_grid(nnbox.eye(2, 3)[None], (1, 1, 1, 2), align_corners=False).tolist()
    [[[[-0.5, 0.0], [0.5, 0.0]]]]
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    size = tuple(int(s) for s in size)
    if theta._data.dtype.kind not in "fV":
        from .._backend import dtype as _dt

        raise ValueError(f"Expected theta to have floating point type, but got {_dt.from_numpy_dtype(theta._data.dtype)!r}")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    k = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for size {size}. "
                         f"Got {theta.shape}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {k + 1}] "
                           f"but got: [{theta.shape[0]}, {k + 1}].")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", UserWarning, stacklevel=2)
    base = Tensor._make(xp_of(theta._data).asarray(_base_grid(size, bool(align_corners), theta._data.dtype)))
    grid = base.matmul(theta.transpose(1, 2))  # (N, prod(S), k)
    return grid.reshape((size[0],) + size[2:] + (k,))
