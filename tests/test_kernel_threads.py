"""Fused kernels' element-wise passes split over nnbox's threads (ops/_chunks.py): bit-identical
to one thread, and the passes really split.  BLAS's thread count is left alone (a GEMM's blocking
may change its rounding); only nnbox's own pool changes."""
import numpy as np
import pytest

import nnbox
import nnbox.nn.functional as F
from nnbox._backend import threads

pytestmark = pytest.mark.cpu_only(reason="nnbox's thread pool splits its NumPy (CPU) kernels; on cuda each pass is one kernel")


def _run_both(monkeypatch, step):
    ran = []
    real = threads.parallel_for
    monkeypatch.setattr(threads, "parallel_for", lambda n, task: (ran.append(n), real(n, task)))
    got = []
    for n in (1, 2):
        monkeypatch.setitem(threads._state, "threads", n)
        got.append(step())
    assert ran and all(n == 2 for n in ran), "two threads did not split the passes"
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_threads_bit_identical(monkeypatch, affine):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32, 20, 20)).astype(np.float32)
    w, b = rng.standard_normal(32).astype(np.float32), rng.standard_normal(32).astype(np.float32)

    def step():
        nx = nnbox.tensor(x, requires_grad=True)
        nw = nnbox.tensor(w, requires_grad=True) if affine else None
        nb = nnbox.tensor(b, requires_grad=True) if affine else None
        rm, rv = nnbox.zeros(32), nnbox.ones(32)
        y = F.batch_norm(nx, rm, rv, nw, nb, training=True)
        (y * y).sum().backward()
        return y.detach().numpy(), nx.grad.numpy(), rm.numpy(), rv.numpy()

    _run_both(monkeypatch, step)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool_threads_bit_identical(monkeypatch, kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 32, 24, 24)).astype(np.float32)
    x[0, 0, :2, :2] = 1.0  # a tie: the first tap wins on every blocking

    def step():
        nx = nnbox.tensor(x, requires_grad=True)
        y = F.max_pool2d(nx, **kw)
        (y * y).sum().backward()
        return y.detach().numpy(), nx.grad.numpy()

    _run_both(monkeypatch, step)
