"""Winograd F(4x4, 3x3) (nnbox/ops/_winograd.py) against torch's conv2d.

Stated tolerance: Winograd rounds differently from a direct convolution, so its float32 forward and
gradients are compared with torch's at ``max |y - y_torch| <= 1e-5 * max |y_torch|`` (measured: about
4e-6 with the points 0, 1, -1, 1/2, -2; a direct float32 convolution is at about 4e-7), instead of
the oracle suite's element-wise rtol.  The input and weight gradients run by Winograd too (the
adjoint of the forward computation) and meet the same tolerance.  F(2x2, 3x3), for many-channel
layers with few 4x4 tiles, is held to ``TOL_F2 = 2e-6`` (measured: about 4e-7 to 1e-6, as close as
a direct float32 convolution's 4e-7 allows).
"""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as F
from nnbox.ops import _winograd

TOL = 1e-5  # relative to the output's largest magnitude
TOL_F2 = 2e-6  # the same for F(2x2, 3x3)
pytestmark = pytest.mark.cpu_only(reason="Winograd is a NumPy (CPU) kernel; on cuda 3x3 convolutions run im2col + GEMM")


@pytest.fixture
def calls(monkeypatch):
    """Counts the Winograd kernels run (forward and backward), on any batch size: the policy's
    tiles * batch floor (``MIN_COLUMNS``, tested on its own below) is lowered so small test shapes
    take the Winograd path."""
    seen = []
    real, real_bwd = _winograd.conv3x3, _winograd.conv3x3_backward

    def counting(xc, w, *a):
        seen.append(xc.shape)
        return real(xc, w, *a)

    def counting_bwd(gy, *a):
        seen.append(gy.shape)
        return real_bwd(gy, *a)

    monkeypatch.setattr(_winograd, "conv3x3", counting)
    monkeypatch.setattr(_winograd, "conv3x3_backward", counting_bwd)
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 1)
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
    cases = [((2, 8, 8, 8), (16, 8, 3, 3), {}),                        # too few input channels
             ((2, 128, 8, 8), (8, 128, 3, 3), {}),                     # too few output channels
             ((2, 128, 8, 8), (16, 128, 3, 3), {"stride": 2}),         # strided
             ((2, 128, 8, 8), (16, 128, 3, 3), {"dilation": 2}),
             ((2, 128, 8, 8), (16, 64, 3, 3), {"groups": 2}),
             ((2, 128, 8, 8), (16, 128, 5, 5), {})]
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
    """The input gradient of a 3x3 stride-1 conv runs by Winograd (the adjoint of the forward
    transforms, cropped to the input for every padding): same stated tolerance."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 16, 7, 6)).astype(np.float32)
    wt = rng.standard_normal((128, 16, 3, 3)).astype(np.float32)
    g = rng.standard_normal((3, 128, 7 + 2 * (padding if isinstance(padding, int) else 1) - 2,
                             6 + 2 * (padding if isinstance(padding, int) else 1) - 2)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(wt), padding=padding).backward(torch.tensor(g))
    nx = nnbox.tensor(x, requires_grad=True)
    F.conv2d(nx, nnbox.tensor(wt), padding=padding).backward(nnbox.tensor(g))
    assert len(calls) == 2  # forward and backward
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


@pytest.mark.parametrize("m,names", [(4, ("_AT", "_G", "_BT")), (2, ("_AT2", "_G2", "_BT2"))])
def test_transform_matrices_compute_a_correlation_exactly(m, names):
    """F(m x m, 3x3)'s A^T [(G g) * (B^T d)] is the m-output correlation of an (m+2)-sample d with a
    3-tap g (float64)."""
    at, gm, bt = (getattr(_winograd, n) for n in names)
    rng = np.random.default_rng(7)
    for _ in range(5):
        d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
        want = np.array([d[i:i + 3] @ g for i in range(m)])
        got = at @ ((gm @ g) * (bt @ d))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n,c,o,h,w,padding", [
    (4, 64, 64, 16, 16, 1), (2, 32, 48, 13, 11, 1), (3, 16, 24, 9, 6, 0), (2, 24, 16, 5, 7, 2)])
def test_winograd_forward_and_gradients_match_torch(calls, n, c, o, h, w, padding):
    """ResNet-like and ragged shapes (outputs that are not whole 4x4 tiles): output, input gradient,
    weight gradient and bias gradient within the stated tolerance."""
    rng = np.random.default_rng(n + c + o + h)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    nx, nw, nb = (nnbox.tensor(a, requires_grad=True) for a in (x, wt, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=padding)
    ny = F.conv2d(nx, nw, nb, padding=padding)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    ny.backward(nnbox.tensor(g))
    assert len(calls) == 2
    for a, t in ((ny.detach(), ty.detach()), (nx.grad, tx.grad), (nw.grad, tw.grad), (nb.grad, tb.grad)):
        assert a.shape == tuple(t.shape) and a.dtype == nnbox.float32
        assert np.abs(a.numpy() - t.numpy()).max() <= TOL * np.abs(t.numpy()).max()


def _double_backward(seed: int, x_shape) -> list:
    """[torch's, nnbox's] (gx, x.grad, w.grad) of a second backward through a 16-channel 3x3 conv."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    wt = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    res = []
    for m, mk in ((torch, torch.tensor), (nnbox, nnbox.tensor)):
        xx, ww = mk(x, requires_grad=True), mk(wt, requires_grad=True)
        y = m.nn.functional.conv2d(xx, ww, padding=1)
        gx, = m.autograd.grad(y.pow(2).sum(), xx, create_graph=True)
        gx.pow(2).sum().backward()
        res.append([gx.detach().numpy(), xx.grad.numpy(), ww.grad.numpy()])
    return res


