"""``loss.backward()`` on a scalar takes the engine's plain walk (``engine.run_plain``); everything
else (``autograd.backward``, ``inputs=``, ``create_graph``, a given gradient) takes the general one.
Both must give the same gradients, run the same hooks, and hand out ``.grad`` arrays as torch does."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from nnbox.autograd import engine


class _Twice(nnbox.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def _graphs(m, fn_twice):
    """(name, build) pairs: build(m, leaves) -> a scalar loss."""
    return [
        ("shared inputs", lambda a, b: (((a + b) * a) @ b).sum()),
        ("broadcast", lambda a, b: (a * b[0] - b[:, :1]).mean()),
        ("multi-output", lambda a, b: (m.max(a, 1)[0] * b.sum(0)).sum() + sum(t.sum() for t in a.split(3, 1))),
        ("views", lambda a, b: (a.t() @ b[:, 2:5]).pow(2).sum() + a.view(-1)[3]),
        ("float32 leaf via cast", lambda a, b: (a.float() * 3).sum() + b.double().sum()),
        ("user Function", lambda a, b: fn_twice(a * b).sum()),
        ("unused input", lambda a, b: (a * 2).sum()),
    ]


def _leaves(m, seed=0):
    rng = np.random.default_rng(seed)
    return (m.tensor(rng.standard_normal((6, 6)), requires_grad=True),
            m.tensor(rng.standard_normal((6, 6)), requires_grad=True))


def _twice_torch():
    class T(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return T.apply


@pytest.mark.cpu_only(reason="the plain walk serves CPU roots only; CuPy roots take the general one")
@pytest.mark.parametrize("i", range(len(_graphs(nnbox, None))), ids=[n for n, _ in _graphs(nnbox, None)])
def test_plain_walk_matches_the_general_walk_and_torch(i, monkeypatch):
    calls = []
    plain = engine.run_plain
    monkeypatch.setattr(engine, "run_plain", lambda *a: (calls.append(1), plain(*a))[1])
    a, b = _leaves(nnbox)
    _graphs(nnbox, _Twice.apply)[i][1](a, b).backward()  # the plain walk
    assert calls, "Tensor.backward() of a scalar should take the plain walk"
    a2, b2 = _leaves(nnbox)
    nnbox.autograd.backward(_graphs(nnbox, _Twice.apply)[i][1](a2, b2))  # the general walk
    ta, tb = _leaves(torch)
    _graphs(torch, _twice_torch())[i][1](ta, tb).backward()
    for x, y, t in ((a, a2, ta), (b, b2, tb)):
        if t.grad is None:
            assert x.grad is None and y.grad is None
            continue
        np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.cpu_only(reason="reads NumPy's writeable flag (CuPy arrays have none) and the CPU walk's ownership")
def test_leaf_grads_own_their_arrays_and_accumulate_in_place():
    # Add hands the same gradient array to both inputs: each .grad must get its own storage, and a
    # second backward accumulates in place into the same .grad Tensor, as in torch
    for m in (nnbox, torch):
        a = m.ones(3, requires_grad=True)
        b = m.ones(3, requires_grad=True)
        (a + b).sum().backward()
        ga, gb = a.grad, b.grad
        assert ga.data_ptr() != gb.data_ptr()
        (a + b).sum().backward()
        assert a.grad is ga and b.grad is gb
        assert a.grad.tolist() == b.grad.tolist() == [2.0, 2.0, 2.0]
    # a gradient that is a view (of a larger gradient) is copied before it becomes .grad
    x = nnbox.ones(2, 3, requires_grad=True)
    y = x.view(6)
    (y * 1.0).sum().backward()
    assert x.grad._data.base is None and x.grad._data.flags.writeable
    # a 0-d root that is itself the leaf (the general walk) gets a fresh .grad too
    z = nnbox.tensor(2.0, requires_grad=True)
    z.backward()
    z.backward()
    assert z.grad.item() == 2.0


def test_hooks_and_retained_grads_run_in_the_plain_walk():
    def run(m):
        log = []
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: log.append(("y", g.tolist())) or g * 10)
        z = y.exp()
        z.grad_fn.register_hook(lambda gi, go: log.append(("post", [t.tolist() for t in gi if t is not None])))
        z.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
        x.register_hook(lambda g: log.append(("x", g.tolist())))
        z.sum().backward()
        return log, x.grad.tolist(), y.grad.tolist()

    got, want = run(nnbox), run(torch)
    np.testing.assert_allclose(np.array(got[1:]), np.array(want[1:]), rtol=1e-6)
    assert [k for k, _ in got[0]] == [k for k, _ in want[0]]
    for (_, v), (_, w) in zip(got[0], want[0]):
        np.testing.assert_allclose(np.array(v, dtype=float), np.array(w, dtype=float), rtol=1e-6)


def test_plain_walk_frees_the_graph_unless_retained():
    x = nnbox.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_non_scalar_and_grad_free_roots_keep_torchs_errors():
    x = nnbox.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        nnbox.ones(()).backward()


@pytest.mark.parametrize("walk", ["plain", "general"])
def test_a_tensor_a_user_function_returns_and_keeps_is_not_made_a_grad(walk):
    # torch steals a returned gradient for .grad only when nothing else holds it; nnbox copies
    # what a user Function's backward returns before it becomes a .grad, so the accumulation of a
    # second backward never writes into the user's constant (nor into a saved input)
    for m in (nnbox, torch):
        const = m.ones(3)

        class ReturnsConst(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return const

        x = m.ones(3, requires_grad=True)
        for _ in range(2):
            loss = ReturnsConst.apply(x).sum()
            loss.backward() if walk == "plain" else m.autograd.backward([loss])
        assert const.tolist() == [1.0, 1.0, 1.0]
        assert x.grad.tolist() == [2.0, 2.0, 2.0]
