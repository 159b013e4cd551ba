"""autograd.functional returns torch's structure: a Tensor for a Tensor input, tuples for tuples
(found by running the docstring examples: hessian of one Tensor returned a 1-tuple)."""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd import functional as TF

import nnbox
from nnbox.autograd import functional as NF
from oracle import assert_same


def test_hessian_of_one_tensor_is_a_tensor():
    x = np.array([1.0, 2.0, -0.5])
    t = TF.hessian(lambda v: (v * v * v).sum(), torch.tensor(x))
    n = NF.hessian(lambda v: (v * v * v).sum(), nnbox.tensor(x))
    assert isinstance(n, nnbox.Tensor)
    assert_same(t, n)


def test_hessian_of_a_tuple_is_a_tuple_of_tuples():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    t = TF.hessian(lambda a, b: (a * a * b).sum(), (torch.tensor(x), torch.tensor(y)))
    n = NF.hessian(lambda a, b: (a * a * b).sum(), (nnbox.tensor(x), nnbox.tensor(y)))
    assert isinstance(n, tuple) and all(isinstance(row, tuple) and len(row) == 2 for row in n)
    assert_same(t, n)
