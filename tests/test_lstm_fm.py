"""The feature-major LSTM kernel (nnbox/ops/_lstm_fm.py): it is the one a plain LSTM with large enough
(B, H) blocks runs on NumPy, it agrees with the general kernel to float64 rounding for every combination
of gradients asked for, with torch to float32 rounding at benchmark size, and twice differentiated.
Small shapes force it with ``rnn.feature_major_min_block = 0``."""
import numpy as np
import pytest
import torch

import nnbox
from nnbox.ops import _lstm_fm, rnn
from oracle import arr

_NUMPY_KERNEL = pytest.mark.cpu_only(reason="the feature-major kernel is NumPy only; on cuda LSTMs run the general kernel")


@pytest.fixture
def always(monkeypatch):
    """Every plain LSTM runs the feature-major kernel, whatever its size."""
    monkeypatch.setattr(rnn, "feature_major_min_block", 0)


def _calls(monkeypatch):
    seen = []
    real = rnn.lstm_forward

    def spy(*a, **k):
        seen.append(a[0].shape)
        return real(*a, **k)
    monkeypatch.setattr(rnn, "lstm_forward", spy)
    return seen


@_NUMPY_KERNEL
def test_plain_lstm_runs_the_feature_major_kernel(monkeypatch, always):
    seen = _calls(monkeypatch)
    nnbox.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(nnbox.randn(5, 2, 3))
    assert seen == [(5, 2, 3), (5, 2, 3), (5, 2, 8), (5, 2, 8)]
    nnbox.nn.LSTMCell(3, 4)(nnbox.randn(2, 3))  # the cell is the one-step layer
    assert seen[-1] == (1, 2, 3)


@_NUMPY_KERNEL
def test_small_blocks_run_the_general_kernel(monkeypatch):
    seen = _calls(monkeypatch)
    nnbox.nn.LSTM(3, 128)(nnbox.randn(5, 31, 3))  # 31 * 128 < 4096
    assert seen == []
    nnbox.nn.LSTM(3, 128)(nnbox.randn(5, 32, 3))
    assert seen == [(5, 32, 3)]


def test_projection_and_packed_input_run_the_general_kernel(monkeypatch, always):
    from nnbox.nn.utils.rnn import pack_padded_sequence

    seen = _calls(monkeypatch)
    nnbox.nn.LSTM(3, 4, proj_size=2)(nnbox.randn(5, 2, 3))
    nnbox.nn.LSTM(3, 4)(pack_padded_sequence(nnbox.randn(5, 2, 3), [5, 3]))
    nnbox.nn.GRU(3, 4)(nnbox.randn(5, 2, 3))
    assert seen == []


def _layer_grads(x, h0, c0, params, reverse, want, fm):
    """Outputs and the asked-for gradients of one LSTM layer (``want``: which inputs require grad)."""
    rnn.feature_major = fm
    try:
        ts = [nnbox.tensor(a, requires_grad=w) if a is not None else None for a, w in zip([x, h0, c0] + params, want)]
        out, h, c = rnn.recurrence("LSTM", ts[0], ts[1], ts[2], *ts[3:7], reverse=reverse)
        g = np.random.default_rng(5).standard_normal(out.shape)
        if any(want):
            ((out * nnbox.tensor(g)).sum() + (h * h).sum() + (c * 3).sum()).backward()
        return [out, h, c], [t.grad if t is not None and w else None for t, w in zip(ts, want)]
    finally:
        rnn.feature_major = True


@pytest.mark.parametrize("reverse,bias", [(False, True), (True, True), (False, False)])
@pytest.mark.parametrize("want", [(True,) * 7, (False, True, True, True, True, True, True),
                                  (True, False, False, False, False, False, False),
                                  (False, False, False, True, False, False, True), (False,) * 7])
def test_matches_the_general_kernel(reverse, bias, want, always):
    T, B, I, H = 5, 3, 4, 6
    x, h0, c0 = arr(T, B, I), arr(B, H), arr(B, H)
    params = [arr(4 * H, I) * 0.5, arr(4 * H, H) * 0.5] + ([arr(4 * H) * 0.3, arr(4 * H) * 0.3] if bias else [None, None])
    want = tuple(w and p is not None for w, p in zip(want, [x, h0, c0] + params))
    _same_as_general_kernel(x, h0, c0, params, reverse, want)


