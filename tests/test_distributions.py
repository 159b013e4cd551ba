"""nnbox.distributions against torch.distributions (float64): log_prob, entropy, moments, cdf,
their gradients, kl_divergence, validation errors, shapes; rsample gradients; REINFORCE and VAE."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, torch_message

tol = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(autouse=True)
def _torch_validates():
    """torch._dynamo (imported by any torch.compile call earlier in the session) turns torch's
    argument validation off process-wide; the comparisons need it on, as it is by default."""
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield
    torch.distributions.Distribution.set_default_validate_args(before)


def _pos(*shape, low=0.3, high=3.0):
    return RNG.uniform(low, high, size=shape)


def _simplex(*shape):
    p = RNG.uniform(0.1, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _spd(n, *batch):
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _onehot(k, *shape):
    idx = RNG.integers(0, k, size=shape)
    return np.eye(k)[idx]


# name -> (constructor over (module, params...), param arrays, value array)
def _cases():
    tr = lambda m: m.distributions.transforms  # noqa: E731
    tril = np.tril(RNG.standard_normal((2, 3, 3)), -1) + np.diag(_pos(3))
    u_low, u_width = RNG.standard_normal(3), _pos(3, low=2.0)
    return {
        "Normal": (lambda m, a, b: m.distributions.Normal(a, b), [RNG.standard_normal(3), _pos(3)], RNG.standard_normal((4, 3))),
        "Laplace": (lambda m, a, b: m.distributions.Laplace(a, b), [RNG.standard_normal(3), _pos(3)], RNG.standard_normal((4, 3))),
        "Uniform": (lambda m, a, b: m.distributions.Uniform(a, a + b), [u_low, u_width],
                    u_low + RNG.uniform(0.0, 1.0, (4, 3)) * u_width),
        "Exponential": (lambda m, r: m.distributions.Exponential(r), [_pos(2, 3)], _pos(2, 3)),
        "Poisson": (lambda m, r: m.distributions.Poisson(r), [_pos(3)], RNG.integers(0, 6, size=(4, 3)).astype(float)),
        "Bernoulli-probs": (lambda m, p: m.distributions.Bernoulli(probs=p), [RNG.uniform(0.05, 0.95, 4)],
                            RNG.integers(0, 2, size=(3, 4)).astype(float)),
        "Bernoulli-logits": (lambda m, z: m.distributions.Bernoulli(logits=z), [RNG.standard_normal(4)],
                             RNG.integers(0, 2, size=(3, 4)).astype(float)),
        "Categorical-probs": (lambda m, p: m.distributions.Categorical(probs=p), [_simplex(2, 5)], RNG.integers(0, 5, size=(3, 2))),
        "Categorical-logits": (lambda m, z: m.distributions.Categorical(logits=z), [RNG.standard_normal((2, 5))],
                               RNG.integers(0, 5, size=(3, 2))),
        "OneHotCategorical": (lambda m, p: m.distributions.OneHotCategorical(probs=p), [_simplex(2, 4)], _onehot(4, 3, 2)),
        "Gamma": (lambda m, a, b: m.distributions.Gamma(a, b), [_pos(3), _pos(3)], _pos(4, 3)),
        "Beta": (lambda m, a, b: m.distributions.Beta(a, b), [_pos(3), _pos(3)], RNG.uniform(0.05, 0.95, (4, 3))),
        "Dirichlet": (lambda m, a: m.distributions.Dirichlet(a), [_pos(2, 4)], _simplex(3, 2, 4)),
        "MVN-cov": (lambda m, mu, c: m.distributions.MultivariateNormal(mu, covariance_matrix=c),
                    [RNG.standard_normal((2, 3)), _spd(3, 2)], RNG.standard_normal((4, 2, 3))),
        "MVN-tril": (lambda m, mu, L: m.distributions.MultivariateNormal(mu, scale_tril=L),
                     [RNG.standard_normal(3), tril], RNG.standard_normal((4, 2, 3))),
        "MVN-prec": (lambda m, mu, P: m.distributions.MultivariateNormal(mu, precision_matrix=P),
                     [RNG.standard_normal(3), _spd(3)], RNG.standard_normal((4, 3))),
        "Independent": (lambda m, a, b: m.distributions.Independent(m.distributions.Normal(a, b), 1),
                        [RNG.standard_normal((2, 3)), _pos(2, 3)], RNG.standard_normal((4, 2, 3))),
        "LogNormal": (lambda m, a, b: m.distributions.LogNormal(a, b), [RNG.standard_normal(3), _pos(3)], _pos(4, 3)),
        "Transformed-exp-affine": (
            lambda m, a, b: m.distributions.TransformedDistribution(
                m.distributions.Normal(a, b), [tr(m).ExpTransform(), tr(m).AffineTransform(1.0, 2.0)]),
            [RNG.standard_normal(3), _pos(3)], 1.0 + _pos(4, 3)),
        "Transformed-sigmoid": (
            lambda m, a, b: m.distributions.TransformedDistribution(m.distributions.Normal(a, b), tr(m).SigmoidTransform()),
            [RNG.standard_normal(3), _pos(3)], RNG.uniform(0.05, 0.95, (4, 3))),
        "Transformed-tanh-compose": (
            lambda m, a, b: m.distributions.TransformedDistribution(
                m.distributions.Normal(a, b), [tr(m).ComposeTransform([tr(m).AffineTransform(0.5, 0.3), tr(m).TanhTransform()])]),
            [RNG.standard_normal(3), _pos(3)], RNG.uniform(-0.9, 0.9, (4, 3))),
        "Transformed-power": (
            lambda m, a, b: m.distributions.TransformedDistribution(m.distributions.Exponential(a), tr(m).PowerTransform(b)),
            [_pos(3), _pos(3, low=0.5, high=2.0)], _pos(4, 3)),
    }


CASES = _cases()
# torch's polygamma(1, x) is off by up to 5e-10 relative, so gradients through digamma compare at 1e-8
DIGAMMA_GRADS = {"Gamma", "Beta", "Dirichlet"}


def _tensors(lib, arrays, grad=True):
    out = []
    for a in arrays:
        t = lib.tensor(np.asarray(a))
        if grad and t.is_floating_point():
            t.requires_grad_(True)
        out.append(t)
    return out


def _close(n, t, rtol=1e-10, atol=1e-10, what=""):
    assert tuple(n.shape) == tuple(t.shape), f"{what}: shape {tuple(n.shape)} vs torch {tuple(t.shape)}"
    assert repr(n.dtype) == str(t.dtype), f"{what}: dtype {n.dtype!r} vs torch {t.dtype}"
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol, err_msg=what, equal_nan=True)


@pytest.mark.parametrize("name", list(CASES))
def test_log_prob_entropy_moments_and_gradients(name):
    ctor, params, value = CASES[name]
    tp, np_ = _tensors(torch, params), _tensors(nnbox, params)
    td, nd = ctor(torch, *tp), ctor(nnbox, *np_)
    assert tuple(nd.batch_shape) == tuple(td.batch_shape) and tuple(nd.event_shape) == tuple(td.event_shape)
    assert nd.has_rsample == td.has_rsample
    tv, nv = torch.tensor(value), nnbox.tensor(value)
    t_total, n_total = td.log_prob(tv).sum(), nd.log_prob(nv).sum()
    _close(nd.log_prob(nv), td.log_prob(tv), what="log_prob")
    for attr in ("mean", "variance", "stddev", "mode"):
        try:
            t_m = getattr(td, attr)
        except NotImplementedError:
            continue
        _close(getattr(nd, attr), t_m, what=attr)
    try:
        t_ent = td.entropy()
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            nd.entropy()
    else:
        n_ent = nd.entropy()
        _close(n_ent, t_ent, what="entropy")
        t_total, n_total = t_total + t_ent.sum(), n_total + n_ent.sum()
    t_total.backward()
    n_total.backward()
    g_rtol = 1e-8 if name in DIGAMMA_GRADS else 1e-10
    for i, (a, b) in enumerate(zip(tp, np_)):
        if a.grad is not None:
            _close(b.grad, a.grad, rtol=g_rtol, atol=1e-10, what=f"grad of param {i}")


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Uniform", "Exponential", "LogNormal", "Transformed-exp-affine",
                                  "Transformed-sigmoid", "Transformed-tanh-compose"])
def test_cdf_icdf(name):
    ctor, params, value = CASES[name]
    td, nd = ctor(torch, *_tensors(torch, params)), ctor(nnbox, *_tensors(nnbox, params))
    _close(nd.cdf(nnbox.tensor(value)), td.cdf(torch.tensor(value)), what="cdf")
    q = RNG.uniform(0.05, 0.95, size=np.shape(value))
    _close(nd.icdf(nnbox.tensor(q)), td.icdf(torch.tensor(q)), rtol=1e-9, what="icdf")


@pytest.mark.parametrize("name", list(CASES))
def test_sample_shapes_dtypes_and_support(name):
    ctor, params, _ = CASES[name]
    td, nd = ctor(torch, *_tensors(torch, params, False)), ctor(nnbox, *_tensors(nnbox, params, False))
    for shape in [(), (5,), (2, 3)]:
        ts, ns = td.sample(shape), nd.sample(shape)
        assert tuple(ns.shape) == tuple(ts.shape) and repr(ns.dtype) == str(ts.dtype), shape
        assert not ns.requires_grad
        assert bool(nd.support.check(ns).all())
    assert repr(nd) == repr(td)


def _mc_mean_close(nd, n=40000, k=5.0):
    """The sample mean is within k standard errors of the distribution's mean."""
    s = nd.sample((n,)).double()
    m, se = s.mean(0).numpy(), s.std(0).numpy() / np.sqrt(n)
    assert np.all(np.abs(m - nd.mean.detach().numpy()) <= k * se + 1e-9)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Uniform", "Exponential", "Poisson", "Bernoulli-probs",
                                  "OneHotCategorical", "Gamma", "Beta", "Dirichlet", "MVN-cov", "MVN-prec"])
