"""Reductions and softmax against torch: values, dtypes, gradients, dim/keepdim, edge cases."""
import numpy as np
import pytest

import nnbox
from oracle import arr, check, check_error

SHAPES = [(), (5,), (3, 4), (2, 3, 4)]


def _dims(shape):
    nd = len(shape)
    out = [None]
    for d in range(-nd, nd):
        out.append(d)
    if nd >= 2:
        out += [(0, -1), (-1, 0) if nd > 2 else (0, 1)]
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "logsumexp", "nansum"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_reductions(op, shape, keepdim):
    a = arr(*shape)
    for d in _dims(shape):
        if d is None:
            if op == "logsumexp":
                continue
            if op in ("amax", "amin"):
                check(lambda m, x: getattr(m, op)(x, (), keepdim), [a])
                continue
            check(lambda m, x: getattr(m, op)(x), [a])
            continue
        check(lambda m, x: getattr(m, op)(x, d, keepdim), [a])
        check(lambda m, x: getattr(x, op)(dim=d, keepdim=keepdim), [a])


@pytest.mark.parametrize("dt", [np.float32, np.int64, np.int32, np.bool_, np.uint8])
def test_sum_dtypes(dt):
    a = arr(3, 4, dtype=dt)
    check(lambda m, x: x.sum(), [a])
    check(lambda m, x: x.sum(0), [a])
    check(lambda m, x: x.sum(1, keepdim=True), [a])
    check(lambda m, x: x.sum(dtype=m.float64), [a])
    check(lambda m, x: m.prod(x, 1), [a])
    check(lambda m, x: m.cumsum(x, 1), [a])


def test_mean_int_error():
    check_error(lambda m, x: x.mean(), [arr(3, dtype=np.int64)], match="floating point")
    check(lambda m, x: x.mean(dtype=m.float64), [arr(3, dtype=np.int64)])


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_prod_with_zeros(shape):
    a = arr(*shape)
    flat = a.reshape(-1)
    flat[1] = 0.0
    check(lambda m, x: x.prod(), [a])
    for d in range(len(shape)):
        check(lambda m, x: x.prod(d), [a])
        check(lambda m, x: x.prod(d, keepdim=True), [a])
    b = a.copy().reshape(-1)
    b[2] = 0.0  # two zeros
    b = b.reshape(shape)
    check(lambda m, x: x.prod(), [b])
    check(lambda m, x: x.prod(-1), [b])


def test_prod_0d_and_empty():
    check(lambda m, x: x.prod(), [arr()])
    check(lambda m, x: x.prod(0), [arr()])
    check(lambda m, x: x.prod(), [arr(0, 3)])
    check(lambda m, x: x.sum(), [arr(0, 3)])
    check(lambda m, x: x.sum(0), [arr(0, 3)])
    check(lambda m, x: x.mean(0), [arr(0, 3)])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim(op, shape, keepdim):
    a = arr(*shape)
    for d in range(-len(shape), len(shape)):
        t, n = check(lambda m, x: getattr(m, op)(x, d, keepdim), [a])
        assert type(n).__name__ == op and n.values is n[0] and n.indices is n[1]
        check(lambda m, x: getattr(x, op)(dim=d, keepdim=keepdim), [a])
    check(lambda m, x: getattr(m, op)(x), [a])


def test_max_min_ties():
    # whole-tensor max with ties: gradient shared evenly; with dim: first occurrence gets it all
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    check(lambda m, x: x.max(), [a])
    check(lambda m, x: x.min(), [a])
    check(lambda m, x: x.max(1), [a])
    check(lambda m, x: x.min(0), [a])
    check(lambda m, x: m.amax(x, 1), [a])
    check(lambda m, x: m.argmax(x, 1), [a], grad=False)
    check(lambda m, x: m.argmax(x), [a], grad=False)


def test_max_nan():
    a = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, 0.0]])
    check(lambda m, x: x.max(1), [a], grad=False)
    check(lambda m, x: x.min(1), [a], grad=False)
    check(lambda m, x: x.max(), [a], grad=False)


def test_max_int_and_bool():
    for dt in (np.int64, np.int32, np.bool_, np.uint8):
        a = arr(3, 4, dtype=dt)
        check(lambda m, x: x.max(1), [a])
        check(lambda m, x: x.min(), [a])
        if dt != np.bool_:  # torch's argmin has no bool kernel
            check(lambda m, x: m.argmin(x, 0, keepdim=True), [a])


def test_max_binary_form():
    check(lambda m, x, y: m.max(x, y), [arr(3, 4), arr(4)])
    check(lambda m, x, y: m.min(x, y), [arr(3, 4), arr(4)])


def test_max_0d():
    check(lambda m, x: m.max(x, 0), [arr()])
    check(lambda m, x: m.max(x, 0, True), [arr()])
    check(lambda m, x: m.argmax(x), [arr()], grad=False)
    check(lambda m, x: m.argmax(x, 0), [arr()], grad=False)


