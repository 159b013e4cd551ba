"""Higher-order gradients end to end, same numbers as torch (float64, rtol 1e-8): a WGAN-GP critic
step with a conv critic, second-order MAML through an MLP and a CNN, a Hessian-vector product of an
MLP's loss, a PINN loss on d2u/dx2, and third derivatives."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, assert_same

TOL = dict(rtol=1e-8, atol=1e-10)


def twin(build):
    """The same model in both libraries: torch's weights copied into nnbox's."""
    t = build(torch).double()
    n = build(nnbox).double()
    n.load_state_dict({k: nnbox.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return t, n


def data(*shape):
    return RNG.standard_normal(shape)


def test_wgan_gp_critic_step_with_a_conv_critic():
    def critic(m):
        nn = m.nn
        return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                             nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                             nn.Flatten(), nn.Linear(8 * 2 * 2, 1))

    nets = twin(critic)
    real, fake, alpha = data(4, 1, 8, 8), data(4, 1, 8, 8), RNG.uniform(size=(4, 1, 1, 1))
    results = []
    for m, net in zip((torch, nnbox), nets):
        opt = m.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
        r, f, a = (m.tensor(x) for x in (real, fake, alpha))
        losses = []
        for _ in range(2):
            x_hat = (a * r + (1 - a) * f).requires_grad_(True)
            d_hat = net(x_hat)
            (g,) = m.autograd.grad(d_hat, x_hat, grad_outputs=m.ones_like(d_hat), create_graph=True)
            gp = ((g.reshape(g.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean() * 10
            loss = net(f).mean() - net(r).mean() + gp
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        results.append((losses, [p.detach() for p in net.parameters()]))
    assert_same(results[0], results[1], **TOL)


def _mlp_forward(m, params, x):
    F = m.nn.functional
    w1, b1, w2, b2 = params
    return F.linear(m.tanh(F.linear(x, w1, b1)), w2, b2)


def _cnn_forward(m, params, x):
    F = m.nn.functional
    cw, cb, w, b = params
    h = F.max_pool2d(F.relu(F.conv2d(x, cw, cb, padding=1)), 2)
    return F.linear(h.flatten(1), w, b)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_maml_second_order_two_inner_steps(kind):
    if kind == "mlp":
        shapes = [(16, 4), (16,), (3, 16), (3,)]
        xs, xq = data(10, 4), data(10, 4)
        forward = _mlp_forward
    else:
        shapes = [(4, 1, 3, 3), (4,), (3, 4 * 3 * 3), (3,)]
        xs, xq = data(6, 1, 6, 6), data(6, 1, 6, 6)
        forward = _cnn_forward
    init = [data(*s) * 0.3 for s in shapes]
    ys, yq = RNG.integers(0, 3, size=len(xs)), RNG.integers(0, 3, size=len(xq))
    results = []
    for m in (torch, nnbox):
        F = m.nn.functional
        params = [m.tensor(a.copy(), requires_grad=True) for a in init]
        fast = params
        for _ in range(2):  # inner SGD steps, differentiated through (second-order MAML)
            loss = F.cross_entropy(forward(m, fast, m.tensor(xs)), m.tensor(ys))
            grads = m.autograd.grad(loss, fast, create_graph=True)
            fast = [p - 0.4 * g for p, g in zip(fast, grads)]
        meta = F.cross_entropy(forward(m, fast, m.tensor(xq)), m.tensor(yq))
        meta.backward()
        results.append((meta.detach(), [p.grad for p in params]))
    assert_same(results[0], results[1], **TOL)


def test_hessian_vector_product_of_an_mlp_loss():
    nets = twin(lambda m: m.nn.Sequential(m.nn.Linear(5, 8), m.nn.Tanh(), m.nn.Linear(8, 8), m.nn.Sigmoid(),
                                          m.nn.Linear(8, 2)))
    x, y = data(7, 5), data(7, 2)
    vs = [data(*p.shape) for p in nets[0].parameters()]
    results = []
    for m, net in zip((torch, nnbox), nets):
        params = list(net.parameters())
        loss = m.nn.functional.mse_loss(net(m.tensor(x)), m.tensor(y))
        grads = m.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * m.tensor(v)).sum() for g, v in zip(grads, vs))
        results.append(m.autograd.grad(dot, params))
    assert_same(results[0], results[1], **TOL)


def test_pinn_loss_on_the_second_derivative_of_a_tanh_mlp():
    nets = twin(lambda m: m.nn.Sequential(m.nn.Linear(1, 12), m.nn.Tanh(), m.nn.Linear(12, 12), m.nn.Tanh(),
                                          m.nn.Linear(12, 1)))
    xs = RNG.uniform(-1, 1, size=(20, 1))
    results = []
    for m, net in zip((torch, nnbox), nets):
        opt = m.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
        losses = []
        for _ in range(3):
            x = m.tensor(xs, requires_grad=True)
            u = net(x)
            (du,) = m.autograd.grad(u.sum(), x, create_graph=True)
            (d2u,) = m.autograd.grad(du.sum(), x, create_graph=True)
            residual = d2u + m.pi ** 2 * m.sin(m.pi * x)
            boundary = net(m.tensor([[-1.0], [1.0]], dtype=m.float64))
            loss = (residual ** 2).mean() + (boundary ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        results.append((losses, [p.detach() for p in net.parameters()]))
    assert_same(results[0], results[1], **TOL)


def _tanh3(x):
    t = np.tanh(x)  # d/dx t = 1 - t^2, so d3/dx3 t = -2 (1 - t^2)^2 + 4 t^2 (1 - t^2)
    return -2 * (1 - t ** 2) ** 2 + 4 * t ** 2 * (1 - t ** 2)


def _x3sinx3(x):  # d3/dx3 x^3 sin x = 6 sin x + 18 x cos x - 9 x^2 sin x - x^3 cos x
    return 6 * np.sin(x) + 18 * x * np.cos(x) - 9 * x ** 2 * np.sin(x) - x ** 3 * np.cos(x)


@pytest.mark.parametrize("f, closed", [(lambda m, x: m.tanh(x), _tanh3), (lambda m, x: x ** 3 * m.sin(x), _x3sinx3)],
                         ids=["tanh", "x3sinx"])
def test_third_derivatives(f, closed):
    xs = np.linspace(-2, 2, 9)
    results = []
    for m in (torch, nnbox):
        x = m.tensor(xs, requires_grad=True)
        y = f(m, x).sum()
        ders = []
        for _ in range(3):
            (y,) = m.autograd.grad(y, x, create_graph=True)
            ders.append(y)
            y = y.sum()
        results.append(ders)
    assert_same(results[0], results[1], **TOL)
    np.testing.assert_allclose(results[1][2].detach().numpy(), closed(xs), rtol=1e-10, atol=1e-12)
