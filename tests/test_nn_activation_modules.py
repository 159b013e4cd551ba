"""Activation modules against torch: repr, state_dict, forward values and gradients."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check

MODULES = [
    ("ReLU", ()), ("ReLU", (True,)), ("ReLU6", ()), ("ReLU6", (True,)), ("LeakyReLU", ()), ("LeakyReLU", (0.2, True)),
    ("PReLU", ()), ("PReLU", (3, 0.1)), ("ELU", ()), ("ELU", (0.5, True)), ("SELU", ()), ("SELU", (True,)),
    ("CELU", ()), ("CELU", (2.0,)), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("SiLU", (True,)),
    ("Mish", ()), ("Mish", (True,)), ("Sigmoid", ()), ("Tanh", ()), ("Hardtanh", ()), ("Hardtanh", (-2, 2, True)),
    ("Hardsigmoid", ()), ("Hardsigmoid", (True,)), ("Hardswish", ()), ("Hardswish", (True,)), ("Softplus", ()),
    ("Softplus", (2.0, 5.0)), ("Softsign", ()), ("Softmax", (1,)), ("LogSoftmax", (1,)), ("Softmin", (0,)),
    ("Softmax2d", ()), ("Threshold", (0.1, 20)), ("Threshold", (0.1, 20.0, True)), ("LogSigmoid", ()),
    ("Tanhshrink", ()), ("Softshrink", ()), ("Hardshrink", (1.0,)), ("GLU", ()), ("GLU", (2,)),
]


@pytest.mark.parametrize("name,args", MODULES, ids=[f"{n}{a}" for n, a in MODULES])
def test_module_matches_torch(name, args):
    tm, nm = getattr(torch.nn, name)(*args), getattr(nnbox.nn, name)(*args)
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    inplace = True in args

    def f(m, x, w):
        mod = tm if m is torch else nm
        if name == "PReLU":
            mod = mod.double()
        y = x * 1.0 if inplace else x  # in-place needs a non-leaf
        return mod(y)
    check(f, [arr(2, 3, 4, 2), arr(1)])


def test_prelu_parameter_gradient():
    w = arr(3, positive=True)

    def f(m, x, w):
        mod = m.nn.PReLU(3).double()
        with m.no_grad():
            mod.weight.copy_(m.tensor(w))
        out = mod(x)
        return out, mod
    x = arr(4, 3, 5)
    tout, tm = f(torch, torch.tensor(x), w)
    nout, nm = f(nnbox, nnbox.tensor(x), w)
    g = np.random.default_rng(0).standard_normal(x.shape)
    (tout * torch.tensor(g)).sum().backward()
    (nout * nnbox.tensor(g)).sum().backward()
    np.testing.assert_allclose(nm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)


def test_softmax_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        nnbox.nn.Softmax()(nnbox.ones(2, 3))


def test_hardtanh_bad_bounds():
    for m in (torch, nnbox):
        with pytest.raises(AssertionError, match=r"max_val \(-1.0\) must be greater than min_val \(1.0\)"):
            m.nn.Hardtanh(1.0, -1.0)
