"""nnbox.utils.checkpoint against torch.utils.checkpoint and against running without it."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp

import nnbox
import nnbox.nn as nn
from nnbox.utils.checkpoint import checkpoint, checkpoint_sequential


def _pair(width=16, depth=4, seed=0):
    """The same MLP in nnbox and torch (weights copied), float64."""
    rng = np.random.default_rng(seed)
    nl, tl = [], []
    for _ in range(depth):
        w = rng.standard_normal((width, width)) / np.sqrt(width)
        b = rng.standard_normal(width) * 0.1
        a, c = nn.Linear(width, width).double(), torch.nn.Linear(width, width).double()
        a.weight.data = nnbox.tensor(w)
        a.bias.data = nnbox.tensor(b)
        c.weight.data = torch.tensor(w)
        c.bias.data = torch.tensor(b)
        nl += [a, nn.Tanh()]
        tl += [c, torch.nn.Tanh()]
    return nn.Sequential(*nl), torch.nn.Sequential(*tl)


def _grads(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_matches_torch_values_and_gradients(reentrant):
    nm, tm = _pair()
    x = np.random.default_rng(1).standard_normal((5, 16))
    nx, tx = nnbox.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ny = checkpoint(nm, nx, use_reentrant=reentrant)
    ty = tcp.checkpoint(tm, tx, use_reentrant=reentrant)
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ny ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(_grads(nm), [p.grad.numpy() for p in tm.parameters()]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if reentrant:
        assert ny.grad_fn.name() == ty.grad_fn.name() == "CheckpointFunctionBackward"


def test_non_reentrant_inputs_need_not_require_grad_and_grad_works():
    nm, tm = _pair()
    x = np.random.default_rng(2).standard_normal((3, 16))
    ny = checkpoint(nm, nnbox.tensor(x), use_reentrant=False)
    ty = tcp.checkpoint(tm, torch.tensor(x), use_reentrant=False)
    assert ny.requires_grad and ty.requires_grad
    w_n, w_t = nm[0].weight, tm[0].weight
    (gn,) = nnbox.autograd.grad(ny.sum(), [w_n])
    (gt,) = torch.autograd.grad(ty.sum(), [w_t])
    np.testing.assert_allclose(gn.numpy(), gt.numpy(), rtol=1e-10)
    assert w_n.grad is None  # grad() does not accumulate, as torch's non-reentrant checkpoint


def test_reentrant_without_grad_inputs_warns_as_torch():
    nm, tm = _pair()
    x = np.ones((2, 16))
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        ny = checkpoint(nm, nnbox.tensor(x), use_reentrant=True)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        ty = tcp.checkpoint(tm, torch.tensor(x), use_reentrant=True)
    assert ny.requires_grad is ty.requires_grad is False


def test_missing_use_reentrant_warns_and_means_true():
    nm, _ = _pair()
    x = nnbox.ones(2, 16, dtype=nnbox.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        y = checkpoint(nm, x)
    assert y.grad_fn.name() == "CheckpointFunctionBackward"


def test_kwargs_rules_as_torch():
    lin_n, lin_t = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint(lin_n, nnbox.ones(1, 2), use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        tcp.checkpoint(lin_t, torch.ones(1, 2), use_reentrant=True, foo=1)
    with pytest.raises(TypeError):
        checkpoint(lin_n, nnbox.ones(1, 2, requires_grad=True), use_reentrant=False, foo=1)
    with pytest.raises(TypeError):
        tcp.checkpoint(lin_t, torch.ones(1, 2, requires_grad=True), use_reentrant=False, foo=1)

    def f(x, scale=1.0):
        return x * scale

    x = nnbox.ones(2, requires_grad=True)
    checkpoint(f, x, use_reentrant=False, scale=3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_dropout_masks_replayed_so_gradients_equal_plain_run():
    def block():
        nnbox.manual_seed(3)
        return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 8), nn.Dropout(0.3))

    plain, ck = block(), block()
    x = nnbox.randn(6, 8)
    nnbox.manual_seed(11)
    a = plain(x)
    a.sum().backward()
    after_plain = nnbox.rand(3)
    nnbox.manual_seed(11)
    b = checkpoint(ck, x, use_reentrant=False)
    nnbox.rand(5)  # draws between forward and backward must not disturb the replay
    b.sum().backward()
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    for p, q in zip(plain.parameters(), ck.parameters()):
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())
    nnbox.manual_seed(11)
    checkpoint(ck, x, use_reentrant=False)
    assert np.array_equal(nnbox.rand(3).numpy(), after_plain.numpy())  # the forward drew as much as plain


def test_without_preserve_rng_state_masks_differ():
    nnbox.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = nnbox.ones(200, requires_grad=True)
    y = checkpoint(drop, x, use_reentrant=False, preserve_rng_state=False)
    y.sum().backward()
    assert not np.array_equal(x.grad.numpy(), (y.detach() != 0).numpy() * 2.0)


def test_tuple_outputs_and_non_tensor_outputs():
    def f(x, y):
        return x * y, 7, (x + y).argmax()

    a = nnbox.randn(4, requires_grad=True)
    b = nnbox.randn(4, requires_grad=True)
    p, k, i = checkpoint(f, a, b, use_reentrant=False)
    assert k == 7 and not i.requires_grad and i.dtype == nnbox.int64
    p.sum().backward()
    assert np.allclose(a.grad.numpy(), b.detach().numpy()) and np.allclose(b.grad.numpy(), a.detach().numpy())


def test_same_tensor_twice_and_closed_over_parameter():
    x = nnbox.tensor([1.0, 2.0], dtype=nnbox.float64, requires_grad=True)
    w = nnbox.tensor([3.0, -1.0], dtype=nnbox.float64, requires_grad=True)
    checkpoint(lambda a, b: a * b * w, x, x, use_reentrant=False).sum().backward()
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor([3.0, -1.0], dtype=torch.float64, requires_grad=True)
    tcp.checkpoint(lambda a, b: a * b * tw, tx, tx, use_reentrant=False).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_second_backward_needs_retain_graph():
    nm, _ = _pair()
    y = checkpoint(nm, nnbox.ones(1, 16, dtype=nnbox.float64, requires_grad=True), use_reentrant=False).sum()
    y.backward(retain_graph=True)
    g1 = nm[0].weight.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(nm[0].weight.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_under_no_grad_just_runs():
    nm, _ = _pair()
    with nnbox.no_grad():
        y = checkpoint(nm, nnbox.ones(1, 16, dtype=nnbox.float64, requires_grad=True), use_reentrant=False)
    assert y.grad_fn is None


@pytest.mark.parametrize("segments", [1, 2, 3, 4])
def test_checkpoint_sequential_matches_torch(segments):
    nm, tm = _pair(depth=4)
    x = np.random.default_rng(4).standard_normal((3, 16))
    nx, tx = nnbox.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ny = checkpoint_sequential(nm, segments, nx, use_reentrant=False)
    ty = tcp.checkpoint_sequential(tm, segments, tx, use_reentrant=False)
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ny.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    for a, b in zip(_grads(nm), [p.grad.numpy() for p in tm.parameters()]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("segments", [0, 20])
def test_checkpoint_sequential_bad_segments_as_torch(segments):
    nm, tm = _pair(depth=4)
    with pytest.raises(Exception) as t:
        tcp.checkpoint_sequential(tm, segments, torch.ones(1, 16, dtype=torch.float64), use_reentrant=False)
    with pytest.raises(Exception) as n:
        checkpoint_sequential(nm, segments, nnbox.ones(1, 16, dtype=nnbox.float64), use_reentrant=False)
    assert type(n.value) is type(t.value)


def _mlp20(seed=0):
    nnbox.manual_seed(seed)
    return nn.Sequential(*[m for _ in range(20) for m in (nn.Linear(128, 128), nn.ReLU())])


def _memory(model, x, segments):
    """(bytes held after forward, peak bytes over forward and backward), traced by tracemalloc;
    ``segments=0`` runs without checkpointing."""
    tracemalloc.start()
    h = checkpoint_sequential(model, segments, x, use_reentrant=False) if segments else model(x)
    held = tracemalloc.get_traced_memory()[0]
    h.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return held, peak


def test_checkpointed_20_layer_mlp_same_gradients_lower_peak_memory():
    x = nnbox.randn(2048, 128)
    plain, ck = _mlp20(), _mlp20()
    held_plain, peak_plain = _memory(plain, x, 0)
    held_ck, peak_ck = _memory(ck, x, 5)  # 5 segments of 4 layers: about sqrt(20)
    for p, q in zip(plain.parameters(), ck.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    # plain keeps one 1 MiB activation per layer until backward (20 of them); checkpointed, the
    # 4 segment boundaries and the last (uncheckpointed) segment's 4 layers
    assert held_ck < 0.5 * held_plain, (held_ck, held_plain)
    # in backward one segment's activations are rebuilt at a time on top of that
    assert peak_ck < 0.8 * peak_plain, (peak_ck, peak_plain)


# --- create_graph=True through a checkpointed segment (torch supports it with use_reentrant=False)

def _second_order(m, ck, case):
    W = m.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True)
    x0 = m.tensor(np.linspace(-1, 1, 8).reshape(2, 4), requires_grad=True)
    x = x0 * 1.5
    y = case(m, ck, x, W)
    gx, gW = m.autograd.grad(y.pow(2).sum(), (x0, W), create_graph=True)
    assert gx.requires_grad and gW.requires_grad
    (gx.pow(2).sum() + gW.sum() * gW.sum()).backward()
    return [t.detach().numpy() for t in (y, gx, gW, x0.grad, W.grad)]


@pytest.mark.parametrize("case", [
    lambda m, ck, x, W: ck(lambda a: (a @ W.T).tanh(), x, use_reentrant=False),
    # an argument whose own history reaches a leaf the segment uses too
    lambda m, ck, x, W: ck(lambda a, b: (a @ W.T).tanh() * b.sin(), x, x @ W.T, use_reentrant=False),
    # one tensor passed twice
    lambda m, ck, x, W: ck(lambda a, b: (a * b).tanh() @ W.T, x, x, use_reentrant=False),
    # nested segments
    lambda m, ck, x, W: ck(lambda a: ck(lambda b: (b @ W.T).sin(), a, use_reentrant=False) ** 3, x,
                           use_reentrant=False),
], ids=["leaf", "shared_history", "twice_passed", "nested"])
def test_second_derivatives_through_a_segment_as_torch(case):
    import torch.utils.checkpoint as tcp

    import nnbox.utils.checkpoint as ncp

    got = _second_order(nnbox, ncp.checkpoint, case)
    want = _second_order(torch, tcp.checkpoint, case)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-12)


def test_gradient_penalty_through_checkpoint_sequential_with_dropout():
    # the rerun replays dropout's masks; a create_graph backward then differentiates that rerun
    nnbox.manual_seed(3)
    net = nnbox.nn.Sequential(nnbox.nn.Linear(4, 6), nnbox.nn.Tanh(), nnbox.nn.Dropout(0.3), nnbox.nn.Linear(6, 6),
                              nnbox.nn.Tanh(), nnbox.nn.Linear(6, 1)).double()
    x = nnbox.randn(5, 4, dtype=nnbox.float64, requires_grad=True)
    grads = {}
    for use_ck in (False, True):
        nnbox.manual_seed(7)
        out = nnbox.utils.checkpoint.checkpoint_sequential(net, 2, x, use_reentrant=False) if use_ck else net(x)
        (gx,) = nnbox.autograd.grad(out.sum(), x, create_graph=True)
        penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
        grads[use_ck] = nnbox.autograd.grad(penalty, list(net.parameters()) + [x], allow_unused=True)
    assert sum(g is not None for g in grads[True]) == 6  # all but the last bias
    for a, b in zip(grads[False], grads[True]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-14)
