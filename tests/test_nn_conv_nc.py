"""Convolutions with few kernel rows (input channels x taps <= 32: a network's RGB or grey stem)
run im2col in NC layout (ops/conv.py ``_conv_nc``: one batched GEMM per image, no layout changes):
values, both gradients and second-order gradients against torch, in float32 and float64."""
import numpy as np
import pytest

import nnbox
from nnbox.ops import conv as C
from oracle import arr, check

CASES = [
    ((2, 3, 9, 8), (5, 3, 3, 3), dict(padding=1)),                       # an RGB stem
    ((3, 1, 10, 10), (4, 1, 3, 3), dict(padding=1, stride=2)),
    ((2, 2, 9, 11), (3, 2, 3, 2), dict(padding=(2, 1), dilation=(2, 1))),
    ((2, 3, 7, 6), (4, 3, 2, 2), {}),
    ((2, 1, 5, 5), (2, 1, 5, 5), dict(padding="same")),
    ((2, 2, 9), (3, 2, 5), dict(padding=2, stride=3)),                   # conv1d
    ((1, 1, 5, 4, 6), (2, 1, 3, 3, 3), dict(padding=1)),                 # conv3d
]
FN = {4: "conv2d", 3: "conv1d", 5: "conv3d"}


@pytest.fixture
def nc_calls(monkeypatch):
    seen = []
    real = C._conv_nc
    monkeypatch.setattr(C, "_conv_nc", lambda *a: seen.append(1) or real(*a))
    return seen


@pytest.mark.cpu_only(reason="the NC im2col path is NumPy's")
@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_rows_conv_matches_torch(nc_calls, xs, ws, kw, dtype):
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else {}
    fn = FN[len(xs)]
    check(lambda m, x, w, b: getattr(m.nn.functional, fn)(x, w, b, **kw),
          [arr(*xs, dtype=dtype), arr(*ws, dtype=dtype), arr(ws[0], dtype=dtype)], **tol)
    assert nc_calls


@pytest.mark.cpu_only(reason="the NC im2col path is NumPy's")
def test_few_rows_conv_second_order_matches_torch(nc_calls):
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1, stride=2),
          [arr(2, 3, 7, 6), arr(4, 3, 3, 3)], order=2)
    assert nc_calls


def test_more_rows_keep_the_channel_major_path(nc_calls):
    x = nnbox.randn(2, 4, 6, 6)
    nnbox.nn.functional.conv2d(x, nnbox.randn(3, 4, 3, 3), padding=1)  # 36 rows
    nnbox.nn.functional.conv2d(x, nnbox.randn(4, 2, 3, 3), groups=2)  # grouped
    assert nc_calls == []


@pytest.mark.cpu_only(reason="the NC im2col path is NumPy's")
@pytest.mark.parametrize("xs,ws,kw", [((2, 8, 18, 18), (6, 8, 3, 3), dict(padding=1, stride=2)),
                                      ((2, 5, 10, 9), (4, 5, 3, 3), dict(padding=1)),
                                      ((1, 4, 12, 12), (3, 4, 5, 5), dict(padding=2, dilation=1))])
def test_inference_takes_the_nc_path_for_many_positions(nc_calls, xs, ws, kw):
    """Without gradients, convolutions with >= _NC_POSITIONS output positions per image (and no
    Winograd) run the NC path whatever C*K is; values as torch's."""
    import torch

    rng = np.random.default_rng(9)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
    with torch.no_grad():
        want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
    with nnbox.no_grad():
        got = nnbox.nn.functional.conv2d(nnbox.tensor(x), nnbox.tensor(w), nnbox.tensor(b), **kw).numpy()
    assert nc_calls
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.cpu_only(reason="the NC im2col path is NumPy's")
@pytest.mark.parametrize("group_bytes", [1, 2 * 27 * 16 * 4])
def test_inference_builds_the_cols_a_group_of_images_at_a_time(monkeypatch, group_bytes):
    """Without gradients the NC path builds its cols ``_NC_GROUP_BYTES`` at a time (here one image,
    then two with a ragged last group of one): torch's values, and the training forward's (whole
    cols, kept for the backward) to float32 rounding."""
    import torch

    monkeypatch.setattr(C, "_NC_GROUP_BYTES", group_bytes)
    rng = np.random.default_rng(10)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3, 8, 8), (6, 3, 3, 3), (6,)))
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1, stride=2).numpy()
    with nnbox.no_grad():
        got = nnbox.nn.functional.conv2d(nnbox.tensor(x), nnbox.tensor(w), nnbox.tensor(b), padding=1, stride=2)
    whole = nnbox.nn.functional.conv2d(nnbox.tensor(x), nnbox.tensor(w).requires_grad_(), nnbox.tensor(b),
                                       padding=1, stride=2)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.numpy(), whole.detach().numpy(), rtol=1e-6, atol=1e-6)
