"""Ops give inf and nan as torch does, silently: no NumPy RuntimeWarning reaches the user."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnbox

EDGE = np.array([0.0, -1.0, 1e30, -0.0, np.inf, np.nan, 2.0])

CASES = {
    "log": lambda m, x: m.log(x),
    "log2": lambda m, x: m.log2(x),
    "sqrt": lambda m, x: m.sqrt(x),
    "rsqrt": lambda m, x: m.rsqrt(x),
    "reciprocal": lambda m, x: m.reciprocal(x),
    "div": lambda m, x: x / (x * 0),
    "floor_divide": lambda m, x: x.detach() // (x.detach() * 0) + x,  # floor_divide has no derivative
    "exp": lambda m, x: m.exp(x * 1e10),
    "pow": lambda m, x: x ** -1.5,
    "mul_inf": lambda m, x: x * m.tensor(np.inf, dtype=x.dtype),
    "log_softmax": lambda m, x: m.log_softmax(x, 0),
    "poisson_nll_full": lambda m, x: m.nn.functional.poisson_nll_loss(x.abs(), x.abs() * 0, full=True, log_input=False),
    "binary_cross_entropy": lambda m, x: m.nn.functional.binary_cross_entropy(m.sigmoid(m.where(x == x, x, m.zeros_like(x)) * 1e3), m.ones_like(x) * 0.5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge_values_warn_nothing_and_match_torch(name):
    fn = CASES[name]
    t = torch.tensor(EDGE, requires_grad=True)
    want = fn(torch, t)
    want.sum().backward()
    n = nnbox.tensor(EDGE, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning at all fails the test
        got = fn(nnbox, n)
        got.sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-6, equal_nan=True)


def test_poisson_nll_loss_full_with_zero_targets():
    # the case: Stirling's term at target 0 (log(0) inside a where) leaked a RuntimeWarning
    x, y = np.array([0.5, 1.0, 2.0]), np.array([0.0, 3.0, 0.0])
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.poisson_nll_loss(tx, torch.tensor(y), full=True).backward()
    nx = nnbox.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = nnbox.nn.functional.poisson_nll_loss(nx, nnbox.tensor(y), full=True)
        loss.backward()
    assert loss.item() == pytest.approx(torch.nn.functional.poisson_nll_loss(tx, torch.tensor(y), full=True).item())
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, equal_nan=True)


def test_numpy_outside_nnbox_still_warns():
    # nnbox silences its own ops only: the user's NumPy error state is untouched
    nnbox.log(nnbox.zeros(1))
    assert np.geterr()["divide"] == "warn"
    with pytest.warns(RuntimeWarning):
        np.log(np.zeros(1))


@pytest.mark.cpu_only(reason="CuPy raises no floating-point warnings")
def test_the_op_suite_runs_with_runtime_warnings_as_errors():
    # tests/conftest.py marks every op/nn/autograd/optim test file so: a leaked warning fails its test
    with pytest.raises(RuntimeWarning):
        warnings.warn("leaked", RuntimeWarning)
