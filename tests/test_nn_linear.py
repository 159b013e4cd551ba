"""F.linear / F.bilinear and the Linear-family modules against torch: values, gradients, errors, init."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn
from oracle import arr, check, check_error, fd_check, gradgrad_fd


# --- F.linear ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("xshape", [(5, 3), (3,), (2, 4, 3), (2, 1, 4, 3), (0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(xshape, bias):
    ins = [arr(*xshape), arr(4, 3)] + ([arr(4)] if bias else [])
    check(lambda m, *a: m.nn.functional.linear(*a), ins)


@pytest.mark.parametrize("bshape", [(1,), (), (5, 4)])
def test_linear_broadcast_bias(bshape):
    check(lambda m, x, w, b: m.nn.functional.linear(x, w, b), [arr(5, 3), arr(4, 3), arr(*bshape)])


def test_linear_float32_and_one_node():
    check(lambda m, x, w, b: m.nn.functional.linear(x, w, b),
          [arr(64, 20, dtype=np.float32), arr(10, 20, dtype=np.float32), arr(10, dtype=np.float32)])
    x = nnbox.randn(4, 3, requires_grad=True)
    w = nnbox.randn(2, 3, requires_grad=True)
    b = nnbox.randn(2, requires_grad=True)
    y = nnbox.nn.functional.linear(x, w, b)
    # one fused node whose inputs are the three leaves: nothing in between
    assert [type(f[0]).__name__ for f in y.grad_fn.next_functions] == ["AccumulateGrad"] * 3


def test_linear_rare_forms():
    check(lambda m, x, w: m.nn.functional.linear(x, w), [arr(4, 3), arr(3)])
    check(lambda m, x, w: m.nn.functional.linear(x, w), [arr(3), arr(3)])


def test_linear_gradcheck_float64():
    F = nnbox.nn.functional
    fd_check(lambda x, w, b: F.linear(x, w, b), [arr(3, 2, 4), arr(5, 4), arr(5)])
    fd_check(lambda x, w, b: F.linear(x, w, b), [arr(4), arr(5, 4), arr(5)])


def test_linear_only_needed_grads():
    x = nnbox.randn(4, 3)
    w = nnbox.randn(2, 3, requires_grad=True)
    nnbox.nn.functional.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 3)


@pytest.mark.parametrize("shapes", [[(4, 3), (3, 2)], [(4, 5, 2), (3, 3)], [(3,), (3, 2)]])
def test_linear_shape_errors(shapes):
    t_err, n_err = check_error(lambda m, x, w: m.nn.functional.linear(x, w), [arr(*s) for s in shapes])
    assert str(n_err) == str(t_err)


def test_linear_error_messages_equal_torch():
    cases = [
        lambda m: m.nn.functional.linear(m.ones(4, 2), m.ones(3, 2), m.ones(4)),
        lambda m: m.nn.functional.linear(m.ones(4, 2, dtype=m.float64), m.ones(3, 2)),
        lambda m: m.nn.functional.linear(m.ones(4, 2), m.ones(3, 2), m.ones(3, dtype=m.float64)),
        lambda m: m.nn.functional.linear(m.ones(()), m.ones(3, 2)),
        lambda m: m.nn.functional.linear(m.ones(4, 2), m.ones(3)),
        lambda m: m.nn.Linear(2, 3)(m.ones(3)),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(torch)
        with pytest.raises(type(te.value)) as ne:
            case(nnbox)
        assert str(ne.value) == str(te.value)


# --- F.bilinear -----------------------------------------------------------------------------------
@pytest.mark.parametrize("lead", [(5,), (), (2, 3)])
def test_bilinear_matches_torch(lead):
    check(lambda m, a, b, w, bias: m.nn.functional.bilinear(a, b, w, bias),
          [arr(*lead, 2), arr(*lead, 3), arr(4, 2, 3), arr(4)])
    check(lambda m, a, b, w: m.nn.functional.bilinear(a, b, w), [arr(*lead, 2), arr(*lead, 3), arr(4, 2, 3)])


def test_bilinear_gradcheck():
    fd_check(lambda a, b, w, c: nnbox.nn.functional.bilinear(a, b, w, c),
                  [arr(3, 2), arr(3, 3), arr(4, 2, 3), arr(4)])


def test_bilinear_errors_equal_torch():
    cases = [
        lambda m: m.nn.Bilinear(2, 3, 4)(m.ones(5, 2), m.ones(5, 4)),
        lambda m: m.nn.Bilinear(2, 3, 4)(m.ones(5, 3), m.ones(5, 3)),
        lambda m: m.nn.Bilinear(2, 3, 4)(m.ones(5, 2), m.ones(6, 3)),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(torch)
        with pytest.raises(type(te.value)) as ne:
            case(nnbox)
        assert str(ne.value) == str(te.value)


# --- modules ----------------------------------------------------------------------------------------
def _copy_weights(tm, nm):
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_same_as_torch(bias):
    tm, nm = torch.nn.Linear(6, 4, bias=bias).double(), nn.Linear(6, 4, bias=bias).double()
    assert list(tm.state_dict()) == list(nm.state_dict())
    assert repr(tm) == repr(nm)
    _copy_weights(tm, nm)
    x = arr(7, 6)
    tx, nx = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    ty, ny = tm(tx), nm(nx)
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ty.pow(2).sum().backward()
    ny.pow(2).sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    for (tn, tp), (nn_, np_) in zip(tm.named_parameters(), nm.named_parameters()):
        assert tn == nn_
        np.testing.assert_allclose(np_.grad.numpy(), tp.grad.numpy(), rtol=1e-10)


def test_linear_default_init_distribution():
    # weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a=sqrt(5))
    fan_in = 400
    m = nn.Linear(fan_in, 300)
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound * 10
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)
    b = m.bias.detach().numpy()
    assert np.abs(b).max() <= bound and b.std() > 0.4 * bound


def test_linear_factory_kwargs_and_seed_reproducible():
    m = nn.Linear(3, 2, dtype=nnbox.float64)
    assert m.weight.dtype == nnbox.float64 and m.bias.dtype == nnbox.float64
    nnbox.manual_seed(3)
    a = nn.Linear(3, 2).weight.detach().numpy().copy()
    nnbox.manual_seed(3)
    b = nn.Linear(3, 2).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_bilinear_module():
    tm, nm = torch.nn.Bilinear(2, 3, 4).double(), nn.Bilinear(2, 3, 4).double()
    assert repr(tm) == repr(nm) and list(tm.state_dict()) == list(nm.state_dict())
    _copy_weights(tm, nm)
    a, b = arr(5, 2), arr(5, 3)
    np.testing.assert_allclose(nm(nnbox.tensor(a), nnbox.tensor(b)).detach().numpy(),
                               tm(torch.tensor(a), torch.tensor(b)).detach().numpy(), rtol=1e-12)
    bound = 1 / math.sqrt(2)
    assert float(nn.Bilinear(2, 3, 50).weight.abs().max()) <= bound


def test_lazy_linear():
    m = nn.LazyLinear(3)
    assert repr(m) == repr(torch.nn.LazyLinear(3)) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert isinstance(m.weight, nn.UninitializedParameter)
    y = m(nnbox.ones(2, 5))
    assert type(m) is nn.Linear and y.shape == (2, 3) and m.in_features == 5
    assert repr(m) == "Linear(in_features=5, out_features=3, bias=True)"
    assert type(m.weight) is nn.Parameter and m.weight.shape == (3, 5)
    assert float(m.weight.abs().max()) <= 1 / math.sqrt(5)
    # a lazy module can be built from a checkpoint
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(nn.Linear(4, 3).state_dict())
    assert lazy.weight.shape == (3, 4) and lazy(nnbox.ones(1, 4)).shape == (1, 3)


def test_identity_flatten_unflatten():
    assert repr(nn.Identity(3, foo=1)) == repr(torch.nn.Identity(3, foo=1))
    x = nnbox.ones(2, 3)
    assert nn.Identity()(x) is x
    for args in [(), (0,), (1, 2), (0, -2)]:
        assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))
        check(lambda m, t: m.nn.Flatten(*args)(t), [arr(2, 3, 4, 2)])
    for size in [(2, 5), [2, 5], (2, -1)]:
        assert repr(nn.Unflatten(1, size)) == repr(torch.nn.Unflatten(1, size))
        check(lambda m, t: m.nn.Unflatten(1, size)(t), [arr(3, 10, 2)])
    assert repr(nn.Unflatten(1, nnbox.Size([2, 3]))) == repr(torch.nn.Unflatten(1, torch.Size([2, 3])))
    for bad in [[2, "a"], 3]:
        with pytest.raises(TypeError) as te:
            torch.nn.Unflatten(1, bad)
        with pytest.raises(TypeError) as ne:
            nn.Unflatten(1, bad)
        assert str(ne.value) == str(te.value)


@pytest.mark.parametrize("xshape", [(64, 20), (3, 5, 20), (20,)])
def test_linear_backward_from_sum_zero_stride_grad(xshape):
    # .sum() hands backward a broadcast (zero-stride) grad: the GEMMs must still be right
    check(lambda m, x, w, b: m.nn.functional.linear(x, w, b).sum(), [arr(*xshape), arr(7, 20), arr(7)])
    check(lambda m, x, w: m.nn.functional.linear(x, w).mean(), [arr(*xshape, dtype=np.float32),
                                                               arr(7, 20, dtype=np.float32)])


# --- double backward (create_graph=True) --------------------------------------------------------------
@pytest.mark.parametrize("xshape", [(5, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bshape", [(4,), None, (5, 4)])
def test_linear_double_backward_matches_torch(xshape, bshape):
    if bshape == (5, 4) and xshape != (5, 3):
        bshape = (1,)
    ins = [arr(*xshape), arr(4, 3)] + ([arr(*bshape)] if bshape else [])
    check(lambda m, *a: m.nn.functional.linear(*a), ins, order=2)


def test_linear_second_derivatives_through_a_small_mlp():
    def f(m, x, w1, b1, w2):
        F = m.nn.functional
        y = F.linear(m.exp(F.linear(x, w1, b1) * 0.3), w2)
        return (y * y).sum()

    check(f, [arr(6, 3), arr(5, 3), arr(5), arr(2, 5)], order=2)


def test_linear_gradgradcheck():
    x = nnbox.tensor(arr(4, 3), requires_grad=True)
    w = nnbox.tensor(arr(2, 3), requires_grad=True)
    b = nnbox.tensor(arr(2), requires_grad=True)

    def f(x, w, b):
        return nnbox.exp(nnbox.nn.functional.linear(x, w, b) * 0.5)

    (gx, gw, gb) = nnbox.autograd.grad(f(x, w, b).sum(), (x, w, b), create_graph=True)
    assert gx.grad_fn is not None and gw.grad_fn is not None and gb.grad_fn is not None
    assert gradgrad_fd(f, (x, w, b))


@pytest.mark.parametrize("lead", [(5,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_double_backward_matches_torch(lead, bias):
    ins = [arr(*lead, 2), arr(*lead, 3), arr(4, 2, 3)] + ([arr(4)] if bias else [])
    check(lambda m, *a: m.nn.functional.bilinear(*a), ins, order=2)
    # x1 on both sides: the second derivative w.r.t. x1 goes through two of the backward's terms
    check(lambda m, x1, w: m.nn.functional.bilinear(x1, x1, w), [arr(*lead, 2), arr(4, 2, 2)], order=2)


def test_bilinear_gradgrad_finite_differences():
    x1, x2 = nnbox.tensor(arr(3, 2), requires_grad=True), nnbox.tensor(arr(3, 3), requires_grad=True)
    w, b = nnbox.tensor(arr(4, 2, 3), requires_grad=True), nnbox.tensor(arr(4), requires_grad=True)
    assert gradgrad_fd(lambda x1, x2, w, b: nnbox.exp(nnbox.nn.functional.bilinear(x1, x2, w, b) * 0.3),
                       (x1, x2, w, b))


@pytest.mark.parametrize("shape", [(64, 784, 300), (32, 128, 512), (7, 50, 128)])
def test_short_batch_forward_by_the_swapped_product(monkeypatch, shape):
    """With OpenBLAS's AVX-512 kernels a short float32 batch through a wide layer runs as
    ``(w @ x.T).T`` (faster there, and the same bits); forced on here on any kernels, the values
    stay ``x @ w.T``'s within float32 rounding, and a long batch, a narrow layer or float64 keep
    the plain product."""
    import importlib

    from nnbox._backend import openblas

    lin = importlib.import_module("nnbox.ops.linear")
    b, i, o = shape
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((b, i)).astype(np.float32), rng.standard_normal((o, i)).astype(np.float32)
    monkeypatch.setattr(openblas, "_avx512", [True])
    r = lin._x_wt(x, w)
    assert r.flags.c_contiguous and r.shape == (b, o) and r.dtype == np.float32
    np.testing.assert_allclose(r, x @ w.T, rtol=0, atol=4 * i * np.finfo(np.float32).eps * np.abs(x).max() * np.abs(w).max())
    if openblas.corename() == "skylakex":
        assert np.array_equal(r, x @ w.T)
    for xx, ww in ((np.concatenate([x] * 10), w), (x, w[:100]), (x.astype(np.float64), w.astype(np.float64))):
        assert np.array_equal(lin._x_wt(xx, ww), xx @ ww.T)
    t = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w)).numpy()
    n = nnbox.nn.functional.linear(nnbox.tensor(x), nnbox.tensor(w)).numpy()
    np.testing.assert_allclose(n, t, rtol=1e-4, atol=1e-4 * np.abs(t).max())
