"""Matrix products (matmul/mm/bmm/addmm/einsum ...) and norms; one BLAS call per product."""
from __future__ import annotations

import string

import numpy as np

from .._backend import autocast_state as _ac
from .._tensor import Tensor
from ..autograd.function import _NO_KW, Function, _apply_graph, _mixed
from ..autograd.grad_mode import _enabled
from ._lowp import autocast_entry, autocast_fp32, outside_autocast, without_autocast
from ._util import conj_if_complex, cpp_type_name, is_complex, named, norm_dims, type_name, unbroadcast, xp_of

_ndarray, _matmul = np.ndarray, np.matmul
# np.dot without NumPy's __array_function__ dispatch (a Python frame): only ever given ndarrays
_dot = getattr(np.dot, "_implementation", np.dot)


def _same_dtype(a: Tensor, b: Tensor, what: str = "m1 and m2") -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"expected {what} to have the same dtype, but got: {cpp_type_name(a._data.dtype)} != {cpp_type_name(b._data.dtype)}"
        )


class MatMul(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if type(a) is _ndarray and a.ndim == 2 and b.ndim == 2 and a.dtype.char in "fd":
            return _dot(a, b)  # the same GEMM as ``a @ b``, a third cheaper to call on small matrices
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga, gb = ctx.needs_input_grad
        if type(grad) is _ndarray and a.ndim == 2 and b.ndim == 2 and grad.dtype.kind != "c":
            return _mm_grads_numpy(grad, a, b, ga, gb)  # first order on NumPy: the fast way
        xp = xp_of(grad)
        if is_complex(grad):  # a complex operand makes the output (and grad) complex: through conj, torch's rule
            a, b = conj_if_complex(xp, a), conj_if_complex(xp, b)
        if a.ndim == 2 and b.ndim == 2:  # the common case: two GEMMs
            return (_mm_grad_a(grad, a, b) if ga else None), (_mm_grad_b(grad, a, b) if gb else None)
        da = db = None
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if ga else None), (grad * a if gb else None)
        a2 = xp.expand_dims(a, 0) if a.ndim == 1 else a
        b2 = xp.expand_dims(b, 1) if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        if ga:
            da = xp.reshape(unbroadcast(g @ b2.mT, a2.shape), a.shape)
        if gb:
            db = xp.reshape(unbroadcast(a2.mT @ g, b2.shape), b.shape)
        return da, db


def _mm_grads_numpy(grad, a, b, ga: bool, gb: bool):
    """``MatMul.backward``'s two GEMMs for real 2-d NumPy arrays (first order only, never Tensors,
    so outside the formula rules): ``_mm_grad_a``/``_mm_grad_b`` inlined, with np.dot, the same BLAS
    GEMM as ``@`` on 2-d float arrays and a third cheaper to call on small ones."""
    mm = _dot if grad.dtype.char in "fd" else _matmul
    da = db = None
    if ga:
        f = a.flags
        da = mm(b, grad.T).T if f.f_contiguous and not f.c_contiguous else mm(grad, b.T)
    if gb:
        f = b.flags
        db = mm(grad.T, a).T if f.f_contiguous and not f.c_contiguous else mm(a.T, grad)
    return da, db


