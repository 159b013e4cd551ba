"""Shape ops against torch: values, gradients, views sharing storage, error types."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error


def test_view_reshape():
    a = arr(2, 3, 4)
    for shape in [(6, 4), (-1,), (4, -1), (2, 12), (24,), (1, 2, 1, 12), (2, 3, 2, 2)]:
        check(lambda m, x: x.view(*shape), [a])
        check(lambda m, x: x.view(shape), [a])
        check(lambda m, x: x.reshape(shape), [a])
        check(lambda m, x: m.reshape(x, shape), [a])
    check(lambda m, x: x.view(()), [arr(1)])
    check(lambda m, x: x.reshape(-1), [arr()])
    check(lambda m, x: x.view(0, 3), [arr(0, 3)])
    check(lambda m, x: x.reshape(3, -1), [arr(0, 3)])
    check(lambda m, x, y: x.view_as(y), [arr(6), arr(2, 3)])
    check(lambda m, x, y: x.reshape_as(y), [arr(6), arr(3, 2)])


def test_reshape_of_transposed_copies():
    check(lambda m, x: x.t().reshape(-1), [arr(3, 4)])
    check(lambda m, x: x.transpose(0, 1).contiguous().view(-1), [arr(3, 4)])
    check_error(lambda m, x: x.t().view(-1), [arr(3, 4)], match="view size is not compatible")


def test_view_errors():
    check_error(lambda m, x: x.view(5, -1), [arr(2, 3)], match=r"shape '\[5, -1\]' is invalid for input of size 6")
    check_error(lambda m, x: x.view(-1, -1), [arr(2, 3)], match="only one dimension can be inferred")
    check_error(lambda m, x: x.reshape(4, 2), [arr(2, 3)], match=r"shape '\[4, 2\]' is invalid for input of size 6")


def test_view_shares_storage_and_version():
    x = nnbox.zeros(2, 3)
    v = x.view(6)
    v[0] = 5.0
    assert x[0, 0].item() == 5.0
    assert x._version == v._version == 1
    s = x[1]
    s.add_(1)
    assert x[1].tolist() == [1.0, 1.0, 1.0]
    t = x.t()
    t[0, 1] = 7.0
    assert x[1, 0].item() == 7.0


def test_flatten_unflatten():
    a = arr(2, 3, 4, 5)
    for s, e in [(0, -1), (1, 2), (1, -1), (2, 3), (0, 0), (-2, -1)]:
        check(lambda m, x: x.flatten(s, e), [a])
        check(lambda m, x: m.flatten(x, s, e), [a])
    check(lambda m, x: x.flatten(), [arr()])
    check(lambda m, x: x.unflatten(1, (3, 1)), [arr(2, 3, 4)])
    check(lambda m, x: x.unflatten(-1, (2, -1)), [arr(2, 3, 4)])
    check(lambda m, x: m.unflatten(x, 0, (1, 2)), [arr(2, 3)])
    check_error(lambda m, x: x.flatten(2, 1), [a])
    check(lambda m, x: m.ravel(x), [a])


def test_squeeze_unsqueeze():
    a = arr(1, 3, 1, 2)
    check(lambda m, x: x.squeeze(), [a])
    for d in range(-4, 4):
        check(lambda m, x: x.squeeze(d), [a])
    check(lambda m, x: x.squeeze((0, 2)), [a])
    check(lambda m, x: m.squeeze(x, (0, 1)), [a])
    for d in range(-5, 5):
        check(lambda m, x: x.unsqueeze(d), [a])
    check(lambda m, x: x.unsqueeze(0), [arr()])
    check(lambda m, x: x.squeeze(), [arr()])
    check(lambda m, x: x.squeeze(0), [arr()])
    check_error(lambda m, x: x.unsqueeze(5), [a])
    check_error(lambda m, x: x.squeeze(4), [a])


def test_permute_transpose_t():
    a = arr(2, 3, 4)
    for p in [(0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, 0, 1)]:
        check(lambda m, x: x.permute(*p), [a])
        check(lambda m, x: x.permute(p), [a])
        check(lambda m, x: m.permute(x, p), [a])
    for d0, d1 in [(0, 1), (0, 2), (-1, -2), (1, 1)]:
        check(lambda m, x: x.transpose(d0, d1), [a])
        check(lambda m, x: m.swapaxes(x, d0, d1), [a])
    check(lambda m, x: x.t(), [arr(3, 4)])
    check(lambda m, x: x.t(), [arr(3)])
    check(lambda m, x: x.t(), [arr()])
    check(lambda m, x: x.T, [arr(3, 4)])
    check(lambda m, x: x.mT, [a])
    check(lambda m, x: m.movedim(x, 0, -1), [a])
    check(lambda m, x: m.movedim(x, (0, 1), (2, 0)), [a])
    check_error(lambda m, x: x.t(), [a], match="expects a tensor with <= 2 dimensions")
    check_error(lambda m, x: x.permute(0, 1), [a])
    check_error(lambda m, x: x.permute(0, 1, 1), [a])
    check_error(lambda m, x: x.transpose(0, 3), [a], match="Dimension out of range")


def test_expand():
    check(lambda m, x: x.expand(3, 4), [arr(3, 1)])
    check(lambda m, x: x.expand(2, 3, 4), [arr(3, 1)])
    check(lambda m, x: x.expand(-1, 4), [arr(3, 1)])
    check(lambda m, x: x.expand(2, -1, 5), [arr(1, 3, 1)])
    check(lambda m, x: x.expand(3, 2), [arr()])
    check(lambda m, x: x.expand((2, 3, 1)), [arr(3, 1)])
    check(lambda m, x, y: x.expand_as(y), [arr(1, 4), arr(3, 4)])
    check(lambda m, x: m.broadcast_to(x, (2, 3, 4)), [arr(4)])
    check_error(lambda m, x: x.expand(3, 5), [arr(3, 2)], match=r"The expanded size of the tensor \(5\) must match the existing size \(2\)")
    check_error(lambda m, x: x.expand(4), [arr(3, 2)])


def test_broadcast_tensors_shapes():
    check(lambda m, x, y: m.broadcast_tensors(x, y), [arr(3, 1), arr(4)])
    assert nnbox.broadcast_shapes((3, 1), (4,)) == torch.broadcast_shapes((3, 1), (4,))


def test_repeat_tile():
    a = arr(2, 3)
    for reps in [(1, 1), (2, 1), (2, 3), (2, 1, 2), (3, 2, 1, 1)]:
        check(lambda m, x: x.repeat(*reps), [a])
        check(lambda m, x: x.repeat(reps), [a])
    check(lambda m, x: x.repeat(3), [arr(2)])
    check(lambda m, x: x.repeat(2, 3), [arr()])
    check(lambda m, x: m.tile(x, (2,)), [a])
    check(lambda m, x: x.tile((2, 1, 2)), [a])
    check_error(lambda m, x: x.repeat(2), [a], match="Number of dimensions of repeat dims")


def test_repeat_interleave():
    a = arr(2, 3)
    check(lambda m, x: x.repeat_interleave(2), [a])
    check(lambda m, x: x.repeat_interleave(2, dim=1), [a])
    check(lambda m, x: x.repeat_interleave(m.tensor([1, 2]), dim=0), [a])
    check(lambda m, x: m.repeat_interleave(x, 3, 0), [a])


def test_contiguous_clone():
    check(lambda m, x: x.t().contiguous(), [arr(3, 4)])
    check(lambda m, x: x.clone(), [arr(3, 4)])
    check(lambda m, x: m.clone(x), [arr(3, 4, dtype=np.int64)])
    x = nnbox.ones(3)
    assert x.contiguous() is x
    assert not x.clone() is x
    assert x.t().is_contiguous()
    assert not nnbox.ones(2, 3).t().is_contiguous()


def test_chunk_split():
    a = arr(7, 4)
    for c in (1, 2, 3, 4, 7, 9):
        check(lambda m, x: x.chunk(c), [a])
        check(lambda m, x: m.chunk(x, c, 1), [a])
    for s in (1, 2, 3, 7, 10):
        check(lambda m, x: x.split(s), [a])
    check(lambda m, x: x.split([2, 5]), [a])
    check(lambda m, x: x.split([1, 3], dim=1), [a])
    check(lambda m, x: m.split(x, [0, 7]), [a])
    check(lambda m, x: x.unbind(1), [a])
    check(lambda m, x: m.unbind(x), [a])
    check(lambda m, x: m.tensor_split(x, 3), [a])
    check(lambda m, x: m.tensor_split(x, (1, 5), dim=0), [a])
    check_error(lambda m, x: x.split([2, 2]), [a], match="split_with_sizes expects split_sizes to sum exactly to 7")
    check_error(lambda m, x: x.chunk(0), [a])


def test_split_grad_partial_use():
    # only some pieces reach the loss: the others contribute zeros
    check(lambda m, x: x.split(2)[1] * 3, [arr(7, 2)])
    check(lambda m, x: x.chunk(3, 1)[0].sum() + x.chunk(3, 1)[2].sum(), [arr(2, 6)])
    check(lambda m, x: x.unbind(0)[1], [arr(3, 2)])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim):
    a, b, c = arr(2, 3), arr(2, 3), arr(2, 3)
    check(lambda m, x, y, z: m.cat([x, y, z], dim), [a, b, c])
    check(lambda m, x, y, z: m.stack([x, y, z], dim), [a, b, c])
    check(lambda m, x, y: m.cat((x, y), dim=dim), [a, b])
    check(lambda m, x, y: m.stack((x, y), dim=dim), [a, b])


def test_cat_variants():
    check(lambda m, x, y: m.cat([x, y]), [arr(2, 3), arr(4, 3)])
    check(lambda m, x, y: m.cat([x, y], 1), [arr(2, 3), arr(2, 1)])
    check(lambda m, x, y: m.cat([x, y]), [arr(2, 3), arr(0)])  # legacy empty 1-d skipped
    check(lambda m, x, y: m.cat([x, y]), [arr(2, 3), arr(2, 3, dtype=np.float32)])
    check(lambda m, x, y: m.cat([x, y]), [arr(2, 3, dtype=np.int64), arr(2, 3, dtype=np.float32)])
    check(lambda m, x, y: m.concat([x, y]), [arr(3), arr(3)])
    check(lambda m, x, y: m.stack([x, y]), [arr(), arr()])
    check(lambda m, x, y: m.hstack([x, y]), [arr(2, 3), arr(2, 1)])
    check(lambda m, x, y: m.vstack([x, y]), [arr(3), arr(3)])
    check(lambda m, x, y: m.dstack([x, y]), [arr(2, 3), arr(2, 3)])
    check(lambda m, x, y: m.column_stack([x, y]), [arr(3), arr(3, 2)])


def test_cat_errors():
    check_error(lambda m, x, y: m.cat([x, y]), [arr(2, 3), arr(2, 4)],
                match="Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1 in the list.")
    check_error(lambda m, x, y: m.cat([x, y]), [arr(2, 3), arr(2, 3, 1)], match="Tensors must have same number of dimensions")
    check_error(lambda m, x, y: m.cat([x, y]), [arr(), arr()], match="zero-dimensional tensor")
    check_error(lambda m: m.cat([]), [])
    check_error(lambda m, x, y: m.stack([x, y]), [arr(2, 3), arr(3, 2)], match="stack expects each tensor to be equal size")
    check_error(lambda m, x, y: m.cat([x, y], 2), [arr(2, 3), arr(2, 3)])
    check_error(lambda m, x: m.stack(x), [arr(2, 2)], match="must be tuple of Tensors, not Tensor")


def test_flip_roll_narrow():
    a = arr(3, 4, 2)
    for d in [0, 1, (0, 2), [-1], (0, 1, 2)]:
        check(lambda m, x: x.flip(d), [a])
    check(lambda m, x: m.fliplr(x), [a])
    check(lambda m, x: m.flipud(x), [a])
    check(lambda m, x: x.roll(1), [a])
    check(lambda m, x: x.roll(-2, 1), [a])
    check(lambda m, x: x.roll((1, 2), (0, 1)), [a])
    check(lambda m, x: m.roll(x, 5, -1), [a])
    for dim, start, length in [(0, 0, 2), (1, 1, 3), (-1, 1, 1), (0, -2, 2), (1, 4, 0)]:
        check(lambda m, x: x.narrow(dim, start, length), [a])
    check_error(lambda m, x: x.narrow(0, 2, 2), [a], match=r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)")
    check_error(lambda m, x: x.roll((1, 2), (0,)), [a])


def test_tril_triu():
    for shape in [(4, 4), (3, 5), (2, 4, 3)]:
        a = arr(*shape)
        for k in (-2, -1, 0, 1, 3):
            check(lambda m, x: x.tril(k), [a])
            check(lambda m, x: m.triu(x, k), [a])
            check(lambda m, x: m.triu(x, diagonal=k), [a])
    check_error(lambda m, x: m.tril(x), [arr(3)])


def test_shape_ops_int_bool():
    for dt in (np.int64, np.bool_):
        a = arr(2, 3, dtype=dt)
        check(lambda m, x: x.t().reshape(3, 2).flip(0).unsqueeze(1).expand(3, 2, 2), [a])
        check(lambda m, x: m.cat([x, x], 1).chunk(2, 0), [a])
        check(lambda m, x: m.stack([x, x]).permute(2, 0, 1).flatten(), [a])


def test_size_and_shape():
    x = nnbox.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == torch.Size([2, 3, 4])
    assert repr(x.shape) == "torch.Size([2, 3, 4])" == repr(torch.zeros(2, 3, 4).shape)
    assert x.size(1) == 3 and x.size(-1) == 4
    assert x.shape[1:] == (3, 4) and isinstance(x.shape[1:], nnbox.Size)
    assert x.shape.numel() == 24
    assert nnbox.Size([2, 3]) == (2, 3)
    assert repr(nnbox.Size([])) == repr(torch.Size([]))
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and nnbox.numel(x) == 24
    with pytest.raises(IndexError):
        x.size(3)


def test_T_deprecated_beyond_2d():
    for m in (torch, nnbox):
        with pytest.warns(UserWarning, match="The use of `x.T` on tensors of dimension other than 2"):
            assert tuple(m.ones(2, 3, 4).T.shape) == (4, 3, 2)
    check(lambda m, x: x.T, [arr(3)])


# --- second order (create_graph=True): each op on x * x, so the second derivative reaches x ----------

SECOND_ORDER = [
    lambda m, x: (x * x).view(6, 2) * x.reshape(6, 2),
    lambda m, x: (x * x).t().reshape(-1) ** 2,
    lambda m, x: (x * x).unsqueeze(1).squeeze() * x,
    lambda m, x: (x * x).permute(1, 0) * x.T,
    lambda m, x: (x * x)[:1].expand(3, 4) * x[:3],
    lambda m, x: (x * x).repeat(2, 1) * x.repeat(2, 1),
    lambda m, x: m.repeat_interleave(x * x, 2, dim=1) ** 2,
    lambda m, x: m.repeat_interleave(x * x, m.tensor([1, 0, 3]), dim=0) ** 2,
    lambda m, x: m.repeat_interleave(x ** 3, 2),
    lambda m, x: (x.t() * 1).contiguous() * x.t(),
    lambda m, x: (x * x).clone() * x,
    lambda m, x: m.cat([x * x, x ** 3, m.zeros(0)], dim=0),
    lambda m, x: m.stack([x * x, x], dim=1) ** 2,
    lambda m, x: [p * p for p in (x * x).split([1, 3], dim=1)],
    lambda m, x: [p * p for p in (x * x).chunk(2, dim=0)],
    lambda m, x: [p * x[0] for p in (x * x).unbind(0)],
    lambda m, x: m.flip(x * x, (0, 1)) * x,
    lambda m, x: m.roll(x * x, 1, 1) * x,
    lambda m, x: m.roll(x * x, (1, 2), (0, 1)) * x,
    lambda m, x: (x * x).narrow(1, 1, 2) ** 2,
    lambda m, x: m.tril(x * x) * x + m.triu(x ** 3, 1),
    lambda m, x: (x * x).flatten() ** 2,
    lambda m, x: m.movedim(x * x, 0, 1) * x.t(),
]


@pytest.mark.parametrize("k", range(len(SECOND_ORDER)))
def test_shape_second_order(k):
    check(SECOND_ORDER[k], [arr(3, 4)], order=2, rtol=1e-8)
