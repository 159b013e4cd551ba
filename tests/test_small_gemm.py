"""nnbox/ops/_small_gemm.py: which step GEMMs run in row blocks, and the LSTM kernel's results with them.

The blocks pay only with OpenBLAS's SkylakeX small-matrix sgemm and one BLAS thread, so the decision is
forced here (``enabled``) to test both paths on any machine."""
import numpy as np
import pytest
import torch

import nnbox
from nnbox.ops import _small_gemm


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setattr(_small_gemm, "enabled", True)


def _rows(blocks):
    return None if blocks is None else [(b.start, b.stop) for b in blocks]


def test_blocks_are_the_fewest_below_the_small_kernel_bound(forced):
    f32 = np.float32
    assert _rows(_small_gemm.row_blocks(512, 32, 193, f32)) == [(0, 128), (128, 256), (256, 384), (384, 512)]
    assert _rows(_small_gemm.row_blocks(512, 32, 257, f32)) == [(i, i + 64) for i in range(0, 512, 64)]
    assert _rows(_small_gemm.row_blocks(128, 32, 512, f32)) == [(0, 32), (32, 64), (64, 96), (96, 128)]
    assert _rows(_small_gemm.row_blocks(100, 32, 500, f32)) == [(0, 32), (32, 64), (64, 96), (96, 100)]


def test_no_blocks_where_they_do_not_pay(forced, monkeypatch):
    assert _small_gemm.row_blocks(256, 32, 100, np.float32) is None  # already small: one call
    assert _small_gemm.row_blocks(512, 32, 2000, np.float32) is None  # would take more than 8 blocks
    assert _small_gemm.row_blocks(512, 32, 193, np.float64) is None  # the small kernel is float32's
    monkeypatch.setattr(_small_gemm, "enabled", False)
    assert _small_gemm.row_blocks(512, 32, 193, np.float32) is None


def test_automatic_decision_needs_one_thread_and_the_small_kernel(monkeypatch):
    monkeypatch.setattr(_small_gemm, "enabled", None)
    n = nnbox.get_num_threads()
    try:
        for threads, small, want in [(1, True, 4), (2, True, None), (1, False, None)]:
            monkeypatch.setattr(_small_gemm, "_detected", [small])
            nnbox.set_num_threads(threads)
            blocks = _small_gemm.row_blocks(512, 32, 193, np.float32)
            assert (None if blocks is None else len(blocks)) == want
    finally:
        nnbox.set_num_threads(n)


def test_detection_answers_a_bool_once(monkeypatch):
    monkeypatch.setattr(_small_gemm, "_detected", [])
    first = _small_gemm._small_kernel_blas()
    assert isinstance(first, bool) and _small_gemm._detected == [first]


def _lstm_step(x, g, state):
    m = nnbox.nn.LSTM(64, 128)
    m.load_state_dict(state)
    xt = nnbox.tensor(x, requires_grad=True)
    out, (h, c) = m(xt)
    ((out * nnbox.tensor(g)).sum() + c.sum()).backward()
    return [out.detach().numpy(), h.detach().numpy(), c.detach().numpy(), xt.grad.numpy()] + \
        [p.grad.numpy() for p in m.parameters()]


def test_lstm_in_row_blocks_matches_whole_gemms_and_torch(monkeypatch):
    """The benchmark's layer (T=35, B=32, 64 -> 128, float32) with its step GEMMs in row blocks: the same
    values as with whole GEMMs to float32 rounding, and within the kernel's tolerance of torch's."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(64, 128)
    state = {k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((35, 32, 64)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((35, 32, 128)).astype(np.float32)
    monkeypatch.setattr(_small_gemm, "enabled", False)
    whole = _lstm_step(x, g, state)
    monkeypatch.setattr(_small_gemm, "enabled", True)
    blocks = _lstm_step(x, g, state)
    tx = torch.tensor(x, requires_grad=True)
    to, (th, tc) = tm(tx)
    ((to * torch.tensor(g)).sum() + tc.sum()).backward()
    ref = [to.detach().numpy(), th.detach().numpy(), tc.detach().numpy(), tx.grad.numpy()] + \
        [p.grad.numpy() for p in tm.parameters()]
    for a, b, r in zip(blocks, whole, ref):
        scale = np.abs(r).max()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=2e-5 * scale)


def _layer_step(kind, hidden, x, g, state):
    m = getattr(nnbox.nn, kind)(x.shape[2], hidden)
    m.load_state_dict(state)
    xt = nnbox.tensor(x, requires_grad=True)
    out = m(xt)[0]
    (out * nnbox.tensor(g)).sum().backward()
    return [out.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]


@pytest.mark.parametrize("kind,hidden", [("GRU", 128), ("LSTM", 128), ("RNN", 256)])
def test_general_kernel_in_blocks_matches_whole_gemms_and_torch(kind, hidden, monkeypatch):
    """The general (batch-major) kernel's step GEMMs in blocks: GRU(64, 128), an LSTM forced off the
    feature-major kernel, a tanh RNN(64, 256); T=12, B=32, float32."""
    from nnbox.ops import rnn

    monkeypatch.setattr(rnn, "feature_major", False)
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(64, hidden)
    state = {k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((12, 32, 64)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((12, 32, hidden)).astype(np.float32)
    monkeypatch.setattr(_small_gemm, "enabled", False)
    whole = _layer_step(kind, hidden, x, g, state)
    monkeypatch.setattr(_small_gemm, "enabled", True)
    blocks = _layer_step(kind, hidden, x, g, state)
    tx = torch.tensor(x, requires_grad=True)
    to = tm(tx)[0]
    (to * torch.tensor(g)).sum().backward()
    ref = [to.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy() for p in tm.parameters()]
    for a, b, r in zip(blocks, whole, ref):
        scale = np.abs(r).max()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=2e-5 * scale)