def _mm_error(a, b):
    return RuntimeError(
        f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})"
    )


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy/torch broadcasting rules for 1-d and batched operands.

    >>> import nnbox
    >>> (nnbox.ones(2, 3) @ nnbox.ones(3, 4)).shape
    torch.Size([2, 4])
    """
    if _ac.any_on[0]:  # autocast: cast before the dtype checks
        input, other = autocast_entry(MatMul, input, other)
    a, b = input._data, other._data
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    if a.dtype is not b.dtype:  # (identity first: a call per product costs as much as an 8x8 add)
        _same_dtype(input, other)
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have the "
                "same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively"
            )
        if a.ndim <= 2 and b.ndim <= 2:
            a2 = a.reshape(1, -1) if a.ndim == 1 else a
            b2 = b.reshape(-1, 1) if b.ndim == 1 else b
            raise _mm_error(a2, b2)
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0] if a.ndim > 2 else 1}, {ka}] "
            f"but got: [{b.shape[0] if b.ndim > 2 else 1}, {kb}]."
        )
    if _enabled[0] and not _mixed[0] and (input._rg or other._rg):
        r = _apply_graph(MatMul, (input, other), _NO_KW)  # MatMul.apply's graph path, directly
    else:
        r = MatMul.apply(input, other)
    if r.grad_fn is not None:
        r.grad_fn._nm = _MATMUL_NAMES.get((a.ndim, b.ndim), "UnsafeViewBackward0")
    if out is not None:
        from .inplace import copy_out

        return copy_out(out, r)
    return r


_MATMUL_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0", (1, 2): "SqueezeBackward4"}


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """2-d matrix product."""
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _mm_error(input._data, mat2._data)
    return matmul(input, mat2, out=out)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p)."""
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] but "
            f"got: [{b.shape[0]}, {b.shape[1]}]."
        )
    return named(matmul(input, mat2, out=out), "BmmBackward0")


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if _ac.any_on[0] and _ac.STATE["cpu"].enabled:  # not in torch's CPU list (nnbox's matmul, under it, is)
        return without_autocast(("cpu",), mv, input, vec)
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, {vec._data.ndim}")
    return matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:
    if _ac.any_on[0]:  # not in torch's CPU list, "promote" in its CUDA list (nnbox's matmul, under it, is low)
        return outside_autocast(dot, input, other, cuda_promote=True)
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors"
        )
    return matmul(input, other)


inner = dot
vdot = dot


class AddMM(Function):
    """``beta * bias + alpha * (a @ b)`` in one node (torch's addmm; Linear's forward)."""

    _array_api = True
    _twice = True
    _torch_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, bias, a, b, beta, alpha):
        ctx.save_for_backward(a, b)
        ctx.bias_shape, ctx.beta, ctx.alpha = bias.shape, beta, alpha
        out = a @ b
        if alpha != 1:
            out *= alpha
        out += bias if beta == 1 else beta * bias
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        gbias, ga, gb = ctx.needs_input_grad[:3]
        g = grad if ctx.alpha == 1 else grad * ctx.alpha
        return (
            unbroadcast(grad if ctx.beta == 1 else grad * ctx.beta, ctx.bias_shape) if gbias else None,
            _mm_grad_a(g, a, b) if ga else None,
            _mm_grad_b(g, a, b) if gb else None,
            None,
            None,
        )


def _transposed(x) -> bool:
    """A transposed 2-d array (``w.t()``); Tensors (create_graph) have no layout to keep."""
    f = getattr(x, "flags", None)
    return f is not None and x.ndim == 2 and f.f_contiguous and not f.c_contiguous


def _mm_grad_a(g, a, b):
    """d(a @ b)/da = g @ b.T, laid out like ``a``: for a transposed ``a`` (``w.t()``) the result is
    computed transposed, so that the gradient reaching ``w`` through the transpose is contiguous."""
    return (b @ g.mT).mT if _transposed(a) else g @ b.mT  # .mT: the same on arrays and Tensors


def _mm_grad_b(g, a, b):
    """d(a @ b)/db = a.T @ g, laid out like ``b`` (see ``_mm_grad_a``): Linear's ``x @ w.t()``."""
    return (g.mT @ a).mT if _transposed(b) else a.mT @ g


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if mat1._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {mat1._data.ndim}-D tensor")
    if mat1._data.shape[1] != mat2._data.shape[0]:
        raise _mm_error(mat1._data, mat2._data)
    if _ac.any_on[0]:  # autocast: cast before the dtype checks
        input, mat1, mat2 = autocast_entry(AddMM, input, mat1, mat2)
    _same_dtype(mat1, mat2)
    return AddMM.apply(input, mat1, mat2, beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if _ac.any_on[0]:  # autocast: all three in the low dtype, as torch's baddbmm
        input, batch1, batch2 = autocast_entry(MatMul, input, batch1, batch2)
    return input * beta + bmm(batch1, batch2) * alpha


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if _ac.any_on[0]:  # autocast: all three in the low dtype, as torch's addbmm
        input, batch1, batch2 = autocast_entry(MatMul, input, batch1, batch2)
    return input * beta + bmm(batch1, batch2).sum(0) * alpha


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    return input * beta + mv(mat, vec) * alpha


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    if _ac.any_on[0]:  # in none of torch's lists (nnbox's matmul, under it, is)
        return outside_autocast(outer, input, vec2)
    return matmul(input.reshape(-1, 1), vec2.reshape(1, -1))


ger = outer


# --- einsum --------------------------------------------------------------------------------------

def _parse_einsum(eq: str, shapes):
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation" if len(shapes) > len(terms)
                           else "einsum(): fewer operands were provided than specified in the equation")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_n = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            ell_n = max(ell_n, len(s) - (len(t) - 3))
    ell = "".join(free[:ell_n])
    new_terms = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[ell_n - k:])
        if len(t) != len(s):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(t)}) does not match the number of "
                f"dimensions ({len(s)}) for operand {len(new_terms)} and no ellipsis was given"
            )
        new_terms.append(t)
    if out is None:
        counts = {}
        for t in new_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return new_terms, out


