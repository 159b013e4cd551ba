"""Property tests: random broadcastable shapes for binary ops and random dims for reductions give
torch's values and gradients, and every gradient has its input's shape."""
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnbox
from oracle import check

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4))
    return shapes.input_shapes


def _floats(low=-3.0, high=3.0):
    # multiples of 1/1024: exact in binary, and no denormals (where torch's own prod/std formulas
    # round differently from an exact computation)
    return st.integers(int(low * 1024), int(high * 1024)).map(lambda i: i / 1024.0)


def _values(draw_shape, draw, positive=False):
    return draw(hnp.arrays(np.float64, draw_shape, elements=_floats(0.5 if positive else -3, 3)))


BINARY = {
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: x / y,
    "pow": lambda m, x, y: x ** y,
    "maximum": lambda m, x, y: m.maximum(x, y),
    "where": lambda m, x, y: m.where(x > y, x, y),
    "atan2": lambda m, x, y: m.atan2(x, y),
}


@SETTINGS
@given(data=st.data(), op=st.sampled_from(sorted(BINARY)))
def test_binary_broadcasting(data, op):
    sa, sb = data.draw(broadcastable_pair())
    positive = op in ("div", "pow", "atan2")
    a = _values(sa, data.draw, positive)
    b = _values(sb, data.draw, positive)
    if op in ("maximum", "where"):  # ties make the subgradient a convention; keep values distinct
        b = np.asarray(b + 0.25 * np.sign(b - np.broadcast_to(a, np.broadcast_shapes(sa, sb)).mean() + 1e-3))
    _, n_out = check(BINARY[op], [a, b], rtol=1e-9, atol=1e-9)
    assert tuple(n_out.shape) == np.broadcast_shapes(sa, sb)


@SETTINGS
@given(data=st.data())
def test_broadcast_grads_have_input_shapes(data):
    sa, sb = data.draw(broadcastable_pair())
    x = nnbox.tensor(_values(sa, data.draw), requires_grad=True)
    y = nnbox.tensor(_values(sb, data.draw), requires_grad=True)
    (x * y + x - y).sum().backward()
    assert x.grad.shape == x.shape and y.grad.shape == y.shape


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.int64, np.bool_, np.int32]),
       other=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]))
def test_binary_promotion_random_shapes(data, dtype, other):
    sa, sb = data.draw(broadcastable_pair())
    a = (data.draw(hnp.arrays(np.int64, sa, elements=st.integers(0, 5)))).astype(dtype)
    b = (data.draw(hnp.arrays(np.int64, sb, elements=st.integers(1, 5)))).astype(other)
    check(lambda m, x, y: x * y, [a, b], grad=False)
    check(lambda m, x, y: x / y, [a, b + 1 if other != np.bool_ else np.ones(sb, bool)], grad=False)
    check(lambda m, x, y: x >= y, [a, b], grad=False)


@st.composite
def array_and_dims(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    dims = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                         unique_by=lambda d: d % nd))
    a = draw(hnp.arrays(np.float64, shape, elements=_floats(), unique=True))
    return a, dims


REDUCE_MULTI = {
    "sum": lambda m, x, d, k: x.sum(d, keepdim=k),
    "mean": lambda m, x, d, k: x.mean(d, keepdim=k),
    "amax": lambda m, x, d, k: x.amax(d, keepdim=k),
    "amin": lambda m, x, d, k: m.amin(x, d, keepdim=k),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, d, keepdim=k),
    "var": lambda m, x, d, k: x.var(d, keepdim=k),
    "std0": lambda m, x, d, k: x.std(d, keepdim=k, correction=0),
}


@SETTINGS
@given(ad=array_and_dims(), keepdim=st.booleans(), op=st.sampled_from(sorted(REDUCE_MULTI)))
def test_reductions_over_dims(ad, keepdim, op):
    a, dims = ad
    dims = tuple(dims)
    n = int(np.prod([a.shape[d] for d in dims]))
    if op in ("var", "std0") and n < 2:
        return
    check(lambda m, x: REDUCE_MULTI[op](m, x, dims, keepdim), [a], rtol=1e-9, atol=1e-9)


REDUCE_ONE = {
    "max": lambda m, x, d, k: x.max(d, keepdim=k),
    "min": lambda m, x, d, k: x.min(d, keepdim=k),
    "prod": lambda m, x, d, k: x.prod(d, keepdim=k),
    "cumsum": lambda m, x, d, k: x.cumsum(d),
    "cumprod": lambda m, x, d, k: x.cumprod(d),
    "softmax": lambda m, x, d, k: x.softmax(d),
    "log_softmax": lambda m, x, d, k: x.log_softmax(d),
    "argmax": lambda m, x, d, k: x.argmax(d, keepdim=k),
    "median": lambda m, x, d, k: x.median(d, keepdim=k),
    "sort": lambda m, x, d, k: x.sort(d, descending=k),
}


@SETTINGS
@given(ad=array_and_dims(), keepdim=st.booleans(), op=st.sampled_from(sorted(REDUCE_ONE)))
def test_reductions_along_one_dim(ad, keepdim, op):
    a, dims = ad
    check(lambda m, x: REDUCE_ONE[op](m, x, dims[0], keepdim), [a], rtol=1e-9, atol=1e-9)


@SETTINGS
@given(data=st.data())
def test_full_reductions_and_reshape_roundtrip(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    a = _values(shape, data.draw)
    check(lambda m, x: (x.sum(), x.reshape(-1).flip(0), x.unsqueeze(0).transpose(0, -1)), [a])
    if a.size:
        check(lambda m, x: (x.max(), x.mean(), x.prod()), [a])


def test_torch_is_the_oracle():
    assert torch.__version__.startswith("2.13")
