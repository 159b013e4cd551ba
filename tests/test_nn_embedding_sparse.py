"""``Embedding(sparse=True)``: nnbox's dense gradient equals torch's sparse one densified, and the
optimizers torch allows with sparse gradients (SGD, Adagrad, SparseAdam) follow torch's steps."""
import numpy as np
import pytest
import torch

import nnbox

TABLE = np.random.default_rng(3).standard_normal((7, 3))
BATCHES = [[[1, 1, 3]], [[0, 3], [6, 6]], [[5, 2, 2]], [[3, 1, 0]]]


def _emb(m, **kw):
    e = m.nn.Embedding(7, 3, sparse=True, dtype=m.float64, **kw)
    with m.no_grad():
        e.weight.copy_(m.tensor(TABLE))
    return e


def _dense(g):
    return g.to_dense().numpy() if isinstance(g, torch.Tensor) else g.numpy()


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 3}, {"padding_idx": -6}, {"max_norm": 1.0}])
def test_embedding_sparse_grad_is_torchs_densified(kw):
    grads = []
    for m in (torch, nnbox):
        e = _emb(m, **kw)
        (e(m.tensor([[1, 1, 3], [6, 3, 3]])) ** 2 * m.tensor([1.0, 2.0, 3.0], dtype=m.float64)).sum().backward()
        grads.append(_dense(e.weight.grad))
    assert torch.nn.Embedding(7, 3, sparse=True)(torch.tensor([1])).sum().backward() is None
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-14)


def test_sparse_errors_as_torch():
    for m in (torch, nnbox):
        e = _emb(m, scale_grad_by_freq=True)
        out = e(m.tensor([1, 1]))  # the forward works; torch refuses the gradient
        with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
            out.sum().backward()
        with pytest.raises(ValueError, match="max mode does not support sparse weights"):
            m.nn.EmbeddingBag(7, 3, mode="max", sparse=True)(m.tensor([[1, 2]]))


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_sparse_grad(mode):
    grads = []
    for m in (torch, nnbox):
        bag = m.nn.EmbeddingBag(7, 3, mode=mode, sparse=True, dtype=m.float64)
        with m.no_grad():
            bag.weight.copy_(m.tensor(TABLE))
        out = bag(m.tensor([1, 2, 2, 5, 0]), m.tensor([0, 2]))
        (out * m.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        grads.append(_dense(bag.weight.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


@pytest.mark.parametrize("opt,kw", [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.1, "momentum": 0.5, "nesterov": True}),
    ("Adagrad", {"lr": 0.3}), ("Adagrad", {"lr": 0.3, "lr_decay": 0.1, "initial_accumulator_value": 0.2}),
    ("SparseAdam", {}), ("SparseAdam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6}),
    ("SparseAdam", {"lr": 0.05, "maximize": True}),
])
def test_optimizers_allowed_with_sparse_grads_follow_torch(opt, kw):
    weights = []
    for m in (torch, nnbox):
        e = _emb(m)
        o = getattr(m.optim, opt)(e.parameters(), **kw)
        for idx in BATCHES:
            o.zero_grad()
            (e(m.tensor(idx)) ** 2).sum().backward()
            o.step()
        weights.append(e.weight.detach().numpy().copy())
        if opt == "SparseAdam":
            assert o.state[e.weight]["step"] == len(BATCHES)
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-12, atol=1e-14)


def test_sparse_adam_untouched_rows_keep_their_moments():
    e = _emb(nnbox)
    o = nnbox.optim.SparseAdam(e.parameters(), lr=0.1)
    e(nnbox.tensor([2])).sum().backward()
    o.step()
    st = o.state[e.weight]
    assert np.count_nonzero(st["exp_avg"].numpy().any(1)) == 1
    np.testing.assert_array_equal(e.weight.detach().numpy()[[0, 1, 3, 4, 5, 6]], TABLE[[0, 1, 3, 4, 5, 6]])


def test_sparse_adam_repr_and_errors():
    t = torch.optim.SparseAdam([torch.zeros(2, requires_grad=True)])
    n = nnbox.optim.SparseAdam([nnbox.zeros(2, requires_grad=True)])
    assert repr(n) == repr(t)
    for kw in ({"lr": -1.0}, {"betas": (1.0, 0.9)}, {"betas": (0.9, -0.1)}, {"eps": -1.0}):
        with pytest.raises(ValueError) as te:
            torch.optim.SparseAdam([torch.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError, match=str(te.value).replace("(", r"\(").replace(")", r"\)")):
            nnbox.optim.SparseAdam([nnbox.zeros(2, requires_grad=True)], **kw)