def test_winograd_double_backward_matches_torch(calls):
    """create_graph through a Winograd convolution: the gradient's own graph (convolutions and
    convolution gradients again) gives torch's second-order gradients within the tolerance."""
    want, got = _double_backward(8, (2, 16, 8, 8))
    assert calls
    for a, t in zip(got, want):
        assert np.abs(a - t).max() <= TOL * np.abs(t).max()


def test_small_batches_of_few_tiles_keep_im2col(monkeypatch):
    """The policy: a convolution over fewer than MIN_COLUMNS tiles * batch goes by im2col, with or
    without gradients (the transformed filters, 4x the weights, would cost more to compute and read
    than the multiplies saved; in training, Winograd's larger error moved the seeds' residual blocks
    off torch's run); as many go by Winograd."""
    seen = []
    real = _winograd.conv3x3
    monkeypatch.setattr(_winograd, "conv3x3", lambda *a: seen.append(1) or real(*a))
    w = nnbox.randn(16, 32, 3, 3)
    F.conv2d(nnbox.randn(_winograd.MIN_COLUMNS - 1, 32, 4, 4), w, padding=1)
    assert seen == []
    F.conv2d(nnbox.randn(_winograd.MIN_COLUMNS, 32, 4, 4), w, padding=1)
    assert seen == [1]
    F.conv2d(nnbox.randn(_winograd.MIN_COLUMNS - 1, 32, 4, 4), w.requires_grad_(), padding=1)
    assert seen == [1]
    F.conv2d(nnbox.randn(_winograd.MIN_COLUMNS, 32, 4, 4), w, padding=1)
    assert seen == [1, 1]


@pytest.mark.parametrize("n,c,o,h,w,bias", [
    (32, 16, 16, 8, 8, True), (3, 32, 24, 13, 11, False), (1, 16, 32, 9, 35, True), (40, 16, 16, 5, 6, True)])
