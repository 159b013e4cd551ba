"""matmul family and einsum against torch: values, gradients (all broadcasting cases), errors."""
import numpy as np
import pytest

from oracle import arr, check, check_error

MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)), ((0, 3), (3, 2)), ((2, 0), (0, 3)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul(sa, sb):
    check(lambda m, x, y: m.matmul(x, y), [arr(*sa), arr(*sb)])
    check(lambda m, x, y: x @ y, [arr(*sa), arr(*sb)])


def test_matmul_float32_and_int():
    check(lambda m, x, y: x @ y, [arr(4, 5, dtype=np.float32), arr(5, 3, dtype=np.float32)])
    check(lambda m, x, y: x @ y, [arr(4, 5, dtype=np.int64), arr(5, 3, dtype=np.int64)])


def test_mm_bmm_mv_dot():
    check(lambda m, x, y: m.mm(x, y), [arr(2, 3), arr(3, 4)])
    check(lambda m, x, y: x.mm(y), [arr(2, 3), arr(3, 4)])
    check(lambda m, x, y: m.bmm(x, y), [arr(5, 2, 3), arr(5, 3, 4)])
    check(lambda m, x, y: m.mv(x, y), [arr(2, 3), arr(3)])
    check(lambda m, x, y: m.dot(x, y), [arr(3), arr(3)])
    check(lambda m, x, y: m.outer(x, y), [arr(3), arr(4)])
    check(lambda m, x, y: m.inner(x, y), [arr(3), arr(3)])


@pytest.mark.parametrize("bias_shape", [(4,), (2, 4), (1, 4), (2, 1), ()])
def test_addmm(bias_shape):
    check(lambda m, b, x, y: m.addmm(b, x, y), [arr(*bias_shape), arr(2, 3), arr(3, 4)])
    check(lambda m, b, x, y: m.addmm(b, x, y, beta=0.5, alpha=2.0), [arr(*bias_shape), arr(2, 3), arr(3, 4)])
    check(lambda m, b, x, y: b.addmm(x, y), [arr(*bias_shape), arr(2, 3), arr(3, 4)])


def test_baddbmm_addmv_addbmm():
    check(lambda m, b, x, y: m.baddbmm(b, x, y, beta=0.5, alpha=2.0), [arr(5, 2, 4), arr(5, 2, 3), arr(5, 3, 4)])
    check(lambda m, b, x, y: m.addmv(b, x, y), [arr(2), arr(2, 3), arr(3)])
    check(lambda m, b, x, y: m.addbmm(b, x, y), [arr(2, 4), arr(5, 2, 3), arr(5, 3, 4)])


def test_linear_like_chain_transposed():
    check(lambda m, x, w, b: (x @ w.t() + b).relu() @ w, [arr(8, 5, dtype=np.float32), arr(3, 5, dtype=np.float32),
                                                         arr(3, dtype=np.float32)])


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ba", [(2, 3)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
    ("...i,...i->...", [(2, 3, 4), (4,)]),
]


@pytest.mark.parametrize("k", range(len(EINSUM)))
def test_einsum(k):
    eq, shapes = EINSUM[k]
    check(lambda m, *xs: m.einsum(eq, *xs), [arr(*s) for s in shapes])
    check(lambda m, *xs: m.einsum(eq, list(xs)), [arr(*s) for s in shapes])


def test_einsum_errors():
    check_error(lambda m, x, y: m.einsum("ij,jk->ik", x), [arr(2, 3), arr(3, 4)])
    check_error(lambda m, x: m.einsum("ijk->i", x), [arr(2, 3)])


def test_tensordot():
    check(lambda m, x, y: m.tensordot(x, y, 1), [arr(2, 3), arr(3, 4)])
    check(lambda m, x, y: m.tensordot(x, y, dims=([1, 0], [0, 1])), [arr(2, 3), arr(3, 2)])


