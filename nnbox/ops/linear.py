"""Linear ops: ``F.linear`` and ``F.bilinear``, each one fused Function with a hand-written backward.

``F.linear`` is the hot path of every MLP: one GEMM forward (plus an in-place bias add) and
two GEMMs backward, whatever the number of leading batch dimensions, and a single graph node.
"""
from __future__ import annotations

import math

import numpy as np

from .._backend import autocast_state as _ac
from .._backend import openblas
from .._tensor import Tensor
from ..autograd.function import Function
from ._lowp import autocast_entry
from ._util import shape_str, unbroadcast, xp_of

__all__ = ["linear", "bilinear"]

_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "complex64": "ComplexFloat", "complex128": "ComplexDouble", "bfloat16": "BFloat16"}


def _tname(arr) -> str:
    return _TORCH_NAMES.get(arr.dtype.name, arr.dtype.name)


def _lower(arr) -> str:
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16"}.get(arr.dtype.name, arr.dtype.name)


def _x_wt(x, w):
    """``x @ w.T``; for a short float32 batch through a wide layer, with OpenBLAS's AVX-512
    (SkylakeX) kernels, as ``(w @ x.T).T`` copied to C order, which they run faster: one thread,
    the seeds' MLP's first layer at batch 64 (64x784 @ 784x300) 215 -> 160 us, 32x128 @ 128x512
    41 -> 32, 64x3136 @ 3136x128 363 -> 312, bit for bit the same.  Slower from batch 512 on
    (1111 -> 1308 us) and for the backward's products; no faster with the Haswell kernels (whose
    sums then round differently), so those keep ``x @ w.T``."""
    if type(x) is np.ndarray and x.dtype == np.float32 and x.shape[0] <= 64 and w.shape[0] >= 128:
        if openblas.avx512_kernels():
            return np.ascontiguousarray((w @ x.T).T)
    return x @ w.T


