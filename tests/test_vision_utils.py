"""nnbox.vision.utils.make_grid / save_image (torchvision semantics)."""
from __future__ import annotations

import numpy as np
import pytest

import nnbox
from nnbox.vision.utils import make_grid, save_image


def _batch(b, c, h, w, seed=0):
    return nnbox.tensor(np.random.default_rng(seed).uniform(-3, 5, size=(b, c, h, w)).astype(np.float32))


def test_grid_layout_and_padding():
    x = _batch(10, 3, 4, 5)
    g = make_grid(x, nrow=4, padding=2, pad_value=0.5)
    # 3 rows (ceil(10/4)) x 4 columns, each cell (4+2) x (5+2), plus the leading padding
    assert g.shape == (3, 3 * 6 + 2, 4 * 7 + 2) and g.dtype == nnbox.float32
    a, xs = g.numpy(), x.numpy()
    for k in range(10):
        r, c = divmod(k, 4)
        np.testing.assert_array_equal(a[:, 2 + r * 6 : 2 + r * 6 + 4, 2 + c * 7 : 2 + c * 7 + 5], xs[k])
    assert (a[:, :2, :] == 0.5).all() and (a[:, :, :2] == 0.5).all()
    assert (a[:, 2 + 2 * 6 :, 2 + 2 * 7 :] == 0.5).all()  # the empty cells of the last row


def test_single_channel_becomes_rgb_and_single_image_unpadded():
    g = make_grid(_batch(3, 1, 4, 4), nrow=3, padding=1)
    assert g.shape == (3, 6, 16)
    np.testing.assert_array_equal(g[0].numpy(), g[2].numpy())
    one = _batch(1, 1, 4, 4)
    assert make_grid(one).shape == (3, 4, 4)  # B == 1: no padding at all
    assert make_grid(one[0, 0]).shape == (3, 4, 4)  # a 2-D image
    assert make_grid([one[0], one[0]], padding=0).shape == (3, 4, 8)  # a list of 3-D images


def test_normalize_global_range_and_scale_each():
    x = _batch(2, 3, 2, 2)
    xs = x.numpy()
    g = make_grid(x, normalize=True, padding=0).numpy()
    lo, hi = xs.min(), xs.max()
    np.testing.assert_allclose(g[:, :, :2], (xs[0] - lo) / (hi - lo), rtol=1e-6)
    g = make_grid(x, normalize=True, scale_each=True, padding=0).numpy()
    np.testing.assert_allclose(g[:, :, 2:], (xs[1] - xs[1].min()) / (xs[1].max() - xs[1].min()), rtol=1e-6)
    g = make_grid(x, normalize=True, value_range=(0.0, 2.0), padding=0).numpy()
    np.testing.assert_allclose(g[:, :, :2], np.clip(xs[0], 0, 2) / 2, rtol=1e-6)
    assert x.numpy() is not None and np.array_equal(x.numpy(), xs)  # input untouched
    with pytest.raises(TypeError):
        make_grid(x, normalize=True, value_range=[0, 1])
    with pytest.raises(TypeError):
        make_grid(np.zeros((2, 3, 2, 2)))


def test_save_image_roundtrip(tmp_path):
    from PIL import Image

    x = nnbox.tensor(np.random.default_rng(1).uniform(0, 1, size=(4, 3, 5, 6)).astype(np.float32))
    p = tmp_path / "g.png"
    save_image(x, p, nrow=2, padding=1)
    img = np.asarray(Image.open(p))
    assert img.shape == (2 * 6 + 1, 2 * 7 + 1, 3) and img.dtype == np.uint8
    expected = np.clip(x.numpy()[3] * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(img[1 + 6 : 1 + 6 + 5, 1 + 7 : 1 + 7 + 6], expected)
    save_image(x[0], tmp_path / "one.jpg")
    assert Image.open(tmp_path / "one.jpg").size == (6, 5)
