"""``nnbox.linalg``: norms and products under torch.linalg's names."""
from .ops.linalg import LinAlgError, matmul, matrix_norm, vector_norm  # noqa: F401
from .ops.linalg import inverse as inv  # noqa: F401
from .ops.linalg import norm as _norm


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A002
    """The vector 2-norm (or ``ord``-norm) over ``dim``; Frobenius for matrices by default."""
    return _norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


from .ops.decomp import linalg_cholesky as cholesky  # noqa: E402,F401
from .ops.decomp import (  # noqa: E402,F401
    matrix_exp,
    solve,
    solve_triangular,  # noqa: E402,F401
)