def test_matmul_errors():
    check_error(lambda m, x, y: m.mm(x, y), [arr(64, 784), arr(300, 10)],
                match=r"mat1 and mat2 shapes cannot be multiplied \(64x784 and 300x10\)")
    check_error(lambda m, x, y: x @ y, [arr(2, 3), arr(4, 5)], match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)")
    check_error(lambda m, x, y: x @ y, [arr(3), arr(4)])
    check_error(lambda m, x, y: x @ y, [arr(), arr(3)], match="both arguments to matmul need to be at least 1D")
    check_error(lambda m, x, y: m.bmm(x, y), [arr(2, 3), arr(3, 4)], match="batch1 must be a 3D tensor")
    check_error(lambda m, x, y: m.bmm(x, y), [arr(5, 2, 3), arr(4, 3, 4)])
    check_error(lambda m, x, y: m.mm(x, y), [arr(3), arr(3, 4)])
    check_error(lambda m, x, y: x @ y, [arr(2, 3, dtype=np.float32), arr(3, 4)],
                match="expected m1 and m2 to have the same dtype")
    check_error(lambda m, b, x, y: m.addmm(b, x, y), [arr(4), arr(2, 3), arr(4, 4)], match=r"\(2x3 and 4x4\)")
    check_error(lambda m, x, y: x @ y, [arr(5, 2, 3), arr(4, 4, 4)])
    check_error(lambda m, x, y: m.dot(x, y), [arr(3), arr(4)])
    check_error(lambda m, x, y: m.mv(x, y), [arr(2, 3), arr(4)])


def test_norm():
    a = arr(3, 4)
    check(lambda m, x: m.norm(x), [a])
    check(lambda m, x: x.norm(dim=1), [a])
    check(lambda m, x: x.norm(p=1, dim=0, keepdim=True), [a])
    check(lambda m, x: x.norm(p=3), [a])
    check(lambda m, x: m.dist(x, x * 2), [a])
    check(lambda m, x: m.linalg.vector_norm(x, ord=float("inf"), dim=1), [a])


# --- second order (create_graph=True) --------------------------------------------------------------

@pytest.mark.parametrize("k", [k for k in range(len(EINSUM)) if len(EINSUM[k][1]) > 1 or "->" in EINSUM[k][0]])
def test_einsum_second_order(k):
    eq, shapes = EINSUM[k]
    check(lambda m, *xs: m.einsum(eq, *xs) ** 2, [arr(*s) for s in shapes], order=2, rtol=1e-8)


@pytest.mark.parametrize("f", [
    lambda m, x, y: m.tensordot(x, y, 1) ** 2,
    lambda m, x, y: m.norm(x) * y,
    lambda m, x, y: x.norm(dim=1) * y[0, :2],
    lambda m, x, y: x.norm(dim=1, keepdim=True) * y[:2, :1],
    lambda m, x, y: x.norm(p=1, dim=0) * y[:, 0].sum(),
    lambda m, x, y: x.norm(p=3) * y,
    lambda m, x, y: m.dist(x, x ** 2),
    lambda m, x, y: m.linalg.vector_norm(x, ord=float("inf"), dim=1) ** 2,
    lambda m, x, y: m.trace(x[:, :2] @ x[:, :2].t()),
    lambda m, x, y: m.diag(x * x) * x[:2, 0],
    lambda m, x, y: m.diag(x * x, 1) ** 2,
    lambda m, x, y: m.diag(x[0] ** 3, -1) ** 2,
    lambda m, x, y: m.diagonal(x.t() ** 3, -1) ** 2,
    lambda m, x, y: m.outer(x[0], y[:, 0]) ** 2,
    lambda m, x, y: m.mv(x.t(), y[:2, 1]) ** 2,
    lambda m, x, y: m.baddbmm(x[:, :2].reshape(1, 2, 2), x.reshape(1, 2, 3), y.reshape(1, 3, 2)) ** 2,
])
def test_linalg_second_order(f):
    check(f, [arr(2, 3), arr(3, 2)], order=2, rtol=1e-8)