def test_samples_have_the_right_mean(name):
    ctor, params, _ = CASES[name]
    _mc_mean_close(ctor(nnbox, *_tensors(nnbox, params, False)))


def test_categorical_sample_frequencies():
    p = np.array([0.1, 0.6, 0.3])
    s = nnbox.distributions.Categorical(nnbox.tensor(p)).sample((30000,)).numpy()
    np.testing.assert_allclose(np.bincount(s, minlength=3) / 30000, p, atol=0.015)


# --- kl_divergence --------------------------------------------------------------------------------
KL_PAIRS = {
    "Normal": (lambda m, a, b, c, d: (m.distributions.Normal(a, b), m.distributions.Normal(c, d)),
               [RNG.standard_normal(3), _pos(3), RNG.standard_normal(3), _pos(3)]),
    "Laplace": (lambda m, a, b, c, d: (m.distributions.Laplace(a, b), m.distributions.Laplace(c, d)),
                [RNG.standard_normal(3), _pos(3), RNG.standard_normal(3), _pos(3)]),
    "Uniform": (lambda m, a, b, c, d: (m.distributions.Uniform(a, a + b), m.distributions.Uniform(c, c + d)),
                [np.array([0.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0]), np.array([-1.0, 0.5, 0.0]), np.array([3.0, 3.0, 3.0])]),
    "Exponential": (lambda m, a, b: (m.distributions.Exponential(a), m.distributions.Exponential(b)), [_pos(3), _pos(3)]),
    "Poisson": (lambda m, a, b: (m.distributions.Poisson(a), m.distributions.Poisson(b)), [_pos(3), _pos(3)]),
    "Gamma": (lambda m, a, b, c, d: (m.distributions.Gamma(a, b), m.distributions.Gamma(c, d)), [_pos(3), _pos(3), _pos(3), _pos(3)]),
    "Beta": (lambda m, a, b, c, d: (m.distributions.Beta(a, b), m.distributions.Beta(c, d)), [_pos(3), _pos(3), _pos(3), _pos(3)]),
    "Dirichlet": (lambda m, a, b: (m.distributions.Dirichlet(a), m.distributions.Dirichlet(b)), [_pos(2, 4), _pos(2, 4)]),
    "Bernoulli": (lambda m, a, b: (m.distributions.Bernoulli(a), m.distributions.Bernoulli(b)),
                  [RNG.uniform(0.05, 0.95, 4), RNG.uniform(0.05, 0.95, 4)]),
    "Categorical": (lambda m, a, b: (m.distributions.Categorical(a), m.distributions.Categorical(b)), [_simplex(2, 5), _simplex(2, 5)]),
    "OneHotCategorical": (lambda m, a, b: (m.distributions.OneHotCategorical(a), m.distributions.OneHotCategorical(b)),
                          [_simplex(3), _simplex(3)]),
    "MVN": (lambda m, a, b, c, d: (m.distributions.MultivariateNormal(a, b), m.distributions.MultivariateNormal(c, d)),
            [RNG.standard_normal((2, 3)), _spd(3, 2), RNG.standard_normal(3), _spd(3)]),
    "Independent": (lambda m, a, b, c, d: (m.distributions.Independent(m.distributions.Normal(a, b), 1),
                                           m.distributions.Independent(m.distributions.Normal(c, d), 1)),
                    [RNG.standard_normal((2, 3)), _pos(2, 3), RNG.standard_normal((2, 3)), _pos(2, 3)]),
    "LogNormal": (lambda m, a, b, c, d: (m.distributions.LogNormal(a, b), m.distributions.LogNormal(c, d)),
                  [RNG.standard_normal(3), _pos(3), RNG.standard_normal(3), _pos(3)]),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_kl_divergence_values_and_gradients(name):
    ctor, params = KL_PAIRS[name]
    tp, np_ = _tensors(torch, params), _tensors(nnbox, params)
    tk = torch.distributions.kl_divergence(*ctor(torch, *tp))
    nk = nnbox.distributions.kl_divergence(*ctor(nnbox, *np_))
    _close(nk, tk, what="kl")
    finite = np.isfinite(tk.detach().numpy())
    (tk[torch.tensor(finite)]).sum().backward()
    (nk[nnbox.tensor(finite)]).sum().backward()
    g_rtol = 1e-8 if name in DIGAMMA_GRADS else 1e-10
    for i, (a, b) in enumerate(zip(tp, np_)):
        if a.grad is not None:
            _close(b.grad, a.grad, rtol=g_rtol, what=f"kl grad {i}")


def test_kl_infinite_where_support_differs_and_missing_pair():
    k = nnbox.distributions.kl_divergence(nnbox.distributions.Bernoulli(nnbox.tensor([0.5, 0.0])),
                                          nnbox.distributions.Bernoulli(nnbox.tensor([0.0, 0.3])))
    t = torch.distributions.kl_divergence(torch.distributions.Bernoulli(torch.tensor([0.5, 0.0])),
                                          torch.distributions.Bernoulli(torch.tensor([0.0, 0.3])))
    _close(k, t, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Poisson and q type Gamma"):
        nnbox.distributions.kl_divergence(nnbox.distributions.Poisson(1.0), nnbox.distributions.Gamma(1.0, 1.0))


def test_register_kl_dispatches_to_user_pairs():
    D = nnbox.distributions

    class MyNormal(D.Normal):
        pass

    assert float(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0))) == 0.5  # through the MRO

    @D.register_kl(D.Poisson, D.Exponential)
    def _kl(p, q):
        return p.rate * 0 + 42.0

    assert float(D.kl_divergence(D.Poisson(1.0), D.Exponential(1.0))) == 42.0


