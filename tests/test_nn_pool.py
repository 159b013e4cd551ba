"""Pooling vs torch: values, indices, input gradients, errors; finite differences for the backwards."""
import numpy as np
import pytest

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check, check_error, fd_check

MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=2),
    dict(kernel_size=3, stride=1, padding=1),  # overlapping windows
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=2, padding=(1, 0), dilation=(1, 2), ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAX2D)
def test_max_pool2d(kw):
    check(lambda m, x: m.nn.functional.max_pool2d(x, **kw, return_indices=True), [arr(2, 3, 9, 8)])
    check(lambda m, x: m.nn.functional.max_pool2d(x, **kw), [arr(3, 7, 7, dtype=np.float32)])


def test_max_pool2d_ties_and_nan():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = 1.0
    x[0, 0, 3, 3] = np.nan
    check(lambda m, x: m.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True), [x])


def test_max_pool_integer():
    check(lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True), [arr(2, 2, 4, 4, dtype=np.int32)],
          grad=False)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, dilation=3, stride=1)])
def test_max_pool1d(kw):
    check(lambda m, x: m.nn.functional.max_pool1d(x, **kw, return_indices=True), [arr(2, 3, 11)])
    check(lambda m, x: m.nn.functional.max_pool1d(x, **kw), [arr(3, 11)])


def test_max_pool3d():
    check(lambda m, x: m.nn.functional.max_pool3d(x, 2, stride=(1, 2, 2), padding=1, return_indices=True),
          [arr(2, 2, 4, 5, 4)])


AVG2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=1, padding=(1, 1), divisor_override=5),
    dict(kernel_size=2, stride=3, ceil_mode=True),
]


@pytest.mark.parametrize("kw", AVG2D)
def test_avg_pool2d(kw):
    check(lambda m, x: m.nn.functional.avg_pool2d(x, **kw), [arr(2, 3, 9, 8)])
    check(lambda m, x: m.nn.functional.avg_pool2d(x, **kw), [arr(3, 7, 7, dtype=np.float32)])


def test_avg_pool2d_integer():
    check(lambda m, x: m.nn.functional.avg_pool2d(x, 3, 2, 1), [arr(2, 2, 5, 5, dtype=np.int64)], grad=False)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, padding=1, stride=1, count_include_pad=False)])
def test_avg_pool1d(kw):
    check(lambda m, x: m.nn.functional.avg_pool1d(x, **kw), [arr(2, 3, 11)])


def test_avg_pool3d():
    check(lambda m, x: m.nn.functional.avg_pool3d(x, 2, stride=(1, 2, 2), padding=1), [arr(2, 2, 4, 5, 4)])


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 5), 4, (None, 2), (7, 6)])
def test_adaptive_avg_pool2d(size):
    check(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, size), [arr(2, 3, 7, 6)])
    check(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, size), [arr(3, 8, 9, dtype=np.float32)])


@pytest.mark.parametrize("size", [1, 3, 4, 10])
def test_adaptive_avg_pool1d(size):
    check(lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, size), [arr(2, 3, 10)])


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 5), 4, (7, 6)])
def test_adaptive_max_pool2d(size):
    check(lambda m, x: m.nn.functional.adaptive_max_pool2d(x, size, return_indices=True), [arr(2, 3, 7, 6)])
    check(lambda m, x: m.nn.functional.adaptive_max_pool2d(x, size), [arr(3, 8, 9)])


