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

__all__ = ["cholesky", "linalg_cholesky", "solve_triangular"]


class LinAlgError(RuntimeError):
    """``torch.linalg.LinAlgError``: a matrix the factorisation cannot handle (a RuntimeError)."""


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
    """``torch.cholesky`` (deprecated in torch for ``linalg.cholesky``)."""
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
