"""Dropout: semantics (mask, scaling, gradient = same mask), statistics, eval identity, errors."""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check_error


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_mask_scale_and_grad(p):
    x = nnbox.tensor(arr(200, 50) + 5.0, requires_grad=True)
    y = NF.dropout(x, p)
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / (1 - p), rtol=1e-12)
    assert abs((~kept).mean() - p) < 0.03
    g = arr(200, 50)
    y.backward(nnbox.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=1e-12)


def test_dropout_float32_stays_float32_and_seeded():
    x = nnbox.ones(1000, dtype=nnbox.float32)
    nnbox.manual_seed(3)
    a = NF.dropout(x, 0.3)
    nnbox.manual_seed(3)
    b = NF.dropout(x, 0.3)
    assert a.dtype == nnbox.float32
    assert (a == b).all()


def test_dropout_eval_p0_p1():
    x = nnbox.tensor(arr(5, 4), requires_grad=True)
    assert (NF.dropout(x, 0.5, training=False) == x).all()
    assert (NF.dropout(x, 0.0) == x).all()
    y = NF.dropout(x, 1.0)
    assert (y == 0).all()
    y.sum().backward()
    assert (x.grad == 0).all()
    assert (NF.alpha_dropout(x, 0.5) == x).all()  # alpha_dropout defaults to training=False, as torch


def test_dropout_inplace():
    x = nnbox.ones(100, 10)
    y = NF.dropout(x, 0.5, inplace=True)
    assert y is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
    leaf = nnbox.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        NF.dropout(leaf, 0.5, inplace=True)
    t = nnbox.ones(50, requires_grad=True)
    h = t * 1
    NF.dropout(h, 0.5, inplace=True).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), h.detach().numpy())


@pytest.mark.parametrize("fn,shape,mask_axes", [
    (NF.dropout2d, (8, 16, 5, 6), (2, 3)), (NF.dropout2d, (16, 5, 6), (2,)), (NF.dropout1d, (8, 16, 7), (2,)),
    (NF.dropout1d, (16, 7), (1,)), (NF.dropout3d, (4, 8, 3, 4, 5), (2, 3, 4)), (NF.dropout3d, (8, 3, 4, 5), (1, 2, 3)),
])
def test_feature_dropout_zeroes_whole_channels(fn, shape, mask_axes):
    x = nnbox.ones(*shape, requires_grad=True)
    y = fn(x, 0.5)
    yn = y.detach().numpy()
    assert (yn.min(axis=mask_axes) == yn.max(axis=mask_axes)).all()
    assert set(np.unique(yn)) == {0.0, 2.0}
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), yn)


def test_alpha_dropout_keeps_selu_statistics():
    nnbox.manual_seed(0)
    x = nnbox.tensor(np.random.default_rng(0).standard_normal(200000))
    for fn in (NF.alpha_dropout, NF.feature_alpha_dropout):
        y = fn(x.view(1000, 200), 0.2, training=True).numpy()
        assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # same affine constants as torch: the dropped-unit value and the scale of kept units
    tx = torch.full((10000,), 3.0)
    ty = torch.nn.functional.alpha_dropout(tx, 0.3, training=True)
    ny = NF.alpha_dropout(nnbox.full((10000,), 3.0), 0.3, training=True)
    np.testing.assert_allclose(np.unique(ny.numpy()), np.unique(ty.numpy()), rtol=1e-6)


def test_alpha_dropout_grad():
    x = nnbox.tensor(arr(300, 20), requires_grad=True)
    y = NF.alpha_dropout(x, 0.4, training=True)
    y.sum().backward()
    g = x.grad.numpy()
    a = ((1 - 0.4) * (1 + 0.4 * 1.7580993408473766 ** 2)) ** -0.5
    assert set(np.round(np.unique(g), 12)) == {0.0, round(a, 12)}


@pytest.mark.parametrize("fn", ["dropout", "dropout2d", "alpha_dropout", "dropout1d"])
def test_bad_p(fn):
    check_error(lambda m, x: getattr(m.nn.functional, fn)(x, 1.5, True), [arr(2, 3, 4)], match="between 0 and 1")
    check_error(lambda m, x: getattr(m.nn.functional, fn)(x, -0.1, True), [arr(2, 3, 4)], match="between 0 and 1")


def test_dropout1d_bad_dim():
    check_error(lambda m, x: m.nn.functional.dropout1d(x, 0.5), [arr(2, 3, 4, 5)], match="Expected 2D or 3D input")


@pytest.mark.parametrize("alpha", [False, True])
def test_dropout_second_order(alpha):
    """dropout is linear in its input for a fixed mask: the gradient of its gradient is the mask's
    gain w.r.t. the upstream gradient, and nothing w.r.t. the input (as torch)."""
    f = nnbox.nn.functional.alpha_dropout if alpha else nnbox.nn.functional.dropout
    x = nnbox.tensor(np.linspace(0.5, 2.0, 40), requires_grad=True)
    u = nnbox.tensor(np.linspace(-1.0, 1.0, 40), requires_grad=True)
    y = f(x, 0.4, training=True)
    (g,) = nnbox.autograd.grad(y, x, u, create_graph=True)
    gain = g.detach().numpy() / u.detach().numpy()
    g.sum().backward()
    np.testing.assert_allclose(u.grad.numpy(), gain)
    assert x.grad is None
    assert len(set(np.round(gain, 12))) == 2  # kept and dropped units