def test_adaptive_max_pool1d():
    check(lambda m, x: m.nn.functional.adaptive_max_pool1d(x, 4, return_indices=True), [arr(2, 3, 10)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_unpool2d(kw):
    def fn(m, x):
        y, i = m.nn.functional.max_pool2d(x, return_indices=True, **kw)
        return m.nn.functional.max_unpool2d(y * 2, i, output_size=x.shape, **kw)
    check(fn, [arr(2, 3, 7, 8)])


def test_max_unpool1d():
    def fn(m, x):
        y, i = m.nn.functional.max_pool1d(x, 2, return_indices=True)
        return m.nn.functional.max_unpool1d(y, i, 2)
    check(fn, [arr(2, 3, 8)])


def test_lp_pool2d():
    check(lambda m, x: m.nn.functional.lp_pool2d(x, 2, 2), [arr(2, 3, 6, 6, positive=True)])


def test_numerical_gradients():
    fd_check(lambda x: NF.max_pool2d(x, 3, 2, 1, ceil_mode=True), [arr(1, 2, 6, 5)])
    fd_check(lambda x: NF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [arr(1, 2, 6, 5)])
    fd_check(lambda x: NF.adaptive_avg_pool2d(x, (3, 4)), [arr(1, 2, 7, 5)])
    fd_check(lambda x: NF.adaptive_max_pool2d(x, (3, 4)), [arr(1, 2, 7, 5)])


@pytest.mark.parametrize("fn,ins,msg", [
    (lambda m, x: m.nn.functional.max_pool2d(x, 3, padding=2), [arr(2, 3, 7, 7)], "pad should be at most half"),
    (lambda m, x: m.nn.functional.avg_pool2d(x, 3, padding=2), [arr(2, 3, 7, 7)], "pad should be at most half"),
    (lambda m, x: m.nn.functional.max_pool2d(x, 3, stride=0), [arr(2, 3, 7, 7)], "stride should not be zero"),
    (lambda m, x: m.nn.functional.max_pool2d(x, 2), [arr(2, 3)], "3D or 4D"),
    (lambda m, x: m.nn.functional.max_pool2d(x, 3), [arr(1, 1, 2, 2)], "Output size is too small"),
    (lambda m, x: m.nn.functional.max_pool1d(x, 2), [arr(2, 3, 4, 5)], "max_pool1d"),
    (lambda m, x: m.nn.functional.max_pool2d(x, 2, padding=-1), [arr(2, 3, 4, 5)], "pad must be non-negative"),
    (lambda m, x: m.nn.functional.max_pool2d(x, 3, dilation=0), [arr(2, 3, 7, 7)], "dilation"),
    (lambda m, x: m.nn.functional.max_pool2d(x, (2, 2, 2)), [arr(2, 3, 7, 7)], "kernel_size must"),
    (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 2), [arr(3)], "Expected 3D or 4D"),
])
def test_errors(fn, ins, msg):
    check_error(fn, ins, match=msg)


def test_unpool_bad_index():
    # pooling a 7x7 input records flat indices into 7x7; unpooling to the default 6x6 output must
    # reject an index past 35.  The last window's max sits at (5, 5) = flat 40, whatever the data.
    def fn(m, x):
        y, i = m.nn.functional.max_pool2d(x, 2, return_indices=True)
        return m.nn.functional.max_unpool2d(y, i, 2)
    x = arr(1, 1, 7, 7)
    x[..., 5, 5] = 100.0
    check_error(fn, [x], match="invalid max index")


# --- double backward (create_graph=True) --------------------------------------------------------------
def _squared(fn):
    """``pool(x) ** 2`` (as a product): the second derivative w.r.t. x goes through the pool's
    backward and the backward of that backward."""
    def f(m, x):
        y = fn(m, x)
        return y * y
    return f


TWICE = [
    lambda m, x: m.nn.functional.max_pool2d(x, 2),
    lambda m, x: m.nn.functional.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
    lambda m, x: m.nn.functional.max_pool2d(x, 3, stride=1, padding=1),  # overlapping windows
    lambda m, x: m.nn.functional.max_pool2d(x, (2, 3), stride=(1, 2), dilation=2),
    lambda m, x: m.nn.functional.avg_pool2d(x, 2),
    lambda m, x: m.nn.functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    lambda m, x: m.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, divisor_override=5),
    lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
    lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (3, 5)),
    lambda m, x: m.nn.functional.adaptive_max_pool2d(x, (3, 5)),
    lambda m, x: m.nn.functional.max_unpool2d(*m.nn.functional.max_pool2d(x, 2, return_indices=True), 2),
]


@pytest.mark.parametrize("fn", TWICE)
def test_pool_double_backward_matches_torch(fn):
    check(_squared(fn), [arr(2, 3, 7, 8)], order=2)


def test_pool1d_double_backward_matches_torch():
    check(_squared(lambda m, x: m.nn.functional.max_pool1d(x, 3, stride=2, padding=1)), [arr(2, 3, 9)], order=2)
    check(_squared(lambda m, x: m.nn.functional.avg_pool1d(x, 3, stride=2)), [arr(2, 3, 9)], order=2)
    check(_squared(lambda m, x: m.nn.functional.adaptive_max_pool1d(x, 4)), [arr(2, 3, 10)], order=2)


def test_pool3d_double_backward_matches_torch():
    check(_squared(lambda m, x: m.nn.functional.max_pool3d(x, 2, stride=(1, 2, 2), padding=1)),
          [arr(2, 2, 4, 5, 4)], order=2)
    check(_squared(lambda m, x: m.nn.functional.avg_pool3d(x, 2, stride=(1, 2, 2), padding=1)),
          [arr(2, 2, 4, 5, 4)], order=2)


@pytest.mark.parametrize("i", [0, 2, 4, 9])
def test_pool_gradgrad_finite_differences(i):
    from oracle import gradgrad_fd

    x = nnbox.tensor(arr(1, 2, 6, 7), requires_grad=True)
    assert gradgrad_fd(lambda x: _squared(TWICE[i])(nnbox, x), (x,))
