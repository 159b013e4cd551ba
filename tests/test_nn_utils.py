"""nn.utils against torch: clip_grad_norm_ / clip_grad_value_ / get_total_norm, parameter vectors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnbox
from oracle import assert_same


def twin_grads(seed=0, scale=1.0, dtype=np.float32):
    """The same three parameters with gradients in torch and nnbox."""
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    vals = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [(scale * rng.standard_normal(s)).astype(dtype) for s in shapes]
    tp, npar = [], []
    for v, g in zip(vals, grads):
        a = torch.nn.Parameter(torch.tensor(v))
        a.grad = torch.tensor(g)
        b = nnbox.nn.Parameter(nnbox.tensor(v))
        b.grad = nnbox.tensor(g)
        tp.append(a)
        npar.append(b)
    return tp, npar


def assert_grads_equal(tp, npar, rtol=1e-6):
    assert_same([p.grad for p in tp], [p.grad for p in npar], rtol=rtol, atol=1e-7, what="grads")


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf", 0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    tp, npar = twin_grads()
    t_total = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    n_total = nnbox.nn.utils.clip_grad_norm_(npar, max_norm, norm_type=norm_type, foreach=True)
    assert n_total.dtype == nnbox.float32 and n_total.shape == ()
    np.testing.assert_allclose(float(n_total), float(t_total), rtol=1e-6)
    assert_grads_equal(tp, npar)


def test_clip_grad_norm_float64_single_tensor_and_empty():
    tp, npar = twin_grads(dtype=np.float64)
    t_total = torch.nn.utils.clip_grad_norm_(tp[0], 0.1)
    n_total = nnbox.nn.utils.clip_grad_norm_(npar[0], 0.1)
    assert n_total.dtype == nnbox.float64
    np.testing.assert_allclose(float(n_total), float(t_total), rtol=1e-12)
    assert_grads_equal(tp, npar, rtol=1e-12)
    lin = nnbox.nn.Linear(2, 2)  # no grads yet
    empty = nnbox.nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
    assert float(empty) == 0.0 and empty.dtype == nnbox.float32


def test_clip_grad_norm_nonfinite():
    tp, npar = twin_grads()
    tp[0].grad[0, 0] = float("nan")
    npar[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError) as te:
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ne:
        nnbox.nn.utils.clip_grad_norm_(npar, 1.0, error_if_nonfinite=True)
    assert str(ne.value) == str(te.value)
    assert math.isnan(float(nnbox.nn.utils.clip_grad_norm_(npar, 1.0)))


def test_clip_grad_norm_in_training_model():
    lin = nnbox.nn.Linear(5, 3)
    (lin(nnbox.randn(8, 5)) * 100).sum().backward()
    w_grad = lin.weight.grad
    nnbox.nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
    assert lin.weight.grad is w_grad  # in place
    assert float(nnbox.nn.utils.get_total_norm([p.grad for p in lin.parameters()])) <= 1.0 + 1e-5


def test_clip_grad_value_matches_torch():
    tp, npar = twin_grads(scale=3.0)
    assert torch.nn.utils.clip_grad_value_(tp, 0.7) is None
    assert nnbox.nn.utils.clip_grad_value_(npar, 0.7, foreach=False) is None
    assert_grads_equal(tp, npar)
    assert float(max(abs(p.grad).max() for p in npar)) <= 0.7


def test_parameters_to_vector_and_back():
    t, n = torch.nn.Linear(3, 2), nnbox.nn.Linear(3, 2)
    n.load_state_dict({k: nnbox.tensor(v.numpy()) for k, v in t.state_dict().items()})
    tv = torch.nn.utils.parameters_to_vector(t.parameters())
    nv = nnbox.nn.utils.parameters_to_vector(n.parameters())
    np.testing.assert_array_equal(nv.detach().numpy(), tv.detach().numpy())
    nv.sum().backward()  # differentiable, like torch's
    assert float(n.weight.grad.sum()) == 6.0
    new = nnbox.arange(8, dtype=nnbox.float32)
    nnbox.nn.utils.vector_to_parameters(new, n.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(8, dtype=torch.float32), t.parameters())
    np.testing.assert_array_equal(n.weight.detach().numpy(), t.weight.detach().numpy())
    np.testing.assert_array_equal(n.bias.detach().numpy(), [6.0, 7.0])
    with pytest.raises(TypeError) as te:
        torch.nn.utils.vector_to_parameters([1], t.parameters())
    with pytest.raises(TypeError) as ne:
        nnbox.nn.utils.vector_to_parameters([1], n.parameters())
    assert str(ne.value) == str(te.value)
