"""Large 2-d transposes by the BLAS NumPy bundles (nnbox/ops/_transpose.py) and the convolution layout
changes that use them (ops/conv.py ``_to_cm``, ``_nc_copy``): every value exactly, NaN, infinities and
-0.0 included; NumPy's copy where no BLAS transpose applies."""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as F
from nnbox.ops import _transpose, conv

pytestmark = pytest.mark.cpu_only(reason="the BLAS transpose works on NumPy arrays")


@pytest.fixture
def blas_calls(monkeypatch):
    """The transposes ``_transpose.transpose`` ran (shapes), as long as it finds a BLAS one."""
    if not _transpose.transpose(np.zeros((2, _transpose.MIN_ELEMENTS), np.float32),
                                np.empty((_transpose.MIN_ELEMENTS, 2), np.float32)):
        pytest.skip("NumPy's BLAS has no omatcopy here")
    seen = []
    real = _transpose.transpose
    monkeypatch.setattr(_transpose, "transpose", lambda a, out: real(a, out) and (seen.append(a.shape) or True))
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_is_exact(blas_calls, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 2011)).astype(dtype)
    a[3, 5], a[7, 11], a[0, 0], a[36, 2010] = np.nan, -0.0, np.inf, -np.inf
    a[1, 1] = np.finfo(dtype).tiny / 4  # a subnormal
    out = np.empty((2011, 37), dtype)
    assert _transpose.transpose(a, out)
    assert blas_calls == [(37, 2011)]
    assert np.array_equal(out, a.T, equal_nan=True)
    assert np.signbit(out[11, 7]) and out[1, 1] == a[1, 1]


def test_transpose_declines_what_it_cannot_do():
    """Nothing is written, and False comes back, for small, non-contiguous, mismatched or integer arrays."""
    big = np.ones((8, _transpose.MIN_ELEMENTS), np.float32)
    out = np.zeros((_transpose.MIN_ELEMENTS, 8), np.float32)
    assert not _transpose.transpose(np.ones((4, 4), np.float32), np.zeros((4, 4), np.float32))  # small
    assert not _transpose.transpose(big[:, ::2], out[::2])                                      # strided
    assert not _transpose.transpose(big, out.astype(np.float64))                                # dtypes
    assert not _transpose.transpose(big.astype(np.int32), out.astype(np.int32))                 # integers
    assert not _transpose.transpose(big, np.zeros((8, _transpose.MIN_ELEMENTS), np.float32))    # shape
    assert not out.any()


def test_without_blas_the_layout_changes_copy_with_numpy(monkeypatch):
    """No omatcopy found (NumPy on Accelerate or MKL): the same layouts through NumPy's copy."""
    monkeypatch.setattr(_transpose, "_funcs", {})
    x = np.random.default_rng(1).standard_normal((8, 16, 20, 20)).astype(np.float32)
    cm = conv._to_cm(x, ((1, 1), (1, 1)))
    assert np.array_equal(cm[:, 1:21, 1:21], x.transpose(1, 2, 3, 0)) and not cm[:, 0].any()
    assert np.array_equal(conv._nc_copy(cm[:, 1:21, 1:21]), x)


@pytest.mark.parametrize("pads", [((0, 0), (0, 0)), ((1, 1), (1, 1)), ((2, 0), (1, 3))])
def test_layout_changes_by_blas_match_numpy(blas_calls, pads):
    """``_to_cm`` (padded or not) and ``_nc_copy`` (whole or a cropped view) transpose by BLAS and give
    NumPy's transposes bit for bit, zero padding included."""
    x = np.random.default_rng(2).standard_normal((8, 16, 20, 20)).astype(np.float32)
    cm = conv._to_cm(x, pads)
    (lo_h, hi_h), (lo_w, hi_w) = pads
    want = np.pad(x, ((0, 0), (0, 0), (lo_h, hi_h), (lo_w, hi_w))).transpose(1, 2, 3, 0)
    assert cm.shape == want.shape and np.array_equal(cm, want)
    back = conv._nc_copy(cm[:, lo_h:lo_h + 20, lo_w:lo_w + 20])
    assert back.flags.c_contiguous and np.array_equal(back, x)
    assert blas_calls == [(8, 16 * 20 * 20), (16 * 20 * 20, 8)]


def test_convolutions_through_blas_layouts_are_bit_identical(blas_calls, monkeypatch):
    """A Winograd convolution and a stride-2 im2col one with bias, forward and backward: with the
    layout changes by BLAS (the bias added to the GEMM's product first) the output and the gradients
    are NumPy's copies' bit for bit, and torch's within Winograd's stated tolerance."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 32, 16, 16)).astype(np.float32)
    for w_shape, kw in (((32, 32, 3, 3), dict(padding=1)), ((48, 32, 3, 3), dict(padding=1, stride=2))):
        w = (rng.standard_normal(w_shape) / 17).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        runs = []
        found = _transpose._funcs
        for funcs in (found, {}):  # BLAS's transposes, then NumPy's copies
            monkeypatch.setattr(_transpose, "_funcs", funcs)
            nx, nw, nb = (nnbox.tensor(a, requires_grad=True) for a in (x, w, b))
            y = F.conv2d(nx, nw, nb, **kw)
            y.pow(2).sum().backward()
            # copies: the arrays go back to the work-array pool once the tensors are dropped
            runs.append([a.numpy().copy() for a in (y.detach(), nx.grad, nw.grad, nb.grad)])
        monkeypatch.setattr(_transpose, "_funcs", found)
        for by_blas, by_numpy in zip(*runs):
            assert np.array_equal(by_blas, by_numpy)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.conv2d(tx, tw, tb, **kw).pow(2).sum().backward()
        for a, t in zip(runs[0][1:], (tx.grad, tw.grad, tb.grad)):
            assert np.abs(a - t.numpy()).max() <= 1e-5 * np.abs(t.numpy()).max()
    assert len(blas_calls) >= 6  # inputs in, outputs out, gradients in, input gradients out


def test_winograd_chunked_output_bands_by_blas_are_bit_identical(blas_calls, monkeypatch):
    """The chunked Winograd forward hands each finished tile row (O, 4, W, N) to BLAS's transpose
    (whole 4x4 tiles only; a ragged last row keeps NumPy's copy): the output is NumPy's bit for bit."""
    rng = np.random.default_rng(4)
    x = nnbox.tensor(rng.standard_normal((8, 64, 18, 16)).astype(np.float32))  # rows 16-17: a ragged band
    w = nnbox.tensor((rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32))
    b = nnbox.tensor(rng.standard_normal(64).astype(np.float32))
    with nnbox.no_grad():
        by_blas = F.conv2d(x, w, b, padding=1).numpy().copy()
        assert (64 * 4 * 16, 8) in blas_calls  # a band: (O * 4 * W, N)
        monkeypatch.setattr(_transpose, "_funcs", {})
        by_numpy = F.conv2d(x, w, b, padding=1).numpy()
    assert np.array_equal(by_blas, by_numpy)
    want = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()), torch.tensor(b.numpy()),
                                      padding=1).numpy()
    assert np.abs(by_blas - want).max() <= 1e-5 * np.abs(want).max()
