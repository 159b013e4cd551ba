"""Gamma, Dirichlet and Beta draws on torch's CPU stream, bit for bit (seeds 0-99, float32 and
float64, shape parameters below, at and above 1 where the sampler switches to its boost), and
rsample's gradient still torch's."""
import numpy as np
import pytest
import torch
import torch.distributions as TD

import nnbox
import nnbox.distributions as ND

pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")

SEEDS = range(100)
DTYPES = ["float32", "float64"]


def conc(n, dtype, low=0.05, high=4.0):
    """n shape parameters spread over [low, high] (float32-exact, so both libraries see the same)."""
    return np.linspace(low, high, n).astype(np.float32).astype(dtype)


def check(fn, dtype, sizes=(1, 2, 5, 17)):
    for seed in SEEDS:
        for n in sizes:
            c = conc(n, dtype)
            torch.manual_seed(seed)
            nnbox.manual_seed(seed)
            for _ in range(2):  # successive calls: the generator's cached normal carries over
                a = fn(TD, torch.tensor, c).detach().numpy()
                b = fn(ND, nnbox.tensor, c).detach().numpy()
                assert a.dtype == b.dtype and np.array_equal(a, b), (seed, n, a, b)
            assert torch.rand(1).item() == nnbox.rand(1).item()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_matches_torch(dtype):
    check(lambda D, T, c: D.Gamma(T(c), T(c[::-1] + 0.5)).sample((2,)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_boost_and_edges_match_torch(dtype):
    """alpha < 1 (the boost), tiny alphas that underflow to the dtype's smallest normal number,
    and a large one."""
    for alphas in ([0.001, 0.3, 0.999], [1e-30, 1.0, 1e4], [0.5] * 20):
        check(lambda D, T, c: D.Gamma(T(np.array(alphas, dtype)), T(np.ones(len(alphas), dtype))).rsample(),
              dtype, sizes=(1,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dirichlet_matches_torch(dtype):
    check(lambda D, T, c: D.Dirichlet(T(np.stack([c, c[::-1], c + 0.3], -1))).sample((2,)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_matches_torch(dtype):
    check(lambda D, T, c: D.Beta(T(c), T(c[::-1].copy())).rsample(), dtype)


def test_dirichlet_stays_inside_the_simplex_as_torch():
    for lib, T in ((TD, torch.tensor), (ND, nnbox.tensor)):
        (torch if lib is TD else nnbox).manual_seed(0)
        one = lib.Dirichlet(T([2.0])).sample()
        edge = lib.Dirichlet(T([1e-3, 1e-3, 5.0])).sample()
        assert one.tolist() == [np.nextafter(np.float32(1), np.float32(0))]
        assert edge.tolist()[:2] == [float(np.finfo(np.float32).tiny)] * 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_rsample_gradient_matches_torch(dtype):
    c = conc(6, dtype, 0.3, 5.0)
    torch.manual_seed(3)
    nnbox.manual_seed(3)
    ta, na = torch.tensor(c, requires_grad=True), nnbox.tensor(c, requires_grad=True)
    tx, nx = TD.Gamma(ta, torch.tensor(2.0, dtype=ta.dtype)).rsample(), ND.Gamma(na, nnbox.tensor(2.0, dtype=na.dtype)).rsample()
    assert np.array_equal(tx.detach().numpy(), nx.detach().numpy())
    tx.sum().backward()
    nx.sum().backward()
    # the same draws, so the same gradients up to torch's approximation of d(sample)/d(alpha)
    # (good to ~1.5e-4 relative; nnbox's is the exact implicit derivative, see test_distributions)
    np.testing.assert_allclose(na.grad.numpy(), ta.grad.numpy(), rtol=5e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_private_samplers_match_torch(dtype):
    """torch._standard_gamma and torch._sample_dirichlet, with and without a generator."""
    for seed in SEEDS:
        c = conc(7, dtype).reshape(7, 1) + conc(3, dtype)
        for name in ("_standard_gamma", "_sample_dirichlet"):
            a = getattr(torch, name)(torch.tensor(c), generator=torch.Generator().manual_seed(seed)).numpy()
            b = getattr(nnbox, name)(nnbox.tensor(c), generator=nnbox.Generator().manual_seed(seed)).numpy()
            assert np.array_equal(a, b)
    with pytest.raises(NotImplementedError, match="\"gamma_cpu\" not implemented for 'Long'"):
        nnbox._standard_gamma(nnbox.tensor([1, 2]))
