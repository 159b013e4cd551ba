"""The optimizers on the CPU update large parameters slice by slice (a plain loop with one thread, the
worker pool with more) with their constants as 0-d arrays (issue 12): every way of running a step
gives the same bits as the whole-array update, and the results follow torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
import nnbox.optim.optimizer as optimizer_mod
from nnbox.optim.optimizer import _ufunc_consts

CHUNK = optimizer_mod._CHUNK
# a partial last slice, an exact multiple of the slice, one slice and a bit, small, 2-d, and one
# slice that BLAS would split over its threads
SHAPES = [(2 * CHUNK + 777,), (2 * CHUNK,), (300, 230), (7,), (64, 3, 3), (30001,)]

CASES = [
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.5))),  # 1 - b1 >= 0.5: lerp's other side
    ("AdamW", dict(lr=1e-2)),
    ("Adam", dict(lr="tensor32")),
    ("Adam", dict(lr="tensor64")),
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.3, maximize=True)),
    ("SGD", dict(lr="tensor32", momentum=0.9)),
]
# the other optimizers share the weight decay's axpy, and their small parameters go to the pool too
# (RMSprop's step divides by a square root of small values: a rounding apart in the gradient can
# move an element by 2e-5 there, so it is checked for its bits, not against torch)
BITS_CASES = CASES + [("RMSprop", dict(lr=1e-2, weight_decay=0.1))]


def _ids(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _lr(m, lr):
    if lr == "tensor32":
        return m.tensor(0.01, dtype=m.float32)
    if lr == "tensor64":
        return m.tensor(0.01, dtype=m.float64)
    return lr


def _run(m, name, kw, dt, steps=3, strided=False):
    rng = np.random.default_rng(0)
    ps = [m.tensor(rng.standard_normal(s).astype(dt), requires_grad=True) for s in SHAPES]
    if strided:  # a transposed view: updated whole, never sliced
        ps.append(m.tensor(rng.standard_normal((40, 30)).astype(dt)).t().requires_grad_())
    opt = getattr(m.optim, name)(ps, **{**kw, "lr": _lr(m, kw["lr"])})
    for _ in range(steps):
        for p in ps:
            p.grad = m.tensor(rng.standard_normal(tuple(p.shape)).astype(dt))
        opt.step()
    return [p.detach().numpy().copy() for p in ps]


@pytest.fixture
def threads():
    n = nnbox.get_num_threads()
    yield
    nnbox.set_num_threads(n)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", BITS_CASES, ids=_ids)
def test_slices_and_threads_give_the_whole_update_bits(case, dt, threads, monkeypatch):
    name, kw = case
    nnbox.set_num_threads(1)
    one = _run(nnbox, name, kw, dt, strided=True)
    nnbox.set_num_threads(2)
    two = _run(nnbox, name, kw, dt, strided=True)
    nnbox.set_num_threads(1)
    monkeypatch.setattr(optimizer_mod, "_CHUNK", 1 << 40)  # every parameter in one call
    whole = _run(nnbox, name, kw, dt, strided=True)
    for a, b, c in zip(one, two, whole):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_sliced_update_follows_torch(case, dt, threads):
    name, kw = case
    nnbox.set_num_threads(1)
    # float32: a few ulps of the O(1) values (torch's add_ with alpha is one fused multiply-add, ours
    # rounds the product first); float64 to rounding
    tol = dict(rtol=1e-6, atol=1e-6) if dt is np.float32 else dict(rtol=1e-12, atol=1e-14)
    for a, b in zip(_run(torch, name, kw, dt), _run(nnbox, name, kw, dt)):
        np.testing.assert_allclose(b, a, **tol)


def test_ufunc_consts_only_turn_python_floats_on_numpy_float_arrays_into_0d():
    a32, a64 = np.ones(3, np.float32), np.ones(3, np.float64)
    c = _ufunc_consts(a32, 0.1, 2, np.float64(0.5), None, True)
    assert isinstance(c[0], np.ndarray) and c[0].shape == () and c[0].dtype == np.float32
    assert c[1:4] == (2, np.float64(0.5), None) and type(c[2]) is np.float64 and c[4] is True
    assert _ufunc_consts(a64, 0.1)[0].dtype == np.float64
    assert _ufunc_consts(np.ones(3, np.float16), 0.1) == (0.1,)  # other dtypes: as given
    # the same bits as NumPy's own rounding of a Python float operand (NEP 50)
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    for v in (0.1, 1e-8, -0.0123456789, 0.999, 1e-3 / (1 - 0.9**3)):
        (k,) = _ufunc_consts(x, v)
        for f in (np.add, np.subtract, np.multiply, np.divide):
            np.testing.assert_array_equal(f(x, k), f(x, v))


@pytest.mark.cpu_only(reason="only NumPy parameters are updated in slices on the threads")
def test_sliced_step_runs_queued_slices_at_the_end_and_leaves_nothing_behind(threads):
    nnbox.set_num_threads(2)
    p = nnbox.zeros(3 * CHUNK, requires_grad=True)
    p.grad = nnbox.ones(3 * CHUNK)
    opt = nnbox.optim.SGD([p], lr=0.5)
    with opt._sliced_step():
        opt.step()  # a step inside the block queues its slices with the block's
        assert float(p.detach().numpy().max()) == 0.0
    np.testing.assert_array_equal(p.detach().numpy(), -0.5)
    assert "_batch" not in opt.__dict__
    with pytest.raises(ValueError, match="boom"):  # an error inside the block: the queue is dropped
        with opt._sliced_step():
            opt._update(lambda *a: None, [p._data], 0)
            raise ValueError("boom")
    assert "_batch" not in opt.__dict__
    np.testing.assert_array_equal(p.detach().numpy(), -0.5)


@pytest.mark.cpu_only(reason="BLAS's axpy/axpby round as torch's add_ with alpha; NumPy's fallback rounds the product first")
@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "SGD"], ids=_ids)
def test_sgd_gives_torchs_bits_through_blas(case, threads):
    """All but a few elements where a vector loop ends (torch's or BLAS's scalar tail rounds the
    product apart) are torch's bits: before BLAS about 7% of them differed."""
    name, kw = case
    for n in (1, 2):
        nnbox.set_num_threads(n)
        for a, b in zip(_run(torch, name, kw, np.float32), _run(nnbox, name, kw, np.float32)):
            assert np.count_nonzero(a != b) <= max(32, a.size // 2000)
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_axpy_and_axpby_fall_back_to_numpy_where_blas_cannot_run():
    from nnbox.optim._axpy import axpby, axpy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    for y in (rng.standard_normal((5, 6)).astype(np.float32).T,  # strided
              rng.standard_normal((6, 5)).astype(np.float16)):  # no BLAS kernel
        want = y + np.float32(0.5) * x.astype(y.dtype)
        axpy(0.5, x.astype(y.dtype), y, np.empty_like(y))
        np.testing.assert_allclose(y, want, rtol=1e-3)
        want = x.astype(y.dtype) * 2 + y * y.dtype.type(0.25)
        axpby(2.0, x.astype(y.dtype), 0.25, y, np.empty_like(y))
        np.testing.assert_allclose(y, want, rtol=1e-3)
    ro = np.ones(4, np.float32)
    ro.flags.writeable = False
    y = np.zeros(4, np.float32)
    axpy(2.0, ro, y)  # a read-only x is read through its address
    np.testing.assert_array_equal(y, 2.0)
