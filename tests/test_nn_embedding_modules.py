"""Embedding / EmbeddingBag modules against torch: repr, state_dict, init, from_pretrained, grads."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr


@pytest.mark.parametrize("kw", [{}, {"padding_idx": -1, "max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True},
                                {"padding_idx": 0}])
def test_embedding_module(kw):
    tm, nm = torch.nn.Embedding(10, 3, **kw).double(), nnbox.nn.Embedding(10, 3, **kw).double()
    assert repr(nm) == repr(tm)
    assert {k: tuple(v.shape) for k, v in nm.state_dict().items()} == {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    if "padding_idx" in kw:
        assert not nm.weight.detach().numpy()[nm.padding_idx].any()
    nm.load_state_dict({"weight": nnbox.tensor(tm.weight.detach().numpy())})
    i = np.array([[0, 9, 3], [3, 3, 1]])
    to, no = tm(torch.tensor(i)), nm(nnbox.tensor(i))
    g = np.random.default_rng(0).standard_normal(to.shape)
    (to * torch.tensor(g)).sum().backward()
    (no * nnbox.tensor(g)).sum().backward()
    np.testing.assert_allclose(no.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(nm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(nm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-12)  # max_norm renorm


def test_default_init_is_standard_normal():
    w = nnbox.nn.Embedding(20000, 8).weight.detach().numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_from_pretrained():
    w = arr(4, 2)
    for freeze in (True, False):
        tm = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze)
        nm = nnbox.nn.Embedding.from_pretrained(nnbox.tensor(w), freeze=freeze)
        assert repr(nm) == repr(tm) and nm.weight.requires_grad == tm.weight.requires_grad == (not freeze)
        np.testing.assert_array_equal(nm(nnbox.tensor([3, 1])).detach().numpy(), tm(torch.tensor([3, 1])).detach().numpy())
        tb = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), freeze=freeze, mode="sum")
        nb = nnbox.nn.EmbeddingBag.from_pretrained(nnbox.tensor(w), freeze=freeze, mode="sum")
        assert repr(nb) == repr(tb) and nb.weight.requires_grad == tb.weight.requires_grad
    for m in (torch, nnbox):
        with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
            m.nn.Embedding.from_pretrained(m.zeros(3))


@pytest.mark.parametrize("kw", [{}, {"mode": "sum", "padding_idx": 2, "include_last_offset": True, "max_norm": 2.0},
                                {"mode": "max"}])
def test_embedding_bag_module(kw):
    tm, nm = torch.nn.EmbeddingBag(10, 3, **kw).double(), nnbox.nn.EmbeddingBag(10, 3, **kw).double()
    assert repr(nm) == repr(tm)
    nm.load_state_dict({"weight": nnbox.tensor(tm.weight.detach().numpy())})
    i, off = np.array([1, 2, 2, 4, 9, 0]), np.array([0, 2, 5, 6] if kw.get("include_last_offset") else [0, 2, 5])
    to = tm(torch.tensor(i), torch.tensor(off))
    no = nm(nnbox.tensor(i), nnbox.tensor(off))
    to.sum().backward()
    no.sum().backward()
    np.testing.assert_allclose(no.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(nm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)


def test_sparse_repr():  # gradients: test_nn_embedding_sparse.py
    assert repr(nnbox.nn.Embedding(3, 2, sparse=True)) == repr(torch.nn.Embedding(3, 2, sparse=True))
