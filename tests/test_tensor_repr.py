"""``repr(tensor)`` must be character-for-character torch's."""

import numpy as np
import pytest
import torch

import nnbox
from oracle import torch_repr as want

CASES = [
    lambda m: m.tensor([[1.0, 2.0]]),
    lambda m: m.tensor([1.5, -2.25, 3.0]),
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor([-1, 200, 3]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([True, True]),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor(3),
    lambda m: m.tensor(True),
    lambda m: m.tensor(1e-8),
    lambda m: m.tensor(123456789.0),
    lambda m: m.tensor([1e-5, 1.0]),
    lambda m: m.tensor([1e10, 1.0]),
    lambda m: m.tensor([0.1, 1000.0]),
    lambda m: m.tensor([0.1, 1001.0]),
    lambda m: m.tensor([1.0, 1e8]),
    lambda m: m.tensor([1.0, 1e9]),
    lambda m: m.tensor([0.0, 0.0]),
    lambda m: m.tensor([float("nan"), 1.0, float("inf"), -float("inf")]),
    lambda m: m.tensor([float("nan"), 1.5]),
    lambda m: m.tensor([float("inf"), -float("inf")]),
    lambda m: m.tensor([-0.0, 1.0]),
    lambda m: m.tensor([123.456, -0.001]),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float16),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1, 2], dtype=m.uint8),
    lambda m: m.tensor([1, 2], dtype=m.int8),
    lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True),
    lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda m: (m.tensor([1.0, 2.0], requires_grad=True) * 2).sum(),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True).exp(),
    lambda m: m.zeros(0),
    lambda m: m.zeros(0, 3),
    lambda m: m.zeros(2, 0, dtype=m.int64),
    lambda m: m.zeros(0, dtype=m.float64),
    lambda m: m.zeros(0, requires_grad=True),
    lambda m: m.arange(12).reshape(3, 4),
    lambda m: m.arange(24.0).reshape(2, 3, 4),
    lambda m: m.arange(2000),
    lambda m: m.arange(2000.0) / 7,
    lambda m: m.arange(3000).reshape(30, 100),
    lambda m: m.arange(4000.0).reshape(10, 20, 20),
    lambda m: m.arange(100) * 1000,
    lambda m: m.arange(30.0) / 3,
    lambda m: m.linspace(-1, 1, 25),
    lambda m: m.tensor([[1e-3, 2.0], [3.0, 4e3]]),
    lambda m: m.tensor([[1.0, -1.0], [0.5, 100.0]]),
    lambda m: m.tensor([1e-4, 1.0]),
    lambda m: m.tensor([9.99e-5, 1.0]),
    lambda m: m.tensor([[[1.0]]]),
    lambda m: m.ones(2, 1, 3),
    lambda m: m.tensor([12345678.0, 1.5]),
    lambda m: m.tensor([1.23456789]),
    lambda m: m.tensor([-5, -100]),
    lambda m: m.eye(3),
    lambda m: m.eye(3, dtype=m.bool),
    lambda m: m.full((2, 2), 7, dtype=m.float64),
    lambda m: m.tensor([1.0, 2.5]) > 1,
    lambda m: m.tensor([0.2098, -1.0713, 0.7232], dtype=m.float64, requires_grad=True) * 2,  # suffix wraps
    lambda m: m.tensor([0.2098, -1.0713], dtype=m.float64, requires_grad=True) * 2,
    lambda m: m.arange(12.0, requires_grad=True).reshape(3, 4) * 1.5,
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_repr_matches_torch(k):
    assert repr(CASES[k](nnbox)) == want(CASES[k](torch))


def test_repr_random_floats():
    rng = np.random.default_rng(0)
    for scale in (1e-6, 1e-3, 1.0, 100.0, 1e5, 1e9):
        for shape in [(5,), (3, 4), (2, 2, 3), (12, 15)]:
            a = (rng.standard_normal(shape) * scale).astype(np.float32)
            assert repr(nnbox.tensor(a)) == want(torch.tensor(a)), (scale, shape)
            assert str(nnbox.tensor(a)) == want(str(torch.tensor(a)))


def test_repr_default_dtype_float64():
    try:
        nnbox.set_default_dtype(nnbox.float64)
        torch.set_default_dtype(torch.float64)
        for f in (lambda m: m.tensor([1.5, 2.0]), lambda m: m.tensor([1.5], dtype=m.float32), lambda m: m.ones(2)):
            assert repr(f(nnbox)) == want(f(torch))
    finally:
        nnbox.set_default_dtype(nnbox.float32)
        torch.set_default_dtype(torch.float32)


def test_set_printoptions():
    try:
        nnbox.set_printoptions(precision=2)
        torch.set_printoptions(precision=2)
        assert repr(nnbox.tensor([1.23456, 2.0])) == want(torch.tensor([1.23456, 2.0]))
        nnbox.set_printoptions(sci_mode=False)
        torch.set_printoptions(sci_mode=False)
        assert repr(nnbox.tensor([1e-6, 2.0])) == want(torch.tensor([1e-6, 2.0]))
    finally:
        nnbox.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_format_and_str_of_scalars():
    for v in (3.14159, 2, -0.5):
        assert f"{nnbox.tensor(v):.2f}" == f"{torch.tensor(v):.2f}"
    assert str(nnbox.tensor(2.5)) == want(str(torch.tensor(2.5)))


@pytest.mark.cpu_only(reason="compares with torch's CPU reprs of return types (two tensors in one repr)")
def test_return_types_repr():
    a = np.array([[1.0, 5.0], [7.0, 2.0]], dtype=np.float32)
    assert repr(nnbox.tensor(a).max(1)) == repr(torch.tensor(a).max(1))
    assert repr(nnbox.tensor(a).sort(1)) == repr(torch.tensor(a).sort(1))
