"""``autograd.functional`` and ``nnbox.func`` against torch: values, structure, create_graph, errors."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, assert_same

LIBS = (torch, nnbox)


def both(fn, *arrays, grad=False):
    """Run ``fn(lib, *tensors)`` on both libraries with the same float64 inputs."""
    outs = []
    for lib in LIBS:
        ts = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=grad) for a in arrays]
        outs.append(fn(lib, *ts))
    return outs


def same(fn, *arrays, grad=False):
    t, n = both(fn, *arrays, grad=grad)
    assert_same(t, n, rtol=1e-10, atol=1e-12)
    return t, n


def a(*shape):
    return RNG.uniform(-1.5, 1.5, size=shape)


def F(lib):
    return lib.autograd.functional


def cubic(x):
    return (x * x * x).sum() + (x * x).exp().sum()


def two_in(x, y):
    return (x * y * y).sum() + (x @ y.reshape(-1)).exp() if x.ndim == 2 else (x * y * y).sum()


# --- torch.autograd.functional -------------------------------------------------------------------

def test_jacobian_forms():
    same(lambda m, x: F(m).jacobian(lambda t: (t * t).exp(), x), a(3))
    same(lambda m, x: F(m).jacobian(lambda t: t @ t.t(), x), a(2, 3))
    same(lambda m, x, y: F(m).jacobian(lambda s, t: (s * t, s + t * t), (x, y)), a(3), a(3))
    same(lambda m, x, y: F(m).jacobian(lambda s, t: s * t, (x, y)), a(3), a(3))
    same(lambda m, x: F(m).jacobian(lambda t: (t * 2, t.exp()), x), a(2))


def test_hessian_forms():
    same(lambda m, x: F(m).hessian(cubic, x), a(3))
    same(lambda m, x, y: F(m).hessian(lambda s, t: (s * t * t).sum(), (x, y)), a(3), a(3))
    same(lambda m, x: F(m).hessian(lambda t: (t @ t.t()).exp().sum(), x), a(2, 2))


def test_vector_products():
    v = a(3)
    for name in ("hvp", "vhp"):
        same(lambda m, x, v: getattr(F(m), name)(cubic, x, v), a(3), v)
    same(lambda m, x, v: F(m).vjp(lambda t: (t * t).exp(), x, v), a(3), v)
    same(lambda m, x: F(m).vjp(cubic, x), a(3))
    same(lambda m, x, v: F(m).jvp(lambda t: (t * t).exp(), x, v), a(3), v)
    same(lambda m, x, y, v, w: F(m).jvp(lambda s, t: s * t, (x, y), (v, w)), a(2), a(2), a(2), a(2))


def test_create_graph_results_are_differentiable():
    def run(lib, x):
        h = F(lib).hessian(cubic, x, create_graph=True)
        _, j = F(lib).vjp(cubic, x, create_graph=True)
        (h.sum() + (j * j).sum()).backward()
        return h, x.grad

    t, n = same(run, a(3), grad=True)
    assert n[0].requires_grad


def test_results_are_detached_without_create_graph():
    x = nnbox.tensor([1.0, 2.0], dtype=nnbox.float64, requires_grad=True)
    out, g = F(nnbox).vjp(cubic, x)
    assert not out.requires_grad and not g.requires_grad
    assert not F(nnbox).jacobian(lambda t: t * t, x).requires_grad


def test_strict_and_bad_input_errors():
    x = np.array([1.0, 2.0])
    cases = [
        lambda m, t: F(m).jacobian(lambda s: m.ones(2, dtype=m.float64), t, strict=True),
        lambda m, t: F(m).vjp(lambda s: s * 2, t),  # v needed: output not scalar
        lambda m, t: F(m).jacobian(lambda s: s * 2, t, strategy="forward-mode"),
        lambda m, t: F(m).jacobian(lambda s: s * 2, t, strategy="sideways"),
        lambda m, t: F(m).hessian(lambda s: s * 2, t),
        lambda m, t: F(m).jacobian(lambda s: 3, t),
        lambda m, t: F(m).hvp(cubic, t, m.ones(3, dtype=m.float64)),
        lambda m, t: F(m).vjp(lambda s: s.sum().detach(), t, strict=True),
        lambda m, t: F(m).jvp(lambda s: s * 2, t, m.ones(3, dtype=m.float64)),
    ]
    for case in cases:
        errs = []
        for lib in LIBS:
            with pytest.raises(Exception) as e:
                case(lib, lib.tensor(x))
            errs.append(e.value)
        assert type(errs[0]) is type(errs[1]), (errs[0], errs[1])
        assert str(errs[0]) == str(errs[1]), (str(errs[0]), str(errs[1]))
    same(lambda m, t: F(m).vjp(lambda s: s.sum().detach(), t), x)  # not strict: zeros


def test_vectorize_gives_the_same_numbers():
    x = nnbox.tensor(a(3))
    assert nnbox.equal(F(nnbox).jacobian(lambda t: (t * t).exp(), x, vectorize=True),
                       F(nnbox).jacobian(lambda t: (t * t).exp(), x))


# --- torch.func --------------------------------------------------------------------------------------

def fn(lib):
    return importlib.import_module(lib.__name__ + ".func")


def test_func_grad_family():
    same(lambda m, x: fn(m).grad(cubic)(x), a(3))
    same(lambda m, x: fn(m).grad(fn(m).grad(lambda t: t * t * t))(x), np.array(1.3))
    same(lambda m, x, y: fn(m).grad(lambda s, t: (s * t * t).sum(), argnums=(0, 1))(x, y), a(3), a(3))
    same(lambda m, x: fn(m).grad(lambda t: ((t * t).sum(), t * 2), has_aux=True)(x), a(3))
    same(lambda m, x: fn(m).grad_and_value(cubic)(x), a(3))
    def pytree(m, x):
        g = fn(m).grad(lambda d: (d["w"] * d["w"] * d["b"]).sum())({"w": x, "b": x * 2})
        return g["w"], g["b"]

    same(pytree, a(3))


def test_func_vjp_jacrev_hessian():
    def run(m, x):
        out, vjp_fn = fn(m).vjp(lambda t: (t * t).exp(), x)
        return out, vjp_fn(m.ones(3, dtype=m.float64))

    same(run, a(3))
    same(lambda m, x: fn(m).jacrev(lambda t: (t * t).exp())(x), a(3))
    same(lambda m, x, y: fn(m).jacrev(lambda s, t: s * t, argnums=(0, 1))(x, y), a(2), a(2))
    same(lambda m, x: fn(m).jacfwd(lambda t: t * t)(x), a(3))
    same(lambda m, x: fn(m).hessian(cubic)(x), a(3))


def test_func_connects_to_an_outer_graph_like_torch():
    def run(m, x):
        g = fn(m).grad(cubic)(x)
        assert g.requires_grad
        g.sum().backward()
        return x.grad

    same(run, a(3), grad=True)
    t, n = both(lambda m, x: fn(m).grad(cubic)(x), a(3))
    assert not t.requires_grad and not n.requires_grad


def test_func_errors_match_torch():
    x = np.array([1.0, 2.0])
    cases = [
        lambda m, t: fn(m).grad(lambda s: s * 2)(t),
        lambda m, t: fn(m).grad(lambda s: 3.0)(t),
        lambda m, t: fn(m).grad(cubic, argnums=1)(t),
        lambda m, t: fn(m).grad(lambda s: s.sum(), has_aux=True)(t),
        lambda m, t: fn(m).vmap(lambda s: m.rand(2) + s)(t.reshape(2, 1).expand(2, 2)),
        lambda m, t: fn(m).vmap(lambda s, u: s + u)(m.ones(3, 2), m.ones(4, 2)),
    ]
    for case in cases:
        errs = []
        for lib in LIBS:
            with pytest.raises(Exception) as e:
                case(lib, lib.tensor(x))
            errs.append(e.value)
        assert type(errs[0]) is type(errs[1]), (errs[0], errs[1])
        assert str(errs[0]) == str(errs[1])


def test_vmap():
    same(lambda m, x: fn(m).vmap(lambda t: t.sum())(x), a(3, 2))
    same(lambda m, x, y: fn(m).vmap(lambda s, t: s * t, in_dims=(0, None))(x, y), a(3, 2), a(2))
    same(lambda m, x: fn(m).vmap(lambda t: t * 2, in_dims=1, out_dims=1)(x), a(3, 2))
    same(lambda m, x: fn(m).vmap(lambda t: (t, t.sum()))(x), a(4, 2))
    nnbox.manual_seed(0)
    r = fn(nnbox).vmap(lambda t: nnbox.rand(2) + t * 0, randomness="same")(nnbox.zeros(3, 2))
    assert nnbox.equal(r[0], r[1]) and nnbox.equal(r[1], r[2])
    r = fn(nnbox).vmap(lambda t: nnbox.rand(2) + t * 0, randomness="different")(nnbox.zeros(3, 2))
    assert not nnbox.equal(r[0], r[1])


def test_functional_call_swaps_only_for_the_call():
    def run(m, x, w):
        lin = m.nn.Linear(3, 2).double()
        out = fn(m).functional_call(lin, {"weight": w, "bias": m.zeros(2, dtype=m.float64)}, (x,))
        bias = {"bias": m.ones(2, dtype=m.float64)}  # the module's own bias is random (different per library)
        g = fn(m).grad(lambda p: fn(m).functional_call(lin, ({"weight": p}, bias), (x,)).exp().sum())(w)
        assert isinstance(lin.weight, m.nn.Parameter) and lin.weight.shape == (2, 3)
        return out, g

    same(run, a(4, 3), a(2, 3))
    lin = nnbox.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        fn(nnbox).functional_call(lin, {"weight": nnbox.ones(2, 3), "bias": nnbox.ones(2), "x": nnbox.ones(1)},
                                  (nnbox.ones(3),), strict=True)
