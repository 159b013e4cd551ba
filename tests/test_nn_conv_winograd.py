"""Winograd F(2x2, 3x3) (nnbox/ops/_winograd.py) against torch's conv2d.

Stated tolerance: Winograd rounds differently from a direct convolution, so its float32 forward is
compared with torch's at ``max |y - y_torch| <= 1e-5 * max |y_torch|`` (measured: about 1e-6),
instead of the oracle suite's element-wise rtol.  Gradients do not go through Winograd and keep
the usual tolerance.
"""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as F
from nnbox.ops import _winograd

TOL = 1e-5  # relative to the output's largest magnitude
pytestmark = pytest.mark.cpu_only(reason="Winograd is a NumPy (CPU) kernel; on cuda 3x3 convolutions run im2col + GEMM")


@pytest.fixture
def calls(monkeypatch):
    seen = []
    real = _winograd.conv3x3

    def counting(xc, w):
        seen.append(xc.shape)
        return real(xc, w)

    monkeypatch.setattr(_winograd, "conv3x3", counting)
    return seen


@pytest.mark.parametrize("n,c,o,h,w,padding", [
    (2, 128, 16, 8, 8, 1), (3, 128, 24, 7, 9, 1), (1, 130, 32, 5, 6, 0), (2, 128, 16, 6, 5, 2), (4, 256, 64, 4, 4, 1),
    (2, 128, 16, 3, 3, 0),
])
def test_winograd_matches_torch_within_stated_tolerance(calls, n, c, o, h, w, padding):
    rng = np.random.default_rng(n * 100 + c + h)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), padding=padding).numpy()
    got = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt), nnbox.tensor(b), padding=padding).numpy()
    assert calls, "the Winograd path did not run"
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= TOL * np.abs(want).max()


def test_winograd_gradients_match_torch(calls):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 128, 6, 6)).astype(np.float32)
    wt = rng.standard_normal((16, 128, 3, 3)).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    nx, nw = nnbox.tensor(x, requires_grad=True), nnbox.tensor(wt, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).pow(2).sum().backward()
    F.conv2d(nx, nw, padding=1).pow(2).sum().backward()
    assert calls
    for a, b in ((nx.grad, tx.grad), (nw.grad, tw.grad)):
        assert np.abs(a.numpy() - b.numpy()).max() <= TOL * np.abs(b.numpy()).max()


def test_winograd_not_used_where_it_does_not_apply(calls):
    rng = np.random.default_rng(2)
    cases = [((2, 64, 8, 8), (16, 64, 3, 3), {}),                      # too few input channels
             ((2, 128, 8, 8), (8, 128, 3, 3), {}),                     # too few output channels
             ((2, 128, 8, 8), (16, 128, 3, 3), {"stride": 2}),         # strided
             ((2, 128, 8, 8), (16, 128, 3, 3), {"dilation": 2}),
             ((2, 128, 8, 8), (16, 64, 3, 3), {"groups": 2}),
             ((2, 128, 8, 8), (16, 128, 5, 5), {}),
             ((2, 128, 11, 10), (16, 128, 3, 3), {"padding": 1})]          # a plane over MAX_PLANE
    for xs, ws, kw in cases:
        F.conv2d(nnbox.tensor(rng.standard_normal(xs).astype(np.float32)),
                 nnbox.tensor(rng.standard_normal(ws).astype(np.float32)), **kw)
    F.conv2d(nnbox.randn(2, 128, 8, 8, dtype=nnbox.float64), nnbox.randn(16, 128, 3, 3, dtype=nnbox.float64))
    assert calls == []


def test_switching_winograd_off_gives_the_im2col_result(calls, monkeypatch):
    rng = np.random.default_rng(3)
    x = nnbox.tensor(rng.standard_normal((2, 128, 7, 7)).astype(np.float32))
    w = nnbox.tensor(rng.standard_normal((16, 128, 3, 3)).astype(np.float32))
    fast = F.conv2d(x, w, padding=1).numpy()
    monkeypatch.setattr(_winograd, "enabled", False)
    exact = F.conv2d(x, w, padding=1).numpy()
    assert len(calls) == 1
    assert np.abs(fast - exact).max() <= TOL * np.abs(exact).max()


@pytest.mark.parametrize("padding", [0, 1, 2, "same"])
def test_winograd_input_gradient_matches_torch(calls, padding):
    """The input gradient of a 3x3 stride-1 conv with >= 128 output channels also runs by Winograd
    (a conv of gy with the flipped, channel-swapped kernel): same stated tolerance."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 16, 7, 6)).astype(np.float32)
    wt = rng.standard_normal((128, 16, 3, 3)).astype(np.float32)
    g = rng.standard_normal((3, 128, 7 + 2 * (padding if isinstance(padding, int) else 1) - 2,
                             6 + 2 * (padding if isinstance(padding, int) else 1) - 2)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(wt), padding=padding).backward(torch.tensor(g))
    nx = nnbox.tensor(x, requires_grad=True)
    F.conv2d(nx, nnbox.tensor(wt), padding=padding).backward(nnbox.tensor(g))
    assert len(calls) == 1  # forward has 16 input channels: only the input gradient went by Winograd
    assert np.abs(nx.grad.numpy() - tx.grad.numpy()).max() <= TOL * np.abs(tx.grad.numpy()).max()


def test_winograd_in_conv_transpose_backward(calls):
    """conv_transpose2d's input gradient is a convolution of gy: with 128 channels on a small plane
    it runs by Winograd (and its weight gradient then builds its own im2col); stated tolerance."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 16, 5, 5)).astype(np.float32)
    wt = rng.standard_normal((16, 128, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 128, 5, 5)).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    torch.nn.functional.conv_transpose2d(tx, tw, padding=1).backward(torch.tensor(g))
    nx, nw = nnbox.tensor(x, requires_grad=True), nnbox.tensor(wt, requires_grad=True)
    F.conv_transpose2d(nx, nw, padding=1).backward(nnbox.tensor(g))
    assert calls
    for a, b in ((nx.grad, tx.grad), (nw.grad, tw.grad)):
        assert np.abs(a.numpy() - b.numpy()).max() <= TOL * np.abs(b.numpy()).max()