# --- validation ----------------------------------------------------------------------------------
BAD = [
    lambda m: m.distributions.Normal(0.0, -1.0),
    lambda m: m.distributions.Normal(m.zeros(2), m.tensor([1.0, -1.0])),
    lambda m: m.distributions.Exponential(1.0).log_prob(m.tensor(-1.0)),
    lambda m: m.distributions.Bernoulli(probs=0.3, logits=0.1),
    lambda m: m.distributions.Bernoulli(),
    lambda m: m.distributions.Bernoulli(m.tensor([1.5])),
    lambda m: m.distributions.Normal(m.zeros(3), 1.0).log_prob(m.zeros(2)),
    lambda m: m.distributions.Beta(1.0, 2.0).log_prob(m.tensor(1.5)),
    lambda m: m.distributions.Normal(0.0, 1.0).log_prob(0.5),
    lambda m: m.distributions.Uniform(1.0, 0.0),
    lambda m: m.distributions.Poisson(2.0).log_prob(m.tensor(1.5)),
    lambda m: m.distributions.Dirichlet(m.tensor(1.0)),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2)),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda m: m.distributions.Gamma(m.tensor([1.0, -1.0]), 1.0),
    lambda m: m.distributions.Independent(m.distributions.Normal(0.0, 1.0), 1),
    lambda m: m.distributions.Categorical(m.tensor(1.0)),
    lambda m: m.distributions.Laplace(0.0, 0.0),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_validation_errors_as_torch(i):
    with pytest.raises(Exception) as t:
        BAD[i](torch)
    with pytest.raises(Exception) as n:
        BAD[i](nnbox)
    assert type(n.value) is type(t.value)
    assert str(n.value) == torch_message(str(t.value))