class Linear(Function):
    """y = x W^T + b for x of shape (..., in), W (out, in), b broadcastable to (..., out)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        if x.ndim == 2:
            out = _x_wt(x, w)
        elif x.ndim == 1:
            out = w @ x
        else:  # fold the batch dimensions into one GEMM
            out = _x_wt(x.reshape(-1, x.shape[-1]), w).reshape(x.shape[:-1] + (w.shape[0],))
        if b is not None:
            ctx.b_shape = b.shape
            if b.shape == out.shape[-1:] or b.ndim == 0 or b.shape == (1,):
                out += b  # out is fresh: add in place, no temporary
            else:
                out = out + b
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        xp = xp_of(grad)
        gx = gw = gb = None
        grad = _gemm_ready(grad)
        if x.ndim == 1:
            if need_x:
                gx = grad @ w
            if need_w:
                gw = xp.outer(grad, x)
            if need_b:
                gb = unbroadcast(grad, ctx.b_shape)
            return gx, gw, gb
        g2 = grad if grad.ndim == 2 else xp.reshape(grad, (-1, grad.shape[-1]))
        if need_x:
            gx = g2 @ w
            if x.ndim != 2:
                gx = xp.reshape(gx, x.shape)
        if need_w:
            x2 = x if x.ndim == 2 else xp.reshape(x, (-1, x.shape[-1]))
            gw = xp.swapaxes(g2, 0, 1) @ x2
        if need_b:
            bs = ctx.b_shape
            gb = xp.sum(g2, axis=0) if bs == tuple(grad.shape[-1:]) else unbroadcast(grad, bs)
        return gx, gw, gb


def _gemm_ready(grad):
    """``grad`` laid out for BLAS: e.g. the zero-stride grad of ``.sum()`` is copied (BLAS cannot take
    it and NumPy's fallback is ~30x slower).  Tensors (create_graph) have no layout to fix."""
    flags = getattr(grad, "flags", None)
    if flags is None or flags.c_contiguous or flags.f_contiguous:
        return grad
    xp = xp_of(grad)
    return xp.ascontiguousarray(grad)


def _bias_error(b, out_shape):
    """torch's expand error for a bias that does not broadcast to the output."""
    bs = tuple(b.shape)
    for i in range(1, len(bs) + 1):
        if bs[-i] != 1 and (i > len(out_shape) or bs[-i] != out_shape[-i]):
            dim = len(out_shape) - i
            size = out_shape[-i] if i <= len(out_shape) else 1
            return RuntimeError(
                f"The expanded size of the tensor ({size}) must match the existing size ({bs[-i]}) at "
                f"non-singleton dimension {dim}.  Target sizes: {shape_str(out_shape)}.  Tensor sizes: {shape_str(bs)}"
            )
    return RuntimeError(f"bias of shape {shape_str(bs)} cannot be broadcast to the output {shape_str(out_shape)}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: one fused node (GEMM forward, two GEMMs backward).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.linear(nnbox.ones(4, 3), nnbox.ones(2, 3), nnbox.tensor([0.0, 1.0]))
    tensor([[3., 4.],
            [3., 4.],
            [3., 4.],
            [3., 4.]])
    """
    if _ac.any_on[0]:  # autocast: cast before the dtype checks
        input, weight, bias = autocast_entry(Linear, input, weight, bias)
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0:
        return _linear_general(input, weight, bias)
    if x.dtype != w.dtype:  # torch's wording differs between its addmm (bias) and mm paths
        if bias is None:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_lower(x)} != {_lower(w)}")
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tname(x)} and {_tname(w)}")
    k = x.shape[-1]
    if k != w.shape[1]:
        rows = math.prod(x.shape[:-1])
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {w.shape[1]}x{w.shape[0]})"
        )
    if bias is not None:
        b = bias._data
        if b.dtype != w.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {_tname(b)} and {_tname(w)}")
        out_shape = x.shape[:-1] + (w.shape[0],)
        if b.shape != out_shape[-1:] and b.ndim and not _broadcasts(b.shape, out_shape):
            raise _bias_error(b, out_shape)
    return Linear.apply(input, weight, bias)


def _broadcasts(small, big) -> bool:
    if len(small) > len(big):
        return False
    return all(s == 1 or s == t for s, t in zip(reversed(small), reversed(big)))


def _linear_general(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The rare forms (1-D weight, 0-d input): composed from matmul, with torch's errors."""
    from .linalg import matmul

    x, w = input._data, weight._data
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(
            f"both arguments to linear need to be at least 1D, but they are {x.ndim}D and {w.ndim}D"
        )
    if w.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    if x.shape[-1] != w.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0] if x.ndim > 1 else 1}), mat ({'x'.join(map(str, x.shape))}), vec ({w.shape[0]})"
        )
    out = matmul(input, weight)
    return out if bias is None else out + bias


