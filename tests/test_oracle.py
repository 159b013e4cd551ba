"""The oracle itself must fail on wrong answers: a test helper that accepts anything proves nothing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from nn_module_oracle import compare_module
from oracle import assert_same, check


@pytest.mark.parametrize(
    "t_out,n_out,message",
    [
        (torch.ones(2), None, "expected a Tensor"),
        (None, nnbox.ones(2), "!= torch None"),
        (None, 0, "!= torch None"),
        (3, 3.0, "(float) != torch 3 (int)"),
        (3, True, "!= torch 3"),
        (True, 1, "!= torch True"),
        (2.5, 2.6, "!= torch 2.5"),
        (2.5, nnbox.tensor(2.5), "got a Tensor"),
        ("mean", "sum", "!= torch 'mean'"),
        (torch.float32, nnbox.float64, "!= torch torch.float32"),
        ((torch.ones(2), torch.ones(2)), (nnbox.ones(2),), "torch gave 2 outputs, nnbox 1"),
        (torch.ones(2), nnbox.ones(2, dtype=nnbox.float64), "dtype"),
        (torch.ones(2), nnbox.ones(3), "shape"),
    ],
)
def test_assert_same_rejects(t_out, n_out, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        assert_same(t_out, n_out)


def test_assert_same_accepts_equal_plain_values():
    assert_same((torch.ones(2), 3, 2.5, None, True, torch.float32, "x"),
                (nnbox.ones(2), 3, 2.5, None, True, nnbox.float32, "x"))


def test_check_rejects_a_gradient_torch_does_not_have():
    # torch: x.detach() has no gradient path; a wrong library that gave x a (zero) grad must fail
    def fn(m, x):
        return x.detach() * 2 if m is torch else x * 0

    with pytest.raises(AssertionError):
        check(fn, [np.ones(3)])


class _TwoOutputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2).double()

    def forward(self, x):
        return self.lin(x), self.lin(x) * 3


def _nn_two(scale):
    class TwoOutputs(nnbox.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nnbox.nn.Linear(3, 2).double()

        def forward(self, x):
            return self.lin(x), self.lin(x) * scale

    return TwoOutputs()


def _renamed(module, name):
    type(module).__name__ = name
    return module


def test_compare_module_checks_every_output_and_backpropagates_all_of_them():
    x = np.random.default_rng(0).standard_normal((4, 3))
    tm = _TwoOutputs()
    compare_module(tm, _renamed(_nn_two(3), "_TwoOutputs"), x)
    # output 1 (not output 0) is wrong: the old helper compared and backpropagated output 0 only
    with pytest.raises(AssertionError):
        compare_module(tm, _renamed(_nn_two(4), "_TwoOutputs"), x)


def test_compare_module_counts_outputs():
    class One(nnbox.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nnbox.nn.Linear(3, 2).double()

        def forward(self, x):
            return (self.lin(x),)

    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(AssertionError, match="torch gave 2 outputs, nnbox 1"):
        compare_module(_TwoOutputs(), _renamed(One(), "_TwoOutputs"), x)


class _TimesThreeWrongGrad(nnbox.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        return grad * 4  # wrong on purpose: d(3x)/dx is 3


def test_compare_module_backpropagates_through_every_output():
    class WrongGradOnOutput1(nnbox.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nnbox.nn.Linear(3, 2).double()

        def forward(self, x):
            return self.lin(x), _TimesThreeWrongGrad.apply(self.lin(x))

    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(AssertionError, match="grad of"):
        compare_module(_TwoOutputs(), _renamed(WrongGradOnOutput1(), "_TwoOutputs"), x)


def test_fd_check_is_gradcheck_and_fails_on_a_wrong_backward():
    from nnbox.autograd import GradcheckError
    from oracle import fd_check

    fd_check(lambda x: x * 3, [np.ones(4)])
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        fd_check(lambda x: _TimesThreeWrongGrad.apply(x), [np.ones(4)])
