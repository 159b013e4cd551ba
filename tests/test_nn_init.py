"""nn.init: distributions checked statistically against torch's formulas, errors against torch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnbox
from nnbox.nn import init


def big(*shape, dtype=nnbox.float32):
    return nnbox.empty(*shape, dtype=dtype, requires_grad=True)


def stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def test_calculate_gain_matches_torch():
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert init.calculate_gain(nl) == torch.nn.init.calculate_gain(nl)
    for p in [0.2, 1, 0]:
        assert init.calculate_gain("leaky_relu", p) == torch.nn.init.calculate_gain("leaky_relu", p)


@pytest.mark.parametrize("fn", [
    lambda m: m.nn.init.calculate_gain("foo"),
    lambda m: m.nn.init.calculate_gain("leaky_relu", "x"),
    lambda m: m.nn.init.calculate_gain("leaky_relu", True),
    lambda m: m.nn.init.xavier_uniform_(m.ones(3)),
    lambda m: m.nn.init.kaiming_uniform_(m.ones(3, 2), mode="x"),
    lambda m: m.nn.init.eye_(m.ones(3)),
    lambda m: m.nn.init.dirac_(m.ones(3, 3)),
    lambda m: m.nn.init.dirac_(m.ones(3, 3, 3), groups=2),
    lambda m: m.nn.init.orthogonal_(m.ones(3)),
    lambda m: m.nn.init.sparse_(m.ones(3), 0.5),
    lambda m: m.nn.init.uniform_(m.ones(3, 2), 2, 1),
    lambda m: m.nn.init.normal_(m.ones(3, 2), 0, -1),
])
def test_errors_equal_torch(fn):
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)) as ne:
        fn(nnbox)
    assert str(ne.value) == str(te.value)


def test_uniform_normal_constant():
    t = big(300, 400)
    out = init.uniform_(t, -2.0, 3.0)
    assert out is t and t.requires_grad and t.is_leaf and t.dtype == nnbox.float32
    mean, std, lo, hi = stats(t)
    assert -2 <= lo and hi <= 3 and abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.01
    init.normal_(t, 1.0, 0.5)
    mean, std, _, _ = stats(t)
    assert abs(mean - 1.0) < 0.005 and abs(std - 0.5) < 0.005
    init.constant_(t, 0.3)
    assert np.all(t.detach().numpy() == np.float32(0.3))
    init.ones_(t)
    assert np.all(t.detach().numpy() == 1)
    init.zeros_(t)
    assert not t.detach().numpy().any()


@pytest.mark.parametrize("shape", [(256, 384), (64, 32, 3, 3)])
def test_xavier(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    std = 1.5 * math.sqrt(2.0 / (fan_in + fan_out))
    t = big(*shape)
    init.xavier_uniform_(t, gain=1.5)
    mean, s, lo, hi = stats(t)
    bound = math.sqrt(3) * std
    assert -bound <= lo and hi <= bound and hi > 0.99 * bound and abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std
    init.xavier_normal_(t, gain=1.5)
    mean, s, _, _ = stats(t)
    assert abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("relu", 0), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 0.1), ("tanh", 0)])
def test_kaiming(mode, nl, a):
    shape = (128, 64, 3, 3)
    fan = (64 if mode == "fan_in" else 128) * 9
    std = torch.nn.init.calculate_gain(nl, a) / math.sqrt(fan)
    t = big(*shape)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nl)
    mean, s, lo, hi = stats(t)
    bound = math.sqrt(3) * std
    assert -bound <= lo and hi <= bound and hi > 0.99 * bound and abs(s - std) < 0.02 * std
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nl)
    mean, s, _, _ = stats(t)
    assert abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std


def test_kaiming_zero_element_warns():
    t = nnbox.ones(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(t) is t


def test_trunc_normal():
    t = big(400, 500)
    init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = t.detach().numpy().astype(np.float64)
    assert a.min() >= -1.0 and a.max() <= 1.5
    # moments of N(0.5, 1) truncated to [-1, 1.5]: compare with the closed form
    alpha, beta = -1.5, 1.0
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    Z = cdf(beta) - cdf(alpha)
    mean = 0.5 + (pdf(alpha) - pdf(beta)) / Z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / Z - ((pdf(alpha) - pdf(beta)) / Z) ** 2
    assert abs(a.mean() - mean) < 0.005 and abs(a.std() - math.sqrt(var)) < 0.005
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(nnbox.empty(10), mean=10.0)


def test_eye_dirac_match_torch():
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(nnbox.empty(*shape)).numpy(), torch.nn.init.eye_(torch.empty(*shape)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 3, 3, 3), 1), ((2, 5, 2, 2), 1)]:
        np.testing.assert_array_equal(init.dirac_(nnbox.empty(*shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(big(*shape), gain=2.0)
    q = t.detach().numpy().reshape(shape[0], -1).astype(np.float64)
    rows, cols = q.shape
    gram = q @ q.T if rows <= cols else q.T @ q
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)


def test_sparse():
    t = init.sparse_(big(100, 30), sparsity=0.3, std=0.5)
    a = t.detach().numpy()
    assert np.all((a == 0).sum(axis=0) == 30)  # ceil(0.3 * 100) zeros in every column
    nz = a[a != 0]
    assert abs(nz.std() - 0.5) < 0.03


@pytest.mark.cpu_only(reason="draws with a CPU Generator into new (cuda) tensors, which torch refuses")
def test_generator_reproducible_and_independent():
    g = nnbox.Generator().manual_seed(5)
    a = init.kaiming_uniform_(nnbox.empty(20, 10), generator=g).numpy().copy()
    g.manual_seed(5)
    b = init.kaiming_uniform_(nnbox.empty(20, 10), generator=g).numpy()
    np.testing.assert_array_equal(a, b)
    for fn in (init.xavier_normal_, init.orthogonal_, init.trunc_normal_):
        g.manual_seed(1)
        x = fn(nnbox.empty(6, 4), generator=g).numpy().copy()
        g.manual_seed(1)
        np.testing.assert_array_equal(fn(nnbox.empty(6, 4), generator=g).numpy(), x)


def test_float64_kept():
    t = init.xavier_uniform_(nnbox.empty(5, 5, dtype=nnbox.float64))
    assert t.dtype == nnbox.float64