class Bilinear(Function):
    """y[n, o] = sum_ij x1[n, i] W[o, i, j] x2[n, j] + b[o]."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        o, i, j = w.shape
        lead = x1.shape[:-1]
        a = x1.reshape(-1, i)
        c = x2.reshape(-1, j)
        # t[n, o, i] = sum_j W[o, i, j] c[n, j]: one GEMM; then contract with a per row
        t = (c @ w.reshape(o * i, j).T).reshape(-1, o, i)
        out = (t @ a[:, :, None])[..., 0]
        if b is not None:
            out += b
        ctx.save_for_backward(x1, x2, w, t)
        ctx.lead = lead
        return out.reshape(lead + (o,))

    @staticmethod
    def backward(ctx, grad):
        x1, x2, w, t = ctx.saved_tensors
        return BilinearBackward.run(grad, x1, x2, w, t, ctx.needs_input_grad)


class BilinearBackward(Function):
    """The gradients of ``Bilinear`` (``t`` = W x2 from the forward, or None to recompute).  Each is
    bilinear in (grad, one of x1/x2/W), so the backward is ``Bilinear``/``BilinearBackward`` again."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x1, x2, w, t, need):
        o, i, j = w.shape
        lead = grad.shape[:-1]
        g = grad.reshape(-1, o)
        a = None if x1 is None else x1.reshape(-1, i)
        c = None if x2 is None else x2.reshape(-1, j)
        g1 = g2 = gw = gb = None
        if need[0]:
            if t is None:
                t = (c @ w.reshape(o * i, j).T).reshape(-1, o, i)
            g1 = (g[:, None, :] @ t)[:, 0, :].reshape(lead + (i,))
        if need[1] or need[2]:
            u = (g[:, :, None] * a[:, None, :]).reshape(-1, o * i)  # u[n, o*i] = g[n, o] a[n, i]
            if need[1]:
                g2 = (u @ w.reshape(o * i, j)).reshape(lead + (j,))
            if need[2]:
                gw = (u.T @ c).reshape(o, i, j)
        if len(need) > 3 and need[3]:
            gb = g.sum(axis=0)
        ctx.save_for_backward(grad, x1, x2, w)
        ctx.set_materialize_grads(False)
        return g1, g2, gw, gb

    @staticmethod
    def backward(ctx, gg1, gg2, ggw, ggb):
        grad, x1, x2, w = ctx.saved_tensors
        xp = xp_of(grad)
        d_g = d_x1 = d_x2 = d_w = None

        def acc(total, term):
            return term if total is None else total + term

        if gg1 is not None:  # g1 = <grad, W . x2>_o: bilinear in (grad, W), (grad, x2)
            d_g = acc(d_g, Bilinear.run(gg1, x2, w, None))
            d_x2 = acc(d_x2, BilinearBackward.run(grad, gg1, None, w, None, (False, True, False))[1])
            d_w = acc(d_w, BilinearBackward.run(grad, gg1, x2, w, None, (False, False, True))[2])
        if gg2 is not None:
            d_g = acc(d_g, Bilinear.run(x1, gg2, w, None))
            d_x1 = acc(d_x1, BilinearBackward.run(grad, None, gg2, w, None, (True, False, False))[0])
            d_w = acc(d_w, BilinearBackward.run(grad, x1, gg2, w, None, (False, False, True))[2])
        if ggw is not None:
            d_g = acc(d_g, Bilinear.run(x1, x2, ggw, None))
            d_x1 = acc(d_x1, BilinearBackward.run(grad, None, x2, ggw, None, (True, False, False))[0])
            d_x2 = acc(d_x2, BilinearBackward.run(grad, x1, None, ggw, None, (False, True, False))[1])
        if ggb is not None:
            d_g = acc(d_g, xp.broadcast_to(ggb, grad.shape))
        return d_g, d_x1, d_x2, d_w, None, None


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x1^T W x2 + b`` for every output feature (``nn.Bilinear``'s computation).

    >>> import nnbox, nnbox.nn.functional as F
    >>> F.bilinear(nnbox.ones(5, 2), nnbox.ones(5, 3), nnbox.ones(4, 2, 3)).shape
    torch.Size([5, 4])
    """
    if _ac.any_on[0]:  # autocast: "promote" in torch's CUDA list, cast before the dtype checks
        input1, input2, weight, bias = autocast_entry(Bilinear, input1, input2, weight, bias)
    x1, x2, w = input1._data, input2._data, weight._data
    if x1.ndim != x2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {x1.ndim} and {x2.ndim}")
    for d in range(x1.ndim - 1):
        if x1.shape[d] != x2.shape[d]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {d}: got {x1.shape[d]} and {x2.shape[d]}"
            )
    if w.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got {w.ndim}")
    if x1.shape[-1] != w.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {x1.shape[-1]} but expected {w.shape[1]}")
    if x2.shape[-1] != w.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {x2.shape[-1]} but expected {w.shape[2]}")
    if bias is not None and tuple(bias.shape) != (w.shape[0],):
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias.shape[0] if bias.ndim else 1} but expected {w.shape[0]}"
        )
    if not (x1.dtype == x2.dtype == w.dtype):
        raise RuntimeError(f"expected scalar type {_tname(w)} but found {_tname(x1 if x1.dtype != w.dtype else x2)}")
    return Bilinear.apply(input1, input2, weight, bias)
