"""BatchNorm's (C, L) per-channel operands and relu's zero-array maximum give the same bits as the
plain broadcast formulas, and follow torch."""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as F
from nnbox.ops.elementwise import _max0
from nnbox.ops.norm import _cols


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_zero_rows_bits(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 32, 32)).astype(dtype)
    x.flat[:6] = [-0.0, 0.0, np.nan, -np.inf, np.inf, -1e-45]
    for a in (x, x[:, :, ::2], x.transpose(0, 2, 3, 1)):  # contiguous, strided, permuted
        want = np.maximum(a, 0)
        got = _max0(a)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    y = F.relu(nnbox.tensor(x)).numpy()
    assert np.array_equal(y, torch.relu(torch.tensor(x)).numpy(), equal_nan=True)


def test_relu_zero_rows_cached_array_is_read_only():
    x = nnbox.tensor(np.random.default_rng(1).standard_normal((2, 8, 64, 64)).astype(np.float32))
    y = F.relu(x)
    y.add_(1.0)  # the output is the caller's: writing it must not touch the shared zero operand
    assert float(F.relu(-x).numpy().max()) >= 0 and float(F.relu(x * 0 - 1).numpy().max()) == 0.0


def test_cols_matches_broadcast():
    v = np.arange(5, dtype=np.float32)
    assert np.array_equal(_cols(v, 7), np.broadcast_to(v[:, None], (5, 7)))
    assert _cols(v, 1).shape == (5, 1)


def _bn_reference(x3, w, b, eps):
    """The broadcast formulas BatchNorm used before its (C, L) operands (same operation order)."""
    m = x3.shape[0] * x3.shape[2]
    mean = x3.sum(axis=0).sum(axis=1) / m
    xhat = x3 - mean[:, None]
    var = np.einsum("ncl,ncl->c", xhat, xhat) / m if x3.shape[2] >= 16 else (xhat * xhat).sum(axis=0).sum(axis=1) / m
    invstd = 1.0 / np.sqrt(var + eps)
    xhat *= invstd[:, None]
    return xhat * w[:, None] + b[:, None], xhat, invstd


@pytest.mark.parametrize("shape", [(8, 16, 8, 8), (4, 32, 4, 4), (3, 6, 5, 7)])
def test_batchnorm_train_bits_and_torch(shape):
    rng = np.random.default_rng(2)
    x = (1000 + rng.standard_normal(shape)).astype(np.float32)  # a large mean: the variance stays two-pass
    g = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    bn, tb = nnbox.nn.BatchNorm2d(c), torch.nn.BatchNorm2d(c)
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(rng.standard_normal(c).astype(np.float32)))
        tb.bias.copy_(torch.tensor(rng.standard_normal(c).astype(np.float32)))
    bn.weight.data = nnbox.tensor(tb.weight.detach().numpy().copy())
    bn.bias.data = nnbox.tensor(tb.bias.detach().numpy().copy())
    nx, tx = nnbox.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ny, ty = bn(nx), tb(tx)
    y_ref, xhat, invstd = _bn_reference(x.reshape(shape[0], c, -1), bn.weight.detach().numpy(), bn.bias.detach().numpy(), 1e-5)
    assert np.array_equal(ny.detach().numpy().reshape(y_ref.shape), y_ref)
    ny.backward(nnbox.tensor(g))
    ty.backward(torch.tensor(g))
    # x near 1000 in float32 carries ~6e-5 of rounding: both libraries' batch statistics see it
    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(bn.weight.grad.numpy(), tb.weight.grad.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(bn.bias.grad.numpy(), tb.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.running_mean.numpy(), tb.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), tb.running_var.numpy(), rtol=1e-5)
    # backward bits: the broadcast formula of the input gradient
    g3 = g.reshape(y_ref.shape)
    m = g3.shape[0] * g3.shape[2]
    k = bn.weight.detach().numpy() * invstd
    sg, sgx = g3.sum(axis=0).sum(axis=1), np.einsum("ncl,ncl->c", g3, xhat) if g3.shape[2] >= 16 \
        else (g3 * xhat).sum(axis=0).sum(axis=1)
    gx = xhat * (-(sgx / m) * k)[:, None]
    gx += g3 * k[:, None]
    gx -= (sg / m * k)[:, None]
    assert np.array_equal(nx.grad.numpy().reshape(gx.shape), gx)
    bn.eval(), tb.eval()
    with nnbox.no_grad(), torch.no_grad():
        np.testing.assert_allclose(bn(nx).numpy(), tb(tx).numpy(), rtol=1e-4, atol=1e-4)
