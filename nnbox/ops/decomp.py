"""Cholesky factorisation and triangular solves, batched, with their gradients (what
``MultivariateNormal`` needs): ``linalg.cholesky``, ``linalg.solve_triangular``, ``cholesky``.

Gradients (Murray, "Differentiation of the Cholesky decomposition", 2016): with A = L Lᵀ and
Φ(X) the lower triangle of X with its diagonal halved, Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹). For X = A⁻¹B
with A triangular: B̄ = A⁻ᵀ X̄ and Ā = -B̄ Xᵀ restricted to A's triangle.

>>> import nnbox
>>> A = nnbox.tensor([[4.0, 2.0], [2.0, 3.0]])
>>> nnbox.linalg.cholesky(A)
tensor([[2.0000, 0.0000],
        [1.0000, 1.4142]])
"""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd.function import Function
from ._util import unbroadcast, xp_of
from .linalg import LinAlgError

__all__ = ["cholesky", "linalg_cholesky", "solve_triangular"]


def _mT(a):
    return a.swapaxes(-1, -2)


def _phi(xp, x):
    return xp.tril(x) - 0.5 * xp.eye(x.shape[-1], dtype=x.dtype) * x


def _solve_tri(xp, A, B, upper: bool, left: bool = True):
    # xp.linalg.solve handles batches on NumPy and CuPy; A is triangular, so this is exact
    if not left:  # X A = B  <=>  Aᵀ Xᵀ = Bᵀ
        return _mT(xp.linalg.solve(_mT(A), _mT(B)))
    return xp.linalg.solve(A, B)


class Cholesky(Function):
    _array_api = True
    _torch_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, a, upper=False):
        xp = xp_of(a)
        try:
            L = xp.linalg.cholesky(a)
        except Exception:
            raise LinAlgError(_not_pd_message(xp, a)) from None
        if hasattr(L, "any") and bool(xp.isnan(L).any()):  # CuPy returns nan instead of raising
            raise LinAlgError(_not_pd_message(xp, a))
        ctx.save_for_backward(L)
        ctx.upper = upper
        return _mT(L).copy() if upper else L

    @staticmethod
    def backward(ctx, grad):
        (L,) = ctx.saved_tensors
        xp = xp_of(L)
        if ctx.upper:
            grad = _mT(grad)
        P = _phi(xp, _mT(L) @ grad)
        # S = L⁻ᵀ P L⁻¹
        S = _solve_tri(xp, _mT(L), _solve_tri(xp, L, P, upper=False, left=False), upper=True)
        return 0.5 * (S + _mT(S))


def _not_pd_message(xp, a) -> str:
    import numpy as np

    host = a.get() if hasattr(a, "get") else a
    flat = np.asarray(host).reshape(-1, host.shape[-2], host.shape[-1])
    order = host.shape[-1]
    for m in flat:
        for k in range(1, m.shape[-1] + 1):
            if np.linalg.eigvalsh(m[:k, :k]).min() <= 0:
                order = k
                break
        else:
            continue
        break
    return (
        "linalg.cholesky: The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {order} is not positive-definite)."
    )


class SolveTriangular(Function):
    _array_api = True
    _torch_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, A, B, upper=False, left=True, unitriangular=False):
        xp = xp_of(A)
        A = xp.triu(A) if upper else xp.tril(A)
        if unitriangular:
            n = A.shape[-1]
            A = A * (1 - xp.eye(n, dtype=A.dtype)) + xp.eye(n, dtype=A.dtype)
        X = _solve_tri(xp, A, B, upper, left)
        ctx.save_for_backward(A, X)
        ctx.opts = (upper, left, unitriangular)
        ctx.shapes = (A.shape, B.shape)
        return X

    @staticmethod
    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        upper, left, unit = ctx.opts
        xp = xp_of(A)
        gB = _solve_tri(xp, _mT(A), grad, not upper, left)
        gA = -(gB @ _mT(X)) if left else -(_mT(X) @ gB)
        gA = xp.triu(gA) if upper else xp.tril(gA)
        if unit:
            gA = gA * (1 - xp.eye(A.shape[-1], dtype=A.dtype))
        sa, sb = ctx.shapes
        return (unbroadcast(gA, sa) if ctx.needs_input_grad[0] else None,
                unbroadcast(gB, sb) if ctx.needs_input_grad[1] else None)


def _check_square(name: str, A: Tensor) -> None:
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {A.shape[-2]} by {A.shape[-1]} matrices")