class Einsum(Function):
    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, eq, *ops):
        terms, out = _parse_einsum(eq, [o.shape for o in ops])
        ctx.terms, ctx.out, ctx.shapes = terms, out, [o.shape for o in ops]
        ctx.save_for_backward(*ops)
        xp = xp_of(ops[0])
        # identity matrices that put a gradient back onto a diagonal ("ii" in one operand)
        ctx.eyes = {n: xp.eye(n, dtype=ops[0].dtype) for t, o in zip(terms, ops) if len(set(t)) != len(t)
                    for n in o.shape}
        return xp.einsum(",".join(terms) + "->" + out, *ops, optimize=len(ops) > 2)

    @staticmethod
    def backward(ctx, grad):
        ops = ctx.saved_tensors
        xp = xp_of(grad)
        grads = [None]
        for i in range(len(ops)):
            g = None
            if ctx.needs_input_grad[i + 1]:
                eq, others, shape, full_shape, diag = ctx.plan(i)
                g = xp.einsum(eq, grad, *[ops[j] for j in others], optimize=len(others) > 1)
                if shape is not None:  # indices summed only within this operand: broadcast back
                    g = xp.broadcast_to(xp.reshape(g, shape), full_shape)
                if diag is not None:  # a repeated subscript: the gradient lies on the diagonal
                    diag_eq, sizes = diag
                    g = xp.einsum(diag_eq, g, *[ctx.eyes[n] for n in sizes])
            grads = grads + [g]
        return tuple(grads)

    def plan(self, i: int):
        """The einsum that gives operand ``i``'s gradient: (equation, the other operands' positions,
        the shape to broadcast back from, or None)."""
        full = self.terms[i]
        size = {c: self.shapes[i][k] for k, c in enumerate(full)}
        t = "".join(dict.fromkeys(full))  # each subscript once
        others = [j for j in range(len(self.terms)) if j != i]
        avail = set(self.out) | {c for j in others for c in self.terms[j]}
        target = "".join(c for c in t if c in avail)
        eq = ",".join([self.out] + [self.terms[j] for j in others]) + "->" + target
        shape = None
        if target != t:
            shape = [size[c] if c in avail else 1 for c in t]
        diag = None
        if t != full:  # later occurrences get fresh letters tied to the first by identity matrices
            used = set("".join(self.terms) + self.out)
            fresh = (c for c in string.ascii_letters if c not in used)
            seen, out_sub, deltas = set(), "", []
            for c in full:
                if c in seen:
                    x = next(fresh)
                    out_sub += x
                    deltas.append((c + x, size[c]))
                else:
                    seen.add(c)
                    out_sub += c
            diag = (",".join([t] + [d for d, _ in deltas]) + "->" + out_sub, [n for _, n in deltas])
        return eq, others, shape, tuple(size[c] for c in t), diag


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(equation, *operands)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    if _ac.any_on[0] and a.is_cuda:  # "promote" in torch's CUDA list (on the CPU it is mm's: low)
        return outside_autocast(tensordot, a, b, dims, cuda_promote=True)
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for x, y in zip(da, db):
        tb[y] = ta[x]
    out = [c for k, c in enumerate(ta) if k not in da] + [c for k, c in enumerate(tb) if k not in db]
    return einsum("".join(ta) + "," + "".join(tb) + "->" + "".join(out), a, b)


# --- norms ----------------------------------------------------------------------------------------