def test_forward_runs_in_chunks_within_the_tolerance(monkeypatch, n, c, o, h, w, bias):
    """The forward runs the pipeline a few tiles at a time (``_conv3x3_chunked``; ragged last
    chunks, images narrower than a chunk, bias), with and without gradients: torch's output within
    the stated tolerance, and the whole-batch pipeline's as closely; the V kept for the backward is
    the whole-batch input transform (up to float32 rounding)."""
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 1)
    chunked = []
    real = _winograd._conv3x3_chunked
    monkeypatch.setattr(_winograd, "_conv3x3_chunked", lambda xc, *a: chunked.append(a[-1]) or real(xc, *a))
    rng = np.random.default_rng(n + c + o + w)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(wt), None if b is None else torch.tensor(b),
                                      padding=1).numpy()
    nb = None if b is None else nnbox.tensor(b)
    with nnbox.no_grad():
        got = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt), nb, padding=1).numpy()
    got_train = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt).requires_grad_(), nb, padding=1).detach().numpy()
    assert chunked == [False, True]  # inference, then a training forward (keeping V for the backward)
    xc = np.zeros((c, 4 * (-(-h // 4)) + 2, 4 * (-(-w // 4)) + 2, n), np.float32)
    xc[:, 1:h + 1, 1:w + 1] = x.transpose(1, 2, 3, 0)
    _, v, u = real(xc, wt, (h, w), b, True)
    v, u = v.copy(), u.copy()
    monkeypatch.setattr(_winograd, "CHUNKED_MAX_FILTERS", 0)
    whole, v_whole, u_whole = _winograd.conv3x3(xc, wt, (h, w), True, b)
    assert np.array_equal(u, u_whole) and np.abs(v - v_whole).max() <= 1e-6 * np.abs(v_whole).max()
    for a in (got, got_train):
        assert a.shape == want.shape and a.dtype == np.float32 and a.flags.c_contiguous
        assert np.abs(a - want).max() <= TOL * np.abs(want).max()
        assert np.abs(a - whole).max() <= TOL * np.abs(want).max()


def test_large_filters_keep_the_whole_batch_pipeline(monkeypatch):
    """Past ``CHUNKED_MAX_FILTERS`` output x input channels every chunk would re-read the large U:
    inference runs the whole-batch pipeline."""
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 1)
    monkeypatch.setattr(_winograd, "CHUNKED_MAX_FILTERS", 16 * 16 - 1)
    monkeypatch.setattr(_winograd, "_conv3x3_chunked", lambda *a: pytest.fail("chunked"))
    with nnbox.no_grad():
        F.conv2d(nnbox.randn(2, 16, 8, 8), nnbox.randn(16, 16, 3, 3), padding=1)


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("h,w,padding", [(11, 19, (1, 2)), (8, 12, 1), (6, 5, 0)])
def test_gradients_chunked_or_whole_match_torch(monkeypatch, chunked, h, w, padding):
    """The backward chunk by chunk (``_grad_input_chunked``; ``_grad_tiles_chunked`` on ragged
    images) and over the whole batch (filters past ``CHUNKED_MAX_FILTERS``): whole and ragged
    tiles, uneven padding, input and weight gradients within the stated tolerance."""
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 1)
    ran = []
    for name in ("grad_input", "grad_tiles", "_grad_input_chunked", "_grad_tiles_chunked"):
        real = getattr(_winograd, name)
        monkeypatch.setattr(_winograd, name, lambda *a, _n=name, _r=real: ran.append(_n) or _r(*a))
    if not chunked:
        monkeypatch.setattr(_winograd, "CHUNKED_MAX_FILTERS", 0)
    rng = np.random.default_rng(h * w)
    x = rng.standard_normal((3, 16, h, w)).astype(np.float32)
    wt = (rng.standard_normal((24, 16, 3, 3)) / 12).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    nx, nw = nnbox.tensor(x, requires_grad=True), nnbox.tensor(wt, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=padding)
    ny = F.conv2d(nx, nw, padding=padding)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    ny.backward(nnbox.tensor(g))
    ragged = any(s % 4 for s in ty.shape[2:])
    assert ran == ([("_grad_tiles_chunked" if ragged else "grad_tiles"), "_grad_input_chunked"] if chunked
                   else ["grad_tiles", "grad_input"])
    for a, t in ((nx.grad, tx.grad), (nw.grad, tw.grad)):
        assert np.abs(a.numpy() - t.numpy()).max() <= TOL * np.abs(t.numpy()).max()


@pytest.fixture
def f2_calls(monkeypatch):
    """The tile sizes of the Winograd kernels run; F(4x4) off (its column floor out of reach) and
    F(2x2)'s floors lowered, so small test shapes take F(2x2)."""
    seen = []
    real, real_bwd = _winograd.conv3x3, _winograd.conv3x3_backward
    monkeypatch.setattr(_winograd, "conv3x3", lambda *a: seen.append(("fwd", a[-1])) or real(*a))
    monkeypatch.setattr(_winograd, "conv3x3_backward", lambda *a: seen.append(("bwd", a[-1])) or real_bwd(*a))
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 10 ** 9)
    monkeypatch.setattr(_winograd, "MIN_CHANNELS_F2", 16)
    monkeypatch.setattr(_winograd, "MIN_COLUMNS_F2", 1)
    return seen


@pytest.mark.parametrize("n,c,o,h,w,padding,bias", [
    (4, 32, 48, 4, 4, 1, True), (3, 16, 24, 7, 5, 1, False), (2, 24, 16, 6, 9, 0, True), (2, 16, 16, 5, 4, 2, True),
    (1, 16, 32, 3, 3, 0, False)])
def test_f2_forward_and_gradients_match_torch(f2_calls, n, c, o, h, w, padding, bias):
    """F(2x2, 3x3) on whole and ragged 2x2 tiles, every padding: output (with and without gradients),
    input, weight and bias gradients within ``TOL_F2`` of torch."""
    rng = np.random.default_rng(n + c + o + h + w)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    nx, nw, nb = (nnbox.tensor(a, requires_grad=True) for a in (x, wt, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb if bias else None, padding=padding)
    ny = F.conv2d(nx, nw, nb if bias else None, padding=padding)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    ny.backward(nnbox.tensor(g))
    with nnbox.no_grad():
        ni = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt), nnbox.tensor(b) if bias else None, padding=padding)
    f2 = _winograd.F2
    assert f2_calls == [("fwd", f2), ("bwd", f2), ("fwd", f2)]
    pairs = [(ny.detach(), ty.detach()), (ni, ty.detach()), (nx.grad, tx.grad), (nw.grad, tw.grad)]
    for a, t in pairs + ([(nb.grad, tb.grad)] if bias else []):
        assert a.shape == tuple(t.shape) and a.dtype == nnbox.float32
        assert np.abs(a.numpy() - t.numpy()).max() <= TOL_F2 * np.abs(t.numpy()).max()