def test_max_errors():
    check_error(lambda m, x: x.max(), [arr(0, 3)], match="numel")
    check_error(lambda m, x: x.max(0), [arr(0, 3)])
    check_error(lambda m, x: x.max(2), [arr(2, 3)], match="Dimension out of range")
    check_error(lambda m, x: x.argmax(), [arr(0)])


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, shape):
    a = arr(*shape)
    check(lambda m, x: getattr(x, op)(), [a])
    check(lambda m, x: getattr(x, op)(unbiased=False), [a])
    check(lambda m, x: getattr(m, op)(x, correction=0), [a])
    check(lambda m, x: getattr(m, op)(x, correction=2), [a])
    for d in range(-len(shape), len(shape)):
        check(lambda m, x: getattr(x, op)(d), [a])
        check(lambda m, x: getattr(x, op)(d, keepdim=True), [a])
        check(lambda m, x: getattr(x, op)(d, unbiased=False, keepdim=True), [a])
        check(lambda m, x: getattr(x, op)(dim=d, correction=0), [a])
    if len(shape) > 1:
        check(lambda m, x: getattr(x, op)((0, 1)), [a])
    check(lambda m, x: getattr(m, op)(x, True), [a])
    check(lambda m, x: getattr(m, op)(x, False), [a])


def test_var_mean_std_mean():
    a = arr(3, 4)
    check(lambda m, x: m.var_mean(x, 1), [a])
    check(lambda m, x: m.std_mean(x, 0, keepdim=True), [a])


def test_var_single_element():
    # n - correction == 0: nan (torch warns), gradient nan
    with np.errstate(all="ignore"):
        check(lambda m, x: x.var(), [arr(1)], grad=False)
        check(lambda m, x: x.std(0), [arr(1, 3)], grad=False)


def test_logsumexp():
    a = arr(3, 4)
    check(lambda m, x: m.logsumexp(x, 1), [a])
    check(lambda m, x: m.logsumexp(x, (0, 1)), [a])
    check(lambda m, x: m.logsumexp(x, 0, keepdim=True), [a])
    big = np.array([[1000.0, 1000.0], [-1000.0, -np.inf]])
    check(lambda m, x: m.logsumexp(x, 1), [big])
    check(lambda m, x: m.logsumexp(x, 1), [np.array([[-np.inf, -np.inf]])], grad=False)
    check(lambda m, x: m.logsumexp(x, 0), [arr(4, dtype=np.int64)])


@pytest.mark.parametrize("dt", [np.float64, np.bool_, np.int64])
def test_all_any(dt):
    a = arr(3, 4, dtype=dt)
    for f in (lambda m, x: x.all(), lambda m, x: x.any(), lambda m, x: x.all(1), lambda m, x: x.any(0),
              lambda m, x: m.all(x, 1, keepdim=True), lambda m, x: m.any(x, -1, True)):
        check(f, [a], grad=False)
    check(lambda m, x: x.all(), [arr(0)], grad=False)
    check(lambda m, x: x.any(), [arr(0)], grad=False)


@pytest.mark.parametrize("dt", [np.uint8])
def test_all_any_uint8(dt):
    check(lambda m, x: x.all(1), [arr(3, 4, dtype=dt)], grad=False)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_cumsum_cumprod(shape):
    a = arr(*shape)
    for d in range(-len(shape), len(shape)):
        check(lambda m, x: m.cumsum(x, d), [a])
        check(lambda m, x: x.cumsum(dim=d), [a])
        check(lambda m, x: m.cumprod(x, d), [a])
    check(lambda m, x: m.cumsum(x, 0), [arr()])
    check(lambda m, x: m.cumsum(x, 0, dtype=m.float32), [arr(4, dtype=np.int64)])


def test_cumprod_with_zero_grad():
    a = np.array([2.0, 0.0, 3.0, 4.0])
    check(lambda m, x: m.cumprod(x, 0), [a])
    b = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]])
    check(lambda m, x: m.cumprod(x, 1), [b])


def test_count_nonzero_median():
    a = arr(3, 5, dtype=np.int64)
    check(lambda m, x: m.count_nonzero(x), [a], grad=False)
    check(lambda m, x: m.count_nonzero(x, 1), [a], grad=False)
    b = arr(3, 5)
    check(lambda m, x: x.median(), [b])
    check(lambda m, x: x.median(1), [b])
    check(lambda m, x: m.median(x, 0, keepdim=True), [b])


