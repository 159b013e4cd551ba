"""``F.grid_sample`` and ``F.affine_grid`` against torch: every mode x padding x align_corners, 2-D and
3-D, values and gradients for input, grid and theta; torch's warnings and errors."""
import itertools
import warnings

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, arr, check, check_error


def _grid(n, out, k, spread=1.6):
    return RNG.uniform(-spread, spread, (n,) + out + (k,))


def _gs(m, x, g, **kw):
    return m.nn.functional.grid_sample(x, g, **kw)


@pytest.mark.parametrize("mode,padding,align", itertools.product(
    ["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"], [False, True]))
def test_grid_sample_2d(mode, padding, align):
    check(lambda m, x, g: _gs(m, x, g, mode=mode, padding_mode=padding, align_corners=align),
          [arr(2, 3, 5, 7), _grid(2, (4, 3), 2)], grad_rtol=1e-9, grad_atol=1e-12)


@pytest.mark.parametrize("mode,padding,align", itertools.product(
    ["bilinear", "nearest"], ["zeros", "border", "reflection"], [False, True]))
def test_grid_sample_3d(mode, padding, align):
    check(lambda m, x, g: _gs(m, x, g, mode=mode, padding_mode=padding, align_corners=align),
          [arr(1, 2, 4, 3, 5), _grid(1, (2, 3, 2), 3)], grad_rtol=1e-9, grad_atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_grid_sample_float32_far_outside_and_single_pixel(mode):
    check(lambda m, x, g: _gs(m, x, g, mode=mode, padding_mode="reflection", align_corners=False),
          [arr(1, 2, 6, 6, dtype=np.float32), _grid(1, (5, 5), 2, spread=4.0).astype(np.float32)],
          rtol=1e-4, atol=1e-5)
    for padding in ("zeros", "border", "reflection"):
        check(lambda m, x, g: _gs(m, x, g, mode=mode, padding_mode=padding, align_corners=True),
              [arr(1, 1, 1, 1), _grid(1, (2, 2), 2)])


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 1, 4), (1, 1, 1, 3)])
def test_affine_grid(size, align):
    k = len(size) - 2
    unit = align and min(size[2:]) == 1  # torch warns about unit-size grids with align_corners
    for m in (torch, nnbox):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m.nn.functional.affine_grid(m.zeros(size[0], k, k + 1), size, align_corners=align)
        assert any("unit-size grids" in str(x.message) for x in w) == unit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda m, t: m.nn.functional.affine_grid(t, size, align_corners=align), [arr(size[0], k, k + 1)])


def test_spatial_transformer_gradient_flows_to_theta():
    def stn(m, x, theta):
        grid = m.nn.functional.affine_grid(theta, (2, 3, 6, 5), align_corners=False)
        return _gs(m, x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    theta = np.tile(np.array([[[0.9, 0.1, 0.05], [-0.2, 1.1, 0.1]]]), (2, 1, 1)) + arr(2, 2, 3) * 0.05
    check(stn, [arr(2, 3, 7, 7), theta], grad_rtol=1e-9, grad_atol=1e-12)


def test_align_corners_default_warns_like_torch():
    for m in (torch, nnbox):
        with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
            m.nn.functional.grid_sample(m.zeros(1, 1, 2, 2), m.zeros(1, 1, 1, 2))
        with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
            m.nn.functional.affine_grid(m.eye(2, 3)[None], (1, 1, 2, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m.nn.functional.grid_sample(m.zeros(1, 1, 2, 2), m.zeros(1, 1, 1, 2), align_corners=False)


@pytest.mark.parametrize("fn,inputs", [
    (lambda m, x, g: _gs(m, x, g, mode="cubic", align_corners=False), [arr(1, 1, 3, 3), _grid(1, (2, 2), 2)]),
    (lambda m, x, g: _gs(m, x, g, padding_mode="wrap", align_corners=False), [arr(1, 1, 3, 3), _grid(1, (2, 2), 2)]),
    (lambda m, x, g: _gs(m, x, g, align_corners=False), [arr(1, 3, 3), _grid(1, (2, 2), 2)]),
    (lambda m, x, g: _gs(m, x, g, align_corners=False), [arr(1, 1, 3, 3), _grid(1, (2, 2), 1)]),
    (lambda m, x, g: _gs(m, x, g, align_corners=False), [arr(2, 1, 3, 3), _grid(1, (2, 2), 2)]),
    (lambda m, x, g: _gs(m, x, g, align_corners=False), [arr(1, 1, 3, 3), _grid(1, (2, 2), 2).astype(np.float32)]),
    (lambda m, x, g: _gs(m, x, g, mode="bicubic", align_corners=False), [arr(1, 1, 2, 2, 2), _grid(1, (1, 1, 1), 3)]),
])
def test_grid_sample_errors(fn, inputs):
    te, ne = check_error(fn, inputs)
    assert str(ne) == str(te)


@pytest.mark.parametrize("fn,inputs", [
    (lambda m, t: m.nn.functional.affine_grid(t, (1, 1, 2), align_corners=False), [arr(1, 2, 3)]),
    (lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 2, 2), align_corners=False), [arr(1, 2, 3)]),
    (lambda m, t: m.nn.functional.affine_grid(t, (1, 1, 2, 2), align_corners=False), [arr(2, 3)]),
    (lambda m, t: m.nn.functional.affine_grid(t, (1, 1, 2, 2), align_corners=False), [arr(1, 3, 4)]),
    (lambda m, t: m.nn.functional.affine_grid(t, (1, 1, 2, 2), align_corners=False), [arr(1, 2, 3, dtype=np.int32)]),
])
def test_affine_grid_errors(fn, inputs):
    te, ne = check_error(fn, inputs)
    assert str(ne) == str(te)
