"""nnbox.compile and nnbox.jit: accepted with torch's signatures, run eagerly, identical results."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn


def _mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def _train(model, steps=5):
    """A few SGD steps with dropout on; returns the losses and the final weights."""
    nnbox.manual_seed(7)
    opt = nnbox.optim.SGD(model.parameters(), lr=0.1)
    x, y = nnbox.randn(16, 6), nnbox.randint(0, 3, (16,))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kwargs", [{}, {"mode": "max-autotune"}, {"backend": "eager"}, {"fullgraph": True, "dynamic": True}])
def test_compiled_training_is_identical(kwargs):
    nnbox.manual_seed(0)
    plain = _mlp()
    nnbox.manual_seed(0)
    compiled = nnbox.compile(_mlp(), **kwargs)
    l1, w1 = _train(plain)
    l2, w2 = _train(compiled)
    assert l1 == l2
    for k, v in w1.items():
        assert np.array_equal(v, w2["_orig_mod." + k])


def test_compiled_module_looks_like_torchs():
    tm = torch.nn.Linear(2, 3)
    tc = torch.compile(tm, backend="eager")
    nm = nn.Linear(2, 3)
    nc = nnbox.compile(nm)
    assert repr(nc) == repr(tc)
    assert list(nc.state_dict()) == list(tc.state_dict())
    assert [n for n, _ in nc.named_parameters()] == [n for n, _ in tc.named_parameters()]
    assert nc.weight is nm.weight and nc._orig_mod is nm and nc.in_features == 2
    assert isinstance(nc, nnbox.compiler.OptimizedModule) and type(nnbox.compile(nm)) is type(nc)
    # a checkpoint of the compiled torch model loads into the compiled nnbox model
    nc.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tc.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(nc(nnbox.tensor(x)).detach().numpy(), tc(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)  # float32 sums in another order
    nc.eval()
    assert nm.training is False


def test_compiled_function_and_decorator():
    def f(x, y):
        return (x * y).sum()

    g = nnbox.compile(f)
    assert g.__name__ == "f"
    a = nnbox.randn(3, requires_grad=True)
    b = nnbox.randn(3)
    g(a, b).backward()
    assert np.array_equal(a.grad.numpy(), b.numpy())

    @nnbox.compile(backend="inductor")
    def h(x):
        return x.exp()

    assert np.array_equal(h(b).numpy(), b.exp().numpy())
    assert nnbox.compile(f, disable=True) is f


@pytest.mark.parametrize("kwargs", [{"mode": "fast"}, {"backend": "nope"}, {"mode": "default", "options": {}}])
def test_compile_errors_as_torch(kwargs):
    with pytest.raises(Exception) as t:
        torch.compile(torch.nn.Linear(1, 1), **kwargs)
    with pytest.raises(Exception) as n:
        nnbox.compile(nn.Linear(1, 1), **kwargs)
    assert str(n.value) == str(t.value)
    assert isinstance(n.value, RuntimeError) and isinstance(t.value, RuntimeError)


def test_compile_non_callable_and_custom_backend():
    with pytest.raises(AssertionError, match="A callable function is expected"):
        nnbox.compile(3)
    with pytest.raises(AssertionError, match="A callable function is expected"):
        torch.compile(3)
    with pytest.raises(NotImplementedError, match="custom backend"):
        nnbox.compile(nn.Linear(1, 1), backend=lambda gm, inputs: gm)


def test_compiler_helpers():
    assert nnbox.compiler.is_compiling() is False
    f = lambda x: x  # noqa: E731
    assert nnbox.compiler.disable(f) is f
    assert set(nnbox.compiler.list_backends()) == set(torch.compiler.list_backends())


def test_jit_script_and_trace_run_eagerly():
    nnbox.manual_seed(0)
    m = _mlp().eval()
    x = nnbox.randn(4, 6)
    s = nnbox.jit.script(m)
    t = nnbox.jit.trace(m, x)
    assert np.array_equal(s(x).detach().numpy(), m(x).detach().numpy())
    assert np.array_equal(t(x).detach().numpy(), m(x).detach().numpy())
    assert list(s.state_dict()) == list(m.state_dict())  # torch.jit.script keeps the keys too
    assert isinstance(s, nnbox.jit.ScriptModule)

    @nnbox.jit.script
    def f(x):
        return x * 2

    assert np.array_equal(f(x).numpy(), (x * 2).numpy())
    with pytest.raises(RuntimeError, match="example_kwarg_inputs or example_inputs"):
        nnbox.jit.trace(m)
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        nnbox.jit.trace(m, nnbox.randn(2, 5))  # a bad example input fails at trace time, as in torch


def test_jit_decorators_leave_functions_alone():
    def f():
        return 1

    assert nnbox.jit.ignore(f) is f
    assert nnbox.jit.ignore(drop=True)(f) is f
    assert nnbox.jit.unused(f) is f
    assert nnbox.jit.export(f) is f
    assert nnbox.jit.is_scripting() is False
    assert nnbox.jit.Final[int] is int


def test_jit_save_load_point_elsewhere(tmp_path):
    m = nn.Linear(2, 2)
    for call in (lambda: nnbox.jit.save(m, tmp_path / "m.pt"), lambda: nnbox.jit.load(tmp_path / "m.pt")):
        with pytest.raises(NotImplementedError) as e:
            call()
        assert "nnbox.save" in str(e.value) and "nnbox.onnx.export" in str(e.value)
    assert not (tmp_path / "m.pt").exists()
