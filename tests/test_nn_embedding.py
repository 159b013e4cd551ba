"""F.embedding / F.embedding_bag against torch: values, weight gradients, padding, max_norm, errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, arr, check, check_error, fd_check


def idx(*shape, n=10):
    return RNG.integers(0, n, size=shape).astype(np.int64)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_embedding_values_and_grads(shape):
    check(lambda m, i, w: m.nn.functional.embedding(i, w), [idx(*shape), arr(10, 3)])


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_padding_and_freq(padding_idx, scale):
    i = np.array([[0, 3, 3, 9], [9, 3, 1, 0]])
    check(lambda m, i, w: m.nn.functional.embedding(i, w, padding_idx=padding_idx, scale_grad_by_freq=scale),
          [i, arr(10, 4)])


def test_embedding_int32_and_float32():
    check(lambda m, i, w: m.nn.functional.embedding(i, w), [idx(7).astype(np.int32), arr(10, 3, dtype=np.float32)])


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renorms_in_place(norm_type):
    w0 = arr(10, 4)
    i = np.array([1, 2, 2, 7])
    outs = []
    for m in (torch, nnbox):
        w = m.tensor(w0.copy(), requires_grad=True)
        o = m.nn.functional.embedding(m.tensor(i), w, max_norm=1.0, norm_type=norm_type)
        (o * o).sum().backward()
        outs.append((w.detach().numpy().copy(), o.detach().numpy(), w.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_embedding_errors():
    F = lambda m: m.nn.functional  # noqa: E731
    check_error(lambda m, i, w: F(m).embedding(i, w), [np.array([1.0, 2.0]), arr(10, 3)],
                match=r"^Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
                      r"Int; but got torch.DoubleTensor instead \(while checking arguments for embedding\)$")
    check_error(lambda m, i, w: F(m).embedding(i, w), [np.array([1, 20]), arr(10, 3)], match="index out of range in self")
    check_error(lambda m, i, w: F(m).embedding(i, w), [np.array([1, -1]), arr(10, 3)], match="index out of range")
    check_error(lambda m, i, w: F(m).embedding(i, w, padding_idx=10), [np.array([1]), arr(10, 3)],
                match="Padding_idx must be within num_embeddings")
    check_error(lambda m, i, w: F(m).embedding(i, w), [np.array([1]), arr(10)], match="'weight' must be 2-D")
    out = nnbox.nn.functional.embedding(nnbox.tensor([1]), nnbox.zeros(3, 2), sparse=True)  # see test_nn_embedding_sparse
    assert out.shape == (1, 2)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d(mode):
    check(lambda m, i, w: m.nn.functional.embedding_bag(i, w, mode=mode), [idx(4, 3), arr(10, 5)])
    check(lambda m, i, w: m.nn.functional.embedding_bag(i, w, mode=mode, padding_idx=2),
          [np.array([[2, 1, 2], [2, 2, 2], [0, 5, 5]]), arr(10, 5)])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("last", [False, True])
def test_embedding_bag_offsets(mode, last):
    i = idx(9)
    off = np.array([0, 2, 2, 6, 9]) if last else np.array([0, 2, 2, 6])
    check(lambda m, i, w, o: m.nn.functional.embedding_bag(i, w, o, mode=mode, include_last_offset=last),
          [i, arr(10, 3), off])


def test_embedding_bag_per_sample_weights():
    i = idx(7)
    off = np.array([0, 3, 5])
    check(lambda m, i, w, o, p: m.nn.functional.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
          [i, arr(10, 3), off, arr(7)])


def test_finite_differences():
    i = nnbox.tensor(np.array([[1, 2, 1], [0, 0, 4]]))
    fd_check(lambda w: nnbox.nn.functional.embedding(i, w), [arr(5, 3)])
    fd_check(lambda w: nnbox.nn.functional.embedding_bag(i, w, mode="max"), [arr(5, 3)])
    fd_check(lambda w: nnbox.nn.functional.embedding_bag(i, w, mode="mean"), [arr(5, 3)])


# --- second order (create_graph=True) --------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1}, {"scale_grad_by_freq": True}])
def test_embedding_second_order(kw):
    idx = np.array([[1, 3, 3], [0, 1, 4]])
    check(lambda m, w: m.nn.functional.embedding(m.tensor(idx), w, **kw) ** 2, [arr(5, 3)], order=2, rtol=1e-8)


def test_embedding_bag_has_no_double_backward_as_in_torch():
    idx = np.array([[1, 3], [0, 3]])
    for m in (torch, nnbox):
        w = m.tensor(arr(5, 3), requires_grad=True)
        (g,) = m.autograd.grad(m.nn.functional.embedding_bag(m.tensor(idx), w, mode="sum").pow(2).sum(), w,
                               create_graph=True)
        with pytest.raises(RuntimeError, match="derivative for '_embedding_bag_backward' is not implemented"):
            g.sum().backward()


@pytest.mark.parametrize("vocab", [1000, 7])  # few repeats (rounds of fancy +=) and many (per-run sums)
def test_add_rows_matches_index_add(vocab):
    from nnbox.ops.embedding import add_rows

    rng = np.random.default_rng(3)
    idx = rng.integers(0, vocab, 1120)
    rows = rng.standard_normal((1120, 16)).astype(np.float32)
    out = np.ones((vocab, 16), np.float32)
    add_rows(out, idx, rows)
    want = torch.ones(vocab, 16).index_add_(0, torch.tensor(idx), torch.tensor(rows)).numpy()
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
