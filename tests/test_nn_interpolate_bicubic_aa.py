"""``F.interpolate`` bicubic, ``antialias=True`` (bilinear/bicubic/lanczos) against torch: values and
gradients over up- and down-scaling, sizes and scale factors, align_corners; torch's errors."""
import itertools

import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error

SIZES = [dict(size=(3, 4)), dict(size=(9, 14)), dict(scale_factor=0.37), dict(scale_factor=(2.5, 0.75)),
         dict(size=(1, 1)), dict(size=5)]


def _interp(m, x, **kw):
    return m.nn.functional.interpolate(x, **kw)


@pytest.mark.parametrize("shape,kw,align", itertools.product([(2, 3, 5, 7), (1, 2, 13, 11)], SIZES, [False, True]))
def test_bicubic(shape, kw, align):
    check(lambda m, x: _interp(m, x, mode="bicubic", align_corners=align, **kw), [arr(*shape)])


@pytest.mark.parametrize("mode,align", [("bilinear", False), ("bilinear", True), ("bicubic", False),
                                        ("bicubic", True), ("lanczos", None)])
@pytest.mark.parametrize("shape,kw", itertools.product([(2, 3, 5, 7), (1, 2, 13, 11)], SIZES))
def test_antialias(mode, align, shape, kw):
    check(lambda m, x: _interp(m, x, mode=mode, align_corners=align, antialias=True, **kw), [arr(*shape)])


def test_bicubic_float32_and_recompute_scale_factor():
    check(lambda m, x: _interp(m, x, mode="bicubic", scale_factor=1.7), [arr(1, 2, 6, 5, dtype=np.float32)])
    check(lambda m, x: _interp(m, x, mode="bicubic", scale_factor=1.7, recompute_scale_factor=True), [arr(1, 1, 6, 5)])
    check(lambda m, x: _interp(m, x, mode="bilinear", antialias=True, scale_factor=0.3), [arr(1, 1, 16, 16, dtype=np.float32)])


def test_antialias_output_width_one_follows_the_adjoint_of_torchs_gradient():
    # torch 2.13's antialiased forward repeats one value down a 1-pixel-wide output column (its own
    # backward disagrees with it); nnbox's forward is the matrix torch's backward uses
    x = np.arange(24.0).reshape(1, 1, 8, 3)
    t = torch.nn.functional.interpolate(torch.tensor(x), size=(2, 1), mode="bilinear", antialias=True)
    n = nnbox.nn.functional.interpolate(nnbox.tensor(x), size=(2, 1), mode="bilinear", antialias=True)
    assert t[0, 0, 0, 0] == t[0, 0, 1, 0]  # the torch defect this test documents
    rows = n.numpy()[0, 0, :, 0]
    assert rows[0] < rows[1]
    xt = torch.tensor(x, requires_grad=True)
    g = torch.nn.functional.interpolate(xt, size=(2, 1), mode="bilinear", antialias=True)
    for r in range(2):  # row r of torch's linear map, read off its gradient
        xt.grad = None
        g[0, 0, r, 0].backward(retain_graph=True)
        np.testing.assert_allclose(rows[r], float((xt.grad * xt).sum().detach()), rtol=1e-12)


@pytest.mark.parametrize("fn,shape", [
    (lambda m, x: _interp(m, x, size=3, mode="bicubic"), (1, 2, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="bicubic"), (1, 1, 2, 5, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="nearest", antialias=True), (1, 1, 5, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="bilinear", antialias=True), (1, 5, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="lanczos"), (1, 1, 5, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="lanczos", antialias=True, align_corners=True), (1, 1, 5, 5)),
    (lambda m, x: _interp(m, x, size=3, mode="cubic"), (1, 1, 5, 5)),
])
def test_errors(fn, shape):
    te, ne = check_error(fn, [arr(*shape)])
    assert str(ne) == str(te)
