"""``Tensor.index_put`` / ``index_put_`` (with ``accumulate``) against torch: values, gradients, errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error


def _idx(m, *lists):
    return tuple(m.tensor(np.array(x)) for x in lists)


@pytest.mark.parametrize("accumulate,index,vshape", [
    (True, ([0, 0, 2], [1, 1, 3]), (3,)),   # repeated positions add up
    (True, ([2, 0, 2],), (3, 4)),
    (False, ([0, 2], [1, 3]), (2,)),        # (torch leaves repeated plain writes unspecified)
    (False, ([2, 0],), (2, 4)),
    (False, ([1, 2],), (4,)),               # whole rows, values broadcast
    (True, ([1, 2],), (4,)),
    (False, ([0, 1], [3, 3]), ()),          # a scalar value
    (True, ([0, 1, 0], [3, 3, 3]), ()),
])
def test_index_put_matches_torch(accumulate, index, vshape):
    check(lambda m, x, v: x.index_put(_idx(m, *index), v, accumulate=accumulate), [arr(3, 4), arr(*vshape)])
    check(lambda m, x, v: m.index_put(x * 1, _idx(m, *index), v, accumulate=accumulate), [arr(3, 4), arr(*vshape)])


def test_index_put_bool_mask():
    mask = arr(3, 4, dtype=np.bool_)
    check(lambda m, x, v: x.index_put((m.tensor(mask),), v), [arr(3, 4), arr()])
    check(lambda m, x, v: x.index_put((m.tensor(mask[:, 0]),), v, accumulate=True), [arr(3, 4), arr(4)])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_inplace_on_non_leaf(accumulate):
    def f(m, x, v):
        y = x * 2
        r = y.index_put_(_idx(m, [0, 2, 2]), v, accumulate=accumulate) if accumulate else \
            y.index_put_(_idx(m, [0, 2]), v[:2])
        assert r is y
        return y
    check(f, [arr(3, 4), arr(3, 4)])


def test_index_put_inplace_no_grad_counts_repeats():
    t = nnbox.zeros(4, dtype=nnbox.int64)
    t.index_put_((nnbox.tensor([1, 1, 3]),), nnbox.tensor([5, 6, 7]), accumulate=True)
    assert t.tolist() == [0, 11, 0, 7]


@pytest.mark.parametrize("fn", [
    lambda m, x: x.index_put((m.tensor([0]),), m.ones(3, dtype=x.dtype)),    # shape mismatch
    lambda m, x: x.index_put((m.tensor([0.0]),), m.ones(4, dtype=x.dtype)),  # float index
    lambda m, x: x.index_put((m.tensor([5]),), m.tensor(1.0, dtype=x.dtype)),  # out of range
    lambda m, x: x.index_put((m.tensor([5]),), m.tensor(1.0, dtype=x.dtype), accumulate=True),
    lambda m, x: x.index_put((m.tensor([1]),), 1.0),                       # values not a Tensor
    lambda m, x: x.index_put((None, m.tensor([1])), m.tensor(1.0, dtype=x.dtype)),  # None index
    lambda m, x: x.index_put((m.tensor([1]),), m.tensor(1)),               # dtype mismatch
    lambda m, x: x.requires_grad_().index_put_((m.tensor([1]),), m.tensor(1.0, dtype=x.dtype)),  # leaf
])
def test_index_put_errors(fn):
    check_error(fn, [arr(3, 4)])


def test_index_put_failure_leaves_tensor_unchanged():
    t = nnbox.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 3"):
        t.index_put_((nnbox.tensor([0, 5]),), nnbox.tensor(1.0), accumulate=True)
    assert not t.any()
    assert torch.zeros(1).index_put_ is not None
