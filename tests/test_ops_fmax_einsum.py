"""``fmax``/``fmin`` NaN semantics and einsum gradients with a repeated subscript, against torch."""
import numpy as np
import pytest

from oracle import arr, check, check_error

NAN = float("nan")


def _with_nans(a, every):
    a = a.copy()
    a.reshape(-1)[::every] = NAN
    return a


@pytest.mark.parametrize("op", ["fmax", "fmin"])
@pytest.mark.parametrize("shapes", [((5,), (5,)), ((3, 4), (4,)), ((2, 1, 3), (4, 1))])
def test_fmax_fmin_nan_loses(op, shapes):
    a = _with_nans(arr(*shapes[0]), 2)
    b = _with_nans(arr(*shapes[1]), 3)
    check(lambda m, x, y: getattr(m, op)(x, y), [a, b])
    check(lambda m, x, y: getattr(x, op)(y), [a, b])


@pytest.mark.parametrize("op", ["fmax", "fmin"])
def test_fmax_fmin_ties_and_both_nan(op):
    a = np.array([1.0, 2.0, NAN, NAN])
    b = np.array([1.0, 3.0, NAN, 0.0])
    check(lambda m, x, y: getattr(m, op)(x, y), [a, b])  # ties: the whole gradient goes to input


@pytest.mark.parametrize("op", ["fmax", "fmin"])
def test_fmax_fmin_integers_and_errors(op):
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(6, dtype=np.int64), arr(6, dtype=np.int64)], grad=False)
    check_error(lambda m, x: getattr(m, op)(x, 2.0), [arr(3)])


@pytest.mark.parametrize("eq,shapes", [
    ("ii->i", [(3, 3)]),
    ("ii->", [(4, 4)]),
    ("ii", [(2, 2)]),
    ("iij,j->i", [(3, 3, 2), (2,)]),
    ("iji->j", [(2, 3, 2)]),
    ("bii->bi", [(2, 3, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("iik->", [(2, 2, 3)]),
    ("iiji->j", [(2, 2, 3, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
])
def test_einsum_repeated_subscript_grad(eq, shapes):
    check(lambda m, *ops: m.einsum(eq, *ops), [arr(*s) for s in shapes])
