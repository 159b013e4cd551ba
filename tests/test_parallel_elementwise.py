"""Large element-wise ops run in chunks on ``set_num_threads`` threads (issue 12): the results
and gradients must be bit-identical to one thread's, warnings as quiet as one thread's, and the
values still torch's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnbox
from nnbox.ops import _parallel

N = _parallel.MIN_SIZE + 3 * _parallel.CHUNK + 123  # several chunks, a ragged last one


@pytest.fixture
def threads():
    n = nnbox.get_num_threads()
    yield
    nnbox.set_num_threads(n)


def _input(dt=np.float32):
    x = np.random.default_rng(0).standard_normal(N).astype(dt) * 3
    x[:5] = [0.0, -0.0, np.nan, 50.0, -50.0]  # (inf would make cos warn on one thread too)
    return x.reshape(-1, 7) if N % 7 == 0 else x


UNARY = ["exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "sigmoid", "erf", "sign", "abs", "neg",
         "relu", "cos", "log1p"]


def _run_all(x):
    a = nnbox.tensor(x, requires_grad=True)
    b = nnbox.tensor(x[::-1].copy(), requires_grad=True)
    outs = {}
    for name in UNARY:
        outs[name] = getattr(nnbox, name)(a)
    outs["add"], outs["sub"], outs["mul"] = a + b, a - b, a * b
    outs["mul_scalar"] = a * 2.5
    outs["silu"] = nnbox.nn.functional.silu(a)
    outs["relu_grad"] = nnbox.autograd.grad(nnbox.relu(a).sum(), a)[0]
    outs["silu_grad"] = nnbox.autograd.grad(nnbox.nn.functional.silu(a).sum(), a)[0]
    outs["mul_grad"] = nnbox.autograd.grad((a * b).sum(), b)[0]
    return {k: v.detach().numpy().copy() for k, v in outs.items()}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_threads_bit_identical(threads, dt):
    x = _input(dt)
    results = []
    for n in (1, 2, 4):
        nnbox.set_num_threads(n)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # quiet ops (log(0), sqrt(-1)) stay quiet on worker threads
            results.append(_run_all(x))
    for other in results[1:]:
        for k, v in results[0].items():
            assert other[k].dtype == v.dtype, k
            np.testing.assert_array_equal(other[k], v, err_msg=k)


def test_threaded_values_match_torch(threads):
    nnbox.set_num_threads(2)
    x = _input()
    for name in ("exp", "tanh", "sigmoid", "relu", "erf", "sign"):
        got = getattr(nnbox, name)(nnbox.tensor(x)).numpy()
        ref = getattr(torch, name)(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=name)


def test_small_or_strided_arrays_take_the_single_call(threads):
    nnbox.set_num_threads(2)
    small = np.ones(10, np.float32)
    assert _parallel.par_ufunc(np.add, small, small) is None
    big = np.ones((N, 2), np.float32)
    assert _parallel.par_ufunc(np.add, big[:, 0], big[:, 0]) is None  # not contiguous
    assert _parallel.par_ufunc(np.add, big, big[:1]) is None  # broadcasting
    assert _parallel.par_map(np.exp, big[:, 0]) is None
    nnbox.set_num_threads(1)
    assert _parallel.par_ufunc(np.add, big, big) is None  # one thread: exactly today's single call