def _same_as_general_kernel(x, h0, c0, params, reverse, want) -> None:
    """The feature-major kernel's outputs and requested gradients are the general kernel's (float64)."""
    outs_fm, grads_fm = _layer_grads(x, h0, c0, params, reverse, want, True)
    outs_g, grads_g = _layer_grads(x, h0, c0, params, reverse, want, False)
    for a, b in zip(outs_fm + grads_fm, outs_g + grads_g):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("T", [1, 4])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("want", [(True,) * 7, (True, False, False, True, True, True, True),
                                  (False, False, True, False, True, False, False)])
def test_zero_initial_state_and_unneeded_dh0_match_the_general_kernel(T, reverse, want, always):
    """A zero h0 (the layer's default) skips step 0's recurrent GEMM columns and the h0 term of dW_hh;
    without dh0 the last processed step skips its GEMM: the same results as the general kernel."""
    B, I, H = 3, 4, 5
    x, h0, c0 = arr(T, B, I), np.zeros((B, H)), arr(B, H)
    params = [arr(4 * H, I) * 0.5, arr(4 * H, H) * 0.5, arr(4 * H) * 0.3, arr(4 * H) * 0.3]
    _same_as_general_kernel(x, h0, c0, params, reverse, want)


def test_benchmark_size_float32_matches_torch():
    """The benchmark's layer (T=35, B=32, 64 -> 128) in float32: outputs and every gradient within
    float32 rounding of torch's (values of size ~1, sums over up to 35 * 32 terms)."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(64, 128)
    nm = nnbox.nn.LSTM(64, 128)
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((35, 32, 64)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((35, 32, 128)).astype(np.float32)
    tx, nx = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    (to, (th, tc)), (no, (nh, nc)) = tm(tx), nm(nx)
    ((to * torch.tensor(g)).sum() + tc.sum()).backward()
    ((no * nnbox.tensor(g)).sum() + nc.sum()).backward()
    for a, b in [(to, no), (th, nh), (tc, nc), (tx.grad, nx.grad)]:
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-4, atol=2e-5)
    for (name, tp), (_, npar) in zip(tm.named_parameters(), nm.named_parameters()):
        scale = np.abs(tp.grad.numpy()).max()
        np.testing.assert_allclose(npar.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=2e-5 * scale, err_msg=name)


def test_gate_rows_reorder_to_o_i_f_g():
    w = np.repeat(np.arange(4.0), 2)  # torch's blocks i, f, g, o of size 2
    np.testing.assert_array_equal(_lstm_fm._gate_rows(w, 2), [3, 3, 0, 0, 1, 1, 2, 2])


def test_two_graphs_alive_at_once_keep_their_own_work_arrays(always):
    """The kernel's work arrays are recycled between calls (ops/_pool.py): a second forward while the
    first graph is alive, and a retained graph run twice, must give the gradients of separate runs."""
    m = nnbox.nn.LSTM(3, 4)
    x1, x2 = nnbox.randn(5, 2, 3, requires_grad=True), nnbox.randn(5, 2, 3, requires_grad=True)
    want = []
    for x in (x1, x2):
        (m(x)[0] ** 2).sum().backward()
        want.append(x.grad.numpy().copy())
        x.grad = None
    loss = (m(x1)[0] ** 2).sum() + (m(x2)[0] ** 2).sum()
    loss.backward(retain_graph=True)
    first = [x1.grad.numpy().copy(), x2.grad.numpy().copy()]
    x1.grad = x2.grad = None
    loss.backward()
    for got in (first, [x1.grad.numpy(), x2.grad.numpy()]):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reverse,bias", [(False, True), (True, False)])
def test_double_backward_matches_torch(reverse, bias, always):
    """create_graph through the kernel: its first-order gradients, then the layer's second order."""
    from oracle import check
    from test_nn_rnn import _layer

    T, B, I, H = 4, 3, 2, 3
    ins = [arr(T, B, I), arr(B, H), arr(B, H), arr(4 * H, I) * 0.6, arr(4 * H, H) * 0.6, arr(4 * H) * 0.3,
           arr(4 * H) * 0.3, arr(2, H)]
    check(_layer("LSTM", reverse, False, bias), ins, order=2, rtol=1e-8)


@_NUMPY_KERNEL
def test_ten_sgd_steps_of_a_classifier_match_torch(monkeypatch, always):
    """The identical-init training test of test_nn_rnn_training (2-layer bidirectional LSTM, embedding,
    SGD with momentum, float64) run through the kernel: the same losses and final weights as torch."""
    from test_nn_rnn_training import test_ten_sgd_steps_match_torch

    seen = _calls(monkeypatch)
    test_ten_sgd_steps_match_torch("LSTM")
    assert len(seen) == 10 * 4  # ten steps, two layers, two directions
