"""The view/base bookkeeping of in-place ops: after ``v.add_(1)`` on a view ``v`` of ``base``, the
base is rebased onto ``CopySlices`` (torch's node of that name) and the view re-derived from it
(``ViewOfBase``); a view whose base changed in place since it was made is re-derived the same way
when it is next used (``Function.apply``).  ``region`` functions say where a view lies in its base.
"""
from __future__ import annotations

import numpy as np

from .._backend.device import xp_of
from .function import Function


class CopySlices(Function):
    """The base of a view after an in-place op on the view: the old base with the view's region
    replaced by the op's result.  The data is already in place; this node only routes gradients:
    the old base gets ``grad`` outside the region, the result gets the region of ``grad``."""

    _array_api = True
    _twice = True
    _torch_name = "torch::autograd::CopySlices"

    @staticmethod
    def forward(ctx, base, value, region):
        ctx.region = region
        return base

    @staticmethod
    def backward(ctx, grad):
        g_value = _RegionGet.run(grad, ctx.region) if ctx.needs_input_grad[1] else None
        g = _RegionZero.run(grad, ctx.region) if ctx.needs_input_grad[0] else None
        return g, g_value, None


class ViewOfBase(Function):
    """A view re-derived from its (rebased) base after an in-place op on it."""

    _array_api = True
    _twice = True
    _is_view = True
    _torch_name = "AsStridedBackward0"

    @staticmethod
    def forward(ctx, base, region):
        ctx.shape, ctx.region = base.shape, region
        return region(base)

    @staticmethod
    def backward(ctx, grad):
        return _RegionPut.run(grad, ctx.shape, ctx.region), None


# The gradients of those two, as Functions that are each other's backward (so a create_graph
# backward through an in-place op on a view is differentiable again).  ``region`` needs a
# C-contiguous array shaped like the base.

class _RegionGet(Function):
    """A copy of ``region`` of ``g``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, g, region):
        ctx.shape, ctx.region = g.shape, region
        return region(xp_of(g).ascontiguousarray(g)).copy()

    @staticmethod
    def backward(ctx, gg):
        return _RegionPut.run(gg, ctx.shape, ctx.region), None


class _RegionPut(Function):
    """Zeros shaped like the base, with ``g`` in ``region``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, g, shape, region):
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        region(out)[...] = g
        ctx.region = region
        return out

    @staticmethod
    def backward(ctx, gg):
        return _RegionGet.run(gg, ctx.region), None, None


class _RegionZero(Function):
    """``g`` with zeros in ``region``: linear and its own adjoint."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, g, region):
        out = xp_of(g).array(g, copy=True, order="C")
        region(out)[...] = 0
        ctx.region = region
        return out

    @staticmethod
    def backward(ctx, gg):
        return _RegionZero.run(gg, ctx.region), None


def _region_of(base_arr, view_arr):
    """A function giving, for any C-contiguous array shaped like ``base_arr``, the same view that
    ``view_arr`` is of ``base_arr`` (by offset and strides); None if ``base_arr`` is not C-contiguous."""
    if not base_arr.flags.c_contiguous:
        return None
    xp = xp_of(base_arr)
    if type(base_arr) is np.ndarray:
        ptr = lambda a: a.__array_interface__["data"][0]  # noqa: E731
        as_strided = np.lib.stride_tricks.as_strided
    else:
        ptr = lambda a: a.data.ptr  # noqa: E731
        as_strided = xp.lib.stride_tricks.as_strided
    offset = (ptr(view_arr) - ptr(base_arr)) // base_arr.itemsize
    shape, strides = view_arr.shape, view_arr.strides

    def region(a):
        return as_strided(a.reshape(-1)[offset:], shape, strides)

    return region