def test_aminmax():
    a = arr(3, 5)
    t, n = check(lambda m, x: m.aminmax(x), [a])
    assert n.min is n[0]
    check(lambda m, x: m.aminmax(x, dim=1, keepdim=True), [a])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_softmax(op, shape):
    a = arr(*shape, low=-5, high=5)
    for d in range(-len(shape), len(shape)):
        check(lambda m, x: getattr(m, op)(x, d), [a])
        check(lambda m, x: getattr(x, op)(d), [a])
    check(lambda m, x: getattr(m, op)(x, 0, dtype=m.float32), [a], grad_rtol=1e-5, grad_atol=1e-6)


def test_softmax_extremes():
    a = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]])
    check(lambda m, x: m.softmax(x, 1), [a])
    check(lambda m, x: m.log_softmax(x, 1), [a])
    check(lambda m, x: m.softmax(x, 0), [arr()])
    check(lambda m, x: m.log_softmax(x, 0), [arr()])
    check(lambda m, x: m.softmax(x, 1), [arr(0, 3)])


def test_softmax_float32_and_int():
    check(lambda m, x: m.softmax(x, -1), [arr(4, 5, dtype=np.float32)])
    check_error(lambda m, x: m.softmax(x, -1), [arr(4, dtype=np.int64)])
    check(lambda m, x: m.softmax(-x, -1), [arr(4, 5)])


def test_reduce_errors():
    a = arr(2, 3)
    check_error(lambda m, x: x.sum(2), [a], match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    check_error(lambda m, x: x.mean(-3), [a])
    check_error(lambda m, x: x.var(5), [a])
    check_error(lambda m, x: m.cumsum(x, 2), [a])
    check_error(lambda m, x: m.softmax(x, 2), [a])
    check_error(lambda m, x: x.max(3), [a])


def test_sum_grad_dtype_float32():
    check(lambda m, x: (x * 2).sum(1).mean(), [arr(3, 4, dtype=np.float32)])


# --- second order (create_graph=True) --------------------------------------------------------------

SECOND_ORDER = [
    lambda m, x: m.sum(x * x, dim=1) ** 2,
    lambda m, x: m.mean(x ** 3, dim=(0, 2), keepdim=True),
    lambda m, x: m.prod(x, dim=1),
    lambda m, x: m.prod(x),
    lambda m, x: m.prod(x, dim=2, keepdim=True),
    lambda m, x: m.max(x * x, dim=1)[0] * x[:, 0],
    lambda m, x: m.min(x ** 3, dim=-1, keepdim=True)[0],
    lambda m, x: m.amax(x * x, dim=(0, 1)) ** 2,
    lambda m, x: m.amin(x ** 3, dim=2, keepdim=True),
    lambda m, x: m.max(x * x) * x,
    lambda m, x: m.var(x, dim=1),
    lambda m, x: m.var(x),
    lambda m, x: m.std(x, dim=(0, 2), keepdim=True),
    lambda m, x: m.std(x, dim=1, correction=0),
    lambda m, x: m.std(x) * x,
    lambda m, x: m.logsumexp(x * x, dim=1),
    lambda m, x: m.logsumexp(x ** 3, dim=(0, 2), keepdim=True),
    lambda m, x: m.cumsum(x * x, dim=1) ** 2,
    lambda m, x: m.cumprod(x, dim=2),
    lambda m, x: m.cumprod(x, dim=0) * x,
    lambda m, x: m.nansum(x ** 3, dim=1),
    lambda m, x: m.softmax(x * x, dim=1),
    lambda m, x: m.log_softmax(x ** 3, dim=-1),
]


@pytest.mark.parametrize("k", range(len(SECOND_ORDER)))
def test_reduce_second_order(k):
    check(SECOND_ORDER[k], [arr(2, 3, 4)], order=2, rtol=1e-8)


def test_prod_cumprod_with_zeros_second_order():
    a = arr(3, 4)
    a[1, 2] = 0.0
    a[2, 0] = a[2, 3] = 0.0
    check(lambda m, x: m.prod(x, dim=1), [a], order=2, rtol=1e-8)
    check(lambda m, x: m.cumprod(x, dim=1), [a], order=2, rtol=1e-8)


def test_std_var_double_backward_gradcheck():
    for f in (lambda t: nnbox.std(t, dim=1), lambda t: nnbox.var(t), lambda t: nnbox.logsumexp(t, 0),
              lambda t: nnbox.prod(t, 1)):
        x = nnbox.tensor(arr(3, 4), requires_grad=True)
        g = nnbox.tensor(arr(*f(x).shape), requires_grad=True)

        def first(x, g, f=f):
            with nnbox.enable_grad():
                return nnbox.autograd.grad(f(x), x, g, create_graph=True)[0]

        assert nnbox.autograd.gradcheck(first, (x, g))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((2, 3, 4), 0), ((), 0)])
def test_softmax_second_order(op, shape, dim):
    check(lambda m, x: getattr(m, op)(x, dim=dim), [arr(*shape)], order=2, rtol=1e-8)