def linalg_cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """``torch.linalg.cholesky``: L with A = L Lᴴ (or U = Lᴴ with ``upper=True``), batched."""
    _check_square("linalg.cholesky", A)
    return Cholesky.apply(A, upper=upper)


def cholesky(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """``torch.cholesky`` (deprecated in torch for ``linalg.cholesky``).

    >>> import nnbox
    >>> nnbox.cholesky(nnbox.tensor([[4.0, 0.0], [0.0, 9.0]]))
    tensor([[2., 0.],
            [0., 3.]])
    """
    _check_square("linalg.cholesky", input)
    return Cholesky.apply(input, upper=upper)


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False,
                     out=None) -> Tensor:
    """``torch.linalg.solve_triangular``: X with A X = B (or X A = B with ``left=False``).

    >>> import nnbox
    >>> L = nnbox.tensor([[2.0, 0.0], [1.0, 1.0]])
    >>> nnbox.linalg.solve_triangular(L, nnbox.tensor([[2.0], [3.0]]), upper=False)
    tensor([[1.],
            [2.]])
    """
    _check_square("linalg.solve_triangular", A)
    return SolveTriangular.apply(A, B, upper=upper, left=left, unitriangular=unitriangular)


Tensor.cholesky = cholesky


def _expm_array(xp, A):
    """exp(A) for a batch of square matrices: scale by 2^-s until the 1-norm is below 1/2,
    sum the Taylor series to 20 terms (truncation below 1e-17 relative), square s times."""
    norm = float(xp.abs(A).sum(-2).max()) if A.size else 0.0
    s = max(0, int(xp.ceil(xp.log2(norm / 0.5)))) if norm > 0.5 else 0
    X = A / (2.0**s)
    n = A.shape[-1]
    eye = xp.broadcast_to(xp.eye(n, dtype=A.dtype), A.shape)
    term = eye.copy()
    result = eye.copy()
    for k in range(1, 21):
        term = term @ X / k
        result = result + term
    for _ in range(s):
        result = result @ result
    return result


class MatrixExp(Function):
    _array_api = True
    _torch_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _expm_array(xp_of(a), a)

    @staticmethod
    def backward(ctx, grad):
        # the adjoint of the Fréchet derivative at A is the one at Aᵀ: read it off the exponential
        # of the block matrix [[Aᵀ, G], [0, Aᵀ]] (its top-right block)
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        n = a.shape[-1]
        at = _mT(a)
        top = xp.concatenate([at, grad], axis=-1)
        bottom = xp.concatenate([xp.zeros_like(at), at], axis=-1)
        big = _expm_array(xp, xp.concatenate([top, bottom], axis=-2))
        return big[..., :n, n:]


class Solve(Function):
    _array_api = True
    _torch_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, A, B):
        xp = xp_of(A)
        vec = B.ndim == A.ndim - 1  # torch treats B as a (batch of) vector(s) then
        X = xp.linalg.solve(A, B[..., None] if vec else B)
        ctx.save_for_backward(A, X)
        ctx.vec = vec
        ctx.shapes = (A.shape, B.shape)
        return X[..., 0] if vec else X

    @staticmethod
    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        xp = xp_of(A)
        g = grad[..., None] if ctx.vec else grad
        gB = xp.linalg.solve(_mT(A), g)
        gA = -(gB @ _mT(X))
        sa, sb = ctx.shapes
        gB = gB[..., 0] if ctx.vec else gB
        return (unbroadcast(gA, sa) if ctx.needs_input_grad[0] else None,
                unbroadcast(gB, sb) if ctx.needs_input_grad[1] else None)


def matrix_exp(A: Tensor) -> Tensor:
    """``torch.linalg.matrix_exp``: the matrix exponential of (a batch of) square matrices.

    >>> import nnbox
    >>> nnbox.linalg.matrix_exp(nnbox.zeros(2, 2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    _check_square("linalg.matrix_exp", A)
    return MatrixExp.apply(A)


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """``torch.linalg.solve``: X with A X = B (batched, broadcasting).

    >>> import nnbox
    >>> nnbox.linalg.solve(nnbox.tensor([[2.0, 0.0], [0.0, 4.0]]), nnbox.tensor([2.0, 2.0]))
    tensor([1.0000, 0.5000])
    """
    _check_square("linalg.solve", A)
    if not left:
        return Solve.apply(A.mT, B.mT).mT
    return Solve.apply(A, B)


Tensor.matrix_exp = matrix_exp
