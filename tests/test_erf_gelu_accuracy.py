"""erf, the normal CDF and exact GELU against torch over the whole real line (float32 and float64),
and GELU on several threads bit-identical to one thread (issue 12)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from nnbox.ops._erf import erf, normal_cdf

# ulp-scale bounds: float32 results within 2 ulps of 1 (the values near 1 dominate), float64 within 4
ATOL = {np.float32: 2.5e-7, np.float64: 1e-15}
DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def _points(dt):
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-40, 40, 400_001), rng.standard_normal(100_000) * 3,
                        [np.inf, -np.inf, np.nan, 0.0, -0.0, np.sqrt(2), -np.sqrt(2), 1.0, -1.0, 3.0, -3.0]])
    return x.astype(dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_erf_matches_torch(dt):
    x = _points(dt)
    got = erf(x)
    ref = torch.erf(torch.from_numpy(x)).numpy()
    assert got.dtype == dt
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL[dt])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_normal_cdf_matches_torch(dt):
    x = _points(dt)
    sq = np.empty_like(x)
    got = normal_cdf(x, np.empty_like(x), sq)
    xt = torch.from_numpy(x)
    ref = (0.5 * (1 + torch.erf(xt * 0.7071067811865476))).numpy()
    assert got.dtype == dt
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL[dt])
    np.testing.assert_array_equal(sq, x * x)
    far = np.abs(x) > 9  # far out Phi rounds to exactly 0 or 1, as torch's 0.5 (1 + erf) does
    np.testing.assert_array_equal(got[far], ref[far])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_value_and_grad_match_torch(dt):
    x = _points(dt)
    x = x[np.isfinite(x)]
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(xt).backward(torch.ones_like(xt))
    xn = nnbox.tensor(x, requires_grad=True)
    y = nnbox.nn.functional.gelu(xn)
    y.backward(nnbox.ones_like(xn))
    assert y.dtype == xn.dtype
    scale = np.maximum(np.abs(x), 1)  # GELU(x) ~ x: compare relative to |x| where it is large
    ref = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y.detach().numpy() / scale, ref / scale, rtol=0, atol=2 * ATOL[dt])
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=0, atol=4 * ATOL[dt])


def test_gelu_threads_bit_identical():
    x = nnbox.tensor(np.random.default_rng(1).standard_normal((256, 1024)).astype(np.float32) * 2,
                     requires_grad=True)
    n = nnbox.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            nnbox.set_num_threads(threads)
            x.grad = None
            y = nnbox.nn.functional.gelu(x)
            y.sum().backward()
            results.append((y.detach().numpy().copy(), x.grad.numpy().copy()))
    finally:
        nnbox.set_num_threads(n)
    for y, g in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(g, results[0][1])
