"""Indexing against torch: t[key] and t[key] = v (values, gradients, views, errors), gather/scatter,
index_select, masked_fill, where, sort/topk."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error

BASIC_KEYS = [
    0, -1, 1, slice(None), slice(1, 3), slice(None, None, 2), slice(-2, None), slice(5, 10),
    (0, 1), (slice(None), 0), (Ellipsis, 0), (Ellipsis, slice(1, 2)), (None, 0), (0, None, slice(None)),
    (slice(None), None, 1), (1, Ellipsis, None), Ellipsis, None, (slice(0, 0),), (-1, -1, -1),
    (slice(1, None), slice(None, 2), 0),
]


@pytest.mark.parametrize("key", BASIC_KEYS, ids=[repr(k) for k in BASIC_KEYS])
def test_getitem_basic(key):
    check(lambda m, x: x[key], [arr(3, 4, 5)])


ADV = [
    lambda m: m.tensor([0, 2]),
    lambda m: m.tensor([[0, 1], [2, 2]]),
    lambda m: [0, 2, 2],
    lambda m: (m.tensor([0, 1]), m.tensor([1, 3])),
    lambda m: (slice(None), m.tensor([0, 0, 3])),
    lambda m: (m.tensor([2, 0]), slice(1, 3), m.tensor([4, 0])),
    lambda m: (Ellipsis, m.tensor([1, 1])),
    lambda m: (m.tensor([1]), Ellipsis, m.tensor([0, 2])),
    lambda m: m.tensor(1),
    lambda m: (m.tensor(1), m.tensor(2)),
    lambda m: (0, m.tensor([1, 2])),
    lambda m: (m.tensor([0, 2]), None),
    lambda m: [True, False, True],
    lambda m: m.tensor([-1, -3]),
    lambda m: (m.tensor([[0], [1]]), m.tensor([[0, 1, 2]])),
]


@pytest.mark.parametrize("k", range(len(ADV)))
def test_getitem_advanced(k):
    check(lambda m, x: x[ADV[k](m)], [arr(3, 4, 5)])


def test_getitem_bool_masks():
    a = arr(3, 4)
    check(lambda m, x: x[x > 0], [a])
    check(lambda m, x: x[m.tensor([True, False, True])], [a])
    check(lambda m, x: x[:, m.tensor([True, False, True, True])], [a])
    check(lambda m, x: x[m.tensor([[True, False, True, True]] * 3)], [a])
    check(lambda m, x: x[m.tensor(True)], [a])
    check(lambda m, x: x[m.tensor(False)], [a])
    check(lambda m, x: x[m.tensor(True)], [arr()])
    check(lambda m, x: x[m.zeros(3, dtype=m.bool)], [a])
    check(lambda m, x: x[x > 10], [a])


def test_getitem_int_types_and_0d():
    a = arr(5, 2)
    check(lambda m, x: x[m.tensor([1, 3], dtype=m.int32)], [a])
    check(lambda m, x: x[np.int64(2)], [a])
    check(lambda m, x: x[m.tensor(3)], [a])
    check(lambda m, x: x[...], [arr()])
    check(lambda m, x: x[None], [arr()])
    check(lambda m, x: x[()], [arr()])


def test_getitem_repeated_index_grad_accumulates():
    check(lambda m, x: x[m.tensor([0, 0, 1, 0])], [arr(3, 2)])
    check(lambda m, x: x[[1, 1, 1]].sum(0), [arr(3)])


def test_getitem_int_and_bool_tensors_of_ints():
    check(lambda m, x: x[1:, ::2], [arr(4, 6, dtype=np.int64)])
    check(lambda m, x: x[m.tensor([0, 2])], [arr(3, dtype=np.bool_)])


@pytest.mark.cpu_only(reason="CuPy wraps out-of-range integer-array indices; torch on cuda reports a device-side assert later")
def test_getitem_tensor_index_out_of_range():
    check_error(lambda m, x: x[m.tensor([0, 5])], [arr(3, 4)])


def test_getitem_errors():
    a = arr(3, 4)
    check_error(lambda m, x: x[3], [a], match="index 3 is out of bounds for dimension 0 with size 3")
    check_error(lambda m, x: x[:, 4], [a], match="index 4 is out of bounds for dimension 1 with size 4")
    check_error(lambda m, x: x[0, 0, 0], [a], match="too many indices for tensor of dimension 2")
    check_error(lambda m, x: x[m.tensor([0.0])], [a])
    check_error(lambda m, x: x[0], [arr()], match="invalid index of a 0-dim tensor")
    check_error(lambda m, x: x[::-1], [a])
    check_error(lambda m, x: x[1.5], [a], match=r"valid indices \(got float\)")
    check_error(lambda m, x: x[m.tensor([True, False])], [a])


def test_slice_is_view():
    x = nnbox.arange(12).reshape(3, 4)
    row = x[1]
    row[0] = 100
    assert x[1, 0].item() == 100
    col = x[:, 2]
    col.mul_(2)
    assert x[:, 2].tolist() == [4, 12, 20]
    adv = x[[0, 1]]
    adv[0, 0] = -5
    assert x[0, 0].item() == 0  # advanced indexing copies


SET_KEYS = [
    (0, lambda m, s: 1.5),
    (slice(1, 3), lambda m, s: 0.0),
    ((slice(None), 1), lambda m, s: m.tensor(np.arange(5.0))),
    ((Ellipsis, 0), lambda m, s: m.tensor(np.ones((3, 4)))),
    ((0, 1, 2), lambda m, s: -1.0),
    (None, lambda m, s: m.tensor(np.ones(5))),
]


@pytest.mark.parametrize("k", range(len(SET_KEYS)))
def test_setitem_values(k):
    key, val = SET_KEYS[k]

    def fn(m, x):
        y = x.clone()
        y[key] = val(m, y)
        return y

    check(fn, [arr(3, 4, 5)])


def test_setitem_advanced_and_mask():
    def f1(m, x):
        y = x.clone()
        y[y > 0] = 0.0
        return y

    def f2(m, x):
        y = x.clone()
        y[m.tensor([0, 2])] = m.tensor(np.full((2, 4), 7.0))
        return y

    def f3(m, x):
        y = x.clone()
        y[[0, 1], [1, 2]] = m.tensor([5.0, 6.0], dtype=m.float64)
        return y

    for f in (f1, f2, f3):
        check(f, [arr(3, 4)])


def test_setitem_grad_to_value():
    def fn(m, x, v):
        y = x * 1.0
        y[1:3, 0] = v
        return y * 2

    check(fn, [arr(4, 3), arr(2)])

    def fn2(m, x, v):
        y = x.clone()
        y[:, m.tensor([0, 2])] = v
        return y

    check(fn2, [arr(3, 4), arr(3, 1)])

    def fn3(m, x, v):
        y = x.clone()
        y[0] = v  # v broadcast over the row
        return y.sum(1)

    check(fn3, [arr(3, 4), arr()])


def test_setitem_dtype_cast_and_int():
    def fn(m, x):
        y = x.clone()
        y[0] = 2.7  # float into int: truncates
        y[1] = True
        return y

    check(fn, [arr(3, 2, dtype=np.int64)])

    def fn2(m, x):
        y = x.clone()
        y[0] = m.tensor([1, 2], dtype=m.int64)
        return y

    check(fn2, [arr(3, 2, dtype=np.float32)])


def test_setitem_leaf_errors():
    for m in (torch, nnbox):
        x = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
            x[0] = 2.0
        with m.no_grad():
            x[0] = 2.0
        assert x[0].item() == 2.0
    check_error(lambda m, x: x.__setitem__(0, m.ones(3)), [arr(3, 2)])
    check_error(lambda m, x: x.__setitem__(5, 1.0), [arr(3, 2)])


def test_setitem_bumps_version_and_saved_check():
    for m in (torch, nnbox):
        a = m.ones(3, requires_grad=True)
        b = a * 2
        c = b * b  # saves b
        v = b._version
        b[0] = 5.0
        assert b._version == v + 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


# --- gather / scatter / index_select -------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    a = arr(3, 4)
    idx = np.array([[0, 1, 2], [2, 2, 0]]) if dim == 0 else np.array([[0, 3], [1, 1], [3, 0]])
    check(lambda m, x: m.gather(x, dim, m.tensor(idx)), [a])
    check(lambda m, x: x.gather(dim, m.tensor(idx)), [a])


def test_gather_3d_and_errors():
    a = arr(2, 3, 4)
    idx = np.random.default_rng(0).integers(0, 3, size=(2, 2, 4))
    check(lambda m, x: m.gather(x, 1, m.tensor(idx)), [a])
    check(lambda m, x: m.gather(x, 1, m.tensor([[0, 1]], dtype=m.int32)), [arr(2, 3)])
    check_error(lambda m, x: m.gather(x, 1, m.tensor([[0, 1]], dtype=m.uint8)), [arr(2, 3)], match="int32/int64")
    check_error(lambda m, x: m.gather(x, 1, m.tensor([[0, 5]])), [arr(2, 3)])
    check_error(lambda m, x: m.gather(x, 1, m.tensor([0, 1])), [arr(2, 3)])


@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_and_add(dim):
    a = arr(3, 5)
    if dim == 0:
        idx = np.array([[0, 1, 2, 0, 1], [2, 0, 0, 1, 2]])
    else:
        idx = np.array([[0, 1], [4, 4], [2, 0]])
    src = arr(*idx.shape)
    check(lambda m, x, s: m.scatter_add(x, dim, m.tensor(idx), s), [a, src])
    check(lambda m, x, s: x.scatter_add(dim, m.tensor(idx), s), [a, src])
    # scatter with unique indices (repeated ones are nondeterministic in torch)
    uidx = np.array([[0, 1, 2, 0, 1]]) if dim == 0 else np.array([[0, 3], [4, 1], [2, 0]])
    usrc = arr(*uidx.shape)
    check(lambda m, x, s: m.scatter(x, dim, m.tensor(uidx), s), [a, usrc])
    check(lambda m, x: x.scatter(dim, m.tensor(uidx), 2.5), [a])
    check(lambda m, x: x.scatter(dim, m.tensor(uidx), value=-1.0), [a])


def test_scatter_src_larger_than_index():
    check(lambda m, x, s: m.scatter(x, 1, m.tensor([[0], [2]]), s), [arr(2, 3), arr(2, 4)], grad=False)
    check(lambda m, x, s: m.scatter_add(x, 0, m.tensor([[1, 0]]), s), [arr(2, 3), arr(3, 3)], grad=False)


def test_scatter_inplace_and_reduce():
    def fn(m, x, s):
        y = x.clone()
        y.scatter_(1, m.tensor([[0], [1]]), s)
        return y

    check(fn, [arr(2, 3), arr(2, 1)])

    def fn2(m, x, s):
        y = x.clone()
        y.scatter_add_(0, m.tensor([[0, 1, 1]]), s)
        return y

    check(fn2, [arr(2, 3), arr(1, 3)])
    check(lambda m, x: x.scatter(1, m.tensor([[0], [1]]), 2.0, reduce="multiply"), [arr(2, 3)], grad=False)
    check(lambda m, x: x.scatter(1, m.tensor([[0], [1]]), 2.0, reduce="add"), [arr(2, 3)], grad=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim):
    a = arr(3, 4)
    idx = [0, 2, 2] if dim == 0 else [3, 0]
    check(lambda m, x: m.index_select(x, dim, m.tensor(idx)), [a])
    check(lambda m, x: x.index_select(dim, m.tensor(idx)), [a])
    check(lambda m, x: x.index_select(dim, m.tensor(idx, dtype=m.int32)), [a])


def test_index_select_errors_and_0d():
    check(lambda m, x: x.index_select(0, m.tensor([0])), [arr()])
    check_error(lambda m, x: x.index_select(0, m.tensor([0, 0])), [arr()])
    check_error(lambda m, x: x.index_select(0, m.tensor([0], dtype=m.int16)), [arr(3)], match="int32 or int64")
    check_error(lambda m, x: x.index_select(0, m.tensor([[0]])), [arr(3)])
    check_error(lambda m, x: x.index_select(0, m.tensor([5])), [arr(3)], match="out of range")
    check_error(lambda m, x: x.index_select(0, m.tensor([0.0])), [arr(3)])


def test_index_add_fill_take():
    check(lambda m, x, s: x.index_add(0, m.tensor([0, 2, 0]), s), [arr(3, 2), arr(3, 2)])
    check(lambda m, x, s: m.index_add(x, 1, m.tensor([1, 0]), s, alpha=2.0), [arr(3, 2), arr(3, 2)])
    check(lambda m, x: x.index_fill(1, m.tensor([0, 2]), -1.0), [arr(2, 3)])
    check(lambda m, x: m.take(x, m.tensor([[0, 5], [3, 3]])), [arr(2, 3)])
    check(lambda m, x: m.take_along_dim(x, m.tensor([[0], [2]]), 1), [arr(2, 3)])
    check(lambda m, x: m.masked_select(x, x > 0), [arr(2, 3)])


# --- masked_fill / where ----------------------------------------------------------------------

def test_masked_fill():
    a = arr(3, 4)
    mask = np.array([True, False, True, False])
    check(lambda m, x: x.masked_fill(m.tensor(mask), 0.0), [a])
    check(lambda m, x: m.masked_fill(x, m.tensor(mask), float("-inf")), [a])
    check(lambda m, x: x.masked_fill(x > 0, -1), [a])
    check(lambda m, x, v: x.masked_fill(x > 0, v), [a, arr()])
    check(lambda m, x: x.masked_fill(m.tensor(mask[:, None][:3] if False else [[True], [False], [True]]), 9.0), [a])
    check(lambda m, x: x.masked_fill(x > 0, 2.5), [arr(3, 4, dtype=np.int64)])

    def inplace(m, x):
        y = x.clone()
        y.masked_fill_(y < 0, 0.0)
        return y

    check(inplace, [a])
    check_error(lambda m, x: x.masked_fill(m.tensor([1, 0, 1, 0]), 0.0), [a], match="boolean")
    check_error(lambda m, x: x.masked_fill(m.tensor([True, False]), 0.0), [a])


def test_where():
    a, b = arr(3, 4), arr(4)
    check(lambda m, x, y: m.where(x > 0, x, y), [a, b])
    check(lambda m, x, y: m.where(y > 0, x, y), [a, b])
    check(lambda m, x: m.where(x > 0, x, 0.0), [a])
    check(lambda m, x: m.where(x > 0, 1.0, x), [a])
    check(lambda m, x: m.where(x > 0, 1.0, 0.0), [a])
    check(lambda m, x: m.where(x > 0, 1, 0), [a])
    check(lambda m, x, y: x.where(x > 0, y), [a, b])
    check(lambda m, x, y: m.where(x > 0, x, y), [arr(3, 4, dtype=np.float32), arr(4, dtype=np.float64)])
    check(lambda m, x, y: m.where(x > 0, x, y), [arr(3, 4, dtype=np.int64), arr(4, dtype=np.float32)])
    check(lambda m, x: m.where(x > 0), [a])
    check_error(lambda m, x, y: m.where(x > 0, x, y), [arr(3, 4), arr(3)])


def test_nonzero_argwhere():
    a = arr(3, 4, dtype=np.int64)
    check(lambda m, x: m.nonzero(x), [a], grad=False)
    check(lambda m, x: x.nonzero(as_tuple=True), [a], grad=False)
    check(lambda m, x: m.argwhere(x), [a], grad=False)
    check(lambda m, x: m.nonzero(x), [arr(dtype=np.int64)], grad=False)


# --- sort / topk -------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("desc", [False, True])
def test_sort(dim, desc):
    a = arr(4, 5)
    check(lambda m, x: m.sort(x, dim, desc), [a])
    check(lambda m, x: x.sort(dim=dim, descending=desc), [a])
    check(lambda m, x: x.argsort(dim, descending=desc), [a], grad=False)
    check(lambda m, x: m.sort(x, stable=True, dim=dim, descending=desc), [arr(4, 5, dtype=np.int64)], grad=False)


def test_topk_kthvalue():
    a = arr(4, 6)
    for k in (1, 3, 6):
        check(lambda m, x: m.topk(x, k), [a])
        check(lambda m, x: x.topk(k, dim=0, largest=False) if k <= 4 else x.topk(2, 0), [a])
    check(lambda m, x: m.kthvalue(x, 2, 1), [a])
    check(lambda m, x: m.kthvalue(x, 1, 0, keepdim=True), [a])
    check_error(lambda m, x: x.topk(7), [a])


# --- second order (create_graph=True) --------------------------------------------------------------

def _setitem(m, x, v, key):
    y = x * x
    y[key] = v * v
    return y * x


def _inplace_on_view(m, x, v):
    y = x * x
    w = y[1:3]
    w.mul_(v[:4])  # the base y is rebased (CopySlices), w re-derived from it
    return y * x + w.sum()


SECOND_ORDER = [
    _inplace_on_view,
    lambda m, x, v: (x * x)[1:3, 0] * v[0],
    lambda m, x, v: x[m.tensor([0, 2, 2])] * x[0],
    lambda m, x, v: x[x > 0] ** 2,
    lambda m, x, v: m.gather(x * x, 1, m.tensor([[0, 3], [1, 1], [3, 0], [2, 2]])) * v[:2],
    lambda m, x, v: m.index_select(x, 1, m.tensor([3, 0, 3])) ** 3,
    lambda m, x, v: m.scatter_add(x * x, 1, m.tensor([[0, 1], [3, 3], [2, 0], [1, 1]]), v.reshape(4, 2) * x[:, :2]),
    lambda m, x, v: m.scatter(x * x, 1, m.tensor([[0, 3], [3, 1], [2, 0], [1, 2]]), v.reshape(4, 2) ** 2),
    lambda m, x, v: m.where(x > 0, x * x, v[:4].reshape(4, 1) ** 3),
    lambda m, x, v: m.masked_fill(x * x, x < 0, 2.0) * x,
    lambda m, x, v: m.index_add(x * x, 0, m.tensor([1, 1]), v.reshape(2, 4) * x[:2]),
    lambda m, x, v: _setitem(m, x, v[:4], (slice(None), 1)),
    lambda m, x, v: _setitem(m, x, v[:2], (m.tensor([0, 3]), m.tensor([1, 1]))),
    lambda m, x, v: m.sort(x * v[:4], dim=1)[0] ** 2,
    lambda m, x, v: m.topk(x ** 3, 2, dim=0)[0] * x[:2],
    lambda m, x, v: m.take_along_dim(x * x, m.tensor([[0], [2], [1], [3]]), dim=1),
]


@pytest.mark.parametrize("k", range(len(SECOND_ORDER)))
def test_index_second_order(k):
    check(SECOND_ORDER[k], [arr(4, 4), arr(8)], order=2, rtol=1e-8)