def test_f2_double_backward_matches_torch(f2_calls):
    """create_graph through an F(2x2) convolution: second-order gradients within ``TOL_F2``."""
    want, got = _double_backward(10, (2, 16, 6, 6))
    assert ("fwd", _winograd.F2) in f2_calls
    for a, t in zip(got, want):
        assert np.abs(a - t).max() <= TOL_F2 * np.abs(t).max()


def test_tile_size_policy_on_resnet18_shapes():
    """ResNet18 on CIFAR at batch 32: the 512-channel 4x4 stage (32 4x4 tiles, 128 2x2 tiles) takes
    F(2x2); stages with 64+ 4x4 tiles keep F(4x4); few channels or few 2x2 tiles keep im2col (0),
    as do the seeds' 16-channel residual blocks at batch 8."""
    def algo(n, c, o, hw):
        return _winograd.usable(np.empty((n, c, hw, hw), np.float32), (o, c, 3, 3), (1, 1), (1, 1), 1, None,
                                (hw, hw))

    f2, f4 = _winograd.F2, _winograd.F4
    assert algo(32, 512, 512, 4) is f2
    assert algo(32, 256, 256, 8) is f4 and algo(32, 64, 64, 32) is f4
    assert algo(8, 16, 16, 8) is None                                     # the seeds' residual blocks
    assert algo(32, 64, 64, 4) is None                                    # below F(2x2)'s channel floor
    assert algo(8, 512, 512, 4) is None and algo(32, 512, 512, 2) is None  # 32 2x2 tiles: im2col is faster
    assert algo(24, 512, 512, 4) is f2 and algo(16, 512, 512, 4) is None   # MIN_COLUMNS_F2 = 96