def test_validate_args_false_skips_checks():
    d = nnbox.distributions.Normal(0.0, -1.0, validate_args=False)
    assert d.scale.item() == -1.0
    nnbox.distributions.Distribution.set_default_validate_args(False)
    try:
        nnbox.distributions.Exponential(1.0).log_prob(nnbox.tensor(-1.0))
    finally:
        nnbox.distributions.Distribution.set_default_validate_args(True)


def test_expand_as_torch():
    for m in (torch, nnbox):
        d = m.distributions.Normal(m.zeros(3, 1), m.ones(1, 2))
        assert tuple(d.batch_shape) == (3, 2)
        e = d.expand((5, 3, 2))
        assert tuple(e.batch_shape) == (5, 3, 2) and tuple(e.sample((4,)).shape) == (4, 5, 3, 2)


# --- rsample gradients ---------------------------------------------------------------------------
def test_rsample_pathwise_gradients_location_scale():
    loc = nnbox.tensor([0.5, -1.0], dtype=nnbox.float64, requires_grad=True)
    scale = nnbox.tensor([2.0, 0.5], dtype=nnbox.float64, requires_grad=True)
    for D in (nnbox.distributions.Normal, nnbox.distributions.Laplace):
        loc.grad = scale.grad = None
        x = D(loc, scale).rsample((1000,))
        x.sum().backward()
        np.testing.assert_allclose(loc.grad.numpy(), [1000.0, 1000.0])
        z = ((x - loc) / scale).detach().sum(0).numpy()
        np.testing.assert_allclose(scale.grad.numpy(), z, rtol=1e-10)
    rate = nnbox.tensor(1.5, dtype=nnbox.float64, requires_grad=True)
    x = nnbox.distributions.Exponential(rate).rsample((100,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.item(), -(x.detach() / rate.detach()).sum().item(), rtol=1e-10)


def test_rsample_mvn_gradient():
    loc = nnbox.zeros(3, dtype=nnbox.float64, requires_grad=True)
    L = nnbox.tensor(np.tril(_spd(3)), requires_grad=True)
    x = nnbox.distributions.MultivariateNormal(loc, scale_tril=L).rsample((50,))
    x.sum().backward()
    eps = nnbox.linalg.solve_triangular(L.detach(), (x - loc).detach().T, upper=False).T  # x = loc + L eps
    # d/dL of sum(L eps) is the outer product of ones with the summed eps (L is used as given)
    np.testing.assert_allclose(L.grad.numpy(), np.ones((3, 1)) @ eps.sum(0, keepdim=True).numpy(), rtol=1e-8, atol=1e-10)


def test_standard_gamma_gradient_matches_torch():
    from nnbox.distributions._gamma_sample import standard_gamma_grad

    a = np.concatenate([RNG.uniform(0.05, 5, 200), RNG.uniform(5, 200, 50)])
    x = RNG.standard_gamma(a)
    ours = standard_gamma_grad(a, x)
    theirs = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy()
    # torch's is a series/asymptotic approximation good to ~1.5e-4 relative; nnbox's implicit
    # derivative agrees with a finite difference of scipy's gammainc to ~1e-7
    np.testing.assert_allclose(ours, theirs, rtol=5e-4)


@pytest.mark.parametrize("which", ["Gamma", "Beta", "Dirichlet"])
def test_rsample_gradient_of_the_mean_is_unbiased(which):
    """d/dθ E[x] estimated from rsample gradients matches d/dθ of the exact mean."""
    D = nnbox.distributions
    a = nnbox.tensor([0.7, 3.0], dtype=nnbox.float64, requires_grad=True)
    b = nnbox.tensor([2.0, 1.5], dtype=nnbox.float64, requires_grad=True)
    make = {"Gamma": lambda: D.Gamma(a, b), "Beta": lambda: D.Beta(a, b),
            "Dirichlet": lambda: D.Dirichlet(nnbox.stack([a, b], -1))}[which]
    n = 20000
    nnbox.manual_seed(1)
    x = make().rsample((n,))
    weights = nnbox.tensor([1.0, -2.0], dtype=nnbox.float64)
    (x[..., 0] * weights if which == "Dirichlet" else x * weights).sum().div(n).backward()
    g_mc = (a.grad.numpy().copy(), b.grad.numpy().copy())
    a.grad = b.grad = None
    m = make().mean
    (m[..., 0] * weights if which == "Dirichlet" else m * weights).sum().backward()
    np.testing.assert_allclose(g_mc[0], a.grad.numpy(), rtol=0.05, atol=0.01)
    np.testing.assert_allclose(g_mc[1], b.grad.numpy(), rtol=0.05, atol=0.01)


# --- end to end ----------------------------------------------------------------------------------
def test_reinforce_learns_the_best_arm():
    """Policy gradient on a 4-armed bandit: loss = -log_prob(action) * reward."""
    nnbox.manual_seed(0)
    rewards = nnbox.tensor([0.1, 0.2, 1.0, 0.3])
    logits = nnbox.zeros(4, requires_grad=True)
    opt = nnbox.optim.Adam([logits], lr=0.05)
    for _ in range(200):
        dist = nnbox.distributions.Categorical(logits=logits)
        actions = dist.sample((32,))
        r = rewards[actions]
        loss = -(dist.log_prob(actions) * (r - r.mean())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    probs = nnbox.softmax(logits, -1).detach().numpy()
    assert probs.argmax() == 2 and probs[2] > 0.9


def test_vae_trains_end_to_end():
    """A small VAE (Normal encoder with rsample, Bernoulli decoder, KL to N(0, 1)) lowers its
    negative ELBO on binary patterns."""
    nn, D = nnbox.nn, nnbox.distributions
    nnbox.manual_seed(0)
    protos = (nnbox.rand(4, 16) > 0.5).float()
    data = protos[nnbox.randint(0, 4, (256,))]
    enc, dec = nn.Linear(16, 2 * 2), nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 16))
    opt = nnbox.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=0.02)
    prior = D.Normal(nnbox.zeros(2), nnbox.ones(2))

    def neg_elbo(x):
        mu, log_std = enc(x).chunk(2, -1)
        q = D.Normal(mu, log_std.exp())
        z = q.rsample()
        rec = D.Bernoulli(logits=dec(z)).log_prob(x).sum(-1)
        return (D.kl_divergence(q, prior).sum(-1) - rec).mean()

    with nnbox.no_grad():
        start = neg_elbo(data).item()
    for _ in range(150):
        loss = neg_elbo(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nnbox.no_grad():
        end = neg_elbo(data).item()
    assert end < 0.5 * start, (start, end)


def test_gamma_rsample_second_backward_raises_as_torch():
    # torch has no derivative of _standard_gamma_grad (the gradient's dependence on alpha)
    for m in (torch, nnbox):
        alpha = m.tensor([0.5, 2.0, 5.0], dtype=m.float64, requires_grad=True)
        up = m.tensor([1.0, -2.0, 0.5], dtype=m.float64, requires_grad=True)
        x = m.distributions.Gamma(alpha, m.ones(3, dtype=m.float64)).rsample()
        (g,) = m.autograd.grad(x, alpha, up, create_graph=True)
        assert g.requires_grad
        with pytest.raises(NotImplementedError, match="the derivative for '_standard_gamma_grad' is not implemented"):
            g.sum().backward()
