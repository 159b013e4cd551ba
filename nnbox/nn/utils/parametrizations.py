"""``torch.nn.utils.parametrizations``: ``weight_norm``, ``spectral_norm`` and ``orthogonal``
as parametrizations (see ``parametrize``), with torch's state_dict keys
(``parametrizations.weight.original0/1``; ``original`` plus ``0._u``/``0._v``; ``original``
plus ``0.base``).

>>> import nnbox, nnbox.nn as nn
>>> m = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
>>> list(m.state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from __future__ import annotations

import nnbox

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module
from . import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dimension but ``dim`` (all of them for dim=-1),
    shaped to broadcast against ``v``."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.dim()
    others = tuple(d for d in range(v.dim()) if d != dim)
    if not others:
        return v.abs() if pow != 2 else (v * v).sqrt()
    return (v.abs() ** pow).sum(others, keepdim=True) ** (1.0 / pow)


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight: Tensor):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """``w = g * v / ||v||`` with magnitude ``g`` (``original0``) and direction ``v``
    (``original1``), the norm over every dimension but ``dim``."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _normalize(x: Tensor, eps: float) -> Tensor:
    return x / x.norm().clamp(min=eps)


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            u = _normalize(nnbox.randn(h, dtype=weight.dtype, device=weight.device), eps)
            v = _normalize(nnbox.randn(w, dtype=weight.dtype, device=weight.device), eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if weight.dim() <= 1:
            raise AssertionError("The input weight must have at least two dimensions")
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # in place on the buffers, as torch: the state_dict carries the latest estimate
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(_normalize(weight_mat.mv(self._v), self.eps))
                self._v.copy_(_normalize(weight_mat.T.mv(self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return nnbox.nn.functional.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = (u * weight_mat.mv(v)).sum()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide the weight by its largest singular value, estimated by power iteration (one
    step per training forward; buffers ``_u``/``_v`` keep the estimate).

    >>> import nnbox.nn as nn
    >>> m = nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2))
    >>> list(m.state_dict())
    ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_iᵀ with v_i the i-th column of
    A below the diagonal and 1 on it (LAPACK's orgqr), from differentiable ops."""
    n, k = A.shape[-2], A.shape[-1]
    eye = nnbox.eye(n, dtype=A.dtype, device=A.device)
    Q = eye.expand(*(tuple(A.shape[:-2]) + (n, n)))
    rows = nnbox.arange(n, device=A.device)
    for i in range(k):
        below = (rows > i).to(A.dtype)
        v = A[..., :, i] * below + (rows == i).to(A.dtype)  # (..., n)
        Qv = (Q @ v.unsqueeze(-1))  # (..., n, 1)
        Q = Q - tau[..., i, None, None] * (Qv @ v.unsqueeze(-2))
    return Q[..., :, :k]


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR with R's diagonal made positive (a unique orthogonal matrix from A)."""
    import numpy as np

    arr = A.detach().cpu().numpy()
    q, r = np.linalg.qr(arr)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    d = np.where(d == 0, 1.0, d)
    return nnbox.tensor(q * d[..., None, :], dtype=A.dtype, device=A.device)


def _is_orthogonal(Q: Tensor) -> bool:
    import numpy as np

    n, k = Q.shape[-2], Q.shape[-1]
    q = Q.detach().cpu().numpy()
    eps = 10 * n * float(np.finfo(q.dtype).eps)
    return bool(np.allclose(np.swapaxes(q, -1, -2) @ q, np.eye(k), atol=eps))


class _Orthogonal(Module):
    _MAPS = ("matrix_exp", "cayley", "householder")

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:
                X = nnbox.cat([X, nnbox.zeros(*(tuple(X.shape[:-2]) + (n, n - k)), dtype=X.dtype, device=X.device)], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == "matrix_exp":
                Q = nnbox.linalg.matrix_exp(A)
            else:
                Id = nnbox.eye(n, dtype=A.dtype, device=A.device)
                Q = nnbox.linalg.solve(Id - 0.5 * A, Id + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(-2))
            Q = _householder_product(A, tau)
            diag = (X * nnbox.eye(n, k, dtype=X.dtype, device=X.device)).sum(-2)
            Q = Q * diag.trunc().unsqueeze(-2)  # torch: X.diagonal().int()
        if self.base is not None:
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        if tuple(Q.shape) != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {tuple(Q.shape)}."
            )
        Q_init = Q
        n, k = Q.shape[-2], Q.shape[-1]
        transpose = n < k
        if transpose:
            Q = Q.mT
            n, k = k, n
        if "base" not in self._buffers:
            raise NotImplementedError(
                "nnbox: orthogonal(..., use_trivialization=False) is not implemented (it needs geqrf)"
            )
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:
            N = nnbox.randn(*(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)
            Q = _make_orthogonal(nnbox.cat([Q, N], dim=-1))
        self.base = Q.detach()
        # -Id: the map sends it to the identity, so the parametrized tensor starts at base
        rows, cols = Q_init.shape[-2], Q_init.shape[-1]
        neg_id = -nnbox.eye(rows, cols, dtype=Q_init.dtype, device=Q_init.device)
        return neg_id.expand(*Q_init.shape).clone()


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Keep ``module.<name>`` orthogonal (or with orthonormal rows/columns when not square),
    through ``matrix_exp``, ``cayley`` or ``householder`` (the default: ``matrix_exp`` for
    square matrices, ``householder`` otherwise), with torch's trivialization (buffer ``base``).

    >>> import nnbox, nnbox.nn as nn
    >>> m = nn.utils.parametrizations.orthogonal(nn.Linear(3, 3))
    >>> bool(nnbox.allclose(m.weight @ m.weight.T, nnbox.eye(3), atol=1e-6))
    True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.dim()} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _Orthogonal._MAPS:
        raise ValueError(
            f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