def test_forward_and_backward_choose_alike_without_padding(monkeypatch):
    """Both passes decide on the output's size: without padding the 14x14 input has 64 4x4 tiles per
    4 images but the 12x12 output 36, so both run F(2x2) (144 2x2 tiles), and the backward reuses
    the forward's transforms."""
    ran = []
    for name in ("conv3x3", "conv3x3_backward", "input_transform", "filter_transform"):
        real = getattr(_winograd, name)
        monkeypatch.setattr(_winograd, name, lambda *a, _n=name, _r=real: ran.append((_n, a[-1])) or _r(*a))
    monkeypatch.setattr(_winograd, "MIN_CHANNELS_F2", 16)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 16, 14, 14)).astype(np.float32)
    wt = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    nx, nw = nnbox.tensor(x, requires_grad=True), nnbox.tensor(wt, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw).pow(2).sum().backward()
    F.conv2d(nx, nw).pow(2).sum().backward()
    f2 = _winograd.F2
    assert ran == [("conv3x3", f2), ("input_transform", f2), ("filter_transform", f2), ("conv3x3_backward", f2)]
    for a, t in ((nx.grad, tx.grad), (nw.grad, tw.grad)):
        assert np.abs(a.numpy() - t.numpy()).max() <= TOL_F2 * np.abs(t.numpy()).max()


@pytest.mark.parametrize("algo", ["F4", "F2"])
def test_inference_in_output_channel_blocks_matches_torch(monkeypatch, algo):
    """Without gradients the whole-batch forward runs ``BLOCK_ROWS`` output channels at a time (a
    ragged last block here, with bias): torch's output within the stated tolerance, and the
    unblocked forward's (with gradients) to float32 rounding."""
    monkeypatch.setattr(_winograd, "BLOCK_ROWS", 16)
    monkeypatch.setattr(_winograd, "CHUNKED_MAX_FILTERS", 0)
    monkeypatch.setattr(_winograd, "MIN_COLUMNS", 1 if algo == "F4" else 10 ** 9)
    monkeypatch.setattr(_winograd, "MIN_CHANNELS_F2", 16)
    monkeypatch.setattr(_winograd, "MIN_COLUMNS_F2", 1)
    blocks = []
    real = _winograd._conv3x3_oblocks
    monkeypatch.setattr(_winograd, "_conv3x3_oblocks", lambda *a: blocks.append(a[-1]) or real(*a))
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 24, 7, 6)).astype(np.float32)
    wt = (rng.standard_normal((40, 24, 3, 3)) / 15).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), padding=1).numpy()
    with nnbox.no_grad():
        got = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt), nnbox.tensor(b), padding=1).numpy()
    whole = F.conv2d(nnbox.tensor(x), nnbox.tensor(wt).requires_grad_(), nnbox.tensor(b), padding=1).detach().numpy()
    assert blocks == [getattr(_winograd, algo)]
    assert got.shape == want.shape and got.flags.c_contiguous
    tol = TOL if algo == "F4" else TOL_F2
    assert np.abs(got - want).max() <= tol * np.abs(want).max()
    assert np.abs(got - whole).max() <= 1e-6 * np.abs(want).max()
