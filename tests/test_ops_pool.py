"""Recycled work arrays (``nnbox/ops/_pool.py``, issue 12): an array is handed out again only once
nothing else refers to it, so outputs and saved tensors of earlier calls stay intact."""
from __future__ import annotations

import numpy as np
import pytest

import nnbox
from nnbox.ops import _pool

pytestmark = pytest.mark.cpu_only(reason="the pool recycles NumPy arrays only (CuPy has its own)")

SHAPE = (256, 1024)  # 1 MiB of float32: large enough to be kept


@pytest.fixture(autouse=True)
def _empty_pool():
    _pool.clear()
    yield
    _pool.clear()


def test_live_arrays_are_never_handed_out_again():
    a = _pool.take("t", SHAPE, np.float32)
    view = a[3:]
    del a
    b = _pool.take("t", SHAPE, np.float32)
    assert not np.shares_memory(b, view)  # a view keeps its base alive
    del view
    c = _pool.take("t", SHAPE, np.float32)  # the first array is free again: recycled
    assert c.base is None and not np.shares_memory(c, b)
    assert c.shape == SHAPE and c.dtype == np.float32 and c.flags.c_contiguous


def test_free_array_is_recycled_and_zeroed_on_request():
    a = _pool.take("t", SHAPE, np.float32)
    a.fill(7)
    addr = a.__array_interface__["data"][0]
    del a
    b = _pool.take("t", SHAPE, np.float32, zero=True)
    assert b.__array_interface__["data"][0] == addr
    assert not b.any()


def test_tags_shapes_dtypes_and_small_arrays_are_apart():
    a = _pool.take("t", SHAPE, np.float32)
    addr = a.__array_interface__["data"][0]
    del a
    for tag, shape, dt in (("u", SHAPE, np.float32), ("t", (1024, 256), np.float32), ("t", SHAPE, np.float64)):
        assert _pool.take(tag, shape, dt).__array_interface__["data"][0] != addr
    small = _pool.take("t", (8,), np.float32)
    del small
    assert _pool._bytes == 5 << 20  # four arrays of 1, 1, 1 and 2 MiB; the 8 floats are not kept


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_outputs_and_graphs_survive_later_calls(kind):
    nnbox.manual_seed(0)
    mod = getattr(nnbox.nn, kind)(16, 64)  # outputs of 200 KiB: kept by the pool
    x1 = nnbox.randn(50, 16, 16, requires_grad=True)
    x2 = nnbox.randn(50, 16, 16, requires_grad=True)
    y1 = mod(x1)[0]
    keep = y1.detach().numpy().copy()
    y1.sum().backward(retain_graph=True)
    g1 = x1.grad.numpy().copy()
    for _ in range(3):  # same shapes: the pool would hand out y1's buffers if they were free
        mod(x2)[0].sum().backward()
    np.testing.assert_array_equal(y1.detach().numpy(), keep)
    x1.grad = None
    y1.sum().backward()  # the retained graph's saved arrays are intact too
    np.testing.assert_array_equal(x1.grad.numpy(), g1)


@pytest.mark.parametrize("n,c,o,k,s", [(16, 128, 64, 3, 8), (8, 32, 32, 5, 16)])  # Winograd; im2col
def test_conv_outputs_and_graphs_survive_later_calls(n, c, o, k, s, monkeypatch):
    calls = []
    wino = nnbox.ops._winograd.conv3x3
    monkeypatch.setattr(nnbox.ops._winograd, "conv3x3", lambda *a: calls.append(1) or wino(*a))
    nnbox.manual_seed(0)
    conv = nnbox.nn.Conv2d(c, o, k, padding=k // 2)  # outputs of 256 KiB or more: kept by the pool
    x1 = nnbox.randn(n, c, s, s, requires_grad=True)
    x2 = nnbox.randn(n, c, s, s, requires_grad=True)
    y1 = conv(x1)
    keep = y1.detach().numpy().copy()
    (y1 * y1).sum().backward(retain_graph=True)
    g1, gw1 = x1.grad.numpy().copy(), conv.weight.grad.numpy().copy()
    for _ in range(3):
        (conv(x2) ** 2).sum().backward()
        with nnbox.no_grad():
            conv(x2)
    np.testing.assert_array_equal(y1.detach().numpy(), keep)
    x1.grad = conv.weight.grad = None
    (y1 * y1).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), g1)
    np.testing.assert_array_equal(conv.weight.grad.numpy(), gw1)
    assert bool(calls) == (k == 3)