def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The p-norm of ``x`` over ``dim`` (all elements by default)."""
    from . import reduce as R

    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fcV":
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {x.dtype.name.capitalize()}"
        )
    ax = norm_dims(dim, x._data.ndim)
    dims = ax if ax is not None else None
    a = x.abs()
    if ord == float("inf"):
        return R.amax(a, dims if dims is not None else (), keepdim)
    if ord == float("-inf"):
        return R.amin(a, dims if dims is not None else (), keepdim)
    if ord == 0:
        return (a != 0).to(x.dtype).sum(dims, keepdim)
    if ord == 1:
        return a.sum(dims, keepdim)
    if ord == 2:
        return _Norm2.apply(x, dims, keepdim)
    return (a ** ord).sum(dims, keepdim) ** (1.0 / ord)


class _Norm2(Function):
    _array_api = True
    _twice = True
    _torch_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = xp_of(a)
        out = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
        ctx.kept = out.shape
        out = out if keepdim else (out.reshape(()) if axes is None else out.squeeze(axes))
        ctx.save_for_backward(a, out)  # the output itself, so a second backward sees it in the graph
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = xp_of(grad)
        g, out = xp.reshape(grad, ctx.kept), xp.reshape(out, ctx.kept)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = xp.where(out == 0, 0, a / out)  # torch's subgradient 0 at the origin
        return g * r, None, None


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """``torch.norm``: Frobenius/2-norm by default, any p-norm over ``dim``."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise RuntimeError("nnbox does not implement the nuclear norm yet")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False) -> Tensor:
    if ord != "fro":
        raise NotImplementedError(f"nnbox.linalg.matrix_norm supports ord='fro' only, got {ord!r}")
    return vector_norm(A, 2, dim, keepdim)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    return vector_norm(input - other, p)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    from .creation import _DiagEmbed, _Diagonal

    if input._data.ndim == 1:
        return _DiagEmbed.apply(input, diagonal)
    if input._data.ndim == 2:
        return _Diagonal.apply(input, diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")


def trace(input: Tensor) -> Tensor:
    if _ac.any_on[0]:  # autocast: torch's float32 list
        (input,) = autocast_fp32(input)
    return diag(input).sum()


_METHODS = dict(matmul=matmul, mm=mm, bmm=bmm, mv=mv, dot=dot, inner=dot, addmm=addmm, outer=outer,
                ger=outer, norm=norm, dist=dist, diag=diag, trace=trace, baddbmm=baddbmm, addmv=addmv)
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.__matmul__ = matmul  # (no lambda in between: one frame less per product)
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)


# --- inverse ------------------------------------------------------------------------------------

class Inverse(Function):
    _array_api = True
    _twice = True
    _torch_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        try:
            inv = xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: The inversion could not be completed because the input matrix is singular.") from None
        ctx.save_for_backward(inv)
        return inv

    @staticmethod
    def backward(ctx, grad):
        (inv,) = ctx.saved_tensors
        xp = xp_of(inv)
        inv_h = xp.conj(xp.swapaxes(inv, -1, -2))
        return -xp.matmul(inv_h, xp.matmul(grad, inv_h))  # d(A^-1) = -A^-1 dA A^-1


class LinAlgError(RuntimeError):
    """A matrix that a linear-algebra routine can't handle (singular ...), as ``torch.linalg.LinAlgError``."""


def inverse(input: Tensor, *, out=None) -> Tensor:
    """The inverse of a square matrix (or of each in a batch); ``torch.linalg.inv``.

    >>> import nnbox
    >>> nnbox.tensor([[2.0, 0.0], [0.0, 4.0]]).inverse()
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    a = input._data
    if a.ndim < 2:
        raise RuntimeError("linalg.inv: The input tensor A must have at least 2 dimensions.")
    if a.dtype.kind not in "fcV":
        raise RuntimeError(
            f"linalg.inv: Expected a floating point or complex tensor as input. Got {type_name(a.dtype)}"
        )
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.inv: A must be batches of square matrices, but they are {a.shape[-2]} by {a.shape[-1]} matrices"
        )
    result = Inverse.apply(input)
    if out is not None:
        out.copy_(result)
        return out
    return result


Tensor.inverse = inverse
