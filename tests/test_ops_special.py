"""Special functions and Cholesky/triangular solves against torch: values and gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error

# torch's polygamma(1, x) (digamma's derivative) is off by up to 5e-10 relative (scipy agrees
# with nnbox's to 1e-15), so digamma's gradients are compared at 1e-8
_GRAD_RTOL = {"digamma": 1e-8}


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erf", "erfc"])
@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_unary_positive(name, shape):
    check(lambda m, x: getattr(m, name)(x), [arr(*shape, positive=True, high=30.0)], grad_rtol=_GRAD_RTOL.get(name))


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erf", "erfc"])
def test_unary_negative_non_integer(name):
    x = np.array([-7.3, -2.5, -0.5, -0.01, 0.3, 1e-5, 1.0, 2.0, 150.0])
    check(lambda m, x: getattr(m, name)(x), [x], rtol=1e-10, atol=1e-10, grad_rtol=_GRAD_RTOL.get(name, 1e-10))


def test_poles_and_limits_as_torch():
    x = np.array([0.0, -1.0, -3.0, np.inf, np.nan])
    for name in ("lgamma", "digamma"):
        check(lambda m, x: getattr(m, name)(x), [x], grad=False)


def test_erfinv_and_float32():
    check(lambda m, x: m.erfinv(x), [np.array([-0.999, -0.5, 0.0, 0.2, 0.9, 0.99999])], rtol=1e-9)
    check(lambda m, x: m.erfinv(x), [np.array([-1.0, 1.0, 1.5])], grad=False)
    check(lambda m, x: m.lgamma(x), [arr(5, dtype=np.float32, positive=True)], rtol=1e-5)


def test_polygamma_1_and_int_input():
    check(lambda m, x: m.polygamma(1, x), [np.array([0.2, 1.0, 3.5, 40.0])], grad=False, rtol=1e-9)
    check(lambda m, x: m.lgamma(x), [np.array([1, 2, 5])], grad=False)  # ints become the default float


def test_xlogy_and_logit():
    a = np.array([0.0, 1.0, 2.5, 0.0])
    b = np.array([0.0, 3.0, 0.5, 2.0])
    check(lambda m, x, y: m.xlogy(x, y), [a, b + 0.1])
    check(lambda m, x, y: m.xlogy(x, y), [a, b], grad=False)
    check(lambda m, p: m.logit(p), [arr(6, low=0.05, high=0.95)])
    check(lambda m, p: m.logit(p, eps=0.1), [np.array([0.0, 0.5, 1.0])], grad=False)


def _spd(n, batch=()):
    a = arr(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(batch, upper):
    check(lambda m, a: m.linalg.cholesky((a + a.mT) / 2, upper=upper), [_spd(4, batch)])


def test_cholesky_not_positive_definite():
    bad = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(torch.linalg.LinAlgError) as t:
        torch.linalg.cholesky(torch.tensor(bad))
    with pytest.raises(nnbox.linalg.LinAlgError) as n:
        nnbox.linalg.cholesky(nnbox.tensor(bad))
    assert str(n.value) == str(t.value) and isinstance(n.value, RuntimeError)
    check_error(lambda m, a: m.linalg.cholesky(a), [np.ones((2, 3))])


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
def test_solve_triangular(upper, left):
    A = np.tril(arr(2, 4, 4)) + 4 * np.eye(4)
    if upper:
        A = np.swapaxes(A, -1, -2)
    B = arr(2, 4, 3) if left else arr(2, 3, 4)
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left), [A, B])
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left, unitriangular=True), [A, B])


def test_solve_triangular_broadcasts():
    A = np.tril(arr(4, 4)) + 4 * np.eye(4)
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False), [A, arr(3, 4, 2)])


def test_gradcheck_float64():
    x = nnbox.tensor([0.3, 1.7, 4.2], dtype=nnbox.float64, requires_grad=True)
    for f in (nnbox.lgamma, nnbox.digamma, nnbox.erf, nnbox.erfinv):
        inp = x if f is not nnbox.erfinv else (x / 5).detach().requires_grad_()
        assert nnbox.autograd.gradcheck(f, (inp,))
    assert nnbox.special.gammaln is nnbox.lgamma


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_matrix_exp(scale):
    check(lambda m, a: m.linalg.matrix_exp(a), [arr(3, 3) * scale], rtol=1e-9, atol=1e-9)
    check(lambda m, a: m.linalg.matrix_exp(a), [arr(2, 4, 4) * scale], rtol=1e-9, atol=1e-9)


def test_solve():
    A = arr(2, 3, 3) + 3 * np.eye(3)
    check(lambda m, a, b: m.linalg.solve(a, b), [A, arr(2, 3, 2)])
    check(lambda m, a, b: m.linalg.solve(a, b), [A, arr(2, 3)])
    check(lambda m, a, b: m.linalg.solve(a, b, left=False), [A, arr(2, 2, 3)])


# --- second derivatives (create_graph=True) against torch ----------------------------------------

_X2 = np.array([-2.5, -0.5, 0.3, 1.0, 2.0, 7.5, 25.0])


@pytest.mark.parametrize("fn", [
    lambda m, x: m.lgamma(x), lambda m, x: m.digamma(x), lambda m, x: m.polygamma(1, x),
    lambda m, x: m.polygamma(2, x), lambda m, x: m.polygamma(3, x), lambda m, x: m.erf(x),
    lambda m, x: m.erfc(x), lambda m, x: m.special.erfc(x), lambda m, x: m.logit(x * 0.03 + 0.2),
    lambda m, x: m.logit(x * 0.3 + 0.5, eps=1e-2), lambda m, x: m.erfinv(x * 0.035),
], ids=["lgamma", "digamma", "polygamma1", "polygamma2", "polygamma3", "erf", "erfc", "special.erfc",
        "logit", "logit_eps", "erfinv"])
def test_second_derivatives_as_torch(fn):
    # torch's polygamma(1, x) is off by up to 5e-10 relative (see _GRAD_RTOL), so 1e-8 leaves room
    check(fn, [_X2.copy()], order=2, rtol=1e-8)


def test_xlogy_second_derivatives_as_torch():
    check(lambda m, a, b: m.xlogy(a, b), [arr(3, 4), arr(4, positive=True)], order=2, rtol=1e-8)


def test_polygamma_any_order_matches_torch():
    x = np.array([-3.7, -0.5, 0.01, 0.4, 1.0, 3.5, 19.9, 20.0, 400.0])
    for n in (2, 3, 4, 6):
        check(lambda m, x: m.polygamma(n, x), [x], rtol=1e-10, atol=0)
        poles = np.array([0.0, -1.0, -2.0, np.inf, -np.inf, np.nan])
        check(lambda m, x: m.polygamma(n, x), [poles], grad=False)


def test_special_double_backward_gradgradcheck():
    from oracle import gradgrad_fd

    x = nnbox.tensor([0.4, 1.3, 3.0], dtype=nnbox.float64, requires_grad=True)
    assert gradgrad_fd(nnbox.lgamma, [x])
    assert gradgrad_fd(nnbox.digamma, [x])
    assert gradgrad_fd(lambda t: nnbox.erfinv(t * 0.3), [x])
    assert gradgrad_fd(lambda t: nnbox.xlogy(t, t + 1), [x])


# --- linear algebra, differentiated twice ---------------------------------------------------------

@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_second_derivatives(upper):
    check(lambda m, a: m.linalg.cholesky((a + a.mT) / 2, upper=upper), [_spd(3, (2,))], order=2, rtol=1e-8)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_second_derivatives(upper, left, unit):
    A = arr(2, 3, 3) + 4 * np.eye(3)
    B = arr(2, 3, 2) if left else arr(2, 2, 3)
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit),
          [A, B], order=2, rtol=1e-8)


def test_solve_inverse_matrix_exp_second_derivatives():
    A = arr(2, 3, 3) + 3 * np.eye(3)
    check(lambda m, a, b: m.linalg.solve(a, b), [A, arr(2, 3, 2)], order=2, rtol=1e-8)
    check(lambda m, a, b: m.linalg.solve(a, b), [A, arr(2, 3)], order=2, rtol=1e-8)
    check(lambda m, a, b: m.linalg.solve(a, b, left=False), [A, arr(2, 2, 3)], order=2, rtol=1e-8)
    check(lambda m, a: m.linalg.inv(a), [A], order=2, rtol=1e-8)
    check(lambda m, a: m.inverse(a), [A[0]], order=2, rtol=1e-8)
    check(lambda m, a: m.linalg.matrix_exp(a), [arr(2, 3, 3)], order=2, rtol=1e-8, atol=1e-9)
    check(lambda m, a: m.linalg.matrix_exp(a), [arr(3, 3) * 3], order=2, rtol=1e-8, atol=1e-9)


def test_cdist_second_derivatives_where_torch_has_them():
    # torch differentiates cdist twice only in its matrix-product form (p = 2, more than 25 rows
    # or compute_mode="use_mm_for_euclid_dist")
    check(lambda m, a, b: m.cdist(a, b), [arr(2, 30, 3), arr(2, 5, 3)], order=2, rtol=1e-8)
    check(lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [arr(4, 3), arr(5, 3)],
          order=2, rtol=1e-8)


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, float("inf")])
def test_cdist_second_backward_raises_as_torch(p):
    for m in (torch, nnbox):
        a = m.tensor(arr(4, 3), requires_grad=True)
        b = m.tensor(arr(5, 3), requires_grad=True)
        (g,) = m.autograd.grad(m.cdist(a, b, p=p).sum(), a, create_graph=True)
        with pytest.raises(NotImplementedError, match="the derivative for '_cdist_backward' is not implemented"):
            g.sum().backward()


def test_linalg_double_backward_gradgradcheck():
    from oracle import gradgrad_fd

    A = nnbox.tensor(_spd(3), requires_grad=True)
    B = nnbox.tensor(arr(3, 2), requires_grad=True)
    assert gradgrad_fd(lambda a: nnbox.linalg.cholesky((a + a.mT) / 2), [A])
    assert gradgrad_fd(lambda a, b: nnbox.linalg.solve_triangular(a, b, upper=True), [A, B])
    assert gradgrad_fd(lambda a, b: nnbox.linalg.solve(a, b), [A, B])
    assert gradgrad_fd(lambda a: nnbox.linalg.matrix_exp(a * 0.3), [A])


@pytest.mark.parametrize("fn", [
    lambda m, x: m.special.exp2(x), lambda m, x: m.special.expit(x), lambda m, x: m.special.expm1(x),
    lambda m, x: m.special.gammaln(x * x + 0.3), lambda m, x: m.special.log1p(x * x),
    lambda m, x: m.special.log_softmax(x, 1), lambda m, x: m.special.logsumexp(x, 1),
    lambda m, x: m.special.psi(x * x + 0.3), lambda m, x: m.special.softmax(x, 1),
    lambda m, x: m.special.xlogy(2.0, x * x + 0.1), lambda m, x: m.xlogy(x, 3.0),
], ids=["exp2", "expit", "expm1", "gammaln", "log1p", "log_softmax", "logsumexp", "psi", "softmax", "xlogy_s1",
        "xlogy_s2"])
def test_special_namespace_second_derivatives(fn):
    check(fn, [arr(3, 4)], order=2, rtol=1e-8)
